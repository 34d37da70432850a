// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: per-file device contexts and DRM_IOCTL_LUMEN_VM_BIND.
 *
 * Each open file owns one MMU context (id from &lumen_mem.ctx_ida) with its
 * own page tables (lumen_mmu.c) and VA space. The VA space is a drm_mm over
 * [LUMEN_VA_KERNEL_START, DRM_LUMEN_VA_USER_END): user mappings live above
 * DRM_LUMEN_VA_USER_START, kernel mappings (the job side's fence pages)
 * below.
 *
 * Why drm_mm and not drm_gpuvm: the uAPI only has whole-range MAP at a
 * fixed address with overlap rejected and UNMAP of exactly one earlier
 * mapping, so no splitting/merging of mappings, no sparse or async binds
 * and no per-VM dma_resv/eviction are needed. drm_mm_reserve_node() gives
 * the overlap check and drm_mm_for_each_node_in_range() the lookup, both
 * O(log n) on its interval tree, with far less state than drm_gpuvm's
 * split/merge machinery. If binds ever become asynchronous or partial,
 * moving to drm_gpuvm is the natural step.
 *
 * Locking: &lumen_vm.lock serializes the VA space, the mapping list and the
 * page tables. It nests outside the BO's dma_resv (taken by the shmem pin)
 * and outside &lumen_mem.mmu_lock.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/dma-fence.h>
#include <linux/lockdep.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>

#include <uapi/drm/lumen_accel.h>

#include "lumen_drv.h"
#include "lumen_gem.h"
#include "lumen_mmu.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_vm.h"
#include "lumen_window.h"

static_assert(sizeof(struct drm_lumen_vm_bind) == 40);

unsigned int lumen_max_file_mappings = 65536;
module_param_named(max_file_mappings, lumen_max_file_mappings, uint, 0644);
MODULE_PARM_DESC(max_file_mappings,
		 "VM_BIND mappings one open file may have; MAP fails with -ENOSPC beyond (default 65536)");
static_assert(BIT_ULL(LUMEN_VA_BITS) >= DRM_LUMEN_VA_USER_END);

/**
 * struct lumen_vm_mapping - one mapped VA range
 * @node: the range in &lumen_vm.mm
 * @link: in &lumen_vm.mappings
 * @obj: mapped BO, referenced and pinned; NULL for a kernel mapping
 * @offset: offset of @node's start in @obj
 * @writable: the device may write it (LUMEN_PTE_WRITE)
 */
struct lumen_vm_mapping {
	struct drm_mm_node node;
	struct list_head link;
	struct drm_gem_object *obj;
	u64 offset;
	bool writable;
};

/**
 * lumen_vm_init() - create the device context of a new file
 * @ldev: device
 * @vm: context to initialize
 *
 * Return: 0; -EBUSY when all LUMEN_CONTEXTS_MAX contexts are in use;
 * -ENOMEM.
 */
int lumen_vm_init(struct lumen_device *ldev, struct lumen_vm *vm)
{
	int ret;

	ret = ida_alloc_max(&ldev->mem.ctx_ida, LUMEN_CONTEXTS_MAX - 1, GFP_KERNEL);
	if (ret < 0)
		return ret == -ENOSPC ? -EBUSY : ret;

	vm->ldev = ldev;
	vm->ctx_id = ret;
	mutex_init(&vm->lock);
	INIT_LIST_HEAD(&vm->mappings);
	INIT_LIST_HEAD(&vm->zombies);
	INIT_LIST_HEAD(&vm->windows);
	vm->num_windows = 0;
	drm_mm_init(&vm->mm, LUMEN_VA_KERNEL_START,
		    DRM_LUMEN_VA_USER_END - LUMEN_VA_KERNEL_START);

	ret = lumen_mmu_pt_init(&vm->pt, ldev->drm.dev);
	if (ret)
		goto err_fini;

	lumen_mmu_ctx_enable(ldev, vm->ctx_id, vm->pt.root->dma);
	vm->enabled = true;
	return 0;

err_fini:
	drm_mm_takedown(&vm->mm);
	mutex_destroy(&vm->lock);
	ida_free(&ldev->mem.ctx_ida, vm->ctx_id);
	return ret;
}

/**
 * struct lumen_vm_zombie - what an unmap took out of a context, kept until
 *	the context's jobs of before the unmap are done with it
 * @vm: the context
 * @link: on &lumen_vm.zombies, under &lumen_vm.lock
 * @obj: the unmapped BO, still pinned and referenced
 * @tables: page-table pages the unmap emptied (&struct lumen_mmu_table)
 * @fence: completes once those jobs are done
 * @cb: on @fence
 * @work: frees everything, in process context
 *
 * hw-spec section 11: a device may keep using translations, and walking
 * tables, of a context until the queues running in it stop; the TLB
 * invalidation alone does not make the pages free. So an unmapped BO stays
 * pinned (its device pages are not handed to another context) and the
 * emptied tables stay allocated until every job the context submitted
 * before the unmap has completed.
 */
struct lumen_vm_zombie {
	struct lumen_vm *vm;
	struct list_head link;
	struct drm_gem_object *obj;
	struct list_head tables;
	struct dma_fence *fence;
	struct dma_fence_cb cb;
	struct work_struct work;
};

/* Free a zombie that is no longer on its context's list. */
static void lumen_vm_zombie_free(struct lumen_vm_zombie *z)
{
	lumen_mmu_free_tables(&z->vm->pt, &z->tables);
	if (z->obj) {
		lumen_bo_unpin(to_lumen_bo(z->obj));
		drm_gem_object_put(z->obj);
	}
	dma_fence_put(z->fence);
	kfree(z);
}

static void lumen_vm_zombie_work(struct work_struct *work)
{
	struct lumen_vm_zombie *z = container_of(work, struct lumen_vm_zombie, work);
	struct lumen_vm *vm = z->vm;

	mutex_lock(&vm->lock);
	list_del(&z->link);
	mutex_unlock(&vm->lock);
	lumen_vm_zombie_free(z);
}

static void lumen_vm_zombie_cb(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct lumen_vm_zombie *z = container_of(cb, struct lumen_vm_zombie, cb);

	/* Any context: unpinning and page-table frees may sleep. */
	queue_work(system_unbound_wq, &z->work);
}

/*
 * Free @z once @fence (NULL: nothing outstanding) completes. @z is on the
 * context's list already, so lumen_vm_fini() finds it whatever happens.
 */
static void lumen_vm_zombie_arm(struct lumen_vm_zombie *z, struct dma_fence *fence)
{
	z->fence = fence;
	if (!fence || dma_fence_add_callback(fence, &z->cb, lumen_vm_zombie_cb))
		lumen_vm_zombie_work(&z->work);
}

/*
 * File close: the context's queues are stopped and freed, so the device no
 * longer runs in it: free every zombie now. One whose callback already
 * fired is freed by its work, which is waited for.
 */
static void lumen_vm_reap_zombies(struct lumen_vm *vm)
{
	struct lumen_vm_zombie *z;

	for (;;) {
		mutex_lock(&vm->lock);
		z = list_first_entry_or_null(&vm->zombies, struct lumen_vm_zombie, link);
		if (z && dma_fence_remove_callback(z->fence, &z->cb)) {
			list_del(&z->link);
			mutex_unlock(&vm->lock);
			lumen_vm_zombie_free(z);
			continue;
		}
		mutex_unlock(&vm->lock);
		if (!z)
			return;
		flush_work(&z->work);
	}
}

/* Drop a mapping's node, pin and reference; its PTEs are already gone. */
static void lumen_vm_mapping_free_locked(struct lumen_vm *vm, struct lumen_vm_mapping *m)
{
	lockdep_assert_held(&vm->lock);

	drm_mm_remove_node(&m->node);
	list_del(&m->link);
	if (m->obj) {
		lumen_bo_unpin(to_lumen_bo(m->obj));
		drm_gem_object_put(m->obj);
	}
	kfree(m);
}

/* Clear a range's PTEs, invalidate the TLB, then free emptied tables. */
static void lumen_vm_clear_range_locked(struct lumen_vm *vm, u64 va, u64 size)
{
	LIST_HEAD(freed);

	lockdep_assert_held(&vm->lock);

	lumen_mmu_unmap(&vm->pt, va, size, &freed);
	lumen_mmu_invalidate(vm->ldev, vm->ctx_id);
	lumen_mmu_free_tables(&vm->pt, &freed);
}

/**
 * lumen_vm_fini() - destroy a file's device context
 * @vm: context; the device must no longer run anything in it (the job side
 *	has stopped the file's queues)
 *
 * Disables the context, then drops every mapping with its BO reference and
 * frees the page tables and the context id.
 */
void lumen_vm_fini(struct lumen_vm *vm)
{
	struct lumen_vm_mapping *m, *tmp;

	if (vm->enabled)
		lumen_mmu_ctx_disable(vm->ldev, vm->ctx_id);
	vm->enabled = false;

	lumen_vm_reap_zombies(vm);

	mutex_lock(&vm->lock);
	list_for_each_entry_safe(m, tmp, &vm->mappings, link)
		lumen_vm_mapping_free_locked(vm, m);
	mutex_unlock(&vm->lock);

	lumen_mmu_pt_fini(&vm->pt);
	drm_mm_takedown(&vm->mm);
	mutex_destroy(&vm->lock);
	ida_free(&vm->ldev->mem.ctx_ida, vm->ctx_id);
}

/* The mapping that starts at @va, or NULL. */
static struct lumen_vm_mapping *lumen_vm_find_locked(struct lumen_vm *vm, u64 va)
{
	struct drm_mm_node *node;

	lockdep_assert_held(&vm->lock);

	drm_mm_for_each_node_in_range(node, &vm->mm, va, va + 1) {
		if (node->start == va)
			return container_of(node, struct lumen_vm_mapping, node);
		break;
	}
	return NULL;
}

/*
 * Reserve [va, va + size) for @m (which holds its pin and reference) and
 * enter its pages: @obj's from m->offset, or the contiguous host range at
 * @dma for a kernel mapping.
 */
static int lumen_vm_insert_locked(struct lumen_vm *vm, struct lumen_vm_mapping *m, u64 va,
				  u64 size, dma_addr_t dma, u64 prot)
{
	int ret;

	lockdep_assert_held(&vm->lock);

	m->node.start = va;
	m->node.size = size;
	ret = drm_mm_reserve_node(&vm->mm, &m->node);
	if (ret)
		return ret == -ENOSPC ? -EEXIST : ret;

	if (m->obj)
		ret = lumen_bo_map_range(to_lumen_bo(m->obj), &vm->pt, va, m->offset, size, prot);
	else
		ret = lumen_mmu_map(&vm->pt, va, dma, size, prot | LUMEN_PTE_TARGET_HOST);
	if (ret) {
		lumen_vm_clear_range_locked(vm, va, size);
		drm_mm_remove_node(&m->node);
		return ret;
	}

	/* Translations of unmapped VAs may be cached too. */
	lumen_mmu_invalidate(vm->ldev, vm->ctx_id);
	list_add_tail(&m->link, &vm->mappings);
	return 0;
}

/**
 * lumen_vm_map_kernel() - map host DMA memory at a kernel VA
 * @vm: context
 * @va: device VA, 4 KiB aligned, in [LUMEN_VA_KERNEL_START,
 *	DRM_LUMEN_VA_USER_START)
 * @dma: bus address of physically contiguous host memory, 4 KiB aligned
 *	(e.g. from dma_alloc_coherent())
 * @size: bytes, 4 KiB aligned, non-zero
 * @writable: the device may write it
 *
 * The memory must stay allocated until lumen_vm_unmap_kernel() or the
 * context's lumen_vm_fini(), whichever comes first.
 *
 * Return: 0; -EINVAL for bad arguments; -EEXIST if the range overlaps a
 * mapping; -ENOMEM.
 */
int lumen_vm_map_kernel(struct lumen_vm *vm, u64 va, dma_addr_t dma, u64 size, bool writable)
{
	struct lumen_vm_mapping *m;
	u64 end, prot;
	int ret;

	if (!size || !IS_ALIGNED(va | dma | size, SZ_4K) || va < LUMEN_VA_KERNEL_START ||
	    check_add_overflow(va, size, &end) || end > DRM_LUMEN_VA_USER_START)
		return -EINVAL;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return -ENOMEM;

	/* Out of reach of user-mode queues, whose descriptors no one checks. */
	prot = LUMEN_PTE_READ | (writable ? LUMEN_PTE_WRITE : 0);
	if (vm->ldev->id.caps & LUMEN_DRIVER_CAPS & LUMEN_CAP_USER_QUEUES)
		prot |= LUMEN_PTE_PRIV;

	mutex_lock(&vm->lock);
	ret = lumen_vm_insert_locked(vm, m, va, size, dma, prot);
	mutex_unlock(&vm->lock);
	if (ret)
		kfree(m);
	return ret;
}

/**
 * lumen_vm_unmap_kernel() - undo lumen_vm_map_kernel()
 * @vm: context
 * @va: the @va it was mapped at
 * @size: its @size
 *
 * The device's cached translations are dropped on return, so the memory may
 * be freed afterwards. Warns if no such kernel mapping exists.
 */
void lumen_vm_unmap_kernel(struct lumen_vm *vm, u64 va, u64 size)
{
	struct lumen_vm_mapping *m;

	mutex_lock(&vm->lock);
	m = lumen_vm_find_locked(vm, va);
	if (!WARN_ON(!m || m->obj || m->node.size != size)) {
		lumen_vm_clear_range_locked(vm, va, size);
		lumen_vm_mapping_free_locked(vm, m);
	}
	mutex_unlock(&vm->lock);
}

/**
 * lumen_vm_range_mapped_locked() - is a VA range wholly covered by user mappings
 * @vm: context, &lumen_vm.lock held
 * @va: start
 * @size: bytes, non-zero, @va + @size without overflow
 * @writable: every mapping of the range must also be device-writable
 *
 * Return: true if VM_BIND mappings cover [@va, @va + @size) without a gap
 * (and all are writable if asked).
 */
bool lumen_vm_range_mapped_locked(struct lumen_vm *vm, u64 va, u64 size, bool writable)
{
	struct drm_mm_node *node;
	u64 next = va, end = va + size;

	lockdep_assert_held(&vm->lock);

	/* The nodes come in address order. */
	drm_mm_for_each_node_in_range(node, &vm->mm, va, end) {
		struct lumen_vm_mapping *m = container_of(node, struct lumen_vm_mapping, node);

		if (node->start > next || !m->obj || (writable && !m->writable))
			return false;
		next = node->start + node->size;
		if (next >= end)
			return true;
	}
	return false;
}

static int lumen_vm_bind_map(struct lumen_vm *vm, struct drm_file *file,
			     struct drm_lumen_vm_bind *args)
{
	struct lumen_vm_mapping *m;
	struct drm_gem_object *obj;
	struct lumen_bo *bo;
	u64 prot = LUMEN_PTE_READ;
	u64 end;
	int ret;

	if (args->flags & ~DRM_LUMEN_VM_READ_ONLY)
		return -EINVAL;
	if (check_add_overflow(args->offset, args->size, &end) || !IS_ALIGNED(args->offset, SZ_4K))
		return -EINVAL;

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	bo = to_lumen_bo(obj);

	if (end > obj->size) {
		ret = -EINVAL;
		goto err_put;
	}
	if (!(args->flags & DRM_LUMEN_VM_READ_ONLY) && !(bo->flags & DRM_LUMEN_BO_READ_ONLY))
		prot |= LUMEN_PTE_WRITE;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		ret = -ENOMEM;
		goto err_put;
	}
	m->obj = obj;
	m->offset = args->offset;
	m->writable = prot & LUMEN_PTE_WRITE;

	ret = lumen_bo_pin(bo);
	if (ret)
		goto err_free;

	mutex_lock(&vm->lock);
	if (vm->num_user_mappings >= READ_ONCE(lumen_max_file_mappings)) {
		ret = -ENOSPC;
	} else {
		ret = lumen_vm_insert_locked(vm, m, args->va, args->size, 0, prot);
		if (!ret)
			vm->num_user_mappings++;
	}
	mutex_unlock(&vm->lock);
	if (ret)
		goto err_unpin;
	/* The mapping keeps the pin and the lookup's reference. */
	return 0;

err_unpin:
	lumen_bo_unpin(bo);
err_free:
	kfree(m);
err_put:
	drm_gem_object_put(obj);
	return ret;
}

