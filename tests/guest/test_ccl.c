// SPDX-License-Identifier: MIT
/*
 * liblumen-ccl (ccl/include/lumen/lumen_ccl.h) on real cards and links,
 * against a CPU reference:
 *
 *   tests/vm/run --no-build --cards 4 --fabric ring -- \
 *     sh -c 'lumen-route program --topology ring:4 && lumen-guest-tests ccl'
 *
 * Ranks: one context per card on a fabric, else three contexts on card 0
 * (the ring runs over its loopback). Every collective runs on all ranks'
 * streams at once from one thread, with sizes that span several staging
 * slices per block and do not divide by the ranks:
 *   - all-reduce: f32 sum (out of place and in place), i32 max, bf16 sum,
 *     three in a row without a synchronisation between them;
 *   - all-gather, reduce-scatter (f32 sum), broadcast from every root;
 *   - one rank alone (a copy);
 *   - argument checks: bad communicator, dtype, op, root, a stream of
 *     another context, a destroyed communicator;
 *   - all-gather and reduce-scatter in place; overlapping buffers refused;
 *   - a group of eight 8 MiB all-reduces for every rank from one thread
 *     (more jobs than a context may have in flight); sends and receives
 *     both ways between neighbours and to itself in one group; a pair that
 *     batches matching p2p ops differently; destroy after a send waits for
 *     the peer's acknowledgement; all-to-all;
 *     argument checks of p2p and groups;
 *   - split by parity in a group (one rank out, keys reversing the order),
 *     then an all-reduce on each new communicator;
 *   - abort of a rank whose peer never comes releases its stream at once and
 *     leaves its context sound; the async error of the other rank says so;
 *   - a collective failing after part of it was queued makes every rank's
 *     communicator refuse further calls (their counters no longer agree).
 */
#include "rt_test.h"

#include "ccl_test.h"

#define MAX_RANKS 4

struct fx {
	int n;
	lumen_context_t ctx[MAX_RANKS];
	lumen_stream_t s[MAX_RANKS];
	lumen_ccl_comm_t comm[MAX_RANKS];
	lumen_devptr_t a[MAX_RANKS], b[MAX_RANKS];
	size_t bytes; /* of a and b */
	uint8_t *host;
};

static struct fx *F;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	lumen_link_info_t li;
	lumen_device_t dev;
	int cards = 0;

	if (!f)
		return -1;
	*state = F = f;
	if (lumen_device_count(&cards) || cards < 1)
		return -1;
	const int fabric = getenv("LUMEN_VM_FABRIC") != NULL && cards > 1;
	f->n = fabric ? (cards < MAX_RANKS ? cards : MAX_RANKS) : 3;
	f->bytes = 8 * MiB;
	f->host = malloc(f->bytes);
	if (!f->host)
		return -1;
	for (int r = 0; r < f->n; r++) {
		if (rt_context_open(fabric ? r : 0, &dev, &f->ctx[r], "ccl setup"))
			return -1;
		if (lumen_stream_create(f->ctx[r], &f->s[r]) ||
		    lumen_malloc(f->ctx[r], f->bytes, &f->a[r]) ||
		    lumen_malloc(f->ctx[r], f->bytes, &f->b[r]))
			return -1;
	}
	LUMEN_STRUCT_INIT(li);
	if (lumen_device_get_link_info(dev, &li)) {
		printf("# no link engine: ccl skips\n");
		f->n = 0;
		return 0;
	}
	if (lumen_ccl_comm_init_all(f->comm, f->n, f->ctx)) {
		fprintf(stderr, "ccl setup: %s\n", lumen_ccl_get_last_error());
		return -1;
	}
	printf("# %d ranks, %s\n", f->n,
	       fabric ? "one per card over the fabric" : "on card 0's loopback");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int r = 0; r < f->n; r++)
		if (f->comm[r])
			lumen_ccl_comm_destroy(f->comm[r]);
	for (int r = 0; r < MAX_RANKS; r++)
		if (f->ctx[r])
			lumen_context_destroy(f->ctx[r]);
	free(f->host);
	free(f);
	return 0;
}

static void need_ranks(void)
{
	if (!F->n)
		skip();
}

