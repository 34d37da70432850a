// SPDX-License-Identifier: MIT
#include "rt/stream.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "rt/context.hpp"
#include "rt/status.hpp"

namespace lumen::rt {

Stream::Stream(Context &ctx, std::shared_ptr<Context> keep)
    : ctx_(ctx), keep_(std::move(keep)), queue_(ctx.acquire_queue()),
      tl_(std::make_shared<Timeline>(ctx.fd()))
{
}

namespace {

// The stream whose worker is the calling thread (null on other threads).
thread_local const Stream *current_worker = nullptr;

} // namespace

Stream::~Stream()
{
	shutdown();
}

bool Stream::on_worker_thread() const noexcept
{
	// Not worker_ itself: defer() may assign it concurrently.
	return current_worker == this;
}

const Stream *Stream::current() noexcept
{
	return current_worker;
}

bool Stream::deps_ready(const std::vector<Dep> &deps) const noexcept
{
	for (auto &d : deps)
		if (d.tl->submitted() < d.point)
			return false;
	return true;
}

void Stream::kernel_submit(const Op &op)
{
	drm_lumen_sync in[DRM_LUMEN_MAX_SYNCS];
	uint32_t nin = 0;
	for (auto &d : op.deps) {
		if (d.tl == tl_ || nin == DRM_LUMEN_MAX_SYNCS)
			continue;
		in[nin++] = drm_lumen_sync{d.tl->handle(), 0, d.point};
	}
	drm_lumen_sync out{tl_->handle(), 0, op.point};
	drm_lumen_submit s{};
	s.queue_id = queue_->id();
	s.num_cmds = static_cast<uint32_t>(op.cmds.size());
	s.cmds = reinterpret_cast<uintptr_t>(op.cmds.data());
	s.num_in_syncs = nin;
	s.in_syncs = reinterpret_cast<uintptr_t>(in);
	s.num_out_syncs = 1;
	s.out_syncs = reinterpret_cast<uintptr_t>(&out);
	int ret = kioctl(ctx_.fd(), DRM_IOCTL_LUMEN_SUBMIT, &s);
	if (ret == -ENODEV) {
		ctx_.mark_lost();
		ctx_.check();
	}
	if (ret == -ECANCELED) {
		ctx_.refresh();
		ctx_.check();
		fail(LUMEN_ERROR_DEVICE_ERROR, "the context was banned by the driver");
	}
	if (ret == -EOPNOTSUPP && !op.remote.empty())
		fail(LUMEN_ERROR_NOT_SUPPORTED, "the driver refuses remote commands (" + op.remote +
							"): the card has no link engine");
	if (ret)
		fail_errno("SUBMIT", -ret);
	tl_->set_submitted(op.point);
	if (!op.remote.empty()) {
		// The job is queued whatever happens here: out of memory only
		// loses its remote status (a fault still shows in the context).
		try {
			remote_jobs_.push_back(RemoteJob{op.point, s.seqno, op.remote});
		} catch (...) {
		}
	}
}

void Stream::reap_remote(uint64_t upto)
{
	while (!remote_jobs_.empty()) {
		RemoteJob &j = remote_jobs_.front();
		if (upto && j.point > upto)
			return;
		drm_lumen_wait w{};
		w.queue_id = queue_->id();
		w.seqno = j.seqno;
		w.timeout_ns = 0; // a deadline in the past polls
		int ret = kioctl(ctx_.fd(), DRM_IOCTL_LUMEN_WAIT, &w);
		if (ret == -ETIME)
			return; // still running
		if (ret == 0 && remote_status_ == LUMEN_SUCCESS) {
			lumen_status_t st = status_from_remote_errno(-w.status);
			if (st != LUMEN_SUCCESS) {
				remote_status_ = st;
				remote_error_ =
					j.what +
					(st == LUMEN_ERROR_REMOTE_ACCESS
						 ? ": the target refused it (no such window, "
						   "closed, wrong key, out of range or a "
						   "missing right)"
					 : st == LUMEN_ERROR_UNREACHABLE
						 ? ": no route to the target chip"
						 : ": the target or a chip on the way "
						   "stopped answering");
			}
		}
		// Other statuses (faults, resets) are the context's sticky error.
		remote_jobs_.pop_front();
	}
}

void Stream::throw_remote_error()
{
	if (remote_status_ == LUMEN_SUCCESS)
		return;
	lumen_status_t st = std::exchange(remote_status_, LUMEN_SUCCESS);
	std::string msg = std::move(remote_error_);
	remote_error_.clear();
	fail(st, msg);
}

void Stream::defer(Op &op)
{
	// Start the worker before queueing: if either throws, nothing was
	// queued and op (with its deps) is still the caller's.
	if (!worker_.joinable())
		worker_ = std::thread([this] { worker_main(); });
	pending_.push_back(std::move(op));
	cv_.notify_all();
}

uint64_t Stream::submit(std::vector<drm_lumen_cmd> cmds, std::string remote)
{
	ctx_.check();
	std::lock_guard lk(m_);
	// Statuses of finished remote jobs first: the driver keeps only those
	// of a queue's last LUMEN_WAIT_HISTORY (1024) jobs.
	if (!remote_jobs_.empty())
		reap_remote(0);
	Op op{std::move(cmds), std::move(deps_), nullptr, last_ + 1, std::move(remote)};
	deps_.clear();
	try {
		if (pending_.empty() && deps_ready(op.deps))
			kernel_submit(op);
		else
			defer(op);
	} catch (...) {
		deps_ = std::move(op.deps);
		throw;
	}
	return ++last_;
}

uint64_t Stream::host_op(std::function<void(lumen_status_t)> fn)
{
	ctx_.check();
	std::lock_guard lk(m_);
	Op op{{}, std::move(deps_), std::move(fn), last_ + 1, {}};
	deps_.clear();
	try {
		defer(op);
	} catch (...) {
		deps_ = std::move(op.deps);
		throw;
	}
	return ++last_;
}

void Stream::wait_for(Dep d)
{
	ctx_.check();
	if (d.tl == tl_ || d.point == 0)
		return;
	for (;;) {
		{
			std::lock_guard lk(m_);
			// Points of one timeline complete in order: keep the latest.
			for (auto &x : deps_)
				if (x.tl == d.tl) {
					x.point = std::max(x.point, d.point);
					return;
				}
			if (deps_.size() < DRM_LUMEN_MAX_SYNCS) {
				deps_.push_back(std::move(d));
				return;
			}
		}
		// A job takes at most DRM_LUMEN_MAX_SYNCS in-syncs (kernel_submit
		// would drop the rest): a NOP carries the waits so far.
		submit({cmd_nop()});
	}
}

void Stream::worker_main()
{
	current_worker = this;
	std::unique_lock lk(m_);
	for (;;) {
		if (pending_.empty()) {
			if (stop_)
				return;
			cv_.wait(lk);
			continue;
		}
		Op &op = pending_.front();
		if (!deps_ready(op.deps)) {
			cv_.wait_for(lk, std::chrono::milliseconds(1));
			continue;
		}
		if (op.fn) {
			auto fn = std::move(op.fn);
			uint64_t point = op.point;
			std::vector<Dep> deps = std::move(op.deps);
			lk.unlock();
			try {
				for (auto &d : deps)
					d.tl->wait(d.point, -1);
				tl_->wait(point - 1, -1);
			} catch (...) {
			}
			lumen_status_t st = ctx_.status();
			try {
				st = ctx_.refresh();
			} catch (...) {
			}
			try {
				fn(st);
			} catch (...) {
			}
			tl_->signal(point);
			tl_->set_submitted(point);
			lk.lock();
			pending_.pop_front();
			continue;
		}
		try {
			kernel_submit(op);
		} catch (...) {
			// The context is faulted or the ioctl failed: complete the
			// point so nobody waits forever; the context status tells.
			tl_->signal(op.point);
			tl_->set_submitted(op.point);
		}
		pending_.pop_front();
	}
}

void Stream::synchronize()
{
	uint64_t p;
	{
		std::unique_lock lk(m_);
		if (!deps_.empty()) {
			lk.unlock();
			submit({cmd_nop()}); // carries the pending event waits
			lk.lock();
		}
		p = last_;
	}
	tl_->wait(p, -1);
	if (p)
		ctx_.refresh();
	ctx_.check();
	std::lock_guard lk(m_);
	reap_remote(p);
	throw_remote_error();
}

bool Stream::query()
{
	ctx_.check();
	uint64_t p;
	{
		std::lock_guard lk(m_);
		p = last_;
	}
	if (p == 0)
		return true;
	if (tl_->submitted() < p || !tl_->wait(p, 0))
		return false;
	ctx_.refresh();
	ctx_.check();
	std::lock_guard lk(m_);
	reap_remote(p);
	throw_remote_error();
	return true;
}

void Stream::shutdown() noexcept
{
	uint64_t p;
	{
		std::lock_guard lk(m_);
		if (shut_)
			return;
		shut_ = true;
		p = last_;
	}
	try {
		tl_->wait(p, -1);
	} catch (...) {
	}
	{
		std::lock_guard lk(m_);
		stop_ = true;
	}
	cv_.notify_all();
	if (worker_.joinable() && !on_worker_thread())
		worker_.join();
	else if (worker_.joinable())
		worker_.detach();
}

} // namespace lumen::rt
