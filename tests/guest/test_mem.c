// SPDX-License-Identifier: MIT
/*
 * Buffer objects and the device VA space: BO_CREATE for each placement,
 * BO_INFO, mmap read/write, VM_BIND map/unmap, QUERY_MEMORY accounting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "lumen_dev.h"
#include "lumen/lumen_mmu.h"

#define MiB (1ull << 20)

struct ctx {
	int fd;
	uint32_t q;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->fd = ld_open(0);
	*state = c;
	if (c->fd < 0) {
		fprintf(stderr, "cannot open card 0: %s\n", strerror(-c->fd));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	close(c->fd);
	free(c);
	return 0;
}

/* A queue, created on first use (the BO tests need none). */
static uint32_t queue(struct ctx *c)
{
	if (!c->q) {
		uint32_t q = 0;

		assert_int_equal(ld_queue_create(c->fd, &q), 0);
		c->q = q + 1;
	}
	return c->q - 1;
}

static void *map_bo(int fd, uint32_t handle, uint64_t size)
{
	struct drm_lumen_bo_info info;
	void *p;

	assert_int_equal(ld_bo_info(fd, handle, &info), 0);
	assert_true(info.mmap_offset != 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.mmap_offset);
	assert_true(p != MAP_FAILED);
	return p;
}

static void check_one_placement(int fd, uint32_t flags, uint64_t size, uint32_t seed)
{
	uint64_t psize = (size + 4095) & ~4095ull, got = 0;
	struct drm_lumen_bo_info info;
	void *user = NULL;
	uint32_t h = 0;
	uint8_t *p;

	if (flags & DRM_LUMEN_BO_USERPTR) {
		user = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(user != MAP_FAILED);
		ld_pattern(user, psize, seed);
	}
	assert_int_equal(ld_bo_create(fd, size, flags, (uintptr_t)user, &h, &got), 0);
	assert_true(h != 0);
	assert_int_equal(got, psize);

	assert_int_equal(ld_bo_info(fd, h, &info), 0);
	assert_int_equal(info.handle, h);
	assert_int_equal(info.flags, flags);
	assert_int_equal(info.size, psize);
	assert_int_equal(info.reserved, 0);
	if (flags & DRM_LUMEN_BO_USERPTR) {
		assert_int_equal(info.mmap_offset, 0);
		/* The pinned pages are still the caller's: unchanged. */
		assert_int_equal(ld_check_pattern(user, psize, seed, 0), -1);
	} else {
		assert_true(info.mmap_offset != 0);
		assert_int_equal(info.mmap_offset & 4095, 0);
		p = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)info.mmap_offset);
		assert_true(p != MAP_FAILED);
		ld_pattern(p, psize, seed);
		assert_int_equal(ld_check_pattern(p, psize, seed, 0), -1);
		assert_int_equal(munmap(p, psize), 0);
		/* A second mapping sees what the first wrote. */
		p = mmap(NULL, psize, PROT_READ, MAP_SHARED, fd, (off_t)info.mmap_offset);
		assert_true(p != MAP_FAILED);
		assert_int_equal(ld_check_pattern(p, psize, seed, 0), -1);
		assert_int_equal(munmap(p, psize), 0);
	}
	assert_int_equal(ld_gem_close(fd, h), 0);
	assert_int_equal(ld_bo_info(fd, h, &info), -ENOENT);
	if (user)
		munmap(user, psize);
}

