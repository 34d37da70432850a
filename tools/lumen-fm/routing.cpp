// SPDX-License-Identifier: MIT
#include "routing.hpp"

#include <map>

#include "log.hpp"

namespace lumen_fm {

using lumen::route::Engine;
using lumen::route::Fiber;
using lumen::route::RerouteStats;
using lumen::route::Router;
using lumen::route::Topology;

FabricRouting::FabricRouting(const std::string &engine)
{
	opts_.engine = engine == "dor"	      ? Engine::Dor
		       : engine == "agnostic" ? Engine::Agnostic
					      : Engine::Auto;
}

FabricRouting::~FabricRouting() = default;

namespace {

// The chips local reaches over the fibers of up (local included).
std::set<uint32_t> reached_from(uint32_t local, const std::set<Fiber> &up)
{
	std::map<uint32_t, std::vector<uint32_t>> adj;
	for (const Fiber &f : up) {
		adj[f.a.chip].push_back(f.b.chip);
		adj[f.b.chip].push_back(f.a.chip);
	}
	std::set<uint32_t> seen = {local};
	std::vector<uint32_t> todo = {local};
	while (!todo.empty()) {
		const uint32_t c = todo.back();
		todo.pop_back();
		for (uint32_t n : adj[c])
			if (seen.insert(n).second)
				todo.push_back(n);
	}
	return seen;
}

} // namespace

RouteResult FabricRouting::update(const std::set<Fiber> &cabling, const std::set<Fiber> &up,
				  uint32_t local)
{
	RouteResult res;
	const double t0 = mono_ms();

	for (const Fiber &f : cabling)
		if (!up.count(f))
			res.down.push_back(f);
	if (cabling.empty()) {
		res.why = "no fibers: nothing to route";
		return res;
	}
	try {
		if (!router_ || cabling != built_for_) {
			Topology t = Topology::from_fibers({cabling.begin(), cabling.end()},
							   "discovered");
			if (router_)
				router_->repatch(std::move(t));
			else
				router_ = std::make_unique<Router>(std::move(t), opts_);
			built_for_ = cabling;
			res.full = true;
		}
		// Fibers back first, then those gone: a batch with one of each
		// leaves one fiber down (a DOR repair), not two for a moment.
		for (const bool lit : {true, false})
			for (const Fiber &f : cabling) {
				if ((up.count(f) != 0) != lit || router_->links().up(f.a) == lit)
					continue;
				const RerouteStats st = router_->set_fiber(f, lit);
				res.full |= st.full;
				res.entries_changed += st.entries_changed;
			}
	} catch (const std::exception &e) {
		// A topology the library refuses, or a failure half-way through
		// (the Router's fibers and tables may disagree): start again from
		// the cabling at the next sweep.
		router_.reset();
		built_for_.clear();
		res.why = e.what();
		return res;
	}
	res.engine = lumen::route::engine_name(router_->engine());
	res.route_ms = mono_ms() - t0;
	log_debug("route: {} ({}), {} entries changed, {} fibers down", res.engine,
		  res.full ? "full" : "incremental", res.entries_changed, res.down.size());

	const double t1 = mono_ms();
	lumen::route::VerifyOptions vo;
	vo.ttl = router_->options().ttl;
	vo.cut = res.down;
	const std::set<uint32_t> reached = reached_from(local, up);
	for (uint32_t c : router_->topology().chips())
		if (!reached.count(c))
			res.unreachable.push_back(c);
	if (!res.unreachable.empty()) {
		for (uint32_t c : router_->topology().chips())
			if (reached.count(c))
				vo.only.push_back(c);
		if (vo.only.size() < 2)
			vo.only.clear(); // nothing to verify but the whole
	}
	res.report = lumen::route::verify(router_->topology(), router_->routes(), vo);
	res.verify_ms = mono_ms() - t1;
	res.ok = res.report.ok();
	if (!res.ok) {
		res.why = "verifier: " + res.report.str();
		return res;
	}
	res.topo = std::make_unique<Topology>(router_->topology());
	res.routes = std::make_unique<lumen::route::Routes>(router_->routes());
	return res;
}

} // namespace lumen_fm
