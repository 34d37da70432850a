// SPDX-License-Identifier: MIT
/*
 * The uAPI header keeps its promises: no implicit padding anywhere (a hole
 * is a compile error here), sizes that 32- and 64-bit callers agree on, and
 * ioctl numbers that encode those sizes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "drm.h"	/* libdrm's copy, which has holes of its own */
#pragma GCC diagnostic error "-Wpadded"
#include <drm/lumen_accel.h>
#pragma GCC diagnostic pop

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct drm_lumen_get_param), 16);
	assert_int_equal(sizeof(struct drm_lumen_query), 24);
	assert_int_equal(offsetof(struct drm_lumen_query, data), 8);
	assert_int_equal(sizeof(struct drm_lumen_device_info), 120);
	assert_int_equal(offsetof(struct drm_lumen_device_info, mem_size), 48);
	assert_int_equal(sizeof(struct drm_lumen_telemetry), 40);
	/* Every struct is a multiple of 8 so arrays and 32-bit callers agree. */
	assert_int_equal(sizeof(struct drm_lumen_device_info) % 8, 0);
	assert_int_equal(sizeof(struct drm_lumen_telemetry) % 8, 0);
	/* User-mode queues (1.4); the record is what the device writes. */
	assert_int_equal(sizeof(struct drm_lumen_uq_create), 48);
	assert_int_equal(sizeof(struct drm_lumen_uq_destroy), 8);
	assert_int_equal(sizeof(struct drm_lumen_uq_wait), 40);
	assert_int_equal(sizeof(struct drm_lumen_uq_fence), 32);
	assert_int_equal(sizeof(struct drm_lumen_uq_cpl), 16);
	assert_int_equal(offsetof(struct drm_lumen_uq_cpl, status), 8);
}

static void test_ioctl_numbers(void **state)
{
	(void)state;
	assert_int_equal(_IOC_NR(DRM_IOCTL_LUMEN_GET_PARAM), DRM_COMMAND_BASE + 0);
	assert_int_equal(_IOC_NR(DRM_IOCTL_LUMEN_QUERY), DRM_COMMAND_BASE + 1);
	assert_int_equal(_IOC_SIZE(DRM_IOCTL_LUMEN_GET_PARAM), sizeof(struct drm_lumen_get_param));
	assert_int_equal(_IOC_SIZE(DRM_IOCTL_LUMEN_QUERY), sizeof(struct drm_lumen_query));
	assert_int_equal(_IOC_DIR(DRM_IOCTL_LUMEN_QUERY), _IOC_READ | _IOC_WRITE);
	assert_int_equal(_IOC_NR(DRM_IOCTL_LUMEN_UQ_CREATE), DRM_COMMAND_BASE + 0x0f);
	assert_int_equal(_IOC_NR(DRM_IOCTL_LUMEN_UQ_FENCE), DRM_COMMAND_BASE + 0x12);
	assert_int_equal(_IOC_SIZE(DRM_IOCTL_LUMEN_UQ_WAIT), sizeof(struct drm_lumen_uq_wait));
	assert_int_equal(_IOC_DIR(DRM_IOCTL_LUMEN_UQ_FENCE), _IOC_WRITE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_ioctl_numbers),
	};

	return cmocka_run_group_tests_name("uapi_layout", tests, NULL, NULL);
}
