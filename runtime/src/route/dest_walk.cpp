// SPDX-License-Identifier: MIT
#include "route/dest_walk.hpp"

#include <algorithm>

namespace lumen::route {

namespace {
constexpr unsigned kInjectedIdx = 8;		     // in-port index of a created packet
constexpr unsigned kStatesPerChip = (8 + 1) * 2 * 2; // in-port x lane x DETOUR
} // namespace

DestinationWalk::DestinationWalk(const Routes &r, const LinkState &ls, unsigned ttl)
    : r_(r), ls_(ls), ttl_(std::min(ttl, kMaxTtl)), limit_(ls.topology().id_limit())
{
	while ((1u << shift_) < limit_)
		shift_++;
	const Topology &t = ls.topology();
	peer_.assign(size_t(limit_) * kMaxPorts, UINT32_MAX);
	for (const Fiber &f : t.fibers()) {
		peer_[size_t(f.a.chip) * kMaxPorts + f.a.port] = f.b.chip << 3 | f.b.port;
		peer_[size_t(f.b.chip) * kMaxPorts + f.b.port] = f.a.chip << 3 | f.a.port;
	}
	up_.resize(limit_);
	dateline_.resize(limit_);
	for (uint32_t c = 0; c < limit_; c++) {
		up_[c] = ls.up_ports(c);
		dateline_[c] = r.datelines(c);
	}
	st_.assign(size_t(kStatesPerChip) << shift_, State{});
	columns_.assign(size_t(kColumnBlock) << shift_, 0);
}

void DestinationWalk::load_columns(uint32_t dst)
{
	block_first_ = dst / kColumnBlock * kColumnBlock;
	const uint32_t limit = r_.id_limit();
	const uint32_t n = limit > block_first_ ? std::min(kColumnBlock, limit - block_first_) : 0;
	// Only cabled chips' words are ever read (decide() runs on the chips
	// packets reach), and each load rewrites all of theirs: with sparse
	// ids that is far less than the whole block.
	for (uint32_t c : ls_.topology().chips()) {
		const uint32_t *row = c < limit ? r_.row(c) + block_first_ : nullptr;
		for (uint32_t j = 0; j < kColumnBlock; j++)
			columns_[(size_t(j) << shift_) + c] = row && j < n ? row[j] : 0;
	}
}

// One forwarding decision (walk.cpp forward(), steps 3 and 5; the TTL is
// the caller's, by hop count). Inlined into its two callers, so that a
// created packet's case (no in-port, no DETOUR, the entry's lane) folds.
template <bool kCreated>
inline __attribute__((always_inline)) DestinationWalk::Decision
DestinationWalk::decide(uint32_t chip, unsigned in_idx, unsigned lane_in, bool detour_in) const
{
	const bool created = kCreated;
	const unsigned in_port = created ? kInjected : in_idx;
	const uint32_t w = column_[chip];
	if (!(w & LUMEN_ROUTE_W_VALID))
		return {kDropRoute, kNoHop, 0};
	const unsigned port = w & LUMEN_ROUTE_W_PORT_MASK;
	const unsigned alt = (w & LUMEN_ROUTE_W_ALT_MASK) >> LUMEN_ROUTE_W_ALT_SHIFT;
	const unsigned entry_lane = (w & LUMEN_ROUTE_W_LANE_MASK) >> LUMEN_ROUTE_W_LANE_SHIFT;
	const bool fixed = w & LUMEN_ROUTE_W_FIXED_LANE;
	const uint8_t up_mask = up_[chip];
	auto up = [&](unsigned p) { return p < kMaxPorts && (up_mask >> p & 1); };
	unsigned out;
	bool detour = detour_in;
	if (up(port) && !(detour_in && port == in_port)) {
		out = port;
	} else if (up(alt)) {
		out = alt;
		detour = true;
	} else {
		return {kDropRoute, kNoHop, 0};
	}
	unsigned lane = lane_in;
	if (fixed || created || port_dim(out) != port_dim(in_port) || out == in_port)
		lane = entry_lane;
	if (!fixed && (dateline_[chip] >> out & 1))
		lane++;
	if (lane >= LUMEN_LINK_LANES)
		return {kDropLane, kNoHop, 0};
	const uint32_t far = peer_[size_t(chip) * kMaxPorts + out];
	const uint32_t next =
		far >> 3 == dst_ ? kArrive : state_of(far >> 3, far & 7, lane, detour);
	return {next, static_cast<uint8_t>(out), static_cast<uint8_t>(lane)};
}

// Decides a transit state; a drop or a last hop is solved at once.
void DestinationWalk::step(uint32_t s)
{
	const uint32_t rem = s >> shift_;
	const Decision d = decide<false>(chip_of(s), rem / 4, rem >> 1 & 1, rem & 1);
	State &x = st_[s];
	if (!count_.empty())
		count_[s] = 0;
	x.next = d.next;
	if (d.next == kArrive) {
		x.set_hop(d.port, d.lane, kTermArrived);
		x.dist = 1;
		x.lane1 = d.lane == 1 ? 0 : kInf;
	} else if (d.next > kArrive) {
		x.set_hop(kNoHop, 0, d.next == kDropLane ? kTermLane : kTermNoRoute);
		x.dist = 0;
		x.lane1 = kInf;
	} else {
		x.set_hop(d.port, d.lane, kTermArrived); // term: the unwinding's
	}
}

// The states of a cycle (on the stack from s on) never end: TTL expiry.
void DestinationWalk::close_cycle(uint32_t s)
{
	const auto it = std::find(stack_.begin(), stack_.end(), s);
	const size_t first = it - stack_.begin(), m = stack_.size() - first;
	// Hops to the first lane-1 hop from each state, going round twice.
	uint32_t to_lane1 = kInf;
	for (size_t k = 2 * m; k-- > 0;) {
		State &c = st_[stack_[first + k % m]];
		to_lane1 = c.lane() == 1 ? 0 : std::min<uint32_t>(to_lane1 + 1, kInf);
		if (k < m) {
			c.lane1 = static_cast<uint8_t>(to_lane1);
			c.dist = kInf;
			c.set_term(kTermLoop);
			c.mark = done_;
		}
	}
	stack_.resize(first);
}

// Follows s0's packet until a state already solved, a drop, the arrival or
// a loop, then gives each state on the way its distance to the end.
void DestinationWalk::solve(uint32_t s0)
{
	stack_.clear();
	for (uint32_t s = s0;;) {
		State &x = st_[s];
		if (x.mark == done_)
			break;
		if (x.mark == busy_) {
			close_cycle(s);
			break;
		}
		x.mark = busy_;
		stack_.push_back(s);
		touched_.push_back(s);
		step(s);
		if (x.next >= kArrive) {
			x.mark = done_;
			stack_.pop_back();
			break;
		}
		s = x.next;
	}
	while (!stack_.empty()) {
		State &x = st_[stack_.back()];
		const State &n = st_[x.next];
		stack_.pop_back();
		x.dist = static_cast<uint8_t>(std::min<uint32_t>(n.dist + 1u, kInf));
		x.set_term(n.term());
		x.lane1 = x.lane() == 1
				  ? 0
				  : static_cast<uint8_t>(std::min<uint32_t>(n.lane1 + 1u, kInf));
		x.mark = done_;
	}
}

// Flags the hops (and consecutive pairs) of a packet from state s on:
// all of its chain, or (truncated by TTL) its next `hops` hops.
void DestinationWalk::mark_chain(uint32_t s, bool truncated, unsigned hops)
{
	if (!truncated) {
		while (s < kArrive && !(use_[s] & kFull)) {
			const State &x = st_[s];
			use_[s] |= kFull;
			if (x.port() == kNoHop)
				break;
			use_[s] |= kHopUsed;
			if (x.next < kArrive && st_[x.next].port() != kNoHop)
				use_[s] |= kEdgeUsed;
			s = x.next;
		}
		return;
	}
	for (unsigned i = 0; i < hops; i++) {
		use_[s] |= kHopUsed;
		if (i + 1 == hops)
			break;
		use_[s] |= kEdgeUsed;
		s = st_[s].next;
	}
}

void DestinationWalk::run(uint32_t dst, const std::vector<uint32_t> &sources, unsigned want)
{
	if (done_ >= UINT8_MAX - 2) {
		for (State &x : st_)
			x.mark = 0;
		done_ = 0;
	}
	busy_ = done_ + 1;
	done_ += 2;
	dst_ = dst;
	if (dst < block_first_ || dst - block_first_ >= kColumnBlock)
		load_columns(dst);
	column_ = &columns_[size_t(dst - block_first_) << shift_];
	touched_.clear();
	first_hops_.clear();
	first_load_.clear();
	if ((want & kLoad) && count_.empty())
		count_.assign(st_.size(), 0); // step() clears the states it visits
	results_.resize(sources.size());
	bool truncated_any = false;
	if (want & kDependencies)
		first_next_.assign(sources.size(), kArrive);
	summary_.pairs = summary_.arrived = summary_.max_hops = 0;
	summary_.hops = 0;
	summary_.max_lane = 0;
	summary_.failed.clear();
	const uint32_t limit = ttl_ + 1;
	for (size_t i = 0; i < sources.size(); i++) {
		const uint32_t src = sources[i];
		SourceResult &res = results_[i];
		res = SourceResult{};
		if (src == dst || src >= limit_)
			continue;
		// The created packet's first hop, then the state it reaches.
		const Decision d = decide<true>(src, kInjectedIdx, 0, false);
		uint32_t h, lane1, term;
		if (d.next >= kArrive) {
			h = d.next == kArrive ? 1 : 0;
			term = d.next == kArrive     ? kTermArrived
			       : d.next == kDropLane ? kTermLane
						     : kTermNoRoute;
			lane1 = d.next == kArrive && d.lane == 1 ? 0 : kInf;
		} else {
			if (st_[d.next].mark != done_)
				solve(d.next);
			const State &n = st_[d.next];
			h = n.dist == kInf ? kInf : n.dist + 1u;
			term = n.term();
			lane1 = d.lane == 1 ? 0 : n.lane1 == kInf ? kInf : n.lane1 + 1u;
		}
		if (term == kTermArrived && h <= limit) {
			res.outcome = Outcome::Arrived;
			res.hops = h;
		} else if ((term == kTermNoRoute || term == kTermLane) && h <= ttl_) {
			res.outcome = term == kTermLane ? Outcome::LaneError : Outcome::NoRoute;
			res.hops = h;
		} else {
			res.outcome = Outcome::TtlExpired;
			res.hops = limit;
		}
		res.max_lane = lane1 < res.hops ? 1 : 0;
		summary_.pairs++;
		summary_.max_lane |= res.max_lane;
		if (res.outcome == Outcome::Arrived) {
			summary_.arrived++;
			summary_.hops += res.hops;
			summary_.max_hops = std::max(summary_.max_hops, res.hops);
		} else {
			summary_.failed.push_back(static_cast<uint32_t>(i));
		}
		if ((want & kDependencies) && d.port != kNoHop) {
			truncated_any |= res.outcome == Outcome::TtlExpired;
			const bool more = d.next < kArrive && res.hops > 1;
			first_hops_.emplace_back((src * kMaxPorts + d.port) * LUMEN_LINK_LANES +
							 d.lane,
						 more ? channel(d.next) : kNoChannel);
			first_next_[i] = more ? d.next : kArrive;
		}
		if ((want & kLoad) && res.outcome == Outcome::Arrived && d.next < kArrive)
			count_[d.next]++;
		if ((want & kLoad) && res.outcome == Outcome::Arrived)
			first_load_.push_back(src * kMaxPorts + d.port);
	}
	// Every packet that ends within TTL makes all of its chain's hops, so
	// without a TTL expiry every state solved is used, with its successor.
	// Else flag what the packets make.
	all_used_ = !truncated_any;
	if (!(want & kDependencies) || all_used_)
		return;
	if (use_.empty())
		use_.assign(st_.size(), 0);
	for (uint32_t s : touched_)
		use_[s] = 0;
	for (size_t i = 0; i < sources.size(); i++) {
		const uint32_t next = first_next_[i];
		const SourceResult &res = results_[i];
		const bool truncated = res.outcome == Outcome::TtlExpired;
		if (next < kArrive && (truncated || !(use_[next] & kFull)))
			mark_chain(next, truncated, res.hops - 1);
	}
}

void DestinationWalk::add_load(std::vector<uint64_t> &load)
{
	// Arrived packets' states, farthest from dst first, so that each
	// state's count is complete before it passes on to the next.
	const uint32_t limit = ttl_ + 1;
	std::vector<uint32_t> first(limit + 2, 0);
	auto arrives = [&](const State &x) { return x.term() == kTermArrived && x.dist <= limit; };
	for (uint32_t s : touched_)
		if (arrives(st_[s]))
			first[limit - st_[s].dist + 1]++;
	for (size_t i = 1; i < first.size(); i++)
		first[i] += first[i - 1];
	std::vector<uint32_t> order(first.back());
	for (uint32_t s : touched_)
		if (arrives(st_[s]))
			order[first[limit - st_[s].dist]++] = s;
	for (uint32_t ch : first_load_)
		load[ch]++;
	first_load_.clear();
	for (uint32_t s : order) {
		const uint32_t c = count_[s];
		if (!c)
			continue;
		const State &x = st_[s];
		load[size_t(chip_of(s)) * kMaxPorts + x.port()] += c;
		if (x.next < kArrive)
			count_[x.next] += c;
	}
}

} // namespace lumen::route
