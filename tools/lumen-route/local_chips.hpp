// SPDX-License-Identifier: MIT
// The chips of this host: every lumen card, its chip id (DRM_LUMEN_QUERY_LINK)
// and what each of its ports sees in sysfs (/sys/bus/pci/devices/BDF/links/
// portN/{state,peer_chip,peer_port}, kmod/lumen_link.c).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include "sys/drm_device.hpp"

namespace lumen_route {

struct LocalPort {
	unsigned port = 0;
	std::string state; // down, training, up, error
	std::optional<uint32_t> peer_chip, peer_port;
};

struct LocalChip {
	unsigned index = 0; // device index (npu-smi's)
	std::string pci_address;
	std::unique_ptr<lumen::sys::DrmDevice> dev;
	uint32_t chip_id = 0;
	uint32_t num_ports = 0;
	std::vector<LocalPort> ports;
};

// A card that cannot be used: err is its errno (EOPNOTSUPP: no link engine),
// what names the card.
struct CardError {
	std::string what;
	int err;
};

// Every local card with a link engine. Throws lumen::sys::Error when cards
// cannot be enumerated or opened (err = errno), CardError for a card without
// a link engine or unreadable sysfs.
std::vector<LocalChip> local_chips();

// local_chips() for a command: 0 with chips filled, or the exit code
// (kCardError, kSystemError; also for no card at all) with the reason on err.
int load_local_chips(std::vector<LocalChip> &chips, std::ostream &err);

// The link ports' sysfs state of a card, re-read.
std::vector<LocalPort> read_ports(const std::string &pci_address, uint32_t num_ports);

} // namespace lumen_route
