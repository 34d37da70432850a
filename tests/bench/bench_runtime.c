// SPDX-License-Identifier: MIT
/*
 * lumen-bench-runtime: what liblumen costs on top of the raw uAPI, both
 * measured in the same run on the same card.
 *
 *  1. Host overhead per call (median ns of the call itself, each call timed):
 *       lumen_launch_nop_async        vs  DRM_IOCTL_LUMEN_SUBMIT of one NOP
 *       lumen_memset_async (64 B)     vs  SUBMIT of one 64 B FILL
 *       lumen_malloc+lumen_free 64 B  vs  BO_CREATE+VM_BIND+unmap+GEM_CLOSE 4 KiB
 *       lumen_malloc+lumen_free 4 KiB vs  the same raw sequence
 *     Async calls are timed in batches of 64, with a synchronize (raw: WAIT on
 *     the batch's last seqno) outside the timed region after each batch.
 *  2. Copy bandwidth h2d and d2h, 64 KiB .. 64 MiB, through the runtime
 *     (async copy + stream_synchronize, pinned lumen_malloc_host memory and
 *     pageable malloc memory) as a ratio to the raw path (HOST BO + DEVICE
 *     BO, one COPY job, SUBMIT + WAIT, like lumen-bench-dma). Best of
 *     repeated runs lasting at least --min-ms each.
 *
 * Usage: lumen-bench-runtime [--card N] [-n CALLS] [--min-ms MS] [--max-mib M]
 * Prints tables; not a pass/fail test (exit 1 only if a call fails).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lumen/lumen.h>

#include "bench_util.h"
#include "lumen_dev.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define BATCH 64

static int card, ncalls = 4000, min_ms = 150;
static uint64_t max_size = 64 * MiB;

#define CHECK(call)                                                                        \
	do {                                                                               \
		lumen_status_t s_ = (call);                                                \
		if (s_ != LUMEN_SUCCESS) {                                                 \
			fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,  \
				lumen_status_string(s_), lumen_get_last_error());          \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#define RAW(call)                                                                          \
	do {                                                                               \
		int r_ = (call);                                                           \
		if (r_) {                                                                  \
			fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #call,      \
				strerror(-r_));                                            \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

static double median_ns(uint64_t *ns, int n)
{
	bench_sort_ns(ns, n);
	return (double)ns[n / 2];
}

/* ---- per-call overhead ---------------------------------------------------- */

struct rt_env {
	lumen_context_t ctx;
	lumen_stream_t s;
	lumen_devptr_t fill_dst;
};

struct raw_env {
	int fd;
	uint32_t q;
	struct ld_buf dev;	/* FILL target */
};

static double rt_nop(struct rt_env *e, uint64_t *ns)
{
	for (int i = 0; i < ncalls;) {
		for (int b = 0; b < BATCH && i < ncalls; b++, i++) {
			uint64_t t0 = ld_now_ns();

			CHECK(lumen_launch_nop_async(e->s));
			ns[i] = ld_now_ns() - t0;
		}
		CHECK(lumen_stream_synchronize(e->s));
	}
	return median_ns(ns, ncalls);
}

static double rt_fill(struct rt_env *e, uint64_t *ns)
{
	for (int i = 0; i < ncalls;) {
		for (int b = 0; b < BATCH && i < ncalls; b++, i++) {
			uint64_t t0 = ld_now_ns();

			CHECK(lumen_memset_async(e->s, e->fill_dst, i & 0xff, 64));
			ns[i] = ld_now_ns() - t0;
		}
		CHECK(lumen_stream_synchronize(e->s));
	}
	return median_ns(ns, ncalls);
}

static double rt_malloc_free(struct rt_env *e, size_t size, uint64_t *ns)
{
	lumen_devptr_t p[BATCH];

	/* Steady state: the cache is warm, as in an application's loop. */
	for (int i = 0; i < ncalls;) {
		int b, k;

		for (b = 0; b < BATCH && i + b < ncalls; b++) {
			uint64_t t0 = ld_now_ns();

			CHECK(lumen_malloc(e->ctx, size, &p[b]));
			ns[i + b] = ld_now_ns() - t0;
		}
		for (k = 0; k < b; k++) {
			uint64_t t0 = ld_now_ns();

			CHECK(lumen_free(e->ctx, p[k]));
			ns[i + k] += ld_now_ns() - t0;
		}
		i += b;
	}
	return median_ns(ns, ncalls);
}

static double raw_submit(struct raw_env *e, const struct lumen_cmd *cmd, const uint32_t *bos,
			 uint32_t nbos, uint64_t *ns)
{
	struct ld_job job = { .cmds = cmd, .num_cmds = 1, .bos = bos, .num_bos = nbos };

	for (int i = 0; i < ncalls;) {
		uint64_t seq = 0;
		int32_t st = 0;

		for (int b = 0; b < BATCH && i < ncalls; b++, i++) {
			uint64_t t0 = ld_now_ns();

			RAW(ld_submit(e->fd, e->q, &job, &seq));
			ns[i] = ld_now_ns() - t0;
		}
		RAW(ld_wait(e->fd, e->q, seq, LD_WAIT_NS, &st));
		RAW(st);
	}
	return median_ns(ns, ncalls);
}

