// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: user-mode queues (docs/hw-spec.md section 10, QCTRL.USER).
 *
 * The process writes commands into a ring in its own device address space
 * and the tail into a doorbell page it maps; the device fetches the ring
 * and writes the completion record through the context's MMU and checks
 * every command, so the kernel only checks what it programs: the ring and
 * the record are mapped in the caller's context, the doorbell page is the
 * queue's own. The driver's fence pages carry LUMEN_PTE_PRIV, which a
 * user-mode queue cannot reach (lumen_vm_map_kernel()).
 *
 * What the kernel still does, all from the hardware's registers, never
 * from the user-written record:
 *  - the 64-bit count of retired commands (@done), from COMPLETED at each
 *    interrupt, wait and hang check;
 *  - waits and dma_fences on that count, with IRQ_AT armed for the lowest
 *    count anyone waits for, so no user cooperation is needed for an
 *    interrupt (F_IRQ commands only add wake-ups);
 *  - hang detection: a RUNNING queue whose HEAD and PROGRESS do not move
 *    for job_timeout_ms is reset and its context banned, as a kernel
 *    queue's job timeout would; a stop (fault, bad command) bans it too;
 *  - teardown: destroy, file close, device reset (the queue is lost) and
 *    unplug swap the doorbell page for a scratch page, so a late store
 *    neither faults the process nor reaches a queue given to someone else.
 *
 * Locking: &lumen_qmgr.lock (the owners) may be held when &lumen_uq.lock is
 * taken, never the other way round.
 *
 * Copyright (C) 2026 The Lumen Authors
 */

#include <linux/dma-fence.h>
#include <linux/dma-fence-chain.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/pid.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_managed.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_utils.h>
#include <drm/drm_vma_manager.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_job.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_uq.h"
#include "lumen_vm.h"

/* The uAPI names what the device writes and takes. */
static_assert(sizeof(struct drm_lumen_uq_cpl) == sizeof(struct lumen_queue_cpl));
static_assert(offsetof(struct drm_lumen_uq_cpl, status) ==
	      offsetof(struct lumen_queue_cpl, status));
static_assert(DRM_LUMEN_UQ_IDLE == LUMEN_QSTS_IDLE);
static_assert(DRM_LUMEN_UQ_RUNNING == LUMEN_QSTS_RUNNING);
static_assert(DRM_LUMEN_UQ_STOPPED == LUMEN_QSTS_STOPPED);
static_assert(DRM_LUMEN_UQ_ORDER_MIN == LUMEN_QUEUE_ORDER_MIN);
static_assert(DRM_LUMEN_UQ_ORDER_MAX == LUMEN_QUEUE_ORDER_MAX);
static_assert(DRM_LUMEN_CMD_F_IRQ == LUMEN_CMD_F_IRQ);

/**
 * struct lumen_uq_fence - the queue reaching a count, as a dma_fence
 * @base: the fence; seqno = the count
 * @lock: the fence's own lock: a fence may outlive its queue
 * @link: on &lumen_uq.fences until signalled
 */
struct lumen_uq_fence {
	struct dma_fence base;
	/* the fence's lock */
	spinlock_t lock;
	struct list_head link;
};

/* A UQ_WAIT caller, on &lumen_uq.waiters for the length of its sleep. */
struct lumen_uq_waiter {
	struct list_head link;
	u64 count;
};

static u32 lumen_uq_rd(struct lumen_uq *uq, u32 reg)
{
	return lumen_rd32(uq->ldev, LUMEN_REG_QUEUE(uq->hwq->index, reg));
}

static void lumen_uq_wr(struct lumen_uq *uq, u32 reg, u32 val)
{
	lumen_wr32(uq->ldev, LUMEN_REG_QUEUE(uq->hwq->index, reg), val);
}

static const char *lumen_uq_fence_driver_name(struct dma_fence *fence)
{
	return DRIVER_NAME;
}

/* A fence can outlive its queue: never look at the queue from here. */
static const char *lumen_uq_fence_timeline_name(struct dma_fence *fence)
{
	return "lumen-uq";
}

static const struct dma_fence_ops lumen_uq_fence_ops = {
	.use_64bit_seqno = true,
	.get_driver_name = lumen_uq_fence_driver_name,
	.get_timeline_name = lumen_uq_fence_timeline_name,
};

/* Process context: every reference is dropped by an ioctl or a teardown. */
static void lumen_uq_release(struct kref *ref)
{
	struct lumen_uq *uq = container_of(ref, struct lumen_uq, ref);

	if (uq->db)
		drm_gem_object_put(&uq->db->base);
	lumen_uctx_put(uq->uctx);
	kfree(uq);
}

static void lumen_uq_put(struct lumen_uq *uq)
{
	kref_put(&uq->ref, lumen_uq_release);
}

static struct lumen_uq *lumen_uq_lookup(struct lumen_uctx *uctx, u32 id)
{
	struct lumen_uq *uq;

