/*
 * Lumen N1 accelerator: remote windows and remote memory operations
 * (docs/hw-spec.md 13.7; packets in lumen_remote.h, the RWRITE, RREAD,
 * RATOMIC and RREDUCE descriptors in lumen_queue.h).
 *
 * Source. A remote descriptor at the head of a queue is one message of the
 * queue's stream (this chip, stream = queue number, epoch). The queue
 * engine runs it with lumen_remote_exec(): it sends request packets
 * through lumen_route_send(), never more than LUMEN_E2E_WINDOW past the
 * oldest unanswered one, and parks the queue. lumen_remote_rx() takes the
 * answers (ACKs; read data and atomic results, written to the queue's
 * context at once) and kicks the engine, which sends more, resends what
 * has waited its retransmission time (twice the smoothed round trip of
 * packets answered without a resend, at least LUMEN_E2E_RETRANSMIT_MS;
 * doubled after every round that had to resend, up to LUMEN_E2E_RTO_MAX_MS:
 * a slow path is not flooded with copies of what it still carries),
 * completes the descriptor, or fails
 * it: ACCESS or UNREACHABLE from an answer, UNREACHABLE when a new message
 * finds no route, TIMEOUT after E2E_TIMEOUT_MS without a new answer (or
 * UNREACHABLE if by then the route is gone). A per-queue
 * QEMU_CLOCK_REALTIME timer wakes the engine for those deadlines: cards
 * in separate QEMUs share no virtual clock. A queue that drops its
 * descriptor (stop, CTRL.RESET, ENABLE changed, device reset) abandons
 * the message, ignores its answers, and starts a new epoch.
 *
 * Target. Every request packet names its whole operation; it is checked
 * against the window it names (open, key, right, the operation's range)
 * and the window context's translation of every page the packet touches
 * before anything is written, so a refused packet writes nothing (ACCESS,
 * ACCESS_ERRORS; no fault record, no queue of this chip is touched).
 * Exactly once: per (source chip, stream) the target keeps the newest
 * epoch and message, the packets of it already applied and its atomic
 * result. Only a request that names an open window with its key, a right
 * the window grants and a range inside it may create or advance that
 * state: a peer that spoofs another chip's stream without the key cannot
 * make a resent packet look new (applied twice) or a new one stale
 * (acknowledged, never applied). The table of streams is bounded
 * (x-remote-streams, LUMEN_REMOTE_STREAMS_MAX) so a hostile peer cannot
 * grow it without limit: a stream silent for LUMEN_REMOTE_STREAM_LIVE_MS
 * (the longest E2E_TIMEOUT_MS a source may use) may be evicted, least
 * recently used first; while every entry is younger, a request of a new
 * stream is dropped unanswered (the source resends it later). The table
 * survives a device reset, which only drops this chip's own state
 * (windows, counters, its messages as a source).
 *
 * RREDUCE is an RWRITE whose packets are REDUCE packets (aop =
 * lumen_pkt_redop(dtype, op)), acknowledged like WRITEs (the ACK echoes
 * aop): the target reads the window's elements of the packet (all of
 * them, before anything is written), reduces the payload into them
 * (lumen-reduce.c), marks the packet applied in the same bitmap as a
 * WRITE's, and writes them back, so a resent REDUCE is acknowledged again
 * but never reduced twice, even if a write failed half way. A target
 * without CAPS.REDUCE refuses REDUCE packets (ACCESS).
 *
 * Migration carries neither the messages in flight nor a target's
 * exactly-once state; the destination runs a remote descriptor in
 * progress again as a new message. That is harmless for RWRITE and RREAD
 * but would apply an RREDUCE or RATOMIC twice, so while one of those is
 * in flight the device holds a migration blocker, and none starts while
 * the VM is stopped or a migration is under way.
 *
 * Every packet is checked field by field; a malformed one is dropped and
 * counted (lumen_remote_bad_pkts()). A DMA may reset the device (an FLR
 * written through MMCONFIG): after each one the code checks reset_gen and
 * leaves if it changed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/queue.h"
#include "qemu/timer.h"
#include "hw/pci/pci_device.h"
#include "migration/blocker.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "system/dma.h"
#include "system/runstate.h"
#include "lumen-npu.h"
#include "lumen-engine.h"
#include "lumen-reduce.h"
#include "trace.h"

#define PKT_HDR_SIZE                ((uint32_t)sizeof(struct lumen_pkt_hdr))
/*
 * A stream that sent a packet this recently may still retransmit one it
 * sent before (a source gives up E2E_TIMEOUT_MS after its last progress):
 * its entry is never evicted.
 */
#define LUMEN_REMOTE_STREAM_LIVE_MS LUMEN_E2E_TIMEOUT_MAX_MS
/* A stream silent this long is forgotten: any epoch it sends is new. */
#define LUMEN_REMOTE_STREAM_IDLE_MS (120 * 1000)
QEMU_BUILD_BUG_ON(LUMEN_REMOTE_STREAM_IDLE_MS <= LUMEN_REMOTE_STREAM_LIVE_MS);
/* An epoch this far behind a stream's is stale; further, a new source. */
#define LUMEN_REMOTE_STALE_EPOCHS   (1u << 16)
#define LUMEN_VA_LIMIT              (1ull << LUMEN_VA_BITS)
#define LUMEN_WIN_ALIGN             (1ull << LUMEN_PAGE_SHIFT)

typedef struct LumenWindow {
    uint32_t ctrl;                  /* LUMEN_WIN_*; 0 = closed */
    uint64_t key;
    uint64_t va;
    uint64_t size;
} LumenWindow;

/* Target: what one (source chip, stream) had applied here. */
typedef struct LumenStream {
    uint64_t id;                    /* src_chip << 16 | stream: hash key */
    bool valid;                     /* epoch and msg hold a message */
    uint32_t epoch;
    uint32_t msg;
    /* The message: every packet of it must name the same operation. */
    uint8_t op;
    uint8_t aop;
    uint16_t window;
    uint64_t offset;
    uint64_t size;
    unsigned long *applied;         /* WRITE, REDUCE: packets applied */
    uint8_t status;                 /* not OK: the message was refused */
    bool atomic_done;               /* ATOMIC applied (or refused) */
    uint64_t atomic_old;
    int64_t used_ms;
    QTAILQ_ENTRY(LumenStream) lru;
} LumenStream;

/* Source: the remote descriptor a queue runs. */
typedef struct LumenRemoteTx {
    LumenState *s;
    unsigned int q;
    QEMUTimer *timer;               /* retransmission and timeout */
    bool active;                    /* a message of lq->cur is in flight */
    bool has_epoch;                 /* else the next message takes one */
    uint32_t epoch;
    uint32_t msg;
    struct lumen_pkt_hdr req;       /* request header; pkt set per packet */
    uint64_t local;                 /* source, RREAD data, result */
    uint64_t size;
    uint32_t npkts;
    uint32_t base;                  /* oldest unanswered packet */
    uint32_t next;                  /* first packet never sent */
    uint64_t answered;              /* bit i: packet base + i answered */
    int64_t sent_ms[LUMEN_E2E_WINDOW];  /* last send of packet p, p % 64 */
    int64_t progress_ms;            /* start, or the last new answer */
    uint64_t resent;                /* bit i: packet base + i sent again */
    uint32_t rto_ms;                /* retransmission time, backs off */
    uint32_t srtt_ms;               /* smoothed clean round trip, 0 = none */
    bool unroutable;                /* the last send found no route */
    bool blocks;                    /* holds LumenRemote.blocker */
    uint32_t fail;                  /* not OK: stop the queue with this */
    uint32_t fail_err;              /* ERR_STATUS class to report, or 0 */
} LumenRemoteTx;

struct LumenRemote {
    LumenState *s;
    LumenWindow win[LUMEN_NUM_WINDOWS];
    uint32_t win_index;
    uint32_t key_lo, va_lo, size_lo;        /* pending until _HI */
    uint64_t key, va, size;                 /* staged */
    uint32_t timeout_ms;                    /* E2E_TIMEOUT_MS */
    uint32_t epoch_next;                    /* never reset */
    uint32_t access_errors;
    uint32_t retransmits;
    uint32_t duplicates;
    uint32_t timeouts;
    uint32_t bad_pkts;
    GHashTable *streams;
    QTAILQ_HEAD(, LumenStream) lru;         /* most recently used first */
    unsigned int nstreams;
    uint64_t stream_drops;                  /* table full of live streams */
    /* Migration: held while an RREDUCE or RATOMIC is in flight. */
    Error *blocker;
    unsigned int blocking;                  /* messages holding it */
    VMChangeStateEntry *vm_change;
    NotifierWithReturn migration;
    LumenRemoteTx tx[LUMEN_QUEUES_MAX];
    uint8_t tx_buf[LUMEN_PKT_PAYLOAD_MAX];  /* RWRITE payload bounce */
    uint8_t rx_buf[LUMEN_PKT_PAYLOAD_MAX];  /* READ_RESP payload bounce */
    uint8_t red_buf[LUMEN_PKT_PAYLOAD_MAX]; /* REDUCE: the window's bytes */
};

