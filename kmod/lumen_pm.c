// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: system suspend and resume.
 *
 * Suspend marks the card suspended under the reset lock (taken for writing
 * once, so no ioctl is in its hardware section; the timeout handlers
 * leave a suspended card alone), stops feeding the rings and lets the jobs
 * already on them finish (up to a job timeout, at most 2 s), then marks
 * the card with a cookie in its SCRATCH register and masks its interrupts.
 * Jobs not yet on a ring stay queued. If jobs are still running, the card
 * is stopped (soft reset). No lock is held from suspend to resume: they may
 * run in different threads.
 *
 * Resume checks whether the card kept its state: the cookie is still
 * there, the firmware runs and the device is not halted. Then it simply
 * carries on: interrupts back on, completions that arrived meanwhile
 * signalled, queued jobs run. If the card lost its state (it was powered
 * off, or reset by the platform), or jobs were still on a ring when it
 * went to sleep, the card is reset like after any fault (LUMEN_RESET_RESUME,
 * lumen_reset.c): that work fails with -ENODEV and the files of before get
 * -ENODEV; nothing waits forever.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/pm.h>

#include <drm/drm_drv.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_link.h"
#include "lumen_pm.h"
#include "lumen_queue.h"
#include "lumen_reset.h"

/* Longest a suspend waits for the rings to drain, whatever job_timeout_ms. */
#define LUMEN_PM_DRAIN_MS	2000u

/* "SUSP" mixed with the generation: a reset in between clears SCRATCH. */
#define LUMEN_PM_COOKIE(gen)	(0x53555350u ^ (u32)(gen))

static int lumen_pm_suspend(struct device *dev)
{
	struct lumen_device *ldev = pci_get_drvdata(to_pci_dev(dev));
	u32 cookie, drain_ms;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return 0;

	/* A reset that is due runs now, not half way through the suspend. */
	flush_workqueue(ldev->reset_wq);
	mutex_lock(&ldev->reset_mutex);
	/* No ioctl is touching the card once this is set under the lock. */
	down_write(&ldev->reset_lock);
	WRITE_ONCE(ldev->pm_suspended, true);
	WRITE_ONCE(ldev->hw_up, false);
	up_write(&ldev->reset_lock);

	if (READ_ONCE(ldev->lost))
		goto out;

	drain_ms = clamp(READ_ONCE(lumen_job_timeout_ms), 10u, LUMEN_PM_DRAIN_MS);
	ldev->pm_drained = lumen_queue_suspend_all(ldev, drain_ms);
	lumen_hw_irq_quiet(ldev);
	if (ldev->pm_drained) {
		cookie = LUMEN_PM_COOKIE(atomic_read(&ldev->reset_gen));
		lumen_wr32(ldev, LUMEN_REG_SCRATCH, cookie);
	} else {
		/* Jobs still on a ring: stop the card; resume resets it. */
		dev_warn(dev, "jobs still running at suspend: the card is reset on resume\n");
		lumen_hw_soft_reset(ldev);
	}
out:
	mutex_unlock(&ldev->reset_mutex);
	drm_dev_exit(idx);
	return 0;
}

/* Did the card come back from sleep as it went in? */
static bool lumen_pm_state_kept(struct lumen_device *ldev)
{
	u32 sts;

	if (lumen_rd32(ldev, LUMEN_REG_MAGIC) != LUMEN_MAGIC)
		return false;
	if (lumen_rd32(ldev, LUMEN_REG_SCRATCH) != LUMEN_PM_COOKIE(atomic_read(&ldev->reset_gen)))
		return false;
	sts = lumen_rd32(ldev, LUMEN_REG_DEVICE_STATUS);
	return (sts & LUMEN_DEVSTS_FW_RUNNING) && !(sts & LUMEN_DEVSTS_HALTED);
}

static int lumen_pm_resume(struct device *dev)
{
	struct lumen_device *ldev = pci_get_drvdata(to_pci_dev(dev));
	bool kept;
	int idx;

	if (!READ_ONCE(ldev->pm_suspended))
		return 0;
	if (!drm_dev_enter(&ldev->drm, &idx)) {
		WRITE_ONCE(ldev->pm_suspended, false);
		return 0;
	}
	if (READ_ONCE(ldev->lost)) {
		WRITE_ONCE(ldev->pm_suspended, false);
		goto out;
	}

	kept = ldev->pm_drained && lumen_pm_state_kept(ldev);
	if (kept) {
		lumen_hw_irq_enable(ldev, LUMEN_INT_HANDLED);
		if (ldev->qm->num)
			lumen_hw_irq_enable(ldev, LUMEN_INT_QUEUE | LUMEN_INT_MMU_FAULT);
		/* Suspend masked the link interrupt with the others. */
		lumen_link_restart(ldev);
		WRITE_ONCE(ldev->pm_suspended, false);
		WRITE_ONCE(ldev->hw_up, true);
	} else {
		dev_warn(dev, "the card lost its state in suspend, resetting it\n");
		WRITE_ONCE(ldev->pm_suspended, false);
		/* Before the schedulers run again: they find stale queues. */
		lumen_reset_now(ldev, LUMEN_RESET_RESUME);
	}
	lumen_queue_resume_all(ldev);
out:
	drm_dev_exit(idx);
	return 0;
}

DEFINE_SIMPLE_DEV_PM_OPS(lumen_pm_ops, lumen_pm_suspend, lumen_pm_resume);
