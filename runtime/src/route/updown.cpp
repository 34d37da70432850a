// SPDX-License-Identifier: MIT
#include "route/updown.hpp"

#include <algorithm>

namespace lumen::route {
namespace {

constexpr uint32_t kUnset = UINT32_MAX;

// BFS over up links from src: fills dist for the chips it reaches (which
// must be kUnset before) and returns them in BFS order.
std::vector<uint32_t> bfs(uint32_t src, const std::vector<uint32_t> &peer,
			  const std::vector<uint8_t> &up, std::vector<uint32_t> &dist,
			  std::vector<uint32_t> *parent = nullptr)
{
	std::vector<uint32_t> order{src};
	dist[src] = 0;
	for (size_t i = 0; i < order.size(); i++) {
		const uint32_t x = order[i];
		for (uint8_t m = up[x]; m; m &= m - 1) {
			const uint32_t y = peer[x * 8 + __builtin_ctz(m)] >> 3;
			if (dist[y] != kUnset)
				continue;
			dist[y] = dist[x] + 1;
			if (parent)
				(*parent)[y] = x;
			order.push_back(y);
		}
	}
	return order;
}

} // namespace

UpDownOrder updown_order(const std::vector<uint32_t> &peer, const std::vector<uint8_t> &up,
			 UpDownRoot where)
{
	const uint32_t n = static_cast<uint32_t>(up.size());
	std::vector<uint32_t> seen(n, kUnset), dist(n, kUnset), parent(n, kUnset);
	std::vector<uint32_t> level(n, 0);
	UpDownOrder o;
	o.rank.assign(n, 0);
	std::vector<uint32_t> component;
	for (uint32_t start = 0; start < n; start++) {
		if (seen[start] != kUnset)
			continue;
		// Double sweep: the farthest chip a from start, the farthest b
		// from a; the middle of the a-b path is central enough.
		component = bfs(start, peer, up, seen);
		const uint32_t a = component.back();
		for (uint32_t x : component)
			dist[x] = kUnset;
		const uint32_t b = bfs(a, peer, up, dist, &parent).back();
		uint32_t root = b;
		for (uint32_t steps = dist[b] / 2; steps > 0; steps--)
			root = parent[root];
		for (uint32_t x : component)
			dist[x] = kUnset;
		if (where == UpDownRoot::Far) {
			root = bfs(root, peer, up, dist).back();
			for (uint32_t x : component)
				dist[x] = kUnset;
		}
		std::vector<uint32_t> by_level = bfs(root, peer, up, dist);
		for (uint32_t x : by_level)
			level[x] = dist[x];
		std::stable_sort(by_level.begin(), by_level.end(), [&](uint32_t x, uint32_t y) {
			return level[x] != level[y] ? level[x] < level[y] : x < y;
		});
		o.by_rank.insert(o.by_rank.end(), by_level.begin(), by_level.end());
	}
	for (uint32_t i = 0; i < n; i++)
		o.rank[o.by_rank[i]] = i * UpDownOrder::kRankStep;
	return o;
}

UpDownOrder updown_from_keys(const std::vector<uint64_t> &key)
{
	const uint32_t n = static_cast<uint32_t>(key.size());
	UpDownOrder o;
	o.by_rank.resize(n);
	for (uint32_t i = 0; i < n; i++)
		o.by_rank[i] = i;
	std::sort(o.by_rank.begin(), o.by_rank.end(), [&](uint32_t a, uint32_t b) {
		return key[a] != key[b] ? key[a] < key[b] : a < b;
	});
	o.rank.assign(n, 0);
	for (uint32_t i = 0; i < n; i++)
		o.rank[o.by_rank[i]] = i * UpDownOrder::kRankStep;
	return o;
}

bool updown_connects(const UpDownOrder &o, const std::vector<uint32_t> &peer,
		     const std::vector<uint8_t> &up)
{
	const uint32_t n = static_cast<uint32_t>(up.size());
	if (o.rank.size() != n)
		return false;
	std::vector<uint32_t> dist(n, kUnset);
	for (uint32_t start = 0; start < n; start++) {
		if (dist[start] != kUnset)
			continue;
		unsigned minima = 0;
		for (uint32_t x : bfs(start, peer, up, dist)) {
			bool has_up = false;
			for (uint8_t m = up[x]; m && !has_up; m &= m - 1)
				has_up = o.is_up(x, peer[x * 8 + __builtin_ctz(m)] >> 3);
			minima += !has_up;
		}
		if (minima != 1)
			return false;
	}
	return true;
}

bool updown_lift(UpDownOrder &o, uint32_t x, const std::vector<uint32_t> &peer,
		 const std::vector<uint8_t> &up, uint32_t *lowest)
{
	uint32_t y = kUnset;
	for (uint8_t m = up[x]; m; m &= m - 1) {
		const uint32_t w = peer[x * 8 + __builtin_ctz(m)] >> 3;
		if (o.is_up(x, w))
			return false; // x still has an up link: nothing to lift
		if (y == kUnset || o.rank[w] < o.rank[y])
			y = w;
	}
	if (y == kUnset)
		return false;
	bool y_keeps_up = false;
	for (uint8_t m = up[y]; m && !y_keeps_up; m &= m - 1) {
		const uint32_t w = peer[y * 8 + __builtin_ctz(m)] >> 3;
		y_keeps_up = w != x && o.is_up(y, w);
	}
	if (!y_keeps_up)
		return false;
	// A free key between y and the chip ranked next after it (keys stay
	// unique, so a fiber that comes back never joins two equal ranks).
	auto it = std::find(o.by_rank.begin(), o.by_rank.end(), y);
	auto next = it + 1;
	if (next != o.by_rank.end() && *next == x)
		next++;
	const uint64_t hi = next == o.by_rank.end()
				    ? uint64_t(o.rank[y]) + 2 * UpDownOrder::kRankStep
				    : o.rank[*next];
	const uint64_t key = o.rank[y] + (hi - o.rank[y]) / 2;
	if (key <= o.rank[y] || key > UINT32_MAX)
		return false;
	o.by_rank.erase(std::find(o.by_rank.begin(), o.by_rank.end(), x));
	o.by_rank.insert(std::find(o.by_rank.begin(), o.by_rank.end(), y) + 1, x);
	o.rank[x] = static_cast<uint32_t>(key);
	if (lowest)
		*lowest = y;
	return true;
}

bool updown_connect(UpDownOrder &o, const std::vector<uint32_t> &peer,
		    const std::vector<uint8_t> &up)
{
	const uint32_t n = static_cast<uint32_t>(up.size());
	// Components over up links; the first chip of each by rank is its root.
	std::vector<uint32_t> comp(n, kUnset);
	uint32_t comps = 0;
	for (uint32_t start = 0; start < n; start++) {
		if (comp[start] != kUnset)
			continue;
		for (uint32_t x : bfs(start, peer, up, comp))
			comp[x] = comps;
		comps++;
	}
	std::vector<bool> rooted(comps, false);
	const std::vector<uint32_t> order = o.by_rank;
	for (uint32_t x : order) {
		bool has_up = false;
		for (uint8_t m = up[x]; m && !has_up; m &= m - 1)
			has_up = o.is_up(x, peer[x * 8 + __builtin_ctz(m)] >> 3);
		if (has_up)
			continue;
		if (!rooted[comp[x]])
			rooted[comp[x]] = true;
		else if (!updown_lift(o, x, peer, up))
			return false;
	}
	return updown_connects(o, peer, up);
}

} // namespace lumen::route
