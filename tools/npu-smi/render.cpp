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
	std::string out =
		fmt::format("{:<4} {:<13} {:<14} {:>4}  {:<9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>5} "
			    "{:>6} {:<6}\n",
			    "NPU", "PCI Address", "Serial", "Chip", "Firmware", "Memory", "Used",
			    "Temp", "Power", "Core MHz", "Busy", "Resets", "Health");
	for (const auto &c : cards) {
		if (c.error) {
			out += fmt::format("{:<4} {:<13} error: {}\n", c.index, c.pci_address,
					   *c.error);
			continue;
		}
		out += fmt::format(
			"{:<4} {:<13} {:<14} {:>4}  {:<9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>5} "
			"{:>6} "
			"{:<6}\n",
			c.index, c.pci_address, c.serial, c.chip_id, c.firmware_version,
			mem_string(c.memory_bytes),
			c.memory_used_bytes ? fmt::format("{} MiB", *c.memory_used_bytes >> 20)
					    : std::string("N/A"),
			opt_fixed(c.temperature_c, "C"), opt_fixed(c.power_w, "W"),
			c.clk_core_mhz ? std::to_string(*c.clk_core_mhz) : std::string("N/A"),
			c.busy_percent ? fmt::format("{:.0f}%", *c.busy_percent)
				       : std::string("N/A"),
			c.reset_count, health_name(c.health));
	}
	return out;
}

std::string render_info_json(const std::vector<CardReport> &cards)
{
	return render_fields(cards, parse_fields("all"), Format::kJson);
}

std::string render_info_csv(const std::vector<CardReport> &cards)
{
	return render_fields(cards, parse_fields("all"), Format::kCsv);
}

std::string render_health_table(const std::vector<CardReport> &cards)
{
	if (cards.empty())
		return "No Lumen NPU found.\n";
	std::string out =
		fmt::format("{:<4} {:<13} {:<6} {}\n", "NPU", "PCI Address", "Health", "Reasons");
	for (const auto &c : cards) {
		std::string why;
		for (const auto &r : c.health_reasons)
			why += (why.empty() ? "" : "; ") + r;
		out += fmt::format("{:<4} {:<13} {:<6} {}\n", c.index, c.pci_address,
				   health_name(c.health), why.empty() ? "-" : why);
	}
	return out;
}

std::string render_health_json(const std::vector<CardReport> &cards)
{
	nlohmann::json arr = nlohmann::json::array();
	for (const auto &c : cards)
		arr.push_back({{"index", c.index},
			       {"pci_address", c.pci_address},
			       {"health", health_name(c.health)},
			       {"reasons", c.health_reasons}});
	nlohmann::json doc = {{"schema_version", kSchemaVersion}, {"devices", arr}};
	return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_health_csv(const std::vector<CardReport> &cards)
{
	return render_fields(cards, parse_fields("index,pci_address,health,health_reasons"),
			     Format::kCsv);
}

namespace {

// Port names of the default 6-port card: the directions of a 3D torus.
std::string port_name(unsigned port)
{
	static const char *const names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};
	return port < 6 ? names[port] : fmt::format("p{}", port);
}

std::string opt_u32(const std::optional<uint32_t> &v)
{
	return v ? std::to_string(*v) : std::string("-");
}

uint64_t counter(const std::vector<Counter> &cs, const char *name)
{
	for (const auto &c : cs)
		if (c.name == name)
			return c.value.value_or(0);
	return 0;
}

bool any_present(const std::vector<Counter> &cs)
{
	for (const auto &c : cs)
		if (c.value)
			return true;
	return false;
}

bool has_errors(const PortReport &p)
{
	return p.crc_errors || p.frame_errors || p.retransmits || p.down_events ||
	       counter(p.engine, "naks_rx") || counter(p.engine, "naks_tx") ||
	       counter(p.engine, "replay_timeouts") || counter(p.engine, "ttl_drops") ||
	       counter(p.engine, "retrains") || counter(p.engine, "seq_errors");
}

// Every chip counter but forwarded packets counts a loss, refusal or repair.
bool chip_has_errors(const CardLinks &c)
{
	for (const auto &k : c.chip)
		if (k.name != "fwd_pkts" && k.value.value_or(0))
			return true;
	return false;
}

std::string cell(const std::optional<uint64_t> &v)
{
	return v ? std::to_string(*v) : std::string("-");
}

nlohmann::json counters_json(const std::vector<Counter> &cs)
{
	nlohmann::json j = nlohmann::json::object();
	for (const auto &c : cs)
		j[c.name] = c.value ? nlohmann::json(*c.value) : nlohmann::json(nullptr);
	return j;
}

// Link-engine counters of every port (only with a driver that has them).
std::string engine_port_table(const std::vector<CardLinks> &cards, bool errors_only)
{
	static const char *const heads[] = {"NAKs rx",	 "NAKs tx",  "ReplayTO", "TTL drop",
					    "Credit st", "Failover", "Retrain",	 "DATA tx",
					    "DATA rx",	 "Seq err"};
	std::string out =
		fmt::format("\nLink engine, per port:\n{:<4} {:>4} {:<5}", "NPU", "Chip", "Port");
	for (const char *h : heads)
		out += fmt::format(" {:>10}", h);
	out += "\n";
	for (const auto &c : cards) {
		if (c.error)
			continue;
		for (const auto &p : c.ports) {
			if (!any_present(p.engine) || (errors_only && !has_errors(p)))
				continue;
			out += fmt::format("{:<4} {:>4} {:<5}", c.index, opt_u32(c.chip_id),
					   port_name(p.port));
			for (const auto &k : p.engine)
				out += fmt::format(" {:>10}", cell(k.value));
			out += "\n";
		}
	}
	return out;
}

// The chips' link-engine counters.
std::string engine_chip_table(const std::vector<CardLinks> &cards, bool errors_only)
{
	static const char *const heads[] = {"Forwarded", "No route", "TTL drop", "Access",
					    "E2E retx",	 "E2E dup",  "MKey",	 "Lane err",
					    "Reroute",	 "E2E TO",   "Bad pkts"};
	std::string out = fmt::format("\nLink engine, per chip:\n{:<4} {:>4}", "NPU", "Chip");
	for (const char *h : heads)
		out += fmt::format(" {:>10}", h);
	out += "\n";
	for (const auto &c : cards) {
		if (c.error || !any_present(c.chip) || (errors_only && !chip_has_errors(c)))
			continue;
		out += fmt::format("{:<4} {:>4}", c.index, opt_u32(c.chip_id));
		for (const auto &k : c.chip)
			out += fmt::format(" {:>10}", cell(k.value));
		out += "\n";
	}
	return out;
}

} // namespace

