// SPDX-License-Identifier: MIT
/*
 * Remote windows and remote commands (uAPI 1.2, kmod/lumen_window.c and the
 * RWRITE/RREAD/RATOMIC checks of kmod/lumen_job.c).
 *
 * Without CAPS.LINKS (a device model without the link engine) only the
 * -EOPNOTSUPP paths run and every other test skips, saying so. With it:
 *   - QUERY_LINK against the card's other sources of the same facts;
 *   - WINDOW_OPEN / _CLOSE, a new key each time a slot is opened again,
 *     and each documented error: -EINVAL (flags, alignment, sizes, ranges,
 *     reserved), -EFAULT (unmapped, partly mapped, a gap, read-only for
 *     WRITE/ATOMIC, no context), -ENOSPC (the
 *     file's max_file_windows, the card's 256 slots), -ENOENT (closed
 *     twice, another file's window), -EBUSY (VM_BIND UNMAP under a window);
 *   - remote commands to this card's own chip id through its own windows
 *     (loopback), byte-exact for RWRITE and RREAD of several sizes and
 *     offsets, RATOMIC fetch-add and signal, into another file's context;
 *   - -EACCES for a wrong key, a closed window, a range past the window, a
 *     missing right, a closed file's window: the target is unchanged, the
 *     caller's context is not faulted or banned, the jobs behind run;
 *     no device error in the kernel log (any user can cause them);
 *     -EHOSTUNREACH for a chip no route leads to; -ETIMEDOUT for a request
 *     lost in a routing loop (two cards) with nobody to answer, also on a
 *     queue whose job timeout is far shorter than the card's end-to-end
 *     timeout (not a hang);
 *   - malformed remote commands: -EINVAL, nothing runs;
 *   - a device reset: new files' windows work, the old file's refuse
 *     and keep their slots until that file is closed;
 *   - with two cards on a ring fabric (tests/vm/run --cards 2 --fabric
 *     ring): routes both ways, then RWRITE/RREAD/RATOMIC between the cards.
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
#include <unistd.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "lumen/lumen_link.h"

#define MiB (1ull << 20)
#define PAGE 4096ull
#define BAD_PTR 0xffff800000001000ull
#define PARAM_MAX_WINDOWS "/sys/module/lumen/parameters/max_file_windows"
#define PARAM_JOB_TIMEOUT "/sys/module/lumen/parameters/job_timeout_ms"
#define RING_UP_NS (15ull * LD_SEC_NS)

struct ctx {
	int fd;			/* card 0 */
	uint32_t q;
	int links;		/* CAPS.LINKS */
	struct drm_lumen_link_info li;
};

static void skip_no_links(const struct ctx *c)
{
	if (!c->links) {
		printf("# the card has no link engine (CAPS.LINKS clear): skipped\n");
		skip();
	}
}

static int has_links(int fd)
{
	uint64_t caps = 0;

	if (ld_get_param(fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps))
		return -1;
	return !!(caps & DRM_LUMEN_CAP_LINKS);
}

static int query_link(int fd, struct drm_lumen_link_info *li)
{
	uint32_t size = sizeof(*li);

	memset(li, 0xa5, sizeof(*li));
	return ld_query(fd, DRM_LUMEN_QUERY_LINK, li, &size);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	c->fd = ld_open(0);
	if (c->fd < 0 || ld_queue_create(c->fd, &c->q))
		return -1;
	c->links = has_links(c->fd);
	if (c->links < 0)
		return -1;
	if (c->links && query_link(c->fd, &c->li))
		return -1;
	if (!c->links)
		printf("# CAPS.LINKS clear: only the -EOPNOTSUPP paths run\n");
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	close(c->fd);
	free(c);
	return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static int win_open(int fd, uint64_t va, uint64_t size, uint32_t flags, uint32_t *win,
		    uint64_t *key)
{
	struct drm_lumen_window_open a = { .va = va, .size = size, .flags = flags };
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, &a);

	if (!ret) {
		if (win)
			*win = a.window;
		if (key)
			*key = a.key;
	}
	return ret;
}

static int win_close(int fd, uint32_t win)
{
	struct drm_lumen_window_close a = { .window = win };

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_WINDOW_CLOSE, &a);
}

static struct lumen_cmd cmd_remote(uint8_t op, uint64_t local, uint64_t offset, uint64_t size,
				   uint32_t chip, uint32_t win, uint64_t key)
{
	struct lumen_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = op;
	c.u.remote.local = lumen_cpu_to_le64(local);
	c.u.remote.offset = lumen_cpu_to_le64(offset);
	c.u.remote.size = lumen_cpu_to_le64(size);
	c.u.remote.dst_chip = lumen_cpu_to_le32(chip);
	c.u.remote.window = lumen_cpu_to_le32(win);
	c.u.remote.key = lumen_cpu_to_le64(key);
	return c;
}

static struct lumen_cmd cmd_ratomic(uint32_t op, uint64_t result, uint64_t offset,
				    uint64_t operand, uint32_t chip, uint32_t win, uint64_t key)
{
	struct lumen_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = LUMEN_CMD_RATOMIC;
	c.u.ratomic.result = lumen_cpu_to_le64(result);
	c.u.ratomic.offset = lumen_cpu_to_le64(offset);
	c.u.ratomic.operand = lumen_cpu_to_le64(operand);
	c.u.ratomic.dst_chip = lumen_cpu_to_le32(chip);
	c.u.ratomic.window = lumen_cpu_to_le32(win);
	c.u.ratomic.key = lumen_cpu_to_le64(key);
	c.u.ratomic.op = lumen_cpu_to_le32(op);
	return c;
}

/* One command as a job on queue q of fd: its status. */
static int run1(int fd, uint32_t q, struct lumen_cmd cmd)
{
	return ld_run1(fd, q, &cmd, NULL, 0);
}

static void assert_ctx_clean(int fd)
{
	struct drm_lumen_context_status st;

	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_int_equal(st.flags, 0);
	assert_int_equal(st.error, 0);
	assert_int_equal(st.faults, 0);
}

static int read_param(const char *path, char *buf, size_t len)
{
	return gu_read_sysfs(path, buf, len);
}

/* ---- without the link engine ------------------------------------------------ */

