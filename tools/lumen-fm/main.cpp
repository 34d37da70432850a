// SPDX-License-Identifier: MIT
// lumen-fm: the fabric manager daemon (issue 9, docs/fabric-manager.md).
//   lumen-fm run [--card N] [--mkey HEX] [--priority P] [--state-dir DIR]
//                [--sweep-interval-ms MS] [--heartbeat-ms MS] [--takeover-ms MS]
//                [--engine auto|dor|agnostic] [--verbose]
//   lumen-fm ctl [--state-dir DIR] status|topology|events [--since SEQ]|verify|sweep|
//                route S D|routes S:D...|port CHIP PORT
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "control.hpp"
#include "log.hpp"
#include "manager.hpp"

namespace {

volatile std::sig_atomic_t stop_flag = 0;

void on_stop(int)
{
	stop_flag = 1;
}

void on_io(int)
{
	// Only there to interrupt MGMT_RECV: the loop then serves the socket.
}

void install_signals()
{
	struct sigaction sa = {};
	sa.sa_handler = on_stop; // no SA_RESTART: a blocked RECV returns
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	sa.sa_handler = on_io;
	sigaction(SIGIO, &sa, nullptr);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, nullptr);
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"lumen-fm: the Lumen fabric manager"};
	app.require_subcommand(1);

	lumen_fm::Config cfg;
	std::string mkey_hex;
	unsigned priority = 0;
	bool verbose = false;
	CLI::App *run = app.add_subcommand("run", "run the manager in the foreground");
	run->add_option("--card", cfg.card,
			"device index (default: first card with a link engine)");
	run->add_option("--mkey", mkey_hex, "management key (hex) set on chips that have none");
	run->add_option("--priority", priority, "election priority 0-255 (higher wins)")
		->check(CLI::Range(0, 255));
	run->add_option("--state-dir", cfg.state_dir, "state files and fm.sock");
	run->add_option("--sweep-interval-ms", cfg.sweep_ms, "light sweep period")
		->check(CLI::Range(100u, 3600000u));
	run->add_option("--heartbeat-ms", cfg.heartbeat_ms, "master heartbeat period")
		->check(CLI::Range(50u, 60000u));
	run->add_option("--takeover-ms", cfg.takeover_ms, "silence before a standby takes over")
		->check(CLI::Range(100u, 600000u));
	run->add_option("--engine", cfg.engine, "routing engine")
		->check(CLI::IsMember({"auto", "dor", "agnostic"}));
	run->add_flag("--verbose", verbose, "debug messages");

	std::string ctl_dir = "/run/lumen-fm";
	std::vector<std::string> words;
	double timeout_s = 30;
	std::optional<uint64_t> since;
	CLI::App *ctl = app.add_subcommand("ctl", "ask the running manager");
	ctl->add_option("--state-dir", ctl_dir, "the manager's state dir");
	ctl->add_option("--timeout", timeout_s, "seconds to wait for the answer")
		->check(CLI::Range(0.1, 3600.0));
	ctl->add_option("--since", since, "events: only those after sequence number SEQ");
	ctl->add_option(
		   "command", words,
		   "status | topology | events [--since SEQ] | verify | sweep | route SRC DST | "
		   "routes SRC:DST... | port CHIP PORT")
		->required();

	// Usage errors exit 2 (as getopt tools do), not CLI11's own codes.
	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		fprintf(stderr, "lumen-fm: %s\n(lumen-fm --help for usage)\n", e.what());
		return 2;
	}

	if (ctl->parsed()) {
		std::string line;
		for (const auto &w : words)
			line += (line.empty() ? "" : " ") + w;
		if (since) {
			if (words.empty() || words[0] != "events") {
				fprintf(stderr, "lumen-fm ctl: --since goes with events only\n");
				return 2;
			}
			line += " --since " + std::to_string(*since);
		}
		return lumen_fm::ctl_request(ctl_dir, line, timeout_s);
	}
	if (!mkey_hex.empty()) {
		char *end = nullptr;
		errno = 0;
		cfg.mkey = strtoull(mkey_hex.c_str(), &end, 16);
		if (errno || !end || *end || !cfg.mkey) {
			fprintf(stderr, "lumen-fm: --mkey: '%s' is not a non-zero hex number\n",
				mkey_hex.c_str());
			return 2;
		}
	}
	if (cfg.takeover_ms <= cfg.heartbeat_ms) {
		fprintf(stderr, "lumen-fm: --takeover-ms must be above --heartbeat-ms\n");
		return 2;
	}
	cfg.priority = static_cast<uint8_t>(priority);
	lumen_fm::log_set_verbose(verbose);
	install_signals();
	lumen_fm::Manager m(cfg);
	return m.run(&stop_flag);
}
