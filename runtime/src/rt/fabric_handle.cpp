// SPDX-License-Identifier: MIT
// C API of fabric handles (1.1): export opens a window the runtime owns and
// describes it in a 64-byte POD; import checks a handle and hands out a
// remote pointer that peer copies turn back into the window.
#include "rt/fabric_handle.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "rt/context.hpp"
#include "rt/peer.hpp"
#include "rt/status.hpp"
#include "rt/window.hpp"

namespace lumen::rt {
namespace {

static_assert(sizeof(lumen_fabric_handle_t) == 64, "lumen_fabric_handle_t is wire format");

constexpr unsigned kRights = kWindowRights;
// A remote pointer: kRemotePtr | slot << kSlotShift | offset, with a zero
// guard bit between offset and slot: ptr + i past 2^40 sets it instead of
// silently naming another import.
constexpr unsigned kOffsetBits = 40;
constexpr uint64_t kOffsetMask = (1ull << kOffsetBits) - 1;
constexpr uint64_t kGuardBit = 1ull << kOffsetBits;
constexpr unsigned kSlotShift = kOffsetBits + 1;
constexpr uint32_t kSlotLimit = 1u << (63 - kSlotShift);
constexpr uint32_t kMaxImports = 1u << 20;

struct Export {
	uint64_t ptr, size;
	std::unique_ptr<Window> window;
};

// Per context handle: its exports by window slot, its imports by slot of
// the remote pointer.
struct HandleState {
	std::mutex m;
	std::map<uintptr_t, std::map<uint32_t, Export>> exports;
	std::map<uintptr_t, std::map<uint32_t, lumen_window_desc_t>> imports;
	uint32_t next_import = 1;
};

HandleState &state()
{
	static HandleState s;
	return s;
}

void check_handle(const lumen_fabric_handle_t *h)
{
	require(h, "handle");
	if (h->magic != LUMEN_FABRIC_HANDLE_MAGIC)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "handle->magic " + hex(h->magic) +
							   " is not LUMEN_FABRIC_HANDLE_MAGIC: "
							   "not a fabric handle");
	if (h->version != LUMEN_FABRIC_HANDLE_VERSION)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "handle->version " + std::to_string(h->version) + " is not " +
			     std::to_string(LUMEN_FABRIC_HANDLE_VERSION));
	if (h->reserved)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "handle->reserved is not zero");
	if (!(h->window.rights & kRights))
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "handle->window grants no right");
	for (unsigned r : {LUMEN_WINDOW_READ, LUMEN_WINDOW_WRITE, LUMEN_WINDOW_ATOMIC})
		if (h->window.rights & r) {
			check_desc(&h->window, "handle->window", r, 0, h->window.size);
			break;
		}
	if (h->window.size == 0 || h->window.size > kOffsetMask + 1)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "handle->window.size " + std::to_string(h->window.size) + " is not 1 .. 2^40");
}

} // namespace

void fabric_release_allocation(Context &c, uint64_t base, uint64_t size) noexcept
{
	HandleState &st = state();
	std::vector<std::unique_ptr<Window>> gone;
	{
		std::lock_guard lk(st.m);
		auto it = st.exports.find(c.handle);
		if (it == st.exports.end())
			return;
		for (auto e = it->second.begin(); e != it->second.end();)
			if (e->second.ptr >= base && e->second.ptr < base + size) {
				gone.push_back(std::move(e->second.window));
				e = it->second.erase(e);
			} else {
				++e;
			}
	}
	for (auto &w : gone)
		w->close();
}

void fabric_forget_context(Context &c) noexcept
{
	HandleState &st = state();
	std::vector<std::unique_ptr<Window>> gone;
	{
		std::lock_guard lk(st.m);
		auto it = st.exports.find(c.handle);
		if (it != st.exports.end()) {
			for (auto &kv : it->second)
				gone.push_back(std::move(kv.second.window));
			st.exports.erase(it);
		}
		st.imports.erase(c.handle);
	}
	for (auto &w : gone)
		w->close();
}

