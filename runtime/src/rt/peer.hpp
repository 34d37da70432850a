// SPDX-License-Identifier: MIT
// Peer access between contexts (peer.cpp): what memory and context
// teardown must tell it.
#pragma once

#include <cstdint>

namespace lumen::rt {

class Context;
class Device;

// UNREACHABLE when no route leads from dev's chip to chip, INVALID_CHIP for
// a chip the fabric lacks; passes when nobody can tell (no lumen-fm, and
// the card's own table needs CAP_SYS_ADMIN).
void peer_require_route(Device &dev, uint32_t chip);

// Close the window peer copies opened on c's allocation at base (before
// lumen_free unmaps it).
void peer_release_allocation(Context &c, uint64_t base) noexcept;
// Forget c: its peer pairs either way, and close the windows on its memory.
void peer_forget_context(Context &c) noexcept;

} // namespace lumen::rt
