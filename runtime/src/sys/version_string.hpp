// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>

namespace lumen::sys {

// "major.minor.patch" of a firmware version as the uAPI reports it
// (LUMEN_FW_VERSION layout), the form npu-smi, the runtime and sysfs show.
std::string fw_version_string(uint32_t version);

// "major.minor" of a hardware interface version (LUMEN_HW_VERSION layout).
std::string hw_version_string(uint32_t version);

} // namespace lumen::sys