static void test_bo_placements(void **state)
{
	struct ctx *c = *state;
	static const uint32_t placements[] = {
		DRM_LUMEN_BO_DEVICE, DRM_LUMEN_BO_HOST, DRM_LUMEN_BO_USERPTR,
		DRM_LUMEN_BO_USERPTR | DRM_LUMEN_BO_READ_ONLY,
	};
	static const uint64_t sizes[] = { 1, 4096, 5000, 2 * MiB, 3 * MiB + 4096 };
	size_t i, j;

	for (i = 0; i < sizeof(placements) / sizeof(placements[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			/* USERPTR sizes must be page multiples (userptr page aligned
			 * and the whole range covered). */
			uint64_t size = sizes[j];

			if ((placements[i] & DRM_LUMEN_BO_USERPTR) && (size & 4095))
				size = (size + 4095) & ~4095ull;
			check_one_placement(c->fd, placements[i], size, (uint32_t)(i * 16 + j));
		}
}

/* Handles are per file and distinct; many BOs coexist. */
static void test_bo_many(void **state)
{
	struct ctx *c = *state;
	uint32_t h[64];
	int i, j;

	for (i = 0; i < 64; i++)
		assert_int_equal(ld_bo_create(c->fd, 4096, i & 1 ? DRM_LUMEN_BO_HOST :
					      DRM_LUMEN_BO_DEVICE, 0, &h[i], NULL), 0);
	for (i = 0; i < 64; i++)
		for (j = i + 1; j < 64; j++)
			assert_true(h[i] != h[j]);
	for (i = 0; i < 64; i++)
		assert_int_equal(ld_gem_close(c->fd, h[i]), 0);
	assert_int_equal(ld_gem_close(c->fd, h[0]), -EINVAL);
}

/* Map, use, unmap, map again at the same VA; partial ranges of a BO. */
static void test_vm_bind(void **state)
{
	struct ctx *c = *state;
	/* Not at the start of the user range: va - 4096 must be a user VA. */
	uint64_t va = ld_va_alloc(8 * MiB) + 2 * MiB, va2 = ld_va_alloc(8 * MiB);
	uint32_t h, bos[1];
	uint8_t *p;
	struct lumen_cmd cmd;

	assert_int_equal(ld_bo_create(c->fd, 4 * 4096, DRM_LUMEN_BO_HOST, 0, &h, NULL), 0);
	bos[0] = h;
	p = map_bo(c->fd, h, 4 * 4096);
	memset(p, 0, 4 * 4096);

	/* Pages 1..2 of the BO at va: FILL through the mapping hits them. */
	assert_int_equal(ld_vm_map(c->fd, h, va, 4096, 2 * 4096, 0), 0);
	cmd = ld_cmd_fill(va, 2 * 4096, 0x0706050403020100ull);
	assert_int_equal(ld_run1(c->fd, queue(c), &cmd, bos, 1), 0);
	for (int i = 0; i < 4 * 4096; i++) {
		uint8_t want = i >= 4096 && i < 3 * 4096 ? (uint8_t)(i % 8) : 0;

		if (p[i] != want)
			fail_msg("byte %d is 0x%02x, want 0x%02x", i, p[i], want);
	}
	/* Overlaps: same range, one page into it, straddling its start. */
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 4096, 0), -EEXIST);
	assert_int_equal(ld_vm_map(c->fd, h, va + 4096, 0, 4096, 0), -EEXIST);
	assert_int_equal(ld_vm_map(c->fd, h, va - 4096, 0, 2 * 4096, 0), -EEXIST);
	/* Adjacent is fine. */
	assert_int_equal(ld_vm_map(c->fd, h, va + 2 * 4096, 0, 4096, 0), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va + 2 * 4096, 4096), 0);

	/* The same BO may be mapped twice at different VAs. */
	assert_int_equal(ld_vm_map(c->fd, h, va2, 0, 4 * 4096, 0), 0);
	cmd = ld_cmd_copy(va2, va2 + 4096, 4096); /* page 0 = page 1 */
	assert_int_equal(ld_run1(c->fd, queue(c), &cmd, bos, 1), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(p[i], i % 8);

	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * 4096), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va2, 4 * 4096), 0);
	/* Remap at the same VA after an unmap. */
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 4 * 4096, 0), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 4 * 4096), 0);

	munmap(p, 4 * 4096);
	assert_int_equal(ld_gem_close(c->fd, h), 0);
}

