// SPDX-License-Identifier: MIT
/*
 * liblumen sticky errors (rt_fault). Two contexts on card 0; B is created
 * first and keeps completing verified copies throughout.
 *   - MMU fault: context A queues a copy into a large allocation behind a
 *     host callback blocked on a gate, frees the allocation and trims the
 *     cache (so its pages are unmapped) before the device gets there; the
 *     copy faults: synchronize returns LUMEN_ERROR_DEVICE_FAULT, the fault
 *     is NOT_MAPPED at an address inside the freed range, and every later
 *     call on A and its streams returns the sticky status.
 *   - Hang: a queue hang injected through debugfs (job timeout lowered to
 *     300 ms) makes A's next job time out: LUMEN_ERROR_TIMEOUT, kind
 *     TIMEOUT, sticky likewise.
 *   - Device reset (debugfs force_reset): every context of before reports
 *     LUMEN_ERROR_DEVICE_LOST, kind DEVICE_LOST, sticky; a context created
 *     afterwards (B again) copies byte-exact.
 */
#include <errno.h>
#include <unistd.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "rt_test.h"

#define TIMEOUT_PARAM "/sys/module/lumen/parameters/job_timeout_ms"

struct fx {
	lumen_device_t dev;
	lumen_context_t b;	/* the bystander */
	lumen_stream_t sb;
	lumen_devptr_t bd;
	uint8_t *bh, *bo;
	uint32_t seed;
	char dbg[128];
	char old_timeout[32];	/* job_timeout_ms to restore, "" if untouched */
	uint64_t injected;	/* hardware queues with a hang armed by us */
};

#define BSIZE (MiB + 4097)

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	lumen_device_props_t pr;

	if (!f)
		return -1;
	*state = f;
	f->bh = malloc(BSIZE);
	f->bo = malloc(BSIZE);
	if (!f->bh || !f->bo)
		return -1;
	LUMEN_STRUCT_INIT(pr);
	if (lumen_device_get(0, &f->dev) || lumen_device_get_props(f->dev, &pr) ||
	    lumen_context_create(f->dev, &f->b) || lumen_stream_create(f->b, &f->sb) ||
	    lumen_malloc(f->b, BSIZE, &f->bd)) {
		fprintf(stderr, "setup: %s\n", lumen_get_last_error());
		return -1;
	}
	snprintf(f->dbg, sizeof(f->dbg), "/sys/kernel/debug/accel/%s", pr.pci_address);
	return 0;
}

static int inject(struct fx *f, const char *kind, int hwq);

static int teardown(void **state)
{
	struct fx *f = *state;

	/* Whatever happened in test_hang: disarm and restore the timeout. */
	for (int i = 0; i < 64; i++)
		if (f->injected & (1ull << i))
			inject(f, "none", i);
	if (f->old_timeout[0])
		gu_write_sysfs(TIMEOUT_PARAM, f->old_timeout);
	if (f->b)
		lumen_context_destroy(f->b);
	free(f->bh);
	free(f->bo);
	free(f);
	return 0;
}

/* Context B: a verified round trip. */
static void b_copy_ok(struct fx *f)
{
	lumen_fault_t ft;
	long bad;

	f->seed++;
	ld_pattern(f->bh, BSIZE, f->seed);
	memset(f->bo, 0, BSIZE);
	RT_OK(lumen_memcpy_h2d_async(f->sb, f->bd, f->bh, BSIZE));
	RT_OK(lumen_memcpy_d2h_async(f->sb, f->bo, f->bd, BSIZE));
	RT_OK(lumen_stream_synchronize(f->sb));
	bad = ld_check_pattern(f->bo, BSIZE, f->seed, 0);
	if (bad >= 0)
		fail_msg("context B copy %u: byte %ld wrong", f->seed, bad);
	LUMEN_STRUCT_INIT(ft);
	RT_OK(lumen_context_get_fault(f->b, &ft));
	assert_int_equal(ft.status, LUMEN_SUCCESS);
	assert_int_equal(ft.kind, LUMEN_FAULT_NONE);
}

struct status_rec {
	pthread_mutex_t lock;
	int called;
	lumen_status_t status;
};

static void rec_fn(lumen_stream_t s, lumen_status_t st, void *arg)
{
	struct status_rec *r = arg;

	(void)s;
	pthread_mutex_lock(&r->lock);
	r->called++;
	r->status = st;
	pthread_mutex_unlock(&r->lock);
}

