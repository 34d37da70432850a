// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: user queues on hardware DMA queues.
 *
 * A user queue owns one hardware queue for its whole life. Its ring lives in
 * host DMA-coherent memory and is written only by the kernel (run_job copies
 * the validated descriptors of a job in, then appends its own SIGNAL of the
 * job's seqno to the queue's fence slot with LUMEN_CMD_F_IRQ). The fence
 * slot page is mapped into the owning context at a kernel VA, so the device
 * writes it like any other memory of the context. The queue's MSI-X vector
 * then signals the hardware fences whose seqno the slot has reached.
 *
 * Errors never get fixed up here: a stopped queue, an MMU fault or a job
 * timeout bans the whole context (&struct lumen_uctx) and hands the queue
 * to its scheduler's timeout handler, which resets the hardware queue and
 * fails the jobs on it (lumen_job.c). All those handlers run on one ordered
 * workqueue per device, so resets never race each other. The exception is
 * a remote command the other side refused or never answered (ACCESS,
 * UNREACHABLE, TIMEOUT, hw-spec 13.7): that is the peer's answer, not the
 * caller's bug, so only that job fails (-EACCES, -EHOSTUNREACH,
 * -ETIMEDOUT) and the queue carries on with the jobs behind it
 * (lumen_queue_remote_recover(), from the same timeout handler).
 *
 * Locking, outermost first:
 *   lumen_queue.submit_lock (mutex)   submissions of one queue
 *   lumen_qmgr.lock (spinlock, irq)   hardware queue ownership
 *   lumen_uctx.lock (spinlock, irq)   context status
 *   lumen_queue.fence_lock (spinlock, irq)  hardware fences on the ring
 * qmgr.lock and uctx.lock are never held together.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-fence-array.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_managed.h>

#include <lumen/lumen_mmu.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_job.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_trace.h"
#include "lumen_uq.h"
#include "lumen_vm.h"

unsigned int lumen_max_file_queues = 16;
module_param_named(max_file_queues, lumen_max_file_queues, uint, 0644);
MODULE_PARM_DESC(max_file_queues,
		 "Queues one open file may have; QUEUE_CREATE fails with -EBUSY beyond (default 16)");

unsigned int lumen_job_timeout_ms = 2000;
module_param_named(job_timeout_ms, lumen_job_timeout_ms, uint, 0644);
MODULE_PARM_DESC(job_timeout_ms,
		 "Job timeout in ms before a hung queue is reset (default 2000, min 10; applies to queues created afterwards)");

static u32 lumen_qrd(struct lumen_queue *q, u32 reg)
{
	return lumen_rd32(q->ldev, LUMEN_REG_QUEUE(q->hwq->index, reg));
}

static void lumen_qwr(struct lumen_queue *q, u32 reg, u32 val)
{
	lumen_wr32(q->ldev, LUMEN_REG_QUEUE(q->hwq->index, reg), val);
}

/* ---- Hardware fences -------------------------------------------------- */

static const char *lumen_fence_driver_name(struct dma_fence *fence)
{
	return DRIVER_NAME;
}

/* A fence can outlive its queue: never look at the queue from here. */
static const char *lumen_fence_timeline_name(struct dma_fence *fence)
{
	return "lumen-hwq";
}

const struct dma_fence_ops lumen_hw_fence_ops = {
	.get_driver_name = lumen_fence_driver_name,
	.get_timeline_name = lumen_fence_timeline_name,
};

/**
 * lumen_queue_signal_done() - signal the hardware fences the device reached
 * @q: queue
 *
 * The fence slot holds the seqno of the last completion SIGNAL the device
 * executed. The device makes a descriptor's writes visible before HEAD
 * passes it and before its MSI-X message (hw-spec 10), and the slot is
 * DMA-coherent, so one untorn load after the interrupt (or under the
 * stopped scheduler in the reset path) sees every completion so far.
 * Signalling releases the fence (a full barrier on its flags), which orders
 * this load before whatever a waiter reads from the job's buffers. The
 * value is only compared with seqnos the kernel itself handed out, and the
 * slot page is not writable by user descriptors (lumen_job.c rejects writes
 * below DRM_LUMEN_VA_USER_START), so only the device can complete a job
 * early, never user space.
 */
void lumen_queue_signal_done(struct lumen_queue *q)
{
	u64 done = le64_to_cpu(READ_ONCE(*q->fence_cpu));
	struct lumen_hw_fence *f, *tmp;
	unsigned long flags;

	spin_lock_irqsave(&q->fence_lock, flags);
	list_for_each_entry_safe(f, tmp, &q->fences, link) {
		if (f->base.seqno > done)
			break;
		list_del_init(&f->link);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
	}
	spin_unlock_irqrestore(&q->fence_lock, flags);
}

/* lumen_queue_fail_fences() with @q->fence_lock held. */
static void lumen_queue_fail_fences_locked(struct lumen_queue *q, int err)
{
	struct lumen_hw_fence *f, *tmp;

	lockdep_assert_held(&q->fence_lock);

	list_for_each_entry_safe(f, tmp, &q->fences, link) {
		list_del_init(&f->link);
		dma_fence_set_error(&f->base, err);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
	}
}

/**
 * lumen_queue_fail_fences() - signal every fence on the ring with an error
 * @q: queue whose hardware queue was reset (or is gone)
 * @err: negative errno for the fences
 */
void lumen_queue_fail_fences(struct lumen_queue *q, int err)
{
	unsigned long flags;

	spin_lock_irqsave(&q->fence_lock, flags);
	lumen_queue_fail_fences_locked(q, err);
	spin_unlock_irqrestore(&q->fence_lock, flags);
}

/* ---- Ring ------------------------------------------------------------- */

/* uAPI priority -> the device's QCTRL priority and the scheduler's. */
static const struct {
	u32 hw;
	enum drm_sched_priority sched;
} lumen_prio_map[] = {
	[DRM_LUMEN_PRIORITY_NORMAL] = { LUMEN_QPRIO_NORMAL, DRM_SCHED_PRIORITY_NORMAL },
	[DRM_LUMEN_PRIORITY_LOW] = { LUMEN_QPRIO_LOW, DRM_SCHED_PRIORITY_LOW },
	[DRM_LUMEN_PRIORITY_HIGH] = { LUMEN_QPRIO_HIGH, DRM_SCHED_PRIORITY_HIGH },
};

/**
 * lumen_queue_check_priority() - may the caller use a uAPI priority
 * @prio: DRM_LUMEN_PRIORITY_*
 *
 * Return: 0; -EINVAL for an unknown value; -EPERM for HIGH without
 * CAP_SYS_NICE.
 */
int lumen_queue_check_priority(u32 prio)
{
	if (prio >= ARRAY_SIZE(lumen_prio_map))
		return -EINVAL;
	if (prio == DRM_LUMEN_PRIORITY_HIGH && !capable(CAP_SYS_NICE))
		return -EPERM;
	return 0;
}

/**
 * lumen_queue_prio_hw() - the QCTRL.PRIO value of a uAPI priority
 * @prio: DRM_LUMEN_PRIORITY_*, checked by lumen_queue_check_priority()
 *
 * Return: LUMEN_QPRIO_*.
 */
u32 lumen_queue_prio_hw(u32 prio)
{
	return lumen_prio_map[prio].hw;
}

