// SPDX-License-Identifier: MIT
/*
 * Resource limits and bounded waits of lumen.ko:
 *   - 200 idle opens take no device context: a real user still works;
 *   - per-file limits (module parameters max_file_queues, max_file_jobs,
 *     max_file_mappings) answer -EBUSY, -EAGAIN and -ENOSPC, and the
 *     file works again once below them; pinned host BOs stay within
 *     max_pinned_host_mb (-ENOMEM);
 *   - WAIT's deadline is absolute: a signal storm does not stretch it;
 *   - destroying a queue whose job waits on a fence that never signals
 *     returns after about a job timeout, and so does close;
 *   - a single 4 GiB COPY beside another context's copies, with a job
 *     timeout of 20 ms, completes: hang detection measures bytes moved;
 *   - an unmapped BO's device pages stay allocated until the jobs that
 *     might reach them are done (and another context's memory is safe);
 *   - DRM fdinfo shows the documented keys with the file's real numbers;
 *   - the lumen tracepoints follow one job from submit to done.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"

#define MiB (1ull << 20)
#define PARAM(n) "/sys/module/lumen/parameters/" n

/* Set a module parameter for the length of a test. */
struct param {
	const char *path;
	char old[32];
};

static void param_set(struct param *p, const char *path, const char *val)
{
	p->path = path;
	assert_int_equal(gu_read_sysfs(path, p->old, sizeof(p->old)), 0);
	assert_int_equal(gu_write_sysfs(path, val), 0);
}

static void param_restore(struct param *p)
{
	assert_int_equal(gu_write_sysfs(p->path, p->old), 0);
}

static void test_idle_opens(void **state)
{
	enum { N = 200 };
	int fds[N], i, fd;
	uint64_t nctx;

	(void)state;
	for (i = 0; i < N; i++) {
		fds[i] = ld_open(0);
		assert_true(fds[i] >= 0);
	}
	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_get_param(fd, DRM_LUMEN_PARAM_NUM_CONTEXTS, &nctx), 0);
	assert_true(nctx < N);	/* more files than contexts: the point */
	assert_int_equal(ld_copy_check(fd, 5), 0);
	close(fd);
	for (i = 0; i < N; i++)
		close(fds[i]);
}

static void test_queue_limit(void **state)
{
	struct param p;
	uint32_t q[3], extra;
	int fd = ld_open(0);

	(void)state;
	assert_true(fd >= 0);
	param_set(&p, PARAM("max_file_queues"), "2");
	assert_int_equal(ld_queue_create(fd, &q[0]), 0);
	assert_int_equal(ld_queue_create(fd, &q[1]), 0);
	assert_int_equal(ld_queue_create(fd, &q[2]), -EBUSY);
	/* Another file is not affected. */
	{
		int fd2 = ld_open(0);

		assert_true(fd2 >= 0);
		assert_int_equal(ld_queue_create(fd2, &extra), 0);
		close(fd2);
	}
	assert_int_equal(ld_queue_destroy(fd, q[1]), 0);
	assert_int_equal(ld_queue_create(fd, &q[2]), 0);
	param_restore(&p);
	close(fd);
}

