// SPDX-License-Identifier: MIT
// The routing library (runtime/src/route): topologies cabled as the fabric
// README documents (lumen-fabric patches what this parser returns) or as a
// fabric manager discovers them, dimension-order routes with asserted paths
// and lanes and their load, the verifier's proofs (arrival, TTL, lanes,
// acyclic channel dependencies), its rejections and its agreement with
// plain walks, fast failover around every single cut fiber, table diffs,
// and the router's local repairs and engine changes.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "route/diff.hpp"
#include "route/dor.hpp"
#include "route/load.hpp"
#include "route/router.hpp"
#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/verify.hpp"
#include "route/walk.hpp"

using namespace lumen::route;

namespace {

constexpr uint8_t PX = 0, MX = 1, PY = 2, MY = 3, PZ = 4, MZ = 5;

// The cabling of qemu-device/fabric/README.md, worked out here per chip and
// not by the library's code: chip x + A*(y + B*z) port +d to port -d of the
// next chip in dimension d, wrapping when wrap; a dimension of 1 has none.
std::set<Fiber> documented_fibers(std::array<uint32_t, 3> dims, bool wrap)
{
	std::set<Fiber> out;
	uint32_t chips = dims[0] * dims[1] * dims[2];
	for (uint32_t c = 0; c < chips; c++) {
		std::array<uint32_t, 3> at = {c % dims[0], c / dims[0] % dims[1],
					      c / (dims[0] * dims[1])};
		for (unsigned d = 0; d < 3; d++) {
			if (dims[d] == 1 || (!wrap && at[d] == dims[d] - 1))
				continue;
			auto next = at;
			next[d] = (at[d] + 1) % dims[d];
			PortRef from{c, static_cast<uint8_t>(2 * d)};
			PortRef to{next[0] + dims[0] * (next[1] + dims[1] * next[2]),
				   static_cast<uint8_t>(2 * d + 1)};
			out.insert(from < to ? Fiber{from, to} : Fiber{to, from});
		}
	}
	return out;
}

std::string error_of(const std::string &spec)
{
	try {
		Topology::parse(spec);
	} catch (const TopologyError &e) {
		return e.what();
	}
	return "(no error)";
}

struct Step {
	uint32_t chip;
	uint8_t port;
	uint8_t lane;
};

// The path src -> dst must arrive through exactly these hops.
void expect_path(const Topology &t, const Routes &r, uint32_t src, uint32_t dst,
		 const std::vector<Step> &want, const LinkState *ls = nullptr)
{
	LinkState all(t);
	Path p = walk(r, ls ? *ls : all, src, dst);
	SCOPED_TRACE(t.spec() + " " + std::to_string(src) + " -> " + std::to_string(dst) + ": " +
		     p.str());
	ASSERT_EQ(p.outcome, Outcome::Arrived);
	ASSERT_EQ(p.hops.size(), want.size());
	for (size_t i = 0; i < want.size(); i++) {
		EXPECT_EQ(p.hops[i].chip, want[i].chip) << "hop " << i;
		EXPECT_EQ(p.hops[i].out_port, want[i].port) << "hop " << i;
		EXPECT_EQ(p.hops[i].lane, want[i].lane) << "hop " << i;
	}
}

// DOR routes of spec pass the verifier: all pairs, lanes <= 1, acyclic CDG.
VerifyReport expect_verified(const std::string &spec)
{
	Topology t = Topology::parse(spec);
	Routes r = route_dor(t);
	VerifyReport v = verify(t, r);
	EXPECT_TRUE(v.ok()) << spec << ": " << v.str();
	EXPECT_TRUE(v.cdg_checked);
	EXPECT_TRUE(v.cdg_acyclic) << spec;
	EXPECT_EQ(v.pairs, uint64_t(t.chips().size()) * (t.chips().size() - 1));
	EXPECT_EQ(v.arrived, v.pairs);
	EXPECT_LE(v.max_lane, 1u);
	return v;
}

} // namespace

TEST(RouteTopology, CabledAsDocumented)
{
	struct Case {
		std::string spec;
		std::array<uint32_t, 3> dims;
		bool wrap;
	};
	std::vector<Case> cases = {
		{"mesh:3x3", {3, 3, 1}, false},	  {"mesh:2x3x4", {2, 3, 4}, false},
		{"mesh:4x1x3", {4, 1, 3}, false}, {"torus:4x4", {4, 4, 1}, true},
		{"torus:4x4x4", {4, 4, 4}, true}, {"torus:2x3", {2, 3, 1}, true},
		{"torus:3x1x2", {3, 1, 2}, true}, {"torus:2x2x2", {2, 2, 2}, true},
		{"torus:5x1", {5, 1, 1}, true}};
	for (uint32_t n = 2; n <= 16; n++)
		cases.push_back({"ring:" + std::to_string(n), {n, 1, 1}, true});
	for (const auto &c : cases) {
		Topology t = Topology::parse(c.spec);
		std::set<Fiber> mine(t.fibers().begin(), t.fibers().end());
		EXPECT_EQ(mine.size(), t.fibers().size()) << c.spec << ": a fiber twice";
		EXPECT_EQ(mine, documented_fibers(c.dims, c.wrap)) << c.spec;
	}
}

TEST(RouteTopology, NumberingAndNeighbours)
{
	Topology ring = Topology::parse("ring:4");
	EXPECT_EQ(ring.kind(), Topology::Kind::Ring);
	EXPECT_EQ(ring.chips(), (std::vector<uint32_t>{0, 1, 2, 3}));
	EXPECT_EQ(*ring.neighbour({0, PX}), (PortRef{1, MX}));
	EXPECT_EQ(*ring.neighbour({3, PX}), (PortRef{0, MX}));
	EXPECT_EQ(*ring.neighbour({0, MX}), (PortRef{3, PX}));
	EXPECT_FALSE(ring.neighbour({0, PY}));
	EXPECT_FALSE(ring.neighbour({4, PX}));

	// ring:2: two parallel fibers between the pair.
	Topology r2 = Topology::parse("ring:2");
	EXPECT_EQ(r2.fibers().size(), 2u);
	EXPECT_EQ(*r2.neighbour({0, PX}), (PortRef{1, MX}));
	EXPECT_EQ(*r2.neighbour({1, PX}), (PortRef{0, MX}));

	// torus:4x4x4: chip id x + 4 (y + 4 z).
	Topology t = Topology::parse("torus:4x4x4");
	EXPECT_EQ(t.chips().size(), 64u);
	EXPECT_EQ(t.chip_at({1, 2, 3}), 1u + 4 * (2 + 4 * 3));
	EXPECT_EQ(t.coords(57), (std::array<uint32_t, 3>{1, 2, 3}));
	EXPECT_EQ(*t.neighbour({57, PZ}), (PortRef{t.chip_at({1, 2, 0}), MZ}));
	EXPECT_EQ(*t.neighbour({57, MY}), (PortRef{t.chip_at({1, 1, 3}), PY}));

	Topology m = Topology::parse("mesh:3x3");
	EXPECT_FALSE(m.neighbour({2, PX}));
	EXPECT_EQ(*m.neighbour({4, MY}), (PortRef{1, PY}));
	EXPECT_EQ(PortRef({3, MZ}).str(), "3.-z");
	EXPECT_EQ(parse_port("12.+y"), (PortRef{12, PY}));
	EXPECT_EQ(parse_port("12.7"), (PortRef{12, 7}));
}

