// SPDX-License-Identifier: MIT
// npu-smi: the Lumen sysadmin's tool. Everything it shows comes from sysfs,
// hwmon, /proc and the fabric manager's socket: no device context, no root
// (docs/npu-smi.md). Only actions (reset, set) touch the card.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "card_report.hpp"
#include "exporter.hpp"
#include "fields.hpp"
#include "proc_report.hpp"
#include "render.hpp"
#include "sys/error.hpp"
#include "sysfs.hpp"
#include "timeout.hpp"
#include "topo.hpp"

namespace {

constexpr const char *kVersion = "0.2.0";

// Exit codes are part of the interface: scripts test them.
enum ExitCode {
	kOk = 0,
	kFailure = 1,	  // an action failed (reset, set, route, topo)
	kUsage = 2,	  // bad flags, ids or fields
	kSystemError = 3, // enumeration or the system failed
	kCardError = 4,	  // some card could not be read
	kUnhealthy = 5,	  // `health`: some card is ERROR
};

struct UsageError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

struct ActionError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

using namespace npusmi;
using Clock = std::chrono::steady_clock;

// -i/--id: card indices or PCI addresses, comma-separated; empty = all.
std::vector<CardRef> select_cards(const std::vector<CardRef> &all, const std::string &ids)
{
	if (ids.empty())
		return all;
	std::vector<CardRef> out;
	size_t pos = 0;
	while (pos <= ids.size()) {
		size_t end = ids.find(',', pos);
		if (end == std::string::npos)
			end = ids.size();
		const std::string id = ids.substr(pos, end - pos);
		auto it = std::find_if(all.begin(), all.end(), [&](const CardRef &c) {
			const auto n = parse_u64(id);
			return (n && *n == c.index) || id == c.pci_address;
		});
		if (it == all.end())
			throw UsageError(fmt::format(
				"no card '{}' ({} card(s){})", id, all.size(),
				all.empty()
					? ""
					: fmt::format(": 0-{} or a PCI address", all.size() - 1)));
		if (std::find_if(out.begin(), out.end(), [&](const CardRef &c) {
			    return c.index == it->index;
		    }) == out.end())
			out.push_back(*it);
		pos = end + 1;
	}
	return out;
}

int card_status(const std::vector<CardReport> &cards)
{
	int rc = kOk;
	for (const auto &c : cards) {
		if (c.error) {
			std::cerr << "npu-smi: card " << c.index << " (" << c.pci_address
				  << "): " << *c.error << "\n";
			rc = kCardError;
		}
	}
	return rc;
}

volatile std::sig_atomic_t g_stop = 0;

// Runs one sample every interval (none: once) until count samples (0:
// forever) or SIGINT/SIGTERM. Ticks are on a fixed schedule from the
// start, so a slow sample does not make the loop drift.
template <typename F> int sample_loop(double interval_s, unsigned count, F sample)
{
	if (interval_s <= 0)
		return sample(0u);
	std::signal(SIGINT, [](int) { g_stop = 1; });
	std::signal(SIGTERM, [](int) { g_stop = 1; });
	const auto period = std::chrono::duration_cast<Clock::duration>(
		std::chrono::duration<double>(interval_s));
	const auto start = Clock::now();
	int rc = kOk;
	for (unsigned i = 0; !g_stop && (count == 0 || i < count); i++) {
		rc = std::max(rc, sample(i));
		std::cout.flush();
		if (count && i + 1 == count)
			break;
		// Sleep in short steps so a signal ends the loop promptly.
		const auto next = start + period * (i + 1);
		while (!g_stop && Clock::now() < next)
			std::this_thread::sleep_for(std::min<Clock::duration>(
				next - Clock::now(), std::chrono::milliseconds(100)));
	}
	return rc;
}

// Samples the selected cards; busy_percent from the previous sample.
class Sampler {
      public:
	Sampler(std::string ids, std::chrono::milliseconds timeout)
	    : ids_(std::move(ids)), timeout_(timeout)
	{
	}
	std::vector<CardReport> sample()
	{
		auto cards = collect_reports(select_cards(enumerate_cards(), ids_), timeout_);
		std::map<std::string, CardReport> now;
		for (auto &c : cards) {
			auto it = prev_.find(c.pci_address);
			if (it != prev_.end())
				compute_busy(c, &it->second);
			now[c.pci_address] = c;
		}
		prev_ = std::move(now);
		return cards;
	}