/* A mapping keeps its BO alive after the handle is closed. */
static void test_mapping_holds_bo(void **state)
{
	struct ctx *c = *state;
	struct ld_buf src, dst;
	uint64_t va = ld_va_alloc(MiB);
	uint32_t h;
	struct lumen_cmd cmds[2];
	struct ld_job job = { .cmds = cmds, .num_cmds = 2 };
	uint32_t bos[2];

	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &src), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &dst), 0);
	ld_pattern(src.map, MiB, 77);
	memset(dst.map, 0, MiB);

	assert_int_equal(ld_bo_create(c->fd, MiB, DRM_LUMEN_BO_DEVICE, 0, &h, NULL), 0);
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, MiB, 0), 0);
	assert_int_equal(ld_gem_close(c->fd, h), 0);

	bos[0] = src.handle;
	bos[1] = dst.handle;
	job.bos = bos;
	job.num_bos = 2;
	cmds[0] = ld_cmd_copy(va, src.va, MiB);
	cmds[1] = ld_cmd_copy(dst.va, va, MiB);
	assert_int_equal(ld_run(c->fd, queue(c), &job), 0);
	assert_int_equal(ld_check_pattern(dst.map, MiB, 77, 0), -1);

	assert_int_equal(ld_vm_unmap(c->fd, va, MiB), 0);
	assert_int_equal(ld_buf_free(&src), 0);
	assert_int_equal(ld_buf_free(&dst), 0);
}

/* 2 MiB-aligned mappings (device pages of 2 MiB) and a 4 KiB-offset one of
 * the same BO address the same bytes. */
static void test_huge_mapping(void **state)
{
	struct ctx *c = *state;
	uint64_t va = ld_va_alloc(4 * MiB), va4k = ld_va_alloc(4 * MiB) + 4096;
	struct ld_buf out;
	uint32_t h, bos[2];
	struct lumen_cmd cmds[3];
	struct ld_job job = { .cmds = cmds, .num_cmds = 3, .bos = bos, .num_bos = 2 };
	uint8_t *p;

	assert_int_equal(ld_bo_create(c->fd, 4 * MiB, DRM_LUMEN_BO_DEVICE, 0, &h, NULL), 0);
	p = map_bo(c->fd, h, 4 * MiB);
	ld_pattern(p, 4 * MiB, 99);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 4 * MiB, &out), 0);
	memset(out.map, 0, 4 * MiB);
	bos[0] = h;
	bos[1] = out.handle;

	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 4 * MiB, 0), 0);
	assert_int_equal(ld_vm_map(c->fd, h, va4k, 2 * MiB, 2 * MiB, 0), 0);
	/* The last 2 MiB through the small-page view, the first through the
	 * huge-page view, and a span across the 2 MiB boundary. */
	cmds[0] = ld_cmd_copy(out.va + 2 * MiB, va4k, 2 * MiB);
	cmds[1] = ld_cmd_copy(out.va, va, 2 * MiB);
	cmds[2] = ld_cmd_copy(out.va + 2 * MiB - 100, va + 2 * MiB - 100, 200);
	assert_int_equal(ld_run(c->fd, queue(c), &job), 0);
	assert_int_equal(ld_check_pattern(out.map, 4 * MiB, 99, 0), -1);

	assert_int_equal(ld_vm_unmap(c->fd, va, 4 * MiB), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va4k, 2 * MiB), 0);
	munmap(p, 4 * MiB);
	assert_int_equal(ld_gem_close(c->fd, h), 0);
	assert_int_equal(ld_buf_free(&out), 0);
}

static void check_mem(const struct drm_lumen_memory_info *now,
		      const struct drm_lumen_memory_info *base,
		      uint64_t dev, uint64_t host, uint32_t count)
{
	assert_int_equal(now->total, base->total);
	assert_int_equal(now->ctx_device_bytes, base->ctx_device_bytes + dev);
	assert_int_equal(now->ctx_host_bytes, base->ctx_host_bytes + host);
	assert_int_equal(now->ctx_bo_count, base->ctx_bo_count + count);
	assert_true(now->free + dev <= base->free);
	assert_int_equal(now->pad, 0);
}

