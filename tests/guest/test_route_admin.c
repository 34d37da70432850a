// SPDX-License-Identifier: MIT
/*
 * The fabric manager's ioctls (uAPI 1.2, kmod/lumen_route.c and
 * kmod/lumen_mgmt.c) and the link engine's sysfs files (kmod/lumen_link.c).
 *
 * Without CAPS.LINKS only the -EOPNOTSUPP paths run and every other test
 * skips, saying so. With it:
 *   - ROUTE GET/SET round trips (alternative port "none", invalid entries),
 *     every -EINVAL (reserved bits, ports the chip lacks, ranges, op,
 *     reserved) with nothing written, -EFAULT, and the table surviving a
 *     device reset;
 *   - PORT_CTRL get/set of ENABLE and DATELINE, consistent with sysfs
 *     links/portN/enabled, its -EINVAL cases, DATELINE surviving a reset;
 *   - -EPERM for ROUTE, PORT_CTRL set and MGMT_SEND/RECV in an
 *     unprivileged child, while PORT_CTRL get and the sysfs counters work;
 *   - MGMT_SEND of a GET INFO with hop_count 0, answered by the chip itself
 *     and read back with MGMT_RECV; polls and deadlines (-ETIME); a
 *     receiver without a deadline woken by a device reset (-ENODEV), and
 *     answers of before a reset dropped; packets the card refuses (-EINVAL
 *     with the reason in the kernel log), a first hop that is not up
 *     (-EHOSTUNREACH); with a ring fabric, a GET INFO of the neighbour one
 *     hop away;
 *   - the chip counters in links/ and the link-layer counters per port;
 *   - an unbind while a window is open and a receiver waits: -ENODEV for
 *     both, no oops, and the card works after a rebind.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "lumen/lumen_link.h"
#include "lumen/lumen_mgmt.h"
#include "lumen/lumen_regs.h"

#define BAD_PTR 0xffff800000001000ull
#define RING_UP_NS (15ull * LD_SEC_NS)
#define LUMEN_MGMT_FIFO 256	/* the driver's queue, uAPI drm_lumen_mgmt */

struct ctx {
	int fd;
	int links;
	char pci[32];
	struct drm_lumen_link_info li;
};

static void skip_no_links(const struct ctx *c)
{
	if (!c->links) {
		printf("# the card has no link engine (CAPS.LINKS clear): skipped\n");
		skip();
	}
}

static int query_link(int fd, struct drm_lumen_link_info *li)
{
	uint32_t size = sizeof(*li);

	return ld_query(fd, DRM_LUMEN_QUERY_LINK, li, &size);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	uint64_t caps = 0;

	if (!c)
		return -1;
	*state = c;
	c->fd = ld_open(0);
	if (c->fd < 0 || ld_get_param(c->fd, DRM_LUMEN_PARAM_CAPABILITIES, &caps) ||
	    ld_card_pci(0, c->pci, sizeof(c->pci)))
		return -1;
	c->links = !!(caps & DRM_LUMEN_CAP_LINKS);
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

static int route(int fd, uint32_t op, uint32_t first, uint32_t count, uint32_t *words)
{
	struct drm_lumen_route r = {
		.op = op, .first = first, .count = count, .words = (uintptr_t)words,
	};

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_ROUTE, &r);
}

static int port_ctrl(int fd, uint32_t port, uint32_t set, uint32_t *ctrl)
{
	struct drm_lumen_port_ctrl a = { .port = port, .set = set, .ctrl = *ctrl };
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_PORT_CTRL, &a);

	if (!ret)
		*ctrl = a.ctrl;
	return ret;
}

static int mgmt_send(int fd, const void *pkt, uint32_t size)
{
	struct drm_lumen_mgmt a = { .data = (uintptr_t)pkt, .size = size };

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_MGMT_SEND, &a);
}

/* RECV into pkt until the absolute deadline; the size received or -errno. */
static int mgmt_recv(int fd, struct lumen_mgmt *pkt, uint64_t deadline)
{
	struct drm_lumen_mgmt a = {
		.data = (uintptr_t)pkt, .size = sizeof(*pkt), .timeout_ns = deadline,
	};
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_MGMT_RECV, &a);

	return ret ? ret : (int)a.size;
}

static struct lumen_mgmt mgmt_get(uint8_t attr, uint64_t tid, const uint8_t *path, int hops)
{
	struct lumen_mgmt m;

