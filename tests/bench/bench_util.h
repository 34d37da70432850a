/* SPDX-License-Identifier: MIT */
/* Timing helpers shared by the lumen-bench-* programs. */
#ifndef LUMEN_BENCH_UTIL_H
#define LUMEN_BENCH_UTIL_H

#include <stdint.h>

/*
 * Best wall time of one fn(arg) call in seconds, over at least 3 calls and
 * at least min_ms milliseconds (the minimum filters out a noisy machine);
 * < 0 as soon as fn returns non-zero.
 */
double bench_best_s(int min_ms, int (*fn)(void *arg), void *arg);

/* Sort ns[0..n) ascending, for medians and percentiles. */
void bench_sort_ns(uint64_t *ns, int n);

/*
 * Report a headline figure to tests/bench/run, which lists it with its ratio
 * to the baseline measured in the same run and the target for that ratio
 * (tests/bench/benches). One stdout line:
 *   @figure NAME VALUE UNIT BASELINE-NAME BASELINE-VALUE
 * Names and unit must not contain blanks; baseline_name NULL: no baseline.
 */
void bench_figure(const char *name, double value, const char *unit, const char *baseline_name,
		  double baseline_value);

#endif
