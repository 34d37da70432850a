// SPDX-License-Identifier: MIT
/*
 * lumen-bench-link: peer memory over the optical links, on cards cabled in a
 * ring by lumen-fabric (a ring of 6 or more chips gives 1, 2 and 3 hops from
 * chip 0), each figure next to a baseline measured in the same run:
 *
 *   tests/vm/run --cards 6 --fabric ring -- lumen-bench-link
 *
 *  1. What the emulation carries: 64 MiB remote writes 1, 2 and 3 hops
 *     away with every fiber's rate unlimited (each chip on the way costs
 *     host CPU). The fibers' rate is then set (lumen-fabric `set`, all
 *     fibers) to --rate-frac (default 0.5) of the lowest, clearly below it,
 *     so that the fabric's rate limits and not the host's CPU; or to --rate.
 *  2. Remote write bandwidth, 4 KiB to 64 MiB, to chips 1, 2 and 3 hops away,
 *     as a ratio to the configured fiber rate (target: 0.9 at 64 MiB; the
 *     link frame's headers are 96 of every 4192 bytes, so at most 0.977) and
 *     to a local device-to-device copy of the same size on chip 0. Best of
 *     repeated runs lasting at least --min-ms.
 *  3. Remote atomic round trip (SIGNAL with its old value back) per hop,
 *     median of --atomics, against the same operation on chip 0's own
 *     window (a loopback: the local SIGNAL round trip through the same
 *     queue, without a link).
 *  4. Failover: one 64 MiB remote write to chip 1 whose fiber (0.+x) is cut
 *     once a quarter arrived; the blackout is the longest time the target
 *     saw no progress (its ports' DATA counters), against the end-to-end
 *     retransmission period (LUMEN_E2E_RETRANSMIT_MS, 100 ms).
 *
 * Usage: lumen-bench-link [--min-ms MS] [--max-mib M] [--rate-frac F | --rate MBPS]
 *                         [--atomics N] [--no-cut]
 * Needs LUMEN_VM_FABRIC=ring:N and $LUMEN_FABRIC_CTL (tests/vm/run --fabric);
 * programs the ring's routes itself. Prints tables and @figure lines (see
 * tests/bench/run); exit 1 only if something fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lumen/lumen.h>
#include <lumen/lumen_remote.h>

#include "bench_util.h"
#include "link_util.h"
#include "lumen_dev.h"

#define KiB	 (1ull << 10)
#define MiB	 (1ull << 20)
#define MAX_HOPS 3

static int min_ms = 300, atomics = 200, do_cut = 1;
static double rate_frac = 0.5, rate_mbps;
static uint64_t max_size = 64 * MiB;

#define CHECK(call)                                                                                \
	do {                                                                                       \
		lumen_status_t s_ = (call);                                                        \
		if (s_ != LUMEN_SUCCESS) {                                                         \
			fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,        \
				lumen_status_string(s_), lumen_get_last_error());                  \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static void die(const char *what)
{
	fprintf(stderr, "lumen-bench-link: %s\n", what);
	exit(1);
}

struct card {
	const struct lu_card *lc;
	lumen_context_t ctx;
	lumen_stream_t s;
};

static struct lu_card lcs[LU_MAX_CARDS];
static struct card cards[LU_MAX_CARDS];
static int ncards, ring;

/* The local card with chip id chip; dies if there is none. */
static struct card *chip(uint32_t id)
{
	const struct lu_card *lc = lu_card_of(lcs, ncards, id);

	if (!lc)
		die("a chip of the ring is not in this guest (use --cards N with ring:N)");
	return &cards[lc->index];
}

/* A window of size bytes on a fresh allocation of c. */
struct target {
	struct card *c;
	lumen_devptr_t mem;
	lumen_window_t win;
	lumen_window_desc_t d;
};

static void target_open(struct target *t, struct card *c, size_t size, unsigned rights)
{
	t->c = c;
	CHECK(lumen_malloc(c->ctx, size, &t->mem));
	CHECK(lumen_window_open(c->ctx, t->mem, size, rights, &t->win));
	CHECK(lumen_window_get_desc(t->win, &t->d));
}

static void target_close(struct target *t)
{
	CHECK(lumen_window_close(t->win));
	CHECK(lumen_free(t->c->ctx, t->mem));
}

/* One fabric command that must be accepted. */
static void fabric(const char *req)
{
	char reply[4096];
	int ret = lu_fabric(req, reply, sizeof(reply), 10000);

	if (ret) {
		fprintf(stderr, "lumen-bench-link: fabric %s: %s (%s)\n", req, strerror(-ret),
			reply);
		exit(1);
	}
}

