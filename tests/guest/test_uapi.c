// SPDX-License-Identifier: MIT
/*
 * Negative uAPI suite: every ioctl of lumen_accel.h with unknown flags,
 * reserved fields, bad sizes and overflows, misaligned and out-of-range
 * addresses, overlapping binds, foreign and stale handles, bad user pointers,
 * too many commands / BOs / syncs, malformed descriptors, unknown queues and
 * double destroys. Each case asserts the errno the uAPI documents, and that
 * a rejected call had no effect. Reductions (REDUCE, RREDUCE, CAPS.REDUCE)
 * also get the capability bit checked and a few well-formed runs: results,
 * what the validator must accept (2-byte alignment for the 16-bit types),
 * an RREDUCE loopback and a remote refusal that fails the job, not the
 * context.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "lumen/lumen_link.h"

#define MiB (1ull << 20)
#define PAGE 4096ull
/* A user address that is never mapped: the kernel half. */
#define BAD_PTR 0xffff800000001000ull
/* An address in the user half with nothing mapped (checked in setup). */
#define HOLE_PTR 0x10000ull

struct ctx {
	int fd, fd2;		/* two contexts on card 0 */
	uint32_t q;		/* queue of fd */
	struct ld_buf buf;	/* 1 MiB host BO of fd, bound */
	uint32_t foreign_bo;	/* BO handle of fd2 that fd does not have */
	uint32_t foreign_sync;	/* syncobj of fd2 that fd does not have */
	uint32_t sync;		/* binary syncobj of fd */
	void *guard;		/* 2 pages: RW, then PROT_NONE */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	uint32_t h;
	int i;

	if (!c)
		return -1;
	*state = c;
	c->fd = ld_open(0);
	c->fd2 = ld_open(0);
	if (c->fd < 0 || c->fd2 < 0 || ld_queue_create(c->fd, &c->q) ||
	    ld_buf_new(c->fd, LD_HOST, MiB, &c->buf))
		return -1;
	/* Give fd2 more BOs and syncobjs than fd has, so its highest handle
	 * is one fd does not own. */
	for (i = 0; i < 8; i++) {
		if (ld_bo_create(c->fd2, PAGE, DRM_LUMEN_BO_HOST, 0, &h, NULL))
			return -1;
		c->foreign_bo = h;
		c->foreign_sync = ld_syncobj(c->fd2, 1);
	}
	c->sync = ld_syncobj(c->fd, 1);
	c->guard = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->guard == MAP_FAILED || mprotect((char *)c->guard + PAGE, PAGE, PROT_NONE))
		return -1;
	if (msync((void *)HOLE_PTR, PAGE, MS_ASYNC) == 0) /* mapped after all? */
		return -1;
	/* Syncobjs are checked where they are used (test_submit_fields), so a
	 * driver without them fails that test, not the whole suite. */
	return c->foreign_bo ? 0 : -1;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	close(c->fd);
	close(c->fd2);
	munmap(c->guard, 2 * PAGE);
	free(c);
	return 0;
}

/* ---- the ioctl argument itself ------------------------------------------------ */

static void test_bad_arg_pointer(void **state)
{
	struct ctx *c = *state;
	static const unsigned long reqs[] = {
		DRM_IOCTL_LUMEN_GET_PARAM, DRM_IOCTL_LUMEN_QUERY, DRM_IOCTL_LUMEN_BO_CREATE,
		DRM_IOCTL_LUMEN_BO_INFO, DRM_IOCTL_LUMEN_VM_BIND, DRM_IOCTL_LUMEN_QUEUE_CREATE,
		DRM_IOCTL_LUMEN_QUEUE_DESTROY, DRM_IOCTL_LUMEN_SUBMIT, DRM_IOCTL_LUMEN_WAIT,
	};

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(ld_ioctl(c->fd, reqs[i], (void *)BAD_PTR), -EFAULT);
		assert_int_equal(ld_ioctl(c->fd, reqs[i], NULL), -EFAULT);
	}
	/* An ioctl number past the driver's table (uAPI 1.2 ends at 0x0e). */
	assert_int_equal(ld_ioctl(c->fd, DRM_IOWR(DRM_COMMAND_BASE + 0x0f,
						  struct drm_lumen_wait), &(struct drm_lumen_wait){ 0 }),
			 -EINVAL);
}

/* ---- the DRM core range: allow-list ----------------------------------------------- */

/* The core ioctls the uAPI header says an accel file accepts. */
static int core_allowed(unsigned int nr)
{
	static const unsigned long allowed[] = {
		DRM_IOCTL_VERSION, DRM_IOCTL_GET_CAP, DRM_IOCTL_GEM_CLOSE,
		DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_PRIME_FD_TO_HANDLE,
		DRM_IOCTL_SYNCOBJ_CREATE, DRM_IOCTL_SYNCOBJ_DESTROY,
		DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
		DRM_IOCTL_SYNCOBJ_WAIT, DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL,
		DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, DRM_IOCTL_SYNCOBJ_QUERY,
		DRM_IOCTL_SYNCOBJ_TRANSFER, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
		/* DRM_IOCTL_SYNCOBJ_EVENTFD, newer than bookworm's libdrm drm.h */
		DRM_IOWR(0xCF, uint64_t),
	};

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (_IOC_NR(allowed[i]) == nr)
			return 1;
	return 0;
}

/*
 * Every core number outside the allow-list is -EOPNOTSUPP whatever its
 * direction and size (GET_MAGIC and GET_UNIQUE used to oops the kernel);
 * the allowed ones reach the core (a zeroed argument is some other errno
 * or success); a command of another ioctl type is -ENOTTY.
 */
static void test_core_ioctls(void **state)
{
	struct ctx *c = *state;
	static const unsigned int dirs[] = {
		_IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE,
	};
	uint64_t arg[32];
	unsigned int nr, d;
	int ret;

	for (nr = 0; nr < 0x100; nr++) {
		if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END)
			continue;
		for (d = 0; d < 4; d++) {
			if (core_allowed(nr))
				continue;
			memset(arg, 0, sizeof(arg));
			ret = ld_ioctl(c->fd, _IOC(dirs[d], DRM_IOCTL_BASE, nr, sizeof(arg)), arg);
			if (ret != -EOPNOTSUPP)
				fail_msg("core ioctl 0x%02x dir %u: %d, want -EOPNOTSUPP", nr, d, ret);
		}
	}
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_GET_MAGIC, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_GET_UNIQUE, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_SET_MASTER, NULL), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_GEM_FLINK, arg), -EOPNOTSUPP);
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_MODE_GETRESOURCES, arg), -EOPNOTSUPP);

	/* Allowed: the core answers. */
	{
		struct drm_get_cap cap = { .capability = DRM_CAP_SYNCOBJ_TIMELINE };

		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_GET_CAP, &cap), 0);
		assert_int_equal(cap.value, 1);
	}
	memset(arg, 0, sizeof(arg));
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_VERSION, arg), 0);
	memset(arg, 0, sizeof(arg));
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_GEM_CLOSE, arg), -EINVAL);

	/* Syncobj arrays beyond DRM_LUMEN_MAX_SYNCOBJ_HANDLES: refused before
	 * the core tries to allocate them (it used to WARN). */
	{
		struct drm_syncobj_array a = { .handles = (uintptr_t)arg,
					       .count_handles = 1u << 30 };
		struct drm_syncobj_wait w = { .handles = (uintptr_t)arg,
					      .count_handles = ~0u };

		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_SYNCOBJ_RESET, &a), -EINVAL);
		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_SYNCOBJ_SIGNAL, &a), -EINVAL);
		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_SYNCOBJ_WAIT, &w), -EINVAL);
		a.count_handles = DRM_LUMEN_MAX_SYNCOBJ_HANDLES;
		assert_int_not_equal(ld_ioctl(c->fd, DRM_IOCTL_SYNCOBJ_RESET, &a), -EINVAL);
		/* A short argument that carries 3 bytes of the count (the core
		 * zero-fills the 4th): still too many (seed 78496598). */
		memset(&w, 0xff, sizeof(w));
		assert_int_equal(ld_ioctl(c->fd, _IOC(_IOC_READ | _IOC_WRITE, DRM_IOCTL_BASE,
						      _IOC_NR(DRM_IOCTL_SYNCOBJ_WAIT),
						      offsetof(struct drm_syncobj_wait,
							       count_handles) + 3), &w),
				 -EINVAL);
	}

	/* Another ioctl type entirely (a terminal ioctl). */
	assert_int_equal(ld_ioctl(c->fd, _IOR('T', 0x01, int), arg), -ENOTTY);
}

/* ---- GET_PARAM, QUERY ---------------------------------------------------------- */

