/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: user-mode queues (DRM_IOCTL_LUMEN_UQ_*): a hardware queue whose
 * ring and completion record live in the process's device address space
 * and whose doorbell page the process maps, so submitting costs no system
 * call. The kernel programs the queue, watches it for hangs, turns its
 * progress into waits and dma_fences, and tears it down.
 *
 * Copyright (C) 2026 The Lumen Authors
 */
#ifndef __LUMEN_UQ_H__
#define __LUMEN_UQ_H__

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <drm/drm_gem.h>

struct dma_fence;
struct drm_device;
struct drm_file;
struct lumen_device;
struct lumen_hwq;
struct lumen_uctx;
struct pid;

/**
 * struct lumen_uq_db - the doorbell page of a user-mode queue, as a GEM
 *	object without a handle: it only gives the page an mmap offset
 * @base: GEM object; its vma node is allowed for the owning file only
 * @ldev: device
 * @index: hardware queue whose BAR4 page this is
 * @lock: serializes faults with @live being cleared
 * @live: faults map the queue's doorbell; once cleared, @scratch
 * @scratch: what the mapping shows once the queue is gone: a page of its
 *	own, so that no two mappings share what late stores write
 */
struct lumen_uq_db {
	struct drm_gem_object base;
	struct lumen_device *ldev;
	u32 index;
	/* see above */
	struct mutex lock;
	bool live;
	struct page *scratch;
};

/**
 * struct lumen_uq - a user-mode queue, owning one hardware queue
 * @ref: the file's table, the interrupt-side lookups and the ioctls
 *	hold one
 * @ldev: device
 * @uctx: the owning file's execution state; outlives the queue
 * @file: the owning file (its vma node access is revoked at destroy)
 * @hwq: hardware queue owned for the queue's whole life
 * @id: uAPI id, from the file's queue id space
 * @db: doorbell page object; the queue holds a reference until it is
 *	freed, so that teardown paths racing with destroy can still use it
 * @lock: protects @done, @error, @armed, @fences and @waiters; taken in
 *	hard IRQ context
 * @done: commands retired, extended to 64 bits from COMPLETED
 * @error: 0 while the queue works, then its negative errno (sticky)
 * @armed: count IRQ_AT is armed for, 0 for none
 * @fences: &struct lumen_uq_fence not yet signalled, by count
 * @waiters: UQ_WAIT callers, &struct lumen_uq_waiter
 * @wq: woken on every interrupt and on failure
 * @hang_work: watches a running queue for lack of progress
 * @retire_work: retires the doorbell page of a killed queue (a kill may
 *	come in IRQ context), so that stores into it stop reaching the card
 * @hang_seen: the last check saw the queue RUNNING at @hang_head and
 *	@hang_progress
 * @hang_head: HEAD at the last check
 * @hang_progress: PROGRESS at the last check
 * @period: jiffies between hang checks: the job timeout, or the remote
 *	commands' grace on a card with links, whichever is longer
 * @fence_ctx: dma_fence context of the queue's fences (seqno = count)
 * @pid: process that created the queue, for debugfs
 */
struct lumen_uq {
	struct kref ref;
	struct lumen_device *ldev;
	struct lumen_uctx *uctx;
	struct drm_file *file;
	struct lumen_hwq *hwq;
	u32 id;
	struct lumen_uq_db *db;

	/* see above */
	spinlock_t lock;
	u64 done;
	int error;
	u64 armed;
	struct list_head fences;
	struct list_head waiters;
	wait_queue_head_t wq;

	struct delayed_work hang_work;
	struct work_struct retire_work;
	bool hang_seen;
	u32 hang_head;
	u32 hang_progress;
	unsigned long period;

	u64 fence_ctx;
	struct pid *pid;
};

static inline struct lumen_uq_db *to_lumen_uq_db(struct drm_gem_object *obj)
{
	return container_of(obj, struct lumen_uq_db, base);
}

void lumen_uq_irq(struct lumen_uq *uq);
void lumen_uq_kill(struct lumen_uq *uq, int err);
void lumen_uq_lose_all(struct lumen_device *ldev, bool reset_hw);
void lumen_uq_kill_file(struct lumen_uctx *uctx, int err);
void lumen_uq_close_all(struct lumen_uctx *uctx);
u32 lumen_uq_busy_fences(struct lumen_uctx *uctx, struct dma_fence **fences, u32 max);

int lumen_uq_create_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_uq_destroy_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_uq_wait_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_uq_fence_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_UQ_H__ */