	memset(&m, 0, sizeof(m));
	m.version = LUMEN_MGMT_VERSION;
	m.method = LUMEN_MGMT_GET;
	m.attr = attr;
	m.hop_count = hops;
	m.tid = tid;
	for (int i = 0; i < hops; i++)
		m.path[i] = path[i];
	return m;
}

/* Drain answers left by earlier tests. */
static void mgmt_drain(int fd)
{
	struct lumen_mgmt m;

	while (mgmt_recv(fd, &m, 0) > 0)
		;
}

/* The answer with transaction id tid, within 5 s. */
static int mgmt_answer(int fd, uint64_t tid, struct lumen_mgmt *out)
{
	int64_t deadline = ld_deadline(5 * LD_SEC_NS);
	int ret;

	for (;;) {
		ret = mgmt_recv(fd, out, deadline);
		if (ret < 0)
			return ret;
		if (out->tid == tid)
			return ret;
		printf("# skipping management packet tid %llu method %u\n",
		       (unsigned long long)out->tid, out->method);
	}
}

static int sysfs_num(const char *pci, const char *rel, unsigned long long *v)
{
	char path[256], buf[64];
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.32s/%.96s", pci, rel);
	ret = gu_read_sysfs(path, buf, sizeof(buf));
	if (!ret)
		*v = strtoull(buf, NULL, 10);
	return ret;
}

static void force_reset(int idx)
{
	char dbg[128], path[192];

	assert_int_equal(ld_debugfs_dir(idx, dbg, sizeof(dbg)), 0);
	snprintf(path, sizeof(path), "%s/force_reset", dbg);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
}

/* ---- without the link engine ---------------------------------------------------- */

static void test_no_links(void **state)
{
	struct ctx *c = *state;
	uint32_t words[4] = { 0 }, ctrl = 0;
	struct lumen_mgmt m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	struct drm_lumen_link_info li;

	if (c->links) {
		printf("# the card has the link engine: its -EOPNOTSUPP paths do not apply\n");
		skip();
	}
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, 4, words), -EOPNOTSUPP);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, 0, 4, words), -EOPNOTSUPP);
	assert_int_equal(port_ctrl(c->fd, 0, 0, &ctrl), -EOPNOTSUPP);
	assert_int_equal(port_ctrl(c->fd, 0, 1, &ctrl), -EOPNOTSUPP);
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EOPNOTSUPP);
	assert_int_equal(mgmt_recv(c->fd, &m, 0), -EOPNOTSUPP);
	assert_int_equal(query_link(c->fd, &li), -EOPNOTSUPP);
	/* Whatever the arguments: the gate comes first. */
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_ROUTE, (void *)BAD_PTR), -EOPNOTSUPP);
}

/* ---- ROUTE ------------------------------------------------------------------------- */

static void test_route_round_trip(void **state)
{
	struct ctx *c = *state;
	const uint32_t first = 4000, n = 70;
	uint32_t old[70], set[70], got[70];
	uint32_t np = c->li.num_ports;

	skip_no_links(c);
	assert_true(np >= 2);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, n, old), 0);
	for (uint32_t i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			set[i] = lumen_route_word(i % np, LUMEN_ROUTE_NO_PORT, 0, 0);
			break;
		case 1:
			set[i] = lumen_route_word(0, np - 1, 1, 0);
			break;
		case 2:
			set[i] = lumen_route_word(np - 1, 0, 0, 1);
			break;
		default:
			set[i] = 0;	/* no route */
		}
	}
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, first, n, set), 0);
	memset(got, 0xee, sizeof(got));
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, n, got), 0);
	assert_memory_equal(got, set, sizeof(set));
	/* A sub-range, and the edges of the table. */
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first + 5, 3, got), 0);
	assert_memory_equal(got, set + 5, 3 * sizeof(*got));
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, 1, got), 0);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, DRM_LUMEN_MAX_CHIPS - 1, 1, got), 0);
	/* An invalid word may carry any port (it is never used). */
	got[0] = 0xff;
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, first, 1, got), 0);
	/* The whole table in one call. */
	{
		uint32_t *all = calloc(DRM_LUMEN_MAX_CHIPS, sizeof(*all));

		assert_non_null(all);
		assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, DRM_LUMEN_MAX_CHIPS, all), 0);
		assert_int_equal(all[first], 0xff);
		assert_int_equal(all[first + 1], set[1]);
		free(all);
	}
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, first, n, old), 0);
}

