// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace npusmi {

// A counter the driver may or may not expose: nullopt when its sysfs file
// is missing (a driver before the link engine, or a card without one).
struct Counter {
	std::string name; // the sysfs file name, also the JSON key
	std::optional<uint64_t> value;
};

// Link-engine counters (CAPS.LINKS, hw-spec 13.3-13.5), in display order:
// per port in links/port<N>/, per chip in links/.
extern const std::vector<std::string> kPortEngineCounters;
extern const std::vector<std::string> kChipCounters;

// One optical link port, as the driver's sysfs shows it
// (/sys/bus/pci/devices/<bdf>/links/port<N>/, kmod/lumen_link.c). Reading
// it needs no device context and no privilege.
struct PortReport {
	unsigned port = 0;
	std::string state;		   // down, training, up, error
	std::optional<uint32_t> peer_chip; // while up
	std::optional<uint32_t> peer_port;
	bool light = false;
	bool enabled = false;
	uint64_t generation = 0;
	uint64_t tx_frames = 0, rx_frames = 0, tx_bytes = 0, rx_bytes = 0;
	uint64_t crc_errors = 0, frame_errors = 0, retransmits = 0, down_events = 0;
	std::vector<Counter> engine; // kPortEngineCounters, each maybe missing
};

struct CardLinks {
	unsigned index = 0;
	std::string pci_address;
	std::optional<uint32_t> chip_id;
	std::vector<PortReport> ports; // empty: the card has no link ports
	std::vector<Counter> chip;     // kChipCounters, each maybe missing
	std::optional<std::string> error;
};

// The links of one card from its PCI device's sysfs directory dev (chip_id,
// links/): fills chip_id, ports and chip counters, or error. Without full,
// only what health and topology use: each port's state, peer, light, CRC
// and frame errors (a third of the files); no chip counters.
void read_card_links(const std::filesystem::path &dev, CardLinks &c, bool full = true);

} // namespace npusmi
