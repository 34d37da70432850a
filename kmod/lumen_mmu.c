// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: device MMU page tables and context registers.
 *
 * Every table page is a 4 KiB DMA-coherent host page (PTE target HOST), so
 * the device walks the tables by DMA and the driver edits them with plain
 * stores. A software shadow (&struct lumen_mmu_table.children) tracks the
 * next-level tables, and a count of valid entries per table lets unmapping
 * free tables that became empty. Freed tables are only handed back after
 * the caller invalidated the context's TLB (lumen_mmu_free_tables()), so
 * the device never walks a page that was reused.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/bits.h>
#include <linux/dma-mapping.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_mmu.h"

#define LUMEN_PT_SIZE		(LUMEN_PT_ENTRIES * sizeof(u64))
#define LUMEN_HUGE_SIZE		BIT_ULL(LUMEN_HUGE_PAGE_SHIFT)

static_assert(LUMEN_PT_SIZE == SZ_4K);

/* Bytes one entry at @level maps: 512 GiB, 1 GiB, 2 MiB, 4 KiB. */
static u64 lumen_level_span(unsigned int level)
{
	return BIT_ULL(LUMEN_PAGE_SHIFT + 9 * (LUMEN_PT_LEVELS - 1 - level));
}

static struct lumen_mmu_table *lumen_table_alloc(struct lumen_mmu_pt *pt, unsigned int level)
{
	struct lumen_mmu_table *t;

	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;

	if (level < LUMEN_PT_LEVELS - 1) {
		t->children = kcalloc(LUMEN_PT_ENTRIES, sizeof(*t->children), GFP_KERNEL_ACCOUNT);
		if (!t->children)
			goto err_free;
	}

	/* dma_alloc_coherent() returns zeroed memory: all entries invalid. */
	t->entries = dma_alloc_coherent(pt->dev, LUMEN_PT_SIZE, &t->dma, GFP_KERNEL);
	if (!t->entries)
		goto err_free;

	/* A table pointer has 40 address bits (51:12). */
	if (t->dma & ~LUMEN_PTE_ADDR_MASK) {
		dev_err(pt->dev, "page table at %pad outside the MMU's reach\n", &t->dma);
		dma_free_coherent(pt->dev, LUMEN_PT_SIZE, t->entries, t->dma);
		goto err_free;
	}
	INIT_LIST_HEAD(&t->link);
	return t;

err_free:
	kfree(t->children);
	kfree(t);
	return NULL;
}

static void lumen_table_free(struct lumen_mmu_pt *pt, struct lumen_mmu_table *t)
{
	dma_free_coherent(pt->dev, LUMEN_PT_SIZE, t->entries, t->dma);
	kfree(t->children);
	kfree(t);
}

/* Free @t and every table below it (context teardown, TLB already dropped). */
static void lumen_table_free_tree(struct lumen_mmu_pt *pt, struct lumen_mmu_table *t)
{
	unsigned int i;

	if (t->children) {
		for (i = 0; i < LUMEN_PT_ENTRIES; i++)
			if (t->children[i])
				lumen_table_free_tree(pt, t->children[i]);
	}
	lumen_table_free(pt, t);
}

/**
 * lumen_mmu_pt_init() - allocate the root table of a context
 * @pt: page tables to initialize
 * @dev: device that walks them
 *
 * Return: 0 or -ENOMEM.
 */
int lumen_mmu_pt_init(struct lumen_mmu_pt *pt, struct device *dev)
{
	pt->dev = dev;
	pt->root = lumen_table_alloc(pt, 0);
	return pt->root ? 0 : -ENOMEM;
}

/**
 * lumen_mmu_pt_fini() - free all tables of a context
 * @pt: page tables; the context must be disabled and its TLB invalidated
 */
void lumen_mmu_pt_fini(struct lumen_mmu_pt *pt)
{
	if (pt->root)
		lumen_table_free_tree(pt, pt->root);
	pt->root = NULL;
}

static void lumen_pte_set(struct lumen_mmu_table *t, unsigned int idx, u64 pte)
{
	WRITE_ONCE(t->entries[idx], cpu_to_le64(pte));
}

static u64 lumen_pte_get(struct lumen_mmu_table *t, unsigned int idx)
{
	return le64_to_cpu(READ_ONCE(t->entries[idx]));
}

