// SPDX-License-Identifier: MIT
/*
 * User-mode queues (uAPI 1.4): creation refused with precise errors (bad
 * flags, order, alignment, a ring or record the context does not map, a
 * read-only record, another context's buffer, the driver's own VA range),
 * submission by plain stores with progress read from the completion record
 * (ring in host and in device memory, many wraps), UQ_WAIT's deadline and
 * wake-up, a fault or a bad command stopping only that context, the
 * driver's fence page out of reach (PRIV), a hang detected and the queue
 * reset, the progress as a sync_file waited on by another process, and a
 * store into the doorbell page after destroy landing nowhere.
 *
 * Work is held back with a gate: a device WAIT on a word of a host BO that
 * the test sets from the CPU later.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <cmocka.h>

#include "ld_uq.h"
#include "lumen/lumen_mmu.h"
#include "lumen/lumen_regs.h"

#define ORDER 6			/* 64 commands: the tests wrap the ring */
#define SPIN_NS (20ull * LD_SEC_NS)	/* TCG: a poll may take a while */
#define HOLD_NS (200ull * 1000 * 1000)

struct ctx {
	int fd;
	struct ld_buf gate;	/* u64 words the device waits on */
	struct ld_buf src, dst, dev;
};

/*
 * The group's file serves the tests that leave their context usable; the
 * ones that fault or hang theirs get a file of their own (the same setup
 * and teardown, per test).
 */

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	uint64_t caps = 0;

	if (!c)
		return -1;
	*state = c;
	c->fd = ld_open(0);
	if (c->fd < 0 || ld_get_param(c->fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) ||
	    !(caps & DRM_LUMEN_CAP_USER_QUEUES) || ld_buf_new(c->fd, LD_HOST, 4096, &c->gate) ||
	    ld_buf_new(c->fd, LD_HOST, 1 << 20, &c->src) ||
	    ld_buf_new(c->fd, LD_HOST, 1 << 20, &c->dst) ||
	    ld_buf_new(c->fd, LD_DEVICE, 1 << 20, &c->dev)) {
		fprintf(stderr, "uq setup failed (caps 0x%llx)\n", (unsigned long long)caps);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return 0;
}

static volatile uint64_t *gate_word(struct ctx *c, unsigned int i)
{
	return (volatile uint64_t *)c->gate.map + i;
}

static struct lumen_cmd gate_cmd(struct ctx *c, unsigned int i)
{
	*gate_word(c, i) = 0;
	return ld_cmd_wait(c->gate.va + 8 * i, 1);
}

static void check_create(struct ctx *c, uint64_t ring_va, uint64_t cpl_va, uint32_t order,
			 int want)
{
	struct drm_lumen_uq_create u = {
		.ring_va = ring_va,
		.cpl_va = cpl_va,
		.ring_order = order,
	};

	assert_int_equal(ld_uq_create_raw(c->fd, &u), want);
	if (!want)
		assert_int_equal(ld_uq_destroy(c->fd, u.queue_id), 0);
}

