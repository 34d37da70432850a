/*
 * Lumen N1 accelerator: optical link ports, training and the reliable link
 * layer (docs/hw-spec.md 13.1 to 13.3).
 *
 * Each port N < link-ports may have a chardev (property "portN"), a client
 * socket to lumen-fabric, the host process that plays the fibers. The port
 * speaks the record protocol of lumen_fiber.h on it: HELLO on every
 * connect, then HELLO_ACK, LIGHT and DATA records from the fabric, DATA to
 * it. Light off and the socket closing both mean "no light".
 *
 * Writes never block: records go to a per-port transmit queue that is
 * drained with qemu_chr_fe_write() and resumed by qemu_chr_fe_add_watch().
 * The port keeps reading in every state (can_read is the free space of the
 * receive buffer) and discards what it cannot use. A malformed record
 * desynchronises the byte stream: it is logged, the port goes DOWN and
 * discards everything until the socket reconnects.
 *
 * Training runs over DATA frames (struct lumen_link_train, CRC-32) on
 * QEMU_CLOCK_REALTIME timers: separate QEMUs share no virtual clock. A port
 * that is enabled (CTRL.ENABLE) and lit trains: it sends its identity and
 * generation every LUMEN_LINK_TRAIN_MS, records its neighbour's, and is UP
 * once the neighbour's frame says it has heard this port's current
 * generation. While UP it sends a keepalive every LUMEN_LINK_KEEPALIVE_MS;
 * no valid frame for LUMEN_LINK_DEAD_MS, or a neighbour that changed
 * identity or generation or forgot this port, retrains it.
 *
 * The reliable link layer (13.3) carries packets (LumenPkt, lumen-route.h)
 * in DATA frames while UP: per-hop sequence numbers, cumulative ACKs, one
 * pending NAK, a go-back-N replay buffer with a replay timer, and
 * cumulative credits per virtual channel. A packet gets its sequence
 * number only once its VC has credit; until then it waits in the port's
 * queue of that VC, so a VC without credit never holds back another. The
 * replay buffer doubles as the transmit backlog: frames are written from
 * it while the socket's queue has room (tx_next). When the port leaves UP
 * everything it holds is handed back to lumen-route.c to be rerouted.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "migration/blocker.h"
#include "chardev/char-fe.h"
#include <zlib.h>
#include "lumen-npu.h"
#include "trace.h"

#define FIBER_HDR_SIZE      ((uint32_t)sizeof(struct lumen_fiber_hdr))
#define DATA_HDR_SIZE       ((uint32_t)sizeof(struct lumen_link_data_hdr))
#define PKT_HDR_SIZE        ((uint32_t)sizeof(struct lumen_pkt_hdr))
#define LINK_REG_END        (LUMEN_REG_LINK_BASE + \
                             LUMEN_LINK_PORTS_MAX * LUMEN_REG_LINK_STRIDE)

static int64_t lumen_link_now_ms(void)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

/* Frame CRC: zlib's CRC-32 (lumen_crc32()'s) with the field at 24 zero. */
static uint32_t lumen_link_frame_crc(const uint8_t *buf, uint32_t len)
{
    static const uint8_t zero[4];
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, buf, LUMEN_LINK_CRC_OFFSET);
    crc = crc32(crc, zero, sizeof(zero));
    return crc32(crc, buf + LUMEN_LINK_CRC_OFFSET + 4,
                 len - LUMEN_LINK_CRC_OFFSET - 4);
}

/* ---- Transmit ------------------------------------------------------------ */

static void lumen_link_flush(LumenLinkPort *lp);
static void lumen_link_pump(LumenLinkPort *lp);

static gboolean lumen_link_tx_ready(void *do_not_use, GIOCondition cond,
                                    void *opaque)
{
    LumenLinkPort *lp = opaque;

    lp->tx_watch = 0;
    lumen_link_flush(lp);
    lumen_link_pump(lp);
    return G_SOURCE_REMOVE;
}

static void lumen_link_tx_drop(LumenLinkPort *lp)
{
    if (lp->tx_watch) {
        g_source_remove(lp->tx_watch);
        lp->tx_watch = 0;
    }
    g_byte_array_set_size(lp->txq, 0);
}

/* Write what the socket takes now; wait for G_IO_OUT for the rest. */
static void lumen_link_flush(LumenLinkPort *lp)
{
    while (lp->txq->len && !lp->tx_watch) {
        int n = qemu_chr_fe_write(&lp->chr, lp->txq->data, lp->txq->len);

        if (n > 0) {
            g_byte_array_remove_range(lp->txq, 0, n);
            continue;
        }
        if (n < 0 && errno != EAGAIN) {
            /* Not connected (any more): CHR_EVENT_CLOSED follows. */
            g_byte_array_set_size(lp->txq, 0);
            return;
        }
        lp->tx_watch = qemu_chr_fe_add_watch(&lp->chr, G_IO_OUT | G_IO_HUP,
                                             lumen_link_tx_ready, lp);
        if (!lp->tx_watch) {
            g_byte_array_set_size(lp->txq, 0);
        }
    }
}

/*
 * Queue one whole record (header included) unless the transmit queue
 * would pass @limit; false if the port is not connected or full. An idle
 * queue writes straight from @rec, so a frame is copied at most once.
 */
static bool lumen_link_put(LumenLinkPort *lp, const uint8_t *rec,
                           uint32_t len, uint32_t limit)
{
    int n = 0;

    if (!lp->connected || lp->txq->len + len > limit) {
        return false;
    }
    if (!lp->txq->len && !lp->tx_watch) {
        n = qemu_chr_fe_write(&lp->chr, rec, len);
        if (n < 0 && errno != EAGAIN) {
            return true;        /* lost with the connection */
        }
        n = MAX(n, 0);
        if ((uint32_t)n == len || !lp->connected) {
            return true;
        }
    }
    g_byte_array_append(lp->txq, rec + n, len - n);
    lumen_link_flush(lp);
    return true;
}

static void lumen_link_fiber_hdr(uint8_t *rec, uint8_t type, uint32_t len)
{
    struct lumen_fiber_hdr h = {
        .magic = cpu_to_le16(LUMEN_FIBER_MAGIC),
        .version = LUMEN_FIBER_VERSION,
        .type = type,
        .len = cpu_to_le32(len),
    };

    memcpy(rec, &h, sizeof(h));
}

static bool lumen_link_send_record(LumenLinkPort *lp, uint8_t type,
                                   const void *payload, uint32_t len)
{
    uint8_t rec[FIBER_HDR_SIZE + 64];

    assert(len <= sizeof(rec) - FIBER_HDR_SIZE);
    lumen_link_fiber_hdr(rec, type, len);
    memcpy(rec + FIBER_HDR_SIZE, payload, len);
    return lumen_link_put(lp, rec, FIBER_HDR_SIZE + len, LUMEN_LINK_TXQ_MAX);
}