static void test_job_limit(void **state)
{
	struct param p;
	struct ld_buf b;
	struct lumen_cmd cmd;
	uint64_t seq = 0, last = 0;
	uint32_t q;
	int32_t st;
	int fd = ld_open(0), i, ret;

	(void)state;
	assert_true(fd >= 0);
	param_set(&p, PARAM("max_file_jobs"), "8");
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &b), 0);
	memset(b.map, 0, 64);
	/* The first job parks on a word; the rest queue up behind it, well
	 * within a job timeout. */
	cmd = ld_cmd_wait(b.va, 1);
	for (i = 0; i < 8; i++) {
		assert_int_equal(ld_submit(fd, q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1,
				 .bos = &b.handle, .num_bos = 1 }, &seq), 0);
		last = seq;
		cmd = ld_cmd_nop();
	}
	ret = ld_submit(fd, q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1 }, &seq);
	if (ret != -EAGAIN) {
		struct drm_lumen_context_status cs;

		ld_ctx_status(fd, &cs);
		fail_msg("9th SUBMIT: %d, want -EAGAIN (context flags 0x%x error %d)", ret, cs.flags,
			 cs.error);
	}
	/* Release the parked job (the device re-checks WAITs on its own):
	 * everything drains and submission works again. */
	*(volatile uint64_t *)b.map = 1;
	assert_int_equal(ld_wait(fd, q, last, LD_WAIT_NS, &st), 0);
	assert_int_equal(st, 0);
	/* A completed job counts until the scheduler frees it, a moment
	 * later: retry -EAGAIN for a while, as a runtime does. */
	cmd = ld_cmd_nop();
	for (i = 0; i < 100; i++) {
		ret = ld_run1(fd, q, &cmd, NULL, 0);
		if (ret != -EAGAIN)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(ret, 0);
	param_restore(&p);
	ld_buf_free(&b);
	close(fd);
}

static void test_mapping_limit(void **state)
{
	struct param p;
	uint32_t h;
	uint64_t va[3];
	int fd = ld_open(0), i;

	(void)state;
	assert_true(fd >= 0);
	param_set(&p, PARAM("max_file_mappings"), "2");
	assert_int_equal(ld_bo_create(fd, 64 * 1024, DRM_LUMEN_BO_HOST, 0, &h, NULL), 0);
	for (i = 0; i < 3; i++)
		va[i] = ld_va_alloc(64 * 1024);
	assert_int_equal(ld_vm_map(fd, h, va[0], 0, 64 * 1024, 0), 0);
	assert_int_equal(ld_vm_map(fd, h, va[1], 0, 64 * 1024, 0), 0);
	assert_int_equal(ld_vm_map(fd, h, va[2], 0, 64 * 1024, 0), -ENOSPC);
	assert_int_equal(ld_vm_unmap(fd, va[0], 64 * 1024), 0);
	assert_int_equal(ld_vm_map(fd, h, va[2], 0, 64 * 1024, 0), 0);
	param_restore(&p);
	close(fd);
}

/* Host BOs are pinned while bound: all of them together stay within
 * max_pinned_host_mb (default half of RAM), so a bind can never exhaust
 * memory the OOM killer cannot reclaim. */
static void test_pinned_host_limit(void **state)
{
	struct param p;
	uint32_t h1, h2, h3;
	uint64_t va1 = ld_va_alloc(2 * MiB), va2 = ld_va_alloc(4 * MiB);
	int fd = ld_open(0);

	(void)state;
	assert_true(fd >= 0);
	/* More than half of this 1 GiB guest: refused at creation. */
	assert_int_equal(ld_bo_create(fd, 2048 * MiB, DRM_LUMEN_BO_HOST, 0, &h3, NULL), -ENOMEM);

	param_set(&p, PARAM("max_pinned_host_mb"), "5");
	assert_int_equal(ld_bo_create(fd, 2 * MiB, DRM_LUMEN_BO_HOST, 0, &h1, NULL), 0);
	assert_int_equal(ld_bo_create(fd, 4 * MiB, DRM_LUMEN_BO_HOST, 0, &h2, NULL), 0);
	assert_int_equal(ld_vm_map(fd, h1, va1, 0, 2 * MiB, 0), 0);
	/* A second mapping of the same BO pins nothing more. */
	assert_int_equal(ld_vm_map(fd, h1, va2, 0, 2 * MiB, 0), 0);
	assert_int_equal(ld_vm_unmap(fd, va2, 2 * MiB), 0);
	assert_int_equal(ld_vm_map(fd, h2, va2, 0, 4 * MiB, 0), -ENOMEM);
	assert_int_equal(ld_vm_unmap(fd, va1, 2 * MiB), 0);
	/* The unmap's pages come back once nothing can reach them (at once:
	 * no job ran), and the 4 MiB fit. */
	for (int i = 0; i < 100 && ld_vm_map(fd, h2, va2, 0, 4 * MiB, 0); i++)
		usleep(10 * 1000);
	assert_int_equal(ld_vm_unmap(fd, va2, 4 * MiB), 0);
	param_restore(&p);
	close(fd);
}

