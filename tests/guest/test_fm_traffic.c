// SPDX-License-Identifier: MIT
/*
 * Remote writes between every ordered pair of chips of a supernode, all
 * guests at once, for the fabric manager's scenarios (tests/fm): whoever
 * programmed the routes (lumen-fm, or lumen-route with
 * LUMEN_FM_TRAFFIC_ROUTES=local), every chip must reach every other one,
 * byte-exact.
 *
 *   tests/vm/run --no-build --guests 2 --cards 4 --fabric torus:2x4 -- \
 *     env LUMEN_FM_TRAFFIC_ROUTES=local lumen-guest-tests fm_traffic
 *
 * Every guest runs the suite. Setup opens a window on each local chip (one
 * slot per source chip) and exchanges the descriptors (lumen-vm-exchange).
 * A round, on every local chip at once (a thread per card): write a
 * per-pair, per-round pattern to the chip's slot of every other chip's
 * window (a fixed, unaligned range per pair), read every range back and
 * compare. After the last round the guests meet, exchange how many rounds
 * each chip did, and check their targets in their own memory: each slot
 * holds its source's last pattern, guard bytes everywhere else.
 *   - every_pair: one round (skipped with LUMEN_FM_TRAFFIC_CTL);
 *   - every_pair_continuous: with LUMEN_FM_TRAFFIC_CTL=DIR (else skipped),
 *     rounds run until DIR/stop exists (at most LUMEN_FM_TRAFFIC_MAX_S,
 *     default 300 s), then one more; DIR/running appears once every local
 *     chip finished its first round. The caller cuts fibers, re-patches or
 *     kills managers in between: traffic across the event.
 * Without a fabric of guests x cards chips (LUMEN_VM_FABRIC) it skips.
 */
#include "rt_test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_util.h"
#include "link_util.h"
#include "vm_sync.h"

#define MAX_CHIPS 16
#define SLOT	  (32 * KiB)
#define WIN_OFF	  (4 * KiB + 100) /* an unaligned window base */
#define SRC_OFF	  3		  /* odd offsets of the local buffers too */
#define DST_OFF	  5
#define GUARD	  0xa5
#define SYNC_S	  180 /* rendezvous timeout */
#define WAIT_MS	  120000
#define WHO	  "fm_traffic"

/* What a guest tells the others about each of its chips. */
struct rec {
	uint32_t chip;
	uint32_t rounds; /* in the rounds exchange: rounds done */
	uint32_t failed; /* and whether the next one failed half-way */
	uint32_t pad;
	lumen_window_desc_t win;
};

struct card {
	const struct lu_card *lc;
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
	lumen_devptr_t src, dst, tgt;
	lumen_window_t win;
	uint8_t *host; /* this card's thread's buffer, chips * SLOT */
	/* a run of rounds */
	pthread_t th;
	int rounds;
	uint64_t max_round_ns;
	char err[320]; /* the first failure, "" if none */
};

struct fx {
	int g, guests, n, chips;
	struct lu_card lc[LU_MAX_CARDS];
	struct card c[LU_MAX_CARDS];
	struct rec peer[MAX_CHIPS]; /* by chip id */
	uint32_t last[MAX_CHIPS];   /* rounds each chip did in the last run */
	uint32_t broke[MAX_CHIPS];  /* and whether it failed in the next one */
	uint8_t *host, *want;
	size_t tgt_size;
	int synced;
	/* continuous runs */
	const char *ctl;
	atomic_int stop;
};

static struct fx *F;

/* ---- the pattern of a pair ---------------------------------------------------- */

static size_t pair_off(uint32_t a, uint32_t b)
{
	return 1 + (a * 7 + b * 3) % 61;
}

static size_t pair_len(uint32_t a, uint32_t b)
{
	/* 4-6 packets: all pairs at once stay light enough for TCG guests. */
	return 12 * KiB + 1 + (a * MAX_CHIPS + b) * 37;
}

static uint32_t pair_seed(uint32_t a, uint32_t b, uint32_t round)
{
	return ((round + 1) << 16) | (a << 8) | (b + 1);
}

/* ---- setup -------------------------------------------------------------------- */

