// SPDX-License-Identifier: MIT
#include "fields.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace npusmi {
namespace {

using nlohmann::json;

template <typename T> json opt(const std::optional<T> &v)
{
	return v ? json(*v) : json(nullptr);
}

// Fixed precision keeps floats stable in CSV and JSON (no 34.99999999).
json fixed(const std::optional<double> &v, int digits)
{
	if (!v)
		return nullptr;
	const double scale = digits == 1 ? 10.0 : digits == 2 ? 100.0 : 1000.0;
	return std::round(*v * scale) / scale;
}

json reasons(const CardReport &c)
{
	std::string s;
	for (const auto &r : c.health_reasons)
		s += (s.empty() ? "" : "; ") + r;
	return s;
}

// Fields that need a readable card: null on an error row.
template <typename F> std::function<json(const CardReport &)> ok(F f)
{
	return [f](const CardReport &c) { return c.error ? json(nullptr) : json(f(c)); };
}

} // namespace

const std::vector<Field> &card_fields()
{
	static const std::vector<Field> fields = {
		{"index", "card index (PCI-address order, as the runtime)",
		 [](const CardReport &c) { return json(c.index); }},
		{"pci_address", "PCI address",
		 [](const CardReport &c) { return json(c.pci_address); }},
		{"device_node", "accel device node",
		 ok([](const CardReport &c) { return c.device_node; })},
		{"numa_node", "NUMA node, -1 if unknown",
		 ok([](const CardReport &c) { return c.numa_node; })},
		{"serial", "board serial", ok([](const CardReport &c) { return c.serial; })},
		{"chip_id", "chip id in the supernode",
		 ok([](const CardReport &c) { return c.chip_id; })},
		{"board_rev", "board revision",
		 ok([](const CardReport &c) { return c.board_rev; })},
		{"driver_version", "lumen.ko uAPI version",
		 ok([](const CardReport &c) { return c.driver_version; })},
		{"firmware_version", "running firmware",
		 ok([](const CardReport &c) { return c.firmware_version; })},
		{"fw_abi_version", "negotiated firmware ABI",
		 ok([](const CardReport &c) { return c.fw_abi_version; })},
		{"firmware_build_id", "firmware build id",
		 ok([](const CardReport &c) { return c.firmware_build_id; })},
		{"hw_version", "hardware interface version",
		 ok([](const CardReport &c) { return c.hw_version; })},
		{"memory_total_bytes", "device memory, bytes",
		 ok([](const CardReport &c) { return c.memory_bytes; })},
		{"memory_used_bytes", "device memory allocated, bytes",
		 ok([](const CardReport &c) { return opt(c.memory_used_bytes); })},
		{"num_queues", "DMA queues the driver uses",
		 ok([](const CardReport &c) { return opt(c.num_queues); })},
		{"num_link_ports", "optical link ports",
		 ok([](const CardReport &c) { return c.num_link_ports; })},
		{"links_up", "link ports UP", ok([](const CardReport &c) { return c.links_up; })},
		{"temperature_c", "die temperature, C",
		 ok([](const CardReport &c) { return fixed(c.temperature_c, 3); })},
		{"temperature_crit_c", "critical temperature, C",
		 ok([](const CardReport &c) { return fixed(c.temperature_crit_c, 3); })},
		{"power_w", "board power, W",
		 ok([](const CardReport &c) { return fixed(c.power_w, 3); })},
		{"power_cap_w", "power limit, W",
		 ok([](const CardReport &c) { return fixed(c.power_cap_w, 3); })},
		{"power_cap_max_w", "highest power limit accepted, W",
		 ok([](const CardReport &c) { return fixed(c.power_cap_max_w, 3); })},
		{"clk_core_mhz", "core clock, MHz",
		 ok([](const CardReport &c) { return opt(c.clk_core_mhz); })},
		{"clk_mem_mhz", "memory clock, MHz",
		 ok([](const CardReport &c) { return opt(c.clk_mem_mhz); })},
		{"busy_ns", "engine busy time since the last reset, ns",
		 ok([](const CardReport &c) { return opt(c.busy_ns); })},
		{"busy_percent",
		 "engine busy share: since the previous sample with -l, else since the last reset",
		 ok([](const CardReport &c) { return fixed(c.busy_percent, 1); })},
		{"uptime_ms", "time since the last device reset, ms",
		 ok([](const CardReport &c) { return opt(c.uptime_ms); })},
		{"state", "ok, resetting or lost", ok([](const CardReport &c) { return c.state; })},
		{"reset_count", "device resets since the driver bound",
		 ok([](const CardReport &c) { return c.reset_count; })},
		{"reset_reason", "why the card was last reset, or none",
		 ok([](const CardReport &c) { return c.reset_reason; })},
		{"device_errors", "device errors since the driver bound",
		 ok([](const CardReport &c) { return opt(c.device_errors); })},
		{"health", "OK, WARN or ERROR",
		 [](const CardReport &c) { return json(health_name(c.health)); }},
		{"health_reasons", "why health is not OK, '; '-separated", reasons},
		{"error", "why the card could not be read, null if it could",
		 [](const CardReport &c) { return opt(c.error); }},
	};
	return fields;
}