static void test_create_refused(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_uq_create u = { .ring_va = c->src.va, .cpl_va = c->dst.va,
					 .ring_order = ORDER };
	uint64_t far = ld_va_alloc(1 << 20);
	struct ld_buf ro, other_buf;
	int other;

	/* The good arguments, for reference. */
	check_create(c, c->src.va, c->dst.va, ORDER, 0);

	u.flags = 1;
	assert_int_equal(ld_uq_create_raw(c->fd, &u), -EINVAL);
	u.flags = 0;
	u.reserved = 1;
	assert_int_equal(ld_uq_create_raw(c->fd, &u), -EINVAL);
	u.reserved = 0;
	u.priority = 7;
	assert_int_equal(ld_uq_create_raw(c->fd, &u), -EINVAL);

	check_create(c, c->src.va, c->dst.va, DRM_LUMEN_UQ_ORDER_MIN - 1, -EINVAL);
	check_create(c, c->src.va, c->dst.va, DRM_LUMEN_UQ_ORDER_MAX + 1, -EINVAL);
	check_create(c, c->src.va + 64, c->dst.va, ORDER, -EINVAL);	/* ring misaligned */
	check_create(c, c->src.va, c->dst.va + 8, ORDER, -EINVAL);	/* record misaligned */
	check_create(c, UINT64_MAX & ~4095ull, c->dst.va, ORDER, -EINVAL);

	/* Not mapped, partly mapped, the driver's own range. */
	check_create(c, far, c->dst.va, ORDER, -EFAULT);
	check_create(c, c->src.va, far, ORDER, -EFAULT);
	check_create(c, c->src.va + (1 << 20) - 4096, c->dst.va, ORDER + 1, -EFAULT);
	check_create(c, c->src.va, c->dst.va, 16, -EFAULT);	/* 4 MiB ring, 1 MiB BO */
	check_create(c, 0x100000, c->dst.va, ORDER, -EFAULT);	/* kernel fence pages */

	/* A record the device may not write. */
	assert_int_equal(ld_bo_create(c->fd, 4096, DRM_LUMEN_BO_HOST, 0, &ro.handle, &ro.size), 0);
	ro.va = ld_va_alloc(4096);
	assert_int_equal(ld_vm_map(c->fd, ro.handle, ro.va, 0, 4096, DRM_LUMEN_VM_READ_ONLY), 0);
	check_create(c, c->src.va, ro.va, ORDER, -EFAULT);
	check_create(c, ro.va, c->dst.va, DRM_LUMEN_UQ_ORDER_MIN, 0);	/* a read-only ring is fine */

	/* Memory another context maps at that VA is not this one's. */
	other = ld_open(0);
	assert_true(other >= 0);
	assert_int_equal(ld_buf_new(other, LD_HOST, 1 << 20, &other_buf), 0);
	check_create(c, other_buf.va, c->dst.va, ORDER, -EFAULT);
	check_create(c, c->src.va, other_buf.va, ORDER, -EFAULT);
	ld_buf_free(&other_buf);
	close(other);

	/* Unknown ids, and a user-mode queue's id is not a kernel queue's. */
	assert_int_equal(ld_uq_destroy(c->fd, 999), -ENOENT);
	assert_int_equal(ld_uq_wait(c->fd, 999, 0, 0, NULL, NULL), -ENOENT);
	u.ring_va = c->src.va;
	u.cpl_va = c->dst.va;
	u.ring_order = ORDER;
	u.priority = 0;
	assert_int_equal(ld_uq_create_raw(c->fd, &u), 0);
	assert_int_equal(ld_queue_destroy(c->fd, u.queue_id), -ENOENT);
	{
		/* ...nor does a failed QUEUE_DESTROY hand its id out again. */
		struct drm_lumen_uq_create u2 = u;
		uint32_t kq;

		assert_int_equal(ld_queue_create(c->fd, &kq), 0);
		assert_int_not_equal(kq, u.queue_id);
		u2.queue_id = 0;
		assert_int_equal(ld_uq_create_raw(c->fd, &u2), 0);
		assert_int_not_equal(u2.queue_id, u.queue_id);
		assert_int_not_equal(u2.queue_id, kq);
		assert_int_equal(ld_uq_destroy(c->fd, u2.queue_id), 0);
		assert_int_equal(ld_queue_destroy(c->fd, kq), 0);
	}
	{
		struct lumen_cmd nop = ld_cmd_nop();
		struct ld_job job = { .cmds = &nop, .num_cmds = 1 };

		assert_int_equal(ld_submit(c->fd, u.queue_id, &job, NULL), -ENOENT);
	}
	assert_int_equal(ld_uq_destroy(c->fd, u.queue_id), 0);
	assert_int_equal(ld_uq_destroy(c->fd, u.queue_id), -ENOENT);
}

