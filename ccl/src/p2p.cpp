// SPDX-License-Identifier: MIT
#include "p2p.hpp"

#include <algorithm>
#include <string>

namespace lumen::ccl {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t slot_for(int n)
{
	uint64_t s = kP2pAreaBytes / (kP2pSlots * uint64_t(n));
	s = std::clamp<uint64_t>(s, kPage, 256u << 10);
	return s / kPage * kPage;
}

// Flag words of peer p: READY (p's slices arrived here), ACK (slices of
// ours p has used).
uint64_t ready_at(int p)
{
	return uint64_t(p) * 16;
}
uint64_t ack_at(int p)
{
	return uint64_t(p) * 16 + 8;
}

} // namespace

P2p::P2p(lumen_context_t ctx, int rank, int n)
    : ctx_(ctx), rank_(rank), n_(n), slot_(slot_for(n)), sent_(size_t(n)), received_(size_t(n))
{
	const uint64_t bytes = flags_bytes() + uint64_t(n) * kP2pSlots * slot_;
	check(lumen_malloc(ctx_, bytes, &area_), "lumen_malloc of the p2p area");
	try {
		check(lumen_stream_create(ctx_, &rs_), "lumen_stream_create (p2p receives)");
		check(lumen_event_create(ctx_, &fork_), "lumen_event_create");
		check(lumen_event_create(ctx_, &join_), "lumen_event_create");
		check(lumen_memset(ctx_, area_, 0, flags_bytes()), "lumen_memset of the p2p flags");
		check(lumen_mem_export_fabric(ctx_, area_, bytes,
					      LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC, &mine_),
		      "lumen_mem_export_fabric of the p2p area");
		exported_ = true;
	} catch (...) {
		release();
		throw;
	}
}

P2p::~P2p()
{
	release();
}

void P2p::release() noexcept
{
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &mine_);
	exported_ = false;
	if (rs_)
		lumen_stream_destroy(rs_); // waits for its work: nothing uses the area after
	if (fork_)
		lumen_event_destroy(fork_);
	if (join_)
		lumen_event_destroy(join_);
	lumen_free(ctx_, area_);
}

void P2p::drain(lumen_stream_t s)
{
	for (int p = 0; p < n_; p++)
		if (sent_[size_t(p)])
			check(lumen_stream_wait_value64(s, area_ + ack_at(p), sent_[size_t(p)]),
			      "lumen_stream_wait_value64 (last p2p acknowledgements)");
}

void P2p::abort()
{
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &mine_);
	exported_ = false;
	lumen_memset(ctx_, area_, 0xff, flags_bytes());
	lumen_stream_synchronize(rs_);
}

uint64_t P2p::flags_bytes() const noexcept
{
	return (uint64_t(n_) * 16 + kPage - 1) / kPage * kPage;
}

void P2p::connect(const std::vector<lumen_fabric_handle_t> &areas)
{
	peers_.clear();
	for (const auto &h : areas)
		peers_.push_back(h.window);
}

void P2p::send_slice(lumen_stream_t s, int peer, lumen_devptr_t src, uint64_t bytes)
{
	uint64_t &sent = sent_[size_t(peer)];
	const uint64_t slot = sent % kP2pSlots;
	if (sent >= kP2pSlots)
		check(lumen_stream_wait_value64(s, area_ + ack_at(peer), sent - kP2pSlots + 1),
		      "lumen_stream_wait_value64 (p2p slot free)");
	const uint64_t at = flags_bytes() + (uint64_t(rank_) * kP2pSlots + slot) * slot_;
	check(lumen_remote_write_async(s, &peers_[size_t(peer)], at, src, bytes),
	      "lumen_remote_write_async (p2p slice)");
	check(lumen_remote_atomic_async(s, &peers_[size_t(peer)], ready_at(rank_),
					LUMEN_ATOMIC_FETCH_ADD, 1, 0),
	      "lumen_remote_atomic_async (p2p slice ready)");
	sent++;
}

void P2p::recv_slice(lumen_stream_t s, int peer, lumen_devptr_t dst, uint64_t bytes)
{
	uint64_t &got = received_[size_t(peer)];
	check(lumen_stream_wait_value64(s, area_ + ready_at(peer), got + 1),
	      "lumen_stream_wait_value64 (p2p slice arrived)");
	const uint64_t at = flags_bytes() + (uint64_t(peer) * kP2pSlots + got % kP2pSlots) * slot_;
	check(lumen_memcpy_d2d_async(s, dst, area_ + at, bytes), "lumen_memcpy_d2d_async (p2p)");
	check(lumen_remote_atomic_async(s, &peers_[size_t(peer)], ack_at(rank_),
					LUMEN_ATOMIC_FETCH_ADD, 1, 0),
	      "lumen_remote_atomic_async (p2p slot used)");
	got++;
}

void P2p::run(lumen_stream_t s, const std::vector<P2pOp> &ops)
{
	// Each peer's slices in the order of its ops, so that ops to one peer
	// match the peer's in order however either side batches them.
	struct Slice {
		lumen_devptr_t buf;
		uint64_t bytes;
	};
	std::vector<std::vector<Slice>> out(static_cast<size_t>(n_)), in(static_cast<size_t>(n_));
	bool receives = false;
	for (const auto &op : ops) {
		receives |= !op.send && op.bytes;
		for (uint64_t at = 0; at < op.bytes; at += slot_)
			(op.send ? out : in)[size_t(op.peer)].push_back(
				{op.buf + at, std::min(slot_, op.bytes - at)});
	}
	size_t rounds = 0;
	for (int p = 0; p < n_; p++)
		rounds = std::max({rounds, out[size_t(p)].size(), in[size_t(p)].size()});
	// The receives start where the caller's stream is, and it goes on once
	// they are done.
	if (receives) {
		check(lumen_event_record(fork_, s), "lumen_event_record (p2p fork)");
		check(lumen_stream_wait_event(rs_, fork_), "lumen_stream_wait_event (p2p fork)");
	}
	for (size_t k = 0; k < rounds; k++) {
		for (int p = 0; p < n_; p++)
			if (k < out[size_t(p)].size())
				send_slice(s, p, out[size_t(p)][k].buf, out[size_t(p)][k].bytes);
		for (int p = 0; p < n_; p++)
			if (k < in[size_t(p)].size())
				recv_slice(rs_, p, in[size_t(p)][k].buf, in[size_t(p)][k].bytes);
	}
	if (receives) {
		check(lumen_event_record(join_, rs_), "lumen_event_record (p2p join)");
		check(lumen_stream_wait_event(s, join_), "lumen_stream_wait_event (p2p join)");
	}
}

} // namespace lumen::ccl
