// SPDX-License-Identifier: MIT
// The provider's libfabric objects. Each starts with the libfabric fid
// struct it implements (so a fid pointer is the object's address); its
// fclass and ops pointer tell what an application passed. Everything is
// under its domain's lock (FI_THREAD_SAFE).
#pragma once

#include "addr.hpp"
#include "match.hpp"
#include "transport.hpp"

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace lumen_fi {

// An enum field of an attribute struct from a C caller may hold any value of
// the enum's integer type; loading one outside the enumerators' range as the
// enum is undefined in C++ (UBSAN -fsanitize=enum), so checks read it here.
template <typename E> std::underlying_type_t<E> enum_value(const E &e) noexcept
{
	std::underlying_type_t<E> v;
	std::memcpy(&v, &e, sizeof(v));
	return v;
}

struct Ep;

struct Fabric {
	fid_fabric fab{};
	int refs = 0; // domains and EQs open on it
};

struct Eq {
	fid_eq eq{};
	Fabric *fabric;
	std::mutex mu;
	struct Event {
		uint32_t type;
		std::vector<uint8_t> data;
	};
	std::deque<Event> events;
};

struct Mr {
	fid_mr mr{};
	struct Domain *dom;
	uint8_t *base;
	size_t len;
	uint64_t access;
	uint64_t offset; // RMA address of base without FI_MR_VIRT_ADDR
};

struct Domain {
	fid_domain dom{};
	Fabric *fabric;
	std::recursive_mutex mu;
	lumen_context_t ctx = nullptr;
	Geometry geometry{};
	uint64_t mr_mode = 0;	      // FI_MR_PROV_KEY and FI_MR_VIRT_ADDR matter
	int refs = 0;		      // endpoints, AVs, CQs and MRs open on it
	std::map<uint64_t, Mr *> mrs; // by key
	uint64_t next_key = 1;
};

struct Av {
	fid_av av{};
	Domain *dom;
	fi_av_type type;
	int refs = 0; // endpoints bound
	struct Entry {
		Address addr;
		bool valid;
	};
	std::vector<Entry> entries; // fi_addr_t is the index (TABLE and MAP)
	std::unordered_map<AddrKey, fi_addr_t, AddrKeyHash> rev;
	fi_addr_t lookup(const Address &a) const;
};

// Completion of an operation, before it is formatted for the reader.
struct Completion {
	fi_cq_tagged_entry e{};
	fi_addr_t src = FI_ADDR_NOTAVAIL;
	int err = 0; // positive FI errno: an error completion
	int prov_errno = 0;
	size_t olen = 0;
};

struct Cq {
	fid_cq cq{};
	Domain *dom;
	fi_cq_format format;
	int refs = 0; // endpoints bound
	std::deque<Completion> done;
	std::vector<Ep *> eps; // progressed by reads
	size_t entry_size() const;
};

// One queued transmit: its payload is copied when it is posted, so every
// send behaves like an inject for the caller's buffer.
struct TxOp {
	Op op;
	Address dst;
	void *context;
	bool completion; // write a completion when done
	uint64_t cq_flags;
	uint64_t tag = 0, data = 0;
	bool has_data = false;
	uint64_t rma_addr = 0, rma_key = 0, req_id = 0;
	uint32_t status = 0;
	std::vector<uint8_t> payload; // ReadReq: empty (msg_len says how much)
	uint64_t msg_len = 0;
	uint64_t sent = 0;    // payload bytes queued so far
	bool started = false; // a fragment is queued (zero-length messages have one)
	enum { Pending, Queued, Done, Failed } state = Pending; // Queued: not yet confirmed
	int err = 0;						// Failed: negative FI errno
};

// An RMA read in flight: where its answer goes.
struct ReadOp {
	void *context;
	RecvReq dst;
	uint64_t len;
	uint64_t got = 0;
	bool completion;
	uint32_t status = 0;
};

struct Ep {
	fid_ep ep{};
	Domain *dom;
	uint64_t caps;
	uint64_t tx_op_flags, rx_op_flags;
	Av *av = nullptr;
	Cq *txcq = nullptr, *rxcq = nullptr;
	bool tx_selective = false, rx_selective = false;
	bool enabled = false;
	std::unique_ptr<Transport> tp;
	Matcher matcher;
	std::deque<TxOp> txq;
	struct Conn : Transport::Conn {
		bool hello_sent = false;
	};
	std::unordered_map<AddrKey, Conn, AddrKeyHash> conns;
	struct RingRx { // what the fragments of a ring are for now
		bool have_src = false;
		Address src{};		    // the sender (its Hello)
		std::optional<RecvReq> req; // message in progress into a posted receive
		Unexpected *ux = nullptr;   // or into an unexpected one
		Incoming in{};
		uint64_t msg_len = 0, got = 0, data = 0;
		bool has_data = false;
	};
	std::vector<RingRx> rings;
	std::map<uint64_t, ReadOp> reads;
	uint64_t next_read = 1;
	size_t tx_size, rx_size;
	explicit Ep(bool directed) : matcher(directed) {}
	// Sends what the rings' credit allows, then polls the inbox.
	void progress();
	void progress_tx();
	void progress_rx();
	void on_fragment(uint32_t ring, const FragHdr &h, const uint8_t *payload);
	void abandon(RingRx &rr);
	void complete_tx(const TxOp &op);
	void complete_recv(const RecvReq &r, const Incoming &in, uint64_t msg_len, uint64_t data,
			   bool has_data);
	void deliver_unexpected(Unexpected *u);
};

// Constructors of the objects, called through the ops tables.
int fabric_open(fi_fabric_attr *attr, fid_fabric **fabric, void *context);
int domain_open(fid_fabric *fabric, fi_info *info, fid_domain **dom, void *context);
int eq_open(fid_fabric *fabric, fi_eq_attr *attr, fid_eq **eq, void *context);
int av_open(fid_domain *domain, fi_av_attr *attr, fid_av **av, void *context);
int cq_open(fid_domain *domain, fi_cq_attr *attr, fid_cq **cq, void *context);
int ep_open(fid_domain *domain, fi_info *info, fid_ep **ep, void *context);
int mr_reg(fid *fid, const void *buf, size_t len, uint64_t access, uint64_t offset,
	   uint64_t requested_key, uint64_t flags, fid_mr **mr, void *context);
int mr_regv(fid *fid, const iovec *iov, size_t count, uint64_t access, uint64_t offset,
	    uint64_t requested_key, uint64_t flags, fid_mr **mr, void *context);
int mr_regattr(fid *fid, const fi_mr_attr *attr, uint64_t flags, fid_mr **mr);

// Where [addr, addr + len) of the MR with key lies in this process, if the
// MR grants access (FI_REMOTE_READ/WRITE); nullptr otherwise.
uint8_t *mr_target(Domain *d, uint64_t key, uint64_t addr, uint64_t len, uint64_t access);

// Whether a fid is one of this provider's AVs or CQs (fi_ep_bind).
bool is_av(const fid *f);
bool is_cq(const fid *f);

// Queues a completion on cq (nullptr: none bound, dropped).
void cq_push(Cq *cq, const Completion &c);

// Shared "not supported" entries of the ops tables.
int no_bind(fid *, fid *, uint64_t);
int no_control(fid *, int, void *);
int no_ops_open(fid *, const char *, uint64_t, void **, void *);

} // namespace lumen_fi
