/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: optical link ports (state, control, sysfs, uevents).
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_LINK_H__
#define __LUMEN_LINK_H__

#include <linux/types.h>

struct lumen_device;

int lumen_link_init(struct lumen_device *ldev);
void lumen_link_restart(struct lumen_device *ldev);
u32 lumen_link_num_ports(struct lumen_device *ldev);
u32 lumen_link_get_ctrl(struct lumen_device *ldev, u32 port);
void lumen_link_set_ctrl(struct lumen_device *ldev, u32 port, u32 ctrl);

#endif /* __LUMEN_LINK_H__ */
