/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the liblumen suites (test_rt_*.c): status assertions that
 * print lumen_get_last_error() on failure and, for expected failures, check
 * that the call left a message naming the problem.
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

#define KiB (1ull << 10)
#define MiB (1ull << 20)

static inline const char *rt_st(lumen_status_t s)
{
	const char *n = lumen_status_string(s);

	return n ? n : "(null)";
}

/* The function name of a call expression's text: "lumen_free(ctx, p)" -> "lumen_free". */
static inline void rt_fn_name(const char *expr, char *buf, size_t len)
{
	size_t i = 0;

	while (expr[i] && expr[i] != '(' && i + 1 < len) {
		buf[i] = expr[i];
		i++;
	}
	buf[i] = '\0';
}

/* cmocka's fail_msg() without a location: report the caller's. */
#define _fail_msg_at(file, line, ...)                                                          \
	do {                                                                                   \
		print_error("ERROR: %s:%d: ", file, line);                                     \
		print_error(__VA_ARGS__);                                                      \
		print_error("\n");                                                             \
		_fail(file, line);                                                             \
	} while (0)

static inline void rt_ok(lumen_status_t s, const char *expr, const char *file, int line)
{
	if (s != LUMEN_SUCCESS)
		_fail_msg_at(file, line, "%s -> %s (%d): \"%s\"", expr, rt_st(s), (int)s,
			     lumen_get_last_error());
}

static inline void rt_fail(lumen_status_t s, lumen_status_t want, const char *expr,
			   const char *file, int line)
{
	const char *msg = lumen_get_last_error();
	char fn[64];

	if (s != want)
		_fail_msg_at(file, line, "%s -> %s (%d), expected %s: \"%s\"", expr, rt_st(s),
			     (int)s, rt_st(want), msg ? msg : "(null)");
	if (!msg || !*msg)
		_fail_msg_at(file, line, "%s -> %s but lumen_get_last_error() is empty", expr,
			     rt_st(s));
	rt_fn_name(expr, fn, sizeof(fn));
	if (!strstr(msg, fn))
		_fail_msg_at(file, line, "%s -> %s: message \"%s\" does not name %s", expr,
			     rt_st(s), msg, fn);
}

/* Either of two statuses (where the header allows both). */
static inline lumen_status_t rt_fail2(lumen_status_t s, lumen_status_t a, lumen_status_t b,
				      const char *expr, const char *file, int line)
{
	rt_fail(s, s == b ? b : a, expr, file, line);
	return s;
}

/* SUCCESS, or the alternative status with a message (e.g. a destroy on a
 * context whose error is sticky). */
static inline void rt_ok_or(lumen_status_t s, lumen_status_t alt, const char *expr,
			    const char *file, int line)
{
	if (s != LUMEN_SUCCESS)
		rt_fail(s, alt, expr, file, line);
}

/* For a status kept in a variable: name the function the message must name. */
#define RT_FAIL_AS(fn, st, want) rt_fail((st), (want), fn "(" #st ")", __FILE__, __LINE__)
#define RT_FAIL2_AS(fn, st, a, b) rt_fail2((st), (a), (b), fn "(" #st ")", __FILE__, __LINE__)
#define RT_OK_OR(call, alt) rt_ok_or((call), (alt), #call, __FILE__, __LINE__)
#define RT_OK(call) rt_ok((call), #call, __FILE__, __LINE__)
#define RT_FAIL(call, want) rt_fail((call), (want), #call, __FILE__, __LINE__)
#define RT_FAIL2(call, a, b) rt_fail2((call), (a), (b), #call, __FILE__, __LINE__)

static inline uint64_t rt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void rt_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * A gate a host callback blocks on, so that work queued behind it stays
 * pending until the test opens the gate: deterministic NOT_READY states.
 */
struct rt_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	int entered;		/* the callback started */
	lumen_status_t seen;	/* status passed to the callback */
};

static inline void rt_gate_init(struct rt_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = 0;
	g->entered = 0;
	g->seen = (lumen_status_t)-1;
}

static inline void rt_gate_fn(lumen_stream_t stream, lumen_status_t status, void *arg)
{
	struct rt_gate *g = arg;

	(void)stream;
	pthread_mutex_lock(&g->lock);
	g->entered = 1;
	g->seen = status;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static inline void rt_gate_open(struct rt_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Wait up to ms for the callback to start; 1 if it did. */
static inline int rt_gate_wait_entered(struct rt_gate *g, unsigned int ms)
{
	uint64_t end = rt_now_ns() + (uint64_t)ms * 1000000ull;
	int e;

	for (;;) {
		pthread_mutex_lock(&g->lock);
		e = g->entered;
		pthread_mutex_unlock(&g->lock);
		if (e || rt_now_ns() > end)
			return e;
		rt_sleep_ms(2);
	}
}

#endif
