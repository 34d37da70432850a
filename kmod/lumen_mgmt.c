// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: management packets (docs/hw-spec.md 13.5, 13.6).
 *
 * A fabric manager on this host discovers and programs chips it has no
 * route to with directed-route packets (struct lumen_mgmt of
 * lumen_mgmt.h). MGMT_SEND hands one to the card: the driver writes it
 * into MGMT_TX_BUF with 32-bit writes, starts it with MGMT_TX_LEN and
 * turns MGMT_TX_STATUS into an errno; senders take turns (the buffer is
 * the card's only one).
 *
 * Answers and traps for this host arrive in the card's receive queue (32
 * packets) and raise INT_MGMT on the link vector. Its handler
 * (lumen_link.c) only kicks a work item that moves them into the driver's
 * own queue of LUMEN_MGMT_FIFO_LEN packets, so the card's stays empty;
 * when the driver's is full the oldest packet goes and counts in
 * mgmt_fifo_drops (sysfs links/). MGMT_RECV takes the oldest, waiting up
 * to an absolute deadline like WAIT. A device reset empties both queues:
 * the answers of before belong to files that only get -ENODEV now.
 *
 * The management key (MKEY) is left as the card has it: 0 after a reset,
 * or what a manager set with a management SET.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/capability.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_managed.h>
#include <drm/drm_utils.h>

#include <uapi/drm/lumen_accel.h>

#include <lumen/lumen_link.h>
#include <lumen/lumen_mgmt.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_mgmt.h"
#include "lumen_reset.h"

static_assert(sizeof(struct drm_lumen_mgmt) == 32);
static_assert(sizeof(struct lumen_mgmt) == DRM_LUMEN_MGMT_MAX);
static_assert(IS_ALIGNED(DRM_LUMEN_MGMT_MAX, 4));
static_assert(sizeof(struct lumen_mgmt) <= LUMEN_MGMT_BUF_SIZE);

/**
 * struct lumen_mgmt_pkt - a received management packet
 * @len: bytes of @data used
 * @data: the packet, struct lumen_mgmt (whole words read from the card)
 */
struct lumen_mgmt_pkt {
	u32 len;
	u8 data[DRM_LUMEN_MGMT_MAX];
};

/**
 * struct lumen_mgmt_dev - management packets of a card
 * @ldev: device
 * @tx_lock: one sender at a time in MGMT_TX_BUF / MGMT_TX_LEN / MGMT_TX_STATUS
 * @rx_lock: protects @fifo, @head and @count, and the card's MGMT_RX_*
 * @fifo: LUMEN_MGMT_FIFO_LEN packets, a ring
 * @head: index of the oldest packet
 * @count: packets queued
 * @drops: packets dropped because @fifo was full
 * @stopped: the card is being unbound: receivers give up
 * @wq: receivers wait here for @count
 * @rx_work: moves packets from the card into @fifo
 */
struct lumen_mgmt_dev {
	struct lumen_device *ldev;
	struct mutex tx_lock;	/* MGMT_TX_* */
	struct mutex rx_lock;	/* the queue and MGMT_RX_* */
	struct lumen_mgmt_pkt *fifo;
	u32 head;
	u32 count;
	atomic64_t drops;
	bool stopped;
	wait_queue_head_t wq;
	struct work_struct rx_work;
};

/* A free slot at the tail, after dropping the oldest packet if full. */
static struct lumen_mgmt_pkt *lumen_mgmt_fifo_push(struct lumen_mgmt_dev *m)
{
	lockdep_assert_held(&m->rx_lock);

	if (m->count == LUMEN_MGMT_FIFO_LEN) {
		m->head = (m->head + 1) % LUMEN_MGMT_FIFO_LEN;
		m->count--;
		atomic64_inc(&m->drops);
	}
	return &m->fifo[(m->head + m->count++) % LUMEN_MGMT_FIFO_LEN];
}

static bool lumen_mgmt_fifo_pop(struct lumen_mgmt_dev *m, struct lumen_mgmt_pkt *out)
{
	lockdep_assert_held(&m->rx_lock);

	if (!m->count)
		return false;
	*out = m->fifo[m->head];
	m->head = (m->head + 1) % LUMEN_MGMT_FIFO_LEN;
	m->count--;
	return true;
}