static void test_route_einval(void **state)
{
	struct ctx *c = *state;
	const uint32_t first = 5000;
	uint32_t np = c->li.num_ports, before[4], after[4], w[4];
	struct {
		const char *what;
		uint32_t word;
	} bad[] = {
		{ "reserved bit 10", lumen_route_word(0, 1, 0, 0) | 1u << 10 },
		{ "reserved bit 30", lumen_route_word(0, 1, 0, 0) | 1u << 30 },
		{ "reserved bits of an invalid word", 1u << 20 },
		{ "port the chip lacks", lumen_route_word(np, 0, 0, 0) },
		{ "port 15", lumen_route_word(15, 0, 0, 0) },
		{ "alternative port the chip lacks", lumen_route_word(0, np, 0, 0) },
		{ "alternative port 14", lumen_route_word(0, 14, 0, 0) },
	};

	skip_no_links(c);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, 4, before), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret;

		/* The bad word last, behind good ones: nothing is written. */
		w[0] = lumen_route_word(0, 1, 0, 0);
		w[1] = lumen_route_word(1, LUMEN_ROUTE_NO_PORT, 0, 0);
		w[2] = 0;
		w[3] = bad[i].word;
		ret = route(c->fd, DRM_LUMEN_ROUTE_SET, first, 4, w);
		if (ret != -EINVAL)
			fail_msg("route word '%s' (0x%08x): %d, want -EINVAL", bad[i].what,
				 bad[i].word, ret);
		assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, 4, after), 0);
		assert_memory_equal(after, before, sizeof(before));
	}
	/* Ranges, op, reserved. */
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, 0, w), -EINVAL);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, DRM_LUMEN_MAX_CHIPS + 1, w), -EINVAL);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, DRM_LUMEN_MAX_CHIPS, 1, w), -EINVAL);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, DRM_LUMEN_MAX_CHIPS - 1, 2, w), -EINVAL);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, ~0u, 2, w), -EINVAL);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 1, ~0u, w), -EINVAL);
	assert_int_equal(route(c->fd, 2, 0, 1, w), -EINVAL);
	{
		struct drm_lumen_route r = {
			.op = DRM_LUMEN_ROUTE_GET, .count = 1, .words = (uintptr_t)w, .reserved = 1,
		};

		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_ROUTE, &r), -EINVAL);
	}
	/* Unreadable and unwritable words. */
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, 4, (uint32_t *)BAD_PTR), -EFAULT);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, 0, 4, (uint32_t *)BAD_PTR), -EFAULT);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, 0, 4, NULL), -EFAULT);
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_ROUTE, (void *)BAD_PTR), -EFAULT);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, 4, after), 0);
	assert_memory_equal(after, before, sizeof(before));
}

/* Routes and datelines the driver wrote come back after a device reset. */
static void test_route_port_after_reset(void **state)
{
	struct ctx *c = *state;
	const uint32_t first = 6000;
	uint32_t old[3], set[3], got[3], ctrl, old_ctrl = 0;
	unsigned long long en;

	skip_no_links(c);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, 3, old), 0);
	set[0] = lumen_route_word(1, 0, 0, 0);
	set[1] = 0;
	set[2] = lumen_route_word(0, LUMEN_ROUTE_NO_PORT, 1, 1);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, first, 3, set), 0);
	assert_int_equal(port_ctrl(c->fd, 1, 0, &old_ctrl), 0);
	ctrl = DRM_LUMEN_PORT_ENABLE | DRM_LUMEN_PORT_DATELINE;
	assert_int_equal(port_ctrl(c->fd, 1, 1, &ctrl), 0);

	force_reset(0);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, 3, got), -ENODEV);
	close(c->fd);
	c->fd = ld_open(0);
	assert_true(c->fd >= 0);
	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_GET, first, 3, got), 0);
	assert_memory_equal(got, set, sizeof(set));
	ctrl = 0;
	assert_int_equal(port_ctrl(c->fd, 1, 0, &ctrl), 0);
	assert_int_equal(ctrl, DRM_LUMEN_PORT_ENABLE | DRM_LUMEN_PORT_DATELINE);
	assert_int_equal(sysfs_num(c->pci, "links/port1/enabled", &en), 0);
	assert_int_equal(en, 1);

	assert_int_equal(route(c->fd, DRM_LUMEN_ROUTE_SET, first, 3, old), 0);
	ctrl = old_ctrl;
	assert_int_equal(port_ctrl(c->fd, 1, 1, &ctrl), 0);
}

