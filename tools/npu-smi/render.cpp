// SPDX-License-Identifier: MIT
#include "render.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace npusmi {
namespace {

std::string opt_fixed(const std::optional<double> &v, const char *unit)
{
	return v ? fmt::format("{:.1f} {}", *v, unit) : std::string("N/A");
}

std::string mem_string(uint64_t bytes)
{
	if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
		return fmt::format("{} GiB", bytes >> 30);
	return fmt::format("{} MiB", bytes >> 20);
}

template <typename T> nlohmann::json opt_json(const std::optional<T> &v)
{
	return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

} // namespace

std::string render_info_table(const std::vector<CardReport> &cards)
{
	if (cards.empty())
		return "No Lumen NPU found.\n";
	std::string out = fmt::format("{:<4} {:<13} {:<14} {:>4}  {:<9} {:>8} {:>8} {:>8}\n", "NPU",
				      "PCI Address", "Serial", "Chip", "Firmware", "Memory",
				      "Temp", "Power");
	for (const auto &c : cards) {
		if (c.error) {
			out += fmt::format("{:<4} {:<13} error: {}\n", c.index, c.pci_address,
					   *c.error);
			continue;
		}
		out += fmt::format("{:<4} {:<13} {:<14} {:>4}  {:<9} {:>8} {:>8} {:>8}\n", c.index,
				   c.pci_address, c.serial, c.chip_id, c.firmware_version,
				   mem_string(c.memory_bytes), opt_fixed(c.temperature_c, "C"),
				   opt_fixed(c.power_w, "W"));
	}
	return out;
}

std::string render_info_json(const std::vector<CardReport> &cards)
{
	nlohmann::json devices = nlohmann::json::array();
	for (const auto &c : cards) {
		nlohmann::json d = {
			{"index", c.index},
			{"pci_address", c.pci_address},
			{"device_node", c.device_node},
			{"numa_node", c.numa_node},
		};
		if (c.error) {
			d["error"] = *c.error;
		} else {
			d["serial"] = c.serial;
			d["chip_id"] = c.chip_id;
			d["driver_version"] = c.driver_version;
			d["firmware_version"] = c.firmware_version;
			d["firmware_build_id"] = c.firmware_build_id;
			d["hw_version"] = c.hw_version;
			d["memory_total_bytes"] = c.memory_bytes;
			d["num_queues"] = c.num_queues;
			d["num_link_ports"] = c.num_link_ports;
			d["temperature_c"] = opt_json(c.temperature_c);
			d["temperature_crit_c"] = opt_json(c.temperature_crit_c);
			d["power_w"] = opt_json(c.power_w);
			d["power_cap_w"] = opt_json(c.power_cap_w);
		}
		devices.push_back(std::move(d));
	}
	nlohmann::json doc = {{"schema_version", kJsonSchemaVersion}, {"devices", devices}};
	return doc.dump(2) + "\n";
}

} // namespace npusmi