TEST(RouteTopology, EdgeList)
{
	char path[] = "/tmp/test_route_edgesXXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	{
		std::ofstream f(path);
		f << "# a triangle\n0.+x 1.-x\n1.+x 2.-x  # comment\n\n2.+x 0.-x\n";
	}
	Topology t = Topology::parse(std::string("edges:") + path);
	EXPECT_EQ(t.kind(), Topology::Kind::Edges);
	EXPECT_EQ(t.fibers().size(), 3u);
	EXPECT_EQ(*t.neighbour({2, PX}), (PortRef{0, MX}));
	EXPECT_EQ(std::set<Fiber>(t.fibers().begin(), t.fibers().end()),
		  (std::set<Fiber>{{{0, PX}, {1, MX}}, {{1, PX}, {2, MX}}, {{0, MX}, {2, PX}}}));
	// Cabled as ring:3 is, so it routes as ring:3 does.
	EXPECT_TRUE(route_dor(t) == route_dor(Topology::parse("ring:3")));
	std::remove(path);
	// A triangle on other ports is no grid.
	EXPECT_THROW(
		route_dor(Topology::from_edge_list("0.+x 1.-y\n1.+x 2.-x\n2.+x 0.-x\n", "tri")),
		TopologyError);

	EXPECT_THROW(Topology::from_edge_list("0.+x 1.-x\n1.-x 2.+x\n", "dup"), TopologyError);
	EXPECT_THROW(Topology::from_edge_list("0.+x 0.+x\n", "self"), TopologyError);
	EXPECT_THROW(Topology::from_edge_list("8192.+x 0.-x\n", "big"), TopologyError);
	EXPECT_THROW(Topology::from_edge_list("# nothing\n", "empty"), TopologyError);
}

TEST(RouteTopology, BadSpecsNameTheProblem)
{
	EXPECT_NE(error_of("ring:1").find("ring size must be 2..8192"), std::string::npos);
	EXPECT_NE(error_of("ring:8193").find("ring size"), std::string::npos);
	EXPECT_NE(error_of("torus:4").find("expected AxB"), std::string::npos);
	EXPECT_NE(error_of("mesh:1x1").find("at least 2 chips"), std::string::npos);
	EXPECT_NE(error_of("torus:128x128").find("more than the 8192"), std::string::npos);
	EXPECT_NE(error_of("mesh:0x3").find("not a positive integer"), std::string::npos);
	EXPECT_NE(error_of("torus:2x2x2x2").find("at most 3"), std::string::npos);
	EXPECT_NE(error_of("star:5").find("unknown kind 'star'"), std::string::npos);
	EXPECT_NE(error_of("ring").find("expected ring:N"), std::string::npos);
	EXPECT_NE(error_of("edges:/nonexistent/x").find("cannot read"), std::string::npos);
}

TEST(RouteWord, EncodesAsTheHeader)
{
	RouteEntry e;
	e.valid = true;
	e.port = MY;
	e.alt_port = PY;
	e.lane = 1;
	EXPECT_EQ(e.word(), lumen_route_word(MY, PY, 1, 0));
	EXPECT_EQ(e.word(), 0x80000123u);
	RouteEntry d = RouteEntry::decode(e.word());
	EXPECT_TRUE(d.valid);
	EXPECT_EQ(d.port, MY);
	EXPECT_EQ(d.alt_port, PY);
	EXPECT_EQ(d.lane, 1);
	EXPECT_FALSE(d.fixed_lane);
	EXPECT_EQ(RouteEntry().word(), 0u);
	EXPECT_FALSE(RouteEntry::decode(0).valid);
	EXPECT_TRUE(RouteEntry::reserved_bits(0x80000400u));
	EXPECT_EQ(d.str(), "-y alt +y lane 1");
}

TEST(RouteDor, RingsOf2To16)
{
	for (unsigned n = 2; n <= 16; n++) {
		const std::string spec = "ring:" + std::to_string(n);
		VerifyReport v = expect_verified(spec);
		EXPECT_EQ(v.max_hops, n / 2) << spec;
		// ring:2's tie splits 0 -> 1 + and 1 -> 0 -: one fiber, no dateline.
		EXPECT_EQ(v.max_lane, n > 2 ? 1u : 0u) << spec << ": dateline crossings";
	}
}

TEST(RouteDor, RingTablesAndPaths)
{
	Topology t = Topology::parse("ring:8");
	Routes r = route_dor(t);
	// Datelines on the wrap fiber 7.+x - 0.-x, both ends, nowhere else.
	for (uint32_t c = 0; c < 8; c++)
		EXPECT_EQ(r.datelines(c), c == 7 ? 1u << PX : c == 0 ? 1u << MX : 0u) << c;
	EXPECT_EQ(r.entry(0, 3).str(), "+x alt -x lane 0");
	EXPECT_EQ(r.entry(0, 4).str(), "+x alt -x lane 0"); // a tie: 0 is even, +
	EXPECT_EQ(r.entry(1, 5).str(), "-x alt +x lane 0"); // a tie: 1 is odd, -
	EXPECT_EQ(r.entry(0, 5).str(), "-x alt +x lane 0");
	EXPECT_FALSE(r.entry(3, 3).valid);

	expect_path(t, r, 0, 3, {{0, PX, 0}, {1, PX, 0}, {2, PX, 0}});
	// Leaving 0 by -x crosses the dateline: lane 1 from the first hop on.
	expect_path(t, r, 0, 5, {{0, MX, 1}, {7, MX, 1}, {6, MX, 1}});
	expect_path(t, r, 6, 1, {{6, PX, 0}, {7, PX, 1}, {0, PX, 1}});
	expect_path(t, r, 2, 6, {{2, PX, 0}, {3, PX, 0}, {4, PX, 0}, {5, PX, 0}});

	// ring:2: a tie each way; the other fiber is the alternative.
	Topology t2 = Topology::parse("ring:2");
	Routes r2 = route_dor(t2);
	EXPECT_EQ(r2.entry(0, 1).str(), "+x alt -x lane 0");
	EXPECT_EQ(r2.entry(1, 0).str(), "-x alt +x lane 0");
	expect_path(t2, r2, 0, 1, {{0, PX, 0}});
	expect_path(t2, r2, 1, 0, {{1, MX, 0}});
	// Without spread, ties go +: 1 -> 0 over the wrap fiber, its dateline.
	Routes plus = route_dor(t2, DorOptions{false, true});
	expect_path(t2, plus, 1, 0, {{1, PX, 1}});
}

