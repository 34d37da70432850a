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

struct UploadStats {
	unsigned blocks = 0, ports = 0, trap_paths = 0, keys = 0, reads = 0, failures = 0;
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
