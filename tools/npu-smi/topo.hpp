// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "card_report.hpp"

namespace npusmi {

// The fabric manager's query socket (docs/fabric-manager.md, "Control
// socket"): one request line, one JSON line back. Throws FmError when the
// manager is not running, does not answer within timeout, or answers an
// error (code is its "code", or "no_manager" / "timeout").
struct FmError : std::runtime_error {
	FmError(const std::string &what, std::string c)
	    : std::runtime_error(what), code(std::move(c))
	{
	}
	std::string code;
};
nlohmann::json fm_request(const std::string &state_dir, const std::string &request,
			  std::chrono::milliseconds timeout);

struct TopoPort {
	unsigned port = 0;
	std::string state; // down, training, up, error
	std::optional<uint32_t> peer_chip;
	std::optional<uint32_t> peer_port;
};

struct TopoChip {
	uint32_t id = 0;
	std::string serial;
	std::vector<TopoPort> ports;
};

// The supernode as the fabric manager (source "fabric-manager") or, without
// one, as this host's cards' link ports see it (source "sysfs": only local
// chips and their direct neighbours).
struct Topology {
	std::string source;
	std::string shape; // e.g. "ring:4"; "" when unknown or irregular
	std::map<uint32_t, TopoChip> chips;
	unsigned links_not_up = 0; // cabled (or lit) but not UP
};

Topology topology_from_fm(const nlohmann::json &status, const nlohmann::json &topo);
Topology topology_from_cards(const std::vector<CardReport> &cards);

// Undirected UP fibers, each once.
unsigned count_fibers(const Topology &t);

// Hop distances over UP fibers between every ordered pair of distinct
// chips: histogram[h] = pairs at h hops; unreachable pairs counted apart.
struct HopStats {
	std::map<unsigned, uint64_t> histogram;
	uint64_t unreachable = 0;
};
HopStats hop_stats(const Topology &t);

// Fewest hops from every chip to every chip (nullopt: unreachable).
std::vector<std::vector<std::optional<unsigned>>> hop_matrix(const Topology &t);

inline constexpr size_t kMatrixMaxChips = 16;

std::string render_topo_text(const Topology &t, bool neighbors, bool matrix);
nlohmann::json topo_json(const Topology &t, bool neighbors, bool matrix);
std::string render_topo_csv(const Topology &t, bool neighbors);

std::string render_route_text(const nlohmann::json &route);
std::string render_route_csv(const nlohmann::json &route);

std::string port_label(unsigned port);

} // namespace npusmi
