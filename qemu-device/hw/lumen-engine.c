/*
 * Lumen N1 accelerator: the DMA queue engine (docs/hw-spec.md section 10,
 * lumen_queue.h).
 *
 * One bottom half serves every RUNNING queue once per run, each with a
 * budget (LUMEN_ENGINE_DESCS descriptors or LUMEN_ENGINE_BYTES bytes
 * moved), then reschedules itself while work is left: QEMU stays
 * responsive and a queue copying gigabytes does not starve the others.
 * A COPY, FILL or REDUCE larger than the budget continues where it
 * stopped (LumenQueue.progress) on the next run.
 *
 * Queues are served by priority class (QCTRL.PRIO): HIGH, then NORMAL,
 * then LOW, each class round robin from LumenEngine.next. While a HIGH
 * queue has work at the start of a run, NORMAL and LOW queues get a
 * quarter of the byte budget in that run (a descriptor always starts, so
 * none starves): latency-critical work does not wait behind long turns of
 * bulk copies. The class of each queue is taken once per run, so a run
 * still serves each queue at most once.
 *
 * Each descriptor is fetched from the host ring, checked field by field
 * (opcode, flags, reserved and unused bytes, alignment, size), then run in
 * the queue's MMU context. Data moves between device memory (the RAM of
 * BAR2, accessed directly) and host memory (DMA through the function's
 * address space) in chunks that never cross a page of the source or the
 * destination. Both sides of a COPY chunk are mapped (host pages with
 * dma_memory_map()) and moved with memmove(): a host page may be the same
 * RAM as the other side (this card's own BAR2, or a shared host page).
 *
 * REDUCE (dst op= src, element by element; the arithmetic is
 * lumen-reduce.c's) runs in the same chunks as COPY. Each piece of a chunk
 * is read from both sides into two bounce buffers, reduced there and
 * written back to dst, so neither side is ever handed to memcpy() as an
 * overlapping range, whatever the two share (dst == src in place, a host
 * page that is this card's own BAR2): in place gives x op x. Arithmetic
 * is slow next to memcpy, so a queue's turn reduces at most
 * LUMEN_ENGINE_REDUCE_BYTES over all its REDUCE descriptors, and a run of
 * the BH about that much over all queues (every queue with a REDUCE still
 * reduces a little per run); the bytes count in the byte budget and in
 * busy time like a COPY's.
 *
 * Each queue counts the bytes it writes (COPY/FILL/REDUCE destinations,
 * fence and timestamp words) in LumenQueue.written, its PROGRESS register,
 * chunk by chunk, so the count is exact whenever the guest can look. An
 * injected firmware crash or halt stops every queue's descriptor fetch;
 * a descriptor already in progress still completes. A queue whose
 * injected hang or wedge fired is not served at all (lumen_queue_stuck()).
 *
 * A WAIT whose condition is false parks its queue; parked queues are
 * checked again after any queue runs a SIGNAL and every
 * LUMEN_ENGINE_WAIT_POLL_NS of QEMU_CLOCK_VIRTUAL, which also catches
 * values written by host CPUs.
 *
 * Remote descriptors (RWRITE, RREAD, RATOMIC, RREDUCE) are
 * lumen-remote.c's: the engine checks them with lumen_remote_cmd_check()
 * and runs them with lumen_remote_exec(), which parks the queue while the
 * message waits for answers; the remote engine kicks the engine when
 * answers or its timers need the queue to run again.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "hw/pci/pci_device.h"
#include "system/dma.h"
#include "lumen-npu.h"
#include "lumen-engine.h"
#include "lumen-reduce.h"
#include "trace.h"

#define LUMEN_ENGINE_DESCS          64
#define LUMEN_ENGINE_BYTES          (16 * MiB)
#define LUMEN_ENGINE_BYTES_YIELD    (LUMEN_ENGINE_BYTES / 4)  /* HIGH busy */
#define LUMEN_ENGINE_WAIT_POLL_NS   (50 * SCALE_US)
#define LUMEN_BOUNCE_SIZE           (4 * KiB)
/*
 * REDUCE element arithmetic runs at tens to hundreds of MiB/s, not at
 * memcpy speed, and a run of the BH holds the BQL (QEMU's main loop and
 * every vCPU wait for it). So REDUCE bytes are bounded twice: a queue's
 * turn reduces at most LUMEN_ENGINE_REDUCE_BYTES, whatever the number of
 * descriptors, and a whole run at most LUMEN_ENGINE_REDUCE_BYTES plus
 * LUMEN_ENGINE_REDUCE_MIN per queue: once the run's allowance is spent,
 * each later queue still reduces LUMEN_ENGINE_REDUCE_MIN (so none
 * starves), and the rest continues in the next run.
 */
#define LUMEN_ENGINE_REDUCE_BYTES   (2 * MiB)
#define LUMEN_ENGINE_REDUCE_MIN     LUMEN_BOUNCE_SIZE

/* Busy-time model for telemetry: per descriptor, plus bytes at 16 GB/s. */
#define LUMEN_DESC_BUSY_NS          100
#define LUMEN_BYTES_PER_BUSY_NS     16

static uint8_t *lumen_devmem(LumenState *s, uint64_t off)
{
    return (uint8_t *)memory_region_get_ram_ptr(&s->mem) + off;
}

