// SPDX-License-Identifier: MIT
// lumen-route: program the route tables of this host's Lumen chips for a
// topology (dimension-order routes, checked by the verifier), or show them.
// Each host programs its own chips, named by their supernode chip ids.
#include <CLI/CLI.hpp>

#include <iostream>

#include "commands.hpp"

namespace {

constexpr const char *kVersion = "0.1.0";

constexpr const char *kFooter = R"(Exit status:
  0  done (warnings, e.g. a cabled port that is down, are printed to stderr)
  1  the cabling is not the topology (a chip's neighbour differs, a fiber the
     topology lacks, a chip outside it); nothing was written
  2  bad command line or topology spec
  3  no Lumen card on this host, or the cards cannot be enumerated or opened
  4  a card refused: needs root (CAP_SYS_ADMIN), card has no link engine, or
     another ioctl error
  5  the computed routes failed verification (a bug); nothing was written

Topology specs are lumen-fabric's: ring:N, mesh:AxB[xC], torus:AxB[xC],
edges:FILE (edge lists cannot be routed by dimension order yet).)";

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"lumen-route: program and show the route tables of this host's Lumen chips"};
	app.set_version_flag("--version", std::string("lumen-route ") + kVersion);
	app.footer(kFooter);
	app.require_subcommand(1);

	lumen_route::ProgramOptions popts;
	bool show_json = false;
	CLI::App *program = app.add_subcommand(
		"program", "Check the cabling against a topology, compute and verify "
			   "dimension-order routes and write them (and DATELINE flags) to every "
			   "local chip");
	program->add_option("-t,--topology", popts.topology, "ring:N, mesh:AxB[xC], torus:AxB[xC]")
		->required();
	program->add_flag("--dry-run", popts.dry_run,
			  "Check and compute, print what would be written, write nothing");
	program->add_flag("--json", popts.json, "Machine-readable JSON output (schema_version 1)");
	CLI::App *show = app.add_subcommand(
		"show", "Every local chip's route entries and port control flags");
	show->add_flag("--json", show_json, "Machine-readable JSON output (schema_version 1)");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? lumen_route::kOk : lumen_route::kUsage;
	}
	if (program->parsed())
		return lumen_route::run_program(popts, std::cout, std::cerr);
	return lumen_route::run_show(show_json, std::cout, std::cerr);
}
