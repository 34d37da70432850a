/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 management packets (docs/hw-spec.md 13.6): directed-route
 * packets on their own virtual channel with which a fabric manager on one
 * chip's host discovers and programs chips it has no route to yet, the
 * way an InfiniBand subnet manager programs switches with SMPs.
 *
 * A management packet is a DATA frame on LUMEN_VC_MGMT whose packet
 * (struct lumen_pkt_hdr, op LUMEN_PKT_MGMT) carries a struct lumen_mgmt
 * as payload. The host writes the struct lumen_mgmt into MGMT_TX_BUF and
 * reads answers and traps from MGMT_RX_BUF; the chip builds the
 * packet header. Every chip's link engine answers GET and SET itself.
 */
#ifndef LUMEN_MGMT_H
#define LUMEN_MGMT_H

#include "lumen_types.h"

#define LUMEN_MGMT_MAX_HOPS		16
#define LUMEN_MGMT_DATA_MAX		512
#define LUMEN_MGMT_VERSION		1

enum lumen_mgmt_method {
	LUMEN_MGMT_GET = 1,		/* read an attribute */
	LUMEN_MGMT_SET = 2,		/* write an attribute (needs the key) */
	LUMEN_MGMT_RESP = 3,		/* answer to GET or SET, status set */
	LUMEN_MGMT_TRAP = 4,		/* unsolicited: a port changed state */
};

enum lumen_mgmt_attr {
	LUMEN_MGMT_ATTR_INFO = 1,	/* GET: struct lumen_mgmt_info */
	LUMEN_MGMT_ATTR_PORT = 2,	/* GET/SET port attr_mod: struct lumen_mgmt_port */
	LUMEN_MGMT_ATTR_ROUTES = 3,	/* GET/SET 64 route words from attr_mod */
	LUMEN_MGMT_ATTR_MKEY = 4,	/* SET: data = new key (le64) */
	LUMEN_MGMT_ATTR_TRAP_PATH = 5,	/* GET/SET: struct lumen_mgmt_trap_path */
	LUMEN_MGMT_ATTR_TRAP = 6,	/* TRAP: struct lumen_mgmt_trap */
	LUMEN_MGMT_ATTR_MANAGER = 7,	/* GET/SET: struct lumen_mgmt_manager */
};

/* Route words per ATTR_ROUTES block; attr_mod is a multiple of this. */
#define LUMEN_MGMT_ROUTES_PER_BLOCK	64

/* flags */
#define LUMEN_MGMT_F_RETURN		(1u << 0)	/* travelling back along return_path */

/**
 * struct lumen_mgmt - a management packet
 * @version: LUMEN_MGMT_VERSION
 * @method: enum lumen_mgmt_method
 * @attr: enum lumen_mgmt_attr
 * @flags: LUMEN_MGMT_F_*; the sender writes 0
 * @status: RESP: enum lumen_status; requests: 0
 * @hop_count: entries of @path used, 0..LUMEN_MGMT_MAX_HOPS (0 = the
 *             sending chip itself)
 * @hop_ptr: hops taken so far; the sender writes 0
 * @data_len: bytes of @data used, <= LUMEN_MGMT_DATA_MAX
 * @tid: transaction id chosen by the requester, echoed in the answer
 * @mkey: management key (SET must carry the target's key if it has one)
 * @attr_mod: attribute modifier (port number, first chip id of a block)
 * @reserved: zero
 * @path: output port at each hop, from the requester
 * @return_path: filled in by the chips: the port each hop arrived on
 * @data: attribute contents
 *
 * Forward, at a chip holding the packet with hop_ptr < hop_count: send it
 * on path[hop_ptr] and increment hop_ptr; the chip that receives it
 * writes the port it arrived on into return_path[hop_ptr - 1]. The chip
 * where hop_ptr == hop_count is the target. Its answer (method RESP, or a
 * TRAP being delivered) goes back with F_RETURN: a chip with hop_ptr > 0
 * sends it on return_path[hop_ptr - 1] and decrements hop_ptr; at 0 it is
 * delivered to that chip's host (MGMT_RX).
 */
struct lumen_mgmt {
	unsigned char version;
	unsigned char method;
	unsigned char attr;
	unsigned char flags;
	lumen_le16 status;
	unsigned char hop_count;
	unsigned char hop_ptr;
	lumen_le32 data_len;
	lumen_le32 reserved0;
	lumen_le64 tid;
	lumen_le64 mkey;
	lumen_le32 attr_mod;
	lumen_le32 reserved;
	unsigned char path[LUMEN_MGMT_MAX_HOPS];
	unsigned char return_path[LUMEN_MGMT_MAX_HOPS];
	unsigned char data[LUMEN_MGMT_DATA_MAX];
};
LUMEN_CHECK_SIZE(struct lumen_mgmt, 72 + LUMEN_MGMT_DATA_MAX);
LUMEN_CHECK_OFFSET(struct lumen_mgmt, path, 40);
LUMEN_CHECK_OFFSET(struct lumen_mgmt, data, 72);

