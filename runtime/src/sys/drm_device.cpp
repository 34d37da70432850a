// SPDX-License-Identifier: MIT
#include "sys/drm_device.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xf86drm.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "sys/error.hpp"

namespace lumen::sys {

DrmDevice::DrmDevice(const std::string &devnode) : devnode_(devnode)
{
	fd_ = ::open(devnode.c_str(), O_RDWR | O_CLOEXEC);
	if (fd_ < 0)
		throw Error("cannot open " + devnode + ": " + std::strerror(errno), errno);

	std::unique_ptr<drmVersion, decltype(&drmFreeVersion)> ver(drmGetVersion(fd_),
								   drmFreeVersion);
	if (!ver) {
		int err = errno;
		::close(fd_);
		throw Error(devnode + ": DRM_IOCTL_VERSION failed: " + std::strerror(err), err);
	}
	std::string name(ver->name, ver->name_len);
	if (name != "lumen" || ver->version_major != DRM_LUMEN_UAPI_MAJOR) {
		std::string got = name + " " + std::to_string(ver->version_major);
		::close(fd_);
		throw Error(devnode + ": driver '" + got + "' is not lumen uAPI " +
				    std::to_string(DRM_LUMEN_UAPI_MAJOR),
			    ENODEV);
	}
	driver_version_ = std::to_string(ver->version_major) + "." +
			  std::to_string(ver->version_minor) + "." +
			  std::to_string(ver->version_patchlevel);
}

DrmDevice::~DrmDevice()
{
	if (fd_ >= 0)
		::close(fd_);
}

DrmDevice::DrmDevice(DrmDevice &&other) noexcept
	: fd_(std::exchange(other.fd_, -1)), devnode_(std::move(other.devnode_)),
	  driver_version_(std::move(other.driver_version_))
{
}

DrmDevice &DrmDevice::operator=(DrmDevice &&other) noexcept
{
	if (this != &other) {
		if (fd_ >= 0)
			::close(fd_);
		fd_ = std::exchange(other.fd_, -1);
		devnode_ = std::move(other.devnode_);
		driver_version_ = std::move(other.driver_version_);
	}
	return *this;
}

uint64_t DrmDevice::get_param(uint32_t param) const
{
	drm_lumen_get_param gp{};
	gp.param = param;
	if (drmIoctl(fd_, DRM_IOCTL_LUMEN_GET_PARAM, &gp))
		throw Error(devnode_ + ": GET_PARAM " + std::to_string(param) +
				    " failed: " + std::strerror(errno),
			    errno);
	return gp.value;
}

uint32_t DrmDevice::query(uint32_t type, void *out, uint32_t size) const
{
	drm_lumen_query q{};
	q.type = type;
	q.size = size;
	q.data = reinterpret_cast<uintptr_t>(out);
	if (drmIoctl(fd_, DRM_IOCTL_LUMEN_QUERY, &q))
		throw Error(devnode_ + ": QUERY " + std::to_string(type) +
				    " failed: " + std::strerror(errno),
			    errno);
	return q.size;
}

drm_lumen_device_info DrmDevice::device_info() const
{
	drm_lumen_device_info info{};
	query(DRM_LUMEN_QUERY_DEVICE_INFO, &info, sizeof(info));
	// Guarantee termination whatever the kernel wrote.
	info.serial[sizeof(info.serial) - 1] = '\0';
	info.fw_build_id[sizeof(info.fw_build_id) - 1] = '\0';
	return info;
}

drm_lumen_link_info DrmDevice::link_info() const
{
	drm_lumen_link_info li{};
	drm_lumen_query q{};
	q.type = DRM_LUMEN_QUERY_LINK;
	q.size = sizeof(li);
	q.data = reinterpret_cast<uintptr_t>(&li);
	if (drmIoctl(fd_, DRM_IOCTL_LUMEN_QUERY, &q)) {
		int err = errno;
		// A 1.0/1.1 driver answers an unknown query type with -EINVAL.
		if (err == EINVAL &&
		    (get_param(DRM_LUMEN_PARAM_CAPABILITIES) & DRM_LUMEN_CAP_LINKS) == 0)
			err = EOPNOTSUPP;
		throw Error(devnode_ + ": QUERY_LINK failed: " +
				    (err == EOPNOTSUPP ? std::string("the card has no link engine")
						       : std::strerror(err)),
			    err);
	}
	return li;
}

drm_lumen_telemetry DrmDevice::telemetry() const
{
	drm_lumen_telemetry t{};
	query(DRM_LUMEN_QUERY_TELEMETRY, &t, sizeof(t));
	return t;
}

} // namespace lumen::sys
