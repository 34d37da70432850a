// SPDX-License-Identifier: MIT
/*
 * Device recovery with reset generations (kmod/lumen_reset.c). For every
 * way the card gets reset (debugfs force_reset, an injected firmware crash,
 * an injected halt, a mailbox the firmware stops answering, a hardware
 * queue that its queue reset does not bring back, and a PCI function
 * reset through sysfs; a queue that merely hangs again and again only
 * gets queue resets):
 *   - a job blocked on the card when it happens fails with -ENODEV and its
 *     waiter returns at once (nothing waits for a timeout);
 *   - the file opened before gets -ENODEV from every ioctl, core ones too;
 *   - reset_count in sysfs counts one more, reset_reason names the cause,
 *     state reads "ok" again, and a KOBJ_CHANGE uevent with
 *     LUMEN_EVENT=reset and the reason arrives on the netlink socket;
 *   - a file opened afterwards copies byte-exact.
 * And system suspend (pm_test "devices"): work in flight drains and the
 * files keep working; a job parked on a ring at suspend makes the resume
 * reset the card, and that job fails with -ENODEV. Last, the PCI function
 * is removed (sysfs remove) while a process copies: the process gets
 * -ENODEV, never a wrong byte, exits cleanly; a dma-buf mmap of device
 * memory is revoked (SIGBUS); the card comes back on a rescan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"

#define MiB (1ull << 20)
#define JOB_TIMEOUT_PARAM "/sys/module/lumen/parameters/job_timeout_ms"
#define MBOX_TIMEOUT_PARAM "/sys/module/lumen/parameters/mbox_timeout_ms"
/* Generous under TCG on a loaded 2-core host: a reset boots firmware. */
#define RESET_WAIT_MS 30000

struct ctx {
	char pci[16];
	char sysfs[96];		/* /sys/bus/pci/devices/<bdf> */
	char dbg[128];		/* debugfs dir of card 0 */
	char old_job_timeout[32];
	char old_mbox_timeout[32];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	if (ld_card_pci(0, c->pci, sizeof(c->pci)) || ld_debugfs_dir(0, c->dbg, sizeof(c->dbg)))
		return -1;
	snprintf(c->sysfs, sizeof(c->sysfs), "/sys/bus/pci/devices/%s", c->pci);
	if (gu_read_sysfs(JOB_TIMEOUT_PARAM, c->old_job_timeout, sizeof(c->old_job_timeout)) ||
	    gu_read_sysfs(MBOX_TIMEOUT_PARAM, c->old_mbox_timeout, sizeof(c->old_mbox_timeout)))
		return -1;
	/* Parked jobs must outlive the resets, not time out first. */
	return gu_write_sysfs(JOB_TIMEOUT_PARAM, "30000");
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	gu_write_sysfs(JOB_TIMEOUT_PARAM, c->old_job_timeout);
	gu_write_sysfs(MBOX_TIMEOUT_PARAM, c->old_mbox_timeout);
	free(c);
	return 0;
}

static int read_attr(struct ctx *c, const char *name, char *buf, size_t len)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", c->sysfs, name);
	return gu_read_sysfs(path, buf, len);
}

static long reset_count(struct ctx *c)
{
	char buf[32];

	return read_attr(c, "reset_count", buf, sizeof(buf)) ? -1 : atol(buf);
}

/* Wait until reset_count passes @before and state reads "ok". */
static void wait_reset_done(struct ctx *c, long before)
{
	uint64_t end = ld_now_ns() + RESET_WAIT_MS * 1000000ull;
	char state[32] = "";

	while (ld_now_ns() < end) {
		if (reset_count(c) > before && !read_attr(c, "state", state, sizeof(state)) &&
		    !strcmp(state, "ok"))
			return;
		usleep(20 * 1000);
	}
	fail_msg("no completed reset within %d ms (reset_count %ld, was %ld; state %s)",
		 RESET_WAIT_MS, reset_count(c), before, state);
}

