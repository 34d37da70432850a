// SPDX-License-Identifier: MIT
#include "proc_report.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fields.hpp"
#include "sysfs.hpp"

namespace npusmi {

namespace fs = std::filesystem;

namespace {

// "123", "123 ns", "4 KiB", "2 MiB" -> value in base units.
std::optional<uint64_t> parse_quantity(const std::string &v)
{
	std::istringstream in(v);
	std::string num, unit;
	in >> num >> unit;
	auto n = parse_u64(num);
	if (!n)
		return std::nullopt;
	if (unit == "KiB")
		return *n << 10;
	if (unit == "MiB")
		return *n << 20;
	if (unit == "GiB")
		return *n << 30;
	return n;
}

int state_rank(const std::string &s)
{
	return s == "lost" ? 2 : s == "banned" ? 1 : 0;
}

} // namespace

std::optional<DrmClient> parse_fdinfo(const std::string &text)
{
	DrmClient c;
	bool lumen = false, have_id = false;
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		const size_t colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		const std::string key = line.substr(0, colon);
		std::string val = line.substr(colon + 1);
		val.erase(0, val.find_first_not_of(" \t"));
		val.erase(val.find_last_not_of(" \t") + 1);
		const auto q = parse_quantity(val);
		if (key == "drm-driver")
			lumen = val == "lumen";
		else if (key == "drm-client-id" && q)
			c.client_id = *q, have_id = true;
		else if (key == "drm-pdev")
			c.pdev = val;
		else if (key == "drm-engine-dma" && q)
			c.engine_dma_ns = *q;
		else if (key.rfind("drm-total-", 0) == 0 || key.rfind("drm-shared-", 0) == 0 ||
			 key.rfind("drm-resident-", 0) == 0) {
			if (q)
				c.memory[key.substr(4)] = *q;
		} else if (key == "lumen-context")
			c.context = val;
		else if (key == "lumen-context-state")
			c.context_state = val;
		else if (key == "lumen-faults" && q)
			c.faults = *q;
		else if (key == "lumen-timeouts" && q)
			c.timeouts = *q;
		else if (key == "lumen-queues" && q)
			c.queues = *q;
		else if (key == "lumen-jobs" && q)
			c.jobs = *q;
	}
	if (!lumen || !have_id)
		return std::nullopt;
	return c;
}

std::vector<ProcessUse> collect_processes(const std::vector<CardRef> &cards,
					  const fs::path &proc_root, unsigned *hidden)
{
	std::vector<ProcessUse> out;
	unsigned denied = 0;
	std::error_code ec;
	for (const auto &pe : fs::directory_iterator(proc_root, ec)) {
		const std::string name = pe.path().filename().string();
		const auto pid = parse_u64(name);
		if (!pid)
			continue;
		std::error_code fec;
		fs::directory_iterator fds(pe.path() / "fdinfo", fec);
		if (fec) {
			// Gone since the listing, or another user's process.
			if (fec == std::errc::permission_denied)
				denied++;
			continue;
		}
		// Per card: the files seen (by client id) and their sums.
		std::map<unsigned, std::pair<ProcessUse, std::vector<uint64_t>>> uses;
		for (const auto &fe : fds) {
			const auto text = try_read_file(fe.path());
			// Cheap filter before parsing: most fds are no DRM file.
			if (!text || text->find("drm-driver:") == std::string::npos)
				continue;
			const auto c = parse_fdinfo(*text);
			if (!c)
				continue;
			auto card = std::find_if(cards.begin(), cards.end(), [&](const CardRef &r) {
				return r.pci_address == c->pdev;
			});
			if (card == cards.end())
				continue;
			auto &[use, ids] = uses[card->index];
			if (std::find(ids.begin(), ids.end(), c->client_id) != ids.end())
				continue;
			ids.push_back(c->client_id);
			use.card = card->index;
			use.pci_address = card->pci_address;
			use.files++;
			use.engine_dma_ns += c->engine_dma_ns;
			auto mem = [&](const char *k) {
				auto it = c->memory.find(k);
				return it == c->memory.end() ? 0 : it->second;
			};
			use.device_bytes += mem("total-device");
			use.host_bytes += mem("total-host");
			use.resident_device_bytes += mem("resident-device");
			use.faults += c->faults;
			use.queues += c->queues;
			use.jobs += c->jobs;
			if (use.context_state.empty() ||
			    state_rank(c->context_state) > state_rank(use.context_state))
				use.context_state = c->context_state;
		}
		if (uses.empty())
			continue;
		const std::string comm = try_read_line(pe.path() / "comm").value_or("?");
		for (auto &[card, u] : uses) {
			u.first.pid = static_cast<int>(*pid);
			u.first.command = comm;
			out.push_back(std::move(u.first));
		}
	}
	std::sort(out.begin(), out.end(), [](const ProcessUse &a, const ProcessUse &b) {
		return a.card != b.card ? a.card < b.card : a.pid < b.pid;
	});
	if (hidden)
		*hidden = denied;
	return out;
}

