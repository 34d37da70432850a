/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 packets: the end-to-end header every packet carries after the
 * per-hop DATA header (docs/hw-spec.md 13.4 and 13.7). No hop rewrites
 * it; its own CRC catches corruption inside a forwarding chip, which the
 * per-hop CRC cannot see.
 *
 * Remote memory operations (RWRITE, RREAD, RATOMIC descriptors,
 * lumen_queue.h) become a message of packets from the source queue's
 * stream to the target: requests on the request VCs, the target's answers
 * (acknowledgements, read data, atomic results) on the response VCs.
 */
#ifndef LUMEN_REMOTE_H
#define LUMEN_REMOTE_H

#include "lumen_types.h"

/* Payload bytes per WRITE or READ_RESP packet (the last may be shorter). */
#define LUMEN_PKT_PAYLOAD_MAX		4096
/* Packets of one message the source may have unacknowledged at a time. */
#define LUMEN_E2E_WINDOW		64
/*
 * End-to-end retransmission time of an unanswered packet: twice the smoothed
 * round trip of packets answered without a resend, at least this; doubled
 * after each round that had to resend, up to LUMEN_E2E_RTO_MAX_MS (and half
 * of E2E_TIMEOUT_MS).
 */
#define LUMEN_E2E_RETRANSMIT_MS		100
#define LUMEN_E2E_RTO_MAX_MS		800

enum lumen_pkt_op {
	LUMEN_PKT_WRITE = 1,		/* request: payload written at offset */
	LUMEN_PKT_READ_REQ = 2,		/* request: send back packet pkt */
	LUMEN_PKT_ATOMIC = 3,		/* request: aop on the word at offset */
	LUMEN_PKT_ACK = 4,		/* response: status of one request packet */
	LUMEN_PKT_READ_RESP = 5,	/* response: payload = data of packet pkt */
	LUMEN_PKT_ATOMIC_RESP = 6,	/* response: arg = old value */
	LUMEN_PKT_MGMT = 7,		/* management VC: payload = lumen_mgmt.h */
	LUMEN_PKT_REDUCE = 8,		/* request: payload reduced into offset (aop) */
	LUMEN_PKT_OP_COUNT
};

/**
 * struct lumen_pkt_hdr - end-to-end packet header
 * @src_chip: chip that created the packet (answers go back to it)
 * @dst_chip: chip the packet is for; forwarding looks it up
 * @op: enum lumen_pkt_op
 * @flags: zero (none defined)
 * @stream: source queue number (requests; answers echo it)
 * @epoch: source stream incarnation: changes whenever the source queue is
 *         reset, so a target never mixes two incarnations' messages
 * @msg: message number within (src_chip, stream, epoch): one per remote
 *       descriptor, increasing
 * @pkt: packet index within the message: payload bytes
 *       [pkt * LUMEN_PKT_PAYLOAD_MAX, ...) of the operation
 * @crc32: lumen_crc32() of this header (field zero) and the payload
 * @status: answers: enum lumen_status of the request; requests: 0
 * @aop: ATOMIC and ATOMIC_RESP: LUMEN_RATOMIC_*; REDUCE:
 *       lumen_pkt_redop(dtype, op); else 0
 * @window: target window slot
 * @key: target window key
 * @offset: operation's first byte in the window (the whole operation)
 * @size: operation's byte count (ATOMIC: 8)
 * @arg: ATOMIC: operand; ATOMIC_RESP: old value; else 0
 *
 * The payload (op WRITE, REDUCE, READ_RESP, MGMT) follows; its length is the hop
 * header's len minus 64. Every request packet names the whole operation
 * (offset, size) so that the target refuses all of it or none of it.
 */
struct lumen_pkt_hdr {
	lumen_le32 src_chip;
	lumen_le32 dst_chip;
	unsigned char op;
	unsigned char flags;
	lumen_le16 stream;
	lumen_le32 epoch;
	lumen_le32 msg;
	lumen_le32 pkt;
	lumen_le32 crc32;
	unsigned char status;
	unsigned char aop;
	lumen_le16 window;
	lumen_le64 key;
	lumen_le64 offset;
	lumen_le64 size;
	lumen_le64 arg;
};
LUMEN_CHECK_SIZE(struct lumen_pkt_hdr, 64);
LUMEN_CHECK_OFFSET(struct lumen_pkt_hdr, crc32, 24);
LUMEN_CHECK_OFFSET(struct lumen_pkt_hdr, key, 32);

/**
 * lumen_pkt_count() - packets of a WRITE or READ message
 * @size: operation size, > 0
 *
 * Return: the number of packets (the last one carries the remainder).
 */
static inline uint32_t lumen_pkt_count(uint64_t size)
{
	return (uint32_t)((size + LUMEN_PKT_PAYLOAD_MAX - 1) / LUMEN_PKT_PAYLOAD_MAX);
}

/**
 * lumen_pkt_redop() - the aop byte of a REDUCE packet
 * @dtype: LUMEN_DT_* (lumen_queue.h)
 * @op: LUMEN_REDOP_*
 *
 * Return: dtype in bits 3:0, op in bits 7:4.
 */
static inline unsigned char lumen_pkt_redop(uint32_t dtype, uint32_t op)
{
	return (unsigned char)((dtype & 0xf) | (op & 0xf) << 4);
}

#endif /* LUMEN_REMOTE_H */