/*
 * A receiver blocked in MGMT_RECV without a deadline when the card is
 * reset: its file is of the old generation now, so it returns -ENODEV
 * at once (not at a deadline it does not have), and packets of before the
 * reset are gone for the files opened after it.
 */
static void test_mgmt_recv_across_reset(void **state)
{
	struct ctx *c = *state;
	struct lumen_mgmt m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 4711, NULL, 0), r;
	uint64_t t0;
	int st = 0;
	pid_t pid;

	skip_no_links(c);
	mgmt_drain(c->fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ret = mgmt_recv(c->fd, &r, ~0ull);

		_exit(ret == -ENODEV ? 0 : 10);
	}
	usleep(200 * 1000);
	assert_int_equal(waitpid(pid, &st, WNOHANG), 0);	/* still asleep */
	force_reset(0);
	t0 = ld_now_ns();
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (ld_now_ns() - t0 > 10 * LD_SEC_NS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("MGMT_RECV still blocked 10 s after the reset");
		}
		usleep(10 * 1000);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(c->fd);
	c->fd = ld_open(0);
	assert_true(c->fd >= 0);

	/* Sent before a reset, received after it: dropped. */
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), 0);
	usleep(100 * 1000);
	force_reset(0);
	close(c->fd);
	c->fd = ld_open(0);
	assert_true(c->fd >= 0);
	assert_int_equal(mgmt_recv(c->fd, &r, ld_deadline(200 * 1000 * 1000)), -ETIME);
}

/* ---- PORT_CTRL ---------------------------------------------------------------------- */

static void test_port_ctrl(void **state)
{
	struct ctx *c = *state;
	uint32_t last = c->li.num_ports - 1, ctrl, old = 0;
	unsigned long long en;
	char path[192], st[32];

	skip_no_links(c);
	/* Every port starts enabled, without a dateline. */
	for (uint32_t p = 0; p < c->li.num_ports; p++) {
		ctrl = 0xdead;
		assert_int_equal(port_ctrl(c->fd, p, 0, &ctrl), 0);
		assert_true(ctrl & DRM_LUMEN_PORT_ENABLE);
	}
	assert_int_equal(port_ctrl(c->fd, last, 0, &old), 0);

	ctrl = DRM_LUMEN_PORT_ENABLE | DRM_LUMEN_PORT_DATELINE;
	assert_int_equal(port_ctrl(c->fd, last, 1, &ctrl), 0);
	assert_int_equal(ctrl, DRM_LUMEN_PORT_ENABLE | DRM_LUMEN_PORT_DATELINE);
	/* Disabled: sysfs says so and the port is down. */
	ctrl = DRM_LUMEN_PORT_DATELINE;
	assert_int_equal(port_ctrl(c->fd, last, 1, &ctrl), 0);
	assert_int_equal(ctrl, DRM_LUMEN_PORT_DATELINE);
	snprintf(path, sizeof(path), "links/port%u/enabled", last);
	assert_int_equal(sysfs_num(c->pci, path, &en), 0);
	assert_int_equal(en, 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%u/state", c->pci, last);
	assert_int_equal(gu_read_sysfs(path, st, sizeof(st)), 0);
	assert_string_equal(st, "down");
	/* Enabled through sysfs: the dateline stays. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%u/enabled", c->pci, last);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
	ctrl = 0;
	assert_int_equal(port_ctrl(c->fd, last, 0, &ctrl), 0);
	assert_int_equal(ctrl, DRM_LUMEN_PORT_ENABLE | DRM_LUMEN_PORT_DATELINE);
	assert_int_equal(gu_write_sysfs(path, "0"), 0);
	ctrl = 0;
	assert_int_equal(port_ctrl(c->fd, last, 0, &ctrl), 0);
	assert_int_equal(ctrl, DRM_LUMEN_PORT_DATELINE);

	/* Errors. */
	ctrl = 0;
	assert_int_equal(port_ctrl(c->fd, c->li.num_ports, 0, &ctrl), -EINVAL);
	assert_int_equal(port_ctrl(c->fd, LUMEN_LINK_PORTS_MAX, 1, &ctrl), -EINVAL);
	assert_int_equal(port_ctrl(c->fd, ~0u, 0, &ctrl), -EINVAL);
	assert_int_equal(port_ctrl(c->fd, 0, 2, &ctrl), -EINVAL);
	ctrl = DRM_LUMEN_PORT_ENABLE | 4;
	assert_int_equal(port_ctrl(c->fd, 0, 1, &ctrl), -EINVAL);
	ctrl = 1u << 31;
	assert_int_equal(port_ctrl(c->fd, 0, 1, &ctrl), -EINVAL);
	{
		struct drm_lumen_port_ctrl a = { .port = 0, .reserved = 1 };

		assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_PORT_CTRL, &a), -EINVAL);
	}
	/* A get ignores what ctrl held. */
	ctrl = ~0u;
	assert_int_equal(port_ctrl(c->fd, 0, 0, &ctrl), 0);
	assert_true(ctrl & DRM_LUMEN_PORT_ENABLE);

	ctrl = old;
	assert_int_equal(port_ctrl(c->fd, last, 1, &ctrl), 0);
	assert_int_equal(ctrl, old);
}