/* Rank r's input value at element i: small integers, exact in f32, bf16 sums. */
static int32_t val(int r, size_t i)
{
	return (int32_t)((i * 7 + (size_t)r * 13) % 61) - 30;
}

static uint16_t bf16_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return (uint16_t)(u >> 16); /* exact for these small integers */
}

static float f32_of_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static void fill(int r, lumen_devptr_t dst, size_t count, lumen_dtype_t t)
{
	for (size_t i = 0; i < count; i++) {
		if (t == LUMEN_DTYPE_F32)
			((float *)F->host)[i] = (float)val(r, i);
		else if (t == LUMEN_DTYPE_I32)
			((int32_t *)F->host)[i] = val(r, i);
		else
			((uint16_t *)F->host)[i] = bf16_of((float)val(r, i));
	}
	rt_h2d(F->ctx[r], dst, F->host, count * (t == LUMEN_DTYPE_BF16 ? 2 : 4));
}

static void sync_all(void)
{
	for (int r = 0; r < F->n; r++)
		RT_OK(lumen_stream_synchronize(F->s[r]));
}

/* recv of every rank against op over ranks of val(). */
static void expect_reduced(lumen_devptr_t *buf, size_t count, lumen_dtype_t t, lumen_reduce_op_t op,
			   const char *what)
{
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, buf[r], count * (t == LUMEN_DTYPE_BF16 ? 2 : 4));
		for (size_t i = 0; i < count; i++) {
			int64_t want = val(0, i);
			for (int q = 1; q < F->n; q++)
				want = op == LUMEN_REDUCE_SUM ? want + val(q, i)
				       : op == LUMEN_REDUCE_MAX
					       ? (val(q, i) > want ? val(q, i) : want)
					       : (val(q, i) < want ? val(q, i) : want);
			double got = t == LUMEN_DTYPE_F32   ? ((float *)F->host)[i]
				     : t == LUMEN_DTYPE_I32 ? ((int32_t *)F->host)[i]
							    : f32_of_bf16(((uint16_t *)F->host)[i]);
			if (got != (double)want)
				fail_msg("%s: rank %d element %zu of %zu is %g, expected %lld",
					 what, r, i, count, got, (long long)want);
		}
	}
}

/* 4 * 300000 + 7 f32: blocks of ~1.2 MB, two staging slices each. */
#define AR_COUNT (4 * 300000 + 7)

static void all_reduce(void **state)
{
	(void)state;
	need_ranks();
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], AR_COUNT, LUMEN_DTYPE_F32);
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_all_reduce(F->a[r], F->b[r], AR_COUNT, LUMEN_DTYPE_F32,
					    LUMEN_REDUCE_SUM, F->comm[r], F->s[r]));
	sync_all();
	expect_reduced(F->b, AR_COUNT, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, "all-reduce f32 sum");
	/* In place, i32 max, then bf16 sum: queued back to back. */
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], AR_COUNT, LUMEN_DTYPE_I32);
	for (int r = 0; r < F->n; r++)
		fill(r, F->b[r], AR_COUNT, LUMEN_DTYPE_BF16);
	for (int r = 0; r < F->n; r++) {
		CCL_OK(lumen_ccl_all_reduce(F->a[r], F->a[r], AR_COUNT, LUMEN_DTYPE_I32,
					    LUMEN_REDUCE_MAX, F->comm[r], F->s[r]));
		CCL_OK(lumen_ccl_all_reduce(F->b[r], F->b[r], AR_COUNT, LUMEN_DTYPE_BF16,
					    LUMEN_REDUCE_SUM, F->comm[r], F->s[r]));
	}
	sync_all();
	expect_reduced(F->a, AR_COUNT, LUMEN_DTYPE_I32, LUMEN_REDUCE_MAX, "all-reduce i32 max");
	expect_reduced(F->b, AR_COUNT, LUMEN_DTYPE_BF16, LUMEN_REDUCE_SUM, "all-reduce bf16 sum");
	printf("# all-reduce of %d elements on %d ranks: f32 sum, i32 max in place, bf16 sum\n",
	       AR_COUNT, F->n);
}