uint8_t *lumen_engine_devmem(LumenState *s, uint64_t off)
{
    return lumen_devmem(s, off);
}

static AddressSpace *lumen_dma_as(LumenState *s)
{
    return pci_get_address_space(PCI_DEVICE(s));
}

/* The device was reset by a DMA of the running BH: abandon everything. */
static bool lumen_engine_was_reset(LumenState *s)
{
    return s->reset_gen != s->engine.run_gen;
}

/*
 * Queue @q's engine stopped answering: HANG_QUEUE fired (until
 * QCTRL_RESET) or WEDGE_QUEUE fired (until a device reset).
 */
static bool lumen_queue_stuck(LumenState *s, unsigned int q)
{
    return s->queues[q].hung || lumen_inject_wedged(s, q);
}

void lumen_engine_kick(LumenState *s)
{
    qemu_bh_schedule(s->engine.bh);
}

/*
 * Stop queue @q for @code unless a fault already stopped it, reporting
 * @err_bit with @info.
 */
LumenExec lumen_engine_fail(LumenState *s, unsigned int q, uint32_t err_bit,
                            enum lumen_status code, uint64_t info)
{
    if (lumen_engine_was_reset(s)) {
        return LUMEN_EXEC_STOPPED;
    }
    if (s->queues[q].status != LUMEN_QSTS_STOPPED) {
        lumen_queue_stop(s, q, code);
    }
    if (err_bit) {
        lumen_report_error(s, err_bit, code, info);
    }
    return LUMEN_EXEC_STOPPED;
}

/* A data DMA at device VA @va failed. */
static LumenExec lumen_engine_dma_error(LumenState *s, unsigned int q,
                                        uint64_t va, const char *what)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: DMA %s at "
                  "device VA 0x%" PRIx64 " failed\n", s->chip_id, q, what, va);
    return lumen_engine_fail(s, q, LUMEN_ERR_DMA, LUMEN_STATUS_DMA_ERROR, va);
}

/* The translation of queue @q failed with @st (already reported). */
static LumenExec lumen_engine_xlate_failed(LumenState *s, unsigned int q,
                                           enum lumen_status st)
{
    return lumen_engine_fail(s, q, 0, st, 0);
}

/* ---- Plain accesses (remote operations) ------------------------------- */

MemTxResult lumen_engine_xfer(LumenState *s, const LumenXlate *x, void *buf,
                              uint64_t n, bool write)
{
    if (!x->host) {
        if (write) {
            memcpy(lumen_devmem(s, x->addr), buf, n);
            memory_region_set_dirty(&s->mem, x->addr, n);
        } else {
            memcpy(buf, lumen_devmem(s, x->addr), n);
        }
        return MEMTX_OK;
    }
    return pci_dma_rw(PCI_DEVICE(s), x->addr, buf, n,
                      write ? DMA_DIRECTION_FROM_DEVICE :
                      DMA_DIRECTION_TO_DEVICE, MEMTXATTRS_UNSPECIFIED);
}

enum lumen_status lumen_engine_rw(LumenState *s, unsigned int q, uint64_t va,
                                  void *buf, uint64_t n, bool write)
{
    uint32_t gen = s->reset_gen;
    uint8_t *p = buf;
    enum lumen_status st;
    LumenXlate x;

    while (n) {
        uint64_t len;

        st = lumen_mmu_translate(s, q, va, write, &x);
        if (st != LUMEN_STATUS_OK) {
            return st;
        }
        len = MIN(n, x.len);
        if (lumen_engine_xfer(s, &x, p, len, write) != MEMTX_OK) {
            qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                          "DMA %s at device VA 0x%" PRIx64 " failed\n",
                          s->chip_id, q, write ? "write" : "read", va);
            lumen_report_error(s, LUMEN_ERR_DMA, LUMEN_STATUS_DMA_ERROR, va);
            return LUMEN_STATUS_DMA_ERROR;
        }
        if (s->reset_gen != gen) {
            return LUMEN_STATUS_OK;     /* the caller sees the reset */
        }
        if (write) {
            s->queues[q].written += len;
        }
        va += len;
        p += len;
        n -= len;
    }
    return LUMEN_STATUS_OK;
}

/* ---- Fences: 8-byte accesses ------------------------------------------- */

static LumenExec lumen_fence_rw(LumenState *s, unsigned int q, uint64_t va,
                                uint64_t *val, bool write)
{
    LumenXlate x;
    enum lumen_status st;
    MemTxResult r;

    st = lumen_mmu_translate(s, q, va, write, &x);
    if (st != LUMEN_STATUS_OK) {
        return lumen_engine_xlate_failed(s, q, st);
    }
    /* @va is 8-byte aligned, so the word never crosses a page. */
    if (!x.host) {
        if (write) {
            stq_le_p(lumen_devmem(s, x.addr), *val);
            memory_region_set_dirty(&s->mem, x.addr, 8);
            s->queues[q].written += 8;
        } else {
            *val = ldq_le_p(lumen_devmem(s, x.addr));
        }
        return LUMEN_EXEC_DONE;
    }
    if (write) {
        r = stq_le_pci_dma(PCI_DEVICE(s), x.addr, *val,
                           MEMTXATTRS_UNSPECIFIED);
    } else {
        r = ldq_le_pci_dma(PCI_DEVICE(s), x.addr, val,
                           MEMTXATTRS_UNSPECIFIED);
    }
    if (r != MEMTX_OK) {
        return lumen_engine_dma_error(s, q, va, write ? "write" : "read");
    }
    /* The write may have reset the function: then PROGRESS is already 0. */
    if (write && !lumen_engine_was_reset(s)) {
        s->queues[q].written += 8;
    }
    return LUMEN_EXEC_DONE;
}

