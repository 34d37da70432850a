// SPDX-License-Identifier: MIT
// The data path of one endpoint over liblumen, nothing but device memory and
// the links:
//
// - The inbox: device memory of the endpoint's context, exported as a fabric
//   handle (read, write, atomic): a control page, then one ring per sender.
//   A sender claims a ring once with a remote fetch-add on the control
//   page's CLAIMED word (its old value is the ring index).
// - Sending a fragment: header + payload are assembled in pinned host memory,
//   copied to a local staging slot (h2d), remote-written into the next slot
//   of the sender's ring at the receiver, then the ring's TAIL word is
//   remote fetch-added, on the same stream: delivered in order, so a TAIL
//   that moved means the slot is there.
// - Flow control: the sender knows how many fragments it wrote (sent) and
//   the receiver's HEAD as last read (remote read of the control page);
//   sent - head < slots, or it reads HEAD again, or waits.
// - Receiving: poll = one d2h copy of the control page, then d2h copies of
//   the slots between HEAD and TAIL of every claimed ring; once they are
//   handed over, HEAD is written back on the card for senders to read.
#pragma once

#include "addr.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace lumen_fi {

enum class Op : uint16_t {
	Hello = 1,    // first fragment of a ring: the payload is the sender's Address
	Msg = 2,      // FI_MSG
	Tagged = 3,   // FI_TAGGED
	Write = 4,    // RMA write into the receiver's MR (key, addr)
	ReadReq = 5,  // RMA read request: the receiver answers with ReadResp
	ReadResp = 6, // data of a read (status != 0: refused)
};
constexpr uint32_t kFragMagic = 0x5246464cu; // "LFFR"
constexpr uint16_t kFragData = 1;	     // carries remote CQ data

struct FragHdr {
	uint32_t magic;
	uint16_t op;
	uint16_t flags;
	uint64_t tag;
	uint64_t data;
	uint64_t msg_len; // bytes of the whole message
	uint64_t offset;  // of this fragment in the message
	uint64_t rma_addr;
	uint64_t rma_key;
	uint64_t req_id; // ReadReq/ReadResp: the initiator's request
	uint32_t frag_len;
	uint32_t status; // ReadResp: FI_* errno of a refused read
};
constexpr uint32_t kHdrBytes = 128;
static_assert(sizeof(FragHdr) <= kHdrBytes, "header fits its slot part");

// Staging slots of outgoing fragments: fragments queued before a flush.
constexpr uint32_t kStageSlots = 8;
// What one poll copies of each slot first (header and small payloads).
constexpr uint32_t kPeekBytes = 4096;

class Transport {
      public:
	struct Conn {
		Address dst{};
		uint32_t ring = UINT32_MAX; // claimed ring, UINT32_MAX: none yet
		uint64_t sent = 0;	    // fragments written into the ring
		uint64_t head = 0;	    // receiver's HEAD as last read
	};
	using Deliver = std::function<void(uint32_t ring, const FragHdr &, const uint8_t *)>;

	// Allocates and exports the inbox on ctx; 0 or a negative FI errno.
	static int create(lumen_context_t ctx, const Geometry &g, std::unique_ptr<Transport> *out);
	~Transport();
	Transport(const Transport &) = delete;
	Transport &operator=(const Transport &) = delete;

	const Address &address() const { return addr_; }
	// Largest payload of one fragment to dst.
	uint32_t max_payload(const Address &dst) const;

	// Claims a ring in c.dst's inbox (flushes first, blocks for one round
	// trip). -FI_ENOSPC when every ring there is taken.
	int claim(Conn &c);
	bool has_credit(const Conn &c) const { return c.sent - c.head < c.dst.slots; }
	// Reads the receiver's HEAD of c's ring again (flushes first).
	int refresh_credit(Conn &c);
	bool staging_full() const { return staged_ == kStageSlots; }
	// Queues one fragment (header and h.frag_len payload bytes, copied now).
	// Needs a claimed ring with credit and a free staging slot.
	int queue(Conn &c, const FragHdr &h, const void *payload);
	// Waits until every queued fragment is confirmed by its target.
	int flush();
	// Hands every fragment that arrived to fn, ring by ring in order.
	// Returns how many, or a negative FI errno.
	int poll(const Deliver &fn);

      private:
	Transport(lumen_context_t ctx, const Geometry &g) : ctx_(ctx), g_(g) {}
	int init();
	int read_word(const lumen_window_desc_t &w, uint64_t offset, bool fetch_add,
		      uint64_t *value);

	lumen_context_t ctx_;
	Geometry g_;
	Address addr_{};
	lumen_fabric_handle_t handle_{}; // the inbox's export
	lumen_stream_t tx_ = nullptr, rx_ = nullptr;
	lumen_devptr_t area_ = 0;    // the inbox
	lumen_devptr_t staging_ = 0; // kStageSlots slots of g_.slot_size
	lumen_devptr_t scratch_ = 0; // results of remote atomics and reads
	bool exported_ = false;
	uint8_t *bounce_ = nullptr;    // pinned: staging slots assembled here
	uint8_t *mirror_ = nullptr;    // pinned: copy of the inbox
	uint64_t *hscratch_ = nullptr; // pinned: scratch_ copied back
	uint32_t staged_ = 0;
	std::vector<uint64_t> head_; // per ring: fragments consumed
};

} // namespace lumen_fi
