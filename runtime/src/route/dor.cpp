// SPDX-License-Identifier: MIT
#include "route/dor.hpp"

#include <algorithm>
#include <stdexcept>

namespace lumen::route {
namespace {

// Per dimension, the route word from coordinate s to coordinate t (s != t)
// for each parity of (s + the destination's other coordinates): ties split
// on it. Index (s * k + t) * 2 + parity.
std::vector<uint32_t> dimension_words(uint32_t k, unsigned dim, bool wrap, const DorOptions &o)
{
	std::vector<uint32_t> w(size_t(k) * k * 2, 0);
	const uint8_t plus = static_cast<uint8_t>(2 * dim), minus = plus + 1;
	for (uint32_t s = 0; s < k; s++)
		for (uint32_t t = 0; t < k; t++) {
			if (s == t)
				continue;
			for (unsigned par = 0; par < 2; par++) {
				bool go_plus;
				if (wrap) {
					const uint32_t fwd = (t + k - s) % k, back = k - fwd;
					go_plus =
						fwd < back || (fwd == back &&
							       (!o.spread || ((s + par) & 1) == 0));
				} else {
					go_plus = t > s;
				}
				const uint8_t alt =
					wrap && o.alternatives ? (go_plus ? minus : plus) : kNoPort;
				w[(size_t(s) * k + t) * 2 + par] =
					lumen_route_word(go_plus ? plus : minus, alt, 0, 0);
			}
		}
	return w;
}

} // namespace

Routes route_dor(const Topology &t, const DorOptions &o)
{
	std::optional<GridShape> g = infer_grid(t);
	if (!g)
		throw TopologyError("topology '" + t.spec() +
				    "': dimension-order routing needs a ring, mesh or torus");
	return route_dor(t, *g, o);
}

namespace {

// Writes every word and dateline of r; with count, compares each word with
// what r held first (fresh tables skip that: reading untouched pages would
// fault them in twice).
uint64_t fill_dor(const Topology &t, const GridShape &g, const DorOptions &o, Routes &r, bool count)
{
	const auto &dims = g.dims;
	const uint32_t n = g.chips();
	if (n > t.id_limit() || t.chips().size() != n)
		throw TopologyError("topology '" + t.spec() + "' is not the grid " + g.spec());
	if (r.id_limit() != t.id_limit())
		throw std::invalid_argument("DOR routes of '" + t.spec() + "' need tables of " +
					    std::to_string(t.id_limit()) + " chip ids, not " +
					    std::to_string(r.id_limit()));
	const uint32_t A = dims[0], B = dims[1], C = dims[2];
	std::array<std::vector<uint32_t>, 3> words;
	for (unsigned d = 0; d < 3; d++)
		words[d] = dimension_words(dims[d], d, g.wrap, o);
	auto word = [&](unsigned d, uint32_t s, uint32_t t, uint32_t others) {
		return words[d][(size_t(s) * dims[d] + t) * 2 + (others & 1)];
	};

	// A line of A entries (fixed y, z) is the x words of the chip's x
	// coordinate, by the parity of y + z, but for the entry whose x is the
	// chip's own: that one goes by y, then z.
	uint64_t changed = 0;
	std::vector<uint32_t> xline(size_t(A) * 2), line(A);
	for (uint32_t s = 0; s < n; s++) {
		const auto cs = g.coords(s);
		for (unsigned par = 0; par < 2; par++)
			for (uint32_t x = 0; x < A; x++)
				xline[par * A + x] = x == cs[0] ? 0 : word(0, cs[0], x, par);
		uint32_t *row = r.row(s);
		for (uint32_t z = 0; z < C; z++)
			for (uint32_t y = 0; y < B; y++) {
				std::copy_n(xline.data() + ((y + z) & 1) * A, A, line.data());
				uint32_t &own = line[cs[0]];
				if (y != cs[1])
					own = word(1, cs[1], y, cs[0] + z);
				else if (z != cs[2])
					own = word(2, cs[2], z, cs[0] + cs[1]);
				uint32_t *held = row + (size_t(z) * B + y) * A;
				if (count)
					for (uint32_t x = 0; x < A; x++)
						changed += held[x] != line[x];
				std::copy_n(line.data(), A, held);
			}
	}

	std::vector<uint8_t> datelines(n, 0);
	if (g.wrap) {
		for (uint32_t c = 0; c < n; c++) {
			const auto at = g.coords(c);
			for (unsigned k = 0; k < 3; k++) {
				if (dims[k] < 2 || at[k] + 1 != dims[k])
					continue;
				// The wrap link of this ring: c (+k) to coordinate 0 (-k).
				auto zero = at;
				zero[k] = 0;
				datelines[c] |= static_cast<uint8_t>(1u << (2 * k));
				datelines[g.chip_at(zero)] |=
					static_cast<uint8_t>(1u << (2 * k + 1));
			}
		}
	}
	for (uint32_t c = 0; c < n; c++)
		r.set_datelines(c, datelines[c]);
	return changed;
}

} // namespace

Routes route_dor(const Topology &t, const GridShape &g, const DorOptions &o)
{
	Routes r(t.id_limit());
	fill_dor(t, g, o, r, false);
	return r;
}

uint64_t route_dor_into(const Topology &t, const GridShape &g, const DorOptions &o, Routes &r)
{
	return fill_dor(t, g, o, r, true);
}

} // namespace lumen::route

