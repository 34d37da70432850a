// SPDX-License-Identifier: MIT
// The provider's logic without a card.
#include "addr.hpp"
#include "info.hpp"
#include "match.hpp"
#include "objects.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <rdma/fi_errno.h>
#include <rdma/providers/fi_prov.h>

#include <cstring>
#include <type_traits>

using namespace lumen_fi;

namespace {

// What a C caller can store in an enum field: any value of its integer type
// (a C++ cast to the enum outside its enumerators' range is undefined).
template <typename E> void set_raw(E &e, std::underlying_type_t<E> v)
{
	std::memcpy(&e, &v, sizeof(v));
}

Address good_address(uint32_t chip = 3, uint64_t key = 0x1234)
{
	Address a{};
	a.magic = kAddrMagic;
	a.version = kAddrVersion;
	a.rings = 4;
	a.slots = 8;
	a.slot_size = 65536;
	a.chip_id = chip;
	a.window = 2;
	a.rights = LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC;
	a.key = key;
	a.size = geometry_of(a).area_bytes();
	a.base = 0x10;
	return a;
}

} // namespace

TEST(Address, GoodOneIsValid)
{
	Address a = good_address();
	std::string why;
	EXPECT_TRUE(address_valid(&a, sizeof(a), &why)) << why;
	EXPECT_EQ(address_string(a), "lumen://chip3/win2/0000000000001234");
	lumen_window_desc_t w = window_of(a);
	EXPECT_EQ(w.magic, LUMEN_WINDOW_DESC_MAGIC);
	EXPECT_EQ(w.chip_id, 3u);
	EXPECT_EQ(w.window, 2u);
	EXPECT_EQ(w.key, 0x1234u);
	EXPECT_EQ(w.size, a.size);
	EXPECT_EQ(w.base, 0x10u);
	EXPECT_EQ(w.reserved, 0u);
}

TEST(Address, EveryBadFieldIsNamed)
{
	struct Case {
		const char *what;
		void (*spoil)(Address &);
		const char *says;
	} cases[] = {
		{"magic", [](Address &a) { a.magic = 0; }, "magic"},
		{"version", [](Address &a) { a.version = 2; }, "version"},
		{"reserved", [](Address &a) { a.reserved = 1; }, "reserved"},
		{"rings", [](Address &a) { a.rings = 0; }, "rings"},
		{"slots", [](Address &a) { a.slots = 1; }, "slots"},
		{"slot size", [](Address &a) { a.slot_size = 65535; }, "slot size"},
		{"rights", [](Address &a) { a.rights = LUMEN_WINDOW_WRITE; }, "rights"},
		{"more rights", [](Address &a) { a.rights |= 1u << 7; }, "rights"},
		{"size", [](Address &a) { a.size -= 1; }, "smaller"},
	};
	for (const Case &c : cases) {
		Address a = good_address();
		c.spoil(a);
		std::string why;
		EXPECT_FALSE(address_valid(&a, sizeof(a), &why)) << c.what;
		EXPECT_NE(why.find(c.says), std::string::npos) << c.what << ": " << why;
	}
	Address a = good_address();
	std::string why;
	EXPECT_FALSE(address_valid(&a, sizeof(a) - 1, &why));
	EXPECT_NE(why.find("length"), std::string::npos);
	EXPECT_FALSE(address_valid(nullptr, sizeof(a), &why));
}

TEST(Address, GeometryLayout)
{
	Geometry g{4, 8, 4096};
	EXPECT_EQ(g.area_bytes(), kCtrlBytes + 4 * 8 * 4096);
	EXPECT_EQ(g.slot_offset(0, 0), kCtrlBytes);
	EXPECT_EQ(g.slot_offset(0, 9), kCtrlBytes + 4096);		 // wraps round the ring
	EXPECT_EQ(g.slot_offset(3, 7), kCtrlBytes + (3 * 8 + 7) * 4096); // last slot
	EXPECT_TRUE(geometry_valid(g, nullptr));
	EXPECT_FALSE(geometry_valid(Geometry{kMaxRings + 1, 8, 4096}, nullptr));
	// The tails of every ring stay below the heads in the control page.
	EXPECT_LE(kCtrlTails + 8 * kMaxRings, kCtrlHeads);
	EXPECT_LE(kCtrlHeads + 8 * kMaxRings, kCtrlBytes);
}

