/*
 * Lumen N1 accelerator: interrupt causes, MSI-X signalling, error reporting
 * (docs/hw-spec.md sections 4 and 9).
 *
 * An event sets its cause bit in INT_STATUS (RW1C) and, unless INT_MASK has
 * the cause, sends the MSI-X message of the cause's vector; one message per
 * event. Masked events set the bit only and are not replayed on unmask.
 * The device never uses INTx or MSI.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/msix.h"
#include "lumen-npu.h"
#include "trace.h"

static void lumen_notify(LumenState *s, unsigned int vector)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (vector >= s->num_vectors || !msix_enabled(pdev)) {
        return;
    }
    trace_lumen_msix_notify(s->chip_id, vector);
    msix_notify(pdev, vector);
}

/*
 * Raise non-queue causes: MBOX and BOOT share LUMEN_VEC_MBOX, ERROR and
 * MMU_FAULT share LUMEN_VEC_ERROR, LINK and MGMT share LUMEN_VEC_LINK.
 * Causes raised together on one vector send one message.
 */
void lumen_irq_raise(LumenState *s, uint32_t cause)
{
    cause &= LUMEN_INT_ALL & ~LUMEN_INT_QUEUE;
    s->int_status |= cause;
    cause &= ~s->int_mask;
    if (cause & (LUMEN_INT_MBOX | LUMEN_INT_BOOT)) {
        lumen_notify(s, LUMEN_VEC_MBOX);
    }
    if (cause & (LUMEN_INT_ERROR | LUMEN_INT_MMU_FAULT)) {
        lumen_notify(s, LUMEN_VEC_ERROR);
    }
    if (cause & (LUMEN_INT_LINK | LUMEN_INT_MGMT)) {
        lumen_notify(s, LUMEN_VEC_LINK);
    }
}

/* Queue q completed an F_IRQ descriptor (or stopped). */
void lumen_irq_queue(LumenState *s, unsigned int q)
{
    if (q >= s->num_queues) {
        return;
    }
    s->int_status |= LUMEN_INT_QUEUE;
    if (!(s->int_mask & LUMEN_INT_QUEUE)) {
        lumen_notify(s, LUMEN_VEC_QUEUE_BASE + q);
    }
}

/*
 * Record an error event: count it, keep it as the last one, set its class
 * and signal INT_ERROR if the class bit was clear.
 */
void lumen_report_error(LumenState *s, uint32_t err_bit,
                        enum lumen_status code, uint64_t info)
{
    bool new_class = !(s->err_status & err_bit);

    s->err_status |= err_bit;
    s->err_count++;
    s->err_last_code = code;
    s->err_last_info = info;
    trace_lumen_error(s->chip_id, err_bit, code, info);
    if (new_class) {
        lumen_irq_raise(s, LUMEN_INT_ERROR);
    }
}

void lumen_irq_reset(LumenState *s)
{
    s->int_status = 0;
    s->int_mask = 0;
    s->err_status = 0;
    s->err_count = 0;
    s->err_last_code = LUMEN_STATUS_OK;
    s->err_last_info = 0;
}

bool lumen_irq_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    switch (addr) {
    case LUMEN_REG_INT_STATUS:
        *val = s->int_status;
        return true;
    case LUMEN_REG_INT_MASK:
        *val = s->int_mask;
        return true;
    case LUMEN_REG_ERR_STATUS:
        *val = s->err_status;
        return true;
    case LUMEN_REG_ERR_COUNT:
        *val = s->err_count;
        return true;
    case LUMEN_REG_ERR_LAST_CODE:
        *val = s->err_last_code;
        return true;
    case LUMEN_REG_ERR_LAST_INFO_LO:
        *val = (uint32_t)s->err_last_info;
        return true;
    case LUMEN_REG_ERR_LAST_INFO_HI:
        *val = s->err_last_info >> 32;
        return true;
    default:
        return false;
    }
}

bool lumen_irq_write(LumenState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case LUMEN_REG_INT_STATUS:
        /* RW1C; reserved bits are ignored so that "write ~0" clears all. */
        s->int_status &= ~val;
        return true;
    case LUMEN_REG_INT_MASK:
        if (val & ~LUMEN_INT_ALL) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "INT_MASK reserved bits set");
            return true;
        }
        s->int_mask = val;
        return true;
    case LUMEN_REG_ERR_STATUS:
        s->err_status &= ~val;
        return true;
    case LUMEN_REG_ERR_COUNT:
    case LUMEN_REG_ERR_LAST_CODE:
    case LUMEN_REG_ERR_LAST_INFO_LO:
    case LUMEN_REG_ERR_LAST_INFO_HI:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}
