/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: MSI-X vectors and interrupt handlers.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_IRQ_H__
#define __LUMEN_IRQ_H__

struct lumen_device;

int lumen_irq_init(struct lumen_device *ldev);

#endif /* __LUMEN_IRQ_H__ */
