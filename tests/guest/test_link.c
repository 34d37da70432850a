// SPDX-License-Identifier: MIT
/*
 * Optical link ports through the driver (kmod/lumen_link.c), on cards
 * cabled by lumen-fabric: `tests/vm/run --cards 4 --fabric ring -- ...`
 * (LUMEN_VM_FABRIC names the topology; without it the suite skips).
 *   - every cabled port trains to "up" with the right neighbour in sysfs
 *     (ring: chip c's +x is chip c+1's -x) and every other port is down;
 *   - npu-smi link --json says the same without opening a device;
 *   - a fiber cut through the fabric's control channel takes both ends
 *     down (down_events 1, a LUMEN_EVENT=link uevent), a restore up again;
 *   - after a device reset the ports retrain by themselves, and after a
 *     system suspend they still report their changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_util.h"
#include "lumen_dev.h"
#include "lumen/lumen_regs.h"

#define TRAIN_WAIT_MS 15000

struct ctx {
	int cards;
	char pci[GU_MAX_CARDS][16];
	int chip[GU_MAX_CARDS];
};

static int attr_read(const char *pci, int port, const char *name, char *buf, size_t len)
{
	char path[192];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%d/%s", pci, port, name);
	return gu_read_sysfs(path, buf, len);
}

static long attr_num(const char *pci, int port, const char *name)
{
	char buf[64];

	assert_int_equal(attr_read(pci, port, name, buf, sizeof(buf)), 0);
	return strtol(buf, NULL, 10);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	char buf[32];

	if (!c)
		return -1;
	*state = c;
	if (!fabric || strncmp(fabric, "ring", 4)) {
		printf("# no ring fabric (LUMEN_VM_FABRIC=%s): link suite skipped\n",
		       fabric ? fabric : "");
		c->cards = 0;
		return 0;
	}
	c->cards = ld_num_cards();
	for (int i = 0; i < c->cards; i++) {
		char path[96];

		if (ld_card_pci(i, c->pci[i], sizeof(c->pci[i])))
			return -1;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/chip_id", c->pci[i]);
		if (gu_read_sysfs(path, buf, sizeof(buf)))
			return -1;
		c->chip[i] = atoi(buf);
	}
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Card index of chip id @chip, -1 if none. */
static int card_of(struct ctx *c, int chip)
{
	for (int i = 0; i < c->cards; i++)
		if (c->chip[i] == chip)
			return i;
	return -1;
}

/* In a ring of n chips numbered 0..n-1, port 0 (+x) of chip k faces port 1
 * (-x) of chip k+1. */
static int all_ring_ports_up(struct ctx *c, int verbose)
{
	int n = c->cards, ok = 1;

	for (int i = 0; i < n; i++) {
		for (int p = 0; p < 2; p++) {
			char st[32];
			int want_chip = (c->chip[i] + (p == 0 ? 1 : n - 1)) % n;

			if (attr_read(c->pci[i], p, "state", st, sizeof(st)) || strcmp(st, "up") ||
			    attr_num(c->pci[i], p, "peer_chip") != want_chip ||
			    attr_num(c->pci[i], p, "peer_port") != 1 - p) {
				if (verbose)
					printf("# chip %d port %d: %s peer %ld.%ld, want %d.%d\n",
					       c->chip[i], p, st, attr_num(c->pci[i], p, "peer_chip"),
					       attr_num(c->pci[i], p, "peer_port"), want_chip, 1 - p);
				ok = 0;
			}
		}
	}
	return ok;
}

static void wait_ring_up(struct ctx *c)
{
	uint64_t t0 = ld_now_ns();

	while (!all_ring_ports_up(c, 0)) {
		if (ld_now_ns() - t0 > TRAIN_WAIT_MS * 1000000ull) {
			all_ring_ports_up(c, 1);
			fail_msg("ring ports not all up after %d ms", TRAIN_WAIT_MS);
		}
		usleep(20 * 1000);
	}
	printf("# all %d ring ports up after %.0f ms of waiting\n", 2 * c->cards,
	       (ld_now_ns() - t0) / 1e6);
}

