// SPDX-License-Identifier: MIT
// Alpha-beta time model of collectives on a switchless fabric (ring and torus
// all-reduce, all-gather, reduce-scatter). lumen-fabric-sim prints its
// estimates; the collectives library uses it to choose an algorithm.
//
// Per link and step: a message of m bytes to a neighbour takes
//     alpha + m / beta
// with alpha = hops_per_step * hop_latency + launch_overhead (the fiber and
// the forwarding chips, plus the software that starts the step) and beta the
// rate of one port in one direction. Chips send and receive on all their
// ports at once, full duplex.
//
// Sizes follow nccl-tests: n is the all-reduce buffer, the all-gather
// output and the reduce-scatter input, all per rank; p ranks.
//
// Ring (one direction, one port per chip, a logical ring whose neighbours are
// hops_per_step hops apart):
//     all-reduce      2 (p - 1) (alpha + n / (p beta))
//     all-gather       (p - 1) (alpha + n / (p beta))
//     reduce-scatter   (p - 1) (alpha + n / (p beta))
//
// Torus (dimensions k_1..k_d, those of size 1 left out; every ring of a
// dimension is a physical ring of 1-hop neighbours): a ring per dimension,
// reduce-scatter along the dimensions in turn, then all-gather back in the
// reverse order. All 2d ports are kept busy: the buffer is cut into 2d
// shares; share (s, dir) runs its rings in direction dir (+ or -) and visits
// the dimensions in the rotated order s, s+1, .., s+d-1 (mod d), so in any
// phase no two shares use the same port. A reduce-scatter phase along a
// dimension of k chips on a block of m bytes takes
//     (k - 1) (alpha + m / (k beta))
// and leaves m / k; the first block is n / (2d). Phases run in lockstep
// (phase j ends when its slowest share does: equal on a cube, an upper bound
// otherwise), so
//     reduce-scatter  RS = sum_j max_s (k_sj - 1) (alpha + m_sj / (k_sj beta))
//     all-gather      the same phases reversed, same time: RS
//     all-reduce      2 RS
// On a cube k^d with large n this is n (1 - 1/p) / (d beta) for all-reduce,
// 2d times the ring's bandwidth, and 2 d (k - 1) alphas instead of 2 (p - 1).
// A ring:N is a 1-dimensional torus: the torus algorithm is the
// bidirectional ring.
//
// busbw as nccl-tests defines it: algbw = n / time; all-reduce busbw =
// algbw 2 (p - 1) / p, all-gather and reduce-scatter algbw (p - 1) / p.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <lumen/lumen_link.h>

namespace lumen::route {

// Bad model parameters or shapes; the message names the problem.
class ModelError : public std::invalid_argument {
      public:
	using std::invalid_argument::invalid_argument;
};

// What a step costs. Defaults are nominal hardware figures, not the
// emulation's: lumen-fabric defaults to 0 latency and an unlimited rate
// (qemu-device/fabric/README.md), which no model can use.
struct AlphaBeta {
	// fiber plus one forwarding chip
	double hop_latency_s = LUMEN_LINK_NOMINAL_HOP_NS * 1e-9;
	double launch_overhead_s = 5e-6; // software that starts one step
	// bytes/s, one port, one direction
	double port_bandwidth = double(LUMEN_LINK_NOMINAL_BYTES_PER_S);
	unsigned hops_per_step = 1;	 // ring neighbours' distance

	double alpha() const noexcept { return hops_per_step * hop_latency_s + launch_overhead_s; }
	// Throws ModelError for a negative latency, a rate that is not > 0, or
	// hops_per_step 0.
	void check() const;
};

enum class Collective { AllReduce, AllGather, ReduceScatter };
enum class Algorithm { Ring, Torus };

const char *collective_name(Collective c); // "all_reduce", ...
const char *algorithm_name(Algorithm a);   // "ring", "torus"

struct Estimate {
	double seconds = 0;
	double algbw = 0;   // bytes/s: n / seconds
	double busbw = 0;   // bytes/s, nccl-tests' factor
	uint64_t steps = 0; // sequential steps (each costs one alpha)
};

// p ranks on a ring; n bytes as above. Throws ModelError for p == 0, n < 0
// or bad parameters.
Estimate ring_estimate(const AlphaBeta &m, Collective c, uint32_t p, double n);

// A torus of dims (sizes of 1 ignored, at least one of 2 or more). Throws
// ModelError otherwise, or for n < 0 or bad parameters.
Estimate torus_estimate(const AlphaBeta &m, Collective c, const std::array<uint32_t, 3> &dims,
			double n);

// The faster algorithm for this shape and size; Ring when wrap is false (a
// mesh has no rings per dimension). What the collectives library picks.
Algorithm fastest(const AlphaBeta &m, Collective c, const std::array<uint32_t, 3> &dims, bool wrap,
		  double n);

} // namespace lumen::route
