// SPDX-License-Identifier: MIT
// C API of remote windows and the checks on window descriptors.
#include "rt/window.hpp"

#include <lumen/lumen_link.h>

#include <cerrno>

#include "rt/context.hpp"
#include "rt/handles.hpp"
#include "rt/kernel.hpp"
#include "rt/registry.hpp"
#include "rt/status.hpp"

namespace lumen::rt {
namespace {

static_assert(sizeof(lumen_window_desc_t) == 48, "lumen_window_desc_t is wire format");

constexpr uint64_t kPage = 4096;
constexpr unsigned kRights = kWindowRights;

Registry<Window> &windows()
{
	static Registry<Window> r("window");
	return r;
}

const char *right_name(unsigned right)
{
	return right == LUMEN_WINDOW_READ    ? "LUMEN_WINDOW_READ"
	       : right == LUMEN_WINDOW_WRITE ? "LUMEN_WINDOW_WRITE"
					     : "LUMEN_WINDOW_ATOMIC";
}

} // namespace

void check_window_rights(unsigned rights, const char *name)
{
	if (!rights || (rights & ~kRights))
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(name) + " " + hex(rights) +
			     " must be LUMEN_WINDOW_READ, _WRITE, _ATOMIC or a mix");
}

void require_links(Context &c)
{
	if (!(c.device().info().capabilities & DRM_LUMEN_CAP_LINKS))
		fail(LUMEN_ERROR_NOT_SUPPORTED,
		     "device " + std::to_string(c.device().index()) +
			     " has no link engine (DRM_LUMEN_CAP_LINKS)");
}

Window::Window(std::shared_ptr<Context> ctx, uint64_t ptr, uint64_t size, unsigned flags,
	       bool runtime_owned)
    : ctx_(std::move(ctx))
{
	const uint32_t chip = ctx_->chip_id();
	const uint64_t start = ptr & ~(kPage - 1);
	const uint64_t end = (ptr + size + kPage - 1) & ~(kPage - 1);
	drm_lumen_window_open o{};
	o.va = start;
	o.size = end - start;
	o.flags = (flags & LUMEN_WINDOW_READ ? DRM_LUMEN_WINDOW_READ : 0) |
		  (flags & LUMEN_WINDOW_WRITE ? DRM_LUMEN_WINDOW_WRITE : 0) |
		  (flags & LUMEN_WINDOW_ATOMIC ? DRM_LUMEN_WINDOW_ATOMIC : 0);
	int ret = kioctl(ctx_->fd(), DRM_IOCTL_LUMEN_WINDOW_OPEN, &o);
	if (ret == -ENODEV) {
		ctx_->mark_lost();
		ctx_->check();
	}
	if (ret == -EOPNOTSUPP)
		fail(LUMEN_ERROR_NOT_SUPPORTED, "the driver has no remote windows (uAPI 1.2)");
	if (ret == -ENOSPC)
		fail(LUMEN_ERROR_BUSY, "no remote window slot free (the context has as many "
				       "open as lumen.ko's max_file_windows, or the card has none "
				       "left)");
	if (ret == -EFAULT)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "the pages of " + hex(ptr) + " + " + std::to_string(size) +
			     " are not all mapped (writable) in the context");
	if (ret)
		fail_errno("WINDOW_OPEN of " + hex(start) + " + " + std::to_string(o.size), -ret);
	desc_.magic = LUMEN_WINDOW_DESC_MAGIC;
	desc_.chip_id = chip;
	desc_.window = o.window;
	desc_.rights = flags;
	desc_.key = o.key;
	desc_.size = size;
	desc_.base = ptr - start;
	try {
		ctx_->add_window(o.window, ptr, size, runtime_owned);
		open_ = true;
	} catch (...) {
		drm_lumen_window_close c{};
		c.window = o.window;
		kioctl(ctx_->fd(), DRM_IOCTL_LUMEN_WINDOW_CLOSE, &c);
		throw;
	}
}

void Window::close() noexcept
{
	if (!open_.exchange(false))
		return;
	drm_lumen_window_close c{};
	c.window = desc_.window;
	kioctl(ctx_->fd(), DRM_IOCTL_LUMEN_WINDOW_CLOSE, &c);
	ctx_->remove_window(desc_.window);
}

void destroy_window_handle(uintptr_t h) noexcept
{
	try {
		windows().remove(reinterpret_cast<const void *>(h))->close();
	} catch (...) {
	}
}

void check_desc(const lumen_window_desc_t *d, const char *name, unsigned right, uint64_t offset,
		uint64_t size)
{
	require(d, name);
	const std::string n(name);
	if (d->magic != LUMEN_WINDOW_DESC_MAGIC)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     n + "->magic " + hex(d->magic) +
			     " is not LUMEN_WINDOW_DESC_MAGIC: not a window descriptor");
	if (d->reserved)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, n + "->reserved is not zero");
	if (d->chip_id >= DRM_LUMEN_MAX_CHIPS)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, n + "->chip_id " + std::to_string(d->chip_id) +
							   " is not below " +
							   std::to_string(DRM_LUMEN_MAX_CHIPS));
	if (d->window >= LUMEN_NUM_WINDOWS)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, n + "->window " + std::to_string(d->window) +
							   " is not a window slot (below " +
							   std::to_string(LUMEN_NUM_WINDOWS) + ")");
	if (d->rights & ~kRights)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     n + "->rights " + hex(d->rights) + " has unknown bits");
	if (!(d->rights & right))
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     n + ": the window does not grant " + right_name(right));
	if (d->base >= kPage)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     n + "->base " + std::to_string(d->base) + " is not below 4096");
	if (offset > d->size || size > d->size - offset)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "offset " + std::to_string(offset) + " + size " + std::to_string(size) +
			     " is beyond the " + std::to_string(d->size) + " bytes of " + n);
	// A forged size could make base + offset wrap in the command.
	if (offset + size > UINT64_MAX - d->base)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, n + "->base + offset " + std::to_string(offset) +
							   " + size " + std::to_string(size) +
							   " overflows");
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_window_open(lumen_context_t ctx, lumen_devptr_t ptr, size_t size,
				 unsigned flags, lumen_window_t *window)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(window, "window");
		c->check();
		require_links(*c);
		check_window_rights(flags, "flags");
		if (size == 0)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "size 0 is invalid");
		c->mem().check_device(ptr, size, "ptr");
		auto w = std::make_shared<Window>(c, ptr, size, flags);
		w->handle = windows().add(w);
		try {
			c->add_child(w->handle);
		} catch (...) {
			windows().remove(reinterpret_cast<const void *>(w->handle));
			throw;
		}
		*window = reinterpret_cast<lumen_window_t>(w->handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_window_get_desc(lumen_window_t window, lumen_window_desc_t *desc)
{
	return guard(__func__, [&] {
		auto w = windows().get(window);
		require(desc, "desc");
		*desc = w->desc();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_window_close(lumen_window_t window)
{
	return guard(__func__, [&] {
		auto w = windows().remove(window);
		w->ctx().remove_child(w->handle);
		w->close();
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