static void all_gather(void **state)
{
	const size_t per = 300001; /* i32 per rank */

	(void)state;
	need_ranks();
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], per, LUMEN_DTYPE_I32);
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_all_gather(F->a[r], F->b[r], per, LUMEN_DTYPE_I32, F->comm[r],
					    F->s[r]));
	sync_all();
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, F->b[r], per * (size_t)F->n * 4);
		for (int q = 0; q < F->n; q++)
			for (size_t i = 0; i < per; i++)
				if (((int32_t *)F->host)[(size_t)q * per + i] != val(q, i))
					fail_msg("all-gather: rank %d, block %d element %zu", r, q,
						 i);
	}
}

static void reduce_scatter(void **state)
{
	const size_t per = 300001; /* f32 each rank ends with */

	(void)state;
	need_ranks();
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], per * (size_t)F->n, LUMEN_DTYPE_F32);
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_reduce_scatter(F->a[r], F->b[r], per, LUMEN_DTYPE_F32,
						LUMEN_REDUCE_SUM, F->comm[r], F->s[r]));
	sync_all();
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, F->b[r], per * 4);
		for (size_t i = 0; i < per; i++) {
			size_t g = (size_t)r * per + i;
			int64_t want = 0;
			for (int q = 0; q < F->n; q++)
				want += val(q, g);
			if (((float *)F->host)[i] != (float)want)
				fail_msg("reduce-scatter: rank %d element %zu is %g, expected %lld",
					 r, i, ((float *)F->host)[i], (long long)want);
		}
	}
}

static void broadcast(void **state)
{
	const size_t count = 700001; /* i32: 2.8 MB, three slices */

	(void)state;
	need_ranks();
	for (int root = 0; root < F->n; root++) {
		for (int r = 0; r < F->n; r++) {
			RT_OK(lumen_memset(F->ctx[r], F->b[r], 0, count * 4));
			fill(r, F->a[r], count, LUMEN_DTYPE_I32);
		}
		for (int r = 0; r < F->n; r++)
			CCL_OK(lumen_ccl_broadcast(F->a[r], F->b[r], count, LUMEN_DTYPE_I32, root,
						   F->comm[r], F->s[r]));
		sync_all();
		for (int r = 0; r < F->n; r++) {
			rt_d2h(F->ctx[r], F->host, F->b[r], count * 4);
			for (size_t i = 0; i < count; i++)
				if (((int32_t *)F->host)[i] != val(root, i))
					fail_msg("broadcast from %d: rank %d element %zu", root, r,
						 i);
		}
	}
}

static void single_rank(void **state)
{
	lumen_ccl_comm_t one;
	int n = 0, rank = -1;

	(void)state;
	need_ranks();
	CCL_OK(lumen_ccl_comm_init_all(&one, 1, &F->ctx[0]));
	CCL_OK(lumen_ccl_comm_count(one, &n));
	CCL_OK(lumen_ccl_comm_rank(one, &rank));
	assert_int_equal(n, 1);
	assert_int_equal(rank, 0);
	fill(0, F->a[0], 1000, LUMEN_DTYPE_F32);
	CCL_OK(lumen_ccl_all_reduce(F->a[0], F->b[0], 1000, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, one,
				    F->s[0]));
	RT_OK(lumen_stream_synchronize(F->s[0]));
	rt_d2h(F->ctx[0], F->host, F->b[0], 4000);
	for (size_t i = 0; i < 1000; i++)
		assert_true(((float *)F->host)[i] == (float)val(0, i));
	CCL_OK(lumen_ccl_comm_destroy(one));
	CCL_FAIL(lumen_ccl_comm_destroy(one), LUMEN_ERROR_INVALID_HANDLE);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0], F->b[0], 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, one,
				      F->s[0]),
		 LUMEN_ERROR_INVALID_HANDLE);
}

