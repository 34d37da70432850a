// SPDX-License-Identifier: MIT
/*
 * Recovery from a hung queue (TDR) and from device errors, with the test
 * fault injection of the card driven through debugfs:
 *   - an injected queue hang fails the job with -ETIMEDOUT after the job
 *     timeout (lowered through /sys/module/lumen/parameters/job_timeout_ms),
 *     the context reads HUNG|BANNED, later submissions get -ECANCELED, a
 *     concurrent context keeps running and a new file works at once;
 *   - an injected DMA failure fails the job with -EIO;
 *   - a process that dies with BOs, mappings, queues and a hung job leaves
 *     no BO behind (debugfs bo_stats) and all device memory free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "lumen/lumen_regs.h"

#define MiB (1ull << 20)
#define TIMEOUT_PARAM "/sys/module/lumen/parameters/job_timeout_ms"
#define TEST_TIMEOUT_MS 300

struct ctx {
	char dbg[128];		/* debugfs dir of card 0 */
	char old_timeout[32];
	int timeout_ms;		/* in force during the suite */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char buf[32];

	if (!c)
		return -1;
	*state = c;
	if (ld_debugfs_dir(0, c->dbg, sizeof(c->dbg))) {
		fprintf(stderr, "no debugfs directory for card 0\n");
		return -1;
	}
	if (gu_read_sysfs(TIMEOUT_PARAM, c->old_timeout, sizeof(c->old_timeout))) {
		fprintf(stderr, "no %s\n", TIMEOUT_PARAM);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%d", TEST_TIMEOUT_MS);
	if (gu_write_sysfs(TIMEOUT_PARAM, buf) == 0)
		c->timeout_ms = TEST_TIMEOUT_MS;
	else
		c->timeout_ms = atoi(c->old_timeout);
	printf("# job timeout %d ms\n", c->timeout_ms);
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	gu_write_sysfs(TIMEOUT_PARAM, c->old_timeout);
	free(c);
	return 0;
}

/* Arm an injection (enum lumen_inject) on a hardware queue. */
static int inject(struct ctx *c, unsigned int kind, int hwq)
{
	static const char *const names[] = {
		[LUMEN_INJECT_NONE] = "none",
		[LUMEN_INJECT_HANG_QUEUE] = "hang",
		[LUMEN_INJECT_DMA_FAIL] = "dma",
		[LUMEN_INJECT_CORRUPT_DESC] = "corrupt",
	};
	char path[192], val[32];

	if (kind >= sizeof(names) / sizeof(names[0]))
		return -EINVAL;
	/* debugfs "inject": "<hang|dma|corrupt|none> <hardware queue>" */
	snprintf(path, sizeof(path), "%s/inject", c->dbg);
	snprintf(val, sizeof(val), "%s %d", names[kind], hwq);
	return gu_write_sysfs(path, val);
}

/* "total N bytes" and "devmem_free F" of debugfs bo_stats. */
static int bo_stats(struct ctx *c, long *objects, unsigned long long *devmem_free)
{
	char path[192], *text, *p;
	int ok = 0;

	snprintf(path, sizeof(path), "%s/bo_stats", c->dbg);
	text = ld_read_file(path);
	if (!text)
		return -1;
	p = strstr(text, "\ntotal");
	if (p && sscanf(p, "\ntotal %ld", objects) == 1)
		ok++;
	p = strstr(text, "devmem_free");
	if (p && sscanf(p, "devmem_free %llu", devmem_free) == 1)
		ok++;
	free(text);
	return ok == 2 ? 0 : -1;
}

static void copy_ok(int fd, uint32_t q, uint32_t seed)
{
	struct ld_buf s, d;
	uint32_t bos[2];
	struct lumen_cmd cmd;

	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &s), 0);
	assert_int_equal(ld_buf_new(fd, LD_DEVICE, MiB, &d), 0);
	bos[0] = s.handle;
	bos[1] = d.handle;
	ld_pattern(s.map, MiB, seed);
	cmd = ld_cmd_copy(d.va, s.va, MiB);
	assert_int_equal(ld_run1(fd, q, &cmd, bos, 2), 0);
	memset(s.map, 0, MiB);
	cmd = ld_cmd_copy(s.va, d.va, MiB);
	assert_int_equal(ld_run1(fd, q, &cmd, bos, 2), 0);
	assert_int_equal(ld_check_pattern(s.map, MiB, seed, 0), -1);
	assert_int_equal(ld_buf_free(&s), 0);
	assert_int_equal(ld_buf_free(&d), 0);
}

