/*
 * Lumen N1 accelerator: packets, route table and forwarding
 * (docs/hw-spec.md 13.4).
 *
 * Packets live in LumenPkt buffers (lumen-route.h). A packet this chip
 * creates for its own id goes to the local queue and a bottom half hands
 * it to the consumer, so lumen_route_send() never re-enters its caller.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include <zlib.h>
#include "lumen-npu.h"
#include "trace.h"

#define PKT_HDR_SIZE    ((uint32_t)sizeof(struct lumen_pkt_hdr))

LumenPkt *lumen_pkt_new(uint32_t len)
{
    LumenPkt *p = g_malloc(sizeof(*p) + LUMEN_PKT_HEADROOM + len);

    memset(p, 0, sizeof(*p) + LUMEN_PKT_HEADROOM);
    p->len = len;
    p->in_port = LUMEN_PKT_NO_PORT;
    return p;
}

void lumen_pkt_free(LumenPkt *p)
{
    g_free(p);
}

/* End-to-end CRC: the 64-byte header with crc32 zero, then the payload. */
static uint32_t lumen_pkt_crc(const uint8_t *pkt, uint32_t len)
{
    static const uint8_t zero[4];
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, pkt, 24);
    crc = crc32(crc, zero, sizeof(zero));
    crc = crc32(crc, pkt + 28, len - 28);
    return crc;
}

/* VC class of an op: 0 requests, 1 answers, 2 management; -1 unknown. */
static int lumen_pkt_class(uint8_t op)
{
    switch (op) {
    case LUMEN_PKT_WRITE:
    case LUMEN_PKT_READ_REQ:
    case LUMEN_PKT_ATOMIC:
        return 0;
    case LUMEN_PKT_ACK:
    case LUMEN_PKT_READ_RESP:
    case LUMEN_PKT_ATOMIC_RESP:
        return 1;
    case LUMEN_PKT_MGMT:
        return 2;
    default:
        return -1;
    }
}

/*
 * The checks of 13.4 where a packet is consumed: end-to-end CRC, a known
 * op, flags zero, and a payload only where one belongs, no longer than the
 * op's bytes of packet pkt. NULL if the packet is fine.
 */
static const char *lumen_pkt_check(LumenPkt *p)
{
    struct lumen_pkt_hdr *h = lumen_pkt_hdr(p);
    uint32_t plen = p->len - PKT_HDR_SIZE;
    uint64_t size, first;

    if (le32_to_cpu(h->crc32) != lumen_pkt_crc((uint8_t *)h, p->len)) {
        return "end-to-end CRC";
    }
    if (lumen_pkt_class(h->op) < 0 || h->flags) {
        return "unknown op or flags";
    }
    switch (h->op) {
    case LUMEN_PKT_WRITE:
    case LUMEN_PKT_READ_RESP:
        size = le64_to_cpu(h->size);
        first = (uint64_t)le32_to_cpu(h->pkt) * LUMEN_PKT_PAYLOAD_MAX;
        if (first >= size ? plen != 0 :
            plen > MIN(size - first, LUMEN_PKT_PAYLOAD_MAX)) {
            return "payload longer than its packet";
        }
        return NULL;
    case LUMEN_PKT_MGMT:
        return NULL;
    default:
        return plen ? "payload on an op without one" : NULL;
    }
}

static void lumen_route_bad_pkt(LumenState *s, LumenPkt *p, const char *why)
{
    struct lumen_pkt_hdr *h = lumen_pkt_hdr(p);

    s->route.bad_pkts++;
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: packet from chip %u "
                  "op %u dropped: %s\n", s->chip_id,
                  le32_to_cpu(h->src_chip), h->op, why);
    trace_lumen_route_drop(s->chip_id, le32_to_cpu(h->src_chip),
                           le32_to_cpu(h->dst_chip), why);
}

/* A packet for this chip: check it, hand it over, free it. */
static void lumen_route_consume(LumenState *s, LumenPkt *p)
{
    const char *why = lumen_pkt_check(p);

    if (why) {
        lumen_route_bad_pkt(s, p, why);
    } else if (lumen_pkt_hdr(p)->op != LUMEN_PKT_MGMT) {
        lumen_remote_rx(s, lumen_pkt_hdr(p), lumen_pkt_payload(p),
                        p->len - PKT_HDR_SIZE);
    }
    lumen_pkt_free(p);
}

static void lumen_route_local_bh(void *opaque)
{
    LumenState *s = opaque;
    uint32_t gen = s->reset_gen;
    LumenPkt *p;

    while ((p = QTAILQ_FIRST(&s->route.local)) != NULL &&
           s->reset_gen == gen) {
        QTAILQ_REMOVE(&s->route.local, p, next);
        lumen_route_consume(s, p);
    }
}

uint32_t lumen_route_send(LumenState *s, struct lumen_pkt_hdr *hdr,
                          const void *payload, uint32_t len)
{
    uint32_t dst = le32_to_cpu(hdr->dst_chip);
    LumenPkt *p;

    if (len > LUMEN_PKT_PAYLOAD_MAX || lumen_pkt_class(hdr->op) < 0 ||
        hdr->op == LUMEN_PKT_MGMT) {
        return LUMEN_STATUS_BAD_ARGUMENT;   /* a bug of the caller */
    }
    p = lumen_pkt_new(PKT_HDR_SIZE + len);
    hdr->crc32 = 0;
    memcpy(lumen_pkt_hdr(p), hdr, PKT_HDR_SIZE);
    if (len) {
        memcpy(lumen_pkt_payload(p), payload, len);
    }
    hdr->crc32 = cpu_to_le32(lumen_pkt_crc((uint8_t *)lumen_pkt_hdr(p),
                                           p->len));
    lumen_pkt_hdr(p)->crc32 = hdr->crc32;
    p->class = lumen_pkt_class(hdr->op);

    if (dst == s->chip_id) {
        QTAILQ_INSERT_TAIL(&s->route.local, p, next);
        qemu_bh_schedule(s->route.local_bh);
        return LUMEN_STATUS_OK;
    }
    /* Forwarding is not in yet: nothing leaves this chip. */
    s->route.no_route_drops++;
    lumen_pkt_free(p);
    return LUMEN_STATUS_UNREACHABLE;
}

/* ---- Life cycle ------------------------------------------------------------ */

static void lumen_route_flush(LumenPktQueue *q)
{
    LumenPkt *p;

    while ((p = QTAILQ_FIRST(q)) != NULL) {
        QTAILQ_REMOVE(q, p, next);
        lumen_pkt_free(p);
    }
}

void lumen_route_init(LumenState *s)
{
    QTAILQ_INIT(&s->route.local);
    s->route.local_bh = qemu_bh_new_guarded(lumen_route_local_bh, s,
                                            &DEVICE(s)->mem_reentrancy_guard);
}

void lumen_route_exit(LumenState *s)
{
    lumen_route_flush(&s->route.local);
    qemu_bh_delete(s->route.local_bh);
    s->route.local_bh = NULL;
}

/* Table, counters and every packet held: gone (13.5, 13.8). */
void lumen_route_reset(LumenState *s)
{
    LumenRoute *r = &s->route;

    if (r->local_bh) {
        qemu_bh_cancel(r->local_bh);
    }
    lumen_route_flush(&r->local);
    memset(r->table, 0, sizeof(r->table));
    r->index = 0;
    r->ttl_default = LUMEN_LINK_TTL_DEFAULT;
    r->fwd_pkts = 0;
    r->no_route_drops = r->ttl_drops = r->lane_errors = 0;
    r->reroute_drops = r->bad_pkts = 0;
}