static void test_get_param(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_get_param gp = { .param = DRM_LUMEN_PARAM_NUM_CONTEXTS, .reserved = 1 };

	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -EINVAL);
	gp = (struct drm_lumen_get_param){ .param = DRM_LUMEN_PARAM_NUM_CONTEXTS + 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -EINVAL);
	gp = (struct drm_lumen_get_param){ .param = ~0u };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -EINVAL);
}

static void query_type_negative(struct ctx *c, uint32_t type, uint32_t full)
{
	uint8_t buf[256];
	struct drm_lumen_query q;

	/* Size probe. */
	q = (struct drm_lumen_query){ .type = type };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), 0);
	assert_int_equal(q.size, full);
	/* Flags, reserved. */
	q = (struct drm_lumen_query){ .type = type, .size = full, .data = (uintptr_t)buf,
				      .flags = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EINVAL);
	q.flags = 0;
	q.reserved = 1;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EINVAL);
	assert_int_equal(q.size, full); /* not updated on error */
	/* Bad data pointers: NULL with a size, kernel address, a buffer
	 * running into a PROT_NONE page. */
	q = (struct drm_lumen_query){ .type = type, .size = full };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EFAULT);
	q.data = BAD_PTR;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EFAULT);
	q.data = (uintptr_t)c->guard + PAGE - full / 2;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EFAULT);
	/* A short buffer gets the prefix and nothing past it. */
	memset(buf, 0xee, sizeof(buf));
	q = (struct drm_lumen_query){ .type = type, .size = 8, .data = (uintptr_t)buf };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), 0);
	assert_int_equal(q.size, full);
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void test_query(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_query q = { .type = DRM_LUMEN_QUERY_LINK + 1 };

	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EINVAL);
	q.type = ~0u;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, &q), -EINVAL);
	query_type_negative(c, DRM_LUMEN_QUERY_CONTEXT_STATUS,
			    sizeof(struct drm_lumen_context_status));
	query_type_negative(c, DRM_LUMEN_QUERY_MEMORY, sizeof(struct drm_lumen_memory_info));
}

/* ---- BO_CREATE, BO_INFO, GEM_CLOSE ---------------------------------------------- */

static int bo_create_raw(int fd, struct drm_lumen_bo_create *bc)
{
	return ld_ioctl(fd, DRM_IOCTL_LUMEN_BO_CREATE, bc);
}

static void test_bo_create_flags(void **state)
{
	struct ctx *c = *state;
	static const uint32_t bad[] = {
		0, DRM_LUMEN_BO_DEVICE | DRM_LUMEN_BO_HOST,
		DRM_LUMEN_BO_DEVICE | DRM_LUMEN_BO_USERPTR,
		DRM_LUMEN_BO_HOST | DRM_LUMEN_BO_USERPTR,
		DRM_LUMEN_BO_DEVICE | DRM_LUMEN_BO_HOST | DRM_LUMEN_BO_USERPTR,
		DRM_LUMEN_BO_READ_ONLY, DRM_LUMEN_BO_DEVICE | DRM_LUMEN_BO_READ_ONLY,
		DRM_LUMEN_BO_HOST | DRM_LUMEN_BO_READ_ONLY,
		DRM_LUMEN_BO_HOST | (1u << 4), DRM_LUMEN_BO_DEVICE | (1u << 31), 1u << 4,
	};
	struct drm_lumen_memory_info before, after;

	assert_int_equal(ld_mem_info(c->fd, &before), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drm_lumen_bo_create bc = {
			.size = PAGE, .flags = bad[i],
			.userptr = bad[i] & DRM_LUMEN_BO_USERPTR ? (uintptr_t)c->guard : 0,
		};

		if (bo_create_raw(c->fd, &bc) != -EINVAL)
			fail_msg("BO_CREATE flags 0x%x not rejected with -EINVAL", bad[i]);
	}
	/* Reserved, and a user pointer without USERPTR. */
	for (uint32_t f = DRM_LUMEN_BO_DEVICE; f <= DRM_LUMEN_BO_USERPTR; f <<= 1) {
		struct drm_lumen_bo_create bc = { .size = PAGE, .flags = f, .reserved = 1,
						  .userptr = (uintptr_t)c->guard };

		assert_int_equal(bo_create_raw(c->fd, &bc), -EINVAL);
		if (f != DRM_LUMEN_BO_USERPTR) {
			bc.reserved = 0;
			assert_int_equal(bo_create_raw(c->fd, &bc), -EINVAL);
		}
	}
	assert_int_equal(ld_mem_info(c->fd, &after), 0);
	assert_int_equal(after.ctx_bo_count, before.ctx_bo_count);
	assert_int_equal(after.free, before.free);
}

static void test_bo_create_sizes(void **state)
{
	struct ctx *c = *state;
	static const uint64_t bad[] = {
		0, DRM_LUMEN_BO_MAX_SIZE + 1, DRM_LUMEN_BO_MAX_SIZE + PAGE, ~0ull, ~0ull - PAGE + 2,
		1ull << 63,
	};

	for (uint32_t f = DRM_LUMEN_BO_DEVICE; f <= DRM_LUMEN_BO_HOST; f <<= 1)
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct drm_lumen_bo_create bc = { .size = bad[i], .flags = f };

			if (bo_create_raw(c->fd, &bc) != -EINVAL)
				fail_msg("BO_CREATE flags 0x%x size 0x%llx not -EINVAL", f,
					 (unsigned long long)bad[i]);
		}
	/* Allowed size, more than the device has: -ENOSPC. */
	{
		struct drm_lumen_bo_create bc = { .size = DRM_LUMEN_BO_MAX_SIZE,
						  .flags = DRM_LUMEN_BO_DEVICE };

		assert_int_equal(bo_create_raw(c->fd, &bc), -ENOSPC);
	}
}

static void test_bo_create_userptr(void **state)
{
	struct ctx *c = *state;
	uint8_t *g = c->guard;
	struct drm_lumen_bo_create bc;
	void *ro;
	uint32_t h;

	/* Misaligned pointer. */
	bc = (struct drm_lumen_bo_create){ .size = PAGE, .flags = DRM_LUMEN_BO_USERPTR,
					   .userptr = (uintptr_t)g + 8 };
	assert_int_equal(bo_create_raw(c->fd, &bc), -EINVAL);
	/* Pointers that do not cover mapped memory. */
	bc.userptr = 0;
	assert_int_equal(bo_create_raw(c->fd, &bc), -EFAULT);
	bc.userptr = HOLE_PTR;
	assert_int_equal(bo_create_raw(c->fd, &bc), -EFAULT);
	bc.userptr = BAD_PTR;
	assert_int_equal(bo_create_raw(c->fd, &bc), -EFAULT);
	bc.userptr = (uintptr_t)g + PAGE; /* the PROT_NONE page */
	assert_int_equal(bo_create_raw(c->fd, &bc), -EFAULT);
	bc.userptr = (uintptr_t)g; /* RW page, then PROT_NONE */
	bc.size = 2 * PAGE;
	assert_int_equal(bo_create_raw(c->fd, &bc), -EFAULT);
	/* Wrapping range. */
	bc.userptr = ~0ull & ~(PAGE - 1);
	bc.size = 2 * PAGE;
	assert_int_equal(bo_create_raw(c->fd, &bc), -EINVAL);
	/* A read-only mapping: only as READ_ONLY. */
	ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ro != MAP_FAILED);
	bc = (struct drm_lumen_bo_create){ .size = PAGE, .flags = DRM_LUMEN_BO_USERPTR,
					   .userptr = (uintptr_t)ro };
	assert_int_equal(bo_create_raw(c->fd, &bc), -EFAULT);
	bc.flags |= DRM_LUMEN_BO_READ_ONLY;
	assert_int_equal(bo_create_raw(c->fd, &bc), 0);
	h = bc.handle;
	/* And its mapping is read-only whatever the caller asks. */
	{
		uint64_t va = ld_va_alloc(PAGE);
		struct lumen_cmd cmd = ld_cmd_nop();

		assert_int_equal(ld_vm_map(c->fd, h, va, 0, PAGE, 0), 0);
		assert_int_equal(ld_run1(c->fd, c->q, &cmd, &h, 1), 0);
		assert_int_equal(ld_vm_unmap(c->fd, va, PAGE), 0);
	}
	assert_int_equal(ld_gem_close(c->fd, h), 0);
	munmap(ro, PAGE);
}

