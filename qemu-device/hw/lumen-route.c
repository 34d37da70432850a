/*
 * Lumen N1 accelerator: packets, route table and forwarding
 * (docs/hw-spec.md 13.4), and the route registers of 13.5.
 *
 * Packets live in LumenPkt buffers (lumen-route.h). Every packet the chip
 * creates or accepts from a link comes here: one for this chip is
 * consumed (management packets by lumen-mgmt.c, the rest by
 * lumen_remote_rx() after the end-to-end checks), a transit packet is
 * looked up in the route table and queued on its output port and VC
 * (lumen-link.c), where it waits for credit while still holding its
 * receive buffer upstream. A packet this chip creates for its own id goes
 * to the local queue and a bottom half hands it over, so
 * lumen_route_send() never re-enters its caller.
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
#define CLASS_MGMT      2

/* lumen_pkt_hdr() points into buf: keep the header 8-byte aligned. */
QEMU_BUILD_BUG_ON(LUMEN_PKT_HEADROOM % 8);
QEMU_BUILD_BUG_ON(offsetof(LumenPkt, buf) % 8);

LumenPkt *lumen_pkt_new(uint32_t len)
{
    LumenPkt *p = g_malloc(sizeof(*p) + LUMEN_PKT_HEADROOM + len);

    /* Bookkeeping, headroom and the packet header start zero. */
    memset(p, 0, sizeof(*p) + LUMEN_PKT_HEADROOM + MIN(len, PKT_HDR_SIZE));
    p->len = len;
    p->in_port = LUMEN_PKT_NO_PORT;
    return p;
}

void lumen_pkt_free(LumenPkt *p)
{
    g_free(p);
}

/*
 * CRCs: one pass over a packet's bytes per chip. LumenPkt.pkt_crc is the
 * CRC-32 of the packet as it is (end-to-end field filled in); the
 * end-to-end CRC (field zero) and every hop's frame CRC are derived from it
 * with zlib's crc32_combine(), which costs a few hundred operations
 * whatever the length.
 */

/*
 * CRC of @len bytes whose CRC is @crc, with the le32 at offset 24 changed
 * from @from to @to: CRC-32 is affine, so equal-length messages that differ
 * in one field differ in their CRCs by that field's difference shifted
 * past the bytes after it.
 */
static uint32_t lumen_crc_swap_field(uint32_t crc, uint32_t from, uint32_t to,
                                     uint32_t len)
{
    uint8_t a[28] = { 0 }, b[28] = { 0 };

    stl_le_p(a + 24, from);
    stl_le_p(b + 24, to);
    return crc ^ crc32_combine(crc32(0L, a, sizeof(a)) ^
                               crc32(0L, b, sizeof(b)), 0, len - 28);
}

/* Fill in the end-to-end CRC of a packet this chip built, and pkt_crc. */
void lumen_pkt_seal(LumenPkt *p)
{
    struct lumen_pkt_hdr *h = lumen_pkt_hdr(p);
    uint32_t e2e;

    h->crc32 = 0;
    e2e = crc32(0L, (uint8_t *)h, p->len);
    h->crc32 = cpu_to_le32(e2e);
    p->pkt_crc = lumen_crc_swap_field(e2e, 0, e2e, p->len);
}

/* The end-to-end check of a packet whose bytes have CRC @pkt_crc. */
bool lumen_pkt_crc_ok(const struct lumen_pkt_hdr *h, uint32_t pkt_crc,
                      uint32_t len)
{
    uint32_t stored = le32_to_cpu(h->crc32);

    return lumen_crc_swap_field(pkt_crc, stored, 0, len) == stored;
}

/* VC class of an op: 0 requests, 1 answers, 2 management; -1 unknown. */
static int lumen_pkt_class(uint8_t op)
{
    switch (op) {
    case LUMEN_PKT_WRITE:
    case LUMEN_PKT_READ_REQ:
    case LUMEN_PKT_ATOMIC:
    case LUMEN_PKT_REDUCE:
        return 0;
    case LUMEN_PKT_ACK:
    case LUMEN_PKT_READ_RESP:
    case LUMEN_PKT_ATOMIC_RESP:
        return 1;
    case LUMEN_PKT_MGMT:
        return CLASS_MGMT;
    default:
        return -1;
    }
}

