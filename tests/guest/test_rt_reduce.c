// SPDX-License-Identifier: MIT
/*
 * liblumen reductions (lumen.h "Reductions", hw-spec 10 "Reductions" and
 * 13.7 RREDUCE) on the emulated card, against a CPU reference written
 * independently of the device model: the compiler's _Float16 for f16 and
 * bit arithmetic for bf16.
 *
 *   tests/vm/run --no-build --cards 1 -- lumen-guest-tests rt_reduce
 *   (with --cards 4 --fabric ring and lumen-route, the cross-chip case runs)
 *
 *   - every dtype x op on 4099 elements (odd, crossing pages) with special
 *     values first (NaN, infinities, -0/+0 ties, f16 subnormals, overflow,
 *     i32 wrap), compared bit for bit (any NaN matches any NaN);
 *   - in place (dst == src), a sub-range with guard elements around it,
 *     several reductions queued behind a copy on one stream, 16 MiB in one
 *     call, count 0;
 *   - argument checks: unknown dtype and op, misaligned dst and src, a
 *     count that overflows, ranges outside an allocation, a bad stream;
 *   - with a link engine: a remote reduction into this chip's own window
 *     (loopback) for every dtype x op, a descriptor without the WRITE
 *     right, a forged one refused by the target with the window unchanged;
 *     on a fabric, every chip reducing into chip 0's window at once.
 */
#include "rt_test.h"

#include <math.h>

#include <lumen/lumen.h>

#define N	   4099
#define MAX_CARDS  4
#define BIG_BYTES  (16 * MiB)
#define WIN_BYTES  (64 * KiB)

static const lumen_dtype_t kTypes[] = {LUMEN_DTYPE_F32, LUMEN_DTYPE_F16, LUMEN_DTYPE_BF16,
				       LUMEN_DTYPE_I32};
static const lumen_reduce_op_t kOps[] = {LUMEN_REDUCE_SUM, LUMEN_REDUCE_MAX, LUMEN_REDUCE_MIN};
static const char *const kTypeName[] = {"f32", "f16", "bf16", "i32"};
static const char *const kOpName[] = {"sum", "max", "min"};

static size_t esize(lumen_dtype_t t)
{
	return t == LUMEN_DTYPE_F32 || t == LUMEN_DTYPE_I32 ? 4 : 2;
}

/* ---- the CPU reference ---------------------------------------------------- */

static float f32_of_bits(uint32_t b)
{
	float f;

	memcpy(&f, &b, 4);
	return f;
}

static uint32_t bits_of_f32(float f)
{
	uint32_t b;

	memcpy(&b, &f, 4);
	return b;
}

static float bf16_to_f32(uint16_t h)
{
	return f32_of_bits((uint32_t)h << 16);
}

/* Round to nearest even; a NaN stays a (quiet) NaN. */
static uint16_t f32_to_bf16(float f)
{
	uint32_t b = bits_of_f32(f);

	if (isnan(f))
		return (uint16_t)(b >> 16 | 0x40);
	b += 0x7fff + (b >> 16 & 1);
	return (uint16_t)(b >> 16);
}

static float f16_to_f32(uint16_t h)
{
	_Float16 x;

	memcpy(&x, &h, 2);
	return (float)x;
}

static uint16_t f32_to_f16(float f)
{
	_Float16 x = (_Float16)f; /* round to nearest even (the default mode) */
	uint16_t h;

	memcpy(&h, &x, 2);
	return h;
}

/* hw-spec 10: NaN if either is, else the larger (smaller), dst on ties. */
static float op_f32(lumen_reduce_op_t op, float d, float s)
{
	if (op == LUMEN_REDUCE_SUM)
		return d + s;
	if (isnan(d))
		return d;
	if (isnan(s))
		return s;
	if (op == LUMEN_REDUCE_MAX)
		return s > d ? s : d;
	return s < d ? s : d;
}

