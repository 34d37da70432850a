// SPDX-License-Identifier: MIT
// C API of a device's place on the fabric: chip id and link summary
// (DRM_LUMEN_QUERY_LINK, uAPI 1.2).
#include <cerrno>

#include "rt/device.hpp"
#include "rt/status.hpp"
#include "sys/error.hpp"

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_device_get_chip_id(lumen_device_t device, uint32_t *chip_id)
{
	return guard(__func__, [&] {
		auto dev = device_from_handle(device);
		require(chip_id, "chip_id");
		// DEVICE_INFO names the chip on every card; QUERY_LINK says the
		// same where there is a link engine.
		*chip_id = dev->info().chip_id;
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_device_get_link_info(lumen_device_t device, lumen_link_info_t *info)
{
	return guard(__func__, [&] {
		auto dev = device_from_handle(device);
		require(info, "info");
		if (!(dev->info().capabilities & DRM_LUMEN_CAP_LINKS))
			fail(LUMEN_ERROR_NOT_SUPPORTED,
			     "device " + std::to_string(dev->index()) +
				     " has no link engine (DRM_LUMEN_CAP_LINKS)");
		drm_lumen_link_info li = dev->link_info();
		lumen_link_info_t out{};
		out.struct_size = sizeof(out);
		out.chip_id = li.chip_id;
		out.num_ports = li.num_ports;
		out.ports_up = li.ports_up;
		out.num_windows = li.num_windows;
		out.max_windows = li.max_file_windows;
		out.route_table_size = li.route_table_size;
		copy_versioned(info, out, "info");
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