TEST(RouteDor, Torus4x4)
{
	VerifyReport v = expect_verified("torus:4x4");
	EXPECT_EQ(v.max_hops, 4u);
	Topology t = Topology::parse("torus:4x4");
	Routes r = route_dor(t);
	// (0,0) -> (3,3): -x over the x wrap, turn, -y over the y wrap.
	expect_path(t, r, 0, 15, {{0, MX, 1}, {3, MY, 1}});
	// (1,1) -> (2,2): x first, then y, lane 0 throughout.
	expect_path(t, r, 5, 10, {{5, PX, 0}, {6, PY, 0}});
	// (3,1) -> (1,3): + over the x wrap (a tie), lane 1 to the end of x;
	// the turn into y starts lane 0 again.
	expect_path(t, r, 7, 13, {{7, PX, 1}, {4, PX, 1}, {5, PY, 0}, {9, PY, 0}});
	// Every ring of each dimension has exactly one dateline fiber.
	unsigned flagged = 0;
	for (uint32_t c : t.chips())
		flagged += __builtin_popcount(r.datelines(c));
	EXPECT_EQ(flagged, 2u * (4 + 4));
}

TEST(RouteDor, Torus4x4x4)
{
	VerifyReport v = expect_verified("torus:4x4x4");
	EXPECT_EQ(v.max_hops, 6u);
	Topology t = Topology::parse("torus:4x4x4");
	Routes r = route_dor(t);
	expect_path(t, r, 0, 63, {{0, MX, 1}, {3, MY, 1}, {15, MZ, 1}});
	expect_path(t, r, 21, 42, {{21, PX, 0}, {22, PY, 0}, {26, PZ, 0}});
	// A turn resets the lane: lane 1 in x, back to 0 in y.
	expect_path(t, r, 3, 1 + 4 * 1, {{3, PX, 1}, {0, PX, 1}, {1, PY, 0}});
}

TEST(RouteDor, OtherGridsVerify)
{
	for (const char *spec : {"torus:2x2", "torus:2x3", "torus:3x1x2", "torus:2x2x2",
				 "torus:5x3", "torus:8x8", "mesh:2x3x4", "mesh:4x1x3"})
		expect_verified(spec);
}

TEST(RouteDor, Mesh3x3)
{
	VerifyReport v = expect_verified("mesh:3x3");
	EXPECT_EQ(v.max_hops, 4u);
	EXPECT_EQ(v.max_lane, 0u);
	Topology t = Topology::parse("mesh:3x3");
	Routes r = route_dor(t);
	for (uint32_t c : t.chips())
		EXPECT_EQ(r.datelines(c), 0u);
	EXPECT_EQ(r.entry(0, 8).str(), "+x lane 0"); // no long way round in a mesh
	expect_path(t, r, 0, 8, {{0, PX, 0}, {1, PX, 0}, {2, PY, 0}, {5, PY, 0}});
	expect_path(t, r, 8, 0, {{8, MX, 0}, {7, MX, 0}, {6, MY, 0}, {3, MY, 0}});
	expect_path(t, r, 6, 2, {{6, PX, 0}, {7, PX, 0}, {8, MY, 0}, {5, MY, 0}});
}

TEST(RouteDor, ChipTableForUpload)
{
	Topology t = Topology::parse("ring:4");
	Routes r = route_dor(t);
	std::vector<uint32_t> w = r.chip_table(1);
	ASSERT_EQ(w.size(), size_t(LUMEN_ROUTE_TABLE_SIZE));
	EXPECT_EQ(w[0], lumen_route_word(MX, PX, 0, 0));
	EXPECT_EQ(w[1], 0u); // its own id: never used, left invalid
	EXPECT_EQ(w[2], lumen_route_word(PX, MX, 0, 0));
	// 1 -> 3: a tie, split by the parity of the chip's coordinate: 1 goes -.
	EXPECT_EQ(w[3], lumen_route_word(MX, PX, 0, 0));
	for (size_t d = 4; d < w.size(); d++)
		ASSERT_EQ(w[d], 0u) << d;
}

// ---- the verifier rejects what is wrong -------------------------------------

TEST(RouteVerify, RejectsACyclicTable)
{
	// Every chip of ring:4 sends everything + with no dateline: the four
	// lane-0 channels of the + ring wait on each other in a circle.
	Topology t = Topology::parse("ring:4");
	Routes r(t.id_limit());
	for (uint32_t s = 0; s < 4; s++)
		for (uint32_t d = 0; d < 4; d++)
			if (s != d)
				r.set(s, d, lumen_route_word(PX, MX, 0, 0));
	VerifyReport v = verify(t, r);
	EXPECT_EQ(v.arrived, v.pairs); // every packet arrives ...
	EXPECT_FALSE(v.ok());	       // ... yet the routes can deadlock
	EXPECT_FALSE(v.cdg_acyclic);
	ASSERT_EQ(v.cycle.size(), 4u);
	for (const Channel &c : v.cycle) {
		EXPECT_EQ(c.port, PX);
		EXPECT_EQ(c.lane, 0);
	}
	ASSERT_EQ(v.problems.size(), 1u);
	EXPECT_NE(v.problems[0].find("channel dependency cycle"), std::string::npos);

	// The same tables with the dateline flagged are fine.
	r.set_dateline(3, PX, true);
	r.set_dateline(0, MX, true);
	EXPECT_TRUE(verify(t, r).ok()) << verify(t, r).str();
}

TEST(RouteVerify, OnlyThePairsAskedFor)
{
	// ring:6 cut in two places: {0, 1, 2} and {3, 4, 5} cannot reach each
	// other; verifying the part of chip 0 walks its 6 pairs only.
	Topology t = Topology::parse("ring:6");
	VerifyOptions vo;
	for (const Fiber &f : t.fibers())
		if ((f.a.chip == 2 && f.b.chip == 3) || (f.a.chip == 0 && f.b.chip == 5))
			vo.cut.push_back(f);
	ASSERT_EQ(vo.cut.size(), 2u);
	Router router(t);
	for (const Fiber &f : vo.cut)
		router.set_fiber(f, false);
	const Routes &r = router.routes();
	VerifyReport all = verify(t, r, vo);
	EXPECT_FALSE(all.ok());
	EXPECT_EQ(all.pairs, 30u);
	EXPECT_EQ(all.arrived, 12u);
	vo.only = {2, 0, 1, 1}; // any order, duplicates ignored
	VerifyReport v = verify(t, r, vo);
	EXPECT_TRUE(v.ok()) << v.str();
	EXPECT_EQ(v.pairs, 6u);
	EXPECT_EQ(v.arrived, 6u);
	// A chip the topology does not have is a problem, not a silent skip.
	vo.only = {0, 9};
	VerifyReport bad = verify(t, r, vo);
	EXPECT_FALSE(bad.ok());
	ASSERT_FALSE(bad.problems.empty());
	EXPECT_NE(bad.problems[0].find("chip 9"), std::string::npos) << bad.str();
}

TEST(RouteVerify, RejectsDorWithoutDatelines)
{
	Topology t = Topology::parse("torus:4x4");
	Routes r = route_dor(t);
	for (uint32_t c : t.chips())
		for (unsigned p = 0; p < kMaxPorts; p++)
			r.set_dateline(c, p, false);
	VerifyReport v = verify(t, r);
	EXPECT_EQ(v.arrived, v.pairs);
	EXPECT_FALSE(v.cdg_acyclic) << v.str();
}

