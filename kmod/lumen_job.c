// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: job submission and completion.
 *
 * DRM_IOCTL_LUMEN_SUBMIT validates a job's descriptors completely (the
 * device checks them again, but a malformed descriptor must fail the
 * ioctl, not ban the context), references its BOs, resolves its in-syncs
 * into scheduler dependencies and pushes it to the queue's only entity.
 * run_job copies it into the ring (lumen_queue.c); the hardware fence it
 * returns completes from the queue's interrupt.
 *
 * Timeouts: a job that runs longer than job_timeout_ms while its queue
 * makes no progress (HEAD does not move and its engine writes no byte, the
 * PROGRESS register, over a whole period) is hung: the context is banned
 * (HUNG, -ETIMEDOUT) and the hardware queue reset. So a hang is declared
 * after one to two job timeouts, and a long copy never is. A context
 * banned by an MMU fault or a queue error goes through the same handler,
 * started at once (drm_sched_fault()).
 * The handler fails every job on the ring with the context's error; jobs
 * not yet on the ring fail in run_job with -ECANCELED.
 *
 * Remote commands (RWRITE, RREAD, RATOMIC, with CAPS.LINKS; RREDUCE, with
 * CAPS.LINKS and CAPS.REDUCE) are validated like the others; RREAD's local
 * range and RATOMIC's result are writes. REDUCE (CAPS.REDUCE) reads and
 * writes its destination; it and RREDUCE take aligned whole elements. A
 * command the card lacks the capability for fails the SUBMIT with
 * -EOPNOTSUPP, whatever its fields hold.
 * A queue the device stopped because the other chip refused (ACCESS), no
 * route led there (UNREACHABLE) or it stopped answering (TIMEOUT) goes
 * through the same handler at once, which fails only that job (-EACCES,
 * -EHOSTUNREACH, -ETIMEDOUT), leaves the context alone and runs the jobs
 * behind it (lumen_queue_remote_recover()). A queue sitting at a remote
 * command counts as hung only after twice the card's E2E_TIMEOUT_MS
 * without progress, since the card fails the command itself after that
 * long without an answer.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/dma-fence-chain.h>
#include <linux/jiffies.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_utils.h>

#include <uapi/drm/lumen_accel.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_job.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_trace.h"

static_assert(sizeof(struct drm_lumen_queue_create) == 16);
static_assert(sizeof(struct drm_lumen_queue_destroy) == 8);
static_assert(sizeof(struct drm_lumen_sync) == 16);
static_assert(sizeof(struct drm_lumen_submit) == 72);
static_assert(sizeof(struct drm_lumen_ext) == 16);
static_assert(sizeof(struct drm_lumen_submit_ext_priority) == 24);

/* The uAPI command format (version 1) is the device's descriptor. */
static_assert(DRM_LUMEN_CMD_VERSION == 1);
static_assert(sizeof(struct drm_lumen_cmd) == sizeof(struct lumen_cmd));
static_assert(offsetof(struct drm_lumen_cmd, tag) == offsetof(struct lumen_cmd, tag));
static_assert(offsetof(struct drm_lumen_cmd, u) == offsetof(struct lumen_cmd, u));
static_assert(offsetof(struct drm_lumen_cmd, u.copy.size) ==
	      offsetof(struct lumen_cmd, u.copy.size));
static_assert(offsetof(struct drm_lumen_cmd, u.fill.pattern) ==
	      offsetof(struct lumen_cmd, u.fill.pattern));
static_assert(offsetof(struct drm_lumen_cmd, u.fence.value) ==
	      offsetof(struct lumen_cmd, u.fence.value));
static_assert(DRM_LUMEN_CMD_NOP == LUMEN_CMD_NOP);
static_assert(DRM_LUMEN_CMD_COPY == LUMEN_CMD_COPY);
static_assert(DRM_LUMEN_CMD_FILL == LUMEN_CMD_FILL);
static_assert(DRM_LUMEN_CMD_SIGNAL == LUMEN_CMD_SIGNAL);
static_assert(DRM_LUMEN_CMD_WAIT == LUMEN_CMD_WAIT);
static_assert(DRM_LUMEN_CMD_TIMESTAMP == LUMEN_CMD_TIMESTAMP);
static_assert(DRM_LUMEN_CMD_F_BARRIER == LUMEN_CMD_F_BARRIER);
static_assert(DRM_LUMEN_CMD_MAX_BYTES == LUMEN_CMD_MAX_SIZE);
static_assert(DRM_LUMEN_CMD_RWRITE == LUMEN_CMD_RWRITE);
static_assert(DRM_LUMEN_CMD_RREAD == LUMEN_CMD_RREAD);
static_assert(DRM_LUMEN_CMD_RATOMIC == LUMEN_CMD_RATOMIC);
static_assert(DRM_LUMEN_CMD_REMOTE_MAX_BYTES == LUMEN_CMD_REMOTE_MAX_SIZE);
static_assert(DRM_LUMEN_RATOMIC_FETCH_ADD == LUMEN_RATOMIC_FETCH_ADD);
static_assert(DRM_LUMEN_RATOMIC_SIGNAL == LUMEN_RATOMIC_SIGNAL);
static_assert(offsetof(struct drm_lumen_cmd, u.remote.dst_chip) ==
	      offsetof(struct lumen_cmd, u.remote.dst_chip));
static_assert(offsetof(struct drm_lumen_cmd, u.remote.key) ==
	      offsetof(struct lumen_cmd, u.remote.key));
static_assert(offsetof(struct drm_lumen_cmd, u.remote.reserved) ==
	      offsetof(struct lumen_cmd, u.remote.reserved));
