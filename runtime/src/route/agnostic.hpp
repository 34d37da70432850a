// SPDX-License-Identifier: MIT
// A topology-agnostic, deadlock-free routing engine (FABRIC.md 4, issue 9):
// destination-based tables for any graph (tori with failed fibers,
// re-patched or irregular graphs, sparse chip ids up to 8191), with one or
// two lanes. Every entry has FIXED_LANE: the lane of a packet at each hop is
// the lane of that chip's entry for the destination (hw-spec 13.4).
//
// Why it is deadlock-free (a proof by construction, no search): each lane
// has an up*/down* orientation (updown.hpp: any strict order of the chips,
// a link leads "up" toward the smaller). Along every route the lane never
// goes down (0 then 1), and inside a lane every turn is up*/down*-legal in
// that lane's orientation. A dependency cycle would have to stay in one
// lane (lanes only rise) and there it would need a down -> up turn. So the
// channel-dependency graph is acyclic, whatever the graph and the orders.
// The orientations are per lane, shared by every destination: the CDG of
// a lane is, so per-destination orientations would void the argument.
//
// Which orders (two lanes; one lane: a central BFS order). A BFS order from one root makes every
// route of a lane descend toward that root and climb away from it: on a torus a pair whose shortest
// paths cross the root's coordinate in every dimension must pass through the root itself, a hot
// spot that grows as N^2 (4.4x the mean load at 16x16x16). So on a grid (a ring, mesh or torus,
// cabled as one, whatever fibers failed) lane 0 orders chips by id (x + A (y + B z)) and lane 1 by
// the id of the chip half a ring further in each dimension (a mesh: id
// reversed). A hop then goes up or down by its direction alone, except
// across a lane's seam (the wrap link of each ring): a shortest path's moves
// in one dimension are all "down" or all "up" in at least one lane, so
// every shortest path can be ordered [lane 0: down, up][lane 1: down, up],
// with many orders to spread over and no point all routes share. Chips left
// without an up link by failed fibers are lifted (updown_connect). Other
// graphs get BFS orders: lane 1 (the escape lane) rooted centrally, lane 0
// far from it.
//
// Routes: per destination, chips in BFS order from it pick a neighbour that
// is already routed, shortest first, then the channel whose route carries
// the least load so far (DFSSSP-style spreading, destinations in a seeded
// shuffled order), then the escape lane and a first hop down (the choices
// that let most chips behind join legally). A chip no closer neighbour can
// take on legally waits for a farther one (its route gets longer). If some
// chip still finds no neighbour, the destination falls back to plain
// up*/down* routes in the escape lane, which exist for every connected pair.
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
// into them or across it); a chip that lost its last up link with it is
// lifted (updown_lift: no other route changes). A fiber up rebuilds the
// destinations it brings two or more hops closer. A full pass when the
// escape orientation no longer connects every pair and no lift mends it (a
// chip cut off, two components joined, a lift refused) or when the link
// state changed by more than that fiber.
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
	// With spread: this fraction of the destinations, the first placed
	// (they saw the least load), is placed again at the end. 0.25 costs a
	// quarter more time and takes a torus's maximum channel load from
	// about 1.3x the ideal to 1.2x; 1 (a second pass) to about 1.15x.
	double rebalance = 0.25;
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
