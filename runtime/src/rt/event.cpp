// SPDX-License-Identifier: MIT
#include "rt/event.hpp"

#include <utility>

#include "rt/handles.hpp"
#include "rt/registry.hpp"
#include "rt/status.hpp"

namespace lumen::rt {
namespace {

Registry<Event> &events()
{
	static Registry<Event> r("event");
	return r;
}

} // namespace

void Event::record(Stream &s)
{
	// One job per record; the point it signals is the event's. The
	// previous slot is retired until its own record has completed.
	Context::Slot fresh = ctx_->acquire_slot();
	uint64_t p;
	try {
		p = s.submit({cmd_timestamp(fresh.va)});
	} catch (...) {
		ctx_->release_slot(fresh);
		throw;
	}
	Context::Slot old;
	Dep old_dep{s.timeline(), p};
	{
		std::lock_guard lk(m_);
		old = std::exchange(slot_, fresh);
		std::swap(dep_, old_dep);
	}
	ctx_->release_slot(old, std::move(old_dep.tl), old_dep.point);
}

Dep Event::dep() const
{
	std::lock_guard lk(m_);
	return dep_;
}

bool Event::query() const
{
	ctx_->check();
	Dep d = dep();
	if (!d.tl)
		return true;
	if (d.tl->submitted() < d.point || !d.tl->wait(d.point, 0))
		return false;
	ctx_->refresh();
	ctx_->check();
	return true;
}

Event::Stamp Event::timestamp(uint64_t *ts) const
{
	ctx_->check();
	Dep d;
	Context::Slot slot;
	{
		std::lock_guard lk(m_);
		d = dep_;
		slot = slot_;
	}
	if (!d.tl)
		return Stamp::Never;
	if (d.tl->submitted() < d.point || !d.tl->wait(d.point, 0))
		return Stamp::Pending;
	ctx_->refresh();
	ctx_->check();
	*ts = *slot.host;
	return Stamp::Done;
}

void Event::synchronize() const
{
	ctx_->check();
	Dep d = dep();
	if (d.tl) {
		d.tl->wait(d.point, -1);
		ctx_->refresh();
	}
	ctx_->check();
}

std::shared_ptr<Event> event_from_handle(lumen_event_t h)
{
	return events().get(h);
}

void destroy_event_handle(uintptr_t h) noexcept
{
	try {
		events().remove(reinterpret_cast<const void *>(h));
	} catch (...) {
	}
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_event_create(lumen_context_t ctx, lumen_event_t *event)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(event, "event");
		c->check();
		auto e = std::make_shared<Event>(c);
		e->handle = events().add(e);
		try {
			c->add_child(e->handle);
		} catch (...) {
			events().remove(reinterpret_cast<const void *>(e->handle));
			throw;
		}
		*event = reinterpret_cast<lumen_event_t>(e->handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_event_destroy(lumen_event_t event)
{
	return guard(__func__, [&] {
		auto e = events().remove(event);
		e->ctx().remove_child(e->handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_event_record(lumen_event_t event, lumen_stream_t stream)
{
	return guard(__func__, [&] {
		auto e = event_from_handle(event);
		auto s = stream_from_handle(stream);
		if (&e->ctx() != &s->ctx())
			fail(LUMEN_ERROR_WRONG_DEVICE,
			     "event and stream belong to different contexts");
		e->record(*s);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_event_query(lumen_event_t event)
{
	return guard(__func__, [&] {
		return event_from_handle(event)->query() ? LUMEN_SUCCESS : LUMEN_ERROR_NOT_READY;
	});
}

lumen_status_t lumen_event_synchronize(lumen_event_t event)
{
	return guard(__func__, [&] {
		event_from_handle(event)->synchronize();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_event_elapsed_time(float *ms, lumen_event_t start, lumen_event_t end)
{
	return guard(__func__, [&] {
		auto a = event_from_handle(start);
		auto b = event_from_handle(end);
		require(ms, "ms");
		if (&a->ctx() != &b->ctx())
			fail(LUMEN_ERROR_WRONG_DEVICE,
			     "start and end belong to different contexts");
		uint64_t ta = 0, tb = 0;
		Event::Stamp sa = a->timestamp(&ta), sb = b->timestamp(&tb);
		if (sa == Event::Stamp::Never || sb == Event::Stamp::Never)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     std::string(sa == Event::Stamp::Never ? "start" : "end") +
				     " was never recorded");
		if (sa != Event::Stamp::Done || sb != Event::Stamp::Done)
			return LUMEN_ERROR_NOT_READY;
		int64_t d = static_cast<int64_t>(tb - ta);
		*ms = static_cast<float>(static_cast<double>(d) / 1e6);
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
