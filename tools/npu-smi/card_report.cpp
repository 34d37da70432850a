// SPDX-License-Identifier: MIT
#include "card_report.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "sys/error.hpp"
#include "sysfs.hpp"
#include "timeout.hpp"

namespace npusmi {

namespace fs = std::filesystem;

const char *health_name(Health h)
{
	switch (h) {
	case Health::kOk:
		return "OK";
	case Health::kWarn:
		return "WARN";
	case Health::kError:
		return "ERROR";
	}
	return "ERROR";
}

std::vector<CardRef> enumerate_cards(const fs::path &sysfs_root)
{
	const fs::path drv = sysfs_root / "bus/pci/drivers/lumen";
	std::vector<CardRef> out;
	std::error_code ec;
	if (!fs::exists(drv, ec))
		return out;
	fs::directory_iterator it(drv, ec);
	if (ec)
		throw lumen::sys::Error(drv.string() + ": " + ec.message(), ec.value());
	// The driver directory links each bound device by its PCI address.
	for (const auto &e : it) {
		const std::string name = e.path().filename().string();
		if (name.find(':') == std::string::npos || name.find('.') == std::string::npos)
			continue;
		out.push_back({0, name, sysfs_root / "bus/pci/devices" / name});
	}
	std::sort(out.begin(), out.end(),
		  [](const CardRef &a, const CardRef &b) { return a.pci_address < b.pci_address; });
	for (size_t i = 0; i < out.size(); i++)
		out[i].index = static_cast<unsigned>(i);
	return out;
}

fs::path find_hwmon(const fs::path &dev)
{
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(dev / "hwmon", ec)) {
		if (try_read_line(e.path() / "name").value_or("") == "lumen")
			return e.path();
	}
	return {};
}

namespace {

std::string device_node(const fs::path &dev)
{
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(dev / "accel", ec))
		return "/dev/accel/" + e.path().filename().string();
	return {};
}

std::optional<double> scaled(const fs::path &p, double div)
{
	const auto v = read_u64_opt(p);
	return v ? std::optional<double>(static_cast<double>(*v) / div) : std::nullopt;
}

void read_sysfs(const CardRef &ref, CardReport &r)
{
	const fs::path &d = ref.dev;
	r.device_node = device_node(d);
	if (auto numa = try_read_line(d / "numa_node"))
		r.numa_node = std::atoi(numa->c_str());
	r.serial = read_line(d / "serial");
	r.chip_id = static_cast<uint32_t>(read_u64(d / "chip_id"));
	r.board_rev = static_cast<uint32_t>(read_u64(d / "board_rev"));
	r.hw_version = read_line(d / "hw_version");
	r.firmware_version = read_line(d / "fw_version");
	r.fw_abi_version = read_line(d / "fw_abi_version");
	r.firmware_build_id = read_line(d / "fw_build_id");
	r.memory_bytes = read_u64(d / "mem_size");
	r.reset_count = read_u64(d / "reset_count");
	r.reset_reason = read_line(d / "reset_reason");
	r.state = read_line(d / "state");
	// Attributes newer drivers add (docs/npu-smi.md lists which).
	r.driver_version = try_read_line(d / "driver_version").value_or("");
	r.memory_used_bytes = read_u64_opt(d / "mem_used");
	if (auto q = read_u64_opt(d / "num_queues"))
		r.num_queues = static_cast<uint32_t>(*q);
	r.device_errors = read_u64_opt(d / "device_errors");
	if (auto c = read_u64_opt(d / "clk_core_mhz"))
		r.clk_core_mhz = static_cast<uint32_t>(*c);
	if (auto c = read_u64_opt(d / "clk_mem_mhz"))
		r.clk_mem_mhz = static_cast<uint32_t>(*c);
	r.busy_ns = read_u64_opt(d / "busy_ns");
	r.uptime_ms = read_u64_opt(d / "uptime_ms");

	const fs::path hw = find_hwmon(d);
	if (!hw.empty()) {
		r.temperature_c = scaled(hw / "temp1_input", 1e3);
		r.temperature_crit_c = scaled(hw / "temp1_crit", 1e3);
		r.power_w = scaled(hw / "power1_input", 1e6);
		r.power_cap_w = scaled(hw / "power1_cap", 1e6);
		r.power_cap_max_w = scaled(hw / "power1_cap_max", 1e6);
	}
}

} // namespace

