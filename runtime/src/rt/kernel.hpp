// SPDX-License-Identifier: MIT
// Thin RAII wrappers over the lumen uAPI objects of one fd: GEM handles, VA
// mappings, process mappings, queues and timeline syncobjs. Every failure
// throws rt::Error naming the ioctl and errno.
#pragma once

#include <drm/lumen_accel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lumen::rt {

// ioctl with EINTR/EAGAIN retried; 0 or -errno.
int kioctl(int fd, unsigned long req, void *arg) noexcept;

class Gem {
      public:
	Gem() = default;
	Gem(int fd, uint32_t handle) : fd_(fd), handle_(handle) {}
	~Gem() { reset(); }
	Gem(Gem &&o) noexcept : fd_(o.fd_), handle_(std::exchange(o.handle_, 0)), size_(o.size_) {}
	Gem &operator=(Gem &&o) noexcept;
	Gem(const Gem &) = delete;
	Gem &operator=(const Gem &) = delete;

	// BO_CREATE; size is rounded up by the kernel (see size()).
	static Gem create(int fd, uint64_t size, uint32_t flags, uint64_t userptr = 0);
	uint32_t handle() const noexcept { return handle_; }
	uint64_t size() const noexcept { return size_; }
	uint64_t mmap_offset() const; // BO_INFO
	void reset() noexcept;

      private:
	int fd_ = -1;
	uint32_t handle_ = 0;
	uint64_t size_ = 0;
};

// A VM_BIND mapping, unmapped when destroyed.
class VmMapping {
      public:
	VmMapping() = default;
	VmMapping(int fd, uint32_t handle, uint64_t va, uint64_t size, uint32_t flags = 0);
	~VmMapping() { reset(); }
	VmMapping(VmMapping &&o) noexcept : fd_(o.fd_), va_(std::exchange(o.va_, 0)), size_(o.size_)
	{
	}
	VmMapping &operator=(VmMapping &&o) noexcept;
	VmMapping(const VmMapping &) = delete;
	VmMapping &operator=(const VmMapping &) = delete;
	uint64_t va() const noexcept { return va_; }
	uint64_t size() const noexcept { return size_; }
	void reset() noexcept;

      private:
	int fd_ = -1;
	uint64_t va_ = 0, size_ = 0;
};

// An mmap of a BO into the process, unmapped when destroyed.
class HostMap {
      public:
	HostMap() = default;
	HostMap(int fd, uint64_t offset, uint64_t size);
	~HostMap() { reset(); }
	HostMap(HostMap &&o) noexcept : p_(std::exchange(o.p_, nullptr)), size_(o.size_) {}
	HostMap &operator=(HostMap &&o) noexcept;
	HostMap(const HostMap &) = delete;
	HostMap &operator=(const HostMap &) = delete;
	void *get() const noexcept { return p_; }
	void reset() noexcept;

      private:
	void *p_ = nullptr;
	uint64_t size_ = 0;
};

// A hardware queue of the fd (QUEUE_CREATE / QUEUE_DESTROY).
class Queue {
      public:
	explicit Queue(int fd); // throws BUSY when every hardware queue is taken
	~Queue();
	Queue(const Queue &) = delete;
	Queue &operator=(const Queue &) = delete;
	uint32_t id() const noexcept { return id_; }
	int fd() const noexcept { return fd_; }

      private:
	int fd_;
	uint32_t id_ = 0;
};

// A timeline syncobj and how far its points have been handed to the kernel
// (a point not yet submitted cannot be an in-sync of another job).
class Timeline {
      public:
	explicit Timeline(int fd);
	~Timeline();
	Timeline(const Timeline &) = delete;
	Timeline &operator=(const Timeline &) = delete;
	int fd() const noexcept { return fd_; }
	uint32_t handle() const noexcept { return handle_; }

	// True once point is signalled; with timeout_ns < 0 waits forever
	// (also for a point not yet submitted).
	bool wait(uint64_t point, int64_t timeout_ns) const;
	void signal(uint64_t point) const noexcept; // CPU signal
	uint64_t submitted() const noexcept { return submitted_.load(std::memory_order_acquire); }
	void set_submitted(uint64_t p) noexcept { submitted_.store(p, std::memory_order_release); }

      private:
	int fd_;
	uint32_t handle_ = 0;
	std::atomic<uint64_t> submitted_{0};
};

// Command builders.
drm_lumen_cmd cmd_nop();
drm_lumen_cmd cmd_copy(uint64_t dst, uint64_t src, uint64_t size);
drm_lumen_cmd cmd_fill(uint64_t dst, uint64_t size, uint64_t pattern);
drm_lumen_cmd cmd_timestamp(uint64_t addr);
// SIGNAL (*addr = value) and WAIT (until *addr >= value).
drm_lumen_cmd cmd_signal(uint64_t addr, uint64_t value);
drm_lumen_cmd cmd_wait(uint64_t addr, uint64_t value);

// A transfer of `bytes` as commands of at most `max` bytes each:
// make(offset, size) builds the command of [offset, offset + size).
template <typename Make>
std::vector<drm_lumen_cmd> cmds_in_pieces(uint64_t bytes, uint64_t max, Make make)
{
	std::vector<drm_lumen_cmd> cmds;
	cmds.reserve(bytes / max + 1);
	for (uint64_t done = 0; done < bytes; done += max)
		cmds.push_back(make(done, std::min(max, bytes - done)));
	return cmds;
}

} // namespace lumen::rt
