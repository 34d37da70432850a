// SPDX-License-Identifier: MIT
/*
 * Remote memory traffic through link faults, on cards cabled in a ring by
 * lumen-fabric (hw-spec 13.3 replay, 13.4 fast failover, 13.7 end-to-end
 * layer), driving the fabric from inside the guest ($LUMEN_FABRIC_CTL):
 *
 *   tests/vm/run --no-build --cards 4 --fabric ring -- lumen-guest-tests link_faults
 *
 * The suite programs the ring's routes itself (lumen-route program: DOR with
 * datelines, the other direction as alternative port).
 *   - bit_errors: BER 1e-5 on fiber 0.+x <-> 1.-x; a 1 MiB remote write
 *     0 -> 1 and a 1 MiB remote read back are byte-exact (guard bytes
 *     around the window checked), and both ends of that fiber counted CRC
 *     errors and retransmits (the fabric flipped bits both ways);
 *   - cut_mid_write: one 64 MiB remote write 0 -> 1; once a quarter of it
 *     arrived, fiber 0.+x is cut. The write completes byte-exact over the
 *     alternative path (the long way round), the cut ports show down with
 *     down_events + 1 and chip 0's -x counted failovers; the blackout (the
 *     longest time without progress at the target, from its ports' DATA
 *     counters) is printed. After the restore both ends are up again
 *     within 10 s and traffic takes the direct fiber again.
 *   - fabric_stopped: only with LUMEN_LINK_FAULTS_STOP=1, run by
 *     tests/link/fabric-stop, which SIGSTOPs lumen-fabric for a few seconds
 *     once this test prints LUMEN-FABRIC-STOP-NOW (the test then runs
 *     alone). Local copies on both cards keep completing and a heartbeat
 *     thread keeps its pace while remote writes 0 -> 1 stall; those fail
 *     cleanly (TIMEOUT or UNREACHABLE) or wait, and succeed again after
 *     SIGCONT, byte-exact.
 * Without a ring fabric (LUMEN_VM_FABRIC) or a link engine everything skips.
 * LUMEN_LINK_FAULTS_ONLY=TEST runs one test; LUMEN_LINK_FAULTS_BER=X and
 * LUMEN_LINK_FAULTS_BER_KIB=N set bit_errors' error rate (default 1e-5) and
 * size (default 128), to reproduce and compare.
 */
#include "rt_test.h"

#include <stdatomic.h>
#include <unistd.h>

#include "guest_util.h"
#include "link_util.h"

#define BIG		  (64 * MiB)
#define GUARD		  0xa5
/*
 * 1 MiB: 256 packets, four end-to-end windows. At BER 1e-5 a 4 KiB frame is
 * hit 28% of the time, so go-back-N replays are frequent and the end-to-end
 * layer backs off its retransmissions (hw-spec 13.7); 4 MiB takes ~6 s each
 * way under TCG (LUMEN_LINK_FAULTS_BER_KIB=4096).
 */
#define BER_BYTES_DEFAULT (1 * MiB)
#define STOP_BYTES	  (256 * KiB)
/* Bounds for waits that must end (TCG on a loaded 2-core host). */
#define XFER_WAIT_MS	  120000
#define PORT_WAIT_MS	  10000

struct card {
	const struct lu_card *lc;
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
};

struct fx {
	int n;
	int ready; /* ring fabric, link engine, routes programmed */
	struct lu_card lc[LU_MAX_CARDS];
	struct card c[LU_MAX_CARDS];
	struct card *c0, *c1; /* chips 0 and 1: +x of 0 faces -x of 1 */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	lumen_link_info_t li;

