// SPDX-License-Identifier: MIT
#include "route/topology.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace lumen::route {
namespace {

constexpr std::array<const char *, 6> kPortNames = {"+x", "-x", "+y", "-y", "+z", "-z"};

bool parse_uint(std::string_view text, uint64_t &value)
{
	if (text.empty())
		return false;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
	return ec == std::errc() && end == text.data() + text.size();
}

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

Fiber make_fiber(PortRef x, PortRef y)
{
	return x < y ? Fiber{x, y} : Fiber{y, x};
}

// "AxB" or "AxBxC"; missing dimensions are 1.
std::array<uint32_t, 3> parse_dims(const std::string &spec, std::string_view text)
{
	std::array<uint32_t, 3> dims = {1, 1, 1};
	size_t count = 0;
	while (true) {
		size_t x = text.find('x');
		std::string_view part = text.substr(0, x);
		uint64_t v = 0;
		if (count == 3)
			throw TopologyError("topology '" + spec +
					    "': at most 3 dimensions (AxBxC)");
		if (!parse_uint(part, v) || v == 0)
			throw TopologyError("topology '" + spec + "': dimension '" +
					    std::string(part) + "' is not a positive integer");
		if (v > kMaxChips)
			throw TopologyError("topology '" + spec + "': dimension " +
					    std::string(part) + " is too large");
		dims[count++] = static_cast<uint32_t>(v);
		if (x == std::string_view::npos)
			break;
		text.remove_prefix(x + 1);
	}
	if (count < 2)
		throw TopologyError("topology '" + spec + "': expected AxB or AxBxC");
	return dims;
}

std::string read_file(const std::string &spec, const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw TopologyError("topology '" + spec + "': cannot read edge list '" + path +
				    "'");
	std::ostringstream text;
	text << in.rdbuf();
	return text.str();
}

} // namespace

std::string port_name(unsigned port)
{
	return port < kPortNames.size() ? kPortNames[port] : std::to_string(port);
}

std::string PortRef::str() const
{
	return std::to_string(chip) + "." + port_name(port);
}

PortRef parse_port(std::string_view text)
{
	const std::string quoted = "'" + std::string(text) + "'";
	size_t dot = text.find('.');
	if (dot == std::string_view::npos)
		throw TopologyError("port " + quoted + ": expected CHIP.PORT, e.g. 3.+x or 3.0");
	uint64_t chip = 0;
	if (!parse_uint(text.substr(0, dot), chip) || chip >= kMaxChips)
		throw TopologyError("port " + quoted + ": chip id is not an integer below " +
				    std::to_string(kMaxChips));
	std::string_view port_text = text.substr(dot + 1);
	for (unsigned p = 0; p < kPortNames.size(); p++)
		if (port_text == kPortNames[p])
			return PortRef{static_cast<uint32_t>(chip), static_cast<uint8_t>(p)};
	uint64_t port = 0;
	if (!parse_uint(port_text, port) || port >= kMaxPorts)
		throw TopologyError("port " + quoted + ": port must be +x -x +y -y +z -z or 0.." +
				    std::to_string(kMaxPorts - 1));
	return PortRef{static_cast<uint32_t>(chip), static_cast<uint8_t>(port)};
}

Topology::Topology(Kind kind, std::string spec, std::vector<Fiber> fibers,
		   std::array<uint32_t, 3> dims)
    : kind_(kind), spec_(std::move(spec)), dims_(dims), fibers_(std::move(fibers))
{
	uint32_t limit = 0;
	for (const Fiber &f : fibers_)
		limit = std::max({limit, f.a.chip + 1, f.b.chip + 1});
	if (is_grid())
		limit = dims_[0] * dims_[1] * dims_[2];
	std::array<uint32_t, kMaxPorts> none;
	none.fill(kNone);
	peer_.assign(limit, none);
	auto link = [&](PortRef x, PortRef y) {
		uint32_t &slot = peer_[x.chip][x.port];
		if (slot != kNone)
			throw TopologyError("topology '" + spec_ + "': port " + x.str() +
					    " is cabled twice");
		slot = y.chip << 3 | y.port;
	};
	for (const Fiber &f : fibers_) {
		if (f.a == f.b)
			throw TopologyError("topology '" + spec_ + "': port " + f.a.str() +
					    " cannot be cabled to itself");
		link(f.a, f.b);
		link(f.b, f.a);
	}
	for (uint32_t c = 0; c < limit; c++) {
		bool cabled = is_grid();
		for (uint32_t v : peer_[c])
			cabled = cabled || v != kNone;
		if (cabled)
			chips_.push_back(c);
	}
}

