/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: device MMU page tables and context registers.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_MMU_H__
#define __LUMEN_MMU_H__

#include <linux/list.h>
#include <linux/types.h>

#include <lumen/lumen_mmu.h>

struct device;
struct lumen_device;

/**
 * struct lumen_mmu_table - one 4 KiB page-table page
 * @entries: CPU address of the 512 little-endian entries (DMA-coherent)
 * @dma: bus address of @entries; what the parent entry points to
 * @children: next-level tables by index (levels 0-2), NULL at level 3
 * @used: valid entries in @entries
 * @link: on a list of tables to free after a TLB invalidation
 */
struct lumen_mmu_table {
	__le64 *entries;
	dma_addr_t dma;
	struct lumen_mmu_table **children;
	unsigned int used;
	struct list_head link;
};

/**
 * struct lumen_mmu_pt - the four-level page tables of one context
 * @dev: device the tables are DMA-mapped for
 * @root: level-0 table, allocated for the whole life of the context
 *
 * Not locked itself: the owner (&struct lumen_vm) serializes all calls.
 */
struct lumen_mmu_pt {
	struct device *dev;
	struct lumen_mmu_table *root;
};

/* Leaf permission/target bits accepted by lumen_mmu_map(). */
#define LUMEN_MMU_MAP_FLAGS	(LUMEN_PTE_READ | LUMEN_PTE_WRITE | LUMEN_PTE_TARGET_MASK | \
				 LUMEN_PTE_PRIV)

int lumen_mmu_pt_init(struct lumen_mmu_pt *pt, struct device *dev);
void lumen_mmu_pt_fini(struct lumen_mmu_pt *pt);
int lumen_mmu_map(struct lumen_mmu_pt *pt, u64 va, u64 addr, u64 size, u64 flags);
void lumen_mmu_unmap(struct lumen_mmu_pt *pt, u64 va, u64 size, struct list_head *freed);
void lumen_mmu_free_tables(struct lumen_mmu_pt *pt, struct list_head *freed);

void lumen_mmu_ctx_enable(struct lumen_device *ldev, u32 ctx, dma_addr_t root);
void lumen_mmu_ctx_disable(struct lumen_device *ldev, u32 ctx);
void lumen_mmu_invalidate(struct lumen_device *ldev, u32 ctx);

#endif /* __LUMEN_MMU_H__ */
