// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: buffer objects, mmap and PRIME.
 *
 * Three placements, fixed at creation:
 *
 *   DEVICE   device memory from the drm_buddy allocator (lumen_devmem.c).
 *            A private GEM object; CPU mmap goes through BAR2,
 *            write-combined, one PFN per fault. Exportable as a dma-buf,
 *            but only this driver can map it (get_sg_table fails for
 *            foreign importers: no peer-to-peer DMA).
 *   HOST     a GEM shmem object. Its pages are pinned while the BO is
 *            mapped into a device address space; CPU mmap by the helper.
 *   USERPTR  the caller's pages, pinned (FOLL_LONGTERM) and DMA-mapped for
 *            the BO's whole life. Never mmap'ed through the accel fd.
 *
 * Foreign dma-bufs are imported as shmem objects wrapping the exporter's
 * sg_table (kind IMPORT, reported as HOST). A dma-buf exported by this
 * device and imported on the same device resolves to the same GEM object
 * (drm_gem_prime_import()), so another process can bind it.
 *
 * Every BO is counted per kind in &lumen_mem for DRM_LUMEN_QUERY_MEMORY and
 * the debugfs "bo_stats" file, from creation to its final free.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_prime.h>
#include <drm/drm_vma_manager.h>

#include <uapi/drm/lumen_accel.h>

#include "lumen_devmem.h"
#include "lumen_drv.h"
#include "lumen_gem.h"
#include "lumen_mmu.h"

/* drm_gem_shmem_free() frees the shmem object with kfree(). */
static_assert(offsetof(struct lumen_bo, base) == 0);
static_assert(sizeof(struct drm_lumen_bo_create) == 32);
static_assert(sizeof(struct drm_lumen_bo_info) == 32);
static_assert(sizeof(struct drm_lumen_memory_info) == 40);

#define LUMEN_BO_PLACEMENTS	(DRM_LUMEN_BO_DEVICE | DRM_LUMEN_BO_HOST | DRM_LUMEN_BO_USERPTR)
#define LUMEN_BO_CREATE_FLAGS	(LUMEN_BO_PLACEMENTS | DRM_LUMEN_BO_READ_ONLY)

static const char * const lumen_bo_kind_names[LUMEN_BO_KIND_COUNT] = {
	[LUMEN_BO_KIND_DEVICE] = "device",
	[LUMEN_BO_KIND_HOST] = "host",
	[LUMEN_BO_KIND_USERPTR] = "userptr",
	[LUMEN_BO_KIND_IMPORT] = "import",
};

static struct lumen_mem *lumen_bo_mem(struct lumen_bo *bo)
{
	return &to_lumen_device(bo->base.base.dev)->mem;
}

static void lumen_bo_account(struct lumen_bo *bo)
{
	struct lumen_mem *mem = lumen_bo_mem(bo);

	atomic_inc(&mem->bo_count[bo->kind]);
	atomic64_add(bo->base.base.size, &mem->bo_bytes[bo->kind]);
	bo->accounted = true;
}

static void lumen_bo_unaccount(struct lumen_bo *bo)
{
	struct lumen_mem *mem = lumen_bo_mem(bo);

	if (!bo->accounted)
		return;
	atomic_dec(&mem->bo_count[bo->kind]);
	atomic64_sub(bo->base.base.size, &mem->bo_bytes[bo->kind]);
	bo->accounted = false;
}

/* ---- HOST and imported BOs: GEM shmem ------------------------------------ */

static void lumen_shmem_bo_free(struct drm_gem_object *obj)
{
	struct lumen_bo *bo = to_lumen_bo(obj);

	lumen_bo_unaccount(bo);
	drm_gem_shmem_free(&bo->base);
}