static int32_t op_i32(lumen_reduce_op_t op, int32_t d, int32_t s)
{
	if (op == LUMEN_REDUCE_SUM)
		return (int32_t)((uint32_t)d + (uint32_t)s);
	if (op == LUMEN_REDUCE_MAX)
		return s > d ? s : d;
	return s < d ? s : d;
}

/* ref[i] = dst[i] op src[i] for n elements of t. */
static void reference(lumen_dtype_t t, lumen_reduce_op_t op, void *ref, const void *dst,
		      const void *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (t) {
		case LUMEN_DTYPE_F32: {
			float r = op_f32(op, ((const float *)dst)[i], ((const float *)src)[i]);

			((float *)ref)[i] = r;
			break;
		}
		case LUMEN_DTYPE_I32:
			((int32_t *)ref)[i] =
				op_i32(op, ((const int32_t *)dst)[i], ((const int32_t *)src)[i]);
			break;
		case LUMEN_DTYPE_F16:
			((uint16_t *)ref)[i] =
				f32_to_f16(op_f32(op, f16_to_f32(((const uint16_t *)dst)[i]),
						  f16_to_f32(((const uint16_t *)src)[i])));
			break;
		case LUMEN_DTYPE_BF16:
			((uint16_t *)ref)[i] =
				f32_to_bf16(op_f32(op, bf16_to_f32(((const uint16_t *)dst)[i]),
						   bf16_to_f32(((const uint16_t *)src)[i])));
			break;
		}
	}
}

/* The quiet bit of element i, a NaN. */
static int is_quiet(lumen_dtype_t t, const void *p, size_t i)
{
	switch (t) {
	case LUMEN_DTYPE_F32:
		return ((const uint32_t *)p)[i] >> 22 & 1;
	case LUMEN_DTYPE_F16:
		return ((const uint16_t *)p)[i] >> 9 & 1;
	default:
		return ((const uint16_t *)p)[i] >> 6 & 1;
	}
}

static int is_nan(lumen_dtype_t t, const void *p, size_t i)
{
	switch (t) {
	case LUMEN_DTYPE_F32:
		return isnan(((const float *)p)[i]);
	case LUMEN_DTYPE_F16:
		return isnan(f16_to_f32(((const uint16_t *)p)[i]));
	case LUMEN_DTYPE_BF16:
		return isnan(bf16_to_f32(((const uint16_t *)p)[i]));
	default:
		return 0;
	}
}