bool lumen_remote_enabled(LumenState *s)
{
    return s->caps & LUMEN_CAP_LINKS;
}

uint32_t lumen_remote_bad_pkts(LumenState *s)
{
    return s->remote->bad_pkts;
}

static int64_t lumen_remote_now(void)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

/* Payload bytes of packet @pkt of an operation of @size bytes. */
static uint32_t lumen_pkt_bytes(uint64_t size, uint32_t pkt)
{
    uint64_t first = (uint64_t)pkt * LUMEN_PKT_PAYLOAD_MAX;

    return first >= size ? 0 : MIN(size - first, LUMEN_PKT_PAYLOAD_MAX);
}

static void lumen_remote_bad(LumenState *s, const struct lumen_pkt_hdr *h,
                             const char *why)
{
    s->remote->bad_pkts++;
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: remote packet from "
                  "chip %u op %u dropped: %s\n", s->chip_id,
                  le32_to_cpu(h->src_chip), h->op, why);
    trace_lumen_remote_drop(s->chip_id, le32_to_cpu(h->src_chip), h->op, why);
}

/* ---- Source: messages of the queues ------------------------------------ */

/* A new epoch for a queue's stream: unique since realize. */
static uint32_t lumen_remote_new_epoch(LumenRemote *r)
{
    return ++r->epoch_next;
}

/*
 * Must remote descriptor @c not run twice? RATOMIC, and an RREDUCE with
 * bytes to send (one of 0 bytes sends nothing). RWRITE and RREAD run
 * again with the same result.
 */
static bool lumen_remote_once_only(const struct lumen_cmd *c)
{
    return c->opcode == LUMEN_CMD_RATOMIC ||
           (c->opcode == LUMEN_CMD_RREDUCE && c->u.rreduce.size);
}

/*
 * Before queue @q's RREDUCE or RATOMIC message starts: a migration would
 * carry neither the message nor the target's exactly-once state, and the
 * destination would run the descriptor again as a new message, applying
 * it twice. So the message holds a migration blocker while it is in
 * flight. False if it must not start now: the VM is not running (a
 * migration or snapshot may have saved the queue with the descriptor not
 * yet run) or a migration is under way (no blocker can be added). The
 * engine is kicked when the VM runs again or a migration ends.
 */
static bool lumen_remote_block(LumenState *s, LumenRemoteTx *tx)
{
    LumenRemote *r = s->remote;
    Error *err = NULL;

    if (!runstate_is_running()) {
        trace_lumen_remote_defer(s->chip_id, tx->q, "the VM is not running");
        return false;
    }
    if (!r->blocking) {
        error_setg(&r->blocker, "lumen-npu: chip %u: an RREDUCE or RATOMIC "
                   "is in flight and must not be applied twice: migrate "
                   "when it has completed", s->chip_id);
        /* A blocker for seconds at most: --only-migratable does not veto. */
        if (migrate_add_blocker_internal(&r->blocker, &err) < 0) {
            trace_lumen_remote_defer(s->chip_id, tx->q,
                                     error_get_pretty(err));
            error_free(err);
            return false;
        }
    }
    r->blocking++;
    tx->blocks = true;
    return true;
}

/* Queue @q's message no longer needs the migration blocker. */
static void lumen_remote_unblock(LumenState *s, LumenRemoteTx *tx)
{
    LumenRemote *r = s->remote;

    if (!tx->blocks) {
        return;
    }
    tx->blocks = false;
    if (!--r->blocking) {
        migrate_del_blocker(&r->blocker);
    }
}

/* The VM runs again: a deferred RREDUCE or RATOMIC may start. */
static void lumen_remote_vm_change(void *opaque, bool running,
                                   RunState state)
{
    if (running) {
        lumen_engine_kick(opaque);
    }
}

/* A migration ended: a deferred RREDUCE or RATOMIC may start. */
static int lumen_remote_migration_event(NotifierWithReturn *n,
                                        MigrationEvent *e, Error **errp)
{
    LumenRemote *r = container_of(n, LumenRemote, migration);

    if (e->type != MIG_EVENT_PRECOPY_SETUP) {
        lumen_engine_kick(r->s);
    }
    return 0;
}

void lumen_remote_queue_abandon(LumenState *s, unsigned int q)
{
    LumenRemoteTx *tx;

    if (!s->remote || q >= LUMEN_QUEUES_MAX) {
        return;
    }
    tx = &s->remote->tx[q];
    if (tx->active) {
        trace_lumen_remote_abandon(s->chip_id, q, tx->epoch, tx->msg);
    }
    tx->active = false;
    tx->has_epoch = false;
    tx->fail = LUMEN_STATUS_OK;
    timer_del(tx->timer);
    lumen_remote_unblock(s, tx);
}

static void lumen_remote_timer(void *opaque)
{
    LumenRemoteTx *tx = opaque;

    if (tx->active) {
        lumen_engine_kick(tx->s);
    }
}

/* A retransmission time within [LUMEN_E2E_RETRANSMIT_MS, the cap]. */
static uint32_t lumen_remote_rto(LumenRemote *r, uint64_t ms)
{
    uint32_t cap = MIN(LUMEN_E2E_RTO_MAX_MS,
                       MAX(r->timeout_ms / 2, LUMEN_E2E_RETRANSMIT_MS));

    return MAX(LUMEN_E2E_RETRANSMIT_MS, MIN(ms, cap));
}

/*
 * Start the message of queue @q's remote descriptor. False if there is
 * none to send (RWRITE or RREAD of 0 bytes): the descriptor is complete.
 */
static bool lumen_remote_start(LumenState *s, LumenRemoteTx *tx)
{
    LumenRemote *r = s->remote;
    const struct lumen_cmd *c = &s->queues[tx->q].cur;
    struct lumen_pkt_hdr *h = &tx->req;
    uint32_t dst;

    memset(h, 0, sizeof(*h));
    if (c->opcode == LUMEN_CMD_RATOMIC) {
        const struct lumen_cmd_ratomic *a = &c->u.ratomic;

        h->op = LUMEN_PKT_ATOMIC;
        h->aop = le32_to_cpu(a->op);
        h->window = cpu_to_le16(le32_to_cpu(a->window));
        h->key = a->key;
        h->offset = a->offset;
        h->arg = a->operand;
        dst = le32_to_cpu(a->dst_chip);
        tx->local = le64_to_cpu(a->result);
        tx->size = 8;
        tx->npkts = 1;
    } else if (c->opcode == LUMEN_CMD_RREDUCE) {
        const struct lumen_cmd_rreduce *a = &c->u.rreduce;

        tx->size = le64_to_cpu(a->size);
        if (!tx->size) {
            return false;
        }
        /* An RWRITE whose packets reduce instead of writing. */
        h->op = LUMEN_PKT_REDUCE;
        h->aop = lumen_pkt_redop(le32_to_cpu(a->dtype), le32_to_cpu(a->op));
        h->window = cpu_to_le16(le32_to_cpu(a->window));
        h->key = a->key;
        h->offset = a->offset;
        dst = le32_to_cpu(a->dst_chip);
        tx->local = le64_to_cpu(a->local);
        tx->npkts = lumen_pkt_count(tx->size);
    } else {
        const struct lumen_cmd_remote *a = &c->u.remote;

        tx->size = le64_to_cpu(a->size);
        if (!tx->size) {
            return false;
        }
        h->op = c->opcode == LUMEN_CMD_RWRITE ? LUMEN_PKT_WRITE :
                LUMEN_PKT_READ_REQ;
        h->window = cpu_to_le16(le32_to_cpu(a->window));
        h->key = a->key;
        h->offset = a->offset;
        dst = le32_to_cpu(a->dst_chip);
        tx->local = le64_to_cpu(a->local);
        tx->npkts = lumen_pkt_count(tx->size);
    }
    if (tx->has_epoch) {
        tx->msg++;
    } else {
        tx->epoch = lumen_remote_new_epoch(r);
        tx->msg = 0;
        tx->has_epoch = true;
    }
    h->src_chip = cpu_to_le32(s->chip_id);
    h->dst_chip = cpu_to_le32(dst);
    h->stream = cpu_to_le16(tx->q);
    h->epoch = cpu_to_le32(tx->epoch);
    h->msg = cpu_to_le32(tx->msg);
    h->size = cpu_to_le64(tx->size);
    tx->base = tx->next = 0;
    tx->answered = 0;
    tx->progress_ms = lumen_remote_now();
    tx->resent = 0;
    tx->rto_ms = lumen_remote_rto(s->remote, tx->srtt_ms * 2);
    tx->fail = LUMEN_STATUS_OK;
    tx->fail_err = 0;
    tx->unroutable = false;
    tx->active = true;
    trace_lumen_remote_msg(s->chip_id, tx->q, h->op, dst, tx->epoch, tx->msg,
                           tx->size);
    return true;
}

