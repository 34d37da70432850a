/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 optical chip-to-chip links (docs/hw-spec.md section 13): ports
 * and training (13.2), the reliable link layer (13.3), routing and
 * forwarding (13.4) and the link-engine registers (13.5). Remote memory
 * operations are in lumen_remote.h, management packets in lumen_mgmt.h.
 *
 * Each chip has NUM_LINK_PORTS ports. A port trains to a neighbour, carries
 * frames with per-hop sequence numbers, CRC, ACK/NAK and replay under
 * per-virtual-channel credits, and the chip forwards any packet not
 * addressed to it by its route table, without the host.
 */
#ifndef LUMEN_LINK_H
#define LUMEN_LINK_H

#include "lumen_types.h"

/*
 * LUMEN_CAP_LINK_PORTS (CAPS bit 7): the per-port registers below, link
 * training and LINK_CHANGED are implemented. LUMEN_CAP_LINKS (bit 4) means
 * the whole link engine: reliable link layer, forwarding, route table,
 * management packets, remote windows and remote memory descriptors. Kept
 * here, next to the registers it announces, rather than in lumen_regs.h.
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
#define LUMEN_LREG_RETRANSMITS		0x24	/* RO: DATA frames sent again (replays) */
#define LUMEN_LREG_DOWN_EVENTS		0x28	/* RO: times the port left UP */
#define LUMEN_LREG_STATUS		0x2c	/* RO: LUMEN_LSTS_* (physical layer) */
#define LUMEN_LREG_TX_BYTES_LO		0x30	/* RO: bytes of the frames sent */
#define LUMEN_LREG_TX_BYTES_HI		0x34
#define LUMEN_LREG_RX_BYTES_LO		0x38	/* RO: bytes of the frames received */
#define LUMEN_LREG_RX_BYTES_HI		0x3c
#define LUMEN_LREG_GENERATION		0x40	/* RO: this port's link generation */
#define LUMEN_LREG_PEER_GENERATION	0x44	/* RO: neighbour's generation while UP, else 0 */
#define LUMEN_LREG_FRAME_ERRORS		0x48	/* RO: frames dropped: good CRC, malformed */
/* With CAPS.LINKS (hw-spec 13.3-13.5): */
#define LUMEN_LREG_NAKS_RX		0x4c	/* RO: NAK frames received */
#define LUMEN_LREG_NAKS_TX		0x50	/* RO: NAK frames sent */
#define LUMEN_LREG_REPLAY_TIMEOUTS	0x54	/* RO: replay timer expiries */
#define LUMEN_LREG_TTL_DROPS		0x58	/* RO: packets that arrived here with TTL 0 left */
#define LUMEN_LREG_CREDIT_STALLS	0x5c	/* RO: times a packet waited for credit */
#define LUMEN_LREG_FAILOVERS		0x60	/* RO: packets sent here as alternative port */
#define LUMEN_LREG_RETRAINS		0x64	/* RO: times the port entered ERROR */
#define LUMEN_LREG_DATA_TX_LO		0x68	/* RO: DATA frames sent (first time) */
#define LUMEN_LREG_DATA_TX_HI		0x6c
#define LUMEN_LREG_DATA_RX_LO		0x70	/* RO: DATA frames accepted in order */
#define LUMEN_LREG_DATA_RX_HI		0x74
#define LUMEN_LREG_SEQ_ERRORS		0x78	/* RO: DATA frames out of sequence (dropped) */
#define LUMEN_LREG_LAST			LUMEN_LREG_SEQ_ERRORS

#define LUMEN_LCTRL_ENABLE		(1u << 0)
#define LUMEN_LCTRL_DATELINE		(1u << 1)	/* CAPS.LINKS: lane + 1 on leaving */
#define LUMEN_LCTRL_MASK		0x3u

/* STATUS bits: what the port sees of its fiber (emulation: lumen-fabric). */
#define LUMEN_LSTS_ATTACHED		(1u << 0)	/* fiber connector attached and accepted */
#define LUMEN_LSTS_LIGHT		(1u << 1)	/* light on the fiber */
#define LUMEN_LSTS_REFUSED		(1u << 2)	/* attach refused (e.g. duplicate chip id) */
#define LUMEN_LSTS_WIRE_ERROR		(1u << 3)	/* physical layer desynchronised */

enum lumen_link_state {
	LUMEN_LINK_DOWN = 0,		/* no light / disabled */
	LUMEN_LINK_TRAINING = 1,	/* exchanging identities */
	LUMEN_LINK_UP = 2,		/* carrying traffic */
	LUMEN_LINK_ERROR = 3,		/* replay gave up: retrains after ERROR_MS */
};

/* ---- Link frames (hw-spec 13.2, 13.3) ------------------------------------ */

