/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 device MMU: per-context page tables.
 *
 * Each of LUMEN_CONTEXTS_MAX contexts has its own 48-bit device virtual
 * address space, translated by a four-level table of 512 8-byte entries per
 * 4 KiB table (VA bits 47:39, 38:30, 29:21, 20:12). A level-2 entry with
 * LUMEN_PTE_LEAF maps a 2 MiB page; level-3 entries map 4 KiB pages. An
 * entry's address is either a device-memory offset or a host bus address,
 * chosen by its target field; table pages may live in either.
 *
 * Walk rules: a non-leaf entry needs VALID only (its READ/WRITE bits are
 * ignored); LEAF is honoured at level 2 only and must be clear at levels 0
 * and 1 (BAD_PTE); level-3 entries are always leaves. A 2 MiB leaf's address
 * must be 2 MiB aligned and a device-memory address must lie below the
 * memory size (BAD_PTE otherwise). VAs at or above 2^48 are NOT_MAPPED.
 * The root pointer register holds a table pointer in PTE form (address and
 * target; VALID is ignored there, MMU_CTX_CTRL.VALID enables the context).
 * A write to MMU_INVALIDATE takes effect before the write completes.
 *
 * Faults: the first fault fills the record (FAULT_CTX, ADDR, INFO, QUEUE,
 * TAG) and raises LUMEN_INT_MMU_FAULT; every queue of the faulting context
 * stops with ERROR = MMU_FAULT. Later faults while the record is valid only
 * count in ERR_COUNT; write 1 to FAULT_STATUS bit 0 to free the record.
 */
#ifndef LUMEN_MMU_H
#define LUMEN_MMU_H

#include "lumen_types.h"

#define LUMEN_VA_BITS			48
#define LUMEN_PAGE_SHIFT		12
#define LUMEN_HUGE_PAGE_SHIFT		21
#define LUMEN_PT_LEVELS			4
#define LUMEN_PT_ENTRIES		512

#define LUMEN_PTE_VALID			(1ull << 0)
#define LUMEN_PTE_READ			(1ull << 1)
#define LUMEN_PTE_WRITE			(1ull << 2)
#define LUMEN_PTE_LEAF			(1ull << 3)	/* level 2: 2 MiB page */
#define LUMEN_PTE_TARGET_SHIFT		4
#define LUMEN_PTE_TARGET_MASK		(3ull << LUMEN_PTE_TARGET_SHIFT)
#define LUMEN_PTE_TARGET_DEVMEM		(0ull << LUMEN_PTE_TARGET_SHIFT)
#define LUMEN_PTE_TARGET_HOST		(1ull << LUMEN_PTE_TARGET_SHIFT)
/*
 * A kernel page (CAPS.USER_QUEUES; reserved without it): a leaf with PRIV
 * is reachable only by queues without QCTRL.USER; a user-mode queue's
 * access faults PRIV, so user-written descriptors cannot touch the
 * driver's pages (its fence words) in the context they share.
 */
#define LUMEN_PTE_PRIV			(1ull << 6)
#define LUMEN_PTE_ADDR_MASK		0x000ffffffffff000ull	/* bits 51:12 */
#define LUMEN_PTE_RESERVED_MASK		(~(LUMEN_PTE_ADDR_MASK | 0x3full))

#define LUMEN_MMU_CTX_VALID		(1u << 0)

/* MMU_FAULT_INFO values. */
enum lumen_mmu_fault {
	LUMEN_MMU_FAULT_NONE = 0,
	LUMEN_MMU_FAULT_NOT_MAPPED = 1,		/* no valid entry on the walk */
	LUMEN_MMU_FAULT_READ = 2,		/* read of a page without READ */
	LUMEN_MMU_FAULT_WRITE = 3,		/* write of a page without WRITE */
	LUMEN_MMU_FAULT_BAD_PTE = 4,		/* reserved bits or bad target */
	LUMEN_MMU_FAULT_BAD_CONTEXT = 5,	/* queue's context not valid */
	LUMEN_MMU_FAULT_PRIV = 6,		/* user-mode queue, PRIV page */
};

/* MMU_FAULT_INFO layout. */
#define LUMEN_MMU_FAULT_KIND_MASK	0xffu
#define LUMEN_MMU_FAULT_WRITE_ACCESS	(1u << 8)	/* faulting access was a write */

/** lumen_va_index() - table index of @va at @level (0 = root) */
static inline unsigned int lumen_va_index(uint64_t va, unsigned int level)
{
	return (unsigned int)(va >> (39 - 9 * level)) & (LUMEN_PT_ENTRIES - 1);
}

#endif /* LUMEN_MMU_H */