static u32 lumen_queue_ctrl(struct lumen_queue *q, u32 prio)
{
	return LUMEN_QCTRL_ENABLE |
	       ((q->uctx->ctx_id << LUMEN_QCTRL_CTX_SHIFT) & LUMEN_QCTRL_CTX_MASK) |
	       ((lumen_prio_map[prio].hw << LUMEN_QCTRL_PRIO_SHIFT) & LUMEN_QCTRL_PRIO_MASK);
}

static void lumen_queue_hw_program(struct lumen_queue *q)
{
	lumen_qwr(q, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
	lumen_qwr(q, LUMEN_QREG_RING_BASE_LO, lower_32_bits(q->ring_dma));
	lumen_qwr(q, LUMEN_QREG_RING_BASE_HI, upper_32_bits(q->ring_dma));
	lumen_qwr(q, LUMEN_QREG_RING_ORDER, LUMEN_RING_ORDER);
	lumen_qwr(q, LUMEN_QREG_CTRL, lumen_queue_ctrl(q, q->hw_priority));
	q->tail = 0;
}

/**
 * lumen_queue_set_priority() - change the priority a queue runs at
 * @q: queue; called by SUBMIT under @q->submit_lock, for the jobs it
 *	pushes from now on
 * @prio: DRM_LUMEN_PRIORITY_*, checked by lumen_queue_check_priority()
 */
void lumen_queue_set_priority(struct lumen_queue *q, u32 prio)
{
	lockdep_assert_held(&q->submit_lock);

	if (q->priority == prio)
		return;
	q->priority = prio;
	drm_sched_entity_set_priority(&q->entity, lumen_prio_map[prio].sched);
}

/**
 * lumen_queue_hw_priority() - tell the device a job's priority
 * @q: queue; called from run_job, in drm_dev_enter()
 * @prio: DRM_LUMEN_PRIORITY_* of the job about to go on the ring
 *
 * The engine takes a priority change of an enabled queue at once; the
 * queue keeps its ring and its place (same CTX, ENABLE kept).
 */
void lumen_queue_hw_priority(struct lumen_queue *q, u32 prio)
{
	if (q->hw_priority == prio)
		return;
	q->hw_priority = prio;
	lumen_qwr(q, LUMEN_QREG_CTRL, lumen_queue_ctrl(q, prio));
}

/**
 * lumen_queue_hw_reset() - reset a hardware queue and enable it again, empty
 * @q: queue; its scheduler is stopped and the caller is in drm_dev_enter()
 *
 * QCTRL_RESET drops whatever the queue was doing (including an injected
 * hang) and HEAD = TAIL = 0; the ring starts over at index 0.
 */
void lumen_queue_hw_reset(struct lumen_queue *q)
{
	lumen_queue_hw_program(q);
}

/**
 * lumen_queue_head() - read the progress registers of a hardware queue
 * @q: queue; the caller is in drm_dev_enter()
 * @status: out, LUMEN_QSTS_*
 *
 * Return: HEAD.
 */
u32 lumen_queue_head(struct lumen_queue *q, u32 *status)
{
	*status = lumen_qrd(q, LUMEN_QREG_STATUS);
	return lumen_qrd(q, LUMEN_QREG_HEAD);
}

/**
 * lumen_queue_progress() - bytes the queue's engine has written
 * @q: queue; the caller is in drm_dev_enter()
 *
 * Return: the PROGRESS register, free-running modulo 2^32.
 */
u32 lumen_queue_progress(struct lumen_queue *q)
{
	return lumen_qrd(q, LUMEN_QREG_PROGRESS);
}

/**
 * lumen_queue_error() - why a stopped hardware queue stopped
 * @q: queue; the caller is in drm_dev_enter()
 *
 * Return: the ERROR register, an &enum lumen_status.
 */
u32 lumen_queue_error(struct lumen_queue *q)
{
	return lumen_qrd(q, LUMEN_QREG_ERROR);
}

/**
 * lumen_queue_remote_errno() - errno of a stop that a remote peer caused
 * @status: a stopped queue's ERROR
 *
 * Return: -EACCES (the target refused), -EHOSTUNREACH (no route) or
 * -ETIMEDOUT (no answer) for the remote statuses, 0 for any other.
 */
int lumen_queue_remote_errno(u32 status)
{
	switch (status) {
	case LUMEN_STATUS_ACCESS:
		return -EACCES;
	case LUMEN_STATUS_UNREACHABLE:
		return -EHOSTUNREACH;
	case LUMEN_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	default:
		return 0;
	}
}

/**
 * lumen_queue_remote_at() - is a ring slot a remote command
 * @q: queue; called by its timeout handler (the scheduler is stopped)
 * @index: free-running ring index, e.g. HEAD
 *
 * Return: true for RWRITE, RREAD, RATOMIC and RREDUCE, which wait for
 * another chip and which the device fails by itself when it stops answering.
 */
bool lumen_queue_remote_at(struct lumen_queue *q, u32 index)
{
	u8 op = READ_ONCE(q->ring[index & (LUMEN_RING_ENTRIES - 1)].opcode);

	return op == LUMEN_CMD_RWRITE || op == LUMEN_CMD_RREAD || op == LUMEN_CMD_RATOMIC ||
	       op == LUMEN_CMD_RREDUCE;
}

/*
 * Put a job on the ring at q->tail: its descriptors, then the kernel's
 * SIGNAL of its seqno to the fence slot (with F_IRQ).
 */
static void lumen_queue_ring_copy(struct lumen_queue *q, const struct lumen_cmd *cmds, u32 n,
				  u64 seqno)
{
	const u32 mask = LUMEN_RING_ENTRIES - 1;
	u32 slot = q->tail & mask;
	u32 first = min(n, LUMEN_RING_ENTRIES - slot);
	struct lumen_cmd *sig;

	memcpy(&q->ring[slot], cmds, first * sizeof(*cmds));
	if (first < n)
		memcpy(&q->ring[0], cmds + first, (n - first) * sizeof(*cmds));

	sig = &q->ring[(q->tail + n) & mask];
	memset(sig, 0, sizeof(*sig));
	sig->opcode = LUMEN_CMD_SIGNAL;
	sig->flags = LUMEN_CMD_F_IRQ | LUMEN_CMD_F_BARRIER;
	sig->tag = cpu_to_le32(lower_32_bits(seqno));
	sig->u.fence.addr = cpu_to_le64(q->fence_va + 0);
	sig->u.fence.value = cpu_to_le64(seqno);

	q->tail += n + LUMEN_JOB_KERNEL_CMDS;
}

/*
 * writel() orders all earlier stores to normal (here DMA-coherent) memory
 * before the MMIO store (memory-barriers.txt, "KERNEL I/O BARRIER
 * EFFECTS"), so the device sees the descriptors before the new tail.
 */
static void lumen_queue_doorbell(struct lumen_queue *q)
{
	writel(q->tail, q->ldev->qm->doorbells +
	       q->hwq->index * LUMEN_DOORBELL_STRIDE + LUMEN_DOORBELL_TAIL);
}

/**
 * lumen_queue_ring_job() - copy a job into the ring and ring the doorbell
 * @q: queue; called from run_job only, which the scheduler serializes
 * @cmds: validated user descriptors
 * @n: number of @cmds
 * @seqno: the job's seqno, written to the fence slot on completion
 *
 * The caller is in drm_dev_enter(). The scheduler's credits guarantee
 * @n + 1 free slots (a job's credits are returned only once its completion
 * SIGNAL, its last descriptor, has executed).
 */
void lumen_queue_ring_job(struct lumen_queue *q, const struct lumen_cmd *cmds, u32 n,
			  u64 seqno)
{
	lumen_queue_ring_copy(q, cmds, n, seqno);
	lumen_queue_doorbell(q);
}

/* Is @fence a hardware fence of a job still on @q's ring? */
static bool lumen_queue_fence_on_ring(struct lumen_queue *q, struct dma_fence *fence)
{
	struct lumen_hw_fence *f;

	lockdep_assert_held(&q->fence_lock);

	if (!fence || fence->ops != &lumen_hw_fence_ops)
		return false;
	f = container_of(fence, struct lumen_hw_fence, base);
	return !list_empty(&f->link);
}

/**
 * lumen_queue_remote_recover() - fail the job a remote error stopped, run the rest
 * @q: queue, STOPPED with a remote status (lumen_queue_remote_errno());
 *	called by its timeout handler with the scheduler stopped, in
 *	drm_dev_enter() and under the reset lock
 * @err: the job's errno
 *
 * The device stopped at the failed descriptor (hw-spec 10): every job
 * before it completed, and nothing after it started. So the oldest job on
 * the ring fails with @err, the hardware queue is reset, and the jobs
 * behind it go on the ring again from index 0 (what the spec calls
 * resubmitting the innocent work). The context is not touched.
 */
void lumen_queue_remote_recover(struct lumen_queue *q, int err)
{
	struct drm_gpu_scheduler *sched = &q->sched;
	struct lumen_hw_fence *f;
	struct drm_sched_job *sjob;
	unsigned long flags;
	u32 again = 0;

	lumen_queue_signal_done(q);

	spin_lock_irqsave(&q->fence_lock, flags);
	f = list_first_entry_or_null(&q->fences, struct lumen_hw_fence, link);
	if (f) {
		list_del_init(&f->link);
		dma_fence_set_error(&f->base, err);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
	}
	spin_unlock_irqrestore(&q->fence_lock, flags);

	lumen_queue_hw_program(q);

	/*
	 * The pending list holds the jobs run_job put on the ring, in ring
	 * order; the scheduler is stopped, so it does not change.
	 */
	spin_lock(&sched->job_list_lock);
	list_for_each_entry(sjob, &sched->pending_list, list) {
		struct lumen_job *job = container_of(sjob, struct lumen_job, base);
		bool on_ring;

		spin_lock_irqsave(&q->fence_lock, flags);
		on_ring = lumen_queue_fence_on_ring(q, sjob->s_fence->parent);
		spin_unlock_irqrestore(&q->fence_lock, flags);
		if (!on_ring)
			continue;
		job->tdr_head = q->tail;
		lumen_queue_ring_copy(q, job->cmds, job->num_cmds, job->seqno);
		again++;
	}
	spin_unlock(&sched->job_list_lock);
	if (again)
		lumen_queue_doorbell(q);
	dev_dbg_ratelimited(lumen_dev(q->ldev),
			    "queue %u (context %u): remote command failed (%pe), %u jobs behind it run again\n",
			    q->hwq->index, q->uctx->ctx_id, ERR_PTR(err), again);
}

/* ---- Context status ------------------------------------------------------ */

/**
 * lumen_uctx_banned() - whether a context accepts no more work
 * @uctx: context
 *
 * Return: true once banned; the flag is sticky.
 */
bool lumen_uctx_banned(struct lumen_uctx *uctx)
{
	return READ_ONCE(uctx->status.flags) & DRM_LUMEN_CTX_BANNED;
}

/**
 * lumen_uctx_error() - the errno that failed a banned context's jobs
 * @uctx: context
 *
 * Return: a negative errno, -ECANCELED if banned without one, else 0.
 */
int lumen_uctx_error(struct lumen_uctx *uctx)
{
	unsigned long flags;
	int err;

	spin_lock_irqsave(&uctx->lock, flags);
	err = uctx->status.error;
	if (!err && (uctx->status.flags & DRM_LUMEN_CTX_BANNED))
		err = -ECANCELED;
	spin_unlock_irqrestore(&uctx->lock, flags);
	return err;
}

/* Hand every queue of @ctx_id to its timeout handler now. */
static void lumen_ctx_kick_queues(struct lumen_device *ldev, u32 ctx_id)
{
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long flags;
	u32 i;

	spin_lock_irqsave(&qm->lock, flags);
	for (i = 0; i < qm->num; i++) {
		struct lumen_queue *q = qm->hwq[i].owner;
		struct lumen_uq *uq = qm->hwq[i].uq_owner;

		if (q && q->uctx->ctx_id == ctx_id)
			drm_sched_fault(&q->sched);
		/* Nobody checks what a user-mode queue runs: it stops now. */
		if (uq && uq->uctx->ctx_id == ctx_id)
			lumen_uq_kill(uq, -ECANCELED);
	}
	spin_unlock_irqrestore(&qm->lock, flags);
}

static void lumen_uctx_record(struct lumen_uctx *uctx, u32 qid, int err,
			      u32 flag, u32 kind, u64 addr, bool write)
{
	struct drm_lumen_context_status *st = &uctx->status;
	unsigned long flags;

	spin_lock_irqsave(&uctx->lock, flags);
	if (!st->error) {
		st->error = err;
		st->fault_queue = qid;
	}
	if ((flag & DRM_LUMEN_CTX_FAULTED) && kind) {
		if (!st->fault_kind) {
			/*
			 * Every queue of the context stops on a fault and their
			 * vectors may report first: the record names the queue
			 * that faulted.
			 */
			if (st->error == err)
				st->fault_queue = qid;
			st->fault_kind = kind;
			st->fault_addr = addr;
			st->fault_access = write;
		}
		st->faults++;
	}
	if (flag & DRM_LUMEN_CTX_HUNG)
		st->timeouts++;
	WRITE_ONCE(st->flags, st->flags | flag | DRM_LUMEN_CTX_BANNED);
	spin_unlock_irqrestore(&uctx->lock, flags);
}

/**
 * lumen_uctx_fail() - ban a context and reset its queues
 * @uctx: context
 * @q: queue that failed first, or NULL
 * @err: errno for the context's jobs, kept if the context already has one
 * @flag: DRM_LUMEN_CTX_FAULTED, _HUNG or 0, added to the status
 *
 * Any context; every queue of the context goes through its timeout
 * handler, which resets it and fails its jobs.
 */
void lumen_uctx_fail(struct lumen_uctx *uctx, struct lumen_queue *q, int err, u32 flag)
{
	lumen_uctx_fail_id(uctx, q ? q->id : 0, err, flag);
}

/**
 * lumen_uctx_fail_id() - lumen_uctx_fail() for a queue named by its id
 * @uctx: context
 * @qid: uAPI id of the queue that failed first (a user-mode queue's), or 0
 * @err: errno, as for lumen_uctx_fail()
 * @flag: likewise
 */
void lumen_uctx_fail_id(struct lumen_uctx *uctx, u32 qid, int err, u32 flag)
{
	lumen_uctx_record(uctx, qid, err, flag, 0, 0, false);
	lumen_ctx_kick_queues(uctx->ldev, uctx->ctx_id);
}

/**
 * lumen_queue_mmu_fault() - handle a valid MMU fault record
 * @ldev: device; called from the LUMEN_VEC_ERROR handler after it
 *	acknowledged LUMEN_INT_MMU_FAULT, and from a queue vector that found
 *	its queue stopped by a fault (the vectors are not ordered, and the
 *	status must be complete once the jobs fail)
 *
 * Copies the record, frees it (W1C) so the device can report the next
 * fault, and fails the faulting context. Its queues stopped by themselves.
 */
void lumen_queue_mmu_fault(struct lumen_device *ldev)
{
	struct lumen_qmgr *qm = READ_ONCE(ldev->qm);
	struct lumen_uctx *uctx = NULL;
	u32 ctx, info, hwq, tag, i, qid = 0;
	unsigned long flags;
	u64 addr;

	if (!qm)
		return;
	spin_lock_irqsave(&qm->fault_lock, flags);
	if (!(lumen_rd32(ldev, LUMEN_REG_MMU_FAULT_STATUS) & 1)) {
		spin_unlock_irqrestore(&qm->fault_lock, flags);
		return;
	}
	ctx = lumen_rd32(ldev, LUMEN_REG_MMU_FAULT_CTX);
	addr = lumen_rd64(ldev, LUMEN_REG_MMU_FAULT_ADDR_LO);
	info = lumen_rd32(ldev, LUMEN_REG_MMU_FAULT_INFO);
	hwq = lumen_rd32(ldev, LUMEN_REG_MMU_FAULT_QUEUE);
	tag = lumen_rd32(ldev, LUMEN_REG_MMU_FAULT_TAG);

	dev_dbg_ratelimited(lumen_dev(ldev),
			    "MMU fault: context %u queue %u address 0x%llx kind %u %s tag 0x%x\n",
			    ctx, hwq, addr, info & LUMEN_MMU_FAULT_KIND_MASK,
			    info & LUMEN_MMU_FAULT_WRITE_ACCESS ? "write" : "read", tag);
	trace_lumen_mmu_fault(ldev, ctx, addr, info, hwq);

	/*
	 * Find a queue of the context, preferably the faulting one. The
	 * pointer stays valid after the lock is dropped: queue destruction
	 * clears the owner, then waits for this handler (synchronize_irq()).
	 */
	spin_lock(&qm->lock);
	for (i = 0; i < qm->num; i++) {
		struct lumen_queue *o = qm->hwq[i].owner;
		struct lumen_uq *uo = qm->hwq[i].uq_owner;

		if (o && o->uctx->ctx_id == ctx && (!uctx || i == hwq)) {
			uctx = o->uctx;
			qid = o->id;
		}
		if (uo && uo->uctx->ctx_id == ctx && (!uctx || i == hwq)) {
			uctx = uo->uctx;
			qid = uo->id;
		}
	}
	spin_unlock(&qm->lock);

	if (uctx)
		lumen_uctx_record(uctx, qid, -EFAULT, DRM_LUMEN_CTX_FAULTED,
				  info & LUMEN_MMU_FAULT_KIND_MASK, addr,
				  info & LUMEN_MMU_FAULT_WRITE_ACCESS);
	/* Free the record only once the context's status holds it. */
	lumen_wr32(ldev, LUMEN_REG_MMU_FAULT_STATUS, 1);
	spin_unlock_irqrestore(&qm->fault_lock, flags);

	if (!uctx) {
		dev_warn_ratelimited(lumen_dev(ldev),
				     "MMU fault in context %u, which runs no queue\n", ctx);
		return;
	}
	lumen_ctx_kick_queues(ldev, ctx);
}

/* ---- Interrupts ---------------------------------------------------------- */

static irqreturn_t lumen_hwq_irq(int irq, void *arg)
{
	struct lumen_hwq *hwq = arg;
	struct lumen_device *ldev = hwq->ldev;
	struct lumen_qmgr *qm = ldev->qm;
	struct lumen_queue *q;
	struct lumen_uq *uq;
	u32 sts, code;

	/*
	 * Acknowledge first, then read the state (hw-spec 4): a completion
	 * during this handler sends a new message. INT_QUEUE is shared by all
	 * queue vectors; clearing it is harmless, messages are per event.
	 */
	lumen_wr32(ldev, LUMEN_REG_INT_STATUS, LUMEN_INT_QUEUE);

	/* Valid until this handler returns, see lumen_queue_release_hw(). */
	spin_lock(&qm->lock);
	q = hwq->owner;
	uq = hwq->uq_owner;
	spin_unlock(&qm->lock);
	if (uq) {
		lumen_uq_irq(uq);
		return IRQ_HANDLED;
	}
	if (!q)
		return IRQ_NONE;

	lumen_queue_signal_done(q);

	sts = lumen_qrd(q, LUMEN_QREG_STATUS);
	if (sts != LUMEN_QSTS_STOPPED || lumen_uctx_banned(q->uctx))
		return IRQ_HANDLED;

	code = lumen_qrd(q, LUMEN_QREG_ERROR);
	dev_dbg_ratelimited(lumen_dev(ldev),
			    "queue %u (context %u) stopped: %s (%u) at index %u\n",
			    hwq->index, q->uctx->ctx_id, lumen_status_name(code), code,
			    lumen_qrd(q, LUMEN_QREG_ERROR_INDEX));
	if (lumen_queue_remote_errno(code)) {
		/* A peer's answer: the timeout handler fails the job, not the context. */
		drm_sched_fault(&q->sched);
	} else if (code == LUMEN_STATUS_MMU_FAULT) {
		lumen_queue_mmu_fault(ldev);
		lumen_uctx_fail(q->uctx, q, -EFAULT, DRM_LUMEN_CTX_FAULTED);
	} else {
		lumen_uctx_fail(q->uctx, q, -EIO, 0);
	}
	return IRQ_HANDLED;
}

/* ---- Device setup and removal ------------------------------------------ */

/* The queue that owns hardware queue @i, referenced, or NULL. */
static struct lumen_queue *lumen_queue_get_owner(struct lumen_device *ldev, u32 i)
{
	struct lumen_qmgr *qm = ldev->qm;
	struct lumen_queue *q;
	unsigned long flags;

	spin_lock_irqsave(&qm->lock, flags);
	q = qm->hwq[i].owner;
	if (q)
		kref_get(&q->ref);
	spin_unlock_irqrestore(&qm->lock, flags);
	return q;
}

/* Run @op on every queue that owns a hardware queue, with a reference. */
#define lumen_queue_for_each_owner(ldev, op)					\
	do {									\
		struct lumen_device *__ld = (ldev);				\
		u32 __i;							\
		for (__i = 0; __i < __ld->qm->num; __i++) {			\
			struct lumen_queue *__q = lumen_queue_get_owner(__ld, __i); \
			if (__q) {						\
				op(__q);					\
				lumen_queue_put(__q);				\
			}							\
		}								\
	} while (0)

/*
 * Mark a queue dead and fail the jobs on its ring with -ENODEV. Under
 * @fence_lock, so that run_job, which checks @dead under it, puts no job
 * on the ring afterwards; jobs not on the ring yet fail there.
 */
static void lumen_queue_lose(struct lumen_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->fence_lock, flags);
	WRITE_ONCE(q->dead, true);
	lumen_queue_fail_fences_locked(q, -ENODEV);
	spin_unlock_irqrestore(&q->fence_lock, flags);
}