static int rec_wait(struct status_rec *r, unsigned int ms)
{
	uint64_t end = ld_now_ns() + (uint64_t)ms * 1000000ull;
	int c;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		c = r->called;
		pthread_mutex_unlock(&r->lock);
		if (c || ld_now_ns() > end)
			return c;
		rt_sleep_ms(5);
	}
}

/* Everything on a context with a sticky error returns that error. */
static void expect_sticky(lumen_context_t a, lumen_stream_t s, lumen_stream_t s2,
			  lumen_devptr_t small, lumen_status_t st)
{
	uint8_t buf[64] = { 0 };
	lumen_devptr_t p = 0x77;
	lumen_stream_t ns = NULL;
	lumen_event_t ev;
	static struct status_rec r = { .lock = PTHREAD_MUTEX_INITIALIZER };

	RT_FAIL(lumen_stream_synchronize(s), st);
	RT_FAIL(lumen_stream_query(s), st);
	RT_FAIL(lumen_stream_query(s2), st);
	RT_FAIL(lumen_stream_synchronize(s2), st);
	RT_FAIL(lumen_launch_nop_async(s), st);
	RT_FAIL(lumen_memcpy_h2d_async(s, small, buf, sizeof(buf)), st);
	RT_FAIL(lumen_memcpy_d2h_async(s2, buf, small, sizeof(buf)), st);
	RT_FAIL(lumen_memset_async(s, small, 1, sizeof(buf)), st);
	RT_FAIL(lumen_memset_d32_async(s, small, 1, sizeof(buf)), st);
	RT_FAIL(lumen_memcpy_d2d_async(s, small, small + 32, 32), st);
	RT_FAIL(lumen_launch_host_func(s, rec_fn, &r), st);
	RT_FAIL(lumen_memcpy(a, buf, (void *)(uintptr_t)small, sizeof(buf),
			     LUMEN_COPY_DEVICE_TO_HOST), st);
	RT_FAIL(lumen_memset(a, small, 0, sizeof(buf)), st);
	RT_FAIL(lumen_malloc(a, 4096, &p), st);
	assert_int_equal(p, 0x77);
	RT_FAIL(lumen_stream_create(a, &ns), st);
	assert_null(ns);
	if (lumen_event_create(a, &ev) == LUMEN_SUCCESS) {
		RT_FAIL(lumen_event_record(ev, s), st);
		lumen_event_destroy(ev);
	} else {
		RT_FAIL(lumen_event_create(a, &ev), st);
	}
	rt_sleep_ms(20);
	assert_int_equal(r.called, 0); /* the refused callback never runs */
}

static void expect_fault(lumen_context_t a, lumen_status_t st, lumen_fault_kind_t kind,
			 lumen_fault_t *out)
{
	lumen_fault_t ft;
	lumen_status_t ret;

	memset(&ft, 0x5a, sizeof(ft));
	LUMEN_STRUCT_INIT(ft);
	ret = lumen_context_get_fault(a, &ft);
	/* The header: "the context's sticky error and its fault details". */
	if (ret != LUMEN_SUCCESS && ret != st)
		fail_msg("lumen_context_get_fault -> %s", rt_st(ret));
	printf("# get_fault -> %s: status %s kind %d address 0x%llx write %d\n", rt_st(ret),
	       rt_st(ft.status), ft.kind, (unsigned long long)ft.address, ft.is_write);
	assert_int_equal(ft.status, st);
	assert_int_equal(ft.kind, kind);
	*out = ft;
}

struct free_job {
	lumen_context_t ctx;
	lumen_devptr_t p;
	lumen_status_t free_st, trim_st;
	int done;
	pthread_mutex_t lock;
};

