/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 optical chip-to-chip links: ports and training (docs/hw-spec.md
 * 13.2); routes and the packet header are still a sketch.
 *
 * Each chip has NUM_LINK_PORTS ports. A port trains to a neighbour, carries
 * packets with link-level sequence numbers and retransmission, and the chip
 * forwards any packet not addressed to it by its route table.
 */
#ifndef LUMEN_LINK_H
#define LUMEN_LINK_H

#include "lumen_types.h"

/*
 * LUMEN_CAP_LINK_PORTS (CAPS bit 7): the per-port registers below, link
 * training and LINK_CHANGED are implemented. LUMEN_CAP_LINKS (bit 4) means
 * the whole link engine (reliable link layer, forwarding, routes, remote
 * memory operations) and stays clear until that exists. Kept here, next to
 * the registers it announces, rather than in lumen_regs.h.
 */
#define LUMEN_CAP_LINK_PORTS		(1u << 7)

/*
 * LINK_CHANGED, in the interrupt block: RW1C, bit p = port p changed STATE
 * since the bit was last cleared. Every change also raises LUMEN_INT_LINK
 * (vector LUMEN_VEC_LINK). Bits of ports >= NUM_LINK_PORTS read 0.
 */
#define LUMEN_REG_LINK_CHANGED		0x130

/* Per-port registers, offsets within LUMEN_REG_LINK(p, 0). */
#define LUMEN_LREG_STATE		0x00	/* RO: enum lumen_link_state */
#define LUMEN_LREG_CTRL			0x04	/* RW: LUMEN_LCTRL_* */
#define LUMEN_LREG_PEER_CHIP		0x08	/* RO: neighbour's chip id while UP, else ~0 */
#define LUMEN_LREG_PEER_PORT		0x0c	/* RO: neighbour's port while UP, else ~0 */
#define LUMEN_LREG_TX_PKTS_LO		0x10	/* RO: link frames sent, since reset */
#define LUMEN_LREG_TX_PKTS_HI		0x14
#define LUMEN_LREG_RX_PKTS_LO		0x18	/* RO: link frames received (good or not) */
#define LUMEN_LREG_RX_PKTS_HI		0x1c
#define LUMEN_LREG_CRC_ERRORS		0x20	/* RO: frames dropped for a bad CRC */
#define LUMEN_LREG_RETRANSMITS		0x24	/* RO: 0 until the reliable link layer */
#define LUMEN_LREG_DOWN_EVENTS		0x28	/* RO: times the port left UP */
#define LUMEN_LREG_STATUS		0x2c	/* RO: LUMEN_LSTS_* (physical layer) */
#define LUMEN_LREG_TX_BYTES_LO		0x30	/* RO: bytes of the frames sent */
#define LUMEN_LREG_TX_BYTES_HI		0x34
#define LUMEN_LREG_RX_BYTES_LO		0x38	/* RO: bytes of the frames received */
#define LUMEN_LREG_RX_BYTES_HI		0x3c
#define LUMEN_LREG_GENERATION		0x40	/* RO: this port's link generation */
#define LUMEN_LREG_PEER_GENERATION	0x44	/* RO: neighbour's generation while UP, else 0 */
#define LUMEN_LREG_FRAME_ERRORS		0x48	/* RO: frames dropped: good CRC, malformed */
#define LUMEN_LREG_LAST			LUMEN_LREG_FRAME_ERRORS

#define LUMEN_LCTRL_ENABLE		(1u << 0)

/* STATUS bits: what the port sees of its fiber (emulation: lumen-fabric). */
#define LUMEN_LSTS_ATTACHED		(1u << 0)	/* fiber connector attached and accepted */
#define LUMEN_LSTS_LIGHT		(1u << 1)	/* light on the fiber */
#define LUMEN_LSTS_REFUSED		(1u << 2)	/* attach refused (e.g. duplicate chip id) */
#define LUMEN_LSTS_WIRE_ERROR		(1u << 3)	/* physical layer desynchronised */

enum lumen_link_state {
	LUMEN_LINK_DOWN = 0,		/* no light / disabled */
	LUMEN_LINK_TRAINING = 1,	/* exchanging identities */
	LUMEN_LINK_UP = 2,		/* carrying traffic */
	LUMEN_LINK_ERROR = 3,		/* error threshold crossed, retraining */
};

/* ---- Link frames -------------------------------------------------------- */

/*
 * Every link frame starts like struct lumen_link_pkt_hdr: magic at 0, type
 * at 3, and a CRC-32 (lumen_crc32()) at offset 24 computed over the whole
 * frame with that field zero. A frame shorter than 32 bytes, with a bad CRC,
 * a bad magic or an unknown type is dropped.
 */
#define LUMEN_LINK_MAGIC		0x4c4b	/* "KL" in memory order */
#define LUMEN_LINK_FRAME_MIN		32
#define LUMEN_LINK_CRC_OFFSET		24

enum lumen_link_frame_type {
	LUMEN_LINK_FRAME_TRAIN = 1,	/* link control: struct lumen_link_train */
	/* Sketch: DATA, ACK, NAK, CREDIT come with the reliable link layer. */
};

/* Training frame flags. */
#define LUMEN_TRAIN_F_HEARD		(1u << 0)	/* peer_* hold the sender's neighbour */
#define LUMEN_TRAIN_F_UP		(1u << 1)	/* the sender's port is UP */

/* Training period while TRAINING, keepalive while UP, and UP's dead time. */
#define LUMEN_LINK_TRAIN_MS		20
#define LUMEN_LINK_KEEPALIVE_MS		100
#define LUMEN_LINK_DEAD_MS		1000

/**
 * struct lumen_link_train - training (and keepalive) frame, link control
 * @magic: LUMEN_LINK_MAGIC
 * @vc: 0 (link-control frames belong to no virtual channel)
 * @type: LUMEN_LINK_FRAME_TRAIN
 * @chip_id: sender's chip id
 * @port: sender's port number
 * @num_ports: sender's NUM_LINK_PORTS
 * @flags: LUMEN_TRAIN_F_*
 * @generation: sender port's link generation (bumped on every (re)train)
 * @peer_chip: with F_HEARD, the chip id the sender last heard on this port
 * @peer_port: with F_HEARD, that neighbour's port
 * @reserved: must be zero
 * @crc32: lumen_crc32() of the frame with this field zero
 * @peer_generation: with F_HEARD, that neighbour's generation
 *
 * A port is UP once it has heard its neighbour and the neighbour's frame
 * says F_HEARD with (peer_chip, peer_port, peer_generation) equal to this
 * port's own identity and generation.
 */
struct lumen_link_train {
	lumen_le16 magic;
	unsigned char vc;
	unsigned char type;
	lumen_le32 chip_id;
	unsigned char port;
	unsigned char num_ports;
	lumen_le16 flags;
	lumen_le32 generation;
	lumen_le32 peer_chip;
	unsigned char peer_port;
	unsigned char reserved[3];
	lumen_le32 crc32;
	lumen_le32 peer_generation;
};
LUMEN_CHECK_SIZE(struct lumen_link_train, 32);
LUMEN_CHECK_OFFSET(struct lumen_link_train, type, 3);
LUMEN_CHECK_OFFSET(struct lumen_link_train, crc32, LUMEN_LINK_CRC_OFFSET);

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
 * @type: enum lumen_link_frame_type (only TRAIN is defined so far)
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