/* ---- WAIT under a signal storm ------------------------------------------ */

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

struct storm {
	pthread_t target;
	volatile int stop;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;

	while (!s->stop) {
		pthread_kill(s->target, SIGUSR1);
		usleep(1000);
	}
	return NULL;
}

static void test_wait_signal_storm(void **state)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct drm_lumen_wait w;
	struct storm s = { .target = pthread_self() };
	struct ld_buf b;
	struct lumen_cmd cmd;
	pthread_t thr;
	uint64_t seq, t0, took;
	uint32_t q;
	int fd = ld_open(0), ret;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &b), 0);
	memset(b.map, 0, 64);
	cmd = ld_cmd_wait(b.va, 1);	/* parks until we release it */
	assert_int_equal(ld_submit(fd, q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1,
			 .bos = &b.handle, .num_bos = 1 }, &seq), 0);

	signals = 0;
	assert_int_equal(pthread_create(&thr, NULL, storm_main, &s), 0);
	t0 = ld_now_ns();
	w = (struct drm_lumen_wait){ .queue_id = q, .seqno = seq,
				     .timeout_ns = t0 + 200 * 1000000ull };
	/* Restarted by SA_RESTART after every signal, with the same deadline. */
	do {
		ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_WAIT, &w);
	} while (ret == -EINTR);
	took = ld_now_ns() - t0;
	s.stop = 1;
	pthread_join(thr, NULL);
	signal(SIGUSR1, SIG_DFL);

	printf("# WAIT with deadline 200 ms under %d signals: %.1f ms, %d\n", (int)signals,
	       took / 1e6, ret);
	assert_int_equal(ret, -ETIME);
	/* A signal every < 200 ms: a relative timeout restarted after each
	 * would never expire while the storm lasts. */
	assert_true(signals >= 3);
	assert_true(took >= 190 * 1000000ull);	/* jiffy rounding */
	assert_true(took < 2000 * 1000000ull);

	/* Unpark the job so that the file closes quickly. */
	*(volatile uint64_t *)b.map = 1;
	ld_buf_free(&b);
	close(fd);
}

/* ---- bounded destroy and close -------------------------------------------- */

static void test_destroy_foreign_fence(void **state)
{
	struct lumen_cmd cmd = ld_cmd_nop(), park;
	struct drm_lumen_sync fence;
	struct ld_buf b;
	char timeout[32];
	uint64_t t0, took, limit;
	uint32_t q, q2;
	int fd = ld_open(0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(gu_read_sysfs(PARAM("job_timeout_ms"), timeout, sizeof(timeout)), 0);
	limit = (uint64_t)atoi(timeout) * 6 * 1000000ull + 5 * LD_SEC_NS;
	fence = (struct drm_lumen_sync){ .handle = ld_syncobj(fd, 0) };
	assert_true(fence.handle != 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_queue_create(fd, &q2), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &b), 0);
	memset(b.map, 0, 64);

	/* q2's job parks on a word nobody writes; its fence is q's in-fence. */
	park = ld_cmd_wait(b.va, 1);
	assert_int_equal(ld_submit(fd, q2, &(struct ld_job){ .cmds = &park, .num_cmds = 1,
			 .bos = &b.handle, .num_bos = 1, .out = &fence, .num_out = 1 }, NULL), 0);
	assert_int_equal(ld_submit(fd, q, &(struct ld_job){ .cmds = &cmd, .num_cmds = 1,
			 .in = &fence, .num_in = 1 }, NULL), 0);

	t0 = ld_now_ns();
	assert_int_equal(ld_queue_destroy(fd, q), 0);
	took = ld_now_ns() - t0;
	printf("# destroying a queue whose job waits on a fence that never signals: %.0f ms\n",
	       took / 1e6);
	assert_true(took < limit);

	/* close cancels the parked job of q2 after a job timeout. */
	munmap(b.map, b.size);
	t0 = ld_now_ns();
	close(fd);
	took = ld_now_ns() - t0;
	printf("# closing the file with a job parked on the card: %.0f ms\n", took / 1e6);
	assert_true(took < limit);
}