static void *free_thread(void *arg)
{
	struct free_job *j = arg;
	lumen_status_t a = lumen_free(j->ctx, j->p), b = lumen_mem_trim(j->ctx);

	pthread_mutex_lock(&j->lock);
	j->free_st = a;
	j->trim_st = b;
	j->done = 1;
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static void test_mmu_fault(void **state)
{
	struct fx *f = *state;
	const size_t n = 8 * MiB;
	lumen_context_t a;
	lumen_stream_t s, s2;
	lumen_devptr_t big, small;
	uint8_t *src;
	struct rt_gate g;
	struct status_rec after = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct free_job fj = { .lock = PTHREAD_MUTEX_INITIALIZER };
	lumen_fault_t ft;
	pthread_t t;
	int done = 0;

	b_copy_ok(f);
	RT_OK(lumen_context_create(f->dev, &a));
	RT_OK(lumen_stream_create(a, &s));
	RT_OK(lumen_stream_create(a, &s2));
	RT_OK(lumen_malloc(a, 4096, &small));
	RT_OK(lumen_malloc(a, n, &big));
	RT_OK(lumen_malloc_host(a, n, (void **)&src));
	ld_pattern(src, n, 3);
	/* A works before. */
	RT_OK(lumen_memcpy_h2d_async(s, big, src, n));
	RT_OK(lumen_stream_synchronize(s));

	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	RT_OK(lumen_memcpy_h2d_async(s, big, src, n));
	RT_OK(lumen_launch_host_func(s, rec_fn, &after));
	assert_true(rt_gate_wait_entered(&g, 20000));
	/* Free the destination (and trim the cache) before the device runs
	 * the copy. In a thread: a library whose free waits for pending work
	 * would block on our gate. */
	fj.ctx = a;
	fj.p = big;
	assert_int_equal(pthread_create(&t, NULL, free_thread, &fj), 0);
	for (int i = 0; i < 300 && !done; i++) {
		rt_sleep_ms(10);
		pthread_mutex_lock(&fj.lock);
		done = fj.done;
		pthread_mutex_unlock(&fj.lock);
	}
	/* Meanwhile B works. */
	b_copy_ok(f);
	rt_gate_open(&g);
	pthread_join(t, NULL);
	if (!done)
		fail_msg("lumen_free of an allocation with pending work blocked until the work ran: "
			 "no way to provoke a fault through the API (free returned %s)",
			 rt_st(fj.free_st));
	assert_int_equal(fj.free_st, LUMEN_SUCCESS);
	assert_int_equal(fj.trim_st, LUMEN_SUCCESS);

	RT_FAIL(lumen_stream_synchronize(s), LUMEN_ERROR_DEVICE_FAULT);
	printf("# synchronize: %s\n", lumen_get_last_error());
	expect_fault(a, LUMEN_ERROR_DEVICE_FAULT, LUMEN_FAULT_NOT_MAPPED, &ft);
	if (ft.address < big || ft.address >= big + n)
		fail_msg("fault address 0x%llx outside the freed range [0x%llx, 0x%llx)",
			 (unsigned long long)ft.address, (unsigned long long)big,
			 (unsigned long long)(big + n));
	assert_int_equal(ft.is_write, 1);
	/* The callback queued behind the faulting copy runs with the error. */
	assert_true(rec_wait(&after, 10000));
	assert_int_equal(after.status, LUMEN_ERROR_DEVICE_FAULT);
	assert_int_equal(g.seen, LUMEN_SUCCESS);
	b_copy_ok(f);
	expect_sticky(a, s, s2, small, LUMEN_ERROR_DEVICE_FAULT);
	/* Still the same details afterwards. */
	{
		lumen_fault_t again;

		expect_fault(a, LUMEN_ERROR_DEVICE_FAULT, LUMEN_FAULT_NOT_MAPPED, &again);
		assert_int_equal(again.address, ft.address);
	}
	b_copy_ok(f);
	RT_OK_OR(lumen_stream_destroy(s2), LUMEN_ERROR_DEVICE_FAULT);
	RT_OK_OR(lumen_stream_destroy(s), LUMEN_ERROR_DEVICE_FAULT);
	lumen_free_host(a, src);
	RT_OK_OR(lumen_context_destroy(a), LUMEN_ERROR_DEVICE_FAULT);
	/* A new context on the same device is healthy at once. */
	RT_OK(lumen_context_create(f->dev, &a));
	RT_OK(lumen_malloc(a, 4096, &small));
	RT_OK(lumen_memset(a, small, 1, 4096));
	RT_OK(lumen_context_destroy(a));
	b_copy_ok(f);
}

/* The same with a read: a D2H copy from a large allocation freed before
 * the device ran it faults with a read at an address inside it. */
static void test_read_fault(void **state)
{
	struct fx *f = *state;
	const size_t n = 4 * MiB;
	lumen_context_t a;
	lumen_stream_t s;
	lumen_devptr_t big;
	uint8_t *dst;
	struct rt_gate g;
	lumen_fault_t ft;

	RT_OK(lumen_context_create(f->dev, &a));
	RT_OK(lumen_stream_create(a, &s));
	RT_OK(lumen_malloc(a, n, &big));
	RT_OK(lumen_malloc_host(a, n, (void **)&dst));
	RT_OK(lumen_memset(a, big, 9, n));
	rt_gate_init(&g);
	RT_OK(lumen_launch_host_func(s, rt_gate_fn, &g));
	RT_OK(lumen_memcpy_d2h_async(s, dst, big + 4096, n - 4096));
	assert_true(rt_gate_wait_entered(&g, 20000));
	RT_OK(lumen_free(a, big));
	RT_OK(lumen_mem_trim(a));
	b_copy_ok(f);
	rt_gate_open(&g);
	RT_FAIL(lumen_stream_synchronize(s), LUMEN_ERROR_DEVICE_FAULT);
	expect_fault(a, LUMEN_ERROR_DEVICE_FAULT, LUMEN_FAULT_NOT_MAPPED, &ft);
	if (ft.address < big + 4096 || ft.address >= big + n)
		fail_msg("fault address 0x%llx outside the copied range [0x%llx, 0x%llx)",
			 (unsigned long long)ft.address, (unsigned long long)(big + 4096),
			 (unsigned long long)(big + n));
	assert_int_equal(ft.is_write, 0);
	RT_FAIL(lumen_launch_nop_async(s), LUMEN_ERROR_DEVICE_FAULT);
	b_copy_ok(f);
	RT_OK_OR(lumen_stream_destroy(s), LUMEN_ERROR_DEVICE_FAULT);
	lumen_free_host(a, dst);
	RT_OK_OR(lumen_context_destroy(a), LUMEN_ERROR_DEVICE_FAULT);
	b_copy_ok(f);
}

/* Hardware queues owned by this process: a bitmap from debugfs "queues". */
static uint64_t my_hwqs(struct fx *f)
{
	char path[192], *text, *line, *save = NULL;
	uint64_t set = 0;

	snprintf(path, sizeof(path), "%s/queues", f->dbg);
	text = ld_read_file(path);
	if (!text)
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int hwq, ctx_id, file, queue;
		int pid;

		if (sscanf(line, "%u %u %u %u %d", &hwq, &ctx_id, &file, &queue, &pid) == 5 &&
		    pid == getpid() && hwq < 64)
			set |= 1ull << hwq;
	}
	free(text);
	return set;
}

