// SPDX-License-Identifier: MIT
// The route verifier (FABRIC.md 4): follows every (source, destination) pair
// of a topology through the tables with the forwarding rules of hw-spec
// 13.4 (per destination, all sources at once: dest_walk.hpp; the result is
// what one walk() per pair gives, problems and their paths included) and
// proves that
//   - every packet arrives, within TTL, never on a lane above 1;
//   - the channel-dependency graph (CDG) of all those paths is acyclic,
//     where a channel is (directed link, lane): a packet holding one
//     channel and waiting for the next adds that dependency. Requests and
//     answers use the same tables on separate VC classes, so one class's
//     graph stands for both; management packets (VC 4) use no tables.
// An acyclic CDG is what makes the routes deadlock-free under credit flow
// control (Dally and Seitz).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "route/routes.hpp"
#include "route/topology.hpp"
#include "route/walk.hpp"

namespace lumen::route {

struct Channel {
	uint32_t chip = 0; // sender
	uint8_t port = 0;  // its output port
	uint8_t lane = 0;

	bool operator==(const Channel &o) const
	{
		return chip == o.chip && port == o.port && lane == o.lane;
	}
	std::string str() const; // "3.+x/1"
};

struct VerifyOptions {
	unsigned ttl = LUMEN_LINK_TTL_DEFAULT; // the chips' TTL_DEFAULT (above 250: 250)
	std::vector<Fiber> cut;		       // fibers taken down (failover paths)
	// When not empty: walk only the pairs among these chips (the part of
	// a partitioned fabric a manager reaches); chips that are not t's are
	// problems. The table words of every chip are checked all the same.
	std::vector<uint32_t> only;
	bool check_cdg = true;
	size_t max_problems = 16; // problems kept verbatim; all are counted
};

struct VerifyReport {
	uint64_t pairs = 0;   // ordered (source, destination) pairs walked
	uint64_t arrived = 0; // of those, delivered
	unsigned max_hops = 0;
	unsigned max_lane = 0;
	uint64_t channels = 0;	   // channels some path uses
	uint64_t dependencies = 0; // distinct CDG edges
	bool cdg_checked = false;
	bool cdg_acyclic = true;
	std::vector<Channel> cycle;	   // one dependency cycle, when there is one
	std::vector<std::string> problems; // the first max_problems, each self-contained
	uint64_t problem_count = 0;

	bool ok() const noexcept { return problem_count == 0; }
	// Multi-line summary: counts, then the problems.
	std::string str() const;
};

// Every pair of t.chips(), with the fibers of opts.cut down. Problems: a
// table word with reserved bits or a port above 7, a pair that does not
// arrive (with its path), a CDG cycle (with the cycle).
VerifyReport verify(const Topology &t, const Routes &r, const VerifyOptions &opts = {});

// Fast failover: for each fiber of t alone cut, every pair must still
// arrive within TTL on lanes 0-1 (DETOUR paths). CDG cycles of the detour
// paths are counted in cyclic_cuts, not problems: detours are a local
// repair until the fabric manager reroutes (hw-spec 13.4). One verify() per
// fiber: O(fibers x N^2), for small fabrics (about an hour at 4096 chips).
struct FailoverReport {
	uint64_t cuts = 0;
	uint64_t cyclic_cuts = 0; // cuts whose paths have a CDG cycle
	unsigned max_hops = 0;
	std::vector<std::string> problems;
	uint64_t problem_count = 0;
	bool ok() const noexcept { return problem_count == 0; }
	std::string str() const;
};

FailoverReport verify_failover(const Topology &t, const Routes &r, const VerifyOptions &opts = {});

} // namespace lumen::route