static const struct drm_gem_object_funcs lumen_shmem_funcs = {
	.free = lumen_shmem_bo_free,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

/**
 * lumen_gem_create_object() - &drm_driver.gem_create_object
 * @drm: DRM device
 * @size: object size
 *
 * Allocates the &struct lumen_bo around the shmem objects the helpers
 * create (HOST BOs and imports).
 *
 * Return: the GEM object or an ERR_PTR().
 */
struct drm_gem_object *lumen_gem_create_object(struct drm_device *drm, size_t size)
{
	struct lumen_bo *bo;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL_ACCOUNT);
	if (!bo)
		return ERR_PTR(-ENOMEM);

	bo->base.base.funcs = &lumen_shmem_funcs;
	bo->flags = DRM_LUMEN_BO_HOST;
	bo->kind = LUMEN_BO_KIND_HOST;
	INIT_LIST_HEAD(&bo->blocks);
	return &bo->base.base;
}

/**
 * lumen_gem_prime_import_sg_table() - &drm_driver.gem_prime_import_sg_table
 * @drm: DRM device
 * @attach: attachment of this device to a foreign dma-buf
 * @sgt: the dma-buf's pages, mapped for this device
 *
 * Return: a new HOST-like BO wrapping @sgt, or an ERR_PTR().
 */
struct drm_gem_object *lumen_gem_prime_import_sg_table(struct drm_device *drm,
						       struct dma_buf_attachment *attach,
						       struct sg_table *sgt)
{
	struct drm_gem_object *obj;
	struct lumen_bo *bo;

	obj = drm_gem_shmem_prime_import_sg_table(drm, attach, sgt);
	if (IS_ERR(obj))
		return obj;

	bo = to_lumen_bo(obj);
	bo->kind = LUMEN_BO_KIND_IMPORT;
	lumen_bo_account(bo);
	return obj;
}

/*
 * Host BOs are pinned while the device may reach them (VM_BIND), so their
 * pages can be neither swapped nor reclaimed: the OOM killer could not free
 * them. All cards together pin at most max_pinned_host_mb (default: half
 * of RAM); a bind beyond fails with -ENOMEM instead of exhausting memory
 * (a 2 GiB bind on a 1 GiB machine did, found by lumen-fuzz).
 */
static unsigned int lumen_max_pinned_host_mb;
module_param_named(max_pinned_host_mb, lumen_max_pinned_host_mb, uint, 0644);
MODULE_PARM_DESC(max_pinned_host_mb,
		 "Host memory all lumen host BOs together may pin, MiB (0: half of RAM, the default)");

static atomic64_t lumen_pinned_host_bytes = ATOMIC64_INIT(0);

static u64 lumen_pinned_limit(void)
{
	unsigned int mb = READ_ONCE(lumen_max_pinned_host_mb);

	return mb ? (u64)mb << 20 : ((u64)totalram_pages() << PAGE_SHIFT) / 2;
}

static bool lumen_pinned_reserve(u64 bytes)
{
	u64 limit = lumen_pinned_limit();
	s64 old = atomic64_read(&lumen_pinned_host_bytes);

	do {
		if (bytes > limit || old > (s64)(limit - bytes))
			return false;
	} while (!atomic64_try_cmpxchg(&lumen_pinned_host_bytes, &old, old + bytes));
	return true;
}

static void lumen_pinned_release(u64 bytes)
{
	atomic64_sub(bytes, &lumen_pinned_host_bytes);
}

static struct lumen_bo *lumen_host_bo_create(struct lumen_device *ldev, u64 size)
{
	struct drm_gem_shmem_object *shmem;
	struct lumen_bo *bo;

	/* One that could never be pinned is refused at once. */
	if (size > lumen_pinned_limit())
		return ERR_PTR(-ENOMEM);

	shmem = drm_gem_shmem_create(&ldev->drm, size);
	if (IS_ERR(shmem))
		return ERR_CAST(shmem);

	bo = to_lumen_bo(&shmem->base);
	lumen_bo_account(bo);
	return bo;
}

/* ---- DEVICE BOs: device memory through BAR2 ------------------------------ */

static void lumen_devmem_bo_free(struct drm_gem_object *obj)
{
	struct lumen_bo *bo = to_lumen_bo(obj);
	struct lumen_mem *mem = lumen_bo_mem(bo);

	mutex_lock(&mem->devbos_lock);
	list_del(&bo->devbo_link);
	mutex_unlock(&mem->devbos_lock);
	lumen_bo_unaccount(bo);
	lumen_devmem_free(to_lumen_device(obj->dev), &bo->blocks);
	drm_gem_free_mmap_offset(obj);
	drm_gem_object_release(obj);
	kfree(bo);
}

