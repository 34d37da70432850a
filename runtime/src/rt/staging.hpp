// SPDX-License-Identifier: MIT
// Pinned staging buffers for copies from and to pageable host memory: a
// pool of fixed-size pieces, each busy until a timeline point completes or
// until explicitly returned. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "rt/kernel.hpp"

namespace lumen::rt {

class MemoryManager;
struct PinnedBuffer;

class StagingPool {
      public:
	static constexpr uint64_t kPiece = 4ull << 20;
	static constexpr size_t kMaxPieces = 16;

	explicit StagingPool(MemoryManager &mem) : mem_(mem) { free_.reserve(kMaxPieces); }
	~StagingPool();

	// A free piece; may wait for busy ones when the pool is at its size.
	PinnedBuffer *acquire();
	// The piece is free again once point of tl has completed.
	void release_after(PinnedBuffer *b, std::shared_ptr<Timeline> tl, uint64_t point);
	void release_now(PinnedBuffer *b) noexcept;

      private:
	struct Busy {
		PinnedBuffer *buf;
		std::shared_ptr<Timeline> tl;
		uint64_t point;
	};
	MemoryManager &mem_;
	std::mutex m_;
	std::condition_variable cv_;
	std::vector<std::unique_ptr<PinnedBuffer>> all_;
	std::vector<PinnedBuffer *> free_;
	std::deque<Busy> busy_;
	size_t creating_ = 0;
};

} // namespace lumen::rt