static_assert(offsetof(struct drm_lumen_cmd, u.ratomic.operand) ==
	      offsetof(struct lumen_cmd, u.ratomic.operand));
static_assert(offsetof(struct drm_lumen_cmd, u.ratomic.op) ==
	      offsetof(struct lumen_cmd, u.ratomic.op));
static_assert(offsetof(struct drm_lumen_cmd, u.ratomic.reserved) ==
	      offsetof(struct lumen_cmd, u.ratomic.reserved));
/* Reductions: every hardware element type and operation has its uAPI name. */
static_assert(DRM_LUMEN_CMD_REDUCE == LUMEN_CMD_REDUCE);
static_assert(DRM_LUMEN_CMD_RREDUCE == LUMEN_CMD_RREDUCE);
static_assert(DRM_LUMEN_DTYPE_F32 == LUMEN_DT_F32);
static_assert(DRM_LUMEN_DTYPE_F16 == LUMEN_DT_F16);
static_assert(DRM_LUMEN_DTYPE_BF16 == LUMEN_DT_BF16);
static_assert(DRM_LUMEN_DTYPE_I32 == LUMEN_DT_I32);
static_assert(DRM_LUMEN_DTYPE_I32 + 1 == LUMEN_DT_COUNT);
static_assert(DRM_LUMEN_REDOP_SUM == LUMEN_REDOP_SUM);
static_assert(DRM_LUMEN_REDOP_MAX == LUMEN_REDOP_MAX);
static_assert(DRM_LUMEN_REDOP_MIN == LUMEN_REDOP_MIN);
static_assert(DRM_LUMEN_REDOP_MIN + 1 == LUMEN_REDOP_COUNT);
static_assert(sizeof(struct drm_lumen_cmd_reduce) == sizeof(struct lumen_cmd_reduce));
static_assert(offsetof(struct drm_lumen_cmd, u.reduce.src) ==
	      offsetof(struct lumen_cmd, u.reduce.src));
static_assert(offsetof(struct drm_lumen_cmd, u.reduce.dst) ==
	      offsetof(struct lumen_cmd, u.reduce.dst));
static_assert(offsetof(struct drm_lumen_cmd, u.reduce.size) ==
	      offsetof(struct lumen_cmd, u.reduce.size));
static_assert(offsetof(struct drm_lumen_cmd, u.reduce.dtype) ==
	      offsetof(struct lumen_cmd, u.reduce.dtype));
static_assert(offsetof(struct drm_lumen_cmd, u.reduce.op) ==
	      offsetof(struct lumen_cmd, u.reduce.op));
static_assert(offsetof(struct drm_lumen_cmd, u.reduce.reserved) ==
	      offsetof(struct lumen_cmd, u.reduce.reserved));
static_assert(sizeof(struct drm_lumen_cmd_rreduce) == sizeof(struct lumen_cmd_rreduce));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.local) ==
	      offsetof(struct lumen_cmd, u.rreduce.local));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.offset) ==
	      offsetof(struct lumen_cmd, u.rreduce.offset));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.size) ==
	      offsetof(struct lumen_cmd, u.rreduce.size));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.dst_chip) ==
	      offsetof(struct lumen_cmd, u.rreduce.dst_chip));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.window) ==
	      offsetof(struct lumen_cmd, u.rreduce.window));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.key) ==
	      offsetof(struct lumen_cmd, u.rreduce.key));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.dtype) ==
	      offsetof(struct lumen_cmd, u.rreduce.dtype));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.op) ==
	      offsetof(struct lumen_cmd, u.rreduce.op));
static_assert(offsetof(struct drm_lumen_cmd, u.rreduce.reserved) ==
	      offsetof(struct lumen_cmd, u.rreduce.reserved));
static_assert(sizeof(struct drm_lumen_wait) == 32);
static_assert(sizeof(struct drm_lumen_context_status) == 40);

static struct lumen_job *to_lumen_job(struct drm_sched_job *sjob)
{
	return container_of(sjob, struct lumen_job, base);
}

/* ---- Scheduler backend --------------------------------------------------- */

static struct dma_fence *lumen_job_run(struct drm_sched_job *sjob)
{
	struct lumen_job *job = to_lumen_job(sjob);
	struct lumen_queue *q = job->q;
	struct lumen_hw_fence *f = job->hw_fence;
	unsigned long flags;
	int idx;

	/* Popped by the scheduler: queue destroy waits until it is freed. */
	job->ran = true;
	atomic_inc(&q->ran_jobs);

	/* A failed dependency already carries the error. */
	if (unlikely(sjob->s_fence->finished.error))
		return NULL;
	if (lumen_queue_stale(q))
		return ERR_PTR(-ENODEV);
	if (lumen_uctx_banned(q->uctx))
		return ERR_PTR(-ECANCELED);
	if (!drm_dev_enter(&q->ldev->drm, &idx))
		return ERR_PTR(-ENODEV);

	/*
	 * A queue marked dead (under fence_lock, by destroy, unplug or a
	 * device reset) gets nothing on its ring any more: whoever marked it
	 * has already failed the fences that were there.
	 */
	spin_lock_irqsave(&q->fence_lock, flags);
	if (READ_ONCE(q->dead)) {
		spin_unlock_irqrestore(&q->fence_lock, flags);
		drm_dev_exit(idx);
		return ERR_PTR(lumen_queue_stale(q) ? -ENODEV : -ECANCELED);
	}
	dma_fence_init(&f->base, &lumen_hw_fence_ops, &f->lock, q->fence_ctx, job->seqno);
	/* The list's reference; the initial one goes to the scheduler. */
	dma_fence_get(&f->base);
	list_add_tail(&f->link, &q->fences);
	spin_unlock_irqrestore(&q->fence_lock, flags);
	job->hw_fence = NULL;