      private:
	std::string ids_;
	std::chrono::milliseconds timeout_;
	std::map<std::string, CardReport> prev_;
};

// `reset`: PCI function reset through sysfs; the driver recovers the card
// (README "Using the driver") and counts it in reset_count.
int do_reset(const CardRef &card, std::chrono::milliseconds wait)
{
	if (::geteuid() != 0)
		throw ActionError("reset needs root");
	const uint64_t before = read_u64(card.dev / "reset_count");
	const auto deadline = Clock::now() + wait;
	// The write returns once the PCI core has reset the function; bounded
	// like every access, in case the card does not come back from it.
	Deferred<bool> write([dev = card.dev] {
		write_attr(dev / "reset", "1");
		return true;
	});
	if (!write.get_until(deadline))
		throw ActionError(fmt::format("card {}: the PCI reset did not return within {} ms",
					      card.index, wait.count()));
	for (;;) {
		const auto state = try_read_line(card.dev / "state").value_or("?");
		const auto count = read_u64_opt(card.dev / "reset_count").value_or(before);
		if (state == "lost")
			throw ActionError(fmt::format("card {}: reset failed, the card is lost "
						      "(dmesg says why)",
						      card.index));
		if (count > before && state == "ok") {
			std::cout << fmt::format("card {} ({}): reset, back up (reset_count {})\n",
						 card.index, card.pci_address, count);
			return kOk;
		}
		if (Clock::now() >= deadline)
			throw ActionError(fmt::format("card {}: not back within {} ms (state {}, "
						      "reset_count {})",
						      card.index, wait.count(), state, count));
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
}

int do_power_cap(const std::vector<CardRef> &cards, double watts)
{
	if (!(watts > 0) || !std::isfinite(watts))
		throw UsageError("--power-cap must be a positive number of watts");
	for (const auto &c : cards) {
		const auto hw = find_hwmon(c.dev);
		if (hw.empty())
			throw ActionError(fmt::format("card {}: no hwmon (no telemetry)", c.index));
		const uint64_t uw = static_cast<uint64_t>(std::llround(watts * 1e6));
		if (auto max = read_u64_opt(hw / "power1_cap_max"); max && uw > *max)
			throw UsageError(
				fmt::format("card {}: {} W is above the board's limit {} W",
					    c.index, watts, *max / 1e6));
		try {
			write_attr(hw / "power1_cap", std::to_string(uw));
		} catch (const lumen::sys::Error &e) {
			// EACCES for a user, EINVAL for a value the driver refuses.
			throw ActionError(fmt::format("card {}: {}", c.index, e.what()));
		}
		const uint64_t now = read_u64(hw / "power1_cap");
		std::cout << fmt::format("card {} ({}): power cap {:.3f} W\n", c.index,
					 c.pci_address, now / 1e6);
		// The driver rounds to mW; anything else means it did not take.
		if (now / 1000 != (uw + 500) / 1000)
			throw ActionError(
				fmt::format("card {}: power cap reads back {} uW", c.index, now));
	}
	return kOk;
}

int run_exporter(const std::string &listen, const std::string &ids,
		 std::chrono::milliseconds timeout, unsigned max_requests)
{
	serve_metrics(
		listen,
		[&] {
			// Each scrape sees cards as they are now (one may have gone).
			const auto all = enumerate_cards();
			return render_prometheus(
				collect_reports(select_cards(all, ids), timeout, LinkDetail::kFull),
				collect_processes(all, "/proc", nullptr));
		},
		timeout, max_requests);
	return kOk;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"npu-smi: inspect and manage Lumen NPUs (docs/npu-smi.md)"};
	app.set_version_flag("--version", std::string("npu-smi ") + kVersion);
	app.require_subcommand(1);
	app.fallthrough();

	std::string ids;
	int timeout_ms = 2000;
	std::string state_dir = "/run/lumen-fm";
	app.add_option("-i,--id", ids, "Cards: indices or PCI addresses, comma-separated");
	app.add_option("--timeout", timeout_ms, "Milliseconds allowed for each card or query")
		->check(CLI::Range(1, 600000));
	app.add_option("--fm-dir", state_dir, "lumen-fm state directory (its fm.sock)");

	bool json = false, csv = false;
	double loop_s = 0;
	unsigned count = 0;
	auto add_formats = [&](CLI::App *sc) {
		auto *j = sc->add_flag("--json", json, "JSON output (schema_version 1)");
		auto *c =
			sc->add_flag("--csv", csv, "CSV output: a header of JSON keys, then rows");
		j->excludes(c);
	};
	auto add_loop = [&](CLI::App *sc) {
		sc->add_option("-l,--loop", loop_s, "Repeat every SECONDS")
			->check(CLI::Range(0.01, 86400.0));
		sc->add_option("-c,--count", count, "Stop after N samples (0: until interrupted)");
	};

	CLI::App *info = app.add_subcommand("info", "Every card: identity, telemetry, health");
	add_formats(info);
	add_loop(info);

	std::string fields_arg = "index,pci_address,serial,temperature_c,power_w,busy_percent,"
				 "memory_used_bytes,health";
	std::string format_arg;
	bool list_fields = false;
	CLI::App *query = app.add_subcommand("query", "Chosen fields of every card");
	query->add_option("--fields", fields_arg,
			  "Field names (JSON keys), comma-separated, or all");
	query->add_option("--format", format_arg, "csv, json or table (default)");
	query->add_flag("--list-fields", list_fields, "List the field names and exit");
	add_formats(query);
	add_loop(query);

	CLI::App *watch = app.add_subcommand("watch", "query every second until interrupted");
	watch->add_option("--fields", fields_arg, "Field names, comma-separated");
	add_loop(watch);
	add_formats(watch);

	CLI::App *proc = app.add_subcommand("proc", "Processes using each card (DRM fdinfo)");
	add_formats(proc);

	CLI::App *health = app.add_subcommand("health", "Per card OK, WARN or ERROR and why");
	add_formats(health);

	bool errors_only = false;
	CLI::App *link =
		app.add_subcommand("link", "Every optical link port: state, peer, counters");
	add_formats(link);
	link->add_flag("--errors", errors_only, "Only ports with errors or down events");

	bool neighbors = false, matrix = false;
	std::string source = "auto";
	CLI::App *topo = app.add_subcommand("topo", "The supernode: summary, neighbours, hops");
	add_formats(topo);
	topo->add_flag("--neighbors", neighbors, "Adjacency list of every chip");
	topo->add_flag("--matrix", matrix, "Hop matrix (at most 16 chips)");
	topo->add_option("--source", source, "fm, sysfs or auto (fm if running)")
		->check(CLI::IsMember({"auto", "fm", "sysfs"}));

	uint32_t src = 0, dst = 0;
	CLI::App *route = app.add_subcommand("route", "Path from chip SRC to chip DST (lumen-fm)");
	route->add_option("SRC", src, "Source chip id")->required();
	route->add_option("DST", dst, "Destination chip id")->required();
	add_formats(route);

	int wait_s = 60;
	CLI::App *reset =
		app.add_subcommand("reset", "Reset one card and wait until it is back (root)");
	reset->add_option("--wait", wait_s, "Seconds to wait for the card")
		->check(CLI::Range(1, 3600));

	double power_cap = 0;
	CLI::App *set = app.add_subcommand("set", "Change a setting (root)");
	set->add_option("--power-cap", power_cap, "Power limit, watts")->required();

	std::string listen;
	unsigned max_requests = 0;
	bool once = false;
	CLI::App *exporter = app.add_subcommand("exporter", "Prometheus metrics over HTTP");
	auto *listen_opt =
		exporter->add_option("--listen", listen, "ADDR:PORT to serve /metrics on");
	auto *once_opt = exporter->add_flag("--once", once, "Print the exposition once and exit");
	listen_opt->excludes(once_opt);
	exporter->add_option("--max-requests", max_requests, "Exit after N scrapes (0: never)");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		const int rc = app.exit(e);
		return rc == 0 ? kOk : kUsage;
	}
	const std::chrono::milliseconds timeout(timeout_ms);

