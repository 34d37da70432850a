/* SPDX-License-Identifier: MIT */
/*
 * ccl_all_reduce: an all-reduce with liblumen-ccl, one rank per card.
 *
 * Every rank fills a buffer of COUNT floats with its rank number plus the
 * element's index, the ranks sum them with lumen_ccl_all_reduce, and every
 * rank checks the result. With one card, two contexts share it (the ring
 * runs over the card's loopback). All ranks are queued from this thread,
 * inside a group.
 *
 *   ccl_all_reduce [COUNT]      (default 100000)
 *
 * Exit status 0 only if every rank has the right sums.
 */
#include <lumen/lumen_ccl.h>

#include <stdio.h>
#include <stdlib.h>

#define MAX_RANKS 8

static int failed(const char *call, lumen_status_t st, int ccl)
{
	if (st == LUMEN_SUCCESS)
		return 0;
	fprintf(stderr, "ccl_all_reduce: %s failed: %s: %s\n", call, lumen_status_string(st),
		ccl ? lumen_ccl_get_last_error() : lumen_get_last_error());
	return 1;
}
#define CHECK(call)                                                                                \
	do {                                                                                       \
		if (failed(#call, (call), 0))                                                      \
			goto out;                                                                  \
	} while (0)
#define CHECK_CCL(call)                                                                            \
	do {                                                                                       \
		if (failed(#call, (call), 1))                                                      \
			goto out;                                                                  \
	} while (0)

int main(int argc, char **argv)
{
	lumen_context_t ctx[MAX_RANKS] = {0};
	lumen_stream_t s[MAX_RANKS] = {0};
	lumen_devptr_t buf[MAX_RANKS] = {0};
	lumen_ccl_comm_t comm[MAX_RANKS] = {0};
	size_t count = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	float *host = NULL;
	int cards = 0, n = 0, rc = 1;

	if (count == 0 || count > (64u << 20) / sizeof(float)) {
		fprintf(stderr, "ccl_all_reduce: COUNT must be 1 .. %zu\n",
			(size_t)(64u << 20) / sizeof(float));
		return 2;
	}
	CHECK(lumen_device_count(&cards));
	if (cards < 1) {
		fprintf(stderr, "ccl_all_reduce: no Lumen card\n");
		return 1;
	}
	n = cards == 1 ? 2 : (cards < MAX_RANKS ? cards : MAX_RANKS);
	host = malloc(count * sizeof(float));
	if (!host)
		goto out;
	for (int r = 0; r < n; r++) {
		lumen_device_t dev;

		CHECK(lumen_device_get(cards == 1 ? 0 : r, &dev));
		CHECK(lumen_context_create(dev, &ctx[r]));
		CHECK(lumen_stream_create(ctx[r], &s[r]));
		CHECK(lumen_malloc(ctx[r], count * sizeof(float), &buf[r]));
		for (size_t i = 0; i < count; i++)
			host[i] = (float)(r + (int)(i % 1000));
		CHECK(lumen_memcpy_h2d_async(s[r], buf[r], host, count * sizeof(float)));
	}
	CHECK_CCL(lumen_ccl_comm_init_all(comm, n, ctx));
	/* In place, every rank from this thread: in a group, so that a large
	 * count cannot block the thread on a rank whose peers are not queued. */
	CHECK_CCL(lumen_ccl_group_start());
	for (int r = 0; r < n; r++)
		CHECK_CCL(lumen_ccl_all_reduce(buf[r], buf[r], count, LUMEN_DTYPE_F32,
					       LUMEN_REDUCE_SUM, comm[r], s[r]));
	CHECK_CCL(lumen_ccl_group_end());
	for (int r = 0; r < n; r++) {
		CHECK(lumen_memcpy_d2h_async(s[r], host, buf[r], count * sizeof(float)));
		CHECK(lumen_stream_synchronize(s[r]));
		for (size_t i = 0; i < count; i++) {
			/* sum over ranks q of q + i % 1000 */
			float want = (float)(n * (n - 1) / 2 + n * (int)(i % 1000));

			if (host[i] != want) {
				fprintf(stderr,
					"ccl_all_reduce: rank %d element %zu is %g, not %g\n", r, i,
					host[i], want);
				goto out;
			}
		}
	}
	printf("ccl_all_reduce: %d ranks on %d card%s summed %zu floats: all right\n", n, cards,
	       cards > 1 ? "s" : "", count);
	rc = 0;
out:
	for (int r = 0; r < n && r < MAX_RANKS; r++)
		if (comm[r] && lumen_ccl_comm_destroy(comm[r]) != LUMEN_SUCCESS && rc == 0) {
			fprintf(stderr, "ccl_all_reduce: lumen_ccl_comm_destroy: %s\n",
				lumen_ccl_get_last_error());
			rc = 1;
		}
	for (int r = 0; r < MAX_RANKS; r++)
		if (ctx[r])
			lumen_context_destroy(ctx[r]);
	free(host);
	return rc;
}
