// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace npusmi {

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
};

struct CardLinks {
	unsigned index = 0;
	std::string pci_address;
	std::optional<uint32_t> chip_id;
	std::vector<PortReport> ports; // empty: the card has no link ports
	std::optional<std::string> error;
};

// Link ports of every lumen card, in device-index order. Throws
// lumen::sys::Error if enumeration itself fails.
std::vector<CardLinks> collect_links();

} // namespace npusmi
