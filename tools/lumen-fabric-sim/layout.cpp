// SPDX-License-Identifier: MIT
#include "layout.hpp"

namespace lumen_fabric_sim {

using lumen::route::Topology;
using lumen::route::TopologyError;

namespace {

constexpr const char *kOcs128From = "torus:4x4x8";
constexpr const char *kOcs128To = "torus:8x16";

Layout ocs_layout(const std::string &name, const std::string &arg)
{
	std::string from, to;
	if (arg == "128") {
		from = kOcs128From;
		to = kOcs128To;
	} else {
		size_t comma = arg.find(',');
		if (comma == std::string::npos)
			throw TopologyError("layout '" + name +
					    "': expected ocs:128 or ocs:SPEC_A,SPEC_B");
		from = arg.substr(0, comma);
		to = arg.substr(comma + 1);
	}
	Topology a = Topology::parse(from);
	Topology b = Topology::parse(to);
	if (a.chips() != b.chips())
		throw TopologyError("layout '" + name + "': '" + from + "' has " +
				    std::to_string(a.chips().size()) + " chips and '" + to + "' " +
				    std::to_string(b.chips().size()) +
				    ": an OCS re-patch keeps the chips");
	return Layout{name, std::move(a), std::move(b)};
}

} // namespace

Layout parse_layout(const std::string &spec)
{
	if (spec.rfind("ocs:", 0) == 0)
		return ocs_layout(spec, spec.substr(4));
	return Layout{spec, Topology::parse(spec), std::nullopt};
}

} // namespace lumen_fabric_sim