static int card_open(struct fx *f, int i)
{
	struct card *c = &f->c[i];
	size_t buf = (size_t)f->chips * SLOT;

	c->lc = &f->lc[i];
	c->host = malloc(buf);
	if (!c->host)
		return -1;
	if (rt_context_open(i, &c->dev, &c->ctx, WHO " setup") ||
	    lumen_stream_create(c->ctx, &c->s) || lumen_malloc(c->ctx, buf, &c->src) ||
	    lumen_malloc(c->ctx, buf, &c->dst) || lumen_malloc(c->ctx, f->tgt_size, &c->tgt) ||
	    lumen_memset(c->ctx, c->tgt, GUARD, f->tgt_size) ||
	    lumen_window_open(c->ctx, c->tgt + WIN_OFF, buf, LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE,
			      &c->win)) {
		fprintf(stderr, WHO " setup: chip %u: %s\n", c->lc->chip, lumen_get_last_error());
		return -1;
	}
	return 0;
}

static int exchange_descs(struct fx *f)
{
	struct rec mine[LU_MAX_CARDS];
	int seen = 0;

	memset(mine, 0, sizeof(mine));
	for (int i = 0; i < f->n; i++) {
		mine[i].chip = f->c[i].lc->chip;
		if (lumen_window_get_desc(f->c[i].win, &mine[i].win))
			return -1;
	}
	if (vs_exchange(WHO, "fmt-descs", mine, sizeof(mine[0]) * (size_t)f->n, SYNC_S))
		return -1;
	for (int g = 0; g < f->guests; g++) {
		size_t len = 0;
		struct rec *r = vs_exchanged("fmt-descs", g, &len);

		if (!r || len % sizeof(*r)) {
			fprintf(stderr, WHO ": guest %d's descriptors: %zu bytes\n", g, len);
			free(r);
			return -1;
		}
		for (size_t k = 0; k < len / sizeof(*r); k++) {
			if (r[k].chip >= (uint32_t)f->chips || r[k].win.chip_id != r[k].chip ||
			    r[k].win.magic != LUMEN_WINDOW_DESC_MAGIC ||
			    f->peer[r[k].chip].win.magic) {
				fprintf(stderr, WHO ": guest %d: bad record for chip %u\n", g,
					r[k].chip);
				free(r);
				return -1;
			}
			f->peer[r[k].chip] = r[k];
			seen++;
		}
		free(r);
	}
	if (seen != f->chips) {
		fprintf(stderr, WHO ": descriptors of %d chips, expected %d\n", seen, f->chips);
		return -1;
	}
	return 0;
}

/* The chips of a fabric spec: ring:N, mesh/torus:AxB[xC]; 0 if unknown. */
static int spec_chips(const char *spec, int *dims)
{
	const char *p = strchr(spec, ':');
	int n = 1;

	*dims = 0;
	if (!p)
		return 0;
	if (!strncmp(spec, "ring:", 5)) {
		*dims = 1;
		return atoi(p + 1);
	}
	if (strncmp(spec, "torus:", 6) && strncmp(spec, "mesh:", 5))
		return 0;
	for (p++; *p; p++) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 1)
			return 0;
		n *= (int)v;
		++*dims;
		p = end;
		if (*p != 'x')
			break;
	}
	return n;
}

/* LUMEN_FM_TRAFFIC_ROUTES=local: program the local chips with lumen-route,
 * once their cabled ports are up (the first 2 x dimensions ports). */
