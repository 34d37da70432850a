// SPDX-License-Identifier: MIT
#include "failure.hpp"

namespace lumen::ccl {

void fail(lumen_status_t s, const std::string &what)
{
	throw Failure{s, what};
}

void check(lumen_status_t s, const char *call)
{
	if (s != LUMEN_SUCCESS)
		fail(s, std::string(call) + ": " + lumen_status_string(s) + ": " +
				lumen_get_last_error());
}

} // namespace lumen::ccl