static int lumen_pt_map(struct lumen_mmu_pt *pt, struct lumen_mmu_table *t,
			unsigned int level, u64 va, u64 end, u64 addr, u64 flags)
{
	u64 span = lumen_level_span(level);

	while (va < end) {
		unsigned int idx = lumen_va_index(va, level);
		u64 next = min(end, round_down(va, span) + span);
		struct lumen_mmu_table *child;
		int ret;

		if (level == LUMEN_PT_LEVELS - 1) {
			if (WARN_ON(lumen_pte_get(t, idx) & LUMEN_PTE_VALID))
				return -EEXIST;
			lumen_pte_set(t, idx, addr | flags | LUMEN_PTE_VALID);
			t->used++;
		} else if (level == LUMEN_PT_LEVELS - 2 && next - va == LUMEN_HUGE_SIZE &&
			   IS_ALIGNED(addr, LUMEN_HUGE_SIZE)) {
			/* A whole, aligned 2 MiB: one level-2 leaf. */
			if (WARN_ON(lumen_pte_get(t, idx) & LUMEN_PTE_VALID))
				return -EEXIST;
			lumen_pte_set(t, idx, addr | flags | LUMEN_PTE_LEAF | LUMEN_PTE_VALID);
			t->used++;
		} else {
			child = t->children[idx];
			if (!child) {
				if (WARN_ON(lumen_pte_get(t, idx) & LUMEN_PTE_VALID))
					return -EEXIST;
				child = lumen_table_alloc(pt, level + 1);
				if (!child)
					return -ENOMEM;
				t->children[idx] = child;
				lumen_pte_set(t, idx, child->dma | LUMEN_PTE_TARGET_HOST |
					      LUMEN_PTE_VALID);
				t->used++;
			}
			ret = lumen_pt_map(pt, child, level + 1, va, next, addr, flags);
			if (ret)
				return ret;
		}
		addr += next - va;
		va = next;
	}
	return 0;
}

/**
 * lumen_mmu_map() - enter a physically contiguous range into the tables
 * @pt: page tables
 * @va: device VA, 4 KiB aligned, below 2^48
 * @addr: device-memory offset or host bus address, 4 KiB aligned
 * @size: bytes, 4 KiB aligned, non-zero
 * @flags: LUMEN_PTE_READ/WRITE and a LUMEN_PTE_TARGET_* value
 *
 * Uses a 2 MiB leaf wherever a whole 2 MiB VA block with a 2 MiB aligned
 * @addr falls inside the range, 4 KiB leaves elsewhere. The range must not
 * be mapped. On failure part of the range may be mapped: the caller undoes
 * it with lumen_mmu_unmap(), which skips entries that are not valid.
 *
 * Return: 0, -ENOMEM, or -EINVAL for bad arguments.
 */
int lumen_mmu_map(struct lumen_mmu_pt *pt, u64 va, u64 addr, u64 size, u64 flags)
{
	u64 end;

	if (WARN_ON(!IS_ALIGNED(va | addr | size, SZ_4K) || !size ||
		    (flags & ~LUMEN_MMU_MAP_FLAGS) ||
		    check_add_overflow(va, size, &end) || end > BIT_ULL(LUMEN_VA_BITS) ||
		    addr + size - 1 > (LUMEN_PTE_ADDR_MASK | (SZ_4K - 1))))
		return -EINVAL;

	return lumen_pt_map(pt, pt->root, 0, va, end, addr, flags);
}

static void lumen_pt_unmap(struct lumen_mmu_pt *pt, struct lumen_mmu_table *t,
			   unsigned int level, u64 va, u64 end, struct list_head *freed)
{
	u64 span = lumen_level_span(level);

	while (va < end) {
		unsigned int idx = lumen_va_index(va, level);
		u64 next = min(end, round_down(va, span) + span);
		u64 pte = lumen_pte_get(t, idx);
		struct lumen_mmu_table *child = t->children ? t->children[idx] : NULL;

		if (child) {
			lumen_pt_unmap(pt, child, level + 1, va, next, freed);
			if (!child->used) {
				lumen_pte_set(t, idx, 0);
				t->children[idx] = NULL;
				t->used--;
				list_add_tail(&child->link, freed);
			}
		} else if (pte & LUMEN_PTE_VALID) {
			/* A leaf: mappings never split a 2 MiB page. */
			WARN_ON(level != LUMEN_PT_LEVELS - 1 && next - va != span);
			lumen_pte_set(t, idx, 0);
			t->used--;
		}
		va = next;
	}
}