static void test_hang_timeout(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_context_status st;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
	uint32_t q, q2, oq;
	uint64_t seq, seq2, t0, dt;
	int32_t status;
	int fd, other, hwq;

	fd = ld_open(0);
	other = ld_open(0);
	assert_true(fd >= 0 && other >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_queue_create(fd, &q2), 0);
	assert_int_equal(ld_queue_create(other, &oq), 0);
	/* Both work before. */
	assert_int_equal(ld_run(fd, q, &job), 0);
	copy_ok(other, oq, 1);

	hwq = ld_hwq_of(0, q);
	assert_true(hwq >= 0);
	assert_int_equal(inject(c, LUMEN_INJECT_HANG_QUEUE, hwq), 0);
	t0 = ld_now_ns();
	assert_int_equal(ld_submit(fd, q, &job, &seq), 0);
	assert_int_equal(ld_submit(fd, q, &job, &seq2), 0);
	/* Meanwhile the other context copies fine. */
	copy_ok(other, oq, 2);
	assert_int_equal(ld_wait(fd, q, seq, LD_WAIT_NS, &status), 0);
	dt = ld_now_ns() - t0;
	assert_int_equal(status, -ETIMEDOUT);
	/* Not before the timeout, and not much after it. */
	assert_true(dt >= (uint64_t)c->timeout_ms * 1000000 * 9 / 10);
	assert_true(dt < (uint64_t)c->timeout_ms * 1000000 * 10 + 5 * LD_SEC_NS);
	assert_int_equal(ld_wait(fd, q, seq2, LD_WAIT_NS, &status), 0);
	if (status != -ETIMEDOUT && status != -ECANCELED)
		fail_msg("job behind the hang: status %d", status);

	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_int_equal(st.flags & (DRM_LUMEN_CTX_HUNG | DRM_LUMEN_CTX_BANNED),
			 DRM_LUMEN_CTX_HUNG | DRM_LUMEN_CTX_BANNED);
	assert_false(st.flags & DRM_LUMEN_CTX_FAULTED);
	assert_int_equal(st.error, -ETIMEDOUT);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.fault_queue, q);
	/* Banned on every queue. */
	assert_int_equal(ld_submit(fd, q, &job, NULL), -ECANCELED);
	assert_int_equal(ld_submit(fd, q2, &job, NULL), -ECANCELED);
	/* The other context never noticed. */
	{
		struct drm_lumen_context_status os;

		assert_int_equal(ld_ctx_status(other, &os), 0);
		assert_int_equal(os.flags, 0);
		assert_int_equal(os.error, 0);
	}
	copy_ok(other, oq, 3);
	close(fd);

	/* A new file works at once, on whatever hardware queue it gets. */
	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	copy_ok(fd, q, 4);
	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_int_equal(st.flags, 0);
	close(fd);
	close(other);
}

/* The reset hardware queue is fine for its next owner: hang every queue
 * we can get once, then use them all. */
static void test_reset_queue_reusable(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
	uint32_t q;
	int32_t status;
	uint64_t seq;
	int fd = ld_open(0), hwq, first;

	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	first = hwq = ld_hwq_of(0, q);
	assert_true(hwq >= 0);
	assert_int_equal(inject(c, LUMEN_INJECT_HANG_QUEUE, hwq), 0);
	assert_int_equal(ld_submit(fd, q, &job, &seq), 0);
	assert_int_equal(ld_wait(fd, q, seq, LD_WAIT_NS, &status), 0);
	assert_int_equal(status, -ETIMEDOUT);
	close(fd);

	/* Take hardware queues until we get the one that hung again. */
	fd = ld_open(0);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(ld_queue_create(fd, &q), 0);
		hwq = ld_hwq_of(0, q);
		copy_ok(fd, q, (uint32_t)i);
		if (hwq == first)
			break;
	}
	assert_int_equal(hwq, first);
	close(fd);
}

