// SPDX-License-Identifier: MIT
/*
 * A corrupt firmware image fails the probe of the card it is tried on, with
 * a log line naming the problem; the module stays loaded, the other cards
 * keep working, and the card binds again once the image is good.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_util.h"

struct corruption {
	const char *kind;	/* lumen-mkfw --corrupt KIND */
	const char *log;	/* what the kernel log must name */
};

static const struct corruption cases[] = {
	{ "magic", "bad magic" },
	{ "header-crc", "checksum mismatch" },
	{ "payload-crc", "checksum mismatch" },
	{ "abi", "incompatible ABI version" },
	{ "size", "bad size" },
	{ "flags", "reserved field set" },
	{ "truncate", "bad size" },
};

static int setup(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (gu_system("lumen-mkfw --corrupt %s --input " GU_FW_DIR "/lumen-n1.fw "
			      "--output " GU_FW_DIR "/bad-%s.fw", cases[i].kind, cases[i].kind))
			return -1;
	}
	return 0;
}

/* Before and after each test: good image configured, every card bound. */
static int restore(void **state)
{
	char pci[GU_MAX_CARDS][16];
	int n = gu_list_pci(pci), i;

	(void)state;
	/* Leave the guest as we found it whatever failed. */
	gu_set_firmware(GU_FW_DEFAULT);
	for (i = 0; i < n; i++)
		if (!gu_is_bound(pci[i]))
			gu_bind(pci[i]);
	return 0;
}

static void test_corrupt_images_fail_probe(void **state)
{
	char pci[GU_MAX_CARDS][16], name[64];
	int n = gu_list_pci(pci), i;
	size_t k;

	(void)state;
	assert_true(n >= 2);
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		gu_log_mark();
		assert_int_equal(gu_unbind(pci[0]), 0);
		snprintf(name, sizeof(name), "lumen/bad-%s.fw", cases[k].kind);
		assert_int_equal(gu_set_firmware(name), 0);
		/* The bind write reports the failed probe. */
		assert_true(gu_bind(pci[0]) < 0);
		assert_false(gu_is_bound(pci[0]));
		if (!gu_log_contains(cases[k].log)) {
			gu_system("dmesg | tail -5");
			fail_msg("log does not name '%s' for corruption %s", cases[k].log,
				 cases[k].kind);
		}
		/* The other cards never noticed. */
		for (i = 1; i < n; i++) {
			int fd = gu_open_card(pci[i]);

			assert_true(fd >= 0);
			close(fd);
		}
		assert_int_equal(gu_set_firmware(GU_FW_DEFAULT), 0);
		assert_int_equal(gu_bind(pci[0]), 0);
		assert_true(gu_is_bound(pci[0]));
		assert_true(gu_log_clean());
	}
}

static void test_missing_image_fails_probe(void **state)
{
	char pci[GU_MAX_CARDS][16];

	(void)state;
	assert_true(gu_list_pci(pci) >= 1);
	gu_log_mark();
	assert_int_equal(gu_unbind(pci[0]), 0);
	assert_int_equal(gu_set_firmware("lumen/does-not-exist.fw"), 0);
	assert_true(gu_bind(pci[0]) < 0);
	assert_false(gu_is_bound(pci[0]));
	assert_true(gu_log_contains("does-not-exist.fw"));
	assert_int_equal(gu_set_firmware(GU_FW_DEFAULT), 0);
	assert_int_equal(gu_bind(pci[0]), 0);
	assert_true(gu_log_clean());
}

static void test_module_unloads_after_failed_probe(void **state)
{
	char pci[GU_MAX_CARDS][16];
	int n = gu_list_pci(pci), i;

	(void)state;
	gu_log_mark();
	assert_int_equal(gu_unbind(pci[0]), 0);
	assert_int_equal(gu_set_firmware("lumen/bad-payload-crc.fw"), 0);
	assert_true(gu_bind(pci[0]) < 0);
	/* Nothing the failed probe allocated holds a module reference. */
	assert_int_equal(gu_system("rmmod lumen"), 0);
	assert_int_equal(gu_system("modprobe lumen"), 0);
	for (i = 0; i < n; i++)
		assert_true(gu_is_bound(pci[i]));
	assert_true(gu_log_clean());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_corrupt_images_fail_probe, restore, restore),
		cmocka_unit_test_setup_teardown(test_missing_image_fails_probe, restore, restore),
		cmocka_unit_test_setup_teardown(test_module_unloads_after_failed_probe, restore,
						restore),
	};

	return cmocka_run_group_tests_name("guest_firmware", tests, setup, restore);
}