/* ---- COPY and FILL ----------------------------------------------------- */

/*
 * One side of a COPY chunk as a host pointer: device memory directly, a
 * host page through dma_memory_map().  *@len is cut to what was mapped;
 * NULL if nothing could be mapped (then *@len is 0).
 */
static void *lumen_copy_map(LumenState *s, const LumenXlate *x, uint64_t off,
                            dma_addr_t *len, bool write)
{
    void *p;

    if (!x->host) {
        return lumen_devmem(s, x->addr + off);
    }
    p = dma_memory_map(lumen_dma_as(s), x->addr + off, len,
                       write ? DMA_DIRECTION_FROM_DEVICE :
                       DMA_DIRECTION_TO_DEVICE, MEMTXATTRS_UNSPECIFIED);
    if (p && !*len) {
        dma_memory_unmap(lumen_dma_as(s), p, 0,
                         write ? DMA_DIRECTION_FROM_DEVICE :
                         DMA_DIRECTION_TO_DEVICE, 0);
        p = NULL;
    }
    if (!p) {
        *len = 0;
    }
    return p;
}

static void lumen_copy_unmap(LumenState *s, const LumenXlate *x, void *p,
                             dma_addr_t len, bool write, dma_addr_t done)
{
    if (x->host) {
        dma_memory_unmap(lumen_dma_as(s), p, len,
                         write ? DMA_DIRECTION_FROM_DEVICE :
                         DMA_DIRECTION_TO_DEVICE, done);
    }
}

/*
 * Any source and destination, device memory or host pages.  Both sides are
 * turned into host pointers and moved with memmove(): a host page may be
 * RAM that the other side also reaches (overlapping host ranges, or a host
 * address that is this card's own BAR2), and the result is then that of a
 * copy through a temporary buffer, as for device-to-device.  A side that
 * cannot be mapped (MMIO, no bounce buffer left) goes through a small
 * bounce buffer instead; the sides then cannot share memory.
 */
static LumenExec lumen_copy_chunk(LumenState *s, unsigned int q,
                                  const LumenXlate *src, const LumenXlate *dst,
                                  uint64_t n, uint64_t src_va, uint64_t dst_va)
{
    AddressSpace *as = lumen_dma_as(s);
    MemTxAttrs attrs = MEMTXATTRS_UNSPECIFIED;
    uint8_t bounce[LUMEN_BOUNCE_SIZE];
    uint64_t off = 0;

    if (src->host &&
        !dma_memory_valid(as, src->addr, n, DMA_DIRECTION_TO_DEVICE, attrs)) {
        return lumen_engine_dma_error(s, q, src_va, "read");
    }
    if (dst->host &&
        !dma_memory_valid(as, dst->addr, n, DMA_DIRECTION_FROM_DEVICE,
                          attrs)) {
        return lumen_engine_dma_error(s, q, dst_va, "write");
    }
    while (off < n) {
        dma_addr_t slen = n - off, dlen = n - off, len;
        void *sp = lumen_copy_map(s, src, off, &slen, false);
        void *dp = sp ? lumen_copy_map(s, dst, off, &dlen, true) : NULL;

        if (sp && dp) {
            len = MIN(slen, dlen);
            memmove(dp, sp, len);
            lumen_copy_unmap(s, dst, dp, dlen, true, len);
            lumen_copy_unmap(s, src, sp, slen, false, len);
        } else {
            /* No mapping: bounce (the unmapped side is not RAM). */
            if (sp) {
                lumen_copy_unmap(s, src, sp, slen, false, 0);
            }
            len = MIN(n - off, sizeof(bounce));
            if (!src->host) {
                memcpy(bounce, lumen_devmem(s, src->addr + off), len);
            } else if (dma_memory_read(as, src->addr + off, bounce, len,
                                       attrs) != MEMTX_OK) {
                return lumen_engine_dma_error(s, q, src_va, "read");
            }
            if (!dst->host) {
                memcpy(lumen_devmem(s, dst->addr + off), bounce, len);
            } else if (dma_memory_write(as, dst->addr + off, bounce, len,
                                        attrs) != MEMTX_OK) {
                return lumen_engine_dma_error(s, q, dst_va, "write");
            }
        }
        if (!dst->host) {
            memory_region_set_dirty(&s->mem, dst->addr + off, len);
        }
        off += len;
    }
    return LUMEN_EXEC_DONE;
}

/* Byte j of @p is byte (@phase + j) % 8 of the little-endian @pattern. */
static void lumen_fill_pattern(uint8_t *p, uint64_t len, uint64_t pattern,
                               uint64_t phase)
{
    uint8_t pat[8];
    uint64_t j;

    stq_le_p(pat, pattern);
    for (j = 0; j < len && ((phase + j) & 7); j++) {
        p[j] = pat[(phase + j) & 7];
    }
    for (; j + 8 <= len; j += 8) {
        memcpy(p + j, pat, 8);
    }
    for (; j < len; j++) {
        p[j] = pat[(phase + j) & 7];
    }
}

