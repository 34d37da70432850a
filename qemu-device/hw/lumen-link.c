/*
 * Lumen N1 accelerator: optical link ports and training
 * (docs/hw-spec.md 13.1 and 13.2).
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
 * Not yet: the reliable link layer (sequence numbers, ACK/NAK, replay,
 * credits), forwarding, routes and remote memory operations. DATA frames of
 * other types are dropped and counted as FRAME_ERRORS.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "migration/blocker.h"
#include "chardev/char-fe.h"
#include "lumen-npu.h"
#include "trace.h"

#define FIBER_HDR_SIZE      ((uint32_t)sizeof(struct lumen_fiber_hdr))
#define LINK_REG_END        (LUMEN_REG_LINK_BASE + \
                             LUMEN_LINK_PORTS_MAX * LUMEN_REG_LINK_STRIDE)

static int64_t lumen_link_now_ms(void)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

/* ---- Transmit ------------------------------------------------------------ */

static void lumen_link_flush(LumenLinkPort *lp);

static gboolean lumen_link_tx_ready(void *do_not_use, GIOCondition cond,
                                    void *opaque)
{
    LumenLinkPort *lp = opaque;

    lp->tx_watch = 0;
    lumen_link_flush(lp);
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

/* Queue one whole record; false if the port is not connected or full. */
static bool lumen_link_send_record(LumenLinkPort *lp, uint8_t type,
                                   const void *payload, uint32_t len)
{
    struct lumen_fiber_hdr h = {
        .magic = cpu_to_le16(LUMEN_FIBER_MAGIC),
        .version = LUMEN_FIBER_VERSION,
        .type = type,
        .len = cpu_to_le32(len),
    };

    if (!lp->connected ||
        lp->txq->len + FIBER_HDR_SIZE + len > LUMEN_LINK_TXQ_MAX) {
        return false;
    }
    g_byte_array_append(lp->txq, (const guint8 *)&h, sizeof(h));
    g_byte_array_append(lp->txq, payload, len);
    lumen_link_flush(lp);
    return true;
}

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

static uint32_t lumen_link_frame_crc(const uint8_t *buf, uint32_t len)
{
    static const uint8_t zero[4];
    uint32_t crc;

    crc = lumen_crc32(0, buf, LUMEN_LINK_CRC_OFFSET);
    crc = lumen_crc32(crc, zero, sizeof(zero));
    return lumen_crc32(crc, buf + LUMEN_LINK_CRC_OFFSET + 4,
                       len - LUMEN_LINK_CRC_OFFSET - 4);
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

/* ---- State machine ------------------------------------------------------- */

static void lumen_link_set_state(LumenLinkPort *lp, uint32_t state)
{
    LumenState *s = lp->s;

    if (lp->state == state) {
        return;
    }
    trace_lumen_link_state(s->chip_id, lp->index, lp->state, state);
    if (lp->state == LUMEN_LINK_UP) {
        lp->down_events++;
    }
    lp->state = state;
    s->link.changed |= 1u << lp->index;
    lumen_irq_raise(s, LUMEN_INT_LINK);
}

/* (Re)train with a new generation; the caller sends the first frame. */
static void lumen_link_enter_training(LumenLinkPort *lp)
{
    lp->generation++;
    if (!lp->generation) {
        lp->generation = 1;     /* 0 means "never trained" */
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
        lumen_link_set_state(lp, LUMEN_LINK_DOWN);
        lp->heard = false;
        timer_del(lp->timer);
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
        timer_mod(lp->timer, now + LUMEN_LINK_KEEPALIVE_MS);
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
        timer_mod(lp->timer, lumen_link_now_ms() + LUMEN_LINK_KEEPALIVE_MS);
        changed = true;
    }
    if (changed) {
        lumen_link_send_train(lp);
    }
}

/* One DATA payload from the fabric: a link frame. */
static void lumen_link_rx_frame(LumenLinkPort *lp, const uint8_t *buf,
                                uint32_t len)
{
    LumenState *s = lp->s;
    struct lumen_link_train t;
    uint32_t crc;

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
    if (le32_to_cpu(crc) != lumen_link_frame_crc(buf, len)) {
        lp->crc_errors++;
        trace_lumen_link_event(s->chip_id, lp->index, "bad CRC", len);
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

bool lumen_link_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenLinkPort *lp;
    hwaddr reg;
    bool up;

    if (addr == LUMEN_REG_LINK_CHANGED) {
        *val = s->link.changed;
        return true;
    }
    lp = lumen_link_decode(s, addr, &reg);
    if (!lp) {
        return false;
    }
    up = lp->state == LUMEN_LINK_UP;
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
        *val = 0;
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
    default:
        return false;           /* reserved hole in the port block */
    }
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
        if (val & ~LUMEN_LCTRL_ENABLE) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "link CTRL reserved bits set");
            return true;
        }
        lp->ctrl = val;
        lumen_link_update(lp);
        return true;
    }
    lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                    "write to a read-only register");
    return true;
}

/* ---- Life cycle ------------------------------------------------------------ */

bool lumen_link_init(LumenState *s, Error **errp)
{
    bool any = false;
    unsigned int p;

    for (p = 0; p < LUMEN_LINK_PORTS_MAX; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        lp->s = s;
        lp->index = p;
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
    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        lp->txq = g_byte_array_new();
        lp->fiber_id = LUMEN_FIBER_ID_NONE;
        lp->timer = timer_new_ms(QEMU_CLOCK_REALTIME, lumen_link_tick, lp);
        if (qemu_chr_fe_backend_connected(&lp->chr)) {
            qemu_chr_fe_set_handlers(&lp->chr, lumen_link_can_read,
                                     lumen_link_chr_read,
                                     lumen_link_chr_event, NULL, lp, NULL,
                                     true);
        }
    }
    return true;
}

void lumen_link_exit(LumenState *s)
{
    unsigned int p;

    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        if (!lp->txq) {
            continue;
        }
        lumen_link_tx_drop(lp);
        qemu_chr_fe_set_handlers(&lp->chr, NULL, NULL, NULL, NULL, NULL,
                                 NULL, true);
        timer_free(lp->timer);
        lp->timer = NULL;
        g_byte_array_free(lp->txq, true);
        lp->txq = NULL;
    }
    migrate_del_blocker(&s->link.blocker);
}

/*
 * Registers and training to their reset values: every port DOWN and
 * disabled, counters and generations zero. The fiber (socket, light) is
 * physical and stays; a port the driver enables again retrains.
 */
void lumen_link_reset(LumenState *s)
{
    unsigned int p;

    s->link.changed = 0;
    for (p = 0; p < s->num_link_ports; p++) {
        LumenLinkPort *lp = &s->link.ports[p];

        if (lp->timer) {
            timer_del(lp->timer);
        }
        lp->ctrl = 0;
        lp->state = LUMEN_LINK_DOWN;
        lp->generation = 0;
        lp->heard = false;
        lp->peer_chip = lp->peer_port = lp->peer_gen = 0;
        lp->tx_frames = lp->rx_frames = lp->tx_bytes = lp->rx_bytes = 0;
        lp->crc_errors = lp->frame_errors = lp->down_events = 0;
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

        if ((ctrl & ~LUMEN_LCTRL_ENABLE) ||
            (ctrl && p >= s->num_link_ports)) {
            return false;
        }
    }
    for (p = 0; p < s->num_link_ports; p++) {
        lumen_link_update(&s->link.ports[p]);
    }
    return true;
}
