// SPDX-License-Identifier: MIT
// Peer access between contexts (peer.cpp): what memory and context
// teardown must tell it.
#pragma once

#include <cstdint>

namespace lumen::rt {

class Context;

// Close the window peer copies opened on c's allocation at base (before
// lumen_free unmaps it).
void peer_release_allocation(Context &c, uint64_t base) noexcept;
// Forget c: its peer pairs either way, and close the windows on its memory.
void peer_forget_context(Context &c) noexcept;

} // namespace lumen::rt