/*
 * Unmap: on success *@zp is the zombie holding what was unmapped, for the
 * caller to arm with lumen_vm_zombie_arm() once it dropped the reset lock
 * (collecting the fences may wait, if memory is short).
 */
static int lumen_vm_bind_unmap(struct lumen_file *lfile, struct drm_lumen_vm_bind *args,
			       struct lumen_vm_zombie **zp)
{
	struct lumen_vm *vm = &lfile->vm;
	struct lumen_vm_mapping *m;
	struct lumen_vm_zombie *z;
	int ret = 0;

	if (args->handle || args->offset || args->flags)
		return -EINVAL;

	z = kzalloc(sizeof(*z), GFP_KERNEL_ACCOUNT);
	if (!z)
		return -ENOMEM;
	z->vm = vm;
	INIT_LIST_HEAD(&z->tables);
	INIT_WORK(&z->work, lumen_vm_zombie_work);

	mutex_lock(&vm->lock);
	m = lumen_vm_find_locked(vm, args->va);
	if (!m || !m->obj) {
		ret = -ENOENT;
	} else if (m->node.size != args->size) {
		ret = -EINVAL;
	} else if (lumen_window_overlaps_locked(vm, args->va, args->size)) {
		/* Other chips may be writing it: close the window first. */
		ret = -EBUSY;
	} else {
		/* From here on no job of the context reaches the range... */
		lumen_mmu_unmap(&vm->pt, args->va, args->size, &z->tables);
		lumen_mmu_invalidate(vm->ldev, vm->ctx_id);
		/* ...but one already running may: the zombie keeps the pages. */
		z->obj = m->obj;
		m->obj = NULL;
		lumen_vm_mapping_free_locked(vm, m);
		vm->num_user_mappings--;
		list_add_tail(&z->link, &vm->zombies);
	}
	mutex_unlock(&vm->lock);

