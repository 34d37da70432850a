// SPDX-License-Identifier: MIT
#include "plan.hpp"

#include <lumen/lumen.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "failure.hpp"

namespace lumen::ccl {
namespace {

// How often the watcher asks lumen-fm: a reroute is noticed within this
// (and the manager's own reroute time) by the next collective queued.
constexpr auto kPoll = std::chrono::milliseconds(250);

} // namespace

namespace {

std::atomic<uint64_t> seen{0};
std::mutex m; // the fields below
std::condition_variable cv;
size_t users = 0;   // WatchRefs alive
uint64_t epoch = 0; // a watcher runs while it is the one it started in
// Never destroyed: the last WatchRef joins the thread; a process that
// leaks communicators exits with it running (no std::terminate at exit).
std::thread &watcher = *new std::thread;

// Looks every kPoll until its epoch is over.
void loop(uint64_t mine)
{
	std::unique_lock lk(m);
	while (epoch == mine) {
		lk.unlock();
		uint64_t g = 0;
		// 0 ms: only look. No manager (yet, or any more): keep the last.
		const lumen_status_t s = lumen_fabric_wait_generation(0, 0, &g);
		if ((s == LUMEN_SUCCESS || s == LUMEN_ERROR_TIMEOUT) && g)
			seen.store(g, std::memory_order_release);
		lk.lock();
		cv.wait_for(lk, kPoll, [mine] { return epoch != mine; });
	}
}

} // namespace

uint64_t FabricWatch::generation() noexcept
{
	return seen.load(std::memory_order_acquire);
}

void FabricWatch::acquire()
{
	std::unique_lock lk(m);
	if (users++)
		return;
	// A first look now, so that communicators made right after start with
	// a plan of the current tables.
	lk.unlock();
	uint64_t g = 0;
	if (lumen_fabric_wait_generation(0, 0, &g) == LUMEN_SUCCESS)
		seen.store(g, std::memory_order_release);
	lk.lock();
	if (users && !watcher.joinable()) {
		try {
			watcher = std::thread(loop, epoch);
		} catch (...) {
			users--;
			throw;
		}
	}
}

void FabricWatch::release() noexcept
{
	std::thread done;
	{
		std::lock_guard lk(m);
		if (--users)
			return;
		epoch++;
		done = std::move(watcher);
	}
	cv.notify_all();
	if (done.joinable())
		done.join();
}

namespace {

// Hops from src to dst in the chips' tables now; 0 for the same chip or
// when no manager answers (nothing known). *unreachable when the tables
// lead nowhere.
uint32_t hops(uint32_t src, uint32_t dst, bool *unreachable)
{
	if (src == dst || src == kNoChip || dst == kNoChip)
		return 0;
	lumen_route_info_t info{};
	LUMEN_STRUCT_INIT(info);
	const lumen_status_t s = lumen_fabric_get_route(src, dst, &info, nullptr, 0);
	if (s == LUMEN_ERROR_UNREACHABLE)
		*unreachable = true;
	return s == LUMEN_SUCCESS ? info.num_hops : 0;
}

} // namespace

void replan_if_moved(Plan &plan, uint32_t chip, uint32_t next_chip, uint32_t prev_chip)
{
	const uint64_t g = FabricWatch::generation();
	if (g == plan.generation)
		return;
	Plan p = plan;
	p.unreachable = false;
	p.next_hops = hops(chip, next_chip, &p.unreachable);
	p.prev_hops = hops(chip, prev_chip, &p.unreachable);
	if (plan.generation)
		p.replans++;
	p.generation = g;
	plan = p;
}

} // namespace lumen::ccl
