/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: device reset and recovery with reset generations.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_RESET_H__
#define __LUMEN_RESET_H__

#include <linux/bits.h>
#include <linux/types.h>

struct lumen_device;
struct lumen_file;

/* Why the card was reset; bits, several causes can be pending at once. */
#define LUMEN_RESET_HALTED		BIT(0)	/* DEVICE_STATUS.HALTED */
#define LUMEN_RESET_FW_CRASH		BIT(1)	/* the firmware stopped running */
#define LUMEN_RESET_MBOX_TIMEOUT	BIT(2)	/* the firmware did not answer */
#define LUMEN_RESET_QUEUE_HANG		BIT(3)	/* a queue hung again after its reset */
#define LUMEN_RESET_FLR			BIT(4)	/* PCI function reset (reset_prepare/done) */
#define LUMEN_RESET_PCI_ERROR		BIT(5)	/* AER recovery */
#define LUMEN_RESET_RESUME		BIT(6)	/* the card lost its state in suspend */
#define LUMEN_RESET_USER		BIT(7)	/* requested through debugfs */
#define LUMEN_RESET_NUM_REASONS		8

int lumen_reset_init(struct lumen_device *ldev);
void lumen_reset_schedule(struct lumen_device *ldev, u32 reason);
int lumen_reset_now(struct lumen_device *ldev, u32 reason);
void lumen_reset_prepare(struct lumen_device *ldev, u32 reason);
int lumen_reset_done(struct lumen_device *ldev);
int lumen_reset_reason_names(u32 reasons, char *buf, size_t len);

int lumen_file_check_gen(struct lumen_file *lfile);
int lumen_reset_read_lock(struct lumen_file *lfile);
void lumen_reset_read_unlock(struct lumen_device *ldev);

#endif /* __LUMEN_RESET_H__ */
