// SPDX-License-Identifier: MIT
// Every packet for one destination at once: the forwarding rules of hw-spec
// 13.4 (walk.hpp's forward(), the reference) as a graph over packet states.
// Tables are destination-based, so for a fixed destination the next state
// of a packet depends only on (chip, port it arrived on, lane, DETOUR): one
// successor per state. A memoised walk over that functional graph gives
// every source's hop count, outcome and lanes in O(states) per destination
// (at most 36 per chip) instead of one walk per pair; the verifier and the
// channel-load report run on it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/walk.hpp"

namespace lumen::route {

class DestinationWalk {
      public:
	// Channel index: (chip * kMaxPorts + port) * LUMEN_LINK_LANES + lane.
	static constexpr uint32_t kNoChannel = UINT32_MAX;

	struct SourceResult {
		Outcome outcome = Outcome::NoRoute;
		uint32_t hops = 0;    // hops the packet makes (ttl + 1 when TTL expired)
		uint8_t max_lane = 0; // highest lane of those hops
	};

	// r, ls (and its topology) must outlive the walk.
	DestinationWalk(const Routes &r, const LinkState &ls,
			unsigned ttl = LUMEN_LINK_TTL_DEFAULT);

	enum Want : unsigned {
		kResults = 0,
		kDependencies = 1, // for dependencies()
		kLoad = 2,	   // for add_load()
	};
	// A packet from every chip of sources (dst itself skipped) to dst;
	// results() in the order of sources.
	void run(uint32_t dst, const std::vector<uint32_t> &sources, unsigned want = kResults);
	const std::vector<SourceResult> &results() const noexcept { return results_; }
	// The same, summed over the sources of the last run.
	struct Summary {
		uint32_t pairs = 0, arrived = 0;
		uint32_t max_hops = 0; // of arrived packets
		uint64_t hops = 0;     // of arrived packets
		uint8_t max_lane = 0;
		std::vector<uint32_t> failed; // indices into sources, ascending
	};
	const Summary &summary() const noexcept { return summary_; }

	// After run(..., kDependencies): f(channel, next) for each channel a
	// packet used, with the channel the same packet took next (kNoChannel
	// when none), every such pair once per run: exactly the consecutive
	// hops of the walk()s of all sources.
	template <class F> void dependencies(F &&f) const
	{
		for (const auto &[ch, next] : first_hops_)
			f(ch, next);
		for (uint32_t s : touched_) {
			const State &x = st_[s];
			if (all_used_) {
				if (x.port() == kNoHop)
					continue;
				const bool more = x.next < kArrive && st_[x.next].port() != kNoHop;
				f(channel(s), more ? channel(x.next) : kNoChannel);
			} else if (use_[s] & kHopUsed) {
				f(channel(s), (use_[s] & kEdgeUsed) ? channel(x.next) : kNoChannel);
			}
		}
	}
	// After run(..., kLoad): adds to load[chip * kMaxPorts + port] the
	// number of arrived packets that left by that port (lanes summed).
	void add_load(std::vector<uint64_t> &load);

	// TTLs above this count as this (the chips take 1 to 63).
	static constexpr unsigned kMaxTtl = 250;

      private:
	static constexpr uint32_t kArrive = UINT32_MAX - 2;    // next chip is dst
	static constexpr uint32_t kDropRoute = UINT32_MAX - 1; // no route here
	static constexpr uint32_t kDropLane = UINT32_MAX;      // lane above 1 here
	static constexpr uint8_t kInf = UINT8_MAX; // saturated hop counts: beyond any TTL
	static constexpr uint8_t kNoHop = 0xf;
	static constexpr uint8_t kHopUsed = 1, kEdgeUsed = 2, kFull = 4;
	enum Term : uint8_t { kTermArrived, kTermNoRoute, kTermLane, kTermLoop };

	// What the walk knows of a state in this run (mark == done_), in 8
	// bytes. States are numbered ((in-port x 2 + lane) x 2 + DETOUR) x
	// stride + chip, so the states of neighbouring chip ids are neighbours
	// in memory.
	struct State {
		uint32_t next = 0; // next state, kArrive or a drop
		uint8_t mark = 0;
		uint8_t dist = 0;  // hops to where the packet ends (kInf: never)
		uint8_t lane1 = 0; // hops to its first lane-1 hop (kInf: none)
		uint8_t hop = 0;   // port (kNoHop: dropped here) | lane << 4 | term << 5

		unsigned port() const { return hop & 0xf; }
		unsigned lane() const { return hop >> 4 & 1; }
		unsigned term() const { return hop >> 5; }
		void set_hop(unsigned port, unsigned lane, unsigned term)
		{
			hop = static_cast<uint8_t>(port | lane << 4 | term << 5);
		}
		void set_term(unsigned term)
		{
			hop = static_cast<uint8_t>((hop & 0x1f) | term << 5);
		}
	};
	uint32_t state_of(uint32_t chip, unsigned in_idx, unsigned lane, bool detour) const
	{
		return (((in_idx * 2 + lane) * 2 + detour) << shift_) + chip;
	}
	uint32_t chip_of(uint32_t s) const { return s & ((1u << shift_) - 1); }
	uint32_t channel(uint32_t s) const
	{
		const State &x = st_[s];
		return (chip_of(s) * kMaxPorts + x.port()) * LUMEN_LINK_LANES + x.lane();
	}
	// One forwarding decision: next is a state, kArrive or a drop.
	struct Decision {
		uint32_t next;
		uint8_t port, lane;
	};
	template <bool kCreated>
	Decision decide(uint32_t chip, unsigned in_idx, unsigned lane_in, bool detour_in) const;
	void step(uint32_t s);
	void solve(uint32_t s0);
	void close_cycle(uint32_t s);
	void mark_chain(uint32_t s, bool truncated, unsigned hops);
	// Route words of 64 consecutive destinations, per destination for
	// every chip: each chip's row is read in 256-byte pieces once per 64
	// destinations instead of a cache line per state.
	static constexpr uint32_t kColumnBlock = 64;
	void load_columns(uint32_t dst);

	const Routes &r_;
	const LinkState &ls_;
	unsigned ttl_;
	uint32_t limit_;     // chip ids of the topology
	unsigned shift_ = 0; // log2 of the state stride (a power of two >= limit_)
	uint32_t dst_ = 0;
	std::vector<uint32_t> peer_;	     // chip * 8 + port -> chip << 3 | port (cabled ports)
	std::vector<uint8_t> up_, dateline_; // per chip
	std::vector<State> st_;
	std::vector<uint8_t> use_;	   // per state: kHopUsed | kEdgeUsed | kFull (TTL expiries)
	std::vector<uint32_t> columns_;	   // (dst - block_first_) << shift_ | chip
	const uint32_t *column_ = nullptr; // this dst's
	uint32_t block_first_ = UINT32_MAX;
	std::vector<uint32_t> count_;	   // per state, kLoad: arrived packets passing
	std::vector<uint32_t> first_load_; // kLoad: chip * 8 + port of each first hop
	uint8_t busy_ = 0, done_ = 0;	   // State::mark values of this run
	std::vector<uint32_t> touched_, stack_;
	// The first hop of each source's packet (kDependencies): (channel,
	// next channel). Created packets have a state of their own per source,
	// not shared, so they are kept out of st_.
	std::vector<std::pair<uint32_t, uint32_t>> first_hops_;
	std::vector<uint32_t> first_next_; // per source: the state after its first hop
	bool all_used_ = false;		   // no TTL expiry: every solved state is used
	std::vector<SourceResult> results_;
	Summary summary_;
};

} // namespace lumen::route
