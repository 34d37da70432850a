/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: directed-route management packets for a fabric manager
 * (DRM_IOCTL_LUMEN_MGMT_SEND, DRM_IOCTL_LUMEN_MGMT_RECV).
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_MGMT_H__
#define __LUMEN_MGMT_H__

#include <linux/types.h>

struct drm_device;
struct drm_file;
struct lumen_device;

/* Answers and traps the driver keeps for MGMT_RECV; older ones are dropped. */
#define LUMEN_MGMT_FIFO_LEN	256

int lumen_mgmt_init(struct lumen_device *ldev);
void lumen_mgmt_rx_kick(struct lumen_device *ldev);
void lumen_mgmt_reset(struct lumen_device *ldev);
void lumen_mgmt_stop(struct lumen_device *ldev);
u64 lumen_mgmt_fifo_drops(struct lumen_device *ldev);

int lumen_mgmt_send_ioctl(struct drm_device *drm, void *data, struct drm_file *file);
int lumen_mgmt_recv_ioctl(struct drm_device *drm, void *data, struct drm_file *file);

#endif /* __LUMEN_MGMT_H__ */
