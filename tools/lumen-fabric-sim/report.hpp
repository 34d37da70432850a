// SPDX-License-Identifier: MIT
// What one simulator run found, per layout, and its two renderings: a human
// table (figures next to their targets) and JSON for machines.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "collectives.hpp"
#include "route/collective_model.hpp"
#include "targets.hpp"
#include "timing.hpp"

namespace lumen_fabric_sim {

// The verifier's verdict on one set of tables.
struct Verdict {
	bool ok = false;
	Timing time;
	uint64_t pairs = 0;
	uint64_t arrived = 0;
	unsigned max_hops = 0;
	unsigned max_lane = 0;
	bool cdg_acyclic = false;
	uint64_t problem_count = 0;
	std::vector<std::string> problems; // the first few, verbatim
};

// Route quality under uniform all-to-all traffic.
struct Quality {
	double mean_hops = 0;
	unsigned max_hops = 0;
	double mean_shortest = 0; // the ideal: mean shortest-path distance
	unsigned diameter = 0;	  // max shortest-path distance
	double max_load = 0;	  // paths through the busiest channel
	double mean_load = 0;
	double ideal_load = 0;	   // the lower bound on max_load
	bool ideal_exact = false;  // attained by some routing (a whole torus)
	uint64_t disconnected = 0; // pairs without a path over the UP fibers
	unsigned lanes_used = 0;
	double ms = 0; // computing all this
};

// One failure injected through Router::set_fiber.
struct FailureStep {
	std::string fiber; // "3.+x-7.-x"
	std::string engine;
	Timing time;
	uint64_t entries_changed = 0;
	uint64_t dests_recomputed = 0;
	uint64_t diff_bytes = 0; // what the fabric manager uploads
	bool full = false;	 // the router fell back to a full recompute
};

struct FailureRun {
	uint64_t seed = 0;
	std::vector<FailureStep> steps;
	double median_ms = 0, max_ms = 0;
	double median_entries = 0, max_entries = 0;
	double median_diff_bytes = 0, max_diff_bytes = 0;
	Quality quality; // after all the failures
	Verdict verdict; // of the tables after all the failures
};

// The agnostic engine from scratch on the layout with pct% fibers failed.
struct AgnosticRun {
	double pct = 0;
	uint64_t seed = 0;
	size_t failed = 0;
	Timing time;
	unsigned lanes_used = 0;
	uint32_t minimal_dests = 0;
	uint32_t longer_dests = 0;
	uint32_t fallback_dests = 0;
	Quality quality;
	Verdict verdict;
};

// An OCS re-patch: Router::repatch to the second topology.
struct RepatchRun {
	std::string from, to;
	std::string engine;
	Timing time;
	uint64_t entries_changed = 0;
	uint64_t diff_bytes = 0;
	size_t fibers = 0; // of the new topology
	Quality quality;
	Verdict verdict;
	std::vector<CollectiveRow> collectives; // on the new topology
};

struct LayoutReport {
	std::string layout; // as given
	std::string spec;   // the topology routed first
	size_t chips = 0;
	size_t fibers = 0;
	uint32_t id_limit = 0;
	uint64_t table_bytes_held = 0; // LUMEN_ROUTE_TABLE_SIZE x 4, per chip
	uint64_t table_bytes_used = 0; // id_limit x 4, per chip
	std::string engine;
	Timing first; // constructing the router: tables allocated, first routes
	Timing full;  // Router::recompute
	Quality quality;
	Verdict verdict;
	std::optional<FailureRun> failures;
	std::optional<AgnosticRun> agnostic;
	std::optional<RepatchRun> repatch;
	std::vector<CollectiveRow> collectives;
	std::vector<Figure> figures; // every timed or targeted figure

	// Every verdict of the layout is ok.
	bool verified() const noexcept;
	// One line per verdict that is not ok: which tables, how many
	// problems, and whether the fabric was disconnected.
	std::vector<std::string> rejections() const;
	// Some figure with a target missed it.
	bool missed() const noexcept;
};

struct SimReport {
	MachineLoad load_before, load_after;
	lumen::route::AlphaBeta model;
	std::vector<double> sizes;
	std::vector<LayoutReport> layouts;
};

nlohmann::json to_json(const SimReport &r);
void render_text(const SimReport &r, std::ostream &out);

} // namespace lumen_fabric_sim