	xa_lock(&uctx->uqs);
	uq = xa_load(&uctx->uqs, id);
	if (uq)
		kref_get(&uq->ref);
	xa_unlock(&uctx->uqs);
	return uq;
}

/* ---- Progress ----------------------------------------------------------- */

/*
 * Extend COMPLETED to 64 bits. Called far more often than every 2^32
 * commands (at least every hang check), so the difference is exact. What
 * cannot be the queue's own progress moves nothing, because fences would
 * signal success for work that never ran: all-ones reads (a device that
 * fell off the bus), a DISABLED queue that was not killed (a reset is on
 * its way), a count beyond TAIL, a card that is down or asleep.
 */
static void lumen_uq_update_locked(struct lumen_uq *uq)
{
	u32 sts, done, tail;

	lockdep_assert_held(&uq->lock);

	if (uq->error || !READ_ONCE(uq->ldev->hw_up))
		return;
	sts = lumen_uq_rd(uq, LUMEN_QREG_STATUS);
	if (sts >= LUMEN_QSTS_DISABLED)
		return;
	done = lumen_uq_rd(uq, LUMEN_QREG_COMPLETED) - (u32)uq->done;
	tail = lumen_uq_rd(uq, LUMEN_QREG_TAIL) - (u32)uq->done;
	if (done <= tail)
		uq->done += done;
}

/* The 64-bit count of commands the doorbell was given (TAIL). */
static u64 lumen_uq_tail_locked(struct lumen_uq *uq)
{
	lockdep_assert_held(&uq->lock);

	return uq->done + (u32)(lumen_uq_rd(uq, LUMEN_QREG_TAIL) - (u32)uq->done);
}

static void lumen_uq_signal_locked(struct lumen_uq *uq)
{
	struct lumen_uq_fence *f, *tmp;

	lockdep_assert_held(&uq->lock);

	list_for_each_entry_safe(f, tmp, &uq->fences, link) {
		if (!uq->error && f->base.seqno > uq->done)
			break;
		list_del_init(&f->link);
		if (uq->error && f->base.seqno > uq->done)
			dma_fence_set_error(&f->base, uq->error);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
	}
}

/* The lowest count a fence or a waiter needs, U64_MAX for none. */
static u64 lumen_uq_wanted_locked(struct lumen_uq *uq)
{
	struct lumen_uq_fence *f;
	struct lumen_uq_waiter *w;
	u64 want = U64_MAX;

	lockdep_assert_held(&uq->lock);

	f = list_first_entry_or_null(&uq->fences, struct lumen_uq_fence, link);
	if (f)
		want = f->base.seqno;
	list_for_each_entry(w, &uq->waiters, link)
		want = min(want, w->count);
	return want;
}

/*
 * Arm IRQ_AT for the lowest count a fence or a waiter needs. The device
 * signals at once if it is already there, so nothing is missed between
 * the last read of COMPLETED and the arming.
 */
static void lumen_uq_arm_locked(struct lumen_uq *uq)
{
	u64 want;

	lockdep_assert_held(&uq->lock);

	if (uq->error || !READ_ONCE(uq->ldev->hw_up))
		return;
	want = lumen_uq_wanted_locked(uq);
	if (want == U64_MAX || want <= uq->done || want == uq->armed)
		return;
	uq->armed = want;
	lumen_uq_wr(uq, LUMEN_QREG_IRQ_AT, lower_32_bits(want));
}

/*
 * The errno of a queue the device stopped (0 if it did not): its own
 * failure, whatever else happens to its context.
 */
static int lumen_uq_hw_errno_locked(struct lumen_uq *uq, u32 *code)
{
	int err;

	lockdep_assert_held(&uq->lock);

	if (uq->error || !READ_ONCE(uq->ldev->hw_up) ||
	    lumen_uq_rd(uq, LUMEN_QREG_STATUS) != LUMEN_QSTS_STOPPED)
		return 0;
	*code = lumen_uq_rd(uq, LUMEN_QREG_ERROR);
	err = lumen_queue_remote_errno(*code);
	if (!err)
		err = *code == LUMEN_STATUS_MMU_FAULT ? -EFAULT : -EIO;
	return err;
}

/* Fail the queue with @err (the first error stays); @uq->lock held. */
static void lumen_uq_fail_locked(struct lumen_uq *uq, int err)
{
	lockdep_assert_held(&uq->lock);

	if (!uq->error)
		uq->error = err;
	lumen_uq_signal_locked(uq);
	wake_up_all(&uq->wq);
}

/**
 * lumen_uq_irq() - the queue's vector fired
 * @uq: queue; valid for the handler's length (destroy clears the owner,
 *	then synchronizes the vectors)
 *
 * Signals what completed, notices a stop (then bans the context, which
 * also records an MMU fault first, unless a remote peer's answer stopped
 * the queue) and arms IRQ_AT again.
 */