static LumenExec lumen_fill_chunk(LumenState *s, unsigned int q,
                                  const LumenXlate *dst, uint64_t n,
                                  uint64_t pattern, uint64_t phase,
                                  uint64_t dst_va)
{
    AddressSpace *as = lumen_dma_as(s);
    MemTxAttrs attrs = MEMTXATTRS_UNSPECIFIED;
    uint8_t bounce[LUMEN_BOUNCE_SIZE];
    uint64_t addr = dst->addr;

    if (!dst->host) {
        lumen_fill_pattern(lumen_devmem(s, addr), n, pattern, phase);
        memory_region_set_dirty(&s->mem, addr, n);
        return LUMEN_EXEC_DONE;
    }
    if (!dma_memory_valid(as, addr, n, DMA_DIRECTION_FROM_DEVICE, attrs)) {
        return lumen_engine_dma_error(s, q, dst_va, "write");
    }
    while (n) {
        dma_addr_t len = n;
        void *p = dma_memory_map(as, addr, &len, DMA_DIRECTION_FROM_DEVICE,
                                 attrs);

        if (p && len) {
            lumen_fill_pattern(p, len, pattern, phase);
            dma_memory_unmap(as, p, len, DMA_DIRECTION_FROM_DEVICE, len);
        } else {
            if (p) {
                dma_memory_unmap(as, p, len, DMA_DIRECTION_FROM_DEVICE, 0);
            }
            len = MIN(n, sizeof(bounce));
            lumen_fill_pattern(bounce, len, pattern, phase);
            if (dma_memory_write(as, addr, bounce, len, attrs) != MEMTX_OK) {
                return lumen_engine_dma_error(s, q, dst_va, "write");
            }
        }
        addr += len;
        phase += len;
        n -= len;
    }
    return LUMEN_EXEC_DONE;
}

/*
 * Run COPY (@fill false) or FILL from lq->progress on, at most @budget
 * bytes; *@moved grows by the bytes moved.
 */
static LumenExec lumen_exec_move(LumenState *s, unsigned int q, bool fill,
                                 uint64_t budget, uint64_t *moved)
{
    LumenQueue *lq = &s->queues[q];
    const struct lumen_cmd *c = &lq->cur;
    uint64_t src = le64_to_cpu(c->u.copy.src);
    uint64_t dst = fill ? le64_to_cpu(c->u.fill.dst) :
                   le64_to_cpu(c->u.copy.dst);
    uint64_t size = fill ? le64_to_cpu(c->u.fill.size) :
                    le64_to_cpu(c->u.copy.size);
    uint64_t pattern = le64_to_cpu(c->u.fill.pattern);
    LumenXlate sx = { 0 }, dx;
    enum lumen_status st;
    LumenExec r;

    while (lq->progress < size) {
        uint64_t off = lq->progress;
        uint64_t n = MIN(size - off, budget);

        if (!n) {
            return LUMEN_EXEC_MORE;
        }
        if (!fill) {
            st = lumen_mmu_translate(s, q, src + off, false, &sx);
            if (st != LUMEN_STATUS_OK) {
                return lumen_engine_xlate_failed(s, q, st);
            }
            n = MIN(n, sx.len);
        }
        st = lumen_mmu_translate(s, q, dst + off, true, &dx);
        if (st != LUMEN_STATUS_OK) {
            return lumen_engine_xlate_failed(s, q, st);
        }
        n = MIN(n, dx.len);
        if (fill) {
            r = lumen_fill_chunk(s, q, &dx, n, pattern, off, dst + off);
        } else {
            r = lumen_copy_chunk(s, q, &sx, &dx, n, src + off, dst + off);
        }
        if (r != LUMEN_EXEC_DONE) {
            return r;
        }
        if (lumen_engine_was_reset(s)) {
            return LUMEN_EXEC_STOPPED;
        }
        lq->progress += n;
        lq->written += n;           /* PROGRESS, modulo 2^32 */
        budget -= n;
        *moved += n;
    }
    return LUMEN_EXEC_DONE;
}

/* ---- REDUCE ------------------------------------------------------------- */

/*
 * One REDUCE chunk of queue @q: @n bytes, whole elements, at @src and @dst
 * (neither crosses a page). Piece by piece (a bounce buffer each): read the
 * source and the destination, reduce, write the destination back, then
 * count the piece in PROGRESS and in lq->progress, so a failing REDUCE has
 * written, and counted, a prefix. *@moved grows by the bytes reduced.
 */