TEST(RouteVerify, RejectsLanesAboveOne)
{
	// Datelines on every port: the second one crossed pushes lane 2.
	Topology t = Topology::parse("ring:8");
	Routes r = route_dor(t);
	for (uint32_t c : t.chips()) {
		r.set_dateline(c, PX, true);
		r.set_dateline(c, MX, true);
	}
	VerifyReport v = verify(t, r);
	EXPECT_FALSE(v.ok());
	EXPECT_LT(v.arrived, v.pairs);
	ASSERT_FALSE(v.problems.empty());
	EXPECT_NE(v.problems[0].find("lane above 1"), std::string::npos) << v.problems[0];
}

TEST(RouteVerify, RejectsLoopsMissingRoutesAndBadWords)
{
	Topology t = Topology::parse("ring:4");
	{
		// 0 sends 2's packets +, 1 sends them back -: they bounce until
		// TTL runs out.
		Routes r = route_dor(t);
		r.set(1, 2, lumen_route_word(MX, PX, 0, 0));
		Path p = walk(r, LinkState(t), 0, 2);
		EXPECT_EQ(p.outcome, Outcome::TtlExpired);
		EXPECT_EQ(p.hops.size(), LUMEN_LINK_TTL_DEFAULT + 1u);
		VerifyReport v = verify(t, r);
		EXPECT_FALSE(v.ok());
		EXPECT_NE(v.str().find("TTL expired"), std::string::npos) << v.str();
	}
	{
		Routes r = route_dor(t);
		r.set(2, 0, 0u);
		VerifyReport v = verify(t, r);
		EXPECT_FALSE(v.ok());
		EXPECT_EQ(v.pairs - v.arrived, 1u); // no other path passes 2 for 0
		EXPECT_NE(v.str().find("2 -> 0: no route"), std::string::npos) << v.str();
	}
	{
		Routes r = route_dor(t);
		r.set(0, 1, lumen_route_word(PX, MX, 0, 0) | 0x400u);
		VerifyReport v = verify(t, r);
		EXPECT_FALSE(v.ok());
		EXPECT_NE(v.str().find("reserved bits"), std::string::npos) << v.str();
		r.set(0, 1, lumen_route_word(9, MX, 0, 0));
		EXPECT_NE(verify(t, r).str().find("port 9 does not exist"), std::string::npos);
	}
	{
		// A route out of a port with no fiber: no route.
		Routes r = route_dor(t);
		r.set(0, 1, lumen_route_word(PY, kNoPort, 0, 0));
		EXPECT_EQ(walk(r, LinkState(t), 0, 1).outcome, Outcome::NoRoute);
	}
}

// ---- fast failover ------------------------------------------------------------

TEST(RouteFailover, DetourAroundACutRingFiber)
{
	Topology t = Topology::parse("ring:8");
	Routes r = route_dor(t);
	LinkState ls(t);
	ls.cut(Fiber{{1, PX}, {2, MX}});
	// 0 -> 3: to 1, back (U-turn: lane 0 again), then the long way round,
	// across the dateline at 0's -x; detoured packets never turn back.
	Path p = walk(r, ls, 0, 3);
	ASSERT_EQ(p.outcome, Outcome::Arrived) << p.str();
	expect_path(t, r, 0, 3,
		    {{0, PX, 0},
		     {1, MX, 0},
		     {0, MX, 1},
		     {7, MX, 1},
		     {6, MX, 1},
		     {5, MX, 1},
		     {4, MX, 1}},
		    &ls);
	EXPECT_FALSE(p.hops[0].detour);
	for (size_t i = 1; i < p.hops.size(); i++)
		EXPECT_TRUE(p.hops[i].detour) << i;
	// And the other way: 3 -> 1 goes -x to 2, which detours +x.
	expect_path(t, r, 3, 1,
		    {{3, MX, 0},
		     {2, PX, 0},
		     {3, PX, 0},
		     {4, PX, 0},
		     {5, PX, 0},
		     {6, PX, 0},
		     {7, PX, 1},
		     {0, PX, 1}},
		    &ls);
}

TEST(RouteFailover, EverySingleCutOnRingsOf2To16)
{
	for (unsigned n = 2; n <= 16; n++) {
		Topology t = Topology::parse("ring:" + std::to_string(n));
		Routes r = route_dor(t);
		FailoverReport f = verify_failover(t, r);
		EXPECT_EQ(f.cuts, n) << t.spec();
		EXPECT_TRUE(f.ok()) << t.spec() << ": " << f.str();
		EXPECT_LE(f.max_hops, LUMEN_LINK_TTL_DEFAULT + 1u);
	}
}

TEST(RouteFailover, EverySingleCutOnTori)
{
	for (const char *spec : {"torus:4x4", "torus:2x3", "torus:4x4x4"}) {
		Topology t = Topology::parse(spec);
		Routes r = route_dor(t);
		FailoverReport f = verify_failover(t, r);
		EXPECT_EQ(f.cuts, t.fibers().size());
		EXPECT_TRUE(f.ok()) << spec << ": " << f.str();
	}
}

TEST(RouteFailover, MeshHasNoDetour)
{
	Topology t = Topology::parse("mesh:3x3");
	Routes r = route_dor(t);
	LinkState ls(t);
	ls.cut(Fiber{{0, PX}, {1, MX}});
	Path p = walk(r, ls, 0, 2);
	EXPECT_EQ(p.outcome, Outcome::NoRoute);
	EXPECT_EQ(p.end_chip, 0u);
}

// ---- DOR at every shape, with load spreading --------------------------------

TEST(RouteDor, ManyShapesVerifyBothWays)
{
	for (const char *spec :
	     {"ring:3",	     "ring:7",	    "torus:3x5",   "torus:7x1",	 "torus:1x1x7",
	      "torus:1x6",   "torus:2x2",   "torus:2x5",   "torus:6x2",	 "torus:2x2x2",
	      "torus:2x3x2", "torus:3x3x3", "torus:5x4x3", "torus:6x6",	 "torus:5x5x5",
	      "mesh:1x1x5",  "mesh:2x2",    "mesh:5x1",	   "mesh:4x3x2", "mesh:3x3x3"}) {
		Topology t = Topology::parse(spec);
		for (bool spread : {true, false}) {
			Routes r = route_dor(t, DorOptions{spread, true});
			VerifyReport v = verify(t, r);
			EXPECT_TRUE(v.ok()) << spec << " spread " << spread << ": " << v.str();
			EXPECT_TRUE(v.cdg_checked && v.cdg_acyclic) << spec;
			EXPECT_EQ(v.arrived, uint64_t(t.chips().size()) * (t.chips().size() - 1));
		}
	}
}

TEST(RouteDor, TiesSplitByParity)
{
	// ring:8, 0 -> 4 and 2 -> 6 go +, 1 -> 5 and 3 -> 7 go -; no spread: +.
	Topology t = Topology::parse("ring:8");
	Routes r = route_dor(t);
	for (uint32_t s = 0; s < 8; s++)
		EXPECT_EQ(r.entry(s, (s + 4) % 8).port, s % 2 ? MX : PX) << s;
	Routes plus = route_dor(t, DorOptions{false, true});
	for (uint32_t s = 0; s < 8; s++)
		EXPECT_EQ(plus.entry(s, (s + 4) % 8).port, PX) << s;
	// torus:4x4, x ties split by the destination's y as well: (0,0) sends
	// to (2,0) by + and to (2,1) by -.
	Topology t2 = Topology::parse("torus:4x4");
	Routes r2 = route_dor(t2);
	EXPECT_EQ(r2.entry(0, t2.chip_at({2, 0, 0})).port, PX);
	EXPECT_EQ(r2.entry(0, t2.chip_at({2, 1, 0})).port, MX);
	// Without alternatives: no alt_port.
	Routes noalt = route_dor(t2, DorOptions{true, false});
	EXPECT_EQ(noalt.entry(0, 1).str(), "+x lane 0");
}

