/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: device memory (BAR2) allocator and device-wide memory state.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_DEVMEM_H__
#define __LUMEN_DEVMEM_H__

#include <linux/atomic.h>
#include <linux/idr.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include <drm/drm_buddy.h>

struct lumen_device;

/**
 * enum lumen_bo_kind - where a buffer object's memory lives, for accounting
 * @LUMEN_BO_KIND_DEVICE: device memory from the buddy allocator
 * @LUMEN_BO_KIND_HOST: shmem pages
 * @LUMEN_BO_KIND_USERPTR: pinned user pages
 * @LUMEN_BO_KIND_IMPORT: dma-buf of another device
 * @LUMEN_BO_KIND_COUNT: number of kinds
 */
enum lumen_bo_kind {
	LUMEN_BO_KIND_DEVICE,
	LUMEN_BO_KIND_HOST,
	LUMEN_BO_KIND_USERPTR,
	LUMEN_BO_KIND_IMPORT,
	LUMEN_BO_KIND_COUNT
};

/**
 * struct lumen_mem - device-wide memory management state
 * @lock: protects @buddy (drm_buddy has no locking of its own)
 * @buddy: allocator over device memory offsets [0, @size)
 * @buddy_ready: @buddy was initialized (drm_buddy_fini() needed)
 * @size: device memory bytes (&lumen_identity.mem_size)
 * @bar_base: CPU physical address of BAR2 (device memory offset 0)
 * @bar: write-combined kernel mapping of BAR2, used to clear new
 *	allocations; only valid inside drm_dev_enter()
 * @ctx_ida: MMU context ids in use, one per open file
 * @mmu_lock: serializes MMU_CTX_SELECT and the registers it steers
 * @bo_count: live buffer objects per &enum lumen_bo_kind
 * @bo_bytes: bytes of live buffer objects per &enum lumen_bo_kind
 */
struct lumen_mem {
	struct mutex lock;	/* the buddy allocator */
	struct drm_buddy buddy;
	bool buddy_ready;
	u64 size;
	resource_size_t bar_base;
	void __iomem *bar;
	struct ida ctx_ida;
	struct mutex mmu_lock;	/* MMU_CTX_SELECT sequences */
	atomic_t bo_count[LUMEN_BO_KIND_COUNT];
	atomic64_t bo_bytes[LUMEN_BO_KIND_COUNT];
	struct mutex devbos_lock;	/* @devbos */
	struct list_head devbos;
};

int lumen_devmem_init(struct lumen_device *ldev);
int lumen_devmem_alloc(struct lumen_device *ldev, u64 size, struct list_head *blocks);
void lumen_devmem_free(struct lumen_device *ldev, struct list_head *blocks);
u64 lumen_devmem_avail(struct lumen_device *ldev);

#endif /* __LUMEN_DEVMEM_H__ */
