// SPDX-License-Identifier: MIT
/*
 * liblumen peer memory across the guests of a supernode (tests/vm/run
 * --guests): every guest plays a host with its own cards, and the guests
 * only share the fabric and a management Ethernet, over which they hand
 * each other window descriptors, the way real clusters bootstrap:
 *
 *   tests/vm/run --no-build --guests 2 --cards 2 --fabric ring -- \
 *     lumen-guest-tests rt_cross_guest
 *
 * Every guest runs the suite; they meet at lumen-vm-barrier and swap files
 * with lumen-vm-exchange (tests/vm/vm-sync). Setup waits for the local ring
 * ports, programs the routes of the local chips (lumen-route program), opens
 * a window on each local chip and exchanges the descriptors.
 *   - write_every_pair: every chip writes 3 ranges (1 B, 4099 B, 256 KiB + 3,
 *     at unaligned offsets) into its own slot of every chip's window, its
 *     own included; each guest then checks its chips' whole targets: the
 *     ranges byte-exact, guard bytes everywhere else (between the ranges,
 *     the other slots' untouched parts, outside the window);
 *   - read_every_pair: every chip reads every range back from every chip,
 *     guard bytes around the destination checked;
 *   - atomics_from_every_chip: a thread per card, all chips of all guests
 *     at once, fetch-add 1 to one counter on chip 0: the counter is exact,
 *     its guard words intact, and the old values (exchanged) are each seen
 *     exactly once;
 *   - fabric_handles_every_pair: every chip exports a region, the guests
 *     swap the fabric handles, every chip writes and reads back its slot of
 *     every chip's region through an imported remote pointer; each guest
 *     checks its regions whole;
 *   - refused_across_guests: a write to a window its guest closed, and a
 *     write with a wrong key, both to another guest's chip, fail with
 *     LUMEN_ERROR_REMOTE_ACCESS, the stream goes on, the targets unchanged.
 * Teardown meets the others at a barrier first, so no guest closes its
 * windows while another still uses them. With one guest the suite runs on
 * its own cards alone (the rendezvous return at once).
 */
#include "rt_test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "guest_util.h"
#include "link_util.h"

#define MAX_CHIPS 16
#define SLOT	  (320 * KiB)
#define WIN_OFF	  (4 * KiB + 100) /* an unaligned window base */
#define GUARD	  0xa5
#define ADDS	  48
#define SYNC_S	  120 /* rendezvous timeout */
#define WAIT_MS	  120000

/* The ranges a chip writes into its slot of every window. */
static const struct {
	size_t off, size;
} ranges[] = {
	{1, 1},
	{4093, 4099},
	{12 * KiB + 5, 256 * KiB + 3},
};
#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* What a guest tells the others about each of its chips. */
struct rec {
	uint32_t chip;
	uint32_t has_counter;
	lumen_window_desc_t rw;	     /* the targets, C * SLOT */
	lumen_window_desc_t doomed;  /* closed before refused_across_guests */
	lumen_window_desc_t counter; /* chip 0 only: 24 bytes, ATOMIC */
};

struct card {
	const struct lu_card *lc;
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
	lumen_devptr_t src, dst, tgt, word, doomed_mem;
	lumen_window_t win, doomed, counter;
};

struct fx {
	int g, guests, n, chips; /* guest, guests, local cards, chips in all */
	struct lu_card lc[LU_MAX_CARDS];
	struct card c[LU_MAX_CARDS];
	struct rec peer[MAX_CHIPS]; /* by chip id */
	uint8_t *host, *want;	    /* a whole target each */
	size_t tgt_size;
	int synced; /* the rendezvous worked up to teardown */
};

static struct fx *F;

static int rendezvous(const char *what, const char *name)
{
	int rc = gu_system("lumen-vm-barrier -t %d %s", SYNC_S, name);

	if (rc)
		fprintf(stderr, "%s: lumen-vm-barrier %s: exit %d\n", what, name, rc);
	return rc;
}

/* Each guest's file of n_mine bytes: all of them, by guest, in dir. */
static int exchange(const char *name, const void *mine, size_t len)
{
	char file[64], dir[64];
	FILE *fp;

	snprintf(file, sizeof(file), "/tmp/xg-%s.bin", name);
	snprintf(dir, sizeof(dir), "/tmp/xg-%s", name);
	fp = fopen(file, "wb");
	if (!fp || fwrite(mine, 1, len, fp) != len) {
		if (fp)
			fclose(fp);
		return -1;
	}
	fclose(fp);
	return gu_system("lumen-vm-exchange -t %d %s %s %s", SYNC_S, name, file, dir);
}

