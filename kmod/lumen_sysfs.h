/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: identity attributes in sysfs.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_SYSFS_H__
#define __LUMEN_SYSFS_H__

struct attribute_group;

extern const struct attribute_group *lumen_dev_groups[];

#endif /* __LUMEN_SYSFS_H__ */
