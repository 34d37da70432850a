// SPDX-License-Identifier: MIT
#include "topology.hpp"

namespace lumen::fabric {

Topology parse_topology(const std::string &spec)
{
	// A plant with every port dark: the plant's own spec, since a fabric
	// without fibers has no routes and the routing library has no such topology.
	if (spec == "none")
		return Topology{spec, {}};
	return Topology{spec, lumen::route::Topology::parse(spec).fibers()};
}

} // namespace lumen::fabric