/* Device memory is not reachable by other devices' DMA: no peer-to-peer. */
static struct sg_table *lumen_devmem_bo_get_sg_table(struct drm_gem_object *obj)
{
	return ERR_PTR(-EOPNOTSUPP);
}

/* Device-memory offset of byte @offset of a DEVICE BO, or U64_MAX. */
static u64 lumen_devmem_bo_addr(struct lumen_bo *bo, u64 offset)
{
	struct drm_buddy *buddy = &lumen_bo_mem(bo)->buddy;
	struct drm_buddy_block *block;
	u64 pos = 0;

	list_for_each_entry(block, &bo->blocks, link) {
		u64 len = drm_buddy_block_size(buddy, block);

		if (offset < pos + len)
			return drm_buddy_block_offset(block) + (offset - pos);
		pos += len;
	}
	return U64_MAX;
}

static vm_fault_t lumen_devmem_bo_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct drm_gem_object *obj = vma->vm_private_data;
	struct lumen_bo *bo = to_lumen_bo(obj);
	u64 page = vmf->pgoff - drm_vma_node_start(&obj->vma_node);
	u64 addr;
	vm_fault_t ret;
	int idx;

	if (page >= obj->size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;

	/* No BAR after unplug. */
	if (!drm_dev_enter(obj->dev, &idx))
		return VM_FAULT_SIGBUS;

	addr = lumen_devmem_bo_addr(bo, page << PAGE_SHIFT);
	if (addr == U64_MAX)
		ret = VM_FAULT_SIGBUS;
	else
		ret = vmf_insert_pfn(vma, vmf->address,
				     PHYS_PFN(lumen_bo_mem(bo)->bar_base + addr));

	drm_dev_exit(idx);
	return ret;
}

/*
 * A VM_PFNMAP mapping must not be copy-on-write (vmf_insert_pfn() BUGs on a
 * MAP_PRIVATE one): only shared mappings, write-combined, faulted in above.
 */
static int lumen_devmem_bo_mmap(struct drm_gem_object *obj, struct vm_area_struct *vma)
{
	if (is_cow_mapping(vma->vm_flags))
		return -EINVAL;

	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_writecombine(vm_get_page_prot(vma->vm_flags));
	vma->vm_page_prot = pgprot_decrypted(vma->vm_page_prot);
	return 0;
}

static const struct vm_operations_struct lumen_devmem_vm_ops = {
	.fault = lumen_devmem_bo_fault,
	.open = drm_gem_vm_open,
	.close = drm_gem_vm_close,
};

static const struct drm_gem_object_funcs lumen_devmem_funcs = {
	.free = lumen_devmem_bo_free,
	.get_sg_table = lumen_devmem_bo_get_sg_table,
	.mmap = lumen_devmem_bo_mmap,
	.vm_ops = &lumen_devmem_vm_ops,
};

static struct lumen_bo *lumen_devmem_bo_create(struct lumen_device *ldev, u64 size)
{
	struct lumen_bo *bo;
	int ret;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL_ACCOUNT);
	if (!bo)
		return ERR_PTR(-ENOMEM);

	INIT_LIST_HEAD(&bo->blocks);
	bo->flags = DRM_LUMEN_BO_DEVICE;
	bo->kind = LUMEN_BO_KIND_DEVICE;
	bo->base.base.funcs = &lumen_devmem_funcs;
	drm_gem_private_object_init(&ldev->drm, &bo->base.base, size);
	/* Listed for lumen_gem_unplug(): its dma-buf mmaps point at the BAR. */
	mutex_lock(&ldev->mem.devbos_lock);
	list_add(&bo->devbo_link, &ldev->mem.devbos);
	mutex_unlock(&ldev->mem.devbos_lock);

	ret = lumen_devmem_alloc(ldev, size, &bo->blocks);
	if (ret)
		goto err_put;

	ret = drm_gem_create_mmap_offset(&bo->base.base);
	if (ret)
		goto err_put;

	lumen_bo_account(bo);
	return bo;