	lumen_queue_hw_priority(q, job->priority);
	job->tdr_head = q->tail;
	lumen_queue_ring_job(q, job->cmds, job->num_cmds, job->seqno);
	trace_lumen_job_run(job);

	drm_dev_exit(idx);
	return &f->base;
}

/**
 * lumen_job_remote_grace_ms() - how long a queue may sit at a remote
 *	command without progress
 * @ldev: device; the caller is in drm_dev_enter()
 *
 * Return: twice the card's E2E_TIMEOUT_MS (the driver leaves it at its
 * default), for the timing of the checks.
 */
u32 lumen_job_remote_grace_ms(struct lumen_device *ldev)
{
	u32 e2e = lumen_rd32(ldev, LUMEN_REG_E2E_TIMEOUT_MS);

	return 2 * clamp(e2e, LUMEN_E2E_TIMEOUT_MIN_MS, LUMEN_E2E_TIMEOUT_MAX_MS);
}

/*
 * Runs on the device's ordered reset workqueue; the scheduler took @sjob
 * (the oldest job on the ring) off its pending list and re-arms the timer
 * when this returns.
 */
static enum drm_gpu_sched_stat lumen_job_timedout(struct drm_sched_job *sjob)
{
	struct lumen_job *job = to_lumen_job(sjob);
	struct lumen_queue *q = job->q;
	struct lumen_device *ldev = q->ldev;
	struct drm_gpu_scheduler *sched = &q->sched;
	struct lumen_uctx *uctx = q->uctx;
	bool hw, dead = READ_ONCE(q->dead), stale, remote_wait;
	u32 head, sts, progress;
	int idx, err;

	hw = drm_dev_enter(&ldev->drm, &idx);
	/*
	 * A device reset holds the lock: it stops the card and fails the jobs
	 * itself; a suspended card is not touched. Leave the job as it is and
	 * look again after another period.
	 */
	if (hw && !down_read_trylock(&ldev->reset_lock)) {
		drm_dev_exit(idx);
		goto out_requeue;
	}
	if (hw && READ_ONCE(ldev->pm_suspended)) {
		up_read(&ldev->reset_lock);
		drm_dev_exit(idx);
		goto out_requeue;
	}
	stale = lumen_queue_stale(q);

	/* Stop run_job (which writes the ring) and the freeing of jobs. */
	drm_sched_wqueue_stop(sched);
	/* Back on the pending list, so that it is freed like the others. */
	spin_lock(&sched->job_list_lock);
	list_add(&sjob->list, &sched->pending_list);
	spin_unlock(&sched->job_list_lock);

	if (hw && !stale && !dead && !lumen_uctx_banned(uctx)) {
		lumen_queue_signal_done(q);
		head = lumen_queue_head(q, &sts);
		progress = lumen_queue_progress(q);
		/* Another chip refused or never answered: only that job fails. */
		if (sts == LUMEN_QSTS_STOPPED) {
			err = lumen_queue_remote_errno(lumen_queue_error(q));
			if (err) {
				lumen_queue_remote_recover(q, err);
				goto out_start;
			}
		}
		/*
		 * A remote command waits for other chips, and the card fails
		 * it by itself (TIMEOUT) once no answer came for
		 * E2E_TIMEOUT_MS; every answer moves PROGRESS. So a queue
		 * sitting at one is not hung before it made no progress for
		 * twice that (this queue's periods, whatever job_timeout_ms
		 * says now).
		 */
		if (head != job->tdr_head || !job->tdr_progress_valid ||
		    progress != job->tdr_progress)
			job->tdr_remote_ms = 0;
		else
			job->tdr_remote_ms += jiffies_to_msecs(sched->timeout);
		remote_wait = sts == LUMEN_QSTS_RUNNING && lumen_queue_remote_at(q, head) &&
			      job->tdr_remote_ms <= lumen_job_remote_grace_ms(ldev);
		/*
		 * Done after all, or still moving: give it another period.
		 * Moving is HEAD passing descriptors, or, within one long
		 * COPY/FILL/REDUCE (16 GiB may take long on an engine shared
		 * with other queues), the bytes the queue's engine wrote since
		 * the previous check; the first check only takes that baseline.
		 */
		if (dma_fence_is_signaled(&sjob->s_fence->finished) || remote_wait ||
		    (sts == LUMEN_QSTS_RUNNING &&
		     (head != job->tdr_head || !job->tdr_progress_valid ||
		      progress != job->tdr_progress))) {
			job->tdr_head = head;
			job->tdr_progress = progress;
			job->tdr_progress_valid = true;
			goto out_start;
		}
		dev_warn_ratelimited(lumen_dev(ldev),
				     "context %u queue %u: job %llu timed out (HEAD %u, status %u), resetting\n",
				     uctx->ctx_id, q->hwq->index, job->seqno, head, sts);
		trace_lumen_job_timeout(job);
		lumen_uctx_fail(uctx, q, -ETIMEDOUT, DRM_LUMEN_CTX_HUNG);
	}

	if (!hw || stale)
		err = -ENODEV;
	else if (dead && !lumen_uctx_banned(uctx))
		err = -ECANCELED;
	else
		err = lumen_uctx_error(uctx);

