// SPDX-License-Identifier: MIT
/*
 * liblumen devices and contexts (rt_device): lumen_device_count() equals the
 * Lumen PCI functions bound to lumen.ko; device indices follow PCI address
 * order, the order of `npu-smi info`; properties match sysfs; versioned
 * struct_size handling (an older caller gets only its prefix, a newer one
 * nothing past the known struct); bad arguments fail with the exact status
 * and a message; status strings and the library version.
 */
#include <errno.h>
#include <unistd.h>

#include "guest_util.h"
#include "rt_test.h"

static int bound_pci(char pci[GU_MAX_CARDS][16])
{
	char all[GU_MAX_CARDS][16];
	int n = gu_list_pci(all), m = 0;

	for (int i = 0; i < n; i++)
		if (gu_is_bound(all[i]))
			memcpy(pci[m++], all[i], 16);
	return m;
}

static void test_count(void **state)
{
	char pci[GU_MAX_CARDS][16];
	const char *env = getenv("LUMEN_TEST_CARDS");
	int n = -1, want = bound_pci(pci);

	(void)state;
	RT_OK(lumen_device_count(&n));
	assert_int_equal(n, want);
	assert_true(n >= 1);
	if (env)
		assert_int_equal(n, atoi(env));
	/* Stable. */
	RT_OK(lumen_device_count(&n));
	assert_int_equal(n, want);
}

static void test_version_and_strings(void **state)
{
	static const struct {
		lumen_status_t s;
		const char *name;
	} names[] = {
		{ LUMEN_SUCCESS, "LUMEN_SUCCESS" },
		{ LUMEN_ERROR_INVALID_ARGUMENT, "LUMEN_ERROR_INVALID_ARGUMENT" },
		{ LUMEN_ERROR_INVALID_HANDLE, "LUMEN_ERROR_INVALID_HANDLE" },
		{ LUMEN_ERROR_OUT_OF_MEMORY, "LUMEN_ERROR_OUT_OF_MEMORY" },
		{ LUMEN_ERROR_OUT_OF_DEVICE_MEMORY, "LUMEN_ERROR_OUT_OF_DEVICE_MEMORY" },
		{ LUMEN_ERROR_NO_DEVICE, "LUMEN_ERROR_NO_DEVICE" },
		{ LUMEN_ERROR_NOT_READY, "LUMEN_ERROR_NOT_READY" },
		{ LUMEN_ERROR_DEVICE_FAULT, "LUMEN_ERROR_DEVICE_FAULT" },
		{ LUMEN_ERROR_TIMEOUT, "LUMEN_ERROR_TIMEOUT" },
		{ LUMEN_ERROR_WRONG_DEVICE, "LUMEN_ERROR_WRONG_DEVICE" },
		{ LUMEN_ERROR_BUSY, "LUMEN_ERROR_BUSY" },
		{ LUMEN_ERROR_NOT_SUPPORTED, "LUMEN_ERROR_NOT_SUPPORTED" },
		{ LUMEN_ERROR_SYSTEM, "LUMEN_ERROR_SYSTEM" },
		{ LUMEN_ERROR_DEVICE_ERROR, "LUMEN_ERROR_DEVICE_ERROR" },
		{ LUMEN_ERROR_DRIVER_VERSION, "LUMEN_ERROR_DRIVER_VERSION" },
	};
	const char *unknown;

	(void)state;
	assert_int_equal(lumen_get_version(),
			 LUMEN_VERSION_MAJOR << 16 | LUMEN_VERSION_MINOR << 8 | LUMEN_VERSION_PATCH);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_non_null(lumen_status_string(names[i].s));
		assert_string_equal(lumen_status_string(names[i].s), names[i].name);
	}
	/* An unknown value still gives a string, never NULL. */
	unknown = lumen_status_string((lumen_status_t)12345);
	assert_non_null(unknown);
	/* docs/runtime-api.md: "LUMEN_ERROR_UNKNOWN" for codes it does not know. */
	assert_string_equal(unknown, "LUMEN_ERROR_UNKNOWN");
	assert_string_equal(lumen_status_string((lumen_status_t)-1), "LUMEN_ERROR_UNKNOWN");
	/* A thread that never failed reads "". */
	assert_non_null(lumen_get_last_error());
}

/* pci_address of each device in `npu-smi info --json` order. */
static int npu_smi_order(char pci[GU_MAX_CARDS][16])
{
	FILE *p = popen("npu-smi info --json 2>/dev/null", "r");
	char line[512];
	int n = 0;

	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		char *k = strstr(line, "\"pci_address\"");
		char *q1, *q2;

		if (!k)
			continue;
		q1 = strchr(k + 13, '"');
		q2 = q1 ? strchr(q1 + 1, '"') : NULL;
		if (!q1 || !q2 || n >= GU_MAX_CARDS)
			continue;
		snprintf(pci[n++], 16, "%.*s", (int)(q2 - q1 - 1), q1 + 1);
	}
	if (pclose(p) != 0)
		return -1;
	return n;
}

