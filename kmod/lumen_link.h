/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: optical link ports (state, sysfs, uevents).
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_LINK_H__
#define __LUMEN_LINK_H__

struct lumen_device;

int lumen_link_init(struct lumen_device *ldev);
void lumen_link_restart(struct lumen_device *ldev);

#endif /* __LUMEN_LINK_H__ */
