/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: buffer objects (GEM), mmap and PRIME.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_GEM_H__
#define __LUMEN_GEM_H__

#include <linux/list.h>
#include <linux/types.h>

#include <drm/drm_gem_shmem_helper.h>

#include "lumen_devmem.h"

struct dma_buf_attachment;
struct drm_device;
struct drm_file;
struct drm_memory_stats;
struct drm_lumen_memory_info;
struct lumen_device;
struct lumen_mmu_pt;
struct mm_struct;
struct seq_file;
struct sg_table;

/**
 * struct lumen_bo - a Lumen buffer object
 * @base: GEM shmem object; its &drm_gem_shmem_object.base is the GEM object.
 *	The shmem part is only used by HOST BOs and foreign imports; DEVICE
 *	and USERPTR BOs are private GEM objects with their own functions.
 *	Must stay first: drm_gem_shmem_free() kfree()s it.
 * @flags: DRM_LUMEN_BO_* the BO was created with (HOST for imports)
 * @kind: placement, for accounting and mapping
 * @accounted: counted in &lumen_mem.bo_count and bo_bytes
 * @blocks: DEVICE: &struct drm_buddy_block list, in BO offset order
 * @pages: USERPTR: the pinned pages
 * @npages: USERPTR: entries of @pages
 * @mm: USERPTR: address space whose pinned_vm counts @pages, grabbed
 * @sgt: USERPTR: @pages, DMA-mapped for the device
 * @devbo_link: DEVICE: on &lumen_mem.devbos (unplug revokes its dma-buf
 *	mmaps)
 * @host_pins: HOST: lumen_bo_pin() calls not yet undone, under the BO's
 *	reservation lock; the first takes the BO's size from the pinned-host
 *	budget, the last gives it back
 */
struct lumen_bo {
	struct drm_gem_shmem_object base;
	u32 flags;
	enum lumen_bo_kind kind;
	bool accounted;
	struct list_head blocks;
	struct page **pages;
	unsigned long npages;
	struct mm_struct *mm;
	struct sg_table *sgt;
	struct list_head devbo_link;
	unsigned int host_pins;
};

static inline struct lumen_bo *to_lumen_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct lumen_bo, base.base);
}

struct drm_gem_object *lumen_gem_create_object(struct drm_device *drm, size_t size);
struct drm_gem_object *lumen_gem_prime_import_sg_table(struct drm_device *drm,
						       struct dma_buf_attachment *attach,
						       struct sg_table *sgt);

int lumen_bo_create_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_bo_info_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

int lumen_bo_pin(struct lumen_bo *bo);
void lumen_bo_unpin(struct lumen_bo *bo);
int lumen_bo_map_range(struct lumen_bo *bo, struct lumen_mmu_pt *pt, u64 va, u64 offset,
		       u64 size, u64 prot);

int lumen_gem_lookup_bos(struct drm_file *file, u64 user_handles, u32 count,
			 struct drm_gem_object ***objs);
void lumen_gem_put_bos(struct drm_gem_object **objs, u32 count);

void lumen_gem_fdinfo_stats(struct drm_file *file, struct drm_memory_stats *device,
			    struct drm_memory_stats *host);
void lumen_gem_memory_info(struct lumen_device *ldev, struct drm_file *file,
			   struct drm_lumen_memory_info *info);
void lumen_gem_unplug(struct lumen_device *ldev);
void lumen_gem_stats_show(struct lumen_device *ldev, struct seq_file *m);

#endif /* __LUMEN_GEM_H__ */
