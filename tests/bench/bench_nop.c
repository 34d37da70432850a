// SPDX-License-Identifier: MIT
/*
 * lumen-bench-nop: submit-to-completion round trip of a one-NOP job
 * (DRM_IOCTL_LUMEN_SUBMIT then DRM_IOCTL_LUMEN_WAIT), median and p99 over N,
 * and the same on a user-mode queue (the NOP stored into the ring, the
 * doorbell rung, the completion record polled: no system call), each next
 * to a 4 KiB O_DIRECT read of an NVMe namespace in the same guest (QEMU's
 * emulated NVMe controller) and to a getpid() system call; then the launch
 * rate of user-mode queues (NOPs per second, one thread and four threads on
 * four queues).
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
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_util.h"
#include "ld_uq.h"
#include "lumen_dev.h"

#define RATE_THREADS 4
#define RATE_NOPS 20000		/* per thread */

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

/* Round trips of one NOP on a user-mode queue: store, bell, poll. */
static int uq_round_trips(int fd, uint64_t *ns, int n)
{
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_uq q;
	int ret = ld_uq_new(fd, 10, LD_HOST, &q);

	if (ret)
		return ret;
	for (int i = -20; i < n && !ret; i++) {
		uint64_t t0 = ld_now_ns();

		ret = ld_uq_push(&q, &cmd, 1);
		if (!ret)
			ret = ld_uq_poll(&q, q.pushed, 10 * LD_SEC_NS);
		if (i >= 0)
			ns[i] = ld_now_ns() - t0;
	}
	ld_uq_free(&q);
	return ret;
}

struct rate_arg {
	int fd;
	int ret;
	uint64_t ns;
};

/* RATE_NOPS NOPs, one doorbell each, as fast as the ring lets them in. */
static void *uq_rate_thread(void *p)
{
	struct rate_arg *a = p;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_uq q;
	uint64_t t0;

	a->ret = ld_uq_new(a->fd, 12, LD_HOST, &q);
	if (a->ret)
		return NULL;
	t0 = ld_now_ns();
	for (int i = 0; i < RATE_NOPS && !a->ret; i++) {
		while ((a->ret = ld_uq_push(&q, &cmd, 1)) == -ENOSPC)
			;
	}
	if (!a->ret)
		a->ret = ld_uq_sync(&q, q.pushed, LD_SEC_NS);
	a->ns = ld_now_ns() - t0;
	ld_uq_free(&q);
	return NULL;
}

/* NOPs per second over threads user-mode queues, one per thread. */
static double uq_rate(int fd, int threads)
{
	struct rate_arg a[RATE_THREADS];
	pthread_t t[RATE_THREADS];
	uint64_t t0 = ld_now_ns(), ns;

	for (int i = 0; i < threads; i++) {
		a[i] = (struct rate_arg){ .fd = fd };
		pthread_create(&t[i], NULL, uq_rate_thread, &a[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	ns = ld_now_ns() - t0;
	for (int i = 0; i < threads; i++)
		if (a[i].ret) {
			fprintf(stderr, "user-mode queue rate: %s\n", strerror(-a[i].ret));
			return 0;
		}
	return (double)threads * RATE_NOPS / (ns / 1e9);
}

int main(int argc, char **argv)
{
	const char *nvme = "/dev/nvme0n1";
	int card = 0, n = 2000, use_nvme = 1, fd;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
	struct stats nop, uq, sys, io;
	uint64_t caps = 0, *ns;
	int have_uq;
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

	have_uq = !ld_get_param(fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) &&
		  (caps & DRM_LUMEN_CAP_USER_QUEUES);
	if (have_uq) {
		int ret = uq_round_trips(fd, ns, n);

		if (ret) {
			fprintf(stderr, "user-mode queue NOP failed: %s\n", strerror(-ret));
			return 1;
		}
		uq = summarize(ns, n);
		print_stats("lumen NOP user-mode queue", &uq, n);
	} else {
		printf("no user-mode queues on this card: their figures are skipped\n");
	}

	/* The cheapest thing a process can ask the kernel. */
	for (int i = 0; i < n; i++) {
		uint64_t t0 = ld_now_ns();

		syscall(SYS_getpid);
		ns[i] = ld_now_ns() - t0;
	}
	sys = summarize(ns, n);
	print_stats("getpid() system call", &sys, n);
	bench_figure("nop.kernel.vs_getpid", nop.median_us, "us", "getpid", sys.median_us);
	if (have_uq) {
		double r1 = uq_rate(fd, 1), r4 = uq_rate(fd, RATE_THREADS);

		bench_figure("nop.user.vs_getpid", uq.median_us, "us", "getpid", sys.median_us);
		printf("user-mode queue launch rate: %.0f NOP/s from 1 thread, %.0f NOP/s from "
		       "%d threads on %d queues\n", r1, r4, RATE_THREADS, RATE_THREADS);
		bench_figure("nop.user.rate4", r4, "NOP/s", "rate1", r1);
	}
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
		if (have_uq) {
			printf("ratio user-mode/nvme: median %.3f  p99 %.3f\n",
			       uq.median_us / io.median_us, uq.p99_us / io.p99_us);
			bench_figure("nop.user.median", uq.median_us, "us", "nvme_4k_read",
				     io.median_us);
		}
		close(dfd);
		free(buf);
	}
	free(ns);
	return 0;
}
