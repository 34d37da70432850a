/*
 * Lumen N1 accelerator: element arithmetic of reductions (docs/hw-spec.md
 * section 10, "Reductions"; LUMEN_DT_* and LUMEN_REDOP_* in
 * lumen_queue.h).
 *
 * Per element: both operands are widened to binary32 (F16 and BF16
 * exactly, subnormals included; I32 stays an integer), the operation runs
 * in binary32 (SUM: one addition rounded to nearest even; MAX/MIN: a
 * quiet NaN if either operand is a NaN, else the larger/smaller operand,
 * the destination's when they compare equal, so -0 vs +0 keeps dst), and
 * the result is rounded back to the element type to nearest even
 * (overflow gives an infinity, a NaN stays a quiet NaN). I32: SUM wraps
 * modulo 2^32, MAX/MIN compare signed.
 *
 * The float arithmetic is QEMU's softfloat rather than the host FPU and C
 * casts: softfloat does every step (binary16 and bfloat16 conversions,
 * subnormals, round to nearest even, overflow, NaN quieting) exactly as
 * IEEE 754 says whatever the host is, has no excess precision and no
 * flush-to-zero, and its behaviour here is fixed by one float_status that
 * this file sets up completely. It also takes the host FPU's fast path for
 * binary32 additions of normal numbers where that gives the same result
 * (hardfloat: enabled by a pre-set inexact flag, see lumen_reduce_status()).
 *
 * Speed without leaving softfloat's results: widening a binary16 is a
 * function of 16 bits, so softfloat's float16_to_float32() of each of
 * them is computed once into a table; a bfloat16 is by definition the top
 * half of a binary32, so it widens by a shift. MAX and MIN of the 16-bit
 * types return an operand unchanged (or its NaN quietened), so they need
 * no conversion back; only SUM rounds, through softfloat.
 *
 * NaNs (the contract only asks for "a quiet NaN"): the model returns the
 * destination's NaN if it is one, else the source's, quietened (its payload
 * kept as far as the element type holds it); an invalid SUM (inf + -inf)
 * gives the positive default NaN 0x7fc00000 (F16 0x7e00, BF16 0x7fc0).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "fpu/softfloat.h"
#include "lumen-reduce.h"

#define LUMEN_F16_QUIET     0x0200      /* quiet bit of a binary16 NaN */
#define LUMEN_BF16_QUIET    0x0040      /* and of a bfloat16 NaN */

const char *lumen_reduce_check(uint32_t dtype, uint32_t op)
{
    if (dtype >= LUMEN_DT_COUNT) {
        return "unknown reduction dtype";
    }
    if (op >= LUMEN_REDOP_COUNT) {
        return "unknown reduction op";
    }
    return NULL;
}

/*
 * The arithmetic of the contract, all of it spelled out: round to nearest
 * even, no flush to zero on input or output, NaNs propagated (the first
 * operand, dst, before the second) rather than replaced, a positive
 * default NaN. The exception flags are never looked at; inexact is set
 * from the start so that softfloat may use the host FPU where it is exact
 * (can_use_fpu() in fpu/softfloat.c).
 */
static void lumen_reduce_status(float_status *fs)
{
    memset(fs, 0, sizeof(*fs));
    set_float_rounding_mode(float_round_nearest_even, fs);
    set_flush_to_zero(false, fs);
    set_flush_inputs_to_zero(false, fs);
    set_default_nan_mode(false, fs);
    set_snan_bit_is_one(false, fs);
    set_no_signaling_nans(false, fs);
    set_float_2nan_prop_rule(float_2nan_prop_ab, fs);
    set_float_default_nan_pattern(0b01000000, fs);
    set_float_detect_tininess(float_tininess_after_rounding, fs);
    set_float_exception_flags(float_flag_inexact, fs);
}