/* Copies through the queue, several ring wraps, progress from the record. */
static void run_copies(struct ctx *c, enum ld_place place)
{
	struct ld_uq q;
	struct lumen_cmd cmds[8];
	struct drm_lumen_uq_cpl cpl;
	uint32_t round;

	assert_int_equal(ld_uq_new(c->fd, ORDER, place, &q), 0);
	for (round = 0; round < 3 * q.entries / 4; round++) {
		uint64_t size = 4096 + round * 97;

		ld_pattern(c->src.map, size, round);
		memset(c->dst.map, 0, size);
		cmds[0] = ld_cmd_copy(c->dev.va, c->src.va, size);
		cmds[1] = ld_cmd_copy(c->dst.va, c->dev.va, size);
		cmds[1].flags = LUMEN_CMD_F_BARRIER;
		cmds[2] = ld_cmd_nop();
		cmds[3] = ld_cmd_nop();
		assert_int_equal(ld_uq_push(&q, cmds, 4), 0);
		assert_int_equal(ld_uq_poll(&q, q.pushed, SPIN_NS), 0);
		assert_int_equal(ld_check_pattern(c->dst.map, size, round, 0), -1);
	}
	cpl = ld_uq_cpl(&q);
	assert_int_equal(cpl.completed, q.pushed);
	assert_int_equal(cpl.status, DRM_LUMEN_UQ_IDLE);
	assert_int_equal(cpl.error, 0);
	assert_true(q.pushed > 2 * q.entries);
	assert_int_equal(ld_uq_free(&q), 0);
}

static void test_copies_host_ring(void **state)
{
	run_copies(*state, LD_HOST);
}

static void test_copies_device_ring(void **state)
{
	run_copies(*state, LD_DEVICE);
}

/* UQ_WAIT: its deadline, a wake-up by IRQ_AT, counts not yet submitted. */
static void test_wait(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmds[2];
	uint64_t done = 99, t0;
	int32_t status = 1;
	struct ld_uq q;

	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	cmds[0] = gate_cmd(c, 0);
	cmds[1] = ld_cmd_fill(c->dst.va, 64, 0x0123456789abcdefull);
	assert_int_equal(ld_uq_push(&q, cmds, 2), 0);

	t0 = ld_now_ns();
	assert_int_equal(ld_uq_wait(c->fd, q.id, 2, (uint64_t)ld_deadline(HOLD_NS), &done,
				    &status), -ETIME);
	assert_true(ld_now_ns() - t0 >= HOLD_NS - 10 * 1000 * 1000);
	assert_int_equal(done, 0);
	assert_int_equal(status, 0);
	/* A deadline in the past polls. */
	assert_int_equal(ld_uq_wait(c->fd, q.id, 2, 0, NULL, NULL), -ETIME);
	/* Beyond what the doorbell was given: it would never come. */
	assert_int_equal(ld_uq_wait(c->fd, q.id, 3, 0, NULL, NULL), -EINVAL);

	*gate_word(c, 0) = 1;
	assert_int_equal(ld_uq_wait(c->fd, q.id, 2, UINT64_MAX, &done, &status), 0);
	assert_int_equal(done, 2);
	assert_int_equal(status, 0);
	assert_int_equal(((uint64_t *)c->dst.map)[0], 0x0123456789abcdefull);
	/* Reached already: at once. */
	assert_int_equal(ld_uq_wait(c->fd, q.id, 1, 0, &done, &status), 0);

	/* F_IRQ is for user-mode queues only; SUBMIT refuses it. */
	cmds[0] = ld_cmd_nop();
	cmds[0].flags = LUMEN_CMD_F_IRQ;
	assert_int_equal(ld_uq_push(&q, cmds, 1), 0);
	assert_int_equal(ld_uq_sync(&q, 3, 0), 0);
	{
		uint32_t kq;
		struct ld_job job = { .cmds = cmds, .num_cmds = 1 };

		assert_int_equal(ld_queue_create(c->fd, &kq), 0);
		assert_int_equal(ld_submit(c->fd, kq, &job, NULL), -EINVAL);
		assert_int_equal(ld_queue_destroy(c->fd, kq), 0);
	}
	assert_int_equal(ld_uq_free(&q), 0);
}