/* A LUMEN_EVENT=reset uevent naming @reason first? (Reasons that came
 * together are joined by '|'.) */
static int uevent_seen(int fd, const char *reason)
{
	char want[64];

	snprintf(want, sizeof(want), "LUMEN_RESET_REASON=%s", reason);
	return gu_uevent_seen(fd, "LUMEN_EVENT=reset", want, 1);
}

static int uevent_open(void)
{
	int fd = gu_uevent_open();

	assert_true(fd >= 0);
	return fd;
}

/* ---- a job the card holds when it is reset --------------------------------- */

struct blocker {
	int fd;
	uint32_t q;
	struct ld_buf buf;
	uint64_t seq;
	pthread_t thread;
	int wait_ret;
	int32_t status;
	uint64_t waited_ns;
};

static void *blocker_wait(void *arg)
{
	struct blocker *b = arg;
	uint64_t t0 = ld_now_ns();

	b->wait_ret = ld_wait(b->fd, b->q, b->seq, 60 * LD_SEC_NS, &b->status);
	b->waited_ns = ld_now_ns() - t0;
	return NULL;
}

/* Open a file, prove it works, then leave a job parked on the card (a
 * WAIT on a word nobody writes) with a thread blocked in WAIT on it. */
static void blocker_start(struct blocker *b)
{
	struct lumen_cmd cmd;

	memset(b, 0, sizeof(*b));
	b->fd = ld_open(0);
	assert_true(b->fd >= 0);
	assert_int_equal(ld_queue_create(b->fd, &b->q), 0);
	assert_int_equal(ld_buf_new(b->fd, LD_HOST, MiB, &b->buf), 0);
	cmd = ld_cmd_fill(b->buf.va + 4096, 4096, 0x5a5a5a5a5a5a5a5aull);
	assert_int_equal(ld_run1(b->fd, b->q, &cmd, &b->buf.handle, 1), 0);
	memset(b->buf.map, 0, 64);
	cmd = ld_cmd_wait(b->buf.va, 1);
	assert_int_equal(ld_submit(b->fd, b->q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1,
			 .bos = &b->buf.handle, .num_bos = 1 }, &b->seq), 0);
	assert_int_equal(pthread_create(&b->thread, NULL, blocker_wait, b), 0);
	usleep(100 * 1000);	/* let the waiter block */
}

/* After the reset: the parked job failed with -ENODEV, promptly, and the
 * old file is dead to every ioctl. */
static void blocker_check(struct blocker *b)
{
	struct drm_lumen_get_param gp = { .param = DRM_LUMEN_PARAM_CHIP_ID };
	struct lumen_cmd cmd = ld_cmd_nop();
	uint32_t h = 0, q2;

	assert_int_equal(pthread_join(b->thread, NULL), 0);
	/* The job failed with -ENODEV; or, if the waiter was frozen (system
	 * suspend) and its WAIT restarted, the restart met the new generation. */
	if (b->wait_ret == 0)
		assert_int_equal(b->status, -ENODEV);
	else
		assert_int_equal(b->wait_ret, -ENODEV);
	assert_true(b->waited_ns < 20 * LD_SEC_NS);

	assert_int_equal(ld_ioctl(b->fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -ENODEV);
	assert_int_equal(ld_submit(b->fd, b->q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1 },
				   NULL), -ENODEV);
	assert_int_equal(ld_queue_create(b->fd, &q2), -ENODEV);
	assert_int_equal(ld_vm_map(b->fd, b->buf.handle, ld_va_alloc(MiB), 0, MiB, 0), -ENODEV);
	assert_int_equal(ld_wait(b->fd, b->q, b->seq, 0, NULL), -ENODEV);
	assert_int_equal(drmSyncobjCreate(b->fd, 0, &h) ? -errno : 0, -ENODEV);
	assert_int_equal(ld_gem_close(b->fd, b->buf.handle), -ENODEV);
	/* Closing is all it can do, and it must not hang or leak. */
	munmap(b->buf.map, b->buf.size);
	close(b->fd);
}