TEST(Match, TagAndIgnoreBits)
{
	EXPECT_TRUE(tag_matches(0x12, 0x12, 0));
	EXPECT_FALSE(tag_matches(0x13, 0x12, 0));
	EXPECT_TRUE(tag_matches(0x13, 0x12, 0x1));
	EXPECT_TRUE(tag_matches(0xffff0000abcd, 0xabcd, 0xffffffff0000));
	EXPECT_FALSE(tag_matches(0xffff0000abce, 0xabcd, 0xffffffff0000));
}

TEST(Match, PostedInOrderTaggedApartFromUntagged)
{
	Matcher m(false);
	int c1, c2, c3;
	RecvReq a, b, u;
	a.tagged = b.tagged = true;
	a.context = &c1;
	a.tag = 5;
	b.context = &c2;
	b.tag = 5;
	u.context = &c3;
	EXPECT_EQ(m.post(a), nullptr);
	EXPECT_EQ(m.post(b), nullptr);
	EXPECT_EQ(m.post(u), nullptr);
	EXPECT_FALSE(m.match({true, 0, 6}));
	auto r = m.match({true, 0, 5});
	ASSERT_TRUE(r);
	EXPECT_EQ(r->context, &c1); // oldest first
	r = m.match({false, 0, 5});
	ASSERT_TRUE(r);
	EXPECT_EQ(r->context, &c3);
	r = m.match({true, 0, 5});
	ASSERT_TRUE(r);
	EXPECT_EQ(r->context, &c2);
	EXPECT_EQ(m.posted_count(), 0u);
}

TEST(Match, DirectedReceiveOnlyWithTheCapability)
{
	RecvReq r;
	r.tagged = true;
	r.src = 1;
	EXPECT_FALSE(recv_matches(r, {true, 2, 0}, true));
	EXPECT_TRUE(recv_matches(r, {true, 1, 0}, true));
	EXPECT_TRUE(recv_matches(r, {true, 2, 0}, false)); // src ignored without FI_DIRECTED_RECV
	r.src = FI_ADDR_UNSPEC;
	EXPECT_TRUE(recv_matches(r, {true, FI_ADDR_NOTAVAIL, 0}, true));
}

TEST(Match, UnexpectedQueueMatchesOldestUnclaimed)
{
	Matcher m(true);
	Unexpected *x = m.add_unexpected({true, 0, 7}, 3, 0, false);
	Unexpected *y = m.add_unexpected({true, 0, 7}, 4, 9, true);
	m.add_unexpected({false, 0, 7}, 1, 0, false);
	RecvReq r;
	r.tagged = true;
	r.tag = 7;
	EXPECT_EQ(m.post(r), x);
	EXPECT_EQ(m.post(r), y); // x is claimed already
	EXPECT_EQ(m.post(r), nullptr);
	EXPECT_EQ(m.posted_count(), 1u);
	m.remove(x);
	m.remove(y);
	EXPECT_EQ(m.unexpected_count(), 1u);
}

TEST(Match, CancelRemovesThePostedReceive)
{
	Matcher m(false);
	int ctx;
	RecvReq r;
	r.context = &ctx;
	m.post(r);
	EXPECT_TRUE(m.cancel(&ctx));
	EXPECT_FALSE(m.cancel(&ctx));
	EXPECT_FALSE(m.match({false, 0, 0}));
}

TEST(Match, ScatterAcrossIovsAndTruncation)
{
	char a[3], b[4];
	RecvReq r;
	r.iov[0] = {a, sizeof(a)};
	r.iov[1] = {b, sizeof(b)};
	r.iov_count = 2;
	EXPECT_EQ(r.capacity(), 7u);
	EXPECT_EQ(scatter(r, 0, "abcd", 4), 4u);
	EXPECT_EQ(scatter(r, 4, "efghij", 6), 3u); // 3 bytes left
	EXPECT_EQ(std::string(a, 3), "abc");
	EXPECT_EQ(std::string(b, 4), "defg");
	EXPECT_EQ(scatter(r, 7, "x", 1), 0u);
}

namespace {

struct Info {
	fi_info *p = nullptr;
	~Info() { fi_freeinfo(p); }
};

fi_info *hints()
{
	fi_info *h = fi_allocinfo();
	h->ep_attr->type = FI_EP_RDM;
	h->caps = FI_TAGGED | FI_MSG;
	return h;
}

} // namespace