static void test_no_links(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_link_info li;
	struct ld_buf b;
	char pci[32], path[160], buf[32];
	const uint8_t ops[] = { LUMEN_CMD_RWRITE, LUMEN_CMD_RREAD, LUMEN_CMD_RATOMIC };

	if (c->links) {
		printf("# the card has the link engine: its -EOPNOTSUPP paths do not apply\n");
		skip();
	}
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &b), 0);
	assert_int_equal(win_open(c->fd, b.va, PAGE, DRM_LUMEN_WINDOW_READ, NULL, NULL),
			 -EOPNOTSUPP);
	assert_int_equal(win_close(c->fd, 0), -EOPNOTSUPP);
	assert_int_equal(query_link(c->fd, &li), -EOPNOTSUPP);
	/* Well-formed remote commands, alone or behind a good one. */
	for (size_t i = 0; i < sizeof(ops); i++) {
		struct lumen_cmd cmd = ops[i] == LUMEN_CMD_RATOMIC ?
			cmd_ratomic(0, b.va, 0, 1, 0, 0, 0) :
			cmd_remote(ops[i], b.va, 0, 64, 0, 0, 0);
		struct lumen_cmd job[2] = { ld_cmd_fill(b.va, 64, 0x11), cmd };
		struct ld_job j = { .cmds = job, .num_cmds = 2 };
		uint64_t seq;

		assert_int_equal(run1(c->fd, c->q, cmd), -EOPNOTSUPP);
		assert_int_equal(ld_submit(c->fd, c->q, &j, &seq), -EOPNOTSUPP);
	}
	/* The link engine's sysfs files are not there either. */
	assert_int_equal(ld_card_pci(0, pci, sizeof(pci)), 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/fwd_pkts", pci);
	assert_int_not_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port0/naks_rx", pci);
	assert_int_not_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
	/* The queue still works and the context is clean. */
	assert_int_equal(run1(c->fd, c->q, ld_cmd_fill(b.va, 64, 0x2222222222222222ull)), 0);
	assert_int_equal(b.map[63], 0x22);
	assert_ctx_clean(c->fd);
	assert_int_equal(ld_buf_free(&b), 0);
}

/* ---- QUERY_LINK ------------------------------------------------------------- */

static void test_query_link(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_link_info li;
	uint64_t ports, chip;
	uint32_t size = 0;
	char buf[32], pci[32], path[160];

	skip_no_links(c);
	assert_int_equal(query_link(c->fd, &li), 0);
	assert_int_equal(ld_get_param(c->fd, DRM_LUMEN_PARAM_NUM_LINK_PORTS, &ports), 0);
	assert_int_equal(ld_get_param(c->fd, DRM_LUMEN_PARAM_CHIP_ID, &chip), 0);
	assert_int_equal(li.chip_id, chip);
	assert_int_equal(li.num_ports, ports);
	assert_int_equal(li.num_windows, LUMEN_NUM_WINDOWS);
	assert_int_equal(li.route_table_size, DRM_LUMEN_MAX_CHIPS);
	assert_int_equal(read_param(PARAM_MAX_WINDOWS, buf, sizeof(buf)), 0);
	assert_int_equal(li.max_file_windows, strtoul(buf, NULL, 10));
	assert_int_equal(li.ports_up & ~((1u << li.num_ports) - 1), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(li.reserved[i], 0);
	/* Size only. */
	assert_int_equal(ld_query(c->fd, DRM_LUMEN_QUERY_LINK, NULL, &size), 0);
	assert_int_equal(size, sizeof(li));
	/* The same chip id in sysfs, without opening the device. */
	assert_int_equal(ld_card_pci(0, pci, sizeof(pci)), 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/chip_id", pci);
	assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
	assert_int_equal(strtoul(buf, NULL, 10), li.chip_id);
	/* ports_up matches the ports' state files. */
	for (uint32_t p = 0; p < li.num_ports; p++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%u/state", pci, p);
		assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
		if (strcmp(buf, "training"))	/* may change under us */
			assert_int_equal(!!(li.ports_up & (1u << p)), !strcmp(buf, "up"));
	}
}

/* ---- WINDOW_OPEN / _CLOSE ----------------------------------------------------- */

static void test_window_open_close(void **state)
{
	struct ctx *c = *state;
	struct ld_buf b;
	uint32_t w1 = 0, w2 = 0;
	uint64_t k1 = 0, k2 = 0;
	int fd2;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &b), 0);
	assert_int_equal(win_open(c->fd, b.va, MiB, DRM_LUMEN_WINDOW_READ | DRM_LUMEN_WINDOW_WRITE |
				  DRM_LUMEN_WINDOW_ATOMIC, &w1, &k1), 0);
	assert_true(w1 < c->li.num_windows);
	/* A second window over part of the same range: another slot and key. */
	assert_int_equal(win_open(c->fd, b.va + PAGE, PAGE, DRM_LUMEN_WINDOW_READ, &w2, &k2), 0);
	assert_int_not_equal(w1, w2);
	assert_true(k1 != k2);
	/* Another file cannot close them. */
	fd2 = ld_open(0);
	assert_true(fd2 >= 0);
	assert_int_equal(win_close(fd2, w1), -ENOENT);
	assert_int_equal(win_close(c->fd, w1), 0);
	assert_int_equal(win_close(c->fd, w1), -ENOENT);	/* twice */
	assert_int_equal(win_close(c->fd, w2), 0);
	assert_int_equal(win_close(c->fd, 1000), -ENOENT);
	/* Reserved field of CLOSE. */
	{
		struct drm_lumen_window_close a = { .window = w1, .reserved = 1 };

		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WINDOW_CLOSE, &a), -EINVAL);
	}
	/* Outputs need not be zero on input. */
	{
		struct drm_lumen_window_open a = {
			.va = b.va, .size = PAGE, .flags = DRM_LUMEN_WINDOW_READ,
			.window = 77, .key = ~0ull,
		};

		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, &a), 0);
		assert_int_equal(win_close(c->fd, a.window), 0);
	}
	/*
	 * The key is what guards the window: a slot opened again gets a new,
	 * unpredictable one (the slot is the lowest free, so the same each time).
	 */
	{
		uint64_t keys[8], high = 0;
		uint32_t first = 0, again = 0;

		for (int i = 0; i < 8; i++) {
			assert_int_equal(win_open(c->fd, b.va, PAGE, DRM_LUMEN_WINDOW_READ, &again,
						  &keys[i]), 0);
			if (!i)
				first = again;
			assert_int_equal(again, first);
			for (int j = 0; j < i; j++)
				assert_true(keys[j] != keys[i]);
			high |= keys[i] >> 32;
			assert_int_equal(win_close(c->fd, again), 0);
		}
		assert_true(high != 0);
	}
	/* Unreadable argument. */
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, (void *)BAD_PTR), -EFAULT);
	close(fd2);
	assert_int_equal(ld_buf_free(&b), 0);
}

static void test_window_einval(void **state)
{
	struct ctx *c = *state;
	const uint32_t rw = DRM_LUMEN_WINDOW_READ | DRM_LUMEN_WINDOW_WRITE;
	struct ld_buf b;
	struct {
		const char *what;
		struct drm_lumen_window_open a;
	} cases[16];
	int n = 0;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &b), 0);
