// SPDX-License-Identifier: MIT
#include "addr.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace lumen_fi {

bool geometry_valid(const Geometry &g, std::string *why)
{
	char msg[128];
	if (g.rings < 1 || g.rings > kMaxRings)
		snprintf(msg, sizeof(msg), "rings %u not in 1..%u", g.rings, kMaxRings);
	else if (g.slots < kMinSlots || g.slots > kMaxSlots)
		snprintf(msg, sizeof(msg), "slots %u not in %u..%u", g.slots, kMinSlots, kMaxSlots);
	else if (g.slot_size < kMinSlotSize || g.slot_size > kMaxSlotSize ||
		 (g.slot_size & (g.slot_size - 1)))
		snprintf(msg, sizeof(msg), "slot size %u is not a power of two in %u..%u",
			 g.slot_size, kMinSlotSize, kMaxSlotSize);
	else
		return true;
	if (why)
		*why = msg;
	return false;
}

bool address_valid(const void *p, size_t len, std::string *why)
{
	auto bad = [why](const std::string &m) {
		if (why)
			*why = m;
		return false;
	};
	if (!p)
		return bad("address is NULL");
	if (len != sizeof(Address))
		return bad("address length " + std::to_string(len) + ", expected " +
			   std::to_string(sizeof(Address)));
	Address a;
	memcpy(&a, p, sizeof(a));
	if (a.magic != kAddrMagic)
		return bad("not a lumen address (magic)");
	if (a.version != kAddrVersion)
		return bad("address version " + std::to_string(a.version) + " unknown");
	if (a.reserved)
		return bad("address reserved field not zero");
	std::string g;
	if (!geometry_valid(geometry_of(a), &g))
		return bad("address geometry: " + g);
	const unsigned need = LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC;
	if ((a.rights & need) != need || (a.rights & ~need))
		return bad("inbox window rights are not read, write and atomic");
	if (a.size < geometry_of(a).area_bytes())
		return bad("inbox window (" + std::to_string(a.size) +
			   " bytes) smaller than its geometry");
	return true;
}

std::string address_string(const Address &a)
{
	char buf[96];
	snprintf(buf, sizeof(buf), "lumen://chip%u/win%u/%016" PRIx64, a.chip_id, a.window, a.key);
	return buf;
}

lumen_window_desc_t window_of(const Address &a)
{
	lumen_window_desc_t w{};
	w.magic = LUMEN_WINDOW_DESC_MAGIC;
	w.chip_id = a.chip_id;
	w.window = a.window;
	w.rights = a.rights;
	w.key = a.key;
	w.size = a.size;
	w.base = a.base;
	return w;
}

} // namespace lumen_fi