	if (!f)
		return -1;
	*state = f;
	if (!fabric || strncmp(fabric, "ring:", 5)) {
		printf("# no ring fabric (LUMEN_VM_FABRIC=%s): link_faults skipped\n",
		       fabric ? fabric : "");
		return 0;
	}
	f->n = lu_cards(f->lc);
	if (f->n < 2) {
		fprintf(stderr, "link_faults setup: %d cards, need 2\n", f->n);
		return -1;
	}
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		c->lc = &f->lc[i];
		if (rt_context_open(i, &c->dev, &c->ctx, "link_faults setup") ||
		    lumen_stream_create(c->ctx, &c->s))
			return -1;
		if (c->lc->chip == 0)
			f->c0 = c;
		if (c->lc->chip == 1)
			f->c1 = c;
	}
	LUMEN_STRUCT_INIT(li);
	if (lumen_device_get_link_info(f->c[0].dev, &li)) {
		printf("# no link engine (%s): link_faults skipped\n", lumen_get_last_error());
		return 0;
	}
	if (!f->c0 || !f->c1) {
		fprintf(stderr, "link_faults setup: chips 0 and 1 must be local\n");
		return -1;
	}
	if (lu_wait_ring_up(f->lc, f->n, 30000)) {
		fprintf(stderr, "link_faults setup: ring ports not up after 30 s\n");
		return -1;
	}
	if (lu_program_routes()) {
		fprintf(stderr, "link_faults setup: lumen-route program failed\n");
		return -1;
	}
	f->ready = 1;
	printf("# %d cards on %s, routes programmed, fabric seed %s\n", f->n, fabric,
	       getenv("LUMEN_VM_FABRIC_SEED") ? getenv("LUMEN_VM_FABRIC_SEED") : "?");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < f->n; i++)
		if (f->c[i].ctx)
			lumen_context_destroy(f->c[i].ctx);
	free(f);
	return 0;
}

/* After each test, whatever it did to the fabric is undone: BER off, every
 * fiber lit, the ports up again. */
