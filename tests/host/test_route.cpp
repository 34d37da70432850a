// SPDX-License-Identifier: MIT
// The routing library (runtime/src/route): topologies cabled as the fabric
// README documents (lumen-fabric patches what this parser returns), dimension-order
// routes with asserted paths and lanes, the verifier's proofs (arrival, TTL,
// lanes, acyclic channel dependencies) and its rejections, and fast
// failover around every single cut fiber.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "route/dor.hpp"
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
