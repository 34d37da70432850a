// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: remote windows (docs/hw-spec.md 13.7).
 *
 * A window lets other chips reach a VA range of one file's device context
 * with RWRITE/RREAD/RATOMIC/RREDUCE, like an RDMA memory registration: the
 * card accepts a remote operation only if it names an open window slot and
 * presents the slot's key. The card has NUM_WINDOWS (256) slots shared by
 * all files; the slot number is the window id user space hands out, the key
 * a random 64-bit value the driver picks, so only whoever the owner gave it
 * to can use the window.
 *
 * Each window is on its context's list (&lumen_vm.windows) and in the
 * card's slot table. Opening checks, under the context's lock, that VM_BIND
 * mappings cover the whole range (writable ones for WRITE and ATOMIC), and
 * VM_BIND UNMAP refuses (-EBUSY) to take memory out from under a window
 * under the same lock, so a window never reaches a page its context no
 * longer maps. Windows close on WINDOW_CLOSE and when the file closes,
 * before its context goes away, in the card too while BAR0 is mapped (an
 * unplugged card still runs until the unbind soft-resets it, and other
 * chips may still write). A device reset clears the card's slots and
 * is not undone: every window open then belongs to a file of the old reset
 * generation, whose context the card no longer has and which can only be
 * closed. Its slot stays taken (remote commands to it are refused) until
 * the file closes.
 *
 * Locking, outermost first: the reset lock (read: the ioctls and the
 * file's close, so no register is written during a reset), &lumen_vm.lock,
 * &lumen_win_table.lock (the slots and the device's staged WIN_* registers).
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_managed.h>

#include <uapi/drm/lumen_accel.h>

#include <lumen/lumen_link.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_reset.h"
#include "lumen_vm.h"
#include "lumen_window.h"

static_assert(sizeof(struct drm_lumen_window_open) == 40);
static_assert(sizeof(struct drm_lumen_window_close) == 8);
/* The uAPI rights, shifted by one, are WIN_CTRL's. */
static_assert(DRM_LUMEN_WINDOW_READ << 1 == LUMEN_WIN_READ);
static_assert(DRM_LUMEN_WINDOW_WRITE << 1 == LUMEN_WIN_WRITE);
static_assert(DRM_LUMEN_WINDOW_ATOMIC << 1 == LUMEN_WIN_ATOMIC);

#define LUMEN_WINDOW_RIGHTS	(DRM_LUMEN_WINDOW_READ | DRM_LUMEN_WINDOW_WRITE | \
				 DRM_LUMEN_WINDOW_ATOMIC)

unsigned int lumen_max_file_windows = 16;
module_param_named(max_file_windows, lumen_max_file_windows, uint, 0644);
MODULE_PARM_DESC(max_file_windows,
		 "Remote windows one open file may have; WINDOW_OPEN fails with -ENOSPC beyond (default 16)");

/**
 * struct lumen_window - one open remote window
 * @link: on &lumen_vm.windows, under &lumen_vm.lock
 * @vm: the owning file's device context
 * @slot: the card's window slot, the uAPI window id
 * @key: what remote commands must present
 * @va: first byte
 * @size: bytes
 * @ctrl: WIN_CTRL value that opens it (VALID, rights, context)
 */
struct lumen_window {
	struct list_head link;
	struct lumen_vm *vm;
	u32 slot;
	u64 key;
	u64 va;
	u64 size;
	u32 ctrl;
};

/**
 * struct lumen_win_table - the card's window slots
 * @lock: protects @slot, @unbound and the device's WIN_INDEX and staged
 *	WIN_KEY, WIN_VA and WIN_SIZE registers, which all slots share
 * @num: slots of the card (NUM_WINDOWS, at most LUMEN_NUM_WINDOWS)
 * @unbound: the driver is unbinding: BAR0 is unmapped, or about to be
 * @slot: the window in each slot, NULL if free
 */
struct lumen_win_table {
	struct mutex lock;	/* slots and WIN_* registers */
	u32 num;
	bool unbound;
	struct lumen_window *slot[LUMEN_NUM_WINDOWS];
};

/*
 * Stage and open @w in its slot; the caller holds the table lock and is
 * in drm_dev_enter() (WINDOW_OPEN).
 */
static void lumen_window_hw_open(struct lumen_device *ldev, const struct lumen_window *w)
{
	lumen_wr32(ldev, LUMEN_REG_WIN_INDEX, w->slot);
	lumen_wr64(ldev, LUMEN_REG_WIN_KEY_LO, w->key);
	lumen_wr64(ldev, LUMEN_REG_WIN_VA_LO, w->va);
	lumen_wr64(ldev, LUMEN_REG_WIN_SIZE_LO, w->size);
	lumen_wr32(ldev, LUMEN_REG_WIN_CTRL, w->ctrl);
}

/*
 * Close @slot; no packet uses it once this returns (the read flushes). The
 * caller holds the table lock. Not under drm_dev_enter(): a file may close
 * between drm_dev_unplug() and the soft reset of the unbind, and its pages
 * are freed right after this, while other chips could still write them
 * through the window. BAR0 is there until lumen_window_unbind() has run.
 */
static void lumen_window_hw_close(struct lumen_device *ldev, u32 slot)
{
	lockdep_assert_held(&ldev->wins->lock);

	if (ldev->wins->unbound)
		return;
	lumen_wr32(ldev, LUMEN_REG_WIN_INDEX, slot);
	lumen_wr32(ldev, LUMEN_REG_WIN_CTRL, 0);
	lumen_rd32(ldev, LUMEN_REG_WIN_CTRL);
}

/*
 * Unbind, before the soft reset and the unmapping of BAR0 (devm order):
 * close every slot, and no window register is touched from here on.
 */
static void lumen_window_unbind(void *arg)
{
	struct lumen_device *ldev = arg;
	struct lumen_win_table *tab = ldev->wins;
	u32 s;

	mutex_lock(&tab->lock);
	for (s = 0; s < tab->num; s++)
		if (tab->slot[s])
			lumen_window_hw_close(ldev, s);
	tab->unbound = true;
	mutex_unlock(&tab->lock);
}

/**
 * lumen_window_init() - the window slots of a card with the link engine
 * @ldev: device, firmware running, BAR0 mapped (devm)
 *
 * Return: 0 (nothing to do without CAPS.LINKS) or -ENOMEM.
 */
int lumen_window_init(struct lumen_device *ldev)
{
	struct lumen_win_table *tab;
	int ret;

	if (!lumen_has_links(ldev))
		return 0;
	tab = drmm_kzalloc(&ldev->drm, sizeof(*tab), GFP_KERNEL);
	if (!tab)
		return -ENOMEM;
	ret = drmm_mutex_init(&ldev->drm, &tab->lock);
	if (ret)
		return ret;
	tab->num = min_t(u32, lumen_rd32(ldev, LUMEN_REG_NUM_WINDOWS), LUMEN_NUM_WINDOWS);
	if (tab->num != LUMEN_NUM_WINDOWS)
		dev_warn(lumen_dev(ldev), "NUM_WINDOWS is %u, the contract says %u\n", tab->num,
			 LUMEN_NUM_WINDOWS);
	ldev->wins = tab;
	return devm_add_action_or_reset(lumen_dev(ldev), lumen_window_unbind, ldev);
}

/**
 * lumen_window_slots() - window slots of the card, for DRM_LUMEN_QUERY_LINK
 * @ldev: device
 *
 * Return: NUM_WINDOWS, 0 without the link engine.
 */
u32 lumen_window_slots(struct lumen_device *ldev)
{
	return ldev->wins ? ldev->wins->num : 0;
}

/* Close @w: slot, registers and the context's list; @w is freed. */
static void lumen_window_close_locked(struct lumen_device *ldev, struct lumen_window *w)
{
	struct lumen_win_table *tab = ldev->wins;

	lockdep_assert_held(&w->vm->lock);

	mutex_lock(&tab->lock);
	tab->slot[w->slot] = NULL;
	lumen_window_hw_close(ldev, w->slot);
	mutex_unlock(&tab->lock);
	list_del(&w->link);
	w->vm->num_windows--;
	kfree(w);
}

/**
 * lumen_window_close_all() - close every window of a closing file
 * @lfile: file; called from postclose before its queues and context go
 */
void lumen_window_close_all(struct lumen_file *lfile)
{
	struct lumen_vm *vm = &lfile->vm;
	struct lumen_window *w, *tmp;

	/* Pairs with lumen_file_get_ctx(): no context, no window. */
	if (!smp_load_acquire(&lfile->has_ctx))
		return;
	/* No register access while a reset (an FLR) has the card. */
	down_read(&lfile->ldev->reset_lock);
	mutex_lock(&vm->lock);
	list_for_each_entry_safe(w, tmp, &vm->windows, link)
		lumen_window_close_locked(lfile->ldev, w);
	mutex_unlock(&vm->lock);
	up_read(&lfile->ldev->reset_lock);
}

/**
 * lumen_window_overlaps_locked() - does an open window reach into a range
 * @vm: context, &lumen_vm.lock held
 * @va: start
 * @size: bytes
 *
 * Return: true if a window of @vm overlaps [@va, @va + @size).
 */
bool lumen_window_overlaps_locked(struct lumen_vm *vm, u64 va, u64 size)
{
	struct lumen_window *w;

	lockdep_assert_held(&vm->lock);

	list_for_each_entry(w, &vm->windows, link)
		if (va < w->va + w->size && w->va < va + size)
			return true;
	return false;
}

static int lumen_window_check_args(const struct drm_lumen_window_open *args)
{
	u64 end;

	if (args->reserved)
		return -EINVAL;
	if (!(args->flags & LUMEN_WINDOW_RIGHTS) || (args->flags & ~LUMEN_WINDOW_RIGHTS))
		return -EINVAL;
	if (!args->size || !IS_ALIGNED(args->va | args->size, SZ_4K))
		return -EINVAL;
	if (args->va < DRM_LUMEN_VA_USER_START || check_add_overflow(args->va, args->size, &end) ||
	    end > DRM_LUMEN_VA_USER_END)
		return -EINVAL;
	return 0;
}

/* Find a slot, pick a key and open @w in the card; -ENOSPC if full. */
static int lumen_window_install(struct lumen_device *ldev, struct lumen_window *w)
{
	struct lumen_win_table *tab = ldev->wins;
	u32 s;

	mutex_lock(&tab->lock);
	for (s = 0; s < tab->num && tab->slot[s]; s++)
		;
	if (s == tab->num) {
		mutex_unlock(&tab->lock);
		return -ENOSPC;
	}
	w->slot = s;
	w->key = get_random_u64();
	tab->slot[s] = w;
	lumen_window_hw_open(ldev, w);
	mutex_unlock(&tab->lock);
	return 0;
}

/**
 * lumen_window_open_ioctl() - DRM_IOCTL_LUMEN_WINDOW_OPEN
 * @drm: DRM device
 * @data: &struct drm_lumen_window_open
 * @file: caller
 *
 * The ioctl gate (lumen_ioctl.c) has checked CAPS.LINKS.
 *
 * Return: 0 with &drm_lumen_window_open.window and .key set; -EINVAL for
 * bad alignment, size, flags or reserved fields; -EFAULT when mappings do
 * not cover the range (writable ones for WRITE and ATOMIC); -ENOSPC when
 * the file has max_file_windows windows or the card no free slot;
 * -ENOMEM; -ENODEV once the card is gone or reset.
 */
int lumen_window_open_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_window_open *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_vm *vm = &lfile->vm;
	struct lumen_window *w;
	bool writable;
	int ret, idx;

	ret = lumen_window_check_args(args);
	if (ret)
		return ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	w->vm = vm;
	w->va = args->va;
	w->size = args->size;

	if (!drm_dev_enter(drm, &idx)) {
		kfree(w);
		return -ENODEV;
	}
	ret = lumen_reset_read_lock(lfile);
	if (ret)
		goto out_exit;
	/* Pairs with lumen_file_get_ctx(): no context, nothing mapped. */
	if (!smp_load_acquire(&lfile->has_ctx)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	w->ctrl = LUMEN_WIN_VALID | args->flags << 1 |
		  ((vm->ctx_id << LUMEN_WIN_CTX_SHIFT) & LUMEN_WIN_CTX_MASK);
	writable = args->flags & (DRM_LUMEN_WINDOW_WRITE | DRM_LUMEN_WINDOW_ATOMIC);

	mutex_lock(&vm->lock);
	if (!lumen_vm_range_mapped_locked(vm, w->va, w->size, writable))
		ret = -EFAULT;
	else if (vm->num_windows >= READ_ONCE(lumen_max_file_windows))
		ret = -ENOSPC;
	else
		ret = lumen_window_install(ldev, w);
	if (!ret) {
		list_add_tail(&w->link, &vm->windows);
		vm->num_windows++;
		args->window = w->slot;
		args->key = w->key;
		dev_dbg(lumen_dev(ldev),
			"context %u: window %u open, VA 0x%llx size 0x%llx rights 0x%x\n",
			vm->ctx_id, w->slot, w->va, w->size, args->flags);
	}
	mutex_unlock(&vm->lock);

out_unlock:
	lumen_reset_read_unlock(ldev);
out_exit:
	drm_dev_exit(idx);
	if (ret)
		kfree(w);
	return ret;
}

/**
 * lumen_window_close_ioctl() - DRM_IOCTL_LUMEN_WINDOW_CLOSE
 * @drm: DRM device
 * @data: &struct drm_lumen_window_close
 * @file: caller
 *
 * Return: 0 once no remote command can reach the window; -EINVAL for
 * non-zero reserved; -ENOENT for a window the file does not own; -ENODEV
 * once the card was reset.
 */
int lumen_window_close_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_window_close *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_vm *vm = &lfile->vm;
	struct lumen_window *w;
	int ret;

	if (args->reserved)
		return -EINVAL;
	/* Pairs with lumen_file_get_ctx(): no context, no window. */
	if (!smp_load_acquire(&lfile->has_ctx))
		return -ENOENT;
	/* WIN_* registers: not while a reset (an FLR) has the card. */
	ret = lumen_reset_read_lock(lfile);
	if (ret)
		return ret;

	ret = -ENOENT;
	mutex_lock(&vm->lock);
	list_for_each_entry(w, &vm->windows, link) {
		if (w->slot == args->window) {
			lumen_window_close_locked(ldev, w);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&vm->lock);
	lumen_reset_read_unlock(ldev);
	return ret;
}
