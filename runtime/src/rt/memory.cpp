// SPDX-License-Identifier: MIT
// C API of memory: device and pinned host allocation, registration, trim
// and usage queries.
#include "rt/context.hpp"
#include "rt/kernel.hpp"
#include "rt/peer.hpp"
#include "rt/status.hpp"

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_malloc(lumen_context_t ctx, size_t size, lumen_devptr_t *ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(ptr, "ptr");
		c->check();
		*ptr = c->mem().malloc(size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_free(lumen_context_t ctx, lumen_devptr_t ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		if (ptr == 0)
			fail(LUMEN_ERROR_INVALID_ARGUMENT, "ptr is 0");
		// The driver refuses to unmap a window's memory: the caller's
		// windows make this fail before anything changed; the runtime's
		// (peer copies, fabric exports) it closes itself.
		auto a = c->mem().allocation_of(ptr);
		if (a && a->first == ptr) {
			if (auto w = c->window_over(a->first, a->second))
				fail(LUMEN_ERROR_BUSY,
				     "ptr " + hex(ptr) + " is in remote window " +
					     std::to_string(*w) +
					     "; close the window before freeing it");
			runtime_windows_release(*c, a->first, a->second);
		}
		c->mem().free(ptr, "ptr");
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_mem_trim(lumen_context_t ctx)
{
	return guard(__func__, [&] {
		context_from_handle(ctx)->mem().trim();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_malloc_host(lumen_context_t ctx, size_t size, void **ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(ptr, "ptr");
		c->check();
		*ptr = c->mem().malloc_host(size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_free_host(lumen_context_t ctx, void *ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(ptr, "ptr");
		c->mem().free_host(ptr);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_host_register(lumen_context_t ctx, void *ptr, size_t size)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(ptr, "ptr");
		c->check();
		c->mem().host_register(ptr, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_host_unregister(lumen_context_t ctx, void *ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(ptr, "ptr");
		c->mem().host_unregister(ptr);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_mem_get_info(lumen_context_t ctx, lumen_mem_info_t *info)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(info, "info");
		c->check();
		drm_lumen_memory_info mi{};
		drm_lumen_query q{};
		q.type = DRM_LUMEN_QUERY_MEMORY;
		q.size = sizeof(mi);
		q.data = reinterpret_cast<uintptr_t>(&mi);
		if (int ret = kioctl(c->fd(), DRM_IOCTL_LUMEN_QUERY, &q))
			fail_errno("QUERY MEMORY", -ret);
		auto st = c->mem().stats();
		lumen_mem_info_t out{};
		out.struct_size = sizeof(out);
		out.device_total = mi.total;
		out.device_free = mi.free;
		out.ctx_device_used = st.device_used;
		out.ctx_device_cached = st.device_cached;
		out.ctx_host_pinned = st.host_pinned;
		copy_versioned(info, out, "info");
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
