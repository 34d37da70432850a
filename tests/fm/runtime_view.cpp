// SPDX-License-Identifier: MIT
#include "runtime_view.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include <lumen/lumen.hpp>
#include <lumen/lumen_link.h>

namespace fm_runtime {
namespace {

using Clock = std::chrono::steady_clock;

std::string sysfs(const std::string &path)
{
	std::ifstream in(path);
	std::string v;
	std::getline(in, v);
	return v;
}

const char *state_name(lumen_port_state_t s)
{
	switch (s) {
	case LUMEN_PORT_DOWN:
		return "down";
	case LUMEN_PORT_TRAINING:
		return "training";
	case LUMEN_PORT_UP:
		return "up";
	case LUMEN_PORT_ERROR:
		return "error";
	}
	return "?";
}

// Far end of the lit fiber at end e, or (-1, -1).
End far_end(const FiberSet &lit, End e)
{
	for (const Fiber &f : lit) {
		if (f.first == e)
			return f.second;
		if (f.second == e)
			return f.first;
	}
	return {-1, -1};
}

// A failed liblumen call, with its status and message.
std::string err(const lumen::Error &e)
{
	return std::string(e.status_name()) + " (" + e.what() + ")";
}

// Expects call to throw status want; "" or what it did instead.
template <typename F> std::string expect_status(const char *what, lumen_status_t want, F call)
{
	try {
		call();
	} catch (const lumen::Error &e) {
		if (e.status() == want) {
			printf("# %s -> %s: %s\n", what, e.status_name(), e.what());
			return "";
		}
		return std::string(what) + ": " + err(e) + ", expected " +
		       lumen_status_string(want);
	}
	return std::string(what) + " succeeded, expected " + lumen_status_string(want);
}

// The hops of a route follow lit fibers from src and end at dst.
std::string check_path(const FiberSet &lit, uint32_t src, uint32_t dst,
		       const lumen::fabric::Route &r)
{
	const std::string pair = std::to_string(src) + "->" + std::to_string(dst);
	if (r.info.num_hops != r.hops.size())
		return pair + ": num_hops " + std::to_string(r.info.num_hops) + " but " +
		       std::to_string(r.hops.size()) + " hops";
	if (r.info.latency_ns != uint64_t(r.hops.size()) * LUMEN_LINK_NOMINAL_HOP_NS)
		return pair + ": latency " + std::to_string(r.info.latency_ns) + " ns for " +
		       std::to_string(r.hops.size()) + " hops";
	uint64_t bw = r.hops.empty() ? 0 : LUMEN_LINK_NOMINAL_BYTES_PER_S;
	if (r.info.bottleneck_bytes_per_s != bw)
		return pair + ": bottleneck " + std::to_string(r.info.bottleneck_bytes_per_s);
	uint32_t at = src;
	for (const lumen_route_hop_t &h : r.hops) {
		if (h.chip_id != at)
			return pair + ": a hop from chip " + std::to_string(h.chip_id) +
			       " where the packet is at chip " + std::to_string(at);
		if (h.vc >= LUMEN_LINK_LANES)
			return pair + ": request VC " + std::to_string(h.vc);
		if (h.alt_port == h.port)
			return pair + ": alternative port equal to the port at chip " +
			       std::to_string(at);
		End next = far_end(lit, {int(at), int(h.port)});
		if (next.first < 0)
			return pair + ": chip " + std::to_string(at) + " port " +
			       std::to_string(h.port) + " has no lit fiber (lumen-fabric)";
		at = uint32_t(next.first);
	}
	if (at != dst)
		return pair + ": the hops end at chip " + std::to_string(at);
	return "";
}

} // namespace

std::string check_view(const Expect &e, int wait_ms)
{
	const auto t0 = Clock::now();
	lumen_fabric_info_t info{};
	for (;;) {
		try {
			info = lumen::fabric::info();
			break;
		} catch (const lumen::Error &x) {
			if (x.status() != LUMEN_ERROR_FABRIC_UNAVAILABLE ||
			    Clock::now() - t0 > std::chrono::milliseconds(wait_ms))
				return "lumen_fabric_get_info: " + err(x);
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(200));
	}
	printf("# liblumen: generation %llu, %u chips, %u fibers, %u down, shape \"%s\" "
	       "(%ux%ux%u wrap %u), engine %s, manager chip %u, flags %#x\n",
	       (unsigned long long)info.generation, info.num_chips, info.num_fibers,
	       info.links_down, info.shape, info.dims[0], info.dims[1], info.dims[2], info.wrap,
	       info.engine, info.manager_chip, info.flags);
	if (int(info.num_chips) != e.chips || info.num_fibers != e.lit.size() ||
	    info.links_down != e.down)
		return "fabric info: " + std::to_string(info.num_chips) + " chips, " +
		       std::to_string(info.num_fibers) + " fibers, " +
		       std::to_string(info.links_down) + " down; lumen-fabric has " +
		       std::to_string(e.chips) + ", " + std::to_string(e.lit.size()) + ", " +
		       std::to_string(e.down);
	if (!(info.flags & LUMEN_FABRIC_VERIFIED) ||
	    bool(info.flags & LUMEN_FABRIC_MIRROR) != e.mirror)
		return "fabric info flags " + std::to_string(info.flags) +
		       (e.mirror ? ", expected VERIFIED and MIRROR" : ", expected VERIFIED");
	if (info.shape[0] == '\0' || int(info.dims[0] * info.dims[1] * info.dims[2]) != e.chips)
		return std::string("fabric shape \"") + info.shape + "\" is no grid of the chips";

	std::vector<uint32_t> ids = lumen::fabric::chips();
	if (int(ids.size()) != e.chips || ids.front() != 0 || int(ids.back()) != e.chips - 1)
		return "lumen_fabric_get_chips: " + std::to_string(ids.size()) + " ids";

	// This guest's cards: chip id -> device index.
	std::map<uint32_t, int> local;
	for (int i = 0; i < lumen::Device::count(); i++)
		local[lumen::Device::get(i).chip_id()] = i;

	std::set<std::vector<uint32_t>> coords;
	for (uint32_t id : ids) {
		lumen_chip_info_t c = lumen::fabric::chip(id);
		char serial[32];
		snprintf(serial, sizeof(serial), "LMN1-%06u", id + 1);
		if (std::string(c.serial) != serial)
			return "chip " + std::to_string(id) + ": serial " + c.serial;
		int want_index = local.count(id) ? local[id] : -1;
		if (c.device_index != want_index)
			return "chip " + std::to_string(id) + ": device_index " +
			       std::to_string(c.device_index) + ", this guest has it at " +
			       std::to_string(want_index);
		uint32_t up = 0;
		for (const Fiber &f : e.lit)
			for (End end : {f.first, f.second})
				if (end.first == int(id))
					up |= 1u << end.second;
		if (c.ports_up != up)
			return "chip " + std::to_string(id) + ": ports_up " +
			       std::to_string(c.ports_up) + ", lumen-fabric lights " +
			       std::to_string(up);
		if (!c.has_coords || !coords.insert({c.coords[0], c.coords[1], c.coords[2]}).second)
			return "chip " + std::to_string(id) + ": no coordinates of its own";
		for (uint32_t p = 0; p < c.num_ports; p++) {
			std::string dir;
			uint64_t before = 0;
			if (want_index >= 0) {
				lumen_device_props_t props = lumen::Device::get(want_index).props();
				dir = std::string("/sys/bus/pci/devices/") + props.pci_address +
				      "/links/port" + std::to_string(p) + "/";
				before = std::stoull(sysfs(dir + "tx_frames"));
			}
			lumen_port_info_t pi = lumen::fabric::port(id, p);
			End far = far_end(e.lit, {int(id), int(p)});
			const std::string at =
				"chip " + std::to_string(id) + " port " + std::to_string(p);
			bool is_up = pi.state == LUMEN_PORT_UP;
			if (is_up != (far.first >= 0) ||
			    (is_up &&
			     (int(pi.peer_chip) != far.first || int(pi.peer_port) != far.second)))
				return at + ": " + state_name(pi.state) + " to " +
				       std::to_string(int(pi.peer_chip)) + "." +
				       std::to_string(int(pi.peer_port)) + ", lumen-fabric says " +
				       std::to_string(far.first) + "." + std::to_string(far.second);
			if (pi.bandwidth_bytes_per_s != LUMEN_LINK_NOMINAL_BYTES_PER_S ||
			    pi.latency_ns != LUMEN_LINK_NOMINAL_HOP_NS)
				return at + ": not the nominal bandwidth and latency";
			if (dir.empty())
				continue;
			// The driver's own registers: the same port, counted around the query.
			uint64_t after = std::stoull(sysfs(dir + "tx_frames"));
			if (sysfs(dir + "state") != state_name(pi.state) || pi.tx_frames < before ||
			    pi.tx_frames > after)
				return at + ": state " + state_name(pi.state) + " tx_frames " +
				       std::to_string(pi.tx_frames) + "; sysfs " +
				       sysfs(dir + "state") + " tx_frames " +
				       std::to_string(before) + ".." + std::to_string(after);
		}
	}

	// Every pair, one by one and batched.
	std::vector<std::pair<uint32_t, uint32_t>> pairs;
	std::vector<uint32_t> hops;
	for (uint32_t s : ids)
		for (uint32_t d : ids) {
			lumen::fabric::Route r;
			try {
				r = lumen::fabric::route(s, d);
			} catch (const lumen::Error &x) {
				return "route " + std::to_string(s) + "->" + std::to_string(d) +
				       ": " + err(x);
			}
			std::string bad = check_path(e.lit, s, d, r);
			if (!bad.empty())
				return "route " + bad;
			pairs.emplace_back(s, d);
			hops.push_back(r.info.num_hops);
		}
	uint64_t gen = 0;
	auto sum = lumen::fabric::routes(pairs, &gen);
	for (size_t i = 0; i < sum.size(); i++)
		if (sum[i].status != LUMEN_SUCCESS || sum[i].num_hops != hops[i])
			return "batched route " + std::to_string(pairs[i].first) + "->" +
			       std::to_string(pairs[i].second) + ": " +
			       lumen_status_string(sum[i].status) + ", " +
			       std::to_string(sum[i].num_hops) + " hops; alone " +
			       std::to_string(hops[i]);
	printf("# liblumen: %zu routes follow lit fibers to their chips, batched the same "
	       "(generation %llu)\n",
	       pairs.size(), (unsigned long long)gen);

	// What does not exist.
	const uint32_t none = uint32_t(e.chips) + 100;
	std::string bad;
	if (bad.empty())
		bad = expect_status("route to a chip that does not exist", LUMEN_ERROR_INVALID_CHIP,
				    [&] { lumen::fabric::route(0, none); });
	if (bad.empty())
		bad = expect_status("chip info of a chip that does not exist",
				    LUMEN_ERROR_INVALID_CHIP, [&] { lumen::fabric::chip(none); });
	if (bad.empty())
		bad = expect_status("port 40 of chip 0", LUMEN_ERROR_INVALID_CHIP,
				    [&] { lumen::fabric::port(0, 40); });
	if (bad.empty())
		bad = expect_status("port of a chip that does not exist", LUMEN_ERROR_INVALID_CHIP,
				    [&] { lumen::fabric::port(none, 0); });
	if (!bad.empty())
		return bad;
	std::vector<std::pair<uint32_t, uint32_t>> odd = {{0, none}, {none, 0}, {0, 1}};
	auto os = lumen::fabric::routes(odd);
	if (os[0].status != LUMEN_ERROR_INVALID_CHIP || os[1].status != LUMEN_ERROR_INVALID_CHIP ||
	    os[2].status != LUMEN_SUCCESS)
		return "batched routes with unknown chips: " +
		       std::string(lumen_status_string(os[0].status)) + " " +
		       lumen_status_string(os[1].status) + " " + lumen_status_string(os[2].status);

	auto ev = lumen::fabric::events();
	for (size_t i = 1; i < ev.size(); i++)
		if (ev[i].seq <= ev[i - 1].seq)
			return "events out of order";
	return "";
}

std::pair<uint64_t, uint64_t> now_seen()
{
	lumen_fabric_info_t i = lumen::fabric::info();
	return {i.generation, i.event_seq};
}

std::string check_reroute(std::pair<uint64_t, uint64_t> seen, const Fiber &f, int chips,
			  int timeout_ms)
{
	const auto t0 = Clock::now();
	auto g = lumen::fabric::wait_generation(seen.first, timeout_ms);
	if (!g)
		return "lumen_fabric_wait_generation(" + std::to_string(seen.first) + ", " +
		       std::to_string(timeout_ms) + " ms): the generation did not move";
	printf("# liblumen: generation %llu -> %llu after %lld ms of waiting\n",
	       (unsigned long long)seen.first, (unsigned long long)*g,
	       (long long)std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0)
		       .count());
	bool down = false, reroute = false;
	std::string seen_ev;
	for (const lumen_fabric_event_t &e : lumen::fabric::events(seen.second)) {
		seen_ev += std::string(seen_ev.empty() ? "" : ", ") + e.name;
		End at{int(e.chip_id), int(e.port)};
		down |= e.type == LUMEN_FABRIC_EVENT_LINK_DOWN && (at == f.first || at == f.second);
		reroute |= e.type == LUMEN_FABRIC_EVENT_REROUTE && e.generation > seen.first;
	}
	if (!down || !reroute)
		return "events after seq " + std::to_string(seen.second) + " (" + seen_ev +
		       ") lack a link_down at an end of the cut fiber or a reroute";
	std::vector<std::pair<uint32_t, uint32_t>> pairs;
	for (int s = 0; s < chips; s++)
		for (int d = 0; d < chips; d++)
			if (s != d) {
				auto r = lumen::fabric::route(uint32_t(s), uint32_t(d));
				for (const auto &h : r.hops) {
					End out{int(h.chip_id), int(h.port)};
					if (out == f.first || out == f.second)
						return "route " + std::to_string(s) + "->" +
						       std::to_string(d) +
						       " still leaves over the cut fiber";
				}
			}
	printf("# liblumen: events %s; no route crosses the cut fiber\n", seen_ev.c_str());
	return "";
}

} // namespace fm_runtime