static void test_bo_info(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_bo_info bi = { .handle = c->buf.handle, .reserved = 1 };

	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_BO_INFO, &bi), -EINVAL);
	assert_int_equal(ld_bo_info(c->fd, 0, &bi), -ENOENT);
	assert_int_equal(ld_bo_info(c->fd, 0xfffffff0u, &bi), -ENOENT);
	assert_int_equal(ld_bo_info(c->fd, c->foreign_bo, &bi), -ENOENT);
	/* Stale handle. */
	{
		uint32_t h;

		assert_int_equal(ld_bo_create(c->fd, PAGE, DRM_LUMEN_BO_HOST, 0, &h, NULL), 0);
		assert_int_equal(ld_gem_close(c->fd, h), 0);
		assert_int_equal(ld_bo_info(c->fd, h, &bi), -ENOENT);
		assert_int_equal(ld_gem_close(c->fd, h), -EINVAL);
	}
	/* mmap beyond the BO, or of a bogus offset. */
	assert_int_equal(ld_bo_info(c->fd, c->buf.handle, &bi), 0);
	assert_true(mmap(NULL, 2 * MiB, PROT_READ, MAP_SHARED, c->fd, (off_t)bi.mmap_offset) ==
		    MAP_FAILED);
	assert_true(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c->fd,
			 (off_t)(bi.mmap_offset + 64 * MiB)) == MAP_FAILED);
}

/* ---- VM_BIND --------------------------------------------------------------------- */

struct bind_case {
	const char *what;
	struct drm_lumen_vm_bind b;
	int err;
};

static void test_vm_bind(void **state)
{
	struct ctx *c = *state;
	const uint32_t h = c->buf.handle;
	const uint64_t va = ld_va_alloc(8 * MiB) + 2 * MiB;
	const uint64_t S = DRM_LUMEN_VA_USER_START, E = DRM_LUMEN_VA_USER_END;
	const struct bind_case cases[] = {
		{ "op 2", { .op = 2, .handle = h, .va = va, .size = PAGE }, -EINVAL },
		{ "op ~0", { .op = ~0u, .handle = h, .va = va, .size = PAGE }, -EINVAL },
		{ "unknown flag", { .handle = h, .va = va, .size = PAGE, .flags = 2 }, -EINVAL },
		{ "high flag", { .handle = h, .va = va, .size = PAGE, .flags = 1u << 31 }, -EINVAL },
		{ "reserved", { .handle = h, .va = va, .size = PAGE, .reserved = 1 }, -EINVAL },
		{ "handle 0", { .handle = 0, .va = va, .size = PAGE }, -ENOENT },
		{ "foreign handle", { .handle = c->foreign_bo, .va = va, .size = PAGE }, -ENOENT },
		{ "size 0", { .handle = h, .va = va, .size = 0 }, -EINVAL },
		{ "size 1", { .handle = h, .va = va, .size = 1 }, -EINVAL },
		{ "size 4097", { .handle = h, .va = va, .size = PAGE + 1 }, -EINVAL },
		{ "va + 1", { .handle = h, .va = va + 1, .size = PAGE }, -EINVAL },
		{ "va + 2048", { .handle = h, .va = va + 2048, .size = PAGE }, -EINVAL },
		{ "offset 1", { .handle = h, .va = va, .offset = 1, .size = PAGE }, -EINVAL },
		{ "offset 2048", { .handle = h, .va = va, .offset = 2048, .size = PAGE }, -EINVAL },
		{ "past BO end", { .handle = h, .va = va, .size = MiB + PAGE }, -EINVAL },
		{ "offset past end", { .handle = h, .va = va, .offset = MiB, .size = PAGE }, -EINVAL },
		{ "offset + size", { .handle = h, .va = va, .offset = PAGE, .size = MiB }, -EINVAL },
		{ "offset overflow", { .handle = h, .va = va, .offset = ~0ull & ~(PAGE - 1),
				       .size = 2 * PAGE }, -EINVAL },
		{ "size ~0", { .handle = h, .va = va, .offset = PAGE,
			       .size = ~0ull & ~(PAGE - 1) }, -EINVAL },
		{ "va 0", { .handle = h, .va = 0, .size = PAGE }, -EINVAL },
		{ "fence VA", { .handle = h, .va = 0x100000, .size = PAGE }, -EINVAL },
		{ "below user", { .handle = h, .va = S - PAGE, .size = PAGE }, -EINVAL },
		{ "straddles start", { .handle = h, .va = S - PAGE, .size = 2 * PAGE }, -EINVAL },
		{ "at user end", { .handle = h, .va = E, .size = PAGE }, -EINVAL },
		{ "straddles end", { .handle = h, .va = E - PAGE, .size = 2 * PAGE }, -EINVAL },
		{ "2^48", { .handle = h, .va = 1ull << 48, .size = PAGE }, -EINVAL },
		{ "va overflow", { .handle = h, .va = ~0ull & ~(PAGE - 1), .size = 2 * PAGE },
		  -EINVAL },
		{ "va + size wraps", { .handle = h, .va = S, .size = ~0ull & ~(PAGE - 1) },
		  -EINVAL },
		{ "unmap handle", { .op = DRM_LUMEN_VM_UNMAP, .handle = h, .va = va,
				    .size = PAGE }, -EINVAL },
		{ "unmap offset", { .op = DRM_LUMEN_VM_UNMAP, .va = va, .offset = PAGE,
				    .size = PAGE }, -EINVAL },
		{ "unmap flags", { .op = DRM_LUMEN_VM_UNMAP, .va = va, .size = PAGE,
				   .flags = DRM_LUMEN_VM_READ_ONLY }, -EINVAL },
		{ "unmap reserved", { .op = DRM_LUMEN_VM_UNMAP, .va = va, .size = PAGE,
				      .reserved = 1 }, -EINVAL },
		{ "unmap misaligned", { .op = DRM_LUMEN_VM_UNMAP, .va = va + 8, .size = PAGE },
		  -EINVAL },
		{ "unmap size 0", { .op = DRM_LUMEN_VM_UNMAP, .va = va, .size = 0 }, -EINVAL },
		{ "unmap nothing", { .op = DRM_LUMEN_VM_UNMAP, .va = va, .size = PAGE }, -ENOENT },
	};
	struct drm_lumen_vm_bind b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		b = cases[i].b;
		ret = ld_ioctl(c->fd, DRM_IOCTL_LUMEN_VM_BIND, &b);
		if (ret != cases[i].err)
			fail_msg("VM_BIND %s: %d (%s), want %d (%s)", cases[i].what, ret,
				 strerror(-ret), cases[i].err, strerror(-cases[i].err));
	}
	/* Nothing got mapped by the failures: the full range binds now. */
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, MiB, 0), 0);
	/* Overlaps of every kind. */
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, MiB, 0), -EEXIST);
	assert_int_equal(ld_vm_map(c->fd, h, va + MiB - PAGE, 0, 2 * PAGE, 0), -EEXIST);
	assert_int_equal(ld_vm_map(c->fd, h, va - PAGE, 0, 2 * PAGE, 0), -EEXIST);
	assert_int_equal(ld_vm_map(c->fd, h, va + PAGE, PAGE, PAGE, 0), -EEXIST);
	assert_int_equal(ld_vm_map(c->fd, h, va - PAGE, 0, MiB, 0), -EEXIST);
	/* Unmap must name exactly one mapping. */
	assert_int_equal(ld_vm_unmap(c->fd, va + PAGE, PAGE), -ENOENT);
	assert_int_equal(ld_vm_unmap(c->fd, va, PAGE), -EINVAL);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * MiB), -EINVAL);
	assert_int_equal(ld_vm_unmap(c->fd, va, MiB), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, MiB), -ENOENT);
	/* The very last user page binds. */
	assert_int_equal(ld_vm_map(c->fd, h, E - PAGE, 0, PAGE, 0), 0);
	assert_int_equal(ld_vm_unmap(c->fd, E - PAGE, PAGE), 0);
	/* The first user page is valid too (our buffer from setup sits there,
	 * ld_va_alloc() starts at S): -EEXIST, not -EINVAL. */
	assert_int_equal(c->buf.va, S);
	assert_int_equal(ld_vm_map(c->fd, h, S, 0, PAGE, 0), -EEXIST);
}

/* ---- QUEUE_CREATE, QUEUE_DESTROY ---------------------------------------------------- */