std::optional<ImportedRange> imported_range(Context &c, uint64_t ptr, uint64_t size,
					    const char *name)
{
	if (!(ptr & kRemotePtr))
		return std::nullopt;
	const uint32_t slot = static_cast<uint32_t>((ptr & ~kRemotePtr) >> kSlotShift);
	const uint64_t offset = ptr & kOffsetMask;
	if (ptr & kGuardBit)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(name) + " " + hex(ptr) +
			     " is 2^40 or more past the start of an imported region");
	HandleState &st = state();
	std::lock_guard lk(st.m);
	auto it = st.imports.find(c.handle);
	auto im = it == st.imports.end() ? decltype(it->second.end()){} : it->second.find(slot);
	if (it == st.imports.end() || im == it->second.end())
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(name) + " " + hex(ptr) +
			     " is no device address and no region this context imported "
			     "(lumen_mem_import_fabric)");
	const lumen_window_desc_t &d = im->second;
	if (offset > d.size || size > d.size - offset)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(name) + " + " + std::to_string(size) + " runs past the " +
			     std::to_string(d.size) + " bytes of the imported region");
	return ImportedRange{d, offset};
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_mem_export_fabric(lumen_context_t ctx, lumen_devptr_t ptr, size_t size,
				       unsigned rights, lumen_fabric_handle_t *handle)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(handle, "handle");
		c->check();
		require_links(*c);
		check_window_rights(rights, "rights");
		if (size == 0 || size > kOffsetMask + 1)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "size " + std::to_string(size) + " is not 1 .. 2^40");
		c->mem().check_device(ptr, size, "ptr");
		auto w = std::make_unique<Window>(c, ptr, size, rights, true);
		lumen_fabric_handle_t h{};
		h.magic = LUMEN_FABRIC_HANDLE_MAGIC;
		h.version = LUMEN_FABRIC_HANDLE_VERSION;
		h.window = w->desc();
		HandleState &st = state();
		bool gone = false;
		{
			std::lock_guard lk(st.m);
			// Destroyed meanwhile: fabric_forget_context would not see it.
			try {
				context_from_handle(ctx);
			} catch (const Error &) {
				gone = true;
			}
			if (!gone)
				st.exports[c->handle][h.window.window] =
					Export{ptr, size, std::move(w)};
		}
		if (gone) {
			w->close();
			fail(LUMEN_ERROR_INVALID_HANDLE, "the context was destroyed meanwhile");
		}
		*handle = h;
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_mem_revoke_fabric(lumen_context_t ctx, const lumen_fabric_handle_t *handle)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		check_handle(handle);
		std::unique_ptr<Window> w;
		HandleState &st = state();
		{
			std::lock_guard lk(st.m);
			auto it = st.exports.find(c->handle);
			auto e = it == st.exports.end() ? decltype(it->second.end()){}
							: it->second.find(handle->window.window);
			if (it == st.exports.end() || e == it->second.end() ||
			    e->second.window->desc().key != handle->window.key)
				fail(LUMEN_ERROR_INVALID_ARGUMENT,
				     "handle names no region this context exported (revoked "
				     "already, or another context's)");
			w = std::move(e->second.window);
			it->second.erase(e);
		}
		w->close();
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_mem_import_fabric(lumen_context_t ctx, const lumen_fabric_handle_t *handle,
				       lumen_devptr_t *remote_ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		require(remote_ptr, "remote_ptr");
		check_handle(handle);
		c->check();
		require_links(*c);
		peer_require_route(c->device(), handle->window.chip_id);
		HandleState &st = state();
		std::lock_guard lk(st.m);
		auto &mine = st.imports[c->handle];
		if (mine.size() >= kMaxImports)
			fail(LUMEN_ERROR_BUSY, "the context has " + std::to_string(kMaxImports) +
						       " imported regions: release some");
		uint32_t slot = st.next_import;
		while (slot == 0 || slot >= kSlotLimit || mine.count(slot))
			slot = slot >= kSlotLimit - 1 ? 1 : slot + 1;
		st.next_import = slot + 1;
		mine[slot] = handle->window;
		*remote_ptr = kRemotePtr | uint64_t(slot) << kSlotShift;
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_mem_release_fabric(lumen_context_t ctx, lumen_devptr_t remote_ptr)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		const uint32_t slot =
			static_cast<uint32_t>((remote_ptr & ~kRemotePtr) >> kSlotShift);
		HandleState &st = state();
		std::lock_guard lk(st.m);
		auto it = st.imports.find(c->handle);
		if (!(remote_ptr & kRemotePtr) || (remote_ptr & (kOffsetMask | kGuardBit)) ||
		    it == st.imports.end() || !it->second.erase(slot))
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "remote_ptr " + hex(remote_ptr) +
				     " is not a region this context imported");
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