#define CASE(w, ...) do {							\
		cases[n].what = (w);						\
		cases[n++].a = (struct drm_lumen_window_open){ __VA_ARGS__ };	\
	} while (0)
	CASE("no rights", .va = b.va, .size = PAGE, .flags = 0);
	CASE("unknown flag", .va = b.va, .size = PAGE, .flags = rw | 8);
	CASE("flag bit 31", .va = b.va, .size = PAGE, .flags = rw | 1u << 31);
	CASE("va + 1", .va = b.va + 1, .size = PAGE, .flags = rw);
	CASE("va + 2048", .va = b.va + 2048, .size = PAGE, .flags = rw);
	CASE("size 0", .va = b.va, .size = 0, .flags = rw);
	CASE("size 100", .va = b.va, .size = 100, .flags = rw);
	CASE("size page + 1", .va = b.va, .size = PAGE + 1, .flags = rw);
	CASE("kernel va", .va = 0x100000, .size = PAGE, .flags = rw);
	CASE("va 0", .va = 0, .size = PAGE, .flags = rw);
	CASE("end past the user range", .va = DRM_LUMEN_VA_USER_END - PAGE, .size = 2 * PAGE,
	     .flags = rw);
	CASE("va + size overflows", .va = b.va, .size = -PAGE, .flags = rw);
	CASE("va at user end", .va = DRM_LUMEN_VA_USER_END, .size = PAGE, .flags = rw);
	CASE("reserved", .va = b.va, .size = PAGE, .flags = rw, .reserved = 1);
#undef CASE
	for (int i = 0; i < n; i++) {
		int ret = ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, &cases[i].a);

		if (ret != -EINVAL)
			fail_msg("WINDOW_OPEN '%s': %d, want -EINVAL", cases[i].what, ret);
	}
	assert_int_equal(ld_buf_free(&b), 0);
}

static void test_window_efault(void **state)
{
	struct ctx *c = *state;
	const uint32_t rd = DRM_LUMEN_WINDOW_READ;
	uint32_t h = 0, w = 0;
	uint64_t va;
	struct ld_buf b;
	int fd2;

	skip_no_links(c);
	/* A file without a device context has nothing mapped. */
	fd2 = ld_open(0);
	assert_true(fd2 >= 0);
	assert_int_equal(win_open(fd2, DRM_LUMEN_VA_USER_START, PAGE, rd, NULL, NULL), -EFAULT);
	close(fd2);

	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 64 * 1024, &b), 0);
	/* Unmapped: the guard hole after the buffer, and far away. */
	assert_int_equal(win_open(c->fd, b.va + MiB, PAGE, rd, NULL, NULL), -EFAULT);
	assert_int_equal(win_open(c->fd, DRM_LUMEN_VA_USER_END - PAGE, PAGE, rd, NULL, NULL),
			 -EFAULT);
	/* Partly mapped: running past the end, starting before it. */
	assert_int_equal(win_open(c->fd, b.va, 64 * 1024 + PAGE, rd, NULL, NULL), -EFAULT);
	assert_int_equal(win_open(c->fd, b.va - PAGE, 2 * PAGE, rd, NULL, NULL), -EFAULT);

	/* Two mappings with a one-page gap between them. */
	assert_int_equal(ld_bo_create(c->fd, 4 * PAGE, DRM_LUMEN_BO_HOST, 0, &h, NULL), 0);
	va = ld_va_alloc(8 * PAGE);
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 2 * PAGE, 0), 0);
	assert_int_equal(ld_vm_map(c->fd, h, va + 3 * PAGE, 2 * PAGE, 2 * PAGE, 0), 0);
	assert_int_equal(win_open(c->fd, va, 5 * PAGE, rd, NULL, NULL), -EFAULT);
	assert_int_equal(win_open(c->fd, va + PAGE, 3 * PAGE, rd, NULL, NULL), -EFAULT);
	/* Each side alone is fine; so are two adjacent mappings (below). */
	assert_int_equal(win_open(c->fd, va, 2 * PAGE, rd, &w, NULL), 0);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * PAGE), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va + 3 * PAGE, 2 * PAGE), 0);

	/* Read-only mapping: READ yes, WRITE and ATOMIC no. */
	va = ld_va_alloc(2 * PAGE);
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 2 * PAGE, DRM_LUMEN_VM_READ_ONLY), 0);
	assert_int_equal(win_open(c->fd, va, 2 * PAGE, DRM_LUMEN_WINDOW_WRITE, NULL, NULL),
			 -EFAULT);
	assert_int_equal(win_open(c->fd, va, 2 * PAGE, DRM_LUMEN_WINDOW_ATOMIC | rd, NULL, NULL),
			 -EFAULT);
	assert_int_equal(win_open(c->fd, va, 2 * PAGE, rd, &w, NULL), 0);
	assert_int_equal(win_close(c->fd, w), 0);
	/* A window over a writable and a read-only mapping, side by side. */
	assert_int_equal(ld_vm_map(c->fd, h, va + 2 * PAGE, 2 * PAGE, 2 * PAGE, 0), 0);
	assert_int_equal(win_open(c->fd, va, 4 * PAGE, DRM_LUMEN_WINDOW_WRITE, NULL, NULL),
			 -EFAULT);
	assert_int_equal(win_open(c->fd, va, 4 * PAGE, rd, &w, NULL), 0);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_int_equal(win_open(c->fd, va + 2 * PAGE, 2 * PAGE, DRM_LUMEN_WINDOW_WRITE, &w,
				  NULL), 0);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * PAGE), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va + 2 * PAGE, 2 * PAGE), 0);
	assert_int_equal(ld_gem_close(c->fd, h), 0);
	assert_int_equal(ld_buf_free(&b), 0);
}

static void test_window_enospc(void **state)
{
	struct ctx *c = *state;
	uint32_t *wins, max = c->li.max_file_windows, n = 0, w = 0;
	char old[32];
	struct ld_buf b;
	int ret, fd2;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 64 * 1024, &b), 0);
	wins = calloc(LUMEN_NUM_WINDOWS + 1, sizeof(*wins));
	assert_non_null(wins);
	/* The file's limit. */
	for (n = 0; n < max; n++)
		assert_int_equal(win_open(c->fd, b.va, PAGE, DRM_LUMEN_WINDOW_READ, &wins[n], NULL),
				 0);
	assert_int_equal(win_open(c->fd, b.va, PAGE, DRM_LUMEN_WINDOW_READ, NULL, NULL), -ENOSPC);
	/* Another file has its own. */
	fd2 = ld_open(0);
	assert_true(fd2 >= 0);
	{
		struct ld_buf b2;

		assert_int_equal(ld_buf_new(fd2, LD_HOST, PAGE, &b2), 0);
		assert_int_equal(win_open(fd2, b2.va, PAGE, DRM_LUMEN_WINDOW_READ, &w, NULL), 0);
		assert_int_equal(win_close(fd2, w), 0);
		assert_int_equal(ld_buf_free(&b2), 0);
	}
	close(fd2);
	/* Closing one makes room again. */
	assert_int_equal(win_close(c->fd, wins[0]), 0);
	assert_int_equal(win_open(c->fd, b.va, PAGE, DRM_LUMEN_WINDOW_READ, &wins[0], NULL), 0);

	/* The card's slots: lift the file's limit, fill the card. */
	assert_int_equal(read_param(PARAM_MAX_WINDOWS, old, sizeof(old)), 0);
	assert_int_equal(gu_write_sysfs(PARAM_MAX_WINDOWS, "100000"), 0);
	for (;;) {
		ret = win_open(c->fd, b.va, PAGE, DRM_LUMEN_WINDOW_READ, &w, NULL);
		if (ret)
			break;
		assert_true(n < LUMEN_NUM_WINDOWS);
		wins[n++] = w;
	}
	assert_int_equal(ret, -ENOSPC);
	printf("# %u windows open when the card said -ENOSPC\n", n);
	assert_int_equal(n, c->li.num_windows);
	assert_int_equal(gu_write_sysfs(PARAM_MAX_WINDOWS, old), 0);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(win_close(c->fd, wins[i]), 0);
	free(wins);
	assert_int_equal(ld_buf_free(&b), 0);
}