/* Give a packet a receiver could not copy out back, as the oldest. */
static void lumen_mgmt_fifo_unpop(struct lumen_mgmt_dev *m, const struct lumen_mgmt_pkt *pkt)
{
	lockdep_assert_held(&m->rx_lock);

	if (m->count == LUMEN_MGMT_FIFO_LEN) {
		atomic64_inc(&m->drops);
		return;
	}
	m->head = (m->head + LUMEN_MGMT_FIFO_LEN - 1) % LUMEN_MGMT_FIFO_LEN;
	m->fifo[m->head] = *pkt;
	m->count++;
}

/* Move what the card queued into the driver's queue. */
static void lumen_mgmt_rx_work(struct work_struct *work)
{
	struct lumen_mgmt_dev *m = container_of(work, struct lumen_mgmt_dev, rx_work);
	struct lumen_device *ldev = m->ldev;
	struct lumen_mgmt_pkt *pkt;
	u32 n, i, len, got = 0;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return;
	/* Not while a reset rebuilds the card, nor on a sleeping or lost one. */
	down_read(&ldev->reset_lock);
	if (READ_ONCE(ldev->lost) || READ_ONCE(ldev->pm_suspended))
		goto out;

	mutex_lock(&m->rx_lock);
	/* The card holds at most LUMEN_MGMT_RX_DEPTH; later ones kick again. */
	for (n = 0; n < LUMEN_MGMT_RX_DEPTH; n++) {
		len = lumen_rd32(ldev, LUMEN_REG_MGMT_RX_LEN);
		if (!len)
			break;
		if (len < LUMEN_MGMT_HDR_SIZE || len > DRM_LUMEN_MGMT_MAX) {
			dev_warn_ratelimited(lumen_dev(ldev),
					     "management packet of %u bytes dropped (72..%u)\n",
					     len, DRM_LUMEN_MGMT_MAX);
		} else {
			pkt = lumen_mgmt_fifo_push(m);
			pkt->len = len;
			for (i = 0; i < DIV_ROUND_UP(len, 4); i++)
				put_unaligned_le32(lumen_rd32(ldev, LUMEN_REG_MGMT_RX_BUF + 4 * i),
						   pkt->data + 4 * i);
			got++;
		}
		lumen_wr32(ldev, LUMEN_REG_MGMT_RX_POP, 1);
	}
	mutex_unlock(&m->rx_lock);
	if (got)
		wake_up_interruptible_all(&m->wq);
out:
	up_read(&ldev->reset_lock);
	drm_dev_exit(idx);
}

/**
 * lumen_mgmt_rx_kick() - the card queued management packets for the host
 * @ldev: device; any context (the link vector's handler)
 */
void lumen_mgmt_rx_kick(struct lumen_device *ldev)
{
	if (ldev->mgmt)
		queue_work(system_unbound_wq, &ldev->mgmt->rx_work);
}

/**
 * lumen_mgmt_reset() - forget the packets of before a device reset
 * @ldev: device; called by lumen_reset_prepare() once the new reset
 *	generation has begun and the card is stopped (its queue emptied), and
 *	when the card is lost for good (a permanent PCI error)
 *
 * Wakes the receivers, whose files are of the old reset generation now (or
 * whose card is lost), before the card is brought back, so that they
 * return even if it is not.
 */
void lumen_mgmt_reset(struct lumen_device *ldev)
{
	struct lumen_mgmt_dev *m = ldev->mgmt;

	if (!m)
		return;
	mutex_lock(&m->rx_lock);
	m->head = 0;
	m->count = 0;
	mutex_unlock(&m->rx_lock);
	wake_up_interruptible_all(&m->wq);
}

/**
 * lumen_mgmt_stop() - the card is going: no more packets, wake receivers
 * @ldev: device, its link interrupt masked and synchronized
 */
void lumen_mgmt_stop(struct lumen_device *ldev)
{
	struct lumen_mgmt_dev *m = ldev->mgmt;

	if (!m)
		return;
	WRITE_ONCE(m->stopped, true);
	cancel_work_sync(&m->rx_work);
	wake_up_interruptible_all(&m->wq);
}

