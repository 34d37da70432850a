// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: the chip's route table and its ports' control, for a fabric
 * manager on this host (docs/hw-spec.md 13.4, 13.5).
 *
 * DRM_IOCTL_LUMEN_ROUTE reads and writes blocks of route words through
 * ROUTE_INDEX/ROUTE_ENTRY. A SET checks every word before it writes any,
 * so a bad block changes nothing. What the driver wrote is kept in a
 * shadow table and written again after a device reset, which clears the
 * card's table (13.8); a GET reads the card, so it also shows what a
 * remote manager set with management packets (those are not in the
 * shadow: the manager that wrote them reprograms the chip when it sees it
 * reset). DRM_IOCTL_LUMEN_PORT_CTRL reads and sets a port's CTRL (ENABLE,
 * DATELINE); lumen_link.c keeps that shadow, shared with sysfs
 * links/port<N>/enabled.
 *
 * Routes steer every chip's traffic: ROUTE and PORT_CTRL's set need
 * CAP_SYS_ADMIN. The ioctl gate (lumen_ioctl.c) has checked CAPS.LINKS.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_managed.h>

#include <uapi/drm/lumen_accel.h>

#include <lumen/lumen_link.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_link.h"
#include "lumen_reset.h"
#include "lumen_route.h"

static_assert(sizeof(struct drm_lumen_route) == 24);
static_assert(sizeof(struct drm_lumen_port_ctrl) == 16);
static_assert(DRM_LUMEN_MAX_CHIPS == LUMEN_ROUTE_TABLE_SIZE);
static_assert(DRM_LUMEN_PORT_ENABLE == LUMEN_LCTRL_ENABLE);
static_assert(DRM_LUMEN_PORT_DATELINE == LUMEN_LCTRL_DATELINE);

/**
 * struct lumen_routes - route table of a card
 * @lock: serializes ROUTE_INDEX/ROUTE_ENTRY accesses and @shadow
 * @size: entries of the card's table (ROUTE_SIZE, at most
 *	LUMEN_ROUTE_TABLE_SIZE)
 * @shadow: the words this driver wrote, by destination chip id
 */
struct lumen_routes {
	struct mutex lock;	/* ROUTE_* registers and @shadow */
	u32 size;
	u32 *shadow;
};

static void lumen_route_free(struct drm_device *drm, void *arg)
{
	kvfree(arg);
}

/**
 * lumen_route_init() - route table shadow of a card with the link engine
 * @ldev: device
 *
 * Return: 0 (nothing to do without CAPS.LINKS) or -ENOMEM.
 */
int lumen_route_init(struct lumen_device *ldev)
{
	struct lumen_routes *rt;
	int ret;

	if (!lumen_has_links(ldev))
		return 0;
	rt = drmm_kzalloc(&ldev->drm, sizeof(*rt), GFP_KERNEL);
	if (!rt)
		return -ENOMEM;
	ret = drmm_mutex_init(&ldev->drm, &rt->lock);
	if (ret)
		return ret;
	rt->size = min_t(u32, lumen_rd32(ldev, LUMEN_REG_ROUTE_SIZE), LUMEN_ROUTE_TABLE_SIZE);
	if (rt->size != LUMEN_ROUTE_TABLE_SIZE)
		dev_warn(lumen_dev(ldev), "ROUTE_SIZE is %u, the contract says %u\n", rt->size,
			 LUMEN_ROUTE_TABLE_SIZE);
	rt->shadow = kvcalloc(LUMEN_ROUTE_TABLE_SIZE, sizeof(u32), GFP_KERNEL);
	if (!rt->shadow)
		return -ENOMEM;
	ret = drmm_add_action_or_reset(&ldev->drm, lumen_route_free, rt->shadow);
	if (ret)
		return ret;
	ldev->routes = rt;
	return 0;
}

/**
 * lumen_route_table_size() - destination chip ids are below this
 * @ldev: device
 *
 * Return: ROUTE_SIZE, 0 without the link engine.
 */
u32 lumen_route_table_size(struct lumen_device *ldev)
{
	return ldev->routes ? ldev->routes->size : 0;
}

/**
 * lumen_route_restore() - write the driver's routes again after a reset
 * @ldev: device; called by the device reset, which cleared the card's table
 *
 * One ROUTE_INDEX write per run of valid entries (ROUTE_ENTRY advances it).
 */
void lumen_route_restore(struct lumen_device *ldev)
{
	struct lumen_routes *rt = ldev->routes;
	u32 i, next = U32_MAX;

	if (!rt)
		return;
	mutex_lock(&rt->lock);
	for (i = 0; i < rt->size; i++) {
		if (!rt->shadow[i])
			continue;
		if (i != next)
			lumen_wr32(ldev, LUMEN_REG_ROUTE_INDEX, i);
		lumen_wr32(ldev, LUMEN_REG_ROUTE_ENTRY, rt->shadow[i]);
		next = i + 1;
	}
	mutex_unlock(&rt->lock);
}

