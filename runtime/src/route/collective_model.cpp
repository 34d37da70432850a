// SPDX-License-Identifier: MIT
#include "route/collective_model.hpp"

#include <algorithm>
#include <cmath>

namespace lumen::route {
namespace {

void check_bytes(double n)
{
	if (!(n >= 0) || !std::isfinite(n))
		throw ModelError("message size " + std::to_string(n) +
				 " bytes: must be a finite number >= 0");
}

double bus_factor(Collective c, uint64_t p)
{
	double f = double(p - 1) / double(p);
	return c == Collective::AllReduce ? 2 * f : f;
}

Estimate finish(Collective c, uint64_t p, double n, double seconds, uint64_t steps)
{
	Estimate e;
	e.seconds = seconds;
	e.steps = steps;
	// One rank, or nothing to move: no bandwidth to speak of.
	if (seconds > 0 && n > 0) {
		e.algbw = n / seconds;
		e.busbw = e.algbw * bus_factor(c, p);
	}
	return e;
}

} // namespace

void AlphaBeta::check() const
{
	if (!(hop_latency_s >= 0) || !std::isfinite(hop_latency_s))
		throw ModelError("hop latency must be >= 0 s");
	if (!(launch_overhead_s >= 0) || !std::isfinite(launch_overhead_s))
		throw ModelError("launch overhead must be >= 0 s");
	if (!(port_bandwidth > 0) || !std::isfinite(port_bandwidth))
		throw ModelError("port bandwidth must be > 0 bytes/s");
	if (hops_per_step == 0)
		throw ModelError("hops per step must be >= 1");
}

const char *collective_name(Collective c)
{
	switch (c) {
	case Collective::AllReduce:
		return "all_reduce";
	case Collective::AllGather:
		return "all_gather";
	case Collective::ReduceScatter:
		return "reduce_scatter";
	}
	return "?";
}

const char *algorithm_name(Algorithm a)
{
	return a == Algorithm::Ring ? "ring" : "torus";
}

Estimate ring_estimate(const AlphaBeta &m, Collective c, uint32_t p, double n)
{
	m.check();
	check_bytes(n);
	if (p == 0)
		throw ModelError("a ring needs at least one rank");
	const uint64_t rounds = c == Collective::AllReduce ? 2 : 1;
	const uint64_t steps = rounds * (p - 1);
	const double step = m.alpha() + n / (double(p) * m.port_bandwidth);
	return finish(c, p, n, double(steps) * step, steps);
}

Estimate torus_estimate(const AlphaBeta &m, Collective c, const std::array<uint32_t, 3> &dims,
			double n)
{
	m.check();
	check_bytes(n);
	std::vector<uint32_t> k;
	uint64_t p = 1;
	for (uint32_t s : dims) {
		if (s == 0)
			throw ModelError("a torus dimension of size 0");
		if (s > 1)
			k.push_back(s);
		p *= s;
	}
	if (k.empty())
		throw ModelError("a torus needs a dimension of 2 or more chips");
	const size_t d = k.size();
	// One reduce-scatter pass: phase j of share s is along k[(s + j) % d]; the
	// two directions of a share take the same time.
	std::vector<double> block(d, n / double(2 * d));
	double rs = 0;
	uint64_t steps = 0;
	for (size_t j = 0; j < d; j++) {
		double slowest = 0;
		uint64_t most_steps = 0;
		for (size_t s = 0; s < d; s++) {
			const double ks = k[(s + j) % d];
			slowest =
				std::max(slowest, (ks - 1) * (m.alpha() +
							      block[s] / (ks * m.port_bandwidth)));
			most_steps = std::max<uint64_t>(most_steps, uint64_t(ks) - 1);
			block[s] /= ks;
		}
		rs += slowest;
		steps += most_steps;
	}
	const uint64_t rounds = c == Collective::AllReduce ? 2 : 1;
	return finish(c, p, n, double(rounds) * rs, rounds * steps);
}

Algorithm fastest(const AlphaBeta &m, Collective c, const std::array<uint32_t, 3> &dims, bool wrap,
		  double n)
{
	if (!wrap)
		return Algorithm::Ring;
	uint64_t p = uint64_t(dims[0]) * dims[1] * dims[2];
	if (p == 0 || p > UINT32_MAX)
		throw ModelError("a fabric of " + std::to_string(p) + " ranks");
	const Estimate ring = ring_estimate(m, c, uint32_t(p), n);
	const Estimate torus = torus_estimate(m, c, dims, n);
	return torus.seconds < ring.seconds ? Algorithm::Torus : Algorithm::Ring;
}

} // namespace lumen::route