/*
 * Every link frame starts like struct lumen_link_data_hdr: magic at 0, type
 * at 3, and a CRC-32 (lumen_crc32()) at offset 24 computed over the whole
 * frame with that field zero. A frame shorter than 32 bytes, with a bad CRC,
 * a bad magic or an unknown type is dropped.
 */
#define LUMEN_LINK_MAGIC		0x4c4b	/* "KL" in memory order */
#define LUMEN_LINK_FRAME_MIN		32
#define LUMEN_LINK_CRC_OFFSET		24

enum lumen_link_frame_type {
	LUMEN_LINK_FRAME_TRAIN = 1,	/* link control: struct lumen_link_train */
	LUMEN_LINK_FRAME_DATA = 2,	/* struct lumen_link_data_hdr + packet */
	LUMEN_LINK_FRAME_ACK = 3,	/* link control: struct lumen_link_ack */
	LUMEN_LINK_FRAME_NAK = 4,	/* link control: struct lumen_link_ack */
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

/* ---- Reliable link layer (hw-spec 13.3) --------------------------------- */

/*
 * Virtual channels. Data VC = 2 * class + lane: requests (class 0) and
 * responses (class 1) never share a VC, so a target that must answer
 * cannot be blocked by requests; lane 0/1 are the two dateline lanes.
 * Management packets travel on their own VC.
 */
#define LUMEN_LINK_NUM_VCS		5
#define LUMEN_VC_REQ(lane)		(0 + (lane))
#define LUMEN_VC_RESP(lane)		(2 + (lane))
#define LUMEN_VC_MGMT			4
#define LUMEN_LINK_LANES		2

/* Receive buffer per port and VC, in frames: the initial credit. */
#define LUMEN_LINK_VC_CREDITS		16
/* Sender's replay timer, and failed replays in a row before ERROR. */
#define LUMEN_LINK_REPLAY_MS		50
#define LUMEN_LINK_REPLAY_MAX		4
/* Time a port spends in ERROR before it retrains. */
#define LUMEN_LINK_ERROR_MS		20

/* Largest packet (e2e header + payload) after the hop header. */
#define LUMEN_LINK_PKT_MAX		(64 + 4096)
#define LUMEN_LINK_FRAME_MAX		(32 + LUMEN_LINK_PKT_MAX)

/*
 * N1's nominal port figures (hw-spec 13, "Nominal figures"): one port moves this many bytes
 * per second in each direction, and a packet spends this long per hop (the
 * fiber plus the forwarding chip). Route queries and the collectives' cost
 * model estimate with them; the emulated fibers' rate and latency are
 * lumen-fabric's options and may differ.
 */
#define LUMEN_LINK_NOMINAL_BYTES_PER_S	50000000000ull
#define LUMEN_LINK_NOMINAL_HOP_NS	500u

/* Time-to-live a packet starts with (TTL_DEFAULT resets to this). */
#define LUMEN_LINK_TTL_DEFAULT		32
#define LUMEN_LINK_TTL_MAX		63

/**
 * struct lumen_link_data_hdr - per-hop header of a DATA frame
 * @magic: LUMEN_LINK_MAGIC
 * @vc: virtual channel, < LUMEN_LINK_NUM_VCS
 * @type: LUMEN_LINK_FRAME_DATA
 * @seq: per-hop sequence number: 0 for the first DATA frame after the
 *       port went UP, then + 1 per new frame (per port and direction)
 * @len: bytes after this header (the packet: e2e header + payload),
 *       1 to LUMEN_LINK_PKT_MAX
 * @ttl: hops the packet may still take; the sender's chip decremented it
 * @flags: LUMEN_HOP_F_*
 * @reserved0: zero
 * @generation: sender port's link GENERATION; a frame of another
 *              generation than the receiver's PEER_GENERATION is dropped
 * @reserved1: zero
 * @crc32: lumen_crc32() of the whole frame with this field zero
 * @reserved2: zero
 *
 * Everything in this header is rewritten at each hop; the packet after it
 * (struct lumen_pkt_hdr and payload, lumen_remote.h) is not, and has its
 * own end-to-end CRC.
 */
struct lumen_link_data_hdr {
	lumen_le16 magic;
	unsigned char vc;
	unsigned char type;
	lumen_le32 seq;
	lumen_le32 len;
	unsigned char ttl;
	unsigned char flags;
	lumen_le16 reserved0;
	lumen_le32 generation;
	lumen_le32 reserved1;
	lumen_le32 crc32;
	lumen_le32 reserved2;
};
LUMEN_CHECK_SIZE(struct lumen_link_data_hdr, 32);
LUMEN_CHECK_OFFSET(struct lumen_link_data_hdr, crc32, LUMEN_LINK_CRC_OFFSET);

/* A chip sent this packet on a route's alternative port (fast failover). */
#define LUMEN_HOP_F_DETOUR		(1u << 0)
#define LUMEN_HOP_F_MASK		0x1u

/**
 * struct lumen_link_ack - ACK or NAK frame, link control
 * @magic: LUMEN_LINK_MAGIC
 * @vc: 0
 * @type: LUMEN_LINK_FRAME_ACK or LUMEN_LINK_FRAME_NAK
 * @next_seq: ACK: every DATA frame with seq < next_seq (modulo 2^32) was
 *            received in order; NAK: the same, and the sender must replay
 *            from next_seq now
 * @generation: sender port's link generation
 * @reserved0: zero
 * @reserved1: zero
 * @crc32: lumen_crc32() of the frame with this field zero
 * @reserved2: zero
 * @credit_limit: per VC, cumulative: the peer may have sent at most this
 *                many DATA frames (first transmissions) on that VC since
 *                the port went UP; starts at LUMEN_LINK_VC_CREDITS and
 *                grows by one per frame the receiver freed. Entries for
 *                VCs >= LUMEN_LINK_NUM_VCS are zero.
 *
 * Cumulative values make a lost ACK harmless: the next one says it all.
 */
struct lumen_link_ack {
	lumen_le16 magic;
	unsigned char vc;
	unsigned char type;
	lumen_le32 next_seq;
	lumen_le32 generation;
	lumen_le32 reserved0;
	lumen_le64 reserved1;
	lumen_le32 crc32;
	lumen_le32 reserved2;
	lumen_le32 credit_limit[8];
};
LUMEN_CHECK_SIZE(struct lumen_link_ack, 64);
LUMEN_CHECK_OFFSET(struct lumen_link_ack, crc32, LUMEN_LINK_CRC_OFFSET);

/* ---- Route table (hw-spec 13.4) ---------------------------------------- */

/* Entries: one per destination chip id; chip ids are < this. */
#define LUMEN_ROUTE_TABLE_SIZE		8192
#define LUMEN_CHIP_ID_MAX		(LUMEN_ROUTE_TABLE_SIZE - 1)

/*
 * Route word, as in ROUTE_ENTRY: VALID, output port, alternative port
 * (LUMEN_ROUTE_NO_PORT if none), lane (0/1) and FIXED_LANE. An invalid
 * entry means "no route" (UNREACHABLE); the entry of the chip's own id
 * is ignored (a packet for this chip is always delivered here).
 */
#define LUMEN_ROUTE_W_PORT_MASK		0x0000000fu
#define LUMEN_ROUTE_W_ALT_SHIFT		4
#define LUMEN_ROUTE_W_ALT_MASK		0x000000f0u
#define LUMEN_ROUTE_W_LANE_SHIFT	8
#define LUMEN_ROUTE_W_LANE_MASK		0x00000100u
#define LUMEN_ROUTE_W_FIXED_LANE	(1u << 9)
#define LUMEN_ROUTE_W_VALID		(1u << 31)
#define LUMEN_ROUTE_W_RESERVED		0x7ffffc00u	/* bits 30:10 */
#define LUMEN_ROUTE_NO_PORT		0xfu

/**
 * lumen_route_word() - pack a route entry
 * @port: output port
 * @alt_port: alternative port or LUMEN_ROUTE_NO_PORT
 * @lane: 0 or 1
 * @fixed_lane: non-zero: the lane is @lane at every hop (no dateline)
 *
 * Return: a VALID route word.
 */
static inline uint32_t lumen_route_word(unsigned int port, unsigned int alt_port,
					unsigned int lane, int fixed_lane)
{
	return LUMEN_ROUTE_W_VALID | (port & LUMEN_ROUTE_W_PORT_MASK) |
	       ((alt_port << LUMEN_ROUTE_W_ALT_SHIFT) & LUMEN_ROUTE_W_ALT_MASK) |
	       ((lane << LUMEN_ROUTE_W_LANE_SHIFT) & LUMEN_ROUTE_W_LANE_MASK) |
	       (fixed_lane ? LUMEN_ROUTE_W_FIXED_LANE : 0);
}

/* ---- Link-engine registers (hw-spec 13.5), CAPS.LINKS ------------------- */

#define LUMEN_REG_ROUTE_INDEX		0xc00	/* RW: destination chip id of ROUTE_ENTRY */
#define LUMEN_REG_ROUTE_ENTRY		0xc04	/* RW: route word; a write advances INDEX */
#define LUMEN_REG_ROUTE_SIZE		0xc08	/* RO: LUMEN_ROUTE_TABLE_SIZE */
#define LUMEN_REG_LINK_CHIP_ID		0xc0c	/* RO: this chip's id */
#define LUMEN_REG_MKEY_LO		0xc10	/* RW: management key, 0 = none */
#define LUMEN_REG_MKEY_HI		0xc14
#define LUMEN_REG_TTL_DEFAULT		0xc18	/* RW: 1..LUMEN_LINK_TTL_MAX */
#define LUMEN_REG_E2E_TIMEOUT_MS	0xc1c	/* RW: 10..60000, default 2000 */
#define LUMEN_REG_WIN_INDEX		0xc20	/* RW: window slot of WIN_* */
#define LUMEN_REG_WIN_CTRL		0xc24	/* RW: LUMEN_WIN_*; VALID commits */
#define LUMEN_REG_WIN_KEY_LO		0xc28	/* RW: staged key */
#define LUMEN_REG_WIN_KEY_HI		0xc2c
#define LUMEN_REG_WIN_VA_LO		0xc30	/* RW: staged VA, 4 KiB aligned */
#define LUMEN_REG_WIN_VA_HI		0xc34
#define LUMEN_REG_WIN_SIZE_LO		0xc38	/* RW: staged size, 4 KiB multiple */
#define LUMEN_REG_WIN_SIZE_HI		0xc3c
#define LUMEN_REG_NUM_WINDOWS		0xc40	/* RO: LUMEN_NUM_WINDOWS */
/* Chip counters, RO, zeroed by reset, wrapping. */
#define LUMEN_REG_FWD_PKTS_LO		0xc50	/* transit packets forwarded */
#define LUMEN_REG_FWD_PKTS_HI		0xc54
#define LUMEN_REG_NO_ROUTE_DROPS	0xc58	/* no valid entry, no UP port */
#define LUMEN_REG_TTL_DROPS		0xc5c	/* TTL ran out here */
#define LUMEN_REG_ACCESS_ERRORS		0xc60	/* remote ops refused as target */
#define LUMEN_REG_E2E_RETRANSMITS	0xc64	/* packets re-sent end to end */
#define LUMEN_REG_E2E_DUPLICATES	0xc68	/* duplicates detected as target */
#define LUMEN_REG_MKEY_VIOLATIONS	0xc6c	/* management SETs with a wrong key */
#define LUMEN_REG_LANE_ERRORS		0xc70	/* dateline bumped past the last lane */
#define LUMEN_REG_REROUTE_DROPS		0xc74	/* frames of a dead port with no way out */
#define LUMEN_REG_E2E_TIMEOUTS		0xc78	/* remote ops failed with TIMEOUT */
#define LUMEN_REG_BAD_PKTS		0xc7c	/* packets dropped: e2e CRC or malformed */
/* Management packets (hw-spec 13.6). */
#define LUMEN_REG_MGMT_TX_LEN		0xc80	/* WO: send MGMT_TX_BUF[0..len) */
#define LUMEN_REG_MGMT_TX_STATUS	0xc84	/* RO: lumen_status of the last send */
#define LUMEN_REG_MGMT_RX_LEN		0xc88	/* RO: bytes of the head packet, 0 = none */
#define LUMEN_REG_MGMT_RX_POP		0xc8c	/* WO: 1 drops the head packet */
#define LUMEN_REG_MGMT_RX_COUNT		0xc90	/* RO: packets queued */
#define LUMEN_REG_MGMT_RX_DROPS		0xc94	/* RO: packets lost to a full queue */
#define LUMEN_REG_LINK_LAST		LUMEN_REG_MGMT_RX_DROPS

#define LUMEN_REG_MGMT_TX_BUF		0x2000	/* RW, 1 KiB */
#define LUMEN_REG_MGMT_RX_BUF		0x2400	/* RO, 1 KiB: head packet */
#define LUMEN_MGMT_BUF_SIZE		0x400
#define LUMEN_MGMT_RX_DEPTH		32

/* Remote windows (hw-spec 13.7). */
#define LUMEN_NUM_WINDOWS		256
#define LUMEN_WIN_VALID			(1u << 0)
#define LUMEN_WIN_READ			(1u << 1)
#define LUMEN_WIN_WRITE			(1u << 2)
#define LUMEN_WIN_ATOMIC		(1u << 3)
#define LUMEN_WIN_CTX_SHIFT		8
#define LUMEN_WIN_CTX_MASK		(0xffu << LUMEN_WIN_CTX_SHIFT)
#define LUMEN_WIN_CTRL_MASK		(0xfu | LUMEN_WIN_CTX_MASK)

/* E2E_TIMEOUT_MS range and default. */
#define LUMEN_E2E_TIMEOUT_MIN_MS	10
#define LUMEN_E2E_TIMEOUT_MAX_MS	60000
#define LUMEN_E2E_TIMEOUT_DEFAULT_MS	2000

#endif /* LUMEN_LINK_H */