static void lumen_queue_unplug_one(struct lumen_queue *q)
{
	lumen_queue_lose(q);
	lumen_qwr(q, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
}

/*
 * Removal (after drm_dev_unplug(), before the device is reset and the IRQs
 * freed): cancel every queue's jobs. The queues themselves stay until their
 * files are closed; run_job and the timeout handler see the device gone.
 */
static void lumen_queue_unplug(void *arg)
{
	struct lumen_device *ldev = arg;

	lumen_queue_for_each_owner(ldev, lumen_queue_unplug_one);
	lumen_uq_lose_all(ldev, true);
}

/**
 * lumen_queue_lose_all() - fail the work of every queue before a reset
 * @ldev: device
 *
 * Every queue existing now belongs to the reset generation that ends: its
 * jobs on the ring fail with -ENODEV and the rest fail in run_job. The
 * hardware is not touched (the reset takes care of it).
 */
void lumen_queue_lose_all(struct lumen_device *ldev)
{
	lumen_queue_for_each_owner(ldev, lumen_queue_lose);
	lumen_uq_lose_all(ldev, false);
}

/**
 * lumen_queue_restart() - re-enable queue interrupts after a device reset
 * @ldev: device, with the firmware booted again
 *
 * Queues of the old generation are not programmed again: their hardware
 * queues stay reset until their files close them.
 */
void lumen_queue_restart(struct lumen_device *ldev)
{
	struct lumen_qmgr *qm = ldev->qm;

	if (qm->num)
		lumen_hw_irq_enable(ldev, LUMEN_INT_QUEUE | LUMEN_INT_MMU_FAULT);
}

static void lumen_queue_stop_one(struct lumen_queue *q)
{
	drm_sched_wqueue_stop(&q->sched);
}

static void lumen_queue_start_one(struct lumen_queue *q)
{
	/* Completions that arrived while interrupts were masked. */
	lumen_queue_signal_done(q);
	drm_sched_wqueue_start(&q->sched);
}

static bool lumen_queue_ring_empty(struct lumen_queue *q)
{
	unsigned long flags;
	bool empty;

	lumen_queue_signal_done(q);
	spin_lock_irqsave(&q->fence_lock, flags);
	empty = list_empty(&q->fences);
	spin_unlock_irqrestore(&q->fence_lock, flags);
	return empty;
}

/**
 * lumen_queue_suspend_all() - stop feeding the card and let it drain
 * @ldev: device; the caller holds the reset lock for writing
 * @timeout_ms: how long the jobs on the rings may take to finish
 *
 * Stops every queue's scheduler, so nothing new reaches a ring, then waits
 * for the jobs already on the rings. Jobs not yet on a ring stay queued
 * and run after lumen_queue_resume_all(). User-mode queues are reset and
 * lost (-ENODEV): only their processes could drain them.
 *
 * Return: true if every ring drained in time.
 */
bool lumen_queue_suspend_all(struct lumen_device *ldev, unsigned int timeout_ms)
{
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long end = jiffies + msecs_to_jiffies(timeout_ms);
	bool idle;
	u32 i;

	lumen_queue_for_each_owner(ldev, lumen_queue_stop_one);
	/* Nobody feeds a user-mode queue but its process: stop them for good. */
	lumen_uq_lose_all(ldev, true);
	for (;;) {
		idle = true;
		for (i = 0; i < qm->num && idle; i++) {
			struct lumen_queue *q = lumen_queue_get_owner(ldev, i);

			if (q) {
				idle = lumen_queue_ring_empty(q);
				lumen_queue_put(q);
			}
		}
		if (idle || time_after(jiffies, end))
			return idle;
		usleep_range(5000, 10000);
	}
}

/**
 * lumen_queue_resume_all() - feed the card again after a suspend
 * @ldev: device
 */
void lumen_queue_resume_all(struct lumen_device *ldev)
{
	lumen_queue_for_each_owner(ldev, lumen_queue_start_one);
}

/**
 * lumen_queue_stale() - is a queue of an older reset generation
 * @q: queue
 *
 * Return: true if the card was reset since @q was created.
 */
bool lumen_queue_stale(struct lumen_queue *q)
{
	return q->reset_gen != (u32)atomic_read(&q->ldev->reset_gen);
}

/**
 * lumen_queue_init() - set up the hardware queues of a device
 * @ldev: device with its MSI-X vectors allocated
 *
 * Maps the doorbell BAR and requests the completion vector of every usable queue. A device without
 * LUMEN_CAP_DMA_QUEUES gets no queues (QUEUE_CREATE fails -EOPNOTSUPP).
 *
 * Return: 0 or a negative errno (logged).
 */
int lumen_queue_init(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	struct pci_dev *pdev = ldev->pdev;
	struct lumen_qmgr *qm;
	const char *name;
	u32 i;
	int ret;

	BUILD_BUG_ON(!in_range(LUMEN_RING_ORDER, LUMEN_QUEUE_ORDER_MIN,
			       LUMEN_QUEUE_ORDER_MAX - LUMEN_QUEUE_ORDER_MIN + 1));

	qm = drmm_kzalloc(&ldev->drm, sizeof(*qm), GFP_KERNEL);
	if (!qm)
		return -ENOMEM;
	spin_lock_init(&qm->lock);
	spin_lock_init(&qm->fault_lock);
	ldev->qm = qm;

	if (!(ldev->id.caps & LUMEN_CAP_DMA_QUEUES))
		return 0;

	if (!(pci_resource_flags(pdev, LUMEN_BAR_DOORBELL) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, LUMEN_BAR_DOORBELL) <
	    (resource_size_t)ldev->num_queues * LUMEN_DOORBELL_STRIDE) {
		dev_err(dev, "BAR%d is too small for %u doorbells\n", LUMEN_BAR_DOORBELL,
			ldev->num_queues);
		return -ENODEV;
	}
	qm->doorbells = pcim_iomap_region(pdev, LUMEN_BAR_DOORBELL, DRIVER_NAME);
	if (IS_ERR(qm->doorbells)) {
		ret = PTR_ERR(qm->doorbells);
		qm->doorbells = NULL;
		dev_err(dev, "cannot map BAR%d: %pe\n", LUMEN_BAR_DOORBELL, ERR_PTR(ret));
		return ret;
	}

	for (i = 0; i < ldev->num_queues; i++) {
		struct lumen_hwq *hwq = &qm->hwq[i];

		hwq->ldev = ldev;
		hwq->index = i;
		hwq->irq = pci_irq_vector(pdev, LUMEN_VEC_QUEUE_BASE + i);
		if (hwq->irq < 0) {
			dev_err(dev, "no Linux IRQ for queue %u: %pe\n", i, ERR_PTR(hwq->irq));
			return hwq->irq;
		}
		name = devm_kasprintf(dev, GFP_KERNEL, DRIVER_NAME "-q%u@%s", i, pci_name(pdev));
		if (!name)
			return -ENOMEM;
		ret = devm_request_irq(dev, hwq->irq, lumen_hwq_irq, 0, name, hwq);
		if (ret) {
			dev_err(dev, "cannot request IRQ %d (queue %u): %pe\n", hwq->irq, i,
				ERR_PTR(ret));
			return ret;
		}
	}

	ret = devm_add_action_or_reset(dev, lumen_queue_unplug, ldev);
	if (ret)
		return ret;

	qm->num = ldev->num_queues;
	lumen_hw_irq_enable(ldev, LUMEN_INT_QUEUE | LUMEN_INT_MMU_FAULT);
	return 0;
}

/* ---- Queue life cycle ---------------------------------------------------- */

static void lumen_queue_release(struct kref *ref)
{
	struct lumen_queue *q = container_of(ref, struct lumen_queue, ref);
	struct lumen_device *ldev = q->ldev;

	lumen_uctx_put(q->uctx);
	kfree(q);
	/* Possibly the last reference: lumen_drm_release() may run here. */
	drm_dev_put(&ldev->drm);
	module_put(THIS_MODULE);
}

/**
 * lumen_queue_put() - drop a queue reference
 * @q: queue
 *
 * Any context: the last reference only frees the structure, everything
 * else was torn down by lumen_queue_destroy().
 */
void lumen_queue_put(struct lumen_queue *q)
{
	kref_put(&q->ref, lumen_queue_release);
}

/**
 * lumen_queue_lookup() - find a queue of a file and take a reference
 * @uctx: the file's context
 * @id: uAPI queue id
 *
 * Return: the queue, or NULL.
 */
struct lumen_queue *lumen_queue_lookup(struct lumen_uctx *uctx, u32 id)
{
	struct lumen_queue *q;

	xa_lock(&uctx->queues);
	q = xa_load(&uctx->queues, id);
	if (q)
		kref_get(&q->ref);
	xa_unlock(&uctx->queues);
	return q;
}

/**
 * lumen_queue_sync_irqs() - wait for every queue and error vector handler
 * @ldev: device
 *
 * Every queue vector and the error vector look owners up: any queue
 * vector may run the MMU fault path, which can pick any queue. So once an
 * owner is cleared, this makes sure no handler still uses it.
 */
void lumen_queue_sync_irqs(struct lumen_device *ldev)
{
	struct lumen_qmgr *qm = ldev->qm;
	u32 i;

	for (i = 0; i < qm->num; i++)
		synchronize_irq(qm->hwq[i].irq);
	if (ldev->irq_error > 0)
		synchronize_irq(ldev->irq_error);
}

/**
 * lumen_hwq_alloc() - take a free hardware queue
 * @ldev: device
 *
 * Return: the hardware queue, or NULL if all are taken.
 */
struct lumen_hwq *lumen_hwq_alloc(struct lumen_device *ldev)
{
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long flags;
	u32 hw;

	spin_lock_irqsave(&qm->lock, flags);
	hw = find_first_zero_bit(qm->used, qm->num);
	if (hw < qm->num)
		set_bit(hw, qm->used);
	spin_unlock_irqrestore(&qm->lock, flags);
	return hw < qm->num ? &qm->hwq[hw] : NULL;
}

/**
 * lumen_hwq_free() - give a hardware queue back
 * @ldev: device
 * @hwq: from lumen_hwq_alloc(), without an owner
 */
void lumen_hwq_free(struct lumen_device *ldev, struct lumen_hwq *hwq)
{
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long flags;

	spin_lock_irqsave(&qm->lock, flags);
	clear_bit(hwq->index, qm->used);
	spin_unlock_irqrestore(&qm->lock, flags);
}

/* Give the hardware queue back; no interrupt handler uses @q on return. */
static void lumen_queue_release_hw(struct lumen_queue *q)
{
	struct lumen_device *ldev = q->ldev;
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long flags;
	int idx;

	if (drm_dev_enter(&ldev->drm, &idx)) {
		lumen_qwr(q, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
		drm_dev_exit(idx);
	}

	spin_lock_irqsave(&qm->lock, flags);
	q->hwq->owner = NULL;
	spin_unlock_irqrestore(&qm->lock, flags);
	lumen_queue_sync_irqs(ldev);
}

static void lumen_queue_free_mem(struct lumen_queue *q)
{
	struct device *dev = lumen_dev(q->ldev);

	if (q->fence_cpu)
		dma_free_coherent(dev, SZ_4K, q->fence_cpu, q->fence_dma);
	if (q->ring)
		dma_free_coherent(dev, LUMEN_RING_BYTES, q->ring, q->ring_dma);
}

static void lumen_queue_free_hwq(struct lumen_queue *q)
{
	lumen_hwq_free(q->ldev, q->hwq);
}

/*
 * Tear a queue down after it left the file's table: wait for its jobs (a
 * hung one is reset by the timeout handler meanwhile), cancel them if they
 * take too long, then stop the scheduler and free the hardware queue.
 */
static void lumen_queue_destroy(struct lumen_queue *q)
{
	long timeout = msecs_to_jiffies(max(lumen_job_timeout_ms, 10u));
	unsigned long flags;
	bool entity_killed = false;
	unsigned int i;

	mutex_lock(&q->submit_lock);
	q->closing = true;
	mutex_unlock(&q->submit_lock);

	/* A killed process (exit closes its files) does not wait at all. */
	if (wait_event_killable_timeout(q->idle_wq, !atomic_read(&q->jobs), timeout) <= 0) {
		/*
		 * Cancel: run_job refuses, the timeout handler fails the jobs
		 * on the ring and resets the hardware queue, and killing the
		 * entity drops the jobs not on the ring yet. Those may still
		 * wait for an in-fence that never signals: they hold a
		 * reference on the queue and are freed whenever it signals,
		 * without touching the hardware, so only the jobs on the ring
		 * are waited for. That wait is bounded by the timeout handler.
		 */
		spin_lock_irqsave(&q->fence_lock, flags);
		WRITE_ONCE(q->dead, true);
		spin_unlock_irqrestore(&q->fence_lock, flags);
		drm_sched_entity_fini(&q->entity);
		entity_killed = true;
		drm_sched_fault(&q->sched);
		if (!wait_event_timeout(q->idle_wq, !atomic_read(&q->ran_jobs), 4 * timeout))
			dev_warn(lumen_dev(q->ldev),
				 "queue %u: jobs still pending at destroy, they may leak\n",
				 q->hwq->index);
	}

	/*
	 * Give the hardware queue up first: once no interrupt handler can
	 * find the queue, nothing calls drm_sched_fault() on it any more, and
	 * drm_sched_fini() cancels whatever timeout work is still pending.
	 */
	lumen_queue_release_hw(q);

	if (!entity_killed)
		drm_sched_entity_destroy(&q->entity);
	drm_sched_fini(&q->sched);

	/* Nothing left on the ring; a device gone mid-job leaves fences. */
	lumen_queue_fail_fences(q, -ENODEV);

	lumen_vm_unmap_kernel(&q->uctx->lfile->vm, q->fence_va, SZ_4K);
	lumen_queue_free_mem(q);
	lumen_queue_free_hwq(q);

	/* A WAIT that looked the queue up earlier may still read the history. */
	mutex_lock(&q->submit_lock);
	for (i = 0; i < LUMEN_WAIT_HISTORY; i++) {
		dma_fence_put(q->history[i]);
		q->history[i] = NULL;
	}
	mutex_unlock(&q->submit_lock);
	put_pid(q->pid);

	atomic_dec(&q->uctx->num_queues);
	lumen_queue_put(q);
}

/**
 * lumen_queue_create_ioctl() - DRM_IOCTL_LUMEN_QUEUE_CREATE
 * @drm: DRM device
 * @data: &struct drm_lumen_queue_create
 * @file: caller
 *
 * Return: 0; -EINVAL for non-zero flags or reserved or an unknown priority;
 * -EPERM for HIGH priority without CAP_SYS_NICE; -EOPNOTSUPP on a device
 * without DMA queues; -EBUSY when every hardware queue is
 * taken; -ECANCELED for a banned context; -ENOMEM; -ENODEV once unplugged.
 */
int lumen_queue_create_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_queue_create *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_uctx *uctx = lfile->uctx;
	struct lumen_qmgr *qm = ldev->qm;
	struct drm_gpu_scheduler *sched;
	struct device *dev = lumen_dev(ldev);
	struct lumen_queue *q;
	unsigned long flags;
	int ret, idx;
	u32 hw, id;

	if (args->flags || args->reserved)
		return -EINVAL;
	ret = lumen_queue_check_priority(args->priority);
	if (ret)
		return ret;
	if (!qm->num)
		return -EOPNOTSUPP;
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

	/* The id, reserved: lookups see nothing there until the queue works. */
	ret = lumen_uctx_id_get(uctx, &id);
	if (ret)
		goto out_unlock;

	q = kzalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);
	if (!q) {
		ret = -ENOMEM;
		goto out_id;
	}
	kref_init(&q->ref);
	q->ldev = ldev;
	q->id = id;
	/*
	 * Jobs may outlive the file, the binding and the drm_device's other
	 * users (one blocked on a foreign fence is freed when it signals):
	 * the queue, which every job references, keeps the file's execution
	 * state, the drm_device and the module alive until the last one.
	 */
	q->uctx = uctx;
	kref_get(&uctx->ref);
	drm_dev_get(drm);
	__module_get(THIS_MODULE);
	mutex_init(&q->submit_lock);
	spin_lock_init(&q->fence_lock);
	INIT_LIST_HEAD(&q->fences);
	atomic_set(&q->jobs, 0);
	atomic_set(&q->ran_jobs, 0);
	init_waitqueue_head(&q->idle_wq);
	q->pid = get_pid(task_tgid(current));
	q->reset_gen = lfile->reset_gen;
	q->priority = args->priority;
	q->hw_priority = args->priority;

	q->ring = dma_alloc_coherent(dev, LUMEN_RING_BYTES, &q->ring_dma, GFP_KERNEL);
	q->fence_cpu = dma_alloc_coherent(dev, SZ_4K, &q->fence_dma, GFP_KERNEL);
	if (!q->ring || !q->fence_cpu) {
		ret = -ENOMEM;
		goto err_mem;
	}

	q->hwq = lumen_hwq_alloc(ldev);
	if (!q->hwq) {
		ret = -EBUSY;
		goto err_mem;
	}
	hw = q->hwq->index;

	q->fence_va = LUMEN_VA_FENCE(hw);
	ret = lumen_vm_map_kernel(&lfile->vm, q->fence_va, q->fence_dma, SZ_4K, true);
	if (ret)
		goto err_hwq;

	snprintf(q->name, sizeof(q->name), "lumen-c%u-q%u", uctx->ctx_id, hw);
	q->fence_ctx = dma_fence_context_alloc(1);
	ret = drm_sched_init(&q->sched, &lumen_sched_ops, NULL, DRM_SCHED_PRIORITY_COUNT,
			     LUMEN_RING_ENTRIES, 0,
			     msecs_to_jiffies(max(lumen_job_timeout_ms, 10u)), ldev->reset_wq,
			     NULL, q->name, dev);
	if (ret)
		goto err_unmap;
	sched = &q->sched;
	ret = drm_sched_entity_init(&q->entity, lumen_prio_map[q->priority].sched, &sched, 1,
				    NULL);
	if (ret)
		goto err_sched;

	lumen_queue_hw_program(q);
	if (lumen_qrd(q, LUMEN_QREG_STATUS) != LUMEN_QSTS_IDLE) {
		dev_err_ratelimited(dev, "queue %u did not come up (STATUS %u)\n", hw,
				    lumen_qrd(q, LUMEN_QREG_STATUS));
		ret = -EIO;
		goto err_hw;
	}

	spin_lock_irqsave(&qm->lock, flags);
	q->hwq->owner = q;
	spin_unlock_irqrestore(&qm->lock, flags);

	/* Into the reserved slot: allocates nothing, cannot fail. */
	xa_store(&uctx->queues, id, q, GFP_KERNEL);
	/* @q may be destroyed by another thread from here on. */
	args->queue_id = id;
	lumen_reset_read_unlock(ldev);
	drm_dev_exit(idx);
	return 0;

err_hw:
	lumen_qwr(q, LUMEN_QREG_CTRL, LUMEN_QCTRL_RESET);
	drm_sched_entity_destroy(&q->entity);
err_sched:
	drm_sched_fini(&q->sched);
err_unmap:
	lumen_vm_unmap_kernel(&lfile->vm, q->fence_va, SZ_4K);
err_hwq:
	lumen_queue_free_hwq(q);
err_mem:
	lumen_queue_free_mem(q);
	put_pid(q->pid);
	lumen_queue_put(q);
out_id:
	lumen_uctx_id_put(uctx, id);
out_unlock:
	lumen_reset_read_unlock(ldev);
out_exit:
	drm_dev_exit(idx);
	return ret;
}