/* ---- privileges --------------------------------------------------------------------- */

static void test_admin_eperm(void **state)
{
	struct ctx *c = *state;
	int st = 0;
	pid_t pid;

	skip_no_links(c);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint32_t w[2] = { 0 }, ctrl = 0;
		struct lumen_mgmt m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
		struct drm_lumen_link_info li;
		unsigned long long v;
		int fd;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		if (route(c->fd, DRM_LUMEN_ROUTE_GET, 0, 2, w) != -EPERM)
			_exit(11);
		if (route(c->fd, DRM_LUMEN_ROUTE_SET, 0, 2, w) != -EPERM)
			_exit(12);
		ctrl = DRM_LUMEN_PORT_ENABLE;
		if (port_ctrl(c->fd, 0, 1, &ctrl) != -EPERM)
			_exit(13);
		if (port_ctrl(c->fd, 0, 0, &ctrl) != 0 || !(ctrl & DRM_LUMEN_PORT_ENABLE))
			_exit(14);
		if (mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE) != -EPERM)
			_exit(15);
		if (mgmt_recv(c->fd, &m, 0) != -EPERM)
			_exit(16);
		if (query_link(c->fd, &li) || li.chip_id != c->li.chip_id)
			_exit(17);
		/* sysfs, without opening anything. */
		if (sysfs_num(c->pci, "links/chip_id", &v) || v != c->li.chip_id)
			_exit(18);
		if (sysfs_num(c->pci, "links/port0/naks_rx", &v))
			_exit(19);
		/* A file opened without the capability is refused as well. */
		fd = ld_open(0);
		if (fd >= 0) {
			if (route(fd, DRM_LUMEN_ROUTE_GET, 0, 2, w) != -EPERM)
				_exit(20);
			close(fd);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st))
		fail_msg("unprivileged child failed check %d", WEXITSTATUS(st));
}

/* ---- management packets ------------------------------------------------------------- */