err_put:
	/* The free function copes with a partly constructed BO. */
	drm_gem_object_put(&bo->base.base);
	return ERR_PTR(ret);
}

/* ---- USERPTR BOs: pinned user pages ------------------------------------- */

static void lumen_userptr_bo_free(struct drm_gem_object *obj)
{
	struct lumen_bo *bo = to_lumen_bo(obj);
	bool writable = !(bo->flags & DRM_LUMEN_BO_READ_ONLY);

	lumen_bo_unaccount(bo);
	if (bo->sgt) {
		dma_unmap_sgtable(obj->dev->dev, bo->sgt,
				  writable ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE, 0);
		sg_free_table(bo->sgt);
		kfree(bo->sgt);
	}
	if (bo->pages) {
		unpin_user_pages_dirty_lock(bo->pages, bo->npages, writable);
		kvfree(bo->pages);
		atomic64_sub(bo->npages, &bo->mm->pinned_vm);
		mmdrop(bo->mm);
	}
	drm_gem_object_release(obj);
	kfree(bo);
}

static struct sg_table *lumen_userptr_bo_get_sg_table(struct drm_gem_object *obj)
{
	struct lumen_bo *bo = to_lumen_bo(obj);

	/* An importer may write: never export pages pinned read-only. */
	if (bo->flags & DRM_LUMEN_BO_READ_ONLY)
		return ERR_PTR(-EOPNOTSUPP);
	return drm_prime_pages_to_sg(obj->dev, bo->pages, bo->npages);
}

/*
 * A user-pointer BO is the caller's own memory: there is nothing to map.
 * This must exist nonetheless: without it, an mmap of its dma-buf takes
 * drm_gem_prime_mmap()'s fallback, which assumes a primary DRM node and
 * dereferences NULL on an accel device (found by lumen-fuzz).
 */
static int lumen_userptr_bo_mmap(struct drm_gem_object *obj, struct vm_area_struct *vma)
{
	return -EOPNOTSUPP;
}

static const struct drm_gem_object_funcs lumen_userptr_funcs = {
	.free = lumen_userptr_bo_free,
	.get_sg_table = lumen_userptr_bo_get_sg_table,
	.mmap = lumen_userptr_bo_mmap,
};

static int lumen_userptr_pin(struct lumen_bo *bo, u64 userptr, bool writable)
{
	unsigned int gup = FOLL_LONGTERM | (writable ? FOLL_WRITE : 0);
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	struct mm_struct *mm = current->mm;
	unsigned long pinned = 0;
	int ret;

	/* Long-term pins count against RLIMIT_MEMLOCK, like RDMA's. */
	if (atomic64_add_return(bo->npages, &mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(bo->npages, &mm->pinned_vm);
		return -ENOMEM;
	}

	bo->pages = kvmalloc_array(bo->npages, sizeof(*bo->pages), GFP_KERNEL_ACCOUNT);
	if (!bo->pages) {
		atomic64_sub(bo->npages, &mm->pinned_vm);
		return -ENOMEM;
	}

	while (pinned < bo->npages) {
		unsigned long chunk = min_t(unsigned long, bo->npages - pinned, SZ_64K);

		ret = pin_user_pages_fast(userptr + (pinned << PAGE_SHIFT), chunk, gup,
					  bo->pages + pinned);
		if (ret <= 0) {
			ret = ret ? ret : -EFAULT;
			goto err_unpin;
		}
		pinned += ret;
	}
	bo->mm = mm;
	mmgrab(mm);
	return 0;

err_unpin:
	unpin_user_pages(bo->pages, pinned);
	kvfree(bo->pages);
	bo->pages = NULL;
	atomic64_sub(bo->npages, &mm->pinned_vm);
	/* Unmapped, PROT_NONE or I/O memory: not the caller's memory. */
	return ret == -ENOMEM ? ret : -EFAULT;
}

static struct lumen_bo *lumen_userptr_bo_create(struct lumen_device *ldev, u64 userptr,
						u64 size, u32 flags)
{
	bool writable = !(flags & DRM_LUMEN_BO_READ_ONLY);
	struct lumen_bo *bo;
	int ret;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL_ACCOUNT);
	if (!bo)
		return ERR_PTR(-ENOMEM);

	INIT_LIST_HEAD(&bo->blocks);
	bo->flags = flags;
	bo->kind = LUMEN_BO_KIND_USERPTR;
	bo->npages = size >> PAGE_SHIFT;
	bo->base.base.funcs = &lumen_userptr_funcs;
	drm_gem_private_object_init(&ldev->drm, &bo->base.base, size);

	ret = lumen_userptr_pin(bo, userptr, writable);
	if (ret)
		goto err_put;

	bo->sgt = kzalloc(sizeof(*bo->sgt), GFP_KERNEL_ACCOUNT);
	if (!bo->sgt) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = sg_alloc_table_from_pages(bo->sgt, bo->pages, bo->npages, 0, size, GFP_KERNEL);
	if (ret) {
		kfree(bo->sgt);
		bo->sgt = NULL;
		goto err_put;
	}
	ret = dma_map_sgtable(ldev->drm.dev, bo->sgt,
			      writable ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE, 0);
	if (ret) {
		sg_free_table(bo->sgt);
		kfree(bo->sgt);
		bo->sgt = NULL;
		goto err_put;
	}

	lumen_bo_account(bo);
	return bo;

err_put:
	drm_gem_object_put(&bo->base.base);
	return ERR_PTR(ret);
}