static void bad_arguments(void **state)
{
	lumen_ccl_comm_t c[2];
	int n;

	(void)state;
	need_ranks();
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0], F->b[0], 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM, NULL,
				      F->s[0]),
		 LUMEN_ERROR_INVALID_HANDLE);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0], F->b[0], 1, (lumen_dtype_t)7, LUMEN_REDUCE_SUM,
				      F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0], F->b[0], 1, LUMEN_DTYPE_F32, (lumen_reduce_op_t)9,
				      F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0], F->b[0], 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM,
				      F->comm[0], F->s[1]),
		 LUMEN_ERROR_WRONG_DEVICE);
	CCL_FAIL(lumen_ccl_broadcast(F->a[0], F->b[0], 1, LUMEN_DTYPE_F32, F->n, F->comm[0],
				     F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_broadcast(F->a[0], F->b[0], 1, LUMEN_DTYPE_F32, -1, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_comm_init_all(c, 0, F->ctx), LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_comm_init_all(NULL, 2, F->ctx), LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_comm_count(F->comm[0], NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_comm_count((lumen_ccl_comm_t)(uintptr_t)0x1234, &n),
		 LUMEN_ERROR_INVALID_HANDLE);
	/* Count 0 does nothing. */
	CCL_OK(lumen_ccl_all_reduce(F->a[0], F->b[0], 0, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM,
				    F->comm[0], F->s[0]));
}

/* All-gather and reduce-scatter in place (rank r's block where the
 * collective puts it), and buffers that overlap otherwise refused. */
static void in_place_gather_and_scatter(void **state)
{
	const size_t per = 30011;
	const size_t bytes = per * 4;

	(void)state;
	need_ranks();
	/* all-gather: rank r's block already at block r of recv */
	for (int r = 0; r < F->n; r++) {
		for (size_t i = 0; i < per; i++)
			((int32_t *)F->host)[i] = val(r, i);
		rt_h2d(F->ctx[r], F->b[r] + (size_t)r * bytes, F->host, bytes);
	}
	CCL_OK(lumen_ccl_group_start());
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_all_gather(F->b[r] + (size_t)r * bytes, F->b[r], per,
					    LUMEN_DTYPE_I32, F->comm[r], F->s[r]));
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, F->b[r], bytes * (size_t)F->n);
		for (int q = 0; q < F->n; q++)
			for (size_t i = 0; i < per; i++)
				if (((int32_t *)F->host)[(size_t)q * per + i] != val(q, i))
					fail_msg(
						"in-place all-gather: rank %d block %d element %zu",
						r, q, i);
	}
	/* reduce-scatter: recv is block r of send */
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], per * (size_t)F->n, LUMEN_DTYPE_I32);
	CCL_OK(lumen_ccl_group_start());
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_reduce_scatter(F->a[r], F->a[r] + (size_t)r * bytes, per,
						LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM, F->comm[r],
						F->s[r]));
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, F->a[r] + (size_t)r * bytes, bytes);
		for (size_t i = 0; i < per; i++) {
			int64_t want = 0;

			for (int q = 0; q < F->n; q++)
				want += val(q, (size_t)r * per + i);
			if (((int32_t *)F->host)[i] != (int32_t)want)
				fail_msg("in-place reduce-scatter: rank %d element %zu", r, i);
		}
	}
	/* Overlaps that are not the in-place form. */
	CCL_FAIL(lumen_ccl_all_gather(F->b[0] + 4, F->b[0], per, LUMEN_DTYPE_I32, F->comm[0],
				      F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "overlap"));
	/* send == recv is in place only for rank 0 */
	if (F->n > 1)
		CCL_FAIL(lumen_ccl_reduce_scatter(F->a[1], F->a[1], per, LUMEN_DTYPE_I32,
						  LUMEN_REDUCE_SUM, F->comm[1], F->s[1]),
			 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0], F->a[0] + 4, per, LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM,
				      F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
}

/* Eight in-place i32 all-reduces of 8 MiB for every rank, queued from this
 * one thread inside a group: more jobs than lumen.ko lets a context have in
 * flight (512), which without the group would block this thread on rank 0
 * before rank 1 is queued. Each round multiplies the sums by n. */
