// SPDX-License-Identifier: MIT
/* Module unload/reload in a loop and sysfs unbind/bind leave no trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include <drm/lumen_accel.h>

#include "guest_util.h"

#define RELOADS 5

static int all_bound_with_nodes(void)
{
	char pci[GU_MAX_CARDS][16], node[64];
	int n = gu_list_pci(pci), i;

	for (i = 0; i < n; i++)
		if (!gu_is_bound(pci[i]) || gu_accel_node(pci[i], node, sizeof(node)))
			return 0;
	return n > 0;
}

static int query_works(const char *pci)
{
	struct drm_lumen_get_param gp = { .param = DRM_LUMEN_PARAM_FW_VERSION };
	int fd = gu_open_card(pci);
	int ok;

	if (fd < 0)
		return 0;
	ok = ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp) == 0 && gp.value != 0;
	close(fd);
	return ok;
}

static void test_reload_loop(void **state)
{
	char pci[GU_MAX_CARDS][16];
	int i, n = gu_list_pci(pci);

	(void)state;
	gu_log_mark();
	for (i = 0; i < RELOADS; i++) {
		assert_int_equal(gu_system("rmmod lumen"), 0);
		assert_int_equal(access("/sys/module/lumen", F_OK), -1);
		assert_int_equal(gu_system("modprobe lumen"), 0);
		assert_true(all_bound_with_nodes());
		assert_true(query_works(pci[n - 1]));
	}
	assert_true(gu_log_clean());
}

static void test_unbind_bind_each(void **state)
{
	char pci[GU_MAX_CARDS][16];
	int n = gu_list_pci(pci), i, round;

	(void)state;
	gu_log_mark();
	for (round = 0; round < 2; round++) {
		for (i = 0; i < n; i++) {
			assert_int_equal(gu_unbind(pci[i]), 0);
			assert_false(gu_is_bound(pci[i]));
			assert_int_equal(gu_bind(pci[i]), 0);
			assert_true(query_works(pci[i]));
		}
	}
	/* Binding a bound card is refused, not a second probe. */
	assert_true(gu_bind(pci[0]) < 0);
	assert_true(gu_log_clean());
}

static void test_unbind_with_open_file(void **state)
{
	char pci[GU_MAX_CARDS][16];
	struct drm_lumen_get_param gp = { .param = DRM_LUMEN_PARAM_CHIP_ID };
	int fd;

	(void)state;
	assert_true(gu_list_pci(pci) >= 1);
	gu_log_mark();
	fd = gu_open_card(pci[0]);
	assert_true(fd >= 0);
	/* The device goes away under an open file: ioctls fail, nothing oopses. */
	assert_int_equal(gu_unbind(pci[0]), 0);
	assert_int_equal(ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -1);
	assert_int_equal(errno, ENODEV);
	close(fd);
	assert_int_equal(gu_bind(pci[0]), 0);
	assert_true(query_works(pci[0]));
	assert_true(gu_log_clean());
}

static void test_rmmod_refused_while_open(void **state)
{
	char pci[GU_MAX_CARDS][16];
	int fd;

	(void)state;
	assert_true(gu_list_pci(pci) >= 1);
	fd = gu_open_card(pci[0]);
	assert_true(fd >= 0);
	assert_true(gu_system("rmmod lumen 2>/dev/null") != 0);
	close(fd);
	assert_int_equal(gu_system("rmmod lumen"), 0);
	assert_int_equal(gu_system("modprobe lumen"), 0);
	assert_true(all_bound_with_nodes());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_loop),
		cmocka_unit_test(test_unbind_bind_each),
		cmocka_unit_test(test_unbind_with_open_file),
		cmocka_unit_test(test_rmmod_refused_while_open),
	};

	return cmocka_run_group_tests_name("guest_reload", tests, NULL, NULL);
}
