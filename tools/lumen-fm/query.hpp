// SPDX-License-Identifier: MIT
// The control socket's answers that need no device (docs/fabric-manager.md,
// "Control socket"): error answers with their codes, the `route` and
// `routes` queries through a set of tables, the grid fields of status and
// topology, and ATTR_PORT decoded for `port`. The manager (manager.cpp)
// feeds them; tests/host checks them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/walk.hpp"

namespace lumen_fm {

// The "code" of an error answer: what a client (liblumen) maps to errno.
namespace code {
constexpr const char *kUsage = "usage";		     // bad syntax or number
constexpr const char *kInvalidChip = "invalid_chip"; // not in the fabric
constexpr const char *kInvalidPort = "invalid_port"; // >= the chip's ports
constexpr const char *kNoRoutes = "no_routes";	     // no tables yet
constexpr const char *kUnreachable = "unreachable";  // an in-band GET failed
constexpr const char *kNotMaster = "not_master";     // sweep on a standby
constexpr const char *kNoCard = "no_card";	     // no card open (or gone)
constexpr const char *kUnknownCommand = "unknown_command";
constexpr const char *kBusy = "busy"; // the socket's own: too many clients
constexpr const char *kNotPermitted = "not_permitted"; // sweep, verify: root only
} // namespace code

// {"error": message, "code": code}
nlohmann::json error_answer(const char *code, const std::string &message);

// A chip id or port: decimal digits only, within uint32 (std::stoul would
// take "-1", "1x" and " 1").
bool parse_u32(const std::string &s, uint32_t &out);

// The tokens of `routes` after the command word: SRC:DST each. False with
// *bad = the first token that is no such pair.
bool parse_pairs(const std::vector<std::string> &tokens,
		 std::vector<std::pair<uint32_t, uint32_t>> &pairs, std::string *bad);

// Per-port figures of hw-spec 13 "Nominal figures": no register holds them.
uint64_t port_bytes_per_s(lumen::route::PortRef p);
uint64_t hop_latency_ns();

// Walks through one set of tables with the fibers down cut, the link state
// built once for any number of pairs (a `routes` request has thousands).
// t and r must outlive it.
class RouteQuery {
      public:
	RouteQuery(const lumen::route::Topology &t, const lumen::route::Routes &r,
		   const std::vector<lumen::route::Fiber> &down);

	struct Pair {
		uint32_t src = 0, dst = 0;
		bool known = false; // both chips are in the routed topology
		lumen::route::Path path;
	};
	// src == dst arrives with no hops: a chip reaches itself without the
	// fabric.
	Pair walk(uint32_t src, uint32_t dst) const;
	// {"src","dst","outcome","hop_count","bottleneck_bytes_per_s",
	// "latency_ns"}; outcome "invalid_chip" for a chip not routed.
	nlohmann::json summary(const Pair &p) const;
	// [{"chip","port","port_name","lane","vc","alt_port","detour"}]
	nlohmann::json hops(const Pair &p) const;

      private:
	const lumen::route::Topology &t_;
	const lumen::route::Routes &r_;
	lumen::route::LinkState ls_;
};

// What `route` and `routes` answer from: the tables in use (null when none),
// the fibers down now and the routing generation.
struct RouteView {
	const lumen::route::Topology *topo = nullptr;
	const lumen::route::Routes *routes = nullptr;
	std::vector<lumen::route::Fiber> down;
	uint64_t generation = 0;
};

// `route SRC DST` and `routes SRC:DST...`; w is the whole request split at
// blanks (w[0] the command word).
nlohmann::json answer_route(const RouteView &v, const std::vector<std::string> &w);
nlohmann::json answer_routes(const RouteView &v, const std::vector<std::string> &w);

// status: {"shape","dims","wrap"} of the grid the routed topology is.
nlohmann::json grid_fields(const std::optional<lumen::route::GridShape> &g);
// topology: a chip's [x,y,z] in that grid, null when none or off it.
nlohmann::json grid_coords(const std::optional<lumen::route::GridShape> &g, uint32_t chip);

// The ATTR_PORT counters by name: registers 0x10-0x7c are counters[]
// words (index = (offset - 0x10) / 4), 64-bit counters LO then HI.
struct PortCounter {
	const char *name;
	unsigned lo; // register offset, LUMEN_LREG_*
	unsigned hi; // 0: a 32-bit counter
};
const std::vector<PortCounter> &port_counters();

// "down", "training", "up", "error" ("?" beyond).
const char *link_state_name(unsigned state);

// The `port` answer from a GET PORT answer's data; peer is the port's
// neighbour as known, if any (answered only while the port is up). Throws lumen::mgmt::PacketError
// when the data is shorter than struct lumen_mgmt_port.
nlohmann::json port_answer(uint32_t chip, unsigned port, const uint8_t *data, uint32_t len,
			   const std::optional<lumen::route::PortRef> &peer);

} // namespace lumen_fm