/**
 * lumen_uctx_id_get() - count a new queue of a file and reserve its id
 * @uctx: the file's execution state
 * @id: out, the id; reserved, so lookups find nothing there until the
 *	queue stores itself, and QUEUE_DESTROY leaves it alone
 *
 * One id space serves kernel and user-mode queues.
 *
 * Return: 0; -EBUSY if the file has max_file_queues queues; -ENOMEM.
 */
int lumen_uctx_id_get(struct lumen_uctx *uctx, u32 *id)
{
	int ret = -EBUSY;

	if (atomic_inc_return(&uctx->num_queues) <= READ_ONCE(lumen_max_file_queues))
		ret = xa_alloc(&uctx->queues, id, NULL, xa_limit_32b, GFP_KERNEL_ACCOUNT);
	if (ret)
		atomic_dec(&uctx->num_queues);
	return ret;
}

/**
 * lumen_uctx_id_put() - undo lumen_uctx_id_get() for a queue never stored
 * @uctx: the file's execution state
 * @id: the reserved id
 */
void lumen_uctx_id_put(struct lumen_uctx *uctx, u32 id)
{
	xa_release(&uctx->queues, id);
	atomic_dec(&uctx->num_queues);
}

/**
 * lumen_queue_destroy_ioctl() - DRM_IOCTL_LUMEN_QUEUE_DESTROY
 * @drm: DRM device
 * @data: &struct drm_lumen_queue_destroy
 * @file: caller
 *
 * Waits for the queue's jobs (cancelling them after a job timeout).
 *
 * Return: 0; -EINVAL for non-zero reserved; -ENOENT for an unknown queue.
 */