CardReport read_card(const CardRef &ref, LinkDetail links)
{
	CardReport r;
	r.index = ref.index;
	r.pci_address = ref.pci_address;
	r.links.index = ref.index;
	r.links.pci_address = ref.pci_address;
	try {
		read_sysfs(ref, r);
		read_card_links(ref.dev, r.links, links == LinkDetail::kFull);
		r.num_link_ports = static_cast<uint32_t>(r.links.ports.size());
		for (const auto &p : r.links.ports)
			r.links_up += p.state == "up";
	} catch (const lumen::sys::Error &e) {
		r.error = e.what();
	}
	compute_busy(r, nullptr);
	evaluate_health(r);
	return r;
}

void compute_busy(CardReport &r, const CardReport *prev)
{
	r.busy_percent.reset();
	if (!r.busy_ns || !r.uptime_ms)
		return;
	double dbusy = static_cast<double>(*r.busy_ns);
	double dt_ns = static_cast<double>(*r.uptime_ms) * 1e6;
	// A reset between samples restarts both counters: use since-reset then.
	if (prev && prev->busy_ns && prev->uptime_ms && *prev->uptime_ms <= *r.uptime_ms &&
	    *prev->busy_ns <= *r.busy_ns) {
		dbusy -= static_cast<double>(*prev->busy_ns);
		dt_ns -= static_cast<double>(*prev->uptime_ms) * 1e6;
	}
	if (dt_ns <= 0)
		return;
	r.busy_percent = std::min(100.0, 100.0 * dbusy / dt_ns);
}

void evaluate_health(CardReport &r)
{
	r.health = Health::kOk;
	r.health_reasons.clear();
	auto flag = [&r](Health h, std::string why) {
		r.health = std::max(r.health, h);
		r.health_reasons.push_back(std::move(why));
	};
	if (r.error) {
		flag(Health::kError, "unreadable: " + *r.error);
		return;
	}
	if (r.state == "lost")
		flag(Health::kError, "card lost: its last reset failed");
	else if (r.state != "ok")
		flag(Health::kWarn, "card is " + r.state);
	if (r.temperature_c && r.temperature_crit_c) {
		if (*r.temperature_c >= *r.temperature_crit_c)
			flag(Health::kError,
			     fmt::format("temperature {:.1f} C at or above critical {:.1f} C",
					 *r.temperature_c, *r.temperature_crit_c));
		else if (*r.temperature_c >= *r.temperature_crit_c - 10)
			flag(Health::kWarn,
			     fmt::format("temperature {:.1f} C within 10 C of critical",
					 *r.temperature_c));
	}
	// Resets someone asked for (user, FLR) or a resume are no fault of the card.
	static const char *const faults[] = {"halted", "fw_crash", "mbox_timeout", "queue_hang",
					     "pci_error"};
	if (r.reset_count) {
		for (const char *f : faults) {
			if (r.reset_reason.find(f) != std::string::npos) {
				flag(Health::kWarn, fmt::format("{} reset(s), last because of {}",
								r.reset_count, r.reset_reason));
				break;
			}
		}
	}
	if (r.device_errors.value_or(0))
		flag(Health::kWarn, fmt::format("{} device error(s)", *r.device_errors));
	if (r.links.error)
		flag(Health::kWarn, "links unreadable: " + *r.links.error);
	for (const auto &p : r.links.ports) {
		const std::string port = fmt::format("port {}", p.port);
		if (p.state == "error")
			flag(Health::kWarn, port + " in error");
		else if (p.light && p.state != "up")
			flag(Health::kWarn, port + " has light but is " + p.state);
		if (p.crc_errors || p.frame_errors)
			flag(Health::kWarn, fmt::format("{}: {} CRC, {} frame errors", port,
							p.crc_errors, p.frame_errors));
	}
}

std::vector<CardReport> collect_reports(const std::vector<CardRef> &cards,
					std::chrono::milliseconds timeout, LinkDetail links)
{
	std::vector<Deferred<CardReport>> pending;
	pending.reserve(cards.size());
	for (const auto &c : cards)
		pending.emplace_back([c, links] { return read_card(c, links); });
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	std::vector<CardReport> out;
	for (size_t i = 0; i < cards.size(); i++) {
		if (auto r = pending[i].get_until(deadline)) {
			out.push_back(std::move(*r));
			continue;
		}
		CardReport r;
		r.index = cards[i].index;
		r.pci_address = cards[i].pci_address;
		r.links.index = r.index;
		r.links.pci_address = r.pci_address;
		r.error = fmt::format("no answer from sysfs within {} ms", timeout.count());
		evaluate_health(r);
		out.push_back(std::move(r));
	}
	return out;
}

} // namespace npusmi
