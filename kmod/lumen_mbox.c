// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: firmware mailbox.
 *
 * Requests go into a ring of DMA-coherent slots and the REQ_TAIL write is
 * the doorbell; the firmware answers each request with one response in the
 * response ring and raises LUMEN_INT_MBOX on LUMEN_VEC_MBOX. Callers sleep
 * on a per-request waiter that the interrupt handler completes after it has
 * copied and validated the response. Nothing the device writes is used
 * before it has been copied out of the ring and checked.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/moduleparam.h>
#include <linux/string.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_mbox.h"
#include "lumen_reset.h"
#include "lumen_trace.h"

static unsigned int lumen_mbox_timeout_ms = 2000;
module_param_named(mbox_timeout_ms, lumen_mbox_timeout_ms, uint, 0644);
MODULE_PARM_DESC(mbox_timeout_ms, "Mailbox response timeout in ms (default 2000)");

/**
 * struct lumen_mbox_waiter - one request in flight
 * @node: link in &lumen_mbox.waiters while in flight; unlinked (and
 *	re-initialised) under &lumen_mbox.lock by whoever finishes the
 *	request, so list_empty() tells the caller whether it was answered.
 * @done: completed after @node is unlinked.
 * @seq: sequence number of the request.
 * @type: request type; the response must carry type | LUMEN_MBOX_RESPONSE.
 * @ret: 0 if a well-formed response arrived, else a negative errno.
 * @status: device status (&enum lumen_status) of the response.
 * @payload_len: valid bytes in @payload.
 * @payload: copy of the response payload.
 *
 * Lives on the caller's stack; it is always unlinked before the caller
 * returns.
 */
struct lumen_mbox_waiter {
	struct list_head node;
	struct completion done;
	u32 seq;
	u16 type;
	int ret;
	u32 status;
	u16 payload_len;
	u8 payload[LUMEN_MBOX_PAYLOAD_MAX];
};

static const char *lumen_mbox_type_name(u16 type)
{
	switch (type) {
	case LUMEN_MBOX_PING:
		return "PING";
	case LUMEN_MBOX_GET_VERSION:
		return "GET_VERSION";
	case LUMEN_MBOX_GET_IDENTITY:
		return "GET_IDENTITY";
	case LUMEN_MBOX_GET_TELEMETRY:
		return "GET_TELEMETRY";
	default:
		return "UNKNOWN";
	}
}

