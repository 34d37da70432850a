// SPDX-License-Identifier: MIT
#include "report.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ostream.h>

namespace lumen_fabric_sim {

using nlohmann::json;
using namespace lumen::route;

namespace {

json verdict_json(const Verdict &v)
{
	return {{"ok", v.ok},
		{"ms", v.time.wall_ms},
		{"cpu_ms", v.time.cpu_ms},
		{"pairs", v.pairs},
		{"arrived", v.arrived},
		{"max_hops", v.max_hops},
		{"max_lane", v.max_lane},
		{"cdg_acyclic", v.cdg_acyclic},
		{"problem_count", v.problem_count},
		{"problems", v.problems}};
}

json quality_json(const Quality &q)
{
	return {{"mean_hops", q.mean_hops},
		{"max_hops", q.max_hops},
		{"mean_shortest", q.mean_shortest},
		{"diameter", q.diameter},
		{"max_load", q.max_load},
		{"mean_load", q.mean_load},
		{"ideal_load", q.ideal_load},
		{"ideal_exact", q.ideal_exact},
		{"disconnected", q.disconnected},
		{"lanes_used", q.lanes_used},
		{"ms", q.ms}};
}

json collectives_json(const std::vector<CollectiveRow> &rows)
{
	json out = json::array();
	for (const CollectiveRow &c : rows)
		out.push_back({{"fabric", c.fabric},
			       {"op", collective_name(c.op)},
			       {"algorithm", algorithm_name(c.algorithm)},
			       {"bytes", c.bytes},
			       {"seconds", c.estimate.seconds},
			       {"steps", c.estimate.steps},
			       {"algbw_bytes_per_s", c.estimate.algbw},
			       {"busbw_bytes_per_s", c.estimate.busbw}});
	return out;
}

json figure_json(const Figure &f)
{
	json j = {{"key", f.key}, {"label", f.label}, {"value", f.value}, {"unit", f.unit}};
	if (f.cpu_ms)
		j["cpu_ms"] = *f.cpu_ms;
	if (f.target) {
		j["target"] = {{"limit", f.target->limit},
			       {"inclusive", f.target->inclusive},
			       {"source", f.target->source}};
		j["pass"] = f.pass();
	} else {
		j["target"] = nullptr;
		j["pass"] = nullptr;
	}
	return j;
}

json load_json(const MachineLoad &m)
{
	return json::array({m.one, m.five, m.fifteen});
}

// "12.3 ms (cpu 4.1 ms)"
std::string timing_str(const Timing &t)
{
	return fmt::format("{:.{}f} ms (cpu {:.{}f} ms)", t.wall_ms, t.wall_ms < 10 ? 3 : 1,
			   t.cpu_ms, t.cpu_ms < 10 ? 3 : 1);
}

std::string verdict_str(const Verdict &v)
{
	std::string s =
		fmt::format("{} ({} pairs, {} arrived, max hops {}, max lane {}, CDG {}; "
			    "{})",
			    v.ok ? "ok" : "FAILED", v.pairs, v.arrived, v.max_hops, v.max_lane,
			    v.cdg_acyclic ? "acyclic" : "CYCLIC", timing_str(v.time));
	if (v.problem_count)
		s += fmt::format(", {} problems", v.problem_count);
	return s;
}

void print_problems(std::ostream &out, const Verdict &v)
{
	for (const std::string &p : v.problems)
		fmt::print(out, "      problem: {}\n", p);
}

void print_quality(std::ostream &out, const Quality &q, const char *indent)
{
	fmt::print(out, "{}hops: mean {:.3f} (shortest paths: {:.3f}), max {} (diameter {})\n",
		   indent, q.mean_hops, q.mean_shortest, q.max_hops, q.diameter);
	fmt::print(out,
		   "{}channel load, uniform all-to-all (paths per channel): max {:.0f}, "
		   "mean {:.1f}, ideal {:.1f}{}; lanes used {}\n",
		   indent, q.max_load, q.mean_load, q.ideal_load,
		   q.ideal_exact ? "" : " (a lower bound)", q.lanes_used);
	if (q.disconnected)
		fmt::print(out, "{}DISCONNECTED: {} pairs have no path over the fibers up\n",
			   indent, q.disconnected);
}

std::string time_str(double s)
{
	if (s < 1e-3)
		return fmt::format("{:.1f} us", s * 1e6);
	if (s < 1)
		return fmt::format("{:.2f} ms", s * 1e3);
	return fmt::format("{:.3f} s", s);
}

void print_collectives(std::ostream &out, const std::vector<CollectiveRow> &rows,
		       const std::vector<double> &sizes)
{
	if (rows.empty())
		return;
	fmt::print(out, "  collectives on {} (time, busbw):\n", rows.front().fabric);
	std::string head = fmt::format("    {:<15} {:<6}", "op", "algo");
	for (double n : sizes)
		head += fmt::format(" {:>24}", size_str(n));
	fmt::print(out, "{}\n", head);
	for (size_t i = 0; i < rows.size();) {
		const CollectiveRow &first = rows[i];
		std::string line = fmt::format("    {:<15} {:<6}", collective_name(first.op),
					       algorithm_name(first.algorithm));
		for (; i < rows.size() && rows[i].op == first.op &&
		       rows[i].algorithm == first.algorithm;
		     i++)
			line += fmt::format(" {:>11} {:>7.1f} GB/s",
					    time_str(rows[i].estimate.seconds),
					    rows[i].estimate.busbw / 1e9);
		fmt::print(out, "{}\n", line);
	}
}

// Rows arrive grouped by op then size, algorithms interleaved; the table
// wants one line per (op, algorithm).
std::vector<CollectiveRow> by_algorithm(std::vector<CollectiveRow> rows)
{
	std::stable_sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
		if (a.op != b.op)
			return a.op < b.op;
		return a.algorithm < b.algorithm;
	});
	return rows;
}