/* A link-control frame (TRAIN, ACK, NAK): no credit, never replayed. */
static void lumen_link_send_frame(LumenLinkPort *lp, const void *frame,
                                  uint32_t len)
{
    if (!lp->attached || !lp->lit) {
        return;
    }
    if (lumen_link_send_record(lp, LUMEN_FIBER_DATA, frame, len)) {
        lp->tx_frames++;
        lp->tx_bytes += len;
    }
}

static void lumen_link_send_train(LumenLinkPort *lp)
{
    LumenState *s = lp->s;
    struct lumen_link_train t = {
        .magic = cpu_to_le16(LUMEN_LINK_MAGIC),
        .type = LUMEN_LINK_FRAME_TRAIN,
        .chip_id = cpu_to_le32(s->chip_id),
        .port = lp->index,
        .num_ports = s->num_link_ports,
        .generation = cpu_to_le32(lp->generation),
    };
    uint16_t flags = 0;

    if (lp->heard) {
        flags |= LUMEN_TRAIN_F_HEARD;
        t.peer_chip = cpu_to_le32(lp->peer_chip);
        t.peer_port = lp->peer_port;
        t.peer_generation = cpu_to_le32(lp->peer_gen);
    }
    if (lp->state == LUMEN_LINK_UP) {
        flags |= LUMEN_TRAIN_F_UP;
    }
    t.flags = cpu_to_le16(flags);
    t.crc32 = cpu_to_le32(lumen_link_frame_crc((uint8_t *)&t, sizeof(t)));
    lumen_link_send_frame(lp, &t, sizeof(t));
}

/* ACK or NAK: cumulative next_seq and credit limits. */
static void lumen_link_send_ack(LumenLinkPort *lp, uint8_t type)
{
    struct lumen_link_ack a = {
        .magic = cpu_to_le16(LUMEN_LINK_MAGIC),
        .type = type,
        .next_seq = cpu_to_le32(lp->rx_seq),
        .generation = cpu_to_le32(lp->generation),
    };
    unsigned int v;

    for (v = 0; v < LUMEN_LINK_NUM_VCS; v++) {
        a.credit_limit[v] = cpu_to_le32(lp->rx_limit[v]);
    }
    a.crc32 = cpu_to_le32(lumen_link_frame_crc((uint8_t *)&a, sizeof(a)));
    lumen_link_send_frame(lp, &a, sizeof(a));
    lp->ack_pending = false;
    if (type == LUMEN_LINK_FRAME_NAK) {
        lp->naks_tx++;
    }
}

static void lumen_link_ack_later(LumenLinkPort *lp)
{
    lp->ack_pending = true;
    qemu_bh_schedule(lp->s->link.ack_bh);
}

/* Coalesced ACKs: after a chardev read, a burst of freed credits. */
static void lumen_link_ack_bh(void *opaque)
{
    LumenState *s = opaque;
    unsigned int p;

    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        if (lp->ack_pending && lp->state == LUMEN_LINK_UP) {
            lumen_link_send_ack(lp, LUMEN_LINK_FRAME_ACK);
        }
    }
}

/* ---- Reliable link layer: sending (13.3) --------------------------------- */

static bool lumen_link_has_credit(LumenLinkPort *lp, unsigned int vc)
{
    return lp->tx_sent[vc] != lp->tx_limit[vc];
}

static void lumen_link_arm_replay(LumenLinkPort *lp)
{
    if (QTAILQ_EMPTY(&lp->replay)) {
        timer_del(lp->replay_timer);
    } else {
        timer_mod(lp->replay_timer,
                  lumen_link_now_ms() + LUMEN_LINK_REPLAY_MS);
    }
}

/*
 * Give @p the next sequence number (its VC has credit) and put it in the
 * replay buffer with its fiber record and hop header ready: the CRC is
 * computed once per hop, replays resend the same bytes.
 */
static void lumen_link_assign(LumenLinkPort *lp, LumenPkt *p)
{
    struct lumen_link_data_hdr *h =
        (struct lumen_link_data_hdr *)(p->buf + FIBER_HDR_SIZE);
    uint32_t flen = DATA_HDR_SIZE + p->len;

    /* One CRC pass per packet and chip: the packet's CRC is known. */
    lumen_link_fiber_hdr(p->buf, LUMEN_FIBER_DATA, flen);
    memset(h, 0, sizeof(*h));
    h->magic = cpu_to_le16(LUMEN_LINK_MAGIC);
    h->vc = p->vc;
    h->type = LUMEN_LINK_FRAME_DATA;
    h->seq = cpu_to_le32(lp->tx_seq);
    h->len = cpu_to_le32(p->len);
    h->ttl = p->ttl;
    h->flags = p->detour ? LUMEN_HOP_F_DETOUR : 0;
    h->generation = cpu_to_le32(lp->generation);
    h->crc32 = cpu_to_le32(crc32_combine(
        lumen_link_frame_crc((uint8_t *)h, DATA_HDR_SIZE), p->pkt_crc,
        p->len));

    p->seq = lp->tx_seq++;
    p->sent = false;
    lp->tx_sent[p->vc]++;
    if (QTAILQ_EMPTY(&lp->replay)) {
        timer_mod(lp->replay_timer,
                  lumen_link_now_ms() + LUMEN_LINK_REPLAY_MS);
    }
    QTAILQ_INSERT_TAIL(&lp->replay, p, next);
    if (!lp->tx_next) {
        lp->tx_next = p;
    }
    /* It has moved on: its receive buffer upstream is free (13.3). */
    lumen_link_free_credit(lp->s, p);
}

/* Write frames of the replay buffer while the socket queue has room. */
static void lumen_link_pump(LumenLinkPort *lp)
{
    while (lp->tx_next && lp->state == LUMEN_LINK_UP) {
        LumenPkt *p = lp->tx_next;
        uint32_t flen = DATA_HDR_SIZE + p->len;

        if (!lumen_link_put(lp, p->buf, FIBER_HDR_SIZE + flen,
                            LUMEN_LINK_TXQ_DATA + FIBER_HDR_SIZE +
                            LUMEN_LINK_FRAME_MAX)) {
            if (lp->connected) {
                return;         /* full: lumen_link_tx_ready resumes */
            }
        }
        /* The write may have dropped the connection and the port. */
        if (lp->tx_next != p) {
            return;
        }
        lp->tx_next = QTAILQ_NEXT(p, next);
        lp->tx_frames++;
        lp->tx_bytes += flen;
        if (p->sent) {
            lp->retransmits++;
        } else {
            p->sent = true;
            lp->data_tx++;
        }
    }
}

/*
 * A packet was refused for want of room (LUMEN_LINK_OWN_MAX): now that
 * there may be room, the queue engine tries its remote packets again.
 */
