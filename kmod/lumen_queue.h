/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: user queues on hardware DMA queues, rings, doorbells, per-queue
 * completion interrupts, hardware fences and queue resets.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_KQUEUE_H__
#define __LUMEN_KQUEUE_H__

#include <linux/bitmap.h>
#include <linux/bits.h>
#include <linux/dma-fence.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <drm/gpu_scheduler.h>

#include <uapi/drm/lumen_accel.h>
#include <lumen/lumen_iface.h>

struct drm_device;
struct drm_file;
struct lumen_device;
struct lumen_file;
struct lumen_queue;
struct lumen_uq;
struct page;
struct seq_file;

/*
 * Ring size: a job of DRM_LUMEN_MAX_CMDS user descriptors plus the kernel's
 * completion SIGNAL always fits, with as much room again for the jobs queued
 * behind it. The scheduler's credit limit is the ring size and a job costs
 * its descriptor count, so the ring never overflows.
 */
#define LUMEN_RING_ORDER	13
#define LUMEN_RING_ENTRIES	((u32)BIT(LUMEN_RING_ORDER))
#define LUMEN_RING_BYTES	(LUMEN_RING_ENTRIES * sizeof(struct lumen_cmd))
#define LUMEN_JOB_KERNEL_CMDS	1
static_assert(DRM_LUMEN_MAX_CMDS + LUMEN_JOB_KERNEL_CMDS <= LUMEN_RING_ENTRIES);

/*
 * Kernel VA of hardware queue q's fence page in the owning context. Each
 * hardware queue has one owner at a time, so the addresses never collide
 * inside a context. Below DRM_LUMEN_VA_USER_START, inside the kernel range.
 */
#define LUMEN_VA_FENCE_BASE	0x100000ULL
#define LUMEN_VA_FENCE(q)	(LUMEN_VA_FENCE_BASE + (u64)(q) * SZ_4K)

/* Completed jobs whose status DRM_IOCTL_LUMEN_WAIT reports exactly. */
#define LUMEN_WAIT_HISTORY	1024

/**
 * struct lumen_hwq - one hardware DMA queue of the device
 * @ldev: device
 * @index: hardware queue number
 * @irq: Linux IRQ of its completion vector (LUMEN_VEC_QUEUE_BASE + @index)
 * @owner: kernel queue that owns it, or NULL; written under
 *	&lumen_qmgr.lock, read by the interrupt handlers under that lock
 * @uq_owner: user-mode queue (lumen_uq.c) that owns it instead, or NULL;
 *	likewise
 */
struct lumen_hwq {
	struct lumen_device *ldev;
	u32 index;
	int irq;
	struct lumen_queue *owner;
	struct lumen_uq *uq_owner;
};

/**
 * struct lumen_qmgr - hardware queue allocation of a device
 * @doorbells: BAR4 mapping, one page per queue (NULL without queues)
 * @num: usable hardware queues (those with a vector)
 * @lock: protects @used and every &lumen_hwq.owner; taken in hard IRQ
 *	context, so process context uses the _irqsave variants
 * @fault_lock: serializes reading and freeing the MMU fault record, which
 *	both the error vector and the stopped queues' vectors do
 * @used: hardware queues owned by a kernel or user-mode queue
 * @hwq: per hardware queue state
 */
struct lumen_qmgr {
	void __iomem *doorbells;
	u32 num;
	/* protects @used and the owners, see above */
	spinlock_t lock;
	/* see above */
	spinlock_t fault_lock;
	DECLARE_BITMAP(used, LUMEN_QUEUES_MAX);
	struct lumen_hwq hwq[LUMEN_QUEUES_MAX];
};