/* ---- ioctls ------------------------------------------------------------- */

static bool lumen_is_lumen_bo(struct drm_gem_object *obj)
{
	return obj->funcs == &lumen_shmem_funcs || obj->funcs == &lumen_devmem_funcs ||
	       obj->funcs == &lumen_userptr_funcs;
}

/**
 * lumen_bo_create_ioctl() - DRM_IOCTL_LUMEN_BO_CREATE
 * @drm: DRM device
 * @data: &struct drm_lumen_bo_create
 * @file: caller
 *
 * Return: 0; -EINVAL for bad flags, size, alignment or reserved fields;
 * -ENOMEM / -ENOSPC when host / device memory is exhausted; -EFAULT if a
 * user pointer range is not mapped; -ENODEV once the card is gone.
 */
int lumen_bo_create_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_bo_create *args = data;
	u32 placement = args->flags & LUMEN_BO_PLACEMENTS;
	struct lumen_bo *bo;
	u64 size, end;
	u32 handle;
	int ret, idx;

	if (args->reserved || (args->flags & ~LUMEN_BO_CREATE_FLAGS) ||
	    hweight32(placement) != 1)
		return -EINVAL;
	if ((args->flags & DRM_LUMEN_BO_READ_ONLY) && placement != DRM_LUMEN_BO_USERPTR)
		return -EINVAL;
	if (!args->size || args->size > DRM_LUMEN_BO_MAX_SIZE)
		return -EINVAL;
	size = PAGE_ALIGN(args->size);

	if (placement == DRM_LUMEN_BO_USERPTR) {
		if (!PAGE_ALIGNED(args->userptr) || check_add_overflow(args->userptr, size, &end))
			return -EINVAL;
		if (!access_ok(u64_to_user_ptr(args->userptr), size))
			return -EFAULT;
	} else if (args->userptr) {
		return -EINVAL;
	}

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;

	switch (placement) {
	case DRM_LUMEN_BO_DEVICE:
		bo = lumen_devmem_bo_create(ldev, size);
		break;
	case DRM_LUMEN_BO_HOST:
		bo = lumen_host_bo_create(ldev, size);
		if (!IS_ERR(bo)) {
			ret = drm_gem_create_mmap_offset(&bo->base.base);
			if (ret) {
				drm_gem_object_put(&bo->base.base);
				bo = ERR_PTR(ret);
			}
		}
		break;
	default:
		bo = lumen_userptr_bo_create(ldev, args->userptr, size, args->flags);
		break;
	}

	drm_dev_exit(idx);

	if (IS_ERR(bo))
		return PTR_ERR(bo);

	ret = drm_gem_handle_create(file, &bo->base.base, &handle);
	/* The handle holds the reference now (or the BO goes away). */
	drm_gem_object_put(&bo->base.base);
	if (ret)
		return ret;

	args->size = size;
	args->handle = handle;
	return 0;
}