/* Guest g's file of an exchange; malloc'd, length in *len. */
static void *exchanged(const char *name, int g, size_t *len)
{
	char path[96];
	FILE *fp;
	void *buf;
	struct stat stt;

	snprintf(path, sizeof(path), "/tmp/xg-%s/%d", name, g);
	if (stat(path, &stt) || !(fp = fopen(path, "rb")))
		return NULL;
	buf = malloc((size_t)stt.st_size + 1);
	if (buf && fread(buf, 1, (size_t)stt.st_size, fp) != (size_t)stt.st_size) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*len = (size_t)stt.st_size;
	return buf;
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

static int card_open(struct fx *f, int i)
{
	struct card *c = &f->c[i];
	uint64_t v[3] = {0x1111111111111111ull, 1000, 0x2222222222222222ull};

	c->lc = &f->lc[i];
	if (rt_context_open(i, &c->dev, &c->ctx, "rt_cross_guest setup") ||
	    lumen_stream_create(c->ctx, &c->s) || lumen_malloc(c->ctx, SLOT, &c->src) ||
	    lumen_malloc(c->ctx, SLOT, &c->dst) || lumen_malloc(c->ctx, f->tgt_size, &c->tgt) ||
	    lumen_memset(c->ctx, c->tgt, GUARD, f->tgt_size) ||
	    lumen_window_open(c->ctx, c->tgt + WIN_OFF, (size_t)f->chips * SLOT,
			      LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &c->win) ||
	    lumen_malloc(c->ctx, 8 * KiB, &c->doomed_mem) ||
	    lumen_memset(c->ctx, c->doomed_mem, GUARD, 8 * KiB) ||
	    lumen_window_open(c->ctx, c->doomed_mem, 8 * KiB, LUMEN_WINDOW_WRITE, &c->doomed))
		goto err;
	if (c->lc->chip == 0 &&
	    (lumen_malloc(c->ctx, 4 * KiB, &c->word) ||
	     lumen_memcpy(c->ctx, (void *)(uintptr_t)c->word, v, sizeof(v),
			  LUMEN_COPY_HOST_TO_DEVICE) ||
	     lumen_window_open(c->ctx, c->word, sizeof(v), LUMEN_WINDOW_ATOMIC, &c->counter)))
		goto err;
	return 0;
err:
	fprintf(stderr, "rt_cross_guest setup: chip %u: %s\n", c->lc->chip, lumen_get_last_error());
	return -1;
}

/* Exchange the descriptors of every guest's chips; F->peer[chip]. */
static int exchange_descs(struct fx *f)
{
	struct rec mine[LU_MAX_CARDS];
	int seen = 0;

	memset(mine, 0, sizeof(mine));
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		mine[i].chip = c->lc->chip;
		if (lumen_window_get_desc(c->win, &mine[i].rw) ||
		    lumen_window_get_desc(c->doomed, &mine[i].doomed))
			return -1;
		if (c->counter) {
			mine[i].has_counter = 1;
			if (lumen_window_get_desc(c->counter, &mine[i].counter))
				return -1;
		}
	}
	if (exchange("descs", mine, sizeof(mine[0]) * (size_t)f->n))
		return -1;
	for (int g = 0; g < f->guests; g++) {
		size_t len;
		struct rec *r = exchanged("descs", g, &len);

		if (!r || len % sizeof(*r)) {
			fprintf(stderr, "rt_cross_guest: guest %d's descriptors: %zu bytes\n", g,
				r ? len : 0);
			free(r);
			return -1;
		}
		for (size_t k = 0; k < len / sizeof(*r); k++) {
			if (r[k].chip >= MAX_CHIPS || r[k].rw.chip_id != r[k].chip ||
			    r[k].rw.magic != LUMEN_WINDOW_DESC_MAGIC ||
			    f->peer[r[k].chip].rw.magic) {
				fprintf(stderr,
					"rt_cross_guest: guest %d: bad record for chip %u\n", g,
					r[k].chip);
				free(r);
				return -1;
			}
			f->peer[r[k].chip] = r[k];
			seen++;
		}
		free(r);
	}
	if (seen != f->chips || !f->peer[0].has_counter) {
		fprintf(stderr, "rt_cross_guest: descriptors of %d chips, expected %d\n", seen,
			f->chips);
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	lumen_link_info_t li;

	if (!f)
		return -1;
	*state = F = f;
	if (!fabric || strncmp(fabric, "ring:", 5)) {
		printf("# no ring fabric (LUMEN_VM_FABRIC=%s): rt_cross_guest skipped\n",
		       fabric ? fabric : "");
		return 0;
	}
	f->g = env_int("LUMEN_VM_GUEST", 0);
	f->guests = env_int("LUMEN_VM_GUESTS", 1);
	f->chips = atoi(fabric + 5);
	f->n = lu_cards(f->lc);
	if (f->n < 1 || f->chips > MAX_CHIPS || f->chips != f->guests * f->n) {
		fprintf(stderr,
			"rt_cross_guest: %s with %d guests of %d cards: want a ring of "
			"all of them, at most %d chips\n",
			fabric, f->guests, f->n, MAX_CHIPS);
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
		/* Every guest skips alike: same build, same device model. */
		printf("# no link engine (%s): rt_cross_guest skipped\n", lumen_get_last_error());
		f->chips = 0;
		return 0;
	}
	if (lu_wait_ring_up(f->lc, f->n, 60000)) {
		fprintf(stderr, "rt_cross_guest: ring ports not up after 60 s\n");
		return -1;
	}
	if (lu_program_routes()) {
		fprintf(stderr, "rt_cross_guest: lumen-route program failed\n");
		return -1;
	}
	/* No traffic before every chip on the way has its routes. */
	if (rendezvous("setup", "routes") || exchange_descs(f))
		return -1;
	f->synced = 1;
	printf("# guest %d of %d, chips %u..%u of %d; descriptors of every chip exchanged\n", f->g,
	       f->guests, f->lc[0].chip, f->lc[f->n - 1].chip, f->chips);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	/* Nobody closes a window another guest may still use. */
	if (f->synced && f->guests > 1)
		rendezvous("teardown", "teardown");
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		if (c->win)
			lumen_window_close(c->win);
		if (c->counter)
			lumen_window_close(c->counter);
		if (c->ctx)
			lumen_context_destroy(c->ctx);
	}
	free(f->host);
	free(f->want);
	free(f);
	return 0;
}

