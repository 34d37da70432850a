// SPDX-License-Identifier: MIT
#include "failures.hpp"

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace lumen_fabric_sim {

std::vector<lumen::route::Fiber> pick_failures(const lumen::route::Topology &t, size_t k,
					       uint64_t seed)
{
	std::vector<lumen::route::Fiber> fibers = t.fibers();
	if (k > fibers.size())
		throw std::invalid_argument("cannot fail " + std::to_string(k) + " fibers: '" +
					    t.spec() + "' has " + std::to_string(fibers.size()));
	// The first k steps of a Fisher-Yates shuffle (the modulo's bias is
	// below 2^-40 for any fabric that fits a route table).
	std::mt19937_64 rng(seed);
	for (size_t i = 0; i < k; i++) {
		size_t j = i + static_cast<size_t>(rng() % (fibers.size() - i));
		std::swap(fibers[i], fibers[j]);
	}
	fibers.resize(k);
	return fibers;
}

size_t fibers_for_percent(const lumen::route::Topology &t, double pct)
{
	if (!(pct >= 0 && pct <= 100))
		throw std::invalid_argument("--fail-pct " + std::to_string(pct) +
					    ": must be 0..100");
	if (pct == 0)
		return 0;
	size_t n = static_cast<size_t>(std::llround(t.fibers().size() * pct / 100.0));
	return n == 0 ? 1 : n;
}

} // namespace lumen_fabric_sim
