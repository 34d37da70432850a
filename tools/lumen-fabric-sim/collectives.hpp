// SPDX-License-Identifier: MIT
// Collective time estimates for a layout with the routing library's
// alpha-beta model (route/collective_model.hpp).
#pragma once

#include <string>
#include <vector>

#include "route/collective_model.hpp"
#include "route/topology.hpp"

namespace lumen_fabric_sim {

struct CollectiveRow {
	std::string fabric; // the topology's spec
	lumen::route::Collective op;
	lumen::route::Algorithm algorithm;
	double bytes = 0;
	lumen::route::Estimate estimate;
};

// All-reduce and all-gather at each size: the ring over all chips on every
// layout (a logical ring of 1-hop neighbours: a snake through a grid), the
// torus algorithm where the fabric is a ring or torus (a mesh or an edge
// list has no ring per dimension).
std::vector<CollectiveRow> estimate_collectives(const lumen::route::Topology &t,
						const lumen::route::AlphaBeta &model,
						const std::vector<double> &sizes);

// "1M" = 1 MiB, "64M", "1G" = 1 GiB, "4K", a plain number of bytes.
// Throws std::invalid_argument naming the text.
double parse_size(const std::string &text);
// Back: "1 MiB", "64 MiB", "1 GiB", "100 B".
std::string size_str(double bytes);

} // namespace lumen_fabric_sim
