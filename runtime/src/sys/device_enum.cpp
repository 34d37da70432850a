// SPDX-License-Identifier: MIT
#include "sys/device_enum.hpp"

#include <libudev.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

#include "sys/error.hpp"

namespace lumen::sys {
namespace {

struct UdevDeleter {
	void operator()(udev *u) const { udev_unref(u); }
	void operator()(udev_enumerate *e) const { udev_enumerate_unref(e); }
	void operator()(udev_device *d) const { udev_device_unref(d); }
};
template <typename T> using UdevPtr = std::unique_ptr<T, UdevDeleter>;

std::string str_or_empty(const char *s) { return s ? s : ""; }

} // namespace

std::vector<DeviceNode> enumerate_devices()
{
	UdevPtr<udev> ctx(udev_new());
	if (!ctx)
		throw Error("udev_new failed", errno);
	UdevPtr<udev_enumerate> en(udev_enumerate_new(ctx.get()));
	if (!en)
		throw Error("udev_enumerate_new failed", errno);
	int rc = udev_enumerate_add_match_subsystem(en.get(), "accel");
	if (rc == 0)
		rc = udev_enumerate_scan_devices(en.get());
	if (rc < 0)
		throw Error("scanning accel devices in sysfs failed", -rc);

	std::vector<DeviceNode> out;
	udev_list_entry *entry;
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(en.get()))
	{
		UdevPtr<udev_device> dev(
			udev_device_new_from_syspath(ctx.get(), udev_list_entry_get_name(entry)));
		if (!dev)
			continue; // removed while we looked
		// The accel node's parent is the PCI function; only ours count.
		udev_device *pci = udev_device_get_parent_with_subsystem_devtype(dev.get(), "pci",
										  nullptr);
		if (!pci || str_or_empty(udev_device_get_driver(pci)) != "lumen")
			continue;
		const char *devnode = udev_device_get_devnode(dev.get());
		if (!devnode)
			continue;
		DeviceNode n;
		n.devnode = devnode;
		n.syspath = str_or_empty(udev_device_get_syspath(dev.get()));
		n.pci_address = str_or_empty(udev_device_get_sysname(pci));
		const char *numa = udev_device_get_sysattr_value(pci, "numa_node");
		n.numa_node = numa ? std::atoi(numa) : -1;
		const char *num = udev_device_get_sysnum(dev.get());
		n.minor = num ? static_cast<unsigned>(std::strtoul(num, nullptr, 10)) : 0;
		out.push_back(std::move(n));
	}
	std::sort(out.begin(), out.end(), [](const DeviceNode &a, const DeviceNode &b) {
		return a.pci_address < b.pci_address;
	});
	return out;
}

std::string read_pci_attr(const DeviceNode &dev, const std::string &name)
{
	std::ifstream f(dev.syspath + "/device/" + name);
	std::string line;
	if (!f || !std::getline(f, line))
		return {};
	return line;
}

} // namespace lumen::sys