static void group_of_many_all_reduces(void **state)
{
	const size_t count = F->bytes / 4;
	const int rounds = 8;

	(void)state;
	need_ranks();
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], count, LUMEN_DTYPE_I32);
	CCL_OK(lumen_ccl_group_start());
	for (int k = 0; k < rounds; k++)
		for (int r = 0; r < F->n; r++)
			CCL_OK(lumen_ccl_all_reduce(F->a[r], F->a[r], count, LUMEN_DTYPE_I32,
						    LUMEN_REDUCE_SUM, F->comm[r], F->s[r]));
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	int64_t scale = 1;
	for (int k = 1; k < rounds; k++)
		scale *= F->n;
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, F->a[r], count * 4);
		for (size_t i = 0; i < count; i += 997) {
			int64_t want = 0;
			for (int q = 0; q < F->n; q++)
				want += val(q, i);
			want *= scale;
			if (((int32_t *)F->host)[i] != (int32_t)want)
				fail_msg("group of all-reduces: rank %d element %zu is %d, "
					 "expected %lld",
					 r, i, ((int32_t *)F->host)[i], (long long)want);
		}
	}
}

/* In one group: every rank sends 1 MiB + 12 bytes (several p2p slots) to
 * the next and the previous rank and to itself, and receives from them:
 * pairs that send to each other both ways at once. */
static void send_recv_in_a_group(void **state)
{
	const size_t count = (1u << 18) + 3; /* i32 */
	const size_t bytes = count * 4;

	(void)state;
	need_ranks();
	for (int r = 0; r < F->n; r++) {
		fill(r, F->a[r], count, LUMEN_DTYPE_I32);
		RT_OK(lumen_memset(F->ctx[r], F->b[r], 0xff, 3 * bytes));
	}
	CCL_OK(lumen_ccl_group_start());
	for (int r = 0; r < F->n; r++) {
		const int next = (r + 1) % F->n, prev = (r + F->n - 1) % F->n;

		CCL_OK(lumen_ccl_send(F->a[r], count, LUMEN_DTYPE_I32, next, F->comm[r], F->s[r]));
		CCL_OK(lumen_ccl_send(F->a[r], count, LUMEN_DTYPE_I32, prev, F->comm[r], F->s[r]));
		CCL_OK(lumen_ccl_send(F->a[r], count, LUMEN_DTYPE_I32, r, F->comm[r], F->s[r]));
		CCL_OK(lumen_ccl_recv(F->b[r], count, LUMEN_DTYPE_I32, prev, F->comm[r], F->s[r]));
		CCL_OK(lumen_ccl_recv(F->b[r] + bytes, count, LUMEN_DTYPE_I32, next, F->comm[r],
				      F->s[r]));
		CCL_OK(lumen_ccl_recv(F->b[r] + 2 * bytes, count, LUMEN_DTYPE_I32, r, F->comm[r],
				      F->s[r]));
	}
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	for (int r = 0; r < F->n; r++) {
		const int from[3] = {(r + F->n - 1) % F->n, (r + 1) % F->n, r};

		rt_d2h(F->ctx[r], F->host, F->b[r], 3 * bytes);
		for (int k = 0; k < 3; k++)
			for (size_t i = 0; i < count; i++)
				if (((int32_t *)F->host)[(size_t)k * count + i] != val(from[k], i))
					fail_msg("send/recv: rank %d, what rank %d sent, element "
						 "%zu",
						 r, from[k], i);
	}
}

/* A pair that batches matching sends and receives differently: rank 0
 * sends 1 MiB alone, then in a group 256 KiB more and receives 768 KiB;
 * rank 1 receives both in a group that also sends. Rank 0's lone send
 * waits for rank 1's receives, rank 1's send for rank 0's receive: neither
 * stream may hold the other's. */
