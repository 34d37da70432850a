// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: device reset and recovery.
 *
 * What resets the card: the device halting (DEVICE_STATUS.HALTED), the
 * firmware dying (FW_RUNNING clears), a mailbox request the firmware never
 * answers, a hardware queue that does not come back from its queue reset
 * (lumen_job.c), a PCI function reset started by someone else (the PCI
 * core calls reset_prepare/reset_done around it), AER recovery, a resume
 * that finds the card's state gone, and debugfs (force_reset).
 *
 * A reset starts a new *reset generation*: everything the old one owned is
 * dead. Jobs of the old generation fail with -ENODEV once the card is
 * stopped (so their buffers are free when their fences say so); files
 * opened before the reset get -ENODEV from every ioctl and must be closed
 * (lumen_ioctl.c); their queues and device contexts keep their ids until
 * then, on a card that no longer runs them. The kernel's own state, the
 * mailbox, the interrupt masks and the firmware, is rebuilt: the card is
 * soft-reset and the firmware booted again, so files opened afterwards
 * work normally. Each reset counts in sysfs reset_count and sends a
 * KOBJ_CHANGE uevent on the PCI device with LUMEN_EVENT=reset,
 * LUMEN_RESET_COUNT, LUMEN_RESET_REASON and LUMEN_RESET_RESULT.
 *
 * Exclusion: one reset at a time (&lumen_device.reset_mutex); a reset
 * holds &lumen_device.reset_lock for writing, and the ioctls hold it for
 * reading only around their hardware accesses, never across a user copy,
 * a fence wait or a firmware wait, so a reset never waits long for them.
 * Scheduled resets run on &lumen_device.reset_wq, the ordered workqueue of
 * the queues' timeout handlers, so a reset and a queue reset never overlap
 * either (a timeout handler that finds the lock taken, e.g. during a PCI
 * function reset, leaves the job alone and is re-armed).
 * &lumen_device.hw_up is clear while a reset runs, so that the faults it
 * provokes (a mailbox timeout, an error interrupt) do not schedule another.
 *
 * Only the device can ask for a reset: a job that hangs (also twice in a
 * row) costs its own context a queue reset; the card is reset for a queue
 * only when the queue reset does not bring the queue back (lumen_job.c).
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/kobject.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>

#include "lumen_drv.h"
#include "lumen_fw.h"
#include "lumen_hw.h"
#include "lumen_link.h"
#include "lumen_mbox.h"
#include "lumen_mgmt.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_route.h"
#include "lumen_trace.h"

static const char * const lumen_reset_names[LUMEN_RESET_NUM_REASONS] = {
	"halted", "fw_crash", "mbox_timeout", "queue_hang", "flr", "pci_error",
	"resume", "user",
};

/**
 * lumen_reset_reason_names() - format LUMEN_RESET_* bits as "a|b"
 * @reasons: LUMEN_RESET_* bits
 * @buf: output
 * @len: size of @buf
 *
 * Return: characters written, without the NUL ("none" for no bit).
 */
int lumen_reset_reason_names(u32 reasons, char *buf, size_t len)
{
	int n = 0;
	u32 bit;

	if (!reasons)
		return scnprintf(buf, len, "none");
	for (bit = 0; bit < LUMEN_RESET_NUM_REASONS; bit++)
		if (reasons & BIT(bit))
			n += scnprintf(buf + n, len - n, "%s%s", n ? "|" : "",
				       lumen_reset_names[bit]);
	return n;
}

/**
 * lumen_file_check_gen() - is a file still of the card's reset generation
 * @lfile: the file
 *
 * Return: 0, or -ENODEV for a file opened before the last reset or a card
 * whose last reset failed.
 */
int lumen_file_check_gen(struct lumen_file *lfile)
{
	struct lumen_device *ldev = lfile->ldev;

	if (READ_ONCE(ldev->lost) || lfile->reset_gen != (u32)atomic_read(&ldev->reset_gen))
		return -ENODEV;
	return 0;
}

/**
 * lumen_reset_read_lock() - keep resets out for the length of an ioctl
 * @lfile: the caller's file
 *
 * Return: 0 with &lumen_device.reset_lock held for reading; -EINTR if
 * killed while a reset runs; -ENODEV (lock not held) if the file is of an
 * older reset generation.
 */
