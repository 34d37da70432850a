// SPDX-License-Identifier: MIT
#include "guest_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <unistd.h>

#include "lumen/lumen_regs.h"

static size_t log_mark;

static int read_hex(const char *path, unsigned long *out)
{
	char buf[32];

	if (gu_read_sysfs(path, buf, sizeof(buf)))
		return -1;
	*out = strtoul(buf, NULL, 16);
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	return strcmp(a, b);
}

int gu_list_pci(char addrs[GU_MAX_CARDS][16])
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < GU_MAX_CARDS) {
		char path[300];
		unsigned long ven, dev;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_hex(path, &ven) || ven != LUMEN_PCI_VENDOR_ID)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_hex(path, &dev) || dev != LUMEN_PCI_DEVICE_ID)
			continue;
		snprintf(addrs[n++], 16, "%.15s", e->d_name);
	}
	closedir(d);
	qsort(addrs, n, sizeof(addrs[0]), cmp_addr);
	return n;
}

int gu_is_bound(const char *pci)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/lumen/%s", pci);
	return access(path, F_OK) == 0;
}

int gu_accel_node(const char *pci, char *buf, size_t len)
{
	char path[128];
	struct dirent *e;
	DIR *d;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/accel", pci);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "accel", 5)) {
			snprintf(buf, len, "/dev/accel/%s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

int gu_open_card(const char *pci)
{
	char node[64];

	if (gu_accel_node(pci, node, sizeof(node)))
		return -1;
	return open(node, O_RDWR | O_CLOEXEC);
}

int gu_write_sysfs(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

int gu_read_sysfs(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int gu_bind(const char *pci)
{
	return gu_write_sysfs("/sys/bus/pci/drivers/lumen/bind", pci);
}

int gu_unbind(const char *pci)
{
	return gu_write_sysfs("/sys/bus/pci/drivers/lumen/unbind", pci);
}

int gu_set_firmware(const char *name)
{
	return gu_write_sysfs("/sys/module/lumen/parameters/firmware", name);
}

int gu_system(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static char *read_log(size_t *len)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n;

	if (size <= 0)
		return NULL;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return NULL;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

void gu_log_mark(void)
{
	size_t len = 0;
	char *buf = read_log(&len);

	log_mark = len;
	free(buf);
}

static int log_since_mark_has(const char *needle)
{
	size_t len = 0;
	char *buf = read_log(&len);
	int found;

	if (!buf)
		return 0;
	/* The ring buffer may have wrapped; then search all of it. */
	found = strstr(buf + (log_mark <= len ? log_mark : 0), needle) != NULL;
	free(buf);
	return found;
}

int gu_log_contains(const char *needle)
{
	return log_since_mark_has(needle);
}

int gu_log_clean(void)
{
	static const char *const bad[] = {
		"Oops", "BUG:", "WARNING:", "cut here", "possible circular locking",
		"general protection", "KASAN", "UBSAN", "leaked", "kmemleak",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (log_since_mark_has(bad[i])) {
			fprintf(stderr, "kernel log since mark contains '%s'\n", bad[i]);
			return 0;
		}
	}
	return 1;
}

int gu_pm_cycle(void)
{
	char states[64];
	const char *state;
	int ret;

	if (gu_read_sysfs("/sys/power/state", states, sizeof(states)))
		return -ENOENT;
	state = strstr(states, "freeze") ? "freeze" : "mem";
	ret = gu_write_sysfs("/sys/power/pm_test", "devices");
	if (ret)
		return ret;
	ret = gu_write_sysfs("/sys/power/state", state);
	gu_write_sysfs("/sys/power/pm_test", "none");
	return ret;
}

int gu_uevent_open(void)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int gu_uevent_seen(int fd, const char *event, const char *key, int prefix)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t klen = strlen(key);
	char buf[4096];

	while (poll(&p, 1, 2000) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		int ev = 0, kv = 0;

		if (n <= 0)
			break;
		buf[n] = '\0';
		/* "action@devpath\0KEY=VALUE\0..." */
		for (char *s = buf; s < buf + n; s += strlen(s) + 1) {
			ev |= !strcmp(s, event);
			kv |= prefix ? !strncmp(s, key, klen) : !strcmp(s, key);
		}
		if (ev && kv)
			return 1;
	}
	return 0;
}
