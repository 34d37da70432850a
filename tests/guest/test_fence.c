// SPDX-License-Identifier: MIT
/*
 * Ordering between queues: device WAIT on one queue released by a SIGNAL on
 * another, syncobj out-fences of one job as in-fences of a job on another
 * queue (binary and timeline points), and the timeouts of DRM_IOCTL_LUMEN_WAIT
 * and drmSyncobjWait.
 *
 * Jobs are held back with a "gate": a device WAIT on a word of a host BO that
 * the test later sets from the CPU, so "not finished yet" is deterministic.
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
#include <xf86drm.h>
#include <cmocka.h>

#include "lumen_dev.h"

#define MiB (1ull << 20)
#define HOLD_NS (200ull * 1000 * 1000)	/* how long a gated job must stay pending */

struct ctx {
	int fd;
	uint32_t qa, qb;
	struct ld_buf gate;	/* 4 KiB host BO: u64 words the device waits on */
	struct ld_buf src, mid, dst;
	uint32_t bos[4];
};

#define SIZE (4 * MiB + 3)

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	c->fd = ld_open(0);
	if (c->fd < 0 || ld_queue_create(c->fd, &c->qa) || ld_queue_create(c->fd, &c->qb) ||
	    ld_buf_new(c->fd, LD_HOST, 4096, &c->gate) ||
	    ld_buf_new(c->fd, LD_HOST, SIZE, &c->src) ||
	    ld_buf_new(c->fd, LD_DEVICE, SIZE, &c->mid) ||
	    ld_buf_new(c->fd, LD_HOST, SIZE, &c->dst)) {
		fprintf(stderr, "fence setup failed\n");
		return -1;
	}
	c->bos[0] = c->gate.handle;
	c->bos[1] = c->src.handle;
	c->bos[2] = c->mid.handle;
	c->bos[3] = c->dst.handle;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	close(c->fd);
	free(c);
	return 0;
}

static volatile uint64_t *gate_word(struct ctx *c, int i)
{
	return (volatile uint64_t *)(c->gate.map + 8 * i);
}

static void reset(struct ctx *c, uint32_t seed)
{
	struct lumen_cmd nop = ld_cmd_nop();

	/* Release whatever an earlier failed test left gated, drain both
	 * queues (in order), then close the gates again. */
	memset(c->gate.map, 0xff, 4096);
	__sync_synchronize();
	assert_int_equal(ld_run1(c->fd, c->qa, &nop, NULL, 0), 0);
	assert_int_equal(ld_run1(c->fd, c->qb, &nop, NULL, 0), 0);
	memset(c->gate.map, 0, 4096);
	ld_pattern(c->src.map, SIZE, seed);
	memset(c->mid.map, 0, c->mid.size);
	memset(c->dst.map, 0, SIZE);
	__sync_synchronize();
}

static struct ld_job job_of(struct ctx *c, struct lumen_cmd *cmds, uint32_t n)
{
	struct ld_job j = { .cmds = cmds, .num_cmds = n, .bos = c->bos, .num_bos = 4 };

	return j;
}

/* Polls as pending now and after HOLD_NS. */
static void assert_pending(int fd, uint32_t q, uint64_t seqno)
{
	int32_t st;

	assert_int_equal(ld_wait(fd, q, seqno, 0, &st), -ETIME);
	usleep(HOLD_NS / 1000);
	assert_int_equal(ld_wait(fd, q, seqno, 0, &st), -ETIME);
}

static void assert_done(int fd, uint32_t q, uint64_t seqno)
{
	int32_t st = 1;

	assert_int_equal(ld_wait(fd, q, seqno, LD_WAIT_NS, &st), 0);
	assert_int_equal(st, 0);
}

/* Queue B waits (device WAIT) for a value queue A signals after its copy:
 * B's copy sees A's data. */
