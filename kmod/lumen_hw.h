/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: register access, reset and interrupt control.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_HW_H__
#define __LUMEN_HW_H__

#include <linux/io.h>
#include <linux/types.h>

#include "lumen_drv.h"

static inline u32 lumen_rd32(struct lumen_device *ldev, u32 reg)
{
	return readl(ldev->regs + reg);
}

static inline void lumen_wr32(struct lumen_device *ldev, u32 reg, u32 val)
{
	writel(val, ldev->regs + reg);
}

/**
 * lumen_rd64() - read a 64-bit quantity split into _LO/_HI registers
 * @ldev: device
 * @reg_lo: offset of the _LO half; _HI follows at +4
 *
 * The halves are separate 32-bit reads, so a counter can carry between
 * them; read HI, LO, HI again and retry if HI moved.
 *
 * Return: the 64-bit value.
 */
static inline u64 lumen_rd64(struct lumen_device *ldev, u32 reg_lo)
{
	u32 hi, lo, hi2;
	int tries = 3;

	hi = lumen_rd32(ldev, reg_lo + 4);
	do {
		lo = lumen_rd32(ldev, reg_lo);
		hi2 = lumen_rd32(ldev, reg_lo + 4);
		if (hi2 == hi)
			break;
		hi = hi2;
	} while (--tries);

	return ((u64)hi << 32) | lo;
}

/**
 * lumen_wr64() - write a 64-bit register pair
 * @ldev: device
 * @reg_lo: offset of the _LO half
 * @val: value
 *
 * The device latches the pair when _HI is written, so _LO goes first.
 */
static inline void lumen_wr64(struct lumen_device *ldev, u32 reg_lo, u64 val)
{
	lumen_wr32(ldev, reg_lo, lower_32_bits(val));
	lumen_wr32(ldev, reg_lo + 4, upper_32_bits(val));
}

/* Interrupt causes this driver version handles; the rest stay masked. */
#define LUMEN_INT_HANDLED	(LUMEN_INT_MBOX | LUMEN_INT_BOOT | LUMEN_INT_ERROR)

int lumen_hw_init(struct lumen_device *ldev);
int lumen_hw_soft_reset(struct lumen_device *ldev);
void lumen_hw_irq_enable(struct lumen_device *ldev, u32 causes);
void lumen_hw_irq_disable_all(struct lumen_device *ldev);
void lumen_hw_irq_quiet(struct lumen_device *ldev);
void lumen_hw_quiesce(struct lumen_device *ldev);

const char *lumen_boot_state_name(u32 state);

/**
 * struct lumen_reg_desc - a named register, for dumps
 * @name: register name without the LUMEN_REG_ prefix
 * @offset: BAR0 offset
 */
struct lumen_reg_desc {
	const char *name;
	u32 offset;
};

extern const struct lumen_reg_desc lumen_global_regs[];
extern const unsigned int lumen_num_global_regs;

#endif /* __LUMEN_HW_H__ */
