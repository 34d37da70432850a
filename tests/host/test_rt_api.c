// SPDX-License-Identifier: MIT
// Host unit tests of liblumen paths that need no device: status strings,
// per-thread last error, device discovery with no card, NULL arguments and
// invalid handles.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include <lumen/lumen.h>

static void status_strings(void **state)
{
	(void)state;
	static const char *names[] = {
		"LUMEN_SUCCESS",
		"LUMEN_ERROR_INVALID_ARGUMENT",
		"LUMEN_ERROR_INVALID_HANDLE",
		"LUMEN_ERROR_OUT_OF_MEMORY",
		"LUMEN_ERROR_OUT_OF_DEVICE_MEMORY",
		"LUMEN_ERROR_NO_DEVICE",
		"LUMEN_ERROR_NOT_READY",
		"LUMEN_ERROR_DEVICE_FAULT",
		"LUMEN_ERROR_TIMEOUT",
		"LUMEN_ERROR_WRONG_DEVICE",
		"LUMEN_ERROR_BUSY",
		"LUMEN_ERROR_NOT_SUPPORTED",
		"LUMEN_ERROR_SYSTEM",
		"LUMEN_ERROR_DEVICE_ERROR",
		"LUMEN_ERROR_DRIVER_VERSION",
	};
	for (int i = 0; i <= LUMEN_ERROR_DRIVER_VERSION; i++)
		assert_string_equal(lumen_status_string((lumen_status_t)i), names[i]);
	assert_string_equal(lumen_status_string(LUMEN_ERROR_DEVICE_LOST), "LUMEN_ERROR_DEVICE_LOST");
	assert_int_equal(LUMEN_ERROR_REMOTE_ACCESS, 16);
	assert_int_equal(LUMEN_ERROR_UNREACHABLE, 17);
	assert_string_equal(lumen_status_string(LUMEN_ERROR_REMOTE_ACCESS),
			    "LUMEN_ERROR_REMOTE_ACCESS");
	assert_string_equal(lumen_status_string(LUMEN_ERROR_UNREACHABLE), "LUMEN_ERROR_UNREACHABLE");
	assert_int_equal(LUMEN_ERROR_INVALID_CHIP, 18);
	assert_int_equal(LUMEN_ERROR_FABRIC_UNAVAILABLE, 19);
	assert_string_equal(lumen_status_string(LUMEN_ERROR_INVALID_CHIP), "LUMEN_ERROR_INVALID_CHIP");
	assert_string_equal(lumen_status_string(LUMEN_ERROR_FABRIC_UNAVAILABLE),
			    "LUMEN_ERROR_FABRIC_UNAVAILABLE");
	assert_int_equal(LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED, 20);
	assert_string_equal(lumen_status_string(LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED),
			    "LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED");
	assert_non_null(lumen_status_string((lumen_status_t)999));
	assert_int_equal(lumen_get_version(), 1u << 16 | 1u << 8);
}

/* The window descriptor is wire format: peers exchange it as bytes. */
static void window_desc_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(lumen_window_desc_t), 48);
	assert_int_equal(offsetof(lumen_window_desc_t, magic), 0);
	assert_int_equal(offsetof(lumen_window_desc_t, chip_id), 4);
	assert_int_equal(offsetof(lumen_window_desc_t, window), 8);
	assert_int_equal(offsetof(lumen_window_desc_t, rights), 12);
	assert_int_equal(offsetof(lumen_window_desc_t, key), 16);
	assert_int_equal(offsetof(lumen_window_desc_t, size), 24);
	assert_int_equal(offsetof(lumen_window_desc_t, base), 32);
	assert_int_equal(offsetof(lumen_window_desc_t, reserved), 40);
	assert_memory_equal(&(uint32_t){LUMEN_WINDOW_DESC_MAGIC}, "LWIN", 4);
}

