// SPDX-License-Identifier: MIT
#include "route/router.hpp"

#include <algorithm>
#include <chrono>

#include "route/agnostic.hpp"
#include "route/dor.hpp"

namespace lumen::route {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start)
{
	return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Words that differ between two table sets (beyond one's id_limit: 0).
uint64_t words_differing(const Routes &x, const Routes &y)
{
	const uint32_t n = std::max(x.id_limit(), y.id_limit());
	uint64_t changed = 0;
	if (x.id_limit() == y.id_limit()) {
		for (uint32_t c = 0; c < n; c++) {
			const uint32_t *rx = x.row(c), *ry = y.row(c);
			if (std::equal(rx, rx + n, ry))
				continue;
			for (uint32_t d = 0; d < n; d++)
				changed += rx[d] != ry[d];
		}
		return changed;
	}
	for (uint32_t c = 0; c < n; c++) {
		const uint32_t *rx = x.row(c), *ry = y.row(c);
		const uint32_t nx = rx ? x.id_limit() : 0, ny = ry ? y.id_limit() : 0;
		for (uint32_t d = 0; d < n; d++)
			changed += (d < nx ? rx[d] : 0) != (d < ny ? ry[d] : 0);
	}
	return changed;
}

} // namespace

const char *engine_name(Engine e)
{
	switch (e) {
	case Engine::Auto:
		return "auto";
	case Engine::Dor:
		return "dor";
	case Engine::Agnostic:
		return "agnostic";
	}
	return "?";
}

Router::Router(Topology t, RouterOptions o) : o_(o)
{
	adopt(std::move(t));
	full_routes();
}

Router::~Router() = default;

void Router::adopt(Topology t)
{
	std::optional<GridShape> grid = infer_grid(t);
	if (o_.engine == Engine::Dor && !grid)
		throw TopologyError("topology '" + t.spec() +
				    "': dimension-order routing needs a ring, mesh or torus");
	// The engine and the link state refer to the topology they replace.
	agnostic_.reset();
	ls_.reset();
	t_ = std::make_unique<Topology>(std::move(t));
	ls_ = std::make_unique<LinkState>(*t_);
	grid_ = std::move(grid);
	repaired_.reset();
	repair_undo_.clear();
}

RerouteStats Router::full_routes()
{
	const auto start = Clock::now();
	RerouteStats st;
	st.full = true;
	st.dests_recomputed = static_cast<uint32_t>(t_->chips().size());
	const std::vector<Fiber> down = ls_->cut_fibers();
	// DOR: forced, or Auto on a grid with at most one fiber down that the
	// local repair handles (else the agnostic engine).
	const bool dor_possible = grid_ && (o_.engine == Engine::Dor ||
					    (o_.engine == Engine::Auto && down.size() <= 1));
	std::optional<Routes> next;
	repaired_.reset();
	repair_undo_.clear();
	if (dor_possible && down.empty() && routes_.id_limit() == t_->id_limit()) {
		// In place: no allocation, the changes counted as written.
		st.entries_changed = route_dor_into(
			*t_, *grid_, DorOptions{o_.spread, o_.alternatives}, routes_);
		engine_ = st.engine = Engine::Dor;
		st.ms = ms_since(start);
		return st;
	}
	if (dor_possible) {
		Routes r = route_dor(*t_, *grid_, DorOptions{o_.spread, o_.alternatives});
		bool ok = true;
		if (down.size() == 1) {
			DorRepair rep = repair_dor(*t_, *grid_, down[0], r, o_.ttl);
			if (rep.repaired) {
				repaired_ = down[0];
				repair_undo_ = std::move(rep.undo);
			}
			// Forced DOR keeps the plain tables (fast failover only).
			ok = rep.repaired || o_.engine == Engine::Dor;
		}
		if (ok)
			next = std::move(r);
	}
	if (next) {
		engine_ = Engine::Dor;
	} else {
		if (!agnostic_)
			agnostic_ = std::make_unique<AgnosticEngine>(
				*t_, AgnosticOptions{LUMEN_LINK_LANES, o_.alternatives, o_.spread,
						     o_.seed});
		next.emplace(t_->id_limit());
		agnostic_->compute(*ls_, *next);
		engine_ = Engine::Agnostic;
	}
	st.entries_changed = words_differing(routes_, *next);
	routes_ = std::move(*next);
	st.engine = engine_;
	st.ms = ms_since(start);
	return st;
}

uint64_t Router::undo_repair()
{
	const uint32_t limit = routes_.id_limit();
	for (const auto &[index, word] : repair_undo_)
		routes_.row(static_cast<uint32_t>(index / limit))[index % limit] = word;
	const uint64_t n = repair_undo_.size();
	repaired_.reset();
	repair_undo_.clear();
	return n;
}

RerouteStats Router::agnostic_update(const Fiber &f, bool up)
{
	const auto start = Clock::now();
	RerouteStats st;
	const uint64_t before = routes_.changes();
	const std::vector<uint32_t> dests = agnostic_->update(*ls_, f, up, routes_);
	st.engine = Engine::Agnostic;
	st.entries_changed = routes_.changes() - before;
	st.dests_recomputed = static_cast<uint32_t>(dests.size());
	st.full = agnostic_->stats().full;
	st.ms = ms_since(start);
	return st;
}

RerouteStats Router::set_fiber(const Fiber &f_in, bool up)
{
	const auto start = Clock::now();
	RerouteStats st;
	st.engine = engine_;
	const Fiber f = f_in.b < f_in.a ? Fiber{f_in.b, f_in.a} : f_in;
	const std::optional<PortRef> far = t_->neighbour(f.a);
	if (!far || *far != f.b || (ls_->up(f.a) && ls_->up(f.b)) == up)
		return st; // not a fiber of the fabric, or no change
	ls_->set(f, up);

	if (engine_ == Engine::Agnostic) {
		// Back to DOR once every fiber is up again.
		if (up && o_.engine == Engine::Auto && grid_ && ls_->all_up())
			return full_routes();
		return agnostic_update(f, up);
	}
	// DOR tables.
	if (!up) {
		if (!repaired_ && ls_->ports_down() == 2) {
			DorRepair rep = repair_dor(*t_, *grid_, f, routes_, o_.ttl);
			if (rep.repaired) {
				repaired_ = f;
				repair_undo_ = std::move(rep.undo);
				st.entries_changed = rep.entries_changed;
				st.dests_recomputed = rep.dests;
				st.ms = ms_since(start);
				return st;
			}
		}
		if (o_.engine == Engine::Dor) {
			// Forced DOR, no safe repair: plain DOR tables.
			if (repaired_)
				st.entries_changed = undo_repair();
			st.ms = ms_since(start);
			return st;
		}
		return full_routes(); // Auto: the agnostic engine
	}
	if (repaired_ && *repaired_ == f) {
		st.dests_recomputed = 0;
		std::vector<uint8_t> seen(routes_.id_limit(), 0);
		for (const auto &[index, word] : repair_undo_) {
			const uint32_t dest = static_cast<uint32_t>(index % routes_.id_limit());
			st.dests_recomputed += !seen[dest];
			seen[dest] = 1;
		}
		st.entries_changed = undo_repair();
		st.ms = ms_since(start);
		return st;
	}
	// Forced DOR with several fibers down, one back: repair the last one.
	if (ls_->ports_down() == 2)
		return full_routes();
	st.ms = ms_since(start);
	return st;
}

RerouteStats Router::recompute()
{
	return full_routes();
}

RerouteStats Router::repatch(Topology t)
{
	const auto start = Clock::now();
	adopt(std::move(t));
	RerouteStats st = full_routes();
	st.ms = ms_since(start);
	return st;
}

} // namespace lumen::route