static void test_queues(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_queue_create qc;
	struct drm_lumen_queue_destroy qd;
	uint32_t ids[64], q;
	uint64_t nq = 0;
	int n = 0, ret;

	qc = (struct drm_lumen_queue_create){ .flags = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc), -EINVAL);
	qc = (struct drm_lumen_queue_create){ .flags = 1u << 31 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc), -EINVAL);
	qc = (struct drm_lumen_queue_create){ .priority = 3 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc), -EINVAL);
	qc = (struct drm_lumen_queue_create){ .priority = ~0u };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc), -EINVAL);
	qc = (struct drm_lumen_queue_create){ .reserved = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc), -EINVAL);

	qd = (struct drm_lumen_queue_destroy){ .queue_id = c->q, .reserved = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_DESTROY, &qd), -EINVAL);
	assert_int_equal(ld_queue_destroy(c->fd, c->q + 1000), -ENOENT);
	assert_int_equal(ld_queue_destroy(c->fd, ~0u), -ENOENT);

	/* Every hardware queue taken (ours holds one, the other file more):
	 * -EBUSY; one freed, one more. */
	assert_int_equal(ld_get_param(c->fd, DRM_LUMEN_PARAM_NUM_QUEUES, &nq), 0);
	assert_true(nq >= 2 && nq <= 64);
	for (;;) {
		ret = ld_queue_create(n % 2 ? c->fd : c->fd2, &ids[n]);
		if (ret)
			break;
		n++;
		assert_true(n < 64);
	}
	assert_int_equal(ret, -EBUSY);
	assert_int_equal(n + 1, (int)nq);
	assert_int_equal(ld_queue_destroy(c->fd2, ids[0]), 0);
	assert_int_equal(ld_queue_destroy(c->fd2, ids[0]), -ENOENT); /* double destroy */
	assert_int_equal(ld_queue_create(c->fd, &q), 0);
	assert_int_equal(ld_queue_create(c->fd, &ids[0]), -EBUSY);
	assert_int_equal(ld_queue_destroy(c->fd, q), 0);
	for (int i = 1; i < n; i++)
		assert_int_equal(ld_queue_destroy(i % 2 ? c->fd : c->fd2, ids[i]), 0);
	/* A destroyed queue's id is unknown to SUBMIT and WAIT. */
	{
		struct lumen_cmd cmd = ld_cmd_nop();
		struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
		int32_t st;

		assert_int_equal(ld_submit(c->fd, q, &job, NULL), -ENOENT);
		assert_int_equal(ld_wait(c->fd, q, 1, 0, &st), -ENOENT);
	}
}

/* ---- SUBMIT --------------------------------------------------------------------------- */

static struct drm_lumen_submit submit_of(struct ctx *c, const struct lumen_cmd *cmds, uint32_t n)
{
	struct drm_lumen_submit s = {
		.queue_id = c->q, .num_cmds = n, .cmds = (uintptr_t)cmds,
		.bo_handles = (uintptr_t)&c->buf.handle, .num_bos = 1,
	};

	return s;
}

static int submit_raw(struct ctx *c, struct drm_lumen_submit *s)
{
	return ld_ioctl(c->fd, DRM_IOCTL_LUMEN_SUBMIT, s);
}

static void test_submit_fields(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct lumen_cmd *many = calloc(DRM_LUMEN_MAX_CMDS + 1, sizeof(*many));
	uint32_t *bos = calloc(DRM_LUMEN_MAX_BOS + 1, sizeof(*bos));
	struct drm_lumen_sync syncs[DRM_LUMEN_MAX_SYNCS + 1];
	struct drm_lumen_submit s;
	struct lumen_cmd *edge;

	assert_non_null(many);
	assert_non_null(bos);
	assert_true(c->sync != 0 && c->foreign_sync != 0); /* DRIVER_SYNCOBJ */
	for (int i = 0; i <= DRM_LUMEN_MAX_CMDS; i++)
		many[i] = ld_cmd_nop();
	for (int i = 0; i <= DRM_LUMEN_MAX_BOS; i++)
		bos[i] = c->buf.handle;
	for (int i = 0; i <= DRM_LUMEN_MAX_SYNCS; i++)
		syncs[i] = (struct drm_lumen_sync){ .handle = c->sync };

	s = submit_of(c, &cmd, 1);
	assert_int_equal(submit_raw(c, &s), 0);
	assert_true(s.seqno > 0);

	s = submit_of(c, &cmd, 1);
	s.flags = 1;
	assert_int_equal(submit_raw(c, &s), -EINVAL);
	s = submit_of(c, &cmd, 1);
	s.queue_id = c->q + 1000;
	assert_int_equal(submit_raw(c, &s), -ENOENT);

	/* Command counts and pointers. */
	s = submit_of(c, many, 0);
	assert_int_equal(submit_raw(c, &s), -EINVAL);
	s = submit_of(c, many, DRM_LUMEN_MAX_CMDS + 1);
	assert_int_equal(submit_raw(c, &s), -EINVAL);
	s = submit_of(c, many, ~0u);
	assert_int_equal(submit_raw(c, &s), -EINVAL);
	s = submit_of(c, many, DRM_LUMEN_MAX_CMDS);
	assert_int_equal(submit_raw(c, &s), 0);
	s = submit_of(c, NULL, 1);
	assert_int_equal(submit_raw(c, &s), -EFAULT);
	s = submit_of(c, (void *)BAD_PTR, 1);
	assert_int_equal(submit_raw(c, &s), -EFAULT);
	/* Last command runs into the PROT_NONE page. */
	edge = (struct lumen_cmd *)((char *)c->guard + PAGE - 2 * sizeof(*edge));
	edge[0] = ld_cmd_nop();
	edge[1] = ld_cmd_nop();
	s = submit_of(c, edge, 2);
	assert_int_equal(submit_raw(c, &s), 0);
	s = submit_of(c, edge, 3);
	assert_int_equal(submit_raw(c, &s), -EFAULT);

	/* BO lists. */
	s = submit_of(c, &cmd, 1);
	s.num_bos = DRM_LUMEN_MAX_BOS + 1;
	s.bo_handles = (uintptr_t)bos;
	assert_int_equal(submit_raw(c, &s), -EINVAL);
	s.num_bos = DRM_LUMEN_MAX_BOS;
	assert_int_equal(submit_raw(c, &s), 0);
	s.num_bos = 1;
	s.bo_handles = BAD_PTR;
	assert_int_equal(submit_raw(c, &s), -EFAULT);
	s.bo_handles = 0;
	assert_int_equal(submit_raw(c, &s), -EFAULT);
	s.num_bos = 0; /* no BOs: pointer unused */
	assert_int_equal(submit_raw(c, &s), 0);
	s = submit_of(c, &cmd, 1);
	s.bo_handles = (uintptr_t)&c->foreign_bo;
	assert_int_equal(submit_raw(c, &s), -ENOENT);
	{
		uint32_t two[2] = { c->buf.handle, 0 };

		s.bo_handles = (uintptr_t)two;
		s.num_bos = 2;
		assert_int_equal(submit_raw(c, &s), -ENOENT);
	}

	/* In- and out-syncs. */
	for (int out = 0; out < 2; out++) {
		struct drm_lumen_sync one = { .handle = c->sync };
		uint32_t *num;
		__u64 *ptr;

		s = submit_of(c, &cmd, 1);
		num = out ? &s.num_out_syncs : &s.num_in_syncs;
		ptr = out ? &s.out_syncs : &s.in_syncs;
		*num = DRM_LUMEN_MAX_SYNCS + 1;
		*ptr = (uintptr_t)syncs;
		assert_int_equal(submit_raw(c, &s), -EINVAL);
		*num = DRM_LUMEN_MAX_SYNCS;
		assert_int_equal(submit_raw(c, &s), 0);
		*num = 1;
		*ptr = BAD_PTR;
		assert_int_equal(submit_raw(c, &s), -EFAULT);
		*ptr = 0;
		assert_int_equal(submit_raw(c, &s), -EFAULT);
		*ptr = (uintptr_t)&one;
		one.flags = 1;
		assert_int_equal(submit_raw(c, &s), -EINVAL);
		one.flags = 0;
		one.handle = 0;
		assert_int_equal(submit_raw(c, &s), -ENOENT);
		one.handle = c->foreign_sync;
		assert_int_equal(submit_raw(c, &s), -ENOENT);
		one.handle = c->sync;
		assert_int_equal(submit_raw(c, &s), 0);
	}
	/* Everything accepted above ran. */
	{
		int32_t st = 1;

		assert_int_equal(ld_wait(c->fd, c->q, s.seqno, LD_WAIT_NS, &st), 0);
		assert_int_equal(st, 0);
	}
	free(many);
	free(bos);
}

struct cmd_case {
	const char *what;
	struct lumen_cmd cmd;
};

/* Append a case to the local array cases[] (counted by n): expr as is, or
 * base with one field set to val. */
#define ADD(name, expr)							\
	do {								\
		struct lumen_cmd _c = (expr);				\
		assert_true(n < (int)(sizeof(cases) / sizeof(cases[0])));	\
		cases[n].what = (name);					\
		cases[n++].cmd = _c;					\
	} while (0)
#define MOD(name, base, field, val)					\
	do {								\
		struct lumen_cmd _c = (base);				\
		_c.field = (val);					\
		assert_true(n < (int)(sizeof(cases) / sizeof(cases[0])));	\
		cases[n].what = (name);					\
		cases[n++].cmd = _c;					\
	} while (0)

/*
 * SUBMIT refuses the case with -@want, behind a good SIGNAL of the first
 * word of c->buf (zeroed first: the caller checks it stays so) and alone.
 */
