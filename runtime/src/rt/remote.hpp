// SPDX-License-Identifier: MIT
// Remote writes and reads as stream commands, for the API files that queue
// them on checked arguments (remote.cpp, peer.cpp).
#pragma once

#include <lumen/lumen.h>

#include <cstdint>

namespace lumen::rt {

class Stream;

// RWRITE (write = true: window at offset = local) or RREAD (local = window
// at offset) of size bytes, in commands of at most
// DRM_LUMEN_CMD_REMOTE_MAX_BYTES, one job. The caller checked everything.
void remote_transfer(Stream &s, bool write, uint64_t local, const lumen_window_desc_t &d,
		     uint64_t offset, uint64_t size);

} // namespace lumen::rt
