// SPDX-License-Identifier: MIT
// A device virtual address range allocator: first fit over a sorted free
// list with coalescing. Not thread-safe; the owner locks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace lumen::rt {

class VaAllocator {
      public:
	// Manages [start, end); both must be 4 KiB aligned.
	VaAllocator(uint64_t start, uint64_t end);

	// A range of size bytes aligned to align (a power of two >= 4 KiB);
	// nullopt if no hole fits. size is rounded up to 4 KiB.
	std::optional<uint64_t> allocate(uint64_t size, uint64_t align);
	// Returns a range from allocate(); unknown addresses are ignored and
	// reported with false.
	bool release(uint64_t va);

	uint64_t start() const noexcept { return start_; }
	uint64_t end() const noexcept { return end_; }
	uint64_t bytes_free() const noexcept { return free_bytes_; }
	bool contains(uint64_t va) const noexcept { return va >= start_ && va < end_; }

	static constexpr uint64_t kPage = 4096;

      private:
	uint64_t start_, end_, free_bytes_;
	std::map<uint64_t, uint64_t> free_; // start -> size
	std::map<uint64_t, uint64_t> used_; // start -> size
};

} // namespace lumen::rt
