/* SPDX-License-Identifier: MIT */
/*
 * two_streams: two streams ordered by an event.
 *
 * Stream A produces a buffer on the device (a fill, then a host-to-device
 * copy over its first half, then a device-to-device copy) and records event
 * "produced". Stream B waits for that event, copies A's result back to the
 * host and runs a host callback. Only stream B is synchronized: the event is
 * what makes B's copy see A's finished data. The program verifies the bytes
 * and prints the device time between the events.
 *
 *   two_streams [BYTES [DEVICE]]      (default: 8 MiB on device 0)
 *
 * Exit status 0 only if the data is right.
 */
#include <lumen/lumen.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN 0xc0ffee00u /* the fill of stream A, as 32-bit words */

static int failed(const char *call, lumen_status_t st)
{
	if (st == LUMEN_SUCCESS)
		return 0;
	fprintf(stderr, "two_streams: %s failed: %s: %s\n", call, lumen_status_string(st),
		lumen_get_last_error());
	return 1;
}
#define CHECK(call)                                                                                \
	do {                                                                                       \
		if (failed(#call, (call)))                                                         \
			goto out;                                                                  \
	} while (0)
#define CLEANUP(call)                                                                              \
	do {                                                                                       \
		if (failed(#call, (call)))                                                         \
			ok = 0;                                                                    \
	} while (0)

/* Runs on a library thread when stream B reaches it. */
struct callback_state {
	int calls;
	lumen_status_t status;
};

static void on_copied(lumen_stream_t stream, lumen_status_t status, void *user_data)
{
	struct callback_state *cb = user_data;

	(void)stream;
	cb->status = status;
	cb->calls++; /* read by main() only after lumen_stream_synchronize() */
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 8u << 20;
	int index = argc > 2 ? atoi(argv[2]) : 0;
	int ok = 0, count = 0;
	lumen_device_t dev;
	lumen_context_t ctx = NULL;
	lumen_stream_t a = NULL, b = NULL;
	lumen_event_t start = NULL, produced = NULL, done = NULL;
	lumen_devptr_t x = 0, y = 0;
	uint8_t *input = NULL, *result = NULL;
	void *pinned;
	struct callback_state cb = {0, LUMEN_SUCCESS};
	float ms_a = 0, ms_b = 0;
	size_t half, bad = 0, first_bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order */
	if (size < 8 || size % 8) {
		fprintf(stderr, "usage: two_streams [BYTES [DEVICE]] (BYTES a multiple of 8)\n");
		return 2;
	}
	half = size / 2;

	CHECK(lumen_device_count(&count));
	if (index < 0 || index >= count) {
		fprintf(stderr, "two_streams: device %d not found (%d Lumen device(s))\n", index,
			count);
		return 1;
	}
	CHECK(lumen_device_get(index, &dev));
	CHECK(lumen_context_create(dev, &ctx));
	CHECK(lumen_stream_create(ctx, &a));
	CHECK(lumen_stream_create(ctx, &b));
	CHECK(lumen_event_create(ctx, &start));
	CHECK(lumen_event_create(ctx, &produced));
	CHECK(lumen_event_create(ctx, &done));
	CHECK(lumen_malloc(ctx, size, &x));
	CHECK(lumen_malloc(ctx, size, &y));

	CHECK(lumen_malloc_host(ctx, half, &pinned));
	input = pinned;
	for (size_t i = 0; i < half; i++)
		input[i] = (uint8_t)(i ^ (i >> 8));
	CHECK(lumen_malloc_host(ctx, size, &pinned));
	result = pinned;
	memset(result, 0, size);

	/* Stream A: produce y = [input | PATTERN...]. */
	CHECK(lumen_event_record(start, a));
	CHECK(lumen_memset_d32_async(a, x, PATTERN, size));
	CHECK(lumen_memcpy_h2d_async(a, x, input, half));
	CHECK(lumen_memcpy_d2d_async(a, y, x, size));
	CHECK(lumen_event_record(produced, a));

	/* Stream B: consume it once A's event has completed. */
	CHECK(lumen_stream_wait_event(b, produced));
	CHECK(lumen_memcpy_d2h_async(b, result, y, size));
	CHECK(lumen_event_record(done, b));
	CHECK(lumen_launch_host_func(b, on_copied, &cb));

	/* Waiting for B is enough: B's work came after A's event. */
	CHECK(lumen_stream_synchronize(b));
	CHECK(lumen_event_query(produced)); /* LUMEN_ERROR_NOT_READY would be a bug */

	for (size_t i = 0; i < size; i++) {
		uint8_t want = i < half ? input[i] : (uint8_t)(PATTERN >> (8 * (i % 4)));
		if (result[i] != want && bad++ == 0)
			first_bad = i;
	}
	if (bad) {
		fprintf(stderr,
			"two_streams: FAILED: %zu of %zu bytes differ, first at offset %zu "
			"(0x%02x)\n",
			bad, size, first_bad, result[first_bad]);
		goto out;
	}
	if (cb.calls != 1 || cb.status != LUMEN_SUCCESS) {
		fprintf(stderr, "two_streams: FAILED: host callback ran %d time(s), status %s\n",
			cb.calls, lumen_status_string(cb.status));
		goto out;
	}

	CHECK(lumen_event_elapsed_time(&ms_a, start, produced));
	CHECK(lumen_event_elapsed_time(&ms_b, produced, done));
	printf("two_streams: %zu bytes: stream A fill+copy+copy %.3f ms, "
	       "stream B (after A's event) copy back %.3f ms: OK\n",
	       size, ms_a, ms_b);
	ok = 1;
out:
	/* On an error path work may still be queued: let it finish (or fail)
	 * before freeing the memory it uses. */
	if (a)
		(void)lumen_stream_synchronize(a);
	if (b)
		(void)lumen_stream_synchronize(b);
	if (result)
		CLEANUP(lumen_free_host(ctx, result));
	if (input)
		CLEANUP(lumen_free_host(ctx, input));
	if (y)
		CLEANUP(lumen_free(ctx, y));
	if (x)
		CLEANUP(lumen_free(ctx, x));
	if (done)
		CLEANUP(lumen_event_destroy(done));
	if (produced)
		CLEANUP(lumen_event_destroy(produced));
	if (start)
		CLEANUP(lumen_event_destroy(start));
	if (b)
		CLEANUP(lumen_stream_destroy(b));
	if (a)
		CLEANUP(lumen_stream_destroy(a));
	if (ctx)
		CLEANUP(lumen_context_destroy(ctx));
	return ok ? 0 : 1;
}
