// SPDX-License-Identifier: MIT
#include "chip_admin.hpp"

#include <xf86drm.h>

#include <lumen/lumen_link.h>

#include <cerrno>
#include <cstring>

namespace lumen_route {
namespace {

[[noreturn]] void refuse(const lumen::sys::DrmDevice &dev, const std::string &what, int err)
{
	throw AdminError(dev.devnode() + ": " + what + ": " + errno_text(err), err);
}

} // namespace

std::string errno_text(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return "needs root (CAP_SYS_ADMIN)";
	case EOPNOTSUPP:
		return "card has no link engine";
	default:
		return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
	}
}

std::vector<uint32_t> route_get(const lumen::sys::DrmDevice &dev)
{
	std::vector<uint32_t> words(LUMEN_ROUTE_TABLE_SIZE, 0);
	drm_lumen_route r{};
	r.op = DRM_LUMEN_ROUTE_GET;
	r.first = 0;
	r.count = LUMEN_ROUTE_TABLE_SIZE;
	r.words = reinterpret_cast<uintptr_t>(words.data());
	if (drmIoctl(dev.fd(), DRM_IOCTL_LUMEN_ROUTE, &r))
		refuse(dev, "reading the route table", errno);
	return words;
}

void route_set(const lumen::sys::DrmDevice &dev, const std::vector<uint32_t> &words)
{
	drm_lumen_route r{};
	r.op = DRM_LUMEN_ROUTE_SET;
	r.first = 0;
	r.count = static_cast<uint32_t>(words.size());
	r.words = reinterpret_cast<uintptr_t>(words.data());
	if (drmIoctl(dev.fd(), DRM_IOCTL_LUMEN_ROUTE, &r))
		refuse(dev, "writing the route table", errno);
}

uint32_t port_ctrl_get(const lumen::sys::DrmDevice &dev, uint32_t port)
{
	drm_lumen_port_ctrl pc{};
	pc.port = port;
	pc.set = 0;
	if (drmIoctl(dev.fd(), DRM_IOCTL_LUMEN_PORT_CTRL, &pc))
		refuse(dev, "reading port " + std::to_string(port) + "'s control", errno);
	return pc.ctrl;
}

void port_ctrl_set(const lumen::sys::DrmDevice &dev, uint32_t port, uint32_t ctrl)
{
	drm_lumen_port_ctrl pc{};
	pc.port = port;
	pc.set = 1;
	pc.ctrl = ctrl;
	if (drmIoctl(dev.fd(), DRM_IOCTL_LUMEN_PORT_CTRL, &pc))
		refuse(dev, "setting port " + std::to_string(port) + "'s control", errno);
}

} // namespace lumen_route
