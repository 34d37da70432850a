// SPDX-License-Identifier: MIT
#include "bootstrap.hpp"

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "failure.hpp"

namespace lumen::ccl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kJoinMagic = 0x4e494f4a;  // "JOIN"
constexpr uint32_t kTableMagic = 0x4c424154; // "TABL"
constexpr size_t kMaxName = 256;
constexpr int kRootRecvs = 8; // joins the root can take at once

struct JoinHdr {
	uint32_t magic;
	uint32_t version;
	uint64_t nonce;
	int32_t rank, n;
	uint32_t name_len, blob_len;
	// then name_len bytes of the joiner's address, blob_len of its blob
};

struct TableHdr {
	uint32_t magic;
	int32_t status; // lumen_status_t: SUCCESS, or why the bootstrap failed
	uint64_t nonce;
	int32_t n;
	uint32_t blob_len;
	char why[192];
	// then n blobs, rank order
};

constexpr size_t kMaxJoin = sizeof(JoinHdr) + kMaxName + kMaxBlob;

void fi_check(int ret, const char *call)
{
	if (ret)
		fail(LUMEN_ERROR_SYSTEM,
		     std::string("bootstrap: ") + call + ": " + fi_strerror(-ret));
}

std::chrono::milliseconds bootstrap_timeout()
{
	const char *e = getenv("LUMEN_CCL_BOOTSTRAP_TIMEOUT");
	long s = 120;
	if (e && *e) {
		char *end = nullptr;
		s = strtol(e, &end, 10);
		if (*end || s < 1 || s > 86400)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     std::string("LUMEN_CCL_BOOTSTRAP_TIMEOUT '") + e +
				     "' is not a number of seconds (1 .. 86400)");
	}
	return std::chrono::seconds(s);
}

struct FidCloser {
	void operator()(fid_t f) const { fi_close(f); }
};
template <typename T> struct FidPtr {
	std::unique_ptr<fid, FidCloser> p;
	T *get() const { return reinterpret_cast<T *>(p.get()); }
	void reset(T *t) { p.reset(t ? &t->fid : nullptr); }
};

struct InfoDeleter {
	void operator()(fi_info *i) const { fi_freeinfo(i); }
};
using InfoPtr = std::unique_ptr<fi_info, InfoDeleter>;

bool loopback(const fi_info *i)
{
	if (i->addr_format == FI_SOCKADDR_IN && i->src_addr) {
		auto *a = static_cast<const sockaddr_in *>(i->src_addr);
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	return false;
}

// The tcp provider's info for the management interface:
// $LUMEN_CCL_SOCKET_IFNAME if set, else the first IPv4 interface other
// than loopback, else loopback (one host).
InfoPtr pick_interface()
{
	InfoPtr hints(fi_allocinfo());
	if (!hints)
		fail(LUMEN_ERROR_OUT_OF_MEMORY, "bootstrap: fi_allocinfo");
	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_MSG;
	hints->mode = FI_CONTEXT;
	hints->addr_format = FI_SOCKADDR_IN;
	hints->fabric_attr->prov_name = strdup("tcp;ofi_rxm");
	fi_info *all = nullptr;
	int ret = fi_getinfo(FI_VERSION(1, 17), nullptr, nullptr, 0, hints.get(), &all);
	if (ret)
		fail(LUMEN_ERROR_SYSTEM,
		     std::string("bootstrap: libfabric's tcp provider has no IPv4 interface: "
				 "fi_getinfo: ") +
			     fi_strerror(-ret));
	InfoPtr list(all);
	const char *want = getenv("LUMEN_CCL_SOCKET_IFNAME");
	const fi_info *pick = nullptr, *lo = nullptr;
	for (const fi_info *i = all; i; i = i->next) {
		const char *dom = i->domain_attr ? i->domain_attr->name : nullptr;
		if (want && *want) {
			if (dom && !strcmp(dom, want)) {
				pick = i;
				break;
			}
		} else if (!loopback(i)) {
			pick = i;
			break;
		} else if (!lo) {
			lo = i;
		}
	}
	if (!pick && want && *want)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string("LUMEN_CCL_SOCKET_IFNAME '") + want +
							   "' is not an IPv4 interface of "
							   "libfabric's tcp provider");
	if (!pick)
		pick = lo;
	if (!pick)
		fail(LUMEN_ERROR_SYSTEM, "bootstrap: the tcp provider offers no interface");
	return InfoPtr(fi_dupinfo(pick));
}

