// SPDX-License-Identifier: MIT
#include "fabric.hpp"

#include <algorithm>

#include "log.hpp"
#include "wire.hpp"

namespace lumen::fabric {

namespace {

uint64_t endpoint_key(Endpoint e)
{
	return (uint64_t(e.chip) << 8) | e.port;
}

const char *reason_name(enum lumen_fiber_light_reason reason)
{
	switch (reason) {
	case LUMEN_FIBER_LIGHT_CUT:
		return "cut";
	case LUMEN_FIBER_LIGHT_RESTORE:
		return "restore";
	case LUMEN_FIBER_LIGHT_PEER_UP:
		return "peer connected";
	case LUMEN_FIBER_LIGHT_PEER_DOWN:
		return "peer disconnected";
	case LUMEN_FIBER_LIGHT_REPATCH:
		return "re-patch";
	}
	return "?";
}

std::string fiber_name(const Fiber &fiber)
{
	return "fiber " + std::to_string(fiber.id) + " (" + fiber.cable.a.str() + " <-> " +
	       fiber.cable.b.str() + ")";
}

} // namespace

Fiber::Fiber(uint32_t fiber_id, const Cable &c, const FiberParams &p, uint64_t seed,
	     size_t lane_bytes)
    : id(fiber_id), cable(c),
      params(p), lanes{Lane(lane_seed(seed, endpoint_key(c.a), endpoint_key(c.b)), lane_bytes),
		       Lane(lane_seed(seed, endpoint_key(c.b), endpoint_key(c.a)), lane_bytes)}
{
}

std::string Fiber::state(Nanos now) const
{
	if (cut)
		return "cut";
	if (lit)
		return "lit";
	if (now < dark_until)
		return "switching";
	return "dark";
}

Fabric::Fabric(uint64_t seed, const FiberParams &defaults, size_t lane_bytes)
    : seed_(seed), defaults_(defaults), lane_bytes_(lane_bytes)
{
}

Fiber *Fabric::find_fiber(uint32_t id)
{
	auto it = fibers_.find(id);
	return it == fibers_.end() ? nullptr : &it->second;
}

Fiber *Fabric::fiber_of(Endpoint port)
{
	auto it = port_fiber_.find(port);
	return it == port_fiber_.end() ? nullptr : find_fiber(it->second);
}

std::map<Endpoint, uint64_t> Fabric::port_list() const
{
	std::map<Endpoint, uint64_t> list;
	for (const auto &[port, state] : ports_)
		list.emplace(port, state.dropped_unpatched);
	return list;
}

bool Fabric::should_be_lit(const Fiber &fiber, Nanos now) const
{
	return !fiber.cut && now >= fiber.dark_until && attached(fiber.cable.a) &&
	       attached(fiber.cable.b);
}

Endpoint Fabric::receiver(const Fiber &fiber, Direction dir) const
{
	return dir == Direction::kAtoB ? fiber.cable.b : fiber.cable.a;
}

void Fabric::update_light(Fiber &fiber, enum lumen_fiber_light_reason reason, Nanos now,
			  const Endpoint *skip)
{
	const bool lit = should_be_lit(fiber, now);
	if (lit == fiber.lit)
		return;
	fiber.lit = lit;
	for (Direction dir : {Direction::kAtoB, Direction::kBtoA}) {
		Lane &lane = fiber.lanes[int(dir)];
		if (!lit) {
			// Light off: whatever is in the glass is lost.
			lane.purge();
			busy_lanes_.erase({fiber.id, dir});
		} else {
			lane.configure(fiber.params, now);
		}
	}
	log_line(fiber_name(fiber) + (lit ? " lit" : " dark") + " (" + reason_name(reason) + ")");
	for (Endpoint end : {fiber.cable.a, fiber.cable.b}) {
		auto it = ports_.find(end);
		if (it != ports_.end() && !(skip && *skip == end))
			it->second.sink->send(encode_light(lit, reason, fiber.id));
	}
}

enum lumen_fiber_status Fabric::attach(Endpoint port, PortSink *sink, Nanos now)
{
	if (port.port >= kMaxPorts) {
		sink->send(encode_hello_ack(LUMEN_FIBER_BAD_HELLO, false, LUMEN_FIBER_ID_NONE));
		log_line("port " + port.str() + " rejected: port number out of range");
		return LUMEN_FIBER_BAD_HELLO;
	}
	if (attached(port)) {
		sink->send(encode_hello_ack(LUMEN_FIBER_BUSY, false, LUMEN_FIBER_ID_NONE));
		log_line("port " + port.str() +
			 " rejected: already connected (two cards with one chip id?)");
		return LUMEN_FIBER_BUSY;
	}
	ports_[port].sink = sink;
	Fiber *fiber = fiber_of(port);
	if (!fiber) {
		sink->send(encode_hello_ack(LUMEN_FIBER_OK, false, LUMEN_FIBER_ID_NONE));
		log_line("port " + port.str() + " connected (not patched)");
		return LUMEN_FIBER_OK;
	}
	// The ACK already says the new state, so only the peer hears a LIGHT.
	sink->send(encode_hello_ack(LUMEN_FIBER_OK, should_be_lit(*fiber, now), fiber->id));
	log_line("port " + port.str() + " connected to " + fiber_name(*fiber));
	update_light(*fiber, LUMEN_FIBER_LIGHT_PEER_UP, now, &port);
	return LUMEN_FIBER_OK;
}

void Fabric::detach(Endpoint port, Nanos now)
{
	if (ports_.erase(port) == 0)
		return;
	log_line("port " + port.str() + " disconnected");
	if (Fiber *fiber = fiber_of(port))
		update_light(*fiber, LUMEN_FIBER_LIGHT_PEER_DOWN, now);
}

bool Fabric::can_accept(Endpoint from) const
{
	auto it = port_fiber_.find(from);
	if (it == port_fiber_.end())
		return true;
	const Fiber &fiber = fibers_.at(it->second);
	const Direction dir = fiber.cable.a == from ? Direction::kAtoB : Direction::kBtoA;
	return !fiber.lit || fiber.lanes[int(dir)].has_room();
}

void Fabric::receive_data(Endpoint from, std::vector<uint8_t> payload, Nanos now)
{
	Fiber *fiber = fiber_of(from);
	if (!fiber) {
		auto it = ports_.find(from);
		if (it != ports_.end())
			it->second.dropped_unpatched++;
		return;
	}
	const Direction dir = fiber->cable.a == from ? Direction::kAtoB : Direction::kBtoA;
	Lane &lane = fiber->lanes[int(dir)];
	if (!fiber->lit) {
		lane.counters.frames_in++;
		lane.counters.bytes_in += payload.size();
		lane.counters.dropped_dark++;
		return;
	}
	lane.push(std::move(payload), now);
	busy_lanes_.insert({fiber->id, dir});
	advance_lane(*fiber, dir, now);
}

void Fabric::advance_lane(Fiber &fiber, Direction dir, Nanos now)
{
	auto it = ports_.find(receiver(fiber, dir));
	if (it == ports_.end())
		return; // cannot happen while lit; the light-off purge empties the lane
	PortSink *sink = it->second.sink;
	Lane &lane = fiber.lanes[int(dir)];
	lane.advance(now, [sink](std::vector<uint8_t> &payload) {
		if (!sink->has_room())
			return false;
		sink->send(encode_record(LUMEN_FIBER_DATA, payload.data(), payload.size()));
		return true;
	});
	if (lane.empty())
		busy_lanes_.erase({fiber.id, dir});
}

void Fabric::advance(Nanos now)
{
	for (auto it = switching_.begin(); it != switching_.end();) {
		Fiber *fiber = find_fiber(*it);
		if (fiber && now < fiber->dark_until) {
			++it;
			continue;
		}
		it = switching_.erase(it);
		if (fiber)
			update_light(*fiber, LUMEN_FIBER_LIGHT_REPATCH, now);
	}
	// Copy: advancing a lane may retire it from the set.
	const std::vector<std::pair<uint32_t, Direction>> busy(busy_lanes_.begin(),
							       busy_lanes_.end());
	for (auto [id, dir] : busy)
		if (Fiber *fiber = find_fiber(id))
			advance_lane(*fiber, dir, now);
}

Nanos Fabric::next_deadline(Nanos now)
{
	Nanos next = kNever;
	for (uint32_t id : switching_)
		if (Fiber *fiber = find_fiber(id))
			next = std::min(next, fiber->dark_until);
	for (auto [id, dir] : busy_lanes_)
		if (Fiber *fiber = find_fiber(id))
			next = std::min(next, fiber->lanes[int(dir)].next_event(now));
	return next;
}

void Fabric::cut(Fiber &fiber, Nanos now)
{
	if (fiber.cut)
		return;
	fiber.cut = true;
	fiber.cuts++;
	log_line(fiber_name(fiber) + " cut");
	update_light(fiber, LUMEN_FIBER_LIGHT_CUT, now);
}

void Fabric::restore(Fiber &fiber, Nanos now)
{
	if (!fiber.cut)
		return;
	fiber.cut = false;
	log_line(fiber_name(fiber) + " restored");
	update_light(fiber, LUMEN_FIBER_LIGHT_RESTORE, now);
}

void Fabric::set_params(Fiber &fiber, const FiberParams &params, Nanos now)
{
	fiber.params = params;
	for (Lane &lane : fiber.lanes)
		lane.configure(params, now);
}

RepatchResult Fabric::repatch(const Topology &topology, Nanos dark_ns, Nanos now)
{
	RepatchResult result;
	std::set<Cable> wanted(topology.cables.begin(), topology.cables.end());
	std::vector<uint32_t> removed;
	for (auto &[id, fiber] : fibers_) {
		if (wanted.erase(fiber.cable))
			result.kept++;
		else
			removed.push_back(id);
	}
	// New fibers first, so a moved port's LIGHT off already names its new fiber.
	for (uint32_t id : removed)
		for (Endpoint end : {fibers_.at(id).cable.a, fibers_.at(id).cable.b})
			port_fiber_.erase(end);
	for (const Cable &cable : wanted) {
		const uint32_t id = next_fiber_id_++;
		auto [it, fresh] =
			fibers_.try_emplace(id, id, cable, defaults_, seed_, lane_bytes_);
		(void)fresh;
		it->second.dark_until = now + dark_ns;
		port_fiber_[cable.a] = id;
		port_fiber_[cable.b] = id;
		switching_.insert(id);
		result.added.push_back(id);
	}
	for (uint32_t id : removed) {
		Fiber &fiber = fibers_.at(id);
		if (fiber.lit) {
			fiber.lit = false;
			for (Endpoint end : {fiber.cable.a, fiber.cable.b}) {
				auto port = ports_.find(end);
				if (port == ports_.end())
					continue;
				auto moved = port_fiber_.find(end);
				port->second.sink->send(encode_light(
					false, LUMEN_FIBER_LIGHT_REPATCH,
					moved == port_fiber_.end() ? LUMEN_FIBER_ID_NONE
								   : moved->second));
			}
		}
		busy_lanes_.erase({id, Direction::kAtoB});
		busy_lanes_.erase({id, Direction::kBtoA});
		fibers_.erase(id);
		result.removed.push_back(id);
	}
	if (!topology_spec_.empty())
		log_line("re-patched from '" + topology_spec_ + "' to '" + topology.spec +
			 "': " + std::to_string(result.kept) + " fibers kept, " +
			 std::to_string(result.removed.size()) + " removed, " +
			 std::to_string(result.added.size()) + " added");
	topology_spec_ = topology.spec;
	// A zero dark time lights the new fibers now rather than on the next tick.
	advance(now);
	return result;
}

} // namespace lumen::fabric
