// SPDX-License-Identifier: MIT
// The topology specs as lumen-fabric patches them (parsed by the routing
// library, runtime/src/route): every kind, the port numbering, and bad specs.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "topology.hpp"

using namespace lumen::fabric;

namespace {

// port -> peer port, checking every port is cabled once.
std::map<Endpoint, Endpoint> peers(const Topology &topo)
{
	std::map<Endpoint, Endpoint> peer;
	for (const Cable &c : topo.cables) {
		EXPECT_TRUE(c.a < c.b);
		EXPECT_TRUE(peer.emplace(c.a, c.b).second) << c.a.str() << " cabled twice";
		EXPECT_TRUE(peer.emplace(c.b, c.a).second) << c.b.str() << " cabled twice";
	}
	return peer;
}

Endpoint ep(uint32_t chip, uint8_t port)
{
	return Endpoint{chip, port};
}

std::vector<Cable> parse_edge_list(std::string_view text, const std::string &origin)
{
	return lumen::route::Topology::from_edge_list(text, origin).fibers();
}

std::string error_of(const std::string &spec)
{
	try {
		parse_topology(spec);
	} catch (const TopologyError &e) {
		return e.what();
	}
	return "(no error)";
}

} // namespace

TEST(Topology, PortNames)
{
	EXPECT_EQ(port_name(0), "+x");
	EXPECT_EQ(port_name(5), "-z");
	EXPECT_EQ(port_name(7), "7");
	EXPECT_EQ(ep(3, 2).str(), "3.+y");
	EXPECT_EQ(parse_port("12.-z"), ep(12, 5));
	EXPECT_EQ(parse_port("12.4"), ep(12, 4));
	EXPECT_EQ(parse_port("0.7"), ep(0, 7));
	EXPECT_THROW(parse_port("0.8"), TopologyError);
	EXPECT_THROW(parse_port("0"), TopologyError);
	EXPECT_THROW(parse_port("x.+x"), TopologyError);
	EXPECT_THROW(parse_port("1.+w"), TopologyError);
	EXPECT_THROW(parse_port("-1.0"), TopologyError);
	EXPECT_THROW(parse_port("99999999999.0"), TopologyError);
}

TEST(Topology, Ring)
{
	Topology topo = parse_topology("ring:4");
	ASSERT_EQ(topo.cables.size(), 4u);
	auto peer = peers(topo);
	for (uint32_t i = 0; i < 4; i++) {
		EXPECT_EQ(peer.at(ep(i, 0)), ep((i + 1) % 4, 1)); // +x to the next -x
		EXPECT_EQ(peer.at(ep(i, 1)), ep((i + 3) % 4, 0));
	}
	// Two chips: two fibers between them, +x to -x both ways.
	auto two = peers(parse_topology("ring:2"));
	EXPECT_EQ(two.size(), 4u);
	EXPECT_EQ(two.at(ep(0, 0)), ep(1, 1));
	EXPECT_EQ(two.at(ep(1, 0)), ep(0, 1));
}

TEST(Topology, Mesh)
{
	// 3x2: ids x + 3y; x links (2 per row) and y links (3 columns).
	Topology topo = parse_topology("mesh:3x2");
	EXPECT_EQ(topo.cables.size(), 2u * 2 + 3u);
	auto peer = peers(topo);
	EXPECT_EQ(peer.at(ep(0, 0)), ep(1, 1));
	EXPECT_EQ(peer.at(ep(1, 2)), ep(4, 3));
	EXPECT_EQ(peer.count(ep(2, 0)), 0u); // no wrap
	EXPECT_EQ(peer.count(ep(0, 1)), 0u);
	EXPECT_EQ(peer.count(ep(3, 2)), 0u);
	EXPECT_EQ(parse_topology("mesh:2x2x2").cables.size(), 12u);
}

TEST(Topology, Torus2D)
{
	Topology topo = parse_topology("torus:4x3");
	EXPECT_EQ(topo.cables.size(), 24u); // 2 per chip
	auto peer = peers(topo);
	EXPECT_EQ(peer.size(), 48u);		// every +-x +-y port cabled
	EXPECT_EQ(peer.at(ep(3, 0)), ep(0, 1)); // x wraps
	EXPECT_EQ(peer.at(ep(9, 2)), ep(1, 3)); // (1,2) +y wraps to (1,0) -y
	EXPECT_EQ(peer.count(ep(0, 4)), 0u);	// no z
}