/**
 * lumen_bo_info_ioctl() - DRM_IOCTL_LUMEN_BO_INFO
 * @drm: DRM device
 * @data: &struct drm_lumen_bo_info
 * @file: caller
 *
 * Return: 0; -EINVAL for a non-zero reserved field; -ENOENT for an unknown
 * handle; -ENOMEM if no mmap offset could be allocated.
 */
int lumen_bo_info_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_lumen_bo_info *args = data;
	struct drm_gem_object *obj;
	struct lumen_bo *bo;
	u64 offset = 0;
	int ret = 0;

	if (args->reserved)
		return -EINVAL;

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	if (WARN_ON_ONCE(!lumen_is_lumen_bo(obj))) {
		ret = -EINVAL;
		goto out_put;
	}
	bo = to_lumen_bo(obj);

	if (bo->kind != LUMEN_BO_KIND_USERPTR) {
		ret = drm_gem_create_mmap_offset(obj);
		if (ret)
			goto out_put;
		offset = drm_vma_node_offset_addr(&obj->vma_node);
	}

	args->flags = bo->flags;
	args->size = obj->size;
	args->mmap_offset = offset;

out_put:
	drm_gem_object_put(obj);
	return ret;
}

/* ---- device mapping support for lumen_vm.c ------------------------------ */

/**
 * lumen_bo_pin() - keep a BO's backing in place while it is device-mapped
 * @bo: buffer object
 *
 * DEVICE and USERPTR memory never moves and imports are pinned by their
 * attachment; HOST BOs pin their shmem pages. Balance with lumen_bo_unpin().
 *
 * Return: 0 or a negative errno.
 */
