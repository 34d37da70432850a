// SPDX-License-Identifier: MIT
// C API of peer access between contexts (1.1): reachability, the enabled
// (context, peer) pairs, and peer copies as remote writes or reads through
// windows the runtime opens on the peer allocations they touch.
#include "rt/peer.hpp"

#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "route/routes.hpp"
#include "rt/context.hpp"
#include "rt/device.hpp"
#include "rt/fabric_client.hpp"
#include "rt/fabric_handle.hpp"
#include "rt/handles.hpp"
#include "rt/kernel.hpp"
#include "rt/remote.hpp"
#include "rt/status.hpp"
#include "rt/stream.hpp"
#include "rt/window.hpp"

namespace lumen::rt {
namespace {

constexpr unsigned kAllRights = kWindowRights;

// Process-wide: which contexts may reach which, and the windows opened on
// allocations for them, by (context handle, allocation start). A window
// holds its context; peer_forget_context() lets go of it.
struct PeerState {
	std::mutex m;
	std::set<std::pair<uintptr_t, uintptr_t>> enabled;
	std::map<std::pair<uintptr_t, uint64_t>, std::unique_ptr<Window>> windows;
};

PeerState &state()
{
	static PeerState s;
	return s;
}

std::string chip_str(uint32_t c)
{
	return "chip " + std::to_string(c);
}

// The device's own route table entry for dst leads out of a port that is
// up (or its alternative does). Needs CAP_SYS_ADMIN: fm_why says why the
// fabric manager could not tell either.
bool local_table_reaches(Device &dev, uint32_t dst, const std::string &fm_why)
{
	sys::DrmDevice d = open_drm(dev);
	uint32_t word = 0;
	drm_lumen_route r{};
	r.op = DRM_LUMEN_ROUTE_GET;
	r.first = dst;
	r.count = 1;
	r.words = reinterpret_cast<uintptr_t>(&word);
	int ret = kioctl(d.fd(), DRM_IOCTL_LUMEN_ROUTE, &r);
	if (ret == -EPERM)
		fail(LUMEN_ERROR_FABRIC_UNAVAILABLE,
		     fm_why + "; and reading the card's route table needs CAP_SYS_ADMIN");
	if (ret)
		fail_errno("ROUTE GET of " + chip_str(dst) + " on device " +
				   std::to_string(dev.index()),
			   -ret);
	auto e = lumen::route::RouteEntry::decode(word);
	uint32_t up = dev.link_info().ports_up;
	return e.valid && ((up >> e.port & 1) ||
			   (e.alt_port != lumen::route::kNoPort && (up >> e.alt_port & 1)));
}

// Does a route lead from the device's chip to dst now? Throws INVALID_CHIP
// for a chip the fabric does not have.
bool reaches(Device &dev, uint32_t dst)
{
	const drm_lumen_device_info &info = dev.info();
	if (dst >= DRM_LUMEN_MAX_CHIPS)
		fail(LUMEN_ERROR_INVALID_CHIP,
		     chip_str(dst) + " is not below " + std::to_string(DRM_LUMEN_MAX_CHIPS));
	if (dst == info.chip_id)
		return true; // loopback
	try {
		auto r = fabric_request("route " + std::to_string(info.chip_id) + " " +
					std::to_string(dst));
		auto o = r.find("outcome");
		return o != r.end() && o->is_string() && o->get<std::string>() == "arrived";
	} catch (const Error &e) {
		if (e.status() != LUMEN_ERROR_FABRIC_UNAVAILABLE)
			throw;
		return local_table_reaches(dev, dst, e.what());
	}
}

// A window on the whole allocation of peer holding [ptr, ptr + size), opened
// on first use; its descriptor, and the range's offset in it.
std::pair<lumen_window_desc_t, uint64_t> peer_window(const std::shared_ptr<Context> &peer,
						     uint64_t ptr, uint64_t size, const char *name)
{
	peer->mem().check_device(ptr, size, name);
	auto a = peer->mem().allocation_of(ptr);
	if (!a)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     std::string(name) + " " + hex(ptr) + " is in no allocation of its context");
	PeerState &st = state();
	const auto key = std::make_pair(peer->handle, a->first);
	{
		std::lock_guard lk(st.m);
		auto it = st.windows.find(key);
		if (it != st.windows.end())
			return {it->second->desc(), ptr - a->first};
	}
	// WINDOW_OPEN outside the lock: a stalled ioctl must not stop every
	// other context's copies, frees and teardown.
	std::unique_ptr<Window> w;
	try {
		w = std::make_unique<Window>(peer, a->first, a->second, kAllRights, true);
	} catch (const Error &e) {
		if (e.status() != LUMEN_ERROR_BUSY)
			throw;
		fail(LUMEN_ERROR_BUSY, std::string(name) +
					       "'s context has no remote window slot "
					       "left for a peer copy into another of its "
					       "allocations (one window per allocation "
					       "reached; lumen.ko max_file_windows): use "
					       "fewer, larger peer buffers");
	}
	std::unique_ptr<Window> spare; // closed after the lock, if not kept
	lumen_window_desc_t desc{};
	bool gone = false;
	{
		std::lock_guard lk(st.m);
		// The peer destroyed meanwhile (peer_forget_context ran, or runs
		// after this): keep nothing it would not find.
		try {
			context_from_handle(reinterpret_cast<lumen_context_t>(peer->handle));
		} catch (const Error &) {
			gone = true;
		}
		if (gone) {
			spare = std::move(w);
		} else {
			auto [it, added] = st.windows.try_emplace(key, std::move(w));
			if (!added)
				spare = std::move(w); // another copy opened one first
			desc = it->second->desc();
		}
	}
	if (spare)
		spare->close();
	if (gone)
		fail(LUMEN_ERROR_INVALID_HANDLE, std::string(name) + "'s context was destroyed");
	return {desc, ptr - a->first};
}

// memcpy_peer within one context: a device copy, or a remote write to or
// read from a region it imported.
lumen_status_t copy_within(Stream &s, lumen_stream_t stream, uint64_t dst, uint64_t src,
			   uint64_t size)
{
	auto to = imported_range(s.ctx(), dst, size, "dst");
	auto from = imported_range(s.ctx(), src, size, "src");
	if (!to && !from)
		return lumen_memcpy_d2d_async(stream, dst, src, size);
	if (to && from)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "dst and src are both imported regions: copy through local memory");
	s.ctx().check();
	const ImportedRange &r = to ? *to : *from;
	check_desc(&r.desc, to ? "dst" : "src", to ? LUMEN_WINDOW_WRITE : LUMEN_WINDOW_READ,
		   r.offset, size);
	s.ctx().mem().check_device(to ? src : dst, size, to ? "src" : "dst");
	if (size)
		remote_transfer(s, bool(to), to ? src : dst, r.desc, r.offset, size);
	return LUMEN_SUCCESS;
}

} // namespace