/* QUERY_MEMORY goes up with each BO and back down when they are freed. */
static void test_memory_accounting(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_memory_info base, mi, other;
	uint32_t hd, hh, hu;
	uint64_t mem_size = 0;
	void *user;
	int fd2;

	assert_int_equal(ld_get_param(c->fd, DRM_LUMEN_PARAM_MEM_SIZE, &mem_size), 0);
	assert_int_equal(ld_mem_info(c->fd, &base), 0);
	assert_true(base.total > 0 && base.total <= mem_size);
	assert_true(base.free <= base.total);

	assert_int_equal(ld_bo_create(c->fd, 8 * MiB, DRM_LUMEN_BO_DEVICE, 0, &hd, NULL), 0);
	assert_int_equal(ld_mem_info(c->fd, &mi), 0);
	check_mem(&mi, &base, 8 * MiB, 0, 1);

	assert_int_equal(ld_bo_create(c->fd, MiB, DRM_LUMEN_BO_HOST, 0, &hh, NULL), 0);
	assert_int_equal(ld_mem_info(c->fd, &mi), 0);
	check_mem(&mi, &base, 8 * MiB, MiB, 2);

	user = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(user != MAP_FAILED);
	assert_int_equal(ld_bo_create(c->fd, 64 * 1024, DRM_LUMEN_BO_USERPTR, (uintptr_t)user,
				      &hu, NULL), 0);
	assert_int_equal(ld_mem_info(c->fd, &mi), 0);
	check_mem(&mi, &base, 8 * MiB, MiB + 64 * 1024, 3);

	/* Another context sees the device memory gone but not our BOs. */
	fd2 = ld_open(0);
	assert_true(fd2 >= 0);
	assert_int_equal(ld_mem_info(fd2, &other), 0);
	assert_int_equal(other.ctx_device_bytes, 0);
	assert_int_equal(other.ctx_host_bytes, 0);
	assert_int_equal(other.ctx_bo_count, 0);
	assert_true(other.free + 8 * MiB <= base.free);
	close(fd2);

	assert_int_equal(ld_gem_close(c->fd, hd), 0);
	assert_int_equal(ld_gem_close(c->fd, hh), 0);
	assert_int_equal(ld_gem_close(c->fd, hu), 0);
	munmap(user, 64 * 1024);
	assert_int_equal(ld_mem_info(c->fd, &mi), 0);
	check_mem(&mi, &base, 0, 0, 0);
	assert_int_equal(mi.free, base.free);
}