static LumenExec lumen_reduce_chunk(LumenState *s, unsigned int q,
                                    const LumenXlate *src,
                                    const LumenXlate *dst, uint64_t n,
                                    uint64_t src_va, uint64_t dst_va,
                                    uint64_t *moved)
{
    LumenQueue *lq = &s->queues[q];
    const struct lumen_cmd_reduce *c = &lq->cur.u.reduce;
    uint32_t dtype = le32_to_cpu(c->dtype), op = le32_to_cpu(c->op);
    AddressSpace *as = lumen_dma_as(s);
    MemTxAttrs attrs = MEMTXATTRS_UNSPECIFIED;
    uint8_t sbuf[LUMEN_BOUNCE_SIZE], dbuf[LUMEN_BOUNCE_SIZE];
    uint64_t off = 0;

    if (src->host &&
        !dma_memory_valid(as, src->addr, n, DMA_DIRECTION_TO_DEVICE, attrs)) {
        return lumen_engine_dma_error(s, q, src_va, "read");
    }
    if (dst->host &&
        !dma_memory_valid(as, dst->addr, n, DMA_DIRECTION_FROM_DEVICE,
                          attrs)) {
        return lumen_engine_dma_error(s, q, dst_va, "write");
    }
    while (off < n) {
        /* LUMEN_BOUNCE_SIZE is a multiple of every element size. */
        uint64_t len = MIN(n - off, sizeof(sbuf));
        LumenXlate sp = { .addr = src->addr + off, .len = len,
                          .host = src->host };
        LumenXlate dp = { .addr = dst->addr + off, .len = len,
                          .host = dst->host };

        if (lumen_engine_xfer(s, &sp, sbuf, len, false) != MEMTX_OK) {
            return lumen_engine_dma_error(s, q, src_va + off, "read");
        }
        if (lumen_engine_was_reset(s)) {
            return LUMEN_EXEC_STOPPED;
        }
        if (lumen_engine_xfer(s, &dp, dbuf, len, false) != MEMTX_OK) {
            return lumen_engine_dma_error(s, q, dst_va + off, "read");
        }
        if (lumen_engine_was_reset(s)) {
            return LUMEN_EXEC_STOPPED;
        }
        lumen_reduce(dtype, op, dbuf, sbuf, len);
        if (lumen_engine_xfer(s, &dp, dbuf, len, true) != MEMTX_OK) {
            return lumen_engine_dma_error(s, q, dst_va + off, "write");
        }
        if (lumen_engine_was_reset(s)) {
            return LUMEN_EXEC_STOPPED;
        }
        lq->progress += len;
        lq->written += len;         /* PROGRESS, modulo 2^32 */
        *moved += len;
        off += len;
    }
    return LUMEN_EXEC_DONE;
}

/*
 * Run REDUCE from lq->progress on, at most @budget bytes of it (whole
 * elements: a budget left below one element waits for the next run; the
 * caller bounds it by the turn's REDUCE allowance); *@moved grows by the
 * bytes reduced. Like COPY: the source is translated for a read, the
 * destination for a write (it is read and written), in chunks that cross
 * no page of either.
 */
static LumenExec lumen_exec_reduce(LumenState *s, unsigned int q,
                                   uint64_t budget, uint64_t *moved)
{
    LumenQueue *lq = &s->queues[q];
    const struct lumen_cmd_reduce *c = &lq->cur.u.reduce;
    uint64_t src = le64_to_cpu(c->src);
    uint64_t dst = le64_to_cpu(c->dst);
    uint64_t size = le64_to_cpu(c->size);
    uint64_t esize = lumen_dt_size(le32_to_cpu(c->dtype));
    uint64_t start = *moved;
    LumenXlate sx, dx;
    enum lumen_status st;
    LumenExec r;

    while (lq->progress < size) {
        uint64_t off = lq->progress;
        uint64_t n = MIN(size - off, budget - MIN(*moved - start, budget));

        n -= n % esize;
        if (!n) {
            return LUMEN_EXEC_MORE;
        }
        st = lumen_mmu_translate(s, q, src + off, false, &sx);
        if (st != LUMEN_STATUS_OK) {
            return lumen_engine_xlate_failed(s, q, st);
        }
        st = lumen_mmu_translate(s, q, dst + off, true, &dx);
        if (st != LUMEN_STATUS_OK) {
            return lumen_engine_xlate_failed(s, q, st);
        }
        /*
         * src + off and dst + off are aligned to the element size and
         * pages are multiples of it: n stays whole elements.
         */
        n = MIN(n, MIN(sx.len, dx.len));
        r = lumen_reduce_chunk(s, q, &sx, &dx, n, src + off, dst + off,
                               moved);
        if (r != LUMEN_EXEC_DONE) {
            return r;
        }
    }
    return LUMEN_EXEC_DONE;
}

/* Why REDUCE @r is malformed, or NULL. */
static const char *lumen_reduce_cmd_check(LumenState *s,
                                          const struct lumen_cmd_reduce *r)
{
    uint32_t dtype = le32_to_cpu(r->dtype);
    uint64_t esize;
    const char *why;

    if (!(s->caps & LUMEN_CAP_REDUCE)) {
        return "REDUCE without CAPS.REDUCE";
    }
    why = lumen_reduce_check(dtype, le32_to_cpu(r->op));
    if (why) {
        return why;
    }
    esize = lumen_dt_size(dtype);
    if ((le64_to_cpu(r->src) | le64_to_cpu(r->dst)) & (esize - 1)) {
        return "REDUCE src or dst not aligned to the element size";
    }
    if (le64_to_cpu(r->size) & (esize - 1)) {
        return "REDUCE size not a multiple of the element size";
    }
    if (le64_to_cpu(r->size) > LUMEN_CMD_MAX_SIZE) {
        return "REDUCE size over LUMEN_CMD_MAX_SIZE";
    }
    return NULL;
}

/* ---- Descriptors ------------------------------------------------------- */