/* @d op @s in binary32: the result for the destination element. */
static float32 lumen_reduce_f32(uint32_t op, float32 d, float32 s,
                                float_status *fs)
{
    FloatRelation rel;

    if (op == LUMEN_REDOP_SUM) {
        return float32_add(d, s, fs);
    }
    if (float32_is_any_nan(d)) {
        return float32_silence_nan(d, fs);
    }
    if (float32_is_any_nan(s)) {
        return float32_silence_nan(s, fs);
    }
    rel = float32_compare_quiet(d, s, fs);
    if (op == LUMEN_REDOP_MAX) {
        return rel == float_relation_less ? s : d;
    }
    return rel == float_relation_greater ? s : d;     /* MIN */
}

/*
 * float16_to_float32() of every binary16 (exact: binary32 holds them all,
 * subnormals included; a signalling NaN comes out quietened, which the
 * operation would do anyway). Filled on first use.
 */
static float32 lumen_f16_widen[1u << 16];

static void lumen_f16_table_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        float_status fs;
        uint32_t h;

        lumen_reduce_status(&fs);
        for (h = 0; h < ARRAY_SIZE(lumen_f16_widen); h++) {
            lumen_f16_widen[h] = float16_to_float32(h, true, &fs);
        }
        g_once_init_leave(&done, 1);
    }
}

/*
 * @d op @s of the 16-bit type @dtype (F16 or BF16), in binary32: SUM adds
 * the widened operands and rounds the sum back; MAX and MIN pick an
 * operand, so they return its bits as they are (a NaN with its quiet bit
 * set, as the round trip through binary32 would).
 */
static uint16_t lumen_reduce_16(uint32_t dtype, uint32_t op, uint16_t d,
                                uint16_t s, float_status *fs)
{
    bool f16 = dtype == LUMEN_DT_F16;
    float32 a = f16 ? lumen_f16_widen[d] : make_float32((uint32_t)d << 16);
    float32 b = f16 ? lumen_f16_widen[s] : make_float32((uint32_t)s << 16);
    uint16_t quiet = f16 ? LUMEN_F16_QUIET : LUMEN_BF16_QUIET;
    FloatRelation rel;
    float32 r;

    if (op == LUMEN_REDOP_SUM) {
        r = float32_add(a, b, fs);
        return f16 ? float32_to_float16(r, true, fs) :
               float32_to_bfloat16(r, fs);
    }
    if (float32_is_any_nan(a)) {
        return d | quiet;
    }
    if (float32_is_any_nan(b)) {
        return s | quiet;
    }
    rel = float32_compare_quiet(a, b, fs);
    if (op == LUMEN_REDOP_MAX) {
        return rel == float_relation_less ? s : d;
    }
    return rel == float_relation_greater ? s : d;     /* MIN */
}

static uint32_t lumen_reduce_i32(uint32_t op, uint32_t d, uint32_t s)
{
    switch (op) {
    case LUMEN_REDOP_SUM:
        return d + s;                       /* modulo 2^32 */
    case LUMEN_REDOP_MAX:
        return (int32_t)s > (int32_t)d ? s : d;
    default:
        return (int32_t)s < (int32_t)d ? s : d;
    }
}

void lumen_reduce(uint32_t dtype, uint32_t op, uint8_t *dst,
                  const uint8_t *src, size_t n)
{
    float_status fs;
    size_t i;

    lumen_reduce_status(&fs);
    switch (dtype) {
    case LUMEN_DT_F32:
        for (i = 0; i + 4 <= n; i += 4) {
            float32 r = lumen_reduce_f32(op, make_float32(ldl_le_p(dst + i)),
                                         make_float32(ldl_le_p(src + i)),
                                         &fs);

            stl_le_p(dst + i, float32_val(r));
        }
        break;
    case LUMEN_DT_F16:
    case LUMEN_DT_BF16:
        lumen_f16_table_init();
        for (i = 0; i + 2 <= n; i += 2) {
            stw_le_p(dst + i, lumen_reduce_16(dtype, op, lduw_le_p(dst + i),
                                              lduw_le_p(src + i), &fs));
        }
        break;
    case LUMEN_DT_I32:
        for (i = 0; i + 4 <= n; i += 4) {
            stl_le_p(dst + i, lumen_reduce_i32(op, ldl_le_p(dst + i),
                                               ldl_le_p(src + i)));
        }
        break;
    default:
        /* lumen_reduce_check() let nothing else through. */
        g_assert_not_reached();
    }
}
