// SPDX-License-Identifier: MIT
// A topology-agnostic, deadlock-free routing engine (FABRIC.md 4, issue 9):
// destination-based tables for any graph (tori with failed fibers,
// re-patched or irregular graphs, sparse chip ids up to 8191), with one or
// two lanes. Every entry has FIXED_LANE: the lane of a packet at each hop is
// the lane of that chip's entry for the destination (hw-spec 13.4).
//
// Why it is deadlock-free (a proof by construction, no search): each lane
// has an up*/down* orientation (updown.hpp; the escape lane, the last, is
// rooted centrally, lane 0 of two is rooted far from it). Along every route
// the lane never goes down (0 then 1), and inside a lane every turn is
// up*/down*-legal in that lane's orientation. A dependency cycle would have
// to stay in one lane (lanes only rise) and there it would need a down -> up
// turn. So the channel-dependency graph is acyclic, whatever the graph.
//
// Routes: per destination, chips in BFS order from it pick a neighbour that
// is already routed, shortest first, then the channel whose route carries
// the least load so far (DFSSSP-style spreading, destinations in a seeded
// shuffled order), then the escape lane and a first hop down (the choices
// that let most chips behind join legally). A chip no closer neighbour can
// take on legally waits for a farther one (its route gets longer). On a
// torus, two antipodal roots split every minimal path into a legal lane-0
// part and a legal lane-1 part. If some chip still finds no neighbour, the
// destination falls back to plain up*/down* routes in the escape lane,
// which exist for every connected pair.
//
// Alternative ports: a neighbour outside the chip's subtree (its route
// avoids the dead link), at most one hop farther from the destination, whose
// detour turns (children -> the alternative channel -> the neighbour's
// route) follow the same lane rules: so any single cut's detours keep the
// CDG acyclic too. Chained detours (a ring's long way round, through chips
// whose port points back) are not produced: there a chip gets no alt_port.
//
// update(): a fiber down reroutes only the subtrees hanging from it, for the
// destinations whose routes crossed it (and re-picks alternatives that led
// into them or across it); a fiber up rebuilds the destinations it brings
// two or more hops closer. A full pass when the escape orientation no
// longer connects every pair (a chip lost its last up link, two components
// joined) or when the link state changed by more than that fiber.
#pragma once

#include <cstdint>
#include <memory>
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
	uint32_t longer_dests = 0;   // some chips one or more hops longer
	uint32_t fallback_dests = 0; // destinations on up*/down* routes
	double ms = 0;		     // time of the last compute() or update()
	uint64_t entries = 0;	     // valid (chip, destination) entries
	uint64_t alt_entries = 0;    // of those, with an alternative port
	bool full = false;	     // the last call recomputed every destination
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

	~AgnosticEngine();
	AgnosticEngine(AgnosticEngine &&) noexcept;
	AgnosticEngine &operator=(AgnosticEngine &&) noexcept;

      private:
	struct State;
	std::unique_ptr<State> s_;
};

} // namespace lumen::route
