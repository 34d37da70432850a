// SPDX-License-Identifier: MIT
// The caching sub-allocator: small allocations are carved out of 2 MiB
// chunks in power-of-two size classes, so they cost no ioctl each. A freed
// block goes back to its chunk; trim() hands empty chunks back. Chunks come
// from a ChunkBackend (device BOs in the runtime, a fake in host tests).
// Not thread-safe; the owner locks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace lumen::rt {

class ChunkBackend {
      public:
	virtual ~ChunkBackend() = default;
	// A new chunk of size bytes, aligned to size; its base address. Throws
	// (e.g. rt::Error OUT_OF_DEVICE_MEMORY) when none can be had.
	virtual uint64_t allocate_chunk(uint64_t size) = 0;
	virtual void release_chunk(uint64_t base) noexcept = 0;
};

class SubAllocator {
      public:
	static constexpr uint64_t kChunkSize = 2ull << 20;
	static constexpr unsigned kMinShift = 8;  // 256 B
	static constexpr unsigned kMaxShift = 18; // 256 KiB
	static constexpr uint64_t kMaxSize = 1ull << kMaxShift;
	static constexpr unsigned kClasses = kMaxShift - kMinShift + 1;

	explicit SubAllocator(ChunkBackend &backend) : backend_(backend) {}
	~SubAllocator();
	SubAllocator(const SubAllocator &) = delete;
	SubAllocator &operator=(const SubAllocator &) = delete;

	// Size class index for a size in (0, kMaxSize].
	static unsigned class_of(uint64_t size) noexcept;
	static uint64_t class_size(unsigned cls) noexcept { return 1ull << (cls + kMinShift); }

	// A block of at least size bytes (0 < size <= kMaxSize), aligned to its
	// class size. Throws what the backend throws when a chunk is needed.
	uint64_t allocate(uint64_t size);
	// The block's class size if addr is a live block's start, else 0.
	uint64_t block_size(uint64_t addr) const noexcept;
	// Start and class size of the live block containing addr, if any.
	bool find_block(uint64_t addr, uint64_t *start, uint64_t *size) const noexcept;
	// Returns a live block; false (and nothing changes) if addr is not one.
	bool free(uint64_t addr) noexcept;
	// Releases every empty chunk to the backend; returns the bytes released.
	uint64_t trim() noexcept;
	// Chunk base of a live block's address (for IPC and diagnostics), 0 if none.
	uint64_t chunk_of(uint64_t addr) const noexcept;

	uint64_t bytes_used() const noexcept { return used_; } // live blocks
	uint64_t bytes_reserved() const noexcept { return chunks_.size() * kChunkSize; }
	uint64_t bytes_cached() const noexcept { return bytes_reserved() - used_; }
	size_t chunk_count() const noexcept { return chunks_.size(); }

      private:
	struct Chunk {
		uint64_t base;
		unsigned cls;
		uint32_t nblocks, nfree;
		std::vector<uint64_t> bitmap; // 1 = block in use
		uint32_t hint = 0;	      // word to start searching at
	};
	Chunk *chunk_containing(uint64_t addr) const noexcept;

	ChunkBackend &backend_;
	std::map<uint64_t, std::unique_ptr<Chunk>> chunks_; // base -> chunk
	std::vector<Chunk *> partial_[kClasses];	    // chunks with free blocks
	uint64_t used_ = 0;
};

} // namespace lumen::rt