static void test_device_wait_signal(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd a[2], b[2];
	struct ld_job ja = job_of(c, a, 2), jb = job_of(c, b, 2);
	uint64_t sa, sb;

	reset(c, 1);
	b[0] = ld_cmd_wait(c->gate.va + 8, 5);
	b[1] = ld_cmd_copy(c->dst.va, c->mid.va, SIZE);
	assert_int_equal(ld_submit(c->fd, c->qb, &jb, &sb), 0);
	assert_pending(c->fd, c->qb, sb);

	/* A smaller value does not release it. */
	a[0] = ld_cmd_signal(c->gate.va + 8, 4);
	assert_int_equal(ld_run1(c->fd, c->qa, a, c->bos, 4), 0);
	assert_pending(c->fd, c->qb, sb);

	a[0] = ld_cmd_copy(c->mid.va, c->src.va, SIZE);
	a[1] = ld_cmd_signal(c->gate.va + 8, 5);
	assert_int_equal(ld_submit(c->fd, c->qa, &ja, &sa), 0);
	assert_done(c->fd, c->qa, sa);
	assert_done(c->fd, c->qb, sb);
	assert_int_equal(*gate_word(c, 1), 5);
	assert_int_equal(ld_check_pattern(c->dst.map, SIZE, 1, 0), -1);

	/* WAIT is ">=": a larger value releases too. */
	memset(c->dst.map, 0, SIZE);
	b[0] = ld_cmd_wait(c->gate.va + 16, 10);
	assert_int_equal(ld_submit(c->fd, c->qb, &jb, &sb), 0);
	assert_pending(c->fd, c->qb, sb);
	a[0] = ld_cmd_signal(c->gate.va + 16, 11);
	assert_int_equal(ld_run1(c->fd, c->qa, a, c->bos, 4), 0);
	assert_done(c->fd, c->qb, sb);
	assert_int_equal(ld_check_pattern(c->dst.map, SIZE, 1, 0), -1);
}

/* A job's binary out-syncobj as the in-fence of a job on another queue: the
 * second job does not start before the first completes. */
static void test_syncobj_binary(void **state)
{
	struct ctx *c = *state;
	uint32_t s1 = ld_syncobj(c->fd, 0), s2 = ld_syncobj(c->fd, 0);
	struct drm_lumen_sync out[2] = { { .handle = s1 }, { .handle = s2 } };
	struct drm_lumen_sync in = { .handle = s1 };
	struct lumen_cmd a[2], b[1];
	struct ld_job ja = job_of(c, a, 2), jb = job_of(c, b, 1);
	uint64_t sa, sb;
	uint32_t first;

	assert_true(s1 && s2);
	reset(c, 2);
	/* Job A: held by the gate, then copies src -> mid; signals s1 and s2. */
	a[0] = ld_cmd_wait(c->gate.va, 1);
	a[1] = ld_cmd_copy(c->mid.va, c->src.va, SIZE);
	ja.out = out;
	ja.num_out = 2;
	assert_int_equal(ld_submit(c->fd, c->qa, &ja, &sa), 0);
	/* Job B on the other queue: mid -> dst once s1 has signalled. */
	b[0] = ld_cmd_copy(c->dst.va, c->mid.va, SIZE);
	jb.in = &in;
	jb.num_in = 1;
	assert_int_equal(ld_submit(c->fd, c->qb, &jb, &sb), 0);

	assert_pending(c->fd, c->qb, sb);
	assert_int_equal(drmSyncobjWait(c->fd, &s1, 1, ld_deadline(HOLD_NS / 4), 0, &first),
			 -ETIME);
	/* Release A from the CPU. */
	*gate_word(c, 0) = 1;
	__sync_synchronize();
	assert_done(c->fd, c->qb, sb);
	assert_done(c->fd, c->qa, sa);
	assert_int_equal(drmSyncobjWait(c->fd, (uint32_t[]){ s1, s2 }, 2,
					ld_deadline(LD_WAIT_NS),
					DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, &first), 0);
	assert_int_equal(ld_check_pattern(c->dst.map, SIZE, 2, 0), -1);

	/* Two in-fences: a signalled one and a pending one. */
	reset(c, 3);
	assert_int_equal(drmSyncobjReset(c->fd, &s1, 1), 0);
	out[0].handle = s1;
	ja.num_out = 1;
	assert_int_equal(ld_submit(c->fd, c->qa, &ja, &sa), 0);
	{
		struct drm_lumen_sync ins[2] = { { .handle = s2 }, { .handle = s1 } };

		jb.in = ins;
		jb.num_in = 2;
		assert_int_equal(ld_submit(c->fd, c->qb, &jb, &sb), 0);
	}
	assert_pending(c->fd, c->qb, sb);
	*gate_word(c, 0) = 1;
	__sync_synchronize();
	assert_done(c->fd, c->qb, sb);
	assert_int_equal(ld_check_pattern(c->dst.map, SIZE, 3, 0), -1);

	assert_int_equal(drmSyncobjDestroy(c->fd, s1), 0);
	assert_int_equal(drmSyncobjDestroy(c->fd, s2), 0);
}