static int program_local_routes(struct fx *f, int dims)
{
	for (int i = 0; i < f->n; i++)
		for (int p = 0; p < 2 * dims; p++)
			if (lu_wait_port_state(f->lc[i].pci, p, "up", 60000) < 0) {
				fprintf(stderr, WHO ": chip %u port %d not up after 60 s\n",
					f->lc[i].chip, p);
				return -1;
			}
	if (lu_program_routes()) {
		fprintf(stderr, WHO ": lumen-route program failed\n");
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	const char *routes = getenv("LUMEN_FM_TRAFFIC_ROUTES");
	lumen_link_info_t li;
	int dims = 0;

	if (!f)
		return -1;
	*state = F = f;
	f->ctl = getenv("LUMEN_FM_TRAFFIC_CTL");
	f->g = vs_env_int("LUMEN_VM_GUEST", 0);
	f->guests = vs_env_int("LUMEN_VM_GUESTS", 1);
	f->n = lu_cards(f->lc);
	f->chips = fabric ? spec_chips(fabric, &dims) : 0;
	if (!f->chips || f->chips != f->guests * f->n) {
		printf("# no fabric of all %d guests' chips (LUMEN_VM_FABRIC=%s, %d local "
		       "cards): " WHO " skipped\n",
		       f->guests, fabric ? fabric : "", f->n);
		f->chips = 0;
		return 0;
	}
	if (f->n < 1 || f->chips > MAX_CHIPS) {
		fprintf(stderr, WHO ": %d chips: at most %d\n", f->chips, MAX_CHIPS);
		return -1;
	}
	f->tgt_size = 2 * WIN_OFF + (size_t)f->chips * SLOT;
	f->host = malloc(f->tgt_size);
	f->want = malloc(f->tgt_size);
	if (!f->host || !f->want)
		return -1;
	for (int i = 0; i < f->n; i++)
		if (card_open(f, i))
			return -1;
	LUMEN_STRUCT_INIT(li);
	if (lumen_device_get_link_info(f->c[0].dev, &li)) {
		printf("# no link engine (%s): " WHO " skipped\n", lumen_get_last_error());
		f->chips = 0;
		return 0;
	}
	if (routes && !strcmp(routes, "local") && program_local_routes(f, dims))
		return -1;
	if (exchange_descs(f))
		return -1;
	f->synced = 1;
	printf("# guest %d of %d, chips %u..%u of %d (%s); every chip's window exchanged\n", f->g,
	       f->guests, f->lc[0].chip, f->lc[f->n - 1].chip, f->chips, fabric);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	/* Nobody closes a window another guest may still use. */
	if (f->synced && f->guests > 1)
		vs_barrier(WHO " teardown", "fmt-teardown", SYNC_S);
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		if (c->win)
			lumen_window_close(c->win);
		if (c->ctx)
			lumen_context_destroy(c->ctx);
		free(c->host);
	}
	free(f->host);
	free(f->want);
	free(f);
	return 0;
}

/* ---- rounds ------------------------------------------------------------------- */

static int stream_wait(struct card *c, const char *what)
{
	uint64_t end = ld_now_ns() + WAIT_MS * 1000000ull;
	lumen_status_t st;

	while ((st = lumen_stream_query(c->s)) == LUMEN_ERROR_NOT_READY && ld_now_ns() < end)
		usleep(500);
	if (st == LUMEN_SUCCESS)
		return 0;
	snprintf(c->err, sizeof(c->err), "%s: %s (\"%s\")", what, rt_st(st),
		 st == LUMEN_ERROR_NOT_READY ? "not done after 120 s" : lumen_get_last_error());
	return -1;
}

/* One round from card c: every other chip written, read back, compared. */
static int round_of(struct fx *f, struct card *c, uint32_t round)
{
	uint32_t a = c->lc->chip;
	char what[96];
	lumen_status_t st;

	for (uint32_t b = 0; b < (uint32_t)f->chips; b++)
		if (b != a)
			ld_pattern(c->host + b * SLOT + SRC_OFF, pair_len(a, b),
				   pair_seed(a, b, round));
	st = lumen_memcpy(c->ctx, (void *)(uintptr_t)c->src, c->host, (size_t)f->chips * SLOT,
			  LUMEN_COPY_HOST_TO_DEVICE);
	if (st)
		goto err;
	for (uint32_t b = 0; b < (uint32_t)f->chips; b++)
		if (b != a &&
		    (st = lumen_remote_write_async(c->s, &f->peer[b].win, a * SLOT + pair_off(a, b),
						   c->src + b * SLOT + SRC_OFF, pair_len(a, b))))
			goto err;
	/* A stream's operations to one chip apply in order: the reads see the writes. */
	for (uint32_t b = 0; b < (uint32_t)f->chips; b++)
		if (b != a && (st = lumen_remote_read_async(
				       c->s, c->dst + b * SLOT + DST_OFF, &f->peer[b].win,
				       a * SLOT + pair_off(a, b), pair_len(a, b))))
			goto err;
	snprintf(what, sizeof(what), "round %u from chip %u", round, a);
	if (stream_wait(c, what))
		return -1;
	st = lumen_memcpy(c->ctx, c->host, (const void *)(uintptr_t)c->dst, (size_t)f->chips * SLOT,
			  LUMEN_COPY_DEVICE_TO_HOST);
	if (st)
		goto err;
	for (uint32_t b = 0; b < (uint32_t)f->chips; b++) {
		long bad;

		if (b == a)
			continue;
		bad = ld_check_pattern(c->host + b * SLOT + DST_OFF, pair_len(a, b),
				       pair_seed(a, b, round), 0);
		if (bad >= 0) {
			snprintf(c->err, sizeof(c->err),
				 "round %u: chip %u -> %u, %zu B: byte %ld read back is 0x%02x",
				 round, a, b, pair_len(a, b), bad,
				 c->host[b * SLOT + DST_OFF + (size_t)bad]);
			return -1;
		}
	}
	return 0;
err:
	snprintf(c->err, sizeof(c->err), "round %u from chip %u: %s (\"%s\")", round, a, rt_st(st),
		 lumen_get_last_error());
	return -1;
}

