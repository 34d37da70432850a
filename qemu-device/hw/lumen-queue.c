/*
 * Lumen N1 accelerator: DMA queue registers and doorbells (docs/hw-spec.md
 * section 10).
 *
 * CAPS.DMA_QUEUES is clear in this revision of the model: the per-queue
 * register block reads 0 and drops writes, and every queue is DISABLED, so
 * a doorbell write is dropped and reported as a bad register access
 * (BAD_STATE). The doorbell value is still recorded and traced, which is
 * where queue execution plugs in.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/host-utils.h"
#include "lumen-npu.h"
#include "trace.h"

uint64_t lumen_doorbell_bar_size(uint32_t num_queues)
{
    return pow2ceil((uint64_t)num_queues * LUMEN_DOORBELL_STRIDE);
}

/* @addr is a BAR0 offset inside the queue block. */
bool lumen_queue_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    uint32_t q = (addr - LUMEN_REG_QUEUE_BASE) / LUMEN_REG_QUEUE_STRIDE;
    hwaddr reg = (addr - LUMEN_REG_QUEUE_BASE) % LUMEN_REG_QUEUE_STRIDE;

    if (q >= s->num_queues || reg > LUMEN_QREG_COMPLETED) {
        return false;
    }
    qemu_log_mask(LOG_UNIMP, "lumen-npu: chip %u: queue %u register 0x%"
                  HWADDR_PRIx " read as 0: DMA queues not implemented\n",
                  s->chip_id, q, reg);
    *val = 0;
    return true;
}

bool lumen_queue_write(LumenState *s, hwaddr addr, uint32_t val)
{
    uint32_t q = (addr - LUMEN_REG_QUEUE_BASE) / LUMEN_REG_QUEUE_STRIDE;
    hwaddr reg = (addr - LUMEN_REG_QUEUE_BASE) % LUMEN_REG_QUEUE_STRIDE;

    if (q >= s->num_queues || reg > LUMEN_QREG_COMPLETED) {
        return false;
    }
    qemu_log_mask(LOG_UNIMP, "lumen-npu: chip %u: queue %u register 0x%"
                  HWADDR_PRIx " write 0x%x dropped: DMA queues not "
                  "implemented\n", s->chip_id, q, reg, val);
    return true;
}

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
    trace_lumen_doorbell(s->chip_id, q, data);
    s->db_last[q] = data;
    /* Every queue is DISABLED while CAPS.DMA_QUEUES is clear. */
    lumen_doorbell_error(s, addr, LUMEN_STATUS_BAD_STATE,
                         "doorbell of a disabled queue");
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

void lumen_queue_reset(LumenState *s)
{
    memset(s->db_last, 0, sizeof(s->db_last));
}
