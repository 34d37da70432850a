// SPDX-License-Identifier: MIT
// Wall-clock milliseconds of what a lambda does.
#pragma once

#include <chrono>
#include <utility>

namespace lumen_fabric_sim {

template <typename F> double time_ms(F &&f)
{
	const auto start = std::chrono::steady_clock::now();
	std::forward<F>(f)();
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
		.count();
}

} // namespace lumen_fabric_sim