/* Why @c is malformed, or NULL if it may run. */
static const char *lumen_cmd_check(LumenState *s, const struct lumen_cmd *c)
{
    unsigned int used, i;      /* argument words the opcode uses */

    if (c->opcode >= LUMEN_CMD_OP_COUNT) {
        return "unknown opcode";
    }
    if (c->flags & ~LUMEN_CMD_F_MASK) {
        return "reserved flag bits set";
    }
    if (c->reserved0) {
        return "reserved0 not zero";
    }
    switch (c->opcode) {
    case LUMEN_CMD_NOP:
        used = 0;
        break;
    case LUMEN_CMD_COPY:
        if (le64_to_cpu(c->u.copy.size) > LUMEN_CMD_MAX_SIZE) {
            return "COPY size over LUMEN_CMD_MAX_SIZE";
        }
        used = 3;
        break;
    case LUMEN_CMD_FILL:
        if (le64_to_cpu(c->u.fill.size) > LUMEN_CMD_MAX_SIZE) {
            return "FILL size over LUMEN_CMD_MAX_SIZE";
        }
        used = 3;
        break;
    case LUMEN_CMD_SIGNAL:
    case LUMEN_CMD_WAIT:
    case LUMEN_CMD_TIMESTAMP:
        if (le64_to_cpu(c->u.fence.addr) & 7) {
            return "fence address not 8-byte aligned";
        }
        /* TIMESTAMP's value field is unused, so must be zero. */
        used = c->opcode == LUMEN_CMD_TIMESTAMP ? 1 : 2;
        break;
    case LUMEN_CMD_REDUCE: {
        const char *why = lumen_reduce_cmd_check(s, &c->u.reduce);

        if (why) {
            return why;
        }
        /* src, dst, size, dtype | op << 32; reserved[3] zero. */
        used = 4;
        break;
    }
    case LUMEN_CMD_RWRITE:
    case LUMEN_CMD_RREAD:
    case LUMEN_CMD_RATOMIC:
    case LUMEN_CMD_RREDUCE:
        return lumen_remote_cmd_check(s, c);
    default:
        /* LUMEN_CMD_LAUNCH: CAPS.COMPUTE is clear. */
        return "LAUNCH without a compute engine";
    }
    for (i = used; i < ARRAY_SIZE(c->u.raw); i++) {
        if (c->u.raw[i]) {
            return "reserved or unused argument bytes not zero";
        }
    }
    return NULL;
}

/*
 * Load the descriptor at HEAD into lq->cur, applying an armed injection.
 * False if the queue stopped, hung or wedged instead.
 */
static bool lumen_queue_fetch(LumenState *s, unsigned int q)
{
    LumenQueue *lq = &s->queues[q];
    uint32_t entries = 1u << lq->order;
    uint64_t addr = lq->base +
                    (uint64_t)(lq->head & (entries - 1)) * sizeof(lq->cur);
    uint32_t inject = lq->inject;
    const char *why;

    lq->inject = LUMEN_INJECT_NONE;
    if (inject != LUMEN_INJECT_NONE) {
        trace_lumen_inject_fire(s->chip_id, q, inject, lq->head);
    }
    if (inject == LUMEN_INJECT_HANG_QUEUE) {
        lq->hung = true;    /* stays RUNNING until QCTRL_RESET */
        return false;
    }
    if (inject == LUMEN_INJECT_WEDGE_QUEUE) {
        lumen_inject_wedge(s, q);   /* RUNNING until a device reset */
        return false;
    }
    if (inject != LUMEN_INJECT_DMA_FAIL && (lq->ctrl & LUMEN_QCTRL_USER)) {
        /* A user-mode ring is a device VA: fetched through the MMU. */
        enum lumen_status st = lumen_engine_rw(s, q, addr, &lq->cur,
                                               sizeof(lq->cur), false);

        if (st != LUMEN_STATUS_OK) {
            lumen_engine_fail(s, q, 0, st, 0);
            return false;
        }
        if (lumen_engine_was_reset(s)) {
            return false;
        }
    } else if (inject == LUMEN_INJECT_DMA_FAIL ||
               pci_dma_read(PCI_DEVICE(s), addr, &lq->cur,
                            sizeof(lq->cur)) != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                      "descriptor fetch at 0x%" PRIx64 " failed%s\n",
                      s->chip_id, q, addr,
                      inject == LUMEN_INJECT_DMA_FAIL ? " (injected)" : "");
        lumen_engine_fail(s, q, LUMEN_ERR_DMA, LUMEN_STATUS_DMA_ERROR, addr);
        return false;
    }
    if (inject == LUMEN_INJECT_CORRUPT_DESC) {
        memset(&lq->cur, 0xa5, sizeof(lq->cur));
    }
    why = lumen_cmd_check(s, &lq->cur);
    if (why) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                      "descriptor %u (opcode %u tag 0x%x): %s\n", s->chip_id,
                      q, lq->head, lq->cur.opcode, le32_to_cpu(lq->cur.tag),
                      why);
        lumen_engine_fail(s, q, LUMEN_ERR_QUEUE_DESC,
                          LUMEN_STATUS_BAD_DESCRIPTOR, q);
        return false;
    }
    trace_lumen_queue_exec(s->chip_id, q, lq->head, lq->cur.opcode,
                           le32_to_cpu(lq->cur.tag));
    lq->has_cur = true;
    lq->progress = 0;
    return true;
}

