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
		check(lumen_memset(ctx_, area_, 0, flags_bytes()), "lumen_memset of the p2p flags");
		check(lumen_mem_export_fabric(ctx_, area_, bytes,
					      LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC, &mine_),
		      "lumen_mem_export_fabric of the p2p area");
		exported_ = true;
	} catch (...) {
		lumen_free(ctx_, area_);
		throw;
	}
}

P2p::~P2p()
{
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &mine_);
	lumen_free(ctx_, area_);
}

void P2p::abort()
{
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &mine_);
	exported_ = false;
	lumen_memset(ctx_, area_, 0xff, flags_bytes());
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
	for (const auto &op : ops)
		for (uint64_t at = 0; at < op.bytes; at += slot_)
			(op.send ? out : in)[size_t(op.peer)].push_back(
				{op.buf + at, std::min(slot_, op.bytes - at)});
	size_t rounds = 0;
	for (int p = 0; p < n_; p++)
		rounds = std::max({rounds, out[size_t(p)].size(), in[size_t(p)].size()});
	for (size_t k = 0; k < rounds; k++) {
		for (int p = 0; p < n_; p++)
			if (k < out[size_t(p)].size())
				send_slice(s, p, out[size_t(p)][k].buf, out[size_t(p)][k].bytes);
		for (int p = 0; p < n_; p++)
			if (k < in[size_t(p)].size())
				recv_slice(s, p, in[size_t(p)][k].buf, in[size_t(p)][k].bytes);
	}
}

} // namespace lumen::ccl
