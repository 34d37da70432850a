// SPDX-License-Identifier: MIT
#include "election.hpp"

#include <fmt/format.h>

namespace lumen_fm {

using lumen::mgmt::ManagerRecord;

bool outranks(uint8_t prio_a, uint64_t guid_a, uint8_t prio_b, uint64_t guid_b)
{
	return prio_a != prio_b ? prio_a > prio_b : guid_a > guid_b;
}

std::optional<ManagerRecord> find_master(const std::vector<ManagerRecord> &seen, const Self &self,
					 const std::optional<ManagerRecord> &deposed)
{
	std::optional<ManagerRecord> best;

	for (const ManagerRecord &r : seen) {
		if (r.state != LUMEN_MGMT_MANAGER_MASTER || r.guid == 0 || r.guid == self.guid)
			continue;
		// What the dead master left behind: no newer than when we took over.
		if (deposed && r.guid == deposed->guid &&
		    static_cast<int32_t>(r.activity - deposed->activity) <= 0)
			continue;
		if (!best || outranks(r.priority, r.guid, best->priority, best->guid))
			best = r;
	}
	return best;
}

bool should_yield(const Self &self, const ManagerRecord &other)
{
	return other.state == LUMEN_MGMT_MANAGER_MASTER && other.guid != self.guid &&
	       outranks(other.priority, other.guid, self.priority, self.guid);
}

Watch::Watch(const ManagerRecord &rec, double now_ms)
    : rec_(rec), changed_ms_(now_ms), answered_ms_(now_ms)
{
}

Watch::Verdict Watch::poll(const std::optional<ManagerRecord> &rec, double now_ms,
			   double takeover_ms)
{
	if (!rec) {
		if (now_ms - answered_ms_ >= takeover_ms) {
			why_ = fmt::format("master's chip {} unreachable for {:.0f} ms",
					   rec_.chip_id, now_ms - answered_ms_);
			return Verdict::Takeover;
		}
		return Verdict::Keep;
	}
	answered_ms_ = now_ms;
	if (rec->guid != rec_.guid) {
		if (rec->state == LUMEN_MGMT_MANAGER_MASTER) {
			rec_ = *rec;
			changed_ms_ = now_ms;
			return Verdict::Follow;
		}
		why_ = fmt::format("chip {} holds no master record any more", rec_.chip_id);
		return Verdict::Takeover;
	}
	if (rec->state != LUMEN_MGMT_MANAGER_MASTER) {
		why_ = fmt::format("master {:016x} handed over", rec_.guid);
		return Verdict::Takeover;
	}
	if (rec->activity != rec_.activity) {
		rec_ = *rec;
		changed_ms_ = now_ms;
		return Verdict::Alive;
	}
	if (now_ms - changed_ms_ >= takeover_ms) {
		why_ = fmt::format("master {:016x} silent for {:.0f} ms", rec_.guid,
				   now_ms - changed_ms_);
		return Verdict::Takeover;
	}
	return Verdict::Keep;
}

} // namespace lumen_fm