static bool lumen_engine_any_waiting(LumenState *s)
{
    unsigned int q;

    for (q = 0; q < s->num_queues; q++) {
        if (s->queues[q].waiting) {
            return true;
        }
    }
    return false;
}

/*
 * Execute lq->cur; @budget bytes may move, *@moved counts them. A REDUCE
 * moves at most @reduce_budget of them, and *@reduced counts those too.
 */
static LumenExec lumen_cmd_exec(LumenState *s, unsigned int q,
                                uint64_t budget, uint64_t reduce_budget,
                                uint64_t *moved, uint64_t *reduced)
{
    LumenQueue *lq = &s->queues[q];
    const struct lumen_cmd *c = &lq->cur;
    uint64_t addr = le64_to_cpu(c->u.fence.addr);
    uint64_t value = le64_to_cpu(c->u.fence.value);
    uint64_t now;
    LumenExec r;

    switch (c->opcode) {
    case LUMEN_CMD_NOP:
        return LUMEN_EXEC_DONE;
    case LUMEN_CMD_COPY:
        return lumen_exec_move(s, q, false, budget, moved);
    case LUMEN_CMD_FILL:
        return lumen_exec_move(s, q, true, budget, moved);
    case LUMEN_CMD_REDUCE: {
        uint64_t start = *moved;

        r = lumen_exec_reduce(s, q, MIN(budget, reduce_budget), moved);
        *reduced += *moved - start;
        return r;
    }
    case LUMEN_CMD_SIGNAL:
        r = lumen_fence_rw(s, q, addr, &value, true);
        if (r == LUMEN_EXEC_DONE && lumen_engine_any_waiting(s)) {
            s->engine.kick = true;
        }
        return r;
    case LUMEN_CMD_WAIT: {
        uint64_t cur = 0;

        r = lumen_fence_rw(s, q, addr, &cur, false);
        if (r != LUMEN_EXEC_DONE) {
            return r;
        }
        lq->waiting = cur < value;
        return lq->waiting ? LUMEN_EXEC_PARKED : LUMEN_EXEC_DONE;
    }
    case LUMEN_CMD_TIMESTAMP:
        now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) - s->telem.reset_ns;
        return lumen_fence_rw(s, q, addr, &now, true);
    case LUMEN_CMD_RWRITE:
    case LUMEN_CMD_RREAD:
    case LUMEN_CMD_RATOMIC:
    case LUMEN_CMD_RREDUCE:
        return lumen_remote_exec(s, q, moved);
    default:
        /* lumen_cmd_check() let nothing else through. */
        g_assert_not_reached();
    }
}

/*
 * Serve queue @q within its budget of @budget bytes. True if it still has
 * work that can run now (the budget ran out). REDUCE descriptors share
 * one allowance for the turn, taken from the run's (LumenEngine
 * .reduce_left): at most LUMEN_ENGINE_REDUCE_BYTES, at least
 * LUMEN_ENGINE_REDUCE_MIN.
 */
static bool lumen_queue_run(LumenState *s, unsigned int q, uint64_t budget,
                            uint64_t *busy_ns, uint64_t *reduced_run)
{
    LumenQueue *lq = &s->queues[q];
    LumenEngine *e = &s->engine;
    uint64_t reduce_allow = MIN(MIN(budget, LUMEN_ENGINE_REDUCE_BYTES),
                                MAX(e->reduce_left,
                                    LUMEN_ENGINE_REDUCE_MIN));
    uint64_t moved = 0, reduced = 0;
    unsigned int descs = 0;
    bool more = false;

    while (lq->status == LUMEN_QSTS_RUNNING && !lumen_queue_stuck(s, q)) {
        LumenExec r;

        if (lumen_engine_was_reset(s)) {
            return false;
        }
        if (!lq->has_cur) {
            if (!(lq->ctrl & LUMEN_QCTRL_ENABLE)) {
                lq->status = LUMEN_QSTS_DISABLED;
                break;
            }
            if (lq->head == lq->tail) {
                lq->status = LUMEN_QSTS_IDLE;
                break;
            }
            if (lumen_inject_queues_frozen(s)) {
                /* No fetch until a reset; the queue keeps its state. */
                break;
            }
            if (descs >= LUMEN_ENGINE_DESCS || moved >= budget) {
                more = true;
                break;
            }
            if (!lumen_queue_fetch(s, q)) {
                break;
            }
        }
        r = lumen_cmd_exec(s, q, budget - MIN(moved, budget),
                           reduce_allow - MIN(reduced, reduce_allow), &moved,
                           &reduced);
        if (r == LUMEN_EXEC_MORE) {
            more = true;
            break;
        }
        if (r != LUMEN_EXEC_DONE || lumen_engine_was_reset(s)) {
            break;
        }
        /* Retire: the descriptor's writes are done (synchronously). */
        descs++;
        lq->has_cur = false;
        lq->progress = 0;
        lq->head++;
        lq->completed++;
        lumen_queue_retired(s, q, lq->cur.flags & LUMEN_CMD_F_IRQ);
    }
    if (!lumen_engine_was_reset(s)) {
        lumen_queue_post_cpl(s, q);     /* leaving the queue (USER) */
    }
    /* REDUCE is as busy as a COPY of its bytes (hw-spec 10). */
    *busy_ns += descs * LUMEN_DESC_BUSY_NS + moved / LUMEN_BYTES_PER_BUSY_NS;
    e->reduce_left -= MIN(reduced, e->reduce_left);
    *reduced_run += reduced;
    return more;
}

