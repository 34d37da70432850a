// SPDX-License-Identifier: MIT
#include "card_report.hpp"

#include "sys/device_enum.hpp"
#include "sys/drm_device.hpp"
#include "sys/error.hpp"
#include "sys/version_string.hpp"

namespace npusmi {
namespace {

void fill_from_device(CardReport &r)
{
	lumen::sys::DrmDevice dev(r.device_node);
	const drm_lumen_device_info info = dev.device_info();
	const drm_lumen_telemetry tel = dev.telemetry();

	r.driver_version = dev.driver_version();
	r.serial = info.serial;
	r.chip_id = info.chip_id;
	r.firmware_version = lumen::sys::fw_version_string(info.fw_version);
	r.firmware_build_id = info.fw_build_id;
	r.hw_version = lumen::sys::hw_version_string(info.hw_version);
	r.memory_bytes = info.mem_size;
	r.num_queues = info.num_queues;
	r.num_link_ports = info.num_link_ports;
	r.temperature_c = tel.temp_mc / 1000.0;
	r.temperature_crit_c = tel.temp_crit_mc / 1000.0;
	r.power_w = tel.power_mw / 1000.0;
	r.power_cap_w = tel.power_cap_mw / 1000.0;
}

} // namespace

std::vector<CardReport> collect_reports()
{
	std::vector<CardReport> out;
	const auto nodes = lumen::sys::enumerate_devices();
	for (size_t i = 0; i < nodes.size(); i++) {
		CardReport r;
		r.index = static_cast<unsigned>(i);
		r.pci_address = nodes[i].pci_address;
		r.device_node = nodes[i].devnode;
		r.numa_node = nodes[i].numa_node;
		try {
			fill_from_device(r);
		} catch (const lumen::sys::Error &e) {
			r.error = e.what();
		}
		out.push_back(std::move(r));
	}
	return out;
}

} // namespace npusmi
