// SPDX-License-Identifier: MIT
#include "route/load.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "route/dest_walk.hpp"

namespace lumen::route {
namespace {

// Shortest paths over the UP fibers: one BFS per destination.
struct ShortestPaths {
	uint64_t hops = 0, connected = 0, disconnected = 0;
	unsigned diameter = 0;
};

ShortestPaths shortest_paths(const Topology &t, const LinkState &ls)
{
	const uint32_t limit = t.id_limit();
	// Neighbours over UP ports, CSR.
	std::vector<uint32_t> first(limit + 1, 0), adj;
	for (uint32_t c = 0; c < limit; c++) {
		first[c] = static_cast<uint32_t>(adj.size());
		for (unsigned p = 0; p < kMaxPorts; p++)
			if (ls.up_ports(c) >> p & 1)
				adj.push_back(
					t.neighbour(PortRef{c, static_cast<uint8_t>(p)})->chip);
	}
	first[limit] = static_cast<uint32_t>(adj.size());
	ShortestPaths sp;
	std::vector<uint32_t> seen(limit, UINT32_MAX), queue(limit);
	std::vector<uint16_t> dist(limit, 0);
	const uint64_t others = t.chips().size() - 1;
	for (uint32_t d : t.chips()) {
		size_t head = 0, tail = 0;
		queue[tail++] = d;
		seen[d] = d;
		dist[d] = 0;
		while (head < tail) {
			const uint32_t c = queue[head++];
			for (uint32_t i = first[c]; i < first[c + 1]; i++) {
				const uint32_t n = adj[i];
				if (seen[n] == d)
					continue;
				seen[n] = d;
				dist[n] = static_cast<uint16_t>(dist[c] + 1);
				sp.hops += dist[n];
				sp.diameter = std::max<unsigned>(sp.diameter, dist[n]);
				queue[tail++] = n;
			}
		}
		sp.connected += tail - 1;
		sp.disconnected += others - (tail - 1);
	}
	return sp;
}

// A grid with every fiber up: the shortest path is the sum of the ring (or
// line) distances, so the sums come in closed form, no BFS.
ShortestPaths grid_shortest_paths(const GridShape &g)
{
	ShortestPaths sp;
	const uint64_t n = g.chips();
	for (unsigned d = 0; d < 3; d++) {
		const uint32_t k = g.dims[d];
		uint64_t pair_sum = 0; // over coordinate pairs (i, j)
		for (uint32_t i = 0; i < k; i++)
			for (uint32_t j = 0; j < k; j++) {
				const uint32_t diff = i > j ? i - j : j - i;
				pair_sum += g.wrap ? std::min(diff, k - diff) : diff;
			}
		sp.hops += n * (n / k) * pair_sum / k;
		sp.diameter += g.wrap ? k / 2 : k - 1;
	}
	sp.connected = n * (n - 1);
	return sp;
}

// Per dimension of a grid with every fiber up, the hops the pairs must
// make in it over its channels; the largest is the bound.
double grid_bound(const Topology &t, const LinkState &ls, const GridShape &g)
{
	const double n = g.chips();
	double bound = 0;
	for (unsigned d = 0; d < 3; d++) {
		const uint32_t k = g.dims[d];
		if (k < 2)
			continue;
		double pair_sum = 0; // over coordinate pairs (i, j)
		for (uint32_t i = 0; i < k; i++)
			for (uint32_t j = 0; j < k; j++) {
				const uint32_t diff = i > j ? i - j : j - i;
				pair_sum += g.wrap ? std::min(diff, k - diff) : diff;
			}
		uint64_t channels = 0;
		for (uint32_t c : t.chips())
			channels += __builtin_popcount(ls.up_ports(c) & (3u << (2 * d)));
		if (channels)
			bound = std::max(bound, n * (n / k) * (pair_sum / k) / channels);
	}
	return bound;
}

} // namespace

std::string LoadReport::str() const
{
	char buf[400];
	std::snprintf(buf, sizeof(buf),
		      "load max %llu (%s) mean %.1f ideal %s%.1f (x%.3f); hops mean %.3f max %u, "
		      "shortest mean %.3f diameter %u; %llu/%llu pairs arrived",
		      static_cast<unsigned long long>(max_load), max_channel.str().c_str(),
		      mean_load, ideal_exact ? "" : ">= ", ideal_max, max_over_ideal(), mean_hops,
		      max_hops, shortest_mean_hops, diameter,
		      static_cast<unsigned long long>(arrived),
		      static_cast<unsigned long long>(pairs));
	return buf;
}

LoadReport channel_load(const Topology &t, const Routes &r, const LinkState &ls, unsigned ttl)
{
	const auto start = std::chrono::steady_clock::now();
	LoadReport rep;
	const uint32_t limit = t.id_limit();
	rep.load.assign(size_t(limit) * kMaxPorts, 0);
	DestinationWalk dw(r, ls, ttl);
	uint64_t hops = 0;
	for (uint32_t d : t.chips()) {
		dw.run(d, t.chips(), DestinationWalk::kLoad);
		dw.add_load(rep.load);
		const DestinationWalk::Summary &sum = dw.summary();
		rep.pairs += sum.pairs;
		rep.arrived += sum.arrived;
		hops += sum.hops;
		rep.max_hops = std::max(rep.max_hops, sum.max_hops);
	}
	uint64_t total = 0;
	for (uint32_t c = 0; c < limit; c++) {
		rep.channels += __builtin_popcount(ls.up_ports(c));
		for (unsigned p = 0; p < kMaxPorts; p++) {
			const uint64_t l = rep.load[size_t(c) * kMaxPorts + p];
			total += l;
			if (l > rep.max_load) {
				rep.max_load = l;
				rep.max_channel = PortRef{c, static_cast<uint8_t>(p)};
			}
		}
	}
	rep.mean_load = rep.channels ? double(total) / rep.channels : 0;
	rep.mean_hops = rep.arrived ? double(hops) / rep.arrived : 0;

	const std::optional<GridShape> g = ls.all_up() ? infer_grid(t) : std::nullopt;
	const ShortestPaths sp = g ? grid_shortest_paths(*g) : shortest_paths(t, ls);
	rep.shortest_mean_hops = sp.connected ? double(sp.hops) / sp.connected : 0;
	rep.diameter = sp.diameter;
	rep.disconnected = sp.disconnected;
	rep.ideal_max = rep.channels ? double(sp.hops) / rep.channels : 0;
	if (g) {
		rep.ideal_max = std::max(rep.ideal_max, grid_bound(t, ls, *g));
		rep.ideal_exact = g->wrap;
	}
	rep.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
			 .count();
	return rep;
}

} // namespace lumen::route
