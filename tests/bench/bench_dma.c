// SPDX-License-Identifier: MIT
/*
 * lumen-bench-dma: DMA copy bandwidth of a Lumen card, host -> device and
 * device -> host, for 4 KiB .. 64 MiB (powers of 4), each next to a plain
 * memcpy of the same size between two host buffers in the same guest and,
 * when tests/bench/run passes LUMEN_HOST_MEMCPY (lumen-bench-host-memcpy,
 * measured on the host outside the guest in the same run), next to the
 * machine's own memcpy: the emulated engine's real limit.
 *
 * Usage: lumen-bench-dma [--card N] [--min-ms MS]
 * Each figure is the best of repeated runs lasting at least --min-ms
 * (default 200). One job = one COPY command; time is submit to WAIT return.
 * Prints a table; not a pass/fail test (exit 1 only if the device fails).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "lumen_dev.h"

#define MiB (1ull << 20)

static int card, min_ms = 200;

/* The host's memcpy MB/s for size from LUMEN_HOST_MEMCPY, or 0. */
static double host_memcpy(uint64_t size)
{
	const char *s = getenv("LUMEN_HOST_MEMCPY");

	while (s && *s) {
		char *end;
		unsigned long long sz = strtoull(s, &end, 10);
		double mbps;

		if (*end != ':')
			return 0;
		mbps = strtod(end + 1, &end);
		if (sz == size)
			return mbps;
		s = *end == ',' ? end + 1 : NULL;
	}
	return 0;
}

struct dma_copy {
	int fd;
	uint32_t q;
	struct lumen_cmd cmd;
	const uint32_t *bos;
};

static int run_dma_copy(void *arg)
{
	struct dma_copy *c = arg;
	int ret = ld_run1(c->fd, c->q, &c->cmd, c->bos, 2);

	if (ret)
		fprintf(stderr, "copy of %llu bytes failed: %s\n",
			(unsigned long long)c->cmd.u.copy.size, strerror(-ret));
	return ret;
}

/* Seconds per copy of size bytes (best of batches), or < 0 on error. */
static double dma_time(int fd, uint32_t q, uint64_t dst, uint64_t src, uint64_t size,
		       const uint32_t *bos)
{
	struct dma_copy c = { fd, q, ld_cmd_copy(dst, src, size), bos };

	return bench_best_s(min_ms, run_dma_copy, &c);
}

struct host_copy {
	void *dst;
	const void *src;
	size_t size;
};

static int run_memcpy(void *arg)
{
	struct host_copy *c = arg;

	memcpy(c->dst, c->src, c->size);
	__asm__ volatile("" : : "r"(c->dst) : "memory");
	return 0;
}

static double memcpy_time(void *dst, const void *src, size_t size)
{
	struct host_copy c = { dst, src, size };

	return bench_best_s(min_ms, run_memcpy, &c);
}

int main(int argc, char **argv)
{
	struct ld_buf h, d;
	uint64_t max = 64 * MiB;
	uint32_t q, bos[2];
	uint8_t *a, *b;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--card") && i + 1 < argc)
			card = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
			min_ms = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--card N] [--min-ms MS]\n", argv[0]);
			return 2;
		}
	}
	fd = ld_open(card);
	if (fd < 0) {
		fprintf(stderr, "cannot open card %d: %s\n", card, strerror(-fd));
		return 1;
	}
	if (ld_queue_create(fd, &q) || ld_buf_new(fd, LD_HOST, max, &h) ||
	    ld_buf_new(fd, LD_DEVICE, max, &d)) {
		fprintf(stderr, "queue/buffer setup failed\n");
		return 1;
	}
	a = malloc(max);
	b = malloc(max);
	if (!a || !b)
		return 1;
	memset(a, 1, max);
	memset(b, 2, max);
	ld_pattern(h.map, max, 1);
	bos[0] = h.handle;
	bos[1] = d.handle;

	printf("lumen-bench-dma: card %d, best of >= %d ms per point, MB/s = 1e6 B/s\n",
	       card, min_ms);
	printf("%10s %12s %12s %12s %9s %9s %12s %9s %9s\n", "size", "h2d MB/s", "d2h MB/s",
	       "memcpy MB/s", "h2d/mcpy", "d2h/mcpy", "host MB/s", "h2d/host", "d2h/host");
	for (uint64_t size = 4096; size <= max; size *= 4) {
		double th = dma_time(fd, q, d.va, h.va, size, bos);
		double td = dma_time(fd, q, h.va, d.va, size, bos);
		double tm = memcpy_time(b, a, size);
		double bh = size / th / 1e6, bd = size / td / 1e6, bm = size / tm / 1e6;
		double hm = host_memcpy(size);
		char label[16];

		if (th < 0 || td < 0)
			return 1;
		if (size >= MiB)
			snprintf(label, sizeof(label), "%llu MiB", (unsigned long long)(size / MiB));
		else
			snprintf(label, sizeof(label), "%llu KiB", (unsigned long long)(size / 1024));
		printf("%10s %12.1f %12.1f %12.1f %9.3f %9.3f", label, bh, bd, bm, bh / bm,
		       bd / bm);
		if (hm > 0)
			printf(" %12.1f %9.3f %9.3f", hm, bh / hm, bd / hm);
		printf("\n");
		fflush(stdout);
		if (size * 4 > max) { /* the largest size is the headline */
			bench_figure("dma.h2d.largest", bh, "MB/s", "memcpy", bm);
			bench_figure("dma.d2h.largest", bd, "MB/s", "memcpy", bm);
			if (hm > 0) {
				bench_figure("dma.h2d.vs_host", bh, "MB/s", "host_memcpy", hm);
				bench_figure("dma.d2h.vs_host", bd, "MB/s", "host_memcpy", hm);
			} else {
				printf("no LUMEN_HOST_MEMCPY: run through tests/bench/run for "
				       "the host memcpy figures\n");
			}
		}
	}
	/* Sanity: the last d2h copy brought back what h2d put there. */
	if (ld_check_pattern(h.map, max, 1, 0) != -1) {
		fprintf(stderr, "data mismatch after the round trips\n");
		return 1;
	}
	ld_buf_free(&h);
	ld_buf_free(&d);
	free(a);
	free(b);
	close(fd);
	return 0;
}
