// SPDX-License-Identifier: MIT
/*
 * liblumen thread safety (rt_threads):
 *   - 8 threads share one context, each with its own stream, each running
 *     many malloc / H2D / D2H / free cycles with its own patterns (pageable
 *     and pinned host memory, small and larger sizes), results verified;
 *   - 8 threads share one stream, issuing async fills and copies to
 *     disjoint regions and recording events on it; every region ends with
 *     the thread's last write;
 *   - 8 threads use the synchronous calls of one context at once.
 * No call may fail.
 */
#include <errno.h>
#include <unistd.h>

#include "lumen_dev.h"
#include "rt_test.h"

#define NT 8

struct worker {
	struct rt_fx *f;
	int id;
	int cycles;
	lumen_stream_t stream;	/* shared-stream test */
	lumen_devptr_t region;	/* shared-stream test */
	size_t region_size;
	char error[320];	/* first failure, "" if none */
	int last_value;
};

#define W_CHECK(w, call)                                                                 \
	do {                                                                               \
		lumen_status_t s_ = (call);                                                \
		if (s_ != LUMEN_SUCCESS) {                                                 \
			snprintf((w)->error, sizeof((w)->error), "thread %d: %s -> %s: %s",  \
				 (w)->id, #call, rt_st(s_), lumen_get_last_error());       \
			goto out;                                                          \
		}                                                                          \
	} while (0)

static void *own_stream_worker(void *arg)
{
	struct worker *w = arg;
	lumen_context_t ctx = w->f->ctx;
	lumen_stream_t s = NULL;
	const size_t max = 300 * KiB;
	uint8_t *h = malloc(max), *o = malloc(max), *pin = NULL;

	if (!h || !o) {
		snprintf(w->error, sizeof(w->error), "thread %d: out of memory", w->id);
		goto out;
	}
	W_CHECK(w, lumen_stream_create(ctx, &s));
	W_CHECK(w, lumen_malloc_host(ctx, max, (void **)&pin));
	for (int c = 0; c < w->cycles; c++) {
		uint32_t seed = (uint32_t)(w->id * 100000 + c);
		size_t n = (c % 4 == 3) ? max - (size_t)c : (size_t)(1 + (c * 977 + w->id * 131) % 8192);
		lumen_devptr_t d, d2;
		long bad;

		W_CHECK(w, lumen_malloc(ctx, n, &d));
		W_CHECK(w, lumen_malloc(ctx, n, &d2));
		if (c % 2) {
			ld_pattern(pin, n, seed);
			W_CHECK(w, lumen_memcpy_h2d_async(s, d, pin, n));
		} else {
			ld_pattern(h, n, seed);
			W_CHECK(w, lumen_memcpy_h2d_async(s, d, h, n));
		}
		W_CHECK(w, lumen_memcpy_d2d_async(s, d2, d, n));
		W_CHECK(w, lumen_memset_async(s, d, 0, n));
		memset(o, 0, n);
		W_CHECK(w, lumen_memcpy_d2h_async(s, o, d2, n));
		W_CHECK(w, lumen_stream_synchronize(s));
		bad = ld_check_pattern(o, n, seed, 0);
		if (bad >= 0) {
			snprintf(w->error, sizeof(w->error),
				 "thread %d cycle %d: %zu B at 0x%llx: byte %ld wrong", w->id, c, n,
				 (unsigned long long)d2, bad);
			goto out;
		}
		W_CHECK(w, lumen_free(ctx, d));
		W_CHECK(w, lumen_free(ctx, d2));
	}
out:
	if (pin)
		lumen_free_host(ctx, pin);
	if (s)
		lumen_stream_destroy(s);
	free(h);
	free(o);
	return NULL;
}

/* NT workers on fixture f, ids 0..NT-1, each running cycles cycles. */
static void init_workers(struct worker *w, struct rt_fx *f, int cycles)
{
	memset(w, 0, sizeof(*w) * NT);
	for (int i = 0; i < NT; i++) {
		w[i].f = f;
		w[i].id = i;
		w[i].cycles = cycles;
	}
}

static void run_workers(struct worker *w, void *(*fn)(void *))
{
	pthread_t t[NT];

	for (int i = 0; i < NT; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NT; i++)
		if (w[i].error[0])
			fail_msg("%s", w[i].error);
}

static void test_own_streams(void **state)
{
	struct rt_fx *f = *state;
	struct worker w[NT];
	lumen_mem_info_t mi;
	uint64_t t0 = ld_now_ns();

	init_workers(w, f, 40);
	run_workers(w, own_stream_worker);
	printf("# %d threads x %d cycles in %.2f s\n", NT, w[0].cycles, (ld_now_ns() - t0) / 1e9);
	/* Nothing leaked: every allocation was freed. */
	LUMEN_STRUCT_INIT(mi);
	RT_OK(lumen_mem_get_info(f->ctx, &mi));
	assert_int_equal(mi.ctx_device_used, 0);
}

static void *shared_stream_worker(void *arg)
{
	struct worker *w = arg;
	lumen_event_t ev = NULL;
	uint8_t *h = malloc(w->region_size);

	if (!h) {
		snprintf(w->error, sizeof(w->error), "thread %d: out of memory", w->id);
		goto out;
	}
	W_CHECK(w, lumen_event_create(w->f->ctx, &ev));
	for (int c = 0; c < w->cycles; c++) {
		int v = (w->id * 31 + c) & 0xff;

		W_CHECK(w, lumen_memset_async(w->stream, w->region, v, w->region_size));
		if (c % 5 == 4) {
			/* A pageable copy over half the region, captured at the call. */
			memset(h, v ^ 0xff, w->region_size / 2);
			W_CHECK(w, lumen_memcpy_h2d_async(w->stream, w->region, h,
							  w->region_size / 2));
			memset(h, 0, w->region_size / 2);
			W_CHECK(w, lumen_memset_async(w->stream, w->region, v,
						      w->region_size / 2));
		}
		if (c % 10 == 9) {
			W_CHECK(w, lumen_event_record(ev, w->stream));
			W_CHECK(w, lumen_event_synchronize(ev));
		}
		w->last_value = v;
	}
out:
	if (ev)
		lumen_event_destroy(ev);
	free(h);
	return NULL;
}

static void test_shared_stream(void **state)
{
	struct rt_fx *f = *state;
	struct worker w[NT];
	const size_t rs = 64 * KiB + 8;
	lumen_stream_t s;
	lumen_devptr_t d;
	uint8_t *o = malloc(rs * NT);

	assert_non_null(o);
	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_malloc(f->ctx, rs * NT, &d));
	RT_OK(lumen_memset(f->ctx, d, 0xee, rs * NT));
	init_workers(w, f, 50);
	for (int i = 0; i < NT; i++) {
		w[i].stream = s;
		w[i].region = d + rs * (size_t)i;
		w[i].region_size = rs;
	}
	run_workers(w, shared_stream_worker);
	RT_OK(lumen_stream_synchronize(s));
	RT_OK(lumen_memcpy(f->ctx, o, (void *)(uintptr_t)d, rs * NT, LUMEN_COPY_DEVICE_TO_HOST));
	for (int i = 0; i < NT; i++)
		for (size_t k = 0; k < rs; k++)
			if (o[rs * (size_t)i + k] != (uint8_t)w[i].last_value)
				fail_msg("region %d byte %zu = 0x%02x, want 0x%02x (last fill)", i,
					 k, o[rs * (size_t)i + k], w[i].last_value);
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
	free(o);
}

