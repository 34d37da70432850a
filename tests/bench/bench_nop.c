// SPDX-License-Identifier: MIT
/*
 * lumen-bench-nop: submit-to-completion round trip of a one-NOP job
 * (DRM_IOCTL_LUMEN_SUBMIT then DRM_IOCTL_LUMEN_WAIT), median and p99 over N,
 * next to a 4 KiB O_DIRECT read of an NVMe namespace in the same guest (QEMU's
 * emulated NVMe controller), and the ratio of the two.
 *
 * Usage: lumen-bench-nop [--card N] [-n COUNT] [--nvme DEV] [--no-nvme]
 *   DEV defaults to /dev/nvme0n1; without it only the NOP figures print.
 * Not a pass/fail test (exit 1 only if the Lumen job fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "lumen_dev.h"

struct stats {
	double median_us, p99_us, min_us, mean_us;
};

static struct stats summarize(uint64_t *ns, int n)
{
	struct stats s;
	double sum = 0;

	bench_sort_ns(ns, n);
	for (int i = 0; i < n; i++)
		sum += (double)ns[i];
	s.min_us = ns[0] / 1e3;
	s.median_us = ns[n / 2] / 1e3;
	s.p99_us = ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3;
	s.mean_us = sum / n / 1e3;
	return s;
}

static void print_stats(const char *what, const struct stats *s, int n)
{
	printf("%-28s n=%-6d median %9.1f us  p99 %9.1f us  min %9.1f us  mean %9.1f us\n",
	       what, n, s->median_us, s->p99_us, s->min_us, s->mean_us);
}

int main(int argc, char **argv)
{
	const char *nvme = "/dev/nvme0n1";
	int card = 0, n = 2000, use_nvme = 1, fd;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
	struct stats nop, io;
	uint64_t *ns;
	uint32_t q;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--card") && i + 1 < argc)
			card = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--nvme") && i + 1 < argc)
			nvme = argv[++i];
		else if (!strcmp(argv[i], "--no-nvme"))
			use_nvme = 0;
		else {
			fprintf(stderr, "usage: %s [--card N] [-n COUNT] [--nvme DEV] [--no-nvme]\n",
				argv[0]);
			return 2;
		}
	}
	if (n < 10)
		n = 10;
	ns = calloc((size_t)n, sizeof(*ns));
	fd = ld_open(card);
	if (!ns || fd < 0 || ld_queue_create(fd, &q)) {
		fprintf(stderr, "cannot open card %d or create a queue\n", card);
		return 1;
	}
	/* Warm up. */
	for (int i = 0; i < 20; i++)
		if (ld_run(fd, q, &job))
			return 1;
	for (int i = 0; i < n; i++) {
		uint64_t t0 = ld_now_ns();
		int ret = ld_run(fd, q, &job);

		if (ret) {
			fprintf(stderr, "NOP job failed: %s\n", strerror(-ret));
			return 1;
		}
		ns[i] = ld_now_ns() - t0;
	}
	nop = summarize(ns, n);
	printf("lumen-bench-nop: card %d\n", card);
	print_stats("lumen NOP submit->wait", &nop, n);
	if (!use_nvme)
		bench_figure("nop.median", nop.median_us, "us", NULL, 0);
	close(fd);

	if (use_nvme) {
		int dfd = open(nvme, O_RDONLY | O_DIRECT | O_CLOEXEC);
		void *buf = NULL;
		off_t blocks;

		if (dfd < 0) {
			printf("nvme: cannot open %s (%s): no NVMe figures\n", nvme, strerror(errno));
			return 0;
		}
		blocks = lseek(dfd, 0, SEEK_END) / 4096;
		if (blocks < 1 || posix_memalign(&buf, 4096, 4096)) {
			printf("nvme: %s too small\n", nvme);
			return 0;
		}
		for (int i = 0; i < 20; i++)
			if (pread(dfd, buf, 4096, 0) != 4096)
				break;
		for (int i = 0; i < n; i++) {
			off_t off = (off_t)((uint64_t)i * 7919 % (uint64_t)blocks) * 4096;
			uint64_t t0 = ld_now_ns();

			if (pread(dfd, buf, 4096, off) != 4096) {
				printf("nvme: read failed: %s\n", strerror(errno));
				return 0;
			}
			ns[i] = ld_now_ns() - t0;
		}
		io = summarize(ns, n);
		print_stats("nvme 4K O_DIRECT pread", &io, n);
		printf("ratio lumen/nvme: median %.3f  p99 %.3f\n", nop.median_us / io.median_us,
		       nop.p99_us / io.p99_us);
		bench_figure("nop.median", nop.median_us, "us", "nvme_4k_read", io.median_us);
		bench_figure("nop.p99", nop.p99_us, "us", "nvme_4k_read", io.p99_us);
		close(dfd);
		free(buf);
	}
	free(ns);
	return 0;
}
