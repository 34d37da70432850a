// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>

namespace npusmi {

// Runs fn on its own thread; get_until() waits for the result up to a
// deadline. A read that never returns (a wedged card blocking a sysfs read
// in the driver) leaves its thread behind, detached, owning only its own
// state, so the tool reports an error row and exits instead of hanging.
template <typename T> class Deferred {
      public:
	explicit Deferred(std::function<T()> fn)
	{
		auto task = std::make_shared<std::packaged_task<T()>>(std::move(fn));
		result_ = task->get_future();
		std::thread([task] { (*task)(); }).detach();
	}

	std::optional<T> get_until(std::chrono::steady_clock::time_point deadline)
	{
		if (result_.wait_until(deadline) != std::future_status::ready)
			return std::nullopt;
		return result_.get();
	}

      private:
	std::future<T> result_;
};

} // namespace npusmi
