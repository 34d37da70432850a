// SPDX-License-Identifier: MIT
// C API of the supernode as the fabric manager knows it (1.1): fabric, chip
// and port info, route queries and events, each one lumen-fm request
// (rt/fabric_client.hpp). Answers are checked field by field: a manager of
// another version gets FABRIC_UNAVAILABLE naming the field, never a crash.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>

#include "route/topology.hpp"
#include "rt/device.hpp"
#include "rt/fabric_client.hpp"
#include "rt/status.hpp"

using nlohmann::json;
using namespace lumen::rt;

namespace {

[[noreturn]] void bad_answer(const char *cmd, const std::string &what)
{
	fail(LUMEN_ERROR_FABRIC_UNAVAILABLE, std::string("lumen-fm's answer to '") + cmd + "' " +
						     what + " (a manager of another version?)");
}

const json &member(const json &j, const char *key, const char *cmd)
{
	auto it = j.find(key);
	if (it == j.end())
		bad_answer(cmd, std::string("has no \"") + key + "\"");
	return *it;
}

uint64_t number(const json &j, const char *key, const char *cmd)
{
	const json &v = member(j, key, cmd);
	if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
		bad_answer(cmd, std::string("has \"") + key + "\" that is no count but a " +
					v.type_name());
	return v.get<uint64_t>();
}

uint32_t number32(const json &j, const char *key, const char *cmd)
{
	uint64_t v = number(j, key, cmd);
	if (v > std::numeric_limits<uint32_t>::max())
		bad_answer(cmd, std::string("has \"") + key + "\" beyond 32 bits");
	return static_cast<uint32_t>(v);
}

// A number or null (-> none).
uint32_t number_or(const json &j, const char *key, uint32_t none, const char *cmd)
{
	auto it = j.find(key);
	if (it == j.end() || it->is_null())
		return none;
	return number32(j, key, cmd);
}

std::string text(const json &j, const char *key, const char *cmd)
{
	const json &v = member(j, key, cmd);
	if (!v.is_string())
		bad_answer(cmd, std::string("has \"") + key + "\" that is no string");
	return v.get<std::string>();
}

void copy_text(char *dst, size_t size, const std::string &s)
{
	std::snprintf(dst, size, "%s", s.c_str());
}

std::string chip_arg(uint32_t chip)
{
	return std::to_string(chip);
}

lumen_port_state_t port_state(const std::string &s)
{
	if (s == "up")
		return LUMEN_PORT_UP;
	if (s == "training")
		return LUMEN_PORT_TRAINING;
	if (s == "error")
		return LUMEN_PORT_ERROR;
	return LUMEN_PORT_DOWN;
}

// The chip's entry of `topology`, or INVALID_CHIP.
json chip_entry(const json &topo, uint32_t chip)
{
	for (const json &c : member(topo, "chips", "topology"))
		if (number32(c, "id", "topology") == chip)
			return c;
	fail(LUMEN_ERROR_INVALID_CHIP,
	     "chip " + chip_arg(chip) + " is not in the supernode (lumen_fabric_get_chips)");
}

lumen_status_t outcome_status(const std::string &outcome)
{
	if (outcome == "arrived")
		return LUMEN_SUCCESS;
	if (outcome == "invalid_chip")
		return LUMEN_ERROR_INVALID_CHIP;
	return LUMEN_ERROR_UNREACHABLE;
}

void fill_summaries(const json &list, lumen_route_summary_t *pairs, size_t n)
{
	if (!list.is_array() || list.size() != n)
		bad_answer("routes", "does not have one route per pair asked");
	for (size_t i = 0; i < n; i++) {
		const json &e = list[i];
		lumen_route_summary_t &s = pairs[i];
		if (number32(e, "src", "routes") != s.src || number32(e, "dst", "routes") != s.dst)
			bad_answer("routes", "answers another pair than asked");
		s.status = outcome_status(text(e, "outcome", "routes"));
		s.num_hops = number32(e, "hop_count", "routes");
		s.bottleneck_bytes_per_s = number(e, "bottleneck_bytes_per_s", "routes");
		s.latency_ns = number(e, "latency_ns", "routes");
	}
}

// A list of three counts, or null/absent (false).
bool triple(const json &j, const char *key, uint32_t out[3], const char *cmd)
{
	auto it = j.find(key);
	if (it == j.end() || it->is_null())
		return false;
	if (!it->is_array() || it->size() != 3)
		bad_answer(cmd, std::string("has \"") + key + "\" that is no list of 3");
	for (size_t i = 0; i < 3; i++) {
		const json &v = (*it)[i];
		if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
			bad_answer(cmd, std::string("has \"") + key + "\" with a bad count");
		out[i] = v.get<uint32_t>();
	}
	return true;
}

lumen_fabric_event_type_t event_type(const std::string &name)
{
	if (name == "link_down")
		return LUMEN_FABRIC_EVENT_LINK_DOWN;
	if (name == "link_up")
		return LUMEN_FABRIC_EVENT_LINK_UP;
	if (name == "reroute" || name == "mirror")
		return LUMEN_FABRIC_EVENT_REROUTE;
	if (name == "repatch")
		return LUMEN_FABRIC_EVENT_REPATCH;
	if (name == "takeover")
		return LUMEN_FABRIC_EVENT_TAKEOVER;
	return LUMEN_FABRIC_EVENT_OTHER;
}

lumen_fabric_event_t decode_event(const json &e)
{
	lumen_fabric_event_t ev{};
	ev.seq = number(e, "seq", "events");
	ev.time_ms = number(e, "ms", "events");
	std::string name = text(e, "type", "events");
	ev.type = event_type(name);
	copy_text(ev.name, sizeof(ev.name), name);
	ev.generation = e.contains("generation") ? number(e, "generation", "events") : 0;
	ev.chip_id = UINT32_MAX;
	ev.port = UINT32_MAX;
	// Link events name their fiber by its two ends, "3.+x": the first one.
	auto f = e.find("fiber");
	if (f != e.end() && f->is_array() && !f->empty() && (*f)[0].is_string()) {
		try {
			auto p = lumen::route::parse_port((*f)[0].get<std::string>());
			ev.chip_id = p.chip;
			ev.port = p.port;
		} catch (const lumen::route::TopologyError &) {
			bad_answer("events", "names a fiber end it cannot parse");
		}
	}
	return ev;
}

// guard() for the calls here: an answer field of another JSON type than
// expected (nlohmann throws) is a manager we cannot read, not a system error.
template <typename F> lumen_status_t fabric_guard(const char *fn, F &&f) noexcept
{
	return guard(fn, [&] {
		try {
			return f();
		} catch (const nlohmann::json::exception &e) {
			fail(LUMEN_ERROR_FABRIC_UNAVAILABLE,
			     std::string("lumen-fm's answer is not as expected (a manager of "
					 "another version?): ") +
				     e.what());
		}
	});
}

uint8_t byte(const json &j, const char *key, const char *cmd)
{
	uint32_t v = number32(j, key, cmd);
	if (v > 0xff)
		bad_answer(cmd, std::string("has \"") + key + "\" beyond a byte");
	return static_cast<uint8_t>(v);
}

} // namespace

