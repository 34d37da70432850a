// SPDX-License-Identifier: MIT
#include "control.hpp"

#include <nlohmann/json.hpp>

#include "log.hpp"

namespace lumen::fabric {

namespace {

using nlohmann::json;

// A request the fabric refuses; the message goes back to the client.
struct RequestError {
	std::string message;
};

json lane_json(const LaneCounters &c)
{
	return {{"frames_in", c.frames_in},	  {"bytes_in", c.bytes_in},
		{"frames_out", c.frames_out},	  {"bytes_out", c.bytes_out},
		{"bits_flipped", c.bits_flipped}, {"dropped_loss", c.dropped_loss},
		{"dropped_dark", c.dropped_dark}};
}

json params_json(const FiberParams &p)
{
	return {{"ber", p.ber}, {"latency_us", p.latency_us}, {"rate", p.rate}, {"loss", p.loss}};
}

json fiber_json(const Fiber &f, Nanos now, bool with_counters)
{
	json j = {{"id", f.id},		  {"a", f.cable.a.str()},
		  {"b", f.cable.b.str()}, {"state", f.state(now)},
		  {"cuts", f.cuts},	  {"params", params_json(f.params)}};
	if (with_counters) {
		j["a_to_b"] = lane_json(f.lanes[int(Direction::kAtoB)].counters);
		j["b_to_a"] = lane_json(f.lanes[int(Direction::kBtoA)].counters);
	}
	return j;
}

// The fibers a request names: "fiber": ID, "port": "CHIP.PORT" or "all": true.
std::vector<Fiber *> select_fibers(Fabric &fabric, const json &req, bool required)
{
	const int named =
		int(req.contains("fiber")) + int(req.contains("port")) + int(req.contains("all"));
	if (named > 1)
		throw RequestError{"name fibers one way only: \"fiber\", \"port\" or \"all\""};
	std::vector<Fiber *> selected;
	if (named == 0 || req.contains("all")) {
		if (named == 0 && required)
			throw RequestError{"name a fiber: \"fiber\": ID, \"port\": \"CHIP.PORT\" "
					   "or \"all\": true"};
		if (named && req["all"] != true)
			throw RequestError{"\"all\" must be true"};
		for (const auto &[id, fiber] : fabric.fibers())
			selected.push_back(fabric.find_fiber(id));
		return selected;
	}
	if (req.contains("fiber")) {
		const json &id = req["fiber"];
		if (!id.is_number_unsigned() || id.get<uint64_t>() > UINT32_MAX)
			throw RequestError{"\"fiber\" must be a fiber id (see \"list\")"};
		Fiber *fiber = fabric.find_fiber(id.get<uint32_t>());
		if (!fiber)
			throw RequestError{"no fiber " + id.dump()};
		selected.push_back(fiber);
		return selected;
	}
	if (!req["port"].is_string())
		throw RequestError{"\"port\" must be a string like \"3.+x\""};
	Endpoint port;
	try {
		port = parse_port(req["port"].get<std::string>());
	} catch (const TopologyError &e) {
		throw RequestError{e.what()};
	}
	Fiber *fiber = fabric.fiber_of(port);
	if (!fiber)
		throw RequestError{"port " + port.str() + " is not patched to any fiber"};
	selected.push_back(fiber);
	return selected;
}

double number_field(const json &req, const char *name)
{
	if (!req[name].is_number())
		throw RequestError{std::string("\"") + name + "\" must be a number"};
	return req[name].get<double>();
}

json cmd_set(Fabric &fabric, const json &req, Nanos now)
{
	static const char *const kFields[] = {"ber", "latency_us", "rate", "loss"};
	bool any = false;
	for (const char *field : kFields)
		any |= req.contains(field);
	if (!any)
		throw RequestError{"set needs at least one of ber, latency_us, rate, loss"};
	std::vector<Fiber *> fibers = select_fibers(fabric, req, true);
	// Check every field before changing anything: a bad request changes nothing.
	auto apply = [&](FiberParams p) {
		if (req.contains("ber"))
			p.ber = number_field(req, "ber");
		if (req.contains("latency_us"))
			p.latency_us = number_field(req, "latency_us");
		if (req.contains("rate"))
			p.rate = number_field(req, "rate");
		if (req.contains("loss"))
			p.loss = number_field(req, "loss");
		if (std::string error = p.validate(); !error.empty())
			throw RequestError{error};
		return p;
	};
	const FiberParams new_defaults = apply(fabric.defaults());
	std::vector<FiberParams> updated;
	for (Fiber *fiber : fibers)
		updated.push_back(apply(fiber->params));
	for (size_t i = 0; i < fibers.size(); i++)
		fabric.set_params(*fibers[i], updated[i], now);
	if (req.contains("all"))
		fabric.set_defaults(new_defaults); // fibers a later re-patch creates too
	json ids = json::array();
	for (Fiber *fiber : fibers)
		ids.push_back(fiber->id);
	log_line("set " + req.dump() + " on " + std::to_string(fibers.size()) + " fibers");
	return {{"fibers", ids}};
}

json cmd_cut_restore(Fabric &fabric, const json &req, Nanos now, bool cut)
{
	json ids = json::array();
	for (Fiber *fiber : select_fibers(fabric, req, true)) {
		if (cut)
			fabric.cut(*fiber, now);
		else
			fabric.restore(*fiber, now);
		ids.push_back(fiber->id);
	}
	return {{"fibers", ids}};
}

json cmd_repatch(Fabric &fabric, const json &req, Nanos now, double default_switch_ms)
{
	if (!req.contains("topology") || !req["topology"].is_string())
		throw RequestError{"repatch needs \"topology\": a spec like \"torus:4x4\""};
	double switch_ms = default_switch_ms;
	if (req.contains("dark_ms")) {
		switch_ms = number_field(req, "dark_ms");
		if (!(switch_ms >= 0 && switch_ms <= 60000))
			throw RequestError{"dark_ms must be between 0 and 60000"};
	}
	Topology topology;
	try {
		topology = parse_topology(req["topology"].get<std::string>());
	} catch (const TopologyError &e) {
		throw RequestError{e.what()};
	}
	RepatchResult result = fabric.repatch(topology, static_cast<Nanos>(switch_ms * 1e6), now);
	return {{"kept", result.kept}, {"removed", result.removed}, {"added", result.added}};
}

json cmd_list(Fabric &fabric, Nanos now, bool with_counters, const json &req)
{
	json fibers = json::array();
	for (Fiber *fiber : select_fibers(fabric, req, false))
		fibers.push_back(fiber_json(*fiber, now, with_counters));
	json out = {{"fibers", fibers}};
	if (!with_counters) {
		out["seed"] = fabric.seed();
		out["topology"] = fabric.topology_spec();
		out["defaults"] = params_json(fabric.defaults());
	}
	return out;
}

json cmd_ports(Fabric &fabric)
{
	json ports = json::array();
	for (const auto &[port, dropped] : fabric.port_list()) {
		const Fiber *fiber = fabric.fiber_of(port);
		json j = {{"port", port.str()}, {"chip", port.chip}, {"number", port.port}};
		j["fiber"] = fiber ? json(fiber->id) : json(nullptr);
		j["light"] = fiber && fiber->lit;
		j["dropped_unpatched"] = dropped;
		ports.push_back(j);
	}
	return {{"ports", ports}};
}

} // namespace

std::string Control::handle(const std::string &line, Nanos now)
{
	json req = json::parse(line, nullptr, false);
	json reply;
	try {
		if (req.is_discarded() || !req.is_object())
			throw RequestError{"request is not a JSON object"};
		if (!req.contains("cmd") || !req["cmd"].is_string())
			throw RequestError{"request needs \"cmd\": a command name"};
		const std::string cmd = req["cmd"].get<std::string>();
		if (cmd == "list")
			reply = cmd_list(fabric_, now, false, req);
		else if (cmd == "counters")
			reply = cmd_list(fabric_, now, true, req);
		else if (cmd == "ports")
			reply = cmd_ports(fabric_);
		else if (cmd == "cut" || cmd == "restore")
			reply = cmd_cut_restore(fabric_, req, now, cmd == "cut");
		else if (cmd == "set")
			reply = cmd_set(fabric_, req, now);
		else if (cmd == "repatch")
			reply = cmd_repatch(fabric_, req, now, default_switch_ms_);
		else if (cmd == "shutdown") {
			shutdown_requested_ = true;
			log_line("shutdown requested on the control socket");
			reply = json::object();
		} else
			throw RequestError{"unknown command '" + cmd +
					   "' (list, counters, ports, cut, restore, set, "
					   "repatch, shutdown)"};
		reply["ok"] = true;
	} catch (const RequestError &e) {
		reply = {{"ok", false}, {"error", e.message}};
	} catch (const std::exception &e) {
		// json type errors and the like: still an answer, never a crash.
		reply = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
	}
	if (req.is_object() && req.contains("id"))
		reply["id"] = req["id"];
	// Replace invalid UTF-8 that a client sent us rather than throw on dump.
	return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace lumen::fabric