	/* What completed before the reset did complete. */
	if (hw && !stale) {
		lumen_queue_signal_done(q);
		lumen_queue_hw_reset(q);
		/*
		 * A job that hangs is its context's business: the queue reset
		 * ends it. A queue the reset does not bring back is the
		 * card's: only a device reset helps then.
		 */
		lumen_queue_head(q, &sts);
		if (sts != LUMEN_QSTS_IDLE) {
			dev_err_ratelimited(lumen_dev(ldev),
					    "queue %u still not idle after its reset (status %u)\n",
					    q->hwq->index, sts);
			lumen_reset_schedule(ldev, LUMEN_RESET_QUEUE_HANG);
		}
	}
	/* The scheduler's callbacks complete the jobs with this error. */
	lumen_queue_fail_fences(q, err ? err : -ECANCELED);

out_start:
	drm_sched_wqueue_start(sched);
	if (hw) {
		up_read(&ldev->reset_lock);
		drm_dev_exit(idx);
	}
	return DRM_GPU_SCHED_STAT_NOMINAL;

out_requeue:
	spin_lock(&sched->job_list_lock);
	list_add(&sjob->list, &sched->pending_list);
	spin_unlock(&sched->job_list_lock);
	return DRM_GPU_SCHED_STAT_NOMINAL;
}

static void lumen_job_free_resources(struct lumen_job *job)
{
	u32 i;

	if (job->bos) {
		for (i = 0; i < job->num_bos; i++)
			if (job->bos[i])
				drm_gem_object_put(job->bos[i]);
		kvfree(job->bos);
	}
	kvfree(job->cmds);
	kfree(job->hw_fence);
}

static void lumen_job_free(struct drm_sched_job *sjob)
{
	struct lumen_job *job = to_lumen_job(sjob);
	struct lumen_queue *q = job->q;
	bool wake, ran = job->ran;
	struct dma_fence *scheduled = &sjob->s_fence->scheduled;
	struct dma_fence *finished = &sjob->s_fence->finished;

	trace_lumen_job_done(job, finished->error);

	/* Engine time for DRM fdinfo: from run_job to the job's completion. */
	if (ran && !finished->error && test_bit(DMA_FENCE_FLAG_TIMESTAMP_BIT, &finished->flags) &&
	    test_bit(DMA_FENCE_FLAG_TIMESTAMP_BIT, &scheduled->flags) &&
	    ktime_after(finished->timestamp, scheduled->timestamp))
		atomic64_add(ktime_to_ns(ktime_sub(finished->timestamp, scheduled->timestamp)),
			     &q->uctx->busy_ns);

	drm_sched_job_cleanup(sjob);
	lumen_job_free_resources(job);
	kfree(job);

	atomic_dec(&q->uctx->jobs);
	wake = ran && atomic_dec_and_test(&q->ran_jobs);
	if (atomic_dec_and_test(&q->jobs) || wake)
		wake_up_all(&q->idle_wq);
	lumen_queue_put(q);
}

const struct drm_sched_backend_ops lumen_sched_ops = {
	.run_job = lumen_job_run,
	.timedout_job = lumen_job_timedout,
	.free_job = lumen_job_free,
};

/* ---- Validation ---------------------------------------------------------- */

static bool lumen_zero(const __le64 *w, unsigned int n)
{
	while (n--)
		if (*w++)
			return false;
	return true;
}

/*
 * A range the device writes must be user VA: below DRM_LUMEN_VA_USER_START
 * sit the kernel's fence pages, which only the kernel's SIGNALs may write.
 */
static bool lumen_user_write(u64 addr, u64 size)
{
	return addr >= DRM_LUMEN_VA_USER_START && size <= U64_MAX - addr;
}

/*
 * RWRITE and RREAD: the target is a chip id and one of its window slots;
 * RREAD writes its local range, RWRITE only reads it.
 */
static const char *lumen_check_remote(const struct lumen_cmd *c)
{
	u64 local = le64_to_cpu(c->u.remote.local);
	u64 size = le64_to_cpu(c->u.remote.size);

	if (!lumen_zero(c->u.remote.reserved, ARRAY_SIZE(c->u.remote.reserved)))
		return "u.remote.reserved";
	if (size > LUMEN_CMD_REMOTE_MAX_SIZE)
		return "u.remote.size";
	if (le64_to_cpu(c->u.remote.offset) > U64_MAX - size)
		return "u.remote.offset";
	if (le32_to_cpu(c->u.remote.dst_chip) > LUMEN_CHIP_ID_MAX)
		return "u.remote.dst_chip";
	if (le32_to_cpu(c->u.remote.window) >= LUMEN_NUM_WINDOWS)
		return "u.remote.window";
	if (c->opcode == LUMEN_CMD_RREAD ? !lumen_user_write(local, size) : local > U64_MAX - size)
		return "u.remote.local";
	return NULL;
}

/* RATOMIC: the old value lands at @result (a write), if it is not 0. */
static const char *lumen_check_ratomic(const struct lumen_cmd *c)
{
	u64 result = le64_to_cpu(c->u.ratomic.result);

	if (c->u.ratomic.reserved0 || c->u.ratomic.reserved)
		return "u.ratomic.reserved";
	if (le32_to_cpu(c->u.ratomic.op) >= LUMEN_RATOMIC_COUNT)
		return "u.ratomic.op";
	if (le64_to_cpu(c->u.ratomic.offset) & 7)
		return "u.ratomic.offset (alignment)";
	if (le32_to_cpu(c->u.ratomic.dst_chip) > LUMEN_CHIP_ID_MAX)
		return "u.ratomic.dst_chip";
	if (le32_to_cpu(c->u.ratomic.window) >= LUMEN_NUM_WINDOWS)
		return "u.ratomic.window";
	if (result & 7)
		return "u.ratomic.result (alignment)";
	if (result && !lumen_user_write(result, 8))
		return "u.ratomic.result";
	return NULL;
}