static void expect_refused(struct ctx *c, const struct cmd_case *k, int want)
{
	struct lumen_cmd job[3] = { ld_cmd_signal(c->buf.va, 0x5151), k->cmd, ld_cmd_nop() };
	struct drm_lumen_submit s = submit_of(c, job, 3);
	int ret;

	*(volatile uint64_t *)c->buf.map = 0;
	ret = submit_raw(c, &s);
	if (ret != -want)
		fail_msg("'%s' behind a SIGNAL: %d (%s), want %d (%s)", k->what, ret,
			 strerror(-ret), -want, strerror(want));
	s = submit_of(c, &k->cmd, 1);
	ret = submit_raw(c, &s);
	if (ret != -want)
		fail_msg("'%s' alone: %d (%s), want %d (%s)", k->what, ret, strerror(-ret),
			 -want, strerror(want));
}

/* Malformed descriptors: -EINVAL, and nothing of the job runs. */
static void test_submit_descriptors(void **state)
{
	struct ctx *c = *state;
	const uint64_t w = c->buf.va; /* an 8-byte aligned word */
	struct cmd_case cases[40];
	int n = 0;
	volatile uint64_t *word = (volatile uint64_t *)c->buf.map;

	MOD("opcode LAUNCH", ld_cmd_nop(), opcode, LUMEN_CMD_LAUNCH);
	MOD("opcode 7", ld_cmd_nop(), opcode, LUMEN_CMD_OP_COUNT);
	MOD("opcode 0xff", ld_cmd_nop(), opcode, 0xff);
	MOD("F_IRQ", ld_cmd_nop(), flags, LUMEN_CMD_F_IRQ);
	MOD("F_IRQ|F_BARRIER", ld_cmd_signal(w, 1), flags, LUMEN_CMD_F_IRQ | LUMEN_CMD_F_BARRIER);
	MOD("flag 0x04", ld_cmd_nop(), flags, 0x04);
	MOD("flag 0x80", ld_cmd_copy(w, w + 64, 8), flags, 0x80);
	MOD("reserved0", ld_cmd_nop(), reserved0, 1);
	MOD("nop raw[0]", ld_cmd_nop(), u.raw[0], 1);
	MOD("nop raw[6]", ld_cmd_nop(), u.raw[6], 1ull << 63);
	MOD("copy reserved[0]", ld_cmd_copy(w, w + 64, 8), u.copy.reserved[0], 1);
	MOD("copy reserved[3]", ld_cmd_copy(w, w + 64, 8), u.copy.reserved[3], 1);
	MOD("fill reserved[0]", ld_cmd_fill(w, 8, 0), u.fill.reserved[0], 1);
	MOD("fill reserved[3]", ld_cmd_fill(w, 8, 0), u.fill.reserved[3], 1ull << 40);
	MOD("signal reserved[0]", ld_cmd_signal(w, 1), u.fence.reserved[0], 1);
	MOD("wait reserved[4]", ld_cmd_wait(w, 0), u.fence.reserved[4], 1);
	MOD("timestamp reserved[2]", ld_cmd_timestamp(w), u.fence.reserved[2], 1);
	ADD("signal addr + 4", ld_cmd_signal(w + 4, 1));
	ADD("signal addr + 1", ld_cmd_signal(w + 1, 1));
	ADD("wait addr + 2", ld_cmd_wait(w + 2, 0));
	ADD("timestamp addr + 7", ld_cmd_timestamp(w + 7));
	ADD("copy size over max", ld_cmd_copy(w, w + 64, LUMEN_CMD_MAX_SIZE + 1));
	ADD("copy size ~0", ld_cmd_copy(w, w + 64, ~0ull));
	ADD("fill size over max", ld_cmd_fill(w, LUMEN_CMD_MAX_SIZE + 1, 0));

	for (int i = 0; i < n; i++)
		expect_refused(c, &cases[i], EINVAL);
	/* None of the rejected jobs ran: a good job after them sees the word
	 * untouched before it writes it. */
	{
		struct lumen_cmd ok[2] = { ld_cmd_copy(w + 8, w, 8), ld_cmd_nop() };

		ok[1].flags = LUMEN_CMD_F_BARRIER; /* allowed */
		assert_int_equal(ld_run(c->fd, c->q, &(struct ld_job){
			.cmds = ok, .num_cmds = 2, .bos = &c->buf.handle, .num_bos = 1 }), 0);
		assert_int_equal(word[0], 0);
		assert_int_equal(word[1], 0);
	}
	/* Edge values that are valid: size exactly the max is accepted by the
	 * validator (the copy itself would fault, so only FILL of 8 bytes and
	 * a TIMESTAMP are run). */
	{
		struct lumen_cmd ok[2] = { ld_cmd_fill(w, 8, 0x42), ld_cmd_timestamp(w + 8) };

		assert_int_equal(ld_run(c->fd, c->q, &(struct ld_job){
			.cmds = ok, .num_cmds = 2, .bos = &c->buf.handle, .num_bos = 1 }), 0);
		assert_int_equal(word[0], 0x42);
		assert_true(word[1] != 0);
	}
}

/* ---- SUBMIT: reductions (CAPS.REDUCE) ------------------------------------------------ */

#define F32	DRM_LUMEN_DTYPE_F32
#define F16	DRM_LUMEN_DTYPE_F16
#define BF16	DRM_LUMEN_DTYPE_BF16
#define I32	DRM_LUMEN_DTYPE_I32
#define SUM	DRM_LUMEN_REDOP_SUM
#define RMAX	DRM_LUMEN_REDOP_MAX


/* One command as a job on queue q of fd: its status. */
static int run1(int fd, uint32_t q, struct lumen_cmd cmd)
{
	return ld_run1(fd, q, &cmd, NULL, 0);
}

static uint64_t card_caps(int fd)
{
	uint64_t caps = 0;

	assert_int_equal(ld_get_param(fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps), 0);
	return caps;
}

static void assert_ctx_clean(int fd)
{
	struct drm_lumen_context_status st;

	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_int_equal(st.flags, 0);
	assert_int_equal(st.error, 0);
}

/* CAPABILITIES has DRM_LUMEN_CAP_REDUCE: the device advertises CAPS.REDUCE
 * (debugfs fw_info shows its CAPS word) and the driver passes it on. */
static void test_reduce_capability(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_device_info info;
	uint32_t size = sizeof(info);
	unsigned long long used = 0;
	char dir[128], path[192], *text, *line;
	unsigned int hw = 0;
	uint64_t caps = card_caps(c->fd);

	assert_int_equal(ld_debugfs_dir(0, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/fw_info", dir);
	text = ld_read_file(path);
	assert_non_null(text);
	line = strstr(text, "caps:");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "caps: %x (driver uses %llx)", &hw, &used), 2);
	free(text);
	assert_int_equal(used, caps);
	if (!(hw & DRM_LUMEN_CAP_REDUCE))
		fail_msg("the device's CAPS 0x%08x lacks REDUCE (bit 8): a device model without reductions",
			 hw);
	if (!(caps & DRM_LUMEN_CAP_REDUCE))
		fail_msg("the device has CAPS.REDUCE but CAPABILITIES 0x%llx lacks it",
			 (unsigned long long)caps);
	assert_int_equal(ld_query(c->fd, DRM_LUMEN_QUERY_DEVICE_INFO, &info, &size), 0);
	assert_int_equal(info.capabilities, caps);
}

/* Without CAPS.REDUCE (RREDUCE: or CAPS.LINKS) the commands are -EOPNOTSUPP,
 * well-formed or not, alone or behind a good command; nothing runs. */
static void test_reduce_needs_cap(void **state)
{
	struct ctx *c = *state;
	const uint64_t w = c->buf.va;
	volatile uint64_t *word = (volatile uint64_t *)c->buf.map;
	uint64_t caps = card_caps(c->fd);
	int no_reduce = !(caps & DRM_LUMEN_CAP_REDUCE);
	int no_rreduce = no_reduce || !(caps & DRM_LUMEN_CAP_LINKS);
	struct cmd_case cases[] = {
		{ "REDUCE", ld_cmd_reduce(w + 4096, w + 8192, 64, F32, SUM) },
		{ "REDUCE dtype 4", ld_cmd_reduce(w + 4096, w + 8192, 64, 4, SUM) },
		{ "RREDUCE", ld_cmd_rreduce(w + 8192, 0, 64, 0, 0, 0, F32, SUM) },
		{ "RREDUCE op 3", ld_cmd_rreduce(w + 8192, 0, 64, 0, 0, 0, F32, 3) },
	};

	if (!no_reduce && !no_rreduce) {
		printf("# the card has CAPS.REDUCE and CAPS.LINKS: no -EOPNOTSUPP path applies\n");
		skip();
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cases[i].cmd.opcode == DRM_LUMEN_CMD_REDUCE ? no_reduce : no_rreduce)
			expect_refused(c, &cases[i], EOPNOTSUPP);
	assert_int_equal(run1(c->fd, c->q, ld_cmd_copy(w + 8, w, 8)), 0);
	assert_int_equal(word[0], 0);
	assert_int_equal(word[1], 0);
}