/* Which field of a route word is wrong, or NULL. */
static const char *lumen_route_word_bad(u32 w, u32 num_ports)
{
	u32 alt = (w & LUMEN_ROUTE_W_ALT_MASK) >> LUMEN_ROUTE_W_ALT_SHIFT;

	if (w & LUMEN_ROUTE_W_RESERVED)
		return "reserved bits";
	/* An invalid entry is "no route": its port fields are never used. */
	if (!(w & LUMEN_ROUTE_W_VALID))
		return NULL;
	if ((w & LUMEN_ROUTE_W_PORT_MASK) >= num_ports)
		return "port";
	if (alt != LUMEN_ROUTE_NO_PORT && alt >= num_ports)
		return "alternative port";
	return NULL;
}

static int lumen_route_get(struct lumen_device *ldev, struct lumen_file *lfile, u32 first,
			   u32 *words, u32 count)
{
	struct lumen_routes *rt = ldev->routes;
	int ret, idx;
	u32 i;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	ret = lumen_reset_read_lock(lfile);
	if (!ret) {
		mutex_lock(&rt->lock);
		for (i = 0; i < count; i++) {
			lumen_wr32(ldev, LUMEN_REG_ROUTE_INDEX, first + i);
			words[i] = lumen_rd32(ldev, LUMEN_REG_ROUTE_ENTRY);
		}
		mutex_unlock(&rt->lock);
		lumen_reset_read_unlock(ldev);
	}
	drm_dev_exit(idx);
	return ret;
}

static int lumen_route_set(struct lumen_device *ldev, struct lumen_file *lfile, u32 first,
			   const u32 *words, u32 count)
{
	struct lumen_routes *rt = ldev->routes;
	u32 i, num_ports = lumen_link_num_ports(ldev);
	const char *bad;
	int ret, idx;

	for (i = 0; i < count; i++) {
		bad = lumen_route_word_bad(words[i], num_ports);
		if (bad) {
			dev_dbg_ratelimited(lumen_dev(ldev),
					    "ROUTE SET: word %u (chip %u) 0x%08x: bad %s\n", i,
					    first + i, words[i], bad);
			return -EINVAL;
		}
	}

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	ret = lumen_reset_read_lock(lfile);
	if (!ret) {
		mutex_lock(&rt->lock);
		lumen_wr32(ldev, LUMEN_REG_ROUTE_INDEX, first);
		for (i = 0; i < count; i++)
			lumen_wr32(ldev, LUMEN_REG_ROUTE_ENTRY, words[i]);
		memcpy(&rt->shadow[first], words, count * sizeof(*words));
		mutex_unlock(&rt->lock);
		lumen_reset_read_unlock(ldev);
	}
	drm_dev_exit(idx);
	return ret;
}

/**
 * lumen_route_ioctl() - DRM_IOCTL_LUMEN_ROUTE
 * @drm: DRM device
 * @data: &struct drm_lumen_route
 * @file: caller
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN; -EINVAL for a bad op, range,
 * reserved field or (SET) route word, nothing written; -EFAULT for
 * unreadable or unwritable words; -ENOMEM; -ENODEV once the card is gone.
 */
int lumen_route_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_route *args = data;
	void __user *uwords = u64_to_user_ptr(args->words);
	size_t bytes;
	u32 *words;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (args->reserved || (args->op != DRM_LUMEN_ROUTE_GET && args->op != DRM_LUMEN_ROUTE_SET))
		return -EINVAL;
	if (!args->count || args->count > lumen_route_table_size(ldev) ||
	    args->first > lumen_route_table_size(ldev) - args->count)
		return -EINVAL;

	bytes = (size_t)args->count * sizeof(*words);
	words = kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!words)
		return -ENOMEM;

	if (args->op == DRM_LUMEN_ROUTE_GET) {
		ret = lumen_route_get(ldev, file->driver_priv, args->first, words, args->count);
		if (!ret && copy_to_user(uwords, words, bytes))
			ret = -EFAULT;
	} else if (copy_from_user(words, uwords, bytes)) {
		ret = -EFAULT;
	} else {
		ret = lumen_route_set(ldev, file->driver_priv, args->first, words, args->count);
	}
	kvfree(words);
	return ret;
}

/**
 * lumen_port_ctrl_ioctl() - DRM_IOCTL_LUMEN_PORT_CTRL
 * @drm: DRM device
 * @data: &struct drm_lumen_port_ctrl
 * @file: caller
 *
 * Return: 0 with &drm_lumen_port_ctrl.ctrl set (the port's CTRL after the
 * call); -EINVAL for a port the chip does not have, a bad @set, unknown
 * ctrl bits or reserved fields; -EPERM for set without CAP_SYS_ADMIN;
 * -ENODEV once the card is gone.
 */
int lumen_port_ctrl_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_port_ctrl *args = data;
	int ret, idx;

	if (args->reserved || args->set > 1 || args->port >= lumen_link_num_ports(ldev))
		return -EINVAL;
	if (args->set) {
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (args->ctrl & ~(u32)LUMEN_LCTRL_MASK)
			return -EINVAL;
	}

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	ret = lumen_reset_read_lock(file->driver_priv);
	if (!ret) {
		if (args->set)
			lumen_link_set_ctrl(ldev, args->port, args->ctrl);
		args->ctrl = lumen_link_get_ctrl(ldev, args->port);
		lumen_reset_read_unlock(ldev);
	}
	drm_dev_exit(idx);
	return ret;
}
