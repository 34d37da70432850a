// SPDX-License-Identifier: MIT
// Route tables as the chips hold them (docs/hw-spec.md 13.4): per chip, one
// 32-bit route word per destination chip id, plus the per-port DATELINE
// flags. What a routing engine produces, the verifier checks, and
// lumen-route uploads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <lumen/lumen_link.h>

#include "route/topology.hpp"

namespace lumen::route {

constexpr uint8_t kNoPort = LUMEN_ROUTE_NO_PORT;

// A decoded route word.
struct RouteEntry {
	bool valid = false;
	uint8_t port = 0;
	uint8_t alt_port = kNoPort;
	uint8_t lane = 0;
	bool fixed_lane = false;

	uint32_t word() const noexcept;
	static RouteEntry decode(uint32_t word) noexcept;
	// Reserved bits set (a chip refuses the word).
	static bool reserved_bits(uint32_t word) noexcept
	{
		return (word & LUMEN_ROUTE_W_RESERVED) != 0;
	}
	// "+x alt -x lane 0", "-" when invalid.
	std::string str() const;
};

// The tables of every chip of a fabric. Entries default to invalid (no
// route), as a chip's table after reset.
class Routes {
      public:
	// Tables for chip ids below id_limit, each with id_limit entries.
	explicit Routes(uint32_t id_limit);

	uint32_t id_limit() const noexcept { return limit_; }
	uint32_t word(uint32_t chip, uint32_t dest) const noexcept
	{
		return chip < limit_ && dest < limit_ ? words_[size_t(chip) * limit_ + dest] : 0;
	}
	RouteEntry entry(uint32_t chip, uint32_t dest) const noexcept
	{
		return RouteEntry::decode(word(chip, dest));
	}
	void set(uint32_t chip, uint32_t dest, uint32_t word);
	void set(uint32_t chip, uint32_t dest, const RouteEntry &e) { set(chip, dest, e.word()); }

	// Bit p: port p has LUMEN_LCTRL_DATELINE.
	uint8_t datelines(uint32_t chip) const noexcept
	{
		return chip < limit_ ? dateline_[chip] : 0;
	}
	void set_dateline(uint32_t chip, unsigned port, bool on);

	// The whole table a chip holds: LUMEN_ROUTE_TABLE_SIZE words, entries
	// beyond id_limit invalid (what DRM_LUMEN_ROUTE SET uploads).
	std::vector<uint32_t> chip_table(uint32_t chip) const;

      private:
	uint32_t limit_;
	std::vector<uint32_t> words_;	// chip * limit_ + dest
	std::vector<uint8_t> dateline_; // per chip
};

} // namespace lumen::route