static void *sync_worker(void *arg)
{
	struct worker *w = arg;
	lumen_context_t ctx = w->f->ctx;
	uint8_t h[4096], o[4096];

	for (int c = 0; c < w->cycles; c++) {
		lumen_devptr_t d;
		size_t n = 1 + (size_t)((c * 613 + w->id * 97) % 4096);
		uint32_t seed = (uint32_t)(w->id << 16 | c);

		W_CHECK(w, lumen_malloc(ctx, n, &d));
		ld_pattern(h, n, seed);
		W_CHECK(w, lumen_memcpy(ctx, (void *)(uintptr_t)d, h, n,
					LUMEN_COPY_HOST_TO_DEVICE));
		memset(o, 0, n);
		W_CHECK(w, lumen_memcpy(ctx, o, (void *)(uintptr_t)d, n,
					LUMEN_COPY_DEVICE_TO_HOST));
		if (memcmp(o, h, n)) {
			snprintf(w->error, sizeof(w->error), "thread %d cycle %d: sync copy differs",
				 w->id, c);
			goto out;
		}
		W_CHECK(w, lumen_memset(ctx, d, w->id, n));
		W_CHECK(w, lumen_memcpy(ctx, o, (void *)(uintptr_t)d, n,
					LUMEN_COPY_DEVICE_TO_HOST));
		for (size_t k = 0; k < n; k++)
			if (o[k] != w->id) {
				snprintf(w->error, sizeof(w->error),
					 "thread %d cycle %d: sync memset byte %zu", w->id, c, k);
				goto out;
			}
		W_CHECK(w, lumen_free(ctx, d));
		if (c % 10 == 0)
			W_CHECK(w, lumen_mem_trim(ctx));
	}
out:
	return NULL;
}

