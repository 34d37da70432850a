/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the liblumen suites (test_rt_*.c), built as the rt_test
 * library (rt_test.c):
 *   - status assertions that print lumen_get_last_error() on failure and,
 *     for expected failures, check that the call left a message naming the
 *     problem;
 *   - the common fixture: device 0 and one context on it;
 *   - synchronous copies and pattern checks that fail the test;
 *   - a gate a host callback blocks on, for deterministic NOT_READY states.
 *
 * The header's contract (runtime/include/lumen/lumen.h): a failed call
 * records a message like "lumen_malloc: size 0 is invalid", so RT_FAIL
 * checks the message is non-empty and names the failing function.
 */
#ifndef LUMEN_RT_TEST_H
#define LUMEN_RT_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <cmocka.h>

#include <lumen/lumen.h>

#include "lumen_dev.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)

/* ---- status assertions ---------------------------------------------------- */

/* lumen_status_string(s), never NULL. */
const char *rt_st(lumen_status_t s);

void rt_ok(lumen_status_t s, const char *expr, const char *file, int line);
void rt_fail(lumen_status_t s, lumen_status_t want, const char *expr, const char *file, int line);
/* Either of two statuses (where the header allows both); returns s. */
lumen_status_t rt_fail2(lumen_status_t s, lumen_status_t a, lumen_status_t b, const char *expr,
			const char *file, int line);
/* SUCCESS, or the alternative status with a message (e.g. a destroy on a
 * context whose error is sticky). */
void rt_ok_or(lumen_status_t s, lumen_status_t alt, const char *expr, const char *file, int line);

/* For a status kept in a variable: name the function the message must name. */
#define RT_FAIL_AS(fn, st, want)  rt_fail((st), (want), fn "(" #st ")", __FILE__, __LINE__)
#define RT_FAIL2_AS(fn, st, a, b) rt_fail2((st), (a), (b), fn "(" #st ")", __FILE__, __LINE__)
#define RT_OK_OR(call, alt)	  rt_ok_or((call), (alt), #call, __FILE__, __LINE__)
#define RT_OK(call)		  rt_ok((call), #call, __FILE__, __LINE__)
#define RT_FAIL(call, want)	  rt_fail((call), (want), #call, __FILE__, __LINE__)
#define RT_FAIL2(call, a, b)	  rt_fail2((call), (a), (b), #call, __FILE__, __LINE__)

/* ---- the common fixture --------------------------------------------------- */

/* Device 0, its properties and debugfs directory, and one context on it. */
struct rt_fx {
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_device_props_t props;
	char dbg[128]; /* /sys/kernel/debug/accel/<pci address> */
};

/* Device idx and a new context on it; -1 after printing "who: <error>". */
int rt_context_open(int idx, lumen_device_t *dev, lumen_context_t *ctx, const char *who);

/* cmocka group setup/teardown: *state is a struct rt_fx. */
int rt_fx_setup(void **state);
int rt_fx_teardown(void **state);

/* ---- copies and patterns -------------------------------------------------- */

/* Synchronous lumen_memcpy() that must succeed; failures name the caller. */
void rt_h2d_at(lumen_context_t c, lumen_devptr_t d, const void *h, size_t n, const char *file,
	       int line);
void rt_d2h_at(lumen_context_t c, void *h, lumen_devptr_t d, size_t n, const char *file, int line);
#define rt_h2d(c, d, h, n) rt_h2d_at((c), (d), (h), (n), __FILE__, __LINE__)
#define rt_d2h(c, h, d, n) rt_d2h_at((c), (h), (d), (n), __FILE__, __LINE__)

/* p[0..n) must hold ld_pattern(seed) from offset start; "what" names the
 * check in the failure message. */
void rt_expect_pattern_at(const void *p, size_t n, uint32_t seed, size_t start, const char *what,
			  const char *file, int line);
#define rt_expect_pattern(p, n, seed, start, what)                                                 \
	rt_expect_pattern_at((p), (n), (seed), (start), (what), __FILE__, __LINE__)

/* ---- time ----------------------------------------------------------------- */

/* Monotonic time: ld_now_ns() from lumen_dev.h. */
void rt_sleep_ms(unsigned int ms);

/* ---- gate ----------------------------------------------------------------- */

/*
 * A gate a host callback blocks on, so that work queued behind it stays
 * pending until the test opens the gate: deterministic NOT_READY states.
 */
struct rt_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	int entered;	     /* the callback started */
	lumen_status_t seen; /* status passed to the callback */
};

void rt_gate_init(struct rt_gate *g);
/* The host callback: pass the gate as its argument. */
void rt_gate_fn(lumen_stream_t stream, lumen_status_t status, void *arg);
void rt_gate_open(struct rt_gate *g);
/* Wait up to ms for the callback to start; 1 if it did. */
int rt_gate_wait_entered(struct rt_gate *g, unsigned int ms);

#endif