/* A file opened after the reset works: byte-exact copy device <-> host. */
static void new_file_works(void)
{
	int fd = ld_open(0);

	assert_true(fd >= 0);
	assert_int_equal(ld_copy_check(fd, 77), 0);
	close(fd);
}

static void expect_reason(struct ctx *c, const char *reason)
{
	char buf[96];

	assert_int_equal(read_attr(c, "reset_reason", buf, sizeof(buf)), 0);
	if (!strstr(buf, reason))
		fail_msg("reset_reason \"%s\", want \"%s\"", buf, reason);
}

/* The whole check around one trigger. */
static void recover_from(struct ctx *c, const char *reason, void (*trigger)(struct ctx *))
{
	struct blocker b;
	long before = reset_count(c);
	int ev = uevent_open();

	assert_true(before >= 0);
	blocker_start(&b);
	trigger(c);
	wait_reset_done(c, before);
	assert_int_equal(reset_count(c), before + 1);
	expect_reason(c, reason);
	blocker_check(&b);
	assert_true(uevent_seen(ev, reason));
	close(ev);
	new_file_works();
}

static void debugfs_write(struct ctx *c, const char *file, const char *val)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", c->dbg, file);
	assert_int_equal(gu_write_sysfs(path, val), 0);
}

static void trigger_user(struct ctx *c)
{
	debugfs_write(c, "force_reset", "1");
}

static void trigger_fw_crash(struct ctx *c)
{
	debugfs_write(c, "inject", "fw_crash");
}

static void trigger_halt(struct ctx *c)
{
	debugfs_write(c, "inject", "halt");
}

/* The firmware goes silent; the next mailbox request (a ping) times out. */
static void trigger_mbox_hang(struct ctx *c)
{
	char path[192];
	char *text;

	assert_int_equal(gu_write_sysfs(MBOX_TIMEOUT_PARAM, "300"), 0);
	debugfs_write(c, "inject", "mbox_hang");
	snprintf(path, sizeof(path), "%s/mbox_ping", c->dbg);
	text = ld_read_file(path);	/* fails: the point is the timeout */
	free(text);
}

static void trigger_flr(struct ctx *c)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/reset", c->sysfs);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
}

static void test_force_reset(void **state)
{
	recover_from(*state, "user", trigger_user);
}

static void test_fw_crash(void **state)
{
	recover_from(*state, "fw_crash", trigger_fw_crash);
}

static void test_halt(void **state)
{
	recover_from(*state, "halted", trigger_halt);
}

static void test_mbox_timeout(void **state)
{
	struct ctx *c = *state;

	recover_from(c, "mbox_timeout", trigger_mbox_hang);
	assert_int_equal(gu_write_sysfs(MBOX_TIMEOUT_PARAM, c->old_mbox_timeout), 0);
}

static void test_flr(void **state)
{
	recover_from(*state, "flr", trigger_flr);
}

/* One context hangs a hardware queue with injection @kind. */
static int hang_once(struct ctx *c, const char *kind)
{
	struct lumen_cmd cmd = ld_cmd_nop();
	char val[32];
	uint32_t q;
	int fd = ld_open(0), hwq;

	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	hwq = ld_hwq_of(0, q);
	assert_true(hwq >= 0);
	snprintf(val, sizeof(val), "%s %d", kind, hwq);
	debugfs_write(c, "inject", val);
	assert_int_equal(ld_run1(fd, q, &cmd, NULL, 0), -ETIMEDOUT);
	close(fd);
	return hwq;
}

/*
 * Hangs are a context's business: the same hardware queue hanging again
 * and again (from different files) costs queue resets only, never the
 * card. A queue that its reset does not bring back (an engine that
 * stopped answering, injected as "wedge") resets the card.
 */