static int inject(struct fx *f, const char *kind, int hwq)
{
	char path[192], val[32];

	snprintf(path, sizeof(path), "%s/inject", f->dbg);
	snprintf(val, sizeof(val), "%s %d", kind, hwq);
	return gu_write_sysfs(path, val);
}

static void test_hang(void **state)
{
	struct fx *f = *state;
	char old[32], path[192];
	lumen_context_t a;
	lumen_stream_t s, s2;
	lumen_devptr_t small;
	uint64_t q0, q1, q2, mine, t0, dt;
	lumen_fault_t ft;

	snprintf(path, sizeof(path), "%s/inject", f->dbg);
	if (access(path, W_OK) || gu_read_sysfs(TIMEOUT_PARAM, old, sizeof(old))) {
		printf("# no debugfs inject or %s: hang not testable\n", TIMEOUT_PARAM);
		skip();
	}
	snprintf(f->old_timeout, sizeof(f->old_timeout), "%s", old);
	assert_int_equal(gu_write_sysfs(TIMEOUT_PARAM, "300"), 0);
	b_copy_ok(f);
	q0 = my_hwqs(f);
	RT_OK(lumen_context_create(f->dev, &a));
	q1 = my_hwqs(f);
	RT_OK(lumen_stream_create(a, &s));
	RT_OK(lumen_stream_create(a, &s2));
	RT_OK(lumen_malloc(a, 4096, &small));
	RT_OK(lumen_launch_nop_async(s));
	RT_OK(lumen_stream_synchronize(s));
	q2 = my_hwqs(f);
	mine = q2 & ~q1;
	if (!mine)
		mine = q2 & ~q0;
	printf("# hwqs: before A 0x%llx, A created 0x%llx, A's stream 0x%llx -> inject 0x%llx\n",
	       (unsigned long long)q0, (unsigned long long)q1, (unsigned long long)q2,
	       (unsigned long long)mine);
	if (!mine) {
		gu_write_sysfs(TIMEOUT_PARAM, old);
		fail_msg("cannot find context A's hardware queue in %s/queues", f->dbg);
	}
	f->injected = mine;
	for (int i = 0; i < 64; i++)
		if (mine & (1ull << i))
			assert_int_equal(inject(f, "hang", i), 0);
	t0 = ld_now_ns();
	RT_OK(lumen_launch_nop_async(s));
	b_copy_ok(f);
	{
		lumen_status_t st = lumen_stream_synchronize(s);

		dt = ld_now_ns() - t0;
		for (int i = 0; i < 64; i++)
			if (mine & (1ull << i))
				inject(f, "none", i);
		f->injected = 0;
		gu_write_sysfs(TIMEOUT_PARAM, old);
		f->old_timeout[0] = '\0';
		RT_FAIL_AS("lumen_stream_synchronize", st, LUMEN_ERROR_TIMEOUT);
	}
	printf("# timed out after %.0f ms: %s\n", dt / 1e6, lumen_get_last_error());
	assert_true(dt >= 250ull * 1000000);
	expect_fault(a, LUMEN_ERROR_TIMEOUT, LUMEN_FAULT_TIMEOUT, &ft);
	b_copy_ok(f);
	expect_sticky(a, s, s2, small, LUMEN_ERROR_TIMEOUT);
	b_copy_ok(f);
	RT_OK_OR(lumen_stream_destroy(s2), LUMEN_ERROR_TIMEOUT);
	RT_OK_OR(lumen_stream_destroy(s), LUMEN_ERROR_TIMEOUT);
	RT_OK_OR(lumen_context_destroy(a), LUMEN_ERROR_TIMEOUT);
	b_copy_ok(f);
}