static void lumen_link_own_room(LumenLinkPort *lp)
{
    if (lp->own_refused) {
        lp->own_refused = false;
        lumen_engine_kick(lp->s);
    }
}

/* Send what credit allows of the packets waiting on VC @vc. */
static void lumen_link_drain(LumenLinkPort *lp, unsigned int vc)
{
    LumenPkt *p;

    while ((p = QTAILQ_FIRST(&lp->waitq[vc])) != NULL &&
           lumen_link_has_credit(lp, vc)) {
        QTAILQ_REMOVE(&lp->waitq[vc], p, next);
        if (!p->credit.held) {
            lp->own[vc]--;
            lumen_link_own_room(lp);
        }
        lumen_link_assign(lp, p);
    }
}

bool lumen_link_port_up(LumenState *s, unsigned int port)
{
    return port < s->num_link_ports &&
           s->link.ports[port].state == LUMEN_LINK_UP;
}

/*
 * Queue a routed packet (p->vc set) on an UP port: it leaves when its VC
 * has credit, after the packets already waiting on that VC. False, and
 * the packet stays the caller's, if it would wait without holding a
 * receive buffer while LUMEN_LINK_OWN_MAX such packets wait on its VC.
 */
bool lumen_link_enqueue(LumenState *s, unsigned int port, LumenPkt *p)
{
    LumenLinkPort *lp = &s->link.ports[port];

    assert(lumen_link_port_up(s, port) && p->vc < LUMEN_LINK_NUM_VCS);
    if (QTAILQ_EMPTY(&lp->waitq[p->vc]) && lumen_link_has_credit(lp, p->vc)) {
        lumen_link_assign(lp, p);
        lumen_link_pump(lp);
        return true;
    }
    if (!p->credit.held) {
        if (lp->own[p->vc] >= LUMEN_LINK_OWN_MAX) {
            lp->own_refused = true;
            return false;
        }
        lp->own[p->vc]++;
    }
    if (!p->stalled) {
        p->stalled = true;
        lp->credit_stalls++;
    }
    QTAILQ_INSERT_TAIL(&lp->waitq[p->vc], p, next);
    return true;
}

/*
 * A receive buffer is free again (its packet was forwarded, consumed or
 * dropped): grant the neighbour one more frame on that VC, unless the
 * port retrained since (a new generation starts new credits).
 */
void lumen_link_credit_free(LumenState *s, LumenCredit *c)
{
    LumenLinkPort *lp;

    if (!c->held) {
        return;
    }
    c->held = false;
    lp = &s->link.ports[c->port];
    if (lp->state == LUMEN_LINK_UP && lp->generation == c->gen) {
        lp->rx_limit[c->vc]++;
        lumen_link_ack_later(lp);
    }
}

void lumen_link_free_credit(LumenState *s, LumenPkt *p)
{
    lumen_link_credit_free(s, &p->credit);
}

/* Go back N: send the whole replay buffer again, oldest first. */
static void lumen_link_replay(LumenLinkPort *lp)
{
    trace_lumen_link_event(lp->s->chip_id, lp->index, "replay from seq",
                           lp->tx_acked);
    lp->replays++;
    lp->tx_next = QTAILQ_FIRST(&lp->replay);
    lumen_link_arm_replay(lp);
    lumen_link_pump(lp);
}

static void lumen_link_set_state(LumenLinkPort *lp, uint32_t state);

static void lumen_link_replay_timeout(void *opaque)
{
    LumenLinkPort *lp = opaque;

    if (lp->state != LUMEN_LINK_UP || QTAILQ_EMPTY(&lp->replay)) {
        return;
    }
    lp->replay_timeouts++;
    if (lp->replays >= LUMEN_LINK_REPLAY_MAX) {
        trace_lumen_link_event(lp->s->chip_id, lp->index,
                               "replay gave up: ERROR, seq", lp->tx_acked);
        lumen_link_set_state(lp, LUMEN_LINK_ERROR);
        return;
    }
    lumen_link_replay(lp);
}

/* A new sequence space and fresh credits, both directions (went UP). */
static void lumen_link_llr_start(LumenLinkPort *lp)
{
    unsigned int v;

    lp->tx_seq = lp->tx_acked = lp->rx_seq = 0;
    lp->replays = 0;
    lp->nak_pending = lp->ack_pending = false;
    for (v = 0; v < LUMEN_LINK_NUM_VCS; v++) {
        lp->tx_sent[v] = lp->tx_done[v] = lp->rx_accepted[v] = 0;
        lp->tx_limit[v] = lp->rx_limit[v] = LUMEN_LINK_VC_CREDITS;
    }
}

/* Take every packet the port holds off it, oldest first. */
static void lumen_link_take_all(LumenLinkPort *lp, LumenPktQueue *out)
{
    unsigned int v;
    LumenPkt *p;

    QTAILQ_INIT(out);
    while ((p = QTAILQ_FIRST(&lp->replay)) != NULL) {
        QTAILQ_REMOVE(&lp->replay, p, next);
        QTAILQ_INSERT_TAIL(out, p, next);
    }
    for (v = 0; v < LUMEN_LINK_NUM_VCS; v++) {
        while ((p = QTAILQ_FIRST(&lp->waitq[v])) != NULL) {
            QTAILQ_REMOVE(&lp->waitq[v], p, next);
            QTAILQ_INSERT_TAIL(out, p, next);
        }
        lp->own[v] = 0;
    }
    lp->tx_next = NULL;
    timer_del(lp->replay_timer);
}

/*
 * The port left UP: what it held is looked up again as if it had just
 * arrived (13.3), so a route with a live alternative carries it on.
 */
static void lumen_link_left_up(LumenLinkPort *lp)
{
    LumenPktQueue held;
    LumenPkt *p;

    lumen_link_take_all(lp, &held);
    lp->ack_pending = lp->nak_pending = false;
    while ((p = QTAILQ_FIRST(&held)) != NULL) {
        QTAILQ_REMOVE(&held, p, next);
        lumen_route_reroute(lp->s, p);
    }
    lumen_link_own_room(lp);
}

/* ---- State machine ------------------------------------------------------- */

static void lumen_link_set_state(LumenLinkPort *lp, uint32_t state)
{
    LumenState *s = lp->s;
    uint32_t old = lp->state;

    if (old == state) {
        return;
    }
    trace_lumen_link_state(s->chip_id, lp->index, old, state);
    lp->state = state;
    if (old == LUMEN_LINK_UP) {
        lp->down_events++;
    }
    if (state == LUMEN_LINK_UP) {
        lumen_link_llr_start(lp);
    }
    if (state == LUMEN_LINK_ERROR) {
        lp->retrains++;
        lp->heard = false;
        timer_mod(lp->timer, lumen_link_now_ms() + LUMEN_LINK_ERROR_MS);
    }
    s->link.changed |= 1u << lp->index;
    lumen_irq_raise(s, LUMEN_INT_LINK);
    lumen_mgmt_port_changed(s, lp->index);
    if (old == LUMEN_LINK_UP) {
        lumen_link_left_up(lp);
    }
}

