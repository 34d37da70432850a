// SPDX-License-Identifier: MIT
#include "rt/kernel.hpp"

#include <endian.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <xf86drm.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "rt/status.hpp"

namespace lumen::rt {

int kioctl(int fd, unsigned long req, void *arg) noexcept
{
	for (;;) {
		if (::ioctl(fd, req, arg) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		// The file's limit of jobs in flight: let the card drain a little.
		struct timespec pause = {0, 50 * 1000};
		nanosleep(&pause, nullptr);
	}
}

Gem &Gem::operator=(Gem &&o) noexcept
{
	if (this != &o) {
		reset();
		fd_ = o.fd_;
		size_ = o.size_;
		handle_ = std::exchange(o.handle_, 0);
	}
	return *this;
}

Gem Gem::create(int fd, uint64_t size, uint32_t flags, uint64_t userptr)
{
	drm_lumen_bo_create c{};
	c.size = size;
	c.flags = flags;
	c.userptr = userptr;
	int ret = kioctl(fd, DRM_IOCTL_LUMEN_BO_CREATE, &c);
	if (ret) {
		if (ret == -ENOSPC)
			fail(LUMEN_ERROR_OUT_OF_DEVICE_MEMORY,
			     "device memory exhausted creating a " + std::to_string(size) +
				     "-byte buffer");
		if (ret == -EFAULT)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "host range " + hex(userptr) + " + " +
								   std::to_string(size) +
								   " is not mapped memory");
		fail_errno("BO_CREATE of " + std::to_string(size) + " bytes", -ret);
	}
	Gem g(fd, c.handle);
	g.size_ = c.size;
	return g;
}

uint64_t Gem::mmap_offset() const
{
	drm_lumen_bo_info info{};
	info.handle = handle_;
	int ret = kioctl(fd_, DRM_IOCTL_LUMEN_BO_INFO, &info);
	if (ret)
		fail_errno("BO_INFO", -ret);
	return info.mmap_offset;
}

void Gem::reset() noexcept
{
	if (handle_) {
		drm_gem_close gc{};
		gc.handle = handle_;
		kioctl(fd_, DRM_IOCTL_GEM_CLOSE, &gc);
		handle_ = 0;
	}
}

VmMapping::VmMapping(int fd, uint32_t handle, uint64_t va, uint64_t size, uint32_t flags) : fd_(fd)
{
	drm_lumen_vm_bind b{};
	b.op = DRM_LUMEN_VM_MAP;
	b.handle = handle;
	b.va = va;
	b.size = size;
	b.flags = flags;
	int ret = kioctl(fd, DRM_IOCTL_LUMEN_VM_BIND, &b);
	if (ret)
		fail_errno("VM_BIND map of " + hex(va) + " + " + std::to_string(size), -ret);
	va_ = va;
	size_ = size;
}

VmMapping &VmMapping::operator=(VmMapping &&o) noexcept
{
	if (this != &o) {
		reset();
		fd_ = o.fd_;
		size_ = o.size_;
		va_ = std::exchange(o.va_, 0);
	}
	return *this;
}

void VmMapping::reset() noexcept
{
	if (va_) {
		drm_lumen_vm_bind b{};
		b.op = DRM_LUMEN_VM_UNMAP;
		b.va = va_;
		b.size = size_;
		kioctl(fd_, DRM_IOCTL_LUMEN_VM_BIND, &b);
		va_ = 0;
	}
}

HostMap::HostMap(int fd, uint64_t offset, uint64_t size) : size_(size)
{
	void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 static_cast<off_t>(offset));
	if (p == MAP_FAILED)
		fail_errno("mmap of a " + std::to_string(size) + "-byte buffer", errno);
	p_ = p;
}

HostMap &HostMap::operator=(HostMap &&o) noexcept
{
	if (this != &o) {
		reset();
		size_ = o.size_;
		p_ = std::exchange(o.p_, nullptr);
	}
	return *this;
}

void HostMap::reset() noexcept
{
	if (p_) {
		::munmap(p_, size_);
		p_ = nullptr;
	}
}

