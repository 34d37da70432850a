// SPDX-License-Identifier: MIT
// What a communicator knows of the fabric under its ring, and when to look
// again: lumen-fm's routing generation, watched by one thread per process
// (FabricWatch), and the plan a rank made from the routes of that
// generation. A collective queued after the generation moved re-plans
// first: the routes to its ring neighbours are read again. A neighbour
// no route reaches is only noted: the rank still queues its part (the
// others may have queued theirs; failing here would put the ranks out of
// step), and the stream reports the remote errors.
#pragma once

#include <cstdint>

namespace lumen::ccl {

// The process's watcher thread runs while a communicator holds a
// WatchRef; the generation it saw last stays readable after.
class FabricWatch {
      public:
	// The newest routing generation seen; 0 while no manager answered.
	static uint64_t generation() noexcept;
	static void acquire();
	static void release() noexcept;
};

struct WatchRef {
	WatchRef() { FabricWatch::acquire(); }
	~WatchRef() { FabricWatch::release(); }
	WatchRef(const WatchRef &) = delete;
	WatchRef &operator=(const WatchRef &) = delete;
};

// A rank whose chip is not known (a card without a link engine).
constexpr uint32_t kNoChip = UINT32_MAX;

struct Plan {
	uint64_t generation = 0; // of the routes below; 0: no manager answered
	uint32_t replans = 0;	 // plans made again after the generation moved
	uint32_t next_hops = 0;	 // route to the next rank's chip; 0: unknown or the same chip
	uint32_t prev_hops = 0;
	bool unreachable = false; // a neighbour the tables do not reach
};

// Re-reads the routes between chip and its ring neighbours if the
// generation moved since plan was made (or it never was).
void replan_if_moved(Plan &plan, uint32_t chip, uint32_t next_chip, uint32_t prev_chip);

} // namespace lumen::ccl