static void test_window_ebusy(void **state)
{
	struct ctx *c = *state;
	uint32_t h = 0, w = 0;
	uint64_t va;

	skip_no_links(c);
	/* A window across two adjacent mappings. */
	assert_int_equal(ld_bo_create(c->fd, 4 * PAGE, DRM_LUMEN_BO_HOST, 0, &h, NULL), 0);
	va = ld_va_alloc(4 * PAGE);
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 2 * PAGE, 0), 0);
	assert_int_equal(ld_vm_map(c->fd, h, va + 2 * PAGE, 2 * PAGE, 2 * PAGE, 0), 0);
	assert_int_equal(win_open(c->fd, va + PAGE, 2 * PAGE, DRM_LUMEN_WINDOW_WRITE, &w, NULL), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * PAGE), -EBUSY);
	assert_int_equal(ld_vm_unmap(c->fd, va + 2 * PAGE, 2 * PAGE), -EBUSY);
	/* The mapping is still there: a job writes it. */
	assert_int_equal(run1(c->fd, c->q, ld_cmd_fill(va, 4 * PAGE, 1)), 0);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * PAGE), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va + 2 * PAGE, 2 * PAGE), 0);
	/* A window on one mapping leaves its neighbour free. */
	assert_int_equal(ld_vm_map(c->fd, h, va, 0, 2 * PAGE, 0), 0);
	assert_int_equal(ld_vm_map(c->fd, h, va + 2 * PAGE, 2 * PAGE, 2 * PAGE, 0), 0);
	assert_int_equal(win_open(c->fd, va, 2 * PAGE, DRM_LUMEN_WINDOW_READ, &w, NULL), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va + 2 * PAGE, 2 * PAGE), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * PAGE), -EBUSY);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_int_equal(ld_vm_unmap(c->fd, va, 2 * PAGE), 0);
	assert_int_equal(ld_gem_close(c->fd, h), 0);
	assert_ctx_clean(c->fd);
}

/* ---- loopback ------------------------------------------------------------------- */

/* RWRITE src -> window at off, then RREAD it back into dst; byte-exact. */
static void loop_write_read(struct ctx *c, int tfd, struct ld_buf *src, struct ld_buf *tgt,
			    struct ld_buf *dst, uint32_t w, uint64_t key, uint64_t off,
			    uint64_t size, uint32_t seed)
{
	long bad;

	ld_pattern(src->map, size, seed);
	memset(tgt->map, 0x5a, tgt->size);
	memset(dst->map, 0, size);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, src->va, off, size,
						      c->li.chip_id, w, key)), 0);
	bad = ld_check_pattern(tgt->map + off, size, seed, 0);
	if (bad >= 0)
		fail_msg("RWRITE of %llu bytes at %llu: byte %ld differs",
			 (unsigned long long)size, (unsigned long long)off, bad);
	/* Nothing around it was touched. */
	for (uint64_t i = 0; i < off; i++)
		assert_int_equal(tgt->map[i], 0x5a);
	if (off + size < tgt->size)
		assert_int_equal(tgt->map[off + size], 0x5a);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RREAD, dst->va, off, size,
						      c->li.chip_id, w, key)), 0);
	bad = ld_check_pattern(dst->map, size, seed, 0);
	if (bad >= 0)
		fail_msg("RREAD of %llu bytes at %llu: byte %ld differs",
			 (unsigned long long)size, (unsigned long long)off, bad);
	(void)tfd;
}

static void test_loopback_write_read(void **state)
{
	struct ctx *c = *state;
	const uint64_t sizes[] = { 1, 8, 4095, 4096, 4097, 3 * 4096 + 17, 256 * 1024 + 3, MiB };
	struct ld_buf src, tgt, dst;
	uint32_t w = 0;
	uint64_t key = 0;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &src), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_DEVICE, 2 * MiB, &tgt), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &dst), 0);
	assert_int_equal(win_open(c->fd, tgt.va, tgt.size, DRM_LUMEN_WINDOW_READ |
				  DRM_LUMEN_WINDOW_WRITE, &w, &key), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		loop_write_read(c, c->fd, &src, &tgt, &dst, w, key, 0, sizes[i], 100 + i);
		loop_write_read(c, c->fd, &src, &tgt, &dst, w, key, 4096 + 5, sizes[i], 200 + i);
	}
	/* The last byte of the window. */
	loop_write_read(c, c->fd, &src, &tgt, &dst, w, key, tgt.size - 1, 1, 7);
	/* Size 0 does nothing and succeeds. */
	memset(tgt.map, 0x5a, 16);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 0,
						      c->li.chip_id, w, key)), 0);
	assert_int_equal(tgt.map[0], 0x5a);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_ctx_clean(c->fd);
	assert_int_equal(ld_buf_free(&src), 0);
	assert_int_equal(ld_buf_free(&tgt), 0);
	assert_int_equal(ld_buf_free(&dst), 0);
}

static void test_loopback_atomic(void **state)
{
	struct ctx *c = *state;
	struct ld_buf tgt, res;
	volatile uint64_t *word, *result;
	uint32_t w = 0;
	uint64_t key = 0;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, PAGE, &tgt), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, PAGE, &res), 0);
	assert_int_equal(win_open(c->fd, tgt.va, PAGE, DRM_LUMEN_WINDOW_ATOMIC, &w, &key), 0);
	word = (volatile uint64_t *)(tgt.map + 64);
	result = (volatile uint64_t *)(res.map + 8);
	*word = 100;
	*result = 0;
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_FETCH_ADD, res.va + 8, 64, 23,
						       c->li.chip_id, w, key)), 0);
	assert_int_equal(*result, 100);
	assert_int_equal(*word, 123);
	/* Wrapping add. */
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_FETCH_ADD, res.va + 8, 64,
						       ~0ull, c->li.chip_id, w, key)), 0);
	assert_int_equal(*result, 123);
	assert_int_equal(*word, 122);
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_SIGNAL, res.va + 8, 64,
						       0xfeedULL << 32, c->li.chip_id, w, key)), 0);
	assert_int_equal(*result, 122);
	assert_int_equal(*word, 0xfeedULL << 32);
	/* No result address. */
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_FETCH_ADD, 0, 64, 1,
						       c->li.chip_id, w, key)), 0);
	assert_int_equal(*word, (0xfeedULL << 32) + 1);
	/* The last word of the window. */
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_SIGNAL, 0, PAGE - 8, 9,
						       c->li.chip_id, w, key)), 0);
	assert_int_equal(*(volatile uint64_t *)(tgt.map + PAGE - 8), 9);
	/* ATOMIC alone does not let RWRITE in. */
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, res.va, 0, 8,
						      c->li.chip_id, w, key)), -EACCES);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_ctx_clean(c->fd);
	assert_int_equal(ld_buf_free(&tgt), 0);
	assert_int_equal(ld_buf_free(&res), 0);
}