/* Write @val to links/port<p>/enabled of every card's ring ports. */
static void ring_ports_enable(struct ctx *c, const char *val)
{
	char path[192];

	for (int i = 0; i < c->cards; i++)
		for (int p = 0; p < 2; p++) {
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%d/enabled",
				 c->pci[i], p);
			assert_int_equal(gu_write_sysfs(path, val), 0);
		}
}

static void test_ring_trains(void **state)
{
	struct ctx *c = *state;
	uint64_t t0, took;
	char st[32];

	if (!c->cards)
		skip();
	assert_true(c->cards >= 2);
	assert_int_not_equal(card_of(c, 0), -1);
	wait_ring_up(c);

	/* Training from scratch: disable every ring port, then enable them. */
	ring_ports_enable(c, "0");
	for (int i = 0; i < c->cards; i++)
		for (int p = 0; p < 2; p++) {
			assert_int_equal(attr_read(c->pci[i], p, "state", st, sizeof(st)), 0);
			assert_string_equal(st, "down");
		}
	t0 = ld_now_ns();
	ring_ports_enable(c, "1");
	while (!all_ring_ports_up(c, 0)) {
		assert_true(ld_now_ns() - t0 < TRAIN_WAIT_MS * 1000000ull);
		usleep(5 * 1000);
	}
	took = ld_now_ns() - t0;
	printf("# %d ring ports trained from down to up in %.0f ms (target: 2000 ms)\n",
	       2 * c->cards, took / 1e6);
	assert_true(took < 2 * LD_SEC_NS);
	/* Uncabled ports: down, dark, but enabled. */
	for (int i = 0; i < c->cards; i++) {
		for (int p = 2; p < LUMEN_LINK_PORTS_DEFAULT; p++) {
			assert_int_equal(attr_read(c->pci[i], p, "state", st, sizeof(st)), 0);
			assert_string_equal(st, "down");
			assert_int_equal(attr_num(c->pci[i], p, "light"), 0);
			assert_int_equal(attr_num(c->pci[i], p, "enabled"), 1);
			assert_int_equal(attr_num(c->pci[i], p, "peer_chip"), -1);
		}
		assert_true(attr_num(c->pci[i], 0, "tx_frames") > 0);
		assert_true(attr_num(c->pci[i], 0, "rx_frames") > 0);
	}
}

static void test_npu_smi_link(void **state)
{
	struct ctx *c = *state;
	char *out, *p;
	int ups = 0, downs = 0;

	if (!c->cards)
		skip();
	wait_ring_up(c);
	assert_int_equal(gu_system("npu-smi link --json > /tmp/link.json"), 0);
	out = ld_read_file("/tmp/link.json");
	assert_non_null(out);
	for (p = out; (p = strstr(p, "\"state\": \"up\"")); p++)
		ups++;
	for (p = out; (p = strstr(p, "\"state\": \"down\"")); p++)
		downs++;
	free(out);
	assert_int_equal(ups, 2 * c->cards);
	assert_int_equal(downs, (LUMEN_LINK_PORTS_DEFAULT - 2) * c->cards);
	assert_int_equal(gu_system("npu-smi link"), 0);
}

/* One JSON command to lumen-fabric through the harness's channel. */
static int fabric_cmd(const char *json, char *reply, size_t len)
{
	const char *ctl = getenv("LUMEN_FABRIC_CTL");
	struct pollfd pfd;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (!ctl)
		return -ENOENT;
	fd = open(ctl, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, json, strlen(json)) != (ssize_t)strlen(json) || write(fd, "\n", 1) != 1) {
		close(fd);
		return -EIO;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (got + 1 < len && poll(&pfd, 1, 5000) > 0) {
		n = read(fd, reply + got, len - got - 1);
		if (n <= 0)
			break;
		got += n;
		if (memchr(reply, '\n', got))
			break;
	}
	reply[got] = '\0';
	close(fd);
	return strstr(reply, "\"ok\":true") ? 0 : -EIO;
}

static int uevent_open(void)
{
	int fd = gu_uevent_open();

	assert_true(fd >= 0);
	return fd;
}

/* A LUMEN_EVENT=link uevent with LUMEN_LINK_STATE=@state queued on @fd? */
static int link_uevent_seen(int fd, const char *state)
{
	char want[64];

	snprintf(want, sizeof(want), "LUMEN_LINK_STATE=%s", state);
	return gu_uevent_seen(fd, "LUMEN_EVENT=link", want, 0);
}

