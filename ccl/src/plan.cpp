// SPDX-License-Identifier: MIT
#include "plan.hpp"

#include <lumen/lumen.h>

#include <chrono>
#include <string>

#include "failure.hpp"

namespace lumen::ccl {
namespace {

// How often the watcher asks lumen-fm: a reroute is noticed within this
// (and the manager's own reroute time) by the next collective queued.
constexpr auto kPoll = std::chrono::milliseconds(250);

} // namespace

FabricWatch &FabricWatch::get()
{
	static FabricWatch w;
	return w;
}

FabricWatch::FabricWatch()
{
	// A first look now, so that communicators made right after start
	// with a plan of the current tables.
	uint64_t g = 0;
	if (lumen_fabric_wait_generation(0, 0, &g) == LUMEN_SUCCESS)
		gen_.store(g, std::memory_order_release);
	thread_ = std::thread([this] { loop(); });
}

FabricWatch::~FabricWatch()
{
	{
		std::lock_guard lk(m_);
		stop_ = true;
	}
	cv_.notify_all();
	thread_.join();
}

void FabricWatch::loop()
{
	std::unique_lock lk(m_);
	while (!cv_.wait_for(lk, kPoll, [this] { return stop_; })) {
		lk.unlock();
		uint64_t g = 0;
		// 0 ms: only look. No manager (yet, or any more): keep the last.
		const lumen_status_t s = lumen_fabric_wait_generation(0, 0, &g);
		if ((s == LUMEN_SUCCESS || s == LUMEN_ERROR_TIMEOUT) && g)
			gen_.store(g, std::memory_order_release);
		lk.lock();
	}
}

namespace {

// Hops from src to dst in the chips' tables now; 0 for the same chip or
// when no manager answers (nothing known). Throws for an unreachable dst.
uint32_t hops(int rank, const char *who, uint32_t src, uint32_t dst)
{
	if (src == dst || src == kNoChip || dst == kNoChip)
		return 0;
	lumen_route_info_t info{};
	LUMEN_STRUCT_INIT(info);
	const lumen_status_t s = lumen_fabric_get_route(src, dst, &info, nullptr, 0);
	if (s == LUMEN_ERROR_UNREACHABLE)
		fail(s, "rank " + std::to_string(rank) + ": no route from chip " +
				std::to_string(src) + " to the " + who + " rank's chip " +
				std::to_string(dst) + " in routing generation " +
				std::to_string(info.generation));
	return s == LUMEN_SUCCESS ? info.num_hops : 0;
}

} // namespace

void replan_if_moved(Plan &plan, int rank, uint32_t chip, uint32_t next_chip, uint32_t prev_chip)
{
	const uint64_t g = FabricWatch::get().generation();
	if (g == plan.generation)
		return;
	Plan p = plan;
	p.next_hops = hops(rank, "next", chip, next_chip);
	p.prev_hops = hops(rank, "previous", chip, prev_chip);
	if (plan.generation)
		p.replans++;
	p.generation = g;
	plan = p;
}

} // namespace lumen::ccl