/* Bit-exact, except that any NaN matches any quiet NaN. */
static void expect_equal(lumen_dtype_t t, lumen_reduce_op_t op, const void *got, const void *want,
			 size_t n, const char *what)
{
	const size_t es = esize(t);

	for (size_t i = 0; i < n; i++) {
		const uint8_t *g = (const uint8_t *)got + i * es, *w = (const uint8_t *)want + i * es;

		if (is_nan(t, want, i) && is_nan(t, got, i)) {
			if (!is_quiet(t, got, i))
				fail_msg("%s %s %s: element %zu is a signalling NaN", what,
					 kTypeName[t], kOpName[op], i);
			continue;
		}
		if (!memcmp(g, w, es))
			continue;
		uint32_t gv = 0, wv = 0;

		memcpy(&gv, g, es);
		memcpy(&wv, w, es);
		fail_msg("%s %s %s: element %zu is 0x%x, the reference says 0x%x", what,
			 kTypeName[t], kOpName[op], i, gv, wv);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

/* n elements of t: the special cases first, then random values of mixed
 * magnitude (dst and src get different ones: pass which). */
static void fill(lumen_dtype_t t, void *p, size_t n, int which)
{
	static const float fspecial[][2] = {
		{NAN, 1.0f},	  {1.0f, NAN},	    {INFINITY, -INFINITY}, {INFINITY, 1.0f},
		{-0.0f, 0.0f},	  {0.0f, -0.0f},    {2.0f, 2.0f},	   {65504.0f, 65504.0f},
		{3e38f, 3e38f},	  {-3e38f, -3e38f}, {1e-7f, 1e-7f},	   {6e-8f, -6e-8f},
		{1.0f, 0x1p-11f}, {1.0f, 0x1p-24f}, {-1.5f, 1.5f},	   {1e-40f, 1e-40f},
	};
	static const int32_t ispecial[][2] = {
		{INT32_MAX, 1},		{INT32_MIN, -1}, {-1, 1},
		{INT32_MIN, INT32_MAX}, {0, 0},		 {123456789, -987654321},
	};
	const size_t nf = sizeof(fspecial) / sizeof(fspecial[0]);
	/* After the table: a signalling NaN on either side (f32 keeps it as
	 * is; the 16-bit types get it quietened by the conversion). */
	const float snan = f32_of_bits(0x7fa00001);
	const size_t ni = sizeof(ispecial) / sizeof(ispecial[0]);

	for (size_t i = 0; i < n; i++) {
		const uint32_t r = rnd();
		float f = ((float)(int32_t)r / 2147483648.0f) * (float)(1u << (r % 17)) * 0.125f;

		if (i < nf)
			f = fspecial[i][which];
		else if (i == nf)
			f = which ? 1.0f : snan;
		else if (i == nf + 1)
			f = which ? snan : -1.0f;
		switch (t) {
		case LUMEN_DTYPE_F32:
			memcpy((float *)p + i, &f, 4);
			break;
		case LUMEN_DTYPE_F16:
			((uint16_t *)p)[i] = f32_to_f16(f);
			break;
		case LUMEN_DTYPE_BF16:
			((uint16_t *)p)[i] = f32_to_bf16(f);
			break;
		case LUMEN_DTYPE_I32:
			((int32_t *)p)[i] = i < ni ? ispecial[i][which] : (int32_t)rnd();
			break;
		}
	}
}

/* ---- fixture -------------------------------------------------------------- */

struct card {
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
	uint32_t chip;
	lumen_devptr_t a, b, tgt; /* BIG_BYTES each */
	lumen_window_t win;
	lumen_window_desc_t desc;
};

struct fx {
	int n;
	int reduce, links, fabric;
	struct card c[MAX_CARDS];
	uint8_t *h1, *h2, *h3, *h4; /* BIG_BYTES each */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int n = 0;

	if (!f)
		return -1;
	*state = f;
	f->h1 = malloc(BIG_BYTES);
	f->h2 = malloc(BIG_BYTES);
	f->h3 = malloc(BIG_BYTES);
	f->h4 = malloc(BIG_BYTES);
	if (!f->h1 || !f->h2 || !f->h3 || !f->h4 || lumen_device_count(&n) || n < 1)
		return -1;
	f->n = n < MAX_CARDS ? n : MAX_CARDS;
	f->fabric = getenv("LUMEN_VM_FABRIC") != NULL;
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		if (rt_context_open(i, &c->dev, &c->ctx, "rt_reduce setup") ||
		    lumen_stream_create(c->ctx, &c->s) || lumen_malloc(c->ctx, BIG_BYTES, &c->a) ||
		    lumen_malloc(c->ctx, BIG_BYTES, &c->b) ||
		    lumen_malloc(c->ctx, BIG_BYTES, &c->tgt)) {
			fprintf(stderr, "rt_reduce setup: card %d: %s\n", i, lumen_get_last_error());
			return -1;
		}
	}
	/* A probe: count 0 still checks the capability. */
	f->reduce = lumen_reduce_async(f->c[0].s, f->c[0].a, f->c[0].b, 0, LUMEN_DTYPE_F32,
				       LUMEN_REDUCE_SUM) == LUMEN_SUCCESS;
	if (!f->reduce)
		printf("# card 0 cannot reduce (%s): the suite skips\n", lumen_get_last_error());
	f->links = lumen_device_get_chip_id(f->c[0].dev, &f->c[0].chip) == LUMEN_SUCCESS;
	for (int i = 0; f->links && i < f->n; i++) {
		struct card *c = &f->c[i];

		if (lumen_device_get_chip_id(c->dev, &c->chip) ||
		    lumen_window_open(c->ctx, c->tgt, WIN_BYTES, LUMEN_WINDOW_WRITE, &c->win) ||
		    lumen_window_get_desc(c->win, &c->desc)) {
			fprintf(stderr, "rt_reduce setup: card %d window: %s\n", i,
				lumen_get_last_error());
			return -1;
		}
	}
	printf("# %d card(s)%s%s\n", f->n, f->links ? ", link engine" : "",
	       f->fabric ? ", on a fabric" : "");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	for (int i = 0; i < f->n; i++) {
		if (f->c[i].win)
			lumen_window_close(f->c[i].win);
		if (f->c[i].s)
			lumen_stream_destroy(f->c[i].s);
		if (f->c[i].ctx)
			lumen_context_destroy(f->c[i].ctx);
	}
	free(f->h1);
	free(f->h2);
	free(f->h3);
	free(f->h4);
	free(f);
	return 0;
}

#define NEED_REDUCE(f)                                                                             \
	do {                                                                                       \
		if (!(f)->reduce)                                                                  \
			skip();                                                                    \
	} while (0)

/* ---- local reductions ----------------------------------------------------- */

static void every_type_and_op(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];

	NEED_REDUCE(f);
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t oi = 0; oi < 3; oi++) {
			const lumen_dtype_t t = kTypes[ti];
			const lumen_reduce_op_t op = kOps[oi];
			const size_t bytes = N * esize(t);

			fill(t, f->h1, N, 0);
			fill(t, f->h2, N, 1);
			rt_h2d(c->ctx, c->a, f->h1, bytes);
			rt_h2d(c->ctx, c->b, f->h2, bytes);
			RT_OK(lumen_reduce_async(c->s, c->a, c->b, N, t, op));
			RT_OK(lumen_stream_synchronize(c->s));
			rt_d2h(c->ctx, f->h3, c->a, bytes);
			reference(t, op, f->h4, f->h1, f->h2, N);
			expect_equal(t, op, f->h3, f->h4, N, "dst op= src");
			/* src is untouched */
			rt_d2h(c->ctx, f->h3, c->b, bytes);
			assert_memory_equal(f->h3, f->h2, bytes);
		}
}