void print_figures(std::ostream &out, const std::vector<Figure> &figures)
{
	fmt::print(out, "  {:<40} {:>14} {:>12}  {:<12} {}\n", "figure", "value", "cpu", "target",
		   "");
	for (const Figure &f : figures)
		fmt::print(out, "  {:<40} {:>14} {:>12}  {:<12} {}\n", f.label,
			   fmt::format("{:.{}f} {}", f.value, f.value < 10 ? 3 : 1, f.unit),
			   f.cpu_ms ? fmt::format("{:.{}f} ms", *f.cpu_ms, *f.cpu_ms < 10 ? 3 : 1)
				    : "",
			   f.target_str(), f.verdict());
}

} // namespace

bool LayoutReport::verified() const noexcept
{
	return verdict.ok && (!failures || failures->verdict.ok) &&
	       (!agnostic || agnostic->verdict.ok) && (!repatch || repatch->verdict.ok);
}

std::vector<std::string> LayoutReport::rejections() const
{
	std::vector<std::string> out;
	auto check = [&](const char *what, const Verdict &v, const Quality &q) {
		if (v.ok)
			return;
		std::string s = fmt::format("the verifier rejected {}: {} problems, {} of {} pairs "
					    "arrived",
					    what, v.problem_count, v.arrived, v.pairs);
		if (q.disconnected)
			s += fmt::format("; the fabric is disconnected ({} pairs have no path)",
					 q.disconnected);
		if (!v.problems.empty())
			s += "; first: " + v.problems.front();
		out.push_back(s);
	};
	check("the routes", verdict, quality);
	if (failures)
		check("the routes after the failures", failures->verdict, failures->quality);
	if (agnostic)
		check("the agnostic engine's routes", agnostic->verdict, agnostic->quality);
	if (repatch)
		check("the re-patched routes", repatch->verdict, repatch->quality);
	return out;
}

bool LayoutReport::missed() const noexcept
{
	return std::any_of(figures.begin(), figures.end(),
			   [](const Figure &f) { return f.has_target() && !f.pass(); });
}