/* Through another file's window: that file's context, its memory. */
static void test_loopback_other_context(void **state)
{
	struct ctx *c = *state;
	struct ld_buf src, tgt;
	uint32_t w = 0;
	uint64_t key = 0;
	int fd2;

	skip_no_links(c);
	fd2 = ld_open(0);
	assert_true(fd2 >= 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 64 * 1024, &src), 0);
	assert_int_equal(ld_buf_new(fd2, LD_HOST, 64 * 1024, &tgt), 0);
	assert_int_equal(win_open(fd2, tgt.va, tgt.size, DRM_LUMEN_WINDOW_WRITE, &w, &key), 0);
	ld_pattern(src.map, 64 * 1024, 42);
	memset(tgt.map, 0, tgt.size);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 64 * 1024,
						      c->li.chip_id, w, key)), 0);
	assert_int_equal(ld_check_pattern(tgt.map, 64 * 1024, 42, 0), -1);
	/* Its file closes: the window goes with it. */
	assert_int_equal(ld_buf_free(&tgt), -EBUSY);	/* unmap refused under the window */
	close(fd2);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 8,
						      c->li.chip_id, w, key)), -EACCES);
	assert_ctx_clean(c->fd);
	free(tgt.user);
	assert_int_equal(ld_buf_free(&src), 0);
}

/* ---- refusals ------------------------------------------------------------------ */

static void test_remote_eacces(void **state)
{
	struct ctx *c = *state;
	struct ld_buf src, tgt, dst;
	uint32_t w = 0, wr = 0, wclosed = 0;
	uint64_t key = 0, keyr = 0, keyc = 0, seq[3] = { 0 };
	int32_t st;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 64 * 1024, &src), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 64 * 1024, &tgt), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 64 * 1024, &dst), 0);
	assert_int_equal(win_open(c->fd, tgt.va, 32 * 1024, DRM_LUMEN_WINDOW_WRITE, &w, &key), 0);
	assert_int_equal(win_open(c->fd, tgt.va, 32 * 1024, DRM_LUMEN_WINDOW_READ, &wr, &keyr), 0);
	assert_int_equal(win_open(c->fd, tgt.va, 32 * 1024, DRM_LUMEN_WINDOW_WRITE, &wclosed,
				  &keyc), 0);
	assert_int_equal(win_close(c->fd, wclosed), 0);
	ld_pattern(src.map, 64 * 1024, 3);
	memset(tgt.map, 0x77, tgt.size);
	memset(dst.map, 0x66, dst.size);

	struct {
		const char *what;
		struct lumen_cmd cmd;
	} cases[] = {
		{ "wrong key", cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 4096, c->li.chip_id, w,
					  key ^ 1) },
		{ "another window's key", cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 4096,
						     c->li.chip_id, w, keyr) },
		{ "closed window", cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 4096, c->li.chip_id,
					      wclosed, keyc) },
		{ "never opened", cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 4096, c->li.chip_id,
					     LUMEN_NUM_WINDOWS - 1, key) },
		{ "past the end", cmd_remote(LUMEN_CMD_RWRITE, src.va, 32 * 1024 - 4095, 4096,
					     c->li.chip_id, w, key) },
		{ "offset past the end", cmd_remote(LUMEN_CMD_RWRITE, src.va, 32 * 1024, 1,
						    c->li.chip_id, w, key) },
		{ "multi-packet, last one past", cmd_remote(LUMEN_CMD_RWRITE, src.va, 0,
							    32 * 1024 + 1, c->li.chip_id, w,
							    key) },
		{ "RWRITE into a READ window", cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 64,
							  c->li.chip_id, wr, keyr) },
		{ "RREAD from a WRITE window", cmd_remote(LUMEN_CMD_RREAD, dst.va, 0, 64,
							  c->li.chip_id, w, key) },
		{ "RREAD, wrong key", cmd_remote(LUMEN_CMD_RREAD, dst.va, 0, 64, c->li.chip_id,
						 wr, keyr + 1) },
		{ "RATOMIC without ATOMIC", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, dst.va, 0, 1,
							c->li.chip_id, w, key) },
	};

	gu_log_mark();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = run1(c->fd, c->q, cases[i].cmd);

		if (ret != -EACCES)
			fail_msg("'%s': job status %d (%s), want -EACCES", cases[i].what, ret,
				 strerror(-ret));
		for (uint64_t b = 0; b < tgt.size; b++)
			if (tgt.map[b] != 0x77)
				fail_msg("'%s': target byte %llu written", cases[i].what,
					 (unsigned long long)b);
	}
	/* RREAD refused: the local side stays as it was. */
	for (uint64_t b = 0; b < 64; b++)
		assert_int_equal(dst.map[b], 0x66);
	/* Not the caller's bug: no fault, no ban, and no device error logged. */
	assert_ctx_clean(c->fd);
	usleep(50 * 1000);
	if (gu_log_contains("device error"))
		fail_msg("a refused remote command logged a device error");

	/*
	 * Jobs behind a refused one run; the refused job's own later commands
	 * do not. Three jobs submitted back to back: good, refused, good.
	 */
	{
		struct lumen_cmd j0 = ld_cmd_fill(dst.va, 8, 0x1111111111111111ull);
		struct lumen_cmd j1[2] = {
			cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 64, c->li.chip_id, w, key + 5),
			ld_cmd_fill(dst.va + 8, 8, 0x2222222222222222ull),
		};
		struct lumen_cmd j2[2] = {
			ld_cmd_fill(dst.va + 16, 8, 0x3333333333333333ull),
			cmd_remote(LUMEN_CMD_RWRITE, src.va, 128, 64, c->li.chip_id, w, key),
		};
		struct ld_job jobs[3] = {
			{ .cmds = &j0, .num_cmds = 1 },
			{ .cmds = j1, .num_cmds = 2 },
			{ .cmds = j2, .num_cmds = 2 },
		};

		for (int i = 0; i < 3; i++)
			assert_int_equal(ld_submit(c->fd, c->q, &jobs[i], &seq[i]), 0);
		assert_int_equal(ld_wait(c->fd, c->q, seq[0], LD_WAIT_NS, &st), 0);
		assert_int_equal(st, 0);
		assert_int_equal(ld_wait(c->fd, c->q, seq[1], LD_WAIT_NS, &st), 0);
		assert_int_equal(st, -EACCES);
		assert_int_equal(ld_wait(c->fd, c->q, seq[2], LD_WAIT_NS, &st), 0);
		assert_int_equal(st, 0);
		assert_int_equal(dst.map[0], 0x11);
		assert_int_equal(dst.map[8], 0x66);	/* after the refusal: not run */
		assert_int_equal(dst.map[16], 0x33);
		assert_int_equal(ld_check_pattern(tgt.map + 128, 64, 3, 0), -1);
	}
	assert_ctx_clean(c->fd);
	assert_int_equal(win_close(c->fd, w), 0);
	assert_int_equal(win_close(c->fd, wr), 0);
	assert_int_equal(ld_buf_free(&src), 0);
	assert_int_equal(ld_buf_free(&tgt), 0);
	assert_int_equal(ld_buf_free(&dst), 0);
}