static void test_repeated_hang(void **state)
{
	struct ctx *c = *state;
	long before = reset_count(c);
	int ev, i;

	assert_int_equal(gu_write_sysfs(JOB_TIMEOUT_PARAM, "300"), 0);
	for (i = 0; i < 3; i++)
		hang_once(c, "hang");
	assert_int_equal(reset_count(c), before);

	ev = uevent_open();
	hang_once(c, "wedge");
	wait_reset_done(c, before);
	expect_reason(c, "queue_hang");
	assert_true(uevent_seen(ev, "queue_hang"));
	close(ev);
	new_file_works();
	assert_int_equal(gu_write_sysfs(JOB_TIMEOUT_PARAM, "30000"), 0);
}

/* A file that only opened the card before a reset: -ENODEV, no context. */
static void test_idle_file_after_reset(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_get_param gp = { .param = DRM_LUMEN_PARAM_CHIP_ID };
	long before = reset_count(c);
	int fd = ld_open(0);

	assert_true(fd >= 0);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), 0);
	trigger_user(c);
	wait_reset_done(c, before);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -ENODEV);
	close(fd);
	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), 0);
	close(fd);
}

/* ---- removal of the PCI function while a process copies --------------------- */

/* Copy and verify until the driver says the card is gone; exit 0 then. */
static void copier_main(void)
{
	struct ld_buf a, b;
	uint32_t q, seed = 1;
	int fd = ld_open(0), ret;

	if (fd < 0 || ld_queue_create(fd, &q) || ld_buf_new(fd, LD_HOST, MiB, &a) ||
	    ld_buf_new(fd, LD_DEVICE, MiB, &b))
		_exit(2);
	for (;; seed++) {
		ret = ld_copy_roundtrip(fd, q, &a, &b, MiB, seed);
		if (ret == -ENODEV)
			_exit(0);	/* the error the card's removal must give */
		if (ret == -EIO)
			_exit(4);	/* a completed copy must be exact */
		if (ret) {
			fprintf(stderr, "copier: %d\n", ret);
			_exit(3);
		}
	}
}

static sigjmp_buf mapper_jmp;

static void mapper_sigbus(int sig)
{
	(void)sig;
	siglongjmp(mapper_jmp, 1);
}

/*
 * Map a device-memory BO through a dma-buf, tell the parent (@ready), wait
 * for the card's removal (@go), then touch the mapping: it must be revoked
 * (SIGBUS), never reach a BAR that no longer belongs to a bound card.
 */
static void mapper_main(int ready, int go)
{
	struct sigaction sa = { .sa_handler = mapper_sigbus };
	volatile uint8_t *map;
	uint32_t h;
	char byte = 0;
	int fd = ld_open(0), dfd;

	if (fd < 0 || ld_bo_create(fd, 65536, DRM_LUMEN_BO_DEVICE, 0, &h, NULL) ||
	    drmPrimeHandleToFD(fd, h, DRM_CLOEXEC | DRM_RDWR, &dfd))
		_exit(20);
	map = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	if (map == MAP_FAILED)
		_exit(21);
	map[0] = 0x5a;
	if (map[0] != 0x5a)
		_exit(22);
	sigaction(SIGBUS, &sa, NULL);
	if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) != 1)
		_exit(23);
	if (sigsetjmp(mapper_jmp, 1))
		_exit(0);	/* revoked */
	map[0] = 0xa5;
	_exit(24);		/* the mapping outlived the card */
}

