/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: the ioctl gate of an accel file (allow-list of core ioctls).
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_IOCTL_H__
#define __LUMEN_IOCTL_H__

struct file;

long lumen_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);
#ifdef CONFIG_COMPAT
long lumen_compat_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);
#else
#define lumen_compat_ioctl NULL
#endif

#endif /* __LUMEN_IOCTL_H__ */