/* Fail queue @q's remote descriptor with @code from the engine. */
static LumenExec lumen_remote_fail(LumenState *s, LumenRemoteTx *tx,
                                   uint32_t code, uint32_t err_bit)
{
    uint32_t dst = le32_to_cpu(tx->req.dst_chip);
    unsigned int q = tx->q;

    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: remote "
                  "op %u to chip %u window %u failed: %s\n", s->chip_id, q,
                  tx->req.op, dst, le16_to_cpu(tx->req.window),
                  lumen_status_name(code));
    trace_lumen_remote_done(s->chip_id, q, tx->msg, code);
    if (code == LUMEN_STATUS_TIMEOUT) {
        s->remote->timeouts++;
    }
    lumen_remote_queue_abandon(s, q);
    /* ACCESS, UNREACHABLE, TIMEOUT: ERR_LAST_INFO = dst_chip (13.7). */
    return lumen_engine_fail(s, q, err_bit, code, dst);
}

/*
 * The payload of RWRITE or RREDUCE packet @p, so that lumen_route_send()
 * makes the only copy: in place when the bytes are contiguous in device
 * memory or in a mapped host page (*@map, to unmap after the send), else
 * read into tx_buf. NULL if the queue stopped (MMU fault, DMA error) or
 * the device was reset by the read.
 */
static const void *lumen_remote_payload(LumenState *s, LumenRemoteTx *tx,
                                        uint32_t p, uint32_t len, void **map)
{
    uint64_t va = tx->local + (uint64_t)p * LUMEN_PKT_PAYLOAD_MAX;
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    enum lumen_status st;
    dma_addr_t mlen = len;
    LumenXlate x;

    st = lumen_mmu_translate(s, tx->q, va, false, &x);
    if (st == LUMEN_STATUS_OK && !x.host && x.len >= len) {
        return lumen_engine_devmem(s, x.addr);
    }
    if (st == LUMEN_STATUS_OK && x.host && x.len >= len) {
        *map = dma_memory_map(as, x.addr, &mlen, DMA_DIRECTION_TO_DEVICE,
                              MEMTXATTRS_UNSPECIFIED);
        if (*map && mlen == len) {
            return *map;
        }
        if (*map) {
            dma_memory_unmap(as, *map, mlen, DMA_DIRECTION_TO_DEVICE, 0);
            *map = NULL;
        }
    }
    if (st == LUMEN_STATUS_OK) {
        st = lumen_engine_rw(s, tx->q, va, s->remote->tx_buf, len, false);
    }
    if (s->reset_gen != s->engine.run_gen) {
        return NULL;
    }
    if (st == LUMEN_STATUS_DMA_ERROR) {
        lumen_engine_fail(s, tx->q, 0, st, 0);      /* already reported */
    }
    return st == LUMEN_STATUS_OK ? s->remote->tx_buf : NULL;
}

/*
 * Send (or send again) packet @p of queue @q's message. PARKED: not sent,
 * the first port holds LUMEN_LINK_OWN_MAX packets that wait for credit
 * (the link kicks the engine when one leaves).
 */
static LumenExec lumen_remote_send(LumenState *s, LumenRemoteTx *tx,
                                   uint32_t p, int64_t now, uint64_t *moved)
{
    struct lumen_pkt_hdr h = tx->req;
    const void *payload = NULL;
    void *map = NULL;
    uint32_t len = 0, st;

    if (h.op == LUMEN_PKT_WRITE || h.op == LUMEN_PKT_REDUCE) {
        len = lumen_pkt_bytes(tx->size, p);
        payload = lumen_remote_payload(s, tx, p, len, &map);
        if (!payload) {
            return LUMEN_EXEC_STOPPED;
        }
    }
    h.pkt = cpu_to_le32(p);
    st = lumen_route_send(s, &h, payload, len);
    if (map) {
        dma_memory_unmap(pci_get_address_space(PCI_DEVICE(s)), map, len,
                         DMA_DIRECTION_TO_DEVICE, len);
    }
    if (st == LUMEN_STATUS_BUSY) {
        /*
         * Copies of this message (or others) already wait at this chip:
         * another one would only pile up. A resend waits its turn again.
         */
        tx->sent_ms[p % LUMEN_E2E_WINDOW] = now;
        return LUMEN_EXEC_PARKED;
    }
    if (st == LUMEN_STATUS_UNREACHABLE && tx->next) {
        /*
         * The route went away under a message in flight (a port
         * retraining, a cut without an alternative): the packet is
         * lost, resent every LUMEN_E2E_RETRANSMIT_MS; if the route is
         * still missing at E2E_TIMEOUT_MS, the message fails UNREACHABLE.
         */
        tx->unroutable = true;
    } else if (st != LUMEN_STATUS_OK) {
        /* No route from here for a new message: fail at once (13.4). */
        return lumen_remote_fail(s, tx, st, LUMEN_ERR_LINK);
    } else {
        tx->unroutable = false;
        *moved += len;
    }
    tx->sent_ms[p % LUMEN_E2E_WINDOW] = now;
    return LUMEN_EXEC_DONE;
}

static bool lumen_remote_answered(LumenRemoteTx *tx, uint32_t p)
{
    return p < tx->base || (tx->answered >> (p - tx->base) & 1);
}

LumenExec lumen_remote_exec(LumenState *s, unsigned int q, uint64_t *moved)
{
    LumenRemote *r = s->remote;
    LumenRemoteTx *tx = &r->tx[q];
    int64_t now = lumen_remote_now();
    int64_t deadline;
    bool busy = false, resent = false;
    LumenExec e;
    uint32_t p;

    if (!tx->active) {
        if (lumen_remote_once_only(&s->queues[q].cur) &&
            !lumen_remote_block(s, tx)) {
            return LUMEN_EXEC_PARKED;       /* kicked when it may start */
        }
        if (!lumen_remote_start(s, tx)) {
            return LUMEN_EXEC_DONE;
        }
    }
    if (tx->fail != LUMEN_STATUS_OK) {
        return lumen_remote_fail(s, tx, tx->fail, tx->fail_err);
    }
    if (tx->base == tx->npkts) {
        trace_lumen_remote_done(s->chip_id, q, tx->msg, LUMEN_STATUS_OK);
        tx->active = false;
        timer_del(tx->timer);
        lumen_remote_unblock(s, tx);
        return LUMEN_EXEC_DONE;
    }
    if (now - tx->progress_ms >= r->timeout_ms) {
        return lumen_remote_fail(s, tx, tx->unroutable ?
                                 LUMEN_STATUS_UNREACHABLE :
                                 LUMEN_STATUS_TIMEOUT, LUMEN_ERR_LINK);
    }
    /*
     * Resend what waited too long, then fill the window; once the first
     * port has no room, what is due waits another retransmission time.
     */
    for (p = tx->base; p < tx->next; p++) {
        if (!lumen_remote_answered(tx, p) &&
            now - tx->sent_ms[p % LUMEN_E2E_WINDOW] >= tx->rto_ms) {
            if (busy) {
                tx->sent_ms[p % LUMEN_E2E_WINDOW] = now;
            } else {
                e = lumen_remote_send(s, tx, p, now, moved);
                busy = e == LUMEN_EXEC_PARKED;
            }
            if (busy) {
                /* Its answer no longer times the path (Karn's rule). */
                tx->resent |= 1ull << (p - tx->base);
                continue;
            }
            if (e != LUMEN_EXEC_DONE) {
                return e;
            }
            r->retransmits++;
            tx->resent |= 1ull << (p - tx->base);
            resent = true;
        }
    }
    if (resent) {
        tx->rto_ms = lumen_remote_rto(r, (uint64_t)tx->rto_ms * 2);
    }
    while (!busy && tx->next < tx->npkts &&
           tx->next - tx->base < LUMEN_E2E_WINDOW) {
        e = lumen_remote_send(s, tx, tx->next, now, moved);
        if (e == LUMEN_EXEC_PARKED) {
            break;
        }
        if (e != LUMEN_EXEC_DONE) {
            return e;
        }
        tx->next++;
    }
    deadline = tx->progress_ms + r->timeout_ms;
    for (p = tx->base; p < tx->next; p++) {
        if (!lumen_remote_answered(tx, p)) {
            deadline = MIN(deadline, tx->sent_ms[p % LUMEN_E2E_WINDOW] +
                           tx->rto_ms);
        }
    }
    timer_mod(tx->timer, deadline);
    return LUMEN_EXEC_PARKED;
}

/* Where the descriptor of queue @q writes failed: stop it from the engine. */
static void lumen_remote_local_failed(LumenState *s, LumenRemoteTx *tx,
                                      enum lumen_status st)
{
    if (st == LUMEN_STATUS_DMA_ERROR && tx->active &&
        tx->fail == LUMEN_STATUS_OK) {
        tx->fail = st;
        tx->fail_err = 0;           /* lumen_engine_rw() reported it */
        lumen_engine_kick(s);
    }
    /* MMU_FAULT: the fault stopped the queue, which abandoned the message. */
}

/* The answer op of request op @op. */
static uint8_t lumen_answer_op(uint8_t op)
{
    return op == LUMEN_PKT_WRITE || op == LUMEN_PKT_REDUCE ? LUMEN_PKT_ACK :
           op == LUMEN_PKT_READ_REQ ? LUMEN_PKT_READ_RESP :
           LUMEN_PKT_ATOMIC_RESP;
}

