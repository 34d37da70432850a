// SPDX-License-Identifier: MIT
// Routes for the fabric as discovered, from the routing library's Router
// (runtime/src/route/router.hpp, the same code lumen-fabric-sim runs): the
// cabling (every fiber seen UP since the last re-patch) becomes a Topology
// (Topology::from_fibers; infer_grid() finds a ring, mesh or torus whatever
// the chip ids), the Router computes full routes once, then follows the
// fibers going down and up incrementally (set_fiber) and starts again from
// the new cabling after a re-patch. auto picks dimension-order routing on a
// grid and the topology-agnostic engine for anything else (a graph that is
// no grid, or cuts DOR cannot route around). The result is verified with
// the down fibers cut before anything is uploaded.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "route/router.hpp"
#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/verify.hpp"

namespace lumen_fm {

struct RouteResult {
	bool ok = false;    // routes computed and verified
	std::string engine; // "dor" or "agnostic": the tables' engine
	std::string why;    // when !ok: what went wrong
	bool full = false;  // every entry was recomputed (first routes, re-patch)
	uint64_t entries_changed = 0;
	// Copies of the Router's topology and tables the manager uploaded and
	// answers route queries from (the Router moves on with the next sweep).
	std::unique_ptr<lumen::route::Topology> topo;
	std::unique_ptr<lumen::route::Routes> routes;
	lumen::route::VerifyReport report;
	std::vector<lumen::route::Fiber> down;
	// Cabled chips the local chip cannot reach over the fibers up (a
	// partitioned fabric): no pair with one of them is verified, and
	// the tables hold no route to them.
	std::vector<uint32_t> unreachable;
	double route_ms = 0, verify_ms = 0;
};

class FabricRouting {
      public:
	// engine: "auto", "dor" or "agnostic" (lumen-fm run --engine).
	explicit FabricRouting(const std::string &engine);
	~FabricRouting();
	FabricRouting(const FabricRouting &) = delete;
	FabricRouting &operator=(const FabricRouting &) = delete;

	// Routes for `cabling` with only the fibers of `up` lit. A cabling other
	// than the last one's is a new topology (full routes); the same cabling
	// moves only the fibers whose state changed. When the fibers up split
	// the fabric, the part `local` reaches is verified (a dead guest or a
	// cut bundle must not stop the rest from being routed). Never throws:
	// a cabling the library refuses (a port cabled twice, ids out of range,
	// DOR forced on no grid) comes back with ok = false and why.
	RouteResult update(const std::set<lumen::route::Fiber> &cabling,
			   const std::set<lumen::route::Fiber> &up, uint32_t local);

      private:
	lumen::route::RouterOptions opts_;
	std::set<lumen::route::Fiber> built_for_;
	std::unique_ptr<lumen::route::Router> router_;
};

} // namespace lumen_fm
