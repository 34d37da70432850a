// SPDX-License-Identifier: MIT
// Topology specs: which port of which chip is cabled to which (FABRIC.md 1-2).
// The specs are parsed by the routing library (runtime/src/route/topology.hpp),
// so the plant is cabled exactly as the routes over it are computed; this is
// the fabric's view of its result: a spec and the cables to patch.
#pragma once

#include <string>
#include <vector>

#include "route/topology.hpp"

namespace lumen::fabric {

// Port numbers 0-5 are +x -x +y -y +z -z; a card has up to 8 (LUMEN_LINK_PORTS_MAX).
using lumen::route::kMaxPorts;
// A bad spec, edge list or port; the message names the problem.
using lumen::route::TopologyError;
// "+x" for 0 .. "-z" for 5, the number otherwise.
using lumen::route::port_name;
// "CHIP.PORT" with PORT a number below kMaxPorts or a name +x..-z.
using lumen::route::parse_port;

// A port: chip id and port number; str() is "3.+x".
using Endpoint = lumen::route::PortRef;
// One fiber between two ports, stored with a < b so a cable has one spelling.
using Cable = lumen::route::Fiber;

// What the plant patches: the spec it was given and its cables.
struct Topology {
	std::string spec;
	std::vector<Cable> cables;
};

// ring:N, mesh:AxB[xC], torus:AxB[xC] or edges:FILE (lumen::route::Topology::parse),
// or none: no fibers. Throws TopologyError.
Topology parse_topology(const std::string &spec);

} // namespace lumen::fabric