/* Device memory runs out with -ENOSPC and comes back when freed. */
static void test_device_memory_exhaustion(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_memory_info base, mi;
	uint32_t h[64];
	int n = 0, ret = 0;

	assert_int_equal(ld_mem_info(c->fd, &base), 0);
	/* Larger than the whole device: no way. */
	assert_int_equal(ld_bo_create(c->fd, base.total + MiB, DRM_LUMEN_BO_DEVICE, 0, &h[0],
				      NULL), -ENOSPC);
	while (n < 64) {
		ret = ld_bo_create(c->fd, 16 * MiB, DRM_LUMEN_BO_DEVICE, 0, &h[n], NULL);
		if (ret)
			break;
		n++;
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true((uint64_t)n * 16 * MiB <= base.free);
	assert_true((uint64_t)(n + 1) * 16 * MiB > base.free);
	assert_int_equal(ld_mem_info(c->fd, &mi), 0);
	assert_true(mi.free < 16 * MiB);
	/* Host BOs do not use device memory: still fine. */
	assert_int_equal(ld_bo_create(c->fd, MiB, DRM_LUMEN_BO_HOST, 0, &h[n], NULL), 0);
	assert_int_equal(ld_gem_close(c->fd, h[n]), 0);
	while (n--)
		assert_int_equal(ld_gem_close(c->fd, h[n]), 0);
	assert_int_equal(ld_mem_info(c->fd, &mi), 0);
	assert_int_equal(mi.free, base.free);
	assert_int_equal(mi.ctx_bo_count, base.ctx_bo_count);
}

/* Closing the file frees everything it held (BOs, mappings, queues). */
static void test_close_frees(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_memory_info base, mi;
	int fd2, i;

	assert_int_equal(ld_mem_info(c->fd, &base), 0);
	for (int round = 0; round < 3; round++) {
		uint32_t q;

		fd2 = ld_open(0);
		assert_true(fd2 >= 0);
		for (i = 0; i < 4; i++) {
			struct ld_buf b;

			assert_int_equal(ld_buf_new(fd2, LD_DEVICE, 8 * MiB, &b), 0);
			/* leak the handle, mapping and CPU mapping on purpose */
			munmap(b.map, b.size);
		}
		assert_int_equal(ld_queue_create(fd2, &q), 0);
		assert_int_equal(ld_mem_info(c->fd, &mi), 0);
		assert_true(mi.free + 32 * MiB <= base.free);
		close(fd2);
		assert_int_equal(ld_mem_info(c->fd, &mi), 0);
		assert_int_equal(mi.free, base.free);
	}
}

/* A READ_ONLY mapping can be read by the device; a device write to it faults
 * the context (kind WRITE, write access, the VA). */
static void test_read_only_mapping(void **state)
{
	struct drm_lumen_context_status st;
	struct ld_buf out;
	uint32_t h, q, bos[2];
	uint64_t va = ld_va_alloc(MiB);
	struct lumen_cmd cmd;
	void *user;
	int fd;

	(void)state;
	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	user = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(user != MAP_FAILED);
	ld_pattern(user, MiB, 5);
	assert_int_equal(ld_bo_create(fd, MiB, DRM_LUMEN_BO_USERPTR | DRM_LUMEN_BO_READ_ONLY,
				      (uintptr_t)user, &h, NULL), 0);
	/* READ_ONLY is forced for a read-only user pointer. */
	assert_int_equal(ld_vm_map(fd, h, va, 0, MiB, 0), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &out), 0);
	bos[0] = h;
	bos[1] = out.handle;
	cmd = ld_cmd_copy(out.va, va, MiB);
	assert_int_equal(ld_run1(fd, q, &cmd, bos, 2), 0);
	assert_int_equal(ld_check_pattern(out.map, MiB, 5, 0), -1);

	cmd = ld_cmd_fill(va + 8192, 64, 0);
	assert_int_equal(ld_run1(fd, q, &cmd, bos, 2), -EFAULT);
	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_true(st.flags & DRM_LUMEN_CTX_FAULTED);
	assert_true(st.flags & DRM_LUMEN_CTX_BANNED);
	assert_int_equal(st.fault_kind, LUMEN_MMU_FAULT_WRITE);
	assert_int_equal(st.fault_access, 1);
	assert_int_equal(st.fault_addr, va + 8192);
	assert_int_equal(st.error, -EFAULT);
	/* The user's memory was not written. */
	assert_int_equal(ld_check_pattern(user, MiB, 5, 0), -1);
	close(fd);
	munmap(user, MiB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bo_placements),
		cmocka_unit_test(test_bo_many),
		cmocka_unit_test(test_vm_bind),
		cmocka_unit_test(test_mapping_holds_bo),
		cmocka_unit_test(test_huge_mapping),
		cmocka_unit_test(test_memory_accounting),
		cmocka_unit_test(test_device_memory_exhaustion),
		cmocka_unit_test(test_close_frees),
		cmocka_unit_test(test_read_only_mapping),
	};

	return cmocka_run_group_tests_name("mem", tests, setup, teardown);
}
