/*
 * Lumen N1 accelerator: test-only fault injection (docs/hw-spec.md
 * section 12, lumen_regs.h).
 *
 * Present when the device property fault-inject is on (the default), which
 * sets CAPS.FAULT_INJECT; otherwise the block is reserved (reads 0, writes
 * are bad register accesses). INJECT_CTRL arms one injection per queue; it
 * fires on the next descriptor the queue fetches (lumen-engine.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lumen-npu.h"
#include "trace.h"

#define LUMEN_INJECT_CTRL_RESERVED  (~(LUMEN_INJECT_KIND_MASK | \
                                      LUMEN_INJECT_QUEUE_MASK))

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
            kind > LUMEN_INJECT_CORRUPT_DESC) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "INJECT_CTRL: unknown kind, queue beyond "
                            "NUM_QUEUES or reserved bits set");
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