TEST(RouteLoad, SpreadTieLoadIsIdealOnTori)
{
	for (const char *spec : {"torus:8x8", "torus:4x4x4", "torus:5x5x5", "torus:7x7",
				 "torus:6x4x3", "torus:8x4", "ring:16", "ring:9"}) {
		Topology t = Topology::parse(spec);
		LinkState ls(t);
		LoadReport l = channel_load(t, route_dor(t), ls);
		SCOPED_TRACE(std::string(spec) + ": " + l.str());
		EXPECT_TRUE(l.ideal_exact);
		EXPECT_EQ(l.arrived, l.pairs);
		EXPECT_LE(l.max_over_ideal(), 1.10);
		EXPECT_GE(l.max_over_ideal(), 1.0); // a lower bound is a lower bound
		EXPECT_DOUBLE_EQ(l.mean_hops, l.shortest_mean_hops); // DOR is minimal
		EXPECT_EQ(l.max_hops, l.diameter);
	}
	// Ties always + put the + channels of an 8-ring at 1+2+3+4 hops per
	// source against the ideal 16/2: 25% over; a 16-ring's at 36 against
	// 32: 12.5%.
	Topology t = Topology::parse("torus:8x8");
	LoadReport plus = channel_load(t, route_dor(t, DorOptions{false, true}), LinkState(t));
	EXPECT_NEAR(plus.max_over_ideal(), 1.25, 1e-9) << plus.str();
	Topology t16 = Topology::parse("ring:16");
	plus = channel_load(t16, route_dor(t16, DorOptions{false, true}), LinkState(t16));
	EXPECT_NEAR(plus.max_over_ideal(), 1.125, 1e-9) << plus.str();
}

TEST(RouteLoad, CountsEveryHopOfEveryPair)
{
	// ring:4 with every tie +: chip c's +x carries c -> c+1, c -> c+2 and
	// (c-1) -> c+1: 3; -x carries c -> c-1 only: 1.
	Topology t = Topology::parse("ring:4");
	LoadReport l = channel_load(t, route_dor(t, DorOptions{false, true}), LinkState(t));
	for (uint32_t c = 0; c < 4; c++) {
		EXPECT_EQ(l.load[c * kMaxPorts + PX], 3u) << c;
		EXPECT_EQ(l.load[c * kMaxPorts + MX], 1u) << c;
	}
	EXPECT_EQ(l.max_load, 3u);
	EXPECT_EQ(l.channels, 8u);
	EXPECT_DOUBLE_EQ(l.mean_load, 2.0);
	EXPECT_DOUBLE_EQ(l.ideal_max, 2.0); // 16 hops over 8 channels
	EXPECT_EQ(l.diameter, 2u);
	// A mesh's bound is only a bound; a cut fiber leaves pairs apart.
	Topology m = Topology::parse("mesh:4x1");
	LinkState ls(m);
	ls.cut(Fiber{{1, PX}, {2, MX}});
	LoadReport lm = channel_load(m, route_dor(m), ls);
	EXPECT_FALSE(lm.ideal_exact);
	EXPECT_EQ(lm.disconnected, 8u);
	EXPECT_EQ(lm.arrived, 4u);
}

TEST(RouteDor, Supernode4096And8192)
{
	// torus:16x16x16: every pair arrives, deadlock-free, minimal, load at
	// the ideal; torus:16x16x32 (8192 chip ids, the table's size) routes.
	Topology t = Topology::parse("torus:16x16x16");
	Routes r = route_dor(t);
	VerifyReport v = verify(t, r);
	EXPECT_TRUE(v.ok()) << v.str();
	EXPECT_EQ(v.pairs, 4096u * 4095u);
	EXPECT_EQ(v.max_hops, 24u);
	LoadReport l = channel_load(t, r, LinkState(t));
	EXPECT_LE(l.max_over_ideal(), 1.10) << l.str();

	Topology big = Topology::parse("torus:16x16x32");
	Routes rb = route_dor(big);
	ASSERT_EQ(rb.id_limit(), 8192u);
	EXPECT_EQ(rb.chip_table(8191).size(), size_t(LUMEN_ROUTE_TABLE_SIZE));
	LinkState ls(big);
	for (uint32_t i = 0; i < 2000; i++) {
		const uint32_t s = (i * 7919u) % 8192, d = (i * 104729u + 13) % 8192;
		if (s == d)
			continue;
		Path p = walk(rb, ls, s, d);
		const auto cs = big.coords(s), cd = big.coords(d);
		unsigned want = 0;
		for (unsigned k = 0; k < 3; k++) {
			const uint32_t diff = cs[k] > cd[k] ? cs[k] - cd[k] : cd[k] - cs[k];
			want += std::min(diff, big.dims()[k] - diff);
		}
		ASSERT_EQ(p.outcome, Outcome::Arrived) << p.str();
		ASSERT_EQ(p.hops.size(), want) << p.str();
	}
}

// ---- the fast verifier is the walks -----------------------------------------