int lumen_reset_read_lock(struct lumen_file *lfile)
{
	struct lumen_device *ldev = lfile->ldev;
	int ret;

	ret = down_read_killable(&ldev->reset_lock);
	if (ret)
		return ret;
	ret = lumen_file_check_gen(lfile);
	if (ret)
		up_read(&ldev->reset_lock);
	return ret;
}

/**
 * lumen_reset_read_unlock() - end of a lumen_reset_read_lock() section
 * @ldev: device
 */
void lumen_reset_read_unlock(struct lumen_device *ldev)
{
	up_read(&ldev->reset_lock);
}

/**
 * lumen_reset_prepare() - stop using the card before it is reset
 * @ldev: device, bound
 * @reason: LUMEN_RESET_* bits
 *
 * Takes &lumen_device.reset_mutex (one reset at a time) and the reset
 * lock for writing: the ioctls that hold it for reading only touch the
 * hardware and never wait on a fence or a user page, so this waits
 * briefly (the mailbox is closed first, so no reader waits for the
 * firmware). Starts the next generation, masks the interrupts and stops
 * the card (soft reset), and only then fails the jobs of the old
 * generation with -ENODEV: a job's fence completes once the device can no
 * longer touch its buffers. Returns with both locks held:
 * lumen_reset_done() must follow, in the same task. Sleeps.
 */
void lumen_reset_prepare(struct lumen_device *ldev, u32 reason)
{
	char why[96];

	mutex_lock(&ldev->reset_mutex);
	WRITE_ONCE(ldev->hw_up, false);
	lumen_mbox_close(&ldev->mbox);

	down_write(&ldev->reset_lock);
	WRITE_ONCE(ldev->hw_up, false);
	atomic_inc(&ldev->reset_gen);
	/* This reset also answers whatever was scheduled meanwhile. */
	ldev->last_reset_reason = reason | atomic_xchg(&ldev->reset_reasons, 0);
	lumen_reset_reason_names(ldev->last_reset_reason, why, sizeof(why));
	dev_warn(lumen_dev(ldev), "resetting the card (%s), reset generation %u ends\n", why,
		 atomic_read(&ldev->reset_gen) - 1);
	trace_lumen_reset(ldev, ldev->last_reset_reason, 0, false);

	/* Masks the interrupts, soft-resets the card, closes the mailbox. */
	lumen_hw_quiesce(ldev);
	lumen_queue_lose_all(ldev);
	/*
	 * The management packets of before go, and their receivers, whose
	 * files are of the old generation now, wake here: even if the card
	 * does not come back.
	 */
	lumen_mgmt_reset(ldev);
}

/* Bring the card from any state to a booted firmware and live interrupts. */
static int lumen_reset_restart(struct lumen_device *ldev)
{
	int ret;

	ret = lumen_hw_soft_reset(ldev);
	if (ret)
		return ret;

	/* Stale error classes of the old generation would look new. */
	lumen_wr32(ldev, LUMEN_REG_ERR_STATUS, lumen_rd32(ldev, LUMEN_REG_ERR_STATUS));
	lumen_hw_irq_enable(ldev, LUMEN_INT_HANDLED);

	ret = lumen_fw_start(ldev);
	if (ret)
		return ret;

	lumen_queue_restart(ldev);
	/*
	 * The link engine forgot everything (hw-spec 13.8): the driver's
	 * routes go back in, and the ports get their CTRL (enable, dateline)
	 * again and retrain. Open windows do not: they all belong to files of
	 * the old generation, whose contexts are gone (lumen_window.c).
	 */
	lumen_route_restore(ldev);
	lumen_link_restart(ldev);
	return 0;
}

/**
 * lumen_reset_done() - bring the card back after lumen_reset_prepare()
 * @ldev: device
 *
 * Soft-resets the card (harmless after a function reset), boots the
 * firmware and re-enables the interrupts, releases the reset lock and
 * reports the reset. If the card does not come back it is lost: every
 * ioctl fails with -ENODEV and new opens too, until another successful
 * reset (e.g. a PCI function reset) or a rebind.
 *
 * Return: 0 or the negative errno of the step that failed.
 */
