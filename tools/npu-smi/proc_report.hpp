// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "card_report.hpp"

namespace npusmi {

// One lumen DRM file as /proc/<pid>/fdinfo/<fd> shows it (keys in
// kmod/lumen_fdinfo.c and Documentation/gpu/drm-usage-stats.rst).
struct DrmClient {
	uint64_t client_id = 0;
	std::string pdev;
	uint64_t engine_dma_ns = 0;
	// drm-{total,shared,resident}-{device,host}, in bytes.
	std::map<std::string, uint64_t> memory;
	std::string context;	   // MMU context id or "none"
	std::string context_state; // ok, banned, lost
	uint64_t faults = 0;
	uint64_t timeouts = 0;
	uint64_t queues = 0;
	uint64_t jobs = 0;
};

// Parses one fdinfo file's text; nullopt unless it is a lumen DRM file.
std::optional<DrmClient> parse_fdinfo(const std::string &text);

// A process's use of one card: its files on that card summed (a file
// reached through several fds counts once).
struct ProcessUse {
	int pid = 0; // as this /proc sees it: the caller's PID namespace
	std::string command;
	unsigned card = 0;
	std::string pci_address;
	unsigned files = 0;
	uint64_t engine_dma_ns = 0;
	uint64_t device_bytes = 0; // drm-total-device
	uint64_t host_bytes = 0;   // drm-total-host
	uint64_t resident_device_bytes = 0;
	uint64_t faults = 0;
	uint64_t queues = 0;
	uint64_t jobs = 0;
	std::string context_state; // worst of the files: lost > banned > ok
};

// Every process using a lumen card in proc_root (a /proc). Processes whose
// fdinfo this user may not read (other users', without root) are skipped
// and counted in *hidden. Sorted by card, then PID.
std::vector<ProcessUse> collect_processes(const std::vector<CardRef> &cards,
					  const std::filesystem::path &proc_root, unsigned *hidden);

std::string render_proc_table(const std::vector<ProcessUse> &procs, unsigned hidden);
std::string render_proc_json(const std::vector<ProcessUse> &procs, unsigned hidden);
std::string render_proc_csv(const std::vector<ProcessUse> &procs);

} // namespace npusmi