/* Every fiber's rate, MB/s; 0 = unlimited. */
static void set_rate(double mb_s)
{
	char req[128];

	snprintf(req, sizeof(req), "{\"cmd\":\"set\",\"all\":true,\"rate\":%.0f}", mb_s * 1e6);
	fabric(req);
}

/* ---- timed operations ---------------------------------------------------------- */

struct xfer {
	struct card *c;
	const lumen_window_desc_t *d;
	lumen_devptr_t src, dst;
	size_t size;
};

static int remote_write(void *arg)
{
	struct xfer *x = arg;

	CHECK(lumen_remote_write_async(x->c->s, x->d, 0, x->src, x->size));
	CHECK(lumen_stream_synchronize(x->c->s));
	return 0;
}

static int local_copy(void *arg)
{
	struct xfer *x = arg;

	CHECK(lumen_memcpy_d2d_async(x->c->s, x->dst, x->src, x->size));
	CHECK(lumen_stream_synchronize(x->c->s));
	return 0;
}

static double mbps(size_t size, double s)
{
	return s > 0 ? size / 1e6 / s : 0;
}

/*
 * Median round trips (us) of SIGNAL atomics from c to each window d[0..n)
 * and of an 8-byte local copy (rtt[n]), taken in turns so that the load of
 * a noisy host weighs on all alike.
 */
static void atomic_rtts_us(struct card *c, const struct target *t, int n, lumen_devptr_t scratch,
			   double *rtt)
{
	uint64_t *ns = calloc((size_t)atomics * (size_t)(n + 1), sizeof(*ns));

	if (!ns)
		die("out of memory");
	for (int i = -10; i < atomics; i++) /* 10 rounds of warm-up */
		for (int h = 0; h <= n; h++) {
			uint64_t t0 = ld_now_ns();

			if (h < n)
				CHECK(lumen_remote_atomic_async(c->s, &t[h].d, 0,
								LUMEN_ATOMIC_SIGNAL, (uint64_t)i,
								scratch));
			else
				CHECK(lumen_memcpy_d2d_async(c->s, scratch + 8, scratch, 8));
			CHECK(lumen_stream_synchronize(c->s));
			if (i >= 0)
				ns[(size_t)h * atomics + i] = ld_now_ns() - t0;
		}
	for (int h = 0; h <= n; h++) {
		bench_sort_ns(ns + (size_t)h * atomics, atomics);
		rtt[h] = ns[(size_t)h * atomics + atomics / 2] / 1e3;
	}
	free(ns);
}

/* ---- the parts ---------------------------------------------------------------- */

static const char *size_name(size_t n, char *buf, size_t len)
{
	if (n >= MiB)
		snprintf(buf, len, "%lluM", (unsigned long long)(n / MiB));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)(n / KiB));
	return buf;
}

/*
 * What the emulation carries with unlimited fibers: 64 MiB remote writes
 * (best of 2) to chips 1..MAX_HOPS hops away, into cap[1..]. Every hop
 * costs the host CPU (each chip on the way is emulated), so the farthest
 * chip is the bound.
 */
static void capacity(struct card *a, lumen_devptr_t src, double *cap)
{
	set_rate(0);
	for (int h = 1; h <= MAX_HOPS; h++) {
		struct target t;
		struct xfer x;
		double best = 1e9;

		target_open(&t, chip((uint32_t)h), max_size, LUMEN_WINDOW_WRITE);
		x = (struct xfer){a, &t.d, src, 0, max_size};
		for (int i = 0; i < 2; i++) {
			uint64_t t0 = ld_now_ns();
			double s;

			remote_write(&x);
			s = (ld_now_ns() - t0) / 1e9;
			if (s < best)
				best = s;
		}
		target_close(&t);
		cap[h] = mbps(max_size, best);
	}
}