/*
 * Can answer @h carry its aop? An ATOMIC_RESP echoes an atomic op, the
 * ACK of a REDUCE packet its reduction (the ACK of a WRITE 0), a
 * READ_RESP 0. Whether it is its request's is checked later.
 */
static bool lumen_answer_aop_ok(const struct lumen_pkt_hdr *h)
{
    switch (h->op) {
    case LUMEN_PKT_ATOMIC_RESP:
        return h->aop < LUMEN_RATOMIC_COUNT;
    case LUMEN_PKT_ACK:
        return !h->aop || !lumen_reduce_check(lumen_redop_dtype(h->aop),
                                              lumen_redop_op(h->aop));
    default:
        return !h->aop;
    }
}

/* Is @tx still running the message that answer @h belongs to? */
static bool lumen_remote_current(LumenRemoteTx *tx,
                                 const struct lumen_pkt_hdr *h)
{
    return tx->active && le32_to_cpu(h->epoch) == tx->epoch &&
           le32_to_cpu(h->msg) == tx->msg;
}

/* An answer (ACK, READ_RESP, ATOMIC_RESP) to one of this chip's requests. */
static void lumen_remote_answer_rx(LumenState *s,
                                   const struct lumen_pkt_hdr *h,
                                   const uint8_t *payload, uint32_t len)
{
    LumenRemote *r = s->remote;
    uint32_t gen = s->reset_gen;
    uint32_t q = le16_to_cpu(h->stream);
    uint32_t p = le32_to_cpu(h->pkt);
    uint8_t want;
    LumenRemoteTx *tx;
    enum lumen_status st;

    if (h->status != LUMEN_STATUS_OK && h->status != LUMEN_STATUS_ACCESS &&
        h->status != LUMEN_STATUS_UNREACHABLE) {
        lumen_remote_bad(s, h, "unknown answer status");
        return;
    }
    if (h->op != LUMEN_PKT_ATOMIC_RESP && h->arg) {
        lumen_remote_bad(s, h, "arg in an ACK or READ_RESP");
        return;
    }
    if (!lumen_answer_aop_ok(h)) {
        lumen_remote_bad(s, h, "aop unknown or not of the answer's op");
        return;
    }
    if (q >= s->num_queues) {
        lumen_remote_bad(s, h, "answer for a queue this chip does not have");
        return;
    }
    tx = &r->tx[q];
    if (!lumen_remote_current(tx, h)) {
        /* Of an abandoned, failed or finished message: ignored. */
        trace_lumen_remote_stale(s->chip_id, le32_to_cpu(h->src_chip), h->op,
                                 le32_to_cpu(h->epoch), le32_to_cpu(h->msg),
                                 p);
        return;
    }
    want = lumen_answer_op(tx->req.op);
    if (h->op != want) {
        lumen_remote_bad(s, h, "answer op does not match the request");
        return;
    }
    if (p >= tx->next) {
        lumen_remote_bad(s, h, "answer for a packet not sent");
        return;
    }
    /*
     * A chip on the way may answer UNREACHABLE; all else is the target's.
     * Every answer echoes the request's aop (13.4).
     */
    if (h->aop != tx->req.aop ||
        (h->status != LUMEN_STATUS_UNREACHABLE &&
         (h->src_chip != tx->req.dst_chip || h->window != tx->req.window ||
          h->offset != tx->req.offset || h->size != tx->req.size))) {
        lumen_remote_bad(s, h, "answer does not match its request");
        return;
    }
    if (len != (h->op == LUMEN_PKT_READ_RESP && h->status == LUMEN_STATUS_OK ?
                lumen_pkt_bytes(tx->size, p) : 0)) {
        lumen_remote_bad(s, h, "answer payload length wrong");
        return;
    }
    if (lumen_remote_answered(tx, p) || tx->fail != LUMEN_STATUS_OK) {
        return;                     /* a duplicate answer */
    }
    if (h->status != LUMEN_STATUS_OK) {
        /* Refused or unroutable: stop sending, fail at once. */
        tx->fail = h->status;
        tx->fail_err = LUMEN_ERR_LINK;
        lumen_engine_kick(s);
        return;
    }
    switch (h->op) {
    case LUMEN_PKT_READ_RESP:
        st = lumen_engine_rw(s, q, tx->local +
                             (uint64_t)p * LUMEN_PKT_PAYLOAD_MAX,
                             (void *)payload, len, true);
        break;
    case LUMEN_PKT_ATOMIC_RESP:
        st = LUMEN_STATUS_OK;
        if (tx->local) {
            uint64_t old = h->arg;      /* little-endian, as stored */

            st = lumen_engine_rw(s, q, tx->local, &old, 8, true);
        }
        break;
    default:
        /* RWRITE, RREDUCE: PROGRESS counts the bytes the target confirmed. */
        s->queues[q].written += lumen_pkt_bytes(tx->size, p);
        st = LUMEN_STATUS_OK;
        break;
    }
    if (s->reset_gen != gen || !lumen_remote_current(tx, h)) {
        return;
    }
    if (st != LUMEN_STATUS_OK) {
        lumen_remote_local_failed(s, tx, st);
        return;
    }
    if (!(tx->resent >> (p - tx->base) & 1)) {
        /* Only packets sent once time the path (Karn's rule). */
        int64_t rtt = lumen_remote_now() - tx->sent_ms[p % LUMEN_E2E_WINDOW];

        rtt = MAX(rtt, 0);
        tx->srtt_ms = tx->srtt_ms ? (7 * (int64_t)tx->srtt_ms + rtt) / 8 : rtt;
        tx->rto_ms = lumen_remote_rto(s->remote, (uint64_t)tx->srtt_ms * 2);
    }
    tx->answered |= 1ull << (p - tx->base);
    while (tx->answered & 1) {
        tx->answered >>= 1;
        tx->resent >>= 1;
        tx->base++;
    }
    tx->progress_ms = lumen_remote_now();
    lumen_engine_kick(s);
}

/* ---- Target: requests through the windows ------------------------------ */

static void lumen_stream_forget(LumenStream *st)
{
    g_free(st->applied);
    st->applied = NULL;
    st->valid = false;
}

/*
 * The state of (@src, @stream), created or recycled if needed: when the
 * table is full, the least recently used entry goes if it has been silent
 * for LUMEN_REMOTE_STREAM_LIVE_MS. NULL if every entry is younger: an
 * entry still in use must not be forgotten (a resend of a packet it
 * applied would be applied again), so the new stream waits.
 */
static LumenStream *lumen_remote_stream(LumenState *s, uint32_t src,
                                        uint16_t stream, int64_t now)
{
    LumenRemote *r = s->remote;
    uint64_t id = (uint64_t)src << 16 | stream;
    LumenStream *st = g_hash_table_lookup(r->streams, &id);

    if (st) {
        QTAILQ_REMOVE(&r->lru, st, lru);
        if (now - st->used_ms > LUMEN_REMOTE_STREAM_IDLE_MS) {
            lumen_stream_forget(st);
        }
    } else {
        if (r->nstreams >= s->remote_streams) {
            st = QTAILQ_LAST(&r->lru);
            if (now - st->used_ms < LUMEN_REMOTE_STREAM_LIVE_MS) {
                return NULL;
            }
            QTAILQ_REMOVE(&r->lru, st, lru);
            g_hash_table_remove(r->streams, &st->id);
            lumen_stream_forget(st);
        } else {
            st = g_new0(LumenStream, 1);
            r->nstreams++;
        }
        st->id = id;
        g_hash_table_insert(r->streams, &st->id, st);
    }
    st->used_ms = now;
    QTAILQ_INSERT_HEAD(&r->lru, st, lru);
    return st;
}

/* Make @h's message the stream's current one, nothing of it applied. */
static void lumen_stream_begin(LumenStream *st, const struct lumen_pkt_hdr *h)
{
    lumen_stream_forget(st);
    st->valid = true;
    st->epoch = le32_to_cpu(h->epoch);
    st->msg = le32_to_cpu(h->msg);
    st->op = h->op;
    st->aop = h->aop;
    st->window = le16_to_cpu(h->window);
    st->offset = le64_to_cpu(h->offset);
    st->size = le64_to_cpu(h->size);
    st->status = LUMEN_STATUS_OK;
    st->atomic_done = false;
    st->atomic_old = 0;
    if (h->op == LUMEN_PKT_WRITE || h->op == LUMEN_PKT_REDUCE) {
        st->applied = bitmap_new(lumen_pkt_count(st->size));
    }
}

typedef enum LumenPktAge {
    LUMEN_PKT_CURRENT,              /* of the stream's current message */
    LUMEN_PKT_STALE,                /* of an older message or epoch */
    LUMEN_PKT_BOGUS,                /* the current message, another op */
} LumenPktAge;