int lumen_queue_destroy_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_lumen_queue_destroy *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct xarray *queues = &lfile->uctx->queues;
	struct lumen_queue *q;

	if (args->reserved)
		return -EINVAL;

	/*
	 * Only a queue that exists: a reserved id (a queue being created, or
	 * a user-mode queue's) stays reserved, or it could be handed out
	 * twice.
	 */
	xa_lock(queues);
	q = xa_load(queues, args->queue_id);
	if (q)
		__xa_erase(queues, args->queue_id);
	xa_unlock(queues);
	if (!q)
		return -ENOENT;
	lumen_queue_destroy(q);
	return 0;
}

/* ---- Files --------------------------------------------------------------- */

/**
 * lumen_uctx_open() - set up the execution state of a new file
 * @lfile: file, with its device context (VM) already created
 *
 * Return: 0 or -ENOMEM.
 */
int lumen_uctx_open(struct lumen_file *lfile)
{
	struct lumen_uctx *uctx;

	uctx = kzalloc(sizeof(*uctx), GFP_KERNEL_ACCOUNT);
	if (!uctx)
		return -ENOMEM;
	kref_init(&uctx->ref);
	uctx->ldev = lfile->ldev;
	uctx->lfile = lfile;
	uctx->ctx_id = LUMEN_CONTEXTS_MAX;	/* none until lumen_file_get_ctx() */
	xa_init_flags(&uctx->queues, XA_FLAGS_ALLOC1);
	xa_init(&uctx->uqs);
	spin_lock_init(&uctx->lock);
	lfile->uctx = uctx;
	return 0;
}