/* The highest chip id this card has no route to (routes start empty). */
static uint32_t unrouted_chip(int fd, uint32_t self)
{
	struct drm_lumen_route r = { .op = DRM_LUMEN_ROUTE_GET, .count = 1 };
	uint32_t word = 0;

	for (uint32_t chip = DRM_LUMEN_MAX_CHIPS - 1; chip > 0; chip--) {
		if (chip == self)
			continue;
		r.first = chip;
		r.words = (uintptr_t)&word;
		if (ld_ioctl(fd, DRM_IOCTL_LUMEN_ROUTE, &r) || !(word & LUMEN_ROUTE_W_VALID))
			return chip;
	}
	return 0;
}

static void test_remote_unreachable(void **state)
{
	struct ctx *c = *state;
	struct ld_buf b;
	uint32_t chip;

	skip_no_links(c);
	chip = unrouted_chip(c->fd, c->li.chip_id);
	assert_int_not_equal(chip, c->li.chip_id);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, PAGE, &b), 0);
	memset(b.map, 0x44, PAGE);
	gu_log_mark();
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, b.va, 0, 64, chip, 0, 1)),
			 -EHOSTUNREACH);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RREAD, b.va, 0, 64, chip, 0, 1)),
			 -EHOSTUNREACH);
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_FETCH_ADD, b.va, 0, 1, chip,
						       0, 1)), -EHOSTUNREACH);
	assert_int_equal(b.map[0], 0x44);
	assert_ctx_clean(c->fd);
	usleep(50 * 1000);
	if (gu_log_contains("device error"))
		fail_msg("an unreachable chip logged a device error");
	assert_int_equal(run1(c->fd, c->q, ld_cmd_fill(b.va, 8, 0)), 0);
	assert_int_equal(ld_buf_free(&b), 0);
}

/* ---- malformed remote commands -------------------------------------------------- */

static void test_remote_einval(void **state)
{
	struct ctx *c = *state;
	struct ld_buf b;
	uint64_t v;
	uint32_t me;
	struct {
		const char *what;
		struct lumen_cmd cmd;
	} cases[32];
	int n = 0, dbg;

	skip_no_links(c);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, PAGE, &b), 0);
	v = b.va;
	me = c->li.chip_id;
#define ADD(w, e) do { cases[n].what = (w); cases[n++].cmd = (e); } while (0)
#define MOD(w, e, f, val) do {						\
		struct lumen_cmd _c = (e);				\
		_c.f = (val);						\
		ADD(w, _c);						\
	} while (0)
	ADD("size over max", cmd_remote(LUMEN_CMD_RWRITE, v, 0, DRM_LUMEN_CMD_REMOTE_MAX_BYTES + 1,
					me, 0, 0));
	ADD("size ~0", cmd_remote(LUMEN_CMD_RREAD, v, 0, ~0ull, me, 0, 0));
	ADD("dst_chip 8192", cmd_remote(LUMEN_CMD_RWRITE, v, 0, 8, DRM_LUMEN_MAX_CHIPS, 0, 0));
	ADD("dst_chip ~0", cmd_remote(LUMEN_CMD_RREAD, v, 0, 8, ~0u, 0, 0));
	ADD("window 256", cmd_remote(LUMEN_CMD_RWRITE, v, 0, 8, me, LUMEN_NUM_WINDOWS, 0));
	ADD("offset + size overflows", cmd_remote(LUMEN_CMD_RWRITE, v, ~0ull - 3, 8, me, 0, 0));
	ADD("RWRITE local + size overflows", cmd_remote(LUMEN_CMD_RWRITE, ~0ull - 3, 0, 8, me, 0,
							0));
	ADD("RREAD into the kernel range", cmd_remote(LUMEN_CMD_RREAD, 0x100000, 0, 8, me, 0, 0));
	ADD("RREAD local 0", cmd_remote(LUMEN_CMD_RREAD, 0, 0, 8, me, 0, 0));
	MOD("remote reserved[0]", cmd_remote(LUMEN_CMD_RWRITE, v, 0, 8, me, 0, 0),
	    u.remote.reserved[0], 1);
	MOD("remote reserved[1]", cmd_remote(LUMEN_CMD_RREAD, v, 0, 8, me, 0, 0),
	    u.remote.reserved[1], 1ull << 63);
	MOD("remote flag F_IRQ", cmd_remote(LUMEN_CMD_RWRITE, v, 0, 8, me, 0, 0), flags,
	    LUMEN_CMD_F_IRQ);
	MOD("remote reserved0", cmd_remote(LUMEN_CMD_RWRITE, v, 0, 8, me, 0, 0), reserved0, 1);
	ADD("ratomic op 2", cmd_ratomic(2, v, 0, 1, me, 0, 0));
	ADD("ratomic op ~0", cmd_ratomic(~0u, v, 0, 1, me, 0, 0));
	ADD("ratomic offset 4", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, v, 4, 1, me, 0, 0));
	ADD("ratomic offset 1", cmd_ratomic(LUMEN_RATOMIC_FETCH_ADD, v, 1, 1, me, 0, 0));
	ADD("ratomic result + 4", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, v + 4, 0, 1, me, 0, 0));
	ADD("ratomic result in the kernel range", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, 0x100000, 0,
							     1, me, 0, 0));
	ADD("ratomic dst_chip 8192", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, v, 0, 1,
						 DRM_LUMEN_MAX_CHIPS, 0, 0));
	ADD("ratomic window 256", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, v, 0, 1, me, 256, 0));
	MOD("ratomic reserved0", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, v, 0, 1, me, 0, 0),
	    u.ratomic.reserved0, 1);
	MOD("ratomic reserved", cmd_ratomic(LUMEN_RATOMIC_SIGNAL, v, 0, 1, me, 0, 0),
	    u.ratomic.reserved, 1);
#undef ADD
#undef MOD
	/* The kernel log names index and field (a dev_dbg: turn it on if we can). */
	dbg = !gu_write_sysfs("/sys/kernel/debug/dynamic_debug/control", "file lumen_job.c +p");
	for (int i = 0; i < n; i++) {
		struct lumen_cmd job[3] = { ld_cmd_fill(v, 8, 0x99), cases[i].cmd, ld_cmd_nop() };
		struct ld_job j = { .cmds = job, .num_cmds = 3 };
		uint64_t seq;
		int ret;

		memset(b.map, 0, 8);
		gu_log_mark();
		ret = ld_submit(c->fd, c->q, &j, &seq);
		if (ret != -EINVAL)
			fail_msg("'%s' at index 1: %d, want -EINVAL", cases[i].what, ret);
		/* The message is rate-limited (10 per 5 s): the first cases only. */
		if (dbg && i < 4 && !gu_log_contains("SUBMIT: command 1: bad u."))
			fail_msg("'%s': no kernel log line naming command 1's field",
				 cases[i].what);
		j.cmds = &cases[i].cmd;
		j.num_cmds = 1;
		ret = ld_submit(c->fd, c->q, &j, &seq);
		if (ret != -EINVAL)
			fail_msg("'%s' alone: %d, want -EINVAL", cases[i].what, ret);
	}
	if (dbg)
		gu_write_sysfs("/sys/kernel/debug/dynamic_debug/control", "file lumen_job.c -p");
	/* Nothing of the rejected jobs ran. */
	assert_int_equal(run1(c->fd, c->q, ld_cmd_nop()), 0);
	assert_int_equal(b.map[0], 0);
	assert_ctx_clean(c->fd);
	assert_int_equal(ld_buf_free(&b), 0);
}

