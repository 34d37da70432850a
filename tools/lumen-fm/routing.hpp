// SPDX-License-Identifier: MIT
// Routes for the fabric as discovered, from the routing library: the
// cabling (every fiber seen UP since the last re-patch) is matched against
// the grids it could be (ring, mesh, torus with chip id = x + A(y + Bz));
// a match gets dimension-order routes (route_dor), with the fibers that are
// down now routed around on their ring (see route_around_cuts). The result
// is verified with the down fibers cut before anything is uploaded.
//
// Stopgap until runtime/src/route grows Router (incremental reroute,
// Topology::from_fibers, infer_grid) and the topology-agnostic engine:
// graphs that are no grid, or whose cuts leave a ring in two pieces, get
// no routes here (and are logged as such).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/verify.hpp"

namespace lumen_fm {

// The grid topology whose fibers are exactly `cabling` over chips 0..N-1,
// if there is one (wrapped grids first).
std::optional<lumen::route::Topology> infer_grid(const std::set<lumen::route::Fiber> &cabling,
						 const std::set<uint32_t> &chips);

// Entries of DOR routes on a torus whose ring segment crosses a fiber in
// `down` are sent the other way round the ring (one cut per ring leaves a
// line, which has no channel cycle); entries whose other way is cut too are
// left as they are (the verifier then refuses the tables). Returns the
// number of entries changed.
size_t route_around_cuts(const lumen::route::Topology &t,
			 const std::vector<lumen::route::Fiber> &down, lumen::route::Routes &r);

struct RouteResult {
	bool ok = false;    // routes computed and verified
	std::string engine; // "dor"
	std::string why;    // when !ok: what went wrong
	std::unique_ptr<lumen::route::Topology> topo;
	std::unique_ptr<lumen::route::Routes> routes;
	lumen::route::VerifyReport report;
	std::vector<lumen::route::Fiber> down;
	double route_ms = 0, verify_ms = 0;
};

RouteResult compute_routes(const std::set<lumen::route::Fiber> &cabling,
			   const std::set<lumen::route::Fiber> &up, const std::set<uint32_t> &chips,
			   const std::string &engine);

} // namespace lumen_fm