/* (Re)train with a new generation; the caller sends the first frame. */
static void lumen_link_enter_training(LumenLinkPort *lp)
{
    lp->generation = ++lp->gen_last;
    if (!lp->generation) {
        lp->generation = lp->gen_last = 1;  /* 0 means "never trained" */
    }
    lumen_link_set_state(lp, LUMEN_LINK_TRAINING);
    lp->last_rx_ms = lumen_link_now_ms();
    timer_mod(lp->timer, lp->last_rx_ms + LUMEN_LINK_TRAIN_MS);
}

/* Re-evaluate after a change of CTRL, light or connection. */
static void lumen_link_update(LumenLinkPort *lp)
{
    bool run = (lp->ctrl & LUMEN_LCTRL_ENABLE) && lp->connected &&
               lp->attached && lp->lit && !lp->wire_error;

    if (!run) {
        timer_del(lp->timer);
        lp->heard = false;
        lumen_link_set_state(lp, LUMEN_LINK_DOWN);
        return;
    }
    if (lp->state == LUMEN_LINK_DOWN) {
        lp->heard = false;
        lumen_link_enter_training(lp);
        lumen_link_send_train(lp);
    }
}

static void lumen_link_tick(void *opaque)
{
    LumenLinkPort *lp = opaque;
    int64_t now = lumen_link_now_ms();

    switch (lp->state) {
    case LUMEN_LINK_TRAINING:
        lumen_link_send_train(lp);
        timer_mod(lp->timer, now + LUMEN_LINK_TRAIN_MS);
        break;
    case LUMEN_LINK_UP:
        if (now - lp->last_rx_ms >= LUMEN_LINK_DEAD_MS) {
            trace_lumen_link_event(lp->s->chip_id, lp->index,
                                   "neighbour silent: retrain", 0);
            lp->heard = false;
            lumen_link_enter_training(lp);
            lumen_link_send_train(lp);
            break;
        }
        lumen_link_send_train(lp);
        lumen_link_send_ack(lp, LUMEN_LINK_FRAME_ACK);
        timer_mod(lp->timer, now + LUMEN_LINK_KEEPALIVE_MS);
        break;
    case LUMEN_LINK_ERROR:
        lp->heard = false;
        lumen_link_enter_training(lp);
        lumen_link_send_train(lp);
        break;
    default:
        break;
    }
}

static void lumen_link_rx_train(LumenLinkPort *lp,
                                const struct lumen_link_train *t)
{
    LumenState *s = lp->s;
    uint32_t chip = le32_to_cpu(t->chip_id);
    uint32_t gen = le32_to_cpu(t->generation);
    uint16_t flags = le16_to_cpu(t->flags);
    bool same, heard_me, changed;

    if (t->vc || t->port >= LUMEN_LINK_PORTS_MAX ||
        t->num_ports > LUMEN_LINK_PORTS_MAX || !gen ||
        (flags & ~(LUMEN_TRAIN_F_HEARD | LUMEN_TRAIN_F_UP)) ||
        t->reserved[0] || t->reserved[1] || t->reserved[2] ||
        (!(flags & LUMEN_TRAIN_F_HEARD) &&
         (t->peer_chip || t->peer_port || t->peer_generation))) {
        lp->frame_errors++;
        trace_lumen_link_event(s->chip_id, lp->index,
                               "malformed training frame", chip);
        return;
    }
    if (lp->state == LUMEN_LINK_ERROR) {
        return;                 /* holding off before it retrains */
    }
    lp->last_rx_ms = lumen_link_now_ms();
    same = lp->heard && lp->peer_chip == chip && lp->peer_port == t->port &&
           lp->peer_gen == gen;
#define HEARD_ME() ((flags & LUMEN_TRAIN_F_HEARD) && \
                    le32_to_cpu(t->peer_chip) == s->chip_id && \
                    t->peer_port == lp->index && \
                    le32_to_cpu(t->peer_generation) == lp->generation)
    heard_me = HEARD_ME();

    if (lp->state == LUMEN_LINK_UP) {
        if (same && heard_me) {
            if (!(flags & LUMEN_TRAIN_F_UP)) {
                lumen_link_send_train(lp);  /* it missed our answer */
            }
            return;
        }
        /* The neighbour changed, retrained or forgot us. */
        trace_lumen_link_event(s->chip_id, lp->index,
                               "neighbour changed: retrain", chip);
        lumen_link_enter_training(lp);
        if (lp->state != LUMEN_LINK_TRAINING) {
            return;             /* leaving UP changed the port again */
        }
        heard_me = HEARD_ME();
        same = false;
    }
#undef HEARD_ME
    changed = !same;
    lp->heard = true;
    lp->peer_chip = chip;
    lp->peer_port = t->port;
    lp->peer_gen = gen;
    if (heard_me) {
        lumen_link_set_state(lp, LUMEN_LINK_UP);
        if (lp->state != LUMEN_LINK_UP) {
            return;
        }
        timer_mod(lp->timer, lumen_link_now_ms() + LUMEN_LINK_KEEPALIVE_MS);
        changed = true;
    }
    if (changed) {
        lumen_link_send_train(lp);
    }
}

/* ---- Reliable link layer: receiving (13.3) ------------------------------- */

static void lumen_link_rx_ack(LumenLinkPort *lp, const uint8_t *buf,
                              uint32_t len)
{
    struct lumen_link_ack a;
    uint32_t next, progress, v;
    LumenPkt *p;

    if (len != sizeof(a)) {
        lp->frame_errors++;
        return;
    }
    memcpy(&a, buf, sizeof(a));
    next = le32_to_cpu(a.next_seq);
    if (a.vc || a.reserved0 || a.reserved1 || a.reserved2 ||
        a.credit_limit[5] || a.credit_limit[6] || a.credit_limit[7] ||
        le32_to_cpu(a.generation) != lp->peer_gen ||
        next - lp->tx_acked > lp->tx_seq - lp->tx_acked) {
        lp->frame_errors++;
        trace_lumen_link_event(lp->s->chip_id, lp->index,
                               "malformed ACK/NAK, next_seq", next);
        return;
    }
    lp->last_rx_ms = lumen_link_now_ms();
    progress = next - lp->tx_acked;
    while (lp->tx_acked != next &&
           (p = QTAILQ_FIRST(&lp->replay)) != NULL) {
        QTAILQ_REMOVE(&lp->replay, p, next);
        if (lp->tx_next == p) {
            lp->tx_next = QTAILQ_FIRST(&lp->replay);
        }
        lp->tx_done[p->vc]++;
        lumen_pkt_free(p);
        lp->tx_acked++;
    }
    lp->tx_acked = next;
    if (progress) {
        lp->replays = 0;
        lumen_link_arm_replay(lp);
    }
    for (v = 0; v < LUMEN_LINK_NUM_VCS; v++) {
        uint32_t lim = le32_to_cpu(a.credit_limit[v]);

        /*
         * The neighbour cannot have freed a buffer of a frame it has not
         * acknowledged: a limit past a buffer beyond what it acknowledged
         * on the VC is read as that, so the replay buffer never holds
         * more than LUMEN_LINK_VC_CREDITS frames of a VC (13.3).
         */
        if ((int32_t)(lim - lp->tx_done[v]) > LUMEN_LINK_VC_CREDITS) {
            lim = lp->tx_done[v] + LUMEN_LINK_VC_CREDITS;
        }
        if ((int32_t)(lim - lp->tx_limit[v]) > 0) {
            lp->tx_limit[v] = lim;
            lumen_link_drain(lp, v);
            if (lp->state != LUMEN_LINK_UP) {
                return;
            }
        }
    }
    if (a.type == LUMEN_LINK_FRAME_NAK) {
        lp->naks_rx++;
        if (lp->replays >= LUMEN_LINK_REPLAY_MAX) {
            lumen_link_set_state(lp, LUMEN_LINK_ERROR);
            return;
        }
        if (!QTAILQ_EMPTY(&lp->replay)) {
            lumen_link_replay(lp);
        }
        return;
    }
    lumen_link_pump(lp);
}