static void in_place(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];

	NEED_REDUCE(f);
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t oi = 0; oi < 3; oi++) {
			const lumen_dtype_t t = kTypes[ti];
			const size_t bytes = N * esize(t);

			fill(t, f->h1, N, 0);
			rt_h2d(c->ctx, c->a, f->h1, bytes);
			RT_OK(lumen_reduce_async(c->s, c->a, c->a, N, t, kOps[oi]));
			RT_OK(lumen_stream_synchronize(c->s));
			rt_d2h(c->ctx, f->h3, c->a, bytes);
			reference(t, kOps[oi], f->h4, f->h1, f->h1, N);
			expect_equal(t, kOps[oi], f->h3, f->h4, N, "x op= x");
		}
}

/* A sub-range at an odd element offset: the guard elements stay. */
static void sub_range_keeps_guards(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	const size_t first = 1001, count = 2 * 4096 + 5; /* f16 elements */
	const size_t total = first + count + 100;

	NEED_REDUCE(f);
	fill(LUMEN_DTYPE_F16, f->h1, total, 0);
	fill(LUMEN_DTYPE_F16, f->h2, total, 1);
	rt_h2d(c->ctx, c->a, f->h1, total * 2);
	rt_h2d(c->ctx, c->b, f->h2, total * 2);
	RT_OK(lumen_reduce_async(c->s, c->a + first * 2, c->b + 2 * 7, count, LUMEN_DTYPE_F16,
				 LUMEN_REDUCE_SUM));
	RT_OK(lumen_stream_synchronize(c->s));
	rt_d2h(c->ctx, f->h3, c->a, total * 2);
	memcpy(f->h4, f->h1, total * 2);
	reference(LUMEN_DTYPE_F16, LUMEN_REDUCE_SUM, f->h4 + first * 2, f->h1 + first * 2,
		  f->h2 + 2 * 7, count);
	expect_equal(LUMEN_DTYPE_F16, LUMEN_REDUCE_SUM, f->h3, f->h4, total, "sub-range");
}

