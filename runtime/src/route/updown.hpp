// SPDX-License-Identifier: MIT
// The up*/down* orientation the agnostic engine's lanes follow (Autonet;
// Schroeder et al. 1991): chips ranked by BFS level from a root per
// connected component (ties by chip index), a link is "up" toward the
// smaller rank. A route that never takes an up link after a down link is
// legal, and any set of legal routes has an acyclic channel-dependency
// graph: a cycle of channels would need a down -> up turn somewhere. Any
// strict order of the chips has that property; BFS levels make it connect.
//
// Chips here are dense indices 0..n-1; a channel is index x 8 + port;
// peer[c] is the channel at the far end of c's fiber (kNoChannel: none) and
// up[x] bit p says the link of channel x 8 + p carries traffic.
#pragma once

#include <cstdint>
#include <vector>

namespace lumen::route {

constexpr uint32_t kNoChannel = UINT32_MAX;

struct UpDownOrder {
	// Per chip: its key, unique, smaller is nearer the root. Keys are
	// kRankStep apart when built, so that a chip can be re-ranked between
	// two others (updown_lift) without renumbering.
	std::vector<uint32_t> rank;
	std::vector<uint32_t> by_rank; // chips by ascending rank

	static constexpr uint32_t kRankStep = 1u << 18;

	bool is_up(uint32_t from, uint32_t to) const { return rank[to] < rank[from]; }
	// Turn a -> b -> c is legal unless a -> b goes down and b -> c goes up.
	bool legal_turn(uint32_t a, uint32_t b, uint32_t c) const
	{
		return !(rank[b] > rank[a] && rank[c] < rank[b]);
	}
};

// Where each component's root is: central (the middle of a double-sweep BFS
// diameter path: up*/down* routes stay short) or far (the chip farthest
// from that centre: on a torus, its antipode).
enum class UpDownRoot { Central, Far };

UpDownOrder updown_order(const std::vector<uint32_t> &peer, const std::vector<uint8_t> &up,
			 UpDownRoot where = UpDownRoot::Central);

// The order of the keys (one per chip, distinct): any strict order of the
// chips is acyclic; on a grid, coordinate orders balance where a BFS order
// funnels everything through its root (agnostic.hpp).
UpDownOrder updown_from_keys(const std::vector<uint64_t> &key);

// Every pair of chips connected over up links has a legal route iff each
// component has exactly one chip without an up neighbour (every up-only
// walk ends there, and from there a down-only path reaches every chip).
// Links going down or coming up can break this; then the order is rebuilt
// or, for one chip, lifted.
bool updown_connects(const UpDownOrder &o, const std::vector<uint32_t> &peer,
		     const std::vector<uint8_t> &up);

// x lost its last up link (every link it has left leads down): re-rank it
// just above its lowest neighbour y, so that x -> y leads up. Only the
// link x-y changes direction, and every legal route stays legal: before,
// every link into x led up (x was a local minimum), so a turn at x was
// legal whatever followed; after, y -> x leads down and the links out of
// x other than to y still lead down, so y -> x -> c is down -> down; a
// turn a -> y -> x ends going down; x -> y -> c starts going up. Refused
// (false, o unchanged) when x has no link left at all, when y's only
// up link is x (it would lose it), or when no key is free between y and
// the next chip. *lowest: y.
bool updown_lift(UpDownOrder &o, uint32_t x, const std::vector<uint32_t> &peer,
		 const std::vector<uint8_t> &up, uint32_t *lowest = nullptr);

// Lift every chip without an up link but the lowest of its component
// (updown_lift) until updown_connects holds; false if some lift is refused.
bool updown_connect(UpDownOrder &o, const std::vector<uint32_t> &peer,
		    const std::vector<uint8_t> &up);

} // namespace lumen::route