static void need_fabric(void)
{
	if (!F->chips)
		skip();
}

/* ---- helpers ---------------------------------------------------------------- */

static uint32_t seed_of(uint32_t a, uint32_t b, size_t r)
{
	return 1000 * a + 10 * b + (uint32_t)r + 1;
}

static void stream_done(struct card *c, const char *what)
{
	uint64_t end = ld_now_ns() + WAIT_MS * 1000000ull;
	lumen_status_t st;

	while ((st = lumen_stream_query(c->s)) == LUMEN_ERROR_NOT_READY && ld_now_ns() < end)
		usleep(1000);
	if (st != LUMEN_SUCCESS)
		fail_msg("%s: %s (\"%s\")", what, rt_st(st), lumen_get_last_error());
}

/* The whole target of chip b as it must be once every chip wrote its ranges. */
static void expected_target(uint32_t b)
{
	memset(F->want, GUARD, F->tgt_size);
	for (uint32_t a = 0; a < (uint32_t)F->chips; a++)
		for (size_t r = 0; r < NRANGES; r++)
			ld_pattern(F->want + WIN_OFF + a * SLOT + ranges[r].off, ranges[r].size,
				   seed_of(a, b, r));
}

static void check_local_targets(const char *when)
{
	for (int i = 0; i < F->n; i++) {
		struct card *c = &F->c[i];

		expected_target(c->lc->chip);
		rt_d2h(c->ctx, F->host, c->tgt, F->tgt_size);
		for (size_t k = 0; k < F->tgt_size; k++)
			if (F->host[k] != F->want[k]) {
				long o = (long)k - (long)WIN_OFF;

				fail_msg(
					"%s: chip %u's target byte %zu (slot of chip %ld, +%ld) is "
					"0x%02x, expected 0x%02x",
					when, c->lc->chip, k, o < 0 ? -1 : o / (long)SLOT,
					o < 0 ? o : o % (long)SLOT, F->host[k], F->want[k]);
			}
	}
}

/* ---- tests ------------------------------------------------------------------- */