TEST(GetInfo, NoHintsGiveTheWholeProvider)
{
	Info i;
	ASSERT_EQ(getinfo_filter(FI_VERSION(1, 17), nullptr, nullptr, 0, nullptr, &i.p), 0);
	ASSERT_TRUE(i.p);
	EXPECT_EQ(i.p->next, nullptr);
	EXPECT_EQ(i.p->ep_attr->type, FI_EP_RDM);
	EXPECT_EQ(i.p->caps & (FI_MSG | FI_TAGGED | FI_RMA), FI_MSG | FI_TAGGED | FI_RMA);
	EXPECT_EQ(i.p->domain_attr->data_progress, FI_PROGRESS_MANUAL);
	EXPECT_EQ(i.p->domain_attr->control_progress, FI_PROGRESS_MANUAL);
	EXPECT_STREQ(i.p->fabric_attr->name, "lumen");
	EXPECT_STREQ(i.p->domain_attr->name, "lumen");
	EXPECT_EQ(i.p->domain_attr->mr_mode, 0);
	EXPECT_EQ(i.p->domain_attr->cq_data_size, 8u);
	EXPECT_EQ(i.p->mode, 0u);
}

TEST(GetInfo, HintsTheProviderCannotMeet)
{
	struct Case {
		const char *what;
		void (*spoil)(fi_info *);
	} cases[] = {
		{"msg endpoint", [](fi_info *h) { h->ep_attr->type = FI_EP_MSG; }},
		{"dgram endpoint", [](fi_info *h) { h->ep_attr->type = FI_EP_DGRAM; }},
		{"atomics", [](fi_info *h) { h->caps |= FI_ATOMIC; }},
		{"multicast", [](fi_info *h) { h->caps |= FI_MULTICAST; }},
		{"auto progress",
		 [](fi_info *h) { h->domain_attr->data_progress = FI_PROGRESS_AUTO; }},
		{"other fabric", [](fi_info *h) { h->fabric_attr->name = strdup("tcp"); }},
		{"other domain", [](fi_info *h) { h->domain_attr->name = strdup("lo"); }},
		{"address format", [](fi_info *h) { h->addr_format = FI_SOCKADDR_IN; }},
		{"inject size", [](fi_info *h) { h->tx_attr->inject_size = 1 << 20; }},
		{"iovs", [](fi_info *h) { h->tx_attr->iov_limit = 64; }},
		{"strict completion order",
		 [](fi_info *h) { h->tx_attr->comp_order = FI_ORDER_STRICT; }},
		{"multi recv", [](fi_info *h) { h->rx_attr->op_flags = FI_MULTI_RECV; }},
		{"huge messages", [](fi_info *h) { h->ep_attr->max_msg_size = SIZE_MAX; }},
		{"MR_BASIC", [](fi_info *h) { h->domain_attr->mr_mode = FI_MR_BASIC; }},
		{"bad dest address",
		 [](fi_info *h) {
			 h->dest_addr = calloc(1, sizeof(Address));
			 h->dest_addrlen = sizeof(Address);
		 }},
	};
	for (const Case &c : cases) {
		fi_info *h = hints();
		c.spoil(h);
		Info i;
		EXPECT_EQ(getinfo_filter(FI_VERSION(1, 17), nullptr, nullptr, 0, h, &i.p),
			  -FI_ENODATA)
			<< c.what;
		EXPECT_EQ(i.p, nullptr) << c.what;
		fi_freeinfo(h);
	}
	Info i;
	EXPECT_EQ(getinfo_filter(FI_VERSION(1, 17), "10.0.0.1", nullptr, 0, nullptr, &i.p),
		  -FI_ENODATA);
	EXPECT_EQ(getinfo_filter(FI_VERSION(1, 17), nullptr, nullptr, 0, nullptr, nullptr),
		  -FI_EINVAL);
}

