// SPDX-License-Identifier: MIT
// lumen-fabric: the fiber plant and optical circuit switch of the emulation.
// Every port of every emulated card connects to it; it patches ports to each
// other by a topology spec and models each fiber. See README.md.
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>

#include <sys/resource.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "control.hpp"
#include "fabric.hpp"
#include "log.hpp"
#include "server.hpp"
#include "topology.hpp"

using namespace lumen::fabric;

int main(int argc, char **argv)
{
	CLI::App app{"lumen-fabric: the fiber plant (and OCS) between emulated Lumen cards"};
	std::string topology_spec = "none";
	std::string socket_dir;
	std::string control_path;
	uint64_t seed = 0;
	FiberParams defaults;
	double switch_ms = 10;
	size_t port_queue_bytes = 256 * 1024;
	size_t fiber_queue_bytes = 1024 * 1024;

	app.add_option("-t,--topology", topology_spec,
		       "ring:N, mesh:AxB[xC], torus:AxB[xC], edges:FILE or none")
		->capture_default_str();
	app.add_option("-d,--socket-dir", socket_dir,
		       "directory for ports.sock (every card port connects there) and "
		       "control.sock")
		->required();
	app.add_option("-c,--control", control_path,
		       "control socket path (default SOCKET_DIR/control.sock)");
	auto *seed_option = app.add_option("-s,--seed", seed,
					   "seed of all randomness (default: random, printed)");
	app.add_option("--ber", defaults.ber, "default bit-error rate per payload bit")
		->capture_default_str();
	app.add_option("--latency-us", defaults.latency_us, "default one-way latency (us)")
		->capture_default_str();
	app.add_option("--rate", defaults.rate,
		       "default rate in payload bytes/s per direction (0 = unlimited)")
		->capture_default_str();
	app.add_option("--loss", defaults.loss, "default probability that a frame is lost")
		->capture_default_str();
	app.add_option("--switch-ms", switch_ms,
		       "how long re-patched fibers stay dark (OCS switching time)")
		->check(CLI::Range(0.0, 60000.0))
		->capture_default_str();
	app.add_option("--port-queue-bytes", port_queue_bytes,
		       "DATA bytes queued for one port before its fiber holds frames back")
		->check(CLI::Range(size_t(LUMEN_FIBER_MAX_PAYLOAD), size_t(1) << 30))
		->capture_default_str();
	app.add_option("--fiber-queue-bytes", fiber_queue_bytes,
		       "bytes one fiber direction holds (pacing + in flight) before the "
		       "sender is not read")
		->check(CLI::Range(size_t(LUMEN_FIBER_MAX_PAYLOAD), size_t(1) << 30))
		->capture_default_str();
	CLI11_PARSE(app, argc, argv);

	if (std::string error = defaults.validate(); !error.empty()) {
		std::cerr << "lumen-fabric: default fiber parameters: " << error << "\n";
		return 2;
	}
	Topology topology;
	try {
		topology = parse_topology(topology_spec);
	} catch (const TopologyError &e) {
		std::cerr << "lumen-fabric: " << e.what() << "\n";
		return 2;
	}
	if (mkdir(socket_dir.c_str(), 0755) < 0 && errno != EEXIST) {
		std::cerr << "lumen-fabric: cannot create socket directory '" << socket_dir
			  << "': " << std::strerror(errno) << "\n";
		return 2;
	}
	if (seed_option->count() == 0)
		seed = (uint64_t(std::random_device{}()) << 32) | std::random_device{}();
	log_line("seed " + std::to_string(seed) + " (reproduce with --seed " +
		 std::to_string(seed) + ")");

	// Every port of every card is a socket: 8192 chips are 49152 of them.
	rlimit files;
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 &&
	    files.rlim_cur < 2 * topology.cables.size() + 64)
		log_line("warning: open-file limit " + std::to_string(files.rlim_cur) +
			 " is below the topology's " + std::to_string(2 * topology.cables.size()) +
			 " ports (ulimit -n)");

	Fabric fabric(seed, defaults, fiber_queue_bytes);
	fabric.repatch(topology, 0, 0);
	log_line("topology '" + topology.spec + "': " + std::to_string(topology.cables.size()) +
		 " fibers");
	Control control(fabric, switch_ms);
	ServerConfig config;
	config.port_socket = socket_dir + "/ports.sock";
	config.control_socket = control_path.empty() ? socket_dir + "/control.sock" : control_path;
	config.port_queue_bytes = port_queue_bytes;
	try {
		Server server(fabric, control, config);
		return server.run();
	} catch (const std::exception &e) {
		std::cerr << "lumen-fabric: " << e.what() << "\n";
		return 1;
	}
}