	try {
		const Format fmt_choice = json	? Format::kJson
					  : csv ? Format::kCsv
						: Format::kTable;
		if (count && loop_s <= 0 && !watch->parsed())
			throw UsageError("--count needs --loop SECONDS");
		if (query->parsed() || watch->parsed()) {
			if (list_fields) {
				std::cout << render_field_list();
				return kOk;
			}
			Format f = fmt_choice;
			if (!format_arg.empty()) {
				if (json || csv)
					throw UsageError(
						"--format and --json/--csv exclude each other");
				f = parse_format(format_arg);
			}
			const auto fields = parse_fields(fields_arg);
			if (watch->parsed() && loop_s <= 0)
				loop_s = 1;
			Sampler sampler(ids, timeout);
			return sample_loop(loop_s, count, [&](unsigned i) {
				const auto cards = sampler.sample();
				std::string out = render_fields(cards, fields, f);
				if (i > 0 && f == Format::kCsv) // the header once
					out.erase(0, out.find('\n') + 1);
				if (loop_s > 0 && f == Format::kJson) // one document per line
					out = nlohmann::ordered_json::parse(out).dump(
						      -1, ' ', false,
						      nlohmann::json::error_handler_t::replace) +
					      "\n";
				std::cout << out;
				return card_status(cards);
			});
		}
		if (info->parsed()) {
			Sampler sampler(ids, timeout);
			return sample_loop(loop_s, count, [&](unsigned i) {
				const auto cards = sampler.sample();
				if (fmt_choice == Format::kJson)
					std::cout
						<< (loop_s > 0
							    ? nlohmann::ordered_json::parse(
								      render_info_json(cards))
									      .dump(-1, ' ', false,
										    nlohmann::json::error_handler_t::
											    replace) +
								      "\n"
							    : render_info_json(cards));
				else if (fmt_choice == Format::kCsv) {
					std::string out = render_info_csv(cards);
					if (i > 0)
						out.erase(0, out.find('\n') + 1);
					std::cout << out;
				} else {
					std::cout << render_info_table(cards);
				}
				return card_status(cards);
			});
		}
		const auto all = enumerate_cards();
		const auto cards = select_cards(all, ids);
		if (proc->parsed()) {
			unsigned hidden = 0;
			const auto procs = collect_processes(all, "/proc", &hidden);
			std::vector<ProcessUse> shown;
			for (const auto &p : procs)
				if (std::any_of(cards.begin(), cards.end(), [&](const CardRef &c) {
					    return c.index == p.card;
				    }))
					shown.push_back(p);
			std::cout << (json  ? render_proc_json(shown, hidden)
				      : csv ? render_proc_csv(shown)
					    : render_proc_table(shown, hidden));
			return kOk;
		}
		if (health->parsed()) {
			const auto reports = collect_reports(cards, timeout);
			std::cout << (json  ? render_health_json(reports)
				      : csv ? render_health_csv(reports)
					    : render_health_table(reports));
			for (const auto &c : reports)
				if (c.health == Health::kError)
					return kUnhealthy;
			return kOk;
		}
		if (link->parsed()) {
			const auto reports = collect_reports(cards, timeout, LinkDetail::kFull);
			std::vector<CardLinks> links;
			for (const auto &r : reports) {
				links.push_back(r.links);
				if (r.error && !links.back().error)
					links.back().error = r.error;
			}
			std::cout << (json  ? render_link_json(links)
				      : csv ? render_link_csv(links, errors_only)
					    : render_link_table(links, errors_only));
			for (const auto &c : links)
				if (c.error) {
					std::cerr << "npu-smi: card " << c.index << " ("
						  << c.pci_address << "): " << *c.error << "\n";
					return kCardError;
				}
			return kOk;
		}
		if (topo->parsed()) {
			Topology t;
			bool from_fm = false;
			if (source != "sysfs") {
				try {
					t = topology_from_fm(
						fm_request(state_dir, "status", timeout),
						fm_request(state_dir, "topology", timeout));
					from_fm = true;
				} catch (const FmError &e) {
					// auto: no manager is normal on a host without a fabric.
					if (source == "fm" || e.code != "no_manager")
						throw ActionError(e.what());
				}
			}
			if (!from_fm)
				t = topology_from_cards(collect_reports(all, timeout));
			if (matrix && t.chips.size() > kMatrixMaxChips)
				throw UsageError(
					fmt::format("--matrix is for at most {} chips; this "
						    "supernode has {} (use --neighbors)",
						    kMatrixMaxChips, t.chips.size()));
			std::cout
				<< (json ? topo_json(t, neighbors, matrix)
							    .dump(2, ' ', false,
								  nlohmann::json::error_handler_t::
									  replace) +
						    "\n"
				    : csv ? render_topo_csv(t, neighbors)
					  : render_topo_text(t, neighbors, matrix));
			return kOk;
		}
		if (route->parsed()) {
			nlohmann::json r;
			try {
				r = fm_request(state_dir, fmt::format("route {} {}", src, dst),
					       timeout);
			} catch (const FmError &e) {
				throw ActionError(e.what());
			}
			if (json) {
				r["schema_version"] = kSchemaVersion;
				std::cout << r.dump(2, ' ', false,
						    nlohmann::json::error_handler_t::replace)
					  << "\n";
			} else {
				std::cout << (csv ? render_route_csv(r) : render_route_text(r));
			}
			return r.value("outcome", std::string()) == "arrived" ? kOk : kFailure;
		}
		if (reset->parsed()) {
			if (ids.empty() || cards.size() != 1)
				throw UsageError("reset needs exactly one card: -i N");
			return do_reset(cards[0], std::chrono::seconds(wait_s));
		}
		if (set->parsed())
			return do_power_cap(cards, power_cap);
		if (exporter->parsed()) {
			if (once) {
				const auto reports =
					collect_reports(cards, timeout, LinkDetail::kFull);
				std::cout << render_prometheus(
					reports, collect_processes(all, "/proc", nullptr));
				return card_status(reports);
			}
			if (listen.empty())
				throw UsageError("exporter needs --listen ADDR:PORT or --once");
			return run_exporter(listen, ids, timeout, max_requests);
		}
	} catch (const UsageError &e) {
		std::cerr << "npu-smi: " << e.what() << "\n";
		return kUsage;
	} catch (const std::invalid_argument &e) {
		std::cerr << "npu-smi: " << e.what() << "\n";
		return kUsage;
	} catch (const ActionError &e) {
		std::cerr << "npu-smi: " << e.what() << "\n";
		return kFailure;
	} catch (const lumen::sys::Error &e) {
		std::cerr << "npu-smi: " << e.what() << "\n";
		return kSystemError;
	} catch (const std::exception &e) {
		std::cerr << "npu-smi: " << e.what() << "\n";
		return kSystemError;
	}
	return kOk;
}
