// SPDX-License-Identifier: MIT
// A stream: an in-order sequence of jobs on a hardware queue, tracked by a
// timeline syncobj (job k of the stream signals point k). Host work (host
// callbacks, the host side of staged copies) also takes a point: a worker
// thread waits for the point before it, runs the function and signals its
// point on the CPU; jobs queued behind host work are held back and
// submitted by the worker afterwards (the kernel cannot wait for a point
// not yet submitted).
#pragma once

#include <lumen/lumen.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rt/kernel.hpp"

namespace lumen::rt {

class Context;

// A point of a timeline that later work must wait for.
struct Dep {
	std::shared_ptr<Timeline> tl;
	uint64_t point;
};

class Stream {
      public:
	// keep: the owning reference user streams hold; null for the context's
	// internal stream (which the context owns).
	Stream(Context &ctx, std::shared_ptr<Context> keep);
	~Stream();
	Stream(const Stream &) = delete;
	Stream &operator=(const Stream &) = delete;

	Context &ctx() const noexcept { return ctx_; }
	const std::shared_ptr<Timeline> &timeline() const noexcept { return tl_; }
	uintptr_t handle = 0;

	// Queue a job; returns its point. Throws the context's sticky status.
	// A job of remote commands names itself in remote ("RWRITE of ..."):
	// its own status (DRM_IOCTL_LUMEN_WAIT) is collected, and a remote
	// failure is thrown once by the next synchronize() or query().
	uint64_t submit(std::vector<drm_lumen_cmd> cmds, std::string remote = {});
	// Queue host work; fn gets the context status when it runs.
	uint64_t host_op(std::function<void(lumen_status_t)> fn);
	// Later work waits for d.
	void wait_for(Dep d);
	// Block until everything queued so far is done; throws sticky errors.
	void synchronize();
	// True when everything queued is done.
	bool query();
	// Waits for the stream's work and stops its worker. Idempotent.
	void shutdown() noexcept;
	bool on_worker_thread() const noexcept;
	// The stream whose worker thread (host callbacks) is the caller, if any.
	static const Stream *current() noexcept;

      private:
	struct Op {
		std::vector<drm_lumen_cmd> cmds;
		std::vector<Dep> deps;
		std::function<void(lumen_status_t)> fn; // host op if set
		uint64_t point;
		std::string remote; // remote commands: what they are
	};
	// A submitted job of remote commands whose status is not known yet.
	struct RemoteJob {
		uint64_t point;
		uint64_t seqno;
		std::string what;
	};
	bool deps_ready(const std::vector<Dep> &deps) const noexcept;
	void kernel_submit(const Op &op); // throws
	// Locked: collect the status of finished remote jobs (all up to point
	// upto, which have finished, or those done already when upto is 0),
	// keeping the first remote failure for throw_remote_error().
	void reap_remote(uint64_t upto);
	void throw_remote_error();	  // locked
	void defer(Op &op);		  // locked; moves op only on success
	void worker_main();

	Context &ctx_;
	std::shared_ptr<Context> keep_;
	std::shared_ptr<Queue> queue_;
	std::shared_ptr<Timeline> tl_;
	std::mutex m_;
	std::condition_variable cv_;
	uint64_t last_ = 0;
	std::vector<Dep> deps_; // for the next job
	std::deque<Op> pending_;
	std::deque<RemoteJob> remote_jobs_;
	lumen_status_t remote_status_ = LUMEN_SUCCESS;
	std::string remote_error_;
	bool stop_ = false;
	bool shut_ = false;
	std::thread worker_;
};

} // namespace lumen::rt
