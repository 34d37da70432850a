// SPDX-License-Identifier: MIT
// The fabrics the simulator routes: every spec the routing library's parser
// takes, plus OCS layouts that re-patch one topology into another.
#pragma once

#include <optional>
#include <string>

#include "route/topology.hpp"

namespace lumen_fabric_sim {

struct Layout {
	std::string name;			       // as given: "torus:16x16x16", "ocs:128"
	lumen::route::Topology topology;	       // what is routed first
	std::optional<lumen::route::Topology> repatch; // ocs: what the OCS patches next
};

// ring:N, mesh:AxB[xC], torus:AxB[xC], edges:FILE (Topology::parse), and
//   ocs:128           a 128-chip OCS node re-patched from torus:4x4x8 (3D,
//                     6 ports, diameter 8) to torus:8x16 (2D, 4 ports,
//                     diameter 12): the same chips, every z fiber gone
//                     and most x and y fibers moved;
//   ocs:SPEC_A,SPEC_B any two specs over the same chip ids.
// Throws lumen::route::TopologyError naming the problem.
Layout parse_layout(const std::string &spec);

} // namespace lumen_fabric_sim
