// SPDX-License-Identifier: MIT
// lumen-fabric-sim: the routing library on synthetic fabrics of up to 8192
// chips, without QEMU or a device (issue 9, item 3). Prints route times,
// reroute times per failure, table and diff bytes, hops and channel load
// against the ideal, lanes, the verifier's verdict and collective estimates,
// each timed figure next to the target it must beat.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "collectives.hpp"
#include "layout.hpp"
#include "report.hpp"
#include "sim.hpp"

namespace {

using namespace lumen_fabric_sim;

enum ExitCode { kOk = 0, kMissed = 1, kUsage = 2, kUnverified = 3 };

constexpr const char *kFooter =
	R"(Layouts: ring:N, mesh:AxB[xC], torus:AxB[xC], edges:FILE (lumen-fabric's
specs, chip ids below 8192), ocs:128 (a 128-chip OCS node re-patched from
torus:4x4x8 to torus:8x16), ocs:SPEC_A,SPEC_B (any two specs on the same chips).

--bench runs the benchmark set of issue 9: torus:16x16x16 (4096 chips),
torus:16x16x32 (8192), torus:8x8x4 (256), torus:8x8x8 (512) and ocs:128, with
--fail 8 and --fail-pct 1 unless given.

Exit status:
  0  done
  1  a figure missed its target (only with --strict)
  2  bad arguments: unknown layout, more failures than fibers, ...
  3  the verifier rejected a set of tables, or the routing library could not
     route a layout it parsed)";

const std::vector<std::string> kBenchLayouts = {"torus:16x16x16", "torus:16x16x32", "torus:8x8x4",
						"torus:8x8x8", "ocs:128"};

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"lumen-fabric-sim: the routing library on synthetic fabrics, no device"};
	app.footer(kFooter);

	std::vector<std::string> specs;
	SimOptions opts;
	bool json = false, strict = false, bench = false;
	std::vector<std::string> sizes = {"1M", "64M", "1G"};
	double hop_us = opts.model.hop_latency_s * 1e6;
	double launch_us = opts.model.launch_overhead_s * 1e6;
	double port_gbs = opts.model.port_bandwidth / 1e9;

	app.add_option("layouts", specs, "Fabrics to simulate");
	app.add_flag("--bench", bench, "Run the benchmark set (see below)");
	CLI::Option *fail = app.add_option("--fail", opts.fail,
					   "Fibers failed at random, one at a time, each rerouted");
	CLI::Option *fail_pct = app.add_option(
		"--fail-pct", opts.fail_pct,
		"Percent of fibers failed before a from-scratch run of the agnostic engine");
	app.add_option("--seed", opts.seed, "Seed of the failure picks")->capture_default_str();
	app.add_option("--sizes", sizes, "Collective message sizes (K, M, G = KiB, MiB, GiB)")
		->delimiter(',')
		->capture_default_str();
	app.add_option("--hop-us", hop_us, "Model: latency of one hop, us")->capture_default_str();
	app.add_option("--launch-us", launch_us, "Model: software overhead per step, us")
		->capture_default_str();
	app.add_option("--port-gbs", port_gbs, "Model: one port's rate per direction, GB/s")
		->capture_default_str();
	app.add_option("--hops-per-step", opts.model.hops_per_step,
		       "Model: hops between ring neighbours")
		->capture_default_str();
	app.add_flag("--json", json, "Machine-readable JSON (schema_version 1)");
	app.add_flag("--strict", strict, "Exit 1 when a figure misses its target");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? kOk : kUsage;
	}

	std::vector<Layout> layouts;
	SimReport report;
	try {
		if (bench) {
			specs.insert(specs.begin(), kBenchLayouts.begin(), kBenchLayouts.end());
			if (fail->count() == 0)
				opts.fail = 8;
			if (fail_pct->count() == 0)
				opts.fail_pct = 1;
		}
		if (specs.empty())
			throw std::invalid_argument(
				"no layout: name one (e.g. torus:4x4x4) or --bench");
		opts.model.hop_latency_s = hop_us * 1e-6;
		opts.model.launch_overhead_s = launch_us * 1e-6;
		opts.model.port_bandwidth = port_gbs * 1e9;
		opts.model.check();
		for (const std::string &s : sizes)
			opts.sizes.push_back(parse_size(s));
		for (const std::string &s : specs) {
			layouts.push_back(parse_layout(s));
			check_options(layouts.back(), opts);
		}
	} catch (const std::exception &e) {
		std::cerr << "lumen-fabric-sim: " << e.what() << "\n";
		return kUsage;
	}

	report.model = opts.model;
	report.sizes = opts.sizes;
	report.load_before = machine_load();
	for (const Layout &l : layouts) {
		try {
			report.layouts.push_back(simulate(l, opts));
		} catch (const std::exception &e) {
			// The library refused a layout it parsed: no routes to prove.
			std::cerr << "lumen-fabric-sim: layout '" << l.name << "': " << e.what()
				  << "\n";
			return kUnverified;
		}
	}
	report.load_after = machine_load();

	if (json)
		std::cout << to_json(report).dump(2) << "\n";
	else
		render_text(report, std::cout);

	bool verified = true, missed = false;
	for (const LayoutReport &l : report.layouts) {
		for (const std::string &why : l.rejections())
			std::cerr << "lumen-fabric-sim: layout '" << l.layout << "': " << why
				  << "\n";
		verified = verified && l.verified();
		missed = missed || l.missed();
	}
	if (!verified)
		return kUnverified;
	return strict && missed ? kMissed : kOk;
}
