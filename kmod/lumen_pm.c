// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: system suspend and resume.
 *
 * Suspend keeps every ioctl that touches the card out (the reset lock, for
 * writing, held until resume), stops feeding the rings and lets the jobs
 * already on them finish (up to a job timeout, at most 2 s), then marks the
 * card with a cookie in its SCRATCH register and masks its interrupts. Jobs
 * not yet on a ring stay queued.
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

#include <linux/interrupt.h>
#include <linux/pm.h>

#include <drm/drm_drv.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
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
	u32 cookie;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return 0;

	/* A reset that is due runs now, not half way through the suspend. */
	flush_workqueue(ldev->reset_wq);
	down_write(&ldev->reset_lock);
	ldev->pm_suspended = true;
	if (READ_ONCE(ldev->lost)) {
		drm_dev_exit(idx);
		return 0;
	}
	WRITE_ONCE(ldev->hw_up, false);

	ldev->pm_drained = lumen_queue_suspend_all(ldev, clamp(lumen_job_timeout_ms, 10u,
								LUMEN_PM_DRAIN_MS));
	if (!ldev->pm_drained)
		dev_warn(dev, "jobs still running at suspend: the card is reset on resume\n");

	cookie = LUMEN_PM_COOKIE(atomic_read(&ldev->reset_gen));
	lumen_wr32(ldev, LUMEN_REG_SCRATCH, cookie);
	lumen_hw_irq_disable_all(ldev);
	if (ldev->irq_mbox > 0)
		synchronize_irq(ldev->irq_mbox);
	if (ldev->irq_error > 0)
		synchronize_irq(ldev->irq_error);
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

	if (!ldev->pm_suspended)
		return 0;
	ldev->pm_suspended = false;
	if (!drm_dev_enter(&ldev->drm, &idx)) {
		up_write(&ldev->reset_lock);
		return 0;
	}
	if (READ_ONCE(ldev->lost)) {
		up_write(&ldev->reset_lock);
		drm_dev_exit(idx);
		return 0;
	}

	kept = ldev->pm_drained && lumen_pm_state_kept(ldev);
	if (kept) {
		lumen_hw_irq_enable(ldev, LUMEN_INT_HANDLED);
		if (ldev->qm->num)
			lumen_hw_irq_enable(ldev, LUMEN_INT_QUEUE | LUMEN_INT_MMU_FAULT);
		WRITE_ONCE(ldev->hw_up, true);
	}
	lumen_queue_resume_all(ldev);
	up_write(&ldev->reset_lock);

	if (!kept) {
		dev_warn(dev, "the card lost its state in suspend, resetting it\n");
		/* hw_up is clear: reset directly rather than scheduling. */
		lumen_reset_now(ldev, LUMEN_RESET_RESUME);
	}
	drm_dev_exit(idx);
	return 0;
}

DEFINE_SIMPLE_DEV_PM_OPS(lumen_pm_ops, lumen_pm_suspend, lumen_pm_resume);