TEST(GetInfo, HintsShapeTheAnswer)
{
	fi_info *h = hints();
	h->domain_attr->av_type = FI_AV_MAP;
	h->domain_attr->threading = FI_THREAD_DOMAIN;
	h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_PROV_KEY | FI_MR_ALLOCATED;
	h->tx_attr->op_flags = FI_COMPLETION;
	h->tx_attr->msg_order = FI_ORDER_SAS;
	Address a = good_address();
	h->dest_addr = malloc(sizeof(a));
	memcpy(h->dest_addr, &a, sizeof(a));
	h->dest_addrlen = sizeof(a);
	Info i;
	ASSERT_EQ(getinfo_filter(FI_VERSION(1, 17), nullptr, nullptr, 0, h, &i.p), 0);
	EXPECT_EQ(i.p->caps, FI_TAGGED | FI_MSG);
	EXPECT_EQ(i.p->domain_attr->av_type, FI_AV_MAP);
	EXPECT_EQ(i.p->domain_attr->threading, FI_THREAD_DOMAIN);
	// Only the modes lumen honours come back; FI_MR_LOCAL is not needed.
	EXPECT_EQ(i.p->domain_attr->mr_mode, FI_MR_VIRT_ADDR | FI_MR_PROV_KEY);
	EXPECT_EQ(i.p->tx_attr->op_flags, FI_COMPLETION);
	EXPECT_TRUE(i.p->tx_attr->msg_order & FI_ORDER_SAS);
	ASSERT_EQ(i.p->dest_addrlen, sizeof(a));
	EXPECT_EQ(memcmp(i.p->dest_addr, &a, sizeof(a)), 0);
	fi_freeinfo(h);
}

TEST(Library, ExportsOnlyTheProviderEntry)
{
	void *so = dlopen(LUMEN_FI_SO, RTLD_NOW | RTLD_LOCAL);
	ASSERT_TRUE(so) << dlerror();
	auto ini = reinterpret_cast<fi_provider *(*)()>(dlsym(so, "fi_prov_ini"));
	ASSERT_TRUE(ini);
	fi_provider *p = ini();
	EXPECT_STREQ(p->name, "lumen");
	EXPECT_EQ(FI_MAJOR(p->fi_version), FI_MAJOR_VERSION);
	EXPECT_LE(p->fi_version, FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION));
	EXPECT_EQ(dlsym(so, "_ZN8lumen_fi14getinfo_filterEjPKcS1_mPK7fi_infoPPS2_"), nullptr);
	fid_fabric *fab = nullptr;
	EXPECT_EQ(p->fabric(nullptr, &fab, nullptr), -FI_EINVAL);
	fi_fabric_attr attr{};
	attr.name = const_cast<char *>("verbs");
	EXPECT_EQ(p->fabric(&attr, &fab, nullptr), -FI_ENODATA);
	dlclose(so);
}

// Objects that need no device: a domain without a context is enough.
class Objects : public ::testing::Test {
      protected:
	void SetUp() override
	{
		fi_fabric_attr fa{};
		ASSERT_EQ(fabric_open(&fa, &fab, nullptr), 0);
		dom.fabric = reinterpret_cast<Fabric *>(fab);
		dom.dom.fid.fclass = FI_CLASS_DOMAIN;
	}
	void TearDown() override { EXPECT_EQ(fi_close(&fab->fid), 0); }
	fid_fabric *fab = nullptr;
	Domain dom;
};

TEST_F(Objects, AvInsertLookupRemove)
{
	fi_av_attr attr{};
	attr.type = FI_AV_TABLE;
	fid_av *av;
	ASSERT_EQ(av_open(&dom.dom, &attr, &av, nullptr), 0);
	Address addrs[3] = {good_address(1, 1), good_address(2, 2), good_address(3, 3)};
	addrs[1].magic = 0; // bad
	fi_addr_t fa[3];
	EXPECT_EQ(fi_av_insert(av, addrs, 3, fa, 0, nullptr), 2);
	EXPECT_EQ(fa[0], 0u);
	EXPECT_EQ(fa[1], FI_ADDR_NOTAVAIL);
	EXPECT_EQ(fa[2], 1u);
	EXPECT_EQ(reinterpret_cast<Av *>(av)->lookup(addrs[2]), 1u);
	Address out;
	size_t len = sizeof(out);
	EXPECT_EQ(fi_av_lookup(av, 1, &out, &len), 0);
	EXPECT_EQ(memcmp(&out, &addrs[2], sizeof(out)), 0);
	EXPECT_EQ(fi_av_lookup(av, 7, &out, &len), -FI_ENOENT);
	EXPECT_EQ(fi_av_insert(av, addrs, 1, fa, FI_SOURCE, nullptr), -FI_EINVAL);
	EXPECT_EQ(fi_av_insert(av, nullptr, 1, fa, 0, nullptr), -FI_EINVAL);
	EXPECT_EQ(fi_av_insertsvc(av, "node", "svc", fa, 0, nullptr), -FI_ENOSYS);
	fi_addr_t gone = 0;
	EXPECT_EQ(fi_av_remove(av, &gone, 1, 0), 0);
	EXPECT_EQ(fi_av_remove(av, &gone, 1, 0), -FI_EINVAL);
	EXPECT_EQ(reinterpret_cast<Av *>(av)->lookup(addrs[0]), FI_ADDR_NOTAVAIL);
	char buf[64];
	len = sizeof(buf);
	EXPECT_STREQ(fi_av_straddr(av, &addrs[2], buf, &len),
		     "lumen://chip3/win2/0000000000000003");
	EXPECT_EQ(fi_close(&av->fid), 0);

	attr.type = FI_AV_MAP;
	ASSERT_EQ(av_open(&dom.dom, &attr, &av, nullptr), 0);
	EXPECT_EQ(fi_av_insert(av, addrs, 1, nullptr, 0, nullptr), -FI_EINVAL); // MAP needs fi_addr
	EXPECT_EQ(fi_close(&av->fid), 0);
	set_raw(attr.type, 42);
	EXPECT_EQ(av_open(&dom.dom, &attr, &av, nullptr), -FI_EINVAL);
	EXPECT_EQ(dom.refs, 0);
}