/* Copies and reductions queued together run in stream order. */
static void stream_order(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	const size_t n = 1000;
	int32_t *want = (int32_t *)f->h4;

	NEED_REDUCE(f);
	for (size_t i = 0; i < n; i++) {
		((int32_t *)f->h1)[i] = (int32_t)i;
		want[i] = (int32_t)(i + 10 * (i + 1));
	}
	for (size_t i = 0; i < n; i++)
		((int32_t *)f->h2)[i] = (int32_t)(i + 1);
	RT_OK(lumen_memcpy_h2d_async(c->s, c->a, f->h1, n * 4));
	RT_OK(lumen_memcpy_h2d_async(c->s, c->b, f->h2, n * 4));
	for (int k = 0; k < 10; k++)
		RT_OK(lumen_reduce_async(c->s, c->a, c->b, n, LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM));
	RT_OK(lumen_memcpy_d2h_async(c->s, f->h3, c->a, n * 4));
	RT_OK(lumen_stream_synchronize(c->s));
	assert_memory_equal(f->h3, want, n * 4);
}

/* 16 MiB in one call: the engine takes several turns. */
static void big(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	const size_t n = BIG_BYTES / 4;

	NEED_REDUCE(f);
	fill(LUMEN_DTYPE_F32, f->h1, n, 0);
	fill(LUMEN_DTYPE_F32, f->h2, n, 1);
	rt_h2d(c->ctx, c->a, f->h1, BIG_BYTES);
	rt_h2d(c->ctx, c->b, f->h2, BIG_BYTES);
	RT_OK(lumen_reduce_async(c->s, c->a, c->b, n, LUMEN_DTYPE_F32, LUMEN_REDUCE_MAX));
	RT_OK(lumen_stream_synchronize(c->s));
	rt_d2h(c->ctx, f->h3, c->a, BIG_BYTES);
	reference(LUMEN_DTYPE_F32, LUMEN_REDUCE_MAX, f->h4, f->h1, f->h2, n);
	expect_equal(LUMEN_DTYPE_F32, LUMEN_REDUCE_MAX, f->h3, f->h4, n, "16 MiB");
}