#define LUMEN_MGMT_HDR_SIZE		72

/**
 * struct lumen_mgmt_port_info - one port, in struct lumen_mgmt_info
 * @state: enum lumen_link_state
 * @ctrl: the port's CTRL register
 * @reserved: zero
 * @peer_chip: neighbour's chip id while UP, else ~0
 * @peer_port: neighbour's port while UP, else ~0
 */
struct lumen_mgmt_port_info {
	unsigned char state;
	unsigned char ctrl;
	lumen_le16 reserved;
	lumen_le32 peer_chip;
	lumen_le32 peer_port;
};
LUMEN_CHECK_SIZE(struct lumen_mgmt_port_info, 12);

/**
 * struct lumen_mgmt_info - ATTR_INFO
 * @chip_id: the chip's id
 * @num_ports: NUM_LINK_PORTS
 * @mkey_set: 1 if the chip has a non-zero management key
 * @reserved: zero
 * @route_table_size: LUMEN_ROUTE_TABLE_SIZE
 * @hw_version: HW_VERSION register
 * @serial: the card's serial string, NUL-padded (what the mailbox
 *          identity message reports)
 * @ports: each port, num_ports used
 */
struct lumen_mgmt_info {
	lumen_le32 chip_id;
	unsigned char num_ports;
	unsigned char mkey_set;
	lumen_le16 reserved;
	lumen_le32 route_table_size;
	lumen_le32 hw_version;
	char serial[32];
	struct lumen_mgmt_port_info ports[8];
};
LUMEN_CHECK_SIZE(struct lumen_mgmt_info, 16 + 32 + 96);

/**
 * struct lumen_mgmt_port - ATTR_PORT (attr_mod = port number)
 * @ctrl: CTRL (SET writes ENABLE and DATELINE; GET reads)
 * @state: GET: enum lumen_link_state; SET: ignored
 * @reserved: zero
 * @counters: GET: the port's registers 0x10-0x7c as 32-bit words, in
 *            register order (index = (offset - 0x10) / 4); SET: ignored
 */
struct lumen_mgmt_port {
	lumen_le32 ctrl;
	lumen_le32 state;
	lumen_le64 reserved;
	lumen_le32 counters[28];
};
LUMEN_CHECK_SIZE(struct lumen_mgmt_port, 16 + 112);

/**
 * struct lumen_mgmt_trap_path - ATTR_TRAP_PATH: where traps go
 * @hop_count: 0 = traps off (the reset value)
 * @reserved: zero
 * @path: directed route from this chip to the manager's chip
 */
struct lumen_mgmt_trap_path {
	unsigned char hop_count;
	unsigned char reserved[7];
	unsigned char path[LUMEN_MGMT_MAX_HOPS];
};
LUMEN_CHECK_SIZE(struct lumen_mgmt_trap_path, 24);

/**
 * struct lumen_mgmt_trap - ATTR_TRAP: a port of the sending chip changed
 * @chip_id: chip whose port changed
 * @port: the port
 * @state: its new enum lumen_link_state
 * @reserved: zero
 * @peer_chip: neighbour while UP, else ~0
 * @peer_port: neighbour's port while UP, else ~0
 * @sequence: per-chip trap counter, so a manager can see lost traps
 */
struct lumen_mgmt_trap {
	lumen_le32 chip_id;
	unsigned char port;
	unsigned char state;
	lumen_le16 reserved;
	lumen_le32 peer_chip;
	lumen_le32 peer_port;
	lumen_le32 sequence;
};
LUMEN_CHECK_SIZE(struct lumen_mgmt_trap, 20);

/* struct lumen_mgmt_manager state */
enum lumen_mgmt_manager_state {
	LUMEN_MGMT_MANAGER_NONE = 0,
	LUMEN_MGMT_MANAGER_STANDBY = 1,
	LUMEN_MGMT_MANAGER_MASTER = 2,
};

/**
 * struct lumen_mgmt_manager - ATTR_MANAGER: the fabric manager's record
 * @guid: the manager instance that wrote it, 0 = none
 * @chip_id: chip whose host runs that manager
 * @state: enum lumen_mgmt_manager_state
 * @priority: the manager's election priority (higher wins)
 * @reserved: zero
 * @activity: heartbeat counter the master bumps
 * @sweep: the manager's routing generation
 * @reserved2: zero
 *
 * The chip stores the record and does nothing else with it (like an
 * InfiniBand SMInfo): managers use it to elect one master per fabric. A
 * reset clears it.
 */
struct lumen_mgmt_manager {
	lumen_le64 guid;
	lumen_le32 chip_id;
	unsigned char state;
	unsigned char priority;
	lumen_le16 reserved;
	lumen_le32 activity;
	lumen_le32 sweep;
	lumen_le64 reserved2;
};
LUMEN_CHECK_SIZE(struct lumen_mgmt_manager, 32);
LUMEN_CHECK_OFFSET(struct lumen_mgmt_manager, activity, 16);

#endif /* LUMEN_MGMT_H */
