// SPDX-License-Identifier: MIT
// How long something took: wall clock (what the targets are about) and the
// process's CPU time (what it cost on one core, whatever else runs on the
// machine: the two differ by the share of a core this process got).
#pragma once

#include <chrono>
#include <ctime>
#include <utility>

namespace lumen_fabric_sim {

struct Timing {
	double wall_ms = 0;
	double cpu_ms = 0;
};

inline double cpu_now_ms()
{
	timespec ts{};
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

template <typename F> Timing timed(F &&f)
{
	const auto start = std::chrono::steady_clock::now();
	const double cpu = cpu_now_ms();
	std::forward<F>(f)();
	Timing t;
	t.cpu_ms = cpu_now_ms() - cpu;
	t.wall_ms =
		std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
			.count();
	return t;
}

} // namespace lumen_fabric_sim