Topology Topology::grid(std::array<uint32_t, 3> dims, bool wrap)
{
	uint64_t chips = uint64_t(dims[0]) * dims[1] * dims[2];
	std::string spec = std::string(wrap ? "torus:" : "mesh:") + std::to_string(dims[0]) + "x" +
			   std::to_string(dims[1]) +
			   (dims[2] > 1 ? "x" + std::to_string(dims[2]) : "");
	if (chips > kMaxChips)
		throw TopologyError("topology '" + spec + "': " + std::to_string(chips) +
				    " chips, more than the " + std::to_string(kMaxChips) +
				    " a route table addresses");
	if (chips < 2)
		throw TopologyError("topology '" + spec + "': needs at least 2 chips");
	std::vector<Fiber> fibers;
	auto id = [&](const std::array<uint32_t, 3> &c) {
		return c[0] + dims[0] * (c[1] + dims[1] * c[2]);
	};
	// Fibers in the order lumen-fabric numbers them: z, y, x, then dimension.
	std::array<uint32_t, 3> at;
	for (at[2] = 0; at[2] < dims[2]; at[2]++)
		for (at[1] = 0; at[1] < dims[1]; at[1]++)
			for (at[0] = 0; at[0] < dims[0]; at[0]++)
				for (unsigned d = 0; d < 3; d++) {
					if (dims[d] < 2 || (at[d] + 1 == dims[d] && !wrap))
						continue;
					auto next = at;
					next[d] = (at[d] + 1) % dims[d];
					fibers.push_back(make_fiber(
						PortRef{id(at), static_cast<uint8_t>(2 * d)},
						PortRef{id(next),
							static_cast<uint8_t>(2 * d + 1)}));
				}
	return Topology(wrap ? Kind::Torus : Kind::Mesh, spec, std::move(fibers), dims);
}

Topology Topology::from_edge_list(std::string_view text, const std::string &origin)
{
	std::vector<Fiber> fibers;
	std::map<PortRef, unsigned> used_on_line;
	unsigned line_no = 0;
	while (!text.empty()) {
		size_t eol = text.find('\n');
		std::string_view line = text.substr(0, eol);
		text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
		line_no++;
		line = trim(line.substr(0, line.find('#')));
		if (line.empty())
			continue;
		const std::string where = origin + ":" + std::to_string(line_no) + ": ";
		size_t space = line.find_first_of(" \t");
		if (space == std::string_view::npos)
			throw TopologyError(where + "expected 'chipA.portP chipB.portQ'");
		std::string_view second = trim(line.substr(space));
		if (second.find_first_of(" \t") != std::string_view::npos)
			throw TopologyError(where + "expected exactly two ports on a line");
		PortRef ends[2];
		try {
			ends[0] = parse_port(line.substr(0, space));
			ends[1] = parse_port(second);
		} catch (const TopologyError &e) {
			throw TopologyError(where + e.what());
		}
		if (ends[0] == ends[1])
			throw TopologyError(where + "port " + ends[0].str() +
					    " cannot be cabled to itself");
		for (const PortRef &e : ends) {
			auto [it, fresh] = used_on_line.emplace(e, line_no);
			if (!fresh)
				throw TopologyError(where + "port " + e.str() +
						    " is already cabled on line " +
						    std::to_string(it->second));
		}
		fibers.push_back(make_fiber(ends[0], ends[1]));
	}
	if (fibers.empty())
		throw TopologyError(origin + ": no fibers");
	return Topology(Kind::Edges, "edges:" + origin, std::move(fibers), {0, 0, 0});
}

Topology Topology::from_fibers(std::vector<Fiber> fibers, std::string origin)
{
	if (fibers.empty())
		throw TopologyError("topology '" + origin + "': no fibers");
	for (Fiber &f : fibers) {
		for (const PortRef &p : {f.a, f.b}) {
			if (p.chip >= kMaxChips)
				throw TopologyError("topology '" + origin + "': chip id " +
						    std::to_string(p.chip) + " is not below " +
						    std::to_string(kMaxChips));
			if (p.port >= kMaxPorts)
				throw TopologyError("topology '" + origin + "': chip " +
						    std::to_string(p.chip) + " has no port " +
						    std::to_string(p.port));
		}
		f = make_fiber(f.a, f.b);
	}
	// One order whatever the discovery order, so engines are repeatable.
	std::sort(fibers.begin(), fibers.end());
	return Topology(Kind::Edges, std::move(origin), std::move(fibers), {0, 0, 0});
}