void lumen_uq_irq(struct lumen_uq *uq)
{
	struct lumen_device *ldev = uq->ldev;
	u32 code = 0;
	int err = 0;

	spin_lock(&uq->lock);
	lumen_uq_update_locked(uq);
	err = lumen_uq_hw_errno_locked(uq, &code);
	if (err) {
		lumen_uq_fail_locked(uq, err);
	} else {
		lumen_uq_signal_locked(uq);
		uq->armed = 0;		/* the device disarms when it fires */
		lumen_uq_arm_locked(uq);
		wake_up_all(&uq->wq);
	}
	spin_unlock(&uq->lock);

	/*
	 * A peer's answer to a remote command (refused, unreachable, timed
	 * out) stops this queue only: the context did nothing wrong.
	 */
	if (!err || lumen_queue_remote_errno(code) || lumen_uctx_banned(uq->uctx))
		return;
	dev_dbg_ratelimited(lumen_dev(ldev),
			    "user queue %u (hardware queue %u, context %u) stopped: %s (%u)\n",
			    uq->id, uq->hwq->index, uq->uctx->ctx_id, lumen_status_name(code),
			    code);
	if (err == -EFAULT) {
		lumen_queue_mmu_fault(ldev);
		lumen_uctx_fail_id(uq->uctx, uq->id, err, DRM_LUMEN_CTX_FAULTED);
	} else {
		lumen_uctx_fail_id(uq->uctx, uq->id, err, 0);
	}
}

/**
 * lumen_uq_kill() - stop a queue for good
 * @uq: queue
 * @err: its errno if it has none yet
 *
 * Any context (the context's ban calls it under &lumen_qmgr.lock). Resets
 * the hardware queue, so nothing more runs, and fails its fences and
 * waiters.
 */
void lumen_uq_kill(struct lumen_uq *uq, int err)
{
	unsigned long flags;
	int idx, own = 0;
	u32 code;

	spin_lock_irqsave(&uq->lock, flags);
	if (drm_dev_enter(&uq->ldev->drm, &idx)) {
		lumen_uq_update_locked(uq);
		/* A queue that failed itself reports that, not the ban. */
		own = lumen_uq_hw_errno_locked(uq, &code);
		lumen_uq_wr(uq, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
		drm_dev_exit(idx);
	}
	lumen_uq_fail_locked(uq, own ? own : err);
	spin_unlock_irqrestore(&uq->lock, flags);
	schedule_work(&uq->retire_work);
}

/* ---- Hang detection ----------------------------------------------------- */

static unsigned long lumen_uq_hang_period(struct lumen_device *ldev)
{
	u32 ms = max(READ_ONCE(lumen_job_timeout_ms), 10u);

	/* A command waiting for a slow peer fails by itself (TIMEOUT). */
	if (lumen_has_links(ldev))
		ms = max(ms, lumen_job_remote_grace_ms(ldev));
	return msecs_to_jiffies(ms);
}

/*
 * A queue RUNNING at the same HEAD with the same PROGRESS at two checks a
 * job timeout apart is hung: a long COPY moves PROGRESS, a WAIT that never
 * ends does not (as a kernel queue's job timeout, hw-spec 10).
 */
static void lumen_uq_hang_work(struct work_struct *work)
{
	struct lumen_uq *uq = container_of(to_delayed_work(work), struct lumen_uq, hang_work);
	struct lumen_device *ldev = uq->ldev;
	bool hung = false, stuck = false, again = true;
	unsigned long flags;
	u32 sts, head, progress;
	int idx;

	if (!down_read_trylock(&ldev->reset_lock))
		goto out;		/* a reset runs: look again later */
	if (!drm_dev_enter(&ldev->drm, &idx)) {
		up_read(&ldev->reset_lock);
		return;
	}
	spin_lock_irqsave(&uq->lock, flags);
	if (uq->error || !READ_ONCE(ldev->hw_up)) {
		again = !uq->error;
	} else {
		/* Also catches up with completions nobody armed for. */
		lumen_uq_update_locked(uq);
		lumen_uq_signal_locked(uq);
		sts = lumen_uq_rd(uq, LUMEN_QREG_STATUS);
		head = lumen_uq_rd(uq, LUMEN_QREG_HEAD);
		progress = lumen_uq_rd(uq, LUMEN_QREG_PROGRESS);
		hung = sts == LUMEN_QSTS_RUNNING && uq->hang_seen && head == uq->hang_head &&
		       progress == uq->hang_progress;
		uq->hang_seen = sts == LUMEN_QSTS_RUNNING;
		uq->hang_head = head;
		uq->hang_progress = progress;
		/*
		 * IDLE short of a count someone waits for: the device keeps
		 * TAIL from moving back, so this cannot happen; if it did,
		 * the fences must still signal.
		 */
		stuck = sts == LUMEN_QSTS_IDLE && lumen_uq_wanted_locked(uq) != U64_MAX &&
			lumen_uq_wanted_locked(uq) > uq->done;
	}
	spin_unlock_irqrestore(&uq->lock, flags);
	if (!uq->error && READ_ONCE(ldev->hw_up))
		uq->period = lumen_uq_hang_period(ldev);
	drm_dev_exit(idx);
	up_read(&ldev->reset_lock);

	if (stuck) {
		dev_warn_ratelimited(lumen_dev(ldev),
				     "user queue %u (hardware queue %u) idle short of its fences\n",
				     uq->id, uq->hwq->index);
		lumen_uq_kill(uq, -EIO);
		return;
	}

	if (hung) {
		dev_dbg_ratelimited(lumen_dev(ldev),
				    "user queue %u (hardware queue %u, context %u) hung at index %u\n",
				    uq->id, uq->hwq->index, uq->uctx->ctx_id, head);
		lumen_uq_kill(uq, -ETIMEDOUT);
		lumen_uctx_fail_id(uq->uctx, uq->id, -ETIMEDOUT, DRM_LUMEN_CTX_HUNG);
		return;
	}
out:
	if (again)
		queue_delayed_work(system_wq, &uq->hang_work, uq->period);
}

/* ---- Doorbell page ------------------------------------------------------ */

static vm_fault_t lumen_uq_db_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct lumen_uq_db *db = to_lumen_uq_db(vma->vm_private_data);
	struct lumen_device *ldev = db->ldev;
	unsigned long pfn = page_to_pfn(db->scratch);
	vm_fault_t ret;
	int idx;

	mutex_lock(&db->lock);
	if (db->live && drm_dev_enter(&ldev->drm, &idx)) {
		pfn = PHYS_PFN(pci_resource_start(ldev->pdev, LUMEN_BAR_DOORBELL) +
			       (resource_size_t)db->index * LUMEN_DOORBELL_STRIDE);
		ret = vmf_insert_pfn(vma, vmf->address, pfn);
		drm_dev_exit(idx);
	} else {
		/* Stores land in the scratch page, which nothing reads. */
		ret = vmf_insert_pfn(vma, vmf->address, pfn);
	}
	mutex_unlock(&db->lock);
	return ret;
}

