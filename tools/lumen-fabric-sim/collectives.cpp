// SPDX-License-Identifier: MIT
#include "collectives.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace lumen_fabric_sim {

using namespace lumen::route;

std::vector<CollectiveRow> estimate_collectives(const Topology &t, const AlphaBeta &model,
						const std::vector<double> &sizes)
{
	std::vector<CollectiveRow> rows;
	const bool torus = t.kind() == Topology::Kind::Torus || t.kind() == Topology::Kind::Ring;
	const auto chips = static_cast<uint32_t>(t.chips().size());
	for (Collective op : {Collective::AllReduce, Collective::AllGather})
		for (double n : sizes) {
			rows.push_back({t.spec(), op, Algorithm::Ring, n,
					ring_estimate(model, op, chips, n)});
			if (torus)
				rows.push_back({t.spec(), op, Algorithm::Torus, n,
						torus_estimate(model, op, t.dims(), n)});
		}
	return rows;
}

double parse_size(const std::string &text)
{
	const std::string bad = "size '" + text + "': expected bytes, or a number with K, M or G";
	if (text.empty())
		throw std::invalid_argument(bad);
	uint64_t value = 0;
	const char *end = text.data() + text.size();
	auto [p, ec] = std::from_chars(text.data(), end, value);
	if (ec != std::errc() || p == text.data())
		throw std::invalid_argument(bad);
	uint64_t unit = 1;
	if (p != end) {
		if (p + 1 != end)
			throw std::invalid_argument(bad);
		switch (*p) {
		case 'K':
		case 'k':
			unit = uint64_t(1) << 10;
			break;
		case 'M':
		case 'm':
			unit = uint64_t(1) << 20;
			break;
		case 'G':
		case 'g':
			unit = uint64_t(1) << 30;
			break;
		default:
			throw std::invalid_argument(bad);
		}
	}
	if (value > (uint64_t(1) << 50) / unit)
		throw std::invalid_argument("size '" + text + "': more than 1 PiB");
	return double(value * unit);
}

std::string size_str(double bytes)
{
	static const char *const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;
	while (u + 1 < std::size(kUnits) && bytes >= 1024 && std::fmod(bytes, 1024) == 0) {
		bytes /= 1024;
		u++;
	}
	return fmt::format("{:g} {}", bytes, kUnits[u]);
}

} // namespace lumen_fabric_sim
