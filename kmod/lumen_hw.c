// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: register access, identification, soft reset, interrupt masks.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/bits.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/log2.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_mbox.h"

/* The device finishes a soft reset well within this, even under TCG. */
#define LUMEN_RESET_TIMEOUT_US	(1000 * USEC_PER_MSEC)
#define LUMEN_RESET_POLL_US	20

#define REG(r)	{ #r, LUMEN_REG_##r }

const struct lumen_reg_desc lumen_global_regs[] = {
	REG(MAGIC), REG(HW_VERSION), REG(CAPS), REG(CHIP_ID),
	REG(MEM_SIZE_LO), REG(MEM_SIZE_HI), REG(NUM_QUEUES),
	REG(NUM_LINK_PORTS), REG(NUM_VECTORS), REG(DEVICE_STATUS),
	REG(SCRATCH),
	REG(INT_STATUS), REG(INT_MASK), REG(ERR_STATUS), REG(ERR_COUNT),
	REG(ERR_LAST_CODE), REG(ERR_LAST_INFO_LO), REG(ERR_LAST_INFO_HI),
	REG(FW_ADDR_LO), REG(FW_ADDR_HI), REG(FW_SIZE), REG(BOOT_STATUS),
	REG(BOOT_ERROR), REG(FW_VERSION), REG(FW_ABI_VERSION),
	REG(MBOX_REQ_BASE_LO), REG(MBOX_REQ_BASE_HI), REG(MBOX_RESP_BASE_LO),
	REG(MBOX_RESP_BASE_HI), REG(MBOX_RING_ORDER), REG(MBOX_REQ_TAIL),
	REG(MBOX_REQ_HEAD), REG(MBOX_RESP_TAIL), REG(MBOX_RESP_HEAD),
	REG(TEMP_MC), REG(POWER_MW), REG(CLK_CORE_MHZ), REG(CLK_MEM_MHZ),
	REG(BUSY_NS_LO), REG(BUSY_NS_HI), REG(UPTIME_MS), REG(TEMP_CRIT_MC),
	REG(POWER_CAP_MW), REG(POWER_MAX_MW),
};

const unsigned int lumen_num_global_regs = ARRAY_SIZE(lumen_global_regs);

#undef REG

/**
 * lumen_boot_state_name() - name of an &enum lumen_boot_state value
 * @state: BOOT_STATUS register value
 *
 * Return: a constant string.
 */
const char *lumen_boot_state_name(u32 state)
{
	switch (state) {
	case LUMEN_BOOT_OFF:
		return "OFF";
	case LUMEN_BOOT_LOADING:
		return "LOADING";
	case LUMEN_BOOT_RUNNING:
		return "RUNNING";
	case LUMEN_BOOT_FAILED:
		return "FAILED";
	default:
		return "UNKNOWN";
	}
}

/**
 * lumen_hw_init() - identify the device from its registers
 * @ldev: device with BAR0 mapped
 *
 * Checks MAGIC and the HW_VERSION major before anything else touches the
 * device, then reads and range-checks the geometry registers into
 * &lumen_device.id. Nothing here is trusted beyond the checked ranges.
 *
 * Return: 0, or -ENODEV for a device this driver cannot drive.
 */
int lumen_hw_init(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	struct lumen_identity *id = &ldev->id;
	u32 magic, ver;

	magic = lumen_rd32(ldev, LUMEN_REG_MAGIC);
	if (magic != LUMEN_MAGIC) {
		dev_err(dev, "bad MAGIC 0x%08x (expected 0x%08x)\n", magic, LUMEN_MAGIC);
		return -ENODEV;
	}

	ver = lumen_rd32(ldev, LUMEN_REG_HW_VERSION);
	if (LUMEN_VERSION_MAJOR(ver) != LUMEN_HW_VERSION_MAJOR) {
		dev_err(dev, "unsupported hardware interface %u.%u (driver speaks %u.x)\n",
			LUMEN_VERSION_MAJOR(ver), LUMEN_VERSION_MINOR(ver),
			LUMEN_HW_VERSION_MAJOR);
		return -ENODEV;
	}
	id->hw_version = ver;

	id->caps = lumen_rd32(ldev, LUMEN_REG_CAPS);
	id->chip_id = lumen_rd32(ldev, LUMEN_REG_CHIP_ID);
	id->mem_size = lumen_rd64(ldev, LUMEN_REG_MEM_SIZE_LO);
	id->num_queues = lumen_rd32(ldev, LUMEN_REG_NUM_QUEUES);
	id->num_link_ports = lumen_rd32(ldev, LUMEN_REG_NUM_LINK_PORTS);
	id->num_vectors = lumen_rd32(ldev, LUMEN_REG_NUM_VECTORS);

	if (!(id->caps & LUMEN_CAP_MAILBOX)) {
		dev_err(dev, "device has no firmware mailbox (CAPS 0x%08x)\n", id->caps);
		return -ENODEV;
	}
	if (id->num_queues < LUMEN_QUEUES_MIN || id->num_queues > LUMEN_QUEUES_MAX) {
		dev_err(dev, "NUM_QUEUES %u out of range [%u, %u]\n", id->num_queues,
			LUMEN_QUEUES_MIN, LUMEN_QUEUES_MAX);
		return -ENODEV;
	}
	if (id->num_link_ports > LUMEN_LINK_PORTS_MAX) {
		dev_err(dev, "NUM_LINK_PORTS %u out of range [0, %u]\n",
			id->num_link_ports, LUMEN_LINK_PORTS_MAX);
		return -ENODEV;
	}
	if (id->mem_size < LUMEN_MEM_SIZE_MIN || id->mem_size > LUMEN_MEM_SIZE_MAX ||
	    !is_power_of_2(id->mem_size)) {
		dev_err(dev, "MEM_SIZE 0x%llx is not a power of two in [%llu MiB, %llu GiB]\n",
			id->mem_size, LUMEN_MEM_SIZE_MIN >> 20, LUMEN_MEM_SIZE_MAX >> 30);
		return -ENODEV;
	}
	if (id->num_vectors < LUMEN_NUM_VECTORS(LUMEN_QUEUES_MIN)) {
		dev_err(dev, "NUM_VECTORS %u below the minimum %u\n", id->num_vectors,
			LUMEN_NUM_VECTORS(LUMEN_QUEUES_MIN));
		return -ENODEV;
	}

	return 0;
}

