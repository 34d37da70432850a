// SPDX-License-Identifier: MIT
// Which fibers fail: a seeded, reproducible pick, the same on every machine
// (std::mt19937_64's sequence is fixed by the standard; the distributions of
// <random> are not, so none is used).
#pragma once

#include <cstdint>
#include <vector>

#include "route/topology.hpp"

namespace lumen_fabric_sim {

// k distinct fibers of t, in the order they fail. Throws
// std::invalid_argument when k is more than t has.
std::vector<lumen::route::Fiber> pick_failures(const lumen::route::Topology &t, size_t k,
					       uint64_t seed);

// The number of fibers pct percent of t's fibers is, rounded to nearest
// and at least 1 when pct > 0. Throws std::invalid_argument for pct
// outside 0..100.
size_t fibers_for_percent(const lumen::route::Topology &t, double pct);

} // namespace lumen_fabric_sim