/* A copy from an unmapped VA faults this context only. */
static void test_fault_isolated(void **state)
{
	struct ctx *c = *state;
	uint64_t hole = ld_va_alloc(1 << 20);
	struct drm_lumen_context_status st;
	struct drm_lumen_uq_cpl cpl;
	struct lumen_cmd cmd;
	int32_t status = 0;
	struct ld_uq q;
	int other;

	other = ld_open(0);
	assert_true(other >= 0);
	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	cmd = ld_cmd_copy(c->dst.va, hole + 64, 4096);
	assert_int_equal(ld_uq_push(&q, &cmd, 1), 0);
	assert_int_equal(ld_uq_poll(&q, 1, SPIN_NS), -EIO);
	cpl = ld_uq_cpl(&q);
	assert_int_equal(cpl.status, DRM_LUMEN_UQ_STOPPED);
	assert_int_equal(cpl.error, LUMEN_STATUS_MMU_FAULT);
	assert_int_equal(cpl.completed, 0);
	assert_int_equal(ld_uq_wait(c->fd, q.id, 1, UINT64_MAX, NULL, &status), 0);
	assert_int_equal(status, -EFAULT);

	assert_int_equal(ld_ctx_status(c->fd, &st), 0);
	assert_true(st.flags & DRM_LUMEN_CTX_FAULTED);
	assert_true(st.flags & DRM_LUMEN_CTX_BANNED);
	assert_int_equal(st.fault_queue, q.id);
	assert_int_equal(st.fault_kind, LUMEN_MMU_FAULT_NOT_MAPPED);
	assert_int_equal(st.fault_addr, hole + 64);
	assert_int_equal(st.fault_access, 0);
	/* Banned: no new queue of either kind. */
	check_create(c, c->src.va, c->dst.va, ORDER, -ECANCELED);
	assert_int_equal(ld_queue_create(c->fd, NULL), -ECANCELED);
	assert_int_equal(ld_uq_free(&q), 0);

	/* Another context carries on. */
	assert_int_equal(ld_ctx_status(other, &st), 0);
	assert_int_equal(st.flags, 0);
	assert_int_equal(ld_copy_check(other, 7), 0);
	close(other);
}

/* A malformed command stops the queue with BAD_DESCRIPTOR: -EIO. */
static void test_bad_command(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmd = ld_cmd_nop();
	int32_t status = 0;
	struct ld_uq q;

	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	cmd.reserved0 = 1;
	assert_int_equal(ld_uq_push(&q, &cmd, 1), 0);
	assert_int_equal(ld_uq_poll(&q, 1, SPIN_NS), -EIO);
	assert_int_equal(ld_uq_cpl(&q).error, LUMEN_STATUS_BAD_DESCRIPTOR);
	assert_int_equal(ld_uq_wait(c->fd, q.id, 1, UINT64_MAX, NULL, &status), 0);
	assert_int_equal(status, -EIO);
	assert_int_equal(ld_uq_free(&q), 0);
}

/*
 * The driver's fence page of a kernel queue sits in the same context: a
 * user-mode queue that writes it faults PRIV instead of completing the
 * kernel's jobs early.
 */
static void test_kernel_page_out_of_reach(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_context_status st;
	struct lumen_cmd cmd;
	struct ld_uq q;
	uint32_t kq;
	int hwq;

	assert_int_equal(ld_queue_create(c->fd, &kq), 0);
	hwq = ld_hwq_of(0, kq);
	assert_true(hwq >= 0);
	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	cmd = ld_cmd_signal(0x100000ull + (uint64_t)hwq * 4096, UINT64_MAX);
	assert_int_equal(ld_uq_push(&q, &cmd, 1), 0);
	assert_int_equal(ld_uq_poll(&q, 1, SPIN_NS), -EIO);
	assert_int_equal(ld_ctx_status(c->fd, &st), 0);
	assert_int_equal(st.fault_kind, LUMEN_MMU_FAULT_PRIV);
	assert_int_equal(st.fault_access, 1);
	assert_int_equal(st.fault_queue, q.id);
	assert_int_equal(ld_uq_free(&q), 0);
	assert_int_equal(ld_queue_destroy(c->fd, kq), 0);
}

/* A WAIT that never ends: detected after the job timeout, queue reset. */
static void test_hang(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_context_status st;
	struct lumen_cmd cmd = gate_cmd(c, 1);
	int32_t status = 0;
	uint64_t t0, done = 9;
	struct ld_uq q;

	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	assert_int_equal(ld_uq_push(&q, &cmd, 1), 0);
	t0 = ld_now_ns();
	assert_int_equal(ld_uq_wait(c->fd, q.id, 1, (uint64_t)ld_deadline(LD_WAIT_NS), &done,
				    &status), 0);
	assert_int_equal(status, -ETIMEDOUT);
	assert_int_equal(done, 0);
	/* job_timeout_ms is 2 s: two checks without progress, at most ~3. */
	assert_true(ld_now_ns() - t0 >= LD_SEC_NS);
	assert_int_equal(ld_ctx_status(c->fd, &st), 0);
	assert_true(st.flags & DRM_LUMEN_CTX_HUNG);
	assert_int_equal(st.fault_queue, q.id);
	assert_int_equal(st.error, -ETIMEDOUT);
	/* The gate opening now changes nothing: the queue was reset. */
	*gate_word(c, 1) = 1;
	usleep(100 * 1000);
	assert_int_equal(ld_uq_cpl(&q).completed, 0);
	assert_int_equal(ld_uq_free(&q), 0);
}