/*
 * REDUCE: dst[i] = dst[i] op src[i] over whole, aligned elements; @dst is
 * read and written, so it must be user VA like COPY's.
 */
static const char *lumen_check_reduce(const struct lumen_cmd *c)
{
	u64 src = le64_to_cpu(c->u.reduce.src);
	u64 dst = le64_to_cpu(c->u.reduce.dst);
	u64 size = le64_to_cpu(c->u.reduce.size);
	u32 dtype = le32_to_cpu(c->u.reduce.dtype);
	u32 esz;

	if (!lumen_zero(c->u.reduce.reserved, ARRAY_SIZE(c->u.reduce.reserved)))
		return "u.reduce.reserved";
	if (dtype >= LUMEN_DT_COUNT)
		return "u.reduce.dtype";
	if (le32_to_cpu(c->u.reduce.op) >= LUMEN_REDOP_COUNT)
		return "u.reduce.op";
	esz = lumen_dt_size(dtype);
	if (size > LUMEN_CMD_MAX_SIZE)
		return "u.reduce.size";
	if (size & (esz - 1))
		return "u.reduce.size (element size)";
	if (src & (esz - 1))
		return "u.reduce.src (alignment)";
	if (src > U64_MAX - size)
		return "u.reduce.src";
	if (dst & (esz - 1))
		return "u.reduce.dst (alignment)";
	if (!lumen_user_write(dst, size))
		return "u.reduce.dst";
	return NULL;
}

/*
 * RREDUCE: RWRITE's rules (its local range is only read), over whole
 * elements: local, offset and size aligned to the element size.
 */
static const char *lumen_check_rreduce(const struct lumen_cmd *c)
{
	u64 local = le64_to_cpu(c->u.rreduce.local);
	u64 offset = le64_to_cpu(c->u.rreduce.offset);
	u64 size = le64_to_cpu(c->u.rreduce.size);
	u32 dtype = le32_to_cpu(c->u.rreduce.dtype);
	u32 esz;

	if (c->u.rreduce.reserved)
		return "u.rreduce.reserved";
	if (dtype >= LUMEN_DT_COUNT)
		return "u.rreduce.dtype";
	if (le32_to_cpu(c->u.rreduce.op) >= LUMEN_REDOP_COUNT)
		return "u.rreduce.op";
	esz = lumen_dt_size(dtype);
	if (size > LUMEN_CMD_REMOTE_MAX_SIZE)
		return "u.rreduce.size";
	if (size & (esz - 1))
		return "u.rreduce.size (element size)";
	if (offset & (esz - 1))
		return "u.rreduce.offset (alignment)";
	if (offset > U64_MAX - size)
		return "u.rreduce.offset";
	if (le32_to_cpu(c->u.rreduce.dst_chip) > LUMEN_CHIP_ID_MAX)
		return "u.rreduce.dst_chip";
	if (le32_to_cpu(c->u.rreduce.window) >= LUMEN_NUM_WINDOWS)
		return "u.rreduce.window";
	if (local & (esz - 1))
		return "u.rreduce.local (alignment)";
	if (local > U64_MAX - size)
		return "u.rreduce.local";
	return NULL;
}

static const char *lumen_check_cmd(const struct lumen_cmd *c)
{
	const __le64 *raw = c->u.raw;
	u64 a, b;

	if (c->flags & ~LUMEN_CMD_F_BARRIER)
		return "flags";
	if (c->reserved0)
		return "reserved0";

	switch (c->opcode) {
	case LUMEN_CMD_NOP:
		if (!lumen_zero(raw, 7))
			return "u (NOP arguments)";
		return NULL;
	case LUMEN_CMD_COPY:
		a = le64_to_cpu(c->u.copy.dst);
		b = le64_to_cpu(c->u.copy.size);
		if (!lumen_zero(c->u.copy.reserved, ARRAY_SIZE(c->u.copy.reserved)))
			return "u.copy.reserved";
		if (b > LUMEN_CMD_MAX_SIZE)
			return "u.copy.size";
		if (le64_to_cpu(c->u.copy.src) > U64_MAX - b)
			return "u.copy.src";
		if (!lumen_user_write(a, b))
			return "u.copy.dst";
		return NULL;
	case LUMEN_CMD_FILL:
		a = le64_to_cpu(c->u.fill.dst);
		b = le64_to_cpu(c->u.fill.size);
		if (!lumen_zero(c->u.fill.reserved, ARRAY_SIZE(c->u.fill.reserved)))
			return "u.fill.reserved";
		if (b > LUMEN_CMD_MAX_SIZE)
			return "u.fill.size";
		if (!lumen_user_write(a, b))
			return "u.fill.dst";
		return NULL;
	case LUMEN_CMD_SIGNAL:
	case LUMEN_CMD_WAIT:
	case LUMEN_CMD_TIMESTAMP:
		a = le64_to_cpu(c->u.fence.addr);
		if (!lumen_zero(c->u.fence.reserved, ARRAY_SIZE(c->u.fence.reserved)))
			return "u.fence.reserved";
		if (a & 7)
			return "u.fence.addr (alignment)";
		if (c->opcode == LUMEN_CMD_TIMESTAMP && c->u.fence.value)
			return "u.fence.value";
		if (c->opcode != LUMEN_CMD_WAIT && !lumen_user_write(a, 8))
			return "u.fence.addr";
		return NULL;
	case LUMEN_CMD_RWRITE:
	case LUMEN_CMD_RREAD:
		return lumen_check_remote(c);
	case LUMEN_CMD_RATOMIC:
		return lumen_check_ratomic(c);
	case LUMEN_CMD_REDUCE:
		return lumen_check_reduce(c);
	case LUMEN_CMD_RREDUCE:
		return lumen_check_rreduce(c);
	default:
		return "opcode";
	}
}