/* Classify request @h for its stream; a newer message becomes current. */
static LumenPktAge lumen_stream_age(LumenStream *st,
                                    const struct lumen_pkt_hdr *h)
{
    uint32_t epoch = le32_to_cpu(h->epoch), msg = le32_to_cpu(h->msg);

    if (!st->valid || epoch != st->epoch) {
        if (st->valid && st->epoch - epoch < LUMEN_REMOTE_STALE_EPOCHS) {
            return LUMEN_PKT_STALE;
        }
        lumen_stream_begin(st, h);
        return LUMEN_PKT_CURRENT;
    }
    if (msg != st->msg) {
        if ((int32_t)(msg - st->msg) < 0) {
            return LUMEN_PKT_STALE;
        }
        lumen_stream_begin(st, h);
        return LUMEN_PKT_CURRENT;
    }
    if (h->op != st->op || h->aop != st->aop ||
        le16_to_cpu(h->window) != st->window ||
        le64_to_cpu(h->offset) != st->offset ||
        le64_to_cpu(h->size) != st->size) {
        return LUMEN_PKT_BOGUS;
    }
    return LUMEN_PKT_CURRENT;
}

/* Send the answer @op to request @req. */
static void lumen_remote_reply(LumenState *s, const struct lumen_pkt_hdr *req,
                               uint8_t op, uint32_t status, uint64_t arg,
                               const void *payload, uint32_t len)
{
    struct lumen_pkt_hdr a = {
        .src_chip = cpu_to_le32(s->chip_id),
        .dst_chip = req->src_chip,
        .op = op,
        .stream = req->stream,
        .epoch = req->epoch,
        .msg = req->msg,
        .pkt = req->pkt,
        .status = status,
        .aop = req->aop,            /* every answer echoes it (13.4) */
        .window = req->window,
        .offset = req->offset,
        .size = req->size,
        .arg = cpu_to_le64(arg),
    };

    if (lumen_route_send(s, &a, payload, len) != LUMEN_STATUS_OK) {
        /* No way back: the source retransmits or times out. */
        trace_lumen_remote_drop(s->chip_id, s->chip_id, op,
                                "answer unroutable");
    }
}

/* Refuse request @h (ACCESS): nothing of it is applied. */
static void lumen_remote_refuse(LumenState *s, const struct lumen_pkt_hdr *h,
                                const char *why)
{
    s->remote->access_errors++;
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: remote op %u from "
                  "chip %u refused, window %u offset 0x%" PRIx64 " size 0x%"
                  PRIx64 ": %s\n", s->chip_id, h->op,
                  le32_to_cpu(h->src_chip), le16_to_cpu(h->window),
                  le64_to_cpu(h->offset), le64_to_cpu(h->size), why);
    trace_lumen_remote_refuse(s->chip_id, le32_to_cpu(h->src_chip),
                              le16_to_cpu(h->window), why);
    lumen_remote_reply(s, h, lumen_answer_op(h->op), LUMEN_STATUS_ACCESS, 0,
                       NULL, 0);
}

/* The window right request op @op needs. */
static uint32_t lumen_request_right(uint8_t op)
{
    return op == LUMEN_PKT_READ_REQ ? LUMEN_WIN_READ :
           op == LUMEN_PKT_ATOMIC ? LUMEN_WIN_ATOMIC :
           LUMEN_WIN_WRITE;                 /* WRITE, REDUCE */
}

/*
 * Check request @h against the window it names: open, its key, @right,
 * the whole operation inside it. No side effect. NULL if it passes, else
 * why not.
 */
static const char *lumen_remote_win_check(LumenState *s,
                                          const struct lumen_pkt_hdr *h,
                                          uint32_t right)
{
    uint32_t slot = le16_to_cpu(h->window);
    uint64_t offset = le64_to_cpu(h->offset), size = le64_to_cpu(h->size);
    const LumenWindow *w;

    if (slot >= LUMEN_NUM_WINDOWS) {
        return "no such window";
    }
    w = &s->remote->win[slot];
    if (!(w->ctrl & LUMEN_WIN_VALID)) {
        return "window closed";
    }
    if (le64_to_cpu(h->key) != w->key) {
        return "wrong key";
    }
    if (!(w->ctrl & right)) {
        return "window lacks the right";
    }
    if (offset > w->size || size > w->size - offset) {
        return "operation beyond the window";
    }
    return NULL;
}

/*
 * Check request @h against its window and translate the @n bytes at
 * @first (bytes into the operation) for @write into @x (at most 3
 * pieces). NULL if the packet may go ahead, else why not.
 */
static const char *lumen_remote_window(LumenState *s,
                                       const struct lumen_pkt_hdr *h,
                                       uint32_t right, bool write,
                                       uint64_t first, uint32_t n,
                                       LumenXlate *x, unsigned int *nx)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    uint64_t offset = le64_to_cpu(h->offset);
    uint64_t va, bus, done = 0;
    const LumenWindow *w;
    const char *why;
    unsigned int ctx;

    why = lumen_remote_win_check(s, h, right);
    if (why) {
        return why;
    }
    w = &s->remote->win[le16_to_cpu(h->window)];
    ctx = (w->ctrl & LUMEN_WIN_CTX_MASK) >> LUMEN_WIN_CTX_SHIFT;
    va = w->va + offset + first;
    *nx = 0;
    while (done < n) {
        LumenXlate *xi = &x[*nx];
        int rc = lumen_mmu_lookup(s, ctx, va + done, write, xi, &bus);

        if (rc == LUMEN_MMU_LOOKUP_DMA_ERROR) {
            return "window page table unreadable";
        }
        if (rc) {
            return write ? "window page unmapped or read-only" :
                   "window page unmapped or not readable";
        }
        xi->len = MIN(xi->len, n - done);
        if (xi->host &&
            !dma_memory_valid(as, xi->addr, xi->len,
                              write ? DMA_DIRECTION_FROM_DEVICE :
                              DMA_DIRECTION_TO_DEVICE,
                              MEMTXATTRS_UNSPECIFIED)) {
            return "window page not accessible by DMA";
        }
        done += xi->len;
        (*nx)++;
    }
    return NULL;
}

/* READ_REQ: idempotent, served every time. */
static void lumen_remote_read(LumenState *s, const struct lumen_pkt_hdr *h)
{
    uint32_t gen = s->reset_gen;
    uint32_t p = le32_to_cpu(h->pkt);
    uint32_t n = lumen_pkt_bytes(le64_to_cpu(h->size), p);
    uint8_t *buf = s->remote->rx_buf;
    const void *data = buf;
    LumenXlate x[3];
    unsigned int nx, i;
    uint32_t off = 0;
    const char *why;

    why = lumen_remote_window(s, h, LUMEN_WIN_READ, false,
                              (uint64_t)p * LUMEN_PKT_PAYLOAD_MAX, n, x, &nx);
    if (why) {
        lumen_remote_refuse(s, h, why);
        return;
    }
    if (nx == 1 && !x[0].host) {
        data = lumen_engine_devmem(s, x[0].addr);
    } else {
        for (i = 0; i < nx; i++) {
            if (lumen_engine_xfer(s, &x[i], buf + off, x[i].len, false) !=
                MEMTX_OK) {
                if (s->reset_gen == gen) {
                    lumen_remote_refuse(s, h, "window page DMA failed");
                }
                return;
            }
            if (s->reset_gen != gen) {
                return;
            }
            off += x[i].len;
        }
    }
    lumen_remote_reply(s, h, LUMEN_PKT_READ_RESP, LUMEN_STATUS_OK, 0, data, n);
}

/*
 * What a WRITE or REDUCE packet @h (@len payload bytes) does first: refused
 * if its message was, acknowledged again without applying if it was
 * applied, refused (and its message) unless the window takes its bytes,
 * whose translation lands in @x / @nx. True: apply the packet.
 */
static bool lumen_remote_pkt_start(LumenState *s, LumenStream *st,
                                   const struct lumen_pkt_hdr *h,
                                   uint32_t len, LumenXlate *x,
                                   unsigned int *nx)
{
    uint32_t p = le32_to_cpu(h->pkt);
    const char *why;

    if (st->status != LUMEN_STATUS_OK) {
        lumen_remote_refuse(s, h, "message already refused");
        return false;
    }
    if (test_bit(p, st->applied)) {
        s->remote->duplicates++;
        lumen_remote_reply(s, h, LUMEN_PKT_ACK, LUMEN_STATUS_OK, 0, NULL, 0);
        return false;
    }
    why = lumen_remote_window(s, h, LUMEN_WIN_WRITE, true,
                              (uint64_t)p * LUMEN_PKT_PAYLOAD_MAX, len, x,
                              nx);
    if (why) {
        st->status = LUMEN_STATUS_ACCESS;
        lumen_remote_refuse(s, h, why);
        return false;
    }
    return true;
}

/* Apply WRITE packet @h: all of its bytes, or none if refused. */
static void lumen_remote_write(LumenState *s, LumenStream *st,
                               const struct lumen_pkt_hdr *h,
                               const uint8_t *payload, uint32_t len)
{
    uint32_t gen = s->reset_gen;
    uint32_t p = le32_to_cpu(h->pkt);
    LumenXlate x[3];
    unsigned int nx, i;
    uint32_t off = 0;

    if (!lumen_remote_pkt_start(s, st, h, len, x, &nx)) {
        return;
    }
    for (i = 0; i < nx; i++) {
        MemTxResult mr = lumen_engine_xfer(s, &x[i], (void *)(payload + off),
                                           x[i].len, true);

        if (s->reset_gen != gen) {
            return;
        }
        if (mr != MEMTX_OK) {
            st->status = LUMEN_STATUS_ACCESS;
            lumen_remote_refuse(s, h, "window page DMA failed");
            return;
        }
        off += x[i].len;
    }
    set_bit(p, st->applied);
    lumen_remote_reply(s, h, LUMEN_PKT_ACK, LUMEN_STATUS_OK, 0, NULL, 0);
}

