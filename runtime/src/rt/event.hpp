// SPDX-License-Identifier: MIT
// An event: a point of a stream's timeline plus the device timestamp a
// TIMESTAMP command writes into the event's pinned slot when it runs.
#pragma once

#include <memory>
#include <mutex>

#include "rt/context.hpp"
#include "rt/stream.hpp"

namespace lumen::rt {

class Event {
      public:
	explicit Event(std::shared_ptr<Context> ctx)
	    : ctx_(std::move(ctx)), slot_(ctx_->acquire_slot())
	{
	}
	~Event() { ctx_->release_slot(slot_); }
	Event(const Event &) = delete;
	Event &operator=(const Event &) = delete;

	Context &ctx() const noexcept { return *ctx_; }
	uintptr_t handle = 0;

	void record(Stream &s);
	// The recorded point; tl is null if never recorded.
	Dep dep() const;
	bool query() const; // true when done (or never recorded)
	void synchronize() const;
	uint64_t timestamp() const noexcept { return *slot_.host; }

      private:
	std::shared_ptr<Context> ctx_;
	Context::Slot slot_;
	mutable std::mutex m_;
	Dep dep_{nullptr, 0};
};

} // namespace lumen::rt
