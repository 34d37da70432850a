// SPDX-License-Identifier: MIT
// The driver's route and port administration (uAPI 1.2): DRM_IOCTL_LUMEN_ROUTE
// GET/SET and DRM_IOCTL_LUMEN_PORT_CTRL, with errors a sysadmin can act on.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sys/drm_device.hpp"

namespace lumen_route {

// A refused admin ioctl: the message names the card and the reason
// (EPERM: "needs root (CAP_SYS_ADMIN)", EOPNOTSUPP: "card has no link
// engine"); err is the errno.
class AdminError : public std::runtime_error {
      public:
	AdminError(const std::string &what, int err) : std::runtime_error(what), err_(err) {}
	int err() const noexcept { return err_; }

      private:
	int err_;
};

// What an errno means here.
std::string errno_text(int err);

// The chip's whole table (LUMEN_ROUTE_TABLE_SIZE words).
std::vector<uint32_t> route_get(const lumen::sys::DrmDevice &dev);
// Replace the whole table; the driver checks every word before writing.
void route_set(const lumen::sys::DrmDevice &dev, const std::vector<uint32_t> &words);
// A port's DRM_LUMEN_PORT_* control bits.
uint32_t port_ctrl_get(const lumen::sys::DrmDevice &dev, uint32_t port);
void port_ctrl_set(const lumen::sys::DrmDevice &dev, uint32_t port, uint32_t ctrl);

} // namespace lumen_route
