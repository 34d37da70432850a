/*
 * Lumen N1 accelerator: what the queue engine (lumen-engine.c) shares with
 * the remote engine (lumen-remote.c): the outcome of running a descriptor,
 * the engine's memory helpers, and the MMU lookup without side effects
 * that remote windows use (lumen-mmu.c). Include after lumen-npu.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_ENGINE_H
#define HW_MISC_LUMEN_ENGINE_H

#include "exec/memattrs.h"

typedef enum LumenExec {
    LUMEN_EXEC_DONE,        /* descriptor complete: retire it */
    LUMEN_EXEC_MORE,        /* budget used up: continue on the next run */
    LUMEN_EXEC_PARKED,      /* WAIT condition false, or remote op in flight */
    LUMEN_EXEC_STOPPED,     /* the queue stopped (error or fault) */
} LumenExec;

/* lumen-engine.c */

/* Device memory at offset @off (inside mem_size: the MMU checked it). */
uint8_t *lumen_engine_devmem(LumenState *s, uint64_t off);

/*
 * Move @n bytes between @buf and what @x translates (n <= x->len): device
 * memory directly, host pages by PCI DMA. Writes to device memory are
 * marked dirty (migration).
 */
MemTxResult lumen_engine_xfer(LumenState *s, const LumenXlate *x, void *buf,
                              uint64_t n, bool write);

/*
 * Read or write @n bytes at device VA @va of queue @q's context, page by
 * page. OK; MMU_FAULT (the fault is recorded and the context's queues
 * are stopped, as for any descriptor); DMA_ERROR (a host table page or a
 * data page could not be accessed: already reported in ERR_*, the caller
 * stops the queue; bytes before it may have moved). A write adds what it
 * wrote to the queue's PROGRESS. The caller checks s->reset_gen after it.
 */
enum lumen_status lumen_engine_rw(LumenState *s, unsigned int q, uint64_t va,
                                  void *buf, uint64_t n, bool write);

/*
 * Stop queue @q with @code from the engine's bottom half, reporting
 * @err_bit (if not 0) with @info; always returns LUMEN_EXEC_STOPPED.
 */
LumenExec lumen_engine_fail(LumenState *s, unsigned int q, uint32_t err_bit,
                            enum lumen_status code, uint64_t info);

/* lumen-remote.c: RWRITE, RREAD, RATOMIC and RREDUCE (13.7). */

/* Why remote descriptor @c is malformed, or NULL. */
const char *lumen_remote_cmd_check(LumenState *s, const struct lumen_cmd *c);

/*
 * Run queue @q's remote descriptor (lq->cur) from the engine's bottom
 * half: start its message, send what the window allows, resend what is
 * overdue. DONE when the target confirmed everything; PARKED while
 * answers are awaited (lumen_engine_kick() runs the queue again); STOPPED
 * on a failure. *@moved grows by the bytes sent.
 */
LumenExec lumen_remote_exec(LumenState *s, unsigned int q, uint64_t *moved);

/*
 * Queue @q drops its remote descriptor (stop, CTRL.RESET, ENABLE cleared
 * or set): the message in flight is abandoned, its answers are ignored,
 * and the queue's next message starts a new epoch.
 */
void lumen_remote_queue_abandon(LumenState *s, unsigned int q);

/* lumen-mmu.c */

#define LUMEN_MMU_LOOKUP_DMA_ERROR  (-1)

/*
 * Translate @va in context @ctx for a read or a write, with no side
 * effect but the context's TLB: no fault record, no error event, no
 * queue stopped (remote windows, 13.7). Returns 0 with @out filled, an
 * enum lumen_mmu_fault, or LUMEN_MMU_LOOKUP_DMA_ERROR (a host table
 * page could not be read; *@bus_addr is the entry's address).
 */
int lumen_mmu_lookup(LumenState *s, unsigned int ctx, uint64_t va,
                     bool write, LumenXlate *out, uint64_t *bus_addr);

#endif /* HW_MISC_LUMEN_ENGINE_H */
