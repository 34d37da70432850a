// SPDX-License-Identifier: MIT
// Table diffs (FABRIC.md 6): what a fabric manager uploads so that every
// chip holds the wanted routes, given what the chips hold now. The unit of
// upload is a management ROUTES SET (lumen_mgmt.h, hw-spec 13.6): 64 route
// words starting at a chip id that is a multiple of 64; DATELINE flags go
// with one PORT SET per port whose flag changes.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <lumen/lumen_mgmt.h>

#include "route/routes.hpp"

namespace lumen::route {

constexpr uint32_t kBlockWords = LUMEN_MGMT_ROUTES_PER_BLOCK;

// One ROUTES SET: the 64 words of chip `chip`'s table from entry `first`.
struct RouteBlock {
	uint32_t chip = 0;
	uint32_t first = 0; // a multiple of kBlockWords
	std::array<uint32_t, kBlockWords> words{};
};

// A chip whose DATELINE flags change: `mask` is what it must hold (bit p:
// port p), `changed` the ports to write (one PORT SET each).
struct DatelineChange {
	uint32_t chip = 0;
	uint8_t mask = 0;
	uint8_t changed = 0;
};

// Bytes one management SET takes on a link: the packet header
// (struct lumen_pkt_hdr), the management header and its data.
constexpr uint64_t kPktHdrBytes = 64;
constexpr uint64_t kRoutesSetBytes = kPktHdrBytes + LUMEN_MGMT_HDR_SIZE + 4 * kBlockWords;
constexpr uint64_t kPortSetBytes = kPktHdrBytes + LUMEN_MGMT_HDR_SIZE + 4; // data: ctrl

struct TableDiff {
	std::vector<RouteBlock> blocks;	       // by chip, then first
	std::vector<DatelineChange> datelines; // by chip
	uint64_t words_changed = 0;	       // words that differ (in the blocks)

	bool empty() const noexcept { return blocks.empty() && datelines.empty(); }
	// What goes on the wire: kRoutesSetBytes per block, kPortSetBytes per
	// changed DATELINE flag (answers not counted).
	uint64_t bytes() const noexcept;
	// Chips with anything to upload, ascending.
	std::vector<uint32_t> chips() const;
	// What held becomes once the diff is uploaded (tests, the simulator).
	// Throws std::out_of_range for a block or chip beyond held's id_limit
	// whose words are not all zero.
	void apply(Routes &held) const;
};

// Every chip below the larger id_limit of the two; entries and chips beyond
// one side's id_limit count as invalid words and no datelines there.
TableDiff diff_tables(const Routes &held, const Routes &want);

// One chip whose table was read back: held_words[i] is its entry i (missing
// entries count as 0, at most LUMEN_ROUTE_TABLE_SIZE are looked at),
// held_datelines its DATELINE flags; want's row for chip (invalid beyond
// want's id_limit) is the target.
TableDiff diff_chip(uint32_t chip, const std::vector<uint32_t> &held_words, uint8_t held_datelines,
		    const Routes &want);

} // namespace lumen::route
