/*
 * Lumen N1 accelerator: DMA queue registers and doorbells (docs/hw-spec.md
 * section 10, lumen_queue.h).
 *
 * This file owns the per-queue register block, the doorbell BAR and the
 * queue state machine (DISABLED, IDLE, RUNNING, STOPPED). A doorbell only
 * records the tail and schedules the engine's bottom half
 * (lumen-engine.c), which fetches and executes the descriptors.
 *
 * A queue whose injected WEDGE_QUEUE fired (lumen-inject.c) keeps its
 * register logic, QCTRL_RESET included, but its engine is gone until a
 * device reset: enabled, it reads RUNNING, and its doorbells are dropped.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/host-utils.h"
#include "lumen-npu.h"
#include "lumen-engine.h"
#include "trace.h"

#define LUMEN_QCTRL_STORED      (LUMEN_QCTRL_ENABLE | LUMEN_QCTRL_PRIO_MASK | \
                                 LUMEN_QCTRL_CTX_MASK | LUMEN_QCTRL_USER)
/* What a queue keeps across QCTRL_RESET and disabling: its identity. */
#define LUMEN_QCTRL_IDENTITY    (LUMEN_QCTRL_CTX_MASK | LUMEN_QCTRL_USER)
#define LUMEN_QPRIO_RESERVED    3

/* The CTRL bits this device stores; USER only with CAPS.USER_QUEUES. */
static uint32_t lumen_qctrl_stored(LumenState *s)
{
    return s->caps & LUMEN_CAP_USER_QUEUES ? LUMEN_QCTRL_STORED :
           LUMEN_QCTRL_STORED & ~LUMEN_QCTRL_USER;
}

uint64_t lumen_doorbell_bar_size(uint32_t num_queues)
{
    return pow2ceil((uint64_t)num_queues * LUMEN_DOORBELL_STRIDE);
}

unsigned int lumen_queue_ctx(LumenQueue *lq)
{
    /* Enabling checks the field; the mask keeps any stored value safe. */
    return ((lq->ctrl & LUMEN_QCTRL_CTX_MASK) >> LUMEN_QCTRL_CTX_SHIFT) %
           LUMEN_CONTEXTS_MAX;
}

static unsigned int lumen_qctrl_prio(uint32_t ctrl)
{
    return (ctrl & LUMEN_QCTRL_PRIO_MASK) >> LUMEN_QCTRL_PRIO_SHIFT;
}

unsigned int lumen_queue_prio(LumenQueue *lq)
{
    unsigned int prio = lumen_qctrl_prio(lq->ctrl);

    /*
     * Enabling refuses the reserved value, but a disabling write stores
     * the field unchecked and the queue may still finish a COPY or FILL.
     */
    return prio == LUMEN_QPRIO_RESERVED ? LUMEN_QPRIO_NORMAL : prio;
}

/*
 * Stop queue @q with @code at its HEAD: the descriptor there is not
 * retired. The queue's vector is signalled so that waiters see the stop.
 * The caller reports the error class in ERR_STATUS.
 */
void lumen_queue_stop(LumenState *s, unsigned int q, enum lumen_status code)
{
    LumenQueue *lq = &s->queues[q];

    trace_lumen_queue_stop(s->chip_id, q, lq->head, code);
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u stopped at "
                  "index %u: %s\n", s->chip_id, q, lq->head,
                  lumen_status_name(code));
    lq->status = LUMEN_QSTS_STOPPED;
    lq->error = code;
    lq->error_index = lq->head;
    lq->has_cur = false;
    lq->waiting = false;
    lq->progress = 0;
    lumen_remote_queue_abandon(s, q);
    lumen_queue_post_cpl(s, q);
    lumen_irq_queue(s, q);
}

/*
 * One untorn 8-byte store at @off into the translated record, ordered
 * after the stores before it (a poller on another vCPU reads the count
 * last written after the status). False if the DMA failed.
 */
static bool lumen_queue_cpl_store(LumenState *s, const LumenXlate *x,
                                  uint64_t off, uint64_t val)
{
    smp_wmb();
    if (!x->host) {
        stq_le_p(lumen_engine_devmem(s, x->addr + off), val);
        memory_region_set_dirty(&s->mem, x->addr + off, 8);
        return true;
    }
    return stq_le_pci_dma(PCI_DEVICE(s), x->addr + off, val,
                          MEMTXATTRS_UNSPECIFIED) == MEMTX_OK;
}

/*
 * Write the completion record of a USER queue if the count or the status
 * changed since the last one. A record that cannot be written stops the
 * queue like a data access would (MMU_FAULT or DMA_ERROR); the record is
 * then not retried until the count or the status moves on.
 */