static void test_mgmt_info_self(void **state)
{
	struct ctx *c = *state;
	uint64_t tid = 0x1234567800000000ull | (uint64_t)getpid();
	struct lumen_mgmt m = mgmt_get(LUMEN_MGMT_ATTR_INFO, tid, NULL, 0), r;
	struct lumen_mgmt_info info;
	uint64_t hw;
	int n;

	skip_no_links(c);
	mgmt_drain(c->fd);
	/* Nothing queued: a poll and a short deadline both say -ETIME. */
	assert_int_equal(mgmt_recv(c->fd, &r, 0), -ETIME);
	assert_int_equal(mgmt_recv(c->fd, &r, ld_deadline(20 * 1000 * 1000)), -ETIME);

	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), 0);
	memset(&r, 0xcc, sizeof(r));
	n = mgmt_answer(c->fd, tid, &r);
	assert_int_equal(n, LUMEN_MGMT_HDR_SIZE + sizeof(info));
	assert_int_equal(r.version, LUMEN_MGMT_VERSION);
	assert_int_equal(r.method, LUMEN_MGMT_RESP);
	assert_int_equal(r.attr, LUMEN_MGMT_ATTR_INFO);
	assert_int_equal(r.status, LUMEN_STATUS_OK);
	assert_int_equal(r.hop_count, 0);
	assert_int_equal(r.data_len, sizeof(info));
	memcpy(&info, r.data, sizeof(info));
	assert_int_equal(info.chip_id, c->li.chip_id);
	assert_int_equal(info.num_ports, c->li.num_ports);
	assert_int_equal(info.route_table_size, DRM_LUMEN_MAX_CHIPS);
	assert_int_equal(ld_get_param(c->fd, DRM_LUMEN_PARAM_HW_VERSION, &hw), 0);
	assert_int_equal(info.hw_version, hw);
	/* Queue empty again. */
	assert_int_equal(mgmt_recv(c->fd, &r, 0), -ETIME);

	/* A GET PORT of port 0 and a burst, answered in order. */
	for (int i = 0; i < 8; i++) {
		m = mgmt_get(LUMEN_MGMT_ATTR_PORT, tid + 1 + i, NULL, 0);
		m.attr_mod = i % c->li.num_ports;
		assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(mgmt_recv(c->fd, &r, ld_deadline(5 * LD_SEC_NS)),
				 LUMEN_MGMT_HDR_SIZE + sizeof(struct lumen_mgmt_port));
		assert_int_equal(r.tid, tid + 1 + i);
		assert_int_equal(r.attr_mod, i % c->li.num_ports);
		assert_int_equal(r.status, LUMEN_STATUS_OK);
	}
}

static void test_mgmt_errors(void **state)
{
	struct ctx *c = *state;
	struct lumen_mgmt m, r;
	uint8_t path[1];
	uint32_t down = ~0u;
	struct drm_lumen_mgmt a;

	skip_no_links(c);
	mgmt_drain(c->fd);
	/* Packets the card refuses: -EINVAL, and the log says why. */
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	m.version = 2;
	gu_log_mark();
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EINVAL);
	assert_true(gu_log_contains("refused the packet: unsupported protocol version"));
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	m.data_len = 8;	/* but no data sent */
	gu_log_mark();
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EINVAL);
	assert_true(gu_log_contains("refused the packet: bad payload length"));
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	m.flags = LUMEN_MGMT_F_RETURN;
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EINVAL);
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	m.method = LUMEN_MGMT_RESP;
	gu_log_mark();
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EINVAL);
	assert_true(gu_log_contains("refused the packet: bad argument"));
	m = mgmt_get(99, 1, NULL, 0);
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EINVAL);
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	m.hop_count = LUMEN_MGMT_MAX_HOPS + 1;
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EINVAL);

	/* Sizes and fields the driver checks. */
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1, NULL, 0);
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE - 1), -EINVAL);
	assert_int_equal(mgmt_send(c->fd, &m, 0), -EINVAL);
	assert_int_equal(mgmt_send(c->fd, &m, DRM_LUMEN_MGMT_MAX + 1), -EINVAL);
	assert_int_equal(mgmt_send(c->fd, (void *)BAD_PTR, LUMEN_MGMT_HDR_SIZE), -EFAULT);
	a = (struct drm_lumen_mgmt){ .data = (uintptr_t)&m, .size = LUMEN_MGMT_HDR_SIZE,
				      .timeout_ns = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_MGMT_SEND, &a), -EINVAL);
	a = (struct drm_lumen_mgmt){ .data = (uintptr_t)&m, .size = LUMEN_MGMT_HDR_SIZE,
				      .flags = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_MGMT_SEND, &a), -EINVAL);
	a = (struct drm_lumen_mgmt){ .data = (uintptr_t)&m, .size = LUMEN_MGMT_HDR_SIZE,
				      .reserved = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_MGMT_SEND, &a), -EINVAL);
	a = (struct drm_lumen_mgmt){ .data = (uintptr_t)&r, .size = DRM_LUMEN_MGMT_MAX - 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_MGMT_RECV, &a), -EINVAL);
	a = (struct drm_lumen_mgmt){ .data = (uintptr_t)&r, .size = DRM_LUMEN_MGMT_MAX,
				      .flags = 1 };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_MGMT_RECV, &a), -EINVAL);

	/* A first hop that is not up. */
	for (uint32_t p = 0; p < c->li.num_ports; p++)
		if (!(c->li.ports_up & (1u << p)))
			down = p;
	if (down != ~0u) {
		path[0] = down;
		m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 2, path, 1);
		assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EHOSTUNREACH);
	}
	/* A port number the chip does not have. */
	path[0] = 15;
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 3, path, 1);
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), -EHOSTUNREACH);

	/* A packet RECV cannot write stays queued. */
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 77, NULL, 0);
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), 0);
	usleep(100 * 1000);
	a = (struct drm_lumen_mgmt){ .data = BAD_PTR, .size = DRM_LUMEN_MGMT_MAX,
				      .timeout_ns = ld_deadline(2 * LD_SEC_NS) };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_MGMT_RECV, &a), -EFAULT);
	assert_true(mgmt_answer(c->fd, 77, &r) > 0);
	assert_int_equal(mgmt_recv(c->fd, &r, 0), -ETIME);
}

