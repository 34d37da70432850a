// SPDX-License-Identifier: MIT
/* GET_PARAM and QUERY ioctls: values, size semantics and bad arguments. */
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
#include <xf86drm.h>
#include <cmocka.h>

#include <drm/lumen_accel.h>

#include "guest_util.h"
#include "lumen/lumen_regs.h"

struct ctx {
	char pci[GU_MAX_CARDS][16];
	int n;
	int fd;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->n = gu_list_pci(c->pci);
	c->fd = c->n ? gu_open_card(c->pci[0]) : -1;
	*state = c;
	return c->fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	close(c->fd);
	free(c);
	return 0;
}

static int get_param(int fd, uint32_t param, uint64_t *value)
{
	struct drm_lumen_get_param gp = { .param = param };
	int ret = ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp);

	if (ret == 0 && value)
		*value = gp.value;
	return ret ? -errno : 0;
}

static int query(int fd, struct drm_lumen_query *q)
{
	return ioctl(fd, DRM_IOCTL_LUMEN_QUERY, q) ? -errno : 0;
}

/* Size of a BAR from the PCI core's "resource" table (start end flags). */
static uint64_t bar_size(const char *pci, int bar)
{
	unsigned long long start = 0, end = 0, flags;
	char path[128];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", pci);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= bar; i++) {
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3) {
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return end > start ? end - start + 1 : 0;
}

static void test_version(void **state)
{
	struct ctx *c = *state;
	drmVersionPtr v = drmGetVersion(c->fd);

	assert_non_null(v);
	assert_string_equal(v->name, "lumen");
	assert_int_equal(v->version_major, DRM_LUMEN_UAPI_MAJOR);
	assert_int_equal(v->version_minor, DRM_LUMEN_UAPI_MINOR);
	drmFreeVersion(v);
}

static void test_params(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 0;

	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_PCI_DEVICE_ID, &v), 0);
	assert_int_equal(v, LUMEN_PCI_DEVICE_ID);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_PCI_REVISION, &v), 0);
	assert_int_equal(v, LUMEN_PCI_REVISION);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_HW_VERSION, &v), 0);
	assert_int_equal(v >> 16, LUMEN_HW_VERSION_MAJOR);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_FW_ABI_VERSION, &v), 0);
	assert_int_equal(v >> 16, 1);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_FW_VERSION, &v), 0);
	assert_int_equal(v, 0x010000);	/* the 1.0.0 image the build makes */
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_NUM_QUEUES, &v), 0);
	assert_int_equal(v, LUMEN_QUEUES_DEFAULT);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_NUM_LINK_PORTS, &v), 0);
	assert_int_equal(v, LUMEN_LINK_PORTS_DEFAULT);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_CAPABILITIES, &v), 0);
	assert_true(v & DRM_LUMEN_CAP_MAILBOX);
	assert_true(v & DRM_LUMEN_CAP_TELEMETRY);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_NUM_CONTEXTS, &v), 0);
	assert_true(v >= 1);

	/* Memory size equals the BAR the PCI core sized. */
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_MEM_SIZE, &v), 0);
	assert_int_equal(v, LUMEN_MEM_SIZE_DEFAULT);
	assert_int_equal(bar_size(c->pci[0], LUMEN_BAR_MEM), v);
}

static void test_chip_ids_follow_cards(void **state)
{
	struct ctx *c = *state;
	uint64_t ids[GU_MAX_CARDS];
	int i, j;

	for (i = 0; i < c->n; i++) {
		int fd = gu_open_card(c->pci[i]);

		assert_true(fd >= 0);
		assert_int_equal(get_param(fd, DRM_LUMEN_PARAM_CHIP_ID, &ids[i]), 0);
		close(fd);
	}
	for (i = 0; i < c->n; i++)
		for (j = i + 1; j < c->n; j++)
			assert_true(ids[i] != ids[j]);
}

