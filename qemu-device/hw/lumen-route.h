/*
 * Lumen N1 accelerator: packets, route table and forwarding
 * (docs/hw-spec.md 13.4), lumen-route.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_ROUTE_H
#define HW_MISC_LUMEN_ROUTE_H

#include "qemu/queue.h"
#include "lumen/lumen_remote.h"
#include "lumen/lumen_link.h"

typedef struct LumenState LumenState;
typedef struct LumenLinkPort LumenLinkPort;

/*
 * A packet held by the chip: created here, or received and not yet
 * consumed or forwarded. One allocation carries the fiber record header,
 * the per-hop DATA header and the packet, so that a frame goes to the
 * socket with one copy and the packet is never copied between hops.
 */
#define LUMEN_PKT_HEADROOM      (16 + 32)   /* fiber record + hop header */
#define LUMEN_PKT_NO_PORT       0xff        /* created here: no input port */

/*
 * A receive buffer of a link port (13.3). Freeing it grants the neighbour
 * one more frame on its VC, unless the port retrained since.
 */
typedef struct LumenCredit {
    bool held;
    uint8_t port;
    uint8_t vc;
    uint32_t gen;                   /* the port's GENERATION when taken */
} LumenCredit;

typedef struct LumenPkt {
    QTAILQ_ENTRY(LumenPkt) next;    /* the one queue that holds it */
    uint32_t len;                   /* packet bytes (e2e header + payload) */
    uint32_t seq;                   /* hop seq while in a replay buffer */
    uint32_t pkt_crc;               /* zlib CRC-32 of the packet bytes as is */
    uint8_t in_port;                /* LUMEN_PKT_NO_PORT if created here */
    uint8_t in_vc;                  /* VC it arrived on */
    uint8_t in_flags;               /* hop flags it arrived with */
    uint8_t ttl;                    /* TTL it leaves with */
    uint8_t class;                  /* 0 requests, 1 answers, 2 management */
    uint8_t vc;                     /* output VC once routed */
    /*
     * The receive buffer it occupies until it leaves: the one it arrived
     * in, or for an answer this chip created, its request's.
     */
    LumenCredit credit;
    bool stalled;                   /* counted in CREDIT_STALLS already */
    bool sent;                      /* written to the fiber at least once */
    bool detour;                    /* leaves with LUMEN_HOP_F_DETOUR */
    /*
     * LUMEN_PKT_HEADROOM (a multiple of 8), then the packet: its header
     * (u64 fields) is used in place, so buf is 8-byte aligned.
     */
    uint8_t buf[] QEMU_ALIGNED(8);
} LumenPkt;

typedef QTAILQ_HEAD(, LumenPkt) LumenPktQueue;

static inline struct lumen_pkt_hdr *lumen_pkt_hdr(LumenPkt *p)
{
    return (struct lumen_pkt_hdr *)(p->buf + LUMEN_PKT_HEADROOM);
}

static inline uint8_t *lumen_pkt_payload(LumenPkt *p)
{
    return p->buf + LUMEN_PKT_HEADROOM + sizeof(struct lumen_pkt_hdr);
}

/* Route table, chip counters and the local delivery queue. */
typedef struct LumenRoute {
    uint32_t table[LUMEN_ROUTE_TABLE_SIZE];
    uint32_t index;                 /* ROUTE_INDEX */
    uint32_t ttl_default;           /* TTL_DEFAULT */
    uint64_t fwd_pkts;
    uint32_t no_route_drops;
    uint32_t ttl_drops;
    uint32_t lane_errors;
    uint32_t reroute_drops;
    uint32_t bad_pkts;
    LumenPktQueue local;            /* created for this chip: BH delivers */
    QEMUBH *local_bh;
    /*
     * The receive buffer of the request being consumed: the answer this
     * chip creates for it takes it over, so that a target whose answers
     * cannot leave stops granting request credit (13.3).
     */
    LumenCredit lend;
} LumenRoute;

void lumen_route_init(LumenState *s);
void lumen_route_exit(LumenState *s);
void lumen_route_reset(LumenState *s);
bool lumen_route_post_load(LumenState *s);
bool lumen_route_reg_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_route_reg_write(LumenState *s, hwaddr addr, uint32_t val);

LumenPkt *lumen_pkt_new(uint32_t len);
void lumen_pkt_free(LumenPkt *p);
void lumen_pkt_seal(LumenPkt *p);
bool lumen_pkt_crc_ok(const struct lumen_pkt_hdr *h, uint32_t pkt_crc,
                      uint32_t len);

/* A packet accepted from a link (lumen-link.c): consume or forward it. */
void lumen_route_rx(LumenState *s, LumenPkt *p);
/*
 * A packet for this chip accepted from a link on data VC @vc, consumed in
 * place from the receive buffer (no copy): @hdr is an aligned copy of its
 * header, @payload points into the buffer, @pkt_crc is the CRC-32 of the
 * packet bytes as received.
 */
void lumen_route_consume_in_place(LumenState *s,
                                  const struct lumen_pkt_hdr *hdr,
                                  const uint8_t *payload, uint32_t len,
                                  unsigned int vc, uint32_t pkt_crc);
/* A packet a port held when it left UP: route it again or drop it. */
void lumen_route_reroute(LumenState *s, LumenPkt *p);
/* Drop a packet (its receive buffer, if any, is freed). */
void lumen_route_drop(LumenState *s, LumenPkt *p);
/* Count a packet dropped where it was consumed (BAD_PKTS) and log why. */
void lumen_route_bad_pkt(LumenState *s, LumenPkt *p, const char *why);

/*
 * Send a packet this chip creates: fills in hdr->crc32 (end-to-end CRC),
 * copies header and payload, and routes it like any packet (13.4). The VC
 * class follows hdr->op. Returns LUMEN_STATUS_OK when the packet is on its
 * way (queued; credits and links may still delay it), or
 * LUMEN_STATUS_UNREACHABLE when this chip has no route to hdr->dst_chip
 * (nothing queued), or LUMEN_STATUS_BUSY when it holds no receive buffer
 * and its port already has LUMEN_LINK_OWN_MAX such packets waiting on its
 * VC (nothing queued; lumen_engine_kick() follows when one of them
 * leaves). A packet for this chip's own id is delivered to
 * lumen_remote_rx() from a bottom half, never from inside this call. An
 * answer sent while a request from a link is consumed takes over that
 * request's receive buffer (LumenRoute.lend).
 */
uint32_t lumen_route_send(LumenState *s, struct lumen_pkt_hdr *hdr,
                          const void *payload, uint32_t len);

#endif /* HW_MISC_LUMEN_ROUTE_H */