static void test_remove_under_load(void **state)
{
	struct ctx *c = *state;
	char path[160], byte = 0;
	int st = 0, ready[2], go[2];
	pid_t pid, mapper;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	mapper = fork();
	assert_true(mapper >= 0);
	if (mapper == 0)
		mapper_main(ready[1], go[0]);
	assert_int_equal(read(ready[0], &byte, 1), 1);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		copier_main();
	usleep(500 * 1000);
	snprintf(path, sizeof(path), "%s/remove", c->sysfs);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
	assert_false(gu_is_bound(c->pci));
	/* The copier sees -ENODEV and exits cleanly, its open file with it. */
	for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("the copier did not finish within 30 s of the removal");
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* The dma-buf mapping of device memory was revoked with the card. */
	assert_int_equal(write(go[1], &byte, 1), 1);
	assert_int_equal(waitpid(mapper, &st, 0), mapper);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	/* The card comes back on a rescan and works. */
	assert_int_equal(gu_write_sysfs("/sys/bus/pci/rescan", "1"), 0);
	for (int i = 0; i < 100 && !gu_is_bound(c->pci); i++)
		usleep(100 * 1000);
	assert_true(gu_is_bound(c->pci));
	assert_int_equal(ld_debugfs_dir(0, c->dbg, sizeof(c->dbg)), 0);
	new_file_works();
}

/* ---- system suspend with /sys/power/pm_test (lumen_pm.c) --------------------- */

/* Work finished before suspend stays done, the file keeps working after. */
static void test_suspend_resume(void **state)
{
	struct ctx *c = *state;
	long before = reset_count(c);
	struct ld_buf src, dst;
	struct lumen_cmd cmd;
	uint64_t seq = 0;
	uint32_t q, bos[2];
	int32_t st;
	int fd = ld_open(0), i, ret;

	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, 4 * MiB, &src), 0);
	assert_int_equal(ld_buf_new(fd, LD_DEVICE, 4 * MiB, &dst), 0);
	ld_pattern(src.map, 4 * MiB, 9);
	bos[0] = src.handle;
	bos[1] = dst.handle;
	/* Work in flight when the suspend starts: it drains first. */
	for (i = 0; i < 4; i++) {
		cmd = ld_cmd_copy(dst.va + i * MiB, src.va + i * MiB, MiB);
		assert_int_equal(ld_submit(fd, q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1,
				 .bos = bos, .num_bos = 2 }, &seq), 0);
	}
	ret = gu_pm_cycle();
	if (ret == -ENOENT || ret == -EINVAL || ret == -EOPNOTSUPP)
		skip();	/* no suspend support in this kernel or machine */
	assert_int_equal(ret, 0);
	assert_int_equal(ld_wait(fd, q, seq, LD_WAIT_NS, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(reset_count(c), before);
	/* The same file, its queue and its mappings work after resume. */
	memset(src.map, 0, 4 * MiB);
	cmd = ld_cmd_copy(src.va, dst.va, 4 * MiB);
	assert_int_equal(ld_run1(fd, q, &cmd, bos, 2), 0);
	assert_int_equal(ld_check_pattern(src.map, 4 * MiB, 9, 0), -1);
	ld_buf_free(&src);
	ld_buf_free(&dst);
	close(fd);
}

/* A job still on a ring when the card goes to sleep cannot be carried
 * over: the card is reset on resume, the job fails with -ENODEV. */
static void test_suspend_with_parked_job(void **state)
{
	struct ctx *c = *state;
	long before = reset_count(c);
	struct blocker b;
	int ret;

	blocker_start(&b);
	ret = gu_pm_cycle();
	if (ret == -ENOENT || ret == -EINVAL || ret == -EOPNOTSUPP)
		skip();
	assert_int_equal(ret, 0);
	wait_reset_done(c, before);
	expect_reason(c, "resume");
	blocker_check(&b);
	new_file_works();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_force_reset),
		cmocka_unit_test(test_fw_crash),
		cmocka_unit_test(test_halt),
		cmocka_unit_test(test_mbox_timeout),
		cmocka_unit_test(test_flr),
		cmocka_unit_test(test_repeated_hang),
		cmocka_unit_test(test_idle_file_after_reset),
		cmocka_unit_test(test_suspend_resume),
		cmocka_unit_test(test_suspend_with_parked_job),
		cmocka_unit_test(test_remove_under_load),
	};

	return cmocka_run_group_tests_name("reset", tests, setup, teardown);
}
