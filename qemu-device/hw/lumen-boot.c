/*
 * Lumen N1 accelerator: firmware boot (docs/hw-spec.md section 6).
 *
 * The driver programs FW_ADDR/FW_SIZE and the mailbox rings, then writes
 * BOOT_CTRL = BOOT. The write only moves BOOT_STATUS to LOADING and
 * schedules a bottom half, which checks the mailbox configuration, fetches
 * the image by DMA, runs lumen_fw_image_check() on it and either opens the
 * mailbox (RUNNING) or records why not (FAILED). Either way it raises
 * INT_BOOT on vector 0. The image is opaque: the model is the firmware.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "lumen-npu.h"
#include "trace.h"

/* Fetch and check the image; on success fill in what it reports. */
static enum lumen_status lumen_boot_fetch(LumenState *s)
{
    LumenBoot *b = &s->boot;
    const struct lumen_fw_header *hdr;
    g_autofree uint8_t *image = NULL;
    enum lumen_status st;
    MemTxResult res;

    if (b->fw_size < sizeof(struct lumen_fw_header) ||
        b->fw_size > LUMEN_FW_MAX_SIZE) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: FW_SIZE %u is "
                      "outside [%zu, %u]\n", s->chip_id, b->fw_size,
                      sizeof(struct lumen_fw_header), LUMEN_FW_MAX_SIZE);
        return LUMEN_STATUS_BAD_SIZE;
    }
    if (b->fw_addr + b->fw_size < b->fw_addr) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: firmware image "
                      "at 0x%" PRIx64 " wraps the bus address space\n",
                      s->chip_id, b->fw_addr);
        return LUMEN_STATUS_DMA_ERROR;
    }

    image = g_malloc(b->fw_size);
    res = pci_dma_read(PCI_DEVICE(s), b->fw_addr, image, b->fw_size);
    if (res != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: DMA read of the "
                      "firmware image at 0x%" PRIx64 " (+%u) failed (bus "
                      "mastering enabled?)\n", s->chip_id, b->fw_addr,
                      b->fw_size);
        return LUMEN_STATUS_DMA_ERROR;
    }

    st = lumen_fw_image_check(image, b->fw_size);
    if (st != LUMEN_STATUS_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: firmware image "
                      "refused: %s\n", s->chip_id, lumen_status_name(st));
        return st;
    }

    hdr = (const struct lumen_fw_header *)image;
    b->fw_version = le32_to_cpu(hdr->fw_version);
    b->abi_version = LUMEN_FW_ABI_MAJOR << 16 |
                     MIN(le16_to_cpu(hdr->abi_minor), LUMEN_FW_ABI_MINOR);
    memcpy(b->build_id, hdr->build_id, sizeof(b->build_id));
    return LUMEN_STATUS_OK;
}

static void lumen_boot_bh(void *opaque)
{
    LumenState *s = opaque;
    LumenBoot *b = &s->boot;
    enum lumen_status st;

    if (b->state != LUMEN_BOOT_LOADING) {
        return;
    }

    if (!lumen_mbox_config_ok(s)) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: boot refused: "
                      "MBOX_RING_ORDER %u is outside [%u, %u]\n", s->chip_id,
                      s->mbox.ring_order, LUMEN_MBOX_RING_ORDER_MIN,
                      LUMEN_MBOX_RING_ORDER_MAX);
        st = LUMEN_STATUS_BAD_ARGUMENT;
    } else {
        st = lumen_boot_fetch(s);
    }

    if (st == LUMEN_STATUS_OK) {
        b->state = LUMEN_BOOT_RUNNING;
        b->error = LUMEN_STATUS_OK;
        lumen_mbox_open(s);
    } else {
        b->state = LUMEN_BOOT_FAILED;
        b->error = st;
        b->fw_version = 0;
        b->abi_version = 0;
        memset(b->build_id, 0, sizeof(b->build_id));
        lumen_report_error(s, st == LUMEN_STATUS_DMA_ERROR ?
                           LUMEN_ERR_DMA : LUMEN_ERR_FW_IMAGE,
                           st, b->fw_addr);
    }
    trace_lumen_boot_done(s->chip_id, b->state, b->error, b->fw_version);
    lumen_irq_raise(s, LUMEN_INT_BOOT);
}