/*
 * Does queue @q have work for the engine: a descriptor in progress (a
 * parked WAIT included, it may be satisfied at any time) or one to fetch?
 */
static bool lumen_queue_has_work(LumenState *s, unsigned int q)
{
    LumenQueue *lq = &s->queues[q];

    if (lq->status != LUMEN_QSTS_RUNNING || lumen_queue_stuck(s, q)) {
        return false;
    }
    return lq->has_cur ||
           ((lq->ctrl & LUMEN_QCTRL_ENABLE) && lq->head != lq->tail &&
            !lumen_inject_queues_frozen(s));
}

/* Classes in the order a run serves them. */
static const uint8_t lumen_prio_order[] = {
    LUMEN_QPRIO_HIGH, LUMEN_QPRIO_NORMAL, LUMEN_QPRIO_LOW,
};

static void lumen_engine_bh(void *opaque)
{
    LumenState *s = opaque;
    LumenEngine *e = &s->engine;
    uint8_t prio[LUMEN_QUEUES_MAX];
    uint64_t busy_ns = 0, reduced = 0;
    bool high_busy = false;
    bool more = false;
    unsigned int c, i;

    e->kick = false;
    e->run_gen = s->reset_gen;
    e->reduce_left = LUMEN_ENGINE_REDUCE_BYTES;
    for (i = 0; i < s->num_queues; i++) {
        prio[i] = lumen_queue_prio(&s->queues[i]);
        if (prio[i] == LUMEN_QPRIO_HIGH && lumen_queue_has_work(s, i)) {
            high_busy = true;
        }
    }
    for (c = 0; c < ARRAY_SIZE(lumen_prio_order); c++) {
        uint64_t budget = LUMEN_ENGINE_BYTES;

        if (high_busy && lumen_prio_order[c] != LUMEN_QPRIO_HIGH) {
            budget = LUMEN_ENGINE_BYTES_YIELD;
        }
        for (i = 0; i < s->num_queues; i++) {
            unsigned int q = (e->next + i) % s->num_queues;

            if (prio[q] != lumen_prio_order[c]) {
                continue;
            }
            more |= lumen_queue_run(s, q, budget, &busy_ns, &reduced);
            if (lumen_engine_was_reset(s)) {
                qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: device "
                              "reset by a DMA of the queue engine\n",
                              s->chip_id);
                return;
            }
        }
    }
    e->next = (e->next + 1) % s->num_queues;
    trace_lumen_engine_run(s->chip_id, busy_ns, reduced, more);
    if (busy_ns) {
        lumen_telemetry_add_busy(s, busy_ns);
    }
    if (more || e->kick) {
        qemu_bh_schedule(e->bh);
    }
    if (lumen_engine_any_waiting(s) && !timer_pending(e->wait_timer)) {
        timer_mod(e->wait_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                  LUMEN_ENGINE_WAIT_POLL_NS);
    }
}

static void lumen_engine_wait_timer(void *opaque)
{
    LumenState *s = opaque;

    if (lumen_engine_any_waiting(s)) {
        qemu_bh_schedule(s->engine.bh);
    }
}

/*
 * After migration: a descriptor in progress must be one the engine accepts
 * (the stream is not trusted). Then let the BH resume the queues; it also
 * re-arms the WAIT poll timer.
 */
bool lumen_engine_post_load(LumenState *s)
{
    unsigned int q;

    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        LumenQueue *lq = &s->queues[q];

        if (lq->has_cur && lumen_cmd_check(s, &lq->cur)) {
            return false;
        }
        /* A REDUCE resumes at an element boundary, or it never ends. */
        if (lq->has_cur && lq->cur.opcode == LUMEN_CMD_REDUCE &&
            lq->progress %
            lumen_dt_size(le32_to_cpu(lq->cur.u.reduce.dtype))) {
            return false;
        }
        /* Only a RUNNING queue parks, on a WAIT; else the poll never ends. */
        if (lq->waiting && (lq->status != LUMEN_QSTS_RUNNING ||
                            !lq->has_cur || lq->cur.opcode != LUMEN_CMD_WAIT)) {
            return false;
        }
    }
    lumen_engine_kick(s);
    return true;
}

void lumen_engine_reset(LumenState *s)
{
    qemu_bh_cancel(s->engine.bh);
    timer_del(s->engine.wait_timer);
    s->engine.next = 0;
    s->engine.kick = false;
}

void lumen_engine_init(LumenState *s)
{
    s->engine.bh = qemu_bh_new_guarded(lumen_engine_bh, s,
                                       &DEVICE(s)->mem_reentrancy_guard);
    s->engine.wait_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                        lumen_engine_wait_timer, s);
}

void lumen_engine_exit(LumenState *s)
{
    qemu_bh_delete(s->engine.bh);
    s->engine.bh = NULL;
    timer_free(s->engine.wait_timer);
    s->engine.wait_timer = NULL;
}