static void p2p_batched_differently(void **state)
{
	const size_t big = (1u << 20) / 4, small = (256u << 10) / 4, back = (768u << 10) / 4;

	(void)state;
	need_ranks();
	if (F->n < 2)
		skip();
	fill(0, F->a[0], big + small, LUMEN_DTYPE_I32);
	fill(1, F->a[1], back, LUMEN_DTYPE_I32);
	CCL_OK(lumen_ccl_send(F->a[0], big, LUMEN_DTYPE_I32, 1, F->comm[0], F->s[0]));
	CCL_OK(lumen_ccl_group_start());
	CCL_OK(lumen_ccl_send(F->a[0] + big * 4, small, LUMEN_DTYPE_I32, 1, F->comm[0], F->s[0]));
	CCL_OK(lumen_ccl_recv(F->b[0], back, LUMEN_DTYPE_I32, 1, F->comm[0], F->s[0]));
	CCL_OK(lumen_ccl_group_end());
	CCL_OK(lumen_ccl_group_start());
	CCL_OK(lumen_ccl_recv(F->b[1], big, LUMEN_DTYPE_I32, 0, F->comm[1], F->s[1]));
	CCL_OK(lumen_ccl_recv(F->b[1] + big * 4, small, LUMEN_DTYPE_I32, 0, F->comm[1], F->s[1]));
	CCL_OK(lumen_ccl_send(F->a[1], back, LUMEN_DTYPE_I32, 0, F->comm[1], F->s[1]));
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	rt_d2h(F->ctx[1], F->host, F->b[1], (big + small) * 4);
	for (size_t i = 0; i < big + small; i++)
		if (((int32_t *)F->host)[i] != val(0, i))
			fail_msg("batched differently: rank 1 element %zu", i);
	rt_d2h(F->ctx[0], F->host, F->b[0], back * 4);
	for (size_t i = 0; i < back; i++)
		if (((int32_t *)F->host)[i] != val(1, i))
			fail_msg("batched differently: rank 0 element %zu", i);
}

static void *destroy_thread(void *arg)
{
	lumen_ccl_comm_t c = arg;

	return (void *)(intptr_t)lumen_ccl_comm_destroy(c);
}

/* Rank 0 of a fresh pair sends and destroys its communicator while rank 1
 * has not received yet (its stream held): destroy waits for rank 1's
 * acknowledgement, so rank 1's receive completes without an error. */
static void destroy_waits_for_the_peers_acknowledgements(void **state)
{
	lumen_ccl_comm_t pair[2];
	struct rt_gate gate;
	pthread_t t;
	void *ret;
	const size_t count = (64u << 10) / 4; /* one slot */

	(void)state;
	need_ranks();
	if (F->n < 2)
		skip();
	CCL_OK(lumen_ccl_comm_init_all(pair, 2, F->ctx));
	fill(0, F->a[0], count, LUMEN_DTYPE_I32);
	rt_gate_init(&gate);
	RT_OK(lumen_launch_host_func(F->s[1], rt_gate_fn, &gate));
	CCL_OK(lumen_ccl_recv(F->b[1], count, LUMEN_DTYPE_I32, 0, pair[1], F->s[1]));
	CCL_OK(lumen_ccl_send(F->a[0], count, LUMEN_DTYPE_I32, 1, pair[0], F->s[0]));
	RT_OK(lumen_stream_synchronize(F->s[0]));
	assert_int_equal(pthread_create(&t, NULL, destroy_thread, pair[0]), 0);
	rt_sleep_ms(300);
	rt_gate_open(&gate);
	pthread_join(t, &ret);
	assert_int_equal((int)(intptr_t)ret, LUMEN_SUCCESS);
	RT_OK(lumen_stream_synchronize(F->s[1]));
	rt_d2h(F->ctx[1], F->host, F->b[1], count * 4);
	for (size_t i = 0; i < count; i++)
		if (((int32_t *)F->host)[i] != val(0, i))
			fail_msg("destroy after send: rank 1 element %zu", i);
	CCL_OK(lumen_ccl_comm_destroy(pair[1]));
}

/* Block j of rank r's send goes to block r of rank j's recv. */
static void all_to_all(void **state)
{
	const size_t count = 70001; /* i32 per block */

	(void)state;
	need_ranks();
	for (int r = 0; r < F->n; r++)
		fill(r, F->a[r], count * (size_t)F->n, LUMEN_DTYPE_I32);
	CCL_OK(lumen_ccl_group_start());
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_all_to_all(F->a[r], F->b[r], count, LUMEN_DTYPE_I32, F->comm[r],
					    F->s[r]));
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	for (int r = 0; r < F->n; r++) {
		rt_d2h(F->ctx[r], F->host, F->b[r], count * (size_t)F->n * 4);
		for (int j = 0; j < F->n; j++)
			for (size_t i = 0; i < count; i++)
				if (((int32_t *)F->host)[(size_t)j * count + i] !=
				    val(j, (size_t)r * count + i))
					fail_msg("all-to-all: rank %d, block from %d, element %zu",
						 r, j, i);
	}
}

