// SPDX-License-Identifier: MIT
/*
 * liblumen streams and events (rt_stream): async copies in all four
 * directions with pageable, pinned and registered host memory, 1 B..16 MiB
 * at unaligned offsets, verified byte for byte; pageable H2D sources
 * captured at the call, pageable D2H destinations written when the stream
 * gets there; in-order execution; stream_query NOT_READY/SUCCESS made
 * deterministic by a host callback blocked on a gate; host callbacks in
 * order, later work waiting for them; events (record, query, synchronize,
 * elapsed time); stream_wait_event ordering two streams; the synchronous
 * memcpy/memset; destroyed and NULL handles; objects of two contexts mixed.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lumen_dev.h"
#include "rt_test.h"

/* Every direction, pageable and pinned host memory, odd offsets. */
static void test_copies_all_directions(void **state)
{
	struct rt_fx *f = *state;
	static const size_t sizes[] = { 1, 2, 7, 4095, 4096, 4097, 65537, MiB + 13, 16 * MiB };
	const size_t max = 16 * MiB + 64;
	uint8_t *src = malloc(max), *dst = malloc(max), *psrc, *pdst;
	lumen_devptr_t a, b;
	lumen_stream_t s;

	assert_non_null(src);
	assert_non_null(dst);
	RT_OK(lumen_malloc_host(f->ctx, max, (void **)&psrc));
	RT_OK(lumen_malloc_host(f->ctx, max, (void **)&pdst));
	RT_OK(lumen_malloc(f->ctx, max, &a));
	RT_OK(lumen_malloc(f->ctx, max, &b));
	RT_OK(lumen_stream_create(f->ctx, &s));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint32_t seed = 100 + (uint32_t)i;
		size_t ho = 1 + i % 7, doff = 3 + (i * 5) % 13, eo = 5 + i % 11, oo = 7 - i % 7;

		/* Pageable: H2D, D2D, D2H, H2H. */
		ld_pattern(src + ho, n, seed);
		memset(dst, 0xee, n + 16);
		RT_OK(lumen_memcpy_h2d_async(s, a + doff, src + ho, n));
		RT_OK(lumen_memcpy_d2d_async(s, b + eo, a + doff, n));
		RT_OK(lumen_memcpy_d2h_async(s, dst + oo, b + eo, n));
		RT_OK(lumen_stream_synchronize(s));
		rt_expect_pattern(dst + oo, n, seed, 0, "pageable h2d->d2d->d2h");
		for (size_t k = 0; k < oo; k++)
			assert_int_equal(dst[k], 0xee); /* nothing before the destination */
		assert_int_equal(dst[oo + n], 0xee); /* nor after */
		memset(dst, 0, n + 16);
		RT_OK(lumen_memcpy_h2h_async(s, dst + 1, src + ho, n));
		RT_OK(lumen_stream_synchronize(s));
		rt_expect_pattern(dst + 1, n, seed, 0, "pageable h2h");
		assert_int_equal(dst[0], 0);
		assert_int_equal(dst[n + 1], 0);

		/* Pinned: H2D from pinned, D2H into pinned, H2H pinned. */
		ld_pattern(psrc + oo, n, seed + 50);
		memset(pdst, 0xdd, n + 16);
		RT_OK(lumen_memcpy_h2d_async(s, b + ho, psrc + oo, n));
		RT_OK(lumen_memcpy_d2h_async(s, pdst + eo, b + ho, n));
		RT_OK(lumen_stream_synchronize(s));
		rt_expect_pattern(pdst + eo, n, seed + 50, 0, "pinned h2d->d2h");
		assert_int_equal(pdst[eo - 1], 0xdd);
		assert_int_equal(pdst[eo + n], 0xdd);
		RT_OK(lumen_memcpy_h2h_async(s, pdst + 2, psrc + oo, n));
		RT_OK(lumen_memcpy_h2h_async(s, dst + 3, pdst + 2, n));
		RT_OK(lumen_stream_synchronize(s));
		rt_expect_pattern(dst + 3, n, seed + 50, 0, "pinned h2h");
	}
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, a));
	RT_OK(lumen_free(f->ctx, b));
	RT_OK(lumen_free_host(f->ctx, psrc));
	RT_OK(lumen_free_host(f->ctx, pdst));
	free(src);
	free(dst);
}

/* Pageable H2D: the source is captured before the call returns; pageable
 * D2H: the destination is written when the stream reaches the copy. */
static void test_pageable_semantics(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = 3 * MiB + 5;
	uint8_t *h = malloc(n), *out = malloc(n);
	lumen_devptr_t d;
	lumen_stream_t s;
	struct rt_gate g;

	assert_non_null(h);
	assert_non_null(out);
	RT_OK(lumen_malloc(f->ctx, n, &d));
	RT_OK(lumen_stream_create(f->ctx, &s));
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	ld_pattern(h, n, 31);
	RT_OK(lumen_memcpy_h2d_async(s, d, h, n));
	memset(h, 0, n); /* after the call: must not matter */
	memset(out, 0x99, n);
	RT_OK(lumen_memcpy_d2h_async(s, out, d, n));
	assert_true(rt_gate_wait_entered(&g, 20000));
	rt_sleep_ms(50);
	assert_int_equal(lumen_stream_query(s), LUMEN_ERROR_NOT_READY);
	for (size_t i = 0; i < n; i += 4096)
		if (out[i] != 0x99)
			fail_msg("d2h destination written at %zu before the stream got there", i);
	rt_gate_open(&g);
	RT_OK(lumen_stream_synchronize(s));
	rt_expect_pattern(out, n, 31, 0, "pageable source captured at the call");
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
	free(h);
	free(out);
}

static void test_registered_async(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = MiB;
	uint8_t *h, *o;
	lumen_devptr_t d;
	lumen_stream_t s;

	h = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	o = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(h != MAP_FAILED && o != MAP_FAILED);
	RT_OK(lumen_host_register(f->ctx, h, n));
	RT_OK(lumen_host_register(f->ctx, o, n));
	RT_OK(lumen_malloc(f->ctx, n, &d));
	RT_OK(lumen_stream_create(f->ctx, &s));
	ld_pattern(h, n, 41);
	RT_OK(lumen_memcpy_h2d_async(s, d + 1, h + 17, n - 33));
	RT_OK(lumen_memcpy_d2h_async(s, o + 9, d + 1, n - 33));
	RT_OK(lumen_stream_synchronize(s));
	rt_expect_pattern(o + 9, n - 33, 41, 17, "registered h2d->d2h");
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
	RT_OK(lumen_host_unregister(f->ctx, h));
	RT_OK(lumen_host_unregister(f->ctx, o));
	munmap(h, n);
	munmap(o, n);
}