void lumen_queue_post_cpl(LumenState *s, unsigned int q)
{
    LumenQueue *lq = &s->queues[q];
    uint64_t done = (uint64_t)lq->completed_hi << 32 | lq->completed;
    uint64_t word;
    enum lumen_status st;
    LumenXlate x;

    if (!(lq->ctrl & LUMEN_QCTRL_USER) || !lq->cpl ||
        (done == lq->cpl_done && lq->status == lq->cpl_status)) {
        return;
    }
    lq->cpl_done = done;
    lq->cpl_status = lq->status;
    st = lumen_mmu_translate(s, q, lq->cpl, true, &x);
    if (st == LUMEN_STATUS_OK) {
        /* 16-byte aligned: the record never crosses a page. */
        word = (uint64_t)lq->error << 32 | lq->status;
        if (lumen_queue_cpl_store(s, &x, 8, word) &&
            lumen_queue_cpl_store(s, &x, 0, done)) {
            return;
        }
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                      "completion record write at device VA 0x%" PRIx64
                      " failed\n", s->chip_id, q, lq->cpl);
        lumen_report_error(s, LUMEN_ERR_DMA, LUMEN_STATUS_DMA_ERROR, lq->cpl);
        st = LUMEN_STATUS_DMA_ERROR;
    }
    if (lq->status != LUMEN_QSTS_STOPPED) {
        lq->cpl_status = LUMEN_QSTS_STOPPED;    /* no second attempt */
        lumen_queue_stop(s, q, st);
    }
}

/*
 * Queue @q retired a descriptor (COMPLETED already counts it): signal its
 * vector for an F_IRQ descriptor (@irq) or an armed IRQ_AT now reached,
 * with the completion record written first.
 */
void lumen_queue_retired(LumenState *s, unsigned int q, bool irq)
{
    LumenQueue *lq = &s->queues[q];

    if (lq->completed == 0) {
        lq->completed_hi++;
    }
    if (lq->irq_armed && (int32_t)(lq->completed - lq->irq_at) >= 0) {
        lq->irq_armed = false;
        irq = true;
    }
    if (irq) {
        lumen_queue_post_cpl(s, q);
        lumen_irq_queue(s, q);
    }
}

/* IRQ_AT: arm the vector for COMPLETED reaching @val; now if it has. */
static void lumen_queue_arm_irq(LumenState *s, unsigned int q, uint32_t val)
{
    LumenQueue *lq = &s->queues[q];

    lq->irq_at = val;
    lq->irq_armed = true;
    if ((int32_t)(lq->completed - val) >= 0) {
        lq->irq_armed = false;
        lumen_queue_post_cpl(s, q);
        lumen_irq_queue(s, q);
    }
}

/*
 * Drop the queue's state (QCTRL_RESET): DISABLED, indices, errors and
 * PROGRESS 0, priority NORMAL, armed injection and hang gone. A fired
 * wedge is not queue state (LumenState.inject_wedged) and stays.
 */
static void lumen_queue_clear(LumenQueue *lq)
{
    uint32_t base_lo = lq->base_lo, order = lq->order, cpl_lo = lq->cpl_lo;
    uint64_t base = lq->base, cpl = lq->cpl;
    uint32_t ctx = lq->ctrl & LUMEN_QCTRL_IDENTITY;

    memset(lq, 0, sizeof(*lq));
    lq->base_lo = base_lo;
    lq->base = base;
    lq->order = order;
    lq->cpl_lo = cpl_lo;
    lq->cpl = cpl;
    lq->ctrl = ctx;
    lq->status = LUMEN_QSTS_DISABLED;
    lq->inject = LUMEN_INJECT_NONE;
}

/*
 * Does clearing ENABLE drop the descriptor in progress at once? A WAIT
 * and a remote descriptor do; a COPY, FILL or REDUCE finishes first.
 */
static bool lumen_queue_cur_abandons(LumenQueue *lq)
{
    switch (lq->cur.opcode) {
    case LUMEN_CMD_WAIT:
    case LUMEN_CMD_RWRITE:
    case LUMEN_CMD_RREAD:
    case LUMEN_CMD_RATOMIC:
    case LUMEN_CMD_RREDUCE:
        return true;
    default:
        return false;
    }
}

