// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: the ioctl gate of an accel file.
 *
 * Every ioctl on /dev/accel/accelN passes here before the DRM core sees it:
 *
 * - The DRM core range (everything outside DRM_COMMAND_BASE..END) holds
 *   the legacy, master and modesetting ioctls of primary nodes. The 6.12
 *   core lets several of them through on accel files, which have no
 *   master (GET_MAGIC and GET_UNIQUE dereference it), so only the ones
 *   that mean something here pass: an allow-list, documented in the uAPI
 *   header. The rest fail with -EOPNOTSUPP.
 * - The link engine's ioctls (windows, routes, ports, management packets)
 *   fail with -EOPNOTSUPP on a card without CAPS.LINKS, before their
 *   handlers, which so may rely on it.
 * - A file opened before the last device reset belongs to a dead reset
 *   generation: every ioctl fails with -ENODEV (lumen_reset.c).
 * The ioctls that program the hardware take the reset lock for reading
 * themselves, around the hardware part only (lumen_reset_read_lock()),
 * and check the generation again under it.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/uaccess.h>

#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>

#include <uapi/drm/lumen_accel.h>

#include "lumen_drv.h"
#include "lumen_ioctl.h"
#include "lumen_reset.h"

static bool lumen_core_ioctl_allowed(unsigned int nr)
{
	switch (nr) {
	case DRM_IOCTL_NR(DRM_IOCTL_VERSION):
	case DRM_IOCTL_NR(DRM_IOCTL_GET_CAP):
	case DRM_IOCTL_NR(DRM_IOCTL_GEM_CLOSE):
	case DRM_IOCTL_NR(DRM_IOCTL_PRIME_HANDLE_TO_FD):
	case DRM_IOCTL_NR(DRM_IOCTL_PRIME_FD_TO_HANDLE):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_CREATE):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_DESTROY):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_WAIT):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_RESET):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_SIGNAL):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_QUERY):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_TRANSFER):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_EVENTFD):
		return true;
	default:
		return false;
	}
}

/*
 * The 6.12 core kmalloc()s the syncobj handle arrays of these ioctls with
 * the user's count and no __GFP_NOWARN: a count of a few hundred thousand
 * or more makes the page allocator WARN (found by lumen-fuzz). Refuse such
 * counts before the core sees them. Best effort: another thread may change
 * the count after this read, and then the core only fails its allocation
 * (-ENOMEM) with a warning; nothing worse.
 */
static int lumen_core_ioctl_check_count(unsigned int cmd, unsigned long arg)
{
	size_t off;
	u32 count;

	switch (DRM_IOCTL_NR(cmd)) {
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_WAIT):
		off = offsetof(struct drm_syncobj_wait, count_handles);
		break;
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT):
		off = offsetof(struct drm_syncobj_timeline_wait, count_handles);
		break;
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_RESET):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_SIGNAL):
		off = offsetof(struct drm_syncobj_array, count_handles);
		break;
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_QUERY):
	case DRM_IOCTL_NR(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL):
		off = offsetof(struct drm_syncobj_timeline_array, count_handles);
		break;
	default:
		return 0;
	}
	/*
	 * The core copies _IOC_SIZE bytes (if the command writes) and zeroes
	 * the rest: a short argument may carry part of the count.
	 */
	if (!(_IOC_DIR(cmd) & _IOC_WRITE) || _IOC_SIZE(cmd) <= off)
		return 0;
	count = 0;
	if (copy_from_user(&count, (void __user *)(arg + off),
			   min_t(size_t, _IOC_SIZE(cmd) - off, sizeof(count))))
		return -EFAULT;
	return le32_to_cpu((__force __le32)count) > DRM_LUMEN_MAX_SYNCOBJ_HANDLES ? -EINVAL : 0;
}

/* Driver ioctls that need the link engine (CAPS.LINKS). */
static bool lumen_ioctl_needs_links(unsigned int nr)
{
	switch (nr - DRM_COMMAND_BASE) {
	case DRM_LUMEN_WINDOW_OPEN:
	case DRM_LUMEN_WINDOW_CLOSE:
	case DRM_LUMEN_ROUTE:
	case DRM_LUMEN_PORT_CTRL:
	case DRM_LUMEN_MGMT_SEND:
	case DRM_LUMEN_MGMT_RECV:
		return true;
	default:
		return false;
	}
}

static int lumen_ioctl_check(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct drm_file *file = filp->private_data;
	struct lumen_file *lfile = file->driver_priv;
	unsigned int nr = DRM_IOCTL_NR(cmd);
	int ret;

	if (_IOC_TYPE(cmd) != DRM_IOCTL_BASE)
		return -ENOTTY;
	if (nr < DRM_COMMAND_BASE || nr >= DRM_COMMAND_END) {
		if (!lumen_core_ioctl_allowed(nr))
			return -EOPNOTSUPP;
		ret = lumen_core_ioctl_check_count(cmd, arg);
		if (ret)
			return ret;
	} else if (lumen_ioctl_needs_links(nr) && !lumen_has_links(lfile->ldev)) {
		return -EOPNOTSUPP;
	}
	return lumen_file_check_gen(lfile);
}

/**
 * lumen_ioctl() - &file_operations.unlocked_ioctl of lumen accel files
 * @filp: the accel file
 * @cmd: ioctl command
 * @arg: ioctl argument
 *
 * Return: what drm_ioctl() returns; -ENOTTY for a non-DRM command;
 * -EOPNOTSUPP for a core DRM ioctl outside the allow-list or a link-engine
 * ioctl on a card without CAPS.LINKS; -ENODEV for a
 * file of an earlier reset generation or a card lost in a failed reset.
 */
long lumen_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	int ret = lumen_ioctl_check(filp, cmd, arg);

	return ret ? ret : drm_ioctl(filp, cmd, arg);
}

#ifdef CONFIG_COMPAT
/**
 * lumen_compat_ioctl() - &file_operations.compat_ioctl of lumen accel files
 * @filp: the accel file
 * @cmd: ioctl command of a 32-bit caller
 * @arg: ioctl argument
 *
 * The same gate as lumen_ioctl(); the core translates what it knows. The
 * translated numbers are the native ones, so the allow-list applies as is.
 *
 * Return: see lumen_ioctl().
 */
long lumen_compat_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	int ret = lumen_ioctl_check(filp, cmd, (unsigned long)compat_ptr(arg));

	return ret ? ret : drm_compat_ioctl(filp, cmd, arg);
}
#endif
