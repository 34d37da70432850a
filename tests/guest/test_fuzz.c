// SPDX-License-Identifier: MIT
/*
 * The fuzz suite: the core DRM ioctls outside the accel allow-list fail with
 * -EOPNOTSUPP, then the ioctl fuzzer (lumen_fuzz.c) runs on every card in
 * both modes from 4 processes, and a fresh fd on every card still copies
 * bytes exactly. The fuzzer prints its seed first; rerun a failure with
 *   tests/vm/run --cards N -- lumen-fuzz --seed S --count C
 * or with LUMEN_FUZZ_SEED=S (also LUMEN_FUZZ_COUNT, _PROCS, _MODE, _KILL=0
 * and _KNOWN, see lumen_fuzz.h) here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "lumen_dev.h"
#include "lumen_fuzz.h"

/* An allowed core ioctl reaches the DRM core: whatever it says, not the gate's
 * -EOPNOTSUPP (or -ENOTTY). */
static int core(int fd, unsigned long req, void *arg)
{
	int ret = ld_ioctl(fd, req, arg);

	if (ret == -EOPNOTSUPP || ret == -ENOTTY)
		fail_msg("allowed core ioctl 0x%02x: %d (%s)", _IOC_NR(req), ret, strerror(-ret));
	return ret;
}

/*
 * Every number of the DRM core range (0x00-0x3f, 0xa0-0xff) outside the
 * allow-list is -EOPNOTSUPP whatever the direction and size (GET_MAGIC and
 * GET_UNIQUE used to oops on accel files); each allowed one reaches the core.
 */
static void test_core_allowlist(void **state)
{
	static const unsigned int dirs[] = {
		_IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE,
	};
	static const unsigned int sizes[] = { 0, 8, 16, 64, 256 };
	uint64_t arg[64], pt = 1;
	int fd = ld_open(0), ret, allowed = 0, efd;
	uint32_t h = 0, h2 = 0;

	(void)state;
	assert_true(fd >= 0);
	for (unsigned int nr = 0; nr < 0x100; nr++) {
		if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END)
			continue;
		if (lf_core_allowed(nr)) {
			allowed++;
			continue;
		}
		for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++)
			for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
				memset(arg, 0, sizeof(arg));
				ret = ld_ioctl(fd, _IOC(dirs[d], DRM_IOCTL_BASE, nr, sizes[z]), arg);
				if (ret != -EOPNOTSUPP)
					fail_msg("core ioctl 0x%02x dir %u size %u: %d (%s), want "
						 "-EOPNOTSUPP", nr, dirs[d], sizes[z], ret,
						 strerror(-ret));
			}
	}
	assert_int_equal(allowed, 17);
	/* The real commands of the two that used to oops, and a few more. */
	memset(arg, 0, sizeof(arg));
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_GET_MAGIC, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_GET_UNIQUE, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_AUTH_MAGIC, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_SET_MASTER, NULL), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_GEM_FLINK, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_GEM_OPEN, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg), -EOPNOTSUPP);

	/* Each allowed one, with an argument that means something. */
	{
		struct drm_version v = { 0 };
		struct drm_get_cap cap = { .capability = DRM_CAP_SYNCOBJ };
		struct drm_gem_close gc = { .handle = 0 };
		struct drm_prime_handle ph = { .handle = 0, .flags = DRM_CLOEXEC, .fd = -1 };
		struct drm_syncobj_create sc = { 0 };
		struct drm_syncobj_handle sh = { 0 };
		struct drm_syncobj_array sa = { 0 };
		struct drm_syncobj_wait sw = { 0 };
		struct drm_syncobj_timeline_wait tw = { 0 };
		struct drm_syncobj_timeline_array ta = { 0 };
		struct drm_syncobj_transfer tr = { 0 };
		struct drm_syncobj_destroy sd = { 0 };
		struct {
			uint32_t handle, flags;
			uint64_t point;
			int32_t fd;
			uint32_t pad;
		} ev = { 0 };

		assert_int_equal(core(fd, DRM_IOCTL_VERSION, &v), 0);
		assert_int_equal(core(fd, DRM_IOCTL_GET_CAP, &cap), 0);
		assert_int_equal(cap.value, 1);
		assert_int_equal(core(fd, DRM_IOCTL_GEM_CLOSE, &gc), -EINVAL);
		assert_int_equal(core(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph), -ENOENT);
		ph.fd = -1;
		core(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph);
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_CREATE, &sc), 0);
		h = sc.handle;
		sc.flags = DRM_SYNCOBJ_CREATE_SIGNALED;
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_CREATE, &sc), 0);
		h2 = sc.handle;
		sh.handle = h2;
		sh.fd = -1;
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &sh), 0);
		assert_true(sh.fd >= 0);
		sh.handle = 0;
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &sh), 0);
		close(sh.fd);
		sa = (struct drm_syncobj_array){ .handles = (uintptr_t)&h, .count_handles = 1 };
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_SIGNAL, &sa), 0);
		sw = (struct drm_syncobj_wait){ .handles = (uintptr_t)&h, .count_handles = 1 };
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_WAIT, &sw), 0);
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_RESET, &sa), 0);
		ta = (struct drm_syncobj_timeline_array){
			.handles = (uintptr_t)&h, .points = (uintptr_t)&pt, .count_handles = 1,
		};
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &ta), 0);
		tw = (struct drm_syncobj_timeline_wait){
			.handles = (uintptr_t)&h, .points = (uintptr_t)&pt, .count_handles = 1,
		};
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw), 0);
		pt = 0;
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_QUERY, &ta), 0);
		assert_int_equal(pt, 1);
		tr = (struct drm_syncobj_transfer){ .src_handle = h, .dst_handle = h2, .src_point = 1 };
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_TRANSFER, &tr), 0);
		efd = eventfd(0, EFD_CLOEXEC);
		assert_true(efd >= 0);
		ev.handle = h;
		ev.point = 1;
		ev.fd = efd;
		assert_int_equal(core(fd, DRM_IOWR(0xCF, ev), &ev), 0);
		close(efd);
		sd.handle = h;
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &sd), 0);
		sd.handle = h2;
		assert_int_equal(core(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &sd), 0);
	}
	/* Another ioctl type entirely. */
	assert_int_equal(ld_ioctl(fd, _IOR('T', 0x01, int), arg), -ENOTTY);
	close(fd);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static void test_fuzz(void **state)
{
	struct lf_opts o;
	const char *mode = getenv("LUMEN_FUZZ_MODE");

	(void)state;
	lf_opts_default(&o);
	o.seed = env_u64("LUMEN_FUZZ_SEED", o.seed);
	o.count = env_u64("LUMEN_FUZZ_COUNT", o.count);
	o.procs = (int)env_u64("LUMEN_FUZZ_PROCS", (uint64_t)o.procs);
	if (o.procs < 1 || o.procs > LF_MAX_PROCS)
		o.procs = 4;
	if (getenv("LUMEN_FUZZ_KILL") && !strcmp(getenv("LUMEN_FUZZ_KILL"), "0"))
		o.kill = 0;
	if (mode && !strcmp(mode, "random"))
		o.mode = LF_MODE_RANDOM;
	else if (mode && !strcmp(mode, "struct"))
		o.mode = LF_MODE_STRUCT;
	assert_int_equal(lf_run(&o), 0);
}

/* lf_run() checks this too; once more on its own, as its own test. */
static void test_cards_work_after(void **state)
{
	(void)state;
	assert_int_equal(lf_check_cards(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_allowlist),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_cards_work_after),
	};

	return cmocka_run_group_tests_name("fuzz", tests, NULL, NULL);
}
