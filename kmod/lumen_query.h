/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: information ioctls.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_QUERY_H__
#define __LUMEN_QUERY_H__

#include <linux/types.h>

struct drm_device;
struct drm_file;
struct drm_lumen_telemetry;
struct lumen_device;

u64 lumen_capabilities(struct lumen_device *ldev);
void lumen_read_telemetry(struct lumen_device *ldev, struct drm_lumen_telemetry *tel);

int lumen_get_param_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_query_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_QUERY_H__ */