static void test_device_lost(void **state)
{
	struct fx *f = *state;
	char path[192];
	lumen_context_t a;
	lumen_stream_t s, s2;
	lumen_devptr_t small;
	lumen_fault_t ft;

	snprintf(path, sizeof(path), "%s/force_reset", f->dbg);
	if (access(path, W_OK)) {
		printf("# no debugfs force_reset: device loss not testable\n");
		skip();
	}
	b_copy_ok(f);
	RT_OK(lumen_context_create(f->dev, &a));
	RT_OK(lumen_stream_create(a, &s));
	RT_OK(lumen_stream_create(a, &s2));
	RT_OK(lumen_malloc(a, 4096, &small));
	RT_OK(lumen_launch_nop_async(s));
	RT_OK(lumen_stream_synchronize(s));

	assert_int_equal(gu_write_sysfs(path, "1"), 0);

	/* The first call that reaches the driver learns it; then it sticks. */
	RT_FAIL(lumen_launch_nop_async(s), LUMEN_ERROR_DEVICE_LOST);
	expect_fault(a, LUMEN_ERROR_DEVICE_LOST, LUMEN_FAULT_DEVICE_LOST, &ft);
	expect_sticky(a, s, s2, small, LUMEN_ERROR_DEVICE_LOST);
	RT_OK_OR(lumen_stream_destroy(s2), LUMEN_ERROR_DEVICE_LOST);
	RT_OK_OR(lumen_stream_destroy(s), LUMEN_ERROR_DEVICE_LOST);
	RT_OK_OR(lumen_context_destroy(a), LUMEN_ERROR_DEVICE_LOST);

	/* B was lost too; a new B works. */
	RT_FAIL(lumen_stream_synchronize(f->sb), LUMEN_ERROR_DEVICE_LOST);
	RT_OK_OR(lumen_context_destroy(f->b), LUMEN_ERROR_DEVICE_LOST);
	f->b = NULL;
	RT_OK(lumen_context_create(f->dev, &f->b));
	RT_OK(lumen_stream_create(f->b, &f->sb));
	RT_OK(lumen_malloc(f->b, BSIZE, &f->bd));
	b_copy_ok(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmu_fault),
		cmocka_unit_test(test_read_fault),
		cmocka_unit_test(test_hang),
		cmocka_unit_test(test_device_lost),
	};

	return cmocka_run_group_tests_name("rt_fault", tests, setup, teardown);
}