/**
 * lumen_uctx_set_ctx() - record the MMU context of a file's queues
 * @uctx: the file's execution state
 * @ctx_id: MMU context id, from lumen_file_get_ctx()
 */
void lumen_uctx_set_ctx(struct lumen_uctx *uctx, u32 ctx_id)
{
	uctx->ctx_id = ctx_id;
}

/**
 * lumen_uctx_busy_fence() - a fence for every unfinished job of a file
 * @uctx: the file's execution state
 *
 * Jobs of a queue complete in order, so the last job of each queue stands
 * for all of that queue's. Several queues give a dma_fence_array. If that
 * cannot be allocated, waits for the jobs here instead (bounded by the job
 * timeout) and returns NULL.
 *
 * Return: a referenced fence, or NULL if nothing is outstanding.
 */
struct dma_fence *lumen_uctx_busy_fence(struct lumen_uctx *uctx)
{
	struct dma_fence_array *array;
	struct dma_fence **fences, *f;
	struct lumen_queue *q;
	struct lumen_uq *uq;
	unsigned long id;
	u32 n = 0, max = 0, i;

	xa_for_each(&uctx->queues, id, q)
		max++;
	xa_for_each(&uctx->uqs, id, uq)
		max++;
	if (!max)
		return NULL;
	fences = kmalloc_array(max, sizeof(*fences), GFP_KERNEL);
	if (fences)
		n = lumen_uq_busy_fences(uctx, fences, max);
	else
		lumen_uq_kill_file(uctx, -ENOMEM);	/* stops them at once */

