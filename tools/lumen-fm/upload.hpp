// SPDX-License-Identifier: MIT
// Programming the chips as diffs (FABRIC.md 6): each chip's route blocks are
// read back once at first contact (GET ROUTES of the blocks covering the
// ids in use), then a shadow copy is kept; a sweep SETs only the 64-word
// blocks, DATELINE bits and trap paths that differ, and the key where a
// chip has none.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "discovery.hpp"
#include "mgmt/channel.hpp"
#include "route/routes.hpp"

namespace lumen_fm {

constexpr uint32_t kBlock = LUMEN_MGMT_ROUTES_PER_BLOCK;

// What one chip holds, as far as we know.
struct Shadow {
	std::string serial;
	std::vector<uint32_t> words; // blocks * kBlock
	std::vector<bool> have;	     // per block: read or written by us
	std::vector<uint8_t> ctrl;   // per port, CTRL as last seen or set
	bool trap_path_known = false;
	lumen::mgmt::Path trap_path;
};

// Pure bookkeeping (host-tested): the blocks of `want` (kBlock words each,
// starting at block 0) that differ from the shadow or are unknown to it.
std::vector<uint32_t> changed_blocks(const Shadow &s, const std::vector<uint32_t> &want);
// Records a block the chip confirmed.
void shadow_store(Shadow &s, uint32_t block, const uint32_t *words);

// A route entry a chip is about to get: its destination, and the chip the
// new entry leads to (UINT32_MAX when it leads nowhere known).
struct RouteChange {
	uint32_t dst;
	uint32_t next;
};

// Pure (host-tested): the wave each changed chip's route blocks are sent
// in, downstream first. A chip whose new entry for some destination leads
// to a chip whose entry for it changes too waits for that chip: with the
// new entry at one chip and the old one still at the next, a packet can be
// sent back and forth until its TTL runs out (a cut of 0.-y/6.+y on
// torus:2x4 did: 6's new route to 0 via 4, 4's old one via 6). Chips left
// in a cycle of such waits share the last wave. At most max_changes
// entries are ordered; beyond (a first upload at scale), one wave.
std::map<uint32_t, unsigned>
route_waves(const std::map<uint32_t, std::vector<RouteChange>> &changes,
	    size_t max_changes = size_t(1) << 20);

struct UploadStats {
	unsigned blocks = 0, ports = 0, trap_paths = 0, keys = 0, reads = 0, failures = 0;
	unsigned waves = 0; // transactions the SETs went out in
	size_t bytes = 0;
	double ms = 0;
};

class Uploader {
      public:
	// Routes for chips in d (conflicted duplicates excluded by d); the trap
	// path of chip c is back_of(c).
	UploadStats upload(lumen::mgmt::Channel &ch, const Discovery &d,
			   const lumen::route::Routes &r, uint64_t mkey,
			   const std::function<lumen::mgmt::Path(uint32_t)> &back_of,
			   const lumen::mgmt::Options &opts);
	// Forget a chip (it was replaced or reset): read it back again.
	void forget(uint32_t chip) { shadows_.erase(chip); }
	void forget_all() { shadows_.clear(); }
	const Shadow *shadow(uint32_t chip) const;

      private:
	std::map<uint32_t, Shadow> shadows_;
};

} // namespace lumen_fm
