// SPDX-License-Identifier: MIT
#include "rt/context.hpp"

#include <cerrno>

#include "rt/fabric_handle.hpp"
#include "rt/handles.hpp"
#include "rt/peer.hpp"
#include "rt/registry.hpp"
#include "rt/status.hpp"
#include "rt/stream.hpp"
#include "sys/error.hpp"

namespace lumen::rt {
namespace {

Registry<Context> &contexts()
{
	static Registry<Context> r("context");
	return r;
}

// Each context gets its own 256 GiB window of the user VA range, so a
// device pointer tells which context it belongs to (WRONG_DEVICE checks).
constexpr uint64_t kWindow = 1ull << 38;
constexpr unsigned kWindows =
	static_cast<unsigned>((DRM_LUMEN_VA_USER_END - DRM_LUMEN_VA_USER_START) / kWindow);

unsigned next_window()
{
	static std::atomic<unsigned> n{0};
	return n.fetch_add(1, std::memory_order_relaxed) % kWindows;
}

constexpr uint64_t kSlotPage = 64 * 1024;

lumen_fault_kind_t fault_kind(const drm_lumen_context_status &st)
{
	if (st.error == -ETIMEDOUT || (st.flags & DRM_LUMEN_CTX_HUNG && !st.fault_kind))
		return LUMEN_FAULT_TIMEOUT;
	switch (st.fault_kind) {
	case 1:
		return LUMEN_FAULT_NOT_MAPPED;
	case 2:
		return LUMEN_FAULT_READ;
	case 3:
		return LUMEN_FAULT_WRITE;
	case 0:
		return LUMEN_FAULT_DEVICE;
	default:
		return LUMEN_FAULT_BAD_PTE;
	}
}

} // namespace

Context::Context(std::shared_ptr<Device> dev, unsigned window)
    : device_(std::move(dev)), drm_(open_drm(*device_)),
      mem_(drm_.fd(), DRM_LUMEN_VA_USER_START + window * kWindow,
	   DRM_LUMEN_VA_USER_START + (window + 1) * kWindow),
      staging_(mem_)
{
}

Context::~Context()
{
	shutdown();
	for (auto &p : slot_pages_)
		mem_.release_pinned(std::move(p));
}

void Context::check() const
{
	lumen_status_t st = status();
	if (st == LUMEN_SUCCESS)
		return;
	lumen_fault_t f = fault();
	std::string what;
	switch (f.kind) {
	case LUMEN_FAULT_TIMEOUT:
		what = "a job of the context hung and was reset";
		break;
	case LUMEN_FAULT_DEVICE:
		what = "the device reported an error for the context's work";
		break;
	case LUMEN_FAULT_DEVICE_LOST:
		what = "the card was reset or removed; the context's work and memory are lost";
		break;
	case LUMEN_FAULT_REMOTE:
		what = std::string("a remote operation of the context failed (") +
		       lumen_status_string(st) + ") and the driver stopped the context";
		break;
	default:
		what = std::string("device MMU fault (") +
		       (f.kind == LUMEN_FAULT_NOT_MAPPED ? "not mapped"
			: f.kind == LUMEN_FAULT_READ	 ? "read not permitted"
			: f.kind == LUMEN_FAULT_WRITE	 ? "write not permitted"
							 : "bad page table entry") +
		       ", " + (f.is_write ? "write" : "read") + " at " + hex(f.address) + ")";
	}
	fail(st, "context is unusable (sticky error): " + what +
			 "; see lumen_context_get_fault, destroy and recreate the context");
}

lumen_status_t Context::refresh()
{
	if (status() != LUMEN_SUCCESS)
		return status();
	drm_lumen_context_status st{};
	drm_lumen_query q{};
	q.type = DRM_LUMEN_QUERY_CONTEXT_STATUS;
	q.size = sizeof(st);
	q.data = reinterpret_cast<uintptr_t>(&st);
	int ret = kioctl(fd(), DRM_IOCTL_LUMEN_QUERY, &q);
	if (ret == -ENODEV)
		return mark_lost();
	if (ret)
		fail_errno("QUERY CONTEXT_STATUS", -ret);
	if (!st.error && !(st.flags & DRM_LUMEN_CTX_BANNED))
		return LUMEN_SUCCESS;
	lumen_status_t s = st.error == -EFAULT	    ? LUMEN_ERROR_DEVICE_FAULT
			   : st.error == -ETIMEDOUT ? LUMEN_ERROR_TIMEOUT
						    : LUMEN_ERROR_DEVICE_ERROR;
	// A driver that fails the whole context for a remote error (uAPI 1.2).
	const bool remote = status_from_remote_errno(-st.error) != LUMEN_SUCCESS &&
			    !(st.flags & (DRM_LUMEN_CTX_HUNG | DRM_LUMEN_CTX_FAULTED));
	if (remote)
		s = status_from_remote_errno(-st.error);
	if (st.error == 0 && (st.flags & DRM_LUMEN_CTX_FAULTED))
		s = LUMEN_ERROR_DEVICE_FAULT;
	if (st.error == 0 && (st.flags & DRM_LUMEN_CTX_HUNG))
		s = LUMEN_ERROR_TIMEOUT;
	std::lock_guard lk(m_);
	if (status() == LUMEN_SUCCESS) {
		fault_ = lumen_fault_t{};
		fault_.struct_size = sizeof(fault_);
		fault_.status = s;
		fault_.kind = remote			      ? LUMEN_FAULT_REMOTE
			      : s == LUMEN_ERROR_DEVICE_FAULT ? fault_kind(st)
			      : s == LUMEN_ERROR_TIMEOUT      ? LUMEN_FAULT_TIMEOUT
							      : LUMEN_FAULT_DEVICE;
		fault_.address = s == LUMEN_ERROR_DEVICE_FAULT ? st.fault_addr : 0;
		fault_.is_write = s == LUMEN_ERROR_DEVICE_FAULT ? (st.fault_access != 0) : 0;
		sticky_.store(s, std::memory_order_release);
	}
	return status();
}

lumen_status_t Context::mark_lost()
{
	std::lock_guard lk(m_);
	if (status() == LUMEN_SUCCESS) {
		fault_ = lumen_fault_t{};
		fault_.struct_size = sizeof(fault_);
		fault_.status = LUMEN_ERROR_DEVICE_LOST;
		fault_.kind = LUMEN_FAULT_DEVICE_LOST;
		sticky_.store(LUMEN_ERROR_DEVICE_LOST, std::memory_order_release);
	}
	return status();
}

lumen_fault_t Context::fault() const
{
	std::lock_guard lk(m_);
	lumen_fault_t f = fault_;
	f.struct_size = sizeof(f);
	f.status = status();
	return f;
}

std::shared_ptr<Queue> Context::acquire_queue()
{
	std::lock_guard lk(m_);
	try {
		auto q = std::make_shared<Queue>(fd());
		queues_.push_back(q);
		return q;
	} catch (const Error &e) {
		if (e.status() != LUMEN_ERROR_BUSY)
			throw;
	}
	std::vector<std::shared_ptr<Queue>> live;
	for (auto &w : queues_)
		if (auto q = w.lock())
			live.push_back(std::move(q));
	if (live.empty())
		fail(LUMEN_ERROR_BUSY, "every hardware queue of device " +
					       std::to_string(device_->index()) +
					       " is taken by other contexts");
	return live[rr_++ % live.size()];
}

std::shared_ptr<Stream> Context::internal_stream()
{
	std::unique_lock lk(m_);
	if (internal_)
		return internal_;
	// Creating the stream takes m_ for its queue: build it unlocked.
	lk.unlock();
	auto s = std::make_shared<Stream>(*this, nullptr);
	lk.lock();
	if (!internal_)
		internal_ = std::move(s);
	return internal_;
}

void Context::add_child(uintptr_t h)
{
	std::lock_guard lk(m_);
	children_.push_back(h);
}

void Context::remove_child(uintptr_t h)
{
	std::lock_guard lk(m_);
	for (auto it = children_.begin(); it != children_.end(); ++it)
		if (*it == h) {
			children_.erase(it);
			return;
		}
}

std::vector<uintptr_t> Context::take_children()
{
	std::lock_guard lk(m_);
	return std::move(children_);
}

void Context::shutdown()
{
	std::shared_ptr<Stream> s;
	{
		std::lock_guard lk(m_);
		s = std::move(internal_);
	}
	if (s)
		s->shutdown();
}

Context::Slot Context::acquire_slot()
{
	std::lock_guard lk(m_);
	if (free_slots_.empty()) {
		// Slots whose last TIMESTAMP has completed are free again.
		for (auto it = retired_slots_.begin(); it != retired_slots_.end();) {
			bool done = false;
			try {
				done = it->tl->submitted() >= it->point &&
				       it->tl->wait(it->point, 0);
			} catch (...) {
			}
			if (done) {
				free_slots_.push_back(it->slot);
				it = retired_slots_.erase(it);
			} else {
				++it;
			}
		}
	}
	if (free_slots_.empty()) {
		auto page = mem_.make_pinned(kSlotPage);
		size_t n = slot_count_ + kSlotPage / 8;
		try {
			free_slots_.reserve(n);
			retired_slots_.reserve(n);
			slot_pages_.reserve(slot_pages_.size() + 1);
		} catch (...) {
			mem_.release_pinned(std::move(page));
			throw;
		}
		auto *words = static_cast<volatile uint64_t *>(page->host());
		for (uint64_t i = 0; i < kSlotPage / 8; i++)
			free_slots_.push_back(Slot{page->va + i * 8, words + i});
		slot_pages_.push_back(std::move(page));
		slot_count_ = n;
	}
	Slot s = free_slots_.back();
	free_slots_.pop_back();
	return s;
}

void Context::release_slot(Slot s, std::shared_ptr<Timeline> tl, uint64_t point) noexcept
{
	std::lock_guard lk(m_);
	if (tl && point)
		retired_slots_.push_back(RetiredSlot{s, std::move(tl), point});
	else
		free_slots_.push_back(s);
}

uint32_t Context::chip_id()
{
	std::lock_guard lk(m_);
	if (!chip_id_) {
		try {
			chip_id_ = drm_.link_info().chip_id;
		} catch (const sys::Error &e) {
			if (e.err() == EOPNOTSUPP)
				fail(LUMEN_ERROR_NOT_SUPPORTED,
				     "device " + std::to_string(device_->index()) +
					     " has no link engine (DRM_LUMEN_CAP_LINKS)");
			if (e.err() == ENODEV)
				fail(LUMEN_ERROR_DEVICE_LOST, e.what());
			fail(LUMEN_ERROR_SYSTEM, e.what());
		}
	}
	return *chip_id_;
}

void Context::add_window(uint32_t id, uint64_t ptr, uint64_t size, bool runtime_owned)
{
	std::lock_guard lk(m_);
	windows_.push_back(WindowRange{id, ptr, size, runtime_owned});
}

void Context::remove_window(uint32_t id) noexcept
{
	std::lock_guard lk(m_);
	for (auto it = windows_.begin(); it != windows_.end(); ++it)
		if (it->id == id) {
			windows_.erase(it);
			return;
		}
}

std::optional<uint32_t> Context::window_over(uint64_t ptr, uint64_t size) const
{
	std::lock_guard lk(m_);
	for (const auto &w : windows_)
		if (!w.runtime_owned && ptr < w.ptr + w.size && w.ptr < ptr + size)
			return w.id;
	return std::nullopt;
}

std::shared_ptr<Context> context_from_handle(lumen_context_t h)
{
	return contexts().get(h);
}

bool other_context_owns(const MemoryManager *self, uint64_t ptr)
{
	for (auto &c : contexts().all())
		if (&c->mem() != self && c->mem().contains_device(ptr, 1))
			return true;
	return false;
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_context_create(lumen_device_t device, lumen_context_t *ctx)
{
	return guard(__func__, [&] {
		auto dev = device_from_handle(device);
		require(ctx, "ctx");
		auto c = std::make_shared<Context>(dev, next_window());
		c->handle = contexts().add(c);
		*ctx = reinterpret_cast<lumen_context_t>(c->handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_context_destroy(lumen_context_t ctx)
{
	return guard(__func__, [&] {
		// Destroying waits for the context's streams: from one of their
		// host callbacks it would wait for itself.
		const Stream *w = Stream::current();
		if (w && &w->ctx() == context_from_handle(ctx).get())
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "a host callback may not destroy the context of its own stream");
		auto c = contexts().remove(ctx);
		peer_forget_context(*c);
		fabric_forget_context(*c);
		for (uintptr_t h : c->take_children()) {
			destroy_stream_handle(h);
			destroy_event_handle(h);
			destroy_window_handle(h);
		}
		c->shutdown();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_context_get_device(lumen_context_t ctx, lumen_device_t *device)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(device, "device");
		*device = reinterpret_cast<lumen_device_t>(c->device().handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_context_get_fault(lumen_context_t ctx, lumen_fault_t *fault)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(fault, "fault");
		c->refresh();
		lumen_fault_t f = c->fault();
		copy_versioned(fault, f, "fault");
		if (f.status != LUMEN_SUCCESS)
			c->check(); // records the message, returns the sticky status
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
