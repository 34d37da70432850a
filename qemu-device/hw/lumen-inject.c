/*
 * Lumen N1 accelerator: test-only fault injection (docs/hw-spec.md
 * section 12, lumen_regs.h).
 *
 * Present when the device property fault-inject is on (the default), which
 * sets CAPS.FAULT_INJECT; otherwise the block is reserved (reads 0, writes
 * are bad register accesses). INJECT_CTRL arms one queue injection per
 * queue; it fires on the next descriptor the queue fetches
 * (lumen-engine.c). A fired WEDGE_QUEUE is device state: it outlives
 * QCTRL_RESET, and the engine (which never serves the queue again) and
 * the queue registers (an enabled queue reads RUNNING, its doorbells are
 * dropped) ask lumen_inject_wedged() until a device reset. A device
 * injection (FW_CRASH, HALT, MBOX_HANG) fires inside the INJECT_CTRL
 * write and holds until a device reset: the mailbox (lumen-mbox.c) and
 * the engine's fetch loop ask lumen_inject_mbox_hung() and
 * lumen_inject_queues_frozen().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "lumen-npu.h"
#include "trace.h"

#define LUMEN_INJECT_CTRL_RESERVED  (~(LUMEN_INJECT_KIND_MASK | \
                                      LUMEN_INJECT_QUEUE_MASK))

/* Fired device injections that stop every queue's descriptor fetch. */
#define LUMEN_INJECT_FREEZE_MASK    (1u << LUMEN_INJECT_FW_CRASH | \
                                     1u << LUMEN_INJECT_HALT)

/* A new kind must join one family (lumen-npu.h), and only one. */
QEMU_BUILD_BUG_ON(LUMEN_INJECT_COUNT > 32);
QEMU_BUILD_BUG_ON((LUMEN_INJECT_DEVICE_MASK | LUMEN_INJECT_QUEUE_KINDS |
                   1u << LUMEN_INJECT_NONE) !=
                  (1ull << LUMEN_INJECT_COUNT) - 1);
QEMU_BUILD_BUG_ON(LUMEN_INJECT_DEVICE_MASK & LUMEN_INJECT_QUEUE_KINDS);

static bool lumen_inject_is_device(uint32_t kind)
{
    return kind < LUMEN_INJECT_COUNT &&
           (LUMEN_INJECT_DEVICE_MASK & (1u << kind));
}

/* A kind LumenQueue.inject may hold: NONE or a queue injection. */
bool lumen_inject_queue_kind(uint32_t kind)
{
    return kind == LUMEN_INJECT_NONE ||
           (kind < LUMEN_INJECT_COUNT &&
            (LUMEN_INJECT_QUEUE_KINDS & (1u << kind)));
}

/*
 * WEDGE_QUEUE fired on queue @q (lumen-engine.c, at a fetch): its engine
 * stops for good, until a device reset.
 */
void lumen_inject_wedge(LumenState *s, unsigned int q)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: injected "
                  "engine wedge; holds until a device reset\n", s->chip_id, q);
    s->inject_wedged |= 1ull << q;
}

/* Queue @q's engine is wedged: it runs nothing, even after QCTRL_RESET. */
bool lumen_inject_wedged(LumenState *s, unsigned int q)
{
    return q < LUMEN_QUEUES_MAX && (s->inject_wedged & (1ull << q));
}

/* FW_CRASH or HALT fired: queues fetch no descriptor until a reset. */
bool lumen_inject_queues_frozen(LumenState *s)
{
    return s->inject_fired & LUMEN_INJECT_FREEZE_MASK;
}

/* MBOX_HANG fired: the mailbox consumes and answers nothing. */
bool lumen_inject_mbox_hung(LumenState *s)
{
    return s->inject_fired & (1u << LUMEN_INJECT_MBOX_HANG);
}

/*
 * Device reset: fired device injections and queue wedges end (armed queue
 * injections are in LumenQueue).
 */
void lumen_inject_reset(LumenState *s)
{
    s->inject_fired = 0;
    s->inject_wedged = 0;
}

/* A device injection: takes effect at once. */
static void lumen_inject_device(LumenState *s, uint32_t kind)
{
    static const char *const what[LUMEN_INJECT_COUNT] = {
        [LUMEN_INJECT_FW_CRASH] = "firmware crash",
        [LUMEN_INJECT_HALT] = "device halt",
        [LUMEN_INJECT_MBOX_HANG] = "mailbox hang",
    };

    trace_lumen_inject_device(s->chip_id, kind);
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: injected %s; holds "
                  "until a device reset\n", s->chip_id, what[kind]);
    s->inject_fired |= 1u << kind;
    switch (kind) {
    case LUMEN_INJECT_FW_CRASH:
        /* FW_RUNNING follows BOOT_STATUS; a closed mailbox is not served. */
        lumen_boot_crash(s);
        lumen_report_error(s, LUMEN_ERR_INTERNAL, LUMEN_STATUS_FW_CRASHED, 0);
        break;
    case LUMEN_INJECT_HALT:
        /* The mailbox BH serves nothing while HALTED. */
        s->dev_status |= LUMEN_DEVSTS_HALTED;
        lumen_report_error(s, LUMEN_ERR_INTERNAL, LUMEN_STATUS_INTERNAL, 0);
        break;
    case LUMEN_INJECT_MBOX_HANG:
        /* Silent: no response, no interrupt, no error. */
        break;
    default:
        g_assert_not_reached();
    }
}

static uint64_t lumen_inject_armed(LumenState *s)
{
    uint64_t armed = 0;
    unsigned int q;

    for (q = 0; q < s->num_queues; q++) {
        if (s->queues[q].inject != LUMEN_INJECT_NONE) {
            armed |= 1ull << q;
        }
    }
    return armed;
}

bool lumen_inject_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    if (!(s->caps & LUMEN_CAP_FAULT_INJECT)) {
        return false;
    }
    switch (addr) {
    case LUMEN_REG_INJECT_CTRL:
        *val = 0;       /* write-only */
        return true;
    case LUMEN_REG_INJECT_STATUS:
        *val = (uint32_t)lumen_inject_armed(s);
        return true;
    case LUMEN_REG_INJECT_STATUS_HI:
        *val = lumen_inject_armed(s) >> 32;
        return true;
    default:
        return false;
    }
}

bool lumen_inject_write(LumenState *s, hwaddr addr, uint32_t val)
{
    uint32_t kind = val & LUMEN_INJECT_KIND_MASK;
    uint32_t q = (val & LUMEN_INJECT_QUEUE_MASK) >> LUMEN_INJECT_QUEUE_SHIFT;

    if (!(s->caps & LUMEN_CAP_FAULT_INJECT)) {
        return false;
    }
    switch (addr) {
    case LUMEN_REG_INJECT_CTRL:
        if ((val & LUMEN_INJECT_CTRL_RESERVED) || q >= s->num_queues ||
            kind >= LUMEN_INJECT_COUNT) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "INJECT_CTRL: unknown kind, queue beyond "
                            "NUM_QUEUES or reserved bits set");
            return true;
        }
        if (lumen_inject_is_device(kind)) {
            if (q) {
                lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                                "INJECT_CTRL: device injection with a "
                                "non-zero queue field");
                return true;
            }
            lumen_inject_device(s, kind);
            return true;
        }
        trace_lumen_inject_arm(s->chip_id, q, kind);
        s->queues[q].inject = kind;
        return true;
    case LUMEN_REG_INJECT_STATUS:
    case LUMEN_REG_INJECT_STATUS_HI:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}
