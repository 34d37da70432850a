// SPDX-License-Identifier: MIT
#include "targets.hpp"

#include <cstdlib>

#include <fmt/format.h>

namespace lumen_fabric_sim {
namespace {

constexpr size_t kSupernode = 4096;
constexpr size_t kAllOptical = 8192;

} // namespace

bool Figure::pass() const noexcept
{
	if (!target)
		return false;
	return target->inclusive ? value <= target->limit : value < target->limit;
}

std::string Figure::target_str() const
{
	if (!target)
		return "";
	return fmt::format("{} {:g} {}", target->inclusive ? "<=" : "<", target->limit, unit);
}

const char *Figure::verdict() const noexcept
{
	if (!target)
		return "-";
	return pass() ? "PASS" : "MISS";
}

std::optional<Target> full_routes_target(size_t chips)
{
	if (chips <= kSupernode)
		return Target{100, false, "issue 9: full routes, 4096 chips < 100 ms"};
	if (chips <= kAllOptical)
		return Target{250, false, "issue 9: full routes, 8192 chips < 250 ms"};
	return std::nullopt;
}

std::optional<Target> agnostic_target(size_t chips)
{
	if (chips <= kSupernode)
		return Target{2000, false, "issue 9: agnostic engine, 4096 chips, 1% failed < 2 s"};
	return std::nullopt;
}

std::optional<Target> reroute_target(size_t chips)
{
	if (chips <= kSupernode)
		return Target{5, false, "issue 9: incremental reroute, one failure, 4096 < 5 ms"};
	return std::nullopt;
}

std::optional<Target> verify_target(size_t chips)
{
	if (chips <= kSupernode)
		return Target{1000, false, "issue 9: verifier, 4096 chips < 1 s"};
	return std::nullopt;
}

Target mean_hops_target()
{
	return Target{1.01, true, "issue 9: mean hops within 1% of the topology's ideal"};
}

Target channel_load_target()
{
	return Target{1.10, true, "issue 9: max channel load within 10% of ideal, uniform traffic"};
}

MachineLoad machine_load()
{
	double l[3];
	MachineLoad m;
	if (getloadavg(l, 3) == 3) {
		m.one = l[0];
		m.five = l[1];
		m.fifteen = l[2];
	}
	return m;
}

} // namespace lumen_fabric_sim
