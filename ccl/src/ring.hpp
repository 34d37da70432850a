// SPDX-License-Identifier: MIT
// One rank of a ring: its staging buffer and flags (exported to the
// previous rank), the next rank's (imported), and the primitives every
// collective is made of: send a slice to the next rank, receive one from
// the previous rank into a buffer (copy or reduce). All of it is queued on
// the caller's stream; the host keeps only counters.
//
// The previous rank writes a slice into one of kSlots staging slots, then
// fetch-adds our READY word (same stream, same chip: delivered in order);
// we wait for READY, use the slot, and fetch-add the previous rank's ACK
// word so it may reuse the slot. READY and ACK only grow over the
// communicator's life, and every collective moves as many slices out of a
// rank as into the next one, so each side knows what to wait for.
#pragma once

#include <lumen/lumen.h>

#include <cstdint>

#include "failure.hpp"

namespace lumen::ccl {

constexpr uint64_t kSlots = 2;
constexpr uint64_t kSlotBytes = 1u << 20;
constexpr uint64_t kFlagsBytes = 4096; // READY at 0, ACK at 8
constexpr uint64_t kReady = 0, kAck = 8;
constexpr uint64_t kScratch = 64, kScratchBytes = 64; // barrier tokens, in the flags page

class Ring {
      public:
	// Allocates and exports this rank's staging area on ctx.
	explicit Ring(lumen_context_t ctx);
	~Ring();
	Ring(const Ring &) = delete;
	Ring &operator=(const Ring &) = delete;

	const lumen_fabric_handle_t &handle() const noexcept { return mine_; }
	// kScratchBytes of this rank's device memory for the library's own use.
	lumen_devptr_t scratch() const noexcept { return area_ + kScratch; }
	// The next rank's staging area (its handle()).
	void connect(const lumen_fabric_handle_t &next, const lumen_fabric_handle_t &prev);

	// bytes (<= kSlotBytes) at src to the next rank.
	void send(lumen_stream_t s, lumen_devptr_t src, uint64_t bytes);
	// The previous rank's next slice (bytes long) into dst: copied, or
	// reduced into it (count elements of dtype with op).
	void recv_copy(lumen_stream_t s, lumen_devptr_t dst, uint64_t bytes);
	void recv_reduce(lumen_stream_t s, lumen_devptr_t dst, uint64_t count, lumen_dtype_t dtype,
			 lumen_reduce_op_t op);
	// The previous rank's next slice, reduced with count elements at mine
	// (slot op= mine) and passed on to the next rank as it is: a partial
	// result travelling round the ring (reduce-scatter).
	void recv_reduce_forward(lumen_stream_t s, lumen_devptr_t mine, uint64_t count,
				 lumen_dtype_t dtype, lumen_reduce_op_t op, uint64_t bytes);
	// Abort: peers' writes into the area fail from now on, and every wait
	// of this rank's streams on its flags is released (what follows them
	// computes garbage, which an aborted communicator may).
	void abort();
	// Wait on s until the next rank acknowledged every slice sent: after
	// it, nothing of the next rank's still writes into this area.
	void drain(lumen_stream_t s);

      private:
	// Waits for the previous rank's next slice; its slot's address.
	lumen_devptr_t arrive(lumen_stream_t s);
	void release(lumen_stream_t s);

	lumen_context_t ctx_;
	lumen_devptr_t area_ = 0; // flags, then kSlots staging slots
	lumen_fabric_handle_t mine_{};
	bool exported_ = false;
	lumen_window_desc_t next_{}, prev_{};
	uint64_t sent_ = 0, received_ = 0;
};

} // namespace lumen::ccl