/**
 * lumen_hw_soft_reset() - reset the device to BOOT_STATUS OFF
 * @ldev: device
 *
 * Stops the firmware and every DMA engine and closes the mailbox. Needed
 * before a (re)boot, and before freeing any memory the device may DMA to.
 * Sleeps.
 *
 * Return: 0, or -ETIMEDOUT/-EIO if the device did not come out of reset.
 */
int lumen_hw_soft_reset(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	u32 sts, boot;
	int ret;

	lumen_wr32(ldev, LUMEN_REG_SOFT_RESET, LUMEN_RESET_KEY);

	/*
	 * RESET_DONE may be left set by an earlier reset, so also require the
	 * firmware to have stopped; that bit only clears once the reset ran.
	 */
	ret = readl_poll_timeout(ldev->regs + LUMEN_REG_DEVICE_STATUS, sts,
				 (sts & (LUMEN_DEVSTS_RESET_DONE | LUMEN_DEVSTS_FW_RUNNING)) ==
				 LUMEN_DEVSTS_RESET_DONE,
				 LUMEN_RESET_POLL_US, LUMEN_RESET_TIMEOUT_US);
	if (ret) {
		dev_err(dev, "soft reset timed out (DEVICE_STATUS 0x%08x)\n", sts);
		return ret;
	}

	boot = lumen_rd32(ldev, LUMEN_REG_BOOT_STATUS);
	if (boot != LUMEN_BOOT_OFF) {
		dev_err(dev, "BOOT_STATUS %s (%u) after soft reset, expected OFF\n",
			lumen_boot_state_name(boot), boot);
		return -EIO;
	}

	return 0;
}

/**
 * lumen_hw_irq_enable() - let interrupt causes signal their vectors
 * @ldev: device
 * @causes: LUMEN_INT_* bits to unmask; other bits keep their mask state
 */
void lumen_hw_irq_enable(struct lumen_device *ldev, u32 causes)
{
	u32 mask = lumen_rd32(ldev, LUMEN_REG_INT_MASK);

	lumen_wr32(ldev, LUMEN_REG_INT_MASK, (mask & ~causes) & LUMEN_INT_ALL);
}

/**
 * lumen_hw_irq_disable_all() - mask every cause and drop pending ones
 * @ldev: device
 *
 * Does not wait for handlers already running; see lumen_hw_quiesce().
 */
void lumen_hw_irq_disable_all(struct lumen_device *ldev)
{
	lumen_wr32(ldev, LUMEN_REG_INT_MASK, LUMEN_INT_ALL);
	lumen_wr32(ldev, LUMEN_REG_INT_STATUS, LUMEN_INT_ALL);
}

/**
 * lumen_hw_irq_quiet() - mask every cause and wait for running handlers
 * @ldev: device
 *
 * Of the mailbox and error vectors, whose handlers act on the whole card;
 * queue and link handlers find their objects under their own rules.
 */
void lumen_hw_irq_quiet(struct lumen_device *ldev)
{
	lumen_hw_irq_disable_all(ldev);
	if (ldev->irq_mbox > 0)
		synchronize_irq(ldev->irq_mbox);
	if (ldev->irq_error > 0)
		synchronize_irq(ldev->irq_error);
}

/**
 * lumen_hw_quiesce() - stop the device before its host memory goes away
 * @ldev: device
 *
 * Masks interrupts, waits for running handlers, soft-resets the device so it
 * stops all DMA, then fails every mailbox waiter. Called on unbind and on
 * every probe failure after the interrupt handlers exist (as a devres
 * action registered after them, so it runs before the IRQs are freed and
 * before the DMA memory is released). Idempotent. Sleeps.
 */
void lumen_hw_quiesce(struct lumen_device *ldev)
{
	lumen_hw_irq_quiet(ldev);

	/* A surprise-removed device reads all ones: nothing left to stop. */
	if (lumen_rd32(ldev, LUMEN_REG_MAGIC) != LUMEN_MAGIC)
		dev_warn(lumen_dev(ldev), "device not responding, reset skipped\n");
	else
		lumen_hw_soft_reset(ldev);

	lumen_mbox_close(&ldev->mbox);
}
