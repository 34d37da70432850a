// SPDX-License-Identifier: MIT
// What a communicator knows of the fabric under its ring, and when to look
// again: lumen-fm's routing generation, watched by one thread per process
// (FabricWatch), and the plan a rank made from the routes of that
// generation. A collective queued after the generation moved re-plans
// first: the routes to its ring neighbours are read again, and a
// neighbour no route reaches any more fails the collective at once instead
// of the stream timing out on it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace lumen::ccl {

class FabricWatch {
      public:
	// The process's watcher, started on first use.
	static FabricWatch &get();
	// The newest routing generation seen; 0 while no manager answered.
	uint64_t generation() const noexcept { return gen_.load(std::memory_order_acquire); }
	~FabricWatch();

      private:
	FabricWatch();
	void loop();

	std::atomic<uint64_t> gen_{0};
	std::mutex m_;
	std::condition_variable cv_;
	bool stop_ = false;
	std::thread thread_;
};

// A rank whose chip is not known (a card without a link engine).
constexpr uint32_t kNoChip = UINT32_MAX;

struct Plan {
	uint64_t generation = 0; // of the routes below; 0: no manager answered
	uint32_t replans = 0;	 // plans made again after the generation moved
	uint32_t next_hops = 0;	 // route to the next rank's chip; 0: unknown or the same chip
	uint32_t prev_hops = 0;
};

// Re-reads the routes between chip and its ring neighbours if the
// generation moved since plan was made (or it never was). Throws Failure
// (UNREACHABLE) when a neighbour is unreachable in the new tables.
void replan_if_moved(Plan &plan, int rank, uint32_t chip, uint32_t next_chip, uint32_t prev_chip);

} // namespace lumen::ccl
