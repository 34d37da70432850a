// SPDX-License-Identifier: MIT
/*
 * COPY and FILL correctness, byte for byte: host -> device -> device -> host
 * chains (shmem and user-pointer memory) for sizes from 1 byte to 64 MiB with
 * unaligned source and destination offsets, guard bytes around every
 * destination, many commands per job and many jobs in flight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lumen_dev.h"

#define MiB (1ull << 20)
#define GUARD 0xa5
#define SLACK 8192	/* room for offsets and guard bytes around the data */

struct ctx {
	int fd;
	uint32_t q;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	c->fd = ld_open(0);
	if (c->fd < 0 || ld_queue_create(c->fd, &c->q)) {
		fprintf(stderr, "cannot open card 0 / create a queue\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	ld_queue_destroy(c->fd, c->q);
	close(c->fd);
	free(c);
	return 0;
}

/* Every byte of p[0..len) equals v; index of the first that does not, or -1. */
static long check_byte(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return (long)i;
	return -1;
}

/* dst.map holds the pattern stream of seed starting at src_off, at dst_off,
 * size bytes, with GUARD bytes around it (the whole buffer is checked). */
static void check_dst(const struct ld_buf *b, uint64_t dst_off, uint64_t size,
		      uint32_t seed, uint64_t src_off, const char *what)
{
	long bad;

	bad = check_byte(b->map, dst_off, GUARD);
	if (bad >= 0)
		fail_msg("%s: guard byte %ld before the data overwritten", what, bad);
	bad = ld_check_pattern(b->map + dst_off, size, seed, src_off);
	if (bad >= 0)
		fail_msg("%s: size %llu: byte %ld differs (0x%02x)", what,
			 (unsigned long long)size, bad, b->map[dst_off + bad]);
	bad = check_byte(b->map + dst_off + size, b->size - dst_off - size, GUARD);
	if (bad >= 0)
		fail_msg("%s: guard byte %ld after the data overwritten", what, bad);
}

/*
 * One chain for one size: src (host-side placement) -> D1 -> D2 -> dst
 * (host-side), each hop with its own unaligned offsets, in one job of three
 * COPY commands (the engine is in order). Small sizes also check D1 through
 * its CPU mapping and run the hops as separate jobs.
 */
static void chain(struct ctx *c, enum ld_place outer, uint64_t size, uint32_t seed,
		  const uint64_t off[4])
{
	struct ld_buf s, d1, d2, d;
	uint64_t bsize = size + SLACK;
	uint32_t bos[4];
	struct lumen_cmd cmds[3];
	struct ld_job job = { .cmds = cmds, .num_cmds = 3, .bos = bos, .num_bos = 4 };
	char what[96];

	assert_int_equal(ld_buf_new(c->fd, outer, bsize, &s), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_DEVICE, bsize, &d1), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_DEVICE, bsize, &d2), 0);
	assert_int_equal(ld_buf_new(c->fd, outer, bsize, &d), 0);
	bos[0] = s.handle;
	bos[1] = d1.handle;
	bos[2] = d2.handle;
	bos[3] = d.handle;

	/* The source holds the stream at its own offsets: byte k of the buffer
	 * is stream byte k, so the data copied from off[0] starts at stream
	 * offset off[0]. */
	ld_pattern(s.map, s.size, seed);
	memset(d1.map, GUARD, d1.size);
	memset(d2.map, GUARD, d2.size);
	memset(d.map, GUARD, d.size);

	cmds[0] = ld_cmd_copy(d1.va + off[1], s.va + off[0], size);
	cmds[1] = ld_cmd_copy(d2.va + off[2], d1.va + off[1], size);
	cmds[2] = ld_cmd_copy(d.va + off[3], d2.va + off[2], size);
	if (size <= 2 * MiB) {
		/* Hop by hop, checking the device copies through the BAR. */
		job.num_cmds = 1;
		for (int i = 0; i < 3; i++) {
			job.cmds = &cmds[i];
			assert_int_equal(ld_run(c->fd, c->q, &job), 0);
		}
		snprintf(what, sizeof(what), "%s->device", ld_place_name(outer));
		check_dst(&d1, off[1], size, seed, off[0], what);
		check_dst(&d2, off[2], size, seed, off[0], "device->device");
	} else {
		assert_int_equal(ld_run(c->fd, c->q, &job), 0);
	}
	snprintf(what, sizeof(what), "%s->device->device->%s", ld_place_name(outer),
		 ld_place_name(outer));
	check_dst(&d, off[3], size, seed, off[0], what);

	assert_int_equal(ld_buf_free(&s), 0);
	assert_int_equal(ld_buf_free(&d1), 0);
	assert_int_equal(ld_buf_free(&d2), 0);
	assert_int_equal(ld_buf_free(&d), 0);
}

static const uint64_t sizes[] = {
	1, 3, 4095, 4096, 4097, MiB + 7, 2 * MiB, 16 * MiB, 64 * MiB,
};

