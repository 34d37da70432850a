// SPDX-License-Identifier: MIT
#include "ring.hpp"

namespace lumen::ccl {

Ring::Ring(lumen_context_t ctx) : ctx_(ctx)
{
	const uint64_t bytes = kFlagsBytes + kSlots * kSlotBytes;
	check(lumen_malloc(ctx_, bytes, &area_), "lumen_malloc of the staging area");
	try {
		check(lumen_memset(ctx_, area_, 0, kFlagsBytes), "lumen_memset of the flags");
		check(lumen_mem_export_fabric(ctx_, area_, bytes,
					      LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC, &mine_),
		      "lumen_mem_export_fabric of the staging area");
		exported_ = true;
	} catch (...) {
		lumen_free(ctx_, area_);
		throw;
	}
}

Ring::~Ring()
{
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &mine_);
	lumen_free(ctx_, area_);
}

void Ring::abort()
{
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &mine_);
	exported_ = false;
	// Every word past anything a WAIT of this rank compares it with.
	lumen_memset(ctx_, area_, 0xff, kScratch);
}

void Ring::connect(const lumen_fabric_handle_t &next, const lumen_fabric_handle_t &prev)
{
	next_ = next.window;
	prev_ = prev.window;
}

void Ring::send(lumen_stream_t s, lumen_devptr_t src, uint64_t bytes)
{
	const uint64_t slot = sent_ % kSlots;
	// The next rank must have used what was in this slot.
	if (sent_ >= kSlots)
		check(lumen_stream_wait_value64(s, area_ + kAck, sent_ - kSlots + 1),
		      "lumen_stream_wait_value64 (slot free)");
	check(lumen_remote_write_async(s, &next_, kFlagsBytes + slot * kSlotBytes, src, bytes),
	      "lumen_remote_write_async (slice to the next rank)");
	check(lumen_remote_atomic_async(s, &next_, kReady, LUMEN_ATOMIC_FETCH_ADD, 1, 0),
	      "lumen_remote_atomic_async (slice ready)");
	sent_++;
}

lumen_devptr_t Ring::arrive(lumen_stream_t s)
{
	check(lumen_stream_wait_value64(s, area_ + kReady, received_ + 1),
	      "lumen_stream_wait_value64 (slice arrived)");
	return area_ + kFlagsBytes + (received_ % kSlots) * kSlotBytes;
}

void Ring::release(lumen_stream_t s)
{
	check(lumen_remote_atomic_async(s, &prev_, kAck, LUMEN_ATOMIC_FETCH_ADD, 1, 0),
	      "lumen_remote_atomic_async (slot used)");
	received_++;
}

void Ring::recv_copy(lumen_stream_t s, lumen_devptr_t dst, uint64_t bytes)
{
	lumen_devptr_t slot = arrive(s);
	check(lumen_memcpy_d2d_async(s, dst, slot, bytes), "lumen_memcpy_d2d_async (slice)");
	release(s);
}

void Ring::recv_reduce(lumen_stream_t s, lumen_devptr_t dst, uint64_t count, lumen_dtype_t dtype,
		       lumen_reduce_op_t op)
{
	lumen_devptr_t slot = arrive(s);
	check(lumen_reduce_async(s, dst, slot, count, dtype, op), "lumen_reduce_async (slice)");
	release(s);
}

void Ring::drain(lumen_stream_t s)
{
	if (sent_)
		check(lumen_stream_wait_value64(s, area_ + kAck, sent_),
		      "lumen_stream_wait_value64 (last acknowledgements)");
}

void Ring::recv_reduce_forward(lumen_stream_t s, lumen_devptr_t mine, uint64_t count,
			       lumen_dtype_t dtype, lumen_reduce_op_t op, uint64_t bytes)
{
	lumen_devptr_t slot = arrive(s);
	check(lumen_reduce_async(s, slot, mine, count, dtype, op), "lumen_reduce_async (partial)");
	// Sent before the slot is released: stream order makes the write read
	// it first.
	send(s, slot, bytes);
	release(s);
}

} // namespace lumen::ccl
