// SPDX-License-Identifier: MIT
// C API of IPC: device allocations shared between processes as dma-bufs.
#include "rt/context.hpp"
#include "rt/peer.hpp"
#include "rt/status.hpp"

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_ipc_export(lumen_context_t ctx, lumen_devptr_t ptr, int *fd)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(fd, "fd");
		c->check();
		*fd = c->mem().export_fd(ptr);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_ipc_import(lumen_context_t ctx, int fd, lumen_devptr_t *ptr, size_t *size)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(ptr, "ptr");
		require(size, "size");
		if (fd < 0)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "fd " + std::to_string(fd) + " is invalid");
		c->check();
		auto [va, sz] = c->mem().import_fd(fd);
		*ptr = va;
		*size = static_cast<size_t>(sz);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_ipc_close(lumen_context_t ctx, lumen_devptr_t ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		auto a = c->mem().allocation_of(ptr);
		if (a && a->first == ptr) {
			if (auto w = c->window_over(a->first, a->second))
				fail(LUMEN_ERROR_BUSY,
				     "ptr " + hex(ptr) + " is in remote window " +
					     std::to_string(*w) +
					     "; close the window before this import");
			runtime_windows_release(*c, a->first, a->second);
		}
		c->mem().ipc_close(ptr);
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
