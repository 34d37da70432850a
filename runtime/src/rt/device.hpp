// SPDX-License-Identifier: MIT
// The process-wide device table: cards found by lumen::sys::enumerate_devices
// (npu-smi's order), opened on first use and kept for the process lifetime.
#pragma once

#include <lumen/lumen.h>

#include <drm/lumen_accel.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sys/device_enum.hpp"
#include "sys/drm_device.hpp"

namespace lumen::rt {

class Device {
      public:
	Device(int index, sys::DeviceNode node) : index_(index), node_(std::move(node)) {}

	int index() const noexcept { return index_; }
	const sys::DeviceNode &node() const noexcept { return node_; }
	uintptr_t handle = 0;

	// Opens the card once (drmGetVersion check) and caches its identity.
	// Throws NO_DEVICE / DRIVER_VERSION / SYSTEM naming the node.
	void open();
	const drm_lumen_device_info &info(); // opens if needed
	std::string driver_version();
	// QUERY_LINK now (ports_up changes); NOT_SUPPORTED without a link engine.
	drm_lumen_link_info link_info();

      private:
	int index_;
	sys::DeviceNode node_;
	std::mutex m_;
	std::optional<sys::DrmDevice> probe_;
	drm_lumen_device_info info_{};
};

// Every card, enumerated on the first call.
const std::vector<std::shared_ptr<Device>> &device_table();
std::shared_ptr<Device> device_from_handle(lumen_device_t h);
// This process's card with a link engine whose chip id is chip, or null
// (cards that cannot be opened are none).
std::shared_ptr<Device> device_of_chip(uint32_t chip);
// Opens a new fd of the card (a new device context), mapping errors.
sys::DrmDevice open_drm(const Device &dev);

} // namespace lumen::rt
