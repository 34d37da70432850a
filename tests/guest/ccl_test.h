/* SPDX-License-Identifier: MIT */
/*
 * Status assertions of the liblumen-ccl suites (test_ccl.c,
 * test_ccl_ranks.c): like RT_OK and RT_FAIL, with lumen_ccl's message.
 */
#ifndef LUMEN_CCL_TEST_H
#define LUMEN_CCL_TEST_H

#include <lumen/lumen_ccl.h>

#include "rt_test.h"

#define CCL_OK(call)                                                                               \
	do {                                                                                       \
		lumen_status_t st_ = (call);                                                       \
		if (st_ != LUMEN_SUCCESS)                                                          \
			fail_msg("%s -> %s: %s", #call, lumen_status_string(st_),                  \
				 lumen_ccl_get_last_error());                                      \
	} while (0)

#define CCL_FAIL(call, want)                                                                       \
	do {                                                                                       \
		lumen_status_t st_ = (call);                                                       \
		if (st_ != (want))                                                                 \
			fail_msg("%s -> %s, expected %s (%s)", #call, lumen_status_string(st_),    \
				 lumen_status_string(want), lumen_ccl_get_last_error());           \
		if (!*lumen_ccl_get_last_error())                                                  \
			fail_msg("%s: no message", #call);                                         \
	} while (0)

#endif