static void lumen_queue_ctrl_write(LumenState *s, unsigned int q, hwaddr addr,
                                   uint32_t val)
{
    LumenQueue *lq = &s->queues[q];
    uint32_t ctx = (val & LUMEN_QCTRL_CTX_MASK) >> LUMEN_QCTRL_CTX_SHIFT;
    bool enable = val & LUMEN_QCTRL_ENABLE;

    if (val & ~(lumen_qctrl_stored(s) | LUMEN_QCTRL_RESET)) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "queue CTRL reserved bits set");
        return;
    }
    if (val & LUMEN_QCTRL_RESET) {
        trace_lumen_queue_reset(s->chip_id, q);
        lumen_queue_clear(lq);
        lumen_remote_queue_abandon(s, q);
    }
    if (lq->status != LUMEN_QSTS_DISABLED &&
        (lq->ctrl & LUMEN_QCTRL_IDENTITY) != (val & LUMEN_QCTRL_IDENTITY)) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_STATE,
                        "queue CTRL.CTX or USER changed while enabled");
        return;
    }
    if (!enable) {
        lq->ctrl = val & (LUMEN_QCTRL_PRIO_MASK | LUMEN_QCTRL_IDENTITY);
        /*
         * A STOPPED queue stays STOPPED until RESET. A queue busy with a
         * COPY or FILL finishes it first (lumen-engine.c); a parked WAIT
         * or a remote descriptor in flight is abandoned and runs again
         * from the start (a new message) when re-enabled.
         */
        lq->waiting = false;
        if (lq->status != LUMEN_QSTS_STOPPED &&
            (!lq->has_cur || lumen_queue_cur_abandons(lq))) {
            lq->has_cur = false;
            lq->status = LUMEN_QSTS_DISABLED;
            lumen_remote_queue_abandon(s, q);
        }
        return;
    }
    /* Any priority but 3; it may change while enabled (read every turn). */
    if (lumen_qctrl_prio(val) == LUMEN_QPRIO_RESERVED) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "queue CTRL.PRIO reserved value with ENABLE");
        return;
    }
    if (lq->status == LUMEN_QSTS_DISABLED) {
        if (ctx >= LUMEN_CONTEXTS_MAX) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "queue CTRL.CTX beyond LUMEN_CONTEXTS_MAX");
            return;
        }
        if ((lq->base & 63) || lq->order < LUMEN_QUEUE_ORDER_MIN ||
            lq->order > LUMEN_QUEUE_ORDER_MAX ||
            ((val & LUMEN_QCTRL_USER) && (lq->cpl & 15))) {
            qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u not "
                          "enabled: ring base 0x%" PRIx64 " order %u "
                          "record 0x%" PRIx64 "\n",
                          s->chip_id, q, lq->base, lq->order, lq->cpl);
            lumen_report_error(s, LUMEN_ERR_QUEUE_DESC,
                               LUMEN_STATUS_BAD_ARGUMENT, q);
            return;
        }
        /* A wedged engine never reports IDLE: work seems outstanding. */
        lq->status = lq->head == lq->tail && !lumen_inject_wedged(s, q) ?
                     LUMEN_QSTS_IDLE : LUMEN_QSTS_RUNNING;
        /* Remote messages of this incarnation get a new epoch (13.7). */
        lumen_remote_queue_abandon(s, q);
    }
    lq->ctrl = val & LUMEN_QCTRL_STORED;
    if (lq->status == LUMEN_QSTS_RUNNING) {
        lumen_engine_kick(s);
    }
}

/*
 * The queue that @addr, a BAR0 offset inside the queue block, addresses and
 * the register offset within its block; NULL past NUM_QUEUES.
 */
static LumenQueue *lumen_queue_decode(LumenState *s, hwaddr addr, hwaddr *reg)
{
    uint32_t q = (addr - LUMEN_REG_QUEUE_BASE) / LUMEN_REG_QUEUE_STRIDE;

    *reg = (addr - LUMEN_REG_QUEUE_BASE) % LUMEN_REG_QUEUE_STRIDE;
    return q < s->num_queues ? &s->queues[q] : NULL;
}