	xa_for_each(&uctx->queues, id, q) {
		q = lumen_queue_lookup(uctx, id);
		if (!q)
			continue;
		mutex_lock(&q->submit_lock);
		f = q->seqno ? q->history[q->seqno % LUMEN_WAIT_HISTORY] : NULL;
		if (f && !dma_fence_is_signaled(f)) {
			if (fences && n < max)
				fences[n++] = dma_fence_get(f);
			else
				dma_fence_wait(f, false);	/* no memory: wait here */
		}
		mutex_unlock(&q->submit_lock);
		lumen_queue_put(q);
	}

	if (n <= 1) {
		f = n ? fences[0] : NULL;
		kfree(fences);
		return f;
	}
	/* The array takes over the fences and the array of them. */
	array = dma_fence_array_create(n, fences, dma_fence_context_alloc(1), 1, false);
	if (array)
		return &array->base;
	for (i = 0; i < n; i++) {
		dma_fence_wait(fences[i], false);
		dma_fence_put(fences[i]);
	}
	kfree(fences);
	return NULL;
}

/**
 * lumen_uctx_close() - destroy every queue of a closing file
 * @lfile: file; called from postclose before its device context goes
 */
void lumen_uctx_close(struct lumen_file *lfile)
{
	struct lumen_uctx *uctx = lfile->uctx;
	struct lumen_queue *q;
	unsigned long id;

	if (!uctx)
		return;
	lumen_uq_close_all(uctx);
	xa_for_each(&uctx->queues, id, q) {
		xa_erase(&uctx->queues, id);
		lumen_queue_destroy(q);
	}
	xa_destroy(&uctx->queues);
	uctx->lfile = NULL;
	lfile->uctx = NULL;
	lumen_uctx_put(uctx);
}

