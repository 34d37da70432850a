/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: DRM fdinfo of an accel file.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_FDINFO_H__
#define __LUMEN_FDINFO_H__

struct drm_file;
struct drm_printer;

void lumen_show_fdinfo(struct drm_printer *p, struct drm_file *file);

#endif /* __LUMEN_FDINFO_H__ */
