// SPDX-License-Identifier: MIT
/*
 * liblumen peer memory (lumen.h "Peer memory", hw-spec 13.7) on cards cabled
 * by lumen-fabric and routed by lumen-route:
 *
 *   tests/vm/run --no-build --cards 4 --fabric ring -- \
 *     sh -c 'lumen-route program --topology ring:4 && lumen-guest-tests rt_remote'
 *
 *   - link_info: chip ids agree everywhere; without a link engine every
 *     peer call is LUMEN_ERROR_NOT_SUPPORTED (the rest of the suite skips);
 *   - argument checks: windows, descriptors, local ranges, alignment, and
 *     memory under an open window cannot be freed;
 *   - every ordered pair of chips (and each chip to itself, the loopback):
 *     remote write then local and remote read back, 1 B to 1 MiB + 3 at
 *     unaligned offsets and an unaligned window base, guard bytes around
 *     the range and outside the window checked; 64 MiB to a neighbour and
 *     to a chip two hops away;
 *   - fetch-add from every chip at once (a thread per card) counted
 *     exactly, each old value seen once; signal;
 *   - ACCESS errors (wrong key, closed window, past the end, missing right)
 *     with the target's bytes unchanged; UNREACHABLE for a chip no route
 *     leads to.
 * Pair tests need the fabric (LUMEN_VM_FABRIC) and two cards; the rest runs
 * on any card with a link engine.
 */
#include "rt_test.h"

#include <lumen/lumen.h>

#define MAX_CARDS 4
#define TGT_SIZE  (2 * MiB)
/* The window starts unaligned inside the target and leaves guards around. */
#define WIN_OFF	  (4 * KiB + 100)
#define WIN_SIZE  (1 * MiB + 8 * KiB)
#define GUARD	  0xa5
#define BIG	  (64 * MiB)

struct card {
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_stream_t s;
	uint32_t chip;
	lumen_devptr_t src, dst, tgt;
	lumen_window_t win;
	lumen_window_desc_t desc;
};

struct fx {
	int n;	   /* cards in use */
	int links; /* the cards have a link engine */
	int fabric;
	struct card c[MAX_CARDS];
	uint8_t *host, *host2; /* TGT_SIZE each */
};

static struct fx *F;

static int card_open(struct card *c, int idx)
{
	if (rt_context_open(idx, &c->dev, &c->ctx, "rt_remote setup"))
		return -1;
	if (lumen_stream_create(c->ctx, &c->s) || lumen_device_get_chip_id(c->dev, &c->chip) ||
	    lumen_malloc(c->ctx, TGT_SIZE, &c->src) || lumen_malloc(c->ctx, TGT_SIZE, &c->dst) ||
	    lumen_malloc(c->ctx, TGT_SIZE, &c->tgt)) {
		fprintf(stderr, "rt_remote setup: card %d: %s\n", idx, lumen_get_last_error());
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	lumen_link_info_t li;
	int n = 0;

	if (!f)
		return -1;
	*state = F = f;
	f->host = malloc(TGT_SIZE);
	f->host2 = malloc(TGT_SIZE);
	if (!f->host || !f->host2 || lumen_device_count(&n) || n < 1)
		return -1;
	f->n = n < MAX_CARDS ? n : MAX_CARDS;
	f->fabric = getenv("LUMEN_VM_FABRIC") != NULL;
	for (int i = 0; i < f->n; i++)
		if (card_open(&f->c[i], i))
			return -1;
	LUMEN_STRUCT_INIT(li);
	f->links = lumen_device_get_link_info(f->c[0].dev, &li) == LUMEN_SUCCESS;
	if (!f->links) {
		printf("# card 0 has no link engine (%s): peer tests skip\n",
		       lumen_get_last_error());
		return 0;
	}
	for (int i = 0; i < f->n; i++) {
		struct card *c = &f->c[i];

		if (lumen_window_open(c->ctx, c->tgt + WIN_OFF, WIN_SIZE,
				      LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &c->win) ||
		    lumen_window_get_desc(c->win, &c->desc)) {
			fprintf(stderr, "rt_remote setup: card %d window: %s\n", i,
				lumen_get_last_error());
			return -1;
		}
	}
	printf("# %d cards, chips", f->n);
	for (int i = 0; i < f->n; i++)
		printf(" %u", f->c[i].chip);
	printf("%s\n", f->fabric ? ", on a fabric" : ", no fabric: pair tests skip");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < f->n; i++) {
		if (f->c[i].win)
			lumen_window_close(f->c[i].win);
		if (f->c[i].ctx)
			lumen_context_destroy(f->c[i].ctx);
	}
	free(f->host);
	free(f->host2);
	free(f);
	return 0;
}

