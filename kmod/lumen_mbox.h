/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: firmware mailbox (request/response rings in host memory).
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_MBOX_H__
#define __LUMEN_MBOX_H__

#include <linux/list.h>
#include <linux/log2.h>
#include <linux/semaphore.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include <lumen/lumen_mbox.h>

struct lumen_device;

/* Slots per ring, a power of two: 16 x 256 bytes = 4 KiB per ring. */
#define LUMEN_MBOX_ENTRIES	16u
#define LUMEN_MBOX_ORDER	ilog2(LUMEN_MBOX_ENTRIES)

/**
 * struct lumen_mbox_stats - mailbox counters, for debugfs
 * @sent: requests handed to the device
 * @completed: responses matched to a waiter (any status)
 * @timeouts: requests the device did not answer in time
 * @stale: well-formed responses nobody waited for any more
 * @bad: malformed responses (version, type, length, flags, seq)
 */
struct lumen_mbox_stats {
	u64 sent;
	u64 completed;
	u64 timeouts;
	u64 stale;
	u64 bad;
};

/**
 * struct lumen_mbox - the mailbox of one device
 * @req: request ring, LUMEN_MBOX_ENTRIES slots of DMA-coherent memory;
 *	written by the CPU under @lock, read by the device.
 * @resp: response ring; written by the device, read only by
 *	lumen_mbox_process() under @lock. Its contents are never trusted:
 *	each slot is copied once and the copy is validated.
 * @req_dma: bus address of @req.
 * @resp_dma: bus address of @resp.
 * @slots: counts free request slots. A slot is taken before a request is
 *	written and given back when its response arrives, so at most
 *	LUMEN_MBOX_ENTRIES requests are ever in flight and neither ring can
 *	overflow whatever REQ_HEAD says. A timed-out request keeps its slot
 *	(see @abandoned).
 * @lock: protects every field below and the ring registers; taken from the
 *	mailbox interrupt handler, so process context uses spin_lock_irq().
 * @open: true while the firmware runs and the rings are programmed; new
 *	requests fail with -ENODEV when false.
 * @req_tail: producer index of @req (free-running).
 * @resp_head: consumer index of @resp (free-running).
 * @next_seq: sequence number of the next request.
 * @abandoned: requests that timed out still holding a slot; a late
 *	response (or a reset) gives the slot back.
 * @waiters: &struct lumen_mbox_waiter of requests in flight, oldest first.
 * @stats: counters.
 */
struct lumen_mbox {
	struct lumen_mbox_msg *req;
	struct lumen_mbox_msg *resp;
	dma_addr_t req_dma;
	dma_addr_t resp_dma;
	struct semaphore slots;

	/* protects the fields below, see @lock above */
	spinlock_t lock;
	bool open;
	u32 req_tail;
	u32 resp_head;
	u32 next_seq;
	u32 abandoned;
	struct list_head waiters;
	struct lumen_mbox_stats stats;
};

int lumen_mbox_init(struct lumen_device *ldev);
void lumen_mbox_setup(struct lumen_device *ldev);
int lumen_mbox_start(struct lumen_device *ldev);
void lumen_mbox_close(struct lumen_mbox *mbox);
void lumen_mbox_process(struct lumen_device *ldev);

int lumen_mbox_call(struct lumen_device *ldev, u16 type,
		    const void *req, u16 req_len,
		    void *resp, u16 resp_size, u16 *resp_len);

int lumen_mbox_ping(struct lumen_device *ldev, const void *data, u16 len);
int lumen_mbox_get_version(struct lumen_device *ldev,
			   struct lumen_mbox_version *ver);
int lumen_mbox_get_identity(struct lumen_device *ldev,
			    struct lumen_mbox_identity *ident);
int lumen_mbox_get_telemetry(struct lumen_device *ldev,
			     struct lumen_mbox_telemetry *tel);

#endif /* __LUMEN_MBOX_H__ */
