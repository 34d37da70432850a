// SPDX-License-Identifier: MIT
#pragma once

#include <drm/lumen_accel.h>

#include <cstdint>
#include <string>

namespace lumen::sys {

// An open lumen accel node: the file descriptor is the device context.
// Move-only; closes the descriptor when destroyed.
class DrmDevice {
public:
	// Opens devnode and checks with drmGetVersion that the lumen driver with
	// a compatible uAPI major answers. Throws sys::Error naming the node.
	explicit DrmDevice(const std::string &devnode);
	~DrmDevice();
	DrmDevice(DrmDevice &&other) noexcept;
	DrmDevice &operator=(DrmDevice &&other) noexcept;
	DrmDevice(const DrmDevice &) = delete;
	DrmDevice &operator=(const DrmDevice &) = delete;

	int fd() const noexcept { return fd_; }
	const std::string &devnode() const noexcept { return devnode_; }
	// Driver version as "major.minor.patch".
	const std::string &driver_version() const noexcept { return driver_version_; }

	uint64_t get_param(uint32_t param) const;
	drm_lumen_device_info device_info() const;
	drm_lumen_telemetry telemetry() const;
	// DRM_LUMEN_QUERY_LINK (uAPI 1.2, DRM_LUMEN_CAP_LINKS): the chip on the
	// fabric. Throws sys::Error with EOPNOTSUPP without a link engine (also
	// for a driver older than 1.2, which does not know the query).
	drm_lumen_link_info link_info() const;

private:
	// Fills size bytes at out via DRM_IOCTL_LUMEN_QUERY; returns the kernel's size.
	uint32_t query(uint32_t type, void *out, uint32_t size) const;

	int fd_ = -1;
	std::string devnode_;
	std::string driver_version_;
};

} // namespace lumen::sys
