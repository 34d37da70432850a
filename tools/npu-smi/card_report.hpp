// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace npusmi {

// What `npu-smi info` knows about one card. Fields the driver could not
// provide are absent rather than zero, and error says why.
struct CardReport {
	unsigned index = 0;
	std::string pci_address;
	std::string device_node;
	int numa_node = -1;
	std::string driver_version;
	std::string serial;
	uint32_t chip_id = 0;
	std::string firmware_version;
	std::string firmware_build_id;
	std::string hw_version;
	uint64_t memory_bytes = 0;
	uint32_t num_queues = 0;
	uint32_t num_link_ports = 0;
	std::optional<double> temperature_c;
	std::optional<double> temperature_crit_c;
	std::optional<double> power_w;
	std::optional<double> power_cap_w;
	std::optional<std::string> error;
};

// Reports for every lumen card, in device-index order. Throws
// lumen::sys::Error if enumeration itself fails; a card that cannot be
// queried yields a report with only its identity and error set.
std::vector<CardReport> collect_reports();

} // namespace npusmi