static void test_sync_calls(void **state)
{
	struct rt_fx *f = *state;
	struct worker w[NT];

	init_workers(w, f, 30);
	run_workers(w, sync_worker);
}

/* Contexts, streams and events created and destroyed from 8 threads at
 * once, each doing a verified copy in between. */
static void *churn_worker(void *arg)
{
	struct worker *w = arg;
	uint8_t h[8192], o[8192];

	for (int c = 0; c < w->cycles; c++) {
		lumen_context_t ctx = NULL;
		lumen_stream_t s = NULL;
		lumen_event_t e = NULL;
		lumen_devptr_t d;
		uint32_t seed = (uint32_t)(w->id * 1000 + c);

		W_CHECK(w, lumen_context_create(w->f->dev, &ctx));
		W_CHECK(w, lumen_stream_create(ctx, &s));
		W_CHECK(w, lumen_event_create(ctx, &e));
		W_CHECK(w, lumen_malloc(ctx, sizeof(h), &d));
		ld_pattern(h, sizeof(h), seed);
		W_CHECK(w, lumen_memcpy_h2d_async(s, d, h, sizeof(h)));
		W_CHECK(w, lumen_memcpy_d2h_async(s, o, d, sizeof(o)));
		W_CHECK(w, lumen_event_record(e, s));
		W_CHECK(w, lumen_event_synchronize(e));
		if (memcmp(o, h, sizeof(h))) {
			snprintf(w->error, sizeof(w->error), "thread %d cycle %d: copy differs",
				 w->id, c);
			goto out;
		}
		W_CHECK(w, lumen_event_destroy(e));
		W_CHECK(w, lumen_stream_destroy(s));
		/* The context frees the allocation. */
		W_CHECK(w, lumen_context_destroy(ctx));
	}
out:
	return NULL;
}

static void test_context_churn(void **state)
{
	struct rt_fx *f = *state;
	struct worker w[NT];

	init_workers(w, f, 6);
	run_workers(w, churn_worker);
}

/* With two cards: 4 threads per card, each card's own context, at once. */
static void test_two_devices(void **state)
{
	struct rt_fx *f = *state, f1;
	struct worker w[NT];
	lumen_device_t d1;
	int n = 0;

	RT_OK(lumen_device_count(&n));
	if (n < 2)
		skip();
	RT_OK(lumen_device_get(1, &d1));
	f1.dev = d1;
	RT_OK(lumen_context_create(d1, &f1.ctx));
	init_workers(w, f, 16);
	for (int i = 1; i < NT; i += 2)
		w[i].f = &f1;
	run_workers(w, own_stream_worker);
	RT_OK(lumen_context_destroy(f1.ctx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_streams),
		cmocka_unit_test(test_shared_stream),
		cmocka_unit_test(test_sync_calls),
		cmocka_unit_test(test_context_churn),
		cmocka_unit_test(test_two_devices),
	};

	return cmocka_run_group_tests_name("rt_threads", tests, rt_fx_setup, rt_fx_teardown);
}