/*
 * Apply REDUCE packet @h: each window element under its payload becomes
 * (window element) op (payload element), all of them, or none if the
 * packet is refused. Like a WRITE: it needs the WRITE right and writable
 * pages, a packet already applied is acknowledged again but not reduced
 * again. Every translated piece of the packet is read into red_buf first
 * (a failed read refuses the packet with nothing written), the whole
 * packet is reduced there once, marked applied, and written back piece by
 * piece: a write that fails half way (or a device reset by one of them)
 * leaves a prefix written, but the packet is applied and its message
 * refused, so no resend reduces that prefix twice. Pieces are whole
 * elements (the window VA is page aligned, offset, size and the packet's
 * start are aligned to the element size) and never overlap.
 */
static void lumen_remote_reduce(LumenState *s, LumenStream *st,
                                const struct lumen_pkt_hdr *h,
                                const uint8_t *payload, uint32_t len)
{
    uint32_t gen = s->reset_gen;
    uint32_t p = le32_to_cpu(h->pkt);
    uint32_t dtype = lumen_redop_dtype(h->aop), op = lumen_redop_op(h->aop);
    uint8_t *buf = s->remote->red_buf;
    LumenXlate x[3];
    unsigned int nx, i;
    uint32_t off;

    if (!lumen_remote_pkt_start(s, st, h, len, x, &nx)) {
        return;
    }
    for (i = 0, off = 0; i < nx; off += x[i++].len) {
        MemTxResult mr = lumen_engine_xfer(s, &x[i], buf + off, x[i].len,
                                           false);

        if (s->reset_gen != gen) {
            return;                 /* nothing written: not applied */
        }
        if (mr != MEMTX_OK) {
            st->status = LUMEN_STATUS_ACCESS;
            lumen_remote_refuse(s, h, "window page DMA failed");
            return;
        }
    }
    lumen_reduce(dtype, op, buf, payload, len);
    /* Applied from here on, whatever the writes do. */
    set_bit(p, st->applied);
    for (i = 0, off = 0; i < nx; off += x[i++].len) {
        MemTxResult mr = lumen_engine_xfer(s, &x[i], buf + off, x[i].len,
                                           true);

        if (mr != MEMTX_OK || (s->reset_gen != gen && i + 1 < nx)) {
            /* Part of the packet written: its message is refused. */
            st->status = LUMEN_STATUS_ACCESS;
        }
        if (s->reset_gen != gen) {
            return;
        }
        if (mr != MEMTX_OK) {
            lumen_remote_refuse(s, h, "window page DMA failed");
            return;
        }
    }
    lumen_remote_reply(s, h, LUMEN_PKT_ACK, LUMEN_STATUS_OK, 0, NULL, 0);
}

/*
 * The atomic on the word @x translates. Device memory: a host atomic, so
 * CPUs using BAR2 see it whole. Host pages: read, modify, write by DMA.
 */
static bool lumen_remote_atomic_op(LumenState *s, const LumenXlate *x,
                                   uint8_t aop, uint64_t operand,
                                   uint64_t *old)
{
    MemTxAttrs attrs = MEMTXATTRS_UNSPECIFIED;
    uint64_t val;

    if (!x->host) {
        uint64_t *w = (uint64_t *)lumen_engine_devmem(s, x->addr);
        uint64_t seen, cur;

        if (aop == LUMEN_RATOMIC_SIGNAL) {
            seen = qatomic_xchg(w, cpu_to_le64(operand));
        } else {
            cur = qatomic_read(w);
            do {
                seen = cur;
                cur = qatomic_cmpxchg(w, seen,
                                      cpu_to_le64(le64_to_cpu(seen) +
                                                  operand));
            } while (cur != seen);
        }
        memory_region_set_dirty(&s->mem, x->addr, 8);
        *old = le64_to_cpu(seen);
        return true;
    }
    if (ldq_le_pci_dma(PCI_DEVICE(s), x->addr, old, attrs) != MEMTX_OK) {
        return false;
    }
    val = aop == LUMEN_RATOMIC_SIGNAL ? operand : *old + operand;
    return stq_le_pci_dma(PCI_DEVICE(s), x->addr, val, attrs) == MEMTX_OK;
}

/* Apply ATOMIC @h once; a duplicate gets the first result again. */
static void lumen_remote_atomic(LumenState *s, LumenStream *st,
                                const struct lumen_pkt_hdr *h)
{
    uint32_t gen = s->reset_gen;
    LumenXlate xr, xw;
    unsigned int nx;
    const char *why;
    uint64_t old;
    bool ok;

    if (st->atomic_done) {
        s->remote->duplicates++;
        if (st->status != LUMEN_STATUS_OK) {
            lumen_remote_refuse(s, h, "message already refused");
        } else {
            lumen_remote_reply(s, h, LUMEN_PKT_ATOMIC_RESP, LUMEN_STATUS_OK,
                               st->atomic_old, NULL, 0);
        }
        return;
    }
    why = lumen_remote_window(s, h, LUMEN_WIN_ATOMIC, false, 0, 8, &xr, &nx);
    if (!why) {
        why = lumen_remote_window(s, h, LUMEN_WIN_ATOMIC, true, 0, 8, &xw,
                                  &nx);
    }
    st->atomic_done = true;
    if (why) {
        st->status = LUMEN_STATUS_ACCESS;
        lumen_remote_refuse(s, h, why);
        return;
    }
    ok = lumen_remote_atomic_op(s, &xw, h->aop, le64_to_cpu(h->arg), &old);
    if (s->reset_gen != gen) {
        return;
    }
    if (!ok) {
        st->status = LUMEN_STATUS_ACCESS;
        lumen_remote_refuse(s, h, "window page DMA failed");
        return;
    }
    st->atomic_old = old;
    lumen_remote_reply(s, h, LUMEN_PKT_ATOMIC_RESP, LUMEN_STATUS_OK, old,
                       NULL, 0);
    /* Like a SIGNAL: a WAIT of this chip may be waiting for the word. */
    lumen_engine_kick(s);
}

/* Why request @h (with @len payload bytes) is malformed, or NULL. */
static const char *lumen_remote_req_check(LumenState *s,
                                          const struct lumen_pkt_hdr *h,
                                          uint32_t len)
{
    uint64_t size = le64_to_cpu(h->size);
    uint32_t p = le32_to_cpu(h->pkt);

    if (le32_to_cpu(h->src_chip) > LUMEN_CHIP_ID_MAX) {
        return "source chip id out of range";
    }
    if (h->status) {
        return "status set in a request";
    }
    if (h->op == LUMEN_PKT_ATOMIC) {
        if (h->aop >= LUMEN_RATOMIC_COUNT) {
            return "unknown atomic op";
        }
        if (size != 8 || (le64_to_cpu(h->offset) & 7) || p || len) {
            return "ATOMIC not one aligned 8-byte word";
        }
        return NULL;
    }
    if (h->op == LUMEN_PKT_REDUCE) {
        uint32_t dtype = lumen_redop_dtype(h->aop);
        const char *why = lumen_reduce_check(dtype, lumen_redop_op(h->aop));
        uint64_t esize = lumen_dt_size(dtype);

        if (why) {
            return why;
        }
        if (h->arg) {
            return "arg in a REDUCE";
        }
        if ((le64_to_cpu(h->offset) | size) & (esize - 1)) {
            return "REDUCE offset or size not aligned to the element size";
        }
    } else if (h->aop || h->arg) {
        return "aop or arg in a WRITE or READ_REQ";
    }
    if (!size || size > LUMEN_CMD_REMOTE_MAX_SIZE) {
        return "operation size out of range";
    }
    if (p >= lumen_pkt_count(size)) {
        return "packet index beyond the operation";
    }
    /* A REDUCE payload is whole elements: its packet's share of size. */
    if (len != (h->op == LUMEN_PKT_READ_REQ ? 0 : lumen_pkt_bytes(size, p))) {
        return "payload length wrong for the packet";
    }
    return NULL;
}

/*
 * A request (WRITE, READ_REQ, ATOMIC, REDUCE) for a window of this chip.
 * Malformed: dropped. Then the checks that need no stream state (a REDUCE
 * without CAPS.REDUCE; the window, key, right and range): a refusal is
 * answered and leaves the stream state alone. Only then the request may
 * create or advance its stream's exactly-once state.
 */
