// SPDX-License-Identifier: MIT
/*
 * lumen-bench-host-memcpy: memcpy bandwidth of the machine itself, outside
 * any guest, for the sizes lumen-bench-dma uses (4 KiB .. 64 MiB, powers of
 * 4). The emulated DMA engine is a memcpy in the QEMU process, so this is
 * its real limit; a memcpy inside the TCG guest is emulated too and says
 * little. tests/bench/run runs it on the host right before a bench that
 * asks for it (--host-memcpy) and hands the result to the guest as
 *
 *   LUMEN_HOST_MEMCPY=SIZE:MBPS,SIZE:MBPS,...
 *
 * the only line on stdout; a table goes to stderr.
 *
 * Usage: lumen-bench-host-memcpy [--min-ms MS] [--max-mib M]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

struct host_copy {
	void *dst;
	const void *src;
	size_t size;
};

static int run_memcpy(void *arg)
{
	struct host_copy *c = arg;

	memcpy(c->dst, c->src, c->size);
	/* Keep the copy from being optimized away. */
	__asm__ volatile("" : : "r"(c->dst) : "memory");
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t max = 64ull << 20;
	int min_ms = 200;
	char *a, *b;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
			min_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-mib") && i + 1 < argc)
			max = strtoull(argv[++i], NULL, 0) << 20;
		else {
			fprintf(stderr, "usage: %s [--min-ms MS] [--max-mib M]\n", argv[0]);
			return 2;
		}
	}
	if (max < 4096)
		max = 4096;
	a = malloc(max);
	b = malloc(max);
	if (!a || !b)
		return 1;
	memset(a, 1, max);
	memset(b, 2, max);
	printf("LUMEN_HOST_MEMCPY=");
	for (uint64_t size = 4096; size <= max; size *= 4) {
		struct host_copy c = { b, a, size };
		double t = bench_best_s(min_ms, run_memcpy, &c);

		fprintf(stderr, "host memcpy %10llu B  %10.1f MB/s\n", (unsigned long long)size,
			size / t / 1e6);
		printf("%s%llu:%.1f", size == 4096 ? "" : ",", (unsigned long long)size,
		       size / t / 1e6);
	}
	printf("\n");
	free(a);
	free(b);
	return 0;
}