static void lumen_link_nak(LumenLinkPort *lp)
{
    if (!lp->nak_pending) {
        lp->nak_pending = true;
        lumen_link_send_ack(lp, LUMEN_LINK_FRAME_NAK);
    }
}

/*
 * A DATA frame with a good CRC on an UP port; @pkt_crc is the CRC-32 of
 * the packet after the hop header.
 */
static void lumen_link_rx_data(LumenLinkPort *lp, const uint8_t *buf,
                               uint32_t len, uint32_t pkt_crc)
{
    LumenState *s = lp->s;
    struct lumen_link_data_hdr h;
    struct lumen_pkt_hdr ph;
    LumenCredit credit;
    uint32_t plen, seq;
    LumenPkt *p;

    memcpy(&h, buf, sizeof(h));
    plen = le32_to_cpu(h.len);
    seq = le32_to_cpu(h.seq);
    if (h.vc >= LUMEN_LINK_NUM_VCS || plen != len - DATA_HDR_SIZE ||
        plen < PKT_HDR_SIZE || plen > LUMEN_LINK_PKT_MAX ||
        (h.flags & ~LUMEN_HOP_F_MASK) || h.reserved0 || h.reserved1 ||
        h.reserved2 || le32_to_cpu(h.generation) != lp->peer_gen) {
        lp->frame_errors++;
        trace_lumen_link_event(s->chip_id, lp->index, "malformed DATA, seq",
                               seq);
        return;
    }
    lp->last_rx_ms = lumen_link_now_ms();
    if (seq != lp->rx_seq) {
        if ((int32_t)(seq - lp->rx_seq) > 0) {
            lp->seq_errors++;
            lumen_link_nak(lp);
        } else {
            lumen_link_ack_later(lp);   /* a replay we already have */
        }
        return;
    }
    if (lp->rx_accepted[h.vc] == lp->rx_limit[h.vc]) {
        /* Beyond the credit we granted: the neighbour is broken. */
        lp->frame_errors++;
        trace_lumen_link_event(s->chip_id, lp->index,
                               "DATA without credit, vc", h.vc);
        return;
    }
    lp->rx_seq++;
    lp->rx_accepted[h.vc]++;
    lp->nak_pending = false;
    lp->data_rx++;
    lumen_link_ack_later(lp);
    credit = (LumenCredit) {
        .held = true,
        .port = lp->index,
        .vc = h.vc,
        .gen = lp->generation,
    };

    /*
     * A packet for this chip on a data VC is consumed straight from the
     * receive buffer, which is free again right after, unless the request
     * was answered: its answer holds the buffer until it leaves.
     */
    memcpy(&ph, buf + DATA_HDR_SIZE, sizeof(ph));
    if (h.vc != LUMEN_VC_MGMT && le32_to_cpu(ph.dst_chip) == s->chip_id) {
        s->route.lend = credit;
        lumen_route_consume_in_place(s, &ph, buf + DATA_HDR_SIZE + PKT_HDR_SIZE,
                                     plen, h.vc, pkt_crc);
        lumen_link_credit_free(s, &s->route.lend);
        return;
    }
    p = lumen_pkt_new(plen);
    memcpy(lumen_pkt_hdr(p), buf + DATA_HDR_SIZE, plen);
    p->pkt_crc = pkt_crc;
    p->in_port = lp->index;
    p->in_vc = h.vc;
    p->in_flags = h.flags;
    p->ttl = h.ttl;
    p->credit = credit;
    lumen_route_rx(s, p);
}

/* One DATA payload from the fabric: a link frame. */
static void lumen_link_rx_frame(LumenLinkPort *lp, const uint8_t *buf,
                                uint32_t len)
{
    LumenState *s = lp->s;
    struct lumen_link_train t;
    uint32_t crc, calc, pkt_crc = 0;

    lp->rx_frames++;
    lp->rx_bytes += len;
    if (lp->state == LUMEN_LINK_DOWN) {
        return;                 /* disabled: discard */
    }
    if (len < LUMEN_LINK_FRAME_MIN) {
        lp->frame_errors++;
        trace_lumen_link_event(s->chip_id, lp->index, "runt frame", len);
        return;
    }
    memcpy(&crc, buf + LUMEN_LINK_CRC_OFFSET, sizeof(crc));
    if (len >= DATA_HDR_SIZE + PKT_HDR_SIZE) {
        /* The same CRC in two pieces: the packet's is reused downstream. */
        pkt_crc = crc32(0L, buf + DATA_HDR_SIZE, len - DATA_HDR_SIZE);
        calc = crc32_combine(lumen_link_frame_crc(buf, DATA_HDR_SIZE),
                             pkt_crc, len - DATA_HDR_SIZE);
    } else {
        calc = lumen_link_frame_crc(buf, len);
    }
    if (le32_to_cpu(crc) != calc) {
        lp->crc_errors++;
        trace_lumen_link_event(s->chip_id, lp->index, "bad CRC", len);
        if (lp->state == LUMEN_LINK_UP &&
            len >= DATA_HDR_SIZE + PKT_HDR_SIZE) {
            lumen_link_nak(lp);     /* a DATA frame (control ones are short) */
        }
        return;
    }
    if (lduw_le_p(buf) != LUMEN_LINK_MAGIC) {
        lp->frame_errors++;
        trace_lumen_link_event(s->chip_id, lp->index, "bad frame magic",
                               lduw_le_p(buf));
        return;
    }
    switch (buf[3]) {
    case LUMEN_LINK_FRAME_TRAIN:
        if (len != sizeof(t)) {
            lp->frame_errors++;
            trace_lumen_link_event(s->chip_id, lp->index,
                                   "training frame length", len);
            return;
        }
        memcpy(&t, buf, sizeof(t));
        lumen_link_rx_train(lp, &t);
        return;
    case LUMEN_LINK_FRAME_DATA:
        if (lp->state == LUMEN_LINK_UP) {
            lumen_link_rx_data(lp, buf, len, pkt_crc);
        }
        return;
    case LUMEN_LINK_FRAME_ACK:
    case LUMEN_LINK_FRAME_NAK:
        if (lp->state == LUMEN_LINK_UP) {
            lumen_link_rx_ack(lp, buf, len);
        }
        return;
    default:
        lp->frame_errors++;
        trace_lumen_link_event(s->chip_id, lp->index, "unknown frame type",
                               buf[3]);
        return;
    }
}

