// SPDX-License-Identifier: MIT
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "lumen_dev.h"

static double now_s(void)
{
	return (double)ld_now_ns() / 1e9;
}

double bench_best_s(int min_ms, int (*fn)(void *arg), void *arg)
{
	double best = 1e9, start = now_s();
	int reps = 0;

	while (reps < 3 || now_s() - start < min_ms / 1000.0) {
		double t0 = now_s();

		if (fn(arg))
			return -1;
		t0 = now_s() - t0;
		if (t0 < best)
			best = t0;
		reps++;
	}
	return best;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_sort_ns(uint64_t *ns, int n)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
}

void bench_figure(const char *name, double value, const char *unit, const char *baseline_name,
		  double baseline_value)
{
	if (baseline_name)
		printf("@figure %s %.6g %s %s %.6g\n", name, value, unit, baseline_name,
		       baseline_value);
	else
		printf("@figure %s %.6g %s - -\n", name, value, unit);
	fflush(stdout);
}
