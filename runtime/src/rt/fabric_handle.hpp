// SPDX-License-Identifier: MIT
// Fabric handles (fabric_handle.cpp): regions a context exported (windows
// the runtime owns) and regions it imported (remote pointers), and what
// memory and context teardown and peer copies ask of them.
#pragma once

#include <lumen/lumen.h>

#include <cstdint>
#include <optional>

namespace lumen::rt {

class Context;

// Close the exports over c's allocation [base, base + size) (lumen_free).
void fabric_release_allocation(Context &c, uint64_t base, uint64_t size) noexcept;
// Forget c's exports (closing them) and imports.
void fabric_forget_context(Context &c) noexcept;

// Remote pointers have this bit set; device addresses never do.
constexpr uint64_t kRemotePtr = 1ull << 63;

struct ImportedRange {
	lumen_window_desc_t desc; // of the region
	uint64_t offset;	  // of the range in it
};

// [ptr, ptr + size) of a region c imported, or nullopt when ptr is no
// remote pointer; INVALID_ARGUMENT naming `name` when it is one that c did
// not import or the range runs past the region.
std::optional<ImportedRange> imported_range(Context &c, uint64_t ptr, uint64_t size,
					    const char *name);

} // namespace lumen::rt
