// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "link_report.hpp"

namespace npusmi {

// A lumen card as the PCI driver directory lists it.
struct CardRef {
	unsigned index = 0;	   // position in PCI-address order: the runtime's index
	std::string pci_address;   // 0000:01:00.0
	std::filesystem::path dev; // <sysfs>/bus/pci/devices/<bdf>
};

// Every card bound to lumen under sysfs_root, sorted by PCI address. Throws
// lumen::sys::Error if the driver directory exists but cannot be listed; no
// driver loaded is an empty list.
std::vector<CardRef> enumerate_cards(const std::filesystem::path &sysfs_root = "/sys");

enum class Health { kOk, kWarn, kError };
const char *health_name(Health h);

// What npu-smi knows about one card, all from sysfs and hwmon. Fields the
// driver could not provide are absent rather than zero, and error says why
// the card could not be read at all.
struct CardReport {
	unsigned index = 0;
	std::string pci_address;
	std::string device_node;
	int numa_node = -1;
	std::string driver_version;
	std::string serial;
	uint32_t chip_id = 0;
	uint32_t board_rev = 0;
	std::string firmware_version;
	std::string fw_abi_version;
	std::string firmware_build_id;
	std::string hw_version;
	uint64_t memory_bytes = 0;
	std::optional<uint64_t> memory_used_bytes;
	std::optional<uint32_t> num_queues;
	uint32_t num_link_ports = 0;
	uint32_t links_up = 0;
	std::optional<double> temperature_c;
	std::optional<double> temperature_crit_c;
	std::optional<double> power_w;
	std::optional<double> power_cap_w;
	std::optional<double> power_cap_max_w;
	std::optional<uint32_t> clk_core_mhz;
	std::optional<uint32_t> clk_mem_mhz;
	std::optional<uint64_t> busy_ns;
	std::optional<uint64_t> uptime_ms;
	// Busy share of the last interval: since the previous sample in a loop,
	// else since the last device reset (busy_ns / uptime).
	std::optional<double> busy_percent;
	uint64_t reset_count = 0;
	std::string reset_reason;
	std::string state; // ok, resetting, lost
	std::optional<uint64_t> device_errors;
	Health health = Health::kOk;
	std::vector<std::string> health_reasons;
	CardLinks links;
	std::optional<std::string> error;
};

// How much of the links to read: what health and topology need, or every
// counter (link, exporter).
enum class LinkDetail { kSummary, kFull };

// Reads one card from its PCI device directory (ref.dev): identity,
// telemetry (hwmon/), links (links/), then health. A failure to read sets
// error and health ERROR; nothing throws.
CardReport read_card(const CardRef &ref, LinkDetail links = LinkDetail::kSummary);

// Sets health and health_reasons from the rest of the report.
void evaluate_health(CardReport &r);

// busy_percent from the previous sample of the same card (nullptr: since
// the last reset).
void compute_busy(CardReport &r, const CardReport *prev);

// Reads the given cards (all when ids is empty), each in its own thread: a
// card whose sysfs reads do not finish within timeout becomes an error row
// rather than hanging the tool.
std::vector<CardReport> collect_reports(const std::vector<CardRef> &cards,
					std::chrono::milliseconds timeout,
					LinkDetail links = LinkDetail::kSummary);

// Reads the device's hwmon directory (the one named "lumen"); empty path if none.
std::filesystem::path find_hwmon(const std::filesystem::path &dev);

} // namespace npusmi