namespace {

// What verify() must say, from one walk() per pair.
struct WalkedReport {
	uint64_t pairs = 0, arrived = 0;
	unsigned max_hops = 0, max_lane = 0;
	std::set<std::pair<uint32_t, uint32_t>> edges; // channel -> channel
	std::set<uint32_t> channels;
	bool acyclic = true;
	std::vector<std::string> failures; // all, in (source, destination) order
};

uint32_t channel_index(const Hop &h)
{
	return (h.chip * kMaxPorts + h.out_port) * 2 + h.lane;
}

WalkedReport walk_all(const Topology &t, const Routes &r, const LinkState &ls, unsigned ttl)
{
	WalkedReport w;
	for (uint32_t s : t.chips())
		for (uint32_t d : t.chips()) {
			if (s == d)
				continue;
			Path p = walk(r, ls, s, d, ttl);
			w.pairs++;
			for (size_t i = 0; i < p.hops.size(); i++) {
				w.max_lane = std::max<unsigned>(w.max_lane, p.hops[i].lane);
				w.channels.insert(channel_index(p.hops[i]));
				if (i + 1 < p.hops.size())
					w.edges.emplace(channel_index(p.hops[i]),
							channel_index(p.hops[i + 1]));
			}
			if (p.outcome == Outcome::Arrived) {
				w.arrived++;
				w.max_hops = std::max<unsigned>(w.max_hops, p.hops.size());
			} else {
				w.failures.push_back(std::to_string(s) + " -> " +
						     std::to_string(d) + ": " +
						     outcome_name(p.outcome) + ": " + p.str());
			}
		}
	// Kahn: acyclic iff every channel can be removed.
	std::map<uint32_t, unsigned> indeg;
	for (const auto &[a, b] : w.edges) {
		indeg[b]++;
		indeg.emplace(a, 0);
	}
	std::vector<uint32_t> ready;
	for (const auto &[c, n] : indeg)
		if (!n)
			ready.push_back(c);
	size_t removed = 0;
	while (!ready.empty()) {
		uint32_t c = ready.back();
		ready.pop_back();
		removed++;
		for (auto it = w.edges.lower_bound({c, 0}); it != w.edges.end() && it->first == c;
		     ++it)
			if (--indeg[it->second] == 0)
				ready.push_back(it->second);
	}
	w.acyclic = removed == indeg.size();
	return w;
}

void expect_same(const Topology &t, const Routes &r, const std::vector<Fiber> &cut, unsigned ttl,
		 const std::string &what)
{
	LinkState ls(t);
	for (const Fiber &f : cut)
		ls.cut(f);
	WalkedReport w = walk_all(t, r, ls, ttl);
	VerifyOptions o;
	o.cut = cut;
	o.ttl = ttl;
	o.max_problems = 1000000;
	VerifyReport v = verify(t, r, o);
	SCOPED_TRACE(what + " ttl " + std::to_string(ttl));
	EXPECT_EQ(v.pairs, w.pairs);
	EXPECT_EQ(v.arrived, w.arrived);
	EXPECT_EQ(v.max_hops, w.max_hops);
	EXPECT_EQ(v.max_lane, w.max_lane);
	EXPECT_EQ(v.channels, w.channels.size());
	EXPECT_EQ(v.dependencies, w.edges.size());
	EXPECT_EQ(v.cdg_acyclic, w.acyclic);
	// The failures, verbatim, in order, then the cycle if any.
	ASSERT_EQ(v.problems.size(), w.failures.size() + (w.acyclic ? 0 : 1));
	const std::string where =
		cut.empty() ? "" : " (cut " + cut[0].a.str() + "-" + cut[0].b.str() + ")";
	for (size_t i = 0; i < w.failures.size(); i++) {
		std::string want = w.failures[i];
		want.insert(want.find(':'), where);
		EXPECT_EQ(v.problems[i], want);
	}
}

} // namespace

TEST(RouteVerify, FastVerifierIsThePlainWalks)
{
	// Good tables, with and without a cut fiber (detours).
	for (const char *spec : {"ring:5", "torus:4x4", "torus:3x2x2", "mesh:3x3"}) {
		Topology t = Topology::parse(spec);
		Routes r = route_dor(t);
		expect_same(t, r, {}, LUMEN_LINK_TTL_DEFAULT, spec);
		expect_same(t, r, {t.fibers()[1]}, LUMEN_LINK_TTL_DEFAULT, spec);
		expect_same(t, r, {t.fibers()[0]}, 3, spec); // TTL cuts detours short
	}
	// Hostile tables: random words (any port, alt, lane, FIXED_LANE),
	// random datelines, a random fiber cut, small TTLs: loops, bounces,
	// lane errors, dead ends.
	uint64_t seed = 12345;
	auto rnd = [&seed] {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		return static_cast<uint32_t>(seed >> 33);
	};
	for (const char *spec : {"ring:4", "torus:3x3", "torus:2x3", "mesh:2x3", "torus:2x2x2"}) {
		Topology t = Topology::parse(spec);
		for (int round = 0; round < 12; round++) {
			Routes r(t.id_limit());
			for (uint32_t s : t.chips()) {
				for (uint32_t d : t.chips())
					if (rnd() % 8)
						r.set(s, d,
						      lumen_route_word(rnd() % 8,
								       rnd() % 3 ? rnd() % 8
										 : kNoPort,
								       rnd() % 2, rnd() % 5 == 0));
				for (unsigned p = 0; p < 6; p++)
					r.set_dateline(s, p, rnd() % 4 == 0);
			}
			std::vector<Fiber> cut;
			if (round % 2)
				cut.push_back(t.fibers()[rnd() % t.fibers().size()]);
			for (unsigned ttl : {1u, 2u, 5u, 32u})
				expect_same(t, r, cut, ttl,
					    std::string(spec) + " round " + std::to_string(round));
		}
	}
}

TEST(RouteVerify, RejectsTtlTooSmall)
{
	// torus:8x8's longest paths have 8 hops: TTL 7 (8 hops allowed) is
	// enough, TTL 6 is not, and says which pairs die where.
	Topology t = Topology::parse("torus:8x8");
	Routes r = route_dor(t);
	VerifyOptions o;
	o.ttl = 7;
	EXPECT_TRUE(verify(t, r, o).ok());
	o.ttl = 6;
	VerifyReport v = verify(t, r, o);
	EXPECT_FALSE(v.ok());
	EXPECT_EQ(v.pairs - v.arrived, 64u); // each chip's antipode
	EXPECT_EQ(v.problem_count, 64u);
	EXPECT_EQ(v.max_hops, 7u);
	ASSERT_FALSE(v.problems.empty());
	EXPECT_EQ(v.problems[0].rfind("0 -> 36: TTL expired: ", 0), 0u) << v.problems[0];
}

// ---- discovered fibers ------------------------------------------------------------

TEST(RouteTopology, FromFibersAndInferGrid)
{
	for (const char *spec : {"torus:4x3x2", "torus:2x2", "mesh:3x4", "ring:5", "ring:2",
				 "torus:1x1x5", "mesh:2x1x3"}) {
		Topology g = Topology::parse(spec);
		// As discovered: any order, either spelling of each fiber.
		std::vector<Fiber> found;
		for (const Fiber &f : g.fibers())
			found.push_back(found.size() % 2 ? Fiber{f.b, f.a} : f);
		std::reverse(found.begin(), found.end());
		Topology t = Topology::from_fibers(found, "discovered");
		EXPECT_EQ(t.kind(), Topology::Kind::Edges);
		EXPECT_EQ(t.spec(), "discovered");
		std::optional<GridShape> shape = infer_grid(t);
		ASSERT_TRUE(shape) << spec;
		EXPECT_EQ(*shape, *infer_grid(g)) << spec << " as " << shape->spec();
		EXPECT_TRUE(route_dor(t) == route_dor(g)) << spec;
	}
	EXPECT_EQ(infer_grid(Topology::parse("ring:6"))->spec(), "ring:6");
	EXPECT_EQ(infer_grid(Topology::parse("torus:4x4x2"))->spec(), "torus:4x4x2");
	EXPECT_EQ(infer_grid(Topology::parse("mesh:3x2"))->spec(), "mesh:3x2");

	const Topology torus = Topology::parse("torus:4x4");
	std::vector<Fiber> fibers = torus.fibers();
	// A fiber missing: no grid (the agnostic engine's case).
	std::vector<Fiber> missing(fibers.begin() + 1, fibers.end());
	EXPECT_FALSE(infer_grid(Topology::from_fibers(missing, "missing")));
	// One chip's +y and -y labels swapped: no grid.
	std::vector<Fiber> swapped = fibers;
	for (Fiber &f : swapped)
		for (PortRef *p : {&f.a, &f.b})
			if (p->chip == 5 && (p->port == PY || p->port == MY))
				p->port = p->port == PY ? MY : PY;
	EXPECT_FALSE(infer_grid(Topology::from_fibers(swapped, "swapped")));
	// Chip ids with a gap, a grid's cabling otherwise: no grid.
	std::vector<Fiber> gap = {{{0, PX}, {2, MX}}, {{2, PX}, {0, MX}}};
	EXPECT_FALSE(infer_grid(Topology::from_fibers(gap, "gap")));
	// An extra fiber: no grid.
	std::vector<Fiber> extra = Topology::parse("mesh:2x2").fibers();
	extra.push_back({{0, 6}, {3, 6}});
	EXPECT_FALSE(infer_grid(Topology::from_fibers(extra, "extra")));

	auto error = [](std::vector<Fiber> f) {
		try {
			Topology::from_fibers(std::move(f), "fm");
		} catch (const TopologyError &e) {
			return std::string(e.what());
		}
		return std::string("(no error)");
	};
	EXPECT_NE(error({}).find("no fibers"), std::string::npos);
	EXPECT_NE(error({{{0, PX}, {8192, MX}}}).find("chip id 8192"), std::string::npos);
	EXPECT_NE(error({{{0, 8}, {1, MX}}}).find("has no port 8"), std::string::npos);
	EXPECT_NE(error({{{0, PX}, {1, MX}}, {{1, MX}, {0, PX}}}).find("cabled twice"),
		  std::string::npos);
	EXPECT_NE(error({{{0, PX}, {0, PX}}}).find("itself"), std::string::npos);
}

