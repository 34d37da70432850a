// SPDX-License-Identifier: MIT
#include "route/agnostic.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "route/updown.hpp"

namespace lumen::route {
namespace {

constexpr uint32_t kUnset = UINT32_MAX;

// A chip's entry for one destination as the engine keeps it (two bytes, so
// 8192 x 8192 entries fit): bits 0-2 port, 3 valid, 4-6 alternative port,
// 7 alternative valid, 8 lane.
using Packed = uint16_t;
constexpr Packed kValid = 1u << 3, kAltValid = 1u << 7, kLane1 = 1u << 8;

bool valid(Packed e)
{
	return e & kValid;
}
unsigned port_of(Packed e)
{
	return e & 7u;
}
bool has_alt(Packed e)
{
	return e & kAltValid;
}
unsigned alt_of(Packed e)
{
	return e >> 4 & 7u;
}
unsigned lane_of(Packed e)
{
	return e >> 8 & 1u;
}
Packed pack(unsigned port, unsigned lane)
{
	return static_cast<Packed>(port | kValid | (lane ? kLane1 : 0));
}
Packed with_alt(Packed e, unsigned alt)
{
	return static_cast<Packed>((e & ~0xf0u) | alt << 4 | kAltValid);
}
Packed without_alt(Packed e)
{
	return static_cast<Packed>(e & ~0xf0u);
}

// splitmix64: tie-breaks that depend on the seed, not on memory layout.
uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

// Shortest paths only; one hop longer for some chips; up*/down* fallback.
enum class Kind : uint8_t { Minimal, Longer, Fallback };

double ms_since(std::chrono::steady_clock::time_point start)
{
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
		.count();
}

} // namespace

struct AgnosticEngine::State {
	State(const Topology &topo, AgnosticOptions opts) : t(topo), o(opts) {}

	const Topology &t;
	AgnosticOptions o;
	AgnosticStats stats;
	uint32_t n = 0;
	std::vector<uint32_t> id;    // chip index -> chip id
	std::vector<uint32_t> index; // chip id -> chip index, kUnset
	std::vector<uint32_t> peer;  // channel (index x 8 + port) -> far channel
	std::vector<uint8_t> up;     // per chip: ports whose link carries traffic
	// The orientation of each lane: lane "top" (the last) is the escape
	// lane, rooted centrally; lane 0 of two is rooted far from it.
	UpDownOrder orient[2];
	// Per chip: bit 8 l + p, the link of port p leads up in lane l's
	// orientation (what every turn test reads).
	std::vector<uint16_t> upm;
	std::vector<uint16_t> nb;   // channel -> far chip (cabled ports): small, hot
	std::vector<uint32_t> load; // per channel: sources routed over it, all dests
	std::vector<Packed> ent;    // dest x n + chip
	// dest x n + chip: the route's hops, kLongRoute: that many or more
	// (then tree_len walks), so that repairs need not walk to d.
	std::vector<uint8_t> hops8;
	static constexpr uint8_t kLongRoute = 255;
	void set_hops(uint32_t d, uint32_t x, uint32_t h)
	{
		hops8[size_t(d) * n + x] = static_cast<uint8_t>(std::min<uint32_t>(h, kLongRoute));
	}
	std::vector<Kind> kind;			    // per dest
	std::vector<uint8_t> lanes;		    // per dest: bit l, lane l used
	std::vector<uint32_t> entries, alt_entries; // per dest, as last written
	bool computed = false;
	// Alternatives are picked (o.alternatives, except for a placement
	// that full() will redo: they carry no load).
	bool alts = false;

	// Scratch.
	std::vector<uint32_t> dist, order, size, len, stamp, mark;
	std::vector<uint32_t> seq; // chips of the current dest as they chose, d first
	std::vector<uint32_t> waiting, still;
	std::vector<uint32_t> rsub, rredo; // repair(): the subtree, alternatives to redo
	std::vector<std::pair<uint32_t, uint32_t>> rheap; // repair(): (distance, chip), a min-heap
	std::vector<uint8_t> down_in; // per chip: a same-lane child arrives going down
	// Per chip: the alternative port among the neighbours routed before
	// it (any, and leaving down in its lane), kMaxPorts: none.
	std::vector<uint8_t> alt_any, alt_down;
	uint32_t word_of[512]; // Packed (9 bits) -> route word
	uint32_t epoch = 0, mark_epoch = 0;
	std::vector<uint32_t> cost;    // per chip: load summed along its route (saturating)
	std::vector<uint32_t> rlen;    // per chip: route length, kUnset: not routed yet
	bool shortest = false;	       // the last build_minimal found shortest paths only
	std::vector<uint32_t> changed; // chips whose entry of the current dest changed

	unsigned top() const { return o.lanes - 1; }
	uint32_t far_chip(uint32_t x, unsigned p) const { return nb[x * 8 + p]; }
	Packed &at(uint32_t d, uint32_t x) { return ent[size_t(d) * n + x]; }
	Packed get(uint32_t d, uint32_t x) const { return ent[size_t(d) * n + x]; }
	uint64_t tie(uint32_t d, uint32_t x, unsigned p) const
	{
		return mix(o.seed ^ (uint64_t(d) << 32 | uint64_t(x) << 3 | p));
	}
	// Whether x's link of port p leads up in lane's orientation.
	bool goes_up(unsigned lane, uint32_t x, unsigned p) const
	{
		return upm[x] >> (8 * lane + p) & 1;
	}
	uint8_t ups(unsigned lane, uint32_t x) const
	{
		return static_cast<uint8_t>(upm[x] >> (8 * lane));
	}
	// Whether d's route from x starts by going up in its lane's orientation.
	bool starts_up(uint32_t d, uint32_t x) const
	{
		const Packed e = get(d, x);
		return x != d && goes_up(lane_of(e), x, port_of(e));
	}
	// May a packet for d leave a on lane la over port pa to b, whose entry
	// for d then takes it on? Lanes never go down along a route; within a
	// lane, the turn at b must be up*/down*-legal in that lane's
	// orientation. (The turn into a is the caller's: a is being decided.)
	bool joins(uint32_t d, uint32_t a, unsigned la, unsigned pa, uint32_t b) const
	{
		return static_cast<int>(la) <= join_lane(d, a, pa, b);
	}
	// The highest lane on which a may leave over port pa to b and join b's
	// route to d; -1 if none.
	int join_lane(uint32_t d, uint32_t a, unsigned pa, uint32_t b) const
	{
		if (b == d)
			return static_cast<int>(top());
		const Packed e = get(d, b);
		const unsigned lb = lane_of(e);
		if (goes_up(lb, a, pa) || !goes_up(lb, b, port_of(e)))
			return static_cast<int>(lb);
		return static_cast<int>(lb) - 1;
	}
	void make_upmask(unsigned lane, uint32_t x);
	void make_upmasks();
	void new_epoch();

