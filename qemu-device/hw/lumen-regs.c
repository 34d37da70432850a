/*
 * Lumen N1 accelerator: BAR0 register decode.
 *
 * Every access is checked here (aligned 32-bit only) and routed to the
 * block that owns the offset; a block answers false for an offset it does
 * not define. Reserved offsets read 0. A write to a reserved offset or a
 * read-only register, a bad width or alignment, or an invalid value is
 * dropped, logged as a guest error and recorded as ERR_STATUS.REG_ACCESS
 * with ERR_LAST_INFO = the offset (docs/hw-spec.md section 1). The fault
 * injection block (0x500) is reserved while CAPS.FAULT_INJECT is clear;
 * the block of a link port p >= NUM_LINK_PORTS is reserved.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "lumen-npu.h"
#include "trace.h"

#define LUMEN_REG_BLOCK_MASK    (~(hwaddr)0xff)
#define LUMEN_REG_GLOBAL        0x000
#define LUMEN_REG_IRQ           0x100
#define LUMEN_REG_BOOT          0x200
#define LUMEN_REG_TELEMETRY     0x300
#define LUMEN_REG_MMU           0x400
#define LUMEN_REG_INJECT        0x500
#define LUMEN_REG_QUEUE_END     (LUMEN_REG_QUEUE_BASE + \
                                 LUMEN_QUEUES_MAX * LUMEN_REG_QUEUE_STRIDE)

void lumen_reg_error(LumenState *s, hwaddr addr, enum lumen_status code,
                     const char *why)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: BAR0 0x%" HWADDR_PRIx
                  ": %s\n", s->chip_id, addr, why);
    lumen_report_error(s, LUMEN_ERR_REG_ACCESS, code, addr);
}

static bool lumen_global_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    switch (addr) {
    case LUMEN_REG_MAGIC:
        *val = LUMEN_MAGIC;
        break;
    case LUMEN_REG_HW_VERSION:
        *val = LUMEN_HW_VERSION;
        break;
    case LUMEN_REG_CAPS:
        *val = s->caps;
        break;
    case LUMEN_REG_CHIP_ID:
        *val = s->chip_id;
        break;
    case LUMEN_REG_MEM_SIZE_LO:
        *val = (uint32_t)s->mem_size;
        break;
    case LUMEN_REG_MEM_SIZE_HI:
        *val = s->mem_size >> 32;
        break;
    case LUMEN_REG_NUM_QUEUES:
        *val = s->num_queues;
        break;
    case LUMEN_REG_NUM_LINK_PORTS:
        *val = s->num_link_ports;
        break;
    case LUMEN_REG_NUM_VECTORS:
        *val = s->num_vectors;
        break;
    case LUMEN_REG_DEVICE_STATUS:
        *val = s->dev_status;
        if (s->boot.state == LUMEN_BOOT_RUNNING) {
            *val |= LUMEN_DEVSTS_FW_RUNNING;
        }
        break;
    case LUMEN_REG_SOFT_RESET:
        *val = 0;       /* write-only */
        break;
    case LUMEN_REG_SCRATCH:
        *val = s->scratch;
        break;
    default:
        return false;
    }
    return true;
}

static bool lumen_global_write(LumenState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case LUMEN_REG_SOFT_RESET:
        if (val != LUMEN_RESET_KEY) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "SOFT_RESET without the reset key");
            return true;
        }
        lumen_soft_reset(s);
        return true;
    case LUMEN_REG_SCRATCH:
        s->scratch = val;
        return true;
    case LUMEN_REG_MAGIC:
    case LUMEN_REG_HW_VERSION:
    case LUMEN_REG_CAPS:
    case LUMEN_REG_CHIP_ID:
    case LUMEN_REG_MEM_SIZE_LO:
    case LUMEN_REG_MEM_SIZE_HI:
    case LUMEN_REG_NUM_QUEUES:
    case LUMEN_REG_NUM_LINK_PORTS:
    case LUMEN_REG_NUM_VECTORS:
    case LUMEN_REG_DEVICE_STATUS:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}

/*
 * Route a read to the block owning @addr. False means a reserved offset,
 * which reads 0 without complaint.
 */
static bool lumen_block_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    switch (addr & LUMEN_REG_BLOCK_MASK) {
    case LUMEN_REG_GLOBAL:
        return lumen_global_read(s, addr, val);
    case LUMEN_REG_IRQ:
        return lumen_irq_read(s, addr, val) || lumen_link_read(s, addr, val);
    case LUMEN_REG_BOOT:
        return lumen_boot_read(s, addr, val) || lumen_mbox_read(s, addr, val);
    case LUMEN_REG_TELEMETRY:
        return lumen_telemetry_read(s, addr, val);
    case LUMEN_REG_MMU:
        return lumen_mmu_read(s, addr, val);
    case LUMEN_REG_INJECT:
        return lumen_inject_read(s, addr, val);
    }
    if (addr >= LUMEN_REG_QUEUE_BASE && addr < LUMEN_REG_QUEUE_END) {
        return lumen_queue_read(s, addr, val);
    }
    return lumen_remote_reg_read(s, addr, val) ||
           lumen_route_reg_read(s, addr, val) ||
           lumen_mgmt_reg_read(s, addr, val) ||
           lumen_link_read(s, addr, val);
}

/* Route a write; false means a reserved offset, a bad register access. */
static bool lumen_block_write(LumenState *s, hwaddr addr, uint32_t val)
{
    switch (addr & LUMEN_REG_BLOCK_MASK) {
    case LUMEN_REG_GLOBAL:
        return lumen_global_write(s, addr, val);
    case LUMEN_REG_IRQ:
        return lumen_irq_write(s, addr, val) ||
               lumen_link_write(s, addr, val);
    case LUMEN_REG_BOOT:
        return lumen_boot_write(s, addr, val) ||
               lumen_mbox_write(s, addr, val);
    case LUMEN_REG_TELEMETRY:
        return lumen_telemetry_write(s, addr, val);
    case LUMEN_REG_MMU:
        return lumen_mmu_write(s, addr, val);
    case LUMEN_REG_INJECT:
        return lumen_inject_write(s, addr, val);
    }
    if (addr >= LUMEN_REG_QUEUE_BASE && addr < LUMEN_REG_QUEUE_END) {
        return lumen_queue_write(s, addr, val);
    }
    return lumen_remote_reg_write(s, addr, val) ||
           lumen_route_reg_write(s, addr, val) ||
           lumen_mgmt_reg_write(s, addr, val) ||
           lumen_link_write(s, addr, val);
}

static uint64_t lumen_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    LumenState *s = opaque;
    uint32_t val = 0;

    if (size != 4 || (addr & 3)) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "read is not an aligned 32-bit access");
        return 0;
    }
    if (!lumen_block_read(s, addr, &val)) {
        val = 0;        /* reserved offset */
    }
    trace_lumen_reg_read(s->chip_id, addr, val);
    return val;
}

static void lumen_regs_write(void *opaque, hwaddr addr, uint64_t data,
                             unsigned size)
{
    LumenState *s = opaque;

    if (size != 4 || (addr & 3)) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write is not an aligned 32-bit access");
        return;
    }
    trace_lumen_reg_write(s->chip_id, addr, data);
    if (!lumen_block_write(s, addr, data)) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a reserved offset");
    }
}

/*
 * Accept every width at the bus level so that bad accesses reach the
 * callbacks and are reported, instead of vanishing in the memory core.
 */
const MemoryRegionOps lumen_regs_ops = {
    .read = lumen_regs_read,
    .write = lumen_regs_write,
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