TEST(RouteLinks, CutRestoreAndList)
{
	Topology t = Topology::parse("torus:3x3");
	LinkState ls(t);
	EXPECT_TRUE(ls.all_up());
	EXPECT_EQ(ls.up_ports(4), 0x0f);
	const Fiber f = t.fibers()[2], g = t.fibers()[7];
	ls.cut(f);
	ls.set(g, false);
	ls.cut(f); // twice is once
	EXPECT_EQ(ls.ports_down(), 4u);
	EXPECT_FALSE(ls.up(f.a));
	EXPECT_FALSE(ls.up(f.b));
	EXPECT_EQ(ls.cut_fibers(), (std::vector<Fiber>{f, g}));
	ls.restore(f);
	EXPECT_TRUE(ls.up(f.a) && ls.up(f.b));
	EXPECT_EQ(ls.cut_fibers(), (std::vector<Fiber>{g}));
	ls.set(g, true);
	EXPECT_TRUE(ls.all_up());
	// Not a fiber of t: its uncabled ports stay down, nothing counts.
	ls.cut(Fiber{{0, PZ}, {1, MZ}});
	EXPECT_TRUE(ls.all_up());
	EXPECT_FALSE(ls.up(PortRef{0, PZ}));
	EXPECT_FALSE(ls.up(PortRef{99, PX}));
}

// ---- table diffs --------------------------------------------------------------

TEST(RouteDiff, RoundTripAndBytes)
{
	Topology t = Topology::parse("torus:4x4x8"); // 128 chips: two blocks a row
	Routes held = route_dor(t);
	EXPECT_TRUE(diff_tables(held, held).empty());
	EXPECT_EQ(diff_tables(held, held).bytes(), 0u);

	// One entry and one dateline changed: one block, one PORT SET.
	Routes want = held;
	want.set(5, 70, lumen_route_word(MZ, kNoPort, 1, 1));
	want.set_dateline(9, PZ, !(held.datelines(9) >> PZ & 1));
	TableDiff d = diff_tables(held, want);
	ASSERT_EQ(d.blocks.size(), 1u);
	EXPECT_EQ(d.blocks[0].chip, 5u);
	EXPECT_EQ(d.blocks[0].first, 64u);
	EXPECT_EQ(d.blocks[0].words[6], want.word(5, 70));
	EXPECT_EQ(d.words_changed, 1u);
	ASSERT_EQ(d.datelines.size(), 1u);
	EXPECT_EQ(d.datelines[0].changed, 1u << PZ);
	EXPECT_EQ(d.bytes(), (64u + 72 + 256) + (64u + 72 + 4));
	EXPECT_EQ(d.chips(), (std::vector<uint32_t>{5, 9}));
	Routes up = held;
	d.apply(up);
	EXPECT_TRUE(up == want);

	// A repair after a fiber cut: what changes is what is uploaded.
	Routes repaired = held;
	DorRepair rep = repair_dor(t, *infer_grid(t), t.fibers()[0], repaired);
	ASSERT_TRUE(rep.repaired) << rep.reason;
	TableDiff dr = diff_tables(held, repaired);
	EXPECT_EQ(dr.words_changed, rep.entries_changed);
	EXPECT_TRUE(dr.datelines.empty());
	up = held;
	dr.apply(up);
	EXPECT_TRUE(up == repaired);

	// From nothing (chips after reset) to DOR: every block of every chip
	// holding a route, and every dateline.
	Routes empty(t.id_limit());
	TableDiff all = diff_tables(empty, held);
	EXPECT_EQ(all.blocks.size(), 128u * 2);
	up = empty;
	all.apply(up);
	EXPECT_TRUE(up == held);

	// A re-patch to fewer chip ids: the rest is cleared; back again.
	Topology small = Topology::parse("ring:40");
	Routes shrunk = route_dor(small);
	TableDiff to_small = diff_tables(held, shrunk);
	for (const RouteBlock &b : to_small.blocks) {
		if (b.chip < 40 && b.first < 64)
			continue;
		for (uint32_t w : b.words)
			EXPECT_EQ(w, 0u) << b.chip << " " << b.first;
	}
	Routes grown = shrunk;
	EXPECT_THROW(diff_tables(grown, held).apply(grown), std::out_of_range);
}

TEST(RouteDiff, OneChipReadBack)
{
	Topology t = Topology::parse("torus:4x4");
	Routes want = route_dor(t);
	// Read back as the chip holds it: the whole table, datelines.
	std::vector<uint32_t> table = want.chip_table(3);
	EXPECT_TRUE(diff_chip(3, table, want.datelines(3), want).empty());
	// A chip after reset: one block (16 ids) and its datelines.
	TableDiff fresh = diff_chip(3, {}, 0, want);
	ASSERT_EQ(fresh.blocks.size(), 1u);
	EXPECT_EQ(fresh.words_changed, 15u);
	EXPECT_EQ(fresh.datelines.size(), want.datelines(3) ? 1u : 0u);
	// Stale routes beyond the fabric's ids are cleared.
	table[5000] = lumen_route_word(PX, kNoPort, 0, 0);
	TableDiff stale = diff_chip(3, table, want.datelines(3), want);
	ASSERT_EQ(stale.blocks.size(), 1u);
	EXPECT_EQ(stale.blocks[0].first, 4992u);
	EXPECT_EQ(stale.blocks[0].words[8], 0u);
}

// ---- the router -----------------------------------------------------------------

namespace {

VerifyReport verify_with(const Router &r)
{
	VerifyOptions o;
	o.cut = r.links().cut_fibers();
	return verify(r.topology(), r.routes(), o);
}

} // namespace

