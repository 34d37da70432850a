// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: MSI-X vectors and interrupt handlers.
 *
 * Every cause has a fixed vector (lumen_regs.h): MBOX carries boot
 * completion and mailbox responses, ERROR carries ERR_STATUS and MMU faults,
 * LINK link state changes, and QUEUE_BASE + q the completions of queue q.
 * INT_STATUS is shared by all vectors; each handler acknowledges (W1C) only
 * the causes it owns, before processing them, so a cause raised while the
 * handler runs signals its vector again.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/interrupt.h>
#include <linux/kernel.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_irq.h"
#include "lumen_mbox.h"
#include "lumen_queue.h"
#include "lumen_reset.h"

#define LUMEN_INT_MBOX_CAUSES	(LUMEN_INT_MBOX | LUMEN_INT_BOOT)
#define LUMEN_INT_ERROR_CAUSES	(LUMEN_INT_ERROR | LUMEN_INT_MMU_FAULT)

static const char * const lumen_err_names[] = {
	"FW_IMAGE", "MBOX_PROTOCOL", "DMA", "MMU", "QUEUE_DESC", "INTERNAL",
	"THERMAL", "LINK", "REG_ACCESS",
};

static u32 lumen_irq_ack(struct lumen_device *ldev, u32 causes)
{
	u32 status = lumen_rd32(ldev, LUMEN_REG_INT_STATUS) & causes;

	if (status)
		lumen_wr32(ldev, LUMEN_REG_INT_STATUS, status);
	return status;
}

static irqreturn_t lumen_irq_mbox(int irq, void *arg)
{
	struct lumen_device *ldev = arg;
	u32 status = lumen_irq_ack(ldev, LUMEN_INT_MBOX_CAUSES);

	if (!status)
		return IRQ_NONE;

	if (status & LUMEN_INT_BOOT) {
		WRITE_ONCE(ldev->boot_irq_seen, true);
		wake_up_all(&ldev->boot_wq);
	}
	if (status & LUMEN_INT_MBOX)
		lumen_mbox_process(ldev);

	return IRQ_HANDLED;
}

static irqreturn_t lumen_irq_error(int irq, void *arg)
{
	struct lumen_device *ldev = arg;
	u32 status = lumen_irq_ack(ldev, LUMEN_INT_ERROR_CAUSES);
	char names[128];
	size_t len = 0;
	u32 err, code, sts;
	int bit;

	if (!status)
		return IRQ_NONE;

	/* Fails the faulting context; other contexts keep running. */
	if (status & LUMEN_INT_MMU_FAULT)
		lumen_queue_mmu_fault(ldev);

	err = lumen_rd32(ldev, LUMEN_REG_ERR_STATUS);
	if (!err)
		return IRQ_HANDLED;
	lumen_wr32(ldev, LUMEN_REG_ERR_STATUS, err);
	code = lumen_rd32(ldev, LUMEN_REG_ERR_LAST_CODE);

	/*
	 * A remote command that another chip refused, or that found no route
	 * or no answer (hw-spec 13.7), is its job's outcome, which the queue
	 * handler reports (lumen_queue.c) and any user can cause: not a
	 * device error for the error log, nor for its rate limit, which would
	 * then hide real ones.
	 */
	if (err == LUMEN_ERR_LINK && lumen_queue_remote_errno(code)) {
		dev_dbg_ratelimited(lumen_dev(ldev), "remote command failed: %s (%u), chip %llu\n",
				    lumen_status_name(code), code,
				    lumen_rd64(ldev, LUMEN_REG_ERR_LAST_INFO_LO));
		return IRQ_HANDLED;
	}
	atomic_inc(&ldev->err_count);

	names[0] = '\0';
	for (bit = 0; bit < 32; bit++) {
		if (!(err & BIT(bit)))
			continue;
		len += scnprintf(names + len, sizeof(names) - len, "%s%s", len ? "|" : "",
				 bit < ARRAY_SIZE(lumen_err_names) ? lumen_err_names[bit] : "?");
	}
	dev_err_ratelimited(lumen_dev(ldev),
			    "device error 0x%x (%s), %u so far: last %s (%u), info 0x%llx\n",
			    err, names, lumen_rd32(ldev, LUMEN_REG_ERR_COUNT),
			    lumen_status_name(code), code,
			    lumen_rd64(ldev, LUMEN_REG_ERR_LAST_INFO_LO));

	/* Only a reset brings a halted card or a dead firmware back. */
	sts = lumen_rd32(ldev, LUMEN_REG_DEVICE_STATUS);
	if (sts & LUMEN_DEVSTS_HALTED) {
		dev_err_ratelimited(lumen_dev(ldev), "device halted, resetting it\n");
		lumen_reset_schedule(ldev, LUMEN_RESET_HALTED);
	} else if (!(sts & LUMEN_DEVSTS_FW_RUNNING) && READ_ONCE(ldev->hw_up)) {
		dev_err_ratelimited(lumen_dev(ldev), "firmware stopped running, resetting the card\n");
		lumen_reset_schedule(ldev, LUMEN_RESET_FW_CRASH);
	}

	return IRQ_HANDLED;
}

