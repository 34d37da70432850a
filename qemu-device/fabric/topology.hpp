// SPDX-License-Identifier: MIT
// Topology specs: which port of which chip is cabled to which (FABRIC.md 1-2).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lumen::fabric {

// Port numbers 0-5 are +x -x +y -y +z -z; a card has up to 8 (LUMEN_LINK_PORTS_MAX).
constexpr unsigned kMaxPorts = 8;
// Upper bound on chips a generated topology may have (2x the 8192 to prove).
constexpr uint64_t kMaxChips = 65536;

struct Endpoint {
	uint32_t chip = 0;
	uint8_t port = 0;

	bool operator==(const Endpoint &o) const { return chip == o.chip && port == o.port; }
	bool operator!=(const Endpoint &o) const { return !(*this == o); }
	bool operator<(const Endpoint &o) const
	{
		return chip != o.chip ? chip < o.chip : port < o.port;
	}
	// "3.+x" for ports 0-5, "3.7" above.
	std::string str() const;
};

// One fiber between two ports, stored with a < b so a cable has one spelling.
struct Cable {
	Endpoint a;
	Endpoint b;

	bool operator==(const Cable &o) const { return a == o.a && b == o.b; }
	bool operator<(const Cable &o) const { return a != o.a ? a < o.a : b < o.b; }
};

struct Topology {
	std::string spec;
	std::vector<Cable> cables;
};

class TopologyError : public std::runtime_error {
      public:
	using std::runtime_error::runtime_error;
};

// "+x" for 0 .. "-z" for 5, the number otherwise.
std::string port_name(unsigned port);

// "CHIP.PORT" with PORT a number below kMaxPorts or a name +x..-z.
// Throws TopologyError naming what is wrong.
Endpoint parse_endpoint(std::string_view text);

// ring:N, mesh:AxB[xC], torus:AxB[xC], edges:FILE or none. Throws TopologyError.
Topology parse_topology(const std::string &spec);

// Cables from an edge list: one "chipA.portP chipB.portQ" per line, '#' comments.
// origin names the source in messages. Throws TopologyError with the line number.
std::vector<Cable> parse_edge_list(std::string_view text, const std::string &origin);

} // namespace lumen::fabric