static void lumen_remote_request_rx(LumenState *s,
                                    const struct lumen_pkt_hdr *h,
                                    const uint8_t *payload, uint32_t len)
{
    LumenRemote *r = s->remote;
    const char *why = lumen_remote_req_check(s, h, len);
    LumenPktAge age;
    LumenStream *st;

    if (why) {
        lumen_remote_bad(s, h, why);
        return;
    }
    if (h->op == LUMEN_PKT_REDUCE && !(s->caps & LUMEN_CAP_REDUCE)) {
        /* Answered, so that the source fails at once (13.7). */
        lumen_remote_refuse(s, h, "REDUCE packet without CAPS.REDUCE");
        return;
    }
    why = lumen_remote_win_check(s, h, lumen_request_right(h->op));
    if (why) {
        lumen_remote_refuse(s, h, why);
        return;
    }
    st = lumen_remote_stream(s, le32_to_cpu(h->src_chip),
                             le16_to_cpu(h->stream), lumen_remote_now());
    if (h->op == LUMEN_PKT_READ_REQ) {
        /*
         * Served whatever its age (reads are idempotent, and need no
         * entry); a newer one still became current, so a late WRITE of
         * an older message cannot land after the source moved on.
         */
        if (st) {
            lumen_stream_age(st, h);
        }
        lumen_remote_read(s, h);
        return;
    }
    if (!st) {
        /* Unanswered: the source resends it, perhaps to more room. */
        r->stream_drops++;
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: remote op %u "
                      "from chip %u stream %u dropped: %u streams in use, "
                      "none silent for %u ms (%" PRIu64 " dropped)\n",
                      s->chip_id, h->op, le32_to_cpu(h->src_chip),
                      le16_to_cpu(h->stream), s->remote_streams,
                      LUMEN_REMOTE_STREAM_LIVE_MS, r->stream_drops);
        trace_lumen_remote_drop(s->chip_id, le32_to_cpu(h->src_chip), h->op,
                                "exactly-once table full of live streams");
        return;
    }
    age = lumen_stream_age(st, h);
    switch (age) {
    case LUMEN_PKT_BOGUS:
        lumen_remote_bad(s, h, "packet disagrees with its message");
        return;
    case LUMEN_PKT_STALE:
        /* Its message is over; the source ignores what we answer. */
        r->duplicates++;
        trace_lumen_remote_stale(s->chip_id, le32_to_cpu(h->src_chip), h->op,
                                 le32_to_cpu(h->epoch), le32_to_cpu(h->msg),
                                 le32_to_cpu(h->pkt));
        lumen_remote_reply(s, h, lumen_answer_op(h->op), LUMEN_STATUS_OK, 0,
                           NULL, 0);
        return;
    case LUMEN_PKT_CURRENT:
        break;
    }
    if (h->op == LUMEN_PKT_WRITE) {
        lumen_remote_write(s, st, h, payload, len);
    } else if (h->op == LUMEN_PKT_REDUCE) {
        lumen_remote_reduce(s, st, h, payload, len);
    } else {
        lumen_remote_atomic(s, st, h);
    }
}

void lumen_remote_rx(LumenState *s, const struct lumen_pkt_hdr *hdr,
                     const void *payload, uint32_t len)
{
    struct lumen_pkt_hdr h = *hdr;

    if (!lumen_remote_enabled(s)) {
        lumen_remote_bad(s, &h, "remote packet without CAPS.LINKS");
        return;
    }
    if (len > LUMEN_PKT_PAYLOAD_MAX || (len && !payload)) {
        lumen_remote_bad(s, &h, "payload too long");
        return;
    }
    if (le32_to_cpu(h.dst_chip) != s->chip_id || h.flags) {
        lumen_remote_bad(s, &h, "not for this chip, or flags set");
        return;
    }
    switch (h.op) {
    case LUMEN_PKT_REDUCE:
    case LUMEN_PKT_WRITE:
    case LUMEN_PKT_READ_REQ:
    case LUMEN_PKT_ATOMIC:
        lumen_remote_request_rx(s, &h, payload, len);
        break;
    case LUMEN_PKT_ACK:
    case LUMEN_PKT_READ_RESP:
    case LUMEN_PKT_ATOMIC_RESP:
        lumen_remote_answer_rx(s, &h, payload, len);
        break;
    default:
        lumen_remote_bad(s, &h, "not a remote memory op");
        break;
    }
}

/* ---- Descriptors ------------------------------------------------------- */

const char *lumen_remote_cmd_check(LumenState *s, const struct lumen_cmd *c)
{
    uint32_t dst, window;

    if (!lumen_remote_enabled(s)) {
        return "remote opcode without CAPS.LINKS";
    }
    if (c->opcode == LUMEN_CMD_RATOMIC) {
        const struct lumen_cmd_ratomic *a = &c->u.ratomic;

        if ((le64_to_cpu(a->result) | le64_to_cpu(a->offset)) & 7) {
            return "RATOMIC result or offset not 8-byte aligned";
        }
        if (le32_to_cpu(a->op) >= LUMEN_RATOMIC_COUNT) {
            return "unknown RATOMIC op";
        }
        if (a->reserved0 || a->reserved) {
            return "reserved argument bytes not zero";
        }
        dst = le32_to_cpu(a->dst_chip);
        window = le32_to_cpu(a->window);
    } else if (c->opcode == LUMEN_CMD_RREDUCE) {
        const struct lumen_cmd_rreduce *a = &c->u.rreduce;
        uint32_t dtype = le32_to_cpu(a->dtype);
        const char *why;
        uint64_t esize;

        if (!(s->caps & LUMEN_CAP_REDUCE)) {
            return "RREDUCE without CAPS.REDUCE";
        }
        why = lumen_reduce_check(dtype, le32_to_cpu(a->op));
        if (why) {
            return why;
        }
        esize = lumen_dt_size(dtype);
        if ((le64_to_cpu(a->local) | le64_to_cpu(a->offset)) & (esize - 1)) {
            return "RREDUCE local or offset not aligned to the element size";
        }
        if (le64_to_cpu(a->size) & (esize - 1)) {
            return "RREDUCE size not a multiple of the element size";
        }
        if (le64_to_cpu(a->size) > LUMEN_CMD_REMOTE_MAX_SIZE) {
            return "remote size over LUMEN_CMD_REMOTE_MAX_SIZE";
        }
        if (a->reserved) {
            return "reserved argument bytes not zero";
        }
        dst = le32_to_cpu(a->dst_chip);
        window = le32_to_cpu(a->window);
    } else {
        const struct lumen_cmd_remote *a = &c->u.remote;

        if (le64_to_cpu(a->size) > LUMEN_CMD_REMOTE_MAX_SIZE) {
            return "remote size over LUMEN_CMD_REMOTE_MAX_SIZE";
        }
        if (a->reserved[0] || a->reserved[1]) {
            return "reserved argument bytes not zero";
        }
        dst = le32_to_cpu(a->dst_chip);
        window = le32_to_cpu(a->window);
    }
    if (dst > LUMEN_CHIP_ID_MAX) {
        return "dst_chip beyond LUMEN_CHIP_ID_MAX";
    }
    if (window >= LUMEN_NUM_WINDOWS) {
        return "window beyond LUMEN_NUM_WINDOWS";
    }
    return NULL;
}

/* ---- Registers --------------------------------------------------------- */

static void lumen_remote_win_ctrl(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenRemote *r = s->remote;
    LumenWindow *w = &r->win[r->win_index];
    unsigned int ctx = (val & LUMEN_WIN_CTX_MASK) >> LUMEN_WIN_CTX_SHIFT;

    if (val & ~LUMEN_WIN_CTRL_MASK) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "WIN_CTRL reserved bits set");
        return;
    }
    if (!(val & LUMEN_WIN_VALID)) {
        memset(w, 0, sizeof(*w));
        trace_lumen_remote_window(s->chip_id, r->win_index, 0, 0, 0);
        return;
    }
    if (ctx >= LUMEN_CONTEXTS_MAX) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "WIN_CTRL context beyond LUMEN_CONTEXTS_MAX");
        return;
    }
    if ((r->va | r->size) & (LUMEN_WIN_ALIGN - 1) || !r->size ||
        r->va >= LUMEN_VA_LIMIT || r->size > LUMEN_VA_LIMIT - r->va) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "WIN_CTRL: staged VA or size not 4 KiB aligned, "
                        "zero or beyond the VA space");
        return;
    }
    w->ctrl = val;
    w->key = r->key;
    w->va = r->va;
    w->size = r->size;
    trace_lumen_remote_window(s->chip_id, r->win_index, val, w->va, w->size);
}

bool lumen_remote_reg_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenRemote *r = s->remote;

    if (!lumen_remote_enabled(s)) {
        return false;
    }
    switch (addr) {
    case LUMEN_REG_E2E_TIMEOUT_MS:
        *val = r->timeout_ms;
        return true;
    case LUMEN_REG_WIN_INDEX:
        *val = r->win_index;
        return true;
    case LUMEN_REG_WIN_CTRL:
        *val = r->win[r->win_index].ctrl;
        return true;
    case LUMEN_REG_WIN_KEY_LO:
        *val = (uint32_t)r->key;
        return true;
    case LUMEN_REG_WIN_KEY_HI:
        *val = r->key >> 32;
        return true;
    case LUMEN_REG_WIN_VA_LO:
        *val = (uint32_t)r->va;
        return true;
    case LUMEN_REG_WIN_VA_HI:
        *val = r->va >> 32;
        return true;
    case LUMEN_REG_WIN_SIZE_LO:
        *val = (uint32_t)r->size;
        return true;
    case LUMEN_REG_WIN_SIZE_HI:
        *val = r->size >> 32;
        return true;
    case LUMEN_REG_NUM_WINDOWS:
        *val = LUMEN_NUM_WINDOWS;
        return true;
    case LUMEN_REG_ACCESS_ERRORS:
        *val = r->access_errors;
        return true;
    case LUMEN_REG_E2E_RETRANSMITS:
        *val = r->retransmits;
        return true;
    case LUMEN_REG_E2E_DUPLICATES:
        *val = r->duplicates;
        return true;
    case LUMEN_REG_E2E_TIMEOUTS:
        *val = r->timeouts;
        return true;
    default:
        return false;
    }
}

