// SPDX-License-Identifier: MIT
// The forwarding rules of docs/hw-spec.md 13.4 in software: which port and
// lane a chip picks for a packet, and the path a packet takes from source to
// destination through the uploaded tables. The verifier and route queries
// use it; it must stay what the device (qemu-device/hw/lumen-route.c) does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"

namespace lumen::route {

// Which ports are UP: every cabled port, minus the fibers taken down. Holds
// a reference to t, which must outlive it.
class LinkState {
      public:
	explicit LinkState(const Topology &t);
	// Take fiber f down (both its ports), or bring it back up. A fiber
	// that is not t's marks its cabled ports only.
	void cut(const Fiber &f) { set(f, false); }
	void restore(const Fiber &f) { set(f, true); }
	void set(const Fiber &f, bool up);
	bool up(PortRef p) const noexcept
	{
		return p.chip < up_.size() && p.port < kMaxPorts && (up_[p.chip] >> p.port & 1);
	}
	// Bit p: port p of chip is cabled and UP (0 beyond the topology).
	uint8_t up_ports(uint32_t chip) const noexcept { return chip < up_.size() ? up_[chip] : 0; }
	// The fibers of t that are down, in t.fibers() order.
	std::vector<Fiber> cut_fibers() const;
	// How many cabled ports are down (0: every fiber is up).
	uint32_t ports_down() const noexcept { return ports_down_; }
	bool all_up() const noexcept { return ports_down_ == 0; }
	const Topology &topology() const noexcept { return t_; }

      private:
	const Topology &t_;
	std::vector<uint8_t> cabled_; // per chip id, bit p: port p has a fiber
	std::vector<uint8_t> up_;     // cabled_ minus the ports cut
	uint32_t ports_down_ = 0;
};

// In-port of a packet at the chip that created it.
constexpr uint8_t kInjected = 0xff;

struct Hop {
	uint32_t chip = 0;	     // the chip that sends the packet on
	uint8_t in_port = kInjected; // port it arrived on
	uint8_t out_port = 0;
	uint8_t lane = 0;    // lane it leaves on (VC = 2 x class + lane)
	bool detour = false; // leaves with the DETOUR flag
	uint8_t ttl = 0;     // TTL it leaves with
};

enum class Outcome {
	Arrived,    // consumed at the destination
	NoRoute,    // invalid entry, or neither port UP: UNREACHABLE
	TtlExpired, // a transit chip got it with TTL 0
	LaneError,  // a dateline pushed the lane past 1: LANE_ERRORS
};

const char *outcome_name(Outcome o);

struct Path {
	uint32_t src = 0, dst = 0;
	std::vector<Hop> hops;
	Outcome outcome = Outcome::NoRoute;
	uint32_t end_chip = 0; // where it arrived or was dropped

	// "0 +x(0) 1 +x(0) 2 -> arrived at 3" style, for messages.
	std::string str() const;
};

// Packet state at a chip, before the chip forwards it.
struct PacketAt {
	uint32_t chip;
	uint8_t in_port; // kInjected at the source
	uint8_t lane;	 // lane it arrived on
	bool detour;
	uint8_t ttl; // TTL it arrived with
};

// One forwarding decision of 13.4 steps 2-5 for a packet not addressed to
// pkt.chip: true with the hop, or false with the reason it is dropped.
bool forward(const Routes &r, const LinkState &ls, uint32_t dst, const PacketAt &pkt,
	     unsigned ttl_default, Hop &out, Outcome &drop);

// Follow the tables from src to dst (src != dst); TTL_DEFAULT is ttl.
Path walk(const Routes &r, const LinkState &ls, uint32_t src, uint32_t dst,
	  unsigned ttl = LUMEN_LINK_TTL_DEFAULT);

} // namespace lumen::route