static void test_in_order(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = 256 * KiB;
	uint8_t *p = malloc(n), *out = malloc(n);
	lumen_devptr_t a, b;
	lumen_stream_t s;

	assert_non_null(p);
	assert_non_null(out);
	RT_OK(lumen_malloc(f->ctx, n, &a));
	RT_OK(lumen_malloc(f->ctx, n, &b));
	RT_OK(lumen_stream_create(f->ctx, &s));
	ld_pattern(p, n, 55);
	/* a = 1s, then the pattern, copied to b, then a = 2s: b holds the
	 * pattern, a the 2s. */
	RT_OK(lumen_memset_async(s, a, 1, n));
	RT_OK(lumen_memcpy_h2d_async(s, a, p, n));
	RT_OK(lumen_memcpy_d2d_async(s, b, a, n));
	RT_OK(lumen_memset_async(s, a, 2, n));
	RT_OK(lumen_memcpy_d2h_async(s, out, b, n));
	RT_OK(lumen_stream_synchronize(s));
	rt_expect_pattern(out, n, 55, 0, "in-order chain");
	rt_d2h(f->ctx, out, a, n);
	for (size_t i = 0; i < n; i++)
		if (out[i] != 2)
			fail_msg("a[%zu] = %u, want 2", i, out[i]);
	/* Many fills of the same bytes: the last one wins. */
	for (int v = 0; v < 64; v++)
		RT_OK(lumen_memset_async(s, a + 100, v, 5000));
	RT_OK(lumen_memcpy_d2h_async(s, out, a, 8192));
	RT_OK(lumen_stream_synchronize(s));
	for (size_t i = 100; i < 5100; i++)
		assert_int_equal(out[i], 63);
	assert_int_equal(out[99], 2);
	assert_int_equal(out[5100], 2);
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, a));
	RT_OK(lumen_free(f->ctx, b));
	free(p);
	free(out);
}

static void test_query(void **state)
{
	struct rt_fx *f = *state;
	lumen_stream_t s;
	lumen_event_t e, never;
	struct rt_gate g;

	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_event_create(f->ctx, &e));
	RT_OK(lumen_event_create(f->ctx, &never));
	assert_int_equal(lumen_stream_query(s), LUMEN_SUCCESS); /* empty stream */
	assert_int_equal(lumen_event_query(never), LUMEN_SUCCESS); /* never recorded */
	RT_OK(lumen_event_synchronize(never));
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	RT_OK(lumen_launch_nop_async(s));
	RT_OK(lumen_event_record(e, s));
	assert_true(rt_gate_wait_entered(&g, 20000));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(lumen_stream_query(s), LUMEN_ERROR_NOT_READY);
		assert_int_equal(lumen_event_query(e), LUMEN_ERROR_NOT_READY);
		rt_sleep_ms(20);
	}
	rt_gate_open(&g);
	RT_OK(lumen_event_synchronize(e));
	assert_int_equal(lumen_event_query(e), LUMEN_SUCCESS);
	RT_OK(lumen_stream_synchronize(s));
	assert_int_equal(lumen_stream_query(s), LUMEN_SUCCESS);
	assert_int_equal(g.seen, LUMEN_SUCCESS);
	RT_OK(lumen_event_destroy(e));
	RT_OK(lumen_event_destroy(never));
	RT_OK(lumen_stream_destroy(s));
}

struct cb_log {
	pthread_mutex_t lock;
	int order[32];
	int n;
	uint8_t *pinned;	/* written by callbacks, read by the device after */
	const uint8_t *seen;	/* written by the device before, read by callbacks */
	int seen_ok[32];
	lumen_status_t status[32];
};

struct cb_arg {
	struct cb_log *log;
	int idx;
};

static void cb_fn(lumen_stream_t s, lumen_status_t status, void *arg)
{
	struct cb_arg *a = arg;
	struct cb_log *l = a->log;

	(void)s;
	/* The device's earlier copy of byte value idx is visible. */
	l->seen_ok[a->idx] = l->seen[a->idx] == (uint8_t)(0x40 + a->idx);
	rt_sleep_ms(a->idx % 3 == 0 ? 30 : 1);	/* slow callbacks must still be waited for */
	l->pinned[a->idx] = (uint8_t)(0x80 + a->idx);
	pthread_mutex_lock(&l->lock);
	l->status[a->idx] = status;
	l->order[l->n++] = a->idx;
	pthread_mutex_unlock(&l->lock);
}

