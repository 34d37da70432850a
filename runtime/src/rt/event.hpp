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
	// A record still pending keeps its slot busy until it completes.
	~Event() { ctx_->release_slot(slot_, dep_.tl, dep_.point); }
	Event(const Event &) = delete;
	Event &operator=(const Event &) = delete;

	Context &ctx() const noexcept { return *ctx_; }
	uintptr_t handle = 0;

	// Each record writes a fresh slot, so re-recording while an earlier
	// record is pending never mixes the two timestamps.
	void record(Stream &s);
	// The recorded point; tl is null if never recorded.
	Dep dep() const;
	bool query() const; // true when done (or never recorded)
	void synchronize() const;
	// The last record's device timestamp if it has completed.
	enum class Stamp { Never, Pending, Done };
	Stamp timestamp(uint64_t *ts) const;

      private:
	std::shared_ptr<Context> ctx_;
	Context::Slot slot_;
	mutable std::mutex m_;
	Dep dep_{nullptr, 0};
};

} // namespace lumen::rt
