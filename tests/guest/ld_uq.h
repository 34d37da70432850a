/* SPDX-License-Identifier: MIT */
/*
 * User-mode queues (uAPI 1.4, DRM_LUMEN_CAP_USER_QUEUES) for the in-guest
 * suites and the benchmarks: the raw UQ_* ioctls, and struct ld_uq, a queue
 * with its ring and completion record in one host BO of the caller's
 * context and its doorbell page mapped, so that ld_uq_push() submits with
 * plain stores. Like lumen_dev.h, everything returns 0 or -errno.
 */
#ifndef LD_UQ_H
#define LD_UQ_H

#include <stdint.h>

#include "lumen_dev.h"

/* ---- raw ioctls ----------------------------------------------------------- */
int ld_uq_create_raw(int fd, struct drm_lumen_uq_create *c);
int ld_uq_destroy(int fd, uint32_t queue_id);
/* UQ_WAIT; *completed and *status may be NULL. */
int ld_uq_wait(int fd, uint32_t queue_id, uint64_t count, uint64_t deadline_ns,
	       uint64_t *completed, int32_t *status);
int ld_uq_fence(int fd, uint32_t queue_id, uint64_t count, uint32_t syncobj, uint64_t point);

/* ---- a user-mode queue ------------------------------------------------------- */
struct ld_uq {
	int fd;
	uint32_t id;
	uint32_t entries;
	struct ld_buf mem;	/* the ring, then the record at cpl_off */
	uint64_t cpl_off;
	volatile uint32_t *doorbell;
	uint32_t tail;		/* commands pushed, free-running */
	uint64_t pushed;	/* the same, 64-bit */
};

/* A queue of 2^order commands whose ring and record live in a new BO of
 * place (LD_HOST or LD_DEVICE); 0 or -errno (nothing left behind). */
int ld_uq_new(int fd, uint32_t order, enum ld_place place, struct ld_uq *q);
/* Destroy, unmap the doorbell, free the BO; 0 or the first -errno. */
int ld_uq_free(struct ld_uq *q);
/* Write n commands and ring the doorbell: no system call. -ENOSPC if the
 * ring has no room for them (the record says how far the device got). */
int ld_uq_push(struct ld_uq *q, const struct lumen_cmd *cmds, uint32_t n);
/* The completion record, as the device last wrote it. */
struct drm_lumen_uq_cpl ld_uq_cpl(const struct ld_uq *q);
/* Spin on the record until count commands retired or the queue stopped,
 * at most spin_ns; 0, -EIO (stopped) or -ETIME. */
int ld_uq_poll(const struct ld_uq *q, uint64_t count, uint64_t spin_ns);
/* Poll for spin_ns, then sleep in UQ_WAIT until LD_WAIT_NS from now:
 * 0, the queue's -errno, or -ETIME. */
int ld_uq_sync(const struct ld_uq *q, uint64_t count, uint64_t spin_ns);

#endif