static void bandwidth(struct card *a, lumen_devptr_t src, lumen_devptr_t dst, double rate)
{
	static const size_t sizes[] = {4 * KiB, 64 * KiB, MiB, 16 * MiB, 64 * MiB};
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };
	double d2d[NSIZES], bw[NSIZES][MAX_HOPS + 1];
	char sz[16], name[64], base[32];
	int n = 0;

	while (n < NSIZES && sizes[n] <= max_size)
		n++;
	printf("\nremote write bandwidth, MB/s (ratio to the fiber rate of %.1f MB/s | to a "
	       "local d2d copy of the same size)\n",
	       rate);
	printf("%-6s %10s", "size", "local d2d");
	for (int h = 1; h <= MAX_HOPS; h++)
		printf("   %d hop%s%16s", h, h > 1 ? "s" : " ", "");
	printf("\n");
	for (int k = 0; k < n; k++) {
		struct xfer x = {a, NULL, src, dst, sizes[k]};

		d2d[k] = mbps(sizes[k], bench_best_s(min_ms, local_copy, &x));
		printf("%-6s %10.1f", size_name(sizes[k], sz, sizeof(sz)), d2d[k]);
		fflush(stdout);
		for (int h = 1; h <= MAX_HOPS; h++) {
			struct target t;

			target_open(&t, chip((uint32_t)h), sizes[k], LUMEN_WINDOW_WRITE);
			x.d = &t.d;
			bw[k][h] = mbps(sizes[k], bench_best_s(min_ms, remote_write, &x));
			target_close(&t);
			printf("   %8.1f (%4.2f|%5.3f)", bw[k][h], bw[k][h] / rate,
			       bw[k][h] / d2d[k]);
			fflush(stdout);
		}
		printf("\n");
	}
	printf("target: >= 0.90 of the fiber rate at 64 MiB, every hop count; the rest is "
	       "informational\n");
	for (int k = 0; k < n; k++)
		for (int h = 1; h <= MAX_HOPS; h++) {
			size_name(sizes[k], sz, sizeof(sz));
			snprintf(name, sizeof(name), "link.write.h%d.%s", h, sz);
			bench_figure(name, bw[k][h], "MB/s", "fiber_rate", rate);
			snprintf(name, sizeof(name), "link.write_vs_d2d.h%d.%s", h, sz);
			snprintf(base, sizeof(base), "d2d.%s", sz);
			bench_figure(name, bw[k][h], "MB/s", base, d2d[k]);
		}
}

static void atomic_rtts(struct card *a)
{
	struct target t[MAX_HOPS + 1];
	lumen_devptr_t scratch;
	double rtt[MAX_HOPS + 2];

	CHECK(lumen_malloc(a->ctx, 4096, &scratch));
	for (int h = 0; h <= MAX_HOPS; h++)
		target_open(&t[h], chip((uint32_t)h), 4096, LUMEN_WINDOW_ATOMIC);
	atomic_rtts_us(a, t, MAX_HOPS + 1, scratch, rtt);
	printf("\nremote atomic (SIGNAL) round trip from chip 0, median of %d, us\n", atomics);
	printf("%-10s %10s %14s %12s\n", "hops", "rtt", "ratio to local", "per hop");
	printf("%-10s %10.1f %14s %12s   (an 8-byte local d2d copy: %.1f us)\n", "0 (local)",
	       rtt[0], "1.00", "-", rtt[MAX_HOPS + 1]);
	for (int h = 1; h <= MAX_HOPS; h++)
		printf("%-10d %10.1f %14.2f %12.1f\n", h, rtt[h], rtt[h] / rtt[0],
		       (rtt[h] - rtt[0]) / h);
	printf("target: none set (informational)\n");
	for (int h = 1; h <= MAX_HOPS; h++) {
		char name[48];

		snprintf(name, sizeof(name), "link.atomic_rtt.h%d", h);
		bench_figure(name, rtt[h], "us", "local_signal_rtt", rtt[0]);
	}
	for (int h = 0; h <= MAX_HOPS; h++)
		target_close(&t[h]);
	CHECK(lumen_free(a->ctx, scratch));
}

static void cut_blackout(struct card *a, lumen_devptr_t src)
{
	struct card *b = chip(1);
	struct target t;
	struct lu_sampler smp;
	const long long frames = (long long)(max_size / 4096);
	uint64_t t0, t_cut, t_done, resume, gap;
	lumen_status_t st;

	if (lu_wait_ring_up(lcs, ncards, 10000))
		die("ring ports not up before the cut");
	target_open(&t, b, max_size, LUMEN_WINDOW_WRITE);
	if (lu_sampler_start(&smp, b->lc->pci))
		die("cannot sample chip 1's port counters");
	t0 = ld_now_ns();
	CHECK(lumen_remote_write_async(a->s, &t.d, 0, src, max_size));
	while (atomic_load(&smp.cur) < frames / 4 && ld_now_ns() - t0 < 120 * LD_SEC_NS)
		usleep(1000);
	fabric("{\"cmd\":\"cut\",\"port\":\"0.+x\"}");
	t_cut = ld_now_ns();
	st = lumen_stream_query(a->s);
	CHECK(lumen_stream_synchronize(a->s));
	t_done = ld_now_ns();
	lu_sampler_stop(&smp);
	gap = lu_sampler_gap(&smp, t_cut, t_done, &resume);
	lu_sampler_free(&smp);
	fabric("{\"cmd\":\"restore\",\"port\":\"0.+x\"}");
	target_close(&t);
	if (st != LUMEN_ERROR_NOT_READY)
		die("the write was over before the cut: no blackout measured");
	printf("\nfailover: %llu MiB write 0 -> 1, fiber 0.+x cut after %.0f ms; completed "
	       "%.0f ms later over the long way round\n",
	       (unsigned long long)(max_size / MiB), (t_cut - t0) / 1e6, (t_done - t_cut) / 1e6);
	printf("blackout: %.1f ms without progress at the target (first progress %.1f ms "
	       "after the cut); target: <= 3 x the %d ms end-to-end retransmission period\n",
	       gap / 1e6, resume ? (resume - t_cut) / 1e6 : -1.0, LUMEN_E2E_RETRANSMIT_MS);
	bench_figure("link.cut.blackout", gap / 1e6, "ms", "e2e_retransmit_period",
		     LUMEN_E2E_RETRANSMIT_MS);
	if (lu_wait_ring_up(lcs, ncards, 10000))
		die("the cut fiber's ports did not come back up");
}