/*
 * The LUMEN_CAP_* bits an opcode needs besides the DMA queues: the link
 * engine for the remote commands, the reducing DMA engine for REDUCE, both
 * for RREDUCE. The device treats these opcodes as malformed without them.
 */
static u32 lumen_cmd_caps(u8 opcode)
{
	switch (opcode) {
	case LUMEN_CMD_RWRITE:
	case LUMEN_CMD_RREAD:
	case LUMEN_CMD_RATOMIC:
		return LUMEN_CAP_LINKS;
	case LUMEN_CMD_REDUCE:
		return LUMEN_CAP_REDUCE;
	case LUMEN_CMD_RREDUCE:
		return LUMEN_CAP_LINKS | LUMEN_CAP_REDUCE;
	default:
		return 0;
	}
}

static int lumen_check_cmds(struct lumen_device *ldev, const struct lumen_cmd *cmds, u32 n)
{
	u32 caps = ldev->id.caps & LUMEN_DRIVER_CAPS;
	const char *field;
	u32 i, missing;

	for (i = 0; i < n; i++) {
		missing = lumen_cmd_caps(cmds[i].opcode) & ~caps;
		if (missing) {
			dev_dbg_ratelimited(lumen_dev(ldev),
					    "SUBMIT: command %u: opcode %u needs%s%s\n",
					    i, cmds[i].opcode,
					    missing & LUMEN_CAP_LINKS ? " CAPS.LINKS" : "",
					    missing & LUMEN_CAP_REDUCE ? " CAPS.REDUCE" : "");
			return -EOPNOTSUPP;
		}
		field = lumen_check_cmd(&cmds[i]);
		if (field) {
			dev_dbg_ratelimited(lumen_dev(ldev), "SUBMIT: command %u: bad %s\n", i,
					    field);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- SUBMIT ---------------------------------------------------------- */

unsigned int lumen_max_file_jobs = 512;
module_param_named(max_file_jobs, lumen_max_file_jobs, uint, 0644);
MODULE_PARM_DESC(max_file_jobs,
		 "Jobs one open file may have submitted and not yet completed; SUBMIT fails with -EAGAIN beyond (default 512)");

/*
 * vmemdup_array_user() charged to the caller's memory cgroup: a job's
 * commands (up to 256 KiB) live as long as the job.
 */
static void *lumen_copy_array_user(u64 uptr, u32 n, size_t size)
{
	size_t bytes;
	void *p;

	if (check_mul_overflow((size_t)n, size, &bytes))
		return ERR_PTR(-EINVAL);
	p = kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!p)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(p, u64_to_user_ptr(uptr), bytes)) {
		kvfree(p);
		return ERR_PTR(-EFAULT);
	}
	return p;
}

/**
 * struct lumen_out_sync - a resolved out-sync of a submission
 * @syncobj: the syncobj, referenced
 * @chain: for a timeline point, the preallocated chain node
 * @point: timeline point, 0 for a binary syncobj
 */
struct lumen_out_sync {
	struct drm_syncobj *syncobj;
	struct dma_fence_chain *chain;
	u64 point;
};

static void lumen_out_syncs_free(struct lumen_out_sync *outs, u32 n)
{
	u32 i;

	if (!outs)
		return;
	for (i = 0; i < n; i++) {
		if (outs[i].syncobj)
			drm_syncobj_put(outs[i].syncobj);
		dma_fence_chain_free(outs[i].chain);
	}
	kvfree(outs);
}

static int lumen_out_syncs_get(struct drm_file *file, const struct drm_lumen_submit *args,
			       struct lumen_out_sync **out)
{
	struct drm_lumen_sync *syncs;
	struct lumen_out_sync *outs;
	u32 i, n = args->num_out_syncs;
	int ret = 0;

	*out = NULL;
	if (!n)
		return 0;
	syncs = lumen_copy_array_user(args->out_syncs, n, sizeof(*syncs));
	if (IS_ERR(syncs))
		return PTR_ERR(syncs);
	outs = kvcalloc(n, sizeof(*outs), GFP_KERNEL_ACCOUNT);
	if (!outs) {
		kvfree(syncs);
		return -ENOMEM;
	}

	for (i = 0; i < n; i++) {
		if (syncs[i].flags) {
			ret = -EINVAL;
			break;
		}
		outs[i].syncobj = drm_syncobj_find(file, syncs[i].handle);
		if (!outs[i].syncobj) {
			ret = -ENOENT;
			break;
		}
		outs[i].point = syncs[i].point;
		if (outs[i].point) {
			outs[i].chain = dma_fence_chain_alloc();
			if (!outs[i].chain) {
				ret = -ENOMEM;
				break;
			}
		}
	}
	kvfree(syncs);
	if (ret) {
		lumen_out_syncs_free(outs, n);
		return ret;
	}
	*out = outs;
	return 0;
}

static int lumen_in_syncs_add(struct drm_file *file, const struct drm_lumen_submit *args,
			      struct lumen_job *job)
{
	struct drm_lumen_sync *syncs;
	struct dma_fence *fence;
	u32 i, n = args->num_in_syncs;
	int ret = 0;

	if (!n)
		return 0;
	syncs = lumen_copy_array_user(args->in_syncs, n, sizeof(*syncs));
	if (IS_ERR(syncs))
		return PTR_ERR(syncs);

	for (i = 0; i < n && !ret; i++) {
		if (syncs[i].flags) {
			ret = -EINVAL;
			break;
		}
		ret = drm_syncobj_find_fence(file, syncs[i].handle, syncs[i].point, 0, &fence);
		if (ret)
			break;
		/* Consumes the reference, also on failure. */
		ret = drm_sched_job_add_dependency(&job->base, fence);
	}
	kvfree(syncs);
	return ret;
}

static int lumen_job_get_bos(struct drm_file *file, const struct drm_lumen_submit *args,
			     struct lumen_job *job)
{
	if (!args->num_bos)
		return 0;
	job->num_bos = args->num_bos;
	/* On failure the array holds the objects found so far, or NULLs. */
	return drm_gem_objects_lookup(file, u64_to_user_ptr(args->bo_handles), args->num_bos,
				      &job->bos);
}

/* What a SUBMIT's extension chain asks for. */
struct lumen_submit_exts {
	bool has_priority;
	u32 priority;
};

/* Walk the chain of &struct drm_lumen_ext at @uptr (DRM_LUMEN_SUBMIT_EXT_*). */
static int lumen_submit_parse_exts(u64 uptr, struct lumen_submit_exts *exts)
{
	struct drm_lumen_submit_ext_priority prio;
	struct drm_lumen_ext ext;
	unsigned int n;
	int ret;

	memset(exts, 0, sizeof(*exts));
	for (n = 0; uptr; n++) {
		if (n == DRM_LUMEN_MAX_EXTENSIONS)
			return -EINVAL;
		if (copy_from_user(&ext, u64_to_user_ptr(uptr), sizeof(ext)))
			return -EFAULT;
		if (ext.flags)
			return -EINVAL;
		switch (ext.name) {
		case DRM_LUMEN_SUBMIT_EXT_PRIORITY:
			if (exts->has_priority)
				return -EINVAL;
			if (copy_from_user(&prio, u64_to_user_ptr(uptr), sizeof(prio)))
				return -EFAULT;
			if (prio.pad)
				return -EINVAL;
			ret = lumen_queue_check_priority(prio.priority);
			if (ret)
				return ret;
			exts->has_priority = true;
			exts->priority = prio.priority;
			break;
		default:
			return -EINVAL;
		}
		uptr = ext.next;
	}
	return 0;
}

static int lumen_submit_check_args(const struct drm_lumen_submit *args)
{
	if (args->flags)
		return -EINVAL;
	if (!args->num_cmds || args->num_cmds > DRM_LUMEN_MAX_CMDS)
		return -EINVAL;
	if (args->num_bos > DRM_LUMEN_MAX_BOS || args->num_in_syncs > DRM_LUMEN_MAX_SYNCS ||
	    args->num_out_syncs > DRM_LUMEN_MAX_SYNCS)
		return -EINVAL;
	return 0;
}

/**
 * lumen_submit_ioctl() - DRM_IOCTL_LUMEN_SUBMIT
 * @drm: DRM device
 * @data: &struct drm_lumen_submit
 * @file: caller
 *
 * Return: 0 with &drm_lumen_submit.seqno set; -EINVAL, -ENOENT,
 * -ECANCELED, -EFAULT, -ENOMEM as documented in the uAPI; -EOPNOTSUPP for
 * a remote command on a card without CAPS.LINKS, or a REDUCE or RREDUCE on
 * one without CAPS.REDUCE; -EAGAIN when the file has max_file_jobs jobs in
 * flight; -ENODEV once unplugged or reset.
 */
int lumen_submit_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_submit *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_out_sync *outs = NULL;
	struct lumen_submit_exts exts;
	struct dma_fence *finished;
	struct lumen_queue *q;
	struct lumen_job *job;
	bool sched_init = false;
	u32 slot, i;
	int ret, idx;

	ret = lumen_submit_check_args(args);
	if (ret)
		return ret;
	ret = lumen_submit_parse_exts(args->extensions, &exts);
	if (ret)
		return ret;

	q = lumen_queue_lookup(lfile->uctx, args->queue_id);
	if (!q)
		return -ENOENT;
	if (lumen_uctx_banned(q->uctx)) {
		lumen_queue_put(q);
		return -ECANCELED;
	}
	/* Bounded kernel memory per file: the caller waits and retries. */
	if (atomic_inc_return(&q->uctx->jobs) > READ_ONCE(lumen_max_file_jobs)) {
		atomic_dec(&q->uctx->jobs);
		lumen_queue_put(q);
		return -EAGAIN;
	}

	job = kzalloc(sizeof(*job), GFP_KERNEL_ACCOUNT);
	if (!job) {
		atomic_dec(&q->uctx->jobs);
		lumen_queue_put(q);
		return -ENOMEM;
	}
	job->q = q;	/* takes over the lookup's reference */
	job->num_cmds = args->num_cmds;

	job->cmds = lumen_copy_array_user(args->cmds, args->num_cmds, sizeof(*job->cmds));
	if (IS_ERR(job->cmds)) {
		ret = PTR_ERR(job->cmds);
		job->cmds = NULL;
		goto err_job;
	}
	ret = lumen_check_cmds(ldev, job->cmds, job->num_cmds);
	if (ret)
		goto err_job;

	ret = lumen_job_get_bos(file, args, job);
	if (ret)
		goto err_job;

	job->hw_fence = kzalloc(sizeof(*job->hw_fence), GFP_KERNEL_ACCOUNT);
	if (!job->hw_fence) {
		ret = -ENOMEM;
		goto err_job;
	}
	spin_lock_init(&job->hw_fence->lock);
	INIT_LIST_HEAD(&job->hw_fence->link);

	ret = lumen_out_syncs_get(file, args, &outs);
	if (ret)
		goto err_job;

	ret = drm_sched_job_init(&job->base, &q->entity,
				 job->num_cmds + LUMEN_JOB_KERNEL_CMDS, q->uctx);
	if (ret)
		goto err_job;
	sched_init = true;

	ret = lumen_in_syncs_add(file, args, job);
	if (ret)
		goto err_job;

	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto err_job;
	}
	/* Everything from the user is copied: only the push is locked. */
	ret = lumen_reset_read_lock(lfile);
	if (ret) {
		drm_dev_exit(idx);
		goto err_job;
	}

	mutex_lock(&q->submit_lock);
	if (q->closing) {
		ret = -ENOENT;
		goto err_unlock;
	}
	if (lumen_uctx_banned(q->uctx)) {
		ret = -ECANCELED;
		goto err_unlock;
	}

	if (exts.has_priority)
		lumen_queue_set_priority(q, exts.priority);
	job->priority = q->priority;
	drm_sched_job_arm(&job->base);
	job->seqno = ++q->seqno;
	finished = &job->base.s_fence->finished;

	slot = job->seqno % LUMEN_WAIT_HISTORY;
	dma_fence_put(q->history[slot]);
	q->history[slot] = dma_fence_get(finished);

	for (i = 0; i < args->num_out_syncs; i++) {
		if (outs[i].chain) {
			drm_syncobj_add_point(outs[i].syncobj, outs[i].chain, finished,
					      outs[i].point);
			outs[i].chain = NULL;
		} else {
			drm_syncobj_replace_fence(outs[i].syncobj, finished);
		}
	}

	atomic_inc(&q->jobs);
	kref_get(&q->ref);	/* the job's; the caller's goes below */
	trace_lumen_job_submit(job);	/* before the job may run and be freed */
	args->seqno = job->seqno;	/* likewise */
	drm_sched_entity_push_job(&job->base);
	mutex_unlock(&q->submit_lock);
	lumen_reset_read_unlock(ldev);
	drm_dev_exit(idx);

	lumen_out_syncs_free(outs, args->num_out_syncs);
	lumen_queue_put(q);
	return 0;

