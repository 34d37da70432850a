// SPDX-License-Identifier: MIT
#include "rt/device.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "rt/registry.hpp"
#include "rt/status.hpp"
#include "sys/error.hpp"
#include "sys/version_string.hpp"

namespace lumen::rt {
namespace {

Registry<Device> &devices()
{
	static Registry<Device> r("device");
	return r;
}

} // namespace

sys::DrmDevice open_drm(const Device &dev)
{
	try {
		return sys::DrmDevice(dev.node().devnode);
	} catch (const sys::Error &e) {
		std::string msg = "device " + std::to_string(dev.index()) + " (" +
				  dev.node().pci_address + "): " + e.what();
		if (std::strstr(e.what(), "is not lumen uAPI"))
			fail(LUMEN_ERROR_DRIVER_VERSION, msg);
		if (e.err() == ENOENT || e.err() == ENODEV || e.err() == ENXIO)
			fail(LUMEN_ERROR_NO_DEVICE, msg);
		if (e.err() == EMFILE || e.err() == ENFILE || e.err() == ENOMEM)
			fail(LUMEN_ERROR_OUT_OF_MEMORY, msg);
		fail(LUMEN_ERROR_SYSTEM, msg);
	}
}

void Device::open()
{
	std::lock_guard lk(m_);
	if (probe_)
		return;
	sys::DrmDevice d = open_drm(*this);
	try {
		info_ = d.device_info();
	} catch (const sys::Error &e) {
		fail(LUMEN_ERROR_SYSTEM, e.what());
	}
	probe_.emplace(std::move(d));
}

const drm_lumen_device_info &Device::info()
{
	open();
	return info_;
}

std::string Device::driver_version()
{
	open();
	std::lock_guard lk(m_);
	return probe_->driver_version();
}

drm_lumen_link_info Device::link_info()
{
	open();
	std::lock_guard lk(m_);
	try {
		return probe_->link_info();
	} catch (const sys::Error &e) {
		if (e.err() == EOPNOTSUPP)
			fail(LUMEN_ERROR_NOT_SUPPORTED, e.what());
		if (e.err() == ENODEV)
			fail(LUMEN_ERROR_NO_DEVICE, e.what());
		fail(LUMEN_ERROR_SYSTEM, e.what());
	}
}

const std::vector<std::shared_ptr<Device>> &device_table()
{
	static std::mutex m;
	static std::vector<std::shared_ptr<Device>> table;
	static bool done = false;
	std::lock_guard lk(m);
	if (!done) {
		std::vector<sys::DeviceNode> nodes;
		try {
			nodes = sys::enumerate_devices();
		} catch (const sys::Error &e) {
			fail(LUMEN_ERROR_SYSTEM, std::string("device discovery: ") + e.what());
		}
		std::vector<std::shared_ptr<Device>> t;
		for (size_t i = 0; i < nodes.size(); i++) {
			auto d = std::make_shared<Device>(static_cast<int>(i), std::move(nodes[i]));
			d->handle = devices().add(d);
			t.push_back(std::move(d));
		}
		table = std::move(t);
		done = true;
	}
	return table;
}

std::shared_ptr<Device> device_of_chip(uint32_t chip)
{
	for (const auto &d : device_table()) {
		try {
			const drm_lumen_device_info &info = d->info();
			if ((info.capabilities & DRM_LUMEN_CAP_LINKS) && info.chip_id == chip)
				return d;
		} catch (const Error &) {
		}
	}
	return nullptr;
}

std::shared_ptr<Device> device_from_handle(lumen_device_t h)
{
	device_table();
	return devices().get(h);
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_device_count(int *count)
{
	return guard(__func__, [&] {
		require(count, "count");
		*count = static_cast<int>(device_table().size());
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_device_get(int index, lumen_device_t *device)
{
	return guard(__func__, [&] {
		require(device, "device");
		auto &t = device_table();
		if (index < 0 || static_cast<size_t>(index) >= t.size())
			fail(LUMEN_ERROR_NO_DEVICE, "no device " + std::to_string(index) + " (" +
							    std::to_string(t.size()) +
							    " Lumen devices found)");
		t[index]->open();
		*device = reinterpret_cast<lumen_device_t>(t[index]->handle);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_device_get_props(lumen_device_t device, lumen_device_props_t *props)
{
	return guard(__func__, [&] {
		auto dev = device_from_handle(device);
		require(props, "props");
		const drm_lumen_device_info &info = dev->info();
		lumen_device_props_t p{};
		p.struct_size = sizeof(p);
		p.index = dev->index();
		p.numa_node = dev->node().numa_node;
		std::snprintf(p.pci_address, sizeof(p.pci_address), "%s",
			      dev->node().pci_address.c_str());
		std::snprintf(p.serial, sizeof(p.serial), "%s", info.serial);
		std::snprintf(p.driver_version, sizeof(p.driver_version), "%s",
			      dev->driver_version().c_str());
		std::snprintf(p.firmware_version, sizeof(p.firmware_version), "%s",
			      lumen::sys::fw_version_string(info.fw_version).c_str());
		p.chip_id = info.chip_id;
		p.num_queues = info.num_queues;
		p.num_link_ports = info.num_link_ports;
		p.memory_total = info.mem_size;
		copy_versioned(props, p, "props");
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