bool lumen_queue_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    hwaddr reg;
    LumenQueue *lq = lumen_queue_decode(s, addr, &reg);

    if (!lq) {
        return false;
    }
    switch (reg) {
    case LUMEN_QREG_RING_BASE_LO:
        *val = (uint32_t)lq->base;
        return true;
    case LUMEN_QREG_RING_BASE_HI:
        *val = lq->base >> 32;
        return true;
    case LUMEN_QREG_RING_ORDER:
        *val = lq->order;
        return true;
    case LUMEN_QREG_CTRL:
        *val = lq->ctrl;
        return true;
    case LUMEN_QREG_HEAD:
        *val = lq->head;
        return true;
    case LUMEN_QREG_TAIL:
        *val = lq->tail;
        return true;
    case LUMEN_QREG_STATUS:
        *val = lq->status;
        return true;
    case LUMEN_QREG_ERROR:
        *val = lq->error;
        return true;
    case LUMEN_QREG_ERROR_INDEX:
        *val = lq->error_index;
        return true;
    case LUMEN_QREG_COMPLETED:
        *val = lq->completed;
        return true;
    case LUMEN_QREG_PROGRESS:
        *val = lq->written;
        return true;
    case LUMEN_QREG_CPL_LO:
        *val = (uint32_t)lq->cpl;
        return true;
    case LUMEN_QREG_CPL_HI:
        *val = lq->cpl >> 32;
        return true;
    case LUMEN_QREG_IRQ_AT:
        *val = lq->irq_at;
        return true;
    default:
        return false;
    }
}

bool lumen_queue_write(LumenState *s, hwaddr addr, uint32_t val)
{
    hwaddr reg;
    LumenQueue *lq = lumen_queue_decode(s, addr, &reg);

    if (!lq) {
        return false;
    }
    switch (reg) {
    case LUMEN_QREG_RING_BASE_LO:
    case LUMEN_QREG_RING_BASE_HI:
    case LUMEN_QREG_RING_ORDER:
    case LUMEN_QREG_CPL_LO:
    case LUMEN_QREG_CPL_HI:
        if ((reg == LUMEN_QREG_CPL_LO || reg == LUMEN_QREG_CPL_HI) &&
            !(s->caps & LUMEN_CAP_USER_QUEUES)) {
            return false;
        }
        if (lq->status != LUMEN_QSTS_DISABLED) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_STATE,
                            "queue ring programmed while not DISABLED");
            return true;
        }
        if (reg == LUMEN_QREG_RING_BASE_LO) {
            lq->base_lo = val;
        } else if (reg == LUMEN_QREG_RING_BASE_HI) {
            lq->base = (uint64_t)val << 32 | lq->base_lo;
        } else if (reg == LUMEN_QREG_CPL_LO) {
            lq->cpl_lo = val;
        } else if (reg == LUMEN_QREG_CPL_HI) {
            lq->cpl = (uint64_t)val << 32 | lq->cpl_lo;
        } else {
            lq->order = val;    /* checked when the queue is enabled */
        }
        return true;
    case LUMEN_QREG_CTRL:
        lumen_queue_ctrl_write(s, lq - s->queues, addr, val);
        return true;
    case LUMEN_QREG_IRQ_AT:
        if (!(s->caps & LUMEN_CAP_USER_QUEUES)) {
            return false;
        }
        lumen_queue_arm_irq(s, lq - s->queues, val);
        return true;
    case LUMEN_QREG_HEAD:
    case LUMEN_QREG_TAIL:
    case LUMEN_QREG_STATUS:
    case LUMEN_QREG_ERROR:
    case LUMEN_QREG_ERROR_INDEX:
    case LUMEN_QREG_COMPLETED:
    case LUMEN_QREG_PROGRESS:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}

/* ---- Doorbells (BAR4) -------------------------------------------------- */

static void lumen_doorbell_error(LumenState *s, hwaddr addr,
                                 enum lumen_status code, const char *why)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: doorbell BAR 0x%"
                  HWADDR_PRIx ": %s\n", s->chip_id, addr, why);
    lumen_report_error(s, LUMEN_ERR_REG_ACCESS, code, addr);
}

static uint64_t lumen_doorbell_read(void *opaque, hwaddr addr, unsigned size)
{
    LumenState *s = opaque;

    if (size != 4 || (addr & 3)) {
        lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                             "read is not an aligned 32-bit access");
    }
    /* Doorbells are write-only; the rest of each page is reserved. */
    return 0;
}