/* ---- device reset ------------------------------------------------------------------ */

static void test_windows_after_reset(void **state)
{
	struct ctx *c = *state;
	struct ld_buf tgt, src;
	char dbg[128], path[192];
	uint32_t w_old = 0, w_new = 0, q;
	uint64_t k_old = 0, k_new = 0;
	int old, fd;

	skip_no_links(c);
	old = ld_open(0);
	assert_true(old >= 0);
	assert_int_equal(ld_buf_new(old, LD_HOST, PAGE, &tgt), 0);
	memset(tgt.map, 0x31, PAGE);
	assert_int_equal(win_open(old, tgt.va, PAGE, DRM_LUMEN_WINDOW_WRITE, &w_old, &k_old), 0);

	assert_int_equal(ld_debugfs_dir(0, dbg, sizeof(dbg)), 0);
	snprintf(path, sizeof(path), "%s/force_reset", dbg);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
	/* Every file of before is dead, this suite's own included. */
	assert_int_equal(win_close(old, w_old), -ENODEV);
	close(c->fd);
	c->fd = ld_open(0);
	assert_true(c->fd >= 0);
	assert_int_equal(ld_queue_create(c->fd, &c->q), 0);

	fd = c->fd;
	q = c->q;
	assert_int_equal(ld_buf_new(fd, LD_HOST, PAGE, &src), 0);
	ld_pattern(src.map, PAGE, 9);
	/* The old file's window is still there, but its context is gone. */
	assert_int_equal(run1(fd, q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 64, c->li.chip_id,
						w_old, k_old)), -EACCES);
	assert_int_equal(tgt.map[0], 0x31);
	/* New windows work (and got another slot: the old one is taken). */
	{
		struct ld_buf t2;

		assert_int_equal(ld_buf_new(fd, LD_HOST, PAGE, &t2), 0);
		assert_int_equal(win_open(fd, t2.va, PAGE, DRM_LUMEN_WINDOW_WRITE, &w_new, &k_new),
				 0);
		assert_int_not_equal(w_new, w_old);
		assert_int_equal(run1(fd, q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, PAGE,
							c->li.chip_id, w_new, k_new)), 0);
		assert_int_equal(ld_check_pattern(t2.map, PAGE, 9, 0), -1);
		assert_int_equal(win_close(fd, w_new), 0);
		assert_int_equal(ld_buf_free(&t2), 0);
	}
	/*
	 * Closing the dead file frees its slot: the card fills up to every
	 * slot. (Its BO's mmap holds the file open: unmap that first.)
	 */
	munmap(tgt.map, tgt.size);
	close(old);
	{
		uint32_t *wins = calloc(LUMEN_NUM_WINDOWS + 1, sizeof(*wins)), n = 0;
		char lim[32];
		int ret;

		assert_non_null(wins);
		assert_int_equal(read_param(PARAM_MAX_WINDOWS, lim, sizeof(lim)), 0);
		assert_int_equal(gu_write_sysfs(PARAM_MAX_WINDOWS, "100000"), 0);
		while (!(ret = win_open(fd, src.va, PAGE, DRM_LUMEN_WINDOW_READ, &wins[n], NULL)))
			assert_true(++n <= LUMEN_NUM_WINDOWS);
		assert_int_equal(gu_write_sysfs(PARAM_MAX_WINDOWS, lim), 0);
		assert_int_equal(ret, -ENOSPC);
		assert_int_equal(n, c->li.num_windows);
		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(win_close(fd, wins[i]), 0);
		free(wins);
	}
	assert_ctx_clean(fd);
	assert_int_equal(ld_buf_free(&src), 0);
}

/* ---- two cards on a ring ----------------------------------------------------------- */

static int route_set(int fd, uint32_t first, uint32_t count, uint32_t *words)
{
	struct drm_lumen_route r = {
		.op = DRM_LUMEN_ROUTE_SET, .first = first, .count = count,
		.words = (uintptr_t)words,
	};

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_ROUTE, &r);
}

static int route_get(int fd, uint32_t first, uint32_t count, uint32_t *words)
{
	struct drm_lumen_route r = {
		.op = DRM_LUMEN_ROUTE_GET, .first = first, .count = count,
		.words = (uintptr_t)words,
	};

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_ROUTE, &r);
}

static int ring_port_up(int fd)
{
	struct drm_lumen_link_info li;

	return !query_link(fd, &li) && (li.ports_up & 3) == 3;
}

static void test_remote_between_cards(void **state)
{
	struct ctx *c = *state;
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	struct drm_lumen_link_info l1;
	struct ld_buf src, tgt, dst, res;
	uint32_t w = 0, q1 = 0, old0 = 0, old1 = 0, word;
	uint64_t key = 0, t0;
	volatile uint64_t *atom;
	int fd1;

	skip_no_links(c);
	if (ld_num_cards() < 2 || !fabric || strncmp(fabric, "ring", 4)) {
		printf("# needs two cards on a ring fabric (--cards 2 --fabric ring): skipped\n");
		skip();
	}
	fd1 = ld_open(1);
	assert_true(fd1 >= 0);
	assert_int_equal(query_link(fd1, &l1), 0);
	assert_int_equal(ld_queue_create(fd1, &q1), 0);
	t0 = ld_now_ns();
	while (!ring_port_up(c->fd) || !ring_port_up(fd1)) {
		assert_true(ld_now_ns() - t0 < RING_UP_NS);
		usleep(20000);
	}
	/*
	 * A ring: port 0 (+x) of chip k faces port 1 (-x) of chip k + 1.
	 * Each card routes the other's chip id out of port 0, port 1 the way
	 * back round (on two chips both reach the other).
	 */
	word = lumen_route_word(0, 1, 0, 0);
	assert_int_equal(route_get(c->fd, l1.chip_id, 1, &old0), 0);
	assert_int_equal(route_get(fd1, c->li.chip_id, 1, &old1), 0);
	assert_int_equal(route_set(c->fd, l1.chip_id, 1, &word), 0);
	assert_int_equal(route_set(fd1, c->li.chip_id, 1, &word), 0);

	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &src), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, MiB, &dst), 0);
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, PAGE, &res), 0);
	assert_int_equal(ld_buf_new(fd1, LD_DEVICE, MiB, &tgt), 0);
	assert_int_equal(win_open(fd1, tgt.va, MiB, DRM_LUMEN_WINDOW_READ | DRM_LUMEN_WINDOW_WRITE |
				  DRM_LUMEN_WINDOW_ATOMIC, &w, &key), 0);
	memset(tgt.map, 0, MiB);
	ld_pattern(src.map, MiB, 77);
	t0 = ld_now_ns();
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, MiB, l1.chip_id,
						      w, key)), 0);
	printf("# 1 MiB RWRITE chip %u -> chip %u in %.1f ms\n", c->li.chip_id, l1.chip_id,
	       (ld_now_ns() - t0) / 1e6);
	assert_int_equal(ld_check_pattern(tgt.map, MiB, 77, 0), -1);
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RREAD, dst.va, 0, MiB, l1.chip_id,
						      w, key)), 0);
	assert_int_equal(ld_check_pattern(dst.map, MiB, 77, 0), -1);
	atom = (volatile uint64_t *)(tgt.map + 4096);
	*atom = 5;
	assert_int_equal(run1(c->fd, c->q, cmd_ratomic(LUMEN_RATOMIC_FETCH_ADD, res.va, 4096, 10,
						       l1.chip_id, w, key)), 0);
	assert_int_equal(*(volatile uint64_t *)res.map, 5);
	assert_int_equal(*atom, 15);
	/* A wrong key across the fabric: refused, nothing written. */
	assert_int_equal(run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, src.va, 0, 64, l1.chip_id,
						      w, ~key)), -EACCES);
	assert_int_equal(*atom, 15);
	assert_ctx_clean(c->fd);

	assert_int_equal(win_close(fd1, w), 0);
	assert_int_equal(route_set(c->fd, l1.chip_id, 1, &old0), 0);
	assert_int_equal(route_set(fd1, c->li.chip_id, 1, &old1), 0);
	assert_int_equal(ld_buf_free(&tgt), 0);
	assert_int_equal(ld_buf_free(&src), 0);
	assert_int_equal(ld_buf_free(&dst), 0);
	assert_int_equal(ld_buf_free(&res), 0);
	close(fd1);
}

