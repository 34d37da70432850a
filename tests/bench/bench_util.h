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

#endif