// One RDM endpoint with its completion queue and address vector.
class Endpoint {
      public:
	Endpoint()
	{
		info_ = pick_interface();
		if (!info_)
			fail(LUMEN_ERROR_OUT_OF_MEMORY, "bootstrap: fi_dupinfo");
		fid_fabric *fab = nullptr;
		fi_check(fi_fabric(info_->fabric_attr, &fab, nullptr), "fi_fabric");
		fabric_.reset(fab);
		fid_domain *dom = nullptr;
		fi_check(fi_domain(fab, info_.get(), &dom, nullptr), "fi_domain");
		domain_.reset(dom);
		fi_cq_attr cqa{};
		cqa.format = FI_CQ_FORMAT_MSG;
		cqa.size = 64;
		fid_cq *cq = nullptr;
		fi_check(fi_cq_open(dom, &cqa, &cq, nullptr), "fi_cq_open");
		cq_.reset(cq);
		fi_av_attr ava{};
		ava.type = FI_AV_MAP;
		fid_av *av = nullptr;
		fi_check(fi_av_open(dom, &ava, &av, nullptr), "fi_av_open");
		av_.reset(av);
		fid_ep *ep = nullptr;
		fi_check(fi_endpoint(dom, info_.get(), &ep, nullptr), "fi_endpoint");
		ep_.reset(ep);
		fi_check(fi_ep_bind(ep, &cq->fid, FI_SEND | FI_RECV), "fi_ep_bind (cq)");
		fi_check(fi_ep_bind(ep, &av->fid, 0), "fi_ep_bind (av)");
		fi_check(fi_enable(ep), "fi_enable");
		name_.resize(kMaxName);
		size_t len = name_.size();
		fi_check(fi_getname(&ep->fid, name_.data(), &len), "fi_getname");
		name_.resize(len);
	}

	const std::vector<uint8_t> &name() const { return name_; }

	fi_addr_t insert(const uint8_t *addr)
	{
		fi_addr_t a = FI_ADDR_UNSPEC;
		int ret = fi_av_insert(av_.get(), addr, 1, &a, 0, nullptr);
		if (ret != 1)
			fail(LUMEN_ERROR_SYSTEM,
			     "bootstrap: fi_av_insert of a peer's address failed");
		return a;
	}

	// Retries while the provider is out of resources (progress meanwhile).
	void post_recv(void *buf, size_t len, fi_context *ctx)
	{
		ssize_t r;
		while ((r = fi_recv(ep_.get(), buf, len, nullptr, FI_ADDR_UNSPEC, ctx)) ==
		       -FI_EAGAIN)
			progress();
		fi_check(int(r), "fi_recv");
	}
	void send(const void *buf, size_t len, fi_addr_t to, fi_context *ctx)
	{
		ssize_t r;
		while ((r = fi_send(ep_.get(), buf, len, nullptr, to, ctx)) == -FI_EAGAIN)
			progress();
		fi_check(int(r), "fi_send");
	}

	// Reads completions: on_done(context, len) for each, false if none.
	bool poll(const std::function<void(void *, size_t)> &on_done)
	{
		fi_cq_msg_entry e[8];
		ssize_t r = fi_cq_read(cq_.get(), e, 8);
		if (r == -FI_EAGAIN)
			return false;
		if (r == -FI_EAVAIL) {
			fi_cq_err_entry err{};
			fi_cq_readerr(cq_.get(), &err, 0);
			fail(LUMEN_ERROR_SYSTEM, std::string("bootstrap: a transfer failed: ") +
							 fi_cq_strerror(cq_.get(), err.prov_errno,
									err.err_data, nullptr, 0));
		}
		fi_check(r < 0 ? int(r) : 0, "fi_cq_read");
		for (ssize_t i = 0; i < r; i++)
			on_done(e[i].op_context, e[i].len);
		return r > 0;
	}

      private:
	void progress()
	{
		fi_cq_msg_entry e;
		fi_cq_read(cq_.get(), &e, 0);
	}

	InfoPtr info_;
	// Closed in reverse order: endpoint first.
	FidPtr<fid_fabric> fabric_;
	FidPtr<fid_domain> domain_;
	FidPtr<fid_cq> cq_;
	FidPtr<fid_av> av_;
	FidPtr<fid_ep> ep_;
	std::vector<uint8_t> name_;
};

