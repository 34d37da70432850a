// SPDX-License-Identifier: MIT
#include "rt/registry.hpp"

namespace lumen::rt {

uintptr_t next_handle_id() noexcept
{
	// Spaced like pointers so a handle never looks like a small integer.
	static std::atomic<uintptr_t> next{0x10000};
	return next.fetch_add(0x10, std::memory_order_relaxed);
}

} // namespace lumen::rt
