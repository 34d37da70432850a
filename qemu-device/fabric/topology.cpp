// SPDX-License-Identifier: MIT
#include "topology.hpp"

#include <array>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace lumen::fabric {

namespace {

constexpr std::array<const char *, 6> kPortNames = {"+x", "-x", "+y", "-y", "+z", "-z"};

// Parses a decimal unsigned integer that must fill the whole text.
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

Cable make_cable(Endpoint x, Endpoint y)
{
	return x < y ? Cable{x, y} : Cable{y, x};
}

// Dimensions of "AxB" or "AxBxC"; missing dimensions are 1.
std::array<uint64_t, 3> parse_dims(const std::string &spec, std::string_view text)
{
	std::array<uint64_t, 3> dims = {1, 1, 1};
	size_t count = 0;
	while (true) {
		size_t x = text.find('x');
		std::string_view part = text.substr(0, x);
		if (count == 3)
			throw TopologyError("topology '" + spec +
					    "': at most 3 dimensions (AxBxC)");
		if (!parse_uint(part, dims[count]) || dims[count] == 0)
			throw TopologyError("topology '" + spec + "': dimension '" +
					    std::string(part) + "' is not a positive integer");
		if (dims[count] > kMaxChips)
			throw TopologyError("topology '" + spec + "': dimension " +
					    std::string(part) + " is too large");
		count++;
		if (x == std::string_view::npos)
			break;
		text.remove_prefix(x + 1);
	}
	if (count < 2)
		throw TopologyError("topology '" + spec + "': expected AxB or AxBxC");
	uint64_t chips = dims[0] * dims[1] * dims[2];
	if (chips > kMaxChips)
		throw TopologyError("topology '" + spec + "': " + std::to_string(chips) +
				    " chips, more than " + std::to_string(kMaxChips));
	if (chips < 2)
		throw TopologyError("topology '" + spec + "': needs at least 2 chips");
	return dims;
}

// Chip id of (x, y, z) is x + A * (y + B * z). Port 2d is +d, 2d+1 is -d. A torus
// wraps each dimension of size >= 2 (size 2 gives two fibers between the pair); a
// mesh does not. A dimension of size 1 has no fibers.
std::vector<Cable> grid_cables(const std::array<uint64_t, 3> &dims, bool wrap)
{
	std::vector<Cable> cables;
	auto id = [&](uint64_t x, uint64_t y, uint64_t z) {
		return static_cast<uint32_t>(x + dims[0] * (y + dims[1] * z));
	};
	for (uint64_t z = 0; z < dims[2]; z++)
		for (uint64_t y = 0; y < dims[1]; y++)
			for (uint64_t x = 0; x < dims[0]; x++) {
				const std::array<uint64_t, 3> at = {x, y, z};
				for (unsigned d = 0; d < 3; d++) {
					if (dims[d] < 2)
						continue;
					if (at[d] + 1 == dims[d] && !wrap)
						continue;
					auto next = at;
					next[d] = (at[d] + 1) % dims[d];
					Endpoint from{id(at[0], at[1], at[2]),
						      static_cast<uint8_t>(2 * d)};
					Endpoint to{id(next[0], next[1], next[2]),
						    static_cast<uint8_t>(2 * d + 1)};
					cables.push_back(make_cable(from, to));
				}
			}
	return cables;
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

std::string Endpoint::str() const
{
	return std::to_string(chip) + "." + port_name(port);
}

Endpoint parse_endpoint(std::string_view text)
{
	const std::string quoted = "'" + std::string(text) + "'";
	size_t dot = text.find('.');
	if (dot == std::string_view::npos)
		throw TopologyError("port " + quoted + ": expected CHIP.PORT, e.g. 3.+x or 3.0");
	uint64_t chip = 0;
	if (!parse_uint(text.substr(0, dot), chip) || chip > UINT32_MAX - 1)
		throw TopologyError("port " + quoted + ": chip id is not an integer below 2^32-1");
	std::string_view port_text = text.substr(dot + 1);
	for (unsigned p = 0; p < kPortNames.size(); p++)
		if (port_text == kPortNames[p])
			return Endpoint{static_cast<uint32_t>(chip), static_cast<uint8_t>(p)};
	uint64_t port = 0;
	if (!parse_uint(port_text, port) || port >= kMaxPorts)
		throw TopologyError("port " + quoted + ": port must be +x -x +y -y +z -z or 0.." +
				    std::to_string(kMaxPorts - 1));
	return Endpoint{static_cast<uint32_t>(chip), static_cast<uint8_t>(port)};
}

std::vector<Cable> parse_edge_list(std::string_view text, const std::string &origin)
{
	std::vector<Cable> cables;
	std::map<Endpoint, unsigned> used_on_line;
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
		Endpoint ends[2];
		try {
			ends[0] = parse_endpoint(line.substr(0, space));
			ends[1] = parse_endpoint(second);
		} catch (const TopologyError &e) {
			throw TopologyError(where + e.what());
		}
		if (ends[0] == ends[1])
			throw TopologyError(where + "port " + ends[0].str() +
					    " cannot be cabled to itself");
		for (const Endpoint &e : ends) {
			auto [it, fresh] = used_on_line.emplace(e, line_no);
			if (!fresh)
				throw TopologyError(where + "port " + e.str() +
						    " is already cabled on line " +
						    std::to_string(it->second));
		}
		cables.push_back(make_cable(ends[0], ends[1]));
	}
	return cables;
}

Topology parse_topology(const std::string &spec)
{
	size_t colon = spec.find(':');
	std::string kind = spec.substr(0, colon);
	std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
	Topology topo{spec, {}};
	if (kind == "none" && colon == std::string::npos)
		return topo;
	if (colon == std::string::npos || arg.empty())
		throw TopologyError("topology '" + spec +
				    "': expected ring:N, mesh:AxB[xC], torus:AxB[xC], edges:FILE "
				    "or none");
	if (kind == "ring") {
		uint64_t n = 0;
		if (!parse_uint(arg, n) || n < 2 || n > kMaxChips)
			throw TopologyError("topology '" + spec + "': ring size must be 2.." +
					    std::to_string(kMaxChips));
		topo.cables = grid_cables({n, 1, 1}, true);
	} else if (kind == "mesh" || kind == "torus") {
		topo.cables = grid_cables(parse_dims(spec, arg), kind == "torus");
	} else if (kind == "edges") {
		topo.cables = parse_edge_list(read_file(spec, arg), arg);
	} else {
		throw TopologyError("topology '" + spec + "': unknown kind '" + kind +
				    "' (ring, mesh, torus, edges, none)");
	}
	return topo;
}

} // namespace lumen::fabric