/**
 * struct lumen_uctx - execution state of one open file (device context)
 * @ref: the file holds one reference and every queue one, so that jobs
 *	still draining after the file closed can count themselves out
 * @ldev: device
 * @lfile: the file; NULL once it is closed
 * @jobs: jobs of the file submitted and not yet freed (max_file_jobs)
 * @num_queues: queues the file has (max_file_queues)
 * @busy_ns: engine time of the file's completed jobs (DRM fdinfo)
 * @ctx_id: MMU context id the file's queues run in; LUMEN_CONTEXTS_MAX
 *	until the file's device context exists (it does before any queue)
 * @queues: the file's &struct lumen_queue by uAPI id; its own lock
 *	protects lookups, each entry holds a reference. A user-mode queue's
 *	id is a reserved (NULL) entry here, so ids are unique per file
 * @uqs: the file's &struct lumen_uq by the same ids, likewise
 * @lock: protects @status; taken in hard IRQ context
 * @status: what DRM_LUMEN_QUERY_CONTEXT_STATUS reports; the BANNED flag is
 *	sticky and read locklessly by the submit and run paths
 */
struct lumen_uctx {
	struct kref ref;
	struct lumen_device *ldev;
	struct lumen_file *lfile;
	atomic_t jobs;
	atomic_t num_queues;
	atomic64_t busy_ns;
	u32 ctx_id;
	struct xarray queues;
	struct xarray uqs;
	/* protects @status */
	spinlock_t lock;
	struct drm_lumen_context_status status;
};

/**
 * struct lumen_queue - a user queue, owning one hardware queue
 * @ref: the file's queue table, every job and every waiter hold one
 * @ldev: device
 * @uctx: context of the owning file; outlives the queue
 * @hwq: hardware queue owned for the queue's whole life
 * @id: uAPI queue id in the file
 * @ring: descriptor ring, DMA-coherent, written only by run_job and resets
 * @ring_dma: bus address of @ring
 * @tail: free-running producer index; only run_job and the reset path
 *	(with the scheduler stopped) touch it
 * @fence_cpu: fence slot page, DMA-coherent, written by the device's
 *	completion SIGNALs; the first 8 bytes are the last completed seqno
 * @fence_dma: bus address of @fence_cpu
 * @fence_va: device VA of the slot page in the context
 * @fence_ctx: dma_fence context of the hardware fences
 * @sched: the queue's scheduler
 * @entity: the queue's only scheduler entity
 * @submit_lock: serializes submissions (seqno, arm, push, out-syncs) with
 *	each other and with @closing
 * @closing: the queue is being destroyed, no new jobs
 * @seqno: last seqno handed out
 * @history: finished fences of the last LUMEN_WAIT_HISTORY jobs, by
 *	seqno % LUMEN_WAIT_HISTORY, under @submit_lock
 * @fence_lock: protects @fences; taken in hard IRQ context
 * @fences: hardware fences of jobs on the ring, oldest first
 * @jobs: jobs submitted and not yet freed
 * @ran_jobs: jobs the scheduler popped (run_job called) and not yet
 *	freed; all of them are on its pending list, which drm_sched_fini()
 *	would leak
 * @idle_wq: woken when @jobs or @ran_jobs drops to zero
 * @dead: jobs of this queue are cancelled (destroy timed out, unplug or a
 *	device reset); set under @fence_lock, after which run_job puts no
 *	job on the ring
 * @reset_gen: &lumen_device.reset_gen the queue was created in; a queue of
 *	an older generation is never programmed again
 * @priority: DRM_LUMEN_PRIORITY_* of the jobs SUBMIT pushes, under
 *	@submit_lock
 * @hw_priority: DRM_LUMEN_PRIORITY_* programmed into QCTRL; written by
 *	run_job and the reset paths, which the scheduler serializes
 * @pid: process that created the queue, for debugfs
 * @name: scheduler name
 */
struct lumen_queue {
	struct kref ref;
	struct lumen_device *ldev;
	struct lumen_uctx *uctx;
	struct lumen_hwq *hwq;
	u32 id;

	struct lumen_cmd *ring;
	dma_addr_t ring_dma;
	u32 tail;

	__le64 *fence_cpu;
	dma_addr_t fence_dma;
	u64 fence_va;
	u64 fence_ctx;

	struct drm_gpu_scheduler sched;
	struct drm_sched_entity entity;

	/* serializes submissions, see above */
	struct mutex submit_lock;
	bool closing;
	u64 seqno;
	struct dma_fence *history[LUMEN_WAIT_HISTORY];

