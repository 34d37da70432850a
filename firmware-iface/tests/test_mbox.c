// SPDX-License-Identifier: MIT
/* Mailbox helpers: length rules per message type. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lumen/lumen_mbox.h"

static void test_expected_lengths(void **state)
{
	(void)state;
	assert_int_equal(lumen_mbox_expected_len(LUMEN_MBOX_PING), -1);
	assert_int_equal(lumen_mbox_expected_len(LUMEN_MBOX_GET_VERSION), 0);
	assert_int_equal(lumen_mbox_expected_len(LUMEN_MBOX_GET_IDENTITY), 0);
	assert_int_equal(lumen_mbox_expected_len(LUMEN_MBOX_GET_TELEMETRY), 0);
	assert_int_equal(lumen_mbox_expected_len(0), -2);
	assert_int_equal(lumen_mbox_expected_len(0x7fff), -2);
	/* A response type is never a valid request. */
	assert_int_equal(lumen_mbox_expected_len(LUMEN_MBOX_PING | LUMEN_MBOX_RESPONSE), -2);
}

static void test_header_fields(void **state)
{
	struct lumen_mbox_msg m = { 0 };

	(void)state;
	m.hdr.version = lumen_cpu_to_le16(LUMEN_MBOX_VERSION);
	m.hdr.type = lumen_cpu_to_le16(LUMEN_MBOX_GET_IDENTITY);
	m.hdr.seq = lumen_cpu_to_le32(0xdeadbeef);
	/* Byte positions on the wire, as the device reads them. */
	assert_int_equal(((unsigned char *)&m)[0], LUMEN_MBOX_VERSION);
	assert_int_equal(((unsigned char *)&m)[2], LUMEN_MBOX_GET_IDENTITY);
	assert_int_equal(((unsigned char *)&m)[4], 0xef);
	assert_int_equal(((unsigned char *)&m)[7], 0xde);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expected_lengths),
		cmocka_unit_test(test_header_fields),
	};

	return cmocka_run_group_tests_name("iface_mbox", tests, NULL, NULL);
}
