// SPDX-License-Identifier: MIT
#include "log.hpp"

#include <cstdio>

namespace lumen::fabric {

void log_line(const std::string &message)
{
	std::fprintf(stderr, "lumen-fabric: %s\n", message.c_str());
}

} // namespace lumen::fabric
