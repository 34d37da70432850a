// SPDX-License-Identifier: MIT
#include "sim.hpp"

#include <algorithm>
#include <stdexcept>

#include <lumen/lumen_link.h>

#include "failures.hpp"
#include "route/dor.hpp"
#include "route/verify.hpp"
#include "timing.hpp"

namespace lumen_fabric_sim {

using namespace lumen::route;

namespace {

constexpr size_t kProblemsKept = 4;

Verdict verdict_of(const VerifyReport &v, double ms)
{
	Verdict out;
	out.ok = v.ok();
	out.ms = ms;
	out.pairs = v.pairs;
	out.arrived = v.arrived;
	out.max_hops = v.max_hops;
	out.max_lane = v.max_lane;
	out.cdg_acyclic = v.cdg_checked && v.cdg_acyclic;
	out.problem_count = v.problem_count;
	out.problems = v.problems;
	if (out.problems.size() > kProblemsKept)
		out.problems.resize(kProblemsKept);
	return out;
}

Verdict run_verifier(const Topology &t, const Routes &r, const std::vector<Fiber> &cut)
{
	VerifyOptions vo;
	vo.cut = cut;
	vo.max_problems = kProblemsKept;
	VerifyReport v;
	double ms = time_ms([&] { v = verify(t, r, vo); });
	return verdict_of(v, ms);
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

	std::optional<Routes> routes;
	rep.engine = "dor";
	rep.full_ms = time_ms([&] { routes.emplace(route_dor(t)); });
	rep.verdict = run_verifier(t, *routes, {});
	rep.collectives = estimate_collectives(t, o.model, o.sizes);

	rep.figures.push_back({"full_routes_ms", "full routes (" + rep.engine + ")", rep.full_ms,
			       "ms", full_routes_target(rep.chips)});
	rep.figures.push_back(
		{"verifier_ms", "verifier", rep.verdict.ms, "ms", verify_target(rep.chips)});
	return rep;
}

} // namespace lumen_fabric_sim