	if (ret) {
		kfree(z);
		return ret;
	}
	*zp = z;
	return 0;
}

/**
 * lumen_vm_bind_ioctl() - DRM_IOCTL_LUMEN_VM_BIND
 * @drm: DRM device
 * @data: &struct drm_lumen_vm_bind
 * @file: caller
 *
 * Return: 0; -EINVAL for a bad op, flags, alignment, range, offset or size,
 * or reserved fields; -ENOENT for an unknown handle (MAP) or no mapping
 * starting at @va (UNMAP); -EEXIST if a MAP overlaps a mapping; -EBUSY for
 * an UNMAP of memory an open remote window covers; -ENOMEM; -ENODEV once
 * the card is gone.
 */
int lumen_vm_bind_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_file *lfile = file->driver_priv;
	struct drm_lumen_vm_bind *args = data;
	struct lumen_vm_zombie *z = NULL;
	bool has_ctx;
	u64 end;
	int ret, idx;

	if (args->reserved || (args->op != DRM_LUMEN_VM_MAP && args->op != DRM_LUMEN_VM_UNMAP))
		return -EINVAL;
	if (!args->size || !IS_ALIGNED(args->va | args->size, SZ_4K))
		return -EINVAL;
	if (args->va < DRM_LUMEN_VA_USER_START || check_add_overflow(args->va, args->size, &end) ||
	    end > DRM_LUMEN_VA_USER_END)
		return -EINVAL;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	/* Page tables and TLB invalidations: not under a reset's feet. */
	ret = lumen_reset_read_lock(lfile);
	if (ret)
		goto out_exit;

	if (args->op == DRM_LUMEN_VM_MAP) {
		ret = lumen_file_get_ctx(lfile);
		if (!ret)
			ret = lumen_vm_bind_map(&lfile->vm, file, args);
	} else {
		/* Pairs with lumen_file_get_ctx(); no context: nothing mapped. */
		has_ctx = smp_load_acquire(&lfile->has_ctx);
		ret = has_ctx ? lumen_vm_bind_unmap(lfile, args, &z) : -ENOENT;
	}

	lumen_reset_read_unlock(lfile->ldev);
	/* Every job submitted before the invalidation is covered. */
	if (z)
		lumen_vm_zombie_arm(z, lumen_uctx_busy_fence(lfile->uctx));
out_exit:
	drm_dev_exit(idx);
	return ret;
}