static void lumen_boot_start(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenBoot *b = &s->boot;

    if (val != LUMEN_BOOT_CTRL_BOOT) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "BOOT_CTRL value other than BOOT");
        return;
    }
    if (b->state != LUMEN_BOOT_OFF) {
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_STATE,
                        "BOOT while not OFF (soft reset first)");
        return;
    }
    trace_lumen_boot_start(s->chip_id, b->fw_addr, b->fw_size);
    b->state = LUMEN_BOOT_LOADING;
    s->dev_status &= ~LUMEN_DEVSTS_RESET_DONE;
    qemu_bh_schedule(b->bh);
}

bool lumen_boot_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenBoot *b = &s->boot;
    bool running = b->state == LUMEN_BOOT_RUNNING;

    switch (addr) {
    case LUMEN_REG_FW_ADDR_LO:
        *val = (uint32_t)b->fw_addr;
        return true;
    case LUMEN_REG_FW_ADDR_HI:
        *val = b->fw_addr >> 32;
        return true;
    case LUMEN_REG_FW_SIZE:
        *val = b->fw_size;
        return true;
    case LUMEN_REG_BOOT_CTRL:
        *val = 0;       /* write-only */
        return true;
    case LUMEN_REG_BOOT_STATUS:
        *val = b->state;
        return true;
    case LUMEN_REG_BOOT_ERROR:
        *val = b->error;
        return true;
    case LUMEN_REG_FW_VERSION:
        *val = running ? b->fw_version : 0;
        return true;
    case LUMEN_REG_FW_ABI_VERSION:
        *val = running ? b->abi_version : 0;
        return true;
    default:
        return false;
    }
}

bool lumen_boot_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenBoot *b = &s->boot;

    switch (addr) {
    case LUMEN_REG_FW_ADDR_LO:
    case LUMEN_REG_FW_ADDR_HI:
    case LUMEN_REG_FW_SIZE:
        if (b->state != LUMEN_BOOT_OFF) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_STATE,
                            "firmware address/size written while not OFF");
            return true;
        }
        if (addr == LUMEN_REG_FW_ADDR_LO) {
            b->fw_addr_lo = val;
        } else if (addr == LUMEN_REG_FW_ADDR_HI) {
            b->fw_addr = (uint64_t)val << 32 | b->fw_addr_lo;
        } else {
            b->fw_size = val;
        }
        return true;
    case LUMEN_REG_BOOT_CTRL:
        lumen_boot_start(s, addr, val);
        return true;
    case LUMEN_REG_BOOT_STATUS:
    case LUMEN_REG_BOOT_ERROR:
    case LUMEN_REG_FW_VERSION:
    case LUMEN_REG_FW_ABI_VERSION:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}

/*
 * The firmware crashed (FW_CRASH injection): FAILED with FW_CRASHED, in
 * whatever state it was. A fetch not yet run is abandoned; the mailbox is
 * closed with it (BOOT_STATUS is no longer RUNNING). Only a reset leaves
 * FAILED.
 */
void lumen_boot_crash(LumenState *s)
{
    LumenBoot *b = &s->boot;

    qemu_bh_cancel(b->bh);
    b->state = LUMEN_BOOT_FAILED;
    b->error = LUMEN_STATUS_FW_CRASHED;
    b->fw_version = 0;
    b->abi_version = 0;
    memset(b->build_id, 0, sizeof(b->build_id));
    trace_lumen_boot_done(s->chip_id, b->state, b->error, b->fw_version);
}

void lumen_boot_reset(LumenState *s)
{
    LumenBoot *b = &s->boot;

    /* A fetch not yet run is abandoned: no DMA after the reset. */
    qemu_bh_cancel(b->bh);
    b->fw_addr_lo = 0;
    b->fw_addr = 0;
    b->fw_size = 0;
    b->state = LUMEN_BOOT_OFF;
    b->error = LUMEN_STATUS_OK;
    b->fw_version = 0;
    b->abi_version = 0;
    memset(b->build_id, 0, sizeof(b->build_id));
}

void lumen_boot_post_load(LumenState *s)
{
    if (s->boot.state == LUMEN_BOOT_LOADING) {
        qemu_bh_schedule(s->boot.bh);
    }
}

void lumen_boot_init(LumenState *s)
{
    s->boot.bh = qemu_bh_new_guarded(lumen_boot_bh, s,
                                     &DEVICE(s)->mem_reentrancy_guard);
}

void lumen_boot_exit(LumenState *s)
{
    qemu_bh_delete(s->boot.bh);
    s->boot.bh = NULL;
}