/*
 * -ETIMEDOUT: a request that circles between the two chips until its TTL
 * runs out. The chip where it dies (chip 1, by the TTL's parity) has no
 * route back to chip 0, so no UNREACHABLE answer comes back either and the
 * sender's end-to-end timeout fails the command. The context stays clean.
 */
static void test_remote_timeout(void **state)
{
	struct ctx *c = *state;
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	const uint32_t lost = 4000;
	uint32_t old0 = 0, old1 = 0, back = 0, to0 = 0, w0, w1, fast = 0;
	char tmo[32];
	struct drm_lumen_link_info l1;
	struct ld_buf b;
	uint64_t t0, took;
	int fd1, ret;

	skip_no_links(c);
	if (ld_num_cards() < 2 || !fabric || strncmp(fabric, "ring", 4)) {
		printf("# needs two cards on a ring fabric (--cards 2 --fabric ring): skipped\n");
		skip();
	}
	fd1 = ld_open(1);
	assert_true(fd1 >= 0);
	assert_int_equal(query_link(fd1, &l1), 0);
	t0 = ld_now_ns();
	while (!ring_port_up(c->fd) || !ring_port_up(fd1)) {
		assert_true(ld_now_ns() - t0 < RING_UP_NS);
		usleep(20000);
	}
	assert_int_equal(route_get(c->fd, lost, 1, &old0), 0);
	assert_int_equal(route_get(fd1, lost, 1, &old1), 0);
	assert_int_equal(route_get(fd1, c->li.chip_id, 1, &back), 0);
	/* Chip 0 sends it out of port 0 (to chip 1's port 1), chip 1 back out of port 1. */
	w0 = lumen_route_word(0, LUMEN_ROUTE_NO_PORT, 0, 1);
	w1 = lumen_route_word(1, LUMEN_ROUTE_NO_PORT, 0, 1);
	assert_int_equal(route_set(c->fd, lost, 1, &w0), 0);
	assert_int_equal(route_set(fd1, lost, 1, &w1), 0);
	assert_int_equal(route_set(fd1, c->li.chip_id, 1, &to0), 0);

	assert_int_equal(ld_buf_new(c->fd, LD_HOST, PAGE, &b), 0);
	t0 = ld_now_ns();
	ret = run1(c->fd, c->q, cmd_remote(LUMEN_CMD_RWRITE, b.va, 0, 64, lost, 0, 1));
	took = ld_now_ns() - t0;
	printf("# RWRITE to a chip lost in a loop: %d (%s) after %.0f ms\n", ret, strerror(-ret),
	       took / 1e6);
	assert_int_equal(ret, -ETIMEDOUT);
	assert_ctx_clean(c->fd);
	/* The queue goes on. */
	assert_int_equal(run1(c->fd, c->q, ld_cmd_fill(b.va, 8, 0)), 0);

	/*
	 * On a queue whose job timeout (100 ms) is far below the card's
	 * end-to-end timeout (2 s), waiting for the latter is not a hang:
	 * still -ETIMEDOUT from the card, the context neither hung nor
	 * banned. The timeout applies to queues created after it is set.
	 */
	assert_int_equal(read_param(PARAM_JOB_TIMEOUT, tmo, sizeof(tmo)), 0);
	assert_int_equal(gu_write_sysfs(PARAM_JOB_TIMEOUT, "100"), 0);
	ret = ld_queue_create(c->fd, &fast);
	assert_int_equal(gu_write_sysfs(PARAM_JOB_TIMEOUT, tmo), 0);
	assert_int_equal(ret, 0);
	ret = run1(c->fd, fast, cmd_remote(LUMEN_CMD_RREAD, b.va, 0, 64, lost, 0, 1));
	assert_int_equal(ret, -ETIMEDOUT);
	assert_ctx_clean(c->fd);
	assert_int_equal(run1(c->fd, fast, ld_cmd_fill(b.va, 8, 0)), 0);
	assert_int_equal(ld_queue_destroy(c->fd, fast), 0);

	assert_int_equal(route_set(c->fd, lost, 1, &old0), 0);
	assert_int_equal(route_set(fd1, lost, 1, &old1), 0);
	assert_int_equal(route_set(fd1, c->li.chip_id, 1, &back), 0);
	assert_int_equal(ld_buf_free(&b), 0);
	close(fd1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_links),
		cmocka_unit_test(test_query_link),
		cmocka_unit_test(test_window_open_close),
		cmocka_unit_test(test_window_einval),
		cmocka_unit_test(test_window_efault),
		cmocka_unit_test(test_window_enospc),
		cmocka_unit_test(test_window_ebusy),
		cmocka_unit_test(test_loopback_write_read),
		cmocka_unit_test(test_loopback_atomic),
		cmocka_unit_test(test_loopback_other_context),
		cmocka_unit_test(test_remote_eacces),
		cmocka_unit_test(test_remote_unreachable),
		cmocka_unit_test(test_remote_einval),
		cmocka_unit_test(test_remote_between_cards),
		cmocka_unit_test(test_remote_timeout),
		cmocka_unit_test(test_windows_after_reset),
	};

	return cmocka_run_group_tests_name("window", tests, setup, teardown);
}
