/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: system suspend and resume.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_PM_H__
#define __LUMEN_PM_H__

#include <linux/pm.h>

extern const struct dev_pm_ops lumen_pm_ops;

#endif /* __LUMEN_PM_H__ */
