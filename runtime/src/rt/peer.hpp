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

// Close the windows the runtime opened on c's allocation [base, base +
// size): for peer copies and fabric exports (before lumen_free or
// lumen_ipc_close unmaps it).
void runtime_windows_release(Context &c, uint64_t base, uint64_t size) noexcept;
// Forget c: its peer pairs either way, and close the windows on its memory.
void peer_forget_context(Context &c) noexcept;

} // namespace lumen::rt