/* ---- a 4 GiB copy on a busy card is not a hang ------------------------------- */

/* Map one 2 MiB device BO over @size bytes of fresh VA, 2 MiB at a time. */
static uint64_t map_repeated(int fd, uint32_t h, uint64_t size)
{
	uint64_t va = ld_va_alloc(size);

	for (uint64_t off = 0; off < size; off += 2 * MiB)
		assert_int_equal(ld_vm_map(fd, h, va + off, 0, 2 * MiB, 0), 0);
	return va;
}

static void test_big_copy_busy_card(void **state)
{
	const uint64_t size = 4ull << 30;
	struct param p;
	struct lumen_cmd cmd;
	uint64_t src, dst, t0, took;
	uint32_t q, hs, hd, bos[2];
	pid_t busy;
	int fd = ld_open(0), st = 0;

	(void)state;
	assert_true(fd >= 0);
	/* A job timeout far below the copy's duration. */
	param_set(&p, PARAM("job_timeout_ms"), "20");
	assert_int_equal(ld_bo_create(fd, 2 * MiB, DRM_LUMEN_BO_DEVICE, 0, &hs, NULL), 0);
	assert_int_equal(ld_bo_create(fd, 2 * MiB, DRM_LUMEN_BO_DEVICE, 0, &hd, NULL), 0);
	src = map_repeated(fd, hs, size);
	dst = map_repeated(fd, hd, size);
	assert_int_equal(ld_queue_create(fd, &q), 0);

	/* Another context keeps the engine busy meanwhile. */
	busy = fork();
	assert_true(busy >= 0);
	if (busy == 0) {
		int bfd = ld_open(0);
		struct ld_buf a, b;
		uint32_t bq, bb[2];

		if (bfd < 0 || ld_queue_create(bfd, &bq) || ld_buf_new(bfd, LD_DEVICE, 16 * MiB, &a) ||
		    ld_buf_new(bfd, LD_DEVICE, 16 * MiB, &b))
			_exit(2);
		bb[0] = a.handle;
		bb[1] = b.handle;
		for (;;) {
			struct lumen_cmd c2 = ld_cmd_copy(b.va, a.va, 16 * MiB);

			if (ld_run1(bfd, bq, &c2, bb, 2))
				_exit(3);
		}
	}

	bos[0] = hs;
	bos[1] = hd;
	cmd = ld_cmd_copy(dst, src, size);
	t0 = ld_now_ns();
	st = ld_run1(fd, q, &cmd, bos, 2);
	took = ld_now_ns() - t0;
	kill(busy, SIGKILL);
	waitpid(busy, NULL, 0);
	param_restore(&p);
	printf("# 4 GiB COPY beside another context's copies, job timeout 20 ms: %.0f ms, %d\n",
	       took / 1e6, st);
	assert_true(took > 40 * 1000000ull);	/* else the test proves nothing */
	assert_int_equal(st, 0);
	close(fd);
}

/* ---- unmap while a job may still reach the pages ------------------------------- */

/* devmem_free of debugfs bo_stats on card 0. */
static unsigned long long devmem_free(void)
{
	char dbg[128], path[192], *text, *p;
	unsigned long long v = 0;

	assert_int_equal(ld_debugfs_dir(0, dbg, sizeof(dbg)), 0);
	snprintf(path, sizeof(path), "%s/bo_stats", dbg);
	text = ld_read_file(path);
	assert_non_null(text);
	p = strstr(text, "devmem_free");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "devmem_free %llu", &v), 1);
	free(text);
	return v;
}