std::vector<const Field *> parse_fields(const std::string &list)
{
	std::vector<const Field *> out;
	size_t pos = 0;
	while (pos <= list.size()) {
		size_t end = list.find(',', pos);
		if (end == std::string::npos)
			end = list.size();
		std::string name = list.substr(pos, end - pos);
		name.erase(0, name.find_first_not_of(" \t"));
		name.erase(name.find_last_not_of(" \t") + 1);
		if (name.empty())
			throw std::invalid_argument("empty field name in '" + list + "'");
		if (name == "all") {
			for (const auto &f : card_fields())
				out.push_back(&f);
		} else {
			const auto &fs = card_fields();
			auto it = std::find_if(fs.begin(), fs.end(),
					       [&](const Field &f) { return name == f.name; });
			if (it == fs.end())
				throw std::invalid_argument("unknown field '" + name +
							    "' (npu-smi query --list-fields)");
			out.push_back(&*it);
		}
		pos = end + 1;
	}
	return out;
}

Format parse_format(const std::string &s)
{
	if (s == "table")
		return Format::kTable;
	if (s == "csv")
		return Format::kCsv;
	if (s == "json")
		return Format::kJson;
	throw std::invalid_argument("unknown format '" + s + "' (csv, json or table)");
}

std::string csv_cell(const json &v)
{
	if (v.is_null())
		return "";
	if (!v.is_string())
		return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
	const std::string s = v.get<std::string>();
	if (s.find_first_of(",\"\r\n") == std::string::npos)
		return s;
	std::string q = "\"";
	for (char c : s)
		q += c == '"' ? std::string("\"\"") : std::string(1, c);
	return q + "\"";
}

std::string render_fields(const std::vector<CardReport> &cards,
			  const std::vector<const Field *> &fields, Format format)
{
	if (format == Format::kJson) {
		nlohmann::ordered_json devices = nlohmann::ordered_json::array();
		for (const auto &c : cards) {
			// Keys in field order: what was asked for, as it was asked.
			nlohmann::ordered_json d = nlohmann::ordered_json::object();
			for (const Field *f : fields)
				d[f->name] = f->get(c);
			devices.push_back(std::move(d));
		}
		nlohmann::ordered_json doc = {{"schema_version", kSchemaVersion},
					      {"devices", devices}};
		return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
	}
	std::vector<std::vector<std::string>> rows;
	rows.emplace_back();
	for (const Field *f : fields)
		rows.back().push_back(f->name);
	for (const auto &c : cards) {
		rows.emplace_back();
		for (const Field *f : fields) {
			const json v = f->get(c);
			rows.back().push_back(
				format == Format::kCsv ? csv_cell(v)
				: v.is_null()	       ? std::string("N/A")
				: v.is_string()	       ? v.get<std::string>()
						       : v.dump(-1, ' ', false,
								nlohmann::json::error_handler_t::replace));
		}
	}
	std::string out;
	if (format == Format::kCsv) {
		for (const auto &r : rows) {
			for (size_t i = 0; i < r.size(); i++)
				out += (i ? "," : "") + r[i];
			out += "\n";
		}
		return out;
	}
	std::vector<size_t> width(fields.size(), 0);
	for (const auto &r : rows)
		for (size_t i = 0; i < r.size(); i++)
			width[i] = std::max(width[i], r[i].size());
	for (const auto &r : rows) {
		std::string line;
		for (size_t i = 0; i < r.size(); i++)
			line += fmt::format("{:<{}}", r[i], i + 1 < r.size() ? width[i] + 2 : 0);
		out += line + "\n";
	}
	return out;
}

std::string render_field_list()
{
	std::string out;
	for (const auto &f : card_fields())
		out += fmt::format("{:<20} {}\n", f.name, f.help);
	return out;
}

} // namespace npusmi
