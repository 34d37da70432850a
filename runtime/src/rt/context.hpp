// SPDX-License-Identifier: MIT
// A context: one open fd of a card (one kernel device context), its sticky
// fault state, memory, hardware queues, staging buffers and event slots.
#pragma once

#include <lumen/lumen.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "rt/device.hpp"
#include "rt/kernel.hpp"
#include "rt/memory_manager.hpp"
#include "rt/staging.hpp"
#include "sys/drm_device.hpp"

namespace lumen::rt {

class Stream;

class Context {
      public:
	Context(std::shared_ptr<Device> dev, unsigned window);
	~Context();
	Context(const Context &) = delete;
	Context &operator=(const Context &) = delete;

	int fd() const noexcept { return drm_.fd(); }
	Device &device() const noexcept { return *device_; }
	uintptr_t handle = 0;

	// Sticky error: status() is LUMEN_SUCCESS while healthy. check() throws
	// the sticky status with a message naming the fault.
	lumen_status_t status() const noexcept { return sticky_.load(std::memory_order_acquire); }
	void check() const;
	// Read CONTEXT_STATUS from the kernel and latch an error; returns status().
	lumen_status_t refresh();
	// The driver answered -ENODEV: the card was reset or removed under
	// the context. Makes LUMEN_ERROR_DEVICE_LOST sticky; returns the status.
	lumen_status_t mark_lost();
	lumen_fault_t fault() const;

	// The chip's supernode id (QUERY_LINK), cached. NOT_SUPPORTED without
	// a link engine.
	uint32_t chip_id();
	// Remote windows open on the context's memory: [ptr, ptr + size) may
	// not be freed while one is open. The caller's (lumen_window_open) make
	// lumen_free fail; the runtime's own (peer copies, fabric exports) are
	// closed by it: window_over() finds only the caller's.
	void add_window(uint32_t id, uint64_t ptr, uint64_t size, bool runtime_owned);
	void remove_window(uint32_t id) noexcept;
	std::optional<uint32_t> window_over(uint64_t ptr, uint64_t size) const;

	MemoryManager &mem() noexcept { return mem_; }
	StagingPool &staging() noexcept { return staging_; }

	// A hardware queue for a new stream: a fresh one, or when the card has
	// none left, one of this context's shared round-robin. BUSY if none.
	std::shared_ptr<Queue> acquire_queue();
	// The stream behind the synchronous calls, created on first use.
	std::shared_ptr<Stream> internal_stream();

	// Handles of the streams and events created in the context, destroyed
	// with it.
	void add_child(uintptr_t stream_or_event);
	void remove_child(uintptr_t h);
	std::vector<uintptr_t> take_children();
	// Stops the internal stream; the fd closes when the last user drops.
	void shutdown();

	// Event timestamp slots: an 8-byte host word the device writes at va.
	struct Slot {
		uint64_t va = 0;
		volatile uint64_t *host = nullptr;
	};
	Slot acquire_slot();
	// The slot is free again once point of tl has completed (at once if tl
	// is null): a TIMESTAMP still queued must not write a reused slot.
	void release_slot(Slot s, std::shared_ptr<Timeline> tl = nullptr,
			  uint64_t point = 0) noexcept;

      private:
	std::shared_ptr<Device> device_;
	sys::DrmDevice drm_; // declared early: closed last
	std::atomic<lumen_status_t> sticky_{LUMEN_SUCCESS};
	mutable std::mutex m_;
	lumen_fault_t fault_{};
	MemoryManager mem_;
	StagingPool staging_;
	std::vector<std::weak_ptr<Queue>> queues_;
	unsigned rr_ = 0;
	std::shared_ptr<Stream> internal_;
	std::vector<uintptr_t> children_;
	std::optional<uint32_t> chip_id_;
	struct WindowRange {
		uint32_t id;
		uint64_t ptr, size;
		bool runtime_owned;
	};
	std::vector<WindowRange> windows_;
	std::vector<std::unique_ptr<PinnedBuffer>> slot_pages_;
	struct RetiredSlot {
		Slot slot;
		std::shared_ptr<Timeline> tl;
		uint64_t point;
	};
	// Both hold capacity for every slot, so releasing never allocates.
	std::vector<Slot> free_slots_;
	std::vector<RetiredSlot> retired_slots_;
	size_t slot_count_ = 0;
};

std::shared_ptr<Context> context_from_handle(lumen_context_t h);

} // namespace lumen::rt