static void test_cut_and_restore(void **state)
{
	struct ctx *c = *state;
	char reply[4096], st[32];
	int i0, i1, ev;
	long downs;
	uint64_t t0;

	if (!c->cards)
		skip();
	wait_ring_up(c);
	i0 = card_of(c, 0);
	i1 = card_of(c, 1);
	assert_true(i0 >= 0 && i1 >= 0);
	ev = uevent_open();
	downs = attr_num(c->pci[i0], 0, "down_events");
	/* The fiber between chip 0 (+x) and chip 1 (-x). */
	if (fabric_cmd("{\"cmd\":\"cut\",\"port\":\"0.+x\"}", reply, sizeof(reply)) == -ENOENT) {
		close(ev);
		printf("# no fabric control channel in this guest\n");
		skip();
	}
	t0 = ld_now_ns();
	for (;;) {
		assert_int_equal(attr_read(c->pci[i0], 0, "state", st, sizeof(st)), 0);
		if (!strcmp(st, "down"))
			break;
		assert_true(ld_now_ns() - t0 < 5 * LD_SEC_NS);
		usleep(10 * 1000);
	}
	assert_int_equal(attr_num(c->pci[i0], 0, "light"), 0);
	assert_int_equal(attr_num(c->pci[i0], 0, "down_events"), downs + 1);
	assert_true(link_uevent_seen(ev, "down"));
	/* The other ports keep running. */
	assert_int_equal(attr_read(c->pci[i0], 1, "state", st, sizeof(st)), 0);
	assert_string_equal(st, "up");

	assert_int_equal(fabric_cmd("{\"cmd\":\"restore\",\"port\":\"0.+x\"}", reply,
				    sizeof(reply)), 0);
	wait_ring_up(c);
	assert_true(link_uevent_seen(ev, "up"));
	close(ev);
	(void)i1;
}

static void test_retrain_after_reset(void **state)
{
	struct ctx *c = *state;
	char dbg[128], path[192], buf[32];

	if (!c->cards)
		skip();
	wait_ring_up(c);
	assert_int_equal(ld_debugfs_dir(0, dbg, sizeof(dbg)), 0);
	snprintf(path, sizeof(path), "%s/force_reset", dbg);
	assert_int_equal(gu_write_sysfs(path, "1"), 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/state", c->pci[0]);
	assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ok");
	wait_ring_up(c);
}

/* After a system suspend the ports still report their changes. */
static void test_link_events_after_suspend(void **state)
{
	struct ctx *c = *state;
	char reply[4096], st[32];
	int i0, ev, ret;
	uint64_t t0;

	if (!c->cards)
		skip();
	wait_ring_up(c);
	ret = gu_pm_cycle();
	if (ret == -ENOENT || ret == -EINVAL || ret == -EOPNOTSUPP)
		skip();
	assert_int_equal(ret, 0);
	wait_ring_up(c);
	i0 = card_of(c, 0);
	ev = uevent_open();
	assert_int_equal(fabric_cmd("{\"cmd\":\"cut\",\"port\":\"0.+x\"}", reply,
				    sizeof(reply)), 0);
	t0 = ld_now_ns();
	do {
		assert_int_equal(attr_read(c->pci[i0], 0, "state", st, sizeof(st)), 0);
		assert_true(ld_now_ns() - t0 < 5 * LD_SEC_NS);
		usleep(10 * 1000);
	} while (strcmp(st, "down"));
	assert_true(link_uevent_seen(ev, "down"));
	close(ev);
	assert_int_equal(fabric_cmd("{\"cmd\":\"restore\",\"port\":\"0.+x\"}", reply,
				    sizeof(reply)), 0);
	wait_ring_up(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_trains),
		cmocka_unit_test(test_npu_smi_link),
		cmocka_unit_test(test_cut_and_restore),
		cmocka_unit_test(test_retrain_after_reset),
		cmocka_unit_test(test_link_events_after_suspend),
	};

	return cmocka_run_group_tests_name("link", tests, setup, teardown);
}
