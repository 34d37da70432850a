// SPDX-License-Identifier: MIT
// The fabric as a graph: chips, their ports (0-5 = +x -x +y -y +z -z) and the
// fibers between ports, from the spec strings of qemu-device/fabric/README.md.
// lumen-fabric parses its specs here too, so a topology here is the cabling
// the fabric process patches.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lumen::route {

// Ports a chip may have (LUMEN_LINK_PORTS_MAX), and chip ids a route table
// can address (LUMEN_ROUTE_TABLE_SIZE): routes exist only below it.
constexpr unsigned kMaxPorts = 8;
constexpr uint32_t kMaxChips = 8192;

// A bad spec, edge list or lookup; the message names the problem.
class TopologyError : public std::runtime_error {
      public:
	using std::runtime_error::runtime_error;
};

struct PortRef {
	uint32_t chip = 0;
	uint8_t port = 0;

	bool operator==(const PortRef &o) const { return chip == o.chip && port == o.port; }
	bool operator!=(const PortRef &o) const { return !(*this == o); }
	bool operator<(const PortRef &o) const
	{
		return chip != o.chip ? chip < o.chip : port < o.port;
	}
	// "3.+x" for ports 0-5, "3.7" above (lumen-fabric's spelling).
	std::string str() const;
};

// One fiber, stored with a < b so that a fiber has one spelling.
struct Fiber {
	PortRef a;
	PortRef b;

	bool operator==(const Fiber &o) const { return a == o.a && b == o.b; }
	bool operator<(const Fiber &o) const { return a != o.a ? a < o.a : b < o.b; }
};

// "+x" .. "-z" for 0-5, the number otherwise.
std::string port_name(unsigned port);
// Dimension of a port (0 x, 1 y, 2 z, 3 for ports 6-7) and whether it is +.
constexpr unsigned port_dim(unsigned port)
{
	return port / 2;
}

class Topology {
      public:
	enum class Kind { Ring, Mesh, Torus, Edges };

	// ring:N, mesh:AxB[xC], torus:AxB[xC] or edges:FILE (lumen-fabric's
	// "none" is its own: a fabric without fibers has no routes). Throws
	// TopologyError naming the problem.
	static Topology parse(const std::string &spec);
	// One fiber per line, "chipA.portP chipB.portQ", '#' comments; origin
	// names the text in messages (FILE:LINE).
	static Topology from_edge_list(std::string_view text, const std::string &origin);
	// The fibers a fabric manager discovered (any order, each once, either
	// spelling); origin names the fabric in messages. Kind Edges: use
	// infer_grid() to see whether it is cabled as a ring, mesh or torus.
	// Throws TopologyError for an empty list, a port cabled twice, a
	// fiber from a port to itself, a chip id or port out of range.
	static Topology from_fibers(std::vector<Fiber> fibers, std::string origin);
	// A grid: chip id of (x, y, z) is x + A * (y + B * z); port 2d is +d and
	// faces port 2d + 1 (-d) of the next chip in dimension d; with wrap a
	// dimension of size >= 2 closes into a ring (size 2: two fibers between
	// the pair); a dimension of size 1 has no fibers.
	static Topology grid(std::array<uint32_t, 3> dims, bool wrap);

	Kind kind() const noexcept { return kind_; }
	const std::string &spec() const noexcept { return spec_; }
	// Grid sizes (1 for unused dimensions); {0, 0, 0} for an edge list.
	const std::array<uint32_t, 3> &dims() const noexcept { return dims_; }
	bool is_grid() const noexcept { return kind_ != Kind::Edges; }

	// Chip ids that have a fiber (grids: every chip), ascending.
	const std::vector<uint32_t> &chips() const noexcept { return chips_; }
	bool has_chip(uint32_t chip) const noexcept;
	// One more than the largest chip id: the table entries routes need.
	uint32_t id_limit() const noexcept { return static_cast<uint32_t>(peer_.size()); }
	const std::vector<Fiber> &fibers() const noexcept { return fibers_; }

	// The port at the other end of p's fiber, if p is cabled.
	std::optional<PortRef> neighbour(PortRef p) const noexcept;
	// Grid coordinates of a chip and back (grids only).
	std::array<uint32_t, 3> coords(uint32_t chip) const noexcept;
	uint32_t chip_at(const std::array<uint32_t, 3> &c) const noexcept;

      private:
	Topology(Kind kind, std::string spec, std::vector<Fiber> fibers,
		 std::array<uint32_t, 3> dims);

	Kind kind_;
	std::string spec_;
	std::array<uint32_t, 3> dims_;
	std::vector<Fiber> fibers_;
	std::vector<uint32_t> chips_;
	// Per chip id: per port, the neighbour encoded chip << 3 | port, or kNone.
	static constexpr uint32_t kNone = UINT32_MAX;
	std::vector<std::array<uint32_t, kMaxPorts>> peer_;
};

// The shape of a topology cabled exactly as Topology::grid(dims, wrap)
// cables it: chip ids x + A * (y + B * z), port 2d (+d) to port 2d + 1 (-d)
// of the next chip in dimension d. What dimension-order routing needs.
struct GridShape {
	std::array<uint32_t, 3> dims = {1, 1, 1};
	bool wrap = false; // torus (a ring: dims {N, 1, 1} with wrap)

	uint32_t chips() const noexcept { return dims[0] * dims[1] * dims[2]; }
	std::array<uint32_t, 3> coords(uint32_t chip) const noexcept
	{
		return {chip % dims[0], chip / dims[0] % dims[1], chip / (dims[0] * dims[1])};
	}
	uint32_t chip_at(const std::array<uint32_t, 3> &c) const noexcept
	{
		return c[0] + dims[0] * (c[1] + dims[1] * c[2]);
	}
	// "torus:16x16x16", "mesh:4x4", "ring:8" style.
	std::string spec() const;
	bool operator==(const GridShape &o) const { return dims == o.dims && wrap == o.wrap; }
};

// The grid t is: its own shape for ring/mesh/torus topologies; for an edge
// list (discovered fibers), the grid whose cabling is exactly t's fibers
// (every chip 0..N-1 present, every fiber where Topology::grid puts it, no
// other fiber), else nullopt: a missing, extra or port-swapped fiber makes
// it no grid (the agnostic engine routes it).
std::optional<GridShape> infer_grid(const Topology &t);

// "CHIP.PORT" with PORT a number below kMaxPorts or a name +x..-z.
PortRef parse_port(std::string_view text);

} // namespace lumen::route