std::string render_link_table(const std::vector<CardLinks> &cards, bool errors_only)
{
	if (cards.empty())
		return "No Lumen NPU found.\n";
	std::string out =
		fmt::format("{:<4} {:>4} {:<5} {:<9} {:>5} {:>9} {:>5} {:>12} {:>12} {:>8} "
			    "{:>8} {:>8}\n",
			    "NPU", "Chip", "Port", "State", "Light", "Peer", "Gen", "TX frames",
			    "RX frames", "CRC err", "Replays", "Downs");
	for (const auto &c : cards) {
		if (c.error) {
			out += fmt::format("{:<4} error: {}\n", c.index, *c.error);
			continue;
		}
		for (const auto &p : c.ports) {
			if (errors_only && !has_errors(p))
				continue;
			const std::string peer =
				p.peer_chip ? fmt::format("{}.{}", *p.peer_chip,
							  port_name(p.peer_port.value_or(0)))
					    : std::string("-");
			out += fmt::format(
				"{:<4} {:>4} {:<5} {:<9} {:>5} {:>9} {:>5} {:>12} {:>12} "
				"{:>8} {:>8} {:>8}\n",
				c.index, opt_u32(c.chip_id), port_name(p.port), p.state,
				p.light ? "on" : "off", peer, p.generation, p.tx_frames,
				p.rx_frames, p.crc_errors, p.retransmits, p.down_events);
		}
	}
	// Older drivers have no link-engine counters: no such sections.
	bool ports = false, chips = false;
	for (const auto &c : cards) {
		chips = chips || any_present(c.chip);
		for (const auto &p : c.ports)
			ports = ports || any_present(p.engine);
	}
	if (ports)
		out += engine_port_table(cards, errors_only);
	if (chips)
		out += engine_chip_table(cards, errors_only);
	return out;
}

std::string render_link_csv(const std::vector<CardLinks> &cards, bool errors_only)
{
	std::string out = "index,pci_address,chip_id,port,name,state,light,enabled,peer_chip,"
			  "peer_port,generation,tx_frames,rx_frames,tx_bytes,rx_bytes,crc_errors,"
			  "frame_errors,retransmits,down_events,error";
	for (const auto &n : kPortEngineCounters)
		out += "," + n;
	out += "\n";
	for (const auto &c : cards) {
		if (c.error) {
			out += fmt::format("{},{},,,,,,,,,,,,,,,,,,{}", c.index, c.pci_address,
					   csv_cell(*c.error));
			out += std::string(kPortEngineCounters.size(), ',') + "\n";
			continue;
		}
		for (const auto &p : c.ports) {
			if (errors_only && !has_errors(p))
				continue;
			out += fmt::format(
				"{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},",
				c.index, c.pci_address, opt_u32(c.chip_id), p.port,
				port_name(p.port), p.state, p.light, p.enabled,
				p.peer_chip ? std::to_string(*p.peer_chip) : "",
				p.peer_port ? std::to_string(*p.peer_port) : "", p.generation,
				p.tx_frames, p.rx_frames, p.tx_bytes, p.rx_bytes, p.crc_errors,
				p.frame_errors, p.retransmits, p.down_events);
			for (const auto &k : p.engine)
				out += "," + (k.value ? std::to_string(*k.value) : std::string());
			out += "\n";
		}
	}
	return out;
}

std::string render_link_json(const std::vector<CardLinks> &cards)
{
	nlohmann::json j;
	j["schema_version"] = 1;
	j["cards"] = nlohmann::json::array();
	for (const auto &c : cards) {
		nlohmann::json card;
		card["index"] = c.index;
		card["pci_address"] = c.pci_address;
		card["chip_id"] = opt_json(c.chip_id);
		card["error"] = opt_json(c.error);
		card["ports"] = nlohmann::json::array();
		for (const auto &p : c.ports) {
			card["ports"].push_back({
				{"port", p.port},
				{"name", port_name(p.port)},
				{"state", p.state},
				{"light", p.light},
				{"enabled", p.enabled},
				{"peer_chip", opt_json(p.peer_chip)},
				{"peer_port", opt_json(p.peer_port)},
				{"generation", p.generation},
				{"tx_frames", p.tx_frames},
				{"rx_frames", p.rx_frames},
				{"tx_bytes", p.tx_bytes},
				{"rx_bytes", p.rx_bytes},
				{"crc_errors", p.crc_errors},
				{"frame_errors", p.frame_errors},
				{"retransmits", p.retransmits},
				{"down_events", p.down_events},
				{"counters", counters_json(p.engine)},
			});
		}
		card["chip_counters"] = counters_json(c.chip);
		j["cards"].push_back(std::move(card));
	}
	return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

} // namespace npusmi