/* Timeline syncobj: jobs signal points 1, 2, 3 on one timeline; a job on the
 * other queue waits for point 3; the CPU observes and signals points. */
static void test_syncobj_timeline(void **state)
{
	struct ctx *c = *state;
	uint32_t t = ld_syncobj(c->fd, 0), first;
	struct lumen_cmd a[2], b[1];
	struct ld_job ja = job_of(c, a, 2), jb = job_of(c, b, 1);
	struct drm_lumen_sync pt;
	uint64_t sa[3], sb, val = 99, p;

	assert_true(t);
	reset(c, 4);
	for (int i = 0; i < 3; i++) {
		pt = (struct drm_lumen_sync){ .handle = t, .point = (uint64_t)i + 1 };
		/* Job i waits for gate word i, then copies a third of src. */
		a[0] = ld_cmd_wait(c->gate.va + 8 * i, 1);
		a[1] = ld_cmd_copy(c->mid.va + i * (SIZE / 3), c->src.va + i * (SIZE / 3),
				   i == 2 ? SIZE - 2 * (SIZE / 3) : SIZE / 3);
		ja.out = &pt;
		ja.num_out = 1;
		assert_int_equal(ld_submit(c->fd, c->qa, &ja, &sa[i]), 0);
	}
	pt = (struct drm_lumen_sync){ .handle = t, .point = 3 };
	b[0] = ld_cmd_copy(c->dst.va, c->mid.va, SIZE);
	jb.in = &pt;
	jb.num_in = 1;
	assert_int_equal(ld_submit(c->fd, c->qb, &jb, &sb), 0);

	assert_int_equal(drmSyncobjQuery(c->fd, &t, &val, 1), 0);
	assert_int_equal(val, 0);
	for (int i = 0; i < 3; i++) {
		assert_pending(c->fd, c->qb, sb);
		p = (uint64_t)i + 1;
		assert_int_equal(drmSyncobjTimelineWait(c->fd, &t, &p, 1, ld_deadline(HOLD_NS / 4),
							0, &first), -ETIME);
		*gate_word(c, i) = 1;
		__sync_synchronize();
		assert_int_equal(drmSyncobjTimelineWait(c->fd, &t, &p, 1, ld_deadline(LD_WAIT_NS),
							0, &first), 0);
		assert_int_equal(drmSyncobjQuery(c->fd, &t, &val, 1), 0);
		assert_int_equal(val, p);
		assert_done(c->fd, c->qa, sa[i]);
	}
	assert_done(c->fd, c->qb, sb);
	assert_int_equal(ld_check_pattern(c->dst.map, SIZE, 4, 0), -1);

	/* A point the CPU signals releases a job waiting for an earlier point. */
	assert_int_equal(drmSyncobjTimelineSignal(c->fd, &t, (uint64_t[]){ 10 }, 1), 0);
	pt.point = 7;
	b[0] = ld_cmd_nop();
	assert_int_equal(ld_run(c->fd, c->qb, &jb), 0);
	assert_int_equal(drmSyncobjDestroy(c->fd, t), 0);
}

/* Timeouts: DRM_IOCTL_LUMEN_WAIT and drmSyncobjWait honour them and report
 * -ETIME; an empty syncobj is -EINVAL without WAIT_FOR_SUBMIT. */
