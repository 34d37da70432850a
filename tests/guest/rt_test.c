// SPDX-License-Identifier: MIT
/* Helpers for the liblumen suites: see rt_test.h. */
#include "lumen_dev.h"
#include "rt_test.h"

const char *rt_st(lumen_status_t s)
{
	const char *n = lumen_status_string(s);

	return n ? n : "(null)";
}

/* The function name of a call expression's text: "lumen_free(ctx, p)" -> "lumen_free". */
static void rt_fn_name(const char *expr, char *buf, size_t len)
{
	size_t i = 0;

	while (expr[i] && expr[i] != '(' && i + 1 < len) {
		buf[i] = expr[i];
		i++;
	}
	buf[i] = '\0';
}

/* cmocka's fail_msg() without a location: report the caller's. */
#define fail_msg_at(file, line, ...)                                                               \
	do {                                                                                       \
		print_error("ERROR: %s:%d: ", file, line);                                         \
		print_error(__VA_ARGS__);                                                          \
		print_error("\n");                                                                 \
		_fail(file, line);                                                                 \
	} while (0)

void rt_ok(lumen_status_t s, const char *expr, const char *file, int line)
{
	if (s != LUMEN_SUCCESS)
		fail_msg_at(file, line, "%s -> %s (%d): \"%s\"", expr, rt_st(s), (int)s,
			    lumen_get_last_error());
}

void rt_fail(lumen_status_t s, lumen_status_t want, const char *expr, const char *file, int line)
{
	const char *msg = lumen_get_last_error();
	char fn[64];

	if (s != want)
		fail_msg_at(file, line, "%s -> %s (%d), expected %s: \"%s\"", expr, rt_st(s),
			    (int)s, rt_st(want), msg ? msg : "(null)");
	if (!msg || !*msg)
		fail_msg_at(file, line, "%s -> %s but lumen_get_last_error() is empty", expr,
			    rt_st(s));
	rt_fn_name(expr, fn, sizeof(fn));
	if (!strstr(msg, fn))
		fail_msg_at(file, line, "%s -> %s: message \"%s\" does not name %s", expr, rt_st(s),
			    msg, fn);
}

lumen_status_t rt_fail2(lumen_status_t s, lumen_status_t a, lumen_status_t b, const char *expr,
			const char *file, int line)
{
	rt_fail(s, s == b ? b : a, expr, file, line);
	return s;
}

void rt_ok_or(lumen_status_t s, lumen_status_t alt, const char *expr, const char *file, int line)
{
	if (s != LUMEN_SUCCESS)
		rt_fail(s, alt, expr, file, line);
}

/* ---- the common fixture --------------------------------------------------- */

int rt_context_open(int idx, lumen_device_t *dev, lumen_context_t *ctx, const char *who)
{
	if (lumen_device_get(idx, dev) || lumen_context_create(*dev, ctx)) {
		fprintf(stderr, "%s: %s\n", who, lumen_get_last_error());
		return -1;
	}
	return 0;
}

int rt_fx_setup(void **state)
{
	struct rt_fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	if (rt_context_open(0, &f->dev, &f->ctx, "setup"))
		return -1;
	LUMEN_STRUCT_INIT(f->props);
	if (lumen_device_get_props(f->dev, &f->props)) {
		fprintf(stderr, "setup: %s\n", lumen_get_last_error());
		return -1;
	}
	snprintf(f->dbg, sizeof(f->dbg), "/sys/kernel/debug/accel/%s", f->props.pci_address);
	return 0;
}

int rt_fx_teardown(void **state)
{
	struct rt_fx *f = *state;

	if (f->ctx)
		lumen_context_destroy(f->ctx);
	free(f);
	return 0;
}

/* ---- copies and patterns -------------------------------------------------- */

void rt_h2d_at(lumen_context_t c, lumen_devptr_t d, const void *h, size_t n, const char *file,
	       int line)
{
	rt_ok(lumen_memcpy(c, (void *)(uintptr_t)d, h, n, LUMEN_COPY_HOST_TO_DEVICE),
	      "lumen_memcpy(ctx, dev, host, n, LUMEN_COPY_HOST_TO_DEVICE)", file, line);
}

void rt_d2h_at(lumen_context_t c, void *h, lumen_devptr_t d, size_t n, const char *file, int line)
{
	rt_ok(lumen_memcpy(c, h, (const void *)(uintptr_t)d, n, LUMEN_COPY_DEVICE_TO_HOST),
	      "lumen_memcpy(ctx, host, dev, n, LUMEN_COPY_DEVICE_TO_HOST)", file, line);
}

void rt_expect_pattern_at(const void *p, size_t n, uint32_t seed, size_t start, const char *what,
			  const char *file, int line)
{
	long bad = ld_check_pattern(p, n, seed, start);

	if (bad >= 0)
		fail_msg_at(file, line, "%s, %zu B: byte %ld differs (0x%02x)", what, n, bad,
			    ((const uint8_t *)p)[bad]);
}

/* ---- time ----------------------------------------------------------------- */

void rt_sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- gate ----------------------------------------------------------------- */

void rt_gate_init(struct rt_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = 0;
	g->entered = 0;
	g->seen = (lumen_status_t)-1;
}

void rt_gate_fn(lumen_stream_t stream, lumen_status_t status, void *arg)
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

void rt_gate_open(struct rt_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

int rt_gate_wait_entered(struct rt_gate *g, unsigned int ms)
{
	uint64_t end = ld_now_ns() + (uint64_t)ms * 1000000ull;
	int e;

	for (;;) {
		pthread_mutex_lock(&g->lock);
		e = g->entered;
		pthread_mutex_unlock(&g->lock);
		if (e || ld_now_ns() > end)
			return e;
		rt_sleep_ms(2);
	}
}