/**
 * lumen_mgmt_fifo_drops() - packets dropped from the driver's full queue
 * @ldev: device
 *
 * Return: the count since probe.
 */
u64 lumen_mgmt_fifo_drops(struct lumen_device *ldev)
{
	return ldev->mgmt ? atomic64_read(&ldev->mgmt->drops) : 0;
}

static void lumen_mgmt_fini(struct drm_device *drm, void *arg)
{
	struct lumen_mgmt_dev *m = arg;

	/* A probe that failed early never ran lumen_mgmt_stop(). */
	cancel_work_sync(&m->rx_work);
	kvfree(m->fifo);
}

/**
 * lumen_mgmt_init() - management packets of a card with the link engine
 * @ldev: device; before lumen_link_init(), which enables INT_MGMT
 *
 * Return: 0 (nothing to do without CAPS.LINKS) or -ENOMEM.
 */
int lumen_mgmt_init(struct lumen_device *ldev)
{
	struct lumen_mgmt_dev *m;
	int ret;

	if (!lumen_has_links(ldev))
		return 0;
	m = drmm_kzalloc(&ldev->drm, sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->ldev = ldev;
	init_waitqueue_head(&m->wq);
	INIT_WORK(&m->rx_work, lumen_mgmt_rx_work);
	atomic64_set(&m->drops, 0);
	ret = drmm_mutex_init(&ldev->drm, &m->tx_lock);
	if (ret)
		return ret;
	ret = drmm_mutex_init(&ldev->drm, &m->rx_lock);
	if (ret)
		return ret;
	m->fifo = kvcalloc(LUMEN_MGMT_FIFO_LEN, sizeof(*m->fifo), GFP_KERNEL);
	if (!m->fifo)
		return -ENOMEM;
	ret = drmm_add_action_or_reset(&ldev->drm, lumen_mgmt_fini, m);
	if (ret)
		return ret;
	ldev->mgmt = m;
	return 0;
}

/* MGMT_TX_STATUS -> errno; a refusal is logged with the card's reason. */
static int lumen_mgmt_tx_errno(struct lumen_device *ldev, u32 status)
{
	switch (status) {
	case LUMEN_STATUS_OK:
		return 0;
	case LUMEN_STATUS_UNREACHABLE:
		return -EHOSTUNREACH;
	case LUMEN_STATUS_BUSY:
		/* The first port already holds all it may queue: retry later. */
		return -EBUSY;
	case LUMEN_STATUS_BAD_LENGTH:
	case LUMEN_STATUS_BAD_ARGUMENT:
	case LUMEN_STATUS_BAD_VERSION:
	case LUMEN_STATUS_RESERVED_SET:
		dev_info_ratelimited(lumen_dev(ldev),
				     "MGMT_SEND: the card refused the packet: %s (%u)\n",
				     lumen_status_name(status), status);
		return -EINVAL;
	default:
		dev_warn_ratelimited(lumen_dev(ldev),
				     "MGMT_SEND: unexpected MGMT_TX_STATUS %s (%u)\n",
				     lumen_status_name(status), status);
		return -EIO;
	}
}

/**
 * lumen_mgmt_send_ioctl() - DRM_IOCTL_LUMEN_MGMT_SEND
 * @drm: DRM device
 * @data: &struct drm_lumen_mgmt
 * @file: caller
 *
 * The ioctl gate (lumen_ioctl.c) has checked CAPS.LINKS.
 *
 * Return: 0 once the packet is on its way; -EPERM without CAP_SYS_ADMIN;
 * -EINVAL for bad fields or size, or a packet the card refused (logged);
 * -EHOSTUNREACH when its first port is not up; -EFAULT; -ENOMEM; -ENODEV.
 */
int lumen_mgmt_send_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_mgmt *args = data;
	struct lumen_mgmt_dev *m = ldev->mgmt;
	u32 i, status;
	int ret, idx;
	u8 *buf;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (args->flags || args->reserved || args->timeout_ns)
		return -EINVAL;
	if (args->size < LUMEN_MGMT_HDR_SIZE || args->size > DRM_LUMEN_MGMT_MAX)
		return -EINVAL;

	/* Whole words: the card takes 32-bit writes; the pad is zero. */
	buf = kzalloc(DRM_LUMEN_MGMT_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (copy_from_user(buf, u64_to_user_ptr(args->data), args->size)) {
		ret = -EFAULT;
		goto out_free;
	}

	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out_free;
	}
	ret = lumen_reset_read_lock(file->driver_priv);
	if (ret)
		goto out_exit;
	mutex_lock(&m->tx_lock);
	for (i = 0; i < DIV_ROUND_UP(args->size, 4); i++)
		lumen_wr32(ldev, LUMEN_REG_MGMT_TX_BUF + 4 * i, get_unaligned_le32(buf + 4 * i));
	lumen_wr32(ldev, LUMEN_REG_MGMT_TX_LEN, args->size);
	status = lumen_rd32(ldev, LUMEN_REG_MGMT_TX_STATUS);
	mutex_unlock(&m->tx_lock);
	lumen_reset_read_unlock(ldev);
	ret = lumen_mgmt_tx_errno(ldev, status);
out_exit:
	drm_dev_exit(idx);
out_free:
	kfree(buf);
	return ret;
}