extern "C" {

lumen_status_t lumen_fabric_get_info(lumen_fabric_info_t *info)
{
	return fabric_guard(__func__, [&] {
		require(info, "info");
		json st = fabric_request("status");
		lumen_fabric_info_t out{};
		out.struct_size = sizeof(out);
		out.generation = number(st, "generation", "status");
		out.event_seq = number(st, "event_seq", "status");
		out.num_chips = number32(st, "chips", "status");
		out.num_fibers = number32(st, "fibers", "status");
		out.links_down = number32(st, "links_down", "status");
		out.num_unreachable = number32(st, "unreachable", "status");
		triple(st, "dims", out.dims, "status");
		out.wrap = st.value("wrap", false) ? 1 : 0;
		out.manager_chip = number_or(st, "master_chip", UINT32_MAX, "status");
		std::string from = text(st, "routes_from", "status");
		if (from == "none")
			fail(LUMEN_ERROR_FABRIC_UNAVAILABLE,
			     "lumen-fm has no routes yet (role " + st.value("role", "?") +
				     "): try again once it is routing");
		if (from == "mirror")
			out.flags |= LUMEN_FABRIC_MIRROR;
		if (st.value("verify", "") == "ok")
			out.flags |= LUMEN_FABRIC_VERIFIED;
		copy_text(out.shape, sizeof(out.shape), text(st, "shape", "status"));
		copy_text(out.engine, sizeof(out.engine), text(st, "engine", "status"));
		const std::string guid = text(st, "guid", "status");
		char *end = nullptr;
		out.manager_guid = std::strtoull(guid.c_str(), &end, 16);
		if (guid.empty() || guid.size() > 16 || *end)
			bad_answer("status", "has a \"guid\" that is no 64-bit hex number");
		copy_versioned(info, out, "info");
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_get_chips(uint32_t *ids, size_t max, size_t *count)
{
	return fabric_guard(__func__, [&] {
		require(count, "count");
		require_array(ids, max, "ids", "max");
		json topo = fabric_request("topology");
		std::vector<uint32_t> all;
		for (const json &c : member(topo, "chips", "topology"))
			all.push_back(number32(c, "id", "topology"));
		std::sort(all.begin(), all.end());
		std::copy_n(all.begin(), std::min(max, all.size()), ids);
		*count = all.size();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_get_chip_info(uint32_t chip_id, lumen_chip_info_t *info)
{
	return fabric_guard(__func__, [&] {
		require(info, "info");
		json c = chip_entry(fabric_request("topology"), chip_id);
		lumen_chip_info_t out{};
		out.struct_size = sizeof(out);
		out.chip_id = chip_id;
		out.num_ports = number32(c, "num_ports", "topology");
		for (const json &p : member(c, "ports", "topology")) {
			uint32_t port = number32(p, "port", "topology");
			if (port < 32 && text(p, "state", "topology") == "up")
				out.ports_up |= 1u << port;
		}
		out.has_coords = triple(c, "coords", out.coords, "topology") ? 1 : 0;
		copy_text(out.serial, sizeof(out.serial), text(c, "serial", "topology"));
		auto local = device_of_chip(chip_id);
		out.device_index = local ? local->index() : -1;
		copy_versioned(info, out, "info");
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_get_port_info(uint32_t chip_id, uint32_t port, lumen_port_info_t *info)
{
	return fabric_guard(__func__, [&] {
		require(info, "info");
		json p = fabric_request("port " + chip_arg(chip_id) + " " + std::to_string(port));
		lumen_port_info_t out{};
		out.struct_size = sizeof(out);
		out.chip_id = chip_id;
		out.port = port;
		out.state = port_state(text(p, "state", "port"));
		out.enabled = member(p, "enabled", "port").get<bool>() ? 1 : 0;
		out.peer_chip = number_or(p, "peer_chip", UINT32_MAX, "port");
		out.peer_port = number_or(p, "peer_port", UINT32_MAX, "port");
		out.bandwidth_bytes_per_s = number(p, "bandwidth_bytes_per_s", "port");
		out.latency_ns = number(p, "latency_ns", "port");
		const json &c = member(p, "counters", "port");
		out.tx_bytes = number(c, "tx_bytes", "port");
		out.rx_bytes = number(c, "rx_bytes", "port");
		out.tx_frames = number(c, "tx_frames", "port");
		out.rx_frames = number(c, "rx_frames", "port");
		out.crc_errors = number(c, "crc_errors", "port");
		out.retransmits = number(c, "retransmits", "port");
		out.down_events = number(c, "down_events", "port");
		out.retrains = number(c, "retrains", "port");
		out.failovers = number(c, "failovers", "port");
		out.credit_stalls = number(c, "credit_stalls", "port");
		out.ttl_drops = number(c, "ttl_drops", "port");
		out.replay_timeouts = number(c, "replay_timeouts", "port");
		copy_versioned(info, out, "info");
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_get_route(uint32_t src, uint32_t dst, lumen_route_info_t *info,
				      lumen_route_hop_t *hops, size_t max_hops)
{
	return fabric_guard(__func__, [&] {
		require(info, "info");
		require_array(hops, max_hops, "hops", "max_hops");
		json r = fabric_request("route " + chip_arg(src) + " " + chip_arg(dst));
		const json &jh = member(r, "hops", "route");
		if (!jh.is_array())
			bad_answer("route", "has \"hops\" that is no list");
		lumen_route_info_t out{};
		out.struct_size = sizeof(out);
		out.src = src;
		out.dst = dst;
		out.num_hops = static_cast<uint32_t>(jh.size());
		out.bottleneck_bytes_per_s = number(r, "bottleneck_bytes_per_s", "route");
		out.latency_ns = number(r, "latency_ns", "route");
		out.generation = number(r, "generation", "route");
		for (size_t i = 0; i < jh.size() && i < max_hops; i++) {
			const json &h = jh[i];
			lumen_route_hop_t hop{};
			hop.chip_id = number32(h, "chip", "route");
			hop.port = byte(h, "port", "route");
			hop.vc = byte(h, "vc", "route");
			uint32_t alt = number_or(h, "alt_port", LUMEN_PORT_NONE, "route");
			if (alt > 0xff)
				bad_answer("route", "has \"alt_port\" beyond a byte");
			hop.alt_port = static_cast<uint8_t>(alt);
			hop.flags = h.value("detour", false) ? LUMEN_HOP_DETOUR : 0;
			hops[i] = hop;
		}
		copy_versioned(info, out, "info");
		std::string outcome = text(r, "outcome", "route");
		if (outcome != "arrived")
			fail(LUMEN_ERROR_UNREACHABLE,
			     "chip " + chip_arg(dst) + " is unreachable from chip " +
				     chip_arg(src) + ": " + outcome + " after " +
				     std::to_string(out.num_hops) + " hops");
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_get_routes(lumen_route_summary_t *pairs, size_t count,
				       uint64_t *generation)
{
	return fabric_guard(__func__, [&] {
		require_array(pairs, count, "pairs", "count");
		// lumen-fm reads requests of up to 64 KiB: a few thousand pairs
		// each. A reroute between two requests mixes generations: start
		// again, a few times.
		constexpr size_t kLine = 60000;
		constexpr int kAttempts = 3;
		uint64_t gen = 0;
		bool have_gen = false, mixed = true;
		for (int attempt = 0; mixed && attempt < kAttempts; attempt++) {
			mixed = false;
			have_gen = false;
			for (size_t first = 0; first < count && !mixed;) {
				size_t end = first;
				std::string line = "routes";
				while (end < count && line.size() < kLine) {
					line += " " + chip_arg(pairs[end].src) + ":" +
						chip_arg(pairs[end].dst);
					end++;
				}
				json r = fabric_request(line);
				uint64_t g = number(r, "generation", "routes");
				if (have_gen && g != gen) {
					mixed = true;
					gen = g;
					break;
				}
				gen = g;
				have_gen = true;
				fill_summaries(member(r, "routes", "routes"), pairs + first,
					       end - first);
				first = end;
			}
		}
		if (mixed)
			fail(LUMEN_ERROR_NOT_READY,
			     "the fabric was rerouted while the routes were read, " +
				     std::to_string(kAttempts) + " times: ask again");
		if (generation) {
			if (!have_gen)
				gen = number(fabric_request("status"), "generation", "status");
			*generation = gen;
		}
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_get_events(uint64_t after_seq, lumen_fabric_event_t *events, size_t max,
				       size_t *count)
{
	return fabric_guard(__func__, [&] {
		require(count, "count");
		require_array(events, max, "events", "max");
		json r = fabric_request("events --since " + std::to_string(after_seq));
		const json &list = member(r, "events", "events");
		if (!list.is_array())
			bad_answer("events", "has \"events\" that is no list");
		size_t n = 0;
		for (const json &e : list) {
			if (n == max)
				break;
			events[n++] = decode_event(e);
		}
		*count = n;
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_fabric_wait_generation(uint64_t seen, int timeout_ms, uint64_t *generation)
{
	return fabric_guard(__func__, [&] {
		if (timeout_ms < -1)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "timeout_ms " + std::to_string(timeout_ms) + " (0, a time or -1)");
		using clock = std::chrono::steady_clock;
		auto start = clock::now();
		// Polls the manager: a request is ~0.1 ms of its time, and waits
		// end within the poll period of the change.
		constexpr auto kPoll = std::chrono::milliseconds(20);
		for (;;) {
			uint64_t g = number(fabric_request("status"), "generation", "status");
			if (generation)
				*generation = g;
			if (g > seen)
				return LUMEN_SUCCESS;
			auto waited = clock::now() - start;
			if (timeout_ms >= 0 && waited >= std::chrono::milliseconds(timeout_ms))
				fail(LUMEN_ERROR_TIMEOUT,
				     "the routing generation is still " + std::to_string(g) +
					     " after " + std::to_string(timeout_ms) + " ms");
			clock::duration nap = kPoll;
			if (timeout_ms >= 0)
				nap = std::min<clock::duration>(
					nap, std::chrono::milliseconds(timeout_ms) - waited);
			std::this_thread::sleep_for(nap);
		}
	});
}

} // extern "C"
