// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace lumen::sys {

// One accel device node bound to the lumen driver, as sysfs describes it.
struct DeviceNode {
	std::string devnode;     // /dev/accel/accelN
	std::string syspath;     // /sys/devices/.../accel/accelN
	std::string pci_address; // domain:bus:dev.fn, e.g. 0000:01:00.0
	int numa_node = -1;      // -1 when the platform does not say
	unsigned minor = 0;      // N of accelN
};

// Every lumen accel device, sorted by PCI address: index i in this list is
// device i for npu-smi and the runtime alike. Throws sys::Error if udev
// cannot be queried; an empty list means no card is bound.
std::vector<DeviceNode> enumerate_devices();

// Read a sysfs attribute of the PCI device behind an accel node, trimmed of
// the trailing newline; empty if the attribute does not exist.
std::string read_pci_attr(const DeviceNode &dev, const std::string &name);

} // namespace lumen::sys
