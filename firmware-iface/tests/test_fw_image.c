// SPDX-License-Identifier: MIT
/* The firmware image helpers: CRC-32, sealing, and every check's verdict. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lumen/lumen_fw_image.h"

#define PAYLOAD_LEN 1000

struct image {
	struct lumen_fw_header hdr;
	unsigned char payload[PAYLOAD_LEN];
};

static int setup(void **state)
{
	struct image *img = calloc(1, sizeof(*img));
	size_t i;

	if (!img)
		return -1;
	for (i = 0; i < PAYLOAD_LEN; i++)
		img->payload[i] = (unsigned char)(i * 7 + 3);
	img->hdr.magic = lumen_cpu_to_le32(LUMEN_FW_MAGIC);
	img->hdr.abi_major = lumen_cpu_to_le16(LUMEN_FW_ABI_MAJOR);
	img->hdr.abi_minor = lumen_cpu_to_le16(LUMEN_FW_ABI_MINOR);
	img->hdr.fw_version = lumen_cpu_to_le32(LUMEN_FW_VERSION(1, 2, 3));
	strcpy(img->hdr.build_id, "test");
	if (lumen_fw_header_seal(&img->hdr, img->payload, PAYLOAD_LEN) != LUMEN_STATUS_OK)
		return -1;
	*state = img;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Re-seal only the header, as a tool that edits a field on purpose would. */
static void reseal_header(struct image *img)
{
	img->hdr.header_crc32 = lumen_cpu_to_le32(lumen_fw_header_crc32(&img->hdr));
}

static void test_crc32_known_vectors(void **state)
{
	(void)state;
	assert_int_equal(lumen_crc32(0, "", 0), 0);
	assert_int_equal(lumen_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(lumen_crc32(0, "The quick brown fox jumps over the lazy dog", 43),
			 0x414fa339u);
	/* Feeding in pieces gives the same CRC as one call. */
	assert_int_equal(lumen_crc32(lumen_crc32(0, "12345", 5), "6789", 4), 0xcbf43926u);
}

static void test_sealed_image_is_valid(void **state)
{
	struct image *img = *state;

	assert_int_equal(lumen_le32_to_cpu(img->hdr.header_size), 64);
	assert_int_equal(lumen_le32_to_cpu(img->hdr.image_size), 64 + PAYLOAD_LEN);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_OK);
	/* Alignment is not required: check a copy at an odd address. */
	{
		unsigned char *buf = malloc(sizeof(*img) + 1);

		assert_non_null(buf);
		memcpy(buf + 1, img, sizeof(*img));
		assert_int_equal(lumen_fw_image_check(buf + 1, sizeof(*img)), LUMEN_STATUS_OK);
		free(buf);
	}
}

static void test_short_buffers(void **state)
{
	struct image *img = *state;

	assert_int_equal(lumen_fw_image_check(img, 0), LUMEN_STATUS_BAD_SIZE);
	assert_int_equal(lumen_fw_image_check(img, 63), LUMEN_STATUS_BAD_SIZE);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img) - 1), LUMEN_STATUS_BAD_SIZE);
	/* Trailing garbage is as wrong as a missing tail. */
	assert_int_equal(lumen_fw_image_check(img, 64 + PAYLOAD_LEN + 0), LUMEN_STATUS_OK);
}

static void test_bad_magic(void **state)
{
	struct image *img = *state;

	img->hdr.magic = lumen_cpu_to_le32(0x12345678);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_MAGIC);
}

static void test_bad_sizes(void **state)
{
	struct image *img = *state;

	img->hdr.header_size = lumen_cpu_to_le32(128);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_SIZE);
	img->hdr.header_size = lumen_cpu_to_le32(64);
	img->hdr.image_size = lumen_cpu_to_le32(32);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_SIZE);
	img->hdr.image_size = lumen_cpu_to_le32(LUMEN_FW_MAX_SIZE + 1);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_SIZE);
}

static void test_header_checksum(void **state)
{
	struct image *img = *state;

	img->hdr.fw_version ^= lumen_cpu_to_le32(1);	/* edit without resealing */
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_CHECKSUM);
}

static void test_abi_major(void **state)
{
	struct image *img = *state;

	img->hdr.abi_major = lumen_cpu_to_le16(LUMEN_FW_ABI_MAJOR + 1);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_ABI);
	/* A newer minor is compatible. */
	img->hdr.abi_major = lumen_cpu_to_le16(LUMEN_FW_ABI_MAJOR);
	img->hdr.abi_minor = lumen_cpu_to_le16(LUMEN_FW_ABI_MINOR + 5);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_OK);
}

static void test_flags_must_be_zero(void **state)
{
	struct image *img = *state;

	img->hdr.flags = lumen_cpu_to_le32(0x80000000u);
	reseal_header(img);
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_RESERVED_SET);
}

static void test_payload_checksum(void **state)
{
	struct image *img = *state;

	img->payload[PAYLOAD_LEN / 2] ^= 1;
	assert_int_equal(lumen_fw_image_check(img, sizeof(*img)), LUMEN_STATUS_BAD_CHECKSUM);
}

static void test_seal_refuses_oversize(void **state)
{
	struct image *img = *state;

	assert_int_equal(lumen_fw_header_seal(&img->hdr, img->payload, LUMEN_FW_MAX_SIZE),
			 LUMEN_STATUS_BAD_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_known_vectors),
		cmocka_unit_test_setup_teardown(test_sealed_image_is_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abi_major, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_must_be_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_refuses_oversize, setup, teardown),
	};

	return cmocka_run_group_tests_name("iface_fw_image", tests, NULL, NULL);
}