/*
 * The checks of 13.4 where a packet is consumed: end-to-end CRC, a known
 * op of the class it travelled in, flags zero, and a payload only where
 * one belongs, no longer than the op's bytes of packet pkt. NULL if the
 * packet is fine.
 */
static const char *lumen_pkt_check(const struct lumen_pkt_hdr *h,
                                   uint32_t plen, int class, uint32_t pkt_crc)
{
    uint64_t size, first;

    if (!lumen_pkt_crc_ok(h, pkt_crc, PKT_HDR_SIZE + plen)) {
        return "end-to-end CRC";
    }
    if (lumen_pkt_class(h->op) != class || h->flags) {
        return "op unknown or not of its VC class, or flags set";
    }
    switch (h->op) {
    case LUMEN_PKT_WRITE:
    case LUMEN_PKT_REDUCE:
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

static void lumen_route_bad(LumenState *s, const struct lumen_pkt_hdr *h,
                            const char *why)
{
    s->route.bad_pkts++;
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: packet from chip %u "
                  "op %u dropped: %s\n", s->chip_id,
                  le32_to_cpu(h->src_chip), h->op, why);
    trace_lumen_route_drop(s->chip_id, le32_to_cpu(h->src_chip),
                           le32_to_cpu(h->dst_chip), why);
}

void lumen_route_bad_pkt(LumenState *s, LumenPkt *p, const char *why)
{
    lumen_route_bad(s, lumen_pkt_hdr(p), why);
}

void lumen_route_drop(LumenState *s, LumenPkt *p)
{
    lumen_link_free_credit(s, p);
    lumen_pkt_free(p);
}

/* Check a packet for this chip and hand it to the remote engine. */
static void lumen_route_deliver(LumenState *s, const struct lumen_pkt_hdr *h,
                                const uint8_t *payload, uint32_t plen,
                                int class, uint32_t pkt_crc)
{
    const char *why = lumen_pkt_check(h, plen, class, pkt_crc);

    if (why) {
        lumen_route_bad(s, h, why);
        return;
    }
    lumen_remote_rx(s, h, payload, plen);
}

void lumen_route_consume_in_place(LumenState *s,
                                  const struct lumen_pkt_hdr *hdr,
                                  const uint8_t *payload, uint32_t len,
                                  unsigned int vc, uint32_t pkt_crc)
{
    lumen_route_deliver(s, hdr, payload, len - PKT_HDR_SIZE, vc / 2,
                        pkt_crc);
}

/*
 * A packet for this chip: check it, hand it over, then free its receive
 * buffer (lumen_remote_rx() copies what it keeps).
 */
static void lumen_route_consume(LumenState *s, LumenPkt *p)
{
    lumen_route_deliver(s, lumen_pkt_hdr(p), lumen_pkt_payload(p),
                        p->len - PKT_HDR_SIZE, p->class, p->pkt_crc);
    lumen_route_drop(s, p);
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

/*
 * A request this chip cannot route (no route, TTL out) is answered with
 * UNREACHABLE, so that its source fails fast (13.4 step 4).
 */
static void lumen_route_unreachable(LumenState *s, LumenPkt *p)
{
    struct lumen_pkt_hdr *h = lumen_pkt_hdr(p);
    struct lumen_pkt_hdr a = {
        .src_chip = cpu_to_le32(s->chip_id),
        .dst_chip = h->src_chip,
        .stream = h->stream,
        .epoch = h->epoch,
        .msg = h->msg,
        .pkt = h->pkt,
        .status = LUMEN_STATUS_UNREACHABLE,
        .aop = h->aop,
        .window = h->window,
        .offset = h->offset,
        .size = h->size,
    };

    if (p->class != 0 || p->in_port == LUMEN_PKT_NO_PORT) {
        return;                 /* answers are not answered; ours fail */
    }
    switch (h->op) {
    case LUMEN_PKT_WRITE:
    case LUMEN_PKT_REDUCE:
        a.op = LUMEN_PKT_ACK;
        break;
    case LUMEN_PKT_READ_REQ:
        a.op = LUMEN_PKT_READ_RESP;
        break;
    case LUMEN_PKT_ATOMIC:
        a.op = LUMEN_PKT_ATOMIC_RESP;
        break;
    default:
        return;                 /* not a request: the target drops it */
    }
    /* The answer holds the request's receive buffer until it leaves. */
    s->route.lend = p->credit;
    p->credit.held = false;
    lumen_route_send(s, &a, NULL, 0);
    lumen_link_credit_free(s, &s->route.lend);
}

/*
 * Output port of @p by route word @w (13.4 step 3), or -1: port, else
 * alt_port. A packet on a detour never takes port back out of the port it
 * arrived on (it would bounce): then only alt_port, so it keeps going
 * round the long way.
 */
static int lumen_route_pick(LumenState *s, LumenPkt *p, uint32_t w,
                            bool *alt)
{
    unsigned int port = w & LUMEN_ROUTE_W_PORT_MASK;
    unsigned int altp = (w & LUMEN_ROUTE_W_ALT_MASK) >> LUMEN_ROUTE_W_ALT_SHIFT;
    bool back = (p->in_flags & LUMEN_HOP_F_DETOUR) && port == p->in_port;

    if (!back && lumen_link_port_up(s, port)) {
        *alt = false;
        return port;
    }
    if (lumen_link_port_up(s, altp)) {
        *alt = true;
        return altp;
    }
    return -1;
}

enum lumen_route_verdict {
    ROUTE_QUEUED,
    ROUTE_NO_ROUTE,
    ROUTE_LANE_ERROR,
    ROUTE_FULL,                 /* no room without a receive buffer */
};

/*
 * Route @p (not for this chip, TTL already settled) and queue it on its
 * output port and VC (13.4 steps 3 to 6). On failure @p is left to the
 * caller.
 */
static enum lumen_route_verdict lumen_route_forward(LumenState *s,
                                                    LumenPkt *p)
{
    uint32_t dst = le32_to_cpu(lumen_pkt_hdr(p)->dst_chip);
    bool created = p->in_port == LUMEN_PKT_NO_PORT;
    unsigned int lane;
    uint32_t w;
    bool alt = false;
    bool fixed;
    int port;

    if (dst >= LUMEN_ROUTE_TABLE_SIZE) {
        return ROUTE_NO_ROUTE;
    }
    w = s->route.table[dst];
    if (!(w & LUMEN_ROUTE_W_VALID)) {
        return ROUTE_NO_ROUTE;
    }
    port = lumen_route_pick(s, p, w, &alt);
    if (port < 0) {
        return ROUTE_NO_ROUTE;
    }
    fixed = w & LUMEN_ROUTE_W_FIXED_LANE;
    if (fixed || created || port / 2 != p->in_port / 2 ||
        port == p->in_port) {
        lane = (w & LUMEN_ROUTE_W_LANE_MASK) >> LUMEN_ROUTE_W_LANE_SHIFT;
    } else {
        lane = p->in_vc & 1;    /* keeps its lane through the dimension */
    }
    if (!fixed && (s->link.ports[port].ctrl & LUMEN_LCTRL_DATELINE)) {
        lane++;
    }
    if (lane >= LUMEN_LINK_LANES) {
        return ROUTE_LANE_ERROR;
    }
    p->vc = 2 * p->class + lane;
    p->detour = (p->in_flags & LUMEN_HOP_F_DETOUR) || alt;
    if (!lumen_link_enqueue(s, port, p)) {
        return ROUTE_FULL;
    }
    if (alt) {
        s->link.ports[port].failovers++;
    }
    return ROUTE_QUEUED;
}

/* A packet accepted from a link: consume, or forward with TTL - 1. */
void lumen_route_rx(LumenState *s, LumenPkt *p)
{
    struct lumen_pkt_hdr *h = lumen_pkt_hdr(p);
    uint32_t dst = le32_to_cpu(h->dst_chip);

    p->class = p->in_vc == LUMEN_VC_MGMT ? CLASS_MGMT : p->in_vc / 2;
    if (p->class == CLASS_MGMT) {
        lumen_mgmt_rx(s, p);
        return;
    }
    if (dst == s->chip_id) {
        lumen_route_consume(s, p);
        return;
    }
    if (!p->ttl) {
        s->route.ttl_drops++;
        s->link.ports[p->in_port].ttl_drops++;
        trace_lumen_route_drop(s->chip_id, le32_to_cpu(h->src_chip), dst,
                               "TTL ran out");
        lumen_route_unreachable(s, p);
        lumen_route_drop(s, p);
        return;
    }
    p->ttl--;
    switch (lumen_route_forward(s, p)) {
    case ROUTE_QUEUED:
        s->route.fwd_pkts++;
        return;
    case ROUTE_NO_ROUTE:
    case ROUTE_FULL:            /* not for a packet holding its buffer */
        s->route.no_route_drops++;
        trace_lumen_route_drop(s->chip_id, le32_to_cpu(h->src_chip), dst,
                               "no route");
        lumen_route_unreachable(s, p);
        break;
    case ROUTE_LANE_ERROR:
        s->route.lane_errors++;
        trace_lumen_route_drop(s->chip_id, le32_to_cpu(h->src_chip), dst,
                               "lane past the last");
        break;
    }
    lumen_route_drop(s, p);
}

/*
 * A packet of a port that left UP, looked up again (13.3). Management
 * packets follow their directed path, which is gone: dropped. So is one
 * that holds no receive buffer when its new port already has
 * LUMEN_LINK_OWN_MAX such packets waiting: port flaps must not pile up
 * packets that nothing upstream bounds.
 */
void lumen_route_reroute(LumenState *s, LumenPkt *p)
{
    p->stalled = false;
    if (p->class != CLASS_MGMT &&
        lumen_route_forward(s, p) == ROUTE_QUEUED) {
        return;
    }
    s->route.reroute_drops++;
    trace_lumen_route_drop(s->chip_id,
                           le32_to_cpu(lumen_pkt_hdr(p)->src_chip),
                           le32_to_cpu(lumen_pkt_hdr(p)->dst_chip),
                           "no way out after the port left UP");
    lumen_route_drop(s, p);
}

uint32_t lumen_route_send(LumenState *s, struct lumen_pkt_hdr *hdr,
                          const void *payload, uint32_t len)
{
    uint32_t dst = le32_to_cpu(hdr->dst_chip);
    enum lumen_route_verdict v;
    LumenPkt *p;
    int class = lumen_pkt_class(hdr->op);

    if (len > LUMEN_PKT_PAYLOAD_MAX || class < 0 || class == CLASS_MGMT) {
        return LUMEN_STATUS_BAD_ARGUMENT;   /* a bug of the caller */
    }
    p = lumen_pkt_new(PKT_HDR_SIZE + len);
    memcpy(lumen_pkt_hdr(p), hdr, PKT_HDR_SIZE);
    if (len) {
        memcpy(lumen_pkt_payload(p), payload, len);
    }
    lumen_pkt_seal(p);
    hdr->crc32 = lumen_pkt_hdr(p)->crc32;
    p->class = class;
    p->ttl = s->route.ttl_default;
    if (class == 1) {
        /* An answer: it takes over its request's receive buffer, if any. */
        p->credit = s->route.lend;
        s->route.lend.held = false;
    }

    if (dst == s->chip_id) {
        QTAILQ_INSERT_TAIL(&s->route.local, p, next);
        qemu_bh_schedule(s->route.local_bh);
        return LUMEN_STATUS_OK;
    }
    v = lumen_route_forward(s, p);
    if (v == ROUTE_QUEUED) {
        return LUMEN_STATUS_OK;
    }
    if (v == ROUTE_FULL) {
        /* Not sent, not lost: the caller sends it again later. */
        lumen_route_drop(s, p);
        return LUMEN_STATUS_BUSY;
    }
    if (v == ROUTE_LANE_ERROR) {
        s->route.lane_errors++;
    } else {
        s->route.no_route_drops++;
    }
    trace_lumen_route_drop(s->chip_id, s->chip_id, dst,
                           v == ROUTE_LANE_ERROR ? "lane past the last" :
                           "no route");
    lumen_route_drop(s, p);
    return LUMEN_STATUS_UNREACHABLE;
}

/* ---- Registers (13.5) ---------------------------------------------------- */

bool lumen_route_reg_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenRoute *r = &s->route;

    switch (addr) {
    case LUMEN_REG_ROUTE_INDEX:
        *val = r->index;
        return true;
    case LUMEN_REG_ROUTE_ENTRY:
        *val = r->table[r->index];
        return true;
    case LUMEN_REG_ROUTE_SIZE:
        *val = LUMEN_ROUTE_TABLE_SIZE;
        return true;
    case LUMEN_REG_LINK_CHIP_ID:
        *val = s->chip_id;
        return true;
    case LUMEN_REG_TTL_DEFAULT:
        *val = r->ttl_default;
        return true;
    case LUMEN_REG_FWD_PKTS_LO:
        *val = (uint32_t)r->fwd_pkts;
        return true;
    case LUMEN_REG_FWD_PKTS_HI:
        *val = r->fwd_pkts >> 32;
        return true;
    case LUMEN_REG_NO_ROUTE_DROPS:
        *val = r->no_route_drops;
        return true;
    case LUMEN_REG_TTL_DROPS:
        *val = r->ttl_drops;
        return true;
    case LUMEN_REG_LANE_ERRORS:
        *val = r->lane_errors;
        return true;
    case LUMEN_REG_REROUTE_DROPS:
        *val = r->reroute_drops;
        return true;
    case LUMEN_REG_BAD_PKTS:
        /* Those of the remote engine too (lumen_remote_rx()'s checks). */
        *val = r->bad_pkts + lumen_remote_bad_pkts(s);
        return true;
    default:
        return false;
    }
}

bool lumen_route_reg_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenRoute *r = &s->route;
    uint32_t dummy;

    switch (addr) {
    case LUMEN_REG_ROUTE_INDEX:
        if (val >= LUMEN_ROUTE_TABLE_SIZE) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "ROUTE_INDEX beyond the table");
            return true;
        }
        r->index = val;
        return true;
    case LUMEN_REG_ROUTE_ENTRY:
        if (val & LUMEN_ROUTE_W_RESERVED) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "route word reserved bits set");
            return true;
        }
        r->table[r->index] = val;
        r->index = (r->index + 1) % LUMEN_ROUTE_TABLE_SIZE;
        return true;
    case LUMEN_REG_TTL_DEFAULT:
        if (val < 1 || val > LUMEN_LINK_TTL_MAX) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "TTL_DEFAULT outside 1..63");
            return true;
        }
        r->ttl_default = val;
        return true;
    default:
        if (!lumen_route_reg_read(s, addr, &dummy)) {
            return false;
        }
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    }
}

/* ---- Life cycle ---------------------------------------------------------- */

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

/* Migrated registers: what no register write could have produced fails. */
bool lumen_route_post_load(LumenState *s)
{
    LumenRoute *r = &s->route;
    unsigned int i;

    if (r->index >= LUMEN_ROUTE_TABLE_SIZE || r->ttl_default < 1 ||
        r->ttl_default > LUMEN_LINK_TTL_MAX) {
        return false;
    }
    for (i = 0; i < LUMEN_ROUTE_TABLE_SIZE; i++) {
        if (r->table[i] & LUMEN_ROUTE_W_RESERVED) {
            return false;
        }
    }
    return true;
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
    r->lend.held = false;
}
