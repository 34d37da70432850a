// SPDX-License-Identifier: MIT
#include "routing.hpp"

#include "log.hpp"
#include "route/dor.hpp"
#include "route/walk.hpp"

namespace lumen_fm {

using lumen::route::Fiber;
using lumen::route::LinkState;
using lumen::route::PortRef;
using lumen::route::Routes;
using lumen::route::Topology;

std::optional<Topology> infer_grid(const std::set<Fiber> &cabling, const std::set<uint32_t> &chips)
{
	if (chips.empty() || cabling.empty())
		return std::nullopt;
	uint32_t n = static_cast<uint32_t>(chips.size());
	if (*chips.begin() != 0 || *chips.rbegin() != n - 1)
		return std::nullopt; // ids of a grid are 0..N-1
	for (bool wrap : {true, false}) {
		for (uint32_t a = 1; a <= n; a++) {
			if (n % a)
				continue;
			for (uint32_t b = 1; b <= n / a; b++) {
				if ((n / a) % b)
					continue;
				uint32_t c = n / a / b;
				Topology t = Topology::grid({a, b, c}, wrap);
				if (t.fibers().size() != cabling.size())
					continue;
				if (std::set<Fiber>(t.fibers().begin(), t.fibers().end()) ==
				    cabling)
					return t;
			}
		}
	}
	return std::nullopt;
}

size_t route_around_cuts(const Topology &t, const std::vector<Fiber> &down, Routes &r)
{
	if (down.empty())
		return 0;
	LinkState ls(t);
	for (const Fiber &f : down)
		ls.cut(f);
	size_t changed = 0;
	// Does leaving c by port p and going on the same way reach coordinate
	// `to` of dimension k over UP fibers only?
	auto clear = [&](uint32_t c, uint8_t p, unsigned k, uint32_t to) {
		for (uint32_t step = 0; step <= t.dims()[k]; step++) {
			if (t.coords(c)[k] == to)
				return true;
			if (!ls.up({c, p}))
				return false;
			auto n = t.neighbour({c, p});
			if (!n)
				return false;
			c = n->chip;
		}
		return false;
	};
	for (uint32_t c : t.chips()) {
		for (uint32_t d : t.chips()) {
			if (c == d)
				continue;
			auto e = r.entry(c, d);
			if (!e.valid)
				continue;
			unsigned k = e.port / 2;
			uint32_t to = t.coords(d)[k];
			if (clear(c, e.port, k, to))
				continue;
			uint8_t other = static_cast<uint8_t>(e.port ^ 1);
			if (!clear(c, other, k, to))
				continue; // cut both ways: the verifier will say so
			e.port = other;
			e.alt_port = lumen::route::kNoPort;
			r.set(c, d, e);
			changed++;
		}
	}
	return changed;
}

RouteResult compute_routes(const std::set<Fiber> &cabling, const std::set<Fiber> &up,
			   const std::set<uint32_t> &chips, const std::string &engine)
{
	RouteResult res;
	double t0 = mono_ms();

	for (const Fiber &f : cabling)
		if (!up.count(f))
			res.down.push_back(f);
	if (engine == "agnostic") {
		res.why = "the topology-agnostic engine is not in the routing library yet";
		return res;
	}
	auto grid = infer_grid(cabling, chips);
	if (!grid) {
		res.why =
			fmt::format("{} chips and {} fibers form no ring, mesh or torus with chip "
				    "ids x + A(y + Bz); that needs the topology-agnostic engine",
				    chips.size(), cabling.size());
		return res;
	}
	res.engine = "dor";
	res.topo = std::make_unique<Topology>(std::move(*grid));
	try {
		res.routes = std::make_unique<Routes>(lumen::route::route_dor(*res.topo));
	} catch (const lumen::route::TopologyError &e) {
		res.why = e.what();
		return res;
	}
	size_t moved = route_around_cuts(*res.topo, res.down, *res.routes);
	res.route_ms = mono_ms() - t0;
	if (moved)
		log_debug("route: {} entries go the other way round {} cut fibers", moved,
			  res.down.size());
	double t1 = mono_ms();
	lumen::route::VerifyOptions vo;
	vo.cut = res.down;
	res.report = lumen::route::verify(*res.topo, *res.routes, vo);
	res.verify_ms = mono_ms() - t1;
	res.ok = res.report.ok();
	if (!res.ok)
		res.why = "verifier: " + res.report.str();
	return res;
}

} // namespace lumen_fm