int lumen_reset_done(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	char reason[96], count[32], why[120], res[32], *envp[5];
	const char *result;
	int ret;

	ret = lumen_reset_restart(ldev);
	trace_lumen_reset(ldev, ldev->last_reset_reason, ret, true);
	WRITE_ONCE(ldev->lost, ret != 0);
	atomic_inc(&ldev->reset_count);
	if (!ret)
		WRITE_ONCE(ldev->hw_up, true);
	up_write(&ldev->reset_lock);
	mutex_unlock(&ldev->reset_mutex);

	lumen_reset_reason_names(ldev->last_reset_reason, reason, sizeof(reason));
	if (ret) {
		result = "failed";
		dev_err(dev, "reset (%s) failed: %pe; the card is unusable until it is reset again or rebound\n",
			reason, ERR_PTR(ret));
	} else {
		result = "ok";
		dev_info(dev, "reset (%s) done, reset generation %u, %u resets so far\n", reason,
			 atomic_read(&ldev->reset_gen), atomic_read(&ldev->reset_count));
	}

	snprintf(count, sizeof(count), "LUMEN_RESET_COUNT=%d", atomic_read(&ldev->reset_count));
	snprintf(why, sizeof(why), "LUMEN_RESET_REASON=%s", reason);
	envp[0] = "LUMEN_EVENT=reset";
	envp[1] = count;
	envp[2] = why;
	snprintf(res, sizeof(res), "LUMEN_RESET_RESULT=%s", result);
	envp[3] = res;
	envp[4] = NULL;
	kobject_uevent_env(&dev->kobj, KOBJ_CHANGE, envp);
	return ret;
}

/**
 * lumen_reset_now() - reset the card and wait until it is back
 * @ldev: device; the caller is in drm_dev_enter()
 * @reason: LUMEN_RESET_* bits
 *
 * Return: see lumen_reset_done().
 */
int lumen_reset_now(struct lumen_device *ldev, u32 reason)
{
	lumen_reset_prepare(ldev, reason);
	return lumen_reset_done(ldev);
}

static void lumen_reset_work(struct work_struct *work)
{
	struct lumen_device *ldev = container_of(work, struct lumen_device, reset_work);
	u32 reasons = atomic_xchg(&ldev->reset_reasons, 0);
	int idx;

	if (!reasons || !drm_dev_enter(&ldev->drm, &idx))
		return;
	lumen_reset_now(ldev, reasons);
	drm_dev_exit(idx);
}

/**
 * lumen_reset_schedule() - ask for a device reset
 * @ldev: device
 * @reason: LUMEN_RESET_* bits
 *
 * Any context, hard IRQ included. Does nothing unless the card is up:
 * during probe, during a reset and on a lost card, faults are expected.
 */
void lumen_reset_schedule(struct lumen_device *ldev, u32 reason)
{
	if (!READ_ONCE(ldev->hw_up))
		return;
	atomic_or(reason, &ldev->reset_reasons);
	queue_work(ldev->reset_wq, &ldev->reset_work);
}

static void lumen_reset_fini(struct drm_device *drm, void *arg)
{
	struct lumen_device *ldev = arg;

	/* The last reference: no ioctl, handler or work can schedule more. */
	destroy_workqueue(ldev->reset_wq);
}

/**
 * lumen_reset_init() - set up resets for a new device
 * @ldev: device, before its interrupt handlers exist
 *
 * Return: 0 or -ENOMEM.
 */
int lumen_reset_init(struct lumen_device *ldev)
{
	init_rwsem(&ldev->reset_lock);
	mutex_init(&ldev->reset_mutex);
	atomic_set(&ldev->reset_gen, 0);
	atomic_set(&ldev->reset_count, 0);
	atomic_set(&ldev->reset_reasons, 0);
	INIT_WORK(&ldev->reset_work, lumen_reset_work);

	ldev->reset_wq = alloc_ordered_workqueue("lumen-reset-%s", 0, pci_name(ldev->pdev));
	if (!ldev->reset_wq)
		return -ENOMEM;
	/* Schedulers of files still open after unbind use it: drm lifetime. */
	return drmm_add_action_or_reset(&ldev->drm, lumen_reset_fini, ldev);
}