static void p2p_and_group_arguments(void **state)
{
	(void)state;
	need_ranks();
	CCL_FAIL(lumen_ccl_group_end(), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "no group"));
	CCL_FAIL(lumen_ccl_send(F->a[0], 1, LUMEN_DTYPE_F32, F->n, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "peer"));
	CCL_FAIL(lumen_ccl_recv(F->a[0], 1, LUMEN_DTYPE_F32, -1, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_send(F->a[0], 1, (lumen_dtype_t)9, 0, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_all_to_all(F->a[0], F->a[0], 1, LUMEN_DTYPE_F32, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_send(F->a[0], 1, LUMEN_DTYPE_F32, 0, NULL, F->s[0]),
		 LUMEN_ERROR_INVALID_HANDLE);
	/* Inside a group too, bad arguments fail at the call; the group still
	 * ends cleanly with nothing queued. */
	CCL_OK(lumen_ccl_group_start());
	CCL_FAIL(lumen_ccl_send(F->a[0], 1, LUMEN_DTYPE_F32, F->n + 3, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_OK(lumen_ccl_group_end());
}

/* Split by parity inside a group (one thread for all ranks), the last rank
 * taking no part, keys reversing the order: then an all-reduce on every
 * new communicator sums over its members only. */
static void split_by_parity(void **state)
{
	lumen_ccl_comm_t sub[MAX_RANKS] = {0};
	const size_t count = 10007;
	const int last = F->n - 1;

	(void)state;
	need_ranks();
	if (F->n < 3)
		skip();
	CCL_OK(lumen_ccl_group_start());
	for (int r = 0; r < F->n; r++)
		CCL_OK(lumen_ccl_comm_split(F->comm[r], r == last ? LUMEN_CCL_SPLIT_NOCOLOR : r % 2,
					    -r, &sub[r]));
	CCL_OK(lumen_ccl_group_end());
	assert_null(sub[last]);
	for (int r = 0; r < last; r++) {
		int n = 0, rank = -1, want_n = 0, want_rank = 0;

		assert_non_null(sub[r]);
		for (int q = 0; q < last; q++)
			if (q % 2 == r % 2) {
				want_n++;
				want_rank += q > r; /* key -q: the higher ranks first */
			}
		CCL_OK(lumen_ccl_comm_count(sub[r], &n));
		CCL_OK(lumen_ccl_comm_rank(sub[r], &rank));
		assert_int_equal(n, want_n);
		assert_int_equal(rank, want_rank);
		fill(r, F->a[r], count, LUMEN_DTYPE_I32);
	}
	CCL_OK(lumen_ccl_group_start());
	for (int r = 0; r < last; r++)
		CCL_OK(lumen_ccl_all_reduce(F->a[r], F->b[r], count, LUMEN_DTYPE_I32,
					    LUMEN_REDUCE_SUM, sub[r], F->s[r]));
	CCL_OK(lumen_ccl_group_end());
	sync_all();
	for (int r = 0; r < last; r++) {
		rt_d2h(F->ctx[r], F->host, F->b[r], count * 4);
		for (size_t i = 0; i < count; i++) {
			int64_t want = 0;

			for (int q = 0; q < last; q++)
				if (q % 2 == r % 2)
					want += val(q, i);
			if (((int32_t *)F->host)[i] != (int32_t)want)
				fail_msg("split: rank %d element %zu is %d, expected %lld", r, i,
					 ((int32_t *)F->host)[i], (long long)want);
		}
	}
	for (int r = 0; r < last; r++)
		CCL_OK(lumen_ccl_comm_destroy(sub[r]));
	CCL_FAIL(lumen_ccl_comm_split(F->comm[0], -7, 0, &sub[0]), LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_comm_split(F->comm[0], 0, 0, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_comm_split(NULL, 0, 0, &sub[0]), LUMEN_ERROR_INVALID_HANDLE);
}

/* A rank whose peer never comes: rank 0 of a fresh pair queues an
 * all-reduce alone, its stream waits for rank 1. Aborting it releases the
 * wait at once (well before lumen.ko's 2 s hang detector would fail the
 * context), the context stays sound, and rank 1's communicator of the same
 * init says it was aborted. */
static void abort_releases_a_rank_left_waiting(void **state)
{
	lumen_ccl_comm_t pair[2];
	lumen_status_t err = LUMEN_SUCCESS;
	lumen_fault_t fault;
	struct timespec t0, t1;

	(void)state;
	need_ranks();
	if (F->n < 2)
		skip();
	CCL_OK(lumen_ccl_comm_init_all(pair, 2, F->ctx));
	CCL_OK(lumen_ccl_comm_get_async_error(pair[0], &err));
	assert_int_equal(err, LUMEN_SUCCESS);
	CCL_OK(lumen_ccl_all_reduce(F->a[0], F->a[0], 300000, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM,
				    pair[0], F->s[0]));
	rt_sleep_ms(300);
	assert_int_equal(lumen_stream_query(F->s[0]), LUMEN_ERROR_NOT_READY);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CCL_OK(lumen_ccl_comm_abort(pair[0]));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const double ms =
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# abort of a rank left waiting: %.0f ms\n", ms);
	assert_true(ms < 1500);
	RT_OK(lumen_stream_synchronize(F->s[0]));
	LUMEN_STRUCT_INIT(fault);
	assert_int_equal(lumen_context_get_fault(F->ctx[0], &fault), LUMEN_SUCCESS);
	CCL_FAIL(lumen_ccl_comm_abort(pair[0]), LUMEN_ERROR_INVALID_HANDLE);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[1], F->a[1], 1, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM,
				      pair[1], F->s[1]),
		 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "aborted"));
	CCL_OK(lumen_ccl_comm_get_async_error(pair[1], &err));
	assert_int_equal(err, LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "rank 0 aborted"));
	CCL_OK(lumen_ccl_comm_abort(pair[1]));
	CCL_FAIL(lumen_ccl_comm_get_async_error(pair[1], &err), LUMEN_ERROR_INVALID_HANDLE);
	CCL_FAIL(lumen_ccl_comm_get_async_error(F->comm[0], NULL), LUMEN_ERROR_INVALID_ARGUMENT);
}

/* Last: a collective that fails once part of it is queued (a misaligned
 * in-place buffer: the first receive's reduction refuses it) leaves the
 * ranks' counters apart; every later call on any rank says so. */
static void broken_after_failure(void **state)
{
	(void)state;
	need_ranks();
	if (F->n < 2)
		skip();
	CCL_FAIL(lumen_ccl_all_reduce(F->a[0] + 2, F->a[0] + 2, 4096, LUMEN_DTYPE_F32,
				      LUMEN_REDUCE_SUM, F->comm[0], F->s[0]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	CCL_FAIL(lumen_ccl_all_reduce(F->a[1], F->b[1], 4096, LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM,
				      F->comm[1], F->s[1]),
		 LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_ccl_get_last_error(), "unusable"));
	assert_non_null(strstr(lumen_ccl_get_last_error(), "rank 0"));
	printf("# after the failure: %s\n", lumen_ccl_get_last_error());
	{
		lumen_status_t err = LUMEN_SUCCESS;

		CCL_OK(lumen_ccl_comm_get_async_error(F->comm[1], &err));
		assert_int_equal(err, LUMEN_ERROR_INVALID_ARGUMENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_reduce),
		cmocka_unit_test(all_gather),
		cmocka_unit_test(reduce_scatter),
		cmocka_unit_test(broadcast),
		cmocka_unit_test(single_rank),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(in_place_gather_and_scatter),
		cmocka_unit_test(group_of_many_all_reduces),
		cmocka_unit_test(send_recv_in_a_group),
		cmocka_unit_test(p2p_batched_differently),
		cmocka_unit_test(destroy_waits_for_the_peers_acknowledgements),
		cmocka_unit_test(all_to_all),
		cmocka_unit_test(p2p_and_group_arguments),
		cmocka_unit_test(split_by_parity),
		cmocka_unit_test(abort_releases_a_rank_left_waiting),
		cmocka_unit_test(broken_after_failure),
	};
	return cmocka_run_group_tests_name("ccl", tests, setup, teardown);
}
