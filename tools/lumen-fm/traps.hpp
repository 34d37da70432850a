// SPDX-License-Identifier: MIT
// Trap coalescing (pure, host-tested). A fiber cut sends a trap from each
// end, and a port coming back goes TRAINING then UP: a few traps within
// milliseconds that one reroute should answer. The first trap opens a
// window of kWindowMs (30 ms: both ends' traps of one cut arrive within a
// few ms under TCG, and 30 ms is small next to the 5 s sweep and the
// seconds an InfiniBand SM takes); traps that keep coming extend it up to
// kMaxHoldMs, so a flapping fiber cannot hold routing off for long.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "mgmt/packet.hpp"

namespace lumen_fm {

struct TrapBatch {
	std::vector<lumen::mgmt::Trap> traps;
	std::set<uint32_t> chips;
	bool seq_gap = false; // a chip's sequence skipped: traps were lost
};

class TrapCoalescer {
      public:
	static constexpr double kWindowMs = 30;
	static constexpr double kMaxHoldMs = 200;

	void add(const lumen::mgmt::Trap &t, double now_ms);
	bool pending() const noexcept { return !batch_.traps.empty(); }
	// When the batch is due (only meaningful while pending()).
	double due_ms() const noexcept;
	TrapBatch take();
	// A chip's traps start over (its trap path was set anew, it was reset).
	void forget(uint32_t chip) { last_seq_.erase(chip); }

      private:
	TrapBatch batch_;
	double first_ = 0, last_ = 0;
	std::map<uint32_t, uint32_t> last_seq_;
};

} // namespace lumen_fm