/* Malformed REDUCE and RREDUCE: -EINVAL, and nothing of the job runs. */
static void test_submit_reduce_descriptors(void **state)
{
	struct ctx *c = *state;
	const uint64_t w = c->buf.va;
	const uint64_t d = w + 4096, s = w + 8192;	/* dst, src (RREDUCE: local) */
	const uint64_t top = ~0ull & ~63ull;		/* + 64 wraps */
	const uint64_t below = DRM_LUMEN_VA_USER_START - 4096;
	volatile uint64_t *word = (volatile uint64_t *)c->buf.map;
	uint8_t before[512];
	struct cmd_case cases[80];
	int links = !!(card_caps(c->fd) & DRM_LUMEN_CAP_LINKS);
	int n = 0, rreduce_skipped = 0;

	/* REDUCE: type and operation. */
	ADD("reduce dtype 4", ld_cmd_reduce(d, s, 64, 4, SUM));
	ADD("reduce dtype 0x100", ld_cmd_reduce(d, s, 64, 0x100, SUM));
	ADD("reduce dtype ~0", ld_cmd_reduce(d, s, 64, ~0u, SUM));
	ADD("reduce op 3", ld_cmd_reduce(d, s, 64, F32, 3));
	ADD("reduce i32 op 3", ld_cmd_reduce(d, s, 64, I32, 3));
	ADD("reduce op ~0", ld_cmd_reduce(d, s, 64, F16, ~0u));
	/* Reserved bytes. */
	MOD("reduce reserved[0]", ld_cmd_reduce(d, s, 64, F32, SUM), u.reduce.reserved[0], 1);
	MOD("reduce reserved[2]", ld_cmd_reduce(d, s, 64, F32, SUM), u.reduce.reserved[2],
	    1ull << 63);
	MOD("reduce flag 0x04", ld_cmd_reduce(d, s, 64, F32, SUM), flags, 0x04);
	MOD("reduce reserved0", ld_cmd_reduce(d, s, 64, F32, SUM), reserved0, 1);
	/* 4-byte types: src, dst and size aligned to 4. */
	ADD("reduce f32 src + 2", ld_cmd_reduce(d, s + 2, 64, F32, SUM));
	ADD("reduce f32 src + 1", ld_cmd_reduce(d, s + 1, 64, F32, SUM));
	ADD("reduce f32 dst + 2", ld_cmd_reduce(d + 2, s, 64, F32, SUM));
	ADD("reduce f32 dst + 3", ld_cmd_reduce(d + 3, s, 64, F32, RMAX));
	ADD("reduce f32 size 62", ld_cmd_reduce(d, s, 62, F32, SUM));
	ADD("reduce f32 size 2", ld_cmd_reduce(d, s, 2, F32, SUM));
	ADD("reduce i32 src + 2", ld_cmd_reduce(d, s + 2, 64, I32, SUM));
	ADD("reduce i32 dst + 2", ld_cmd_reduce(d + 2, s, 64, I32, SUM));
	ADD("reduce i32 size 66", ld_cmd_reduce(d, s, 66, I32, SUM));
	/* 2-byte types: aligned to 2. */
	ADD("reduce f16 src + 1", ld_cmd_reduce(d, s + 1, 64, F16, SUM));
	ADD("reduce f16 dst + 1", ld_cmd_reduce(d + 1, s, 64, F16, SUM));
	ADD("reduce f16 size 63", ld_cmd_reduce(d, s, 63, F16, SUM));
	ADD("reduce f16 size 1", ld_cmd_reduce(d, s, 1, F16, SUM));
	ADD("reduce bf16 src + 3", ld_cmd_reduce(d, s + 3, 64, BF16, SUM));
	ADD("reduce bf16 dst + 1", ld_cmd_reduce(d + 1, s, 64, BF16, RMAX));
	ADD("reduce bf16 size 33", ld_cmd_reduce(d, s, 33, BF16, SUM));
	/* Sizes. */
	ADD("reduce f32 size over max", ld_cmd_reduce(d, s, LUMEN_CMD_MAX_SIZE + 4, F32, SUM));
	ADD("reduce f16 size over max", ld_cmd_reduce(d, s, LUMEN_CMD_MAX_SIZE + 2, F16, SUM));
	ADD("reduce size 2^63", ld_cmd_reduce(d, s, 1ull << 63, I32, SUM));
	ADD("reduce size ~3", ld_cmd_reduce(d, s, ~3ull, F32, SUM));
	/* Destination: read and written, so user VA; no wrap. */
	ADD("reduce dst below user start", ld_cmd_reduce(below, s, 64, F32, SUM));
	ADD("reduce dst 0", ld_cmd_reduce(0, s, 64, F32, SUM));
	ADD("reduce dst 0, size 0", ld_cmd_reduce(0, s, 0, F16, SUM));
	ADD("reduce dst fence page", ld_cmd_reduce(0x100000, s, 8, I32, SUM));
	ADD("reduce dst + size wraps", ld_cmd_reduce(top, s, 128, F32, SUM));
	ADD("reduce src + size wraps", ld_cmd_reduce(d, top, 128, F32, SUM));

	/* RREDUCE. */
	ADD("rreduce dtype 4", ld_cmd_rreduce(s, 0, 64, 0, 0, 0, 4, SUM));
	ADD("rreduce dtype ~0", ld_cmd_rreduce(s, 0, 64, 0, 0, 0, ~0u, SUM));
	ADD("rreduce op 3", ld_cmd_rreduce(s, 0, 64, 0, 0, 0, F32, 3));
	ADD("rreduce op ~0", ld_cmd_rreduce(s, 0, 64, 0, 0, 0, BF16, ~0u));
	MOD("rreduce reserved", ld_cmd_rreduce(s, 0, 64, 0, 0, 0, F32, SUM), u.rreduce.reserved, 1);
	MOD("rreduce reserved bit 63", ld_cmd_rreduce(s, 0, 64, 0, 0, 0, F32, SUM),
	    u.rreduce.reserved, 1ull << 63);
	ADD("rreduce f32 local + 2", ld_cmd_rreduce(s + 2, 0, 64, 0, 0, 0, F32, SUM));
	ADD("rreduce f32 local + 1", ld_cmd_rreduce(s + 1, 0, 64, 0, 0, 0, F32, SUM));
	ADD("rreduce f32 offset + 2", ld_cmd_rreduce(s, 2, 64, 0, 0, 0, F32, SUM));
	ADD("rreduce i32 offset + 3", ld_cmd_rreduce(s, 4099, 64, 0, 0, 0, I32, RMAX));
	ADD("rreduce f32 size 62", ld_cmd_rreduce(s, 0, 62, 0, 0, 0, F32, SUM));
	ADD("rreduce i32 size 2", ld_cmd_rreduce(s, 0, 2, 0, 0, 0, I32, SUM));
	ADD("rreduce f16 local + 1", ld_cmd_rreduce(s + 1, 0, 64, 0, 0, 0, F16, SUM));
	ADD("rreduce f16 offset + 1", ld_cmd_rreduce(s, 1, 64, 0, 0, 0, F16, SUM));
	ADD("rreduce f16 size 63", ld_cmd_rreduce(s, 0, 63, 0, 0, 0, F16, SUM));
	ADD("rreduce bf16 offset + 3", ld_cmd_rreduce(s, 3, 64, 0, 0, 0, BF16, SUM));
	ADD("rreduce bf16 size 1", ld_cmd_rreduce(s, 0, 1, 0, 0, 0, BF16, SUM));
	ADD("rreduce size over max", ld_cmd_rreduce(s, 0, LUMEN_CMD_REMOTE_MAX_SIZE + 4, 0, 0, 0,
						 F32, SUM));
	ADD("rreduce size ~1", ld_cmd_rreduce(s, 0, ~1ull, 0, 0, 0, F16, SUM));
	ADD("rreduce dst_chip", ld_cmd_rreduce(s, 0, 64, DRM_LUMEN_MAX_CHIPS, 0, 0, F32, SUM));
	ADD("rreduce dst_chip ~0", ld_cmd_rreduce(s, 0, 64, ~0u, 0, 0, F32, SUM));
	ADD("rreduce window", ld_cmd_rreduce(s, 0, 64, 0, LUMEN_NUM_WINDOWS, 0, F32, SUM));
	ADD("rreduce offset + size wraps", ld_cmd_rreduce(s, top, 128, 0, 0, 0, F32, SUM));
	ADD("rreduce local + size wraps", ld_cmd_rreduce(top, 0, 128, 0, 0, 0, F32, SUM));

	ld_pattern(before, sizeof(before), 77);
	memcpy(c->buf.map + 4096, before, sizeof(before));
	for (int i = 0; i < n; i++) {
		if (cases[i].cmd.opcode == DRM_LUMEN_CMD_RREDUCE && !links)
			rreduce_skipped++;
		else
			expect_refused(c, &cases[i], EINVAL);
	}
	if (rreduce_skipped)
		printf("# CAPS.LINKS clear: %d RREDUCE cases not run (test_reduce_needs_cap)\n",
		       rreduce_skipped);
	/* None of the rejected jobs ran: a good job after them sees the word
	 * untouched before it writes it, and the destinations are as they were. */
	assert_int_equal(run1(c->fd, c->q, ld_cmd_copy(w + 8, w, 8)), 0);
	assert_int_equal(word[0], 0);
	assert_int_equal(word[1], 0);
	assert_memory_equal(c->buf.map + 4096, before, sizeof(before));
	assert_ctx_clean(c->fd);
}
#undef ADD
#undef MOD