static void need_links(void)
{
	if (!F->links)
		skip();
}

/* ---- helpers ---------------------------------------------------------------- */

/* The whole target of card c to F->host. */
static void read_target(struct card *c)
{
	rt_d2h(c->ctx, F->host, c->tgt, TGT_SIZE);
}

/* F->host holds GUARD everywhere except [at, at + n), which holds pattern
 * seed from byte 0. */
static void expect_target(size_t at, size_t n, uint32_t seed, const char *what)
{
	for (size_t i = 0; i < TGT_SIZE; i++) {
		if (i == at) {
			rt_expect_pattern(F->host + at, n, seed, 0, what);
			i += n - 1;
			continue;
		}
		if (F->host[i] != GUARD)
			fail_msg("%s: guard byte %zu of the target is 0x%02x (written range %zu + "
				 "%zu)",
				 what, i, F->host[i], at, n);
	}
}

static uint64_t checksum(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static uint64_t target_checksum(struct card *c)
{
	read_target(c);
	return checksum(F->host, TGT_SIZE);
}

/* ---- tests --------------------------------------------------------------------- */

static void link_info(void **state)
{
	struct fx *f = *state;
	lumen_link_info_t li;
	lumen_device_props_t p;
	lumen_window_t w = NULL;
	lumen_window_desc_t d = {0};

	for (int i = 0; i < f->n; i++) {
		uint32_t chip = 0;

		LUMEN_STRUCT_INIT(p);
		RT_OK(lumen_device_get_props(f->c[i].dev, &p));
		RT_OK(lumen_device_get_chip_id(f->c[i].dev, &chip));
		assert_int_equal(chip, p.chip_id);
		LUMEN_STRUCT_INIT(li);
		if (!f->links) {
			RT_FAIL(lumen_device_get_link_info(f->c[i].dev, &li),
				LUMEN_ERROR_NOT_SUPPORTED);
			continue;
		}
		RT_OK(lumen_device_get_link_info(f->c[i].dev, &li));
		assert_int_equal(li.chip_id, chip);
		assert_int_equal(li.num_ports, p.num_link_ports);
		assert_int_equal(li.num_windows, 256);
		assert_int_equal(li.route_table_size, 8192);
		assert_true(li.max_windows >= 1);
		if (f->fabric)
			assert_int_equal(li.ports_up & 3, 3); /* ring: +x and -x */
	}
	if (f->links)
		return;
	/* Without a link engine nothing peer-related works, and says why. */
	RT_FAIL(lumen_window_open(f->c[0].ctx, f->c[0].tgt, 4096, LUMEN_WINDOW_READ, &w),
		LUMEN_ERROR_NOT_SUPPORTED);
	assert_null(w);
	assert_non_null(strstr(lumen_get_last_error(), "no link engine"));
	d.magic = LUMEN_WINDOW_DESC_MAGIC;
	d.rights = LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC;
	d.size = 4096;
	RT_FAIL(lumen_remote_write_async(f->c[0].s, &d, 0, f->c[0].src, 8),
		LUMEN_ERROR_NOT_SUPPORTED);
	RT_FAIL(lumen_remote_read_async(f->c[0].s, f->c[0].dst, &d, 0, 8),
		LUMEN_ERROR_NOT_SUPPORTED);
	RT_FAIL(lumen_remote_atomic_async(f->c[0].s, &d, 0, LUMEN_ATOMIC_FETCH_ADD, 1, 0),
		LUMEN_ERROR_NOT_SUPPORTED);
}

static void argument_checks(void **state)
{
	struct fx *f = *state;
	struct card *c = &f->c[0];
	lumen_window_t w = NULL;
	lumen_window_desc_t d;
	lumen_devptr_t small;

	need_links();
	/* Windows. */
	RT_FAIL(lumen_window_open(c->ctx, c->tgt, 4096, 0, &w), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_window_open(c->ctx, c->tgt, 4096, 1u << 3, &w), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_window_open(c->ctx, c->tgt, 0, LUMEN_WINDOW_READ, &w),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_window_open(c->ctx, c->tgt + 1, TGT_SIZE, LUMEN_WINDOW_READ, &w),
		LUMEN_ERROR_INVALID_ARGUMENT); /* one byte past the allocation */
	RT_FAIL(lumen_window_open(c->ctx, 0x1000, 4096, LUMEN_WINDOW_READ, &w),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_window_open(c->ctx, c->tgt, 4096, LUMEN_WINDOW_READ, NULL),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_null(w);
	RT_FAIL(lumen_window_get_desc(c->win, NULL), LUMEN_ERROR_INVALID_ARGUMENT);

	/* A small allocation: the window rounds to its pages; freeing it while
	 * the window is open is refused, after closing it works. */
	RT_OK(lumen_malloc(c->ctx, 100, &small));
	RT_OK(lumen_window_open(c->ctx, small + 10, 50, LUMEN_WINDOW_WRITE, &w));
	RT_OK(lumen_window_get_desc(w, &d));
	assert_int_equal(d.magic, LUMEN_WINDOW_DESC_MAGIC);
	assert_int_equal(d.chip_id, c->chip);
	assert_int_equal(d.size, 50);
	assert_int_equal(d.base, (small + 10) % 4096);
	assert_int_equal(d.rights, LUMEN_WINDOW_WRITE);
	assert_int_equal(d.reserved, 0);
	assert_int_not_equal(d.window, c->desc.window);
	RT_FAIL(lumen_free(c->ctx, small), LUMEN_ERROR_BUSY);
	RT_OK(lumen_window_close(w));
	RT_FAIL(lumen_window_close(w), LUMEN_ERROR_INVALID_HANDLE);
	RT_OK(lumen_free(c->ctx, small));

	/* Descriptors: each field. */
	d = c->desc;
	RT_FAIL(lumen_remote_write_async(c->s, NULL, 0, c->src, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	d.magic ^= 1;
	RT_FAIL(lumen_remote_write_async(c->s, &d, 0, c->src, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "magic"));
	d = c->desc;
	d.reserved = 1;
	RT_FAIL(lumen_remote_write_async(c->s, &d, 0, c->src, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	d = c->desc;
	d.chip_id = 8192;
	RT_FAIL(lumen_remote_write_async(c->s, &d, 0, c->src, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	d = c->desc;
	d.window = 256;
	RT_FAIL(lumen_remote_read_async(c->s, c->dst, &d, 0, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	d = c->desc;
	d.base = 4096;
	RT_FAIL(lumen_remote_read_async(c->s, c->dst, &d, 0, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	d = c->desc;
	RT_FAIL(lumen_remote_atomic_async(c->s, &d, 0, LUMEN_ATOMIC_FETCH_ADD, 1, 0),
		LUMEN_ERROR_INVALID_ARGUMENT); /* no ATOMIC right */
	assert_non_null(strstr(lumen_get_last_error(), "LUMEN_WINDOW_ATOMIC"));
	/* Ranges: the window's end, overflow, the local side. */
	RT_FAIL(lumen_remote_write_async(c->s, &d, WIN_SIZE - 7, c->src, 8),
		LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "beyond"));
	RT_FAIL(lumen_remote_read_async(c->s, c->dst, &d, UINT64_MAX - 3, 8),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_remote_write_async(c->s, &d, 0, c->src + TGT_SIZE - 4, 8),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_remote_read_async(c->s, 0x1000, &d, 0, 8), LUMEN_ERROR_INVALID_ARGUMENT);
	/* Atomics: alignment in the target's memory, the op, the result. */
	d.rights |= LUMEN_WINDOW_ATOMIC; /* forged, but the checks come first */
	RT_FAIL(lumen_remote_atomic_async(c->s, &d, 0, LUMEN_ATOMIC_FETCH_ADD, 1, 0),
		LUMEN_ERROR_INVALID_ARGUMENT); /* base 100: offset 0 is not aligned */
	RT_FAIL(lumen_remote_atomic_async(c->s, &d, 4, (lumen_atomic_op_t)2, 1, 0),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_remote_atomic_async(c->s, &d, 4, LUMEN_ATOMIC_SIGNAL, 1, c->dst + 4),
		LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_remote_atomic_async(c->s, &d, 4, LUMEN_ATOMIC_SIGNAL, 1, 0x1000),
		LUMEN_ERROR_INVALID_ARGUMENT);
	/* Size 0 queues nothing, after checking the descriptor. */
	RT_OK(lumen_remote_write_async(c->s, &c->desc, 0, c->src, 0));
	RT_OK(lumen_stream_synchronize(c->s));
}

/* Write n bytes of pattern seed from a to b's window at off, check b's whole
 * target, read them back from a and check. */
static void roundtrip(struct card *a, struct card *b, size_t n, size_t off, uint32_t seed)
{
	char what[96];
	const size_t src_off = 5;

	snprintf(what, sizeof(what), "chip %u -> %u, %zu B at %zu", a->chip, b->chip, n, off);
	RT_OK(lumen_memset(b->ctx, b->tgt, GUARD, TGT_SIZE));
	ld_pattern(F->host2, n, seed);
	rt_h2d(a->ctx, a->src + src_off, F->host2, n);
	RT_OK(lumen_remote_write_async(a->s, &b->desc, off, a->src + src_off, n));
	RT_OK(lumen_stream_synchronize(a->s));
	read_target(b);
	expect_target(WIN_OFF + off, n, seed, what);

	RT_OK(lumen_memset(a->ctx, a->dst, 0x5a, n + 64));
	RT_OK(lumen_remote_read_async(a->s, a->dst + 3, &b->desc, off, n));
	RT_OK(lumen_stream_synchronize(a->s));
	rt_d2h(a->ctx, F->host2, a->dst, n + 64);
	rt_expect_pattern(F->host2 + 3, n, seed, 0, what);
	for (size_t i = 0; i < n + 64; i = i == 2 ? n + 3 : i + 1)
		if (F->host2[i] != 0x5a)
			fail_msg("%s: the read wrote byte %zu outside its destination", what, i);
}

static void write_read_every_pair(void **state)
{
	struct fx *f = *state;
	static const size_t sizes[] = {1, 4095, 4096, 4097, MiB + 3};
	static const size_t offs[] = {1, 4093, 0, 4099, 7};
	uint32_t seed = 1;

	need_links();
	for (int a = 0; a < f->n; a++)
		for (int b = 0; b < f->n; b++) {
			if (a != b && (!f->fabric || f->n < 2))
				continue;
			for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
				roundtrip(&f->c[a], &f->c[b], sizes[k], offs[k], seed++);
		}
	printf("# %d x %d chip pairs (loopback included), 5 sizes each\n", f->fabric ? f->n : 1,
	       f->fabric ? f->n : 1);
}

/* 64 MiB from chip a to chip b and back, each direction checked. */
static void big_transfer(struct card *a, struct card *b)
{
	lumen_devptr_t src, dst, tgt;
	lumen_window_t w;
	lumen_window_desc_t d;
	uint8_t *h = malloc(BIG);
	uint64_t t0;

	assert_non_null(h);
	RT_OK(lumen_malloc(a->ctx, BIG, &src));
	RT_OK(lumen_malloc(a->ctx, BIG, &dst));
	RT_OK(lumen_malloc(b->ctx, BIG, &tgt));
	RT_OK(lumen_window_open(b->ctx, tgt, BIG, LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &w));
	RT_OK(lumen_window_get_desc(w, &d));
	ld_pattern(h, BIG, 77 + b->chip);
	rt_h2d(a->ctx, src, h, BIG);
	t0 = ld_now_ns();
	RT_OK(lumen_remote_write_async(a->s, &d, 0, src, BIG));
	RT_OK(lumen_stream_synchronize(a->s));
	printf("# 64 MiB chip %u -> %u: %.1f MB/s\n", a->chip, b->chip,
	       BIG / 1e6 / ((ld_now_ns() - t0) / 1e9));
	memset(h, 0, BIG);
	rt_d2h(b->ctx, h, tgt, BIG);
	rt_expect_pattern(h, BIG, 77 + b->chip, 0, "64 MiB at the target");
	RT_OK(lumen_remote_read_async(a->s, dst, &d, 0, BIG));
	RT_OK(lumen_stream_synchronize(a->s));
	memset(h, 0, BIG);
	rt_d2h(a->ctx, h, dst, BIG);
	rt_expect_pattern(h, BIG, 77 + b->chip, 0, "64 MiB read back");
	RT_OK(lumen_window_close(w));
	RT_OK(lumen_free(b->ctx, tgt));
	RT_OK(lumen_free(a->ctx, src));
	RT_OK(lumen_free(a->ctx, dst));
	free(h);
}

static void big_transfers(void **state)
{
	struct fx *f = *state;

	need_links();
	if (!f->fabric || f->n < 2)
		skip();
	big_transfer(&f->c[0], &f->c[1]); /* a neighbour */
	if (f->n >= 3)
		big_transfer(&f->c[0], &f->c[2]); /* two hops on a ring of 4 */
}

#define ADDS 64

struct adder {
	struct card *c;
	const lumen_window_desc_t *d;
	lumen_devptr_t results;
	lumen_status_t st;
};

static void *add_thread(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < ADDS && a->st == LUMEN_SUCCESS; i++)
		a->st = lumen_remote_atomic_async(a->c->s, a->d, 8, LUMEN_ATOMIC_FETCH_ADD, 1,
						  a->results + 8 * i);
	if (a->st == LUMEN_SUCCESS)
		a->st = lumen_stream_synchronize(a->c->s);
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static void fetch_add_from_every_chip(void **state)
{
	struct fx *f = *state;
	struct card *t = &f->c[0];
	int n = f->fabric ? f->n : 1;
	struct adder ad[MAX_CARDS];
	pthread_t th[MAX_CARDS];
	lumen_window_t w;
	lumen_window_desc_t d;
	lumen_devptr_t word;
	uint64_t *olds = calloc((size_t)n * ADDS, 8), v[3];

	need_links();
	assert_non_null(olds);
	/* The counter at offset 8, guard words at 0 and 16. */
	RT_OK(lumen_malloc(t->ctx, 4096, &word));
	v[0] = 0x1111111111111111ull, v[1] = 1000, v[2] = 0x2222222222222222ull;
	rt_h2d(t->ctx, word, v, sizeof(v));
	RT_OK(lumen_window_open(t->ctx, word, 24, LUMEN_WINDOW_ATOMIC, &w));
	RT_OK(lumen_window_get_desc(w, &d));
	for (int i = 0; i < n; i++) {
		ad[i] = (struct adder){&f->c[i], &d, f->c[i].dst, LUMEN_SUCCESS};
		assert_int_equal(pthread_create(&th[i], NULL, add_thread, &ad[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++) {
		uint64_t *mine = olds + (size_t)i * ADDS;

		if (ad[i].st != LUMEN_SUCCESS)
			fail_msg("chip %u's fetch-adds: %s (\"%s\")", f->c[i].chip, rt_st(ad[i].st),
				 lumen_get_last_error());
		rt_d2h(f->c[i].ctx, mine, f->c[i].dst, ADDS * 8);
		/* One stream's operations to one chip apply in order. */
		for (int k = 1; k < ADDS; k++)
			if (mine[k] <= mine[k - 1])
				fail_msg("chip %u's add %d saw %llu after %llu: out of order",
					 f->c[i].chip, k, (unsigned long long)mine[k],
					 (unsigned long long)mine[k - 1]);
	}
	rt_d2h(t->ctx, v, word, sizeof(v));
	assert_int_equal(v[0], 0x1111111111111111ull);
	assert_int_equal(v[1], 1000 + (uint64_t)n * ADDS);
	assert_int_equal(v[2], 0x2222222222222222ull);
	/* Applied exactly once each: the old values are 1000 .. 1000 + n*ADDS - 1. */
	qsort(olds, (size_t)n * ADDS, 8, cmp_u64);
	for (size_t i = 0; i < (size_t)n * ADDS; i++)
		if (olds[i] != 1000 + i)
			fail_msg("old value %zu is %llu, expected %zu", i,
				 (unsigned long long)olds[i], 1000 + i);
	printf("# %d chips x %d fetch-adds on chip %u: counted exactly\n", n, ADDS, t->chip);

	/* SIGNAL stores the operand and returns the old value. */
	struct card *s = &f->c[n > 1 ? 1 : 0];
	RT_OK(lumen_remote_atomic_async(s->s, &d, 8, LUMEN_ATOMIC_SIGNAL, 0xfeedf00dcafeull,
					s->dst));
	RT_OK(lumen_stream_synchronize(s->s));
	rt_d2h(t->ctx, v, word, sizeof(v));
	assert_int_equal(v[1], 0xfeedf00dcafeull);
	assert_int_equal(v[0], 0x1111111111111111ull);
	assert_int_equal(v[2], 0x2222222222222222ull);
	rt_d2h(s->ctx, v, s->dst, 8);
	assert_int_equal(v[0], 1000 + (uint64_t)n * ADDS);
	RT_OK(lumen_window_close(w));
	RT_OK(lumen_free(t->ctx, word));
	free(olds);
}

/*
 * One remote operation that must fail with want at the sender, from a
 * fresh context on card s (a driver may stop the context for it), with the
 * target's bytes unchanged.
 */
static void expect_remote_error(int s, struct card *t, const lumen_window_desc_t *d, int op,
				lumen_status_t want, const char *what)
{
	struct card x = {0};
	lumen_fault_t fault;
	uint64_t before = target_checksum(t);
	lumen_status_t st;

	assert_int_equal(card_open(&x, s), 0);
	ld_pattern(F->host2, 8192, 9);
	rt_h2d(x.ctx, x.src, F->host2, 8192);
	if (op == 0)
		st = lumen_remote_write_async(x.s, d, 0, x.src, 8192);
	else if (op == 1)
		st = lumen_remote_read_async(x.s, x.dst, d, 0, 8192);
	else /* the first aligned word of the target */
		st = lumen_remote_atomic_async(x.s, d, (8 - d->base % 8) % 8,
					       LUMEN_ATOMIC_FETCH_ADD, 1, x.dst);
	RT_OK(st);
	st = lumen_stream_synchronize(x.s);
	if (st != want)
		fail_msg("%s: synchronize -> %s, expected %s (\"%s\")", what, rt_st(st),
			 rt_st(want), lumen_get_last_error());
	RT_FAIL_AS("lumen_stream_synchronize", st, want);
	assert_non_null(strstr(lumen_get_last_error(), "remote"));
	LUMEN_STRUCT_INIT(fault);
	if (lumen_context_get_fault(x.ctx, &fault) == LUMEN_SUCCESS) {
		/* Reported once; the stream goes on. */
		RT_OK(lumen_stream_synchronize(x.s));
		RT_OK(lumen_remote_read_async(x.s, x.dst, &t->desc, 0, 8));
		RT_OK(lumen_stream_synchronize(x.s));
		printf("# %s: %s, the context goes on\n", what, rt_st(want));
	} else {
		assert_int_equal(fault.kind, LUMEN_FAULT_REMOTE);
		assert_int_equal(fault.status, want);
		printf("# %s: %s, the driver stopped the context\n", what, rt_st(want));
	}
	lumen_context_destroy(x.ctx);
	if (target_checksum(t) != before)
		fail_msg("%s: the target's bytes changed", what);
}

static void access_errors(void **state)
{
	struct fx *f = *state;
	struct card *t = &f->c[f->fabric && f->n > 1 ? 1 : 0];
	lumen_window_desc_t d;
	lumen_window_t w;

	need_links();
	RT_OK(lumen_memset(t->ctx, t->tgt, GUARD, TGT_SIZE));
	d = t->desc;
	d.key ^= 0x100;
	expect_remote_error(0, t, &d, 0, LUMEN_ERROR_REMOTE_ACCESS, "wrong key (write)");
	expect_remote_error(0, t, &d, 1, LUMEN_ERROR_REMOTE_ACCESS, "wrong key (read)");

	/* A closed window: its descriptor is dead. */
	RT_OK(lumen_window_open(t->ctx, t->tgt + 64 * KiB, 64 * KiB,
				LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE, &w));
	RT_OK(lumen_window_get_desc(w, &d));
	RT_OK(lumen_window_close(w));
	expect_remote_error(0, t, &d, 0, LUMEN_ERROR_REMOTE_ACCESS, "closed window");

	/* Past the end: a descriptor claiming more than the window has. The
	 * window is page-aligned and whole pages, so the card's range is its. */
	RT_OK(lumen_window_open(t->ctx, t->tgt + 256 * KiB, 4096,
				LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC, &w));
	RT_OK(lumen_window_get_desc(w, &d));
	assert_int_equal(d.base, 0);
	d.size = 8192;
	expect_remote_error(0, t, &d, 0, LUMEN_ERROR_REMOTE_ACCESS, "past the end (write)");
	expect_remote_error(0, t, &d, 1, LUMEN_ERROR_REMOTE_ACCESS, "past the end (read)");
	RT_OK(lumen_window_close(w));

	/* Missing rights: a READ-only window written to, or used atomically. */
	RT_OK(lumen_window_open(t->ctx, t->tgt + 512 * KiB, 8192, LUMEN_WINDOW_READ, &w));
	RT_OK(lumen_window_get_desc(w, &d));
	d.rights |= LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC;
	expect_remote_error(0, t, &d, 0, LUMEN_ERROR_REMOTE_ACCESS, "no WRITE right");
	expect_remote_error(0, t, &d, 2, LUMEN_ERROR_REMOTE_ACCESS, "no ATOMIC right");
	RT_OK(lumen_window_close(w));
}

static void unreachable(void **state)
{
	struct fx *f = *state;
	lumen_window_desc_t d;

	need_links();
	/* No route leads to chip 100 (lumen-route wrote only the ring's chips;
	 * without routes no chip is reachable but oneself). */
	d = f->c[0].desc;
	d.chip_id = 100;
	d.rights |= LUMEN_WINDOW_ATOMIC; /* only chip 100 could refuse it */
	expect_remote_error(0, &f->c[0], &d, 0, LUMEN_ERROR_UNREACHABLE, "chip 100 (write)");
	expect_remote_error(0, &f->c[0], &d, 2, LUMEN_ERROR_UNREACHABLE, "chip 100 (atomic)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(link_info),
		cmocka_unit_test(argument_checks),
		cmocka_unit_test(write_read_every_pair),
		cmocka_unit_test(big_transfers),
		cmocka_unit_test(fetch_add_from_every_chip),
		cmocka_unit_test(access_errors),
		cmocka_unit_test(unreachable),
	};
	return cmocka_run_group_tests_name("rt_remote", tests, setup, teardown);
}