static void lumen_uctx_release(struct kref *ref)
{
	kfree(container_of(ref, struct lumen_uctx, ref));
}

/**
 * lumen_uctx_put() - drop a reference on a file's execution state
 * @uctx: the state; any context
 */
void lumen_uctx_put(struct lumen_uctx *uctx)
{
	kref_put(&uctx->ref, lumen_uctx_release);
}

/* ---- Tests and debugfs ------------------------------------------------- */

/**
 * lumen_queue_inject() - arm a test fault on a hardware queue
 * @ldev: device
 * @kind: enum lumen_inject
 * @hwq: hardware queue number
 *
 * Return: 0; -EOPNOTSUPP without LUMEN_CAP_FAULT_INJECT; -EINVAL for a bad
 * kind or queue; -ENODEV once unplugged.
 */
int lumen_queue_inject(struct lumen_device *ldev, u32 kind, u32 hwq)
{
	int idx;

	if (!(ldev->id.caps & LUMEN_CAP_FAULT_INJECT))
		return -EOPNOTSUPP;
	if (kind >= LUMEN_INJECT_COUNT || hwq >= ldev->qm->num)
		return -EINVAL;
	/* Device injections fire at once and name no queue. */
	if ((kind == LUMEN_INJECT_FW_CRASH || kind == LUMEN_INJECT_HALT ||
	     kind == LUMEN_INJECT_MBOX_HANG) && hwq)
		return -EINVAL;
	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	lumen_wr32(ldev, LUMEN_REG_INJECT_CTRL, kind | hwq << LUMEN_INJECT_QUEUE_SHIFT);
	drm_dev_exit(idx);
	return 0;
}

static const char * const lumen_qsts_names[] = {
	[LUMEN_QSTS_IDLE] = "idle",
	[LUMEN_QSTS_RUNNING] = "running",
	[LUMEN_QSTS_STOPPED] = "stopped",
	[LUMEN_QSTS_DISABLED] = "disabled",
};

/**
 * lumen_queue_debugfs_show() - print every hardware queue, for debugfs
 * @ldev: device; the caller is in drm_dev_enter()
 * @m: output
 */
void lumen_queue_debugfs_show(struct lumen_device *ldev, struct seq_file *m)
{
	struct lumen_qmgr *qm = ldev->qm;
	unsigned long flags;
	u32 i;

	seq_puts(m, "hwq ctx file queue pid     head   tail   status   error completed seqno   done    jobs\n");
	for (i = 0; i < qm->num; i++) {
		u32 base = LUMEN_REG_QUEUE(i, 0), sts;
		struct lumen_queue *q;
		struct lumen_uq *uq;

		sts = lumen_rd32(ldev, base + LUMEN_QREG_STATUS);
		seq_printf(m, "%-3u ", i);
		spin_lock_irqsave(&qm->lock, flags);
		q = qm->hwq[i].owner;
		uq = qm->hwq[i].uq_owner;
		if (q)
			seq_printf(m, "%-3u %-4u %-5u %-7d ", q->uctx->ctx_id, q->uctx->lfile->id,
				   q->id, pid_nr(q->pid));
		else if (uq)
			seq_printf(m, "%-3u %-4u %-5u %-7d ", uq->uctx->ctx_id, uq->uctx->lfile->id,
				   uq->id, pid_nr(uq->pid));
		else
			seq_puts(m, "-   -    -     -       ");
		seq_printf(m, "%-6u %-6u %-8s %-5u %-9u",
			   lumen_rd32(ldev, base + LUMEN_QREG_HEAD),
			   lumen_rd32(ldev, base + LUMEN_QREG_TAIL),
			   sts < ARRAY_SIZE(lumen_qsts_names) ? lumen_qsts_names[sts] : "?",
			   lumen_rd32(ldev, base + LUMEN_QREG_ERROR),
			   lumen_rd32(ldev, base + LUMEN_QREG_COMPLETED));
		if (q)
			seq_printf(m, " %-7llu %-7llu %d", READ_ONCE(q->seqno),
				   le64_to_cpu(READ_ONCE(*q->fence_cpu)), atomic_read(&q->jobs));
		else if (uq)
			seq_printf(m, " user    %-7llu %d", READ_ONCE(uq->done),
				   READ_ONCE(uq->error));
		seq_putc(m, '\n');
		spin_unlock_irqrestore(&qm->lock, flags);
	}
}
