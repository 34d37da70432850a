// SPDX-License-Identifier: MIT
// Device and host memory of one context: the VA window, the caching
// sub-allocator over 2 MiB device chunks, own-BO large allocations, IPC
// imports, pinned host buffers and registered host ranges, and the lookups
// that validate pointers passed to copies. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "rt/kernel.hpp"
#include "rt/suballocator.hpp"
#include "rt/va_allocator.hpp"

namespace lumen::rt {

// A BO the device reaches at va and the host at host (pinned host memory).
struct PinnedBuffer {
	Gem gem;
	HostMap map;
	VmMapping vm;
	uint64_t va = 0;
	uint64_t size = 0;
	void *host() const noexcept { return map.get(); }
};

class MemoryManager : private ChunkBackend {
      public:
	MemoryManager(int fd, uint64_t va_start, uint64_t va_end);
	~MemoryManager() override;

	uint64_t malloc(uint64_t size);
	void free(uint64_t ptr, const char *what); // INVALID_ARGUMENT if not an allocation start
	uint64_t trim();

	void *malloc_host(uint64_t size);
	void free_host(void *p);
	void host_register(void *p, uint64_t size);
	void host_unregister(void *p);

	// A pinned buffer outside the user's allocations (staging, event slots).
	std::unique_ptr<PinnedBuffer> make_pinned(uint64_t size);
	void release_pinned(std::unique_ptr<PinnedBuffer> b) noexcept;

	// True if [ptr, ptr + size) lies inside one live device allocation.
	bool contains_device(uint64_t ptr, uint64_t size) const;
	// Throws INVALID_ARGUMENT (or WRONG_DEVICE when another context owns it)
	// naming the argument unless [ptr, ptr + size) is inside an allocation.
	void check_device(uint64_t ptr, uint64_t size, const char *name) const;
	// Start and size of the live device allocation containing ptr (a small
	// block: its class size), if any.
	std::optional<std::pair<uint64_t, uint64_t>> allocation_of(uint64_t ptr) const;
	// Device VA of host range [p, p + size) if pinned or registered memory.
	std::optional<uint64_t> host_va(const void *p, uint64_t size) const;

	int export_fd(uint64_t ptr);
	std::pair<uint64_t, uint64_t> import_fd(int fd);
	void ipc_close(uint64_t ptr);

	struct Stats {
		uint64_t device_used, device_cached, host_pinned;
	};
	Stats stats() const;

	static constexpr uint64_t kHuge = 2ull << 20;

      private:
	enum class Kind { Large, Imported };
	struct Alloc {
		Kind kind;
		uint64_t size;	   // requested
		uint64_t reserved; // VA reserved
		Gem gem;
		bool owns_gem = true;
		VmMapping vm;
	};
	struct HostRange {
		bool pinned;			   // malloc_host; else registered
		uint64_t size;			   // bytes usable from the host pointer
		uint64_t va;			   // device VA of the host pointer
		std::unique_ptr<PinnedBuffer> buf; // pinned
		Gem gem;			   // registered (USERPTR)
		VmMapping vm;
		uint64_t reserved = 0;
	};

	uint64_t allocate_chunk(uint64_t size) override;
	void release_chunk(uint64_t base) noexcept override;
	uint64_t reserve_va(uint64_t size, uint64_t align); // throws
	const Alloc *find_alloc(uint64_t ptr) const;	    // containing ptr, locked by caller
	bool contains_locked(uint64_t ptr, uint64_t size) const;

	int fd_;
	mutable std::mutex m_;
	VaAllocator va_;
	std::map<uint64_t, std::pair<Gem, VmMapping>> chunks_; // base -> BO, mapping
	std::map<uint64_t, Alloc> allocs_;		       // va -> large/imported
	std::map<uintptr_t, HostRange> host_;		       // host address -> range
	uint64_t large_used_ = 0, host_pinned_ = 0;
	SubAllocator sub_; // last: destroyed first, releasing chunks above
};

// Does another live context own device pointer ptr? (WRONG_DEVICE checks)
bool other_context_owns(const MemoryManager *self, uint64_t ptr);

} // namespace lumen::rt
