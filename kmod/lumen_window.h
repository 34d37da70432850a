/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: remote windows (DRM_IOCTL_LUMEN_WINDOW_OPEN/_CLOSE), the
 * card's window slots of docs/hw-spec.md 13.7.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_WINDOW_H__
#define __LUMEN_WINDOW_H__

#include <linux/types.h>

struct drm_device;
struct drm_file;
struct lumen_device;
struct lumen_file;
struct lumen_vm;

extern unsigned int lumen_max_file_windows;

int lumen_window_init(struct lumen_device *ldev);
u32 lumen_window_slots(struct lumen_device *ldev);
void lumen_window_close_all(struct lumen_file *lfile);
bool lumen_window_overlaps_locked(struct lumen_vm *vm, u64 va, u64 size);

int lumen_window_open_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_window_close_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_WINDOW_H__ */
