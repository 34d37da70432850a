// SPDX-License-Identifier: MIT
#include "route/dor.hpp"

#include <algorithm>

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

Routes route_dor(const Topology &t, const GridShape &g, const DorOptions &o)
{
	const auto &dims = g.dims;
	const uint32_t n = g.chips();
	if (n > t.id_limit() || t.chips().size() != n)
		throw TopologyError("topology '" + t.spec() + "' is not the grid " + g.spec());
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
	Routes r(t.id_limit());
	std::vector<uint32_t> xline(size_t(A) * 2);
	for (uint32_t s = 0; s < n; s++) {
		const auto cs = g.coords(s);
		for (unsigned par = 0; par < 2; par++)
			for (uint32_t x = 0; x < A; x++)
				xline[par * A + x] = x == cs[0] ? 0 : word(0, cs[0], x, par);
		uint32_t *row = r.row(s);
		for (uint32_t z = 0; z < C; z++)
			for (uint32_t y = 0; y < B; y++) {
				uint32_t *line = row + (size_t(z) * B + y) * A;
				std::copy_n(xline.data() + ((y + z) & 1) * A, A, line);
				uint32_t &own = line[cs[0]];
				if (y != cs[1])
					own = word(1, cs[1], y, cs[0] + z);
				else if (z != cs[2])
					own = word(2, cs[2], z, cs[0] + cs[1]);
			}
	}

	if (g.wrap) {
		for (uint32_t c = 0; c < n; c++) {
			const auto at = g.coords(c);
			for (unsigned k = 0; k < 3; k++) {
				if (dims[k] < 2 || at[k] + 1 != dims[k])
					continue;
				// The wrap link of this ring: c (+k) to coordinate 0 (-k).
				auto zero = at;
				zero[k] = 0;
				r.set_dateline(c, 2 * k, true);
				r.set_dateline(g.chip_at(zero), 2 * k + 1, true);
			}
		}
	}
	return r;
}

} // namespace lumen::route