static bool lumen_mgmt_recv_ready(struct lumen_mgmt_dev *m, struct lumen_file *lfile)
{
	return READ_ONCE(m->count) || READ_ONCE(m->stopped) || lumen_file_check_gen(lfile);
}

/**
 * lumen_mgmt_recv_ioctl() - DRM_IOCTL_LUMEN_MGMT_RECV
 * @drm: DRM device
 * @data: &struct drm_lumen_mgmt
 * @file: caller
 *
 * Return: 0 with the oldest packet at &drm_lumen_mgmt.data and its length
 * in .size; -EPERM without CAP_SYS_ADMIN; -EINVAL for bad fields or a
 * buffer smaller than DRM_LUMEN_MGMT_MAX; -ETIME once the deadline passed;
 * -EFAULT (the packet stays queued, unless a reset emptied the queue
 * meanwhile); -ERESTARTSYS on a signal (restart-safe: the deadline is
 * absolute); -ENODEV once the card was reset or is gone.
 */
int lumen_mgmt_recv_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_mgmt *args = data;
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_mgmt_dev *m = ldev->mgmt;
	struct lumen_mgmt_pkt *pkt;
	long timeout, left;
	bool got;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (args->flags || args->reserved || args->size < DRM_LUMEN_MGMT_MAX)
		return -EINVAL;

	pkt = kmalloc(sizeof(*pkt), GFP_KERNEL);
	if (!pkt)
		return -ENOMEM;
	timeout = drm_timeout_abs_to_jiffies(min_t(u64, args->timeout_ns, S64_MAX));
	for (;;) {
		ret = lumen_file_check_gen(lfile);
		if (ret)
			goto out;
		mutex_lock(&m->rx_lock);
		got = lumen_mgmt_fifo_pop(m, pkt);
		mutex_unlock(&m->rx_lock);
		if (got)
			break;
		if (READ_ONCE(m->stopped)) {
			ret = -ENODEV;
			goto out;
		}
		if (!timeout) {
			ret = -ETIME;
			goto out;
		}
		left = wait_event_interruptible_timeout(m->wq, lumen_mgmt_recv_ready(m, lfile),
							timeout);
		if (left < 0) {
			ret = left;
			goto out;
		}
		/* At the deadline: one last look, then -ETIME. */
		timeout = left;
	}

	if (copy_to_user(u64_to_user_ptr(args->data), pkt->data, pkt->len)) {
		/*
		 * Back as the oldest, unless a reset started meanwhile: it
		 * emptied the queue (under the lock, after the generation
		 * changed), and this packet is of before it.
		 */
		mutex_lock(&m->rx_lock);
		if (!lumen_file_check_gen(lfile))
			lumen_mgmt_fifo_unpop(m, pkt);
		mutex_unlock(&m->rx_lock);
		ret = -EFAULT;
		goto out;
	}
	args->size = pkt->len;
out:
	kfree(pkt);
	return ret;
}
