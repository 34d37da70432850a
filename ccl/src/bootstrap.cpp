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
	// The length of every address of this provider (a sockaddr_in).
	size_t addr_len() const { return info_->src_addrlen; }

	// FI_ADDR_UNSPEC when the provider refuses the address.
	fi_addr_t insert(const uint8_t *addr)
	{
		fi_addr_t a = FI_ADDR_UNSPEC;
		if (fi_av_insert(av_.get(), addr, 1, &a, 0, nullptr) != 1)
			return FI_ADDR_UNSPEC;
		return a;
	}

	// Both retry while the provider is out of resources, progressing it,
	// until deadline (TIMEOUT).
	void post_recv(void *buf, size_t len, fi_context *ctx, Clock::time_point deadline)
	{
		ssize_t r;
		while ((r = fi_recv(ep_.get(), buf, len, nullptr, FI_ADDR_UNSPEC, ctx)) ==
		       -FI_EAGAIN)
			progress(deadline, "fi_recv");
		fi_check(int(r), "fi_recv");
	}
	void send(const void *buf, size_t len, fi_addr_t to, fi_context *ctx,
		  Clock::time_point deadline)
	{
		ssize_t r;
		while ((r = fi_send(ep_.get(), buf, len, nullptr, to, ctx)) == -FI_EAGAIN)
			progress(deadline, "fi_send");
		fi_check(int(r), "fi_send");
	}

	// Reads completions: on_done(context, len) for each, on_error(context,
	// what) for each failed one; false if there were none.
	bool poll(const std::function<void(void *, size_t)> &on_done,
		  const std::function<void(void *, const std::string &)> &on_error)
	{
		fi_cq_msg_entry e[8];
		ssize_t r = fi_cq_read(cq_.get(), e, 8);
		if (r == -FI_EAGAIN)
			return false;
		if (r == -FI_EAVAIL) {
			fi_cq_err_entry err{};
			if (fi_cq_readerr(cq_.get(), &err, 0) != 1)
				return true;
			on_error(err.op_context, std::string(fi_strerror(err.err)) + " (" +
							 fi_cq_strerror(cq_.get(), err.prov_errno,
									err.err_data, nullptr, 0) +
							 ")");
			return true;
		}
		fi_check(r < 0 ? int(r) : 0, "fi_cq_read");
		for (ssize_t i = 0; i < r; i++)
			on_done(e[i].op_context, e[i].len);
		return r > 0;
	}

      private:
	void progress(Clock::time_point deadline, const char *call)
	{
		if (Clock::now() >= deadline)
			fail(LUMEN_ERROR_TIMEOUT,
			     std::string("bootstrap: ") + call +
				     ": the provider stayed busy until the bootstrap's deadline "
				     "(LUMEN_CCL_BOOTSTRAP_TIMEOUT)");
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
// Whatever arrives (junk, joins for other ids, joiners that die before
// their answer), it goes on serving until every rank has the table, then
// for kGrace more so that a late joiner learns it came too late, or until
// LUMEN_CCL_BOOTSTRAP_TIMEOUT passed without a join. Then the endpoint
// closes; nothing it does can end the process.
class Root {
      public:
	Root()
	    : nonce_(std::random_device{}() | (uint64_t(std::random_device{}()) << 32)),
	      timeout_(bootstrap_timeout()), ep_(std::make_unique<Endpoint>())
	{
		const auto deadline = Clock::now() + timeout_;
		bufs_.resize(kRootRecvs, std::vector<uint8_t>(kMaxJoin));
		ctxs_.resize(kRootRecvs);
		for (int i = 0; i < kRootRecvs; i++)
			ep_->post_recv(bufs_[i].data(), kMaxJoin, &ctxs_[i], deadline);
		id_ = make_id();
		thread_ = std::thread([this] { serve(); });
	}
	~Root()
	{
		stop_ = true;
		thread_.join();
	}
	Root(const Root &) = delete;
	Root &operator=(const Root &) = delete;

	const UniqueId &id() const { return id_; }
	bool finished() const { return finished_; }

      private:
	static constexpr auto kGrace = std::chrono::seconds(5);

	struct Reply {
		std::shared_ptr<const std::vector<uint8_t>> msg; // the table is shared
		fi_context ctx{};
	};

	UniqueId make_id() const
	{
		UniqueId id{};
		id.magic = kIdMagic;
		id.version = kIdVersion;
		id.nonce = nonce_;
		const auto &name = ep_->name();
		if (name.size() > sizeof(id.addr))
			fail(LUMEN_ERROR_SYSTEM, "bootstrap: the root's address is too long");
		id.addr_len = uint16_t(name.size());
		memcpy(id.addr, name.data(), name.size());
		return id;
	}

	void serve() noexcept
	{
		try {
			loop();
		} catch (...) {
			// The joiners time out and say so; nobody else to tell.
		}
		ep_.reset(); // closed before the buffers it may still hold go
		finished_ = true;
	}

	void loop()
	{
		Clock::time_point deadline = Clock::now() + timeout_;
		while (!stop_ && Clock::now() < deadline) {
			const bool busy = ep_->poll(
				[&](void *ctx, size_t len) {
					if (int i = recv_index(ctx); i >= 0) {
						if (!done_)
							deadline = Clock::now() + timeout_;
						take(bufs_[size_t(i)].data(), len, deadline);
						ep_->post_recv(bufs_[size_t(i)].data(), kMaxJoin,
							       &ctxs_[size_t(i)], deadline);
					} else {
						sent(ctx);
					}
				},
				[&](void *ctx, const std::string &) {
					// A receive that failed (a truncated message) is posted
					// again; a reply that failed (its joiner is gone) is over.
					if (int i = recv_index(ctx); i >= 0)
						ep_->post_recv(bufs_[size_t(i)].data(), kMaxJoin,
							       &ctxs_[size_t(i)], deadline);
					else
						sent(ctx);
				});
			if (!done_ && n_ > 0 && joined_ == n_ && replies_.empty()) {
				done_ = true;
				deadline = Clock::now() + kGrace;
			}
			idle(busy);
		}
	}

	int recv_index(void *ctx) const
	{
		for (int i = 0; i < kRootRecvs; i++)
			if (ctx == &ctxs_[size_t(i)])
				return i;
		return -1;
	}

	void sent(void *ctx)
	{
		replies_.remove_if([ctx](const Reply &r) { return &r.ctx == ctx; });
	}

	// One join message of len bytes.
	void take(const uint8_t *p, size_t len, Clock::time_point deadline)
	{
		JoinHdr h;
		if (len < sizeof(h))
			return;
		memcpy(&h, p, sizeof(h));
		if (h.magic != kJoinMagic || h.nonce != nonce_ || h.name_len != ep_->addr_len() ||
		    h.blob_len > kMaxBlob || len != sizeof(h) + h.name_len + h.blob_len)
			return; // not a join of this bootstrap: ignore
		const uint8_t *name = p + sizeof(h);
		const fi_addr_t to = ep_->insert(name);
		if (to == FI_ADDR_UNSPEC)
			return; // nobody to answer
		std::string why;
		if (done_)
			why = "rank " + std::to_string(h.rank) +
			      " joined after every rank had (the bootstrap is over)";
		else if (n_ < 0) {
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
			if (done_) {
				reply_error(to, why, deadline);
				return;
			}
			if (!failed_) {
				failed_ = true;
				why_ = why;
				// Those who joined learn it too.
				for (int r = 0; r < n_; r++)
					if (to_[size_t(r)] != FI_ADDR_UNSPEC)
						reply_error(to_[size_t(r)], why_, deadline);
			}
			reply_error(to, why_, deadline);
			return;
		}
		to_[size_t(h.rank)] = to;
		blobs_[size_t(h.rank)].assign(name + h.name_len, name + h.name_len + h.blob_len);
		joined_++;
		if (failed_)
			reply_error(to, why_, deadline);
		else if (joined_ == n_)
			reply_tables(deadline);
	}

	TableHdr header(lumen_status_t status, const std::string &why) const
	{
		TableHdr t{};
		t.magic = kTableMagic;
		t.nonce = nonce_;
		t.n = n_;
		t.blob_len = blob_len_;
		t.status = status;
		snprintf(t.why, sizeof(t.why), "%s", why.c_str());
		return t;
	}

	void send(std::shared_ptr<const std::vector<uint8_t>> msg, fi_addr_t to,
		  Clock::time_point deadline)
	{
		auto &r = replies_.emplace_back();
		r.msg = std::move(msg);
		ep_->send(r.msg->data(), r.msg->size(), to, &r.ctx, deadline);
	}

	void reply_error(fi_addr_t to, const std::string &why, Clock::time_point deadline)
	{
		const TableHdr t = header(LUMEN_ERROR_INVALID_ARGUMENT, why);
		auto msg = std::make_shared<std::vector<uint8_t>>(sizeof(t));
		memcpy(msg->data(), &t, sizeof(t));
		send(std::move(msg), to, deadline);
	}

	// One table for all: n blobs of blob_len, rank order.
	void reply_tables(Clock::time_point deadline)
	{
		const TableHdr t = header(LUMEN_SUCCESS, "");
		auto msg =
			std::make_shared<std::vector<uint8_t>>(sizeof(t) + size_t(n_) * blob_len_);
		memcpy(msg->data(), &t, sizeof(t));
		for (int i = 0; i < n_; i++)
			memcpy(msg->data() + sizeof(t) + size_t(i) * blob_len_,
			       blobs_[size_t(i)].data(), blob_len_);
		for (int r = 0; r < n_; r++)
			send(msg, to_[size_t(r)], deadline);
	}

	const uint64_t nonce_;
	const std::chrono::milliseconds timeout_;
	// Buffers the endpoint may hold, then the endpoint: destroyed first.
	std::vector<std::vector<uint8_t>> bufs_;
	std::vector<fi_context> ctxs_;
	std::list<Reply> replies_; // in flight; stable addresses for their contexts
	std::unique_ptr<Endpoint> ep_;
	UniqueId id_{};
	int n_ = -1, joined_ = 0;
	uint32_t blob_len_ = 0;
	std::vector<std::vector<uint8_t>> blobs_;
	std::vector<fi_addr_t> to_;
	bool failed_ = false, done_ = false;
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
	const auto deadline = Clock::now() + timeout;
	// What the endpoint may hold, then the endpoint (closed first).
	std::vector<uint8_t> table(sizeof(TableHdr) + size_t(n) * blob.size());
	std::vector<uint8_t> msg;
	fi_context rctx{}, sctx{};
	Endpoint ep;
	if (id.addr_len != ep.addr_len())
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "the unique id's address is not one of libfabric's tcp provider");
	const fi_addr_t root = ep.insert(id.addr);
	if (root == FI_ADDR_UNSPEC)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "the unique id's address is refused by libfabric's tcp provider");
	ep.post_recv(table.data(), table.size(), &rctx, deadline);

	JoinHdr h{kJoinMagic,		kIdVersion, id.nonce, rank, n, uint32_t(ep.name().size()),
		  uint32_t(blob.size())};
	msg.resize(sizeof(h) + ep.name().size() + blob.size());
	memcpy(msg.data(), &h, sizeof(h));
	memcpy(msg.data() + sizeof(h), ep.name().data(), ep.name().size());
	if (!blob.empty())
		memcpy(msg.data() + sizeof(h) + ep.name().size(), blob.data(), blob.size());
	ep.send(msg.data(), msg.size(), root, &sctx, deadline);

	bool sent = false, got = false;
	size_t got_len = 0;
	std::string failed;
	while (!(sent && got)) {
		if (!failed.empty())
			fail(LUMEN_ERROR_SYSTEM,
			     "bootstrap: rank " + std::to_string(rank) + ": " + failed);
		if (Clock::now() >= deadline)
			fail(LUMEN_ERROR_TIMEOUT,
			     "bootstrap: rank " + std::to_string(rank) + " of " +
				     std::to_string(n) + ": not every rank joined within " +
				     std::to_string(
					     std::chrono::duration_cast<std::chrono::seconds>(
						     timeout)
						     .count()) +
				     " s (LUMEN_CCL_BOOTSTRAP_TIMEOUT), or the root is gone");
		idle(ep.poll(
			[&](void *ctx, size_t len) {
				if (ctx == &sctx)
					sent = true;
				else if (ctx == &rctx) {
					got = true;
					got_len = len;
				}
			},
			[&](void *ctx, const std::string &what) {
				failed = (ctx == &sctx ? "sending the join failed: "
						       : "the root's answer failed: ") +
					 what;
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
		fail(static_cast<lumen_status_t>(t.status), std::string("bootstrap: ") + t.why);
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