	/* protects @fences */
	spinlock_t fence_lock;
	struct list_head fences;

	atomic_t jobs;
	atomic_t ran_jobs;
	wait_queue_head_t idle_wq;
	bool dead;
	u32 reset_gen;
	u32 priority;
	u32 hw_priority;
	struct pid *pid;
	char name[24];
};

/**
 * struct lumen_hw_fence - completion of one job on the hardware
 * @base: the fence; seqno = the job's seqno
 * @lock: the fence's own lock: a fence may outlive its queue
 * @link: on &lumen_queue.fences while on the ring
 */
struct lumen_hw_fence {
	struct dma_fence base;
	/* the fence's lock */
	spinlock_t lock;
	struct list_head link;
};

extern unsigned int lumen_job_timeout_ms;
extern unsigned int lumen_max_file_jobs;
extern unsigned int lumen_max_file_queues;
extern const struct dma_fence_ops lumen_hw_fence_ops;

int lumen_queue_init(struct lumen_device *ldev);

int lumen_uctx_open(struct lumen_file *lfile);
void lumen_uctx_close(struct lumen_file *lfile);
void lumen_uctx_set_ctx(struct lumen_uctx *uctx, u32 ctx_id);
void lumen_uctx_put(struct lumen_uctx *uctx);
struct dma_fence *lumen_uctx_busy_fence(struct lumen_uctx *uctx);

struct lumen_queue *lumen_queue_lookup(struct lumen_uctx *uctx, u32 id);
void lumen_queue_put(struct lumen_queue *q);

void lumen_queue_ring_job(struct lumen_queue *q, const struct lumen_cmd *cmds, u32 n,
			  u64 seqno);
void lumen_queue_signal_done(struct lumen_queue *q);
void lumen_queue_fail_fences(struct lumen_queue *q, int err);
bool lumen_queue_stale(struct lumen_queue *q);
void lumen_queue_lose_all(struct lumen_device *ldev);
void lumen_queue_restart(struct lumen_device *ldev);
bool lumen_queue_suspend_all(struct lumen_device *ldev, unsigned int timeout_ms);
void lumen_queue_resume_all(struct lumen_device *ldev);
void lumen_queue_hw_reset(struct lumen_queue *q);
u32 lumen_queue_head(struct lumen_queue *q, u32 *status);
u32 lumen_queue_progress(struct lumen_queue *q);
int lumen_queue_remote_errno(u32 status);
bool lumen_queue_remote_at(struct lumen_queue *q, u32 index);
u32 lumen_queue_error(struct lumen_queue *q);
void lumen_queue_remote_recover(struct lumen_queue *q, int err);
int lumen_queue_check_priority(u32 prio);
void lumen_queue_set_priority(struct lumen_queue *q, u32 prio);
void lumen_queue_hw_priority(struct lumen_queue *q, u32 prio);

bool lumen_uctx_banned(struct lumen_uctx *uctx);
int lumen_uctx_error(struct lumen_uctx *uctx);
void lumen_uctx_fail(struct lumen_uctx *uctx, struct lumen_queue *q, int err, u32 flag);
void lumen_uctx_fail_id(struct lumen_uctx *uctx, u32 qid, int err, u32 flag);
int lumen_uctx_id_get(struct lumen_uctx *uctx, u32 *id);
void lumen_uctx_id_put(struct lumen_uctx *uctx, u32 id);

u32 lumen_queue_prio_hw(u32 prio);
struct lumen_hwq *lumen_hwq_alloc(struct lumen_device *ldev);
void lumen_hwq_free(struct lumen_device *ldev, struct lumen_hwq *hwq);
void lumen_queue_sync_irqs(struct lumen_device *ldev);

void lumen_queue_mmu_fault(struct lumen_device *ldev);
int lumen_queue_inject(struct lumen_device *ldev, u32 kind, u32 hwq);
void lumen_queue_debugfs_show(struct lumen_device *ldev, struct seq_file *m);

int lumen_queue_create_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_queue_destroy_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_KQUEUE_H__ */