static int lumen_irq_request(struct lumen_device *ldev, unsigned int vec,
			     irq_handler_t handler, const char *what, int *irq_out)
{
	struct device *dev = lumen_dev(ldev);
	const char *name;
	int irq, ret;

	irq = pci_irq_vector(ldev->pdev, vec);
	if (irq < 0) {
		dev_err(dev, "no Linux IRQ for vector %u: %pe\n", vec, ERR_PTR(irq));
		return irq;
	}

	name = devm_kasprintf(dev, GFP_KERNEL, DRIVER_NAME "-%s@%s", what, pci_name(ldev->pdev));
	if (!name)
		return -ENOMEM;

	ret = devm_request_irq(dev, irq, handler, 0, name, ldev);
	if (ret) {
		dev_err(dev, "cannot request IRQ %d (%s): %pe\n", irq, what, ERR_PTR(ret));
		return ret;
	}

	*irq_out = irq;
	return 0;
}

/**
 * lumen_irq_init() - allocate MSI-X vectors and install the handlers
 * @ldev: device after soft reset, with the mailbox rings allocated
 *
 * Asks for LUMEN_NUM_VECTORS(num_queues) MSI-X vectors. There is no
 * single-vector or INTx fallback: each cause signals its own fixed vector
 * and MSI-X entries the OS does not enable stay masked, so a lone vector
 * would never see mailbox or error events. What can be degraded is the
 * queue count: if the platform grants fewer vectors (vector exhaustion,
 * pci=... limits), the driver accepts any number that still covers the four
 * fixed vectors plus one queue, and uses only the queues that got a
 * vector (&lumen_device.num_queues).
 *
 * All causes are masked on return except those in LUMEN_INT_HANDLED. The
 * handlers and vectors are device-managed; they are released after the
 * quiesce action registered by the caller.
 *
 * Return: 0 or a negative errno (logged).
 */
int lumen_irq_init(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	unsigned int min = LUMEN_NUM_VECTORS(LUMEN_QUEUES_MIN);
	unsigned int want = LUMEN_NUM_VECTORS(ldev->id.num_queues);
	int nvec, ret;

	lumen_hw_irq_disable_all(ldev);

	if (ldev->id.num_vectors < want) {
		dev_warn(dev, "device implements %u vectors, %u queues need %u\n",
			 ldev->id.num_vectors, ldev->id.num_queues, want);
		want = ldev->id.num_vectors;
	}

	/* Start from a clean slate: no stale causes or error classes. */
	lumen_wr32(ldev, LUMEN_REG_ERR_STATUS, lumen_rd32(ldev, LUMEN_REG_ERR_STATUS));

	nvec = pci_alloc_irq_vectors(ldev->pdev, min, want, PCI_IRQ_MSIX);
	if (nvec < 0) {
		dev_err(dev, "cannot allocate %u to %u MSI-X vectors: %pe\n", min, want,
			ERR_PTR(nvec));
		return nvec;
	}
	ldev->nvec = nvec;
	ldev->num_queues = nvec - LUMEN_VEC_QUEUE_BASE;
	if (ldev->num_queues < ldev->id.num_queues)
		dev_warn(dev, "%d MSI-X vectors: using %u of %u DMA queues\n", nvec,
			 ldev->num_queues, ldev->id.num_queues);

	ret = lumen_irq_request(ldev, LUMEN_VEC_MBOX, lumen_irq_mbox, "mbox", &ldev->irq_mbox);
	if (ret)
		return ret;
	ret = lumen_irq_request(ldev, LUMEN_VEC_ERROR, lumen_irq_error, "error",
				&ldev->irq_error);
	if (ret)
		return ret;

	lumen_hw_irq_enable(ldev, LUMEN_INT_HANDLED);
	return 0;
}
