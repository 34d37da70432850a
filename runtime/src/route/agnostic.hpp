// SPDX-License-Identifier: MIT
// A topology-agnostic, deadlock-free routing engine (FABRIC.md 4, issue 9):
// destination-based tables for any graph (tori with failed fibers,
// re-patched or irregular graphs, sparse chip ids), FIXED_LANE entries so
// the virtual channel follows the destination alone (hw-spec 13.4, the
// Nue/DFSSSP/LASH family), at most two lanes (one works too).
//
// Per destination, a shortest-path tree over the UP fibers (ties broken by
// accumulated channel load when spreading). Lanes are layers: a tree goes
// into the first lane whose channel-dependency graph stays acyclic with it;
// a destination no lane takes falls back to up*/down* routes in the last
// lane, which keeps only such routes (their CDG is acyclic on its own).
// alt_port is set only where its extra dependencies keep the lane acyclic.
#pragma once

#include <cstdint>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/walk.hpp"

namespace lumen::route {

struct AgnosticOptions {
	unsigned lanes = 2;	  // lanes the engine may use (1 or 2)
	bool alternatives = true; // fill alt_port where the CDG allows it
	bool spread = true;	  // break minimal-path ties by channel load
	uint64_t seed = 1;	  // tie-break order when not spreading
};

struct AgnosticStats {
	unsigned lanes_used = 0;
	uint32_t minimal_dests = 0;  // destinations routed on shortest paths
	uint32_t fallback_dests = 0; // destinations on up*/down* routes
	double ms = 0;		     // time of the last compute() or update()
};

class AgnosticEngine {
      public:
	AgnosticEngine(const Topology &t, AgnosticOptions o = {});
	// Every chip x destination entry of t's chips, from scratch.
	void compute(const LinkState &ls, Routes &r);
	// ls has already changed by fiber f (down, or up again): recompute
	// only the destinations f touched; returns those destinations (their
	// entries are rewritten in r).
	std::vector<uint32_t> update(const LinkState &ls, const Fiber &f, bool up, Routes &r);
	const AgnosticStats &stats() const;
};

} // namespace lumen::route
