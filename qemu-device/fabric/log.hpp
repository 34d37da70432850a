// SPDX-License-Identifier: MIT
// What the fabric does goes to stderr, one line per event.
#pragma once

#include <string>

namespace lumen::fabric {

void log_line(const std::string &message);

} // namespace lumen::fabric
