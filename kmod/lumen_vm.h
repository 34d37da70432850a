/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: per-file device context (MMU context id, page tables, device
 * virtual address space) and DRM_IOCTL_LUMEN_VM_BIND.
 *
 * Kernel API for the rest of the driver (the job side):
 *
 *   lumen_file_get_ctx(lfile)         (lumen_drv.h) create the file's
 *                                     context on first use; vm.ctx_id is
 *                                     what QCTRL.CTX must be set to
 *   lumen_vm_map_kernel()             map host DMA memory (e.g. a fence page)
 *                                     at a kernel VA below DRM_LUMEN_VA_USER_START
 *   lumen_vm_unmap_kernel()           undo it (TLB invalidated on return)
 *   lumen_gem_lookup_bos()            (lumen_gem.h) SUBMIT's bo_handles
 *
 * Teardown order (lumen_postclose()): the job side stops and frees the
 * file's queues first, so the device no longer runs in the context; then
 * lumen_vm_fini() disables the MMU context, drops all mappings (and their
 * BO references) and frees the page tables and the context id.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_VM_H__
#define __LUMEN_VM_H__

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include <drm/drm_mm.h>

#include "lumen_mmu.h"

struct drm_device;
struct drm_file;
struct lumen_device;
struct lumen_file;

/* Kernel-owned device VAs: [LUMEN_VA_KERNEL_START, DRM_LUMEN_VA_USER_START). */
#define LUMEN_VA_KERNEL_START	0x10000ULL

/**
 * struct lumen_vm - one device context: MMU context id + VA space
 * @ldev: device
 * @ctx_id: MMU context id, in [0, LUMEN_CONTEXTS_MAX)
 * @lock: protects @mm, @mappings and the page tables in @pt
 * @mm: allocated VA ranges, one &struct lumen_vm_mapping node each
 * @mappings: all &struct lumen_vm_mapping of this VM
 * @pt: page tables of the context
 * @enabled: the context registers were programmed (MMU_CTX_CTRL.VALID)
 * @num_user_mappings: VM_BIND mappings, under @lock (max_file_mappings)
 * @zombies: what unmaps took out while jobs of the context may still use
 *	it (struct lumen_vm_zombie in lumen_vm.c), under @lock
 * @windows: the context's open remote windows (struct lumen_window in
 *	lumen_window.c), under @lock, which so keeps an unmap from pulling
 *	memory out from under a window
 * @num_windows: entries of @windows (max_file_windows), under @lock
 */
struct lumen_vm {
	struct lumen_device *ldev;
	u32 ctx_id;
	struct mutex lock;	/* VA space, mappings, page tables */
	struct drm_mm mm;
	struct list_head mappings;
	struct lumen_mmu_pt pt;
	bool enabled;
	u32 num_user_mappings;
	struct list_head zombies;
	struct list_head windows;
	u32 num_windows;
};

extern unsigned int lumen_max_file_mappings;

int lumen_vm_init(struct lumen_device *ldev, struct lumen_vm *vm);
void lumen_vm_fini(struct lumen_vm *vm);

int lumen_vm_map_kernel(struct lumen_vm *vm, u64 va, dma_addr_t dma, u64 size,
			bool writable);
void lumen_vm_unmap_kernel(struct lumen_vm *vm, u64 va, u64 size);
bool lumen_vm_range_mapped_locked(struct lumen_vm *vm, u64 va, u64 size, bool writable);

int lumen_vm_bind_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_VM_H__ */
