// SPDX-License-Identifier: MIT
/* sysfs identity attributes and hwmon sensors agree with the uAPI. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include <drm/lumen_accel.h>

#include "guest_util.h"

static int attr(const char *pci, const char *name, char *buf, size_t len)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", pci, name);
	return gu_read_sysfs(path, buf, len);
}

/* The hwmon directory under a PCI function, or -1. */
static int hwmon_dir(const char *pci, char *buf, size_t len)
{
	char path[300];
	struct dirent *e;
	DIR *d;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/hwmon", pci);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "hwmon", 5)) {
			if ((size_t)snprintf(buf, len, "%s/%.32s", path, e->d_name) >= len)
				break;
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

static long hwmon_value(const char *pci, const char *name)
{
	char dir[300], path[400], buf[32];

	if (hwmon_dir(pci, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (gu_read_sysfs(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static void info_of(const char *pci, struct drm_lumen_device_info *info)
{
	struct drm_lumen_query q = {
		.type = DRM_LUMEN_QUERY_DEVICE_INFO, .size = sizeof(*info), .data = (uintptr_t)info,
	};
	int fd = gu_open_card(pci);

	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, DRM_IOCTL_LUMEN_QUERY, &q), 0);
	close(fd);
}

static void test_identity_attrs(void **state)
{
	char pci[GU_MAX_CARDS][16], buf[64], expect[64];
	int n = gu_list_pci(pci), i;

	(void)state;
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		struct drm_lumen_device_info info;

		info_of(pci[i], &info);
		assert_int_equal(attr(pci[i], "serial", buf, sizeof(buf)), 0);
		assert_string_equal(buf, info.serial);
		assert_int_equal(attr(pci[i], "chip_id", buf, sizeof(buf)), 0);
		assert_int_equal(strtoul(buf, NULL, 0), info.chip_id);
		assert_int_equal(attr(pci[i], "fw_version", buf, sizeof(buf)), 0);
		snprintf(expect, sizeof(expect), "%u.%u.%u", (info.fw_version >> 16) & 0xff,
			 (info.fw_version >> 8) & 0xff, info.fw_version & 0xff);
		assert_string_equal(buf, expect);
		assert_string_equal(buf, "1.0.0");
		assert_int_equal(attr(pci[i], "fw_build_id", buf, sizeof(buf)), 0);
		assert_string_equal(buf, info.fw_build_id);
	}
}

static void test_serials_distinct(void **state)
{
	char pci[GU_MAX_CARDS][16], s[GU_MAX_CARDS][64];
	int n = gu_list_pci(pci), i, j;

	(void)state;
	for (i = 0; i < n; i++)
		assert_int_equal(attr(pci[i], "serial", s[i], sizeof(s[i])), 0);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(s[i], s[j]);
}

static void test_attrs_read_only(void **state)
{
	char pci[GU_MAX_CARDS][16], path[160];

	(void)state;
	assert_true(gu_list_pci(pci) >= 1);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/serial", pci[0]);
	assert_true(gu_write_sysfs(path, "HACKED") < 0);
}

static void test_hwmon(void **state)
{
	char pci[GU_MAX_CARDS][16], dir[300], path[400], name[32];
	int n = gu_list_pci(pci), i;

	(void)state;
	for (i = 0; i < n; i++) {
		long temp = hwmon_value(pci[i], "temp1_input");
		long crit = hwmon_value(pci[i], "temp1_crit");
		long power = hwmon_value(pci[i], "power1_input");

		assert_int_equal(hwmon_dir(pci[i], dir, sizeof(dir)), 0);
		snprintf(path, sizeof(path), "%s/name", dir);
		assert_int_equal(gu_read_sysfs(path, name, sizeof(name)), 0);
		assert_string_equal(name, "lumen");
		/* Millidegrees: an idle card sits near ambient, below critical. */
		assert_true(temp >= 20000 && temp <= 60000);
		assert_true(crit > temp);
		/* Microwatts: idle board power is a few watts, never zero. */
		assert_true(power >= 1000000 && power <= 300000000);
	}
}

static void test_hwmon_matches_telemetry(void **state)
{
	char pci[GU_MAX_CARDS][16];
	struct drm_lumen_telemetry t;
	struct drm_lumen_query q = {
		.type = DRM_LUMEN_QUERY_TELEMETRY, .size = sizeof(t), .data = (uintptr_t)&t,
	};
	long crit;
	int fd;

	(void)state;
	assert_true(gu_list_pci(pci) >= 1);
	fd = gu_open_card(pci[0]);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, DRM_IOCTL_LUMEN_QUERY, &q), 0);
	close(fd);
	crit = hwmon_value(pci[0], "temp1_crit");
	assert_int_equal(crit, (long)t.temp_crit_mc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_attrs),
		cmocka_unit_test(test_serials_distinct),
		cmocka_unit_test(test_attrs_read_only),
		cmocka_unit_test(test_hwmon),
		cmocka_unit_test(test_hwmon_matches_telemetry),
	};

	return cmocka_run_group_tests_name("guest_sysfs", tests, NULL, NULL);
}