/* Offsets per size index: src, D1, D2, dst; aligned and not. */
static const uint64_t offsets[][4] = {
	{ 0, 0, 0, 0 }, { 1, 2, 3, 5 }, { 4095, 1, 4096, 7 }, { 0, 4096, 8, 4095 },
	{ 7, 0, 4093, 1 }, { 3, 4097, 64, 13 }, { 4096, 0, 4096, 0 },
	{ 5, 11, 4099, 4091 }, { 1, 0, 4095, 3 },
};

static void test_copy_host(void **state)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		chain(*state, LD_HOST, sizes[i], (uint32_t)(100 + i), offsets[i]);
}

static void test_copy_userptr(void **state)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		chain(*state, LD_USERPTR, sizes[i], (uint32_t)(200 + i),
		      offsets[sizeof(sizes) / sizeof(sizes[0]) - 1 - i]);
}

/* Host <-> user pointer memory directly, no device memory on the way. */
static void test_copy_host_userptr(void **state)
{
	struct ctx *c = *state;
	struct ld_buf h, u;
	uint64_t size = MiB + 4093;
	uint32_t bos[2];
	struct lumen_cmd cmd;

	assert_int_equal(ld_buf_new(c->fd, LD_HOST, size + SLACK, &h), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_USERPTR, size + SLACK, &u), 0);
	bos[0] = h.handle;
	bos[1] = u.handle;
	ld_pattern(h.map, h.size, 31);
	memset(u.map, GUARD, u.size);
	cmd = ld_cmd_copy(u.va + 3, h.va + 4097, size);
	assert_int_equal(ld_run1(c->fd, c->q, &cmd, bos, 2), 0);
	check_dst(&u, 3, size, 31, 4097, "host->userptr");

	ld_pattern(u.map, u.size, 32);
	memset(h.map, GUARD, h.size);
	cmd = ld_cmd_copy(h.va + 4095, u.va + 1, size);
	assert_int_equal(ld_run1(c->fd, c->q, &cmd, bos, 2), 0);
	check_dst(&h, 4095, size, 32, 1, "userptr->host");
	assert_int_equal(ld_buf_free(&h), 0);
	assert_int_equal(ld_buf_free(&u), 0);
}

static void check_fill(const struct ld_buf *b, uint64_t off, uint64_t size, uint64_t pat,
		       const char *what)
{
	long bad = check_byte(b->map, off, GUARD);

	if (bad >= 0)
		fail_msg("%s: guard byte %ld before the fill overwritten", what, bad);
	static uint8_t ref[65536];

	for (size_t i = 0; i < sizeof(ref); i++)
		ref[i] = (uint8_t)(pat >> (8 * (i % 8)));
	/* Fast path: 64 KiB (a multiple of 8) at a time. */
	for (uint64_t i = 0; i < size; i += sizeof(ref)) {
		uint64_t n = size - i < sizeof(ref) ? size - i : sizeof(ref);

		if (memcmp(b->map + off + i, ref, n))
			break;
		if (i + n == size)
			goto tail;
	}
	for (uint64_t i = 0; i < size; i++) {
		uint8_t want = (uint8_t)(pat >> (8 * (i % 8)));

		if (b->map[off + i] != want)
			fail_msg("%s: fill size %llu off %llu: byte %llu is 0x%02x, want 0x%02x",
				 what, (unsigned long long)size, (unsigned long long)off,
				 (unsigned long long)i, b->map[off + i], want);
	}
tail:
	bad = check_byte(b->map + off + size, b->size - off - size, GUARD);
	if (bad >= 0)
		fail_msg("%s: guard byte %ld after the fill overwritten", what, bad);
}

/* FILL in device memory (checked through the BAR and after a copy back to the
 * host) and in host memory, sizes 1 B .. 64 MiB, unaligned destinations. The
 * pattern is relative to the region start, not to the address. */
static void test_fill(void **state)
{
	struct ctx *c = *state;
	static const uint64_t offs[] = { 0, 1, 3, 4095, 4096, 5, 7, 4093, 9 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t size = sizes[i], off = offs[i];
		uint64_t pat = 0x0123456789abcdefull ^ ((uint64_t)i << 56);
		struct ld_buf dv, h;
		uint32_t bos[2];
		struct lumen_cmd cmds[2];
		struct ld_job job = { .cmds = cmds, .num_cmds = 2, .bos = bos, .num_bos = 2 };

		assert_int_equal(ld_buf_new(c->fd, LD_DEVICE, size + SLACK, &dv), 0);
		assert_int_equal(ld_buf_new(c->fd, LD_HOST, size + SLACK, &h), 0);
		bos[0] = dv.handle;
		bos[1] = h.handle;
		memset(dv.map, GUARD, dv.size);
		memset(h.map, GUARD, h.size);
		cmds[0] = ld_cmd_fill(dv.va + off, size, pat);
		/* Copy the whole device buffer, guards included, to the host. */
		cmds[1] = ld_cmd_copy(h.va, dv.va, dv.size);
		assert_int_equal(ld_run(c->fd, c->q, &job), 0);
		check_fill(&h, off, size, pat, "device fill copied to host");
		if (size <= 2 * MiB)
			check_fill(&dv, off, size, pat, "device fill via BAR");

		/* FILL straight into host memory. */
		memset(h.map, GUARD, h.size);
		cmds[0] = ld_cmd_fill(h.va + off + 1, size, ~pat);
		assert_int_equal(ld_run1(c->fd, c->q, &cmds[0], bos, 2), 0);
		check_fill(&h, off + 1, size, ~pat, "host fill");

		assert_int_equal(ld_buf_free(&dv), 0);
		assert_int_equal(ld_buf_free(&h), 0);
	}
}

