// SPDX-License-Identifier: MIT
#include "route/dor.hpp"

namespace lumen::route {

Routes route_dor(const Topology &t)
{
	if (!t.is_grid())
		throw TopologyError("topology '" + t.spec() +
				    "': dimension-order routing needs a ring, mesh or torus");
	const auto &dims = t.dims();
	const bool wrap = t.kind() != Topology::Kind::Mesh;
	Routes r(t.id_limit());

	for (uint32_t s : t.chips()) {
		const auto cs = t.coords(s);
		for (uint32_t d : t.chips()) {
			if (d == s)
				continue; // a chip's own entry is never used
			const auto cd = t.coords(d);
			unsigned k = 0;
			while (cs[k] == cd[k])
				k++;
			const uint32_t n = dims[k];
			RouteEntry e;
			e.valid = true;
			const uint8_t plus = static_cast<uint8_t>(2 * k), minus = plus + 1;
			if (wrap) {
				uint32_t fwd = (cd[k] + n - cs[k]) % n;
				bool go_plus = fwd <= n - fwd;
				e.port = go_plus ? plus : minus;
				e.alt_port = go_plus ? minus : plus;
			} else {
				e.port = cd[k] > cs[k] ? plus : minus;
				e.alt_port = kNoPort;
			}
			r.set(s, d, e);
		}
	}

	if (wrap) {
		for (uint32_t c : t.chips()) {
			const auto at = t.coords(c);
			for (unsigned k = 0; k < 3; k++) {
				if (dims[k] < 2 || at[k] + 1 != dims[k])
					continue;
				// The wrap link of this ring: c (+k) to coordinate 0 (-k).
				auto zero = at;
				zero[k] = 0;
				r.set_dateline(c, 2 * k, true);
				r.set_dateline(t.chip_at(zero), 2 * k + 1, true);
			}
		}
	}
	return r;
}

} // namespace lumen::route