static void write_every_pair(void **state)
{
	struct fx *f = *state;
	char what[96];

	need_fabric();
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];
		uint32_t a = c->lc->chip;

		for (uint32_t b = 0; b < (uint32_t)f->chips; b++) {
			for (size_t r = 0; r < NRANGES; r++) {
				ld_pattern(f->host, ranges[r].size, seed_of(a, b, r));
				/* An odd source offset too. */
				rt_h2d(c->ctx, c->src + 3, f->host, ranges[r].size);
				RT_OK(lumen_remote_write_async(c->s, &f->peer[b].rw,
							       a * SLOT + ranges[r].off, c->src + 3,
							       ranges[r].size));
				snprintf(what, sizeof(what), "write chip %u -> %u, %zu B", a, b,
					 ranges[r].size);
				stream_done(c, what);
			}
		}
	}
	assert_int_equal(rendezvous("write_every_pair", "written"), 0);
	check_local_targets("after every chip wrote");
	printf("# %d chips wrote %zu ranges into every chip's window; guest %d's targets "
	       "byte-exact, guards intact\n",
	       f->chips, NRANGES, f->g);
}

static void read_every_pair(void **state)
{
	struct fx *f = *state;
	char what[96];

	need_fabric();
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];
		uint32_t a = c->lc->chip;

		for (uint32_t b = 0; b < (uint32_t)f->chips; b++)
			for (size_t r = 0; r < NRANGES; r++) {
				size_t n = ranges[r].size;

				snprintf(what, sizeof(what), "read chip %u <- %u, %zu B", a, b, n);
				RT_OK(lumen_memset(c->ctx, c->dst, 0x5a, n + 64));
				RT_OK(lumen_remote_read_async(c->s, c->dst + 5, &f->peer[b].rw,
							      a * SLOT + ranges[r].off, n));
				stream_done(c, what);
				rt_d2h(c->ctx, f->host, c->dst, n + 64);
				rt_expect_pattern(f->host + 5, n, seed_of(a, b, r), 0, what);
				for (size_t k = 0; k < n + 64; k = k == 4 ? n + 5 : k + 1)
					if (f->host[k] != 0x5a)
						fail_msg("%s: byte %zu outside the destination "
							 "written",
							 what, k);
			}
	}
	printf("# every chip of guest %d read back its ranges from all %d chips\n", f->g, f->chips);
}

struct adder {
	struct card *c;
	const lumen_window_desc_t *d;
	lumen_status_t st;
};

static void *add_thread(void *arg)
{
	struct adder *ad = arg;
	uint64_t end;

	for (int i = 0; i < ADDS && ad->st == LUMEN_SUCCESS; i++)
		ad->st = lumen_remote_atomic_async(ad->c->s, ad->d, 8, LUMEN_ATOMIC_FETCH_ADD, 1,
						   ad->c->dst + 8 * i);
	if (ad->st != LUMEN_SUCCESS)
		return NULL;
	end = ld_now_ns() + WAIT_MS * 1000000ull;
	while ((ad->st = lumen_stream_query(ad->c->s)) == LUMEN_ERROR_NOT_READY &&
	       ld_now_ns() < end)
		usleep(1000);
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static void atomics_from_every_chip(void **state)
{
	struct fx *f = *state;
	struct adder ad[LU_MAX_CARDS];
	pthread_t th[LU_MAX_CARDS];
	uint64_t mine[LU_MAX_CARDS * ADDS], *all, v[3];
	size_t total = 0;

	need_fabric();
	all = calloc((size_t)f->chips * ADDS, 8);
	assert_non_null(all);
	/* All chips of all guests at once. */
	assert_int_equal(rendezvous("atomics", "atomics"), 0);
	for (int i = 0; i < f->n; i++) {
		ad[i] = (struct adder){&f->c[i], &f->peer[0].counter, LUMEN_SUCCESS};
		assert_int_equal(pthread_create(&th[i], NULL, add_thread, &ad[i]), 0);
	}
	for (int i = 0; i < f->n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < f->n; i++) {
		uint64_t *o = mine + (size_t)i * ADDS;

		if (ad[i].st != LUMEN_SUCCESS)
			fail_msg("chip %u's fetch-adds: %s (\"%s\")", f->c[i].lc->chip,
				 rt_st(ad[i].st), lumen_get_last_error());
		rt_d2h(f->c[i].ctx, o, f->c[i].dst, ADDS * 8);
		/* One stream's operations to one chip apply in order. */
		for (int k = 1; k < ADDS; k++)
			if (o[k] <= o[k - 1])
				fail_msg("chip %u: add %d saw %llu after %llu", f->c[i].lc->chip, k,
					 (unsigned long long)o[k], (unsigned long long)o[k - 1]);
	}
	/* Each old value exactly once, across all guests. */
	assert_int_equal(exchange("olds", mine, sizeof(uint64_t) * ADDS * (size_t)f->n), 0);
	for (int g = 0; g < f->guests; g++) {
		size_t len;
		uint64_t *o = exchanged("olds", g, &len);

		assert_non_null(o);
		assert_true(total + len / 8 <= (size_t)f->chips * ADDS);
		memcpy(all + total, o, len);
		total += len / 8;
		free(o);
	}
	assert_int_equal(total, (size_t)f->chips * ADDS);
	qsort(all, total, 8, cmp_u64);
	for (size_t i = 0; i < total; i++)
		if (all[i] != 1000 + i)
			fail_msg("old value %zu of all chips' adds is %llu, expected %zu", i,
				 (unsigned long long)all[i], 1000 + i);
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		if (!c->counter)
			continue;
		rt_d2h(c->ctx, v, c->word, sizeof(v));
		assert_int_equal(v[0], 0x1111111111111111ull);
		assert_int_equal(v[1], 1000 + (uint64_t)f->chips * ADDS);
		assert_int_equal(v[2], 0x2222222222222222ull);
		printf("# chip 0's counter: %llu, guard words intact\n", (unsigned long long)v[1]);
	}
	printf("# %d chips x %d fetch-adds on chip 0 from %d guests: every old value once\n",
	       f->chips, ADDS, f->guests);
	free(all);
}

