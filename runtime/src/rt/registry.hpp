// SPDX-License-Identifier: MIT
// Live handles of one kind. A handle is an id that is never reused, so a
// destroyed handle is detected (INVALID_HANDLE) instead of dereferenced;
// lookups hand out shared ownership so an object outlives calls using it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "rt/status.hpp"

namespace lumen::rt {

// Ids for all kinds come from one counter: a handle of one kind is never a
// valid handle of another.
uintptr_t next_handle_id() noexcept;

template <typename T> class Registry {
      public:
	explicit Registry(const char *kind) : kind_(kind) {}

	uintptr_t add(std::shared_ptr<T> obj)
	{
		uintptr_t id = next_handle_id();
		std::lock_guard lk(m_);
		live_.emplace(id, std::move(obj));
		return id;
	}

	// The live object or INVALID_HANDLE naming the kind.
	std::shared_ptr<T> get(const void *handle) const
	{
		uintptr_t id = reinterpret_cast<uintptr_t>(handle);
		if (!handle)
			fail(LUMEN_ERROR_INVALID_HANDLE, std::string(kind_) + " handle is NULL");
		std::lock_guard lk(m_);
		auto it = live_.find(id);
		if (it == live_.end())
			fail(LUMEN_ERROR_INVALID_HANDLE, std::string(kind_) + " handle " + hex(id) +
								 " is destroyed or not a " + kind_);
		return it->second;
	}

	// Takes the object out of the registry: later lookups fail. Of two
	// concurrent removes of one handle, only one gets the object.
	std::shared_ptr<T> remove(const void *handle)
	{
		uintptr_t id = reinterpret_cast<uintptr_t>(handle);
		if (!handle)
			fail(LUMEN_ERROR_INVALID_HANDLE, std::string(kind_) + " handle is NULL");
		std::shared_ptr<T> obj;
		{
			std::lock_guard lk(m_);
			auto it = live_.find(id);
			if (it != live_.end()) {
				obj = std::move(it->second);
				live_.erase(it);
			}
		}
		if (!obj)
			fail(LUMEN_ERROR_INVALID_HANDLE, std::string(kind_) + " handle " + hex(id) +
								 " is destroyed or not a " + kind_);
		return obj;
	}

	std::vector<std::shared_ptr<T>> all() const
	{
		std::lock_guard lk(m_);
		std::vector<std::shared_ptr<T>> out;
		out.reserve(live_.size());
		for (auto &kv : live_)
			out.push_back(kv.second);
		return out;
	}

      private:
	const char *kind_;
	mutable std::mutex m_;
	std::unordered_map<uintptr_t, std::shared_ptr<T>> live_;
};

} // namespace lumen::rt