int lumen_bo_pin(struct lumen_bo *bo)
{
	struct drm_gem_object *obj = &bo->base.base;
	int ret;

	if (bo->kind != LUMEN_BO_KIND_HOST)
		return 0;

	/* The first pin of a BO takes its size from the machine's budget. */
	dma_resv_lock(obj->resv, NULL);
	if (!bo->host_pins && !lumen_pinned_reserve(obj->size)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = drm_gem_shmem_pin_locked(&bo->base);
	if (!ret)
		bo->host_pins++;
	else if (!bo->host_pins)
		lumen_pinned_release(obj->size);
out:
	dma_resv_unlock(obj->resv);
	return ret;
}

/**
 * lumen_bo_unpin() - undo lumen_bo_pin()
 * @bo: buffer object
 */
void lumen_bo_unpin(struct lumen_bo *bo)
{
	struct drm_gem_object *obj = &bo->base.base;

	if (bo->kind != LUMEN_BO_KIND_HOST)
		return;
	dma_resv_lock(obj->resv, NULL);
	drm_gem_shmem_unpin_locked(&bo->base);
	if (!--bo->host_pins)
		lumen_pinned_release(obj->size);
	dma_resv_unlock(obj->resv);
}

struct lumen_map_walk {
	struct lumen_mmu_pt *pt;
	u64 va;
	u64 start;
	u64 end;
	u64 prot;
	u64 pos;
};

/* Map the part of backing segment [pos, pos + len) at @addr that is in range. */
static int lumen_map_segment(struct lumen_map_walk *w, u64 addr, u64 len)
{
	u64 s = max(w->pos, w->start);
	u64 e = min(w->pos + len, w->end);
	int ret = 0;

	if (s < e) {
		if (!IS_ALIGNED(addr | len, SZ_4K))
			return -EINVAL;
		ret = lumen_mmu_map(w->pt, w->va + (s - w->start), addr + (s - w->pos), e - s,
				    w->prot);
	}
	w->pos += len;
	return ret;
}

/**
 * lumen_bo_map_range() - enter part of a BO into page tables
 * @bo: pinned buffer object
 * @pt: page tables
 * @va: device VA of byte @offset
 * @offset: first byte of the BO, 4 KiB aligned
 * @size: bytes, 4 KiB aligned; @offset + @size within the BO (checked by
 *	the caller)
 * @prot: LUMEN_PTE_READ / LUMEN_PTE_WRITE
 *
 * Device memory maps with target DEVMEM, everything else with the DMA
 * addresses of its pages (target HOST). On error part of the range may be
 * mapped; the caller unmaps [@va, @va + @size).
 *
 * Return: 0 or a negative errno.
 */
int lumen_bo_map_range(struct lumen_bo *bo, struct lumen_mmu_pt *pt, u64 va, u64 offset,
		       u64 size, u64 prot)
{
	struct lumen_map_walk w = {
		.pt = pt, .va = va, .start = offset, .end = offset + size,
	};
	struct drm_buddy_block *block;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;
	int ret;

	if (bo->kind == LUMEN_BO_KIND_DEVICE) {
		struct drm_buddy *buddy = &lumen_bo_mem(bo)->buddy;

		w.prot = prot | LUMEN_PTE_TARGET_DEVMEM;
		list_for_each_entry(block, &bo->blocks, link) {
			ret = lumen_map_segment(&w, drm_buddy_block_offset(block),
						drm_buddy_block_size(buddy, block));
			if (ret)
				return ret;
			if (w.pos >= w.end)
				return 0;
		}
		return -EINVAL;
	}

	switch (bo->kind) {
	case LUMEN_BO_KIND_HOST:
		sgt = drm_gem_shmem_get_pages_sgt(&bo->base);
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		break;
	case LUMEN_BO_KIND_IMPORT:
		sgt = bo->base.sgt;
		break;
	default:
		sgt = bo->sgt;
		break;
	}
	if (!sgt)
		return -EINVAL;

	w.prot = prot | LUMEN_PTE_TARGET_HOST;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		ret = lumen_map_segment(&w, sg_dma_address(sg), sg_dma_len(sg));
		if (ret)
			return ret;
		if (w.pos >= w.end)
			return 0;
	}
	/* The backing is shorter than the BO claims. */
	return -EINVAL;
}

/* ---- helpers for the job side ------------------------------------------- */

/**
 * lumen_gem_lookup_bos() - look up an array of user GEM handles
 * @file: caller
 * @user_handles: user pointer to @count __u32 handles
 * @count: number of handles, 0..DRM_LUMEN_MAX_BOS (checked by the caller)
 * @objs: out, kvmalloc'ed array of @count referenced objects (NULL if
 *	@count is 0); release with lumen_gem_put_bos()
 *
 * Return: 0; -ENOENT for an unknown handle; -EFAULT; -ENOMEM.
 */
int lumen_gem_lookup_bos(struct drm_file *file, u64 user_handles, u32 count,
			 struct drm_gem_object ***objs)
{
	*objs = NULL;
	if (!count)
		return 0;
	if (count > DRM_LUMEN_MAX_BOS)
		return -EINVAL;
	return drm_gem_objects_lookup(file, u64_to_user_ptr(user_handles), count, objs);
}

/**
 * lumen_gem_put_bos() - release the array of lumen_gem_lookup_bos()
 * @objs: array, may be NULL
 * @count: its entries
 */
void lumen_gem_put_bos(struct drm_gem_object **objs, u32 count)
{
	u32 i;

	if (!objs)
		return;
	for (i = 0; i < count; i++)
		if (objs[i])
			drm_gem_object_put(objs[i]);
	kvfree(objs);
}

/**
 * lumen_gem_unplug() - revoke CPU mappings of BOs when the card goes away
 * @ldev: device, after drm_dev_unplug()
 *
 * Zaps every mmap of the device's BOs, through the accel files and through
 * the dma-bufs exported from device-memory BOs (a dma-buf mmap lives in
 * the dma-buf file's own mapping). Device-memory BOs then fault with
 * SIGBUS (no BAR anymore); shmem BOs simply fault their pages back in.
 */