/* IEEE binary16 bit patterns. */
#define H_M1	0xbc00	/* -1.0 */
#define H_0	0x0000
#define H_05	0x3800
#define H_1	0x3c00
#define H_2	0x4000
#define H_25	0x4100
#define H_3	0x4200

/* Valid REDUCEs run and give the right elements; nothing around them moves. */
static void test_reduce_run(void **state)
{
	const uint32_t n = 256;
	struct ld_buf b;
	uint64_t dst, src;
	float *fdst, *fsrc;
	int32_t *id, *is;
	uint16_t *hd, *hs;
	uint32_t q;
	int fd = ld_open(0), ret;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &b), 0);
	dst = b.va + 64 * 1024;
	src = b.va + 128 * 1024;
	fdst = (float *)(b.map + 64 * 1024);
	fsrc = (float *)(b.map + 128 * 1024);
	for (uint32_t i = 0; i < n; i++) {
		fdst[i] = 0.5f * (float)i;
		fsrc[i] = 1000.0f - (float)i;
	}
	fdst[n] = 12345.0f;	/* just past the destination */

	/* f32 SUM over 1 KiB (every sum exact). */
	ret = run1(fd, q, ld_cmd_reduce(dst, src, n * 4, F32, SUM));
	if (ret)
		fail_msg("REDUCE f32 SUM of %u elements: %d (%s)", n, ret, strerror(-ret));
	for (uint32_t i = 0; i < n; i++) {
		float want = 0.5f * (float)i + (1000.0f - (float)i);

		if (fdst[i] != want)
			fail_msg("f32 SUM element %u: %g, want %g", i, (double)fdst[i], (double)want);
		if (fsrc[i] != 1000.0f - (float)i)
			fail_msg("f32 SUM changed source element %u", i);
	}
	assert_true(fdst[n] == 12345.0f);

	/* Size 0 completes and touches nothing. */
	assert_int_equal(run1(fd, q, ld_cmd_reduce(dst, src, 0, F32, SUM)), 0);
	assert_true(fdst[0] == 1000.0f);

	/* i32 SUM wraps. */
	id = (int32_t *)(b.map + 192 * 1024);
	is = (int32_t *)(b.map + 196 * 1024);
	id[0] = INT32_MAX;
	is[0] = 1;
	id[1] = -5;
	is[1] = 7;
	id[2] = 99;
	assert_int_equal(run1(fd, q, ld_cmd_reduce(b.va + 192 * 1024, b.va + 196 * 1024, 8, I32,
						SUM)), 0);
	assert_int_equal(id[0], INT32_MIN);
	assert_int_equal(id[1], 2);
	assert_int_equal(id[2], 99);

	/* f16 SUM at 2-byte (not 4-byte) aligned addresses, 3 elements (6
	 * bytes, not a multiple of 4): what the 16-bit types allow. */
	hd = (uint16_t *)(b.map + 256 * 1024 + 2);
	hs = (uint16_t *)(b.map + 320 * 1024 + 6);
	hd[0] = H_1;
	hd[1] = H_2;
	hd[2] = H_M1;
	hd[3] = 0x7777;
	hs[0] = H_2;
	hs[1] = H_05;
	hs[2] = H_1;
	ret = run1(fd, q, ld_cmd_reduce(b.va + 256 * 1024 + 2, b.va + 320 * 1024 + 6, 6, F16, SUM));
	if (ret)
		fail_msg("REDUCE f16 SUM, 2-byte aligned: %d (%s)", ret, strerror(-ret));
	assert_int_equal(hd[0], H_3);
	assert_int_equal(hd[1], H_25);
	assert_int_equal(hd[2], H_0);
	assert_int_equal(hd[3], 0x7777);

	assert_ctx_clean(fd);
	assert_int_equal(ld_buf_free(&b), 0);
	close(fd);
}

/* RREDUCE through a window of the same file on this chip (a loopback): the
 * elements land reduced; a wrong key fails only the job, with -EACCES. */
static void test_rreduce_loopback(void **state)
{
	struct drm_lumen_window_open wo = { .size = 64 * 1024, .flags = DRM_LUMEN_WINDOW_WRITE };
	struct drm_lumen_window_close wc = { 0 };
	const uint32_t n = 2048, off = 1;	/* elements: 8 KiB, two packets */
	struct ld_buf src, tgt;
	uint64_t chip;
	float *t, *s;
	uint32_t q;
	int fd = ld_open(0), ret;

	(void)state;
	assert_true(fd >= 0);
	if (!(card_caps(fd) & DRM_LUMEN_CAP_LINKS)) {
		close(fd);
		printf("# the card has no link engine (CAPS.LINKS clear): skipped\n");
		skip();
	}
	assert_int_equal(ld_get_param(fd, DRM_LUMEN_PARAM_CHIP_ID, &chip), 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, 64 * 1024, &src), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, 64 * 1024, &tgt), 0);
	wo.va = tgt.va;
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, &wo), 0);
	t = (float *)tgt.map;
	s = (float *)src.map;
	for (uint32_t i = 0; i < n + 2; i++) {
		t[i] = (float)i;
		s[i] = 0.25f * (float)i;
	}
	ret = run1(fd, q, ld_cmd_rreduce(src.va, 4 * off, 4 * n, (uint32_t)chip, wo.window, wo.key,
				      F32, SUM));
	if (ret)
		fail_msg("RREDUCE f32 SUM loopback: %d (%s)", ret, strerror(-ret));
	assert_true(t[0] == 0.0f);
	for (uint32_t j = 0; j < n; j++) {
		float want = (float)(j + off) + 0.25f * (float)j;

		if (t[j + off] != want)
			fail_msg("RREDUCE element %u: %g, want %g", j + off,
				 (double)t[j + off], (double)want);
	}
	assert_true(t[n + off] == (float)(n + off));

	/* The wrong key: only the job fails, the context stays usable. */
	ret = run1(fd, q, ld_cmd_rreduce(src.va, 0, 64, (uint32_t)chip, wo.window, wo.key ^ 1, F32,
				      SUM));
	assert_int_equal(ret, -EACCES);
	assert_true(t[0] == 0.0f);
	assert_ctx_clean(fd);
	assert_int_equal(run1(fd, q, ld_cmd_nop()), 0);

	wc.window = wo.window;
	assert_int_equal(ld_ioctl(fd, DRM_IOCTL_LUMEN_WINDOW_CLOSE, &wc), 0);
	assert_int_equal(ld_buf_free(&src), 0);
	assert_int_equal(ld_buf_free(&tgt), 0);
	close(fd);
}

#undef F32
#undef F16
#undef BF16
#undef I32
#undef SUM
#undef RMAX

/* ---- dma-buf mmaps -------------------------------------------------------------------- */

/* A user-pointer BO's dma-buf has nothing to mmap: -EOPNOTSUPP. Its mmap
 * used to take the core's fallback, which oopses on accel devices. */
static void test_prime_mmap(void **state)
{
	struct ctx *c = *state;
	void *mem = aligned_alloc(PAGE, 4 * PAGE), *map;
	uint32_t h;
	int dfd;

	assert_non_null(mem);
	assert_int_equal(ld_bo_create(c->fd, 4 * PAGE, DRM_LUMEN_BO_USERPTR, (uintptr_t)mem, &h,
				      NULL), 0);
	assert_int_equal(drmPrimeHandleToFD(c->fd, h, DRM_CLOEXEC | DRM_RDWR, &dfd), 0);
	map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	assert_true(map == MAP_FAILED);
	assert_int_equal(errno, EOPNOTSUPP);
	close(dfd);
	assert_int_equal(ld_gem_close(c->fd, h), 0);
	free(mem);
}

/* ---- extensions and priorities ------------------------------------------------------- */

static int submit_ext(struct ctx *c, const void *ext)
{
	struct lumen_cmd cmd = ld_cmd_nop();
	struct drm_lumen_submit s = submit_of(c, &cmd, 1);

	s.extensions = (uintptr_t)ext;
	return submit_raw(c, &s);
}