err_unlock:
	mutex_unlock(&q->submit_lock);
	lumen_reset_read_unlock(ldev);
	drm_dev_exit(idx);
err_job:
	if (sched_init)
		drm_sched_job_cleanup(&job->base);
	lumen_out_syncs_free(outs, args->num_out_syncs);
	lumen_job_free_resources(job);
	kfree(job);
	atomic_dec(&q->uctx->jobs);
	lumen_queue_put(q);
	return ret;
}

/* ---- WAIT and status ------------------------------------------------- */

/**
 * lumen_wait_ioctl() - DRM_IOCTL_LUMEN_WAIT
 * @drm: DRM device
 * @data: &struct drm_lumen_wait
 * @file: caller
 *
 * The status of the last LUMEN_WAIT_HISTORY jobs of a queue is exact;
 * older jobs completed long ago and report the context's error if it is
 * banned, else 0.
 *
 * Return: 0 with &drm_lumen_wait.status set; -ETIME once the deadline
 * passed; -EINVAL for bad flags or reserved or a seqno not yet submitted;
 * -ENOENT for an unknown queue; -ERESTARTSYS on a signal (restart-safe:
 * the deadline is absolute).
 */
int lumen_wait_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_lumen_wait *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct dma_fence *fence = NULL;
	struct lumen_queue *q;
	long ret, timeout;
	int status;

	if (args->flags || args->reserved)
		return -EINVAL;

	q = lumen_queue_lookup(lfile->uctx, args->queue_id);
	if (!q)
		return -ENOENT;

	mutex_lock(&q->submit_lock);
	if (!args->seqno || args->seqno > q->seqno) {
		mutex_unlock(&q->submit_lock);
		lumen_queue_put(q);
		return -EINVAL;
	}
	if (q->seqno - args->seqno < LUMEN_WAIT_HISTORY)
		fence = dma_fence_get(q->history[args->seqno % LUMEN_WAIT_HISTORY]);
	mutex_unlock(&q->submit_lock);

	if (!fence) {
		status = lumen_uctx_banned(q->uctx) ? lumen_uctx_error(q->uctx) : 0;
		goto out;
	}

	/*
	 * An absolute deadline: a wait interrupted by a signal restarts with
	 * the same arguments and the same deadline, not a fresh timeout.
	 */
	timeout = drm_timeout_abs_to_jiffies(min_t(u64, args->timeout_ns, S64_MAX));
	if (!timeout)
		ret = dma_fence_is_signaled(fence) ? 1 : 0;
	else
		ret = dma_fence_wait_timeout(fence, true, timeout);
	if (ret <= 0) {
		dma_fence_put(fence);
		lumen_queue_put(q);
		return ret ? ret : -ETIME;
	}
	status = fence->error;
	dma_fence_put(fence);
out:
	args->status = status;
	lumen_queue_put(q);
	return 0;
}

/**
 * lumen_context_status() - DRM_LUMEN_QUERY_CONTEXT_STATUS of a file
 * @lfile: caller
 * @st: out
 */
void lumen_context_status(struct lumen_file *lfile, struct drm_lumen_context_status *st)
{
	struct lumen_uctx *uctx = lfile->uctx;
	unsigned long flags;

	spin_lock_irqsave(&uctx->lock, flags);
	*st = uctx->status;
	spin_unlock_irqrestore(&uctx->lock, flags);
	st->pad = 0;
}