namespace {

nlohmann::json proc_json(const ProcessUse &p)
{
	return {{"pid", p.pid},
		{"command", p.command},
		{"card", p.card},
		{"pci_address", p.pci_address},
		{"files", p.files},
		{"memory_device_bytes", p.device_bytes},
		{"memory_device_resident_bytes", p.resident_device_bytes},
		{"memory_host_bytes", p.host_bytes},
		{"engine_dma_ns", p.engine_dma_ns},
		{"queues", p.queues},
		{"jobs", p.jobs},
		{"faults", p.faults},
		{"context_state", p.context_state}};
}

} // namespace

std::string render_proc_json(const std::vector<ProcessUse> &procs, unsigned hidden)
{
	nlohmann::json arr = nlohmann::json::array();
	for (const auto &p : procs)
		arr.push_back(proc_json(p));
	nlohmann::json doc = {{"schema_version", kSchemaVersion},
			      {"processes", arr},
			      {"processes_not_readable", hidden}};
	return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_proc_csv(const std::vector<ProcessUse> &procs)
{
	static const char *const keys[] = {"pid",
					   "command",
					   "card",
					   "pci_address",
					   "files",
					   "memory_device_bytes",
					   "memory_device_resident_bytes",
					   "memory_host_bytes",
					   "engine_dma_ns",
					   "queues",
					   "jobs",
					   "faults",
					   "context_state"};
	std::string out;
	for (const char *k : keys)
		out += std::string(k == keys[0] ? "" : ",") + k;
	out += "\n";
	for (const auto &p : procs) {
		const auto j = proc_json(p);
		for (const char *k : keys)
			out += std::string(k == keys[0] ? "" : ",") + csv_cell(j.at(k));
		out += "\n";
	}
	return out;
}

std::string render_proc_table(const std::vector<ProcessUse> &procs, unsigned hidden)
{
	std::string out;
	if (procs.empty())
		out = "No process is using a Lumen NPU.\n";
	else
		out = fmt::format(
			"{:<4} {:>8} {:<16} {:>5} {:>12} {:>12} {:>14} {:>6} {:>5} {:<7}\n", "NPU",
			"PID", "Command", "Files", "Device mem", "Host mem", "DMA busy ms",
			"Queues", "Jobs", "Context");
	for (const auto &p : procs)
		out += fmt::format("{:<4} {:>8} {:<16} {:>5} {:>9} KiB {:>8} KiB {:>14.1f} {:>6} "
				   "{:>5} {:<7}\n",
				   p.card, p.pid, p.command, p.files, p.device_bytes >> 10,
				   p.host_bytes >> 10, static_cast<double>(p.engine_dma_ns) / 1e6,
				   p.queues, p.jobs, p.context_state);
	if (hidden)
		out += fmt::format("({} processes of other users not readable; run as root to "
				   "see them)\n",
				   hidden);
	return out;
}

} // namespace npusmi