/* ---- Fiber records (lumen_fiber.h) --------------------------------------- */

static void lumen_link_wire_error(LumenLinkPort *lp, const char *why,
                                  uint32_t val)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: port %u: bad record "
                  "from the fabric: %s (0x%x); port DOWN until the socket "
                  "reconnects\n", lp->s->chip_id, lp->index, why, val);
    lp->wire_error = true;
    lp->rx_len = 0;
    lumen_link_update(lp);
}

static void lumen_link_hello_ack(LumenLinkPort *lp, const uint8_t *p)
{
    struct lumen_fiber_hello_ack a;
    uint32_t status;

    memcpy(&a, p, sizeof(a));
    status = le32_to_cpu(a.status);
    if (a.light > 1 || a.reserved[0] || a.reserved[1] || a.reserved[2]) {
        lumen_link_wire_error(lp, "HELLO_ACK reserved bits", a.light);
        return;
    }
    if (status != LUMEN_FIBER_OK) {
        /* The fabric closes the socket; the chardev reconnects. */
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: port %u: the "
                      "fabric refused the port (status %u%s)\n",
                      lp->s->chip_id, lp->index, status,
                      status == LUMEN_FIBER_BUSY ?
                      ": another card has this chip id" : "");
        lp->refused = true;
        lumen_link_update(lp);
        return;
    }
    lp->attached = true;
    lp->refused = false;
    lp->lit = a.light;
    lp->fiber_id = le32_to_cpu(a.fiber_id);
    trace_lumen_link_event(lp->s->chip_id, lp->index, "attached, light",
                           lp->lit);
    lumen_link_update(lp);
}

static void lumen_link_light(LumenLinkPort *lp, const uint8_t *p)
{
    struct lumen_fiber_light l;

    memcpy(&l, p, sizeof(l));
    if (l.on > 1 || l.reserved) {
        lumen_link_wire_error(lp, "LIGHT reserved bits", l.on);
        return;
    }
    lp->lit = l.on;
    lp->fiber_id = le32_to_cpu(l.fiber_id);
    trace_lumen_link_event(lp->s->chip_id, lp->index,
                           l.on ? "light on, reason" : "light off, reason",
                           l.reason);
    lumen_link_update(lp);
}

/* Check one record header; NULL if it is fine, else what is wrong. */
static const char *lumen_link_check_hdr(LumenLinkPort *lp,
                                        const struct lumen_fiber_hdr *h,
                                        uint32_t *bad)
{
    uint32_t len = le32_to_cpu(h->len);
    bool first = !lp->attached && !lp->refused;

    *bad = 0;
    if (le16_to_cpu(h->magic) != LUMEN_FIBER_MAGIC) {
        *bad = le16_to_cpu(h->magic);
        return "bad magic";
    }
    if (h->version != LUMEN_FIBER_VERSION) {
        *bad = h->version;
        return "bad version";
    }
    if (h->flags || h->reserved || h->reserved2) {
        return "non-zero flags or reserved fields";
    }
    *bad = len;
    if (len > LUMEN_FIBER_MAX_PAYLOAD) {
        return "record too long";
    }
    switch (h->type) {
    case LUMEN_FIBER_HELLO_ACK:
        if (!first) {
            return "second HELLO_ACK";
        }
        return len == sizeof(struct lumen_fiber_hello_ack) ? NULL :
               "HELLO_ACK length";
    case LUMEN_FIBER_LIGHT:
        if (!lp->attached) {
            return "LIGHT before HELLO_ACK";
        }
        return len == sizeof(struct lumen_fiber_light) ? NULL :
               "LIGHT length";
    case LUMEN_FIBER_DATA:
        if (!lp->attached) {
            return "DATA before HELLO_ACK";
        }
        return len ? NULL : "empty DATA";
    default:
        *bad = h->type;
        return "unexpected record type";
    }
}

static int lumen_link_can_read(void *opaque)
{
    LumenLinkPort *lp = opaque;

    return sizeof(lp->rx) - lp->rx_len;
}

static void lumen_link_chr_read(void *opaque, const uint8_t *buf, int size)
{
    LumenLinkPort *lp = opaque;
    uint32_t n;

    if (!lp->connected || lp->wire_error || size <= 0) {
        return;                 /* discarded */
    }
    n = MIN((uint32_t)size, sizeof(lp->rx) - lp->rx_len);
    memcpy(lp->rx + lp->rx_len, buf, n);
    lp->rx_len += n;

    while (lp->rx_len >= FIBER_HDR_SIZE) {
        struct lumen_fiber_hdr h;
        const char *why;
        uint32_t bad, len;

        memcpy(&h, lp->rx, sizeof(h));
        why = lumen_link_check_hdr(lp, &h, &bad);
        if (why) {
            lumen_link_wire_error(lp, why, bad);
            return;
        }
        len = le32_to_cpu(h.len);
        if (lp->rx_len < FIBER_HDR_SIZE + len) {
            break;              /* partial record: wait for the rest */
        }
        switch (h.type) {
        case LUMEN_FIBER_HELLO_ACK:
            lumen_link_hello_ack(lp, lp->rx + FIBER_HDR_SIZE);
            break;
        case LUMEN_FIBER_LIGHT:
            lumen_link_light(lp, lp->rx + FIBER_HDR_SIZE);
            break;
        case LUMEN_FIBER_DATA:
            lumen_link_rx_frame(lp, lp->rx + FIBER_HDR_SIZE, len);
            break;
        }
        if (lp->wire_error || !lp->connected) {
            return;             /* rx was reset (a write can disconnect) */
        }
        lp->rx_len -= FIBER_HDR_SIZE + len;
        memmove(lp->rx, lp->rx + FIBER_HDR_SIZE + len, lp->rx_len);
    }
    /* Credits back without waiting a main-loop turn for the ACK BH. */
    if (lp->ack_pending && lp->state == LUMEN_LINK_UP) {
        lumen_link_send_ack(lp, LUMEN_LINK_FRAME_ACK);
    }
}

