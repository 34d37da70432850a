// SPDX-License-Identifier: MIT
// The provider's endpoint address: a fixed-size POD that names the chip and
// the endpoint's inbox (the window of the fabric handle that exports its
// device memory) and the inbox's geometry, so a peer needs nothing else to
// send to it. Exchanged out of band (fi_getname / fi_av_insert) as plain
// bytes. It holds the handle's window fields, not the 64-byte handle itself:
// names must fit FI_NAME_MAX (64 bytes), which Open MPI's MTL allocates.
#pragma once

#include <lumen/lumen.h>
#include <rdma/fabric.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace lumen_fi {

constexpr uint32_t kAddrMagic = 0x4149464cu; // "LFIA" in memory order
constexpr uint16_t kAddrVersion = 1;

// Inbox layout: a control page, then `rings` rings of `slots` slots of
// `slot_size` bytes. One ring per sender, claimed with a remote fetch-add.
constexpr uint64_t kCtrlBytes = 4096;
constexpr uint64_t kCtrlClaimed = 0;	// word senders fetch-add to claim a ring
constexpr uint64_t kCtrlTails = 64;	// tail[r]: fragments written into ring r
constexpr uint64_t kCtrlHeads = 2048;	// head[r]: fragments the receiver consumed
constexpr uint32_t kMaxRings = 240;	// tails must stay below kCtrlHeads
constexpr uint32_t kMinSlotSize = 4096; // a header and some payload
constexpr uint32_t kMaxSlotSize = 1u << 20;
constexpr uint32_t kMinSlots = 2, kMaxSlots = 256;

struct Address {
	uint32_t magic;	    // kAddrMagic
	uint16_t version;   // kAddrVersion
	uint16_t rings;	    // rings of the inbox
	uint32_t slots;	    // slots per ring
	uint32_t slot_size; // bytes per slot, a power of two
	// The inbox's window (lumen_window_desc_t without magic and reserved).
	uint32_t chip_id;
	uint32_t window;
	uint32_t rights;   // read, write and atomic
	uint32_t reserved; // zero
	uint64_t key;
	uint64_t size;
	uint64_t base;
};
static_assert(sizeof(Address) == 56 && sizeof(Address) <= FI_NAME_MAX,
	      "the address is wire format and fits FI_NAME_MAX");

// The window descriptor remote operations on the inbox take.
lumen_window_desc_t window_of(const Address &a);

struct Geometry {
	uint32_t rings, slots, slot_size;
	uint64_t area_bytes() const { return kCtrlBytes + uint64_t(rings) * slots * slot_size; }
	uint64_t slot_offset(uint32_t ring, uint64_t seq) const
	{
		return kCtrlBytes + (uint64_t(ring) * slots + seq % slots) * slot_size;
	}
};

// Checks a geometry; a message for the log in *why when it is bad.
bool geometry_valid(const Geometry &g, std::string *why);

// Checks len bytes at p as an Address: sizes, magics, versions, reserved
// fields, geometry, and that the inbox is large enough with the rights a
// sender needs. *why says what is wrong.
bool address_valid(const void *p, size_t len, std::string *why);

inline Geometry geometry_of(const Address &a)
{
	return Geometry{a.rings, a.slots, a.slot_size};
}

// Identity of an endpoint for lookups: chip, window slot and key.
struct AddrKey {
	uint32_t chip, window;
	uint64_t key;
	bool operator==(const AddrKey &o) const
	{
		return chip == o.chip && window == o.window && key == o.key;
	}
};
struct AddrKeyHash {
	size_t operator()(const AddrKey &k) const
	{
		return std::hash<uint64_t>()(k.key ^ (uint64_t(k.chip) << 40) ^
					     (uint64_t(k.window) << 20));
	}
};
inline AddrKey key_of(const Address &a)
{
	return AddrKey{a.chip_id, a.window, a.key};
}

// "lumen://chip<C>/win<W>/<key hex>" for fi_av_straddr.
std::string address_string(const Address &a);

} // namespace lumen_fi