/* Fabric handles across hosts: every chip exports a region, the guests swap
 * the 64-byte handles over their Ethernet, and every chip writes its own
 * slot of every chip's region through an imported remote pointer, then
 * reads it back. */
#define FH_SLOT	  4099
#define FH_OFF(w) (7 + (size_t)(w)*FH_SLOT)

struct fh_rec {
	uint32_t chip;
	uint32_t pad;
	lumen_fabric_handle_t h;
};

static void fabric_handles_every_pair(void **state)
{
	struct fx *f = *state;
	const size_t region = FH_OFF(f->chips) + 9;
	struct fh_rec mine[LU_MAX_CARDS];
	lumen_fabric_handle_t handle[MAX_CHIPS];
	lumen_devptr_t mem[LU_MAX_CARDS];
	uint8_t *buf;

	need_fabric();
	buf = malloc(region);
	assert_non_null(buf);
	memset(buf, GUARD, region);
	memset(handle, 0, sizeof(handle));
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		RT_OK(lumen_malloc(c->ctx, region, &mem[i]));
		rt_h2d(c->ctx, mem[i], buf, region);
		mine[i].chip = c->lc->chip;
		mine[i].pad = 0;
		RT_OK(lumen_mem_export_fabric(c->ctx, mem[i], region,
					      LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &mine[i].h));
	}
	assert_int_equal(exchange("fh", mine, sizeof(mine[0]) * (size_t)f->n), 0);
	for (int g = 0; g < f->guests; g++) {
		size_t len = 0;
		struct fh_rec *r = exchanged("fh", g, &len);

		assert_non_null(r);
		for (size_t k = 0; k < len / sizeof(*r); k++)
			if (r[k].chip < MAX_CHIPS)
				handle[r[k].chip] = r[k].h;
		free(r);
	}
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];
		uint32_t w = c->lc->chip;

		ld_pattern(buf, FH_SLOT, 5000 + w);
		rt_h2d(c->ctx, c->src, buf, FH_SLOT);
		for (uint32_t b = 0; b < (uint32_t)f->chips; b++) {
			lumen_devptr_t r;

			if (handle[b].magic != LUMEN_FABRIC_HANDLE_MAGIC)
				fail_msg("no fabric handle came for chip %u", b);
			RT_OK(lumen_mem_import_fabric(c->ctx, &handle[b], &r));
			RT_OK(lumen_memcpy_peer_async(c->s, c->ctx, r + FH_OFF(w), c->ctx, c->src,
						      FH_SLOT));
			RT_OK(lumen_memcpy_peer_async(c->s, c->ctx, c->dst, c->ctx, r + FH_OFF(w),
						      FH_SLOT));
			stream_done(c, "a write and read through a fabric handle");
			rt_d2h(c->ctx, buf, c->dst, FH_SLOT);
			rt_expect_pattern(buf, FH_SLOT, 5000 + w, 0,
					  "read back through the handle");
			RT_OK(lumen_mem_release_fabric(c->ctx, r));
		}
	}
	assert_int_equal(rendezvous("fh", "written"), 0);
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		rt_d2h(c->ctx, buf, mem[i], region);
		for (uint32_t w = 0; w < (uint32_t)f->chips; w++)
			rt_expect_pattern(buf + FH_OFF(w), FH_SLOT, 5000 + w, 0,
					  "a slot written from another host");
		for (size_t k = 0; k < FH_OFF(0); k++)
			assert_int_equal(buf[k], GUARD);
		for (size_t k = FH_OFF(f->chips); k < region; k++)
			assert_int_equal(buf[k], GUARD);
	}
	printf("# %d chips wrote their slot of every chip's region through fabric handles "
	       "swapped between %d guests\n",
	       f->chips, f->guests);
	assert_int_equal(rendezvous("fh", "checked"), 0);
	for (int i = 0; i < f->n; i++) {
		RT_OK(lumen_mem_revoke_fabric(f->c[i].ctx, &mine[i].h));
		RT_OK(lumen_free(f->c[i].ctx, mem[i]));
	}
	free(buf);
}

