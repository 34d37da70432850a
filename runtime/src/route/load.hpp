// SPDX-License-Identifier: MIT
// Channel load and path lengths of a set of tables under uniform
// all-to-all traffic (every ordered pair of chips one unit), followed with
// the verifier's per-destination walk (the forwarding rules of hw-spec
// 13.4), against the topology's shortest paths over the UP fibers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/walk.hpp"

namespace lumen::route {

struct LoadReport {
	uint64_t pairs = 0;    // ordered pairs of distinct chips
	uint64_t arrived = 0;  // of those, delivered within TTL (only they load)
	uint64_t channels = 0; // UP directed channels (chip, port)

	// Per directed channel, summed over lanes: index chip * kMaxPorts + port.
	std::vector<uint64_t> load;
	uint64_t max_load = 0;
	PortRef max_channel;
	double mean_load = 0; // total load / channels

	// Lower bound of the maximum channel load of any routing: the larger
	// of (sum over pairs of shortest-path hops) / channels and, for a
	// grid with every fiber up, per dimension (hops the pairs must make
	// in it) / (its channels). Attainable (ideal_exact) for a torus with
	// every fiber up; a bound otherwise.
	double ideal_max = 0;
	bool ideal_exact = false;

	double mean_hops = 0; // over arrived pairs, hops the routes take
	unsigned max_hops = 0;
	double shortest_mean_hops = 0; // over connected pairs, in the UP graph
	unsigned diameter = 0;	       // longest shortest path (connected pairs)
	uint64_t disconnected = 0;     // pairs with no path in the UP graph
	double ms = 0;

	double max_over_ideal() const noexcept { return ideal_max > 0 ? max_load / ideal_max : 0; }
	double hops_over_shortest() const noexcept
	{
		return shortest_mean_hops > 0 ? mean_hops / shortest_mean_hops : 0;
	}
	// One line: load max/mean/ideal, hops mean/max against shortest/diameter.
	std::string str() const;
};

// O(N^2) per destination walks plus one BFS per destination.
LoadReport channel_load(const Topology &t, const Routes &r, const LinkState &ls,
			unsigned ttl = LUMEN_LINK_TTL_DEFAULT);

} // namespace lumen::route