void peer_require_route(Device &dev, uint32_t chip)
{
	try {
		if (!reaches(dev, chip))
			fail(LUMEN_ERROR_UNREACHABLE, "no route leads from device " +
							      std::to_string(dev.index()) + " to " +
							      chip_str(chip));
	} catch (const Error &e) {
		// Nobody can tell (no lumen-fm, no CAP_SYS_ADMIN): the copies will.
		if (e.status() != LUMEN_ERROR_FABRIC_UNAVAILABLE)
			throw;
	}
}

void runtime_windows_release(Context &c, uint64_t base, uint64_t size) noexcept
{
	fabric_release_allocation(c, base, size);
	PeerState &st = state();
	std::unique_ptr<Window> w;
	{
		std::lock_guard lk(st.m);
		auto it = st.windows.find({c.handle, base});
		if (it == st.windows.end())
			return;
		w = std::move(it->second);
		st.windows.erase(it);
	}
	w->close();
}

void peer_forget_context(Context &c) noexcept
{
	PeerState &st = state();
	std::vector<std::unique_ptr<Window>> gone;
	{
		std::lock_guard lk(st.m);
		for (auto it = st.enabled.begin(); it != st.enabled.end();)
			if (it->first == c.handle || it->second == c.handle)
				it = st.enabled.erase(it);
			else
				++it;
		for (auto it = st.windows.begin(); it != st.windows.end();)
			if (it->first.first == c.handle) {
				gone.push_back(std::move(it->second));
				it = st.windows.erase(it);
			} else {
				++it;
			}
	}
	for (auto &w : gone)
		w->close();
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_device_can_access_peer(lumen_device_t device, uint32_t peer_chip,
					    int *can_access, uint32_t *caps)
{
	return guard(__func__, [&] {
		auto dev = device_from_handle(device);
		require(can_access, "can_access");
		*can_access = 0;
		if (caps)
			*caps = 0;
		const drm_lumen_device_info &info = dev->info();
		if (!(info.capabilities & DRM_LUMEN_CAP_LINKS))
			return LUMEN_SUCCESS;
		if (!reaches(*dev, peer_chip))
			return LUMEN_SUCCESS;
		*can_access = 1;
		if (caps) {
			*caps = LUMEN_PEER_READ | LUMEN_PEER_WRITE | LUMEN_PEER_ATOMIC;
			auto peer = peer_chip == info.chip_id ? dev : device_of_chip(peer_chip);
			if ((info.capabilities & DRM_LUMEN_CAP_REDUCE) && peer &&
			    (peer->info().capabilities & DRM_LUMEN_CAP_REDUCE))
				*caps |= LUMEN_PEER_REDUCE;
		}
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_context_enable_peer_access(lumen_context_t ctx, lumen_context_t peer)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		auto p = context_from_handle(peer);
		if (c == p)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "peer is ctx: a context reaches its own memory without peer access");
		c->check();
		p->check();
		require_links(*c);
		require_links(*p);
		peer_require_route(c->device(), p->chip_id());
		PeerState &st = state();
		std::lock_guard lk(st.m);
		st.enabled.insert({c->handle, p->handle});
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_context_disable_peer_access(lumen_context_t ctx, lumen_context_t peer)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		auto p = context_from_handle(peer);
		PeerState &st = state();
		std::lock_guard lk(st.m);
		st.enabled.erase({c->handle, p->handle});
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memcpy_peer_async(lumen_stream_t stream, lumen_context_t dst_ctx,
				       lumen_devptr_t dst, lumen_context_t src_ctx,
				       lumen_devptr_t src, size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		auto d = context_from_handle(dst_ctx);
		auto sc = context_from_handle(src_ctx);
		Context &mine = s->ctx();
		if (&mine != d.get() && &mine != sc.get())
			fail(LUMEN_ERROR_WRONG_DEVICE,
			     "the stream belongs to neither dst_ctx nor src_ctx");
		if (d == sc)
			return copy_within(*s, stream, dst, src, size);
		mine.check();
		const bool write = &mine == sc.get(); // else: read from src_ctx
		const auto &peer = write ? d : sc;
		{
			PeerState &st = state();
			std::lock_guard lk(st.m);
			if (!st.enabled.count({mine.handle, peer->handle}))
				fail(LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED,
				     std::string("the stream's context has no peer access to ") +
					     (write ? "dst_ctx" : "src_ctx") +
					     ": lumen_context_enable_peer_access() first");
		}
		if (write)
			mine.mem().check_device(src, size, "src");
		else
			mine.mem().check_device(dst, size, "dst");
		if (size == 0)
			return LUMEN_SUCCESS;
		auto [desc, offset] =
			peer_window(peer, write ? dst : src, size, write ? "dst" : "src");
		remote_transfer(*s, write, write ? src : dst, desc, offset, size);
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