static void lumen_link_chr_event(void *opaque, QEMUChrEvent event)
{
    LumenLinkPort *lp = opaque;
    LumenState *s = lp->s;
    struct lumen_fiber_hello hello = {
        .chip_id = cpu_to_le32(s->chip_id),
        .port = lp->index,
        .num_ports = s->num_link_ports,
    };

    switch (event) {
    case CHR_EVENT_OPENED:
        trace_lumen_link_event(s->chip_id, lp->index, "socket open", 0);
        lumen_link_tx_drop(lp);
        lp->connected = true;
        lp->attached = lp->refused = lp->wire_error = lp->lit = false;
        lp->fiber_id = LUMEN_FIBER_ID_NONE;
        lp->rx_len = 0;
        lumen_link_send_record(lp, LUMEN_FIBER_HELLO, &hello, sizeof(hello));
        lumen_link_update(lp);
        break;
    case CHR_EVENT_CLOSED:
        /* The fabric went away: no light. The chardev reconnects. */
        trace_lumen_link_event(s->chip_id, lp->index, "socket closed", 0);
        lumen_link_tx_drop(lp);
        lp->connected = lp->attached = lp->lit = false;
        lp->fiber_id = LUMEN_FIBER_ID_NONE;
        lp->rx_len = 0;
        lumen_link_update(lp);
        break;
    default:
        break;
    }
}

/* ---- Registers ----------------------------------------------------------- */

static LumenLinkPort *lumen_link_decode(LumenState *s, hwaddr addr,
                                        hwaddr *reg)
{
    unsigned int p;

    if (addr < LUMEN_REG_LINK_BASE || addr >= LINK_REG_END) {
        return NULL;
    }
    p = (addr - LUMEN_REG_LINK_BASE) / LUMEN_REG_LINK_STRIDE;
    *reg = (addr - LUMEN_REG_LINK_BASE) % LUMEN_REG_LINK_STRIDE;
    if (p >= s->num_link_ports || *reg > LUMEN_LREG_LAST) {
        return NULL;
    }
    return &s->link.ports[p];
}

/* One port register (also the counters of a management PORT GET). */
static bool lumen_link_port_read(LumenLinkPort *lp, hwaddr reg,
                                 uint32_t *val)
{
    bool up = lp->state == LUMEN_LINK_UP;

    switch (reg) {
    case LUMEN_LREG_STATE:
        *val = lp->state;
        break;
    case LUMEN_LREG_CTRL:
        *val = lp->ctrl;
        break;
    case LUMEN_LREG_PEER_CHIP:
        *val = up ? lp->peer_chip : UINT32_MAX;
        break;
    case LUMEN_LREG_PEER_PORT:
        *val = up ? lp->peer_port : UINT32_MAX;
        break;
    case LUMEN_LREG_PEER_GENERATION:
        *val = up ? lp->peer_gen : 0;
        break;
    case LUMEN_LREG_TX_PKTS_LO:
        *val = (uint32_t)lp->tx_frames;
        break;
    case LUMEN_LREG_TX_PKTS_HI:
        *val = lp->tx_frames >> 32;
        break;
    case LUMEN_LREG_RX_PKTS_LO:
        *val = (uint32_t)lp->rx_frames;
        break;
    case LUMEN_LREG_RX_PKTS_HI:
        *val = lp->rx_frames >> 32;
        break;
    case LUMEN_LREG_TX_BYTES_LO:
        *val = (uint32_t)lp->tx_bytes;
        break;
    case LUMEN_LREG_TX_BYTES_HI:
        *val = lp->tx_bytes >> 32;
        break;
    case LUMEN_LREG_RX_BYTES_LO:
        *val = (uint32_t)lp->rx_bytes;
        break;
    case LUMEN_LREG_RX_BYTES_HI:
        *val = lp->rx_bytes >> 32;
        break;
    case LUMEN_LREG_CRC_ERRORS:
        *val = lp->crc_errors;
        break;
    case LUMEN_LREG_RETRANSMITS:
        *val = lp->retransmits;
        break;
    case LUMEN_LREG_DOWN_EVENTS:
        *val = lp->down_events;
        break;
    case LUMEN_LREG_STATUS:
        *val = (lp->attached ? LUMEN_LSTS_ATTACHED : 0) |
               (lp->attached && lp->lit ? LUMEN_LSTS_LIGHT : 0) |
               (lp->refused ? LUMEN_LSTS_REFUSED : 0) |
               (lp->wire_error ? LUMEN_LSTS_WIRE_ERROR : 0);
        break;
    case LUMEN_LREG_GENERATION:
        *val = lp->generation;
        break;
    case LUMEN_LREG_FRAME_ERRORS:
        *val = lp->frame_errors;
        break;
    case LUMEN_LREG_NAKS_RX:
        *val = lp->naks_rx;
        break;
    case LUMEN_LREG_NAKS_TX:
        *val = lp->naks_tx;
        break;
    case LUMEN_LREG_REPLAY_TIMEOUTS:
        *val = lp->replay_timeouts;
        break;
    case LUMEN_LREG_TTL_DROPS:
        *val = lp->ttl_drops;
        break;
    case LUMEN_LREG_CREDIT_STALLS:
        *val = lp->credit_stalls;
        break;
    case LUMEN_LREG_FAILOVERS:
        *val = lp->failovers;
        break;
    case LUMEN_LREG_RETRAINS:
        *val = lp->retrains;
        break;
    case LUMEN_LREG_DATA_TX_LO:
        *val = (uint32_t)lp->data_tx;
        break;
    case LUMEN_LREG_DATA_TX_HI:
        *val = lp->data_tx >> 32;
        break;
    case LUMEN_LREG_DATA_RX_LO:
        *val = (uint32_t)lp->data_rx;
        break;
    case LUMEN_LREG_DATA_RX_HI:
        *val = lp->data_rx >> 32;
        break;
    case LUMEN_LREG_SEQ_ERRORS:
        *val = lp->seq_errors;
        break;
    default:
        return false;           /* reserved hole in the port block */
    }
    return true;
}

bool lumen_link_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenLinkPort *lp;
    hwaddr reg;

    if (addr == LUMEN_REG_LINK_CHANGED) {
        *val = s->link.changed;
        return true;
    }
    lp = lumen_link_decode(s, addr, &reg);
    return lp && lumen_link_port_read(lp, reg, val);
}

/* Registers 0x10-0x7c of @port as struct lumen_mgmt_port counters. */
void lumen_link_port_counters(LumenState *s, unsigned int port,
                              uint32_t *words, unsigned int n)
{
    unsigned int i;

    for (i = 0; i < n; i++) {
        words[i] = 0;
        lumen_link_port_read(&s->link.ports[port],
                             LUMEN_LREG_TX_PKTS_LO + 4 * i, &words[i]);
    }
}