/* A DMA error is not a hang: -EIO at once. */
static void test_dma_fail(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_context_status st;
	struct ld_buf s, d;
	uint32_t q, bos[2];
	struct lumen_cmd cmd;
	int32_t status;
	uint64_t seq, t0;
	int fd = ld_open(0), hwq;

	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &s), 0);
	assert_int_equal(ld_buf_new(fd, LD_DEVICE, MiB, &d), 0);
	bos[0] = s.handle;
	bos[1] = d.handle;
	hwq = ld_hwq_of(0, q);
	assert_true(hwq >= 0);
	assert_int_equal(inject(c, LUMEN_INJECT_DMA_FAIL, hwq), 0);
	cmd = ld_cmd_copy(d.va, s.va, MiB);
	t0 = ld_now_ns();
	assert_int_equal(ld_submit(fd, q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1,
							     .bos = bos, .num_bos = 2 }, &seq), 0);
	assert_int_equal(ld_wait(fd, q, seq, LD_WAIT_NS, &status), 0);
	assert_int_equal(status, -EIO);
	assert_true(ld_now_ns() - t0 < (uint64_t)c->timeout_ms * 1000000 * 9 / 10);
	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_int_equal(st.error, -EIO);
	assert_false(st.flags & DRM_LUMEN_CTX_HUNG);
	close(fd);
	/* Leave the card as we found it: a fresh context copies. */
	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	copy_ok(fd, q, 9);
	close(fd);
}

/* A process dies mid-hang holding BOs of every kind, mappings, queues, a
 * syncobj and pending jobs: everything is released. */
static void test_no_leak_after_exit(void **state)
{
	struct ctx *c = *state;
	long objs0 = -1, objs = -1;
	unsigned long long free0 = 0, free1 = 0;
	int ready[2], st, i;
	pid_t pid;
	char ch;

	assert_int_equal(bo_stats(c, &objs0, &free0), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ld_buf b[6];
		struct lumen_cmd cmds[2];
		struct ld_job job = { .cmds = cmds, .num_cmds = 2, .num_bos = 1 };
		uint32_t q, sync;
		int fd = ld_open(0), hwq;

		close(ready[0]);
		if (fd < 0 || ld_queue_create(fd, &q))
			_exit(2);
		for (i = 0; i < 6; i++)
			if (ld_buf_new(fd, (enum ld_place)(i % 3), 4 * MiB, &b[i]))
				_exit(3);
		sync = ld_syncobj(fd, 0);
		hwq = ld_hwq_of(0, q);
		if (hwq < 0 || inject(c, LUMEN_INJECT_HANG_QUEUE, hwq))
			_exit(4);
		job.bos = &b[1].handle;
		job.out = &(struct drm_lumen_sync){ .handle = sync };
		job.num_out = sync ? 1 : 0; /* syncobjs are the fence suite's business */
		cmds[0] = ld_cmd_fill(b[0].va, 4 * MiB, 1);
		cmds[1] = ld_cmd_copy(b[1].va, b[0].va, 4 * MiB);
		for (i = 0; i < 4; i++)
			if (ld_submit(fd, q, &job, NULL))
				_exit(5);
		/* Exit with all of it: no close, no unmap, no destroy. */
		if (write(ready[1], "x", 1) != 1)
			_exit(6);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Release may finish asynchronously (the hung job has to time out):
	 * allow the timeout plus slack. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(bo_stats(c, &objs, &free1), 0);
		if (objs == objs0 && free1 == free0)
			break;
		usleep(100 * 1000);
	}
	if (objs != objs0 || free1 != free0)
		fail_msg("after exit: %ld BOs (was %ld), devmem_free %llu (was %llu)", objs, objs0,
			 free1, free0);
	/* And the card still works. */
	{
		int fd = ld_open(0);
		uint32_t q;

		assert_true(fd >= 0);
		assert_int_equal(ld_queue_create(fd, &q), 0);
		copy_ok(fd, q, 11);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hang_timeout),
		cmocka_unit_test(test_reset_queue_reusable),
		cmocka_unit_test(test_dma_fail),
		cmocka_unit_test(test_no_leak_after_exit),
	};

	return cmocka_run_group_tests_name("recovery", tests, setup, teardown);
}
