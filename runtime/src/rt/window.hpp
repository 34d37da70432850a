// SPDX-License-Identifier: MIT
// Remote windows (uAPI 1.2 WINDOW_OPEN/CLOSE, hw-spec 13.7): a range of a
// context's device memory other chips may access, and the descriptor that
// names it. The card's windows are page-granular; the runtime opens the
// pages around the caller's range and offsets peers by `base`.
#pragma once

#include <lumen/lumen.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace lumen::rt {

class Context;

class Window {
      public:
	// WINDOW_OPEN over the pages of [ptr, ptr + size); throws.
	// runtime_owned: opened by the runtime for itself (Context::add_window).
	Window(std::shared_ptr<Context> ctx, uint64_t ptr, uint64_t size, unsigned flags,
	       bool runtime_owned = false);
	~Window() { close(); }
	// WINDOW_CLOSE, once; errors are ignored (a reset card has closed it).
	void close() noexcept;
	Window(const Window &) = delete;
	Window &operator=(const Window &) = delete;

	const lumen_window_desc_t &desc() const noexcept { return desc_; }
	Context &ctx() const noexcept { return *ctx_; }
	uintptr_t handle = 0;

      private:
	std::shared_ptr<Context> ctx_;
	lumen_window_desc_t desc_{};
	std::atomic<bool> open_{false};
};

// NOT_SUPPORTED unless the context's card has a link engine.
void require_links(Context &c);

// Every right a window can grant.
constexpr unsigned kWindowRights = LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE | LUMEN_WINDOW_ATOMIC;
// INVALID_ARGUMENT naming `name` unless rights is a non-empty mix of them.
void check_window_rights(unsigned rights, const char *name);

// The checks every remote operation makes on a descriptor a peer handed us:
// INVALID_ARGUMENT naming the field unless it is well-formed, grants right
// (LUMEN_WINDOW_*) and covers [offset, offset + size).
void check_desc(const lumen_window_desc_t *d, const char *name, unsigned right, uint64_t offset,
		uint64_t size);

} // namespace lumen::rt