/*
 * A job parked on the card holds a FILL into a device BO; the BO is
 * unmapped and its handle closed meanwhile. Its device pages stay out of
 * the allocator until the job is done, so another context that allocates
 * and fills device memory in between never shares a page with it; once
 * the job has run (it faults: the range is unmapped), they are free.
 */
static void test_unmap_while_job_runs(void **state)
{
	struct lumen_cmd cmds[2];
	struct param p;
	struct ld_buf flag, b2;
	struct lumen_cmd cmd;
	unsigned long long f0, f1, f2;
	uint64_t va = ld_va_alloc(2 * MiB), seq;
	uint32_t q, q2, h;
	int32_t st;
	int fd = ld_open(0), fd2 = ld_open(0);

	(void)state;
	assert_true(fd >= 0 && fd2 >= 0);
	param_set(&p, PARAM("job_timeout_ms"), "30000");	/* the parked job is no hang */
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &flag), 0);
	memset(flag.map, 0, 64);
	f0 = devmem_free();
	assert_int_equal(ld_bo_create(fd, 2 * MiB, DRM_LUMEN_BO_DEVICE, 0, &h, NULL), 0);
	assert_int_equal(ld_vm_map(fd, h, va, 0, 2 * MiB, 0), 0);
	f1 = devmem_free();
	assert_int_equal(f1, f0 - 2 * MiB);

	cmds[0] = ld_cmd_wait(flag.va, 1);
	cmds[1] = ld_cmd_fill(va, 2 * MiB, 0xababababababababull);
	assert_int_equal(ld_submit(fd, q, &(struct ld_job){ .cmds = cmds, .num_cmds = 2,
			 .bos = &flag.handle, .num_bos = 1 }, &seq), 0);
	usleep(50 * 1000);
	assert_int_equal(ld_vm_unmap(fd, va, 2 * MiB), 0);
	assert_int_equal(ld_gem_close(fd, h), 0);
	/* The job may still reach those pages: they are not free yet. */
	assert_int_equal(devmem_free(), f1);

	/* Another context takes device memory and fills it meanwhile. */
	assert_int_equal(ld_queue_create(fd2, &q2), 0);
	assert_int_equal(ld_buf_new(fd2, LD_DEVICE, 2 * MiB, &b2), 0);
	cmd = ld_cmd_fill(b2.va, 2 * MiB, 0x1111111111111111ull);
	assert_int_equal(ld_run1(fd2, q2, &cmd, &b2.handle, 1), 0);

	/* Release the job: its FILL faults on the unmapped range. */
	*(volatile uint64_t *)flag.map = 1;
	assert_int_equal(ld_wait(fd, q, seq, LD_WAIT_NS, &st), 0);
	assert_int_equal(st, -EFAULT);
	/* The other context's memory is untouched. */
	for (size_t i = 0; i < 2 * MiB; i += 4096)
		if (b2.map[i] != 0x11)
			fail_msg("byte %zu of the other context's buffer is 0x%02x", i, b2.map[i]);
	/* Now the pages come back (the zombie is freed from a work item). */
	for (int i = 0; i < 100 && (f2 = devmem_free()) != f0 - 2 * MiB; i++)
		usleep(10 * 1000);
	assert_int_equal(f2, f0 - 2 * MiB);	/* only b2's 2 MiB are held */
	param_restore(&p);
	ld_buf_free(&b2);
	close(fd2);
	close(fd);
}

/* ---- fdinfo ------------------------------------------------------------------ */

/* Value of "key:\tN [unit]"; sizes in KiB (drm-usage-stats units). */
static long fdinfo_num(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	char *unit;
	long v;

	if (!p)
		fail_msg("fdinfo has no %s:\n%s", key, text);
	p += strlen(key);
	while (*p == ':' || *p == '\t' || *p == ' ')
		p++;
	v = strtol(p, &unit, 10);
	if (!strncmp(unit, " KiB", 4))
		return v;
	if (!strncmp(unit, " MiB", 4))
		return v * 1024;
	if (!strncmp(unit, " GiB", 4))
		return v * 1024 * 1024;
	return v;
}