static void test_param_bad_args(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_get_param gp = { .param = DRM_LUMEN_PARAM_CHIP_ID, .reserved = 1 };

	assert_int_equal(get_param(c->fd, 0xffff, NULL), -EINVAL);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_NUM_CONTEXTS + 1, NULL), -EINVAL);
	assert_int_equal(ioctl(c->fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp), -1);
	assert_int_equal(errno, EINVAL);
	/* An unmapped argument pointer is EFAULT, not a crash. */
	assert_int_equal(ioctl(c->fd, DRM_IOCTL_LUMEN_GET_PARAM, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
}

static void test_query_device_info(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_device_info info;
	struct drm_lumen_query q = { .type = DRM_LUMEN_QUERY_DEVICE_INFO };
	uint64_t mem;

	/* Size 0 asks for the size and writes nothing. */
	assert_int_equal(query(c->fd, &q), 0);
	assert_int_equal(q.size, sizeof(info));

	memset(&info, 0xa5, sizeof(info));
	q.size = sizeof(info);
	q.data = (uintptr_t)&info;
	assert_int_equal(query(c->fd, &q), 0);
	assert_int_equal(q.size, sizeof(info));
	assert_int_equal(info.pci_vendor_id, LUMEN_PCI_VENDOR_ID);
	assert_int_equal(info.pci_device_id, LUMEN_PCI_DEVICE_ID);
	assert_int_equal(info.fw_version, 0x010000);
	assert_int_equal(info.num_queues, LUMEN_QUEUES_DEFAULT);
	assert_int_equal(get_param(c->fd, DRM_LUMEN_PARAM_MEM_SIZE, &mem), 0);
	assert_int_equal(info.mem_size, mem);
	assert_true(memchr(info.serial, 0, sizeof(info.serial)) != NULL);
	assert_true(strlen(info.serial) > 0);
	assert_string_equal(info.fw_build_id, "lumen-n1-fw-1.0.0");
}

static void test_query_prefix(void **state)
{
	struct ctx *c = *state;
	unsigned char buf[sizeof(struct drm_lumen_device_info) + 16];
	struct drm_lumen_query q = {
		.type = DRM_LUMEN_QUERY_DEVICE_INFO, .size = 8, .data = (uintptr_t)buf,
	};

	/* An older, shorter struct gets its prefix and nothing past it. */
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(query(c->fd, &q), 0);
	assert_int_equal(q.size, sizeof(struct drm_lumen_device_info));
	assert_int_equal(*(uint32_t *)buf, LUMEN_PCI_VENDOR_ID);
	assert_int_equal(buf[8], 0xa5);
	/* A larger buffer is filled up to the kernel's size only. */
	memset(buf, 0xa5, sizeof(buf));
	q.size = sizeof(buf);
	assert_int_equal(query(c->fd, &q), 0);
	assert_int_equal(q.size, sizeof(struct drm_lumen_device_info));
	assert_int_equal(buf[sizeof(buf) - 1], 0xa5);
}

static void test_query_telemetry(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_telemetry t;
	struct drm_lumen_query q = {
		.type = DRM_LUMEN_QUERY_TELEMETRY, .size = sizeof(t), .data = (uintptr_t)&t,
	};

	assert_int_equal(query(c->fd, &q), 0);
	assert_true(t.temp_mc > 20000 && t.temp_mc < t.temp_crit_mc);
	assert_true(t.power_mw > 0 && t.power_mw <= t.power_cap_mw);
	assert_true(t.clk_core_mhz > 0 && t.clk_mem_mhz > 0);
	assert_true(t.uptime_ns > 0);
}

static void test_query_bad_args(void **state)
{
	struct ctx *c = *state;
	struct drm_lumen_device_info info;
	struct drm_lumen_query q;
	void *ro;

	q = (struct drm_lumen_query){ .type = 99, .size = sizeof(info), .data = (uintptr_t)&info };
	assert_int_equal(query(c->fd, &q), -EINVAL);
	q = (struct drm_lumen_query){ .type = DRM_LUMEN_QUERY_DEVICE_INFO, .size = sizeof(info),
				      .data = (uintptr_t)&info, .flags = 1 };
	assert_int_equal(query(c->fd, &q), -EINVAL);
	q = (struct drm_lumen_query){ .type = DRM_LUMEN_QUERY_DEVICE_INFO, .size = sizeof(info),
				      .data = (uintptr_t)&info, .reserved = 0x100 };
	assert_int_equal(query(c->fd, &q), -EINVAL);
	/* Bad output pointers: NULL with a size, unmapped, read-only. */
	q = (struct drm_lumen_query){ .type = DRM_LUMEN_QUERY_DEVICE_INFO, .size = sizeof(info) };
	assert_int_equal(query(c->fd, &q), -EFAULT);
	q.data = 8;
	assert_int_equal(query(c->fd, &q), -EFAULT);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ro != MAP_FAILED);
	q.data = (uintptr_t)ro;
	assert_int_equal(query(c->fd, &q), -EFAULT);
	munmap(ro, 4096);
	/* The ioctl argument itself unreadable. */
	assert_int_equal(ioctl(c->fd, DRM_IOCTL_LUMEN_QUERY, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	/* An ioctl number past the driver's table. */
	assert_int_equal(ioctl(c->fd, DRM_IOWR(DRM_COMMAND_BASE + 0x3f, struct drm_lumen_query),
			       &q), -1);
	assert_true(errno == EINVAL || errno == ENOTTY);
}

static void test_log_clean(void **state)
{
	(void)state;
	assert_true(gu_log_clean());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_chip_ids_follow_cards),
		cmocka_unit_test(test_param_bad_args),
		cmocka_unit_test(test_query_device_info),
		cmocka_unit_test(test_query_prefix),
		cmocka_unit_test(test_query_telemetry),
		cmocka_unit_test(test_query_bad_args),
		cmocka_unit_test(test_log_clean),
	};

	gu_log_mark();
	return cmocka_run_group_tests_name("guest_query", tests, setup, teardown);
}
