// SPDX-License-Identifier: MIT
// The figures the simulator prints and the bars of issue 9's "Benchmarks"
// list they must beat, with PASS/MISS. Figures are not timed tests: the
// machine is shared, so the load average is printed beside them.
#pragma once

#include <optional>
#include <string>

namespace lumen_fabric_sim {

struct Target {
	double limit = 0;
	bool inclusive = false; // value <= limit passes (else value < limit)
	std::string source;	// where the bar comes from, for the reader
};

struct Figure {
	std::string key;   // JSON name, e.g. "full_routes_ms"
	std::string label; // human name, e.g. "full routes (dor)"
	double value = 0;
	std::string unit; // "ms", "x ideal"
	std::optional<Target> target;
	std::optional<double> cpu_ms; // a time's CPU time, beside its wall clock

	// A figure without a target neither passes nor misses.
	bool has_target() const noexcept { return target.has_value(); }
	bool pass() const noexcept;
	// "< 100 ms", "<= 1.10 x ideal", "" without a target.
	std::string target_str() const;
	// "PASS", "MISS", "-".
	const char *verdict() const noexcept;
};

// Issue 9's bars by fabric size. The bars stated at 4096 chips hold for
// smaller fabrics too (a smaller fabric must not be slower); above 4096 only
// full routes has one (8192 < 250 ms), the others print without a target.
std::optional<Target> full_routes_target(size_t chips);
std::optional<Target> agnostic_target(size_t chips);
std::optional<Target> reroute_target(size_t chips);
std::optional<Target> verify_target(size_t chips);
Target mean_hops_target();    // mean hops / ideal <= 1.01
Target channel_load_target(); // max channel load / ideal <= 1.10

// The machine's load averages (getloadavg), -1 where unavailable.
struct MachineLoad {
	double one = -1, five = -1, fifteen = -1;
};
MachineLoad machine_load();

} // namespace lumen_fabric_sim
