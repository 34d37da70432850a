// SPDX-License-Identifier: MIT
#include "sim.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include <lumen/lumen_link.h>

#include "failures.hpp"
#include "route/agnostic.hpp"
#include "route/diff.hpp"
#include "route/load.hpp"
#include "route/router.hpp"
#include "route/verify.hpp"
#include "timing.hpp"

namespace lumen_fabric_sim {

using namespace lumen::route;

namespace {

constexpr size_t kProblemsKept = 4;

// The verifier names every cut fiber in each problem: hundreds at 1% of a
// big fabric. The list is the run's (in the report once); a problem keeps
// its count.
std::string shorten(const std::string &problem, size_t cut)
{
	const size_t open = problem.find("(cut ");
	const size_t close = open == std::string::npos ? open : problem.find(')', open);
	if (close == std::string::npos)
		return problem;
	return problem.substr(0, open) + "(" + std::to_string(cut) + " fibers cut" +
	       problem.substr(close);
}

Verdict run_verifier(const Topology &t, const Routes &r, const std::vector<Fiber> &cut)
{
	VerifyOptions vo;
	vo.cut = cut;
	vo.max_problems = kProblemsKept;
	VerifyReport v;
	Verdict out;
	out.time = timed([&] { v = verify(t, r, vo); });
	out.ok = v.ok();
	out.pairs = v.pairs;
	out.arrived = v.arrived;
	out.max_hops = v.max_hops;
	out.max_lane = v.max_lane;
	out.cdg_acyclic = v.cdg_checked && v.cdg_acyclic;
	out.problem_count = v.problem_count;
	for (const std::string &p : v.problems)
		out.problems.push_back(shorten(p, cut.size()));
	return out;
}

// Hops and channel load of r under uniform all-to-all traffic; lanes from
// the verifier, which walks the same paths.
Quality quality_of(const Topology &t, const Routes &r, const LinkState &ls, const Verdict &v)
{
	const LoadReport l = channel_load(t, r, ls);
	Quality q;
	q.mean_hops = l.mean_hops;
	q.max_hops = l.max_hops;
	q.mean_shortest = l.shortest_mean_hops;
	q.diameter = l.diameter;
	q.max_load = double(l.max_load);
	q.mean_load = l.mean_load;
	q.ideal_load = l.ideal_max;
	q.ideal_exact = l.ideal_exact;
	q.disconnected = l.disconnected;
	q.lanes_used = v.pairs ? v.max_lane + 1 : 0;
	q.ms = l.ms;
	return q;
}

std::string fiber_str(const Fiber &f)
{
	return f.a.str() + "-" + f.b.str();
}

double median(std::vector<double> v)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	const size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double max_of(const std::vector<double> &v)
{
	return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

// Failures one at a time through the router, as link traps reach the
// fabric manager; each one's diff is what the manager would upload.
FailureRun fail_fibers(Router &router, const SimOptions &o)
{
	const Topology &t = router.topology();
	FailureRun run;
	run.seed = o.seed;
	std::vector<double> ms, entries, bytes;
	for (const Fiber &f : pick_failures(t, o.fail, o.seed)) {
		const Routes held = router.routes();
		RerouteStats s;
		const Timing time = timed([&] { s = router.set_fiber(f, false); });
		const TableDiff d = diff_tables(held, router.routes());
		run.steps.push_back({fiber_str(f), engine_name(s.engine), time, s.entries_changed,
				     s.dests_recomputed, d.bytes(), s.full});
		ms.push_back(time.wall_ms);
		entries.push_back(double(s.entries_changed));
		bytes.push_back(double(d.bytes()));
	}
	run.median_ms = median(ms);
	run.max_ms = max_of(ms);
	run.median_entries = median(entries);
	run.max_entries = max_of(entries);
	run.median_diff_bytes = median(bytes);
	run.max_diff_bytes = max_of(bytes);
	run.verdict = run_verifier(t, router.routes(), router.links().cut_fibers());
	run.quality = quality_of(t, router.routes(), router.links(), run.verdict);
	return run;
}

// The agnostic engine from scratch on t with pct% of its fibers down.
AgnosticRun agnostic_from_scratch(const Topology &t, const SimOptions &o)
{
	AgnosticRun run;
	run.pct = o.fail_pct;
	run.seed = o.seed;
	const std::vector<Fiber> failed =
		pick_failures(t, fibers_for_percent(t, o.fail_pct), o.seed);
	run.failed = failed.size();
	LinkState ls(t);
	for (const Fiber &f : failed)
		ls.cut(f);
	Routes r(t.id_limit());
	AgnosticEngine engine(t);
	run.time = timed([&] { engine.compute(ls, r); });
	const AgnosticStats &s = engine.stats();
	run.lanes_used = s.lanes_used;
	run.minimal_dests = s.minimal_dests;
	run.longer_dests = s.longer_dests;
	run.fallback_dests = s.fallback_dests;
	run.verdict = run_verifier(t, r, failed);
	run.quality = quality_of(t, r, ls, run.verdict);
	return run;
}

// An OCS node: routes for the first shape, then Router::repatch to the
// second; the diff is what the chips must be sent.
RepatchRun repatch(const Topology &from, const Topology &to, const SimOptions &o)
{
	RepatchRun run;
	run.from = from.spec();
	run.to = to.spec();
	run.fibers = to.fibers().size();
	Router router(from);
	const Routes held = router.routes();
	RerouteStats s;
	run.time = timed([&] { s = router.repatch(to); });
	const TableDiff d = diff_tables(held, router.routes());
	run.engine = engine_name(s.engine);
	run.entries_changed = s.entries_changed;
	run.diff_bytes = d.bytes();
	run.verdict = run_verifier(router.topology(), router.routes(), {});
	run.quality = quality_of(router.topology(), router.routes(), router.links(), run.verdict);
	run.collectives = estimate_collectives(router.topology(), o.model, o.sizes);
	return run;
}

Figure time_figure(std::string key, std::string label, const Timing &t,
		   std::optional<Target> target)
{
	return {std::move(key), std::move(label), t.wall_ms, "ms", std::move(target), t.cpu_ms};
}

Figure ratio_figure(std::string key, std::string label, double value, double ideal, Target target)
{
	return {std::move(key),	   std::move(label), ideal > 0 ? value / ideal : 0, "x",
		std::move(target), std::nullopt};
}

void add_figures(LayoutReport &rep)
{
	auto &f = rep.figures;
	const Quality &q = rep.quality;
	f.push_back(time_figure("full_routes_ms", "full routes (" + rep.engine + ")", rep.full,
				full_routes_target(rep.chips)));
	f.push_back(
		time_figure("verifier_ms", "verifier", rep.verdict.time, verify_target(rep.chips)));
	f.push_back(ratio_figure("mean_hops_over_shortest", "mean hops / shortest paths",
				 q.mean_hops, q.mean_shortest, mean_hops_target()));
	f.push_back(ratio_figure("max_load_over_ideal", "max channel load / ideal", q.max_load,
				 q.ideal_load, channel_load_target()));
	if (rep.failures && !rep.failures->steps.empty()) {
		const FailureRun &r = *rep.failures;
		f.push_back(time_figure("reroute_first_ms", "reroute after one failure (the first)",
					r.steps.front().time, reroute_target(rep.chips)));
		f.push_back({"reroute_median_ms", "reroute per failure, median", r.median_ms, "ms",
			     std::nullopt, std::nullopt});
		f.push_back({"reroute_max_ms", "reroute per failure, max", r.max_ms, "ms",
			     std::nullopt, std::nullopt});
		f.push_back({"diff_bytes_median", "diff uploaded per failure, median",
			     r.median_diff_bytes, "B", std::nullopt, std::nullopt});
	}
	if (rep.agnostic) {
		// The bar is for 1% failed; more failures may take longer.
		const AgnosticRun &a = *rep.agnostic;
		f.push_back(time_figure(
			"agnostic_ms", fmt::format("agnostic engine, {:g}% fibers failed", a.pct),
			a.time, a.pct <= 1 ? agnostic_target(rep.chips) : std::nullopt));
	}
	if (rep.repatch)
		f.push_back(time_figure("repatch_ms", "OCS re-patch, full recompute",
					rep.repatch->time, full_routes_target(rep.chips)));
}

} // namespace

void check_options(const Layout &layout, const SimOptions &o)
{
	const Topology &t = layout.topology;
	if (o.fail > t.fibers().size())
		throw std::invalid_argument("--fail " + std::to_string(o.fail) + ": layout '" +
					    layout.name + "' has only " +
					    std::to_string(t.fibers().size()) + " fibers");
	fibers_for_percent(t, o.fail_pct);
}

LayoutReport simulate(const Layout &layout, const SimOptions &o)
{
	const Topology &t = layout.topology;
	LayoutReport rep;
	rep.layout = layout.name;
	rep.spec = t.spec();
	rep.chips = t.chips().size();
	rep.fibers = t.fibers().size();
	rep.id_limit = t.id_limit();
	rep.table_bytes_held = uint64_t(LUMEN_ROUTE_TABLE_SIZE) * sizeof(uint32_t);
	rep.table_bytes_used = uint64_t(t.id_limit()) * sizeof(uint32_t);

	// The first routes allocate every table; the figure is a recompute,
	// what a fabric manager does on a sweep.
	std::unique_ptr<Router> router;
	rep.first = timed([&] { router = std::make_unique<Router>(t); });
	RerouteStats full;
	rep.full = timed([&] { full = router->recompute(); });
	rep.engine = engine_name(full.engine);
	rep.verdict = run_verifier(t, router->routes(), {});
	rep.quality = quality_of(t, router->routes(), router->links(), rep.verdict);
	rep.collectives = estimate_collectives(t, o.model, o.sizes);

	if (o.fail)
		rep.failures = fail_fibers(*router, o);
	router.reset(); // its tables: 256 MiB at 8192 chips
	if (o.fail_pct > 0)
		rep.agnostic = agnostic_from_scratch(t, o);
	if (layout.repatch)
		rep.repatch = repatch(t, *layout.repatch, o);
	add_figures(rep);
	return rep;
}

} // namespace lumen_fabric_sim
