// SPDX-License-Identifier: MIT
/*
 * Layout of the wire structures. Most checks are compile-time (the headers'
 * LUMEN_CHECK_* asserts, and -Wpadded -Werror on this target); the runtime
 * cases pin the values both sides of the contract must agree on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lumen/lumen_iface.h"
#include "lumen/lumen_fiber.h"
#include "lumen/lumen_mgmt.h"
#include "lumen/lumen_remote.h"

int layout_cxx_sizes_match(void);

static void test_struct_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct lumen_fw_header), 64);
	assert_int_equal(sizeof(struct lumen_mbox_hdr), 16);
	assert_int_equal(sizeof(struct lumen_mbox_msg), LUMEN_MBOX_MSG_SIZE);
	assert_int_equal(sizeof(struct lumen_mbox_version), 48);
	assert_int_equal(sizeof(struct lumen_mbox_identity), 64);
	assert_int_equal(sizeof(struct lumen_mbox_telemetry), 40);
	assert_int_equal(sizeof(struct lumen_cmd), 64);
	assert_int_equal(sizeof(struct lumen_link_train), 32);
	assert_int_equal(sizeof(struct lumen_link_data_hdr), 32);
	assert_int_equal(sizeof(struct lumen_link_ack), 64);
	assert_int_equal(sizeof(struct lumen_pkt_hdr), 64);
	assert_int_equal(sizeof(struct lumen_mgmt), LUMEN_MGMT_HDR_SIZE + LUMEN_MGMT_DATA_MAX);
	assert_int_equal(offsetof(struct lumen_mgmt, data), LUMEN_MGMT_HDR_SIZE);
	/* Management attributes fit a packet, packets fit a link frame, frames a fiber record. */
	assert_true(sizeof(struct lumen_mgmt_info) <= LUMEN_MGMT_DATA_MAX);
	assert_true(sizeof(struct lumen_mgmt_port) <= LUMEN_MGMT_DATA_MAX);
	assert_true(4 * LUMEN_MGMT_ROUTES_PER_BLOCK <= LUMEN_MGMT_DATA_MAX);
	assert_true(sizeof(struct lumen_pkt_hdr) + sizeof(struct lumen_mgmt) <= LUMEN_LINK_PKT_MAX);
	assert_true(sizeof(struct lumen_pkt_hdr) + LUMEN_PKT_PAYLOAD_MAX <= LUMEN_LINK_PKT_MAX);
	assert_true(LUMEN_LINK_FRAME_MAX <= LUMEN_FIBER_MAX_PAYLOAD);
	assert_int_equal(sizeof(struct lumen_cmd_remote), 56);
	assert_int_equal(sizeof(struct lumen_cmd_ratomic), 56);
	/* Payloads must fit a mailbox slot. */
	assert_true(sizeof(struct lumen_mbox_identity) <= LUMEN_MBOX_PAYLOAD_MAX);
	assert_true(sizeof(struct lumen_mbox_version) <= LUMEN_MBOX_PAYLOAD_MAX);
	assert_true(sizeof(struct lumen_mbox_telemetry) <= LUMEN_MBOX_PAYLOAD_MAX);
}

static void test_cxx_agrees(void **state)
{
	(void)state;
	/* The C++ translation unit computed the same sizes and offsets. */
	assert_int_equal(layout_cxx_sizes_match(), 1);
}

static void test_register_map(void **state)
{
	(void)state;
	/* Ranges must not overlap each other or the MSI-X structures. */
	assert_true(LUMEN_REG_LINK(LUMEN_LINK_PORTS_MAX, 0) <= LUMEN_REG_ROUTE_INDEX);
	assert_true(LUMEN_REG_LINK_LAST < LUMEN_REG_QUEUE(0, 0));
	assert_true(LUMEN_REG_MGMT_RX_BUF + LUMEN_MGMT_BUF_SIZE <= LUMEN_MSIX_TABLE_OFFSET);
	assert_true(LUMEN_REG_QUEUE(LUMEN_QUEUES_MAX, 0) <= LUMEN_REG_MGMT_TX_BUF);
	assert_true(LUMEN_REG_QUEUE(LUMEN_QUEUES_MAX, 0) <= 0x2000);
	assert_true(LUMEN_REG_QUEUE(LUMEN_QUEUES_MAX, 0) <= LUMEN_MSIX_TABLE_OFFSET);
	/* 16 bytes per MSI-X table entry must end before the PBA. */
	assert_true(LUMEN_MSIX_TABLE_OFFSET + 16 * LUMEN_NUM_VECTORS(LUMEN_QUEUES_MAX) <=
		    LUMEN_MSIX_PBA_OFFSET);
	assert_true(LUMEN_MSIX_PBA_OFFSET + 8 * ((LUMEN_NUM_VECTORS(LUMEN_QUEUES_MAX) + 63) / 64) <=
		    LUMEN_REGS_BAR_SIZE);
	/* Every register is 32-bit aligned. */
	assert_int_equal(LUMEN_REG_MBOX_RESP_HEAD % 4, 0);
	assert_int_equal(LUMEN_REG_POWER_MAX_MW % 4, 0);
	assert_int_equal(LUMEN_QREG_COMPLETED % 4, 0);
	assert_true(LUMEN_QREG_COMPLETED < LUMEN_REG_QUEUE_STRIDE);
	assert_true(LUMEN_LREG_DOWN_EVENTS < LUMEN_REG_LINK_STRIDE);
	/* Magic values read as their ASCII names in memory order. */
	assert_memory_equal(&(uint32_t){ LUMEN_MAGIC }, "LUMN", 4);
	assert_memory_equal(&(uint32_t){ LUMEN_FW_MAGIC }, "LMFW", 4);
}

static void test_status_names(void **state)
{
	uint32_t s;

	(void)state;
	for (s = 0; s < LUMEN_STATUS_COUNT; s++)
		assert_non_null(lumen_status_name(s));
	assert_string_equal(lumen_status_name(LUMEN_STATUS_BAD_CHECKSUM), "checksum mismatch");
	assert_string_equal(lumen_status_name(LUMEN_STATUS_COUNT), "unknown status");
	assert_string_equal(lumen_status_name(0xffffffffu), "unknown status");
}

static void test_mmu_index(void **state)
{
	uint64_t va = (5ull << 39) | (7ull << 30) | (9ull << 21) | (11ull << 12) | 0x123;

	(void)state;
	assert_int_equal(lumen_va_index(va, 0), 5);
	assert_int_equal(lumen_va_index(va, 1), 7);
	assert_int_equal(lumen_va_index(va, 2), 9);
	assert_int_equal(lumen_va_index(va, 3), 11);
	assert_int_equal(LUMEN_PTE_RESERVED_MASK & LUMEN_PTE_ADDR_MASK, 0);
	assert_int_equal(LUMEN_PTE_RESERVED_MASK & (LUMEN_PTE_VALID | LUMEN_PTE_TARGET_MASK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_sizes),
		cmocka_unit_test(test_cxx_agrees),
		cmocka_unit_test(test_register_map),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_mmu_index),
	};

	return cmocka_run_group_tests_name("iface_layout", tests, NULL, NULL);
}
