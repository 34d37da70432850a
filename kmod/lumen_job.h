/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: jobs (DRM_IOCTL_LUMEN_SUBMIT, DRM_IOCTL_LUMEN_WAIT), the
 * drm_sched backend and job timeouts.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_JOB_H__
#define __LUMEN_JOB_H__

#include <linux/types.h>

#include <drm/gpu_scheduler.h>

struct drm_device;
struct drm_file;
struct drm_gem_object;
struct drm_lumen_context_status;
struct lumen_cmd;
struct lumen_file;
struct lumen_hw_fence;
struct lumen_queue;

/**
 * struct lumen_job - one submission
 * @base: scheduler job
 * @q: queue; the job holds a reference
 * @cmds: validated copy of the user's descriptors
 * @num_cmds: number of @cmds
 * @bos: BOs the job uses, referenced until the job is freed
 * @num_bos: entries of @bos
 * @seqno: sequence number on @q
 * @hw_fence: preallocated hardware fence, so that run_job never allocates;
 *	NULL once run_job handed it to the scheduler
 * @tdr_head: queue HEAD at the previous timeout check of this job
 * @tdr_progress: queue PROGRESS (bytes written) at that check
 * @tdr_progress_valid: @tdr_progress was read (from the first check on)
 * @tdr_remote_ms: how long the queue has made no progress (HEAD, bytes),
 *	for a remote command at HEAD
 * @ran: the scheduler popped the job and called run_job (counted in
 *	&lumen_queue.ran_jobs until freed)
 * @priority: DRM_LUMEN_PRIORITY_* the job runs at (its queue's when
 *	submitted)
 */
struct lumen_job {
	struct drm_sched_job base;
	struct lumen_queue *q;
	struct lumen_cmd *cmds;
	u32 num_cmds;
	struct drm_gem_object **bos;
	u32 num_bos;
	u64 seqno;
	struct lumen_hw_fence *hw_fence;
	u32 tdr_head;
	u32 tdr_progress;
	bool tdr_progress_valid;
	u32 tdr_remote_ms;
	bool ran;
	u32 priority;
};

extern const struct drm_sched_backend_ops lumen_sched_ops;

u32 lumen_job_remote_grace_ms(struct lumen_device *ldev);
int lumen_submit_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_wait_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
void lumen_context_status(struct lumen_file *lfile, struct drm_lumen_context_status *st);

#endif /* __LUMEN_JOB_H__ */
