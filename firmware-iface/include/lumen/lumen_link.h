/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 optical chip-to-chip links (sketch; filled in by the link issue).
 *
 * Each chip has NUM_LINK_PORTS ports. A port trains to a neighbour, carries
 * packets with link-level sequence numbers and retransmission, and the chip
 * forwards any packet not addressed to it by its route table.
 */
#ifndef LUMEN_LINK_H
#define LUMEN_LINK_H

#include "lumen_types.h"

/* Per-port registers, offsets within LUMEN_REG_LINK(p, 0). */
#define LUMEN_LREG_STATE		0x00	/* RO: enum lumen_link_state */
#define LUMEN_LREG_CTRL			0x04	/* RW: LUMEN_LCTRL_* */
#define LUMEN_LREG_PEER_CHIP		0x08	/* RO: chip id of the neighbour */
#define LUMEN_LREG_PEER_PORT		0x0c	/* RO: neighbour's port number */
#define LUMEN_LREG_TX_PKTS_LO		0x10	/* RO: counters, since reset */
#define LUMEN_LREG_TX_PKTS_HI		0x14
#define LUMEN_LREG_RX_PKTS_LO		0x18
#define LUMEN_LREG_RX_PKTS_HI		0x1c
#define LUMEN_LREG_CRC_ERRORS		0x20
#define LUMEN_LREG_RETRANSMITS		0x24
#define LUMEN_LREG_DOWN_EVENTS		0x28

#define LUMEN_LCTRL_ENABLE		(1u << 0)

enum lumen_link_state {
	LUMEN_LINK_DOWN = 0,		/* no light / disabled */
	LUMEN_LINK_TRAINING = 1,	/* exchanging identities */
	LUMEN_LINK_UP = 2,		/* carrying traffic */
	LUMEN_LINK_ERROR = 3,		/* error threshold crossed, retraining */
};

#define LUMEN_ROUTE_PORT_LOCAL		0xff	/* deliver to this chip */

/**
 * struct lumen_route_entry - one route table entry
 * @dest_chip: destination chip id
 * @port: output port, or LUMEN_ROUTE_PORT_LOCAL
 * @vc: virtual channel (dateline crossing on a torus bumps it)
 * @alt_port: alternative minimal port for load spreading, 0xff if none
 * @flags: must be zero
 */
struct lumen_route_entry {
	lumen_le32 dest_chip;
	unsigned char port;
	unsigned char vc;
	unsigned char alt_port;
	unsigned char flags;
};
LUMEN_CHECK_SIZE(struct lumen_route_entry, 8);

/**
 * struct lumen_link_pkt_hdr - header of a packet on the wire
 * @magic: 0x4c4b ("KL")
 * @vc: virtual channel
 * @type: data, ack, nack, training
 * @src_chip: sender chip id
 * @dst_chip: final destination chip id
 * @seq: link-level sequence number (per port, per direction)
 * @ack: highest in-order sequence received
 * @len: payload bytes
 * @crc32: CRC-32 of header (this field zero) and payload
 */
struct lumen_link_pkt_hdr {
	lumen_le16 magic;
	unsigned char vc;
	unsigned char type;
	lumen_le32 src_chip;
	lumen_le32 dst_chip;
	lumen_le32 seq;
	lumen_le32 ack;
	lumen_le32 len;
	lumen_le32 crc32;
	lumen_le32 reserved;
};
LUMEN_CHECK_SIZE(struct lumen_link_pkt_hdr, 32);

#endif /* LUMEN_LINK_H */