static void bad_arguments(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	lumen_devptr_t host_only = 0x1000;

	NEED_REDUCE(f);
	memset(f->h1, 0x5a, 4096);
	rt_h2d(c->ctx, c->a, f->h1, 4096);
	RT_FAIL(lumen_reduce_async(c->s, c->a, c->b, 4, (lumen_dtype_t)4, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "dtype"));
	RT_FAIL(lumen_reduce_async(c->s, c->a, c->b, 4, LUMEN_DTYPE_F32, (lumen_reduce_op_t)3),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "op"));
	RT_FAIL(lumen_reduce_async(c->s, c->a + 2, c->b, 4, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "dst"));
	RT_FAIL(lumen_reduce_async(c->s, c->a, c->b + 1, 4, LUMEN_DTYPE_F16, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "src"));
	RT_FAIL(lumen_reduce_async(c->s, c->a, c->b, SIZE_MAX / 2, LUMEN_DTYPE_I32,
				   LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_reduce_async(c->s, c->a, c->b, BIG_BYTES / 4 + 1, LUMEN_DTYPE_I32,
				   LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_reduce_async(c->s, host_only, c->b, 4, LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_reduce_async(NULL, c->a, c->b, 4, LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_HANDLE);
	/* dst and src overlapping by part: refused (only dst == src is). */
	RT_FAIL(lumen_reduce_async(c->s, c->a + 4, c->a, 4, LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "overlap"));
	/* count 0 does nothing, but a misaligned pointer is still named. */
	RT_OK(lumen_reduce_async(c->s, c->a, c->b, 0, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM));
	RT_FAIL(lumen_reduce_async(c->s, c->a + 1, c->b, 0, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_stream_synchronize(c->s));
	/* Nothing the refused calls named was written. */
	rt_d2h(c->ctx, f->h3, c->a, 4096);
	assert_memory_equal(f->h3, f->h1, 4096);
	/* A 2-byte type is fine at a 2-byte offset. */
	fill(LUMEN_DTYPE_BF16, f->h2, 8, 1);
	rt_h2d(c->ctx, c->b, f->h2, 16);
	RT_OK(lumen_reduce_async(c->s, c->a + 2, c->b + 2, 4, LUMEN_DTYPE_BF16, LUMEN_REDUCE_MIN));
	RT_OK(lumen_stream_synchronize(c->s));
	rt_d2h(c->ctx, f->h3, c->a, 4096);
	memcpy(f->h4, f->h1, 4096);
	reference(LUMEN_DTYPE_BF16, LUMEN_REDUCE_MIN, f->h4 + 2, f->h1 + 2, f->h2 + 2, 4);
	expect_equal(LUMEN_DTYPE_BF16, LUMEN_REDUCE_MIN, f->h3, f->h4, 2048, "bf16 at +2");
}

/* ---- remote reductions ---------------------------------------------------- */

static void remote_loopback(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	const size_t n = WIN_BYTES / 4 - 3;

	NEED_REDUCE(f);
	if (!f->links)
		skip();
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t oi = 0; oi < 3; oi++) {
			const lumen_dtype_t t = kTypes[ti];
			const size_t es = esize(t), cnt = (n * 4 - es * 2) / es;

			fill(t, f->h1, WIN_BYTES / es, 0);
			fill(t, f->h2, cnt, 1);
			rt_h2d(c->ctx, c->tgt, f->h1, WIN_BYTES);
			rt_h2d(c->ctx, c->b, f->h2, cnt * es);
			RT_OK(lumen_remote_reduce_async(c->s, &c->desc, es, c->b, cnt, t, kOps[oi]));
			RT_OK(lumen_stream_synchronize(c->s));
			rt_d2h(c->ctx, f->h3, c->tgt, WIN_BYTES);
			memcpy(f->h4, f->h1, WIN_BYTES);
			reference(t, kOps[oi], f->h4 + es, f->h1 + es, f->h2, cnt);
			expect_equal(t, kOps[oi], f->h3, f->h4, WIN_BYTES / es, "remote loopback");
		}
}

static void remote_refused(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	lumen_window_desc_t d;
	lumen_window_t ro;
	lumen_status_t st;

	NEED_REDUCE(f);
	if (!f->links)
		skip();
	RT_OK(lumen_window_open(c->ctx, c->tgt, WIN_BYTES, LUMEN_WINDOW_READ, &ro));
	RT_OK(lumen_window_get_desc(ro, &d));
	/* The runtime refuses a descriptor without the right... */
	RT_FAIL(lumen_remote_reduce_async(c->s, &d, 0, c->b, 16, LUMEN_DTYPE_F32,
					  LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	/* ...and the target one that claims it. */
	memset(f->h1, 0x11, WIN_BYTES);
	rt_h2d(c->ctx, c->tgt, f->h1, WIN_BYTES);
	d.rights |= LUMEN_WINDOW_WRITE;
	RT_OK(lumen_remote_reduce_async(c->s, &d, 0, c->b, 16, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM));
	st = lumen_stream_synchronize(c->s);
	RT_FAIL_AS("lumen_stream_synchronize", st, LUMEN_ERROR_REMOTE_ACCESS);
	rt_d2h(c->ctx, f->h3, c->tgt, WIN_BYTES);
	assert_memory_equal(f->h3, f->h1, WIN_BYTES);
	/* Misaligned in the target, past the end: refused before anything runs. */
	RT_FAIL(lumen_remote_reduce_async(c->s, &c->desc, 2, c->b, 16, LUMEN_DTYPE_F32,
					  LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_remote_reduce_async(c->s, &c->desc, 0, c->b, WIN_BYTES / 4 + 1,
					  LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_remote_reduce_async(c->s, &c->desc, 0, c->b, 16, (lumen_dtype_t)-1,
					  LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "dtype"));
	RT_FAIL(lumen_remote_reduce_async(c->s, &c->desc, 0, c->b, 16, LUMEN_DTYPE_I32,
					  (lumen_reduce_op_t)7),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "op 7"));
	RT_FAIL(lumen_remote_reduce_async(c->s, &c->desc, 0, c->b + 2, 16, LUMEN_DTYPE_I32,
					  LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "src"));
	RT_FAIL(lumen_remote_reduce_async(c->s, &c->desc, 0, c->b, SIZE_MAX / 2 + 2,
					  LUMEN_DTYPE_F16, LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	/* A forged size must not make base + offset wrap. */
	d = c->desc;
	d.size = UINT64_MAX;
	d.base = 100;
	RT_FAIL(lumen_remote_reduce_async(c->s, &d, UINT64_MAX - 64, c->b, 16, LUMEN_DTYPE_F32,
					  LUMEN_REDUCE_SUM),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_stream_synchronize(c->s));
	rt_d2h(c->ctx, f->h3, c->tgt, WIN_BYTES);
	assert_memory_equal(f->h3, f->h1, WIN_BYTES);
	RT_OK(lumen_window_close(ro));
}

/* Every chip adds its vector into chip 0's window at once (a reduce to
 * one root): the i32 sum is exact whatever the order of arrival. */
static void every_chip_into_one(void **state)
{
	struct fx *f = *state;
	const size_t n = WIN_BYTES / 4;
	int32_t *want = (int32_t *)f->h4;

	NEED_REDUCE(f);
	if (!f->links || !f->fabric || f->n < 2)
		skip();
	memset(f->h1, 0, WIN_BYTES);
	rt_h2d(f->c[0].ctx, f->c[0].tgt, f->h1, WIN_BYTES);
	memset(want, 0, WIN_BYTES);
	for (int k = 0; k < f->n; k++) {
		int32_t *v = (int32_t *)f->h2;

		for (size_t i = 0; i < n; i++) {
			v[i] = (int32_t)(rnd() >> 8) - (1 << 23);
			want[i] += v[i];
		}
		rt_h2d(f->c[k].ctx, f->c[k].b, v, WIN_BYTES);
	}
	for (int k = 0; k < f->n; k++)
		for (int rep = 0; rep < 2; rep++) /* twice: in order behind each other */
			RT_OK(lumen_remote_reduce_async(f->c[k].s, &f->c[0].desc, 0, f->c[k].b, n,
							LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM));
	for (int k = 0; k < f->n; k++)
		RT_OK(lumen_stream_synchronize(f->c[k].s));
	for (size_t i = 0; i < n; i++)
		want[i] = (int32_t)((uint32_t)want[i] * 2u);
	rt_d2h(f->c[0].ctx, f->h3, f->c[0].tgt, WIN_BYTES);
	assert_memory_equal(f->h3, want, WIN_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_and_op),
		cmocka_unit_test(in_place),
		cmocka_unit_test(sub_range_keeps_guards),
		cmocka_unit_test(stream_order),
		cmocka_unit_test(big),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(remote_loopback),
		cmocka_unit_test(remote_refused),
		cmocka_unit_test(every_chip_into_one),
	};

	return cmocka_run_group_tests_name("rt_reduce", tests, setup, teardown);
}
