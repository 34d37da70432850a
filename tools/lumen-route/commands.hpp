// SPDX-License-Identifier: MIT
// lumen-route's subcommands. Each returns the process exit code and writes its
// report to out (text or JSON) and its diagnostics to err.
#pragma once

#include <ostream>
#include <string>

namespace lumen_route {

// Exit codes are part of the interface (documented in --help).
enum ExitCode {
	kOk = 0,
	kMismatch = 1,	   // the cabling is not the topology, or a chip is not in it
	kUsage = 2,	   // bad command line or topology spec
	kSystemError = 3,  // no card, udev or a device node unusable
	kCardError = 4,	   // a card refused: not root, no link engine, ioctl error
	kVerifyFailed = 5, // the computed routes failed the verifier (nothing written)
};

struct ProgramOptions {
	std::string topology;
	bool dry_run = false;
	bool json = false;
};

// Check the local chips' cabling against the topology, compute and verify
// dimension-order routes, and upload each local chip's table and DATELINE
// flags (not with dry_run).
int run_program(const ProgramOptions &opts, std::ostream &out, std::ostream &err);

// Print each local chip's table (valid entries) and port control flags.
int run_show(bool json, std::ostream &out, std::ostream &err);

} // namespace lumen_route
