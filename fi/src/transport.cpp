// SPDX-License-Identifier: MIT
#include "transport.hpp"

#include "log.hpp"

#include <algorithm>
#include <cstring>

namespace lumen_fi {

int Transport::create(lumen_context_t ctx, const Geometry &g, std::unique_ptr<Transport> *out)
{
	std::unique_ptr<Transport> t(new Transport(ctx, g));
	int ret = t->init();
	if (ret)
		return ret;
	*out = std::move(t);
	return 0;
}

int Transport::init()
{
	const uint64_t area = g_.area_bytes();
	lumen_status_t s;
	if ((s = lumen_stream_create(ctx_, &tx_)) || (s = lumen_stream_create(ctx_, &rx_)))
		return lumen_error(s, "lumen_stream_create");
	if ((s = lumen_malloc(ctx_, area, &area_)))
		return lumen_error(s, "lumen_malloc of the inbox");
	if ((s = lumen_malloc(ctx_, uint64_t(kStageSlots) * g_.slot_size, &staging_)))
		return lumen_error(s, "lumen_malloc of the staging slots");
	if ((s = lumen_malloc(ctx_, 4096, &scratch_)))
		return lumen_error(s, "lumen_malloc of the scratch words");
	if ((s = lumen_memset(ctx_, area_, 0, kCtrlBytes)))
		return lumen_error(s, "lumen_memset of the inbox control page");
	void *p;
	if ((s = lumen_malloc_host(ctx_, uint64_t(kStageSlots) * g_.slot_size, &p)))
		return lumen_error(s, "lumen_malloc_host of the send bounce");
	bounce_ = static_cast<uint8_t *>(p);
	if ((s = lumen_malloc_host(ctx_, area, &p)))
		return lumen_error(s, "lumen_malloc_host of the inbox mirror");
	mirror_ = static_cast<uint8_t *>(p);
	if ((s = lumen_malloc_host(ctx_, 4096, &p)))
		return lumen_error(s, "lumen_malloc_host of the scratch words");
	hscratch_ = static_cast<uint64_t *>(p);
	lumen_fabric_handle_t h;
	s = lumen_mem_export_fabric(ctx_, area_, area,
				    LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC,
				    &h);
	if (s)
		return lumen_error(s, "lumen_mem_export_fabric of the inbox");
	exported_ = true;
	addr_.magic = kAddrMagic;
	addr_.version = kAddrVersion;
	addr_.rings = uint16_t(g_.rings);
	addr_.slots = g_.slots;
	addr_.slot_size = g_.slot_size;
	addr_.chip_id = h.window.chip_id;
	addr_.window = h.window.window;
	addr_.rights = h.window.rights;
	addr_.key = h.window.key;
	addr_.size = h.window.size;
	addr_.base = h.window.base;
	handle_ = h;
	head_.assign(g_.rings, 0);
	return 0;
}

Transport::~Transport()
{
	// Streams first: nothing queued may still touch the memory below.
	if (tx_)
		lumen_stream_destroy(tx_);
	if (rx_)
		lumen_stream_destroy(rx_);
	if (exported_)
		lumen_mem_revoke_fabric(ctx_, &handle_);
	for (lumen_devptr_t d : {area_, staging_, scratch_})
		if (d)
			lumen_free(ctx_, d);
	for (void *h : {(void *)bounce_, (void *)mirror_, (void *)hscratch_})
		if (h)
			lumen_free_host(ctx_, h);
}

uint32_t Transport::max_payload(const Address &dst) const
{
	return std::min(dst.slot_size, g_.slot_size) - kHdrBytes;
}

int Transport::read_word(const lumen_window_desc_t &w, uint64_t offset, bool fetch_add,
			 uint64_t *value)
{
	int ret = flush();
	if (ret)
		return ret;
	lumen_status_t s = fetch_add ? lumen_remote_atomic_async(
					       tx_, &w, offset, LUMEN_ATOMIC_FETCH_ADD, 1, scratch_)
				     : lumen_remote_read_async(tx_, scratch_, &w, offset, 8);
	if (s)
		return lumen_error(s, fetch_add ? "lumen_remote_atomic_async (claim a ring)"
						: "lumen_remote_read_async (receiver's head)");
	if ((s = lumen_memcpy_d2h_async(tx_, hscratch_, scratch_, 8)))
		return lumen_error(s, "lumen_memcpy_d2h_async (scratch word)");
	if ((s = lumen_stream_synchronize(tx_)))
		return lumen_error(s, fetch_add ? "claiming a ring at the receiver"
						: "reading the receiver's head");
	*value = *hscratch_;
	return 0;
}

int Transport::claim(Conn &c)
{
	uint64_t ring;
	int ret = read_word(window_of(c.dst), kCtrlClaimed, true, &ring);
	if (ret)
		return ret;
	if (ring >= c.dst.rings) {
		LFI_WARN(FI_LOG_EP_DATA, "%s has no free ring (%u rings, all claimed)\n",
			 address_string(c.dst).c_str(), c.dst.rings);
		return -FI_ENOSPC;
	}
	c.ring = uint32_t(ring);
	c.sent = c.head = 0;
	return 0;
}

int Transport::refresh_credit(Conn &c)
{
	return read_word(window_of(c.dst), kCtrlHeads + 8 * uint64_t(c.ring), false, &c.head);
}

int Transport::queue(Conn &c, const FragHdr &h, const void *payload)
{
	const uint64_t slot = uint64_t(staged_) * g_.slot_size;
	const uint64_t bytes = kHdrBytes + h.frag_len;
	memset(bounce_ + slot, 0, kHdrBytes);
	memcpy(bounce_ + slot, &h, sizeof(h));
	if (h.frag_len)
		memcpy(bounce_ + slot + kHdrBytes, payload, h.frag_len);
	const lumen_window_desc_t w = window_of(c.dst);
	const Geometry dg = geometry_of(c.dst);
	lumen_status_t s = lumen_memcpy_h2d_async(tx_, staging_ + slot, bounce_ + slot, bytes);
	if (s)
		return lumen_error(s, "lumen_memcpy_h2d_async (fragment)");
	staged_++;
	if ((s = lumen_remote_write_async(tx_, &w, dg.slot_offset(c.ring, c.sent), staging_ + slot,
					  bytes)))
		return lumen_error(s, "lumen_remote_write_async (fragment)");
	if ((s = lumen_remote_atomic_async(tx_, &w, kCtrlTails + 8 * uint64_t(c.ring),
					   LUMEN_ATOMIC_FETCH_ADD, 1, 0)))
		return lumen_error(s, "lumen_remote_atomic_async (ring tail)");
	c.sent++;
	return 0;
}

int Transport::flush()
{
	if (!staged_)
		return 0;
	staged_ = 0;
	lumen_status_t s = lumen_stream_synchronize(tx_);
	return s ? lumen_error(s, "sending fragments") : 0;
}

int Transport::poll(const Deliver &fn)
{
	lumen_status_t s = lumen_memcpy_d2h_async(rx_, mirror_, area_, kCtrlBytes);
	if (s || (s = lumen_stream_synchronize(rx_)))
		return lumen_error(s, "reading the inbox control page");
	const uint64_t *ctrl = reinterpret_cast<const uint64_t *>(mirror_);
	const uint64_t rings = std::min<uint64_t>(ctrl[kCtrlClaimed / 8], g_.rings);
	struct Pending {
		uint32_t ring;
		uint64_t off;
	};
	std::vector<Pending> pend;
	for (uint32_t r = 0; r < rings; r++) {
		const uint64_t tail = ctrl[kCtrlTails / 8 + r];
		for (uint64_t q = head_[r]; q < tail && q < head_[r] + g_.slots; q++) {
			const uint64_t off = g_.slot_offset(r, q);
			s = lumen_memcpy_d2h_async(rx_, mirror_ + off, area_ + off,
						   std::min(g_.slot_size, kPeekBytes));
			if (s)
				return lumen_error(s, "lumen_memcpy_d2h_async (slot)");
			pend.push_back({r, off});
		}
	}
	if (pend.empty())
		return 0;
	if ((s = lumen_stream_synchronize(rx_)))
		return lumen_error(s, "reading inbox slots");
	bool more = false;
	for (const Pending &p : pend) {
		const FragHdr *h = reinterpret_cast<const FragHdr *>(mirror_ + p.off);
		if (h->magic == kFragMagic && h->frag_len <= g_.slot_size - kHdrBytes &&
		    kHdrBytes + h->frag_len > kPeekBytes) {
			s = lumen_memcpy_d2h_async(rx_, mirror_ + p.off + kPeekBytes,
						   area_ + p.off + kPeekBytes,
						   kHdrBytes + h->frag_len - kPeekBytes);
			if (s)
				return lumen_error(s, "lumen_memcpy_d2h_async (slot rest)");
			more = true;
		}
	}
	if (more && (s = lumen_stream_synchronize(rx_)))
		return lumen_error(s, "reading inbox slots");
	for (const Pending &p : pend) {
		const FragHdr *h = reinterpret_cast<const FragHdr *>(mirror_ + p.off);
		if (h->magic != kFragMagic || h->frag_len > g_.slot_size - kHdrBytes)
			LFI_WARN(FI_LOG_EP_DATA, "ring %u: malformed fragment dropped\n", p.ring);
		else
			fn(p.ring, *h, mirror_ + p.off + kHdrBytes);
		head_[p.ring]++;
	}
	// Give the slots back: senders read HEAD when they run out of credit.
	for (uint32_t r = 0; r < rings; r++) {
		s = lumen_stream_write_value64(rx_, area_ + kCtrlHeads + 8 * uint64_t(r), head_[r]);
		if (s)
			return lumen_error(s, "lumen_stream_write_value64 (ring head)");
	}
	return int(pend.size());
}

} // namespace lumen_fi
