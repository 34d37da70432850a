/* SPDX-License-Identifier: MIT */
/*
 * vector_copy: the smallest complete liblumen program.
 *
 * Copies a vector host -> device -> device -> host through a stream, checks
 * every byte and prints the result. Exit status 0 only if the data came back
 * intact.
 *
 *   vector_copy [BYTES [DEVICE]]      (default: 4 MiB on device 0)
 *
 * Build against the installed package (see runtime/examples/README.md):
 *   cc vector_copy.c $(pkg-config --cflags --libs lumen)
 */
#include <lumen/lumen.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every call returns a status; on failure report it with the thread's last
 * error message, which names the function and the problem. */
static int failed(const char *call, lumen_status_t st)
{
	if (st == LUMEN_SUCCESS)
		return 0;
	fprintf(stderr, "vector_copy: %s failed: %s: %s\n", call, lumen_status_string(st),
		lumen_get_last_error());
	return 1;
}
#define CHECK(call)                                                                                \
	do {                                                                                       \
		if (failed(#call, (call)))                                                         \
			goto out;                                                                  \
	} while (0)
/* Cleanup: report and remember, but go on releasing the rest. */
#define CLEANUP(call)                                                                              \
	do {                                                                                       \
		if (failed(#call, (call)))                                                         \
			ok = 0;                                                                    \
	} while (0)

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 4u << 20;
	int index = argc > 2 ? atoi(argv[2]) : 0;
	int ok = 0, count = 0;
	lumen_device_t dev;
	lumen_device_props_t props = {0};
	lumen_context_t ctx = NULL;
	lumen_stream_t stream = NULL;
	lumen_devptr_t a = 0, b = 0;
	lumen_mem_info_t info = {0};
	uint8_t *src = NULL, *dst = NULL;
	void *pinned;
	size_t bad = 0, first_bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order */
	if (size == 0) {
		fprintf(stderr, "usage: vector_copy [BYTES [DEVICE]] (BYTES > 0)\n");
		return 2;
	}
	uint32_t v = lumen_get_version();
	printf("liblumen %u.%u.%u (built against %d.%d.%d)\n", v >> 16, (v >> 8) & 0xff, v & 0xff,
	       LUMEN_VERSION_MAJOR, LUMEN_VERSION_MINOR, LUMEN_VERSION_PATCH);

	CHECK(lumen_device_count(&count));
	if (index < 0 || index >= count) {
		fprintf(stderr, "vector_copy: device %d not found (%d Lumen device(s))\n", index,
			count);
		return 1;
	}
	CHECK(lumen_device_get(index, &dev));
	LUMEN_STRUCT_INIT(props);
	CHECK(lumen_device_get_props(dev, &props));
	printf("device %d: %s serial %s, %" PRIu64 " MiB, firmware %s\n", props.index,
	       props.pci_address, props.serial, props.memory_total >> 20, props.firmware_version);

	CHECK(lumen_context_create(dev, &ctx));
	CHECK(lumen_stream_create(ctx, &stream));
	CHECK(lumen_malloc(ctx, size, &a));
	CHECK(lumen_malloc(ctx, size, &b));

	/* The source is ordinary (pageable) memory: the runtime stages it. The
	 * destination is pinned: the device writes it directly. */
	src = malloc(size);
	if (!src) {
		fprintf(stderr, "vector_copy: out of host memory\n");
		goto out;
	}
	for (size_t i = 0; i < size; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 12));
	CHECK(lumen_malloc_host(ctx, size, &pinned));
	dst = pinned;
	memset(dst, 0, size);

	/* One stream: the three copies run in order. */
	CHECK(lumen_memcpy_h2d_async(stream, a, src, size));
	CHECK(lumen_memcpy_d2d_async(stream, b, a, size));
	CHECK(lumen_memcpy_d2h_async(stream, dst, b, size));
	CHECK(lumen_stream_synchronize(stream));

	for (size_t i = 0; i < size; i++) {
		if (dst[i] != src[i] && bad++ == 0)
			first_bad = i;
	}
	if (bad) {
		fprintf(stderr,
			"vector_copy: FAILED: %zu of %zu bytes differ, first at offset %zu "
			"(0x%02x, expected 0x%02x)\n",
			bad, size, first_bad, dst[first_bad], src[first_bad]);
		goto out;
	}

	LUMEN_STRUCT_INIT(info);
	CHECK(lumen_mem_get_info(ctx, &info));
	printf("vector_copy: %zu bytes host -> device 0x%" PRIx64 " -> device 0x%" PRIx64
	       " -> host: OK (context holds %" PRIu64 " KiB of device memory)\n",
	       size, a, b, info.ctx_device_used >> 10);
	ok = 1;
out:
	if (stream) /* an error path may leave copies queued: let them end first */
		(void)lumen_stream_synchronize(stream);
	free(src);
	if (dst)
		CLEANUP(lumen_free_host(ctx, dst));
	if (b)
		CLEANUP(lumen_free(ctx, b));
	if (a)
		CLEANUP(lumen_free(ctx, a));
	if (stream)
		CLEANUP(lumen_stream_destroy(stream));
	if (ctx)
		CLEANUP(lumen_context_destroy(ctx)); /* would also free what is left */
	return ok ? 0 : 1;
}