/* 512 scattered 4 KiB+1 copies in one job, then 64 jobs in flight on one
 * queue, each waited for out of order. */
static void test_many_cmds_and_jobs(void **state)
{
	struct ctx *c = *state;
	enum { N = 512, J = 64 };
	struct ld_buf s, d;
	uint32_t bos[2];
	struct lumen_cmd *cmds = calloc(N, sizeof(*cmds));
	struct ld_job job = { .cmds = cmds, .num_cmds = N, .bos = bos, .num_bos = 2 };
	uint64_t seq[J];
	uint64_t chunk = 4097;

	assert_non_null(cmds);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, N * chunk, &s), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_DEVICE, N * chunk, &d), 0);
	bos[0] = s.handle;
	bos[1] = d.handle;
	ld_pattern(s.map, s.size, 7);
	memset(d.map, GUARD, d.size);
	/* Reverse order: chunk i of d from chunk i of s, last first. */
	for (int i = 0; i < N; i++)
		cmds[i] = ld_cmd_copy(d.va + (N - 1 - i) * chunk, s.va + (N - 1 - i) * chunk,
				      chunk);
	assert_int_equal(ld_run(c->fd, c->q, &job), 0);
	assert_int_equal(ld_check_pattern(d.map, N * chunk, 7, 0), -1);

	/* J jobs, job j copies chunk j back into s (over a fresh pattern). */
	ld_pattern(s.map, s.size, 8);
	job.num_cmds = 1;
	for (int j = 0; j < J; j++) {
		uint64_t prev = j ? seq[j - 1] : 0;

		cmds[0] = ld_cmd_copy(s.va + j * chunk, d.va + j * chunk, chunk);
		assert_int_equal(ld_submit(c->fd, c->q, &job, &seq[j]), 0);
		if (j)
			assert_true(seq[j] > prev);
	}
	for (int j = J - 1; j >= 0; j--) {
		int32_t st = 1;

		assert_int_equal(ld_wait(c->fd, c->q, seq[j], LD_WAIT_NS, &st), 0);
		assert_int_equal(st, 0);
	}
	assert_int_equal(ld_check_pattern(s.map, J * chunk, 7, 0), -1);
	assert_int_equal(ld_check_pattern(s.map + J * chunk, (N - J) * chunk, 8, J * chunk), -1);
	/* A finished job polls as finished. */
	{
		int32_t st = 1;

		assert_int_equal(ld_wait(c->fd, c->q, seq[0], 0, &st), 0);
		assert_int_equal(st, 0);
	}
	free(cmds);
	assert_int_equal(ld_buf_free(&s), 0);
	assert_int_equal(ld_buf_free(&d), 0);
}

/* SIGNAL and TIMESTAMP write where they are told; NOP does nothing. */
static void test_signal_timestamp(void **state)
{
	struct ctx *c = *state;
	struct ld_buf b;
	struct lumen_cmd cmds[5];
	struct ld_job job = { .cmds = cmds, .num_cmds = 5, .num_bos = 1 };
	volatile uint64_t *w;

	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 4096, &b), 0);
	job.bos = &b.handle;
	memset(b.map, 0, 4096);
	w = (volatile uint64_t *)b.map;
	cmds[0] = ld_cmd_nop();
	cmds[1] = ld_cmd_signal(b.va + 8, 0x1122334455667788ull);
	cmds[2] = ld_cmd_timestamp(b.va + 16);
	cmds[3] = ld_cmd_timestamp(b.va + 24);
	cmds[4] = ld_cmd_wait(b.va + 8, 0x1122334455667788ull); /* already true */
	assert_int_equal(ld_run(c->fd, c->q, &job), 0);
	assert_int_equal(w[0], 0);
	assert_int_equal(w[1], 0x1122334455667788ull);
	assert_true(w[2] != 0);
	assert_true(w[3] >= w[2]);
	assert_int_equal(w[4], 0);
	assert_int_equal(ld_buf_free(&b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_host),
		cmocka_unit_test(test_copy_userptr),
		cmocka_unit_test(test_copy_host_userptr),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_many_cmds_and_jobs),
		cmocka_unit_test(test_signal_timestamp),
	};

	return cmocka_run_group_tests_name("copy", tests, setup, teardown);
}
