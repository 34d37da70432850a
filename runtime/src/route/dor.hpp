// SPDX-License-Identifier: MIT
// Dimension-order routing (DOR) for rings, meshes and tori: x first, then y,
// then z, each the short way round (ties: the + direction). Deadlock-free
// with the two dateline lanes of hw-spec 13.4:
//   - every entry has lane 0 and no FIXED_LANE;
//   - each ring of a torus (and a ring:N) has one dateline link, the wrap
//     link from coordinate n-1 (+d) to coordinate 0 (-d), flagged on both
//     of its ports, so a packet crossing it moves to lane 1;
//   - alt_port is the other direction of the same dimension (the long way
//     round) for fast failover; a mesh has no long way round, so no
//     alt_port there, and no datelines (its CDG is acyclic as it is);
//   - a dimension of 2 is two parallel fibers: routes take the + one, the
//     - one is the alternative.
#pragma once

#include "route/routes.hpp"
#include "route/topology.hpp"

namespace lumen::route {

// Throws TopologyError for an edge-list topology (DOR needs coordinates).
Routes route_dor(const Topology &t);

} // namespace lumen::route