static void test_host_callbacks(void **state)
{
	struct rt_fx *f = *state;
	enum { N = 12 };
	struct cb_log log;
	struct cb_arg args[N];
	uint8_t *pin, *seen, out[64];
	lumen_devptr_t d, e;
	lumen_stream_t s;

	memset(&log, 0, sizeof(log));
	pthread_mutex_init(&log.lock, NULL);
	RT_OK(lumen_malloc_host(f->ctx, 4096, (void **)&pin));
	RT_OK(lumen_malloc_host(f->ctx, 4096, (void **)&seen));
	memset(pin, 0, 4096);
	memset(seen, 0, 4096);
	log.pinned = pin;
	log.seen = seen;
	RT_OK(lumen_malloc(f->ctx, 4096, &d));
	RT_OK(lumen_malloc(f->ctx, 4096, &e));
	RT_OK(lumen_memset(f->ctx, d, 0, 4096));
	RT_OK(lumen_stream_create(f->ctx, &s));
	for (int i = 0; i < N; i++) {
		args[i].log = &log;
		args[i].idx = i;
		/* Before callback i: the device writes seen[i] (checked by it). */
		RT_OK(lumen_memset_async(s, e + (lumen_devptr_t)i, 0x40 + i, 1));
		RT_OK(lumen_memcpy_d2h_async(s, seen + i, e + (lumen_devptr_t)i, 1));
		RT_OK(lumen_launch_host_func(s, cb_fn, &args[i]));
		/* After it: the device copies what callback i wrote. */
		RT_OK(lumen_memcpy_h2d_async(s, d + (lumen_devptr_t)i, pin + i, 1));
	}
	RT_OK(lumen_stream_synchronize(s));
	assert_int_equal(log.n, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(log.order[i], i);
		assert_int_equal(log.status[i], LUMEN_SUCCESS);
		if (!log.seen_ok[i])
			fail_msg("callback %d ran before the device work queued before it", i);
	}
	rt_d2h(f->ctx, out, d, N);
	for (int i = 0; i < N; i++)
		if (out[i] != 0x80 + i)
			fail_msg("copy after callback %d read 0x%02x: it did not wait for it", i,
				 out[i]);
	RT_FAIL(lumen_launch_host_func(s, NULL, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_launch_host_func(NULL, cb_fn, &args[0]), LUMEN_ERROR_INVALID_HANDLE);
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
	RT_OK(lumen_free(f->ctx, e));
	RT_OK(lumen_free_host(f->ctx, pin));
	RT_OK(lumen_free_host(f->ctx, seen));
}

static void sleep_cb(lumen_stream_t s, lumen_status_t st, void *arg)
{
	(void)s;
	(void)st;
	rt_sleep_ms((unsigned int)(uintptr_t)arg);
}

struct opener {
	struct rt_gate *g;
	unsigned int ms;
};

static void *open_later(void *arg)
{
	struct opener *o = arg;

	rt_sleep_ms(o->ms);
	rt_gate_open(o->g);
	return NULL;
}

static void test_events(void **state)
{
	struct rt_fx *f = *state;
	lumen_event_t start, end, mid;
	lumen_stream_t s;
	lumen_devptr_t d;
	struct rt_gate g;
	struct opener op;
	pthread_t t;
	float ms = -1, ms2 = -1;
	uint64_t t0, dt;

	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_event_create(f->ctx, &start));
	RT_OK(lumen_event_create(f->ctx, &end));
	RT_OK(lumen_event_create(f->ctx, &mid));
	RT_OK(lumen_malloc(f->ctx, 4 * MiB, &d));

	/* Device time between two events includes a 150 ms host callback. */
	RT_OK(lumen_event_record(start, s));
	RT_OK(lumen_memset_async(s, d, 7, 4 * MiB));
	RT_OK(lumen_launch_host_func(s, sleep_cb, (void *)(uintptr_t)150));
	RT_OK(lumen_event_record(mid, s));
	RT_OK(lumen_memset_async(s, d, 8, 4 * MiB));
	RT_OK(lumen_event_record(end, s));
	RT_OK(lumen_event_synchronize(end));
	assert_int_equal(lumen_event_query(start), LUMEN_SUCCESS);
	assert_int_equal(lumen_event_query(mid), LUMEN_SUCCESS);
	RT_OK(lumen_event_elapsed_time(&ms, start, end));
	RT_OK(lumen_event_elapsed_time(&ms2, start, mid));
	printf("# elapsed start->mid %.3f ms, start->end %.3f ms\n", ms2, ms);
	assert_true(ms >= 0.0f);
	assert_true(ms2 >= 140.0f); /* the callback's 150 ms are in there */
	assert_true(ms >= ms2);
	assert_true(ms < 60000.0f);
	RT_OK(lumen_event_elapsed_time(&ms, start, start));
	assert_true(ms == 0.0f);
	RT_FAIL(lumen_event_elapsed_time(NULL, start, end), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_event_elapsed_time(&ms, NULL, end), LUMEN_ERROR_INVALID_HANDLE);

	/* event_synchronize blocks until the work is done; elapsed time of a
	 * pending event is NOT_READY. */
	rt_gate_init(&g);
	RT_OK(lumen_event_record(start, s));
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	RT_OK(lumen_event_record(end, s));
	assert_true(rt_gate_wait_entered(&g, 20000));
	RT_OK(lumen_event_synchronize(start));
	assert_int_equal(lumen_event_query(end), LUMEN_ERROR_NOT_READY);
	{
		lumen_status_t st = lumen_event_elapsed_time(&ms, start, end);

		assert_int_equal(st, LUMEN_ERROR_NOT_READY);
	}
	op.g = &g;
	op.ms = 200;
	t0 = ld_now_ns();
	assert_int_equal(pthread_create(&t, NULL, open_later, &op), 0);
	RT_OK(lumen_event_synchronize(end));
	dt = ld_now_ns() - t0;
	pthread_join(t, NULL);
	assert_true(dt >= 150ull * 1000000);
	assert_int_equal(lumen_event_query(end), LUMEN_SUCCESS);
	RT_OK(lumen_event_elapsed_time(&ms, start, end));
	assert_true(ms >= 150.0f);

	RT_FAIL(lumen_event_record(NULL, s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_record(start, NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_create(f->ctx, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_event_create(NULL, &start), LUMEN_ERROR_INVALID_HANDLE);
	RT_OK(lumen_event_destroy(start));
	RT_OK(lumen_event_destroy(end));
	RT_OK(lumen_event_destroy(mid));
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
}

/*
 * Re-recording an event while its earlier record is still pending: the
 * event moves to the new point, and the earlier record's timestamp, written
 * when it finally runs, must not change the new one's elapsed time.
 */
static void test_event_rerecord_pending(void **state)
{
	struct rt_fx *f = *state;
	lumen_stream_t a, b;
	lumen_event_t start, ev;
	struct rt_gate g;
	float ms1 = -1, ms2 = -1;

	RT_OK(lumen_stream_create(f->ctx, &a));
	RT_OK(lumen_stream_create(f->ctx, &b));
	RT_OK(lumen_event_create(f->ctx, &start));
	RT_OK(lumen_event_create(f->ctx, &ev));
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(a, rt_gate_fn, &g));
	RT_OK(lumen_event_record(ev, a)); /* held back by the gate */
	assert_true(rt_gate_wait_entered(&g, 20000));
	RT_OK(lumen_event_record(start, b));
	RT_OK(lumen_event_record(ev, b)); /* moves ev to b */
	RT_OK(lumen_event_synchronize(ev));
	RT_OK(lumen_event_elapsed_time(&ms1, start, ev));
	rt_sleep_ms(100);
	rt_gate_open(&g);
	RT_OK(lumen_stream_synchronize(a)); /* the first record runs now */
	RT_OK(lumen_event_elapsed_time(&ms2, start, ev));
	printf("# re-recorded: %.3f ms before, %.3f ms after the old record ran\n", ms1, ms2);
	assert_true(ms1 >= 0.0f && ms1 < 50.0f);
	assert_true(ms1 == ms2);
	RT_OK(lumen_event_destroy(start));
	RT_OK(lumen_event_destroy(ev));
	RT_OK(lumen_stream_destroy(a));
	RT_OK(lumen_stream_destroy(b));
}

/* B waits for A's event: B reads what A wrote. */
static void test_wait_event(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = 2 * MiB + 3;
	uint8_t *h = malloc(n), *out = malloc(n);
	lumen_stream_t a, b;
	lumen_event_t ev;
	lumen_devptr_t d;
	struct rt_gate g;

	assert_non_null(h);
	assert_non_null(out);
	RT_OK(lumen_stream_create(f->ctx, &a));
	RT_OK(lumen_stream_create(f->ctx, &b));
	RT_OK(lumen_event_create(f->ctx, &ev));
	RT_OK(lumen_malloc(f->ctx, n, &d));
	RT_OK(lumen_memset(f->ctx, d, 0, n));
	ld_pattern(h, n, 66);
	memset(out, 0x33, n);
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(a, rt_gate_fn, &g));
	RT_OK(lumen_memcpy_h2d_async(a, d, h, n));
	RT_OK(lumen_event_record(ev, a));
	RT_OK(lumen_stream_wait_event(b, ev));
	RT_OK(lumen_memcpy_d2h_async(b, out, d, n));
	assert_true(rt_gate_wait_entered(&g, 20000));
	rt_sleep_ms(100);
	assert_int_equal(lumen_stream_query(b), LUMEN_ERROR_NOT_READY);
	assert_int_equal(out[0], 0x33);
	rt_gate_open(&g);
	RT_OK(lumen_stream_synchronize(b));
	rt_expect_pattern(out, n, 66, 0, "stream B after waiting for A's event");
	/* Re-recording moves the event; a wait on a done event does not block. */
	RT_OK(lumen_event_record(ev, a));
	RT_OK(lumen_stream_synchronize(a));
	RT_OK(lumen_stream_wait_event(b, ev));
	RT_OK(lumen_launch_nop_async(b));
	RT_OK(lumen_stream_synchronize(b));
	RT_FAIL(lumen_stream_wait_event(b, NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_wait_event(NULL, ev), LUMEN_ERROR_INVALID_HANDLE);
	RT_OK(lumen_event_destroy(ev));
	RT_OK(lumen_stream_destroy(a));
	RT_OK(lumen_stream_destroy(b));
	RT_OK(lumen_free(f->ctx, d));
	free(h);
	free(out);
}

static void test_sync_calls(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = MiB + 77;
	uint8_t *h = malloc(n), *o = malloc(n), *o2 = malloc(n);
	lumen_devptr_t d, e;
	void *dv, *ev;

	assert_non_null(h);
	assert_non_null(o);
	assert_non_null(o2);
	RT_OK(lumen_malloc(f->ctx, n, &d));
	RT_OK(lumen_malloc(f->ctx, n, &e));
	dv = (void *)(uintptr_t)d;
	ev = (void *)(uintptr_t)e;
	ld_pattern(h, n, 88);
	RT_OK(lumen_memcpy(f->ctx, dv, h, n, LUMEN_COPY_HOST_TO_DEVICE));
	RT_OK(lumen_memcpy(f->ctx, ev, dv, n, LUMEN_COPY_DEVICE_TO_DEVICE));
	memset(o, 0, n);
	RT_OK(lumen_memcpy(f->ctx, o, ev, n, LUMEN_COPY_DEVICE_TO_HOST));
	rt_expect_pattern(o, n, 88, 0, "sync h2d/d2d/d2h");
	RT_OK(lumen_memcpy(f->ctx, o2, o, n, LUMEN_COPY_HOST_TO_HOST));
	rt_expect_pattern(o2, n, 88, 0, "sync h2h");
	/* DEFAULT infers the direction from where the pointers live. */
	ld_pattern(h, n, 89);
	RT_OK(lumen_memcpy(f->ctx, dv, h, n, LUMEN_COPY_DEFAULT));
	RT_OK(lumen_memcpy(f->ctx, (char *)ev + 1, dv, n - 1, LUMEN_COPY_DEFAULT));
	memset(o, 0, n);
	RT_OK(lumen_memcpy(f->ctx, o, (char *)ev + 1, n - 1, LUMEN_COPY_DEFAULT));
	rt_expect_pattern(o, n - 1, 89, 0, "DEFAULT copies");
	RT_OK(lumen_memcpy(f->ctx, o2, o, n, LUMEN_COPY_DEFAULT));
	rt_expect_pattern(o2, n - 1, 89, 0, "DEFAULT h2h");
	/* Synchronous memset. */
	RT_OK(lumen_memset(f->ctx, d + 1, 0xa5, n - 2));
	RT_OK(lumen_memcpy(f->ctx, o, dv, n, LUMEN_COPY_DEVICE_TO_HOST));
	assert_int_equal(o[0], h[0]);
	for (size_t i = 1; i < n - 1; i++)
		if (o[i] != 0xa5)
			fail_msg("sync memset byte %zu = 0x%02x", i, o[i]);
	assert_int_equal(o[n - 1], h[n - 1]);
	/* Bad arguments. */
	RT_FAIL(lumen_memcpy(f->ctx, o, NULL, 16, LUMEN_COPY_HOST_TO_HOST),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy(f->ctx, NULL, o, 16, LUMEN_COPY_HOST_TO_HOST),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy(f->ctx, o, h, 16, (lumen_copy_kind_t)99),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy(NULL, o, h, 16, LUMEN_COPY_HOST_TO_HOST),
		LUMEN_ERROR_INVALID_HANDLE);
	/* Past the end of a device allocation. */
	RT_FAIL(lumen_memcpy(f->ctx, o, dv, n + 4096, LUMEN_COPY_DEVICE_TO_HOST),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_free(f->ctx, d));
	RT_OK(lumen_free(f->ctx, e));
	free(h);
	free(o);
	free(o2);
}

static void test_destroy_waits(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = 4 * MiB;
	uint8_t *h = malloc(n), *o = malloc(n);
	lumen_devptr_t d;
	lumen_stream_t s;

	assert_non_null(h);
	assert_non_null(o);
	RT_OK(lumen_malloc(f->ctx, n, &d));
	RT_OK(lumen_stream_create(f->ctx, &s));
	ld_pattern(h, n, 91);
	memset(o, 0, n);
	RT_OK(lumen_launch_host_func(s, sleep_cb, (void *)(uintptr_t)100));
	RT_OK(lumen_memcpy_h2d_async(s, d, h, n));
	RT_OK(lumen_memcpy_d2h_async(s, o, d, n));
	RT_OK(lumen_stream_destroy(s)); /* waits for the stream's work */
	rt_expect_pattern(o, n, 91, 0, "work finished by stream_destroy");
	RT_OK(lumen_free(f->ctx, d));
	free(h);
	free(o);
}

static void test_bad_handles(void **state)
{
	struct rt_fx *f = *state;
	lumen_stream_t s, s2;
	lumen_event_t e;
	lumen_context_t c;
	lumen_devptr_t d = 0xabcdull, p;
	uint8_t buf[16] = { 0 };

	RT_FAIL(lumen_stream_create(f->ctx, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_stream_create(NULL, &s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_synchronize(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_query(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_destroy(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_launch_nop_async(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_memcpy_h2d_async(NULL, 0x100000000ull, buf, 1), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_query(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_synchronize(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_destroy(NULL), LUMEN_ERROR_INVALID_HANDLE);

	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_stream_create(f->ctx, &s2));
	RT_OK(lumen_malloc(f->ctx, 4096, &d));
	RT_FAIL(lumen_memcpy_h2d_async(s, d, NULL, 16), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_d2h_async(s, NULL, d, 16), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_h2h_async(s, buf, NULL, 16), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_d2d_async(s, d, d + 8192, 16), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_h2d_async(s, d + 4000, buf, 200), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_stream_synchronize(s)); /* nothing bad was queued */
	RT_OK(lumen_event_create(f->ctx, &e));
	RT_OK(lumen_event_record(e, s));
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_event_destroy(e));

	/* Destroyed handles: INVALID_HANDLE, not a crash. */
	RT_FAIL(lumen_stream_query(s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_synchronize(s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_launch_nop_async(s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_memset_async(s, d, 0, 16), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_destroy(s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_query(e), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_record(e, s2), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_event_destroy(e), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_wait_event(s2, e), LUMEN_ERROR_INVALID_HANDLE);
	/* A handle of another kind. */
	RT_FAIL(lumen_stream_query((lumen_stream_t)(void *)f->ctx), LUMEN_ERROR_INVALID_HANDLE);
	{
		lumen_device_t dv = NULL;

		RT_FAIL(lumen_context_get_device((lumen_context_t)(void *)s2, &dv),
			LUMEN_ERROR_INVALID_HANDLE);
		assert_null(dv);
	}
	RT_OK(lumen_stream_destroy(s2));
	RT_OK(lumen_free(f->ctx, d));

	/* A destroyed context. */
	RT_OK(lumen_context_create(f->dev, &c));
	RT_OK(lumen_context_destroy(c));
	RT_FAIL(lumen_malloc(c, 16, &p), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_stream_create(c, &s), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_context_destroy(c), LUMEN_ERROR_INVALID_HANDLE);
}

/* Objects of two contexts (same device, and another device if present). */
static void test_wrong_context(void **state)
{
	struct rt_fx *f = *state;
	lumen_context_t others[2];
	int n = 0, no = 0;

	RT_OK(lumen_device_count(&n));
	RT_OK(lumen_context_create(f->dev, &others[no++]));
	if (n > 1) {
		lumen_device_t d1;

		RT_OK(lumen_device_get(1, &d1));
		RT_OK(lumen_context_create(d1, &others[no++]));
	}
	for (int i = 0; i < no; i++) {
		lumen_stream_t s, so;
		lumen_event_t e, eo;
		float ms;

		RT_OK(lumen_stream_create(f->ctx, &s));
		RT_OK(lumen_event_create(f->ctx, &e));
		RT_OK(lumen_stream_create(others[i], &so));
		RT_OK(lumen_event_create(others[i], &eo));
		RT_OK(lumen_event_record(e, s));
		RT_OK(lumen_event_record(eo, so));
		RT_OK(lumen_stream_synchronize(s));
		RT_OK(lumen_stream_synchronize(so));
		RT_FAIL(lumen_event_record(eo, s), LUMEN_ERROR_WRONG_DEVICE);
		RT_FAIL(lumen_event_record(e, so), LUMEN_ERROR_WRONG_DEVICE);
		RT_FAIL(lumen_stream_wait_event(s, eo), LUMEN_ERROR_WRONG_DEVICE);
		RT_FAIL(lumen_event_elapsed_time(&ms, e, eo), LUMEN_ERROR_WRONG_DEVICE);
		/* Both still work. */
		RT_OK(lumen_launch_nop_async(s));
		RT_OK(lumen_launch_nop_async(so));
		RT_OK(lumen_stream_synchronize(s));
		RT_OK(lumen_stream_synchronize(so));
		RT_OK(lumen_event_destroy(e));
		RT_OK(lumen_event_destroy(eo));
		RT_OK(lumen_stream_destroy(s));
		RT_OK(lumen_stream_destroy(so));
		RT_OK(lumen_context_destroy(others[i]));
	}
}

/* More streams than the card has hardware queues: the extra streams share
 * the context's queues and stay in order; a second context finding every
 * queue taken gets LUMEN_ERROR_BUSY (with a message), and works once the
 * queues are given back. */
static void test_many_streams(void **state)
{
	struct rt_fx *f = *state;
	enum { NS = 24 };
	const size_t n = 64 * KiB;
	lumen_stream_t s[NS];
	lumen_devptr_t d[NS];
	uint8_t *h = malloc(n * NS), *o = malloc(n * NS);
	lumen_context_t c1, c2 = NULL;
	lumen_stream_t s2 = NULL;
	lumen_status_t st;
	lumen_device_props_t pr;

	assert_non_null(h);
	assert_non_null(o);
	LUMEN_STRUCT_INIT(pr);
	RT_OK(lumen_device_get_props(f->dev, &pr));
	RT_OK(lumen_context_create(f->dev, &c1));
	for (int i = 0; i < NS; i++) {
		RT_OK(lumen_stream_create(c1, &s[i]));
		RT_OK(lumen_malloc(c1, n, &d[i]));
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < NS; i++) {
			uint32_t seed = (uint32_t)(round * 100 + i);

			ld_pattern(h + n * (size_t)i, n, seed);
			RT_OK(lumen_memset_async(s[i], d[i], 0, n));
			RT_OK(lumen_memcpy_h2d_async(s[i], d[i], h + n * (size_t)i, n));
			RT_OK(lumen_memset_async(s[i], d[i], 0x77, 16));
			RT_OK(lumen_memcpy_d2h_async(s[i], o + n * (size_t)i, d[i], n));
		}
		for (int i = NS - 1; i >= 0; i--) {
			uint32_t seed = (uint32_t)(round * 100 + i);

			RT_OK(lumen_stream_synchronize(s[i]));
			for (int k = 0; k < 16; k++)
				assert_int_equal(o[n * (size_t)i + (size_t)k], 0x77);
			rt_expect_pattern(o + n * (size_t)i + 16, n - 16, seed, 16,
					  "stream beyond the hardware queues");
		}
	}
	/* Every hardware queue of the card may now be ours (c1 took what was
	 * left): a new context either gets one or is told BUSY. */
	st = lumen_context_create(f->dev, &c2);
	if (st == LUMEN_SUCCESS) {
		st = lumen_stream_create(c2, &s2);
		if (st == LUMEN_SUCCESS) {
			printf("# a second context still got a queue (%u on the card)\n",
			       pr.num_queues);
			RT_OK(lumen_launch_nop_async(s2));
			RT_OK(lumen_stream_synchronize(s2));
		} else {
			printf("# second context's stream: %s\n", lumen_get_last_error());
			RT_FAIL_AS("lumen_stream_create", st, LUMEN_ERROR_BUSY);
			assert_null(s2);
		}
	} else {
		printf("# second context: %s\n", lumen_get_last_error());
		RT_FAIL_AS("lumen_context_create", st, LUMEN_ERROR_BUSY);
		c2 = NULL;
	}
	for (int i = 0; i < NS; i++) {
		RT_OK(lumen_free(c1, d[i]));
		RT_OK(lumen_stream_destroy(s[i]));
	}
	RT_OK(lumen_context_destroy(c1));
	/* Queues given back: the second context works now. */
	if (!c2)
		RT_OK(lumen_context_create(f->dev, &c2));
	if (!s2)
		RT_OK(lumen_stream_create(c2, &s2));
	RT_OK(lumen_malloc(c2, n, &d[0]));
	RT_OK(lumen_memcpy_h2d_async(s2, d[0], h, n));
	RT_OK(lumen_memcpy_d2h_async(s2, o, d[0], n));
	RT_OK(lumen_stream_synchronize(s2));
	assert_memory_equal(o, h, n);
	RT_OK(lumen_memset(c2, d[0], 1, n));
	RT_OK(lumen_stream_destroy(s2));
	RT_OK(lumen_context_destroy(c2));
	free(h);
	free(o);
}

struct api_cb {
	lumen_context_t ctx;
	lumen_stream_t other;
	lumen_devptr_t d;
	lumen_status_t st[5];
	uint8_t buf[64];
};

/* A host callback that calls the library: a synchronous copy, an async
 * fill on another stream, queries. The header allows every call from any
 * thread; only destroying the callback's own stream is forbidden. */
static void api_fn(lumen_stream_t s, lumen_status_t status, void *arg)
{
	struct api_cb *a = arg;

	(void)status;
	a->st[0] = lumen_memset_async(a->other, a->d, 0x61, 64);
	a->st[1] = lumen_stream_query(s);
	a->st[2] = lumen_memcpy(a->ctx, a->buf, (void *)(uintptr_t)a->d, 64,
				LUMEN_COPY_DEVICE_TO_HOST);
	/* Would wait for this very callback: refused, not a deadlock. */
	a->st[4] = lumen_context_destroy(a->ctx);
	a->st[3] = LUMEN_SUCCESS;
}

static void test_callback_calls_api(void **state)
{
	struct rt_fx *f = *state;
	struct api_cb a;
	lumen_stream_t s, s2;

	memset(&a, 0, sizeof(a));
	a.st[3] = (lumen_status_t)-1;
	a.ctx = f->ctx;
	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_stream_create(f->ctx, &s2));
	a.other = s2;
	RT_OK(lumen_malloc(f->ctx, 64, &a.d));
	RT_OK(lumen_memset(f->ctx, a.d, 0x5f, 64));
	alarm(60); /* a deadlock fails the suite instead of hanging the run */
	RT_OK(lumen_launch_host_func(s, api_fn, &a));
	RT_OK(lumen_launch_nop_async(s));
	RT_OK(lumen_stream_synchronize(s));
	RT_OK(lumen_stream_synchronize(s2));
	alarm(0);
	assert_int_equal(a.st[3], LUMEN_SUCCESS);
	assert_int_equal(a.st[0], LUMEN_SUCCESS);
	/* The callback's own stream is not done while it runs. */
	assert_int_equal(a.st[1], LUMEN_ERROR_NOT_READY);
	assert_int_equal(a.st[2], LUMEN_SUCCESS);
	assert_int_equal(a.st[4], LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_stream_destroy(s2));
	RT_OK(lumen_free(f->ctx, a.d));
}

/* Destroying an event whose recorded work is pending is fine; waiting on
 * a never-recorded event does not block. */
static void test_event_lifetimes(void **state)
{
	struct rt_fx *f = *state;
	lumen_stream_t s, s2;
	lumen_event_t e, fresh;
	struct rt_gate g;

	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_stream_create(f->ctx, &s2));
	RT_OK(lumen_event_create(f->ctx, &e));
	RT_OK(lumen_event_create(f->ctx, &fresh));
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	RT_OK(lumen_event_record(e, s));
	RT_OK(lumen_stream_wait_event(s2, e));
	RT_OK(lumen_event_destroy(e)); /* pending: s2's wait still holds */
	RT_OK(lumen_stream_wait_event(s2, fresh));
	RT_OK(lumen_launch_nop_async(s2));
	assert_true(rt_gate_wait_entered(&g, 20000));
	rt_sleep_ms(30);
	assert_int_equal(lumen_stream_query(s2), LUMEN_ERROR_NOT_READY);
	rt_gate_open(&g);
	RT_OK(lumen_stream_synchronize(s2));
	RT_OK(lumen_stream_synchronize(s));
	RT_OK(lumen_event_destroy(fresh));
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_stream_destroy(s2));
}

/* Many pageable copies outstanding at once (more than any staging pool is
 * likely to hold), both directions, behind a callback that holds the
 * stream for a while: every byte must still arrive. */
static void test_staging_pressure(void **state)
{
	struct rt_fx *f = *state;
	enum { NB = 6 };
	const size_t n = 12 * MiB + 17;
	uint8_t *h[NB], *o[NB];
	lumen_devptr_t d;
	lumen_stream_t s;
	struct rt_gate g;
	struct opener op;
	pthread_t t;

	RT_OK(lumen_malloc(f->ctx, n * NB, &d));
	RT_OK(lumen_stream_create(f->ctx, &s));
	for (int i = 0; i < NB; i++) {
		h[i] = malloc(n);
		o[i] = malloc(n);
		assert_non_null(h[i]);
		assert_non_null(o[i]);
		ld_pattern(h[i], n, 700u + (uint32_t)i);
		memset(o[i], 0, n);
	}
	rt_gate_init(&g);
	op.g = &g;
	op.ms = 500;
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	assert_int_equal(pthread_create(&t, NULL, open_later, &op), 0);
	for (int i = 0; i < NB; i++) {
		RT_OK(lumen_memcpy_h2d_async(s, d + n * (size_t)i, h[i], n));
		memset(h[i], 0xff, n); /* captured at the call */
	}
	for (int i = 0; i < NB; i++)
		RT_OK(lumen_memcpy_d2h_async(s, o[NB - 1 - i], d + n * (size_t)i, n));
	RT_OK(lumen_stream_synchronize(s));
	pthread_join(t, NULL);
	for (int i = 0; i < NB; i++) {
		long bad = ld_check_pattern(o[NB - 1 - i], n, 700u + (uint32_t)i, 0);

		if (bad >= 0) {
			/* Where did it go wrong: on the way in (device) or out? */
			uint8_t want, dev = 0;

			ld_pattern(h[0], (size_t)bad + 1, 700u + (uint32_t)i);
			want = h[0][bad];
			RT_OK(lumen_memcpy(f->ctx, &dev, (void *)(uintptr_t)(d + n * (size_t)i +
									  (size_t)bad),
					   1, LUMEN_COPY_DEVICE_TO_HOST));
			fail_msg("staged copy %d of %d (%zu B): byte %ld is 0x%02x, want 0x%02x; "
				 "the device holds 0x%02x there (%s)",
				 i, NB, n, bad, o[NB - 1 - i][bad], want, dev,
				 dev == want ? "h2d right, d2h wrong" : "h2d wrong");
		}
	}
	for (int i = 0; i < NB; i++) {
		free(h[i]);
		free(o[i]);
	}
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
}

/* memset_d32 (docs: "dst and size multiples of 4"): the pattern in memory
 * order is 44 33 22 11 for 0x11223344, neighbours untouched; a dst that is
 * not 4-byte aligned is INVALID_ARGUMENT. */
static void test_memset_d32_layout(void **state)
{
	struct rt_fx *f = *state;
	uint8_t out[8192];
	lumen_devptr_t d;
	lumen_stream_t s;
	static const uint8_t pat[4] = { 0x44, 0x33, 0x22, 0x11 };

	RT_OK(lumen_malloc(f->ctx, sizeof(out), &d));
	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_memset_async(s, d, 0xcc, sizeof(out)));
	RT_OK(lumen_memset_d32_async(s, d + 4, 0x11223344u, 4000));
	RT_OK(lumen_memset_d32_async(s, d + 4100, 0xa1b2c3d4u, 12));
	RT_OK(lumen_memcpy_d2h_async(s, out, d, sizeof(out)));
	RT_OK(lumen_stream_synchronize(s));
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i], 0xcc);
	for (size_t i = 0; i < 4000; i++)
		if (out[4 + i] != pat[i % 4])
			fail_msg("memset_d32 at dst+4: byte %zu = 0x%02x, want 0x%02x", i,
				 out[4 + i], pat[i % 4]);
	assert_int_equal(out[4004], 0xcc);
	for (size_t i = 0; i < 12; i++) {
		static const uint8_t p2[4] = { 0xd4, 0xc3, 0xb2, 0xa1 };

		assert_int_equal(out[4100 + i], p2[i % 4]);
	}
	assert_int_equal(out[4099], 0xcc);
	assert_int_equal(out[4112], 0xcc);
	RT_FAIL(lumen_memset_d32_async(s, d + 2, 1, 16), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_stream_synchronize(s));
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
}

/* Callbacks of one stream run one at a time, in stream order (docs:
 * "Each stream has its own worker thread"), while other streams' callbacks
 * proceed. */
struct overlap {
	pthread_mutex_t lock;
	int inside[3], max_inside[3], runs[3], order_ok;
	int next[3];
};

struct overlap_arg {
	struct overlap *o;
	int stream, seq;
};

static void overlap_fn(lumen_stream_t s, lumen_status_t st, void *arg)
{
	struct overlap_arg *a = arg;
	struct overlap *o = a->o;
	int k = a->stream;

	(void)s;
	(void)st;
	pthread_mutex_lock(&o->lock);
	o->inside[k]++;
	if (o->inside[k] > o->max_inside[k])
		o->max_inside[k] = o->inside[k];
	if (o->next[k] != a->seq)
		o->order_ok = 0;
	o->next[k] = a->seq + 1;
	pthread_mutex_unlock(&o->lock);
	rt_sleep_ms(30);
	pthread_mutex_lock(&o->lock);
	o->inside[k]--;
	o->runs[k]++;
	pthread_mutex_unlock(&o->lock);
}

static void test_callbacks_per_stream(void **state)
{
	struct rt_fx *f = *state;
	struct overlap o = { .lock = PTHREAD_MUTEX_INITIALIZER, .order_ok = 1 };
	struct overlap_arg args[3][4];
	lumen_stream_t s[3];

	for (int i = 0; i < 3; i++)
		RT_OK(lumen_stream_create(f->ctx, &s[i]));
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 3; i++) {
			args[i][k].o = &o;
			args[i][k].stream = i;
			args[i][k].seq = k;
			RT_OK(lumen_launch_host_func(s[i], overlap_fn, &args[i][k]));
			RT_OK(lumen_launch_nop_async(s[i]));
		}
	for (int i = 0; i < 3; i++)
		RT_OK(lumen_stream_synchronize(s[i]));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(o.runs[i], 4);
		if (o.max_inside[i] != 1)
			fail_msg("stream %d ran %d of its callbacks at once", i, o.max_inside[i]);
	}
	if (!o.order_ok)
		fail_msg("callbacks of a stream ran out of order");
	for (int i = 0; i < 3; i++)
		RT_OK(lumen_stream_destroy(s[i]));
}

/* Explicit kinds that contradict the pointers, and empty copies. */
static void test_kind_mismatch(void **state)
{
	struct rt_fx *f = *state;
	uint8_t h[256], o[256];
	lumen_devptr_t d;
	lumen_stream_t s;
	lumen_status_t st;
	void *dv;

	RT_OK(lumen_malloc(f->ctx, sizeof(h), &d));
	dv = (void *)(uintptr_t)d;
	RT_OK(lumen_stream_create(f->ctx, &s));
	/* H2D whose destination is host memory, D2H whose source is host memory,
	 * D2D of host pointers. */
	RT_FAIL(lumen_memcpy(f->ctx, o, h, sizeof(h), LUMEN_COPY_HOST_TO_DEVICE),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy(f->ctx, o, h, sizeof(h), LUMEN_COPY_DEVICE_TO_HOST),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy(f->ctx, o, h, sizeof(h), LUMEN_COPY_DEVICE_TO_DEVICE),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_memcpy_d2h_async(s, o, (lumen_devptr_t)(uintptr_t)h, sizeof(h)),
		LUMEN_ERROR_INVALID_ARGUMENT);
	/* DEFAULT with a device pointer on both sides is a d2d copy. */
	RT_OK(lumen_memset(f->ctx, d, 0x21, 128));
	RT_OK(lumen_memcpy(f->ctx, (char *)dv + 128, dv, 128, LUMEN_COPY_DEFAULT));
	RT_OK(lumen_memcpy(f->ctx, o, dv, sizeof(o), LUMEN_COPY_DEFAULT));
	for (int i = 0; i < 256; i++)
		assert_int_equal(o[i], 0x21);
	(void)st;
	RT_OK(lumen_stream_synchronize(s));
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
}

/* docs/runtime-api.md, "Copies and fills": "size == 0 is a no-op". */
static void test_zero_size(void **state)
{
	struct rt_fx *f = *state;
	uint8_t h[16] = { 0 }, o[16];
	lumen_devptr_t d;
	lumen_stream_t s;

	RT_OK(lumen_malloc(f->ctx, 64, &d));
	RT_OK(lumen_stream_create(f->ctx, &s));
	RT_OK(lumen_memcpy_h2d_async(s, d, h, 0));
	RT_OK(lumen_memcpy_d2h_async(s, o, d, 0));
	RT_OK(lumen_memcpy_d2d_async(s, d, d + 8, 0));
	RT_OK(lumen_memcpy_h2h_async(s, o, h, 0));
	RT_OK(lumen_memset_async(s, d, 0, 0));
	RT_OK(lumen_memset_d32_async(s, d, 0, 0));
	RT_OK(lumen_memcpy(f->ctx, o, h, 0, LUMEN_COPY_HOST_TO_HOST));
	RT_OK(lumen_memset(f->ctx, d, 0, 0));
	RT_OK(lumen_stream_synchronize(s));
	RT_OK(lumen_stream_destroy(s));
	RT_OK(lumen_free(f->ctx, d));
}

/* lumen_context_destroy waits for the context's streams: work held behind
 * a callback completes (a pageable D2H lands) before destroy returns. */
static void test_context_destroy_waits(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = 2 * MiB + 9;
	uint8_t *h = malloc(n), *o = malloc(n);
	lumen_context_t c;
	lumen_stream_t s;
	lumen_devptr_t d;
	struct rt_gate g;
	struct opener op;
	pthread_t t;
	uint64_t t0, dt;

	assert_non_null(h);
	assert_non_null(o);
	RT_OK(lumen_context_create(f->dev, &c));
	RT_OK(lumen_stream_create(c, &s));
	RT_OK(lumen_malloc(c, n, &d));
	ld_pattern(h, n, 123);
	memset(o, 0, n);
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	RT_OK(lumen_memcpy_h2d_async(s, d, h, n));
	RT_OK(lumen_memcpy_d2h_async(s, o, d, n));
	assert_true(rt_gate_wait_entered(&g, 20000));
	op.g = &g;
	op.ms = 200;
	t0 = ld_now_ns();
	assert_int_equal(pthread_create(&t, NULL, open_later, &op), 0);
	RT_OK(lumen_context_destroy(c));
	dt = ld_now_ns() - t0;
	pthread_join(t, NULL);
	assert_true(dt >= 150ull * 1000000);
	rt_expect_pattern(o, n, 123, 0, "work finished by context_destroy");
	free(h);
	free(o);
}

/* Events across streams and outliving their stream; another context's
 * pinned memory is plain host memory to this context. */
static void test_cross_stream_events(void **state)
{
	struct rt_fx *f = *state;
	const size_t n = MiB;
	lumen_stream_t a, b;
	lumen_event_t e1, e2;
	lumen_context_t c2;
	lumen_stream_t s2;
	lumen_devptr_t d, d2;
	uint8_t *pin2, *o = malloc(n);
	float ms = -1;

	assert_non_null(o);
	RT_OK(lumen_stream_create(f->ctx, &a));
	RT_OK(lumen_stream_create(f->ctx, &b));
	RT_OK(lumen_event_create(f->ctx, &e1));
	RT_OK(lumen_event_create(f->ctx, &e2));
	RT_OK(lumen_malloc(f->ctx, n, &d));
	RT_OK(lumen_event_record(e1, a));
	RT_OK(lumen_memset_async(a, d, 3, n));
	RT_OK(lumen_stream_wait_event(b, e1));
	RT_OK(lumen_launch_host_func(b, sleep_cb, (void *)(uintptr_t)60));
	RT_OK(lumen_event_record(e2, b));
	RT_OK(lumen_stream_destroy(b)); /* e2 outlives its stream */
	RT_OK(lumen_event_synchronize(e2));
	assert_int_equal(lumen_event_query(e2), LUMEN_SUCCESS);
	RT_OK(lumen_event_elapsed_time(&ms, e1, e2));
	assert_true(ms >= 50.0f);
	RT_OK(lumen_stream_synchronize(a));

	/* Pinned memory of context c2, used by f->ctx as an ordinary host buffer. */
	RT_OK(lumen_context_create(f->dev, &c2));
	RT_OK(lumen_stream_create(c2, &s2));
	RT_OK(lumen_malloc_host(c2, n, (void **)&pin2));
	RT_OK(lumen_malloc(c2, n, &d2));
	ld_pattern(pin2, n, 808);
	RT_OK(lumen_memcpy_h2d_async(a, d, pin2, n));
	RT_OK(lumen_memcpy_d2h_async(a, o, d, n));
	RT_OK(lumen_stream_synchronize(a));
	rt_expect_pattern(o, n, 808, 0, "h2d from another context's pinned memory");
	memset(pin2, 0, n);
	RT_OK(lumen_memcpy_d2h_async(a, pin2, d, n));
	RT_OK(lumen_stream_synchronize(a));
	rt_expect_pattern(pin2, n, 808, 0, "d2h into another context's pinned memory");
	/* c2 is unharmed. */
	RT_OK(lumen_memcpy_h2d_async(s2, d2, pin2, n));
	RT_OK(lumen_stream_synchronize(s2));
	RT_OK(lumen_context_destroy(c2));

	RT_OK(lumen_event_destroy(e1));
	RT_OK(lumen_event_destroy(e2));
	RT_OK(lumen_stream_destroy(a));
	RT_OK(lumen_free(f->ctx, d));
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copies_all_directions),
		cmocka_unit_test(test_pageable_semantics),
		cmocka_unit_test(test_registered_async),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_host_callbacks),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_event_rerecord_pending),
		cmocka_unit_test(test_wait_event),
		cmocka_unit_test(test_sync_calls),
		cmocka_unit_test(test_destroy_waits),
		cmocka_unit_test(test_bad_handles),
		cmocka_unit_test(test_wrong_context),
		cmocka_unit_test(test_many_streams),
		cmocka_unit_test(test_callback_calls_api),
		cmocka_unit_test(test_event_lifetimes),
		cmocka_unit_test(test_staging_pressure),
		cmocka_unit_test(test_memset_d32_layout),
		cmocka_unit_test(test_callbacks_per_stream),
		cmocka_unit_test(test_kind_mismatch),
		cmocka_unit_test(test_context_destroy_waits),
		cmocka_unit_test(test_cross_stream_events),
		cmocka_unit_test(test_zero_size),
	};

	return cmocka_run_group_tests_name("rt_stream", tests, rt_fx_setup, rt_fx_teardown);
}