static void test_timeouts(void **state)
{
	struct ctx *c = *state;
	uint32_t s = ld_syncobj(c->fd, 0), sig = ld_syncobj(c->fd, 1), first;
	struct drm_lumen_sync out = { .handle = s };
	struct lumen_cmd a[1];
	struct ld_job ja = job_of(c, a, 1);
	uint64_t sa, t0, dt;
	int32_t st;

	assert_true(s && sig);
	reset(c, 5);
	/* Signalled: returns at once. */
	assert_int_equal(drmSyncobjWait(c->fd, &sig, 1, ld_deadline(0), 0, &first), 0);
	/* Empty: no fence to wait for. */
	assert_int_equal(drmSyncobjWait(c->fd, &s, 1, ld_deadline(HOLD_NS), 0, &first), -EINVAL);
	t0 = ld_now_ns();
	assert_int_equal(drmSyncobjWait(c->fd, &s, 1, ld_deadline(HOLD_NS),
					DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, &first), -ETIME);
	dt = ld_now_ns() - t0;
	assert_true(dt >= HOLD_NS * 9 / 10);

	a[0] = ld_cmd_wait(c->gate.va, 1);
	ja.out = &out;
	ja.num_out = 1;
	assert_int_equal(ld_submit(c->fd, c->qa, &ja, &sa), 0);
	/* 0 polls; a relative timeout elapses; both -ETIME. */
	t0 = ld_now_ns();
	assert_int_equal(ld_wait(c->fd, c->qa, sa, 0, &st), -ETIME);
	assert_int_equal(ld_wait(c->fd, c->qa, sa, HOLD_NS, &st), -ETIME);
	dt = ld_now_ns() - t0;
	assert_true(dt >= HOLD_NS * 9 / 10);
	assert_true(dt < 20 * HOLD_NS);
	t0 = ld_now_ns();
	assert_int_equal(drmSyncobjWait(c->fd, &s, 1, ld_deadline(HOLD_NS), 0, &first), -ETIME);
	dt = ld_now_ns() - t0;
	assert_true(dt >= HOLD_NS * 9 / 10);
	/* Any of several: the signalled one wins at once. */
	assert_int_equal(drmSyncobjWait(c->fd, (uint32_t[]){ s, sig }, 2, ld_deadline(LD_WAIT_NS),
					0, &first), 0);
	assert_int_equal(first, 1);

	*gate_word(c, 0) = 1;
	__sync_synchronize();
	assert_int_equal(drmSyncobjWait(c->fd, &s, 1, ld_deadline(LD_WAIT_NS), 0, &first), 0);
	assert_int_equal(ld_wait(c->fd, c->qa, sa, 0, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(drmSyncobjDestroy(c->fd, s), 0);
	assert_int_equal(drmSyncobjDestroy(c->fd, sig), 0);
}

/* A syncobj shared with another file (another context) through a syncobj fd:
 * that context's job waits for ours. On a second card if there is one. */
static void test_syncobj_cross_context(void **state)
{
	struct ctx *c = *state;
	int fd2 = ld_open(ld_num_cards() > 1 ? 1 : 0), sfd = -1;
	uint32_t s = ld_syncobj(c->fd, 0), s2 = 0, q2;
	struct drm_lumen_sync out = { .handle = s }, in;
	struct lumen_cmd a[1], b[2];
	struct ld_job ja = job_of(c, a, 1), jb = { .cmds = b, .num_cmds = 2 };
	struct ld_buf ts;
	uint64_t sa, sb;
	volatile uint64_t *w;

	assert_true(fd2 >= 0 && s);
	reset(c, 6);
	assert_int_equal(drmSyncobjHandleToFD(c->fd, s, &sfd), 0);
	assert_int_equal(drmSyncobjFDToHandle(fd2, sfd, &s2), 0);
	close(sfd);
	assert_int_equal(ld_queue_create(fd2, &q2), 0);
	assert_int_equal(ld_buf_new(fd2, LD_HOST, 4096, &ts), 0);
	w = (volatile uint64_t *)ts.map;
	w[0] = 0;

	a[0] = ld_cmd_wait(c->gate.va, 1);
	ja.out = &out;
	ja.num_out = 1;
	assert_int_equal(ld_submit(c->fd, c->qa, &ja, &sa), 0);
	in = (struct drm_lumen_sync){ .handle = s2 };
	b[0] = ld_cmd_signal(ts.va, 42);
	b[1] = ld_cmd_nop();
	jb.bos = &ts.handle;
	jb.num_bos = 1;
	jb.in = &in;
	jb.num_in = 1;
	assert_int_equal(ld_submit(fd2, q2, &jb, &sb), 0);
	assert_pending(fd2, q2, sb);
	assert_int_equal(w[0], 0);
	*gate_word(c, 0) = 1;
	__sync_synchronize();
	assert_done(fd2, q2, sb);
	assert_int_equal(w[0], 42);
	assert_done(c->fd, c->qa, sa);
	assert_int_equal(ld_buf_free(&ts), 0);
	close(fd2);
	assert_int_equal(drmSyncobjDestroy(c->fd, s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_wait_signal),
		cmocka_unit_test(test_syncobj_binary),
		cmocka_unit_test(test_syncobj_timeline),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_syncobj_cross_context),
	};

	return cmocka_run_group_tests_name("fence", tests, setup, teardown);
}
