// SPDX-License-Identifier: MIT
#include "query.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <lumen/lumen_link.h>
#include <lumen/lumen_mgmt.h>

#include "mgmt/packet.hpp"

namespace lumen_fm {

using lumen::route::GridShape;
using lumen::route::Outcome;
using lumen::route::PortRef;
using nlohmann::json;

json error_answer(const char *code, const std::string &message)
{
	return {{"error", message}, {"code", code}};
}

bool parse_u32(const std::string &s, uint32_t &out)
{
	if (s.empty() || s.size() > 10)
		return false;
	uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + unsigned(c - '0');
	}
	if (v > UINT32_MAX)
		return false;
	out = static_cast<uint32_t>(v);
	return true;
}

bool parse_pairs(const std::vector<std::string> &tokens,
		 std::vector<std::pair<uint32_t, uint32_t>> &pairs, std::string *bad)
{
	pairs.clear();
	pairs.reserve(tokens.size());
	for (const std::string &tok : tokens) {
		const size_t colon = tok.find(':');
		uint32_t src, dst;
		if (colon == std::string::npos || !parse_u32(tok.substr(0, colon), src) ||
		    !parse_u32(tok.substr(colon + 1), dst)) {
			if (bad)
				*bad = tok;
			return false;
		}
		pairs.emplace_back(src, dst);
	}
	return true;
}

uint64_t port_bytes_per_s(PortRef)
{
	return LUMEN_LINK_NOMINAL_BYTES_PER_S;
}

uint64_t hop_latency_ns()
{
	return LUMEN_LINK_NOMINAL_HOP_NS;
}

RouteQuery::RouteQuery(const lumen::route::Topology &t, const lumen::route::Routes &r,
		       const std::vector<lumen::route::Fiber> &down)
    : t_(t), r_(r), ls_(t)
{
	for (const auto &f : down)
		ls_.cut(f);
}

RouteQuery::Pair RouteQuery::walk(uint32_t src, uint32_t dst) const
{
	Pair p;
	p.src = src;
	p.dst = dst;
	p.known = t_.has_chip(src) && t_.has_chip(dst);
	p.path.src = src;
	p.path.dst = dst;
	p.path.end_chip = src;
	if (!p.known)
		return p;
	if (src == dst)
		p.path.outcome = Outcome::Arrived;
	else
		p.path = lumen::route::walk(r_, ls_, src, dst);
	return p;
}

json RouteQuery::summary(const Pair &p) const
{
	const uint64_t n = p.path.hops.size();
	uint64_t bottleneck = 0;
	if (p.known && p.path.outcome == Outcome::Arrived && n) {
		bottleneck = UINT64_MAX;
		for (const auto &h : p.path.hops)
			bottleneck = std::min(bottleneck, port_bytes_per_s({h.chip, h.out_port}));
	}
	return {{"src", p.src},
		{"dst", p.dst},
		{"outcome", p.known ? lumen::route::outcome_name(p.path.outcome) : "invalid_chip"},
		{"hop_count", n},
		{"bottleneck_bytes_per_s", bottleneck},
		{"latency_ns", n * hop_latency_ns()}};
}

json RouteQuery::hops(const Pair &p) const
{
	json hops = json::array();
	for (const auto &h : p.path.hops) {
		const uint8_t alt = r_.entry(h.chip, p.dst).alt_port;
		hops.push_back(
			{{"chip", h.chip},
			 {"port", h.out_port},
			 {"port_name", lumen::route::port_name(h.out_port)},
			 {"lane", h.lane},
			 {"vc", LUMEN_VC_REQ(h.lane)},
			 {"alt_port", alt == lumen::route::kNoPort ? json(nullptr) : json(alt)},
			 {"detour", h.detour}});
	}
	return hops;
}

namespace {

std::string joined(const std::vector<std::string> &w)
{
	std::string s;
	for (const auto &x : w)
		s += (s.empty() ? "" : " ") + x;
	return s;
}

} // namespace

json answer_route(const RouteView &v, const std::vector<std::string> &w)
{
	uint32_t src, dst;
	if (w.size() != 3)
		return error_answer(code::kUsage, "usage: route SRC DST");
	if (!parse_u32(w[1], src) || !parse_u32(w[2], dst))
		return error_answer(code::kUsage, "bad number in '" + joined(w) + "'");
	if (!v.topo || !v.routes)
		return error_answer(code::kNoRoutes, "no routes uploaded yet");
	const RouteQuery q(*v.topo, *v.routes, v.down);
	const RouteQuery::Pair p = q.walk(src, dst);
	if (!p.known)
		return error_answer(code::kInvalidChip,
				    fmt::format("no route from chip {} to chip {}: chip {} is not "
						"in the fabric",
						src, dst, v.topo->has_chip(src) ? dst : src));
	json a = q.summary(p);
	a["generation"] = v.generation;
	a["hops"] = q.hops(p);
	return a;
}

