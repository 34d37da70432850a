// SPDX-License-Identifier: MIT
// C API of streams: lifetime, synchronization, event waits, NOPs and host
// callbacks.
#include "rt/context.hpp"
#include "rt/event.hpp"
#include "rt/handles.hpp"
#include "rt/registry.hpp"
#include "rt/status.hpp"
#include "rt/stream.hpp"

namespace lumen::rt {
namespace {

Registry<Stream> &streams()
{
	static Registry<Stream> r("stream");
	return r;
}

// A 64-bit word SIGNAL or WAIT may name: 8-byte aligned, inside a device
// allocation of s's context (INVALID_ARGUMENT naming ptr otherwise).
uint64_t checked_word(Stream &s, lumen_devptr_t ptr)
{
	if (ptr % 8)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "ptr " + hex(ptr) + " is not 8-byte aligned");
	s.ctx().mem().check_device(ptr, 8, "ptr");
	return ptr;
}

} // namespace

std::shared_ptr<Stream> stream_from_handle(lumen_stream_t h)
{
	return streams().get(h);
}

void destroy_stream_handle(uintptr_t h) noexcept
{
	try {
		streams().remove(reinterpret_cast<const void *>(h))->shutdown();
	} catch (...) {
	}
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_stream_create(lumen_context_t ctx, lumen_stream_t *stream)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(stream, "stream");
		c->check();
		auto s = std::make_shared<Stream>(*c, c);
		s->handle = streams().add(s);
		try {
			c->add_child(s->handle);
		} catch (...) {
			streams().remove(reinterpret_cast<const void *>(s->handle));
			throw;
		}
		*stream = reinterpret_cast<lumen_stream_t>(s->handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_stream_destroy(lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (s->on_worker_thread())
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "a host callback may not destroy its own stream");
		s = streams().remove(stream);
		s->ctx().remove_child(s->handle);
		s->shutdown();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_stream_synchronize(lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (s->on_worker_thread())
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "a host callback may not synchronize its own stream");
		s->synchronize();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_stream_query(lumen_stream_t stream)
{
	return guard(__func__, [&] {
		return stream_from_handle(stream)->query() ? LUMEN_SUCCESS : LUMEN_ERROR_NOT_READY;
	});
}

lumen_status_t lumen_stream_wait_event(lumen_stream_t stream, lumen_event_t event)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		auto e = event_from_handle(event);
		if (&s->ctx() != &e->ctx())
			fail(LUMEN_ERROR_WRONG_DEVICE,
			     "stream and event belong to different contexts");
		Dep d = e->dep();
		if (d.tl)
			s->wait_for(std::move(d));
		else
			s->ctx().check();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_launch_nop_async(lumen_stream_t stream)
{
	return guard(__func__, [&] {
		stream_from_handle(stream)->submit({cmd_nop()});
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_stream_get_context(lumen_stream_t stream, lumen_context_t *ctx)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		require(ctx, "ctx");
		*ctx = reinterpret_cast<lumen_context_t>(s->ctx().handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_stream_write_value64(lumen_stream_t stream, lumen_devptr_t ptr, uint64_t value)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->submit({cmd_signal(checked_word(*s, ptr), value)});
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_stream_wait_value64(lumen_stream_t stream, lumen_devptr_t ptr, uint64_t value)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->submit({cmd_wait(checked_word(*s, ptr), value)});
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_launch_host_func(lumen_stream_t stream, lumen_host_fn_t fn, void *user_data)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		require(reinterpret_cast<const void *>(fn), "fn");
		s->host_op(
			[fn, stream, user_data](lumen_status_t st) { fn(stream, st, user_data); });
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
