/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 emulation: the fiber between one card port and lumen-fabric.
 *
 * Not part of the card's programming model: this is how the emulation
 * carries a port's light and frames. Each optical port of each emulated card
 * is a stream socket (the QEMU chardev is the client, lumen-fabric the
 * server). Both directions carry records: a struct lumen_fiber_hdr followed by
 * exactly hdr.len payload bytes. All fields are little-endian.
 *
 * port -> fabric: HELLO once, first; then DATA.
 * fabric -> port: HELLO_ACK once, in answer to HELLO; then LIGHT and DATA.
 *
 * The fabric carries DATA payloads to the port this one is patched to,
 * whole and in order; it never interprets them, it only flips payload bits
 * (bit-error rate) or drops whole frames (loss, or no light). LIGHT says the
 * fiber went dark or lit up; the socket closing says the fabric process died,
 * a different event. A malformed record makes the fabric close the socket;
 * the chardev reconnects and starts again with HELLO. docs/hw-spec.md 13.1.
 */
#ifndef LUMEN_FIBER_H
#define LUMEN_FIBER_H

#include "lumen_types.h"

#define LUMEN_FIBER_MAGIC		0x464c	/* "LF" in memory order */
#define LUMEN_FIBER_VERSION		1

/*
 * Largest DATA payload: one 4 KiB data block plus up to 512 bytes of
 * link-layer and end-to-end headers. The fabric closes a socket that sends
 * more; a link layer never needs a frame larger than this.
 */
#define LUMEN_FIBER_MAX_PAYLOAD		(4096 + 512)

/* Record types. */
enum lumen_fiber_type {
	LUMEN_FIBER_HELLO = 1,		/* port -> fabric: struct lumen_fiber_hello */
	LUMEN_FIBER_HELLO_ACK = 2,	/* fabric -> port: struct lumen_fiber_hello_ack */
	LUMEN_FIBER_LIGHT = 3,		/* fabric -> port: struct lumen_fiber_light */
	LUMEN_FIBER_DATA = 4,		/* both ways: 1..LUMEN_FIBER_MAX_PAYLOAD opaque bytes */
};

/**
 * struct lumen_fiber_hdr - header of every record
 * @magic: LUMEN_FIBER_MAGIC
 * @version: LUMEN_FIBER_VERSION
 * @type: enum lumen_fiber_type
 * @flags: must be zero (no flags are defined in version 1)
 * @reserved: must be zero
 * @len: payload bytes that follow this header
 */
struct lumen_fiber_hdr {
	lumen_le16 magic;
	unsigned char version;
	unsigned char type;
	lumen_le16 flags;
	lumen_le16 reserved;
	lumen_le32 len;
	lumen_le32 reserved2;
};
LUMEN_CHECK_SIZE(struct lumen_fiber_hdr, 16);
LUMEN_CHECK_OFFSET(struct lumen_fiber_hdr, type, 3);
LUMEN_CHECK_OFFSET(struct lumen_fiber_hdr, len, 8);

/**
 * struct lumen_fiber_hello - HELLO payload: which port this socket is
 * @chip_id: the card's chip id (unique in the supernode)
 * @port: port number, < LUMEN_LINK_PORTS_MAX (0..5 = +x -x +y -y +z -z)
 * @num_ports: the card's number of link ports (informational)
 * @reserved: must be zero
 */
struct lumen_fiber_hello {
	lumen_le32 chip_id;
	unsigned char port;
	unsigned char num_ports;
	lumen_le16 reserved;
};
LUMEN_CHECK_SIZE(struct lumen_fiber_hello, 8);

/* HELLO_ACK status: anything but OK is followed by the fabric closing. */
enum lumen_fiber_status {
	LUMEN_FIBER_OK = 0,
	LUMEN_FIBER_BAD_VERSION = 1,	/* header version not supported */
	LUMEN_FIBER_BAD_HELLO = 2,	/* wrong payload length or port number */
	LUMEN_FIBER_BUSY = 3,		/* another socket already is this chip.port */
};

/* The fiber id of a port that is not patched to anything. */
#define LUMEN_FIBER_ID_NONE		0xffffffffu

/**
 * struct lumen_fiber_hello_ack - HELLO_ACK payload
 * @status: enum lumen_fiber_status
 * @light: 1 if the fiber is lit now, else 0 (later changes come as LIGHT)
 * @reserved: must be zero
 * @fiber_id: the fabric's id of this port's fiber, LUMEN_FIBER_ID_NONE if none
 * @max_payload: LUMEN_FIBER_MAX_PAYLOAD of the fabric
 */
struct lumen_fiber_hello_ack {
	lumen_le32 status;
	unsigned char light;
	unsigned char reserved[3];
	lumen_le32 fiber_id;
	lumen_le32 max_payload;
};
LUMEN_CHECK_SIZE(struct lumen_fiber_hello_ack, 16);

/* Why the light changed: for logs and counters only, never for behaviour. */
enum lumen_fiber_light_reason {
	LUMEN_FIBER_LIGHT_CUT = 1,		/* cut on the control socket */
	LUMEN_FIBER_LIGHT_RESTORE = 2,		/* restored on the control socket */
	LUMEN_FIBER_LIGHT_PEER_UP = 3,		/* the far port connected */
	LUMEN_FIBER_LIGHT_PEER_DOWN = 4,	/* the far port disconnected */
	LUMEN_FIBER_LIGHT_REPATCH = 5,		/* OCS re-patch: new fiber, new peer */
};

/**
 * struct lumen_fiber_light - LIGHT payload
 * @on: 1 = light (frames pass), 0 = dark (frames are lost)
 * @reason: enum lumen_fiber_light_reason
 * @reserved: must be zero
 * @fiber_id: the port's fiber after the change, LUMEN_FIBER_ID_NONE if none
 */
struct lumen_fiber_light {
	unsigned char on;
	unsigned char reason;
	lumen_le16 reserved;
	lumen_le32 fiber_id;
};
LUMEN_CHECK_SIZE(struct lumen_fiber_light, 8);

#endif /* LUMEN_FIBER_H */
