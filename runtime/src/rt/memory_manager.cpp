// SPDX-License-Identifier: MIT
#include "rt/memory_manager.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "rt/status.hpp"

namespace lumen::rt {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

} // namespace

MemoryManager::MemoryManager(int fd, uint64_t va_start, uint64_t va_end)
    : fd_(fd), va_(va_start, va_end), sub_(*this)
{
}

MemoryManager::~MemoryManager() = default;

uint64_t MemoryManager::reserve_va(uint64_t size, uint64_t align)
{
	auto va = va_.allocate(size, align);
	if (!va)
		fail(LUMEN_ERROR_OUT_OF_DEVICE_MEMORY,
		     "device address space of the context exhausted (" + std::to_string(size) +
			     " bytes wanted)");
	return *va;
}

uint64_t MemoryManager::allocate_chunk(uint64_t size)
{
	Gem g = Gem::create(fd_, size, DRM_LUMEN_BO_DEVICE);
	uint64_t va = reserve_va(size, kHuge);
	try {
		VmMapping vm(fd_, g.handle(), va, size);
		chunks_.emplace(va, std::make_pair(std::move(g), std::move(vm)));
	} catch (...) {
		va_.release(va);
		throw;
	}
	return va;
}

void MemoryManager::release_chunk(uint64_t base) noexcept
{
	auto it = chunks_.find(base);
	if (it == chunks_.end())
		return;
	chunks_.erase(it); // unmaps, then closes the BO
	va_.release(base);
}

uint64_t MemoryManager::malloc(uint64_t size)
{
	if (size == 0)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "size 0 is invalid");
	if (size > DRM_LUMEN_BO_MAX_SIZE)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "size " + std::to_string(size) + " exceeds the largest allocation (" +
			     std::to_string(DRM_LUMEN_BO_MAX_SIZE) + " bytes)");
	std::lock_guard lk(m_);
	if (size <= SubAllocator::kMaxSize)
		return sub_.allocate(size);
	Alloc a{Kind::Large, size,
		0,	     Gem::create(fd_, round_up(size, kPage), DRM_LUMEN_BO_DEVICE),
		true,	     VmMapping()};
	// 2 MiB aligned (2 MiB device pages) with a 2 MiB guard hole after it.
	a.reserved = round_up(a.gem.size(), kHuge) + kHuge;
	uint64_t va = reserve_va(a.reserved, kHuge);
	try {
		a.vm = VmMapping(fd_, a.gem.handle(), va, a.gem.size());
		allocs_.emplace(va, std::move(a));
	} catch (...) {
		va_.release(va);
		throw;
	}
	large_used_ += size;
	return va;
}

void MemoryManager::free(uint64_t ptr, const char *what)
{
	std::unique_lock lk(m_);
	if (sub_.free(ptr))
		return;
	auto it = allocs_.find(ptr);
	if (it == allocs_.end() || it->second.kind != Kind::Large) {
		if (it != allocs_.end())
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     std::string(what) + " " + hex(ptr) +
				     " is an IPC import; release it with lumen_ipc_close");
		uint64_t s, sz;
		if (sub_.find_block(ptr, &s, &sz) || find_alloc(ptr))
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     std::string(what) + " " + hex(ptr) +
				     " points inside an allocation, not at its start");
		// Other contexts' locks are taken unlocked: two contexts freeing
		// each other's pointers would otherwise deadlock.
		lk.unlock();
		if (other_context_owns(this, ptr))
			fail(LUMEN_ERROR_WRONG_DEVICE,
			     std::string(what) + " " + hex(ptr) + " belongs to another context");
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(what) + " " + hex(ptr) +
			     " is not a live allocation of this context (already freed?)");
	}
	large_used_ -= it->second.size;
	allocs_.erase(it); // unmaps without waiting for queued work: see lumen.h
	va_.release(ptr);
}

uint64_t MemoryManager::trim()
{
	std::lock_guard lk(m_);
	return sub_.trim();
}

std::unique_ptr<PinnedBuffer> MemoryManager::make_pinned(uint64_t size)
{
	auto b = std::make_unique<PinnedBuffer>();
	b->gem = Gem::create(fd_, round_up(size, kPage), DRM_LUMEN_BO_HOST);
	b->size = b->gem.size();
	b->map = HostMap(fd_, b->gem.mmap_offset(), b->size);
	std::lock_guard lk(m_);
	uint64_t va = reserve_va(b->size, b->size >= kHuge ? kHuge : kPage);
	try {
		b->vm = VmMapping(fd_, b->gem.handle(), va, b->size);
	} catch (...) {
		va_.release(va);
		throw;
	}
	b->va = va;
	return b;
}