	void check(const LinkState &ls, const Routes &r) const;
	std::vector<uint8_t> links_of(const LinkState &ls) const;
	void full(const LinkState &ls, Routes &r);
	bool grid_orders();
	void place(uint32_t d);
	bool build_minimal(uint32_t d, bool spread_first);
	void build_fallback(uint32_t d);
	bool choose(uint32_t d, uint32_t x, bool spread_first, bool expand = false);
	bool settle_waiting(uint32_t d, bool spread_first);
	bool settle(uint32_t d, const std::vector<uint32_t> &chips, bool spread_first);
	template <typename F> void for_children(uint32_t d, uint32_t x, F f) const;
	void walk_tree(uint32_t d);
	uint32_t tree_len(uint32_t d, uint32_t x);
	void add_load(uint32_t d, bool add);
	void add_path_load(uint32_t d, uint32_t x, int64_t amount);
	void clear_dest(uint32_t d);
	bool down_child(uint32_t d, uint32_t x) const;
	template <typename Len>
	void set_alt(uint32_t d, uint32_t x, uint32_t lenx, bool down_in_x, Len len);
	void set_alt(uint32_t d, uint32_t x);
	void add_alts(uint32_t d);
	void add_seq_load(uint32_t d);
	bool repair(uint32_t d, uint32_t x);
	void write(uint32_t d, Routes &r);
	void write_all(Routes &r);
	void write_changed(uint32_t d, Routes &r);
	void count();
};

void AgnosticEngine::State::make_upmask(unsigned lane, uint32_t x)
{
	uint8_t m = 0;
	for (unsigned p = 0; p < kMaxPorts; p++) {
		const uint32_t c = peer[x * 8 + p];
		if (c != kNoChannel && orient[lane].is_up(x, c >> 3))
			m |= static_cast<uint8_t>(1u << p);
	}
	upm[x] = static_cast<uint16_t>((upm[x] & ~(0xffu << (8 * lane))) | unsigned(m)
										   << (8 * lane));
}

void AgnosticEngine::State::make_upmasks()
{
	upm.assign(n, 0);
	for (unsigned lane = 0; lane <= top(); lane++)
		for (uint32_t x = 0; x < n; x++)
			make_upmask(lane, x);
}

void AgnosticEngine::State::new_epoch()
{
	if (++epoch == 0) {
		std::fill(stamp.begin(), stamp.end(), 0);
		epoch = 1;
	}
}

void AgnosticEngine::State::check(const LinkState &ls, const Routes &r) const
{
	if (&ls.topology() != &t && ls.topology().fibers() != t.fibers())
		throw std::invalid_argument("agnostic routing of '" + t.spec() +
					    "': the link state is of another topology ('" +
					    ls.topology().spec() + "')");
	if (r.id_limit() < t.id_limit())
		throw std::invalid_argument("agnostic routing of '" + t.spec() +
					    "': route tables for " + std::to_string(r.id_limit()) +
					    " chip ids, the topology needs " +
					    std::to_string(t.id_limit()));
}

std::vector<uint8_t> AgnosticEngine::State::links_of(const LinkState &ls) const
{
	std::vector<uint8_t> m(n, 0);
	for (uint32_t x = 0; x < n; x++)
		for (unsigned p = 0; p < kMaxPorts; p++) {
			const uint32_t c = peer[x * 8 + p];
			if (c != kNoChannel && ls.up(PortRef{id[x], static_cast<uint8_t>(p)}) &&
			    ls.up(PortRef{id[c >> 3], static_cast<uint8_t>(c & 7)}))
				m[x] |= static_cast<uint8_t>(1u << p);
		}
	return m;
}

// x picks its next hop and lane among the neighbours already routed
// (rlen[] set: on a shortest path, those one hop closer to d, and those as
// close as x that chose before it). First the shortest route; then, with
// spread_first, the least loaded (summed along the route), then the escape
// lane and a first hop down (both leave the most ways for the chips behind x
// to join legally); else those two first. False if no neighbour takes x on.
bool AgnosticEngine::State::choose(uint32_t d, uint32_t x, bool spread_first, bool expand)
{
	// Candidates compared as one key, smallest best: hops (12 bits), then
	// load (40) and 3 - rank (2) in the order asked, then a seeded
	// per-chip permutation of the ports (3) and the port (3).
	const uint64_t perm = mix(o.seed ^ (uint64_t(d) << 32 | x));
	const uint16_t ux = upm[x];
	uint64_t best = UINT64_MAX;
	// The candidates, for the alternatives: route length << 8 | the
	// highest lane that joins << 4 | port.
	uint32_t cand[kMaxPorts];
	unsigned cands = 0;
	for (uint8_t m = up[x]; m; m &= m - 1) {
		const unsigned p = __builtin_ctz(m);
		const uint32_t y = nb[x * 8 + p];
		if (expand && dist[y] == kUnset) { // the BFS, in the same loop
			dist[y] = dist[x] + 1;
			order.push_back(y);
			continue;
		}
		if (rlen[y] == kUnset)
			continue;
		// A higher lane that joins beats a lower one.
		unsigned lane = top();
		if (y != d) {
			const Packed e = get(d, y);
			lane = lane_of(e);
			if (!(ux >> (8 * lane + p) & 1) && goes_up(lane, y, port_of(e))) {
				if (lane == 0)
					continue;
				lane--;
			}
		}
		cand[cands++] = std::min<uint32_t>(rlen[y], 0xffffff) << 8 | lane << 4 | p;
		const uint64_t hops = std::min<uint64_t>(rlen[y] + 1, 4095);
		const uint64_t worse = (lane != top()) * 2 + (ux >> (8 * lane + p) & 1);
		const uint64_t l = o.spread ? uint64_t(load[x * 8 + p]) + cost[y] : 0;
		const uint64_t key = hops << 52 |
				     (spread_first ? l << 12 | worse << 6 : worse << 50 | l << 6) |
				     (perm >> (3 * p) & 7) << 3 | p;
		best = std::min(best, key);
	}
	if (best == UINT64_MAX)
		return false;
	const unsigned p = best & 7;
	const unsigned lane = (spread_first ? best >> 7 : best >> 51) & 1 ? 0 : top();
	at(d, x) = pack(p, lane);
	cost[x] = o.spread ? static_cast<uint32_t>(std::min<uint64_t>(
				     uint64_t(load[x * 8 + p]) + cost[nb[x * 8 + p]], UINT32_MAX))
			   : 0;
	rlen[x] = static_cast<uint32_t>(best >> 52);
	set_hops(d, x, rlen[x]);
	seq.push_back(x);
	if (!alts)
		return true;
	// The best alternatives among the neighbours routed before x (they
	// cannot be in its subtree), by set_alt's rules (fewest hops, then
	// least load), with and without the turn constraint of a child that
	// arrives going down.
	uint64_t any = UINT64_MAX, down = UINT64_MAX;
	for (unsigned i = 0; i < cands; i++) {
		const unsigned a = cand[i] & 7;
		const uint64_t lc = cand[i] >> 8;
		if (a == p || lc > rlen[x] + 1 || (cand[i] >> 4 & 1) < lane)
			continue;
		const uint64_t key = lc << 40 | uint64_t(load[x * 8 + a]) << 3 | a;
		any = std::min(any, key);
		if (!(ux >> (8 * lane + a) & 1))
			down = std::min(down, key);
	}
	alt_any[x] = any == UINT64_MAX ? kMaxPorts : any & 7;
	alt_down[x] = down == UINT64_MAX ? kMaxPorts : down & 7;
	return true;
}

// Every chip of `chips` (in an order where the closer come first) picks a
// route; one that finds no neighbour yet waits until its farther neighbours
// have chosen and joins one of them (a longer route). False if some chip
// finds no neighbour at all.
bool AgnosticEngine::State::settle(uint32_t d, const std::vector<uint32_t> &chips,
				   bool spread_first)
{
	waiting.clear();
	for (uint32_t x : chips)
		if (x != d && !choose(d, x, spread_first))
			waiting.push_back(x);
	return settle_waiting(d, spread_first);
}

// The chips of `waiting` join farther neighbours, pass after pass.
bool AgnosticEngine::State::settle_waiting(uint32_t d, bool spread_first)
{
	while (!waiting.empty()) {
		still.clear();
		for (uint32_t x : waiting)
			if (!choose(d, x, spread_first))
				still.push_back(x);
		if (still.size() == waiting.size())
			return false;
		waiting.swap(still);
	}
	return true;
}

// Routes to d over the UP links: shortest paths where the lanes allow,
// chips in BFS order so that each chooses after the neighbours it may route
// through. False (d's column cleared) if some chip cannot be routed.
bool AgnosticEngine::State::build_minimal(uint32_t d, bool spread_first)
{
	std::fill(dist.begin(), dist.end(), kUnset);
	std::fill(rlen.begin(), rlen.end(), kUnset);
	order.assign(1, d);
	seq.assign(1, d);
	dist[d] = 0;
	rlen[d] = 0;
	cost[d] = 0;
	for (uint8_t m = up[d]; m; m &= m - 1) {
		const uint32_t y = far_chip(d, __builtin_ctz(m));
		if (dist[y] == kUnset) {
			dist[y] = 1;
			order.push_back(y);
		}
	}
	// Chips choose in BFS order (each after the chips closer to d) and
	// the BFS goes on from each as it chooses.
	waiting.clear();
	for (size_t i = 1; i < order.size(); i++)
		if (!choose(d, order[i], spread_first, true))
			waiting.push_back(order[i]);
	if (!settle_waiting(d, spread_first)) {
		clear_dest(d);
		return false;
	}
	shortest = true;
	for (uint32_t x : order)
		shortest = shortest && rlen[x] == dist[x];
	return true;
}

// Up*/down* routes to d in the escape lane: a chip with a down-only path to
// d takes the shortest one, any other chip goes up to the neighbour whose
// route is shortest (chips by rank, so those routes are known). A packet
// that came down never goes up again: every turn is legal. The escape
// orientation connects every component (updown_connects), so every chip
// that can reach d gets a route.
void AgnosticEngine::State::build_fallback(uint32_t d)
{
	const unsigned lane = top();
	const UpDownOrder &ud = orient[lane];
	std::fill(dist.begin(), dist.end(), kUnset); // down-only distance
	std::fill(len.begin(), len.end(), kUnset);   // route length
	order.assign(1, d);
	dist[d] = 0;
	for (size_t i = 0; i < order.size(); i++) {
		const uint32_t y = order[i];
		for (uint8_t m = up[y]; m; m &= m - 1) {
			const uint32_t x = far_chip(y, __builtin_ctz(m));
			if (ud.is_up(y, x) && dist[x] == kUnset) {
				dist[x] = dist[y] + 1;
				order.push_back(x);
			}
		}
	}
	len[d] = 0;
	for (uint32_t x : ud.by_rank) {
		if (x == d)
			continue;
		unsigned best = kMaxPorts;
		uint64_t best_len = 0, best_load = 0, best_tie = 0;
		for (uint8_t m = up[x]; m; m &= m - 1) {
			const unsigned p = __builtin_ctz(m);
			const uint32_t y = far_chip(x, p);
			uint64_t l;
			if (dist[x] != kUnset) // down, one step closer
				l = !ud.is_up(x, y) && dist[y] + 1 == dist[x] ? dist[y] : kUnset;
			else // up, to a chip whose route is known
				l = ud.is_up(x, y) ? len[y] : kUnset;
			if (l == kUnset)
				continue;
			const uint64_t ld = o.spread ? load[x * 8 + p] : 0;
			const uint64_t tb = tie(d, x, p);
			if (best == kMaxPorts || l < best_len ||
			    (l == best_len &&
			     (ld < best_load || (ld == best_load && tb < best_tie)))) {
				best = p;
				best_len = l;
				best_load = ld;
				best_tie = tb;
			}
		}
		if (best == kMaxPorts)
			continue; // another component
		len[x] = static_cast<uint32_t>(best_len + 1);
		at(d, x) = pack(best, lane);
		set_hops(d, x, len[x]);
	}
}

void AgnosticEngine::State::clear_dest(uint32_t d)
{
	std::fill(ent.begin() + size_t(d) * n, ent.begin() + size_t(d + 1) * n, 0);
}

// d's routes from scratch (its column must hold no load): shortest paths
// spread over the least loaded channels, else shortest paths that keep to
// the escape lane where they can, else the up*/down* fallback.
void AgnosticEngine::State::place(uint32_t d)
{
	clear_dest(d);
	if (build_minimal(d, true) || build_minimal(d, false)) {
		kind[d] = shortest ? Kind::Minimal : Kind::Longer;
	} else {
		kind[d] = Kind::Fallback;
		build_fallback(d);
	}
	lanes[d] = 0;
	if (kind[d] == Kind::Fallback) {
		for (uint32_t x = 0; x < n; x++)
			if (valid(get(d, x)))
				lanes[d] |= static_cast<uint8_t>(1u << lane_of(get(d, x)));
		add_load(d, true);
		if (alts)
			add_alts(d);
		return;
	}
	// seq holds d's tree parents first, rlen the route lengths.
	for (size_t i = 1; i < seq.size(); i++)
		lanes[d] |= static_cast<uint8_t>(1u << lane_of(get(d, seq[i])));
	add_seq_load(d);
	if (!alts)
		return;
	for (uint32_t x : seq)
		down_in[x] = 0;
	for (size_t i = 1; i < seq.size(); i++) {
		const uint32_t x = seq[i];
		const Packed e = get(d, x);
		const uint32_t y = far_chip(x, port_of(e));
		if (y != d && lane_of(get(d, y)) == lane_of(e) &&
		    !goes_up(lane_of(e), x, port_of(e)))
			down_in[y] = 1;
	}
	// The alternative found when x chose (neighbours routed before it
	// cannot be in its subtree), else one among all its neighbours.
	for (size_t i = 1; i < seq.size(); i++) {
		const uint32_t x = seq[i];
		const unsigned a = down_in[x] ? alt_down[x] : alt_any[x];
		if (a != kMaxPorts)
			at(d, x) = with_alt(get(d, x), a);
		else
			set_alt(d, x, rlen[x], down_in[x], [&](uint32_t c) { return rlen[c]; });
	}
}

// Uniform traffic over the tree just built: the channel out of x carries
// the sources of x's subtree (seq: parents before children).
void AgnosticEngine::State::add_seq_load(uint32_t d)
{
	for (uint32_t x : seq)
		size[x] = 1;
	for (size_t i = seq.size(); i-- > 1;) {
		const uint32_t x = seq[i];
		const unsigned p = port_of(get(d, x));
		size[far_chip(x, p)] += size[x];
		load[x * 8 + p] += size[x];
	}
}

// f(child chip, its port toward x) for chips whose entry for d leads to x.
template <typename F> void AgnosticEngine::State::for_children(uint32_t d, uint32_t x, F f) const
{
	for (unsigned p = 0; p < kMaxPorts; p++) {
		const uint32_t c = peer[x * 8 + p];
		if (c == kNoChannel)
			continue;
		const Packed e = get(d, c >> 3);
		if (valid(e) && port_of(e) == (c & 7))
			f(c >> 3, c & 7);
	}
}

// order: d's tree from d outwards; len: hops to d (stamped current).
void AgnosticEngine::State::walk_tree(uint32_t d)
{
	new_epoch();
	order.assign(1, d);
	len[d] = 0;
	stamp[d] = epoch;
	for (size_t i = 0; i < order.size(); i++) {
		const uint32_t y = order[i];
		for_children(d, y, [&](uint32_t x, unsigned) {
			len[x] = len[y] + 1;
			stamp[x] = epoch;
			order.push_back(x);
		});
	}
}

// Hops from x to d along the tree, remembered for this epoch.
uint32_t AgnosticEngine::State::tree_len(uint32_t d, uint32_t x)
{
	if (hops8[size_t(d) * n + x] < kLongRoute)
		return hops8[size_t(d) * n + x];
	uint32_t y = x, hops = 0;
	while (y != d && stamp[y] != epoch) {
		y = far_chip(y, port_of(get(d, y)));
		hops++;
	}
	const uint32_t total = hops + (y == d ? 0 : len[y]);
	uint32_t l = total;
	for (y = x; y != d && stamp[y] != epoch; y = far_chip(y, port_of(get(d, y)))) {
		len[y] = l--;
		stamp[y] = epoch;
	}
	return total;
}

// Uniform traffic: the channel out of x carries the sources of x's subtree.
void AgnosticEngine::State::add_load(uint32_t d, bool add)
{
	walk_tree(d);
	for (uint32_t x : order)
		size[x] = 1;
	for (size_t i = order.size(); i-- > 1;) {
		const uint32_t x = order[i];
		const unsigned p = port_of(get(d, x));
		size[far_chip(x, p)] += size[x];
		if (add)
			load[x * 8 + p] += size[x];
		else
			load[x * 8 + p] -= size[x];
	}
}

// amount more sources enter d's tree at x.
void AgnosticEngine::State::add_path_load(uint32_t d, uint32_t x, int64_t amount)
{
	for (; x != d; x = far_chip(x, port_of(get(d, x))))
		load[x * 8 + port_of(get(d, x))] += amount;
}

// x's alternative port for d: a neighbour c outside x's subtree (so c's
// route avoids x's dead link) at most one hop farther from d than x; the
// detour's dependencies (x's children -> the alternative channel -> c's
// route) must keep to the lane rules, like the routes themselves, so any
// single cut stays deadlock-free. Needs the tree's len (tree_len).
// Whether a child of x in d's tree arrives at x going down in x's lane
// (then x's detour must leave going down too); children on a higher lane
// (none: lanes never go down along a route) count as such.
bool AgnosticEngine::State::down_child(uint32_t d, uint32_t x) const
{
	const unsigned lx = lane_of(get(d, x));
	bool down = false;
	for_children(d, x, [&](uint32_t ch, unsigned p) {
		const Packed ce = get(d, ch);
		if (lane_of(ce) > lx || (lane_of(ce) == lx && !goes_up(lx, ch, port_of(ce))))
			down = true;
		(void)p;
	});
	return down;
}

// len(c): c's route length to d (0 for d); lenx: x's; down_in_x:
// down_child(d, x).
template <typename Len>
void AgnosticEngine::State::set_alt(uint32_t d, uint32_t x, uint32_t lenx, bool down_in_x, Len len)
{
	const Packed e = without_alt(get(d, x));
	at(d, x) = e;
	const unsigned lx = lane_of(e);
	unsigned best = kMaxPorts;
	uint64_t best_len = 0, best_load = 0;
	for (uint8_t m = up[x] & ~(1u << port_of(e)); m; m &= m - 1) {
		const unsigned a = __builtin_ctz(m);
		const uint32_t c = far_chip(x, a);
		// The detour turn child -> x -> c, in x's lane.
		if (down_in_x && goes_up(lx, x, a))
			continue;
		uint32_t lc = 0;
		if (c != d) {
			const Packed ce = get(d, c);
			if (!valid(ce))
				continue;
			lc = len(c);
			if (lc > lenx + 1 || (lc == lenx + 1 && far_chip(c, port_of(ce)) == x))
				continue;
			if (!joins(d, x, lx, a, c))
				continue;
		}
		if (best != kMaxPorts &&
		    (lc > best_len || (lc == best_len && load[x * 8 + a] >= best_load)))
			continue;
		best = a;
		best_len = lc;
		best_load = load[x * 8 + a];
	}
	if (best != kMaxPorts)
		at(d, x) = with_alt(e, best);
}

// The same from the tables alone (tree_len's lengths, this epoch).
void AgnosticEngine::State::set_alt(uint32_t d, uint32_t x)
{
	set_alt(d, x, tree_len(d, x), down_child(d, x), [&](uint32_t c) { return tree_len(d, c); });
}

void AgnosticEngine::State::add_alts(uint32_t d)
{
	walk_tree(d);
	for (size_t i = 1; i < order.size(); i++)
		set_alt(d, order[i]);
}

// x's link toward d died: reroute x's subtree S on shortest paths from the
// rest of the tree, which keeps its routes (they never cross x's link).
// False if a chip of S finds no neighbour to join: d needs a full pass.
bool AgnosticEngine::State::repair(uint32_t d, uint32_t x)
{
	if (++mark_epoch == 0) {
		std::fill(mark.begin(), mark.end(), 0);
		mark_epoch = 1;
	}
	const uint32_t in_s = mark_epoch;
	std::vector<uint32_t> &sub = rsub;
	sub.assign(1, x);
	mark[x] = in_s;
	for (size_t i = 0; i < sub.size(); i++)
		for_children(d, sub[i], [&](uint32_t ch, unsigned) {
			mark[ch] = in_s;
			sub.push_back(ch);
		});
	// S's load comes off: its own channels, and the old path beyond x.
	for (uint32_t s : sub)
		size[s] = 1;
	for (size_t i = sub.size(); i-- > 1;)
		size[far_chip(sub[i], port_of(get(d, sub[i])))] += size[sub[i]];
	for (uint32_t s : sub)
		load[s * 8 + port_of(get(d, s))] -= size[s];
	add_path_load(d, far_chip(x, port_of(get(d, x))), -int64_t(sub.size()));
	// Alternatives into S are chosen again once S has its new routes.
	std::vector<uint32_t> &redo = rredo;
	redo.clear();
	for (uint32_t s : sub)
		for (unsigned p = 0; p < kMaxPorts; p++) {
			const uint32_t c = peer[s * 8 + p];
			if (c == kNoChannel || mark[c >> 3] == in_s)
				continue;
			const Packed ce = get(d, c >> 3);
			if (has_alt(ce) && alt_of(ce) == (c & 7))
				redo.push_back(c >> 3);
		}
	for (uint32_t s : sub) {
		at(d, s) = 0;
		changed.push_back(s);
	}

	// Distances of S from the rest of the tree inwards (Dijkstra with unit
	// weights), and of the neighbours outside S, for choose().
	new_epoch();
	using Item = std::pair<uint32_t, uint32_t>;
	std::vector<Item> &q = rheap;
	q.clear();
	const auto push = [&q](uint32_t dd, uint32_t c) {
		q.emplace_back(dd, c);
		std::push_heap(q.begin(), q.end(), std::greater<>());
	};
	for (uint32_t s : sub) {
		dist[s] = rlen[s] = kUnset;
		for (uint8_t m = up[s]; m; m &= m - 1) {
			const uint32_t w = far_chip(s, __builtin_ctz(m));
			if (mark[w] == in_s)
				continue;
			dist[w] = w == d || valid(get(d, w)) ? tree_len(d, w) : kUnset;
			rlen[w] = dist[w];
			cost[w] = 0;
			if (dist[w] != kUnset)
				dist[s] = std::min(dist[s], dist[w] + 1);
		}
	}
	for (uint32_t s : sub)
		if (dist[s] != kUnset)
			push(dist[s], s);
	order.clear();
	while (!q.empty()) {
		std::pop_heap(q.begin(), q.end(), std::greater<>());
		const auto [ds, s] = q.back();
		q.pop_back();
		if (ds != dist[s])
			continue;
		order.push_back(s);
		for (uint8_t m = up[s]; m; m &= m - 1) {
			const uint32_t w = far_chip(s, __builtin_ctz(m));
			if (mark[w] == in_s && dist[w] > ds + 1) {
				dist[w] = ds + 1;
				push(dist[w], w);
			}
		}
	}
	seq.clear();
	if (!settle(d, order, true)) {
		for (uint32_t c : sub)
			at(d, c) = 0;
		return false;
	}
	for (uint32_t s : order)
		if (rlen[s] != dist[s])
			kind[d] = Kind::Longer;
	// S's new load: subtree sizes within S (seq: parents first), each
	// exit into the rest of the tree carries its sources on to d.
	for (uint32_t s : seq)
		size[s] = 1;
	for (size_t i = seq.size(); i-- > 0;) {
		const uint32_t s = seq[i];
		const unsigned p = port_of(get(d, s));
		const uint32_t w = far_chip(s, p);
		lanes[d] |= static_cast<uint8_t>(1u << lane_of(get(d, s)));
		load[s * 8 + p] += size[s];
		if (mark[w] == in_s) {
			size[w] += size[s];
		} else if (w != d) {
			add_path_load(d, w, size[s]);
			redo.push_back(w); // gained a child
		}
	}
	if (o.alternatives) {
		new_epoch();
		for (uint32_t s : order)
			set_alt(d, s);
		for (uint32_t w : redo)
			if (valid(get(d, w))) {
				set_alt(d, w);
				changed.push_back(w);
			}
	}
	return true;
}

void AgnosticEngine::State::write(uint32_t d, Routes &r)
{
	entries[d] = alt_entries[d] = 0;
	for (uint32_t x = 0; x < n; x++) {
		const Packed e = get(d, x);
		RouteEntry re;
		if (valid(e)) {
			re.valid = true;
			re.port = static_cast<uint8_t>(port_of(e));
			re.alt_port = has_alt(e) ? static_cast<uint8_t>(alt_of(e)) : kNoPort;
			re.lane = static_cast<uint8_t>(lane_of(e));
			re.fixed_lane = true;
			entries[d]++;
			alt_entries[d] += has_alt(e);
		}
		r.set(id[x], id[d], re);
	}
}

// Every entry, chip by chip (the tables are chip-major, ent dest-major:
// tiles keep both in cache).
void AgnosticEngine::State::write_all(Routes &r)
{
	constexpr uint32_t kTile = 64;
	std::fill(entries.begin(), entries.end(), 0);
	std::fill(alt_entries.begin(), alt_entries.end(), 0);
	for (uint32_t x0 = 0; x0 < n; x0 += kTile)
		for (uint32_t d0 = 0; d0 < n; d0 += kTile)
			for (uint32_t x = x0; x < std::min(n, x0 + kTile); x++)
				for (uint32_t d = d0; d < std::min(n, d0 + kTile); d++) {
					const Packed e = get(d, x);
					entries[d] += valid(e);
					alt_entries[d] += valid(e) && has_alt(e);
					r.set(id[x], id[d], word_of[e & 0x1ff]);
				}
}

// The entries of `changed` only (what a repair touched).
void AgnosticEngine::State::write_changed(uint32_t d, Routes &r)
{
	for (uint32_t x : changed) {
		const RouteEntry old = r.entry(id[x], id[d]);
		entries[d] -= old.valid;
		alt_entries[d] -= old.valid && old.alt_port != kNoPort;
		const Packed e = get(d, x);
		RouteEntry re;
		if (valid(e)) {
			re.valid = true;
			re.port = static_cast<uint8_t>(port_of(e));
			re.alt_port = has_alt(e) ? static_cast<uint8_t>(alt_of(e)) : kNoPort;
			re.lane = static_cast<uint8_t>(lane_of(e));
			re.fixed_lane = true;
		}
		entries[d] += re.valid;
		alt_entries[d] += re.valid && re.alt_port != kNoPort;
		r.set(id[x], id[d], re);
	}
	changed.clear();
}

void AgnosticEngine::State::count()
{
	stats.minimal_dests = stats.longer_dests = stats.fallback_dests = 0;
	stats.entries = stats.alt_entries = 0;
	uint8_t used = 0;
	for (uint32_t d = 0; d < n; d++) {
		stats.minimal_dests += kind[d] == Kind::Minimal;
		stats.longer_dests += kind[d] == Kind::Longer;
		stats.fallback_dests += kind[d] == Kind::Fallback;
		used |= lanes[d];
		stats.entries += entries[d];
		stats.alt_entries += alt_entries[d];
	}
	stats.lanes_used = used ? 32 - __builtin_clz(used) : 0;
}

// Two lanes on a grid cabled as such (whatever its failed fibers): lane 0
// ordered by chip id (x + A (y + B z)), lane 1 by the id of the chip half a
// ring further in every dimension (a torus) or in reverse (a mesh). False
// (BFS orders then) elsewhere, or if the escape order cannot be made to
// connect every pair.
bool AgnosticEngine::State::grid_orders()
{
	if (top() != 1)
		return false;
	const std::optional<GridShape> g = infer_grid(t);
	if (!g)
		return false;
	std::vector<uint64_t> key0(n), key1(n);
	for (uint32_t x = 0; x < n; x++) {
		std::array<uint32_t, 3> c = g->coords(id[x]);
		key0[x] = id[x];
		if (!g->wrap) {
			key1[x] = g->chips() - 1 - id[x];
			continue;
		}
		for (unsigned k = 0; k < 3; k++)
			c[k] = (c[k] + g->dims[k] / 2) % g->dims[k];
		key1[x] = g->chip_at(c);
	}
	orient[0] = updown_from_keys(key0);
	orient[1] = updown_from_keys(key1);
	// A chip without an up link can join only routes that start down
	// in its lane: lift those of lane 0 too (where it may fail).
	updown_connect(orient[0], peer, up);
	return updown_connect(orient[1], peer, up);
}

void AgnosticEngine::State::full(const LinkState &ls, Routes &r)
{
	up = links_of(ls);
	if (!grid_orders()) {
		orient[top()] = updown_order(peer, up, UpDownRoot::Central);
		if (top() > 0)
			orient[0] = updown_order(peer, up, UpDownRoot::Far);
	}
	make_upmasks();
	std::fill(load.begin(), load.end(), 0);
	std::fill(ent.begin(), ent.end(), 0);
	std::vector<uint32_t> dests(n);
	for (uint32_t d = 0; d < n; d++)
		dests[d] = d;
	// A shuffled order spreads better than chip order, whose neighbouring
	// destinations load the same channels one after the other.
	std::sort(dests.begin(), dests.end(), [&](uint32_t a, uint32_t b) {
		return mix(a ^ o.seed << 20) < mix(b ^ o.seed << 20);
	});
	// The first destinations are spread over channels that carry nothing
	// yet: placed again at the end, they see every other's load.
	const uint32_t again = o.spread ? std::min(n, uint32_t(o.rebalance * n)) : 0;
	for (uint32_t i = 0; i < n; i++) {
		alts = o.alternatives && i >= again;
		place(dests[i]);
	}
	alts = o.alternatives;
	for (uint32_t i = 0; i < again; i++) {
		add_load(dests[i], false);
		place(dests[i]);
	}
	write_all(r);
	computed = true;
	count();
}

AgnosticEngine::AgnosticEngine(const Topology &t, AgnosticOptions o)
    : s_(std::make_unique<State>(t, o))
{
	if (o.lanes < 1 || o.lanes > LUMEN_LINK_LANES)
		throw std::invalid_argument("agnostic routing: " + std::to_string(o.lanes) +
					    " lanes asked for, the chips have 1 to " +
					    std::to_string(LUMEN_LINK_LANES));
	State &s = *s_;
	s.alts = o.alternatives;
	s.id = t.chips();
	s.n = static_cast<uint32_t>(s.id.size());
	s.index.assign(t.id_limit(), kUnset);
	for (uint32_t x = 0; x < s.n; x++)
		s.index[s.id[x]] = x;
	s.peer.assign(size_t(s.n) * 8, kNoChannel);
	for (uint32_t x = 0; x < s.n; x++)
		for (unsigned p = 0; p < kMaxPorts; p++)
			if (auto far = t.neighbour(PortRef{s.id[x], static_cast<uint8_t>(p)}))
				s.peer[x * 8 + p] = s.index[far->chip] * 8 + far->port;
	s.nb.assign(size_t(s.n) * 8, 0);
	for (size_t c = 0; c < s.nb.size(); c++)
		if (s.peer[c] != kNoChannel)
			s.nb[c] = static_cast<uint16_t>(s.peer[c] >> 3);
	s.up.assign(s.n, 0);
	s.cost.assign(s.n, 0);
	s.rlen.assign(s.n, kUnset);
	s.load.assign(size_t(s.n) * 8, 0);
	s.ent.assign(size_t(s.n) * s.n, 0);
	s.hops8.assign(size_t(s.n) * s.n, State::kLongRoute);
	s.kind.assign(s.n, Kind::Minimal);
	s.lanes.assign(s.n, 0);
	s.entries.assign(s.n, 0);
	s.alt_entries.assign(s.n, 0);
	for (auto *v : {&s.dist, &s.size, &s.len})
		v->assign(s.n, kUnset);
	s.down_in.assign(s.n, 0);
	s.alt_any.assign(s.n, kMaxPorts);
	s.alt_down.assign(s.n, kMaxPorts);
	s.seq.reserve(s.n);
	s.order.reserve(s.n);
	for (unsigned e = 0; e < 512; e++) {
		RouteEntry re;
		if (valid(static_cast<Packed>(e))) {
			re.valid = true;
			re.port = static_cast<uint8_t>(port_of(static_cast<Packed>(e)));
			re.alt_port = has_alt(static_cast<Packed>(e))
					      ? static_cast<uint8_t>(alt_of(static_cast<Packed>(e)))
					      : kNoPort;
			re.lane = static_cast<uint8_t>(lane_of(static_cast<Packed>(e)));
			re.fixed_lane = true;
		}
		s.word_of[e] = re.word();
	}
	for (auto *v : {&s.stamp, &s.mark})
		v->assign(s.n, 0);
}

AgnosticEngine::~AgnosticEngine() = default;
AgnosticEngine::AgnosticEngine(AgnosticEngine &&) noexcept = default;
AgnosticEngine &AgnosticEngine::operator=(AgnosticEngine &&) noexcept = default;

const AgnosticStats &AgnosticEngine::stats() const
{
	return s_->stats;
}

void AgnosticEngine::compute(const LinkState &ls, Routes &r)
{
	const auto start = std::chrono::steady_clock::now();
	s_->check(ls, r);
	s_->full(ls, r);
	s_->stats.full = true;
	s_->stats.ms = ms_since(start);
}

std::vector<uint32_t> AgnosticEngine::update(const LinkState &ls, const Fiber &f, bool up,
					     Routes &r)
{
	const auto start = std::chrono::steady_clock::now();
	State &s = *s_;
	s.check(ls, r);
	const auto far = s.t.neighbour(f.a);
	if (!far || *far != f.b)
		throw std::invalid_argument("agnostic routing of '" + s.t.spec() + "': " +
					    f.a.str() + "-" + f.b.str() + " is not a fiber");
	if ((ls.up(f.a) && ls.up(f.b)) != up)
		throw std::invalid_argument(
			"agnostic routing of '" + s.t.spec() + "': fiber " + f.a.str() + "-" +
			f.b.str() + " is " + (up ? "down" : "up") +
			" in the link state, the update says " + (up ? "up" : "down"));
	auto everything = [&] {
		s.full(ls, r);
		s.stats.full = true;
		s.stats.ms = ms_since(start);
		return s.t.chips();
	};
	if (!s.computed)
		return everything();
	const std::vector<uint8_t> now = s.links_of(ls);
	std::vector<uint32_t> touched;
	if (now == s.up) {
		s.stats.full = false;
		s.stats.ms = ms_since(start);
		return touched;
	}
	const uint32_t xa = s.index[f.a.chip], xb = s.index[f.b.chip];
	const unsigned pa = f.a.port, pb = f.b.port;
	std::vector<uint8_t> expect = s.up;
	for (auto [x, p] : {std::pair{xa, pa}, std::pair{xb, pb}})
		expect[x] = static_cast<uint8_t>(up ? expect[x] | 1u << p : expect[x] & ~(1u << p));
	// Other links changed too (an update missed): only a full pass is right.
	if (now != expect)
		return everything();
	s.up = now;
	// The escape lane must still connect every pair: a link up may join
	// two components (then a full pass); a link down may take a chip's
	// last up link, then it hangs from its lowest neighbour instead
	// (updown_lift: every route stays legal).
	// Lane 0 (of two) needs no such guarantee, but a chip without an up
	// link joins fewer routes: it is lifted too where it can be.
	if (!up)
		for (unsigned l = 0; l <= s.top(); l++)
			for (auto [x, p] : {std::pair{xa, pa}, std::pair{xb, pb}}) {
				uint32_t y = kUnset;
				if (!s.goes_up(l, x, p) || (s.up[x] & s.ups(l, x)))
					continue;
				if (!updown_lift(s.orient[l], x, s.peer, s.up, &y)) {
					if (l == s.top())
						return everything();
					continue;
				}
				s.make_upmask(l, x);
				s.make_upmask(l, y);
			}
	if (!updown_connects(s.orient[s.top()], s.peer, s.up))
		return everything();

	std::vector<uint32_t> dests;
	auto rebuild = [&](uint32_t d) {
		s.add_load(d, false);
		s.place(d);
		s.write(d, r);
	};
	if (!up) {
		for (uint32_t d = 0; d < s.n; d++) {
			const Packed ea = s.get(d, xa), eb = s.get(d, xb);
			uint32_t broken = kUnset;
			if (valid(ea) && port_of(ea) == pa)
				broken = xa;
			else if (valid(eb) && port_of(eb) == pb)
				broken = xb;
			if (broken != kUnset) {
				// Fallback routes depend on the whole tree: rebuilt.
				if (s.kind[d] != Kind::Fallback && s.repair(d, broken)) {
					s.write_changed(d, r);
				} else {
					s.changed.clear();
					rebuild(d);
				}
				dests.push_back(d);
			} else if ((has_alt(ea) && alt_of(ea) == pa) ||
				   (has_alt(eb) && alt_of(eb) == pb)) {
				s.new_epoch();
				for (uint32_t x : {xa, xb})
					if (valid(s.get(d, x))) {
						s.set_alt(d, x);
						s.changed.push_back(x);
					}
				s.write_changed(d, r);
				dests.push_back(d);
			}
		}
	} else {
		// Destinations the new link brings 2 or more hops closer to one
		// of its ends (distances without it, from both ends): rebuilt.
		// Others keep their routes (shortest still; the link carries
		// none of their traffic until the next full pass).
		std::vector<uint8_t> without = s.up;
		without[xa] &= static_cast<uint8_t>(~(1u << pa));
		without[xb] &= static_cast<uint8_t>(~(1u << pb));
		std::vector<uint32_t> da(s.n, kUnset), db(s.n, kUnset);
		for (auto [src, dist] : {std::pair{xa, &da}, std::pair{xb, &db}}) {
			std::vector<uint32_t> q{src};
			(*dist)[src] = 0;
			for (size_t i = 0; i < q.size(); i++)
				for (uint8_t m = without[q[i]]; m; m &= m - 1) {
					const uint32_t y = s.far_chip(q[i], __builtin_ctz(m));
					if ((*dist)[y] == kUnset) {
						(*dist)[y] = (*dist)[q[i]] + 1;
						q.push_back(y);
					}
				}
		}
		for (uint32_t d = 0; d < s.n; d++)
			if ((da[d] == kUnset) != (db[d] == kUnset) ||
			    (da[d] != kUnset && (da[d] > db[d] + 1 || db[d] > da[d] + 1))) {
				rebuild(d);
				dests.push_back(d);
			}
	}
	for (uint32_t d : dests)
		touched.push_back(s.id[d]);
	s.count();
	s.stats.full = false;
	s.stats.ms = ms_since(start);
	return touched;
}

} // namespace lumen::route