static void lumen_doorbell_write(void *opaque, hwaddr addr, uint64_t data,
                                 unsigned size)
{
    LumenState *s = opaque;
    uint32_t q = addr / LUMEN_DOORBELL_STRIDE;
    uint32_t tail = data;
    LumenQueue *lq;

    if (size != 4 || (addr & 3)) {
        lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                             "write is not an aligned 32-bit access");
        return;
    }
    if (q >= s->num_queues) {
        lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                             "doorbell of a queue beyond NUM_QUEUES");
        return;
    }
    if (addr % LUMEN_DOORBELL_STRIDE != LUMEN_DOORBELL_TAIL) {
        lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                             "write to a reserved doorbell offset");
        return;
    }
    trace_lumen_doorbell(s->chip_id, q, tail);
    s->db_last[q] = tail;
    lq = &s->queues[q];
    switch (lq->status) {
    case LUMEN_QSTS_DISABLED:
        lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_STATE,
                             "doorbell of a disabled queue");
        return;
    case LUMEN_QSTS_STOPPED:
        /* Recorded; nothing runs until the queue is reset. */
        lq->tail = tail;
        return;
    }
    if (lumen_inject_wedged(s, q)) {
        /* The engine is wedged (injected): lost, silently; TAIL is kept. */
        trace_lumen_doorbell_wedged(s->chip_id, q, tail);
        return;
    }
    if (!(lq->ctrl & LUMEN_QCTRL_ENABLE)) {
        /* Disabling, finishing its current descriptor. */
        lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_STATE,
                             "doorbell of a queue being disabled");
        return;
    }
    /*
     * TAIL never moves back over submitted work: what waits for it (a
     * driver's fences on a user-mode queue's count) must come to pass.
     */
    if ((s->caps & LUMEN_CAP_USER_QUEUES) &&
        tail - lq->head < lq->tail - lq->head) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                      "doorbell %u moves TAIL %u back (HEAD %u)\n",
                      s->chip_id, q, tail, lq->tail, lq->head);
        lumen_queue_stop(s, q, LUMEN_STATUS_BAD_ARGUMENT);
        lumen_report_error(s, LUMEN_ERR_QUEUE_DESC, LUMEN_STATUS_BAD_ARGUMENT,
                           q);
        return;
    }
    if (tail - lq->head > (1u << lq->order)) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                      "doorbell %u overruns the ring (HEAD %u, %u entries)\n",
                      s->chip_id, q, tail, lq->head, 1u << lq->order);
        lq->tail = tail;
        lumen_queue_stop(s, q, LUMEN_STATUS_BAD_ARGUMENT);
        lumen_report_error(s, LUMEN_ERR_QUEUE_DESC, LUMEN_STATUS_BAD_ARGUMENT,
                           q);
        return;
    }
    lq->tail = tail;
    if (lq->head != lq->tail || lq->has_cur) {
        lq->status = LUMEN_QSTS_RUNNING;
        lumen_engine_kick(s);
    }
}

const MemoryRegionOps lumen_doorbell_ops = {
    .read = lumen_doorbell_read,
    .write = lumen_doorbell_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

/* Check migrated queue state before anything uses it. */
bool lumen_queue_post_load(LumenState *s)
{
    unsigned int q;

    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        LumenQueue *lq = &s->queues[q];

        if (lq->status > LUMEN_QSTS_DISABLED ||
            !lumen_inject_queue_kind(lq->inject)) {
            return false;
        }
        if (q >= s->num_queues && (lq->status != LUMEN_QSTS_DISABLED ||
                                   lumen_inject_wedged(s, q))) {
            return false;
        }
        /*
         * A wedge fires at a fetch, with no descriptor in progress, and
         * leaves the queue RUNNING or, disabled, DISABLED; nothing else.
         */
        if (lumen_inject_wedged(s, q) &&
            (lq->has_cur || lq->waiting ||
             (lq->status != LUMEN_QSTS_RUNNING &&
              lq->status != LUMEN_QSTS_DISABLED))) {
            return false;
        }
        /* What a CTRL write can store (RESET never is). */
        if ((lq->ctrl & ~lumen_qctrl_stored(s)) || (lq->cpl & 15) ||
            ((lq->ctrl & LUMEN_QCTRL_ENABLE) &&
             lumen_qctrl_prio(lq->ctrl) == LUMEN_QPRIO_RESERVED)) {
            return false;
        }
        if (lq->status == LUMEN_QSTS_DISABLED) {
            continue;
        }
        if ((lq->base & 63) || lq->order < LUMEN_QUEUE_ORDER_MIN ||
            lq->order > LUMEN_QUEUE_ORDER_MAX ||
            (lq->status != LUMEN_QSTS_STOPPED &&
             lq->tail - lq->head > (1u << lq->order)) ||
            ((lq->ctrl & LUMEN_QCTRL_CTX_MASK) >> LUMEN_QCTRL_CTX_SHIFT) >=
            LUMEN_CONTEXTS_MAX) {
            return false;
        }
    }
    return true;
}

void lumen_queue_reset(LumenState *s)
{
    unsigned int q;

    memset(s->db_last, 0, sizeof(s->db_last));
    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        memset(&s->queues[q], 0, sizeof(s->queues[q]));
        s->queues[q].status = LUMEN_QSTS_DISABLED;
    }
}
