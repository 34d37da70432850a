// SPDX-License-Identifier: MIT
// In-band discovery (FABRIC.md 6): breadth-first over directed routes from
// the local chip (GET INFO at hop 0, then through each UP port), learning
// every chip's id, serial, ports and peers, and its path back to us. Chips
// of other hosts are found the same way: only the fibers reach them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mgmt/channel.hpp"
#include "route/topology.hpp"

namespace lumen_fm {

struct ChipNode {
	uint32_t id = 0;
	std::string serial;
	lumen::mgmt::Path path; // from the local chip to it
	lumen::mgmt::Path back; // from it to the local chip (its trap path)
	uint8_t num_ports = 0;
	bool mkey_set = false;
	std::vector<lumen::mgmt::PortInfo> ports;
};

// Two chips with one id: the one found first keeps it; the other is not
// routed (and not explored further).
struct Conflict {
	uint32_t id = 0;
	std::string serial_kept, serial_dup;
	lumen::mgmt::Path dup_path;
};

struct Discovery {
	std::vector<ChipNode> chips; // BFS order, chips[0] = the local chip
	std::map<uint32_t, size_t> index;
	std::vector<lumen::route::Fiber> fibers; // UP at both ends, ends agreeing
	std::vector<Conflict> conflicts;
	std::vector<std::string> problems; // each already logged
	unsigned gets = 0;
	double ms = 0;

	const ChipNode *chip(uint32_t id) const;
};

struct DiscoverOptions {
	unsigned max_hops = LUMEN_MGMT_MAX_HOPS;
	lumen::mgmt::Options mgmt;
};

// Throws lumen::mgmt::ChannelError when the card is gone; everything else
// (timeouts, refusals, odd answers) is logged and in problems.
Discovery discover(lumen::mgmt::Channel &ch, const DiscoverOptions &opts = {});

// The path of fiber f's end at chip `from` crossing to its other end: a
// way to a chip through the model (no packets), used after a trap when the
// BFS path of a chip crossed a fiber that is now down. Empty optional when
// no path of at most max_hops exists over the given fibers.
struct ModelPaths {
	std::map<uint32_t, lumen::mgmt::Path> to;   // local -> chip
	std::map<uint32_t, lumen::mgmt::Path> back; // chip -> local
};
ModelPaths paths_over(uint32_t local, const std::vector<lumen::route::Fiber> &up,
		      unsigned max_hops = LUMEN_MGMT_MAX_HOPS);

} // namespace lumen_fm
