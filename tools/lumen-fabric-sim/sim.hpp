// SPDX-License-Identifier: MIT
// One layout through the routing library, as the fabric manager would run
// it: full routes, the verifier, route quality, failures one at a time,
// the agnostic engine on a damaged fabric, an OCS re-patch, and the
// collective estimates.
#pragma once

#include <cstdint>
#include <vector>

#include "layout.hpp"
#include "report.hpp"
#include "route/collective_model.hpp"

namespace lumen_fabric_sim {

struct SimOptions {
	size_t fail = 0;     // fibers failed one at a time (Router::set_fiber)
	double fail_pct = 0; // % of fibers failed for the agnostic run; 0: none
	uint64_t seed = 1;
	std::vector<double> sizes; // collective message sizes, bytes
	lumen::route::AlphaBeta model;
};

// Throws std::invalid_argument when the options do not fit the layout
// (more failures than fibers), before anything is timed.
void check_options(const Layout &layout, const SimOptions &o);

LayoutReport simulate(const Layout &layout, const SimOptions &o);

} // namespace lumen_fabric_sim