/* The driver keeps the newest 256 answers and counts what it dropped. */
static void test_mgmt_fifo_overflow(void **state)
{
	struct ctx *c = *state;
	unsigned long long drops0 = 0, drops1 = 0, card0 = 0, card1 = 0;
	struct lumen_mgmt m, r;
	const int n = 300;
	int got = 0, ret;
	uint64_t first = 0;

	skip_no_links(c);
	mgmt_drain(c->fd);
	assert_int_equal(sysfs_num(c->pci, "links/mgmt_fifo_drops", &drops0), 0);
	assert_int_equal(sysfs_num(c->pci, "links/mgmt_rx_drops", &card0), 0);
	for (int i = 0; i < n; i++) {
		m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 1000 + i, NULL, 0);
		assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), 0);
		/* Slower than the driver drains the card's 32-deep queue. */
		if (i % 8 == 7)
			usleep(20 * 1000);
	}
	usleep(300 * 1000);
	while ((ret = mgmt_recv(c->fd, &r, ld_deadline(200 * 1000 * 1000))) > 0) {
		if (!got)
			first = r.tid;
		got++;
	}
	assert_int_equal(ret, -ETIME);
	assert_int_equal(sysfs_num(c->pci, "links/mgmt_fifo_drops", &drops1), 0);
	assert_int_equal(sysfs_num(c->pci, "links/mgmt_rx_drops", &card1), 0);
	printf("# %d sent, %d received (first tid %llu), %llu dropped by the driver, %llu by the card\n",
	       n, got, (unsigned long long)first, drops1 - drops0, card1 - card0);
	assert_true(got <= LUMEN_MGMT_FIFO);
	assert_int_equal(got + (drops1 - drops0) + (card1 - card0), n);
	/* The driver drops the oldest: if the card dropped none, the newest are left. */
	if (card1 == card0) {
		assert_int_equal(drops1 - drops0, n - LUMEN_MGMT_FIFO);
		assert_int_equal(first, 1000 + n - LUMEN_MGMT_FIFO);
	}
}

/* One hop out of port 0 on a ring: the neighbour answers. */
static void test_mgmt_neighbour(void **state)
{
	struct ctx *c = *state;
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	struct drm_lumen_link_info li;
	struct lumen_mgmt_info info;
	struct lumen_mgmt m, r;
	uint8_t path[1] = { 0 };
	uint64_t t0 = ld_now_ns();
	unsigned long long peer;

	skip_no_links(c);
	if (ld_num_cards() < 2 || !fabric || strncmp(fabric, "ring", 4)) {
		printf("# needs two cards on a ring fabric (--cards 2 --fabric ring): skipped\n");
		skip();
	}
	do {
		assert_int_equal(query_link(c->fd, &li), 0);
		if (li.ports_up & 1)
			break;
		assert_true(ld_now_ns() - t0 < RING_UP_NS);
		usleep(20000);
	} while (1);
	assert_int_equal(sysfs_num(c->pci, "links/port0/peer_chip", &peer), 0);
	mgmt_drain(c->fd);
	m = mgmt_get(LUMEN_MGMT_ATTR_INFO, 4242, path, 1);
	assert_int_equal(mgmt_send(c->fd, &m, LUMEN_MGMT_HDR_SIZE), 0);
	assert_int_equal(mgmt_answer(c->fd, 4242, &r), LUMEN_MGMT_HDR_SIZE + sizeof(info));
	assert_int_equal(r.status, LUMEN_STATUS_OK);
	assert_int_equal(r.hop_count, 1);
	memcpy(&info, r.data, sizeof(info));
	assert_int_equal(info.chip_id, peer);
	assert_int_not_equal(info.chip_id, c->li.chip_id);
}

