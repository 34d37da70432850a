// SPDX-License-Identifier: MIT
#include "sys/version_string.hpp"

#include "lumen/lumen_fw_image.h"
#include "lumen/lumen_regs.h"

namespace lumen::sys {

std::string fw_version_string(uint32_t v)
{
	return std::to_string(LUMEN_FW_VERSION_MAJ(v)) + "." +
	       std::to_string(LUMEN_FW_VERSION_MIN(v)) + "." + std::to_string(LUMEN_FW_VERSION_PAT(v));
}

std::string hw_version_string(uint32_t v)
{
	return std::to_string(LUMEN_VERSION_MAJOR(v)) + "." + std::to_string(LUMEN_VERSION_MINOR(v));
}

} // namespace lumen::sys
