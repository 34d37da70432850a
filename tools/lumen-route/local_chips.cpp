// SPDX-License-Identifier: MIT
#include "local_chips.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "commands.hpp"
#include "sys/device_enum.hpp"
#include "sys/error.hpp"

namespace lumen_route {
namespace {

std::string read_line(const std::string &path)
{
	std::ifstream in(path);
	std::string line;
	if (!in || !std::getline(in, line))
		throw CardError{path + ": cannot read (does the driver support link ports?)",
				errno ? errno : EIO};
	return line;
}

// "-1" in sysfs: no neighbour (the port is not up).
std::optional<uint32_t> read_peer(const std::string &path)
{
	const std::string s = read_line(path);
	if (s == "-1")
		return std::nullopt;
	try {
		return static_cast<uint32_t>(std::stoul(s));
	} catch (const std::exception &) {
		throw CardError{path + ": not a number: '" + s + "'", EINVAL};
	}
}

} // namespace

std::vector<LocalPort> read_ports(const std::string &pci_address, uint32_t num_ports)
{
	std::vector<LocalPort> ports;
	for (uint32_t p = 0; p < num_ports; p++) {
		const std::string dir =
			"/sys/bus/pci/devices/" + pci_address + "/links/port" + std::to_string(p);
		LocalPort lp;
		lp.port = p;
		lp.state = read_line(dir + "/state");
		lp.peer_chip = read_peer(dir + "/peer_chip");
		lp.peer_port = read_peer(dir + "/peer_port");
		ports.push_back(std::move(lp));
	}
	return ports;
}

std::vector<LocalChip> local_chips()
{
	std::vector<LocalChip> out;
	const auto nodes = lumen::sys::enumerate_devices();
	for (size_t i = 0; i < nodes.size(); i++) {
		LocalChip c;
		c.index = static_cast<unsigned>(i);
		c.pci_address = nodes[i].pci_address;
		c.dev = std::make_unique<lumen::sys::DrmDevice>(nodes[i].devnode);
		const std::string who = "card " + std::to_string(i) + " (" + c.pci_address + ")";
		drm_lumen_link_info li;
		try {
			li = c.dev->link_info();
		} catch (const lumen::sys::Error &e) {
			throw CardError{who + ": " +
						(e.err() == EOPNOTSUPP ? "card has no link engine"
								       : e.what()),
					e.err()};
		}
		c.chip_id = li.chip_id;
		c.num_ports = li.num_ports;
		c.ports = read_ports(c.pci_address, c.num_ports);
		out.push_back(std::move(c));
	}
	return out;
}

int load_local_chips(std::vector<LocalChip> &chips, std::ostream &err)
{
	try {
		chips = local_chips();
	} catch (const CardError &e) {
		err << "lumen-route: " << e.what << "\n";
		return kCardError;
	} catch (const lumen::sys::Error &e) {
		err << "lumen-route: " << e.what() << "\n";
		return kSystemError;
	}
	if (chips.empty()) {
		err << "lumen-route: no Lumen card found on this host\n";
		return kSystemError;
	}
	return 0;
}

} // namespace lumen_route
