// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: device memory allocator.
 *
 * BAR2 exposes the whole device memory; BAR2 offset x is device-memory
 * offset x, the address a DEVMEM page-table entry holds. A drm_buddy
 * allocator with 4 KiB chunks hands out ranges of it. Allocations of a
 * multiple of 2 MiB ask for 2 MiB blocks first so that they can be mapped
 * with 2 MiB device pages (buddy blocks are naturally aligned), and fall
 * back to 4 KiB blocks when memory is too fragmented for that.
 *
 * New allocations are cleared through a write-combined mapping of the BAR:
 * device memory is shared by all contexts and must not leak between them.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/io.h>
#include <linux/pci.h>
#include <linux/sizes.h>

#include <drm/drm_managed.h>

#include "lumen_devmem.h"
#include "lumen_drv.h"

static void lumen_devmem_release(struct drm_device *drm, void *arg)
{
	struct lumen_mem *mem = &to_lumen_device(drm)->mem;

	if (mem->buddy_ready)
		drm_buddy_fini(&mem->buddy);
	ida_destroy(&mem->ctx_ida);
}

/**
 * lumen_devmem_init() - set up device memory management
 * @ldev: device after lumen_hw_init() (mem_size known)
 *
 * Claims BAR2, maps it write-combined and creates the buddy allocator.
 * Also initializes the context id allocator and the accounting counters.
 *
 * Return: 0 or a negative errno.
 */
int lumen_devmem_init(struct lumen_device *ldev)
{
	struct pci_dev *pdev = ldev->pdev;
	struct device *dev = lumen_dev(ldev);
	struct lumen_mem *mem = &ldev->mem;
	unsigned int i;
	int ret;

	mutex_init(&mem->lock);
	mutex_init(&mem->mmu_lock);
	mutex_init(&mem->devbos_lock);
	INIT_LIST_HEAD(&mem->devbos);
	ida_init(&mem->ctx_ida);
	for (i = 0; i < LUMEN_BO_KIND_COUNT; i++) {
		atomic_set(&mem->bo_count[i], 0);
		atomic64_set(&mem->bo_bytes[i], 0);
	}
	mem->size = ldev->id.mem_size;

	ret = drmm_add_action(&ldev->drm, lumen_devmem_release, NULL);
	if (ret)
		return ret;

	if (!(pci_resource_flags(pdev, LUMEN_BAR_MEM) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, LUMEN_BAR_MEM) < mem->size) {
		dev_err(dev, "BAR%d is not a memory BAR of at least %llu bytes\n",
			LUMEN_BAR_MEM, mem->size);
		return -ENODEV;
	}

	ret = pcim_request_region(pdev, LUMEN_BAR_MEM, DRIVER_NAME);
	if (ret) {
		dev_err(dev, "cannot claim BAR%d: %pe\n", LUMEN_BAR_MEM, ERR_PTR(ret));
		return ret;
	}
	mem->bar_base = pci_resource_start(pdev, LUMEN_BAR_MEM);
	mem->bar = devm_ioremap_wc(dev, mem->bar_base, mem->size);
	if (!mem->bar) {
		dev_err(dev, "cannot map BAR%d\n", LUMEN_BAR_MEM);
		return -ENOMEM;
	}

	ret = drm_buddy_init(&mem->buddy, mem->size, SZ_4K);
	if (ret) {
		dev_err(dev, "cannot initialize the device memory allocator: %pe\n",
			ERR_PTR(ret));
		return ret;
	}
	mem->buddy_ready = true;
	return 0;
}

/**
 * lumen_devmem_alloc() - allocate and clear device memory
 * @ldev: device; caller is inside drm_dev_enter()
 * @size: bytes, 4 KiB aligned, non-zero
 * @blocks: out, list of &struct drm_buddy_block covering @size bytes in
 *	order; free with lumen_devmem_free()
 *
 * Return: 0, -ENOSPC when device memory is exhausted, -EINVAL for a bad
 * size.
 */
int lumen_devmem_alloc(struct lumen_device *ldev, u64 size, struct list_head *blocks)
{
	struct lumen_mem *mem = &ldev->mem;
	struct drm_buddy_block *block;
	int ret = -ENOSPC;

	if (!size || !IS_ALIGNED(size, SZ_4K) || size > mem->size)
		return size > mem->size ? -ENOSPC : -EINVAL;

	mutex_lock(&mem->lock);
	if (IS_ALIGNED(size, SZ_2M))
		ret = drm_buddy_alloc_blocks(&mem->buddy, 0, mem->size, size, SZ_2M, blocks, 0);
	if (ret)
		ret = drm_buddy_alloc_blocks(&mem->buddy, 0, mem->size, size, SZ_4K, blocks, 0);
	mutex_unlock(&mem->lock);
	if (ret)
		return ret == -ENOMEM ? -ENOSPC : ret;

	list_for_each_entry(block, blocks, link)
		memset_io(mem->bar + drm_buddy_block_offset(block), 0,
			  drm_buddy_block_size(&mem->buddy, block));
	return 0;
}

/**
 * lumen_devmem_free() - return device memory to the allocator
 * @ldev: device
 * @blocks: list from lumen_devmem_alloc(); empty on return
 */
void lumen_devmem_free(struct lumen_device *ldev, struct list_head *blocks)
{
	struct lumen_mem *mem = &ldev->mem;

	mutex_lock(&mem->lock);
	drm_buddy_free_list(&mem->buddy, blocks, 0);
	mutex_unlock(&mem->lock);
}

/**
 * lumen_devmem_avail() - free device memory
 * @ldev: device
 *
 * Return: bytes not allocated.
 */
u64 lumen_devmem_avail(struct lumen_device *ldev)
{
	struct lumen_mem *mem = &ldev->mem;
	u64 avail;

	mutex_lock(&mem->lock);
	avail = mem->buddy_ready ? mem->buddy.avail : 0;
	mutex_unlock(&mem->lock);
	return avail;
}
