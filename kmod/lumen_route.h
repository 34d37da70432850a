/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: route table and port control for the fabric manager
 * (DRM_IOCTL_LUMEN_ROUTE, DRM_IOCTL_LUMEN_PORT_CTRL).
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_ROUTE_H__
#define __LUMEN_ROUTE_H__

#include <linux/types.h>

struct drm_device;
struct drm_file;
struct lumen_device;

int lumen_route_init(struct lumen_device *ldev);
u32 lumen_route_table_size(struct lumen_device *ldev);
void lumen_route_restore(struct lumen_device *ldev);

int lumen_route_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_port_ctrl_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_ROUTE_H__ */