static void test_props(void **state)
{
	char pci[GU_MAX_CARDS][16], smi[GU_MAX_CARDS][16];
	int n = 0, nsmi;

	(void)state;
	RT_OK(lumen_device_count(&n));
	assert_int_equal(n, bound_pci(pci));
	nsmi = npu_smi_order(smi);
	if (nsmi < 0)
		fail_msg("npu-smi info --json failed (is build/bin on PATH?)");
	assert_int_equal(nsmi, n);
	for (int i = 0; i < n; i++) {
		lumen_device_props_t pr;
		lumen_device_t d = NULL, d2 = NULL;
		char path[320], buf[64];

		RT_OK(lumen_device_get(i, &d));
		assert_non_null(d);
		RT_OK(lumen_device_get(i, &d2));
		assert_ptr_equal(d, d2); /* same handle every call */
		memset(&pr, 0x5a, sizeof(pr));
		LUMEN_STRUCT_INIT(pr);
		RT_OK(lumen_device_get_props(d, &pr));
		assert_int_equal(pr.struct_size, sizeof(pr));
		assert_int_equal(pr.index, i);
		assert_non_null(memchr(pr.pci_address, 0, sizeof(pr.pci_address)));
		assert_string_equal(pr.pci_address, pci[i]);	/* sorted PCI order */
		assert_string_equal(pr.pci_address, smi[i]);	/* npu-smi's order */
		if (i > 0) {
			lumen_device_props_t prev;
			lumen_device_t pd;

			RT_OK(lumen_device_get(i - 1, &pd));
			assert_ptr_not_equal(pd, d);
			LUMEN_STRUCT_INIT(prev);
			RT_OK(lumen_device_get_props(pd, &prev));
			assert_true(strcmp(prev.pci_address, pr.pci_address) < 0);
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/serial", pci[i]);
		assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
		assert_non_null(memchr(pr.serial, 0, sizeof(pr.serial)));
		assert_string_equal(pr.serial, buf);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/mem_size", pci[i]);
		assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
		assert_int_equal(pr.memory_total, strtoull(buf, NULL, 10));
		assert_true(pr.memory_total > 0);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/chip_id", pci[i]);
		assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
		assert_int_equal(pr.chip_id, strtoul(buf, NULL, 0));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/fw_version", pci[i]);
		assert_int_equal(gu_read_sysfs(path, buf, sizeof(buf)), 0);
		assert_string_equal(pr.firmware_version, buf);
		{
			char want[32];

			/* lumen.ko reports its uAPI version (DRM_IOCTL_VERSION). */
			snprintf(want, sizeof(want), "%d.%d.0", DRM_LUMEN_UAPI_MAJOR,
				 DRM_LUMEN_UAPI_MINOR);
			assert_string_equal(pr.driver_version, want);
		}
		assert_true(pr.num_queues >= 1 && pr.num_queues <= 64);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", pci[i]);
		if (gu_read_sysfs(path, buf, sizeof(buf)) == 0)
			assert_int_equal(pr.numa_node, atoi(buf));
		printf("# device %d: %s serial %s chip %u fw %s, %u queues, %llu MiB\n", i,
		       pr.pci_address, pr.serial, pr.chip_id, pr.firmware_version, pr.num_queues,
		       (unsigned long long)(pr.memory_total >> 20));
	}
}

static void test_struct_size(void **state)
{
	lumen_device_props_t full, pr;
	struct {
		lumen_device_props_t p;
		unsigned char tail[64];
	} big;
	lumen_device_t d;
	size_t cut = offsetof(lumen_device_props_t, serial);
	const unsigned char *b;

	(void)state;
	RT_OK(lumen_device_get(0, &d));
	LUMEN_STRUCT_INIT(full);
	RT_OK(lumen_device_get_props(d, &full));

	/* An older caller knowing the fields up to pci_address: only its prefix. */
	memset(&pr, 0xab, sizeof(pr));
	pr.struct_size = cut;
	RT_OK(lumen_device_get_props(d, &pr));
	assert_int_equal(pr.struct_size, cut);
	assert_int_equal(pr.index, 0);
	assert_string_equal(pr.pci_address, full.pci_address);
	b = (const unsigned char *)&pr;
	for (size_t i = cut; i < sizeof(pr); i++)
		if (b[i] != 0xab)
			fail_msg("byte %zu past struct_size %zu was written (0x%02x)", i, cut, b[i]);

	/* Cut in the middle of a field: that field is not written either. */
	memset(&pr, 0xab, sizeof(pr));
	pr.struct_size = offsetof(lumen_device_props_t, memory_total) + 4;
	RT_OK(lumen_device_get_props(d, &pr));
	assert_string_equal(pr.serial, full.serial);
	b = (const unsigned char *)&pr;
	for (size_t i = offsetof(lumen_device_props_t, memory_total) + 4; i < sizeof(pr); i++)
		assert_int_equal(b[i], 0xab);

	/* A newer caller with a bigger struct: everything known, nothing past it. */
	memset(&big, 0xcd, sizeof(big));
	big.p.struct_size = sizeof(big);
	RT_OK(lumen_device_get_props(d, &big.p));
	assert_string_equal(big.p.serial, full.serial);
	assert_int_equal(big.p.memory_total, full.memory_total);
	for (size_t i = 0; i < sizeof(big.tail); i++)
		assert_int_equal(big.tail[i], 0xcd);
}

static void test_bad_args(void **state)
{
	lumen_device_props_t pr;
	lumen_device_t d = (lumen_device_t)(uintptr_t)0x1234, d0;
	lumen_context_t c = (lumen_context_t)(uintptr_t)0x1234;
	int n = 0;

	(void)state;
	RT_OK(lumen_device_count(&n));
	RT_FAIL(lumen_device_count(NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_device_get(-1, &d), LUMEN_ERROR_NO_DEVICE);
	assert_ptr_equal(d, (lumen_device_t)(uintptr_t)0x1234); /* out-pointer untouched */
	RT_FAIL(lumen_device_get(n, &d), LUMEN_ERROR_NO_DEVICE);
	RT_FAIL(lumen_device_get(n + 100, &d), LUMEN_ERROR_NO_DEVICE);
	RT_FAIL(lumen_device_get(1 << 30, &d), LUMEN_ERROR_NO_DEVICE);
	assert_ptr_equal(d, (lumen_device_t)(uintptr_t)0x1234);
	RT_FAIL(lumen_device_get(0, NULL), LUMEN_ERROR_INVALID_ARGUMENT);

	RT_OK(lumen_device_get(0, &d0));
	LUMEN_STRUCT_INIT(pr);
	RT_FAIL(lumen_device_get_props(NULL, &pr), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_device_get_props(d0, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	memset(&pr, 0xee, sizeof(pr));
	pr.struct_size = 0;
	RT_FAIL(lumen_device_get_props(d0, &pr), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_int_equal(pr.index, (int)0xeeeeeeee); /* nothing written */

	RT_FAIL(lumen_context_create(NULL, &c), LUMEN_ERROR_INVALID_HANDLE);
	assert_ptr_equal(c, (lumen_context_t)(uintptr_t)0x1234);
	RT_FAIL(lumen_context_create(d0, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_context_destroy(NULL), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_context_get_device(NULL, &d), LUMEN_ERROR_INVALID_HANDLE);

	/* The message stays until this thread's next failing call, even across
	 * successful ones. */
	RT_FAIL(lumen_device_get(-7, &d), LUMEN_ERROR_NO_DEVICE);
	{
		char saved[256];

		snprintf(saved, sizeof(saved), "%s", lumen_get_last_error());
		RT_OK(lumen_device_count(&n));
		assert_string_equal(lumen_get_last_error(), saved);
	}
}

static void *other_thread_msg(void *arg)
{
	char *out = arg;

	/* A fresh thread has no message; its own failure does not touch ours. */
	snprintf(out, 256, "%s", lumen_get_last_error());
	(void)lumen_device_count(NULL);
	return NULL;
}

static void test_last_error_thread_local(void **state)
{
	lumen_device_t d;
	pthread_t t;
	char other[256] = "x", mine[256];

	(void)state;
	RT_FAIL(lumen_device_get(-1, &d), LUMEN_ERROR_NO_DEVICE);
	snprintf(mine, sizeof(mine), "%s", lumen_get_last_error());
	assert_int_equal(pthread_create(&t, NULL, other_thread_msg, other), 0);
	pthread_join(t, NULL);
	assert_string_equal(other, "");
	assert_string_equal(lumen_get_last_error(), mine);
}

static void test_contexts(void **state)
{
	int n = 0;

	(void)state;
	RT_OK(lumen_device_count(&n));
	for (int i = 0; i < n; i++) {
		lumen_device_t d, back = NULL;
		lumen_context_t c1, c2;
		lumen_fault_t f;

		RT_OK(lumen_device_get(i, &d));
		RT_OK(lumen_context_create(d, &c1));
		RT_OK(lumen_context_create(d, &c2));
		assert_ptr_not_equal(c1, c2);
		RT_OK(lumen_context_get_device(c1, &back));
		assert_ptr_equal(back, d);
		RT_FAIL(lumen_context_get_device(c1, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
		memset(&f, 0x77, sizeof(f));
		LUMEN_STRUCT_INIT(f);
		RT_OK(lumen_context_get_fault(c1, &f));
		assert_int_equal(f.status, LUMEN_SUCCESS);
		assert_int_equal(f.kind, LUMEN_FAULT_NONE);
		RT_FAIL(lumen_context_get_fault(c1, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
		f.struct_size = 0;
		RT_FAIL(lumen_context_get_fault(c1, &f), LUMEN_ERROR_INVALID_ARGUMENT);
		RT_OK(lumen_context_destroy(c2));
		RT_OK(lumen_context_destroy(c1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_version_and_strings),
		cmocka_unit_test(test_props),
		cmocka_unit_test(test_struct_size),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_last_error_thread_local),
		cmocka_unit_test(test_contexts),
	};

	return cmocka_run_group_tests_name("rt_device", tests, NULL, NULL);
}