TEST(RouteRouter, EverySingleFailureRepairedLocally)
{
	// Each fiber alone down: DOR stays (repaired), verifies with the fiber
	// cut, equals a full recompute of the same state, and comes back to
	// plain DOR when the fiber is up again.
	for (const char *spec : {"ring:6", "ring:2", "torus:4x4", "torus:5x3", "torus:2x4",
				 "torus:3x2x2", "torus:4x3x3", "mesh:4x3"}) {
		Topology t = Topology::parse(spec);
		const Routes dor = route_dor(t);
		Router r(t);
		ASSERT_EQ(r.engine(), Engine::Dor);
		ASSERT_TRUE(r.routes() == dor);
		for (const Fiber &f : t.fibers()) {
			SCOPED_TRACE(std::string(spec) + " " + f.a.str() + "-" + f.b.str());
			RerouteStats down = r.set_fiber(f, false);
			EXPECT_FALSE(down.full && down.engine == Engine::Dor);
			EXPECT_EQ(down.engine, r.engine());
			VerifyReport v = verify_with(r);
			EXPECT_TRUE(v.ok()) << v.str();
			if (r.engine() == Engine::Dor) {
				// (0 for a fiber no DOR route takes: the parallel
				// fiber of a 2-wide last dimension may be one.)
				EXPECT_EQ(down.entries_changed,
					  diff_tables(dor, r.routes()).words_changed);
				Router full(t);
				full.set_fiber(f, false);
				full.recompute();
				EXPECT_TRUE(full.routes() == r.routes());
			} else {
				// Only a mesh's last dimension has no local repair.
				EXPECT_EQ(t.kind(), Topology::Kind::Mesh);
			}
			RerouteStats up = r.set_fiber(f, true);
			EXPECT_EQ(r.engine(), Engine::Dor);
			EXPECT_TRUE(r.routes() == dor);
			EXPECT_EQ(up.entries_changed, diff_tables(dor, r.routes()).words_changed +
							      down.entries_changed);
		}
	}
}

TEST(RouteRouter, SeveralFailuresGoAgnosticAndBack)
{
	Topology t = Topology::parse("torus:4x4x2");
	Router r(t);
	const std::vector<Fiber> &fibers = t.fibers();
	uint64_t seed = 7;
	auto rnd = [&seed] {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		return static_cast<uint32_t>(seed >> 33);
	};
	std::vector<Fiber> down;
	for (int i = 0; i < 4; i++) {
		Fiber f = fibers[rnd() % fibers.size()];
		if (std::find(down.begin(), down.end(), f) != down.end())
			continue;
		down.push_back(f);
		RerouteStats st = r.set_fiber(f, false);
		EXPECT_EQ(r.engine(), down.size() == 1 ? Engine::Dor : Engine::Agnostic);
		VerifyReport v = verify_with(r);
		EXPECT_TRUE(v.ok()) << v.str();
		if (down.size() > 2) {
			// Incremental agnostic update: verifies as well as a full
			// recompute of the same engine on the same fibers.
			EXPECT_FALSE(st.full);
			Router full(t, RouterOptions{Engine::Agnostic});
			for (const Fiber &g : down)
				full.set_fiber(g, false);
			full.recompute();
			EXPECT_TRUE(verify_with(full).ok());
		}
	}
	// Back up one by one: agnostic updates, then DOR once all are up.
	while (!down.empty()) {
		r.set_fiber(down.back(), true);
		down.pop_back();
		EXPECT_TRUE(verify_with(r).ok());
		EXPECT_EQ(r.engine(), down.empty() ? Engine::Dor : Engine::Agnostic);
	}
	EXPECT_TRUE(r.routes() == route_dor(t));
}

TEST(RouteRouter, EnginesFibersAndRepatch)
{
	// A fiber that is not the fabric's, or already in that state: nothing.
	Router r(Topology::parse("torus:4x4"));
	EXPECT_EQ(r.set_fiber(Fiber{{0, PZ}, {1, MZ}}, false).entries_changed, 0u);
	EXPECT_EQ(r.set_fiber(r.topology().fibers()[0], true).entries_changed, 0u);
	// Either spelling of a fiber.
	const Fiber f = r.topology().fibers()[3];
	EXPECT_GT(r.set_fiber(Fiber{f.b, f.a}, false).entries_changed, 0u);
	EXPECT_FALSE(r.links().up(f.a));

	// An OCS re-patch: new cabling, every fiber up, full routes.
	RerouteStats st = r.repatch(Topology::parse("ring:16"));
	EXPECT_TRUE(st.full);
	EXPECT_TRUE(r.links().all_up());
	EXPECT_EQ(r.engine(), Engine::Dor);
	EXPECT_EQ(r.grid()->spec(), "ring:16");
	EXPECT_TRUE(r.routes() == route_dor(Topology::parse("ring:16")));
	EXPECT_GT(st.entries_changed, 0u);

	// An irregular graph: agnostic; forcing DOR on it is refused.
	Topology odd = Topology::from_edge_list("0.0 1.0\n1.1 2.0\n2.1 0.1\n2.2 3.0\n", "odd");
	Router a(odd);
	EXPECT_EQ(a.engine(), Engine::Agnostic);
	EXPECT_TRUE(verify_with(a).ok());
	EXPECT_THROW(Router(odd, RouterOptions{Engine::Dor}), TopologyError);
	// Forced agnostic on a torus.
	Router fa(Topology::parse("torus:3x3"), RouterOptions{Engine::Agnostic});
	EXPECT_EQ(fa.engine(), Engine::Agnostic);
	EXPECT_TRUE(verify_with(fa).ok());
	EXPECT_STREQ(engine_name(Engine::Agnostic), "agnostic");
	EXPECT_STREQ(engine_name(Engine::Dor), "dor");

	// A discovered torus is routed by DOR.
	Router found(Topology::from_fibers(Topology::parse("torus:3x4").fibers(), "fm"));
	EXPECT_EQ(found.engine(), Engine::Dor);
	EXPECT_TRUE(found.routes() == route_dor(Topology::parse("torus:3x4")));
}

TEST(RouteDor, IntoExistingTablesCountsChanges)
{
	Topology t = Topology::parse("torus:4x3x2");
	const GridShape g = *infer_grid(t);
	Routes r(t.id_limit());
	r.set_dateline(5, PY, true); // stale: DOR has none there
	EXPECT_EQ(route_dor_into(t, g, DorOptions{}, r), 24u * 23u);
	EXPECT_TRUE(r == route_dor(t));
	EXPECT_EQ(route_dor_into(t, g, DorOptions{}, r), 0u);
	r.set(3, 7, 0);
	r.set(3, 3, lumen_route_word(PX, kNoPort, 0, 0)); // its own entry: 0 in DOR
	EXPECT_EQ(route_dor_into(t, g, DorOptions{}, r), 2u);
	// Without spread, only the tie entries change.
	const uint64_t ties = route_dor_into(t, g, DorOptions{false, true}, r);
	EXPECT_EQ(ties, diff_tables(route_dor(t), r).words_changed);
	EXPECT_GT(ties, 0u);
	Routes wrong(t.id_limit() + 1);
	EXPECT_THROW(route_dor_into(t, g, DorOptions{}, wrong), std::invalid_argument);
	// The router's full recompute of unchanged fibers changes nothing.
	Router router(t);
	RerouteStats st = router.recompute();
	EXPECT_TRUE(st.full);
	EXPECT_EQ(st.entries_changed, 0u);
	EXPECT_TRUE(router.routes() == route_dor(t));
}
