// SPDX-License-Identifier: MIT
// How liblumen-ccl's internals report errors: a Failure carries the
// status the C API returns and the message lumen_ccl_get_last_error gives.
#pragma once

#include <lumen/lumen.h>

#include <string>

namespace lumen::ccl {

// A failed call: the status and what failed (liblumen's message included).
struct Failure {
	lumen_status_t status;
	std::string what;
};

[[noreturn]] void fail(lumen_status_t s, const std::string &what);
// Throws Failure unless s is SUCCESS, naming the call.
void check(lumen_status_t s, const char *call);

} // namespace lumen::ccl