static double raw_bo_cycle(struct raw_env *e, uint64_t *ns)
{
	uint64_t va = ld_va_alloc(4096);

	for (int i = 0; i < ncalls; i++) {
		uint64_t t0 = ld_now_ns(), size;
		uint32_t h;

		RAW(ld_bo_create(e->fd, 4096, DRM_LUMEN_BO_DEVICE, 0, &h, &size));
		RAW(ld_vm_map(e->fd, h, va, 0, 4096, 0));
		RAW(ld_vm_unmap(e->fd, va, 4096));
		RAW(ld_gem_close(e->fd, h));
		ns[i] = ld_now_ns() - t0;
	}
	return median_ns(ns, ncalls);
}

static void row(const char *fig, const char *what, const char *raw_what, double rt, double raw)
{
	printf("  %-30s %10.0f   %-36s %10.0f   %6.2f\n", what, rt, raw_what, raw, rt / raw);
	bench_figure(fig, rt, "ns", "raw_uapi", raw);
}

static void overhead(struct rt_env *re, struct raw_env *we)
{
	uint64_t *ns = calloc((size_t)ncalls, sizeof(*ns));
	struct lumen_cmd nop = ld_cmd_nop(), fill = ld_cmd_fill(we->dev.va, 64, 0x0101010101010101ull);
	double a, b;

	if (!ns)
		exit(1);
	/* Warm up both paths (queues, caches, staging). */
	{
		int saved = ncalls;

		ncalls = 2 * BATCH;
		rt_nop(re, ns);
		rt_fill(re, ns);
		rt_malloc_free(re, 64, ns);
		rt_malloc_free(re, 4096, ns);
		raw_submit(we, &nop, NULL, 0, ns);
		raw_submit(we, &fill, &we->dev.handle, 1, ns);
		ncalls = saved;
	}
	printf("\nper-call host overhead, median ns/call of %d calls (ratio = runtime / raw)\n",
	       ncalls);
	printf("  %-30s %10s   %-36s %10s   %6s\n", "runtime call", "ns", "raw uAPI path", "ns",
	       "ratio");
	a = rt_nop(re, ns);
	b = raw_submit(we, &nop, NULL, 0, ns);
	row("runtime.call.launch_nop", "lumen_launch_nop_async", "SUBMIT (1 NOP)", a, b);
	a = rt_fill(re, ns);
	b = raw_submit(we, &fill, &we->dev.handle, 1, ns);
	row("runtime.call.memset_64B", "lumen_memset_async 64 B", "SUBMIT (1 FILL 64 B, 1 BO)", a,
	    b);
	b = raw_bo_cycle(we, ns);
	a = rt_malloc_free(re, 64, ns);
	row("runtime.call.malloc_free_64B", "lumen_malloc+lumen_free 64 B",
	    "BO_CREATE+VM_BIND+unmap+CLOSE 4K", a, b);
	a = rt_malloc_free(re, 4096, ns);
	row("runtime.call.malloc_free_4KiB", "lumen_malloc+lumen_free 4 KiB",
	    "BO_CREATE+VM_BIND+unmap+CLOSE 4K", a, b);
	fflush(stdout);
	free(ns);
}

/* ---- bandwidth -------------------------------------------------------------- */

enum dir { H2D, D2H };

struct rt_copy {
	struct rt_env *e;
	enum dir dir;
	lumen_devptr_t d;
	uint8_t *h;
	uint64_t size;
};

static int run_rt_copy(void *arg)
{
	struct rt_copy *c = arg;

	if (c->dir == H2D)
		CHECK(lumen_memcpy_h2d_async(c->e->s, c->d, c->h, c->size));
	else
		CHECK(lumen_memcpy_d2h_async(c->e->s, c->h, c->d, c->size));
	CHECK(lumen_stream_synchronize(c->e->s));
	return 0;
}

/* Best seconds per copy through the runtime. */
static double rt_copy_time(struct rt_env *e, enum dir dir, lumen_devptr_t d, uint8_t *h,
			   uint64_t size)
{
	struct rt_copy c = { e, dir, d, h, size };

	return bench_best_s(min_ms, run_rt_copy, &c);
}

struct raw_copy {
	struct raw_env *e;
	struct lumen_cmd cmd;
	uint32_t bos[2];
};

static int run_raw_copy(void *arg)
{
	struct raw_copy *c = arg;

	RAW(ld_run1(c->e->fd, c->e->q, &c->cmd, c->bos, 2));
	return 0;
}

static double raw_copy_time(struct raw_env *e, enum dir dir, struct ld_buf *h, struct ld_buf *d,
			    uint64_t size)
{
	struct raw_copy c = {
		.e = e,
		.cmd = dir == H2D ? ld_cmd_copy(d->va, h->va, size) : ld_cmd_copy(h->va, d->va, size),
		.bos = { h->handle, d->handle },
	};

	return bench_best_s(min_ms, run_raw_copy, &c);
}