json answer_routes(const RouteView &v, const std::vector<std::string> &w)
{
	if (w.size() < 2)
		return error_answer(code::kUsage, "usage: routes SRC:DST [SRC:DST ...]");
	std::vector<std::pair<uint32_t, uint32_t>> pairs;
	std::string bad;
	if (!parse_pairs({w.begin() + 1, w.end()}, pairs, &bad))
		return error_answer(code::kUsage, "bad pair '" + bad.substr(0, 64) +
							  "' in routes (want SRC:DST)");
	if (!v.topo || !v.routes)
		return error_answer(code::kNoRoutes, "no routes uploaded yet");
	const RouteQuery q(*v.topo, *v.routes, v.down);
	json routes = json::array();
	for (const auto &sd : pairs)
		routes.push_back(q.summary(q.walk(sd.first, sd.second)));
	return {{"generation", v.generation}, {"routes", std::move(routes)}};
}

json grid_fields(const std::optional<GridShape> &g)
{
	if (!g)
		return {{"shape", ""}, {"dims", nullptr}, {"wrap", false}};
	return {{"shape", g->spec()}, {"dims", g->dims}, {"wrap", g->wrap}};
}

json grid_coords(const std::optional<GridShape> &g, uint32_t chip)
{
	if (!g || chip >= g->chips())
		return nullptr;
	return g->coords(chip);
}

const std::vector<PortCounter> &port_counters()
{
	// Every counter of 0x10-0x7c; STATUS and the generations are state.
	static const std::vector<PortCounter> table = {
		{"tx_frames", LUMEN_LREG_TX_PKTS_LO, LUMEN_LREG_TX_PKTS_HI},
		{"rx_frames", LUMEN_LREG_RX_PKTS_LO, LUMEN_LREG_RX_PKTS_HI},
		{"crc_errors", LUMEN_LREG_CRC_ERRORS, 0},
		{"retransmits", LUMEN_LREG_RETRANSMITS, 0},
		{"down_events", LUMEN_LREG_DOWN_EVENTS, 0},
		{"tx_bytes", LUMEN_LREG_TX_BYTES_LO, LUMEN_LREG_TX_BYTES_HI},
		{"rx_bytes", LUMEN_LREG_RX_BYTES_LO, LUMEN_LREG_RX_BYTES_HI},
		{"frame_errors", LUMEN_LREG_FRAME_ERRORS, 0},
		{"naks_rx", LUMEN_LREG_NAKS_RX, 0},
		{"naks_tx", LUMEN_LREG_NAKS_TX, 0},
		{"replay_timeouts", LUMEN_LREG_REPLAY_TIMEOUTS, 0},
		{"ttl_drops", LUMEN_LREG_TTL_DROPS, 0},
		{"credit_stalls", LUMEN_LREG_CREDIT_STALLS, 0},
		{"failovers", LUMEN_LREG_FAILOVERS, 0},
		{"retrains", LUMEN_LREG_RETRAINS, 0},
		{"data_tx", LUMEN_LREG_DATA_TX_LO, LUMEN_LREG_DATA_TX_HI},
		{"data_rx", LUMEN_LREG_DATA_RX_LO, LUMEN_LREG_DATA_RX_HI},
		{"seq_errors", LUMEN_LREG_SEQ_ERRORS, 0},
	};
	return table;
}

const char *link_state_name(unsigned state)
{
	static const char *const names[] = {"down", "training", "up", "error"};
	return state < 4 ? names[state] : "?";
}

json port_answer(uint32_t chip, unsigned port, const uint8_t *data, uint32_t len,
		 const std::optional<PortRef> &peer)
{
	struct lumen_mgmt_port raw;
	if (len < sizeof(raw))
		throw lumen::mgmt::PacketError(
			fmt::format("PORT of {} bytes (want {})", len, sizeof(raw)));
	std::memcpy(&raw, data, sizeof(raw));
	const uint32_t ctrl = lumen_le32_to_cpu(raw.ctrl);
	auto word = [&raw](unsigned reg) {
		return uint64_t(lumen_le32_to_cpu(raw.counters[(reg - LUMEN_LREG_TX_PKTS_LO) / 4]));
	};
	json counters = json::object();
	for (const PortCounter &c : port_counters())
		counters[c.name] = word(c.lo) | (c.hi ? word(c.hi) << 32 : 0);
	const uint32_t state = lumen_le32_to_cpu(raw.state);
	// The peer as known may be stale: the port says whether it has one now.
	const bool up = state == LUMEN_LINK_UP && peer;
	return {{"chip", chip},
		{"port", port},
		{"state", link_state_name(state)},
		{"enabled", (ctrl & LUMEN_LCTRL_ENABLE) != 0},
		{"dateline", (ctrl & LUMEN_LCTRL_DATELINE) != 0},
		{"peer_chip", up ? json(peer->chip) : json(nullptr)},
		{"peer_port", up ? json(peer->port) : json(nullptr)},
		{"bandwidth_bytes_per_s", port_bytes_per_s({chip, static_cast<uint8_t>(port)})},
		{"latency_ns", hop_latency_ns()},
		{"counters", std::move(counters)}};
}

} // namespace lumen_fm
