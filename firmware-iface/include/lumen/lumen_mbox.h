/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 firmware mailbox: messages exchanged through two rings in host
 * memory (request: driver -> firmware, response: firmware -> driver).
 *
 * Each ring holds 2^MBOX_RING_ORDER slots of struct lumen_mbox_msg. Indices
 * are free-running 32-bit counters; slot = index & (entries - 1). The driver
 * writes a request into req[REQ_TAIL], then writes REQ_TAIL + 1 to the
 * register (the write is the doorbell). The firmware consumes requests in
 * order, advances REQ_HEAD, writes exactly one response per request into
 * resp[RESP_TAIL], advances RESP_TAIL and signals LUMEN_VEC_MBOX. The driver
 * consumes responses and writes RESP_HEAD. The firmware never overwrites an
 * unconsumed response: when the response ring is full it stops consuming
 * requests until RESP_HEAD moves.
 */
#ifndef LUMEN_MBOX_H
#define LUMEN_MBOX_H

#include "lumen_types.h"

#define LUMEN_MBOX_VERSION		1	/* protocol version in every header */
#define LUMEN_MBOX_MSG_SIZE		256
#define LUMEN_MBOX_PAYLOAD_MAX		(LUMEN_MBOX_MSG_SIZE - 16)
#define LUMEN_MBOX_RESPONSE		0x8000	/* type bit set in responses */

/* Message types. Responses carry (type | LUMEN_MBOX_RESPONSE). */
enum lumen_mbox_type {
	LUMEN_MBOX_PING = 0x0001,		/* payload echoed back unchanged */
	LUMEN_MBOX_GET_VERSION = 0x0002,	/* -> struct lumen_mbox_version */
	LUMEN_MBOX_GET_IDENTITY = 0x0003,	/* -> struct lumen_mbox_identity */
	LUMEN_MBOX_GET_TELEMETRY = 0x0004,	/* -> struct lumen_mbox_telemetry */
	/* 0x0100 - 0x01ff: optical link management (lumen_link.h) */
	/* 0x0200 - 0x02ff: compute engine management */
};

/**
 * struct lumen_mbox_hdr - header of every request and response
 * @version: LUMEN_MBOX_VERSION; a response echoes the request's
 * @type: enum lumen_mbox_type, with LUMEN_MBOX_RESPONSE in responses
 * @seq: chosen by the driver, echoed in the response
 * @status: 0 in requests; enum lumen_status in responses
 * @payload_len: valid bytes in the payload, at most LUMEN_MBOX_PAYLOAD_MAX
 * @flags: must be zero
 */
struct lumen_mbox_hdr {
	lumen_le16 version;
	lumen_le16 type;
	lumen_le32 seq;
	lumen_le32 status;
	lumen_le16 payload_len;
	lumen_le16 flags;
};
LUMEN_CHECK_SIZE(struct lumen_mbox_hdr, 16);
LUMEN_CHECK_OFFSET(struct lumen_mbox_hdr, type, 2);
LUMEN_CHECK_OFFSET(struct lumen_mbox_hdr, seq, 4);
LUMEN_CHECK_OFFSET(struct lumen_mbox_hdr, status, 8);
LUMEN_CHECK_OFFSET(struct lumen_mbox_hdr, payload_len, 12);

/** struct lumen_mbox_msg - one ring slot */
struct lumen_mbox_msg {
	struct lumen_mbox_hdr hdr;
	unsigned char payload[LUMEN_MBOX_PAYLOAD_MAX];
};
LUMEN_CHECK_SIZE(struct lumen_mbox_msg, LUMEN_MBOX_MSG_SIZE);

/**
 * struct lumen_mbox_version - GET_VERSION response payload
 * @fw_version: LUMEN_FW_VERSION() of the running image
 * @abi_major: negotiated firmware ABI
 * @abi_minor: negotiated firmware ABI minor (min of image and device)
 * @mbox_version: highest mailbox protocol version the firmware speaks
 * @reserved: zero
 * @hw_version: LUMEN_HW_VERSION of the device
 * @build_id: from the image header, NUL-padded
 */
struct lumen_mbox_version {
	lumen_le32 fw_version;
	lumen_le16 abi_major;
	lumen_le16 abi_minor;
	lumen_le16 mbox_version;
	lumen_le16 reserved;
	lumen_le32 hw_version;
	char build_id[32];
};
LUMEN_CHECK_SIZE(struct lumen_mbox_version, 48);

#define LUMEN_SERIAL_LEN	32

/**
 * struct lumen_mbox_identity - GET_IDENTITY response payload
 * @serial: board serial number, NUL-padded ASCII
 * @chip_id: position of the chip in the supernode
 * @board_rev: board revision
 * @mem_size: device memory bytes
 * @num_queues: hardware DMA queues
 * @num_link_ports: optical link ports
 * @caps: LUMEN_CAP_*
 * @reserved: zero
 */
struct lumen_mbox_identity {
	char serial[LUMEN_SERIAL_LEN];
	lumen_le32 chip_id;
	lumen_le32 board_rev;
	lumen_le64 mem_size;
	lumen_le32 num_queues;
	lumen_le32 num_link_ports;
	lumen_le32 caps;
	lumen_le32 reserved;
};
LUMEN_CHECK_SIZE(struct lumen_mbox_identity, 64);
LUMEN_CHECK_OFFSET(struct lumen_mbox_identity, mem_size, 40);

/**
 * struct lumen_mbox_telemetry - GET_TELEMETRY response payload
 * @temp_mc: die temperature, milli-degrees Celsius
 * @power_mw: board power, milliwatts
 * @clk_core_mhz: core clock
 * @clk_mem_mhz: memory clock
 * @busy_ns: cumulative engine busy time since reset
 * @uptime_ns: time since reset
 * @temp_crit_mc: critical temperature
 * @power_cap_mw: current power limit
 */
struct lumen_mbox_telemetry {
	lumen_le32 temp_mc;
	lumen_le32 power_mw;
	lumen_le32 clk_core_mhz;
	lumen_le32 clk_mem_mhz;
	lumen_le64 busy_ns;
	lumen_le64 uptime_ns;
	lumen_le32 temp_crit_mc;
	lumen_le32 power_cap_mw;
};
LUMEN_CHECK_SIZE(struct lumen_mbox_telemetry, 40);
LUMEN_CHECK_OFFSET(struct lumen_mbox_telemetry, busy_ns, 16);

/**
 * lumen_mbox_expected_len() - payload length a request type must carry
 * @type: request type
 *
 * Return: the exact length, -1 for "any length up to the maximum" (PING),
 * or -2 for an unknown type.
 */
static inline int lumen_mbox_expected_len(uint16_t type)
{
	switch (type) {
	case LUMEN_MBOX_PING:
		return -1;
	case LUMEN_MBOX_GET_VERSION:
	case LUMEN_MBOX_GET_IDENTITY:
	case LUMEN_MBOX_GET_TELEMETRY:
		return 0;
	default:
		return -2;
	}
}

#endif /* LUMEN_MBOX_H */