TEST_F(Objects, CqFormatsAndErrors)
{
	fi_cq_attr attr{};
	fid_cq *cq;
	for (fi_cq_format f :
	     {FI_CQ_FORMAT_CONTEXT, FI_CQ_FORMAT_MSG, FI_CQ_FORMAT_DATA, FI_CQ_FORMAT_TAGGED}) {
		attr.format = f;
		ASSERT_EQ(cq_open(&dom.dom, &attr, &cq, nullptr), 0);
		Cq *c = reinterpret_cast<Cq *>(cq);
		Completion done;
		int ctx;
		done.e.op_context = &ctx;
		done.e.flags = FI_RECV | FI_TAGGED;
		done.e.len = 5;
		done.e.tag = 77;
		done.e.data = 99;
		cq_push(c, done);
		Completion bad = done;
		bad.err = FI_ETRUNC;
		bad.olen = 3;
		cq_push(c, bad);
		fi_cq_tagged_entry e{};
		EXPECT_EQ(fi_cq_read(cq, &e, 4), 1);
		EXPECT_EQ(e.op_context, &ctx);
		EXPECT_EQ(e.flags, f == FI_CQ_FORMAT_CONTEXT ? 0 : FI_RECV | FI_TAGGED);
		EXPECT_EQ(e.tag, f == FI_CQ_FORMAT_TAGGED ? 77u : 0u);
		EXPECT_EQ(e.data, f >= FI_CQ_FORMAT_DATA ? 99u : 0u);
		EXPECT_EQ(fi_cq_read(cq, &e, 1), -FI_EAVAIL);
		fi_cq_err_entry err{};
		EXPECT_EQ(fi_cq_readerr(cq, &err, 0), 1);
		EXPECT_EQ(err.err, FI_ETRUNC);
		EXPECT_EQ(err.olen, 3u);
		EXPECT_EQ(fi_cq_read(cq, &e, 1), -FI_EAGAIN);
		EXPECT_EQ(fi_cq_sread(cq, &e, 1, nullptr, 5), -FI_EAGAIN);
		EXPECT_EQ(fi_cq_read(cq, nullptr, 1), -FI_EINVAL);
		EXPECT_EQ(fi_close(&cq->fid), 0);
	}
	// fi_ep_bind tells its own CQs from other providers' ones.
	attr.format = FI_CQ_FORMAT_TAGGED;
	ASSERT_EQ(cq_open(&dom.dom, &attr, &cq, nullptr), 0);
	EXPECT_TRUE(is_cq(&cq->fid));
	EXPECT_FALSE(is_av(&cq->fid));
	fi_ops other{};
	fid foreign{FI_CLASS_CQ, nullptr, &other};
	EXPECT_FALSE(is_cq(&foreign));
	EXPECT_EQ(fi_close(&cq->fid), 0);
	set_raw(attr.format, 17);
	EXPECT_EQ(cq_open(&dom.dom, &attr, &cq, nullptr), -FI_EINVAL);
	attr.format = FI_CQ_FORMAT_CONTEXT;
	attr.wait_obj = FI_WAIT_FD;
	EXPECT_EQ(cq_open(&dom.dom, &attr, &cq, nullptr), -FI_ENOSYS);
}

