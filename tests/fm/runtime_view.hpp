// SPDX-License-Identifier: MIT
// liblumen's view of the supernode (lumen.h, "The fabric") checked in the
// guests against ground truth that does not come from lumen-fm: the lit
// fibers from lumen-fabric, the local chips' ports from the driver's sysfs,
// the local cards from liblumen's device list. Used by lumen-fm-scenarios.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>

namespace fm_runtime {

using End = std::pair<int, int>;   // (chip, port)
using Fiber = std::pair<End, End>; // ends, ordered
using FiberSet = std::set<Fiber>;

struct Expect {
	int chips = 0;	     // ids 0 .. chips - 1
	FiberSet lit;	     // lumen-fabric's lit fibers
	size_t down = 0;     // fibers cabled but not lit
	bool mirror = false; // this guest's manager is a standby
};

// Waits (bounded) until liblumen gets an answer with routes, then checks
// fabric, chip and port info, every pair's route (single and batched) and
// the errors for chips and ports that do not exist. "" or what is wrong;
// prints '#' lines with what it saw.
std::string check_view(const Expect &e, int wait_ms);

// The routing generation and the newest event's seq liblumen sees now.
std::pair<uint64_t, uint64_t> now_seen();

// After fiber f was cut: the generation moves past seen.first within
// timeout_ms (lumen_fabric_wait_generation), an event after seen.second says
// link_down at an end of f, and no route crosses f any more.
std::string check_reroute(std::pair<uint64_t, uint64_t> seen, const Fiber &f, int chips,
			  int timeout_ms);

} // namespace fm_runtime