TEST(Topology, Torus3D)
{
	Topology topo = parse_topology("torus:4x4x4");
	EXPECT_EQ(topo.cables.size(), 64u * 3);
	auto peer = peers(topo);
	EXPECT_EQ(peer.size(), 64u * 6);
	// (1,2,3) = 1 + 4*(2 + 4*3) = 57; +z wraps to (1,2,0) = 9, port -z.
	EXPECT_EQ(peer.at(ep(57, 4)), ep(9, 5));
	// Dimension of 2: two distinct fibers between the pair.
	auto small = peers(parse_topology("torus:2x2x2"));
	EXPECT_EQ(small.at(ep(0, 4)), ep(4, 5));
	EXPECT_EQ(small.at(ep(4, 4)), ep(0, 5));
	// Dimension of 1: no fibers in it.
	EXPECT_EQ(parse_topology("torus:4x1").cables.size(), 4u);
	// The scale to design for parses quickly.
	EXPECT_EQ(parse_topology("torus:16x16x16").cables.size(), 4096u * 3);
}

TEST(Topology, EdgeList)
{
	const std::string text = "# a triangle\n"
				 "0.+x 1.-x\n"
				 "\n"
				 "1.0   2.1   # trailing comment\n"
				 "2.+x\t0.-x\r\n"
				 "7.6 9.7\n";
	auto cables = parse_edge_list(text, "tri.edges");
	ASSERT_EQ(cables.size(), 4u);
	EXPECT_EQ(cables[0].a, ep(0, 0));
	EXPECT_EQ(cables[0].b, ep(1, 1));
	EXPECT_EQ(cables[2].a, ep(0, 1)); // stored lower port first
	EXPECT_EQ(cables[2].b, ep(2, 0));
	EXPECT_EQ(cables[3].b, ep(9, 7));

	const std::string path = ::testing::TempDir() + "/fabric_topology.edges";
	std::ofstream(path) << text;
	EXPECT_EQ(parse_topology("edges:" + path).cables.size(), 4u);
	std::remove(path.c_str());
}

TEST(Topology, EdgeListErrorsNameTheLine)
{
	auto error = [](const std::string &text) {
		try {
			parse_edge_list(text, "f");
		} catch (const TopologyError &e) {
			return std::string(e.what());
		}
		return std::string("(no error)");
	};
	EXPECT_EQ(error("0.0 1.1\n0.0 2.1\n"), "f:2: port 0.+x is already cabled on line 1");
	EXPECT_EQ(error("0.0 0.0\n"), "f:1: port 0.+x cannot be cabled to itself");
	EXPECT_EQ(error("\n0.0\n"), "f:2: expected 'chipA.portP chipB.portQ'");
	EXPECT_EQ(error("0.0 1.1 2.2\n"), "f:1: expected exactly two ports on a line");
	EXPECT_NE(error("0.0 1.9\n").find("f:1: port '1.9': port must be"), std::string::npos);
	// Chip ids a route table can address, like the cards' chip-id property.
	EXPECT_NE(error("0.0 8192.1\n").find("f:1: port '8192.1': chip id is not an integer below 8192"),
		  std::string::npos);
	EXPECT_EQ(error("# nothing\n"), "f: no fibers");
}

TEST(Topology, BadSpecs)
{
	EXPECT_EQ(parse_topology("none").cables.size(), 0u);
	EXPECT_NE(error_of("").find("expected ring:N"), std::string::npos);
	EXPECT_NE(error_of("ring").find("expected ring:N"), std::string::npos);
	EXPECT_NE(error_of("ring:").find("expected ring:N"), std::string::npos);
	EXPECT_NE(error_of("ring:1").find("ring size must be"), std::string::npos);
	EXPECT_NE(error_of("ring:abc").find("ring size must be"), std::string::npos);
	EXPECT_NE(error_of("ring:4x4").find("ring size must be"), std::string::npos);
	EXPECT_NE(error_of("torus:4").find("expected AxB or AxBxC"), std::string::npos);
	EXPECT_NE(error_of("torus:4x0").find("'0' is not a positive integer"), std::string::npos);
	EXPECT_NE(error_of("torus:4x").find("'' is not a positive integer"), std::string::npos);
	EXPECT_NE(error_of("torus:2x2x2x2").find("at most 3 dimensions"), std::string::npos);
	EXPECT_NE(error_of("mesh:1x1").find("at least 2 chips"), std::string::npos);
	EXPECT_NE(error_of("torus:1000x1000").find("more than the 8192"), std::string::npos);
	EXPECT_NE(error_of("torus:-4x4").find("not a positive integer"), std::string::npos);
	EXPECT_NE(error_of("hypercube:4").find("unknown kind 'hypercube'"), std::string::npos);
	EXPECT_NE(error_of("edges:/nonexistent/x.edges").find("cannot read edge list"),
		  std::string::npos);
}