void MemoryManager::release_pinned(std::unique_ptr<PinnedBuffer> b) noexcept
{
	if (!b)
		return;
	uint64_t va = b->va;
	b.reset();
	std::lock_guard lk(m_);
	va_.release(va);
}

void *MemoryManager::malloc_host(uint64_t size)
{
	if (size == 0)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "size 0 is invalid");
	if (size > DRM_LUMEN_BO_MAX_SIZE)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "size " + std::to_string(size) + " exceeds the largest allocation");
	auto b = make_pinned(size);
	void *p = b->host();
	std::lock_guard lk(m_);
	HostRange r{true, size, b->va, nullptr, Gem(), VmMapping()};
	r.buf = std::move(b);
	host_.emplace(reinterpret_cast<uintptr_t>(p), std::move(r));
	host_pinned_ += size;
	return p;
}

void MemoryManager::free_host(void *p)
{
	std::unique_ptr<PinnedBuffer> buf;
	{
		std::lock_guard lk(m_);
		auto it = host_.find(reinterpret_cast<uintptr_t>(p));
		if (it == host_.end() || !it->second.pinned)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "ptr " + hex(reinterpret_cast<uintptr_t>(p)) +
				     " is not pinned memory of this context from "
				     "lumen_malloc_host");
		host_pinned_ -= it->second.size;
		buf = std::move(it->second.buf);
		host_.erase(it);
	}
	release_pinned(std::move(buf));
}

void MemoryManager::host_register(void *p, uint64_t size)
{
	if (size == 0)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "size 0 is invalid");
	uintptr_t a = reinterpret_cast<uintptr_t>(p);
	if (a + size < a || size > DRM_LUMEN_BO_MAX_SIZE)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "range " + hex(a) + " + " + std::to_string(size) + " is too large");
	uintptr_t start = a & ~(kPage - 1);
	uint64_t len = round_up(a + size, kPage) - start;
	std::lock_guard lk(m_);
	// Overlap with an existing pinned/registered range?
	auto it = host_.upper_bound(a + size - 1);
	if (it != host_.begin()) {
		auto prev = std::prev(it);
		if (prev->first + prev->second.size > a)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "range " + hex(a) + " + " + std::to_string(size) +
				     " overlaps memory already pinned or registered at " +
				     hex(prev->first));
	}
	HostRange r{
		false,	     size, 0, nullptr, Gem::create(fd_, len, DRM_LUMEN_BO_USERPTR, start),
		VmMapping(), 0};
	r.reserved = len;
	uint64_t va = reserve_va(len, len >= kHuge ? kHuge : kPage);
	try {
		r.vm = VmMapping(fd_, r.gem.handle(), va, len);
		r.va = va + (a - start);
		host_.emplace(a, std::move(r));
	} catch (...) {
		va_.release(va);
		throw;
	}
	host_pinned_ += size;
}

void MemoryManager::host_unregister(void *p)
{
	std::lock_guard lk(m_);
	auto it = host_.find(reinterpret_cast<uintptr_t>(p));
	if (it == host_.end() || it->second.pinned)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "ptr " + hex(reinterpret_cast<uintptr_t>(p)) +
			     " is not the start of a range registered with lumen_host_register");
	uint64_t va = it->second.vm.va();
	host_pinned_ -= it->second.size;
	host_.erase(it);
	va_.release(va);
}

const MemoryManager::Alloc *MemoryManager::find_alloc(uint64_t ptr) const
{
	auto it = allocs_.upper_bound(ptr);
	if (it == allocs_.begin())
		return nullptr;
	--it;
	if (ptr - it->first >= it->second.size)
		return nullptr;
	return &it->second;
}

bool MemoryManager::contains_locked(uint64_t ptr, uint64_t size) const
{
	if (ptr + size < ptr)
		return false;
	uint64_t s, sz;
	if (sub_.find_block(ptr, &s, &sz))
		return size <= sz - (ptr - s);
	auto it = allocs_.upper_bound(ptr);
	if (it == allocs_.begin())
		return false;
	--it;
	return ptr - it->first < it->second.size && size <= it->second.size - (ptr - it->first);
}

std::optional<std::pair<uint64_t, uint64_t>> MemoryManager::allocation_of(uint64_t ptr) const
{
	std::lock_guard lk(m_);
	uint64_t s, sz;
	if (sub_.find_block(ptr, &s, &sz))
		return std::make_pair(s, sz);
	auto it = allocs_.upper_bound(ptr);
	if (it == allocs_.begin())
		return std::nullopt;
	--it;
	if (ptr - it->first >= it->second.size)
		return std::nullopt;
	return std::make_pair(it->first, it->second.size);
}

bool MemoryManager::contains_device(uint64_t ptr, uint64_t size) const
{
	std::lock_guard lk(m_);
	return contains_locked(ptr, size);
}