/* The queue's progress as a sync_file, waited on by another process. */
static void test_sync_file(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmds[2];
	uint32_t bin, tl;
	int sync_fd, wstatus;
	struct ld_uq q;
	pid_t pid;

	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	cmds[0] = gate_cmd(c, 2);
	cmds[1] = ld_cmd_nop();
	assert_int_equal(ld_uq_push(&q, cmds, 2), 0);

	bin = ld_syncobj(c->fd, 0);
	tl = ld_syncobj(c->fd, 0);
	assert_true(bin && tl);
	assert_int_equal(ld_uq_fence(c->fd, q.id, 3, bin, 0), -EINVAL);	/* not given yet */
	assert_int_equal(ld_uq_fence(c->fd, q.id, 2, 12345, 0), -ENOENT);
	assert_int_equal(ld_uq_fence(c->fd, q.id, 2, bin, 0), 0);
	assert_int_equal(ld_uq_fence(c->fd, q.id, 2, tl, 5), 0);
	assert_int_equal(drmSyncobjExportSyncFile(c->fd, bin, &sync_fd), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pollfd p = { .fd = sync_fd, .events = POLLIN };

		/* Not signalled while the gate holds, then signalled. */
		if (poll(&p, 1, 100) != 0)
			_exit(2);
		if (poll(&p, 1, 60 * 1000) != 1)
			_exit(3);
		_exit(0);
	}
	usleep(300 * 1000);
	*gate_word(c, 2) = 1;
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	close(sync_fd);

	assert_int_equal(drmSyncobjTimelineWait(c->fd, &tl, (uint64_t[]){ 5 }, 1,
						ld_deadline(LD_WAIT_NS), 0, NULL), 0);
	/* Reached already: a signalled fence at once. */
	assert_int_equal(ld_uq_fence(c->fd, q.id, 1, bin, 0), 0);
	assert_int_equal(drmSyncobjWait(c->fd, &bin, 1, 0, 0, NULL), 0);
	drmSyncobjDestroy(c->fd, bin);
	drmSyncobjDestroy(c->fd, tl);
	assert_int_equal(ld_uq_free(&q), 0);
}

/*
 * After destroy the doorbell mapping swallows stores, and the hardware
 * queue serves the next owner as if nothing happened.
 */
static void test_destroy_doorbell(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmd = gate_cmd(c, 3);
	volatile uint32_t *db;
	struct ld_uq q;
	void *keep;

	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	assert_int_equal(ld_uq_push(&q, &cmd, 1), 0);
	/* A second mapping of the page, kept past destroy. */
	db = q.doorbell;
	keep = (void *)db;
	q.doorbell = NULL;
	assert_int_equal(ld_uq_free(&q), 0);	/* destroyed while it waits */
	db[0] = 12345;
	db[7] = 1;
	munmap(keep, 4096);
	assert_int_equal(ld_copy_check(c->fd, 11), 0);

	/* And a new user-mode queue works from index 0. */
	assert_int_equal(ld_uq_new(c->fd, ORDER, LD_HOST, &q), 0);
	cmd = ld_cmd_nop();
	assert_int_equal(ld_uq_push(&q, &cmd, 1), 0);
	assert_int_equal(ld_uq_sync(&q, 1, LD_SEC_NS), 0);
	assert_int_equal(ld_uq_free(&q), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_refused),
		cmocka_unit_test(test_copies_host_ring),
		cmocka_unit_test(test_copies_device_ring),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_sync_file),
		cmocka_unit_test(test_destroy_doorbell),
		cmocka_unit_test_setup_teardown(test_fault_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_page_out_of_reach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hang, setup, teardown),
	};

	return cmocka_run_group_tests_name("uq", tests, setup, teardown);
}