// Sleeps a little when there was nothing to do.
void idle(bool busy)
{
	if (!busy)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// The root of one bootstrap: its endpoint and the thread that serves it.
class Root {
      public:
	Root() : nonce_(std::random_device{}() | (uint64_t(std::random_device{}()) << 32))
	{
		bufs_.resize(kRootRecvs, std::vector<uint8_t>(kMaxJoin));
		ctxs_.resize(kRootRecvs);
		for (int i = 0; i < kRootRecvs; i++)
			ep_.post_recv(bufs_[i].data(), kMaxJoin, &ctxs_[i]);
		thread_ = std::thread([this] { serve(); });
	}
	~Root()
	{
		stop_ = true;
		thread_.join();
	}
	Root(const Root &) = delete;
	Root &operator=(const Root &) = delete;

	UniqueId id() const
	{
		UniqueId id{};
		id.magic = kIdMagic;
		id.version = kIdVersion;
		id.nonce = nonce_;
		const auto &name = ep_.name();
		if (name.size() > sizeof(id.addr))
			fail(LUMEN_ERROR_SYSTEM, "bootstrap: the root's address is too long");
		id.addr_len = uint16_t(name.size());
		memcpy(id.addr, name.data(), name.size());
		return id;
	}
	bool finished() const { return finished_; }

      private:
	struct Reply {
		std::vector<uint8_t> msg;
		fi_context ctx{};
	};

	void serve() noexcept
	{
		try {
			loop();
		} catch (const Failure &) {
			// The joiners time out and say so; nobody else to tell.
		}
		finished_ = true;
	}

	void loop()
	{
		Clock::time_point deadline = Clock::time_point::max();
		while (!stop_ && Clock::now() < deadline) {
			bool busy = ep_.poll([&](void *ctx, size_t len) {
				for (int i = 0; i < kRootRecvs; i++) {
					if (ctx != &ctxs_[i])
						continue;
					if (deadline == Clock::time_point::max())
						deadline = Clock::now() + bootstrap_timeout();
					take(bufs_[i].data(), len);
					ep_.post_recv(bufs_[i].data(), kMaxJoin, &ctxs_[i]);
					return;
				}
				for (auto &r : replies_)
					if (ctx == &r.ctx)
						sent_++;
			});
			if (n_ > 0 && joined_ == n_ && sent_ == replies_.size())
				return; // every rank has the table (or the error)
			idle(busy);
		}
	}

	// One join message of len bytes.
	void take(const uint8_t *p, size_t len)
	{
		JoinHdr h;
		if (len < sizeof(h))
			return;
		memcpy(&h, p, sizeof(h));
		if (h.magic != kJoinMagic || h.nonce != nonce_ || h.name_len == 0 ||
		    h.name_len > kMaxName || h.blob_len > kMaxBlob ||
		    len != sizeof(h) + h.name_len + h.blob_len)
			return; // not for this bootstrap: ignore
		const uint8_t *name = p + sizeof(h);
		fi_addr_t to = ep_.insert(name);
		std::string why;
		if (n_ < 0) {
			if (h.n < 1 || h.n > 4096)
				why = "nranks " + std::to_string(h.n) + " is not 1 .. 4096";
			else {
				n_ = h.n;
				blob_len_ = h.blob_len;
				blobs_.assign(size_t(n_), {});
				to_.assign(size_t(n_), FI_ADDR_UNSPEC);
			}
		}
		if (why.empty() && h.n != n_)
			why = "rank " + std::to_string(h.rank) + " says nranks " +
			      std::to_string(h.n) + ", another said " + std::to_string(n_);
		else if (why.empty() && (h.rank < 0 || h.rank >= n_))
			why = "rank " + std::to_string(h.rank) + " is not 0 .. " +
			      std::to_string(n_ - 1);
		else if (why.empty() && h.blob_len != blob_len_)
			why = "rank " + std::to_string(h.rank) + " joined with another version";
		else if (why.empty() && to_[size_t(h.rank)] != FI_ADDR_UNSPEC)
			why = "rank " + std::to_string(h.rank) + " joined twice";
		if (!why.empty()) {
			if (!failed_) {
				failed_ = true;
				why_ = why;
				// Those who joined learn it too.
				for (int r = 0; r < n_; r++)
					if (to_[size_t(r)] != FI_ADDR_UNSPEC)
						reply(to_[size_t(r)]);
			}
			reply(to);
			return;
		}
		to_[size_t(h.rank)] = to;
		blobs_[size_t(h.rank)].assign(name + h.name_len, name + h.name_len + h.blob_len);
		joined_++;
		if (failed_)
			reply(to);
		else if (joined_ == n_)
			for (int r = 0; r < n_; r++)
				reply(to_[size_t(r)]);
	}

	void reply(fi_addr_t to)
	{
		TableHdr t{};
		t.magic = kTableMagic;
		t.nonce = nonce_;
		t.n = n_;
		t.blob_len = blob_len_;
		t.status = failed_ ? LUMEN_ERROR_INVALID_ARGUMENT : LUMEN_SUCCESS;
		snprintf(t.why, sizeof(t.why), "%s", why_.c_str());
		auto &r = replies_.emplace_back();
		r.msg.resize(sizeof(t) + (failed_ ? 0 : size_t(n_) * blob_len_));
		memcpy(r.msg.data(), &t, sizeof(t));
		if (!failed_)
			for (int i = 0; i < n_; i++)
				memcpy(r.msg.data() + sizeof(t) + size_t(i) * blob_len_,
				       blobs_[size_t(i)].data(), blob_len_);
		ep_.send(r.msg.data(), r.msg.size(), to, &r.ctx);
	}

	Endpoint ep_;
	const uint64_t nonce_;
	std::vector<std::vector<uint8_t>> bufs_;
	std::vector<fi_context> ctxs_;
	std::list<Reply> replies_; // stable addresses for their contexts
	size_t sent_ = 0;
	int n_ = -1, joined_ = 0;
	uint32_t blob_len_ = 0;
	std::vector<std::vector<uint8_t>> blobs_;
	std::vector<fi_addr_t> to_;
	bool failed_ = false;
	std::string why_;
	std::atomic<bool> stop_{false}, finished_{false};
	std::thread thread_;
};

std::mutex roots_m;
std::list<std::unique_ptr<Root>> roots;

} // namespace