/* Peer calls check their handles and pointers before anything else. */
static void peer_api_without_device(void **state)
{
	(void)state;
	lumen_stream_t bogus_stream = (lumen_stream_t)(uintptr_t)0xdead0;
	lumen_context_t bogus_ctx = (lumen_context_t)(uintptr_t)0xdead0;
	lumen_window_t w = NULL;
	lumen_window_desc_t d = {0};
	lumen_link_info_t li;
	uint32_t chip = 7;

	LUMEN_STRUCT_INIT(li);
	assert_int_equal(lumen_device_get_chip_id(NULL, &chip), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(chip, 7);
	assert_int_equal(lumen_device_get_link_info(NULL, &li), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_window_open(bogus_ctx, 0x100000000ull, 4096, LUMEN_WINDOW_READ, &w),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_null(w);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_window_open: context handle"));
	assert_int_equal(lumen_window_get_desc(NULL, &d), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_window_close(NULL), LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_window_close: window handle is NULL"));
	assert_int_equal(lumen_remote_write_async(bogus_stream, &d, 0, 0x100000000ull, 1),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_remote_read_async(NULL, 0x100000000ull, &d, 0, 1),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_remote_atomic_async(NULL, &d, 0, LUMEN_ATOMIC_FETCH_ADD, 1, 0),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_remote_atomic_async: stream handle"));
	assert_int_equal(lumen_reduce_async(bogus_stream, 0x100000000ull, 0x100000000ull, 4,
					    LUMEN_DTYPE_F32, LUMEN_REDUCE_SUM),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_reduce_async: stream handle"));
	assert_int_equal(lumen_remote_reduce_async(NULL, &d, 0, 0x100000000ull, 4,
						   LUMEN_DTYPE_BF16, LUMEN_REDUCE_MAX),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(
		strstr(lumen_get_last_error(), "lumen_remote_reduce_async: stream handle"));
	int can = 5;
	uint32_t caps = 5;
	assert_int_equal(lumen_device_can_access_peer(NULL, 0, &can, &caps),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_context_enable_peer_access(bogus_ctx, bogus_ctx),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_context_enable_peer_access: context"));
	assert_int_equal(lumen_context_disable_peer_access(NULL, bogus_ctx),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_memcpy_peer_async(bogus_stream, bogus_ctx, 0x100000000ull, bogus_ctx,
						 0x100000000ull, 1),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_memcpy_peer_async: stream handle"));
	lumen_fabric_handle_t fh;
	lumen_devptr_t rp = 0;
	memset(&fh, 0, sizeof(fh));
	assert_int_equal(lumen_mem_export_fabric(bogus_ctx, 0x100000000ull, 4096,
						 LUMEN_WINDOW_READ, &fh),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_mem_import_fabric(bogus_ctx, &fh, &rp), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_mem_revoke_fabric(NULL, &fh), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_mem_release_fabric(NULL, 1ull << 63), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(rp, 0);
	assert_int_equal(lumen_stream_wait_value64(bogus_stream, 0x100000000ull, 1),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_stream_write_value64(NULL, 0x100000000ull, 1),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_stream_write_value64: stream handle"));
	lumen_context_t sc = bogus_ctx;
	assert_int_equal(lumen_stream_get_context(bogus_stream, &sc), LUMEN_ERROR_INVALID_HANDLE);
	assert_ptr_equal(sc, bogus_ctx);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_stream_get_context: stream handle"));
}

/* The fabric handle is wire format too: 64 bytes, the window inside. */
static void fabric_handle_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(lumen_fabric_handle_t), 64);
	assert_int_equal(offsetof(lumen_fabric_handle_t, magic), 0);
	assert_int_equal(offsetof(lumen_fabric_handle_t, version), 4);
	assert_int_equal(offsetof(lumen_fabric_handle_t, window), 8);
	assert_int_equal(offsetof(lumen_fabric_handle_t, reserved), 56);
	assert_memory_equal(&(uint32_t){LUMEN_FABRIC_HANDLE_MAGIC}, "LFAB", 4);
}

static void no_device(void **state)
{
	(void)state;
	int n = -1;
	lumen_device_t dev = NULL;
	assert_int_equal(lumen_device_count(&n), LUMEN_SUCCESS);
	assert_int_equal(n, 0); /* the build host has no card */
	assert_int_equal(lumen_device_get(0, &dev), LUMEN_ERROR_NO_DEVICE);
	assert_null(dev); /* unchanged on failure */
	assert_non_null(strstr(lumen_get_last_error(), "lumen_device_get: no device 0"));
	assert_int_equal(lumen_device_get(-1, &dev), LUMEN_ERROR_NO_DEVICE);
}

static void null_arguments(void **state)
{
	(void)state;
	assert_int_equal(lumen_device_count(NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_device_count: count is NULL"));
	assert_int_equal(lumen_device_get(0, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	lumen_device_props_t p;
	LUMEN_STRUCT_INIT(p);
	assert_int_equal(lumen_device_get_props(NULL, &p), LUMEN_ERROR_INVALID_HANDLE);
	lumen_context_t ctx = NULL;
	assert_int_equal(lumen_context_create(NULL, &ctx), LUMEN_ERROR_INVALID_HANDLE);
	assert_null(ctx);
}

static void invalid_handles(void **state)
{
	(void)state;
	lumen_context_t bogus_ctx = (lumen_context_t)(uintptr_t)0xdead0;
	lumen_stream_t bogus_stream = (lumen_stream_t)(uintptr_t)0xdead0;
	lumen_event_t bogus_event = (lumen_event_t)(uintptr_t)0xdead0;
	lumen_devptr_t p = 0;
	char buf[16];
	assert_int_equal(lumen_malloc(bogus_ctx, 16, &p), LUMEN_ERROR_INVALID_HANDLE);
	assert_non_null(strstr(lumen_get_last_error(), "lumen_malloc: context handle"));
	assert_int_equal(lumen_malloc(NULL, 16, &p), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_free(NULL, 0x100000000ull), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_context_destroy(NULL), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_stream_synchronize(bogus_stream), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_stream_query(NULL), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_memcpy_h2d_async(bogus_stream, 0x100000000ull, buf, 16),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_memcpy(NULL, buf, buf, 16, LUMEN_COPY_HOST_TO_HOST),
			 LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_event_query(bogus_event), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_event_record(NULL, NULL), LUMEN_ERROR_INVALID_HANDLE);
	float ms;
	assert_int_equal(lumen_event_elapsed_time(&ms, NULL, NULL), LUMEN_ERROR_INVALID_HANDLE);
	int fd;
	assert_int_equal(lumen_ipc_export(NULL, 0, &fd), LUMEN_ERROR_INVALID_HANDLE);
	assert_int_equal(lumen_launch_host_func(NULL, NULL, NULL), LUMEN_ERROR_INVALID_HANDLE);
}

static void *other_thread(void *arg)
{
	(void)arg;
	lumen_device_get(0, NULL); /* fails: NULL out-pointer */
	return strstr(lumen_get_last_error(), "device is NULL") ? (void *)1 : NULL;
}

static void last_error_per_thread(void **state)
{
	(void)state;
	lumen_malloc(NULL, 1, NULL);
	char mine[256];
	strncpy(mine, lumen_get_last_error(), sizeof(mine) - 1);
	mine[sizeof(mine) - 1] = 0;
	assert_non_null(strstr(mine, "lumen_malloc:"));
	pthread_t t;
	void *ok = NULL;
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, &ok);
	assert_non_null(ok);
	/* The other thread's failure did not touch this thread's message. */
	assert_string_equal(lumen_get_last_error(), mine);
	/* Successful calls leave it alone too. */
	int n;
	assert_int_equal(lumen_device_count(&n), LUMEN_SUCCESS);
	assert_string_equal(lumen_get_last_error(), mine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_strings),
		cmocka_unit_test(window_desc_layout),
		cmocka_unit_test(fabric_handle_layout),
		cmocka_unit_test(peer_api_without_device),
		cmocka_unit_test(no_device),
		cmocka_unit_test(null_arguments),	 cmocka_unit_test(invalid_handles),
		cmocka_unit_test(last_error_per_thread),
	};
	return cmocka_run_group_tests_name("rt_api", tests, NULL, NULL);
}
