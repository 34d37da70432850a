// SPDX-License-Identifier: MIT
/*
 * lumen-smi-holder DEVNODE MIB: a process using a card, for npu-smi's guest
 * tests (tests/smi/guest.sh). Opens the accel node, creates a device-memory
 * BO of MIB MiB (so fdinfo shows memory), prints "holder: ready" and then
 * queries the card every 20 ms. When an ioctl fails (the card was reset
 * under it: -ENODEV) it prints "holder: ioctl failed: <errno>" and exits 3;
 * SIGTERM ends it with 0.
 *
 * lumen-smi-holder --info: what `npu-smi info` shows, the old way, through
 * the device nodes: opens every /dev/accel/accelN and queries identity and
 * telemetry, one line per card (the baseline of npu-smi's benchmark).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/lumen_accel.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int query(int fd, __u32 type, void *data, __u32 size)
{
	struct drm_lumen_query q = { .type = type, .size = size, .data = (unsigned long)data };

	return ioctl(fd, DRM_IOCTL_LUMEN_QUERY, &q);
}

static int info_all(void)
{
	struct drm_lumen_device_info info;
	struct drm_lumen_telemetry tel;
	struct dirent *e;
	char path[300];
	DIR *d;
	int fd, rc = 0;

	d = opendir("/dev/accel");
	if (!d)
		return 1;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "accel", 5))
			continue;
		snprintf(path, sizeof(path), "/dev/accel/%s", e->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 || query(fd, DRM_LUMEN_QUERY_DEVICE_INFO, &info, sizeof(info)) ||
		    query(fd, DRM_LUMEN_QUERY_TELEMETRY, &tel, sizeof(tel))) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			rc = 1;
		} else {
			printf("%s %s %u %u mC %u mW\n", path, info.serial, info.chip_id,
			       tel.temp_mc, tel.power_mw);
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	struct drm_lumen_bo_create bo = { 0 };
	struct drm_lumen_device_info info;
	struct drm_lumen_query q = { 0 };
	int fd;

	if (argc == 2 && !strcmp(argv[1], "--info"))
		return info_all();
	if (argc != 3) {
		fprintf(stderr, "usage: lumen-smi-holder DEVNODE MIB\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "holder: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bo.size = strtoull(argv[2], NULL, 10) << 20;
	bo.flags = DRM_LUMEN_BO_DEVICE;
	if (bo.size && ioctl(fd, DRM_IOCTL_LUMEN_BO_CREATE, &bo)) {
		fprintf(stderr, "holder: BO_CREATE: %s\n", strerror(errno));
		return 1;
	}
	printf("holder: ready\n");
	fflush(stdout);
	while (!stop) {
		q.type = DRM_LUMEN_QUERY_DEVICE_INFO;
		q.size = sizeof(info);
		q.data = (unsigned long)&info;
		if (ioctl(fd, DRM_IOCTL_LUMEN_QUERY, &q)) {
			printf("holder: ioctl failed: %d\n", errno);
			fflush(stdout);
			return 3;
		}
		usleep(20000);
	}
	return 0;
}
