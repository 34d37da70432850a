// SPDX-License-Identifier: MIT
/* User-mode queues for the suites and benchmarks (ld_uq.h). */
#include "ld_uq.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

int ld_uq_create_raw(int fd, struct drm_lumen_uq_create *c)
{
	return ld_ioctl(fd, DRM_IOCTL_LUMEN_UQ_CREATE, c);
}

int ld_uq_destroy(int fd, uint32_t queue_id)
{
	struct drm_lumen_uq_destroy d = { .queue_id = queue_id };

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_UQ_DESTROY, &d);
}

int ld_uq_wait(int fd, uint32_t queue_id, uint64_t count, uint64_t deadline_ns,
	       uint64_t *completed, int32_t *status)
{
	struct drm_lumen_uq_wait w = {
		.queue_id = queue_id,
		.count = count,
		.timeout_ns = deadline_ns,
	};
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_UQ_WAIT, &w);

	if (completed)
		*completed = w.completed;
	if (status)
		*status = w.status;
	return ret;
}

int ld_uq_fence(int fd, uint32_t queue_id, uint64_t count, uint32_t syncobj, uint64_t point)
{
	struct drm_lumen_uq_fence f = {
		.queue_id = queue_id,
		.count = count,
		.handle = syncobj,
		.point = point,
	};

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_UQ_FENCE, &f);
}

int ld_uq_new(int fd, uint32_t order, enum ld_place place, struct ld_uq *q)
{
	uint64_t ring = (uint64_t)sizeof(struct lumen_cmd) << order;
	struct drm_lumen_uq_create c = { 0 };
	void *db;
	int ret;

	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->entries = 1u << order;
	q->cpl_off = ring;
	ret = ld_buf_new(fd, place, ring + 4096, &q->mem);
	if (ret)
		return ret;
	memset(q->mem.map + ring, 0, sizeof(struct drm_lumen_uq_cpl));
	c.ring_va = q->mem.va;
	c.cpl_va = q->mem.va + ring;
	c.ring_order = order;
	ret = ld_uq_create_raw(fd, &c);
	if (ret)
		goto err_buf;
	q->id = c.queue_id;
	db = mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, (off_t)c.doorbell_offset);
	if (db == MAP_FAILED) {
		ret = -errno;
		ld_uq_destroy(fd, q->id);
		goto err_buf;
	}
	q->doorbell = db;
	return 0;

err_buf:
	ld_buf_free(&q->mem);
	return ret;
}

int ld_uq_free(struct ld_uq *q)
{
	int ret = ld_uq_destroy(q->fd, q->id), r2;

	if (q->doorbell)
		munmap((void *)q->doorbell, 4096);
	q->doorbell = NULL;
	r2 = ld_buf_free(&q->mem);
	return ret ? ret : r2;
}

struct drm_lumen_uq_cpl ld_uq_cpl(const struct ld_uq *q)
{
	const volatile struct drm_lumen_uq_cpl *r = (const void *)(q->mem.map + q->cpl_off);
	struct drm_lumen_uq_cpl c;

	/* completed is written last: read it first, then what came before. */
	c.completed = __atomic_load_n(&r->completed, __ATOMIC_ACQUIRE);
	c.status = r->status;
	c.error = r->error;
	return c;
}

int ld_uq_push(struct ld_uq *q, const struct lumen_cmd *cmds, uint32_t n)
{
	struct lumen_cmd *ring = (struct lumen_cmd *)q->mem.map;
	uint32_t i;

	if (q->pushed + n - ld_uq_cpl(q).completed > q->entries)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		memcpy(&ring[(q->tail + i) & (q->entries - 1)], &cmds[i], sizeof(cmds[i]));
	q->tail += n;
	q->pushed += n;
	/* The commands (a WC mapping for a device-memory ring) before the bell. */
	atomic_thread_fence(memory_order_seq_cst);
	*q->doorbell = q->tail;
	return 0;
}

int ld_uq_poll(const struct ld_uq *q, uint64_t count, uint64_t spin_ns)
{
	uint64_t end = ld_now_ns() + spin_ns;

	for (;;) {
		struct drm_lumen_uq_cpl c = ld_uq_cpl(q);

		if (c.completed >= count)
			return 0;
		if (c.status == DRM_LUMEN_UQ_STOPPED)
			return -EIO;
		if (ld_now_ns() >= end)
			return -ETIME;
	}
}

int ld_uq_sync(const struct ld_uq *q, uint64_t count, uint64_t spin_ns)
{
	int32_t status = 0;
	int ret = ld_uq_poll(q, count, spin_ns);

	if (ret != -ETIME)
		return ret;
	ret = ld_uq_wait(q->fd, q->id, count, (uint64_t)ld_deadline(LD_WAIT_NS), NULL, &status);
	return ret ? ret : status;
}