Queue::Queue(int fd) : fd_(fd)
{
	drm_lumen_queue_create c{};
	int ret = kioctl(fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &c);
	if (ret == -EBUSY)
		fail(LUMEN_ERROR_BUSY, "every hardware queue of the device is taken");
	if (ret)
		fail_errno("QUEUE_CREATE", -ret);
	id_ = c.queue_id;
}

Queue::~Queue()
{
	drm_lumen_queue_destroy d{};
	d.queue_id = id_;
	kioctl(fd_, DRM_IOCTL_LUMEN_QUEUE_DESTROY, &d);
}

Timeline::Timeline(int fd) : fd_(fd)
{
	if (int ret = drmSyncobjCreate(fd, 0, &handle_))
		fail_errno("drmSyncobjCreate", ret < 0 ? -ret : errno);
}

Timeline::~Timeline()
{
	drmSyncobjDestroy(fd_, handle_);
}

bool Timeline::wait(uint64_t point, int64_t timeout_ns) const
{
	if (point == 0)
		return true;
	int64_t abs;
	if (timeout_ns < 0) {
		abs = INT64_MAX;
	} else {
		timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		abs = ts.tv_sec * 1000000000ll + ts.tv_nsec + timeout_ns;
	}
	uint32_t h = handle_;
	uint32_t flags = timeout_ns < 0 ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT : 0;
	for (;;) {
		int ret = drmSyncobjTimelineWait(fd_, &h, &point, 1, abs, flags, nullptr);
		if (ret == 0)
			return true;
		int err = ret < 0 ? -ret : errno;
		if (err == EINTR)
			continue;
		if (err == ETIME || err == ETIMEDOUT)
			return false;
		if (err == EINVAL && timeout_ns >= 0)
			return false; // point not yet submitted
		fail_errno("drmSyncobjTimelineWait", err);
	}
}

void Timeline::signal(uint64_t point) const noexcept
{
	uint32_t h = handle_;
	drmSyncobjTimelineSignal(fd_, &h, &point, 1);
}

static drm_lumen_cmd cmd_of(uint8_t op)
{
	drm_lumen_cmd c;
	std::memset(&c, 0, sizeof(c));
	c.opcode = op;
	return c;
}

drm_lumen_cmd cmd_nop()
{
	return cmd_of(DRM_LUMEN_CMD_NOP);
}

drm_lumen_cmd cmd_copy(uint64_t dst, uint64_t src, uint64_t size)
{
	drm_lumen_cmd c = cmd_of(DRM_LUMEN_CMD_COPY);
	c.u.copy.src = htole64(src);
	c.u.copy.dst = htole64(dst);
	c.u.copy.size = htole64(size);
	return c;
}

drm_lumen_cmd cmd_fill(uint64_t dst, uint64_t size, uint64_t pattern)
{
	drm_lumen_cmd c = cmd_of(DRM_LUMEN_CMD_FILL);
	c.u.fill.dst = htole64(dst);
	c.u.fill.size = htole64(size);
	c.u.fill.pattern = htole64(pattern);
	return c;
}

drm_lumen_cmd cmd_timestamp(uint64_t addr)
{
	drm_lumen_cmd c = cmd_of(DRM_LUMEN_CMD_TIMESTAMP);
	c.u.fence.addr = htole64(addr);
	return c;
}

drm_lumen_cmd cmd_signal(uint64_t addr, uint64_t value)
{
	drm_lumen_cmd c = cmd_of(DRM_LUMEN_CMD_SIGNAL);
	c.u.fence.addr = htole64(addr);
	c.u.fence.value = htole64(value);
	return c;
}

drm_lumen_cmd cmd_wait(uint64_t addr, uint64_t value)
{
	drm_lumen_cmd c = cmd_of(DRM_LUMEN_CMD_WAIT);
	c.u.fence.addr = htole64(addr);
	c.u.fence.value = htole64(value);
	return c;
}

} // namespace lumen::rt
