/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: hwmon sensors.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_HWMON_H__
#define __LUMEN_HWMON_H__

struct lumen_device;

int lumen_hwmon_init(struct lumen_device *ldev);

#endif /* __LUMEN_HWMON_H__ */