static void test_submit_extensions(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_submit_ext_priority p = {
		.base = { .name = DRM_LUMEN_SUBMIT_EXT_PRIORITY },
		.priority = DRM_LUMEN_PRIORITY_LOW,
	}, p2;
	struct drm_lumen_ext loop;

	assert_int_equal(submit_ext(c, &p), 0);
	p.priority = DRM_LUMEN_PRIORITY_HIGH;		/* root has CAP_SYS_NICE */
	assert_int_equal(submit_ext(c, &p), 0);
	p.priority = DRM_LUMEN_PRIORITY_NORMAL;
	assert_int_equal(submit_ext(c, &p), 0);

	p.priority = 3;
	assert_int_equal(submit_ext(c, &p), -EINVAL);
	p.priority = DRM_LUMEN_PRIORITY_LOW;
	p.pad = 1;
	assert_int_equal(submit_ext(c, &p), -EINVAL);
	p.pad = 0;
	p.base.flags = 1;
	assert_int_equal(submit_ext(c, &p), -EINVAL);
	p.base.flags = 0;
	p.base.name = 99;				/* unknown */
	assert_int_equal(submit_ext(c, &p), -EINVAL);
	p.base.name = DRM_LUMEN_SUBMIT_EXT_PRIORITY;
	/* The same extension twice. */
	p2 = p;
	p.base.next = (uintptr_t)&p2;
	assert_int_equal(submit_ext(c, &p), -EINVAL);
	p.base.next = 0;
	/* A chain that points at itself stops at DRM_LUMEN_MAX_EXTENSIONS. */
	loop = (struct drm_lumen_ext){ .name = 99, .next = 0 };
	loop.next = (uintptr_t)&loop;
	loop.name = 0;
	assert_int_equal(submit_ext(c, &loop), -EINVAL);
	/* Unreadable extensions. */
	assert_int_equal(submit_ext(c, (void *)BAD_PTR), -EFAULT);
	p.base.next = BAD_PTR;
	assert_int_equal(submit_ext(c, &p), -EFAULT);
}

/* Without CAP_SYS_NICE (an unprivileged child), HIGH is -EPERM. */
static void test_priority_needs_cap(void **state)
{
	struct ctx *c = *state;
	int st = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct drm_lumen_submit_ext_priority p = {
			.base = { .name = DRM_LUMEN_SUBMIT_EXT_PRIORITY },
			.priority = DRM_LUMEN_PRIORITY_HIGH,
		};
		struct drm_lumen_queue_create qc = { .priority = DRM_LUMEN_PRIORITY_HIGH };

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		if (ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc) != -EPERM)
			_exit(11);
		if (submit_ext(c, &p) != -EPERM)
			_exit(12);
		p.priority = DRM_LUMEN_PRIORITY_LOW;
		if (submit_ext(c, &p) != 0)
			_exit(13);
		qc.priority = DRM_LUMEN_PRIORITY_LOW;
		_exit(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &qc) ? 14 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- LIMITS ---------------------------------------------------------------------------- */

static void test_limits_query(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_limits lim;
	uint32_t size = sizeof(lim);
	uint64_t nq;
	char buf[32];

	memset(&lim, 0xa5, sizeof(lim));
	assert_int_equal(ld_query(c->fd, DRM_LUMEN_QUERY_LIMITS, &lim, &size), 0);
	assert_int_equal(size, sizeof(lim));
	assert_int_equal(lim.max_bo_size, DRM_LUMEN_BO_MAX_SIZE);
	assert_int_equal(lim.va_user_start, DRM_LUMEN_VA_USER_START);
	assert_int_equal(lim.va_user_end, DRM_LUMEN_VA_USER_END);
	assert_int_equal(lim.max_cmd_bytes, DRM_LUMEN_CMD_MAX_BYTES);
	assert_int_equal(ld_get_param(c->fd, DRM_LUMEN_PARAM_NUM_QUEUES, &nq), 0);
	assert_int_equal(lim.num_queues, nq);
	assert_int_equal(lim.max_cmds, DRM_LUMEN_MAX_CMDS);
	assert_int_equal(lim.max_bos, DRM_LUMEN_MAX_BOS);
	assert_int_equal(lim.max_syncs, DRM_LUMEN_MAX_SYNCS);
	assert_int_equal(lim.max_extensions, DRM_LUMEN_MAX_EXTENSIONS);
	assert_int_equal(lim.cmd_version, DRM_LUMEN_CMD_VERSION);
	assert_int_equal(lim.pad, 0);
	assert_int_equal(gu_read_sysfs("/sys/module/lumen/parameters/max_file_jobs", buf,
				       sizeof(buf)), 0);
	assert_int_equal(lim.max_file_jobs, strtoul(buf, NULL, 10));
	assert_int_equal(gu_read_sysfs("/sys/module/lumen/parameters/job_timeout_ms", buf,
				       sizeof(buf)), 0);
	assert_int_equal(lim.job_timeout_ms, strtoul(buf, NULL, 10));
	assert_true(lim.num_contexts >= 1 && lim.max_file_queues >= 1 &&
		    lim.max_file_mappings >= 1);
}

/* ---- WAIT ---------------------------------------------------------------------------- */

static void test_wait(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
	struct drm_lumen_wait w;
	uint64_t seq;
	int32_t st;

	assert_int_equal(ld_submit(c->fd, c->q, &job, &seq), 0);
	w = (struct drm_lumen_wait){ .queue_id = c->q, .seqno = seq,
				     .timeout_ns = ld_now_ns() + LD_WAIT_NS, .flags = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WAIT, &w), -EINVAL);
	w.flags = 0;
	w.reserved = 1;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WAIT, &w), -EINVAL);
	w.reserved = 0;
	w.queue_id = c->q + 1000;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WAIT, &w), -ENOENT);
	/* Not yet submitted. */
	assert_int_equal(ld_wait(c->fd, c->q, seq + 1, 0, &st), -EINVAL);
	assert_int_equal(ld_wait(c->fd, c->q, seq + 1000, LD_WAIT_NS, &st), -EINVAL);
	assert_int_equal(ld_wait(c->fd, c->q, ~0ull, 0, &st), -EINVAL);
	/* The real one. */
	st = 1;
	assert_int_equal(ld_wait(c->fd, c->q, seq, LD_WAIT_NS, &st), 0);
	assert_int_equal(st, 0);
	/* Another file's queue ids are not ours: fd2 has no queue c->q. */
	assert_int_equal(ld_wait(c->fd2, c->q, seq, 0, &st), -ENOENT);
}

/* ---- a banned context ---------------------------------------------------------------- */

static void test_banned(void **state)
{
	struct ctx *c = *state;
	struct lumen_cmd cmd = ld_cmd_copy(c->buf.va, DRM_LUMEN_VA_USER_END - PAGE, 8);
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1, .bos = &c->buf.handle, .num_bos = 1 };
	struct drm_lumen_context_status cs;
	int fd = ld_open(0);
	uint32_t q, q2;

	assert_true(fd >= 0);
	job.bos = NULL;
	job.num_bos = 0;
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_run(fd, q, &job), -EFAULT);
	assert_int_equal(ld_ctx_status(fd, &cs), 0);
	assert_true(cs.flags & DRM_LUMEN_CTX_BANNED);
	cmd = ld_cmd_nop();
	assert_int_equal(ld_submit(fd, q, &job, NULL), -ECANCELED);
	/* A new queue of a banned context is no way out. */
	if (ld_queue_create(fd, &q2) == 0)
		assert_int_equal(ld_submit(fd, q2, &job, NULL), -ECANCELED);
	/* Argument errors still come first? Unknown queue is -ENOENT. */
	assert_int_equal(ld_submit(fd, q + 1000, &job, NULL), -ENOENT);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arg_pointer),
		cmocka_unit_test(test_core_ioctls),
		cmocka_unit_test(test_get_param),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_bo_create_flags),
		cmocka_unit_test(test_bo_create_sizes),
		cmocka_unit_test(test_bo_create_userptr),
		cmocka_unit_test(test_bo_info),
		cmocka_unit_test(test_vm_bind),
		cmocka_unit_test(test_queues),
		cmocka_unit_test(test_submit_fields),
		cmocka_unit_test(test_submit_descriptors),
		cmocka_unit_test(test_reduce_capability),
		cmocka_unit_test(test_reduce_needs_cap),
		cmocka_unit_test(test_submit_reduce_descriptors),
		cmocka_unit_test(test_reduce_run),
		cmocka_unit_test(test_rreduce_loopback),
		cmocka_unit_test(test_prime_mmap),
		cmocka_unit_test(test_submit_extensions),
		cmocka_unit_test(test_priority_needs_cap),
		cmocka_unit_test(test_limits_query),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_banned),
	};

	return cmocka_run_group_tests_name("uapi", tests, setup, teardown);
}