json to_json(const SimReport &r)
{
	json layouts = json::array();
	for (const LayoutReport &l : r.layouts) {
		json j = {{"layout", l.layout},
			  {"spec", l.spec},
			  {"chips", l.chips},
			  {"fibers", l.fibers},
			  {"diameter", l.quality.diameter},
			  {"id_limit", l.id_limit},
			  {"table_bytes_per_chip",
			   {{"held", l.table_bytes_held}, {"used", l.table_bytes_used}}},
			  {"engine", l.engine},
			  {"first_routes_ms", l.first.wall_ms},
			  {"full_routes_ms", l.full.wall_ms},
			  {"full_routes_cpu_ms", l.full.cpu_ms},
			  {"quality", quality_json(l.quality)},
			  {"verifier", verdict_json(l.verdict)},
			  {"verified", l.verified()},
			  {"collectives", collectives_json(l.collectives)}};
		if (l.failures) {
			const FailureRun &f = *l.failures;
			json steps = json::array();
			for (const FailureStep &s : f.steps)
				steps.push_back({{"fiber", s.fiber},
						 {"engine", s.engine},
						 {"ms", s.time.wall_ms},
						 {"cpu_ms", s.time.cpu_ms},
						 {"entries_changed", s.entries_changed},
						 {"dests_recomputed", s.dests_recomputed},
						 {"diff_bytes", s.diff_bytes},
						 {"full", s.full}});
			j["failures"] = {
				{"count", f.steps.size()},
				{"seed", f.seed},
				{"steps", steps},
				{"reroute_ms", {{"median", f.median_ms}, {"max", f.max_ms}}},
				{"entries_changed",
				 {{"median", f.median_entries}, {"max", f.max_entries}}},
				{"diff_bytes",
				 {{"median", f.median_diff_bytes}, {"max", f.max_diff_bytes}}},
				{"quality", quality_json(f.quality)},
				{"verifier", verdict_json(f.verdict)}};
		}
		if (l.agnostic) {
			const AgnosticRun &a = *l.agnostic;
			j["agnostic"] = {{"fail_pct", a.pct},
					 {"seed", a.seed},
					 {"failed", a.failed},
					 {"ms", a.time.wall_ms},
					 {"cpu_ms", a.time.cpu_ms},
					 {"lanes_used", a.lanes_used},
					 {"minimal_dests", a.minimal_dests},
					 {"longer_dests", a.longer_dests},
					 {"fallback_dests", a.fallback_dests},
					 {"quality", quality_json(a.quality)},
					 {"verifier", verdict_json(a.verdict)}};
		}
		if (l.repatch) {
			const RepatchRun &p = *l.repatch;
			j["repatch"] = {{"from", p.from},
					{"to", p.to},
					{"engine", p.engine},
					{"ms", p.time.wall_ms},
					{"cpu_ms", p.time.cpu_ms},
					{"entries_changed", p.entries_changed},
					{"diff_bytes", p.diff_bytes},
					{"fibers", p.fibers},
					{"quality", quality_json(p.quality)},
					{"verifier", verdict_json(p.verdict)},
					{"collectives", collectives_json(p.collectives)}};
		}
		json figures = json::array();
		for (const Figure &f : l.figures)
			figures.push_back(figure_json(f));
		j["figures"] = figures;
		layouts.push_back(std::move(j));
	}
	const AlphaBeta &m = r.model;
	return {{"schema_version", 1},
		{"load_average",
		 {{"before", load_json(r.load_before)}, {"after", load_json(r.load_after)}}},
		{"model",
		 {{"hop_latency_s", m.hop_latency_s},
		  {"launch_overhead_s", m.launch_overhead_s},
		  {"port_bandwidth_bytes_per_s", m.port_bandwidth},
		  {"hops_per_step", m.hops_per_step},
		  {"alpha_s", m.alpha()}}},
		{"sizes", r.sizes},
		{"layouts", layouts}};
}