/* One write from card c that its target must refuse; the stream goes on. */
static void expect_refused(struct card *c, const lumen_window_desc_t *d, const char *what)
{
	lumen_status_t st;
	uint64_t end = ld_now_ns() + WAIT_MS * 1000000ull;

	RT_OK(lumen_remote_write_async(c->s, d, 0, c->src, 4096));
	while ((st = lumen_stream_query(c->s)) == LUMEN_ERROR_NOT_READY && ld_now_ns() < end)
		usleep(1000);
	if (st != LUMEN_ERROR_REMOTE_ACCESS)
		fail_msg("%s: %s (\"%s\"), expected LUMEN_ERROR_REMOTE_ACCESS", what, rt_st(st),
			 lumen_get_last_error());
	assert_non_null(strstr(lumen_get_last_error(), "remote"));
	RT_OK(lumen_stream_query(c->s)); /* reported once */
	printf("# %s: LUMEN_ERROR_REMOTE_ACCESS\n", what);
}

static void refused_across_guests(void **state)
{
	struct fx *f = *state;
	char what[96];

	need_fabric();
	for (int i = 0; i < f->n; i++) {
		RT_OK(lumen_window_close(f->c[i].doomed));
		f->c[i].doomed = NULL;
	}
	assert_int_equal(rendezvous("refused", "closed"), 0);
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];
		/* A chip of the next guest (of this one if alone). */
		uint32_t b = (c->lc->chip + (uint32_t)f->n) % (uint32_t)f->chips;
		lumen_window_desc_t d = f->peer[b].rw;

		RT_OK(lumen_memset(c->ctx, c->src, 0xee, 4096));
		snprintf(what, sizeof(what), "chip %u -> %u, window closed by its guest",
			 c->lc->chip, b);
		expect_refused(c, &f->peer[b].doomed, what);
		d.key ^= 0x8000;
		snprintf(what, sizeof(what), "chip %u -> %u, wrong key", c->lc->chip, b);
		expect_refused(c, &d, what);
		/* The stream goes on: a good write still works. */
		RT_OK(lumen_remote_write_async(c->s, &f->peer[b].rw, 0, c->src, 0));
		RT_OK(lumen_remote_read_async(c->s, c->dst, &f->peer[b].rw, 0, 64));
		stream_done(c, "a read after the refused writes");
	}
	assert_int_equal(rendezvous("refused", "refused"), 0);
	/* Nothing refused was written: the targets are as every chip left them. */
	check_local_targets("after the refused writes");
	for (int i = 0; i < f->n; i++) {
		uint8_t g[8 * KiB];

		rt_d2h(f->c[i].ctx, g, f->c[i].doomed_mem, sizeof(g));
		for (size_t k = 0; k < sizeof(g); k++)
			if (g[k] != GUARD)
				fail_msg("chip %u: the closed window's memory was written at %zu",
					 f->c[i].lc->chip, k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_every_pair),
		cmocka_unit_test(read_every_pair),
		cmocka_unit_test(atomics_from_every_chip),
		cmocka_unit_test(fabric_handles_every_pair),
		cmocka_unit_test(refused_across_guests),
	};
	return cmocka_run_group_tests_name("rt_cross_guest", tests, setup, teardown);
}
