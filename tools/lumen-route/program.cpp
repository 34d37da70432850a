// SPDX-License-Identifier: MIT
// lumen-route program: cabling check, DOR routes, verifier, upload.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <lumen/lumen_link.h>

#include <drm/lumen_accel.h>

#include "chip_admin.hpp"
#include "commands.hpp"
#include "local_chips.hpp"
#include "route/dor.hpp"
#include "route/topology.hpp"
#include "route/verify.hpp"
#include "sys/error.hpp"

namespace lumen_route {
namespace {

using lumen::route::port_name;
using lumen::route::PortRef;
using lumen::route::Routes;
using lumen::route::Topology;

std::string ports_str(uint8_t mask)
{
	std::string s;
	for (unsigned p = 0; p < 8; p++)
		if (mask >> p & 1)
			s += (s.empty() ? "" : " ") + port_name(p);
	return s.empty() ? "none" : s;
}

struct ChipReport {
	const LocalChip *chip;
	nlohmann::json ports = nlohmann::json::array();
	unsigned entries = 0;
	uint8_t datelines = 0;
	bool programmed = false;
};

// Compare what each port sees with the topology. Errors: a neighbour other
// than the topology's, a fiber the topology does not have, a chip outside
// it. A port the topology cables that is not up is a warning.
void check_cabling(const Topology &t, const LocalChip &c, ChipReport &rep,
		   std::vector<std::string> &errors, std::vector<std::string> &warnings)
{
	const std::string who =
		fmt::format("chip {} (card {}, {})", c.chip_id, c.index, c.pci_address);
	if (!t.has_chip(c.chip_id)) {
		errors.push_back(fmt::format("{}: not in topology {}", who, t.spec()));
		return;
	}
	for (unsigned p = c.num_ports; p < lumen::route::kMaxPorts; p++)
		if (auto n = t.neighbour(PortRef{c.chip_id, static_cast<uint8_t>(p)}))
			errors.push_back(fmt::format("{}: has {} ports, but the topology cables "
						     "port {} to {}",
						     who, c.num_ports, port_name(p), n->str()));
	for (const LocalPort &lp : c.ports) {
		auto want = t.neighbour(PortRef{c.chip_id, static_cast<uint8_t>(lp.port)});
		const bool up = lp.state == "up" && lp.peer_chip && lp.peer_port;
		std::optional<PortRef> found;
		if (up)
			found = PortRef{*lp.peer_chip, static_cast<uint8_t>(*lp.peer_port)};
		std::string verdict = "ok";
		if (want && found && *want != *found) {
			verdict = "mismatch";
			errors.push_back(fmt::format("{} port {}: expected neighbour {}, found {}",
						     who, port_name(lp.port), want->str(),
						     found->str()));
		} else if (!want && found) {
			verdict = "mismatch";
			errors.push_back(
				fmt::format("{} port {}: expected no fiber, found neighbour "
					    "{}",
					    who, port_name(lp.port), found->str()));
		} else if (want && !found) {
			verdict = "down";
			warnings.push_back(
				fmt::format("{} port {} is {}, the topology cables it to {}: "
					    "its routes fail over until it is up",
					    who, port_name(lp.port), lp.state, want->str()));
		}
		rep.ports.push_back({
			{"port", lp.port},
			{"name", port_name(lp.port)},
			{"state", lp.state},
			{"expected", want ? nlohmann::json(want->str()) : nlohmann::json(nullptr)},
			{"found", found ? nlohmann::json(found->str()) : nlohmann::json(nullptr)},
			{"check", verdict},
		});
	}
}

// DATELINE flags first (packets already routed keep their lanes right),
// then the table, read back to be sure the chip holds it.
void program_chip(const LocalChip &c, const Routes &r)
{
	const uint8_t dl = r.datelines(c.chip_id);
	for (uint32_t p = 0; p < c.num_ports; p++) {
		uint32_t cur = port_ctrl_get(*c.dev, p);
		uint32_t want = (cur & DRM_LUMEN_PORT_ENABLE) |
				((dl >> p & 1) ? DRM_LUMEN_PORT_DATELINE : 0);
		if (cur != want)
			port_ctrl_set(*c.dev, p, want);
	}
	const std::vector<uint32_t> table = r.chip_table(c.chip_id);
	route_set(*c.dev, table);
	const std::vector<uint32_t> back = route_get(*c.dev);
	for (size_t d = 0; d < table.size(); d++)
		if (back[d] != table[d])
			throw AdminError(fmt::format("{}: route entry {} reads back {:#010x}, "
						     "wrote {:#010x}",
						     c.dev->devnode(), d, back[d], table[d]),
					 EIO);
}

} // namespace

int run_program(const ProgramOptions &opts, std::ostream &out, std::ostream &err)
{
	std::optional<Topology> t;
	std::optional<Routes> r;
	try {
		t = Topology::parse(opts.topology);
		r = lumen::route::route_dor(*t);
	} catch (const lumen::route::TopologyError &e) {
		err << "lumen-route: " << e.what() << "\n";
		return kUsage;
	}
	const lumen::route::VerifyReport v = lumen::route::verify(*t, *r);
	if (!v.ok()) {
		err << "lumen-route: the routes computed for " << t->spec()
		    << " failed verification (a bug; nothing was written):\n"
		    << v.str();
		return kVerifyFailed;
	}

	std::vector<LocalChip> chips;
	if (int rc = load_local_chips(chips, err))
		return rc;

	std::vector<std::string> errors, warnings;
	std::vector<ChipReport> reports;
	for (const LocalChip &c : chips) {
		ChipReport rep{&c};
		check_cabling(*t, c, rep, errors, warnings);
		if (t->has_chip(c.chip_id)) {
			for (uint32_t d : t->chips())
				rep.entries += r->entry(c.chip_id, d).valid;
			rep.datelines = r->datelines(c.chip_id);
		}
		reports.push_back(std::move(rep));
	}
	for (const auto &w : warnings)
		err << "lumen-route: warning: " << w << "\n";

	int rc = errors.empty() ? kOk : kMismatch;
	std::string failure;
	if (rc == kOk && !opts.dry_run) {
		for (ChipReport &rep : reports) {
			try {
				program_chip(*rep.chip, *r);
				rep.programmed = true;
			} catch (const AdminError &e) {
				failure = e.what();
				rc = kCardError;
				break;
			}
		}
	}

	if (opts.json) {
		nlohmann::json j;
		j["schema_version"] = 1;
		j["topology"] = t->spec();
		j["dry_run"] = opts.dry_run;
		j["verify"] = {{"pairs", v.pairs},
			       {"max_hops", v.max_hops},
			       {"max_lane", v.max_lane},
			       {"channels", v.channels},
			       {"dependencies", v.dependencies},
			       {"cdg_acyclic", v.cdg_acyclic}};
		j["chips"] = nlohmann::json::array();
		for (const ChipReport &rep : reports) {
			nlohmann::json dl = nlohmann::json::array();
			for (unsigned p = 0; p < 8; p++)
				if (rep.datelines >> p & 1)
					dl.push_back(port_name(p));
			j["chips"].push_back({{"index", rep.chip->index},
					      {"pci_address", rep.chip->pci_address},
					      {"chip_id", rep.chip->chip_id},
					      {"ports", rep.ports},
					      {"routes", rep.entries},
					      {"datelines", dl},
					      {"programmed", rep.programmed}});
		}
		j["warnings"] = warnings;
		j["errors"] = errors;
		if (!failure.empty())
			j["errors"].push_back(failure);
		out << j.dump(2) << "\n";
	} else {
		out << fmt::format("topology {}: {} chips, {} fibers; routes verified: {} pairs, "
				   "max {} hops, lanes 0-{}, channel dependencies acyclic\n",
				   t->spec(), t->chips().size(), t->fibers().size(), v.pairs,
				   v.max_hops, v.max_lane);
		for (const ChipReport &rep : reports)
			out << fmt::format("chip {} (card {}, {}): {} routes, dateline {}: {}\n",
					   rep.chip->chip_id, rep.chip->index,
					   rep.chip->pci_address, rep.entries,
					   ports_str(rep.datelines),
					   rep.programmed ? "programmed"
					   : opts.dry_run ? "dry run, not written"
							  : "not written");
	}
	for (const auto &e : errors)
		err << "lumen-route: " << e << "\n";
	if (!errors.empty())
		err << "lumen-route: the cabling does not match " << t->spec()
		    << "; nothing was written\n";
	if (!failure.empty())
		err << "lumen-route: " << failure << "\n";
	return rc;
}

} // namespace lumen_route
