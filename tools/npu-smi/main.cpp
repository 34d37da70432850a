// SPDX-License-Identifier: MIT
// npu-smi: the Lumen sysadmin's tool. This first cut lists cards.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "card_report.hpp"
#include "render.hpp"
#include "sys/error.hpp"

namespace {

constexpr const char *kVersion = "0.1.0";

// Exit codes are part of the interface: scripts test them.
enum ExitCode { kOk = 0, kUsage = 2, kSystemError = 3, kCardError = 4 };

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"npu-smi: inspect and manage Lumen NPUs"};
	app.set_version_flag("--version", std::string("npu-smi ") + kVersion);
	app.require_subcommand(1);

	bool json = false;
	bool errors_only = false;
	CLI::App *info = app.add_subcommand("info", "List every card with identity and health");
	info->add_flag("--json", json, "Machine-readable JSON output (schema_version 1)");
	CLI::App *link =
		app.add_subcommand("link", "Every optical link port: state, peer, counters");
	link->add_flag("--json", json, "Machine-readable JSON output (schema_version 1)");
	link->add_flag("--errors", errors_only, "Only ports with errors or down events");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int rc = app.exit(e);
		return rc == 0 ? kOk : kUsage;
	}

	try {
		if (link->parsed()) {
			const auto cards = npusmi::collect_links();
			std::cout << (json ? npusmi::render_link_json(cards)
					   : npusmi::render_link_table(cards, errors_only));
			for (const auto &c : cards) {
				if (c.error) {
					std::cerr << "npu-smi: card " << c.index << " ("
						  << c.pci_address << "): " << *c.error << "\n";
					return kCardError;
				}
			}
			return kOk;
		}
		const auto cards = npusmi::collect_reports();
		std::cout << (json ? npusmi::render_info_json(cards)
				   : npusmi::render_info_table(cards));
		for (const auto &c : cards) {
			if (c.error) {
				std::cerr << "npu-smi: card " << c.index << " (" << c.pci_address
					  << "): " << *c.error << "\n";
				return kCardError;
			}
		}
	} catch (const lumen::sys::Error &e) {
		std::cerr << "npu-smi: " << e.what() << "\n";
		return kSystemError;
	}
	return kOk;
}