TEST_F(Objects, EqCarriesWrittenEvents)
{
	fi_eq_attr attr{};
	fid_eq *eq;
	ASSERT_EQ(fi_eq_open(fab, &attr, &eq, nullptr), 0);
	uint32_t ev;
	char buf[16];
	EXPECT_EQ(fi_eq_read(eq, &ev, buf, sizeof(buf), 0), -FI_EAGAIN);
	EXPECT_EQ(fi_eq_write(eq, FI_NOTIFY, "hello", 5, 0), 5);
	EXPECT_EQ(fi_eq_read(eq, &ev, buf, 2, 0), -FI_ETOOSMALL);
	EXPECT_EQ(fi_eq_read(eq, &ev, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(ev, unsigned(FI_NOTIFY));
	EXPECT_EQ(fi_eq_read(eq, nullptr, buf, sizeof(buf), 0), -FI_EINVAL);
	EXPECT_EQ(fi_close(&fab->fid), -FI_EBUSY); // the EQ is open
	EXPECT_EQ(fi_close(&eq->fid), 0);
	attr.wait_obj = FI_WAIT_FD;
	EXPECT_EQ(fi_eq_open(fab, &attr, &eq, nullptr), -FI_ENOSYS);
}

TEST_F(Objects, MrKeysAccessAndAddresses)
{
	static fi_ops_mr mr_ops = {sizeof(fi_ops_mr), mr_reg, mr_regv, mr_regattr};
	dom.dom.mr = &mr_ops;
	char buf[100] = {};
	fid_mr *mr, *mr2;
	ASSERT_EQ(fi_mr_reg(&dom.dom, buf, sizeof(buf), FI_REMOTE_WRITE, 1000, 5, 0, &mr, nullptr),
		  0);
	EXPECT_EQ(fi_mr_key(mr), 5u);
	EXPECT_EQ(fi_mr_reg(&dom.dom, buf, 1, FI_REMOTE_READ, 0, 5, 0, &mr2, nullptr), -FI_ENOKEY);
	EXPECT_EQ(fi_mr_reg(&dom.dom, buf, 1, 1ull << 40, 0, 6, 0, &mr2, nullptr), -FI_EINVAL);
	EXPECT_EQ(fi_mr_reg(&dom.dom, nullptr, 1, FI_REMOTE_READ, 0, 6, 0, &mr2, nullptr),
		  -FI_EINVAL);
	EXPECT_EQ(fi_mr_reg(&dom.dom, buf, 1, FI_REMOTE_READ, 0, 6, 1, &mr2, nullptr), -FI_EINVAL);
	// Offsets: the region starts at the registration's offset.
	EXPECT_EQ(mr_target(&dom, 5, 1000, 100, FI_REMOTE_WRITE), (uint8_t *)buf);
	EXPECT_EQ(mr_target(&dom, 5, 1090, 10, FI_REMOTE_WRITE), (uint8_t *)buf + 90);
	EXPECT_EQ(mr_target(&dom, 5, 1090, 11, FI_REMOTE_WRITE), nullptr);
	EXPECT_EQ(mr_target(&dom, 5, 999, 1, FI_REMOTE_WRITE), nullptr);
	EXPECT_EQ(mr_target(&dom, 5, 1000, 1, FI_REMOTE_READ), nullptr);  // no right
	EXPECT_EQ(mr_target(&dom, 6, 1000, 1, FI_REMOTE_WRITE), nullptr); // no key
	EXPECT_EQ(fi_close(&mr->fid), 0);
	EXPECT_EQ(mr_target(&dom, 5, 1000, 1, FI_REMOTE_WRITE), nullptr);

	dom.mr_mode = FI_MR_PROV_KEY | FI_MR_VIRT_ADDR;
	ASSERT_EQ(fi_mr_reg(&dom.dom, buf, sizeof(buf), FI_REMOTE_READ, 0, 0, 0, &mr, nullptr), 0);
	ASSERT_EQ(fi_mr_reg(&dom.dom, buf, sizeof(buf), FI_REMOTE_READ, 0, 0, 0, &mr2, nullptr), 0);
	EXPECT_NE(fi_mr_key(mr), fi_mr_key(mr2));
	EXPECT_EQ(mr_target(&dom, fi_mr_key(mr), uint64_t(uintptr_t(buf + 10)), 5, FI_REMOTE_READ),
		  (uint8_t *)buf + 10);
	EXPECT_EQ(fi_close(&mr->fid), 0);
	EXPECT_EQ(fi_close(&mr2->fid), 0);
	EXPECT_EQ(dom.refs, 0);
}
