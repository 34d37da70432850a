/*
 * Lumen N1 accelerator: element arithmetic of reductions (docs/hw-spec.md
 * section 10, "Reductions"), lumen-reduce.c. Used by the queue engine
 * (REDUCE) and by the remote engine's target side (REDUCE packets of an
 * RREDUCE).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_REDUCE_H
#define HW_MISC_LUMEN_REDUCE_H

#include "lumen/lumen_queue.h"

/* The dtype and op a REDUCE packet's aop names (lumen_pkt_redop()). */
static inline uint32_t lumen_redop_dtype(uint8_t aop)
{
    return aop & 0xf;
}

static inline uint32_t lumen_redop_op(uint8_t aop)
{
    return aop >> 4;
}

/*
 * Why (@dtype, @op) is not a reduction the card runs (unknown type or
 * operation), or NULL. When NULL, lumen_dt_size(@dtype) is 2 or 4.
 */
const char *lumen_reduce_check(uint32_t dtype, uint32_t op);

/*
 * dst[i] = dst[i] op src[i] for the @n bytes at @dst and @src: little-endian
 * elements of @dtype, @n a multiple of the element size, no alignment
 * needed. @dst == @src is allowed (x op x); other overlaps are not. The
 * arguments must have passed lumen_reduce_check(). Bounded by @n, no
 * side effect but @dst.
 */
void lumen_reduce(uint32_t dtype, uint32_t op, uint8_t *dst,
                  const uint8_t *src, size_t n);

#endif /* HW_MISC_LUMEN_REDUCE_H */