static const struct vm_operations_struct lumen_uq_db_vm_ops = {
	.fault = lumen_uq_db_fault,
	.open = drm_gem_vm_open,
	.close = drm_gem_vm_close,
};

/* Shared, uncached, never copy-on-write (vmf_insert_pfn() needs that). */
static int lumen_uq_db_mmap(struct drm_gem_object *obj, struct vm_area_struct *vma)
{
	if (is_cow_mapping(vma->vm_flags))
		return -EINVAL;
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_noncached(vm_get_page_prot(vma->vm_flags));
	return 0;
}

static void lumen_uq_db_free(struct drm_gem_object *obj)
{
	struct lumen_uq_db *db = to_lumen_uq_db(obj);

	drm_gem_object_release(obj);
	mutex_destroy(&db->lock);
	if (db->scratch)
		__free_page(db->scratch);
	kfree(db);
}

static const struct drm_gem_object_funcs lumen_uq_db_funcs = {
	.free = lumen_uq_db_free,
	.mmap = lumen_uq_db_mmap,
	.vm_ops = &lumen_uq_db_vm_ops,
};

static struct lumen_uq_db *lumen_uq_db_create(struct lumen_device *ldev, u32 index)
{
	struct lumen_uq_db *db;
	int ret;

	db = kzalloc(sizeof(*db), GFP_KERNEL_ACCOUNT);
	if (!db)
		return ERR_PTR(-ENOMEM);
	db->ldev = ldev;
	db->index = index;
	mutex_init(&db->lock);
	db->base.funcs = &lumen_uq_db_funcs;
	drm_gem_private_object_init(&ldev->drm, &db->base, PAGE_SIZE);
	db->scratch = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	ret = db->scratch ? drm_gem_create_mmap_offset(&db->base) : -ENOMEM;
	if (ret) {
		drm_gem_object_put(&db->base);
		return ERR_PTR(ret);
	}
	return db;
}

/* From now on every mapping of the page reaches the scratch page. */
static void lumen_uq_db_retire(struct lumen_uq_db *db)
{
	mutex_lock(&db->lock);
	db->live = false;
	mutex_unlock(&db->lock);
	drm_vma_node_unmap(&db->base.vma_node, db->ldev->drm.anon_inode->i_mapping);
}

static void lumen_uq_retire_work(struct work_struct *work)
{
	lumen_uq_db_retire(container_of(work, struct lumen_uq, retire_work)->db);
}

/* ---- Life cycle ----------------------------------------------------------- */

/* The queue that owns hardware queue @i, referenced, or NULL. */
static struct lumen_uq *lumen_uq_get_owner(struct lumen_device *ldev, u32 i)
{
	struct lumen_qmgr *qm = ldev->qm;
	struct lumen_uq *uq;
	unsigned long flags;

	spin_lock_irqsave(&qm->lock, flags);
	uq = qm->hwq[i].uq_owner;
	if (uq)
		kref_get(&uq->ref);
	spin_unlock_irqrestore(&qm->lock, flags);
	return uq;
}

