// SPDX-License-Identifier: MIT
#include "route/walk.hpp"

namespace lumen::route {

LinkState::LinkState(const Topology &t) : t_(t), cabled_(t.id_limit(), 0)
{
	for (const Fiber &f : t.fibers())
		for (const PortRef &p : {f.a, f.b})
			cabled_[p.chip] |= static_cast<uint8_t>(1u << p.port);
	up_ = cabled_;
}

void LinkState::set(const Fiber &f, bool up)
{
	for (const PortRef &p : {f.a, f.b}) {
		if (p.chip >= up_.size() || p.port >= kMaxPorts || !(cabled_[p.chip] >> p.port & 1))
			continue;
		const uint8_t bit = static_cast<uint8_t>(1u << p.port);
		const bool was_up = up_[p.chip] & bit;
		if (up && !was_up) {
			up_[p.chip] |= bit;
			ports_down_--;
		} else if (!up && was_up) {
			up_[p.chip] &= static_cast<uint8_t>(~bit);
			ports_down_++;
		}
	}
}

std::vector<Fiber> LinkState::cut_fibers() const
{
	std::vector<Fiber> out;
	if (ports_down_ == 0)
		return out;
	for (const Fiber &f : t_.fibers())
		if (!up(f.a) || !up(f.b))
			out.push_back(f);
	return out;
}

const char *outcome_name(Outcome o)
{
	switch (o) {
	case Outcome::Arrived:
		return "arrived";
	case Outcome::NoRoute:
		return "no route";
	case Outcome::TtlExpired:
		return "TTL expired";
	case Outcome::LaneError:
		return "lane above 1";
	}
	return "?";
}

std::string Path::str() const
{
	std::string s;
	for (const Hop &h : hops)
		s += std::to_string(h.chip) + " " + port_name(h.out_port) + "(" +
		     std::to_string(h.lane) + (h.detour ? ",detour" : "") + ") ";
	return s + "-> " + outcome_name(outcome) + " at " + std::to_string(end_chip);
}

bool forward(const Routes &r, const LinkState &ls, uint32_t dst, const PacketAt &pkt,
	     unsigned ttl_default, Hop &out, Outcome &drop)
{
	const bool created = pkt.in_port == kInjected;
	// Step 2: a transit packet that has no hop left dies here.
	if (!created && pkt.ttl == 0) {
		drop = Outcome::TtlExpired;
		return false;
	}
	const RouteEntry e = r.entry(pkt.chip, dst);
	if (!e.valid) {
		drop = Outcome::NoRoute;
		return false;
	}
	// Step 3: port, else alt_port with DETOUR. A packet already detoured
	// never takes `port` back out of the port it came in on.
	auto up = [&](uint8_t p) { return p < kMaxPorts && ls.up(PortRef{pkt.chip, p}); };
	uint8_t port;
	bool detour = pkt.detour;
	if (up(e.port) && !(pkt.detour && e.port == pkt.in_port)) {
		port = e.port;
	} else if (up(e.alt_port)) {
		port = e.alt_port;
		detour = true;
	} else {
		drop = Outcome::NoRoute;
		return false;
	}
	// Step 5: the entry's lane on injection, a turn or a U-turn, else the
	// lane it came with; a dateline port moves it up one.
	unsigned lane = pkt.lane;
	if (e.fixed_lane || created || port_dim(port) != port_dim(pkt.in_port) ||
	    port == pkt.in_port)
		lane = e.lane;
	if (!e.fixed_lane && (r.datelines(pkt.chip) >> port & 1))
		lane++;
	if (lane >= LUMEN_LINK_LANES) {
		drop = Outcome::LaneError;
		return false;
	}
	out.chip = pkt.chip;
	out.in_port = pkt.in_port;
	out.out_port = port;
	out.lane = static_cast<uint8_t>(lane);
	out.detour = detour;
	out.ttl = static_cast<uint8_t>(created ? ttl_default : pkt.ttl - 1u);
	return true;
}

Path walk(const Routes &r, const LinkState &ls, uint32_t src, uint32_t dst, unsigned ttl)
{
	Path p;
	p.src = src;
	p.dst = dst;
	PacketAt at{src, kInjected, 0, false, 0};
	// TTL bounds every path (at most ttl + 1 hops), so this terminates.
	for (;;) {
		if (at.chip == dst) {
			p.outcome = Outcome::Arrived;
			p.end_chip = dst;
			return p;
		}
		Hop h;
		Outcome drop;
		if (!forward(r, ls, dst, at, ttl, h, drop)) {
			p.outcome = drop;
			p.end_chip = at.chip;
			return p;
		}
		p.hops.push_back(h);
		// An UP port is a cabled one.
		const PortRef next = *ls.topology().neighbour(PortRef{at.chip, h.out_port});
		at = PacketAt{next.chip, next.port, h.lane, h.detour, h.ttl};
	}
}

} // namespace lumen::route