static int fabric_reset(void **state)
{
	struct fx *f = *state;

	if (!f->ready)
		return 0;
	if (lu_fabricf(NULL, 0, "{\"cmd\":\"set\",\"all\":true,\"ber\":0}") ||
	    lu_fabricf(NULL, 0, "{\"cmd\":\"restore\",\"all\":true}") ||
	    lu_wait_ring_up(f->lc, f->n, PORT_WAIT_MS)) {
		fprintf(stderr, "link_faults: the fabric could not be reset\n");
		return -1;
	}
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

/* Poll the stream until its work is done or ms passed: its status, or
 * LUMEN_ERROR_NOT_READY if it is still running. */
static lumen_status_t stream_wait(lumen_stream_t s, int ms)
{
	uint64_t end = ld_now_ns() + (uint64_t)ms * 1000000ull;
	lumen_status_t st;

	while ((st = lumen_stream_query(s)) == LUMEN_ERROR_NOT_READY && ld_now_ns() < end)
		usleep(1000);
	return st;
}

/* What the links did, for a failure's report. */
static void dump_links(const char *why)
{
	printf("# %s: the links now (npu-smi link, chip counters):\n", why);
	fflush(stdout);
	gu_system("npu-smi link; for d in /sys/bus/pci/devices/*/links; do "
		  "echo \"chip $(cat $d/chip_id):\" $(cd $d && grep -H . e2e_* *_drops "
		  "bad_pkts 2>/dev/null); done");
}

/* stream_wait() that must succeed; the links are shown if not. */
#define STREAM_OK(s, what)                                                                         \
	do {                                                                                       \
		lumen_status_t st_ = stream_wait((s), XFER_WAIT_MS);                               \
		if (st_ != LUMEN_SUCCESS) {                                                        \
			dump_links(what);                                                          \
			fail_msg("%s: %s (\"%s\")", what, rt_st(st_), lumen_get_last_error());     \
		}                                                                                  \
	} while (0)

static long long pnum(const struct card *c, int port, const char *name)
{
	long long v = lu_port_num(c->lc->pci, port, name);

	if (v < 0)
		fail_msg("chip %u port %d: no readable %s", c->lc->chip, port, name);
	return v;
}

static void fabric_ok(const char *json)
{
	char reply[4096];
	int ret = lu_fabric(json, reply, sizeof(reply), 10000);

	if (ret)
		fail_msg("fabric %s: %s (%s)", json, strerror(-ret), reply);
}

/* A target of size bytes between two 4 KiB guards, filled with GUARD, and a
 * window on the middle. */
struct target {
	struct card *c;
	lumen_devptr_t mem;
	size_t size;
	lumen_window_t win;
	lumen_window_desc_t desc;
};

static void target_open(struct target *t, struct card *c, size_t size)
{
	t->c = c;
	t->size = size;
	RT_OK(lumen_malloc(c->ctx, size + 8 * KiB, &t->mem));
	RT_OK(lumen_memset(c->ctx, t->mem, GUARD, size + 8 * KiB));
	RT_OK(lumen_window_open(c->ctx, t->mem + 4 * KiB, size,
				LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &t->win));
	RT_OK(lumen_window_get_desc(t->win, &t->desc));
}

static void target_close(struct target *t)
{
	RT_OK(lumen_window_close(t->win));
	RT_OK(lumen_free(t->c->ctx, t->mem));
}

/* The target holds pattern seed in its window and GUARD around it. */
static void target_expect(struct target *t, uint8_t *h, uint32_t seed, const char *what)
{
	memset(h, 0, t->size + 8 * KiB);
	rt_d2h(t->c->ctx, h, t->mem, t->size + 8 * KiB);
	for (size_t i = 0; i < 4 * KiB; i++)
		if (h[i] != GUARD || h[4 * KiB + t->size + i] != GUARD)
			fail_msg("%s: a guard byte around the window changed (%zu)", what, i);
	rt_expect_pattern(h + 4 * KiB, t->size, seed, 0, what);
}

/* ---- bit errors ------------------------------------------------------------- */

struct ctr {
	long long crc, retx;
};

static struct ctr ctr_of(const struct card *c, int port)
{
	return (struct ctr){pnum(c, port, "crc_errors"), pnum(c, port, "retransmits")};
}

static void bit_errors(void **state)
{
	struct fx *f = *state;
	struct card *a = f->c0, *b = f->c1;
	struct target t;
	lumen_devptr_t src, dst;
	struct ctr a0, b1, a0w, b1w, a0r, b1r;
	const char *kib = getenv("LUMEN_LINK_FAULTS_BER_KIB");
	const size_t n = kib ? strtoul(kib, NULL, 10) * KiB : BER_BYTES_DEFAULT;
	uint8_t *h = malloc(n + 8 * KiB);
	char reply[8192], req[128];
	const char *ber =
		getenv("LUMEN_LINK_FAULTS_BER") ? getenv("LUMEN_LINK_FAULTS_BER") : "1e-5";
	long long flips;
	uint64_t t0;

	if (!f->ready)
		skip();
	assert_non_null(h);
	assert_true(n > 0 && n <= 64 * MiB);
	assert_true(*ber && strspn(ber, "0123456789.eE-+") == strlen(ber));
	target_open(&t, b, n);
	RT_OK(lumen_malloc(a->ctx, n, &src));
	RT_OK(lumen_malloc(a->ctx, n + 8 * KiB, &dst));
	ld_pattern(h, n, 4242);
	rt_h2d(a->ctx, src, h, n);

	snprintf(req, sizeof(req), "{\"cmd\":\"set\",\"port\":\"0.+x\",\"ber\":%s}", ber);
	fabric_ok(req);
	a0 = ctr_of(a, 0);
	b1 = ctr_of(b, 1);
	/* Write 0 -> 1: DATA frames 0.+x -> 1.-x get the flipped bits. */
	t0 = ld_now_ns();
	RT_OK(lumen_remote_write_async(a->s, &t.desc, 0, src, n));
	STREAM_OK(a->s, "BER: remote write");
	printf("# BER %s: %zu KiB write 0 -> 1 in %.0f ms\n", ber, (size_t)(n / KiB),
	       (ld_now_ns() - t0) / 1e6);
	a0w = ctr_of(a, 0);
	b1w = ctr_of(b, 1);
	/* Read back: READ_RESP frames 1.-x -> 0.+x get them. */
	RT_OK(lumen_memset(a->ctx, dst, 0x5a, n + 8 * KiB));
	t0 = ld_now_ns();
	RT_OK(lumen_remote_read_async(a->s, dst + 4 * KiB, &t.desc, 0, n));
	STREAM_OK(a->s, "BER: remote read");
	printf("# BER %s: %zu KiB read 1 -> 0 in %.0f ms\n", ber, (size_t)(n / KiB),
	       (ld_now_ns() - t0) / 1e6);
	a0r = ctr_of(a, 0);
	b1r = ctr_of(b, 1);
	assert_int_equal(
		lu_fabric("{\"cmd\":\"counters\",\"port\":\"0.+x\"}", reply, sizeof(reply), 10000),
		0);
	flips = lu_json_sum(reply, "bits_flipped");
	fabric_ok("{\"cmd\":\"set\",\"port\":\"0.+x\",\"ber\":0}");

	printf("# write: chip 1 -x crc_errors +%lld, chip 0 +x retransmits +%lld\n",
	       b1w.crc - b1.crc, a0w.retx - a0.retx);
	printf("# read:  chip 0 +x crc_errors +%lld, chip 1 -x retransmits +%lld\n",
	       a0r.crc - a0w.crc, b1r.retx - b1w.retx);
	printf("# fabric: %lld bits flipped on the fiber; down_events chip 0 +x %lld\n", flips,
	       pnum(a, 0, "down_events"));
	/* Byte-exact both ways, guards untouched. */
	target_expect(&t, h, 4242, "BER: remote write at the target");
	memset(h, 0, n + 8 * KiB);
	rt_d2h(a->ctx, h, dst, n + 8 * KiB);
	for (size_t i = 0; i < 4 * KiB; i++)
		if (h[i] != 0x5a || h[4 * KiB + n + i] != 0x5a)
			fail_msg("BER: the remote read wrote outside its destination (%zu)", i);
	rt_expect_pattern(h + 4 * KiB, n, 4242, 0, "BER: remote read back");
	/* The link layer saw and repaired the errors, in each direction. */
	assert_true(flips > 0);
	assert_true(b1w.crc > b1.crc);
	assert_true(a0w.retx > a0.retx);
	assert_true(a0r.crc > a0w.crc);
	assert_true(b1r.retx > b1w.retx);

	RT_OK(lumen_free(a->ctx, src));
	RT_OK(lumen_free(a->ctx, dst));
	target_close(&t);
	free(h);
}

/* ---- a cut in the middle of a 64 MiB write ---------------------------------- */

static void cut_mid_write(void **state)
{
	struct fx *f = *state;
	struct card *a = f->c0, *b = f->c1;
	struct target t;
	struct lu_sampler smp;
	lumen_devptr_t src;
	uint8_t *h = malloc(BIG + 8 * KiB);
	long long down_a, down_b, fo_a, tx_a;
	const long long frames = BIG / 4096;
	uint64_t t0, t_cut, t_done, resume, gap;
	lumen_status_t st;
	long ms;

	if (!f->ready)
		skip();
	assert_non_null(h);
	assert_true(lu_wait_ring_up(f->lc, f->n, PORT_WAIT_MS) == 0);
	target_open(&t, b, BIG);
	RT_OK(lumen_malloc(a->ctx, BIG, &src));
	ld_pattern(h, BIG, 6464);
	rt_h2d(a->ctx, src, h, BIG);
	down_a = pnum(a, 0, "down_events");
	down_b = pnum(b, 1, "down_events");
	fo_a = pnum(a, 1, "failovers");

	assert_int_equal(lu_sampler_start(&smp, b->lc->pci), 0);
	t0 = ld_now_ns();
	RT_OK(lumen_remote_write_async(a->s, &t.desc, 0, src, BIG));
	/* A quarter of the packets arrived: cut the direct fiber. */
	while (atomic_load(&smp.cur) < frames / 4) {
		if (ld_now_ns() - t0 > XFER_WAIT_MS * 1000000ull) {
			lu_sampler_stop(&smp);
			fail_msg("64 MiB write: %lld of %lld packets after %d s",
				 atomic_load(&smp.cur), frames, XFER_WAIT_MS / 1000);
		}
		usleep(1000);
	}
	if (lu_fabric("{\"cmd\":\"cut\",\"port\":\"0.+x\"}", NULL, 0, 10000)) {
		lu_sampler_stop(&smp);
		fail_msg("lumen-fabric did not cut fiber 0.+x");
	}
	t_cut = ld_now_ns();
	st = lumen_stream_query(a->s);
	if (st != LUMEN_ERROR_NOT_READY) {
		lu_sampler_stop(&smp);
		fail_msg(
			"the 64 MiB write was over (%s) when the cut took effect: not mid-transfer",
			rt_st(st));
	}
	printf("# fiber 0.+x cut after %.0f ms, %lld of %lld packets at chip 1\n",
	       (t_cut - t0) / 1e6, atomic_load(&smp.cur), frames);
	ms = lu_wait_port_state(a->lc->pci, 0, "down", 5000);
	st = stream_wait(a->s, XFER_WAIT_MS);
	t_done = ld_now_ns();
	lu_sampler_stop(&smp);
	if (st != LUMEN_SUCCESS) {
		dump_links("64 MiB write across a cut");
		fail_msg("64 MiB write across a cut: %s (\"%s\")", rt_st(st),
			 lumen_get_last_error());
	}
	assert_true(ms >= 0);
	gap = lu_sampler_gap(&smp, t_cut, t_done, &resume);
	printf("# 64 MiB write 0 -> 1 completed %.0f ms after the cut (%.0f ms in all, %.1f "
	       "MB/s)\n",
	       (t_done - t_cut) / 1e6, (t_done - t0) / 1e6, BIG / 1e6 / ((t_done - t0) / 1e9));
	printf("# blackout: %.1f ms without progress at the target (progress resumed %.1f ms "
	       "after the cut); chip 0 +x went down %ld ms after the cut command\n",
	       gap / 1e6, resume ? (resume - t_cut) / 1e6 : -1.0, ms);

	/* The cut ports are down, counted once; the detour took the traffic. */
	{
		char st0[32], st1[32];

		assert_int_equal(lu_port_state(a->lc->pci, 0, st0, sizeof(st0)), 0);
		assert_int_equal(lu_port_state(b->lc->pci, 1, st1, sizeof(st1)), 0);
		assert_string_equal(st0, "down");
		assert_string_equal(st1, "down");
	}
	assert_int_equal(pnum(a, 0, "down_events"), down_a + 1);
	assert_int_equal(pnum(b, 1, "down_events"), down_b + 1);
	assert_true(pnum(a, 1, "failovers") > fo_a);
	target_expect(&t, h, 6464, "64 MiB written across a fiber cut");
	printf("# 64 MiB byte-exact at chip 1, guards intact; chip 0 -x failovers +%lld\n",
	       pnum(a, 1, "failovers") - fo_a);

	/* Light back on: both ends up again, counted no further down. */
	fabric_ok("{\"cmd\":\"restore\",\"port\":\"0.+x\"}");
	t0 = ld_now_ns();
	ms = lu_wait_port_state(a->lc->pci, 0, "up", PORT_WAIT_MS);
	assert_true(ms >= 0);
	assert_true(lu_wait_port_state(b->lc->pci, 1, "up", PORT_WAIT_MS) >= 0);
	printf("# after the restore both ends are up in %.0f ms\n", (ld_now_ns() - t0) / 1e6);
	assert_int_equal(pnum(a, 0, "down_events"), down_a + 1);
	assert_int_equal(pnum(b, 1, "down_events"), down_b + 1);
	/* New traffic takes the direct fiber again. */
	tx_a = pnum(a, 0, "data_tx");
	RT_OK(lumen_remote_write_async(a->s, &t.desc, 0, src, MiB));
	STREAM_OK(a->s, "1 MiB write after the restore");
	assert_true(pnum(a, 0, "data_tx") >= tx_a + (long long)(MiB / 4096));

	lu_sampler_free(&smp);
	RT_OK(lumen_free(a->ctx, src));
	target_close(&t);
	free(h);
}

/* ---- lumen-fabric stopped (SIGSTOP from the host) --------------------------- */

struct ticker {
	pthread_t th;
	atomic_int stop;
	uint64_t max_gap, max_at; /* ns; when the longest gap ended */
	long count;
	/* copier only */
	struct card *c;
	lumen_context_t ctx;
	lumen_stream_t s;
	lumen_devptr_t a, b;
	uint64_t *done; /* completion times */
	long cap;
	lumen_status_t st;
};

static void tick(struct ticker *k, uint64_t *prev)
{
	uint64_t now = ld_now_ns();

	if (now - *prev > k->max_gap) {
		k->max_gap = now - *prev;
		k->max_at = now;
	}
	*prev = now;
	if (k->done && k->count < k->cap)
		k->done[k->count] = now;
	k->count++;
}

/* A heartbeat: 10 ms sleeps, the longest one measured. */
static void *heartbeat_run(void *arg)
{
	struct ticker *k = arg;
	uint64_t prev = ld_now_ns();

	while (!atomic_load(&k->stop)) {
		usleep(10000);
		tick(k, &prev);
	}
	return NULL;
}

/* Local 1 MiB device-to-device copies, back to back, on its own context. */
static void *copier_run(void *arg)
{
	struct ticker *k = arg;
	uint64_t prev = ld_now_ns();

	while (!atomic_load(&k->stop)) {
		k->st = lumen_memcpy_d2d_async(k->s, k->b, k->a, MiB);
		if (k->st == LUMEN_SUCCESS)
			k->st = stream_wait(k->s, XFER_WAIT_MS);
		if (k->st != LUMEN_SUCCESS)
			break;
		tick(k, &prev);
	}
	return NULL;
}

static void copier_start(struct ticker *k, struct card *c)
{
	lumen_device_t dev;

	memset(k, 0, sizeof(*k));
	k->c = c;
	k->cap = 1 << 16;
	k->done = calloc((size_t)k->cap, sizeof(*k->done));
	assert_non_null(k->done);
	assert_int_equal(rt_context_open(c->lc->index, &dev, &k->ctx, "copier"), 0);
	RT_OK(lumen_stream_create(k->ctx, &k->s));
	RT_OK(lumen_malloc(k->ctx, MiB, &k->a));
	RT_OK(lumen_malloc(k->ctx, MiB, &k->b));
	RT_OK(lumen_memset(k->ctx, k->a, 0x3c, MiB));
	assert_int_equal(pthread_create(&k->th, NULL, copier_run, k), 0);
}

static void ticker_stop(struct ticker *k)
{
	atomic_store(&k->stop, 1);
	pthread_join(k->th, NULL);
}

/* Copies a copier completed in [from, to]. */
static long done_between(const struct ticker *k, uint64_t from, uint64_t to)
{
	long n = 0;

	for (long i = 0; i < k->count && i < k->cap; i++)
		n += k->done[i] >= from && k->done[i] <= to;
	return n;
}

static void fabric_stopped(void **state)
{
	struct fx *f = *state;
	struct card *a = f->c0, *b = f->c1;
	struct target t;
	struct ticker hb, cp[2];
	lumen_devptr_t src;
	uint8_t *h = malloc(STOP_BYTES + 8 * KiB);
	uint64_t t0, last_ok, stall = 0, stall_from = 0, stall_to = 0;
	long ok = 0, ok_after = 0, timeouts = 0, unreachable = 0;
	uint32_t seed = 0, good_seed = 0;
	lumen_status_t bad = LUMEN_SUCCESS;
	const char *want = getenv("LUMEN_LINK_FAULTS_STOP");

	if (!f->ready || !want || strcmp(want, "1")) {
		printf("# run by tests/link/fabric-stop only (LUMEN_LINK_FAULTS_STOP=1)\n");
		skip();
	}
	assert_non_null(h);
	assert_true(lu_wait_ring_up(f->lc, f->n, PORT_WAIT_MS) == 0);
	target_open(&t, b, STOP_BYTES);
	RT_OK(lumen_malloc(a->ctx, STOP_BYTES, &src));
	/* The pace of things before the stop. */
	memset(&hb, 0, sizeof(hb));
	assert_int_equal(pthread_create(&hb.th, NULL, heartbeat_run, &hb), 0);
	copier_start(&cp[0], a);
	copier_start(&cp[1], b);

	printf("LUMEN-FABRIC-STOP-NOW: remote writes 0 -> 1 of %llu KiB from here on\n",
	       STOP_BYTES / KiB);
	fflush(stdout);
	t0 = last_ok = ld_now_ns();
	/*
	 * Remote writes until one stalled >= 3 s (the stop) and 20 went through
	 * after it; a failed one (TIMEOUT, or UNREACHABLE while the ports are
	 * down) is retried after 50 ms.
	 */
	while (ok_after < 20 && bad == LUMEN_SUCCESS) {
		lumen_status_t st;

		if (ld_now_ns() - t0 > 150 * LD_SEC_NS)
			break;
		ld_pattern(h, STOP_BYTES, ++seed);
		st = lumen_memcpy(a->ctx, (void *)(uintptr_t)src, h, STOP_BYTES,
				  LUMEN_COPY_HOST_TO_DEVICE);
		if (st == LUMEN_SUCCESS)
			st = lumen_remote_write_async(a->s, &t.desc, 0, src, STOP_BYTES);
		if (st == LUMEN_SUCCESS)
			st = stream_wait(a->s, XFER_WAIT_MS);
		if (st == LUMEN_SUCCESS) {
			uint64_t now = ld_now_ns();

			if (now - last_ok > stall) {
				stall = now - last_ok;
				stall_from = last_ok;
				stall_to = now;
			}
			last_ok = now;
			good_seed = seed;
			ok++;
			ok_after += stall >= 3 * LD_SEC_NS;
			continue;
		}
		if (st == LUMEN_ERROR_TIMEOUT)
			timeouts++;
		else if (st == LUMEN_ERROR_UNREACHABLE)
			unreachable++;
		else
			bad = st; /* fails once the threads are stopped */
		rt_sleep_ms(50);
	}
	atomic_store(&hb.stop, 1);
	pthread_join(hb.th, NULL);
	ticker_stop(&cp[0]);
	ticker_stop(&cp[1]);
	if (bad != LUMEN_SUCCESS)
		fail_msg("remote write around the fabric's stop: %s (\"%s\")", rt_st(bad),
			 lumen_get_last_error());

	printf("# remote writes: %ld done, longest stall %.0f ms, %ld TIMEOUT and %ld "
	       "UNREACHABLE failures retried, %ld done after the stall\n",
	       ok, stall / 1e6, timeouts, unreachable, ok_after);
	printf("# heartbeat: longest 10 ms sleep took %.0f ms (%ld beats)\n", hb.max_gap / 1e6,
	       hb.count);
	for (int i = 0; i < 2; i++)
		printf("# local copies on chip %u: %ld, %ld during the stall, longest gap %.0f "
		       "ms\n",
		       cp[i].c->lc->chip, cp[i].count, done_between(&cp[i], stall_from, stall_to),
		       cp[i].max_gap / 1e6);
	if (stall < 3 * LD_SEC_NS)
		fail_msg("no remote write stalled >= 3 s: was lumen-fabric stopped?");
	if (ok_after < 20)
		fail_msg("remote writes did not resume after the stall (%ld of 20)", ok_after);
	for (int i = 0; i < 2; i++) {
		if (cp[i].st != LUMEN_SUCCESS)
			fail_msg("local copies on chip %u failed: %s", cp[i].c->lc->chip,
				 rt_st(cp[i].st));
		/* Local work does not wait for the links. */
		assert_true(done_between(&cp[i], stall_from + LD_SEC_NS, stall_to - LD_SEC_NS) > 0);
		assert_true(cp[i].max_gap < 2 * LD_SEC_NS);
	}
	/* The guest stayed responsive. */
	assert_true(hb.max_gap < 2 * LD_SEC_NS);
	/* The last write that completed is what the target holds. */
	target_expect(&t, h, good_seed, "the last remote write after SIGCONT");
	for (int i = 0; i < 2; i++) {
		lumen_context_destroy(cp[i].ctx);
		free(cp[i].done);
	}
	RT_OK(lumen_free(a->ctx, src));
	target_close(&t);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(bit_errors, fabric_reset),
		cmocka_unit_test_teardown(cut_mid_write, fabric_reset),
		cmocka_unit_test_teardown(fabric_stopped, fabric_reset),
	};
	const char *stop = getenv("LUMEN_LINK_FAULTS_STOP");

	/* The host stops the fabric for this test alone. */
	if (stop && !strcmp(stop, "1"))
		cmocka_set_test_filter("fabric_stopped");
	else if (getenv("LUMEN_LINK_FAULTS_ONLY")) /* one test, e.g. "bit_errors" */
		cmocka_set_test_filter(getenv("LUMEN_LINK_FAULTS_ONLY"));
	return cmocka_run_group_tests_name("link_faults", tests, setup, teardown);
}