/**
 * lumen_uq_lose_all() - every user-mode queue is lost
 * @ldev: device, about to be reset (the reset stops the hardware),
 *	suspended or unplugged
 * @reset_hw: reset the hardware queues here (suspend, and unplug while the
 *	registers are still mapped)
 *
 * Waiters and fences fail with -ENODEV; the doorbell pages go to scratch.
 */
void lumen_uq_lose_all(struct lumen_device *ldev, bool reset_hw)
{
	struct lumen_uq *uq;
	unsigned long flags;
	u32 i;

	for (i = 0; i < ldev->qm->num; i++) {
		uq = lumen_uq_get_owner(ldev, i);
		if (!uq)
			continue;
		if (reset_hw)
			lumen_uq_wr(uq, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
		spin_lock_irqsave(&uq->lock, flags);
		lumen_uq_fail_locked(uq, -ENODEV);
		spin_unlock_irqrestore(&uq->lock, flags);
		lumen_uq_db_retire(uq->db);
		lumen_uq_put(uq);
	}
}

static void lumen_uq_destroy(struct lumen_uq *uq)
{
	struct lumen_device *ldev = uq->ldev;
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long flags;

	cancel_delayed_work_sync(&uq->hang_work);
	lumen_uq_db_retire(uq->db);	/* first: no store reaches a dead queue */
	lumen_uq_kill(uq, -ECANCELED);
	cancel_work_sync(&uq->retire_work);

	spin_lock_irqsave(&qm->lock, flags);
	uq->hwq->uq_owner = NULL;
	spin_unlock_irqrestore(&qm->lock, flags);
	lumen_queue_sync_irqs(ldev);
	lumen_hwq_free(ldev, uq->hwq);

	drm_vma_node_revoke(&uq->db->base.vma_node, uq->file);
	put_pid(uq->pid);
	atomic_dec(&uq->uctx->num_queues);
	lumen_uq_put(uq);
}

/**
 * lumen_uq_kill_file() - stop every user-mode queue of a file
 * @uctx: the file's execution state
 * @err: their errno
 */
void lumen_uq_kill_file(struct lumen_uctx *uctx, int err)
{
	struct lumen_uq *uq;
	unsigned long id;

	xa_for_each(&uctx->uqs, id, uq) {
		uq = lumen_uq_lookup(uctx, id);
		if (uq) {
			lumen_uq_kill(uq, err);
			lumen_uq_put(uq);
		}
	}
}

/**
 * lumen_uq_close_all() - destroy every user-mode queue of a closing file
 * @uctx: the file's execution state
 */
void lumen_uq_close_all(struct lumen_uctx *uctx)
{
	struct lumen_uq *uq;
	unsigned long id;

	xa_for_each(&uctx->uqs, id, uq) {
		xa_erase(&uctx->uqs, id);
		xa_release(&uctx->queues, id);
		lumen_uq_destroy(uq);
	}
	xa_destroy(&uctx->uqs);
}

/* The ring and the record lie in the caller's own VM_BIND mappings. */
static bool lumen_uq_mapped(struct lumen_vm *vm, u64 ring_va, u64 ring_bytes, u64 cpl_va)
{
	bool ok;

	mutex_lock(&vm->lock);
	ok = lumen_vm_range_mapped_locked(vm, ring_va, ring_bytes, false) &&
	     lumen_vm_range_mapped_locked(vm, cpl_va, sizeof(struct drm_lumen_uq_cpl), true);
	mutex_unlock(&vm->lock);
	return ok;
}

static int lumen_uq_check_args(struct lumen_device *ldev, const struct drm_lumen_uq_create *args)
{
	u64 end;
	int ret;

	if (args->flags || args->reserved)
		return -EINVAL;
	ret = lumen_queue_check_priority(args->priority);
	if (ret)
		return ret;
	/* A doorbell page must hold no other queue's doorbell. */
	if (!(ldev->id.caps & LUMEN_DRIVER_CAPS & LUMEN_CAP_USER_QUEUES) || !ldev->qm->num ||
	    PAGE_SIZE != LUMEN_DOORBELL_STRIDE)
		return -EOPNOTSUPP;
	if (args->ring_order < DRM_LUMEN_UQ_ORDER_MIN || args->ring_order > DRM_LUMEN_UQ_ORDER_MAX)
		return -EINVAL;
	if (!IS_ALIGNED(args->ring_va, SZ_4K) || !IS_ALIGNED(args->cpl_va, 16))
		return -EINVAL;
	if (check_add_overflow(args->ring_va, sizeof(struct lumen_cmd) << args->ring_order, &end) ||
	    args->cpl_va > U64_MAX - sizeof(struct drm_lumen_uq_cpl))
		return -EINVAL;
	return 0;
}

/* Program and enable the hardware queue; 0 if it came up IDLE. */
static int lumen_uq_hw_program(struct lumen_uq *uq, const struct drm_lumen_uq_create *args)
{
	u32 ctrl = LUMEN_QCTRL_ENABLE | LUMEN_QCTRL_USER |
		   ((uq->uctx->ctx_id << LUMEN_QCTRL_CTX_SHIFT) & LUMEN_QCTRL_CTX_MASK) |
		   ((lumen_queue_prio_hw(args->priority) << LUMEN_QCTRL_PRIO_SHIFT) &
		    LUMEN_QCTRL_PRIO_MASK);

	lumen_uq_wr(uq, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
	lumen_uq_wr(uq, LUMEN_QREG_RING_BASE_LO, lower_32_bits(args->ring_va));
	lumen_uq_wr(uq, LUMEN_QREG_RING_BASE_HI, upper_32_bits(args->ring_va));
	lumen_uq_wr(uq, LUMEN_QREG_RING_ORDER, args->ring_order);
	lumen_uq_wr(uq, LUMEN_QREG_CPL_LO, lower_32_bits(args->cpl_va));
	lumen_uq_wr(uq, LUMEN_QREG_CPL_HI, upper_32_bits(args->cpl_va));
	lumen_uq_wr(uq, LUMEN_QREG_CTRL, ctrl);
	if (lumen_uq_rd(uq, LUMEN_QREG_STATUS) != LUMEN_QSTS_IDLE) {
		dev_err_ratelimited(lumen_dev(uq->ldev),
				    "user queue on hardware queue %u did not come up (STATUS %u)\n",
				    uq->hwq->index, lumen_uq_rd(uq, LUMEN_QREG_STATUS));
		lumen_uq_wr(uq, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
		return -EIO;
	}
	return 0;
}

/**
 * lumen_uq_create_ioctl() - DRM_IOCTL_LUMEN_UQ_CREATE
 * @drm: DRM device
 * @data: &struct drm_lumen_uq_create
 * @file: caller
 *
 * Return: 0 or a negative errno, see &struct drm_lumen_uq_create.
 */
int lumen_uq_create_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_uq_create *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_uctx *uctx = lfile->uctx;
	struct lumen_qmgr *qm = ldev->qm;
	struct lumen_hwq *hwq;
	struct lumen_uq *uq;
	unsigned long flags;
	int ret, idx;
	u32 id;

	ret = lumen_uq_check_args(ldev, args);
	if (ret)
		return ret;
	if (lumen_uctx_banned(uctx))
		return -ECANCELED;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	ret = lumen_reset_read_lock(lfile);
	if (ret)
		goto out_exit;
	ret = lumen_file_get_ctx(lfile);
	if (ret)
		goto out_unlock;
	if (!lumen_uq_mapped(&lfile->vm, args->ring_va,
			     sizeof(struct lumen_cmd) << args->ring_order, args->cpl_va)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	/* An id of the file's queue space, reserved: SUBMIT finds nothing there. */
	ret = lumen_uctx_id_get(uctx, &id);
	if (ret)
		goto out_unlock;
	/* And its slot in @uqs, so that storing the queue cannot fail. */
	ret = xa_reserve(&uctx->uqs, id, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto out_id;

	uq = kzalloc(sizeof(*uq), GFP_KERNEL_ACCOUNT);
	if (!uq) {
		ret = -ENOMEM;
		goto out_id;
	}
	kref_init(&uq->ref);
	uq->ldev = ldev;
	uq->uctx = uctx;
	kref_get(&uctx->ref);
	uq->file = file;
	uq->id = id;
	spin_lock_init(&uq->lock);
	INIT_LIST_HEAD(&uq->fences);
	INIT_LIST_HEAD(&uq->waiters);
	init_waitqueue_head(&uq->wq);
	INIT_DELAYED_WORK(&uq->hang_work, lumen_uq_hang_work);
	INIT_WORK(&uq->retire_work, lumen_uq_retire_work);
	uq->fence_ctx = dma_fence_context_alloc(1);

	hwq = lumen_hwq_alloc(ldev);
	if (!hwq) {
		ret = -EBUSY;
		goto err_put;
	}
	uq->hwq = hwq;
	uq->db = lumen_uq_db_create(ldev, hwq->index);
	if (IS_ERR(uq->db)) {
		ret = PTR_ERR(uq->db);
		uq->db = NULL;
		goto err_hwq;
	}
	uq->period = msecs_to_jiffies(max(READ_ONCE(lumen_job_timeout_ms), 10u));
	ret = drm_vma_node_allow(&uq->db->base.vma_node, file);
	if (ret)
		goto err_db;
	ret = lumen_uq_hw_program(uq, args);
	if (ret)
		goto err_revoke;
	uq->db->live = true;

	/*
	 * A ban records BANNED, then kicks the owners under this lock: either
	 * it finds this queue or this sees the flag.
	 */
	spin_lock_irqsave(&qm->lock, flags);
	ret = lumen_uctx_banned(uctx) ? -ECANCELED : 0;
	if (!ret)
		hwq->uq_owner = uq;
	spin_unlock_irqrestore(&qm->lock, flags);
	if (ret) {
		lumen_uq_wr(uq, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
		goto err_revoke;
	}
	uq->pid = get_pid(task_tgid(current));
	uq->period = lumen_uq_hang_period(ldev);
	queue_delayed_work(system_wq, &uq->hang_work, uq->period);
	args->queue_id = id;
	args->doorbell_offset = drm_vma_node_offset_addr(&uq->db->base.vma_node);
	/* Last: from here on another thread may destroy the queue by its id. */
	xa_store(&uctx->uqs, id, uq, GFP_KERNEL);	/* the reserved slot */
	lumen_reset_read_unlock(ldev);
	drm_dev_exit(idx);
	return 0;

err_revoke:
	drm_vma_node_revoke(&uq->db->base.vma_node, file);
err_db:
	lumen_uq_db_retire(uq->db);	/* the release drops it */
err_hwq:
	lumen_hwq_free(ldev, hwq);
err_put:
	lumen_uq_put(uq);
out_id:
	xa_release(&uctx->uqs, id);
	lumen_uctx_id_put(uctx, id);
out_unlock:
	lumen_reset_read_unlock(ldev);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

/**
 * lumen_uq_destroy_ioctl() - DRM_IOCTL_LUMEN_UQ_DESTROY
 * @drm: DRM device
 * @data: &struct drm_lumen_uq_destroy
 * @file: caller
 *
 * Return: 0; -EINVAL for non-zero reserved; -ENOENT for an unknown queue.
 */
int lumen_uq_destroy_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_lumen_uq_destroy *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_uq *uq;

	if (args->reserved)
		return -EINVAL;
	uq = xa_erase(&lfile->uctx->uqs, args->queue_id);
	if (!uq)
		return -ENOENT;
	xa_release(&lfile->uctx->queues, args->queue_id);	/* its id, reserved */
	lumen_uq_destroy(uq);
	return 0;
}

/*
 * Bring @done up to date and check @count against what was submitted.
 * Return: 0, -EINVAL for a count beyond TAIL, -ENODEV if the device is
 * gone (then the queue's own error tells).
 */
static int lumen_uq_refresh(struct lumen_uq *uq, struct lumen_file *lfile, u64 count)
{
	unsigned long flags;
	int ret, idx;

	if (!drm_dev_enter(&uq->ldev->drm, &idx))
		return 0;
	ret = lumen_reset_read_lock(lfile);
	if (ret) {
		drm_dev_exit(idx);
		return ret == -ENODEV ? 0 : ret;
	}
	spin_lock_irqsave(&uq->lock, flags);
	if (!uq->error) {
		lumen_uq_update_locked(uq);
		lumen_uq_signal_locked(uq);
		if (count > lumen_uq_tail_locked(uq))
			ret = -EINVAL;
	}
	spin_unlock_irqrestore(&uq->lock, flags);
	lumen_reset_read_unlock(uq->ldev);
	drm_dev_exit(idx);
	return ret;
}

static bool lumen_uq_reached(struct lumen_uq *uq, u64 count)
{
	unsigned long flags;
	bool done;

	spin_lock_irqsave(&uq->lock, flags);
	done = uq->error || uq->done >= count;
	spin_unlock_irqrestore(&uq->lock, flags);
	return done;
}

/**
 * lumen_uq_wait_ioctl() - DRM_IOCTL_LUMEN_UQ_WAIT
 * @drm: DRM device
 * @data: &struct drm_lumen_uq_wait
 * @file: caller
 *
 * Return: 0 or a negative errno, see &struct drm_lumen_uq_wait.
 */
int lumen_uq_wait_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_lumen_uq_wait *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_uq_waiter w = { .count = args->count };
	unsigned long flags;
	struct lumen_uq *uq;
	long timeout, left;
	int ret;

	/* Not completed or status: a restarted call finds them filled in. */
	if (args->flags || args->reserved)
		return -EINVAL;
	uq = lumen_uq_lookup(lfile->uctx, args->queue_id);
	if (!uq)
		return -ENOENT;
	ret = lumen_uq_refresh(uq, lfile, args->count);
	if (ret)
		goto out;

	/* An absolute deadline, so a restarted call keeps it (as WAIT). */
	timeout = drm_timeout_abs_to_jiffies(min_t(u64, args->timeout_ns, S64_MAX));
	spin_lock_irqsave(&uq->lock, flags);
	list_add_tail(&w.link, &uq->waiters);
	lumen_uq_arm_locked(uq);
	spin_unlock_irqrestore(&uq->lock, flags);

	left = wait_event_interruptible_timeout(uq->wq, lumen_uq_reached(uq, args->count),
						timeout);

	spin_lock_irqsave(&uq->lock, flags);
	list_del(&w.link);
	args->completed = uq->done;
	args->status = uq->error;
	if (left < 0)
		ret = left;
	else if (!uq->error && uq->done < args->count)
		ret = -ETIME;
	spin_unlock_irqrestore(&uq->lock, flags);
out:
	lumen_uq_put(uq);
	return ret;
}

static struct dma_fence *lumen_uq_fence_create(struct lumen_uq *uq, u64 count)
{
	struct lumen_uq_fence *f, *pos;
	unsigned long flags;

	/* A pending fence for the same count serves again: at most one each. */
	spin_lock_irqsave(&uq->lock, flags);
	list_for_each_entry_reverse(pos, &uq->fences, link) {
		if (pos->base.seqno == count) {
			dma_fence_get(&pos->base);
			spin_unlock_irqrestore(&uq->lock, flags);
			return &pos->base;
		}
		if (pos->base.seqno < count)
			break;
	}
	spin_unlock_irqrestore(&uq->lock, flags);

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return NULL;
	spin_lock_init(&f->lock);
	INIT_LIST_HEAD(&f->link);
	dma_fence_init(&f->base, &lumen_uq_fence_ops, &f->lock, uq->fence_ctx, count);

	spin_lock_irqsave(&uq->lock, flags);
	if (uq->error || count <= uq->done) {
		if (uq->error && count > uq->done)
			dma_fence_set_error(&f->base, uq->error);
		dma_fence_signal(&f->base);
	} else {
		/*
		 * Sorted by count, so signalling stops at the first one ahead;
		 * counts mostly grow, so the place is found from the end.
		 */
		list_for_each_entry_reverse(pos, &uq->fences, link)
			if (pos->base.seqno <= count)
				break;
		list_add(&f->link, &pos->link);
		dma_fence_get(&f->base);	/* the list's */
		lumen_uq_arm_locked(uq);
	}
	spin_unlock_irqrestore(&uq->lock, flags);
	return &f->base;
}

/**
 * lumen_uq_busy_fences() - fences for the commands a file's user-mode queues
 *	have been given so far
 * @uctx: the file's execution state
 * @fences: out, referenced fences
 * @max: room in @fences
 *
 * For an unmap: what those commands may still touch must stay allocated
 * until they are done (hw-spec 11). Commands given later fault instead.
 *
 * Return: how many fences were stored.
 */
u32 lumen_uq_busy_fences(struct lumen_uctx *uctx, struct dma_fence **fences, u32 max)
{
	struct lumen_uq *uq;
	unsigned long id, flags;
	struct dma_fence *f;
	u64 tail = 0;
	u32 n = 0;
	int idx;

	xa_for_each(&uctx->uqs, id, uq) {
		if (n >= max)
			break;
		uq = lumen_uq_lookup(uctx, id);
		if (!uq)
			continue;
		if (drm_dev_enter(&uq->ldev->drm, &idx)) {
			spin_lock_irqsave(&uq->lock, flags);
			lumen_uq_update_locked(uq);
			tail = uq->error ? 0 : lumen_uq_tail_locked(uq);
			spin_unlock_irqrestore(&uq->lock, flags);
			drm_dev_exit(idx);
			f = tail ? lumen_uq_fence_create(uq, tail) : NULL;
			if (f && !dma_fence_is_signaled(f))
				fences[n++] = f;
			else if (f)
				dma_fence_put(f);
		}
		lumen_uq_put(uq);
	}
	return n;
}

/**
 * lumen_uq_fence_ioctl() - DRM_IOCTL_LUMEN_UQ_FENCE
 * @drm: DRM device
 * @data: &struct drm_lumen_uq_fence
 * @file: caller
 *
 * Return: 0 or a negative errno, see &struct drm_lumen_uq_fence.
 */
int lumen_uq_fence_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_lumen_uq_fence *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct dma_fence_chain *chain = NULL;
	struct drm_syncobj *syncobj;
	struct dma_fence *fence;
	struct lumen_uq *uq;
	int ret;

	if (args->flags || args->reserved)
		return -EINVAL;
	uq = lumen_uq_lookup(lfile->uctx, args->queue_id);
	if (!uq)
		return -ENOENT;
	syncobj = drm_syncobj_find(file, args->handle);
	if (!syncobj) {
		ret = -ENOENT;
		goto out_uq;
	}
	ret = lumen_uq_refresh(uq, lfile, args->count);
	if (ret)
		goto out_syncobj;
	if (args->point) {
		chain = dma_fence_chain_alloc();
		if (!chain) {
			ret = -ENOMEM;
			goto out_syncobj;
		}
	}
	fence = lumen_uq_fence_create(uq, args->count);
	if (!fence) {
		dma_fence_chain_free(chain);
		ret = -ENOMEM;
		goto out_syncobj;
	}
	if (chain)
		drm_syncobj_add_point(syncobj, chain, fence, args->point);
	else
		drm_syncobj_replace_fence(syncobj, fence);
	dma_fence_put(fence);
out_syncobj:
	drm_syncobj_put(syncobj);
out_uq:
	lumen_uq_put(uq);
	return ret;
}