/**
 * lumen_mmu_unmap() - clear the entries of a VA range
 * @pt: page tables
 * @va: start, 4 KiB aligned
 * @size: bytes, 4 KiB aligned
 * @freed: tables that became empty are moved here; free them with
 *	lumen_mmu_free_tables() after invalidating the context's TLB
 */
void lumen_mmu_unmap(struct lumen_mmu_pt *pt, u64 va, u64 size, struct list_head *freed)
{
	u64 end;

	if (WARN_ON(check_add_overflow(va, size, &end) || end > BIT_ULL(LUMEN_VA_BITS)))
		return;
	lumen_pt_unmap(pt, pt->root, 0, va, end, freed);
}

/**
 * lumen_mmu_free_tables() - free tables collected by lumen_mmu_unmap()
 * @pt: page tables
 * @freed: list of &struct lumen_mmu_table; empty on return
 */
void lumen_mmu_free_tables(struct lumen_mmu_pt *pt, struct list_head *freed)
{
	struct lumen_mmu_table *t, *tmp;

	list_for_each_entry_safe(t, tmp, freed, link) {
		list_del(&t->link);
		lumen_table_free(pt, t);
	}
}

/*
 * Context registers: MMU_CTX_SELECT is device-global state, so the select
 * and the accesses it steers are one critical section under mmu_lock.
 * Hardware access is skipped once the device is unplugged (it was reset).
 */

/**
 * lumen_mmu_ctx_enable() - point a context at its root table and enable it
 * @ldev: device
 * @ctx: context id
 * @root: bus address of the root table (host memory)
 */
void lumen_mmu_ctx_enable(struct lumen_device *ldev, u32 ctx, dma_addr_t root)
{
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return;

	mutex_lock(&ldev->mem.mmu_lock);
	lumen_wr32(ldev, LUMEN_REG_MMU_CTX_SELECT, ctx);
	lumen_wr64(ldev, LUMEN_REG_MMU_CTX_ROOT_LO, (root & LUMEN_PTE_ADDR_MASK) |
		   LUMEN_PTE_TARGET_HOST);
	lumen_wr32(ldev, LUMEN_REG_MMU_CTX_CTRL, LUMEN_MMU_CTX_VALID);
	lumen_wr32(ldev, LUMEN_REG_MMU_INVALIDATE, ctx);
	mutex_unlock(&ldev->mem.mmu_lock);

	drm_dev_exit(idx);
}

/**
 * lumen_mmu_ctx_disable() - disable a context and drop its translations
 * @ldev: device
 * @ctx: context id; its queues must be stopped
 */
void lumen_mmu_ctx_disable(struct lumen_device *ldev, u32 ctx)
{
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return;

	mutex_lock(&ldev->mem.mmu_lock);
	lumen_wr32(ldev, LUMEN_REG_MMU_CTX_SELECT, ctx);
	lumen_wr32(ldev, LUMEN_REG_MMU_CTX_CTRL, 0);
	lumen_wr64(ldev, LUMEN_REG_MMU_CTX_ROOT_LO, 0);
	lumen_wr32(ldev, LUMEN_REG_MMU_INVALIDATE, ctx);
	/* The invalidation has taken effect once a later read returns. */
	lumen_rd32(ldev, LUMEN_REG_MMU_CTX_CTRL);
	mutex_unlock(&ldev->mem.mmu_lock);

	drm_dev_exit(idx);
}

/**
 * lumen_mmu_invalidate() - drop a context's cached translations
 * @ldev: device
 * @ctx: context id
 *
 * The page-table stores before the call are visible to the device (writel()
 * orders them), and the invalidation has taken effect on return.
 */
void lumen_mmu_invalidate(struct lumen_device *ldev, u32 ctx)
{
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return;

	lumen_wr32(ldev, LUMEN_REG_MMU_INVALIDATE, ctx);
	lumen_rd32(ldev, LUMEN_REG_MAGIC);

	drm_dev_exit(idx);
}