static int stop_requested(struct fx *f)
{
	char path[256];

	if (atomic_load(&f->stop))
		return 1;
	snprintf(path, sizeof(path), "%s/stop", f->ctl);
	return access(path, F_OK) == 0;
}

struct runner {
	struct fx *f;
	struct card *c;
	int rounds; /* > 0: that many; 0: until stopped */
	atomic_int *first_done;
};

static void *run_rounds(void *arg)
{
	struct runner *r = arg;
	struct fx *f = r->f;
	struct card *c = r->c;
	int stopping = 0;

	for (uint32_t k = 0;; k++) {
		uint64_t t0 = ld_now_ns(), dt;

		if (round_of(f, c, k))
			break;
		dt = ld_now_ns() - t0;
		if (dt > c->max_round_ns)
			c->max_round_ns = dt;
		c->rounds = (int)k + 1;
		if (k == 0)
			atomic_fetch_add(r->first_done, 1);
		if (r->rounds > 0) {
			if (c->rounds >= r->rounds)
				break;
		} else if (stopping) {
			break;
		} else if (stop_requested(f)) {
			stopping = 1; /* one more full round after the event */
		} else {
			usleep(20000); /* steady, not saturating: the event is the test */
		}
	}
	return NULL;
}

/* The whole target of chip b as the sources' last rounds left it. */
static void expected_target(struct fx *f, uint32_t b)
{
	memset(f->want, GUARD, f->tgt_size);
	for (uint32_t a = 0; a < (uint32_t)f->chips; a++)
		if (a != b && f->last[a] && !f->broke[a])
			ld_pattern(f->want + WIN_OFF + a * SLOT + pair_off(a, b), pair_len(a, b),
				   pair_seed(a, b, f->last[a] - 1));
}

/* After every guest's last round: the rounds of every chip, then each local
 * target, whole, in its own memory. */
static void check_targets(struct fx *f, const char *name)
{
	struct rec mine[LU_MAX_CARDS];
	int seen = 0;

	memset(mine, 0, sizeof(mine));
	for (int i = 0; i < f->n; i++) {
		mine[i].chip = f->c[i].lc->chip;
		mine[i].rounds = (uint32_t)f->c[i].rounds;
		mine[i].failed = f->c[i].err[0] != '\0';
	}
	assert_int_equal(vs_exchange(WHO, name, mine, sizeof(mine[0]) * (size_t)f->n, SYNC_S), 0);
	memset(f->last, 0, sizeof(f->last));
	memset(f->broke, 0, sizeof(f->broke));
	for (int g = 0; g < f->guests; g++) {
		size_t len = 0;
		struct rec *r = vs_exchanged(name, g, &len);

		assert_non_null(r);
		for (size_t k = 0; k < len / sizeof(*r); k++) {
			assert_true(r[k].chip < (uint32_t)f->chips);
			f->last[r[k].chip] = r[k].rounds;
			f->broke[r[k].chip] = r[k].failed;
			seen++;
		}
		free(r);
	}
	assert_int_equal(seen, f->chips);
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];
		uint32_t b = c->lc->chip;

		expected_target(f, b);
		rt_d2h(c->ctx, f->host, c->tgt, f->tgt_size);
		for (size_t k = 0; k < f->tgt_size; k++)
			if (f->host[k] != f->want[k]) {
				long o = (long)k - (long)WIN_OFF;

				/* A source that failed half-way left its slot undefined. */
				if (o >= 0 && o < (long)f->chips * (long)SLOT &&
				    f->broke[o / (long)SLOT])
					continue;

				fail_msg("chip %u's target byte %zu (slot of chip %ld, +%ld) is "
					 "0x%02x, expected 0x%02x",
					 b, k, o < 0 ? -1 : o / (long)SLOT,
					 o < 0 ? o : o % (long)SLOT, f->host[k], f->want[k]);
			}
	}
}