void lumen_gem_unplug(struct lumen_device *ldev)
{
	struct lumen_bo *bo;

	if (ldev->drm.anon_inode)
		unmap_mapping_range(ldev->drm.anon_inode->i_mapping, 0, 0, 1);

	/* object_name_lock: obj->dma_buf is set and cleared under it. */
	mutex_lock(&ldev->drm.object_name_lock);
	mutex_lock(&ldev->mem.devbos_lock);
	list_for_each_entry(bo, &ldev->mem.devbos, devbo_link) {
		struct dma_buf *dmabuf = bo->base.base.dma_buf;

		if (dmabuf)
			unmap_mapping_range(dmabuf->file->f_mapping, 0, 0, 1);
	}
	mutex_unlock(&ldev->mem.devbos_lock);
	mutex_unlock(&ldev->drm.object_name_lock);
}

/* ---- accounting --------------------------------------------------------- */

/**
 * lumen_gem_memory_info() - fill &struct drm_lumen_memory_info
 * @ldev: device
 * @file: caller, whose handles are summed up
 * @info: out
 */
void lumen_gem_memory_info(struct lumen_device *ldev, struct drm_file *file,
			   struct drm_lumen_memory_info *info)
{
	struct drm_gem_object *obj;
	int id;

	memset(info, 0, sizeof(*info));
	info->total = ldev->mem.size;
	info->free = lumen_devmem_avail(ldev);

	spin_lock(&file->table_lock);
	idr_for_each_entry(&file->object_idr, obj, id) {
		if (!obj || !lumen_is_lumen_bo(obj))
			continue;
		info->ctx_bo_count++;
		if (to_lumen_bo(obj)->kind == LUMEN_BO_KIND_DEVICE)
			info->ctx_device_bytes += obj->size;
		else
			info->ctx_host_bytes += obj->size;
	}
	spin_unlock(&file->table_lock);
}

/**
 * lumen_gem_fdinfo_stats() - memory of a file's handles, for DRM fdinfo
 * @file: the file
 * @device: out, its BOs in device memory
 * @host: out, its BOs in host memory (shmem and user pointers)
 *
 * A BO that another file or a dma-buf also holds counts as shared. Every
 * BO of this driver is resident: device memory and pinned host pages.
 */
void lumen_gem_fdinfo_stats(struct drm_file *file, struct drm_memory_stats *device,
			    struct drm_memory_stats *host)
{
	struct drm_memory_stats *st;
	struct drm_gem_object *obj;
	int id;

	memset(device, 0, sizeof(*device));
	memset(host, 0, sizeof(*host));
	spin_lock(&file->table_lock);
	idr_for_each_entry(&file->object_idr, obj, id) {
		if (!obj || !lumen_is_lumen_bo(obj))
			continue;
		st = to_lumen_bo(obj)->kind == LUMEN_BO_KIND_DEVICE ? device : host;
		if (obj->handle_count > 1 || obj->dma_buf)
			st->shared += obj->size;
		else
			st->private += obj->size;
		st->resident += obj->size;
	}
	spin_unlock(&file->table_lock);
}

/**
 * lumen_gem_stats_show() - debugfs "bo_stats": live BOs device-wide
 * @ldev: device
 * @m: output
 */
void lumen_gem_stats_show(struct lumen_device *ldev, struct seq_file *m)
{
	struct lumen_mem *mem = &ldev->mem;
	u64 total_bytes = 0;
	int total = 0;
	unsigned int k;

	seq_printf(m, "%-8s %8s %14s\n", "kind", "objects", "bytes");
	for (k = 0; k < LUMEN_BO_KIND_COUNT; k++) {
		int n = atomic_read(&mem->bo_count[k]);
		u64 b = atomic64_read(&mem->bo_bytes[k]);

		seq_printf(m, "%-8s %8d %14llu\n", lumen_bo_kind_names[k], n, b);
		total += n;
		total_bytes += b;
	}
	seq_printf(m, "%-8s %8d %14llu\n", "total", total, total_bytes);
	seq_printf(m, "devmem_total %llu\n", mem->size);
	seq_printf(m, "devmem_free  %llu\n", lumen_devmem_avail(ldev));
}
