// SPDX-License-Identifier: MIT
// Route tables as the chips hold them (docs/hw-spec.md 13.4): per chip, one
// 32-bit route word per destination chip id, plus the per-port DATELINE
// flags. What a routing engine produces, the verifier checks, and
// lumen-route uploads.
#pragma once

#include <cstdint>
#include <memory>
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
// route), as a chip's table after reset. At 8192 chips the words take
// 256 MiB; they come zeroed from the system (pages appear as they are
// written, huge pages where it has them), so an engine that writes every
// entry pays for one pass.
class Routes {
      public:
	// Tables for chip ids below id_limit, each with id_limit entries.
	// Throws std::invalid_argument above kMaxChips.
	explicit Routes(uint32_t id_limit = 0);
	Routes(const Routes &o);
	Routes &operator=(const Routes &o);
	// A moved-from Routes has id_limit 0.
	Routes(Routes &&o) noexcept;
	Routes &operator=(Routes &&o) noexcept;

	uint32_t id_limit() const noexcept { return limit_; }
	uint32_t word(uint32_t chip, uint32_t dest) const noexcept
	{
		return chip < limit_ && dest < limit_ ? words_[size_t(chip) * limit_ + dest] : 0;
	}
	RouteEntry entry(uint32_t chip, uint32_t dest) const noexcept
	{
		return RouteEntry::decode(word(chip, dest));
	}
	// Throws std::out_of_range beyond id_limit.
	void set(uint32_t chip, uint32_t dest, uint32_t word);
	void set(uint32_t chip, uint32_t dest, const RouteEntry &e) { set(chip, dest, e.word()); }
	// Words set() changed (a word written with the value it had does not
	// count), since construction or the last reset_changes().
	uint64_t changes() const noexcept { return changes_; }
	void reset_changes() noexcept { changes_ = 0; }

	// A chip's id_limit words, for engines that fill whole rows (no
	// bounds check, not counted in changes()); nullptr beyond id_limit.
	uint32_t *row(uint32_t chip) noexcept
	{
		return chip < limit_ ? words_.get() + size_t(chip) * limit_ : nullptr;
	}
	const uint32_t *row(uint32_t chip) const noexcept
	{
		return chip < limit_ ? words_.get() + size_t(chip) * limit_ : nullptr;
	}

	// Bit p: port p has LUMEN_LCTRL_DATELINE.
	uint8_t datelines(uint32_t chip) const noexcept
	{
		return chip < limit_ ? dateline_[chip] : 0;
	}
	void set_dateline(uint32_t chip, unsigned port, bool on);
	void set_datelines(uint32_t chip, uint8_t mask);

	// The whole table a chip holds: LUMEN_ROUTE_TABLE_SIZE words, entries
	// beyond id_limit invalid (what DRM_LUMEN_ROUTE SET uploads).
	std::vector<uint32_t> chip_table(uint32_t chip) const;

	// Same words and datelines (the change count aside).
	bool operator==(const Routes &o) const noexcept;
	bool operator!=(const Routes &o) const noexcept { return !(*this == o); }

      private:
	struct Free {
		Free() noexcept : mapped(0) {}
		explicit Free(size_t bytes) noexcept : mapped(bytes) {}
		void operator()(uint32_t *p) const noexcept;
		size_t mapped; // bytes of an mmap()ed block, 0: calloc()ed
	};
	static std::unique_ptr<uint32_t[], Free> zeroed(size_t words);

	uint32_t limit_;
	std::unique_ptr<uint32_t[], Free> words_; // chip * limit_ + dest
	std::vector<uint8_t> dateline_;		  // per chip
	uint64_t changes_ = 0;
};

} // namespace lumen::route