void MemoryManager::check_device(uint64_t ptr, uint64_t size, const char *name) const
{
	if (contains_device(ptr, size))
		return;
	std::string range = std::string(name) + " " + hex(ptr) + " + " + std::to_string(size);
	if (ptr + size < ptr)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, range + " overflows");
	if (contains_device(ptr, 1))
		fail(LUMEN_ERROR_INVALID_ARGUMENT, range + " runs past the end of its allocation");
	if (other_context_owns(this, ptr))
		fail(LUMEN_ERROR_WRONG_DEVICE, range + " is memory of another context");
	fail(LUMEN_ERROR_INVALID_ARGUMENT, range + " is outside any allocation of this context");
}

std::optional<uint64_t> MemoryManager::host_va(const void *p, uint64_t size) const
{
	uintptr_t a = reinterpret_cast<uintptr_t>(p);
	std::lock_guard lk(m_);
	auto it = host_.upper_bound(a);
	if (it == host_.begin())
		return std::nullopt;
	--it;
	uint64_t off = a - it->first;
	if (off >= it->second.size || size > it->second.size - off)
		return std::nullopt;
	return it->second.va + off;
}

int MemoryManager::export_fd(uint64_t ptr)
{
	std::unique_lock lk(m_);
	auto it = allocs_.find(ptr);
	if (it == allocs_.end()) {
		uint64_t s, sz;
		if (sub_.find_block(ptr, &s, &sz) && s == ptr)
			fail(LUMEN_ERROR_NOT_SUPPORTED,
			     "ptr " + hex(ptr) + " is a small (" + std::to_string(sz) +
				     "-byte class) allocation sharing a buffer with others; "
				     "only allocations larger than " +
				     std::to_string(SubAllocator::kMaxSize) +
				     " bytes can be exported");
		if (find_alloc(ptr) || sub_.find_block(ptr, &s, &sz))
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "ptr " + hex(ptr) + " points inside an allocation, not at its start");
		lk.unlock(); // see free()
		if (other_context_owns(this, ptr))
			fail(LUMEN_ERROR_WRONG_DEVICE,
			     "ptr " + hex(ptr) + " belongs to another context");
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "ptr " + hex(ptr) + " is not a live allocation of this context");
	}
	int out = -1;
	if (int ret =
		    drmPrimeHandleToFD(fd_, it->second.gem.handle(), DRM_CLOEXEC | DRM_RDWR, &out))
		fail_errno("drmPrimeHandleToFD", ret < 0 && ret != -1 ? -ret : errno);
	return out;
}

std::pair<uint64_t, uint64_t> MemoryManager::import_fd(int fd)
{
	off_t end = ::lseek(fd, 0, SEEK_END);
	if (end <= 0)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "fd " + std::to_string(fd) + " is not an exported Lumen allocation");
	::lseek(fd, 0, SEEK_SET);
	uint32_t handle = 0;
	if (drmPrimeFDToHandle(fd_, fd, &handle))
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "fd " + std::to_string(fd) +
			     " is not a dma-buf of this device: " + std::strerror(errno));
	std::lock_guard lk(m_);
	// Importing our own export returns the BO's existing handle: share it.
	bool shared = false;
	for (auto &kv : allocs_)
		if (kv.second.gem.handle() == handle)
			shared = true;
	for (auto &kv : chunks_)
		if (kv.second.first.handle() == handle)
			shared = true;
	// A handle that failed to map is closed again unless another allocation owns it.
	Alloc a{Kind::Imported,
		static_cast<uint64_t>(end),
		0,
		shared ? Gem() : Gem(fd_, handle),
		!shared,
		VmMapping()};
	a.reserved = round_up(a.size, kHuge) + kHuge;
	uint64_t va = reserve_va(a.reserved, kHuge);
	try {
		a.vm = VmMapping(fd_, handle, va, a.size);
		allocs_.emplace(va, std::move(a));
	} catch (...) {
		va_.release(va);
		throw;
	}
	large_used_ += static_cast<uint64_t>(end);
	return {va, static_cast<uint64_t>(end)};
}

void MemoryManager::ipc_close(uint64_t ptr)
{
	std::lock_guard lk(m_);
	auto it = allocs_.find(ptr);
	if (it == allocs_.end() || it->second.kind != Kind::Imported)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "ptr " + hex(ptr) + " is not an allocation from lumen_ipc_import");
	large_used_ -= it->second.size;
	allocs_.erase(it);
	va_.release(ptr);
}

MemoryManager::Stats MemoryManager::stats() const
{
	std::lock_guard lk(m_);
	return {sub_.bytes_used() + large_used_, sub_.bytes_cached(), host_pinned_};
}

} // namespace lumen::rt