void render_text(const SimReport &r, std::ostream &out)
{
	const AlphaBeta &m = r.model;
	fmt::print(out,
		   "load average {:.2f} {:.2f} {:.2f} before, {:.2f} {:.2f} {:.2f} after "
		   "(times: wall clock, then the CPU time this process got; the machine is shared)\n",
		   r.load_before.one, r.load_before.five, r.load_before.fifteen, r.load_after.one,
		   r.load_after.five, r.load_after.fifteen);
	fmt::print(out,
		   "collective model: alpha = {} hop x {:.2f} us + {:.2f} us launch = {:.2f} us, "
		   "beta = {:.1f} GB/s per port and direction\n",
		   m.hops_per_step, m.hop_latency_s * 1e6, m.launch_overhead_s * 1e6,
		   m.alpha() * 1e6, m.port_bandwidth / 1e9);
	for (const LayoutReport &l : r.layouts) {
		fmt::print(out, "\n== {}: {} chips, {} fibers, diameter {} ==\n", l.layout, l.chips,
			   l.fibers, l.quality.diameter);
		fmt::print(out,
			   "  route table per chip: {} bytes held ({} entries x 4), {} used "
			   "(id_limit {} x 4)\n",
			   l.table_bytes_held, l.table_bytes_held / 4, l.table_bytes_used,
			   l.id_limit);
		fmt::print(out,
			   "  routes of {}: engine {}, full recompute {} (the first time, tables "
			   "allocated: {})\n",
			   l.spec, l.engine, timing_str(l.full), timing_str(l.first));
		print_quality(out, l.quality, "    ");
		fmt::print(out, "    verifier: {}\n", verdict_str(l.verdict));
		print_problems(out, l.verdict);
		if (l.failures) {
			const FailureRun &f = *l.failures;
			fmt::print(out,
				   "  {} fiber failures (seed {}), one at a time through "
				   "Router::set_fiber:\n",
				   f.steps.size(), f.seed);
			fmt::print(out,
				   "    {:>3} {:<22} {:<10} {:>10} {:>10} {:>8} {:>7} {:>10}\n",
				   "#", "fiber", "engine", "ms", "cpu ms", "entries", "dests",
				   "diff B");
			for (size_t i = 0; i < f.steps.size(); i++) {
				const FailureStep &s = f.steps[i];
				fmt::print(out,
					   "    {:>3} {:<22} {:<10} {:>10.3f} {:>10.3f} {:>8} "
					   "{:>7} {:>10}{}\n",
					   i + 1, s.fiber, s.engine, s.time.wall_ms, s.time.cpu_ms,
					   s.entries_changed, s.dests_recomputed, s.diff_bytes,
					   s.full ? " (full)" : "");
			}
			fmt::print(out, "    after all {}:\n", f.steps.size());
			print_quality(out, f.quality, "      ");
			fmt::print(out, "      verifier: {}\n", verdict_str(f.verdict));
			print_problems(out, f.verdict);
		}
		if (l.agnostic) {
			const AgnosticRun &a = *l.agnostic;
			fmt::print(
				out,
				"  agnostic engine from scratch, {:g}% of fibers failed ({}, seed "
				"{}): {}, lanes {}; destinations: {} minimal, {} longer, {} "
				"up*/down*\n",
				a.pct, a.failed, a.seed, timing_str(a.time), a.lanes_used,
				a.minimal_dests, a.longer_dests, a.fallback_dests);
			print_quality(out, a.quality, "    ");
			fmt::print(out, "    verifier: {}\n", verdict_str(a.verdict));
			print_problems(out, a.verdict);
		}
		if (l.repatch) {
			const RepatchRun &p = *l.repatch;
			fmt::print(out,
				   "  OCS re-patch {} -> {} ({} fibers) through Router::repatch: "
				   "engine {}, full recompute {}, {} entries changed, {} "
				   "diff bytes uploaded\n",
				   p.from, p.to, p.fibers, p.engine, timing_str(p.time),
				   p.entries_changed, p.diff_bytes);
			print_quality(out, p.quality, "    ");
			fmt::print(out, "    verifier: {}\n", verdict_str(p.verdict));
			print_problems(out, p.verdict);
		}
		print_figures(out, l.figures);
		print_collectives(out, by_algorithm(l.collectives), r.sizes);
		if (l.repatch)
			print_collectives(out, by_algorithm(l.repatch->collectives), r.sizes);
	}
}

} // namespace lumen_fabric_sim
