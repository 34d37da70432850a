// SPDX-License-Identifier: MIT
/* Probe: every emulated card is bound to lumen and has its accel node. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_util.h"

static void test_all_cards_bound(void **state)
{
	char pci[GU_MAX_CARDS][16];
	const char *want = getenv("LUMEN_TEST_CARDS");
	int n = gu_list_pci(pci), i;

	(void)state;
	assert_true(n >= 1);
	if (want)
		assert_int_equal(n, atoi(want));
	for (i = 0; i < n; i++) {
		char node[64];
		struct stat st;

		assert_true(gu_is_bound(pci[i]));
		assert_int_equal(gu_accel_node(pci[i], node, sizeof(node)), 0);
		assert_int_equal(stat(node, &st), 0);
		assert_true(S_ISCHR(st.st_mode));
	}
}

static void test_distinct_nodes(void **state)
{
	char pci[GU_MAX_CARDS][16], nodes[GU_MAX_CARDS][64];
	int n = gu_list_pci(pci), i, j;

	(void)state;
	for (i = 0; i < n; i++)
		assert_int_equal(gu_accel_node(pci[i], nodes[i], sizeof(nodes[i])), 0);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(nodes[i], nodes[j]);
}

static void test_probe_logged_firmware(void **state)
{
	(void)state;
	/* The driver names the firmware it booted; mark at 0 = whole log. */
	assert_true(gu_log_contains("lumen"));
	assert_true(gu_log_clean());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_cards_bound),
		cmocka_unit_test(test_distinct_nodes),
		cmocka_unit_test(test_probe_logged_firmware),
	};

	return cmocka_run_group_tests_name("guest_probe", tests, NULL, NULL);
}
