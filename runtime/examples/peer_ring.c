/* SPDX-License-Identifier: MIT */
/*
 * peer_ring: every card of this host writes into its neighbour's memory over
 * the optical links, reads back from the chip two hops away, and all of them
 * count on one word of the first card with remote atomics.
 *
 * Each card opens a window on a buffer of its own (data, then one 64-bit
 * counter word); the descriptors are plain bytes, handed around here inside
 * one process (across hosts they would travel over the host network). Then,
 * on every card at once: card i fills its source with byte i + 1 and writes
 * it into the window of card (i + 1) % n; after that it reads the window of
 * card (i + 2) % n back into its own memory and checks that it holds the byte
 * of card (i + 1) % n; and it adds 1 to card 0's counter ADDS times. The
 * routes must be programmed first (lumen-fm, or lumen-route program --topology SPEC).
 *
 *   peer_ring [BYTES [ADDS]]      (default: 16 MiB, 64 adds per card)
 *
 * Exit status 0 only if every byte and the counter are right.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include <lumen/lumen.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CARDS 16

struct card {
	lumen_context_t ctx;
	lumen_stream_t stream;
	lumen_devptr_t src;    /* BYTES: what this card sends */
	lumen_devptr_t win;    /* BYTES + 8: what its window exposes, counter last */
	lumen_window_t window;
	lumen_window_desc_t desc;
	uint32_t chip;
};

static int failed(const char *call, lumen_status_t st)
{
	if (st == LUMEN_SUCCESS)
		return 0;
	fprintf(stderr, "peer_ring: %s failed: %s: %s\n", call, lumen_status_string(st),
		lumen_get_last_error());
	return 1;
}
#define CHECK(call)                                                                                \
	do {                                                                                       \
		if (failed(#call, (call)))                                                         \
			goto out;                                                                  \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every card's stream done; the first error wins. */
static int sync_all(struct card *c, int n)
{
	int i, bad = 0;

	for (i = 0; i < n; i++)
		bad |= failed("lumen_stream_synchronize", lumen_stream_synchronize(c[i].stream));
	return bad;
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 16u << 20;
	unsigned long adds = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
	struct card c[MAX_CARDS];
	uint8_t *host = NULL;
	uint64_t counter = 0;
	int n = 0, i, ok = 0;
	unsigned long k;
	double t0, t_write, t_read, t_atomic;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(c, 0, sizeof(c));
	if (size == 0 || size > (1u << 30) || adds > 100000) {
		fprintf(stderr, "usage: peer_ring [BYTES [ADDS]] (1 B to 1 GiB, ADDS <= 100000)\n");
		return 2;
	}
	CHECK(lumen_device_count(&n));
	if (n < 2) {
		fprintf(stderr, "peer_ring: needs at least 2 cards, found %d\n", n);
		return 2;
	}
	if (n > MAX_CARDS)
		n = MAX_CARDS;
	host = malloc(size);
	if (!host) {
		fprintf(stderr, "peer_ring: out of host memory for %zu bytes\n", size);
		return 1;
	}

	for (i = 0; i < n; i++) {
		lumen_device_t dev;

		CHECK(lumen_device_get(i, &dev));
		CHECK(lumen_device_get_chip_id(dev, &c[i].chip));
		CHECK(lumen_context_create(dev, &c[i].ctx));
		CHECK(lumen_stream_create(c[i].ctx, &c[i].stream));
		CHECK(lumen_malloc(c[i].ctx, size, &c[i].src));
		CHECK(lumen_malloc(c[i].ctx, size + 8, &c[i].win));
		CHECK(lumen_memset(c[i].ctx, c[i].src, i + 1, size));
		CHECK(lumen_memset(c[i].ctx, c[i].win, 0, size + 8));
		CHECK(lumen_window_open(c[i].ctx, c[i].win, size + 8,
					LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC,
					&c[i].window));
		CHECK(lumen_window_get_desc(c[i].window, &c[i].desc));
		printf("card %d: chip %" PRIu32 ", window %" PRIu32 " (%zu bytes)\n", i, c[i].chip,
		       c[i].desc.window, size + 8);
	}

	/* Card i -> window of card i + 1, all cards at once. */
	t0 = now_s();
	for (i = 0; i < n; i++)
		CHECK(lumen_remote_write_async(c[i].stream, &c[(i + 1) % n].desc, 0, c[i].src,
					       size));
	if (sync_all(c, n))
		goto out;
	t_write = now_s() - t0;

	/* Card i reads the window of card i + 2 (written by card i + 1) into its source. */
	t0 = now_s();
	for (i = 0; i < n; i++)
		CHECK(lumen_remote_read_async(c[i].stream, c[i].src, &c[(i + 2) % n].desc, 0,
					      size));
	if (sync_all(c, n))
		goto out;
	t_read = now_s() - t0;

	/* Everyone counts on card 0's last word. */
	t0 = now_s();
	for (k = 0; k < adds; k++)
		for (i = 0; i < n; i++)
			CHECK(lumen_remote_atomic_async(c[i].stream, &c[0].desc, size,
							LUMEN_ATOMIC_FETCH_ADD, 1, 0));
	if (sync_all(c, n))
		goto out;
	t_atomic = now_s() - t0;

	ok = 1;
	for (i = 0; i < n; i++) {
		size_t j, bad = 0;
		int want = (i + 1) % n + 1;

		CHECK(lumen_memcpy(c[i].ctx, host, (void *)(uintptr_t)c[i].src, size,
				   LUMEN_COPY_DEVICE_TO_HOST));
		for (j = 0; j < size; j++)
			bad += host[j] != want;
		if (bad) {
			printf("card %d: %zu of %zu bytes read back from chip %" PRIu32 " wrong\n", i,
			       bad, size, c[(i + 2) % n].chip);
			ok = 0;
		}
	}
	CHECK(lumen_memcpy(c[0].ctx, &counter, (void *)(uintptr_t)(c[0].win + size), 8,
			   LUMEN_COPY_DEVICE_TO_HOST));
	if (counter != adds * n) {
		printf("counter on chip %" PRIu32 ": %" PRIu64 ", expected %lu\n", c[0].chip, counter,
		       adds * n);
		ok = 0;
	}
	printf("remote write: %d x %zu bytes to the next chip in %.3f s (%.1f MB/s in all)\n", n,
	       size, t_write, n * size / t_write / 1e6);
	printf("remote read:  %d x %zu bytes from two hops away in %.3f s (%.1f MB/s in all)\n", n,
	       size, t_read, n * size / t_read / 1e6);
	printf("remote atomics: %lu fetch-adds from %d chips, counter %" PRIu64 ", %.1f us each\n",
	       adds * n, n, counter, t_atomic * 1e6 / (adds * n));
	printf("%s\n", ok ? "peer_ring: every byte and the counter are right" : "peer_ring: FAILED");

out:
	for (i = 0; i < n; i++) {
		if (c[i].window)
			lumen_window_close(c[i].window);
		if (c[i].stream)
			lumen_stream_destroy(c[i].stream);
		if (c[i].ctx)
			lumen_context_destroy(c[i].ctx);
	}
	free(host);
	return ok ? 0 : 1;
}