bool lumen_remote_reg_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenRemote *r = s->remote;

    if (!lumen_remote_enabled(s)) {
        return false;
    }
    switch (addr) {
    case LUMEN_REG_E2E_TIMEOUT_MS:
        if (val < LUMEN_E2E_TIMEOUT_MIN_MS || val > LUMEN_E2E_TIMEOUT_MAX_MS) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "E2E_TIMEOUT_MS out of range");
            return true;
        }
        r->timeout_ms = val;
        return true;
    case LUMEN_REG_WIN_INDEX:
        if (val >= LUMEN_NUM_WINDOWS) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "WIN_INDEX beyond NUM_WINDOWS");
            return true;
        }
        r->win_index = val;
        return true;
    case LUMEN_REG_WIN_CTRL:
        lumen_remote_win_ctrl(s, addr, val);
        return true;
    case LUMEN_REG_WIN_KEY_LO:
        r->key_lo = val;
        return true;
    case LUMEN_REG_WIN_KEY_HI:
        r->key = (uint64_t)val << 32 | r->key_lo;
        return true;
    case LUMEN_REG_WIN_VA_LO:
        r->va_lo = val;
        return true;
    case LUMEN_REG_WIN_VA_HI:
        r->va = (uint64_t)val << 32 | r->va_lo;
        return true;
    case LUMEN_REG_WIN_SIZE_LO:
        r->size_lo = val;
        return true;
    case LUMEN_REG_WIN_SIZE_HI:
        r->size = (uint64_t)val << 32 | r->size_lo;
        return true;
    case LUMEN_REG_NUM_WINDOWS:
    case LUMEN_REG_ACCESS_ERRORS:
    case LUMEN_REG_E2E_RETRANSMITS:
    case LUMEN_REG_E2E_DUPLICATES:
    case LUMEN_REG_E2E_TIMEOUTS:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}

/* ---- Migration --------------------------------------------------------- */

/*
 * The registers migrate (windows, staged values, E2E_TIMEOUT_MS, the
 * counters); messages in flight and the streams' exactly-once state do
 * not: a remote descriptor in progress runs again as a new message on
 * the destination. That is why an RREDUCE or RATOMIC in flight blocks
 * migration (lumen_remote_block()). Without port chardevs only loopback
 * can be in flight.
 */
static bool lumen_remote_window_ok(const LumenWindow *w)
{
    unsigned int ctx = (w->ctrl & LUMEN_WIN_CTX_MASK) >> LUMEN_WIN_CTX_SHIFT;

    if (!(w->ctrl & LUMEN_WIN_VALID)) {
        return !w->ctrl && !w->key && !w->va && !w->size;
    }
    return !(w->ctrl & ~LUMEN_WIN_CTRL_MASK) && ctx < LUMEN_CONTEXTS_MAX &&
           !((w->va | w->size) & (LUMEN_WIN_ALIGN - 1)) && w->size &&
           w->va < LUMEN_VA_LIMIT && w->size <= LUMEN_VA_LIMIT - w->va;
}

static int lumen_remote_post_load(void *opaque, int version_id)
{
    LumenState *s = opaque;
    LumenRemote *r = s->remote;
    unsigned int i;

    if (r->win_index >= LUMEN_NUM_WINDOWS ||
        r->timeout_ms < LUMEN_E2E_TIMEOUT_MIN_MS ||
        r->timeout_ms > LUMEN_E2E_TIMEOUT_MAX_MS) {
        return -EINVAL;
    }
    for (i = 0; i < LUMEN_NUM_WINDOWS; i++) {
        if (!lumen_remote_window_ok(&r->win[i])) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Sent only when a register is not at its reset value. */
static bool lumen_remote_needed(void *opaque)
{
    LumenState *s = opaque;
    LumenRemote *r = s->remote;
    unsigned int i;

    if (r->win_index || r->key_lo || r->va_lo || r->size_lo || r->key ||
        r->va || r->size || r->timeout_ms != LUMEN_E2E_TIMEOUT_DEFAULT_MS ||
        r->access_errors || r->retransmits || r->duplicates ||
        r->timeouts || r->bad_pkts) {
        return true;
    }
    for (i = 0; i < LUMEN_NUM_WINDOWS; i++) {
        if (r->win[i].ctrl) {
            return true;
        }
    }
    return false;
}

static const VMStateDescription vmstate_lumen_window = {
    .name = "lumen-npu/window",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(ctrl, LumenWindow),
        VMSTATE_UINT64(key, LumenWindow),
        VMSTATE_UINT64(va, LumenWindow),
        VMSTATE_UINT64(size, LumenWindow),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_remote_regs = {
    .name = "lumen-npu/remote-regs",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(win, LumenRemote, LUMEN_NUM_WINDOWS, 1,
                             vmstate_lumen_window, LumenWindow),
        VMSTATE_UINT32(win_index, LumenRemote),
        VMSTATE_UINT32(key_lo, LumenRemote),
        VMSTATE_UINT32(va_lo, LumenRemote),
        VMSTATE_UINT32(size_lo, LumenRemote),
        VMSTATE_UINT64(key, LumenRemote),
        VMSTATE_UINT64(va, LumenRemote),
        VMSTATE_UINT64(size, LumenRemote),
        VMSTATE_UINT32(timeout_ms, LumenRemote),
        VMSTATE_UINT32(access_errors, LumenRemote),
        VMSTATE_UINT32(retransmits, LumenRemote),
        VMSTATE_UINT32(duplicates, LumenRemote),
        VMSTATE_UINT32(timeouts, LumenRemote),
        VMSTATE_UINT32(bad_pkts, LumenRemote),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_lumen_remote = {
    .name = "lumen-npu/remote",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_remote_needed,
    .post_load = lumen_remote_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(remote, LumenState, vmstate_lumen_remote_regs,
                               LumenRemote),
        VMSTATE_END_OF_LIST()
    },
};

/* ---- Life cycle -------------------------------------------------------- */

void lumen_remote_init(LumenState *s)
{
    LumenRemote *r = g_new0(LumenRemote, 1);
    unsigned int q;

    s->remote = r;
    r->s = s;
    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        r->tx[q].s = s;
        r->tx[q].q = q;
        r->tx[q].timer = timer_new_ms(QEMU_CLOCK_REALTIME, lumen_remote_timer,
                                      &r->tx[q]);
    }
    r->streams = g_hash_table_new(g_int64_hash, g_int64_equal);
    QTAILQ_INIT(&r->lru);
    /*
     * Epochs must not repeat for a chip id, even across a restart of this
     * QEMU: start from the wall clock, in steps of 256 per millisecond.
     */
    r->epoch_next = ((uint32_t)(g_get_real_time() / 1000) << 8) ^ s->chip_id;
    r->timeout_ms = LUMEN_E2E_TIMEOUT_DEFAULT_MS;
    r->vm_change = qemu_add_vm_change_state_handler(lumen_remote_vm_change,
                                                    s);
    migration_add_notifier(&r->migration, lumen_remote_migration_event);
}

void lumen_remote_exit(LumenState *s)
{
    LumenRemote *r = s->remote;
    LumenStream *st, *next;
    unsigned int q;

    if (!r) {
        return;
    }
    migration_remove_notifier(&r->migration);
    qemu_del_vm_change_state_handler(r->vm_change);
    if (r->blocking) {
        migrate_del_blocker(&r->blocker);
    }
    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        timer_free(r->tx[q].timer);
    }
    QTAILQ_FOREACH_SAFE(st, &r->lru, lru, next) {
        g_free(st->applied);
        g_free(st);
    }
    g_hash_table_destroy(r->streams);
    g_free(r);
    s->remote = NULL;
}

/*
 * Device reset: windows closed, registers and counters at their reset
 * values, every message abandoned (13.5, 13.8). The streams' exactly-once
 * state is kept: peers may still retransmit to this chip.
 */
void lumen_remote_reset(LumenState *s)
{
    LumenRemote *r = s->remote;
    unsigned int q;

    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        lumen_remote_queue_abandon(s, q);
    }
    memset(r->win, 0, sizeof(r->win));
    r->win_index = 0;
    r->key_lo = r->va_lo = r->size_lo = 0;
    r->key = r->va = r->size = 0;
    r->timeout_ms = LUMEN_E2E_TIMEOUT_DEFAULT_MS;
    r->access_errors = r->retransmits = r->duplicates = 0;
    r->timeouts = r->bad_pkts = 0;
}