/* ---- sysfs ---------------------------------------------------------------------------- */

static void test_sysfs_counters(void **state)
{
	struct ctx *c = *state;
	static const char *const chip[] = {
		"chip_id", "fwd_pkts", "no_route_drops", "ttl_drops", "access_errors",
		"e2e_retransmits", "e2e_duplicates", "mkey_violations", "lane_errors",
		"reroute_drops", "e2e_timeouts", "bad_pkts", "mgmt_rx_drops", "mgmt_fifo_drops",
	};
	static const char *const port[] = {
		"naks_rx", "naks_tx", "replay_timeouts", "ttl_drops", "credit_stalls",
		"failovers", "retrains", "data_tx", "data_rx", "seq_errors", "retransmits",
	};
	unsigned long long v;
	char rel[96];

	skip_no_links(c);
	for (size_t i = 0; i < sizeof(chip) / sizeof(chip[0]); i++) {
		snprintf(rel, sizeof(rel), "links/%s", chip[i]);
		if (sysfs_num(c->pci, rel, &v))
			fail_msg("%s missing", rel);
	}
	for (uint32_t p = 0; p < c->li.num_ports; p++)
		for (size_t i = 0; i < sizeof(port) / sizeof(port[0]); i++) {
			snprintf(rel, sizeof(rel), "links/port%u/%s", p, port[i]);
			if (sysfs_num(c->pci, rel, &v))
				fail_msg("%s missing", rel);
		}
	/* A refused remote access counts in access_errors (window suite does many). */
	assert_int_equal(sysfs_num(c->pci, "links/chip_id", &v), 0);
	assert_int_equal(v, c->li.chip_id);
}

/*
 * Unbind with the link engine busy: a window open, a receiver blocked in
 * MGMT_RECV without a deadline. The receiver gets -ENODEV, the files only
 * -ENODEV afterwards, nothing oopses, and the card works after a rebind.
 */
static void test_unbind_busy(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_window_open wo = { .flags = DRM_LUMEN_WINDOW_READ };
	struct drm_lumen_window_close wc;
	struct ld_buf b;
	int st = 0, fd;
	pid_t pid;

	skip_no_links(c);
	gu_log_mark();
	assert_int_equal(ld_buf_new(c->fd, LD_HOST, 4096, &b), 0);
	wo.va = b.va;
	wo.size = 4096;
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WINDOW_OPEN, &wo), 0);
	mgmt_drain(c->fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lumen_mgmt m;
		int r = mgmt_recv(c->fd, &m, ~0ull);

		_exit(r == -ENODEV ? 0 : 10);
	}
	usleep(200 * 1000);
	assert_int_equal(gu_unbind(c->pci), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	wc = (struct drm_lumen_window_close){ .window = wo.window };
	assert_int_equal(ld_ioctl(c->fd, DRM_IOCTL_LUMEN_WINDOW_CLOSE, &wc), -ENODEV);
	close(c->fd);	/* closes the window with the card gone */
	assert_int_equal(gu_bind(c->pci), 0);
	c->fd = ld_open(0);
	assert_true(c->fd >= 0);
	assert_int_equal(ld_copy_check(c->fd, 5), 0);
	fd = c->fd;
	{
		struct drm_lumen_link_info li;

		assert_int_equal(query_link(fd, &li), 0);
		assert_int_equal(li.chip_id, c->li.chip_id);
	}
	assert_true(gu_log_clean());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_links),
		cmocka_unit_test(test_route_round_trip),
		cmocka_unit_test(test_route_einval),
		cmocka_unit_test(test_port_ctrl),
		cmocka_unit_test(test_admin_eperm),
		cmocka_unit_test(test_mgmt_info_self),
		cmocka_unit_test(test_mgmt_errors),
		cmocka_unit_test(test_mgmt_fifo_overflow),
		cmocka_unit_test(test_mgmt_neighbour),
		cmocka_unit_test(test_sysfs_counters),
		cmocka_unit_test(test_route_port_after_reset),
		cmocka_unit_test(test_mgmt_recv_across_reset),
		cmocka_unit_test(test_unbind_busy),
	};

	return cmocka_run_group_tests_name("route_admin", tests, setup, teardown);
}
