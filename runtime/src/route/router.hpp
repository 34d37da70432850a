// SPDX-License-Identifier: MIT
// The router: the one object the fabric manager and the simulator drive.
// It owns a topology, which fibers are up and the route tables of every
// chip, and keeps the tables right as fibers fail and come back or the
// optical switches re-patch the fabric (FABRIC.md 4, 6; issue 9).
//
// Engines: dimension-order routing (dor.hpp) for a ring, mesh or torus
// (also an edge-list topology infer_grid() recognises) with every fiber up;
// the topology-agnostic engine (agnostic.hpp) for anything else. Auto picks
// DOR when it can. One fiber down in a DOR fabric is repaired locally
// (repair_dor in dor.hpp: a few entries change, the result stays
// deadlock-free); when the repair cannot be proved safe (a second failure,
// a mesh edge, a path beyond the TTL) Auto moves to the agnostic engine, and
// back to DOR once every fiber is up again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/walk.hpp"

namespace lumen::route {

class AgnosticEngine;

enum class Engine { Auto, Dor, Agnostic };
const char *engine_name(Engine e); // "auto", "dor", "agnostic"

struct RouterOptions {
	Engine engine = Engine::Auto;
	bool spread = true;		       // split minimal-path ties over the ports
	bool alternatives = true;	       // fill alt_port for fast failover
	uint64_t seed = 1;		       // the agnostic engine's tie-break order
	unsigned ttl = LUMEN_LINK_TTL_DEFAULT; // the chips' TTL_DEFAULT
};

struct RerouteStats {
	Engine engine = Engine::Dor;   // the engine that produced the tables
	double ms = 0;		       // wall time of the call
	uint64_t entries_changed = 0;  // route words that differ from before
	uint32_t dests_recomputed = 0; // destinations whose entries were redone
	bool full = false;	       // every entry recomputed
};

class Router {
      public:
	// Computes full routes for t with every fiber up. Throws
	// TopologyError when t has more chip ids than a table holds, or
	// Engine::Dor is forced on a topology that is no grid.
	explicit Router(Topology t, RouterOptions o = {});
	~Router();
	Router(const Router &) = delete;
	Router &operator=(const Router &) = delete;

	const Topology &topology() const noexcept { return *t_; }
	const LinkState &links() const noexcept { return *ls_; }
	const Routes &routes() const noexcept { return routes_; }
	const RouterOptions &options() const noexcept { return o_; }
	// The grid shape DOR uses, when t is (or is cabled as) a grid.
	const std::optional<GridShape> &grid() const noexcept { return grid_; }
	// The engine whose tables are in use now (Dor or Agnostic).
	Engine engine() const noexcept { return engine_; }

	// Fiber f went down (up = false) or came back; recomputes only what it
	// touched. A fiber that is not t's, or already in that state, changes
	// nothing (stats with entries_changed 0). Never throws for a fiber.
	RerouteStats set_fiber(const Fiber &f, bool up);
	// Full recompute with the current fibers.
	RerouteStats recompute();
	// The optical switches re-patched the fabric: new cabling, every fiber
	// up, full recompute. The tables keep their id_limit only if t's is
	// the same; compare with diff_tables() against what the chips hold.
	RerouteStats repatch(Topology t);

      private:
	void adopt(Topology t);
	// Full routes for the current fibers with the engine the options and
	// the fibers call for.
	RerouteStats full_routes();
	RerouteStats agnostic_update(const Fiber &f, bool up);
	uint64_t undo_repair();

	RouterOptions o_;
	std::unique_ptr<Topology> t_; // stable address: ls_ and agnostic_ refer to it
	std::unique_ptr<LinkState> ls_;
	std::optional<GridShape> grid_;
	Routes routes_;
	Engine engine_ = Engine::Dor;
	std::unique_ptr<AgnosticEngine> agnostic_;
	// The DOR repair in place (one fiber down): (chip * id_limit + dest,
	// DOR word) of each entry it changed, to put back when the fiber is up.
	std::optional<Fiber> repaired_;
	std::vector<std::pair<uint64_t, uint32_t>> repair_undo_;
};

} // namespace lumen::route