int main(int argc, char **argv)
{
	const char *spec = getenv("LUMEN_VM_FABRIC");
	lumen_devptr_t src, dst;
	double cap[MAX_HOPS + 1], low, rate;
	struct card *a;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
			min_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-mib") && i + 1 < argc)
			max_size = strtoull(argv[++i], NULL, 10) * MiB;
		else if (!strcmp(argv[i], "--rate-frac") && i + 1 < argc)
			rate_frac = atof(argv[++i]);
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate_mbps = atof(argv[++i]);
		else if (!strcmp(argv[i], "--atomics") && i + 1 < argc)
			atomics = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-cut"))
			do_cut = 0;
		else {
			fprintf(stderr,
				"usage: %s [--min-ms MS] [--max-mib M] [--rate-frac F | --rate "
				"MBPS] "
				"[--atomics N] [--no-cut]\n",
				argv[0]);
			return 2;
		}
	}
	if (max_size < 4 * MiB || max_size > 128 * MiB || atomics < 1 || rate_frac <= 0 ||
	    rate_frac > 1 || rate_mbps < 0)
		die("--max-mib wants 4..128, --atomics >= 1, --rate-frac 0..1, --rate > 0");
	if (!spec || sscanf(spec, "ring:%d", &ring) != 1 || ring < 2 * MAX_HOPS)
		die("run me on a ring of 6 or more chips: tests/vm/run --cards 6 --fabric ring");
	ncards = lu_cards(lcs);
	if (ncards < ring)
		die("every chip of the ring must be in this guest");
	for (int i = 0; i < ncards; i++) {
		lumen_device_t dev;

		cards[i].lc = &lcs[i];
		CHECK(lumen_device_get(i, &dev));
		CHECK(lumen_context_create(dev, &cards[i].ctx));
		CHECK(lumen_stream_create(cards[i].ctx, &cards[i].s));
	}
	if (lu_wait_ring_up(lcs, ncards, 30000))
		die("ring ports not up after 30 s");
	if (lu_program_routes())
		die("lumen-route program failed");
	a = chip(0);
	CHECK(lumen_malloc(a->ctx, max_size, &src));
	CHECK(lumen_malloc(a->ctx, max_size, &dst));
	CHECK(lumen_memset(a->ctx, src, 0x42, max_size));

	printf("lumen-bench-link: %s, chip 0 to chips 1..%d hops away; fabric seed %s\n", spec,
	       MAX_HOPS, getenv("LUMEN_VM_FABRIC_SEED") ? getenv("LUMEN_VM_FABRIC_SEED") : "?");
	capacity(a, src, cap);
	low = cap[1];
	for (int h = 2; h <= MAX_HOPS; h++)
		low = cap[h] < low ? cap[h] : low;
	rate = rate_mbps > 0 ? rate_mbps : low * rate_frac;
	printf("the emulation carries, with unlimited fibers, MB/s:");
	for (int h = 1; h <= MAX_HOPS; h++)
		printf(" %.1f at %d hop%s%s", cap[h], h, h > 1 ? "s" : "",
		       h < MAX_HOPS ? "," : "\n");
	printf("fiber rate set to %.1f MB/s (%s)\n", rate,
	       rate_mbps > 0 ? "--rate" : "--rate-frac of the lowest");
	for (int h = 1; h <= MAX_HOPS; h++) {
		char name[48];

		snprintf(name, sizeof(name), "link.unlimited.h%d", h);
		bench_figure(name, cap[h], "MB/s", NULL, 0);
	}
	set_rate(rate);

	bandwidth(a, src, dst, rate);
	atomic_rtts(a);
	if (do_cut)
		cut_blackout(a, src);
	set_rate(0);
	for (int i = 0; i < ncards; i++)
		lumen_context_destroy(cards[i].ctx);
	return 0;
}