static void test_fdinfo(void **state)
{
	char path[64], *text;
	struct ld_buf dev, host;
	struct lumen_cmd cmd;
	uint32_t q;
	int fd = ld_open(0);

	(void)state;
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	text = ld_read_file(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "drm-driver:\tlumen"));
	assert_non_null(strstr(text, "drm-client-id:"));
	assert_non_null(strstr(text, "lumen-context:\tnone"));
	assert_non_null(strstr(text, "lumen-context-state:\tok"));
	free(text);

	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_DEVICE, 2 * MiB, &dev), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &host), 0);
	cmd = ld_cmd_copy(dev.va, host.va, MiB);
	assert_int_equal(ld_run1(fd, q, &cmd, (uint32_t[]){ dev.handle, host.handle }, 2), 0);
	/* A completed job is counted out when the scheduler frees it. */
	for (int i = 0; i < 100; i++) {
		text = ld_read_file(path);
		assert_non_null(text);
		if (fdinfo_num(text, "lumen-jobs") == 0)
			break;
		free(text);
		text = NULL;
		usleep(10 * 1000);
	}
	assert_non_null(text);
	printf("%s", text);
	assert_null(strstr(text, "lumen-context:\tnone"));
	assert_int_equal(fdinfo_num(text, "lumen-queues"), 1);
	assert_int_equal(fdinfo_num(text, "lumen-jobs"), 0);
	assert_int_equal(fdinfo_num(text, "drm-total-device"), 2048);	/* KiB, any unit */
	assert_int_equal(fdinfo_num(text, "drm-total-host"), 1024);
	assert_true(fdinfo_num(text, "drm-engine-dma") > 0);
	assert_true(fdinfo_num(text, "drm-engine-capacity-dma") >= 1);
	free(text);
	ld_buf_free(&dev);
	ld_buf_free(&host);
	close(fd);
}

/* ---- tracepoints ------------------------------------------------------------- */

/* tracefs, mounted by the kernel under debugfs or on its own. */
static const char *tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK))
		return "/sys/kernel/tracing";
	if (!access("/sys/kernel/debug/tracing/events", F_OK))
		return "/sys/kernel/debug/tracing";
	return NULL;
}

static void test_tracepoints(void **state)
{
	const char *tr = tracefs();
	char path[160], *text;
	struct lumen_cmd cmd = ld_cmd_nop();
	uint32_t q;
	int fd = ld_open(0);

	(void)state;
	assert_true(fd >= 0);
	if (!tr) {
		gu_system("mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null");
		tr = tracefs();
	}
	if (!tr)
		skip();
	snprintf(path, sizeof(path), "%s/events/lumen/enable", tr);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
	snprintf(path, sizeof(path), "%s/trace", tr);
	assert_int_equal(gu_write_sysfs(path, ""), 0);	/* clear */

	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_run1(fd, q, &cmd, NULL, 0), 0);
	close(fd);	/* the job is retired by the time close returns */

	text = ld_read_file(path);
	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/events/lumen/enable", tr);
	gu_write_sysfs(path, "0");
	if (!strstr(text, "lumen_job_submit:") || !strstr(text, "lumen_job_run:") ||
	    !strstr(text, "lumen_job_done:") || !strstr(text, "error=0"))
		fail_msg("missing lumen job events in the trace:\n%s", text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_opens),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_job_limit),
		cmocka_unit_test(test_mapping_limit),
		cmocka_unit_test(test_pinned_host_limit),
		cmocka_unit_test(test_wait_signal_storm),
		cmocka_unit_test(test_destroy_foreign_fence),
		cmocka_unit_test(test_big_copy_busy_card),
		cmocka_unit_test(test_unmap_while_job_runs),
		cmocka_unit_test(test_fdinfo),
		cmocka_unit_test(test_tracepoints),
	};

	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