static int lumen_mbox_status_to_errno(u32 status)
{
	switch (status) {
	case LUMEN_STATUS_OK:
		return 0;
	case LUMEN_STATUS_BUSY:
		return -EBUSY;
	case LUMEN_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	case LUMEN_STATUS_UNKNOWN_MSG:
		return -EOPNOTSUPP;
	case LUMEN_STATUS_BAD_ARGUMENT:
		return -EINVAL;
	case LUMEN_STATUS_BAD_VERSION:
	case LUMEN_STATUS_BAD_LENGTH:
	case LUMEN_STATUS_RESERVED_SET:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/**
 * lumen_mbox_init() - allocate the rings
 * @ldev: device
 *
 * The rings are device-managed DMA memory, allocated before the interrupt
 * handlers are requested so that devres frees the handlers first.
 *
 * Return: 0 or -ENOMEM.
 */
int lumen_mbox_init(struct lumen_device *ldev)
{
	struct lumen_mbox *mbox = &ldev->mbox;
	struct device *dev = lumen_dev(ldev);
	size_t size = LUMEN_MBOX_ENTRIES * sizeof(struct lumen_mbox_msg);

	BUILD_BUG_ON(!is_power_of_2(LUMEN_MBOX_ENTRIES));
	BUILD_BUG_ON(!in_range(LUMEN_MBOX_ORDER, LUMEN_MBOX_RING_ORDER_MIN,
			       LUMEN_MBOX_RING_ORDER_MAX - LUMEN_MBOX_RING_ORDER_MIN + 1));

	spin_lock_init(&mbox->lock);
	INIT_LIST_HEAD(&mbox->waiters);
	sema_init(&mbox->slots, LUMEN_MBOX_ENTRIES);

	mbox->req = dmam_alloc_coherent(dev, size, &mbox->req_dma, GFP_KERNEL);
	if (!mbox->req) {
		dev_err(dev, "cannot allocate the mailbox request ring (%zu bytes)\n", size);
		return -ENOMEM;
	}
	mbox->resp = dmam_alloc_coherent(dev, size, &mbox->resp_dma, GFP_KERNEL);
	if (!mbox->resp) {
		dev_err(dev, "cannot allocate the mailbox response ring (%zu bytes)\n", size);
		return -ENOMEM;
	}

	return 0;
}

/**
 * lumen_mbox_setup() - tell the device where the rings are
 * @ldev: device, after a soft reset and before BOOT
 */
void lumen_mbox_setup(struct lumen_device *ldev)
{
	struct lumen_mbox *mbox = &ldev->mbox;

	lumen_wr64(ldev, LUMEN_REG_MBOX_REQ_BASE_LO, mbox->req_dma);
	lumen_wr64(ldev, LUMEN_REG_MBOX_RESP_BASE_LO, mbox->resp_dma);
	lumen_wr32(ldev, LUMEN_REG_MBOX_RING_ORDER, LUMEN_MBOX_ORDER);
}

/**
 * lumen_mbox_start() - open the mailbox once the firmware runs
 * @ldev: device with BOOT_STATUS RUNNING
 *
 * Takes the ring indices from the device, which must show both rings empty.
 *
 * Return: 0, or -EIO if the device reports traffic nobody sent.
 */
int lumen_mbox_start(struct lumen_device *ldev)
{
	struct lumen_mbox *mbox = &ldev->mbox;
	u32 req_tail, req_head, resp_tail, resp_head;

	req_tail = lumen_rd32(ldev, LUMEN_REG_MBOX_REQ_TAIL);
	req_head = lumen_rd32(ldev, LUMEN_REG_MBOX_REQ_HEAD);
	resp_tail = lumen_rd32(ldev, LUMEN_REG_MBOX_RESP_TAIL);
	resp_head = lumen_rd32(ldev, LUMEN_REG_MBOX_RESP_HEAD);
	if (req_tail != req_head || resp_tail != resp_head) {
		dev_err(lumen_dev(ldev),
			"mailbox not idle after boot: REQ %u/%u RESP %u/%u (tail/head)\n",
			req_tail, req_head, resp_tail, resp_head);
		return -EIO;
	}

	spin_lock_irq(&mbox->lock);
	mbox->req_tail = req_tail;
	mbox->resp_head = resp_head;
	mbox->open = true;
	spin_unlock_irq(&mbox->lock);

	return 0;
}

static void lumen_mbox_finish_locked(struct lumen_mbox *mbox,
				     struct lumen_mbox_waiter *w, int ret)
{
	lockdep_assert_held(&mbox->lock);

	w->ret = ret;
	list_del_init(&w->node);
	complete(&w->done);
}

static void lumen_mbox_close_locked(struct lumen_mbox *mbox, int ret)
{
	struct lumen_mbox_waiter *w, *tmp;

	lockdep_assert_held(&mbox->lock);

	mbox->open = false;
	list_for_each_entry_safe(w, tmp, &mbox->waiters, node)
		lumen_mbox_finish_locked(mbox, w, ret);

	/* Nothing is in flight any more: timed-out requests free their slots. */
	while (mbox->abandoned) {
		mbox->abandoned--;
		up(&mbox->slots);
	}
}

/**
 * lumen_mbox_close() - fail all requests and refuse new ones
 * @mbox: mailbox
 *
 * Called once the device is reset (or gone), so no response can arrive.
 */
void lumen_mbox_close(struct lumen_mbox *mbox)
{
	spin_lock_irq(&mbox->lock);
	lumen_mbox_close_locked(mbox, -ENODEV);
	spin_unlock_irq(&mbox->lock);
}

static struct lumen_mbox_waiter *
lumen_mbox_find_locked(struct lumen_mbox *mbox, u32 seq)
{
	struct lumen_mbox_waiter *w;

	lockdep_assert_held(&mbox->lock);

	list_for_each_entry(w, &mbox->waiters, node)
		if (w->seq == seq)
			return w;
	return NULL;
}

/* Validate one response (a private copy of the slot) and hand it over. */
static void lumen_mbox_dispatch_locked(struct lumen_device *ldev,
				       const struct lumen_mbox_msg *msg)
{
	struct lumen_mbox *mbox = &ldev->mbox;
	u16 version = le16_to_cpu(msg->hdr.version);
	u16 type = le16_to_cpu(msg->hdr.type);
	u32 seq = le32_to_cpu(msg->hdr.seq);
	u16 len = le16_to_cpu(msg->hdr.payload_len);
	u16 flags = le16_to_cpu(msg->hdr.flags);
	struct lumen_mbox_waiter *w;
	const char *why = NULL;

	lockdep_assert_held(&mbox->lock);

	w = lumen_mbox_find_locked(mbox, seq);
	if (version != LUMEN_MBOX_VERSION)
		why = "wrong protocol version";
	else if (!(type & LUMEN_MBOX_RESPONSE))
		why = "response bit clear";
	else if (len > LUMEN_MBOX_PAYLOAD_MAX)
		why = "payload too long";
	else if (flags)
		why = "flags not zero";
	else if (w && (type & ~LUMEN_MBOX_RESPONSE) != w->type)
		why = "type does not match the request";

	if (why) {
		mbox->stats.bad++;
		dev_warn_ratelimited(lumen_dev(ldev),
				     "mailbox: bad response seq %u version %u type 0x%04x len %u flags 0x%x: %s\n",
				     seq, version, type, len, flags, why);
		if (w)
			lumen_mbox_finish_locked(mbox, w, -EPROTO);
		return;
	}

	if (!w) {
		mbox->stats.stale++;
		dev_dbg(lumen_dev(ldev), "mailbox: response seq %u has no waiter\n", seq);
		/* Most likely the answer to a timed-out request: its slot is free now. */
		if (mbox->abandoned) {
			mbox->abandoned--;
			up(&mbox->slots);
		}
		return;
	}

	w->status = le32_to_cpu(msg->hdr.status);
	w->payload_len = len;
	memcpy(w->payload, msg->payload, len);
	mbox->stats.completed++;
	lumen_mbox_finish_locked(mbox, w, 0);
}

/**
 * lumen_mbox_process() - consume the response ring
 * @ldev: device
 *
 * Called from the mailbox interrupt handler; safe from any context.
 */
void lumen_mbox_process(struct lumen_device *ldev)
{
	struct lumen_mbox *mbox = &ldev->mbox;
	struct lumen_mbox_msg msg;
	unsigned long flags;
	u32 tail;

	spin_lock_irqsave(&mbox->lock, flags);
	if (!mbox->open)
		goto out;

	/*
	 * readl() is ordered before the CPU's later loads from DMA memory
	 * (memory-barriers.txt, "KERNEL I/O BARRIER EFFECTS"), so the slots
	 * read below are at least as new as this tail index.
	 */
	tail = lumen_rd32(ldev, LUMEN_REG_MBOX_RESP_TAIL);
	if (tail - mbox->resp_head > LUMEN_MBOX_ENTRIES) {
		dev_err_ratelimited(lumen_dev(ldev),
				    "mailbox: RESP_TAIL %u runs %u ahead of RESP_HEAD %u in a %u-slot ring, closing the mailbox\n",
				    tail, tail - mbox->resp_head, mbox->resp_head,
				    LUMEN_MBOX_ENTRIES);
		mbox->stats.bad++;
		lumen_mbox_close_locked(mbox, -EIO);
		goto out;
	}
	if (tail == mbox->resp_head)
		goto out;

	while (mbox->resp_head != tail) {
		/* One copy per slot: validation and use see the same bytes. */
		memcpy(&msg, &mbox->resp[mbox->resp_head % LUMEN_MBOX_ENTRIES], sizeof(msg));
		mbox->resp_head++;
		lumen_mbox_dispatch_locked(ldev, &msg);
	}

	/*
	 * The slots must be fully read before RESP_HEAD lets the device
	 * reuse them; writel() only orders earlier stores, so order the
	 * loads above against the register write with a full DMA barrier.
	 */
	dma_mb();
	lumen_wr32(ldev, LUMEN_REG_MBOX_RESP_HEAD, mbox->resp_head);
out:
	spin_unlock_irqrestore(&mbox->lock, flags);
}

/**
 * lumen_mbox_call() - send a request and wait for its response
 * @ldev: device
 * @type: &enum lumen_mbox_type
 * @req: request payload, may be NULL if @req_len is 0
 * @req_len: request payload bytes, at most LUMEN_MBOX_PAYLOAD_MAX
 * @resp: buffer for the response payload, may be NULL if @resp_size is 0
 * @resp_size: size of @resp; a longer payload is truncated to it
 * @resp_len: out, payload length the device reported (at most
 *	LUMEN_MBOX_PAYLOAD_MAX), may be NULL
 *
 * Waits at most mbox_timeout_ms for a free slot and again for the response.
 * Sleeps; must not be called with locks held that the handler takes.
 *
 * Return: 0; the errno matching a non-OK device status; -ETIMEDOUT;
 * -EPROTO for a malformed response; -ENODEV if the mailbox is closed; -EIO
 * if the device broke the ring protocol.
 */
int lumen_mbox_call(struct lumen_device *ldev, u16 type,
		    const void *req, u16 req_len,
		    void *resp, u16 resp_size, u16 *resp_len)
{
	struct lumen_mbox *mbox = &ldev->mbox;
	unsigned int timeout_ms = max(READ_ONCE(lumen_mbox_timeout_ms), 1u);
	unsigned long timeout = msecs_to_jiffies(timeout_ms);
	struct lumen_mbox_msg *slot;
	struct lumen_mbox_waiter w;
	ktime_t start = ktime_get();
	int ret;

	if (WARN_ON(req_len > LUMEN_MBOX_PAYLOAD_MAX))
		return -EINVAL;

	if (down_timeout(&mbox->slots, timeout)) {
		dev_err_ratelimited(lumen_dev(ldev),
				    "mailbox: no free slot for %s within %u ms\n",
				    lumen_mbox_type_name(type), timeout_ms);
		return -ETIMEDOUT;
	}

	INIT_LIST_HEAD(&w.node);
	init_completion(&w.done);
	w.type = type;
	w.ret = -EIO;
	w.status = LUMEN_STATUS_INTERNAL;
	w.payload_len = 0;

	spin_lock_irq(&mbox->lock);
	if (!mbox->open) {
		spin_unlock_irq(&mbox->lock);
		up(&mbox->slots);
		return -ENODEV;
	}

	w.seq = mbox->next_seq++;
	slot = &mbox->req[mbox->req_tail % LUMEN_MBOX_ENTRIES];
	slot->hdr.version = cpu_to_le16(LUMEN_MBOX_VERSION);
	slot->hdr.type = cpu_to_le16(type);
	slot->hdr.seq = cpu_to_le32(w.seq);
	slot->hdr.status = 0;
	slot->hdr.payload_len = cpu_to_le16(req_len);
	slot->hdr.flags = 0;
	if (req_len)
		memcpy(slot->payload, req, req_len);
	memset(slot->payload + req_len, 0, LUMEN_MBOX_PAYLOAD_MAX - req_len);
	list_add_tail(&w.node, &mbox->waiters);
	mbox->req_tail++;
	mbox->stats.sent++;
	/*
	 * writel() orders the slot stores above before the doorbell, so the
	 * device never sees the new tail ahead of the message.
	 */
	lumen_wr32(ldev, LUMEN_REG_MBOX_REQ_TAIL, mbox->req_tail);
	spin_unlock_irq(&mbox->lock);

	wait_for_completion_timeout(&w.done, timeout);

	/*
	 * Whoever finishes a waiter unlinks it and calls complete() under the
	 * lock, so once we hold it the waiter is either still linked (no
	 * answer) or entirely done with.
	 */
	spin_lock_irq(&mbox->lock);
	if (!list_empty(&w.node)) {
		list_del_init(&w.node);
		mbox->abandoned++;
		mbox->stats.timeouts++;
		spin_unlock_irq(&mbox->lock);
		dev_err_ratelimited(lumen_dev(ldev),
				    "mailbox: %s seq %u timed out after %u ms\n",
				    lumen_mbox_type_name(type), w.seq, timeout_ms);
		trace_lumen_mbox(ldev, type, w.seq, -ETIMEDOUT,
				 ktime_us_delta(ktime_get(), start));
		/* A firmware that stopped answering only comes back by a reset. */
		lumen_reset_schedule(ldev, LUMEN_RESET_MBOX_TIMEOUT);
		return -ETIMEDOUT;
	}
	spin_unlock_irq(&mbox->lock);
	up(&mbox->slots);

	ret = w.ret ? w.ret : lumen_mbox_status_to_errno(w.status);
	trace_lumen_mbox(ldev, type, w.seq, ret, ktime_us_delta(ktime_get(), start));
	if (w.ret)
		return w.ret;

	if (ret) {
		dev_warn_ratelimited(lumen_dev(ldev), "mailbox: %s seq %u failed: %s (%u)\n",
				     lumen_mbox_type_name(type), w.seq,
				     lumen_status_name(w.status), w.status);
		return ret;
	}

	if (resp_size)
		memcpy(resp, w.payload, min(resp_size, w.payload_len));
	if (resp_len)
		*resp_len = w.payload_len;
	return 0;
}

/* Fixed-layout responses may grow at the end in later ABI minors. */
static int lumen_mbox_call_fixed(struct lumen_device *ldev, u16 type,
				 void *resp, u16 size)
{
	u16 len;
	int ret;

	ret = lumen_mbox_call(ldev, type, NULL, 0, resp, size, &len);
	if (ret)
		return ret;
	if (len < size) {
		dev_err_ratelimited(lumen_dev(ldev),
				    "mailbox: %s response has %u payload bytes, expected %u\n",
				    lumen_mbox_type_name(type), len, size);
		return -EPROTO;
	}
	return 0;
}

/**
 * lumen_mbox_ping() - round-trip a PING and check the echo
 * @ldev: device
 * @data: payload
 * @len: payload bytes, at most LUMEN_MBOX_PAYLOAD_MAX
 *
 * Return: 0, -EPROTO if the echo differs, or an error of lumen_mbox_call().
 */
int lumen_mbox_ping(struct lumen_device *ldev, const void *data, u16 len)
{
	u8 echo[LUMEN_MBOX_PAYLOAD_MAX];
	u16 echo_len;
	int ret;

	if (len > sizeof(echo))
		return -EINVAL;

	ret = lumen_mbox_call(ldev, LUMEN_MBOX_PING, data, len, echo, sizeof(echo), &echo_len);
	if (ret)
		return ret;
	if (echo_len != len || memcmp(echo, data, len)) {
		dev_err_ratelimited(lumen_dev(ldev),
				    "mailbox: PING echo differs (%u bytes sent, %u returned)\n",
				    len, echo_len);
		return -EPROTO;
	}
	return 0;
}

/**
 * lumen_mbox_get_version() - GET_VERSION
 * @ldev: device
 * @ver: out, the response payload (not yet cross-checked)
 *
 * Return: 0 or an error of lumen_mbox_call(); -EPROTO if too short.
 */
int lumen_mbox_get_version(struct lumen_device *ldev, struct lumen_mbox_version *ver)
{
	return lumen_mbox_call_fixed(ldev, LUMEN_MBOX_GET_VERSION, ver, sizeof(*ver));
}

/**
 * lumen_mbox_get_identity() - GET_IDENTITY
 * @ldev: device
 * @ident: out, the response payload (not yet cross-checked)
 *
 * Return: 0 or an error of lumen_mbox_call(); -EPROTO if too short.
 */
int lumen_mbox_get_identity(struct lumen_device *ldev, struct lumen_mbox_identity *ident)
{
	return lumen_mbox_call_fixed(ldev, LUMEN_MBOX_GET_IDENTITY, ident, sizeof(*ident));
}

/**
 * lumen_mbox_get_telemetry() - GET_TELEMETRY
 * @ldev: device
 * @tel: out, the response payload
 *
 * Return: 0 or an error of lumen_mbox_call(); -EPROTO if too short.
 */
int lumen_mbox_get_telemetry(struct lumen_device *ldev, struct lumen_mbox_telemetry *tel)
{
	return lumen_mbox_call_fixed(ldev, LUMEN_MBOX_GET_TELEMETRY, tel, sizeof(*tel));
}
