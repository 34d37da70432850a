// SPDX-License-Identifier: MIT
// Point-to-point channels of a communicator: every rank owns one p2p area,
// exported to all the others, with a pair of flag words and kP2pSlots
// staging slots per source rank. Rank s sends to d by writing into d's
// slots for s and bumping d's READY word for s; d copies a slice out and
// bumps s's ACK word for d. As for the ring (ring.hpp), the counters only
// grow and the host keeps its own, per peer; everything is queued on the
// caller's stream.
//
// A batch of sends and receives (one send or receive alone, a group's, an
// all-to-all) queues its sends on the caller's stream and its receives on
// a stream of the area's own, forked from the caller's and joined back:
// a send never waits behind a receive of its own rank, and a receive
// (whose slot only a matching send fills) never behind a send, so that
// what each rank's receives need comes from sends that need only earlier
// receives. Within each, the peers' slices interleave round by round, each
// peer's in the order of its ops.
#pragma once

#include <lumen/lumen.h>

#include <cstdint>
#include <vector>

#include "failure.hpp"

namespace lumen::ccl {

constexpr uint64_t kP2pSlots = 2;
// The area's slots: at most kP2pAreaBytes for all peers together, each slot
// between 4 KiB and 256 KiB.
constexpr uint64_t kP2pAreaBytes = 16u << 20;

struct P2pOp {
	bool send;
	lumen_devptr_t buf;
	uint64_t bytes;
	int peer;
};

class P2p {
      public:
	// Allocates and exports this rank's p2p area on ctx for n ranks.
	P2p(lumen_context_t ctx, int rank, int n);
	~P2p();
	P2p(const P2p &) = delete;
	P2p &operator=(const P2p &) = delete;

	const lumen_fabric_handle_t &handle() const noexcept { return mine_; }
	// Every rank's handle(), in rank order.
	void connect(const std::vector<lumen_fabric_handle_t> &areas);
	uint64_t slot_bytes() const noexcept { return slot_; }

	// As Ring::abort.
	void abort();
	// Queues on s a wait for every peer's acknowledgement of every slice
	// sent to it: after it, no peer touches this area any more.
	void drain(lumen_stream_t s);
	// The area's own stream (receives; the communicator's drains).
	lumen_stream_t stream() const noexcept { return rs_; }
	// Queues the batch on s: each peer's slices in the order of its ops
	// (sends and receives of a pair match in order, as in NCCL), the
	// peers' interleaved round by round.
	void run(lumen_stream_t s, const std::vector<P2pOp> &ops);

      private:
	uint64_t flags_bytes() const noexcept;
	void release() noexcept;
	void send_slice(lumen_stream_t s, int peer, lumen_devptr_t src, uint64_t bytes);
	void recv_slice(lumen_stream_t s, int peer, lumen_devptr_t dst, uint64_t bytes);

	lumen_context_t ctx_;
	lumen_stream_t rs_ = nullptr;			// receives, and drains
	lumen_event_t fork_ = nullptr, join_ = nullptr; // between it and the caller's
	int rank_, n_;
	uint64_t slot_ = 0;
	lumen_devptr_t area_ = 0;
	lumen_fabric_handle_t mine_{};
	bool exported_ = false;
	std::vector<lumen_window_desc_t> peers_;
	std::vector<uint64_t> sent_, received_; // slices, per peer
};

} // namespace lumen::ccl