static void touch(const char *dir, const char *name)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp)
		fclose(fp);
}

/* Rounds on every local chip at once; rounds 0 = continuous (f->ctl). */
static void run_all(struct fx *f, int rounds, const char *name)
{
	struct runner r[LU_MAX_CARDS];
	atomic_int first_done = 0;
	uint64_t t0 = ld_now_ns(), limit;
	int fewest = 0, most = 0, failed = 0;
	uint64_t worst = 0;

	limit = (uint64_t)vs_env_int("LUMEN_FM_TRAFFIC_MAX_S", 300) * 1000000000ull;
	atomic_store(&f->stop, 0);
	assert_int_equal(vs_barrier(WHO, name, SYNC_S), 0);
	for (int i = 0; i < f->n; i++) {
		f->c[i].rounds = 0;
		f->c[i].max_round_ns = 0;
		f->c[i].err[0] = '\0';
		r[i] = (struct runner){f, &f->c[i], rounds, &first_done};
		assert_int_equal(pthread_create(&f->c[i].th, NULL, run_rounds, &r[i]), 0);
	}
	if (!rounds) {
		int announced = 0;

		/* Bounded: the caller may never say stop. */
		while (!stop_requested(f)) {
			if (!announced && atomic_load(&first_done) == f->n) {
				touch(f->ctl, "running");
				announced = 1;
			}
			if (ld_now_ns() - t0 > limit) {
				fprintf(stderr, WHO ": no %s/stop after %llu s: stopping\n", f->ctl,
					(unsigned long long)(limit / 1000000000ull));
				atomic_store(&f->stop, 1);
			}
			usleep(20000);
		}
	}
	for (int i = 0; i < f->n; i++)
		pthread_join(f->c[i].th, NULL);
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		if (!i || c->rounds < fewest)
			fewest = c->rounds;
		if (c->rounds > most)
			most = c->rounds;
		if (c->max_round_ns > worst)
			worst = c->max_round_ns;
		if (c->err[0]) {
			fprintf(stderr, "ERROR: chip %u: %s\n", c->lc->chip, c->err);
			failed++;
		}
	}
	printf("# guest %d: %d-%d rounds on each of %d chips (%d pairs each) in %.1f s, slowest "
	       "round %.1f ms\n",
	       f->g, fewest, most, f->n, f->chips - 1, (double)(ld_now_ns() - t0) / 1e9,
	       (double)worst / 1e6);
	/* The others still write into this guest's windows until they meet here. */
	check_targets(f, name);
	if (failed)
		fail_msg("%d of %d local chips' traffic failed (first errors above)", failed, f->n);
	printf("# guest %d's targets byte-exact, guards intact\n", f->g);
}

/* ---- tests -------------------------------------------------------------------- */

static void every_pair(void **state)
{
	struct fx *f = *state;

	if (!f->chips)
		skip();
	if (f->ctl) {
		printf("# LUMEN_FM_TRAFFIC_CTL: the continuous run instead\n");
		skip();
	}
	run_all(f, 1, "fmt-once");
}

static void every_pair_continuous(void **state)
{
	struct fx *f = *state;
	char path[256];

	if (!f->chips || !f->ctl) {
		printf("# no LUMEN_FM_TRAFFIC_CTL: continuous traffic skipped\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/running", f->ctl);
	if (unlink(path) && errno != ENOENT)
		fail_msg("cannot remove %s: %s", path, strerror(errno));
	run_all(f, 0, "fmt-cont");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_pair),
		cmocka_unit_test(every_pair_continuous),
	};
	return cmocka_run_group_tests_name(WHO, tests, setup, teardown);
}