uint32_t lumen_link_port_state(LumenState *s, unsigned int port,
                               uint32_t *ctrl, uint32_t *peer_chip,
                               uint32_t *peer_port)
{
    LumenLinkPort *lp = &s->link.ports[port];
    bool up = lp->state == LUMEN_LINK_UP;

    *ctrl = lp->ctrl;
    *peer_chip = up ? lp->peer_chip : UINT32_MAX;
    *peer_port = up ? lp->peer_port : UINT32_MAX;
    return lp->state;
}

/* CTRL from a register write or a management SET; false: reserved bits. */
bool lumen_link_set_ctrl(LumenState *s, unsigned int port, uint32_t ctrl)
{
    LumenLinkPort *lp = &s->link.ports[port];

    if (ctrl & ~LUMEN_LCTRL_MASK) {
        return false;
    }
    lp->ctrl = ctrl;
    lumen_link_update(lp);
    return true;
}

bool lumen_link_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenLinkPort *lp;
    hwaddr reg;

    if (addr == LUMEN_REG_LINK_CHANGED) {
        s->link.changed &= ~val;
        return true;
    }
    lp = lumen_link_decode(s, addr, &reg);
    if (!lp) {
        return false;
    }
    if (reg == LUMEN_LREG_CTRL) {
        if (!lumen_link_set_ctrl(s, lp->index, val)) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "link CTRL reserved bits set");
        }
        return true;
    }
    lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                    lumen_link_port_read(lp, reg, &val) ?
                    "write to a read-only register" :
                    "write to a reserved offset");
    return true;
}

/* ---- Life cycle ---------------------------------------------------------- */

bool lumen_link_init(LumenState *s, Error **errp)
{
    bool any = false;
    unsigned int p, v;

    for (p = 0; p < LUMEN_LINK_PORTS_MAX; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        lp->s = s;
        lp->index = p;
        QTAILQ_INIT(&lp->replay);
        for (v = 0; v < LUMEN_LINK_NUM_VCS; v++) {
            QTAILQ_INIT(&lp->waitq[v]);
        }
        if (!qemu_chr_fe_backend_connected(&lp->chr)) {
            continue;
        }
        if (p >= s->num_link_ports) {
            error_setg(errp, "lumen-npu: port%u has a chardev but the card "
                       "has %u link ports", p, s->num_link_ports);
            return false;
        }
        any = true;
    }
    if (any) {
        error_setg(&s->link.blocker, "lumen-npu: link ports with a chardev "
                   "cannot be migrated (link state is not migratable yet)");
        if (migrate_add_blocker(&s->link.blocker, errp) < 0) {
            return false;
        }
    }
    s->link.ack_bh = qemu_bh_new_guarded(lumen_link_ack_bh, s,
                                         &DEVICE(s)->mem_reentrancy_guard);
    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        lp->txq = g_byte_array_new();
        lp->fiber_id = LUMEN_FIBER_ID_NONE;
        lp->timer = timer_new_ms(QEMU_CLOCK_REALTIME, lumen_link_tick, lp);
        lp->replay_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                        lumen_link_replay_timeout, lp);
    }
    /*
     * Handlers last: a chardev that is already connected delivers
     * CHR_EVENT_OPENED from inside qemu_chr_fe_set_handlers(), and every
     * port must be complete by then.
     */
    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        if (qemu_chr_fe_backend_connected(&lp->chr)) {
            qemu_chr_fe_set_handlers(&lp->chr, lumen_link_can_read,
                                     lumen_link_chr_read,
                                     lumen_link_chr_event, NULL, lp, NULL,
                                     true);
        }
    }
    return true;
}

/* Free what a port holds, without rerouting (reset, unrealize). */
static void lumen_link_drop_all(LumenLinkPort *lp)
{
    LumenPktQueue held;
    LumenPkt *p;

    lumen_link_take_all(lp, &held);
    while ((p = QTAILQ_FIRST(&held)) != NULL) {
        QTAILQ_REMOVE(&held, p, next);
        lumen_pkt_free(p);
    }
}

void lumen_link_exit(LumenState *s)
{
    unsigned int p;

    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        if (!lp->txq) {
            continue;
        }
        qemu_chr_fe_set_handlers(&lp->chr, NULL, NULL, NULL, NULL, NULL,
                                 NULL, true);
        lumen_link_tx_drop(lp);
        lumen_link_drop_all(lp);
        timer_free(lp->timer);
        lp->timer = NULL;
        timer_free(lp->replay_timer);
        lp->replay_timer = NULL;
        g_byte_array_free(lp->txq, true);
        lp->txq = NULL;
    }
    if (s->link.ack_bh) {
        qemu_bh_delete(s->link.ack_bh);
        s->link.ack_bh = NULL;
    }
    migrate_del_blocker(&s->link.blocker);
}

/*
 * Registers, training and the link layer to their reset values: every
 * port DOWN and disabled, counters and GENERATION zero, every packet a
 * port held dropped. The fiber (socket, light) is physical and stays; a
 * port the driver enables again retrains, with a generation it never
 * used before (gen_last is not reset).
 */
void lumen_link_reset(LumenState *s)
{
    unsigned int p;

    s->link.changed = 0;
    if (s->link.ack_bh) {
        qemu_bh_cancel(s->link.ack_bh);
    }
    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        if (lp->timer) {
            timer_del(lp->timer);
            lumen_link_drop_all(lp);
        }
        lp->own_refused = false;
        lp->ctrl = 0;
        lp->state = LUMEN_LINK_DOWN;
        lp->generation = 0;
        lp->heard = false;
        lp->peer_chip = lp->peer_port = lp->peer_gen = 0;
        lp->tx_frames = lp->rx_frames = lp->tx_bytes = lp->rx_bytes = 0;
        lp->crc_errors = lp->frame_errors = lp->down_events = 0;
        lumen_link_llr_start(lp);
        lp->retransmits = lp->naks_rx = lp->naks_tx = 0;
        lp->replay_timeouts = lp->ttl_drops = lp->credit_stalls = 0;
        lp->failovers = lp->retrains = lp->seq_errors = 0;
        lp->data_tx = lp->data_rx = 0;
    }
}

/*
 * Only CTRL travels (a card with port chardevs refuses to migrate, so the
 * source's ports were all DOWN); the destination trains what is enabled.
 */
bool lumen_link_post_load(LumenState *s)
{
    unsigned int p;

    for (p = 0; p < LUMEN_LINK_PORTS_MAX; p++) {
        uint32_t ctrl = s->link.ports[p].ctrl;

        if ((ctrl & ~LUMEN_LCTRL_MASK) ||
            (ctrl && p >= s->num_link_ports)) {
            return false;
        }
    }
    for (p = 0; p < s->num_link_ports; p++) {
        lumen_link_update(&s->link.ports[p]);
    }
    return true;
}
