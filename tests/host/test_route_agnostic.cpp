// SPDX-License-Identifier: MIT
// The topology-agnostic routing engine (runtime/src/route/agnostic.hpp) on
// rings, tori with failed fibers, random irregular graphs with sparse chip
// ids and disconnected graphs, with one and two lanes: every result goes
// through the route verifier (all pairs arrive within TTL, acyclic channel
// dependencies) and the failover verifier (no single cut whose detours
// close a dependency cycle); incremental updates give what a full pass
// gives; bad input is refused with a message that names it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "route/agnostic.hpp"
#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/updown.hpp"
#include "route/verify.hpp"
#include "route/walk.hpp"

using namespace lumen::route;

namespace {

// The fibers of t that are down in ls.
std::vector<Fiber> down_fibers(const Topology &t, const LinkState &ls)
{
	std::vector<Fiber> out;
	for (const Fiber &f : t.fibers())
		if (!ls.up(f.a) || !ls.up(f.b))
			out.push_back(f);
	return out;
}

// Routes of t under ls pass the verifier; with alternatives, no single
// further cut closes a dependency cycle on the detours.
void expect_sound(const Topology &t, const LinkState &ls, const Routes &r, unsigned lanes,
		  const std::string &what, bool failover = true)
{
	VerifyOptions vo;
	vo.cut = down_fibers(t, ls);
	VerifyReport v = verify(t, r, vo);
	EXPECT_TRUE(v.ok()) << what << ": " << v.str();
	EXPECT_TRUE(v.cdg_acyclic) << what;
	EXPECT_EQ(v.arrived, v.pairs) << what;
	EXPECT_LT(v.max_lane, lanes) << what;
	if (failover) {
		FailoverReport fo = verify_failover(t, r, vo);
		EXPECT_EQ(fo.cyclic_cuts, 0u) << what << ": " << fo.str();
	}
}

// Random connected graph: n chips with distinct ids below 8192, a random
// spanning tree then extra fibers, at most 8 ports a chip.
Topology random_graph(unsigned n, unsigned extra, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	std::set<uint32_t> ids;
	while (ids.size() < n)
		ids.insert(std::uniform_int_distribution<uint32_t>(0, kMaxChips - 1)(rng));
	std::vector<uint32_t> chip(ids.begin(), ids.end());
	std::shuffle(chip.begin(), chip.end(), rng);
	std::vector<unsigned> used(n, 0);
	std::string text;
	auto cable = [&](unsigned a, unsigned b) {
		if (a == b || used[a] == kMaxPorts || used[b] == kMaxPorts)
			return false;
		text += std::to_string(chip[a]) + "." + std::to_string(used[a]++) + " " +
			std::to_string(chip[b]) + "." + std::to_string(used[b]++) + "\n";
		return true;
	};
	for (unsigned i = 1; i < n; i++)
		while (!cable(i, std::uniform_int_distribution<unsigned>(0, i - 1)(rng)))
			;
	for (unsigned k = 0, tries = 0; k < extra && tries < 100 * extra; tries++)
		k += cable(std::uniform_int_distribution<unsigned>(0, n - 1)(rng),
			   std::uniform_int_distribution<unsigned>(0, n - 1)(rng));
	return Topology::from_edge_list(text, "random-" + std::to_string(seed));
}

// t with the fibers of `down` cut.
LinkState state_of(const Topology &t, const std::vector<Fiber> &down)
{
	LinkState ls(t);
	for (const Fiber &f : down)
		ls.cut(f);
	return ls;
}

// Cut random fibers of t in ls, keeping the fabric connected.
std::vector<Fiber> cut_random(const Topology &t, LinkState &out, unsigned count, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	std::vector<Fiber> cut;
	std::vector<Fiber> all = t.fibers();
	std::shuffle(all.begin(), all.end(), rng);
	for (const Fiber &f : all) {
		if (cut.size() == count)
			break;
		cut.push_back(f);
		const LinkState ls = state_of(t, cut);
		// Still connected? (BFS over the UP ports.)
		std::vector<bool> seen(t.id_limit(), false);
		std::vector<uint32_t> q{t.chips().front()};
		seen[q[0]] = true;
		for (size_t i = 0; i < q.size(); i++)
			for (uint8_t p = 0; p < kMaxPorts; p++) {
				auto far = t.neighbour(PortRef{q[i], p});
				if (far && ls.up(PortRef{q[i], p}) && ls.up(*far) &&
				    !seen[far->chip]) {
					seen[far->chip] = true;
					q.push_back(far->chip);
				}
			}
		if (q.size() != t.chips().size())
			cut.pop_back();
	}
	for (const Fiber &f : cut)
		out.cut(f);
	return cut;
}

// Uniform all-to-all traffic over the primary ports of r: per directed UP
// channel the pairs routed over it, against the shortest paths of the UP
// graph. ideal is a lower bound of any routing's maximum (total shortest
// hops / UP channels; exact on a healthy torus).
struct LoadFigures {
	uint64_t pairs = 0, arrived = 0, channels = 0, max_load = 0;
	double mean_load = 0, ideal = 0, hops = 0, shortest_hops = 0;
	double max_over_mean() const { return max_load / mean_load; }
	double max_over_ideal() const { return max_load / ideal; }
	double hops_over_shortest() const { return hops / shortest_hops; }
};

LoadFigures load_of(const Topology &t, const Routes &r, const LinkState &ls)
{
	const uint32_t limit = t.id_limit();
	std::vector<uint32_t> next(limit), count(limit + 1), child(limit), order, dist(limit);
	std::vector<uint64_t> size(limit), load(size_t(limit) * kMaxPorts, 0);
	LoadFigures f;
	auto far = [&](uint32_t x, unsigned p) -> int64_t {
		auto nb = t.neighbour(PortRef{x, static_cast<uint8_t>(p)});
		if (!nb || !ls.up(PortRef{x, static_cast<uint8_t>(p)}) || !ls.up(*nb))
			return -1;
		return nb->chip;
	};
	std::vector<std::array<int64_t, kMaxPorts>> nbr(limit);
	for (uint32_t x : t.chips())
		for (unsigned p = 0; p < kMaxPorts; p++) {
			nbr[x][p] = far(x, p);
			f.channels += nbr[x][p] >= 0;
		}
	uint64_t hops = 0, shortest = 0;
	for (uint32_t d : t.chips()) {
		// The tree the tables make toward d, children by counting sort.
		std::fill(count.begin(), count.end(), 0);
		for (uint32_t x : t.chips()) {
			next[x] = UINT32_MAX;
			const RouteEntry e = r.entry(x, d);
			if (x != d && e.valid && nbr[x][e.port] >= 0) {
				next[x] = static_cast<uint32_t>(nbr[x][e.port]);
				count[next[x] + 1]++;
			}
		}
		for (uint32_t i = 0; i < limit; i++)
			count[i + 1] += count[i];
		std::vector<uint32_t> fill(count.begin(), count.end() - 1);
		for (uint32_t x : t.chips())
			if (next[x] != UINT32_MAX)
				child[fill[next[x]]++] = x;
		order.assign(1, d);
		dist[d] = 0;
		for (size_t i = 0; i < order.size(); i++)
			for (uint32_t k = count[order[i]]; k < count[order[i] + 1]; k++) {
				dist[child[k]] = dist[order[i]] + 1;
				order.push_back(child[k]);
			}
		for (uint32_t x : order)
			size[x] = 1;
		for (size_t i = order.size(); i-- > 1;) {
			const uint32_t x = order[i];
			size[next[x]] += size[x];
			load[size_t(x) * kMaxPorts + r.entry(x, d).port] += size[x];
			hops += dist[x];
		}
		f.arrived += order.size() - 1;
		// Shortest paths to d over the UP links.
		std::fill(dist.begin(), dist.end(), UINT32_MAX);
		order.assign(1, d);
		dist[d] = 0;
		for (size_t i = 0; i < order.size(); i++)
			for (unsigned p = 0; p < kMaxPorts; p++) {
				const int64_t y = nbr[order[i]][p];
				if (y >= 0 && dist[y] == UINT32_MAX) {
					dist[y] = dist[order[i]] + 1;
					shortest += dist[y];
					order.push_back(static_cast<uint32_t>(y));
				}
			}
		f.pairs += order.size() - 1;
	}
	uint64_t total = 0;
	for (uint64_t l : load) {
		total += l;
		f.max_load = std::max(f.max_load, l);
	}
	f.mean_load = double(total) / f.channels;
	f.ideal = double(shortest) / f.channels;
	f.hops = f.arrived ? double(hops) / f.arrived : 0;
	f.shortest_hops = f.pairs ? double(shortest) / f.pairs : 0;
	return f;
}

double cpu_ms()
{
	timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

} // namespace

TEST(RouteAgnostic, RingsNeedTheSecondLaneOrTheFallback)
{
	for (unsigned n : {2u, 3u, 5u, 8u, 16u, 33u})
		for (unsigned lanes : {1u, 2u}) {
			Topology t = Topology::parse("ring:" + std::to_string(n));
			LinkState ls(t);
			Routes r(t.id_limit());
			AgnosticEngine e(t, AgnosticOptions{lanes});
			e.compute(ls, r);
			expect_sound(t, ls, r, lanes, t.spec() + " lanes " + std::to_string(lanes));
			EXPECT_EQ(e.stats().minimal_dests + e.stats().longer_dests +
					  e.stats().fallback_dests,
				  n);
			EXPECT_LE(e.stats().lanes_used, lanes);
			// Every entry says FIXED_LANE: the lane follows the destination.
			for (uint32_t s : t.chips())
				for (uint32_t d : t.chips()) {
					if (s != d) {
						EXPECT_TRUE(r.entry(s, d).fixed_lane);
					}
				}
		}
}

TEST(RouteAgnostic, HealthyTorusIsShortestPaths)
{
	Topology t = Topology::parse("torus:4x4x4");
	LinkState ls(t);
	Routes r(t.id_limit());
	AgnosticEngine e(t);
	e.compute(ls, r);
	expect_sound(t, ls, r, 2, t.spec());
	EXPECT_EQ(e.stats().fallback_dests, 0u);
	EXPECT_EQ(e.stats().lanes_used, 2u);
	// Two lanes decompose every minimal path of a torus: no chip longer.
	EXPECT_EQ(e.stats().minimal_dests, 64u);
	VerifyReport v = verify(t, r);
	EXPECT_EQ(v.max_hops, 6u); // the diameter
	EXPECT_GT(e.stats().alt_entries, e.stats().entries / 2);
}

TEST(RouteAgnostic, ToriWithRandomFailures)
{
	for (const char *spec : {"torus:4x4x4", "torus:5x3x7", "torus:6x6", "mesh:5x4"})
		for (unsigned lanes : {1u, 2u})
			for (uint64_t seed : {1u, 2u}) {
				Topology t = Topology::parse(spec);
				LinkState ls(t);
				const auto cut = cut_random(t, ls, t.fibers().size() / 12, seed);
				Routes r(t.id_limit());
				AgnosticEngine e(t, AgnosticOptions{lanes, true, true, seed});
				e.compute(ls, r);
				// Failover (every single further cut) for one seed: the
				// suite's time goes there.
				expect_sound(t, ls, r, lanes,
					     std::string(spec) + " cut " +
						     std::to_string(cut.size()) + " lanes " +
						     std::to_string(lanes),
					     seed == 1);
			}
}

TEST(RouteAgnostic, RandomGraphsWithSparseIds)
{
	for (uint64_t seed = 1; seed <= 12; seed++)
		for (unsigned lanes : {1u, 2u}) {
			Topology t = random_graph(20 + seed * 5, 10 + seed * 8, seed);
			LinkState ls(t);
			Routes r(t.id_limit());
			AgnosticEngine e(t, AgnosticOptions{lanes, true, true, seed});
			e.compute(ls, r);
			expect_sound(t, ls, r, lanes,
				     "random graph " + std::to_string(seed) + " lanes " +
					     std::to_string(lanes),
				     seed <= 4);
			EXPECT_LE(e.stats().lanes_used, lanes);
		}
}

TEST(RouteAgnostic, WithoutAlternativesOrSpreading)
{
	Topology t = random_graph(40, 40, 99);
	LinkState ls(t);
	Routes r(t.id_limit());
	AgnosticEngine e(t, AgnosticOptions{2, false, false, 5});
	e.compute(ls, r);
	expect_sound(t, ls, r, 2, "no alternatives", false);
	EXPECT_EQ(e.stats().alt_entries, 0u);
	for (uint32_t s : t.chips())
		for (uint32_t d : t.chips()) {
			if (s != d) {
				EXPECT_EQ(r.entry(s, d).alt_port, kNoPort);
			}
		}
}

TEST(RouteAgnostic, SameSeedSameTables)
{
	Topology t = random_graph(50, 60, 7);
	LinkState ls(t);
	Routes a(t.id_limit()), b(t.id_limit());
	AgnosticEngine(t).compute(ls, a);
	AgnosticEngine(t).compute(ls, b);
	for (uint32_t s : t.chips())
		for (uint32_t d : t.chips())
			ASSERT_EQ(a.word(s, d), b.word(s, d)) << s << " -> " << d;
}

TEST(RouteAgnostic, DisconnectedGraphRoutesWhatItCan)
{
	// Two rings (ids 0-4 and 100-105) and a chip whose only fiber is cut.
	std::string text;
	for (unsigned i = 0; i < 5; i++)
		text += std::to_string(i) + ".0 " + std::to_string((i + 1) % 5) + ".1\n";
	for (unsigned i = 0; i < 6; i++)
		text += std::to_string(100 + i) + ".0 " + std::to_string(100 + (i + 1) % 6) +
			".1\n";
	text += "100.2 200.0\n";
	Topology t = Topology::from_edge_list(text, "two-rings");
	LinkState ls(t);
	ls.cut(Fiber{PortRef{100, 2}, PortRef{200, 0}});
	for (unsigned lanes : {1u, 2u}) {
		Routes r(t.id_limit());
		AgnosticEngine e(t, AgnosticOptions{lanes});
		e.compute(ls, r);
		auto comp = [](uint32_t c) { return c < 100 ? 0 : c < 200 ? 1 : 2; };
		uint64_t cross = 0;
		for (uint32_t s : t.chips())
			for (uint32_t d : t.chips()) {
				if (s == d)
					continue;
				EXPECT_EQ(r.entry(s, d).valid, comp(s) == comp(d))
					<< s << " -> " << d;
				cross += comp(s) != comp(d);
			}
		VerifyOptions vo;
		vo.cut = down_fibers(t, ls);
		vo.max_problems = 1000;
		VerifyReport v = verify(t, r, vo);
		// Exactly the pairs across components fail, as "no route"; the
		// rest arrive, and their dependencies are acyclic.
		EXPECT_EQ(v.pairs - v.arrived, cross);
		EXPECT_EQ(v.problem_count, cross) << v.str();
		EXPECT_TRUE(v.cdg_acyclic);
		for (const std::string &p : v.problems)
			EXPECT_NE(p.find("no route"), std::string::npos) << p;
	}
}

// After each fiber goes down or comes back, update() leaves tables the
// verifier accepts, and its verdict is what a full compute() gives.
void check_updates(const Topology &t, unsigned lanes, unsigned steps, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	Routes r(t.id_limit());
	AgnosticEngine e(t, AgnosticOptions{lanes, true, true, seed});
	e.compute(LinkState(t), r);
	std::vector<Fiber> down;
	unsigned partial = 0;
	for (unsigned step = 0; step < steps; step++) {
		const bool restore = !down.empty() && (rng() % 3 == 0);
		Fiber f;
		if (restore) {
			size_t i = rng() % down.size();
			f = down[i];
			down.erase(down.begin() + i);
		} else {
			f = t.fibers()[rng() % t.fibers().size()];
			if (std::find(down.begin(), down.end(), f) != down.end())
				continue;
			down.push_back(f);
		}
		const LinkState ls = state_of(t, down);
		const std::string what = t.spec() + " step " + std::to_string(step) +
					 (restore ? " restore " : " cut ") + f.a.str() + "-" +
					 f.b.str();
		const std::vector<uint32_t> touched = e.update(ls, f, restore, r);
		partial += !e.stats().full;
		EXPECT_TRUE(std::is_sorted(touched.begin(), touched.end())) << what;
		VerifyOptions vo;
		vo.cut = down;
		VerifyReport inc = verify(t, r, vo);
		Routes fresh(t.id_limit());
		AgnosticEngine(t, AgnosticOptions{lanes, true, true, seed}).compute(ls, fresh);
		VerifyReport full = verify(t, fresh, vo);
		EXPECT_EQ(inc.ok(), full.ok())
			<< what << "\nupdate: " << inc.str() << "full: " << full.str();
		EXPECT_EQ(inc.arrived, full.arrived) << what;
		EXPECT_TRUE(inc.cdg_acyclic) << what << ": " << inc.str();
		EXPECT_LT(inc.max_lane, lanes) << what;
		if (step % 8 == 0) {
			FailoverReport fo = verify_failover(t, r, vo);
			EXPECT_EQ(fo.cyclic_cuts, 0u) << what << ": " << fo.str();
		}
	}
	EXPECT_GT(partial, steps / 3) << "most updates should be incremental";
}

TEST(RouteAgnostic, UpdateMatchesComputeOnATorus)
{
	check_updates(Topology::parse("torus:4x4x4"), 2, 40, 3);
	check_updates(Topology::parse("torus:6x5"), 1, 30, 4);
}

TEST(RouteAgnostic, UpdateMatchesComputeOnRandomGraphs)
{
	for (uint64_t seed : {11u, 12u, 13u})
		check_updates(random_graph(30, 45, seed), seed == 13 ? 1 : 2, 20, seed);
}

TEST(RouteAgnostic, UpdateReroutesOnlyWhatTheFiberCarried)
{
	Topology t = Topology::parse("torus:4x4x4");
	LinkState ls(t);
	Routes r(t.id_limit());
	AgnosticEngine e(t);
	e.compute(ls, r);
	const Fiber f = t.fibers()[5];
	// The destinations whose routes cross f, from the tables.
	std::set<uint32_t> carried;
	for (uint32_t d : t.chips())
		if ((r.entry(f.a.chip, d).valid && r.entry(f.a.chip, d).port == f.a.port) ||
		    (r.entry(f.b.chip, d).valid && r.entry(f.b.chip, d).port == f.b.port))
			carried.insert(d);
	ASSERT_FALSE(carried.empty());
	const Routes before = r;
	ls.cut(f);
	const std::vector<uint32_t> touched = e.update(ls, f, false, r);
	EXPECT_FALSE(e.stats().full);
	for (uint32_t d : carried)
		EXPECT_TRUE(std::binary_search(touched.begin(), touched.end(), d)) << d;
	EXPECT_LT(touched.size(), t.chips().size());
	// Untouched destinations keep every entry.
	for (uint32_t d : t.chips()) {
		if (std::binary_search(touched.begin(), touched.end(), d))
			continue;
		for (uint32_t s : t.chips()) {
			EXPECT_EQ(r.word(s, d), before.word(s, d)) << s << " -> " << d;
		}
	}
	// No entry leads into the dead fiber any more.
	for (uint32_t d : t.chips()) {
		for (const PortRef &end : {f.a, f.b}) {
			const RouteEntry e = r.entry(end.chip, d);
			EXPECT_FALSE(end.chip != d && e.valid && e.port == end.port)
				<< end.chip << " -> " << d << " still uses the dead fiber";
		}
	}
	expect_sound(t, ls, r, 2, "after one cut");
	// The same call again changes nothing.
	EXPECT_TRUE(e.update(ls, f, false, r).empty());
	const LinkState healed(t);
	e.update(healed, f, true, r);
	expect_sound(t, healed, r, 2, "after the restore");
}

TEST(RouteAgnostic, BadInputIsRefusedByName)
{
	Topology t = Topology::parse("torus:3x3");
	Topology other = Topology::parse("ring:9");
	LinkState ls(t);
	auto message = [](auto f) -> std::string {
		try {
			f();
		} catch (const std::invalid_argument &e) {
			return e.what();
		}
		return "(no error)";
	};
	EXPECT_NE(message([&] { AgnosticEngine(t, AgnosticOptions{0}); }).find("0 lanes"),
		  std::string::npos);
	EXPECT_NE(message([&] { AgnosticEngine(t, AgnosticOptions{3}); }).find("3 lanes"),
		  std::string::npos);
	AgnosticEngine e(t);
	Routes small(4);
	EXPECT_NE(message([&] { e.compute(ls, small); }).find("route tables for 4 chip ids"),
		  std::string::npos);
	LinkState foreign(other);
	Routes r(t.id_limit());
	EXPECT_NE(message([&] { e.compute(foreign, r); }).find("another topology"),
		  std::string::npos);
	e.compute(ls, r);
	const Fiber bogus{PortRef{0, 0}, PortRef{4, 1}};
	EXPECT_NE(message([&] { e.update(ls, bogus, false, r); }).find("is not a fiber"),
		  std::string::npos);
	const Fiber f = t.fibers()[0];
	EXPECT_NE(message([&] { e.update(ls, f, false, r); }).find("the update says down"),
		  std::string::npos);
	expect_sound(t, ls, r, 2, "after refused calls");
}

// Figures, not assertions: full routes and one reroute at 4096 chips with
// 1% of the fibers failed (LUMEN_ROUTE_BENCH=1; a 512-chip torus otherwise,
// which the unit-test time budget allows).
TEST(RouteAgnostic, BenchmarkTorusWithFailures)
{
	const bool big = std::getenv("LUMEN_ROUTE_BENCH") != nullptr;
	Topology t = Topology::parse(big ? "torus:16x16x16" : "torus:8x8x8");
	LinkState ls(t);
	const auto cut = cut_random(t, ls, t.fibers().size() / 100, 1);
	Routes r(t.id_limit());
	AgnosticEngine e(t);
	double cpu = cpu_ms();
	e.compute(ls, r);
	cpu = cpu_ms() - cpu;
	const AgnosticStats s = e.stats();
	std::printf("[ bench    ] %s, %zu fibers cut: compute %.1f ms CPU, %.1f ms wall (target < "
		    "2000 ms at 4096), %u lanes, %u shortest / %u longer / %u fallback "
		    "destinations, %.1f%% entries with an alternative\n",
		    t.spec().c_str(), cut.size(), cpu, s.ms, s.lanes_used, s.minimal_dests,
		    s.longer_dests, s.fallback_dests, 100.0 * s.alt_entries / s.entries);
	const LoadFigures lf = load_of(t, r, ls);
	std::printf("[ bench    ] uniform all-to-all: max channel load %.2fx the mean, %.2fx the "
		    "ideal (target within 1.10x); mean hops %.3f, +%.2f%% over shortest (target "
		    "within 1%%)\n",
		    lf.max_over_mean(), lf.max_over_ideal(), lf.hops,
		    100 * (lf.hops_over_shortest() - 1));
	EXPECT_EQ(lf.arrived, lf.pairs);
	double worst = 0, total = 0;
	std::mt19937_64 rng(2);
	unsigned updates = 0;
	std::vector<Fiber> down = cut;
	for (unsigned i = 0; i < 5; i++) {
		const Fiber f = t.fibers()[rng() % t.fibers().size()];
		if (std::find(down.begin(), down.end(), f) != down.end())
			continue;
		down.push_back(f);
		const LinkState now = state_of(t, down);
		double ucpu = cpu_ms();
		const size_t n = e.update(now, f, false, r).size();
		ucpu = cpu_ms() - ucpu;
		worst = std::max(worst, ucpu);
		total += ucpu;
		updates++;
		std::printf("[ bench    ] cut %s-%s: %zu destinations rerouted in %.2f ms CPU, "
			    "%.2f ms wall%s\n",
			    f.a.str().c_str(), f.b.str().c_str(), n, ucpu, e.stats().ms,
			    e.stats().full ? " (full pass)" : "");
	}
	std::printf("[ bench    ] update: mean %.2f ms, worst %.2f ms CPU (Router target < 5 ms "
		    "at 4096)\n",
		    updates ? total / updates : 0.0, worst);
	EXPECT_EQ(s.entries, uint64_t(t.chips().size()) * (t.chips().size() - 1));
}

// Grid orders on a 1000-chip torus, healthy and with 1% of its fibers cut:
// shortest paths (within 1% on average) and no hot spot. BFS orders from a
// root reach 2x the ideal maximum here (N^2 / 48 through the root).
TEST(RouteAgnostic, GridOrdersSpreadTheLoad)
{
	Topology t = Topology::parse("torus:10x10x10");
	for (unsigned cuts : {0u, 30u}) {
		LinkState ls(t);
		cut_random(t, ls, cuts, 5);
		Routes r(t.id_limit());
		AgnosticEngine e(t);
		e.compute(ls, r);
		const LoadFigures lf = load_of(t, r, ls);
		const std::string what = t.spec() + " cut " + std::to_string(cuts);
		EXPECT_EQ(lf.arrived, lf.pairs) << what;
		EXPECT_EQ(e.stats().fallback_dests, 0u) << what;
		EXPECT_LT(lf.hops_over_shortest(), 1.01) << what;
		EXPECT_LT(lf.max_over_ideal(), 1.4) << what;
		std::printf("[ load     ] %s: max %.2fx the ideal, hops +%.2f%%\n", what.c_str(),
			    lf.max_over_ideal(), 100 * (lf.hops_over_shortest() - 1));
	}
}

// updown_lift: a chip that lost its last up link hangs from its lowest
// neighbour; only that link turns round, and the order connects again.
// Refused when that neighbour's only up link is the chip's.
TEST(RouteAgnostic, LiftTurnsOneLinkRound)
{
	// A 3x3 torus as channels: chip x + 3 y, ports +x -x +y -y.
	const uint32_t n = 9;
	std::vector<uint32_t> peer(n * 8, kNoChannel);
	std::vector<uint8_t> up(n, 0);
	for (uint32_t c = 0; c < n; c++) {
		const uint32_t x = c % 3, y = c / 3;
		const uint32_t east = (x + 1) % 3 + 3 * y, north = x + 3 * ((y + 1) % 3);
		peer[c * 8 + 0] = east * 8 + 1;
		peer[east * 8 + 1] = c * 8 + 0;
		peer[c * 8 + 2] = north * 8 + 3;
		peer[north * 8 + 3] = c * 8 + 2;
		up[c] = 0xf;
	}
	UpDownOrder o = updown_order(peer, up, UpDownRoot::Central);
	ASSERT_TRUE(updown_connects(o, peer, up));
	// A chip with exactly one up link; cut it.
	uint32_t x = n, lost = 0;
	for (uint32_t c = 0; c < n && x == n; c++) {
		unsigned ups = 0;
		for (unsigned p = 0; p < 4; p++)
			if (o.is_up(c, peer[c * 8 + p] >> 3)) {
				ups++;
				lost = p;
			}
		if (ups == 1)
			x = c;
	}
	ASSERT_LT(x, n);
	const uint32_t far = peer[x * 8 + lost];
	up[x] &= static_cast<uint8_t>(~(1u << lost));
	up[far >> 3] &= static_cast<uint8_t>(~(1u << (far & 7)));
	EXPECT_FALSE(updown_connects(o, peer, up));
	const UpDownOrder before = o;
	uint32_t y = n;
	ASSERT_TRUE(updown_lift(o, x, peer, up, &y));
	EXPECT_TRUE(updown_connects(o, peer, up));
	EXPECT_TRUE(o.is_up(x, y));
	for (uint32_t a = 0; a < n; a++)
		for (unsigned p = 0; p < 4; p++) {
			const uint32_t b = peer[a * 8 + p] >> 3;
			if (!((a == x && b == y) || (a == y && b == x))) {
				EXPECT_EQ(o.is_up(a, b), before.is_up(a, b)) << a << "-" << b;
			}
		}
	for (size_t i = 1; i < n; i++)
		EXPECT_LT(o.rank[o.by_rank[i - 1]], o.rank[o.by_rank[i]]);
	// Path 0 - 1 - 2 rooted at 2; 1-2 cut: 1 has no up link left, and
	// its lowest neighbour 0 has no up link but 1's: refused.
	std::vector<uint32_t> path(3 * 8, kNoChannel);
	path[0 * 8 + 0] = 1 * 8 + 0;
	path[1 * 8 + 0] = 0 * 8 + 0;
	path[1 * 8 + 1] = 2 * 8 + 0;
	path[2 * 8 + 0] = 1 * 8 + 1;
	UpDownOrder chain = updown_from_keys({2, 1, 0});
	const std::vector<uint8_t> path_up = {1, 1, 0};
	const UpDownOrder unlifted = chain;
	EXPECT_FALSE(updown_lift(chain, 1, path, path_up));
	EXPECT_EQ(chain.rank, unlifted.rank);
	// 2 is cut off: {0, 1} is a component of its own, rooted at 1.
	EXPECT_TRUE(updown_connect(chain, path, path_up));
	EXPECT_TRUE(updown_connects(chain, path, path_up));
}