UniqueId start_root()
{
	auto root = std::make_unique<Root>();
	UniqueId id = root->id();
	std::lock_guard lk(roots_m);
	roots.remove_if([](const std::unique_ptr<Root> &r) { return r->finished(); });
	roots.push_back(std::move(root));
	return id;
}

std::vector<std::vector<uint8_t>> join(const UniqueId &id, int rank, int n,
				       const std::vector<uint8_t> &blob)
{
	if (id.magic != kIdMagic || id.version != kIdVersion || id.addr_len == 0 ||
	    id.addr_len > sizeof(id.addr))
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "the unique id is not one lumen_ccl_get_unique_id made");
	if (blob.size() > kMaxBlob)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "bootstrap: blob too large");
	const auto timeout = bootstrap_timeout();
	Endpoint ep;
	fi_addr_t root = ep.insert(id.addr);

	std::vector<uint8_t> table(sizeof(TableHdr) + size_t(n) * blob.size());
	fi_context rctx{}, sctx{};
	ep.post_recv(table.data(), table.size(), &rctx);

	JoinHdr h{kJoinMagic,		kIdVersion, id.nonce, rank, n, uint32_t(ep.name().size()),
		  uint32_t(blob.size())};
	std::vector<uint8_t> msg(sizeof(h) + ep.name().size() + blob.size());
	memcpy(msg.data(), &h, sizeof(h));
	memcpy(msg.data() + sizeof(h), ep.name().data(), ep.name().size());
	if (!blob.empty())
		memcpy(msg.data() + sizeof(h) + ep.name().size(), blob.data(), blob.size());
	ep.send(msg.data(), msg.size(), root, &sctx);

	bool sent = false, got = false;
	size_t got_len = 0;
	const auto deadline = Clock::now() + timeout;
	while (!(sent && got)) {
		if (Clock::now() >= deadline)
			fail(LUMEN_ERROR_TIMEOUT,
			     "bootstrap: rank " + std::to_string(rank) + " of " +
				     std::to_string(n) + ": not every rank joined within " +
				     std::to_string(
					     std::chrono::duration_cast<std::chrono::seconds>(
						     timeout)
						     .count()) +
				     " s (LUMEN_CCL_BOOTSTRAP_TIMEOUT), or the root is gone");
		idle(ep.poll([&](void *ctx, size_t len) {
			if (ctx == &sctx)
				sent = true;
			else if (ctx == &rctx) {
				got = true;
				got_len = len;
			}
		}));
	}
	TableHdr t;
	if (got_len < sizeof(t))
		fail(LUMEN_ERROR_SYSTEM, "bootstrap: the root's answer is truncated");
	memcpy(&t, table.data(), sizeof(t));
	t.why[sizeof(t.why) - 1] = 0;
	if (t.magic != kTableMagic || t.nonce != id.nonce)
		fail(LUMEN_ERROR_SYSTEM, "bootstrap: the root's answer is not for this bootstrap");
	if (t.status != LUMEN_SUCCESS)
		fail(static_cast<lumen_status_t>(t.status),
		     std::string("bootstrap: the ranks disagree: ") + t.why);
	if (t.n != n || t.blob_len != blob.size() || got_len != table.size())
		fail(LUMEN_ERROR_SYSTEM, "bootstrap: the root's table does not match this rank");
	std::vector<std::vector<uint8_t>> out(static_cast<size_t>(n));
	for (int r = 0; r < n; r++) {
		const uint8_t *b = table.data() + sizeof(t) + size_t(r) * blob.size();
		out[size_t(r)].assign(b, b + blob.size());
	}
	return out;
}

} // namespace lumen::ccl
