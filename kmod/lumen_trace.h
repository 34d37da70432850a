/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: tracepoints (events/lumen/ in tracefs).
 *
 *   lumen_job_submit   a job was pushed to its queue's scheduler
 *   lumen_job_run      run_job put it on the hardware ring
 *   lumen_job_done     its fence completed (error 0 or a negative errno)
 *   lumen_job_timeout  the timeout handler declared it hung
 *   lumen_mmu_fault    the device reported an MMU fault of a context
 *   lumen_reset        a device reset started (reasons) and finished
 *   lumen_mbox         a mailbox request completed, failed or timed out
 *
 * Every event names the card by PCI address; jobs by context, hardware
 * queue and seqno, so one job can be followed from submit to done.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM lumen

#if !defined(__LUMEN_TRACE_H__) || defined(TRACE_HEADER_MULTI_READ)
#define __LUMEN_TRACE_H__

#include <linux/pci.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

#include "lumen_drv.h"
#include "lumen_job.h"
#include "lumen_queue.h"

DECLARE_EVENT_CLASS(lumen_job,
	TP_PROTO(struct lumen_job *job),
	TP_ARGS(job),
	TP_STRUCT__entry(
		__string(dev, pci_name(job->q->ldev->pdev))
		__field(u32, ctx)
		__field(u32, hwq)
		__field(u64, seqno)
		__field(u32, num_cmds)
		__field(u32, priority)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->ctx = job->q->uctx->ctx_id;
		__entry->hwq = job->q->hwq->index;
		__entry->seqno = job->seqno;
		__entry->num_cmds = job->num_cmds;
		__entry->priority = job->priority;
	),
	TP_printk("%s ctx=%u hwq=%u seqno=%llu cmds=%u prio=%u", __get_str(dev),
		  __entry->ctx, __entry->hwq, __entry->seqno, __entry->num_cmds,
		  __entry->priority)
);

DEFINE_EVENT(lumen_job, lumen_job_submit,
	TP_PROTO(struct lumen_job *job),
	TP_ARGS(job)
);

DEFINE_EVENT(lumen_job, lumen_job_run,
	TP_PROTO(struct lumen_job *job),
	TP_ARGS(job)
);

DEFINE_EVENT(lumen_job, lumen_job_timeout,
	TP_PROTO(struct lumen_job *job),
	TP_ARGS(job)
);

TRACE_EVENT(lumen_job_done,
	TP_PROTO(struct lumen_job *job, int error),
	TP_ARGS(job, error),
	TP_STRUCT__entry(
		__string(dev, pci_name(job->q->ldev->pdev))
		__field(u32, ctx)
		__field(u32, hwq)
		__field(u64, seqno)
		__field(int, error)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->ctx = job->q->uctx->ctx_id;
		__entry->hwq = job->q->hwq->index;
		__entry->seqno = job->seqno;
		__entry->error = error;
	),
	TP_printk("%s ctx=%u hwq=%u seqno=%llu error=%d", __get_str(dev), __entry->ctx,
		  __entry->hwq, __entry->seqno, __entry->error)
);

TRACE_EVENT(lumen_mmu_fault,
	TP_PROTO(struct lumen_device *ldev, u32 ctx, u64 addr, u32 info, u32 hwq),
	TP_ARGS(ldev, ctx, addr, info, hwq),
	TP_STRUCT__entry(
		__string(dev, pci_name(ldev->pdev))
		__field(u32, ctx)
		__field(u64, addr)
		__field(u32, info)
		__field(u32, hwq)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->ctx = ctx;
		__entry->addr = addr;
		__entry->info = info;
		__entry->hwq = hwq;
	),
	TP_printk("%s ctx=%u addr=0x%llx info=0x%x hwq=%u", __get_str(dev), __entry->ctx,
		  __entry->addr, __entry->info, __entry->hwq)
);

TRACE_EVENT(lumen_reset,
	TP_PROTO(struct lumen_device *ldev, u32 reasons, int result, bool done),
	TP_ARGS(ldev, reasons, result, done),
	TP_STRUCT__entry(
		__string(dev, pci_name(ldev->pdev))
		__field(u32, reasons)
		__field(u32, gen)
		__field(int, result)
		__field(bool, done)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->reasons = reasons;
		__entry->gen = atomic_read(&ldev->reset_gen);
		__entry->result = result;
		__entry->done = done;
	),
	TP_printk("%s %s reasons=0x%x gen=%u result=%d", __get_str(dev),
		  __entry->done ? "done" : "start", __entry->reasons, __entry->gen,
		  __entry->result)
);

TRACE_EVENT(lumen_mbox,
	TP_PROTO(struct lumen_device *ldev, u16 type, u32 seq, int result, u32 us),
	TP_ARGS(ldev, type, seq, result, us),
	TP_STRUCT__entry(
		__string(dev, pci_name(ldev->pdev))
		__field(u16, type)
		__field(u32, seq)
		__field(int, result)
		__field(u32, us)
	),
	TP_fast_assign(
		__assign_str(dev);
		__entry->type = type;
		__entry->seq = seq;
		__entry->result = result;
		__entry->us = us;
	),
	TP_printk("%s type=0x%04x seq=%u result=%d latency=%uus", __get_str(dev),
		  __entry->type, __entry->seq, __entry->result, __entry->us)
);

#endif /* __LUMEN_TRACE_H__ */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE lumen_trace
#include <trace/define_trace.h>