Topology Topology::parse(const std::string &spec)
{
	size_t colon = spec.find(':');
	std::string kind = spec.substr(0, colon);
	std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
	if (colon == std::string::npos || arg.empty())
		throw TopologyError(
			"topology '" + spec +
			"': expected ring:N, mesh:AxB[xC], torus:AxB[xC] or edges:FILE");
	if (kind == "ring") {
		uint64_t n = 0;
		if (!parse_uint(arg, n) || n < 2 || n > kMaxChips)
			throw TopologyError("topology '" + spec + "': ring size must be 2.." +
					    std::to_string(kMaxChips));
		Topology t = grid({static_cast<uint32_t>(n), 1, 1}, true);
		t.kind_ = Kind::Ring;
		t.spec_ = spec;
		return t;
	}
	if (kind == "mesh" || kind == "torus") {
		Topology t = grid(parse_dims(spec, arg), kind == "torus");
		t.spec_ = spec;
		return t;
	}
	if (kind == "edges") {
		Topology t = from_edge_list(read_file(spec, arg), arg);
		t.spec_ = spec;
		return t;
	}
	throw TopologyError("topology '" + spec + "': unknown kind '" + kind +
			    "' (ring, mesh, torus, edges)");
}

bool Topology::has_chip(uint32_t chip) const noexcept
{
	return std::binary_search(chips_.begin(), chips_.end(), chip);
}

std::optional<PortRef> Topology::neighbour(PortRef p) const noexcept
{
	if (p.chip >= peer_.size() || p.port >= kMaxPorts || peer_[p.chip][p.port] == kNone)
		return std::nullopt;
	uint32_t v = peer_[p.chip][p.port];
	return PortRef{v >> 3, static_cast<uint8_t>(v & 7)};
}

std::array<uint32_t, 3> Topology::coords(uint32_t chip) const noexcept
{
	if (!is_grid())
		return {0, 0, 0};
	return {chip % dims_[0], chip / dims_[0] % dims_[1], chip / (dims_[0] * dims_[1])};
}

uint32_t Topology::chip_at(const std::array<uint32_t, 3> &c) const noexcept
{
	return c[0] + dims_[0] * (c[1] + dims_[1] * c[2]);
}

std::string GridShape::spec() const
{
	if (wrap && dims[1] == 1 && dims[2] == 1)
		return "ring:" + std::to_string(dims[0]);
	return std::string(wrap ? "torus:" : "mesh:") + std::to_string(dims[0]) + "x" +
	       std::to_string(dims[1]) + (dims[2] > 1 ? "x" + std::to_string(dims[2]) : "");
}

namespace {

// Steps along port `plus` from chip 0 while each lands on the next chip
// `stride` ids on, at its - port: the size of that dimension.
uint32_t run_length(const Topology &t, uint8_t plus, uint32_t stride)
{
	uint32_t c = 0, n = 1;
	while (n <= t.id_limit()) {
		auto nb = t.neighbour(PortRef{c, plus});
		if (!nb || nb->port != plus + 1 || nb->chip != c + stride)
			break;
		c += stride;
		n++;
	}
	return n;
}

} // namespace

std::optional<GridShape> infer_grid(const Topology &t)
{
	if (t.is_grid())
		return GridShape{t.dims(), t.kind() != Topology::Kind::Mesh};
	const uint32_t n = t.id_limit();
	if (n < 2 || t.chips().size() != n)
		return std::nullopt; // chip ids with gaps: no grid numbering
	GridShape g;
	g.dims[0] = run_length(t, 0, 1);
	g.dims[1] = run_length(t, 2, g.dims[0]);
	const uint64_t plane = uint64_t(g.dims[0]) * g.dims[1];
	if (n % plane)
		return std::nullopt;
	g.dims[2] = static_cast<uint32_t>(n / plane);
	g.wrap = false;
	for (unsigned d = 0; d < 3; d++)
		if (g.dims[d] >= 2 && t.neighbour(PortRef{0, static_cast<uint8_t>(2 * d + 1)}))
			g.wrap = true;
	Topology want = Topology::grid(g.dims, g.wrap);
	std::vector<Fiber> mine = t.fibers(), theirs = want.fibers();
	std::sort(mine.begin(), mine.end());
	std::sort(theirs.begin(), theirs.end());
	if (mine != theirs)
		return std::nullopt;
	return g;
}

} // namespace lumen::route