namespace lumen::route {
namespace {

unsigned diameter_of(const GridShape &g, unsigned d)
{
	return g.dims[d] < 2 ? 0 : g.wrap ? g.dims[d] / 2 : g.dims[d] - 1;
}

// Rewrites entry (chip, dest) of r, keeping what it was in rep.undo.
void rewrite(Routes &r, uint32_t chip, uint32_t dest, uint32_t word, DorRepair &rep)
{
	uint32_t &w = r.row(chip)[dest];
	if (w == word)
		return;
	rep.undo.emplace_back(uint64_t(chip) * r.id_limit() + dest, w);
	rep.entries_changed++;
	w = word;
}

// f's ring without f is a line: the entries of the ring's chips whose
// segment in dimension d would cross f go the other way round.
void long_way_round(const GridShape &g, unsigned d, uint32_t a, Routes &r, DorRepair &rep)
{
	const uint32_t k = g.dims[d];
	const auto ca = g.coords(a);
	const uint32_t ka = ca[d], kb = (ka + 1) % k; // f joins ka (+d) and kb (-d)
	const uint8_t plus = static_cast<uint8_t>(2 * d), minus = plus + 1;
	// The destinations a ring chip routes by d: the ring's coordinates
	// below d, any coordinate above it; by their coordinate in d.
	std::array<uint32_t, 3> lo = ca, hi = ca;
	for (unsigned e = d; e < 3; e++) {
		lo[e] = 0;
		hi[e] = g.dims[e] - 1;
	}
	std::vector<std::vector<uint32_t>> by_coord(k);
	std::array<uint32_t, 3> at;
	for (at[2] = lo[2]; at[2] <= hi[2]; at[2]++)
		for (at[1] = lo[1]; at[1] <= hi[1]; at[1]++)
			for (at[0] = lo[0]; at[0] <= hi[0]; at[0]++)
				by_coord[at[d]].push_back(g.chip_at(at));
	std::vector<uint8_t> dest_seen(g.chips(), 0);
	for (uint32_t i = 0; i < k; i++) {
		auto cc = ca;
		cc[d] = i;
		const uint32_t c = g.chip_at(cc);
		const uint32_t *row = r.row(c);
		for (uint32_t j = 0; j < k; j++) {
			if (j == i)
				continue;
			for (uint32_t dest : by_coord[j]) {
				const uint32_t w = row[dest];
				const unsigned port = w & LUMEN_ROUTE_W_PORT_MASK;
				const bool crosses =
					(w & LUMEN_ROUTE_W_VALID) &&
					(port == plus ? (ka + k - i) % k < (j + k - i) % k
						      : port == minus &&
								(i + k - kb) % k < (i + k - j) % k);
				if (!crosses)
					continue;
				rewrite(r, c, dest,
					lumen_route_word(port == plus ? minus : plus, kNoPort, 0,
							 0),
					rep);
				rep.dests += !dest_seen[dest];
				dest_seen[dest] = 1;
			}
		}
	}
}

} // namespace

DorRepair repair_dor(const Topology &t, const GridShape &g, const Fiber &f, Routes &r, unsigned ttl)
{
	DorRepair rep;
	const std::string name = f.a.str() + "-" + f.b.str();
	const std::optional<PortRef> far = t.neighbour(f.a);
	if (!far || *far != f.b) {
		rep.reason = "fiber " + name + " is not cabled in '" + t.spec() + "'";
		return rep;
	}
	// a sends +d to b.
	PortRef a = f.a, b = f.b;
	if (a.port % 2)
		std::swap(a, b);
	const unsigned d = a.port / 2;
	if (a.port % 2 || b.port != a.port + 1 || d > 2 || g.chips() > r.id_limit() ||
	    a.chip >= g.chips() || b.chip >= g.chips()) {
		rep.reason = "fiber " + name + " is not a fiber of the grid " + g.spec();
		return rep;
	}
	unsigned last = 0, diameter = 0;
	for (unsigned e = 0; e < 3; e++) {
		if (g.dims[e] >= 2)
			last = e;
		diameter += diameter_of(g, e);
	}
	const uint32_t k = g.dims[d];

	if (!g.wrap && d == last) {
		rep.reason = "fiber " + name + ": a mesh has no way round it in its last dimension";
		return rep;
	}
	if (g.wrap && (d == last || k == 2)) {
		// The long way round is at most k - 1 hops in d.
		const unsigned longest = diameter - diameter_of(g, d) + (k - 1);
		if (longest > ttl + 1) {
			rep.reason = "fiber " + name + ": the way round makes paths of up to " +
				     std::to_string(longest) + " hops, TTL " + std::to_string(ttl);
			return rep;
		}
		long_way_round(g, d, a.chip, r, rep);
		rep.repaired = true;
		return rep;
	}

	// A hop into a later dimension e, the same direction at both ends,
	// out of ports that are cabled and no dateline.
	uint8_t detour = kNoPort;
	for (unsigned e = d + 1; e < 3 && detour == kNoPort; e++)
		for (uint8_t p : {uint8_t(2 * e), uint8_t(2 * e + 1)}) {
			if (g.dims[e] < 2 || !t.neighbour(PortRef{a.chip, p}) ||
			    !t.neighbour(PortRef{b.chip, p}) || (r.datelines(a.chip) >> p & 1) ||
			    (r.datelines(b.chip) >> p & 1))
				continue;
			detour = p;
			break;
		}
	if (detour == kNoPort) {
		rep.reason = "fiber " + name + ": no port of a later dimension to go round it";
		return rep;
	}
	// One hop more, and at most one more hop in e: the detour stays
	// within the diameter + 1.
	if (diameter + 1 > ttl + 1) {
		rep.reason = "fiber " + name + ": the detour makes paths of up to " +
			     std::to_string(diameter + 1) + " hops, TTL " + std::to_string(ttl);
		return rep;
	}
	std::vector<uint8_t> dest_seen(g.chips(), 0);
	for (const PortRef &end : {a, b}) {
		const uint32_t *row = r.row(end.chip);
		for (uint32_t dest = 0; dest < g.chips(); dest++) {
			const uint32_t w = row[dest];
			if (!(w & LUMEN_ROUTE_W_VALID) || (w & LUMEN_ROUTE_W_PORT_MASK) != end.port)
				continue;
			rewrite(r, end.chip, dest, (w & ~LUMEN_ROUTE_W_PORT_MASK) | detour, rep);
			if (!dest_seen[dest]) {
				dest_seen[dest] = 1;
				rep.dests++;
			}
		}
	}
	rep.repaired = true;
	return rep;
}

} // namespace lumen::route