static void bandwidth(struct rt_env *re, struct raw_env *we)
{
	struct ld_buf rh, rd;
	lumen_devptr_t d;
	uint8_t *pin, *pg;
	static const char *const dn[] = { "h2d", "d2h" };

	RAW(ld_buf_new(we->fd, LD_HOST, max_size, &rh));
	RAW(ld_buf_new(we->fd, LD_DEVICE, max_size, &rd));
	CHECK(lumen_malloc(re->ctx, max_size, &d));
	CHECK(lumen_malloc_host(re->ctx, max_size, (void **)&pin));
	pg = malloc(max_size);
	if (!pg)
		exit(1);
	ld_pattern(pg, max_size, 1);
	memcpy(pin, pg, max_size);
	memcpy(rh.map, pg, max_size);

	printf("\ncopy bandwidth, MB/s (1e6 B/s), best of >= %d ms per point; ratio = runtime / raw\n",
	       min_ms);
	printf("  %-4s %9s %10s %10s %10s %8s %8s\n", "dir", "size", "raw", "pinned", "pageable",
	       "pin/raw", "page/raw");
	for (int dir = H2D; dir <= D2H; dir++) {
		for (uint64_t size = 64 * KiB; size <= max_size; size *= 4) {
			double traw = raw_copy_time(we, dir, &rh, &rd, size);
			double tpin = rt_copy_time(re, dir, d, pin, size);
			double tpg = rt_copy_time(re, dir, d, pg, size);
			double braw = size / traw / 1e6, bpin = size / tpin / 1e6,
			       bpg = size / tpg / 1e6;
			char label[24];

			if (size >= MiB)
				snprintf(label, sizeof(label), "%llu MiB",
					 (unsigned long long)(size / MiB));
			else
				snprintf(label, sizeof(label), "%llu KiB",
					 (unsigned long long)(size / KiB));
			printf("  %-4s %9s %10.1f %10.1f %10.1f %8.3f %8.3f\n", dn[dir], label, braw,
			       bpin, bpg, bpin / braw, bpg / braw);
			fflush(stdout);
			if (size * 4 > max_size) { /* the largest size is the headline */
				char fig[48];

				snprintf(fig, sizeof(fig), "runtime.copy.%s.pinned", dn[dir]);
				bench_figure(fig, bpin, "MB/s", "raw_uapi", braw);
				snprintf(fig, sizeof(fig), "runtime.copy.%s.pageable", dn[dir]);
				bench_figure(fig, bpg, "MB/s", "raw_uapi", braw);
			}
		}
	}
	/* Sanity: the round trips kept the data. */
	if (ld_check_pattern(pg, max_size, 1, 0) != -1 || ld_check_pattern(pin, max_size, 1, 0) != -1) {
		fprintf(stderr, "data mismatch after the runtime round trips\n");
		exit(1);
	}
	CHECK(lumen_free_host(re->ctx, pin));
	CHECK(lumen_free(re->ctx, d));
	free(pg);
	ld_buf_free(&rh);
	ld_buf_free(&rd);
}

int main(int argc, char **argv)
{
	struct rt_env re = { 0 };
	struct raw_env we = { 0 };
	lumen_device_t dev;
	int only = 0; /* 1 = overhead only, 2 = bandwidth only */

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--card") && i + 1 < argc)
			card = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ncalls = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
			min_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-mib") && i + 1 < argc)
			max_size = strtoull(argv[++i], NULL, 0) * MiB;
		else if (!strcmp(argv[i], "--overhead"))
			only = 1;
		else if (!strcmp(argv[i], "--bandwidth"))
			only = 2;
		else {
			fprintf(stderr,
				"usage: %s [--card N] [-n CALLS] [--min-ms MS] [--max-mib M] "
				"[--overhead|--bandwidth]\n",
				argv[0]);
			return 2;
		}
	}
	if (ncalls < 2 * BATCH)
		ncalls = 2 * BATCH;
	if (max_size < 64 * KiB)
		max_size = 64 * KiB;

	CHECK(lumen_device_get(card, &dev));
	CHECK(lumen_context_create(dev, &re.ctx));
	CHECK(lumen_stream_create(re.ctx, &re.s));
	CHECK(lumen_malloc(re.ctx, 4096, &re.fill_dst));
	we.fd = ld_open(card);
	if (we.fd < 0) {
		fprintf(stderr, "cannot open card %d: %s\n", card, strerror(-we.fd));
		return 1;
	}
	RAW(ld_queue_create(we.fd, &we.q));
	RAW(ld_buf_new(we.fd, LD_DEVICE, 4096, &we.dev));

	printf("lumen-bench-runtime: card %d, liblumen %u.%u.%u\n", card, lumen_get_version() >> 16,
	       (lumen_get_version() >> 8) & 0xff, lumen_get_version() & 0xff);
	if (only != 2)
		overhead(&re, &we);
	if (only != 1)
		bandwidth(&re, &we);

	ld_buf_free(&we.dev);
	close(we.fd);
	CHECK(lumen_free(re.ctx, re.fill_dst));
	CHECK(lumen_stream_destroy(re.s));
	CHECK(lumen_context_destroy(re.ctx));
	return 0;
}
