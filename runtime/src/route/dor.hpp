// SPDX-License-Identifier: MIT
// Dimension-order routing (DOR) for rings, meshes and tori: x first, then y,
// then z, each the short way round. Deadlock-free with the two dateline
// lanes of hw-spec 13.4:
//   - every entry has lane 0 and no FIXED_LANE;
//   - each ring of a torus (and a ring:N) has one dateline link, the wrap
//     link from coordinate n-1 (+d) to coordinate 0 (-d), flagged on both
//     of its ports, so a packet crossing it moves to lane 1;
//   - alt_port is the other direction of the same dimension (the long way
//     round) for fast failover; a mesh has no long way round, so no
//     alt_port there, and no datelines (its CDG is acyclic as it is);
//   - a tie (a ring of even size n, distance n/2) goes + or - by the parity
//     of the chip's own coordinate in that dimension plus the destination's
//     other coordinates, so both directions carry half the ties (spread);
//     without spread ties go +. A packet meets a tie only where it enters a
//     dimension, and keeps its direction after, so every ring stays
//     acyclic with its dateline;
//   - a dimension of 2 is two parallel fibers: a tie like any other.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"

namespace lumen::route {

struct DorOptions {
	bool spread = true;	  // split ties over + and -
	bool alternatives = true; // alt_port = the long way round (tori)
};

// The grid of a ring/mesh/torus topology, or of an edge list infer_grid()
// recognises; throws TopologyError otherwise (DOR needs coordinates).
Routes route_dor(const Topology &t, const DorOptions &o = {});
Routes route_dor(const Topology &t, const GridShape &g, const DorOptions &o = {});
// The same into tables that exist (id_limit t.id_limit(), else
// std::invalid_argument), every word and dateline rewritten; returns the
// words that changed. No allocation: what the router recomputes with.
uint64_t route_dor_into(const Topology &t, const GridShape &g, const DorOptions &o, Routes &r);

// A local repair of DOR tables for one fiber f down (every other fiber up):
//   - a dimension of size 2 or the last dimension of the grid: the
//     entries of f's ring whose segment crosses f go the long way round
//     (a ring without f is a line: still acyclic, one dateline at most);
//   - any other dimension d: the entries of f's two end chips that use
//     f's ports leave one hop into a later dimension e first, both ends the
//     same direction, a port of e that is no dateline; from there DOR
//     carries the packet on, one row over. Only e -> d dependencies are
//     new, and nothing reachable from that row leads back to the lane-0
//     channel of e they start from without crossing a dateline.
// Refused (r unchanged, reason set) for a mesh whose repair would need the
// long way round, a fiber that is not the grid's, a detour port that is
// down, or a repaired path longer than ttl + 1 hops.
struct DorRepair {
	bool repaired = false;
	std::string reason; // why not, when refused
	uint64_t entries_changed = 0;
	uint32_t dests = 0; // destinations with a changed entry
	// Each changed entry: (chip * id_limit + dest, the word before).
	std::vector<std::pair<uint64_t, uint32_t>> undo;
};
DorRepair repair_dor(const Topology &t, const GridShape &g, const Fiber &f, Routes &r,
		     unsigned ttl = LUMEN_LINK_TTL_DEFAULT);

} // namespace lumen::route
