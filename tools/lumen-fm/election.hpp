// SPDX-License-Identifier: MIT
// Election of one master per supernode over the chips' manager records
// (ATTR_MANAGER, hw-spec 13.6), as pure decisions (host-tested); the
// manager loop (manager.cpp) does the GETs and SETs.
//
// - The master SETs its record (state master, activity + 1) on its own
//   chip every --heartbeat-ms, and on every chip at each sweep.
// - A manager starting up reads every chip's record: a master record of
//   another manager makes it watch that manager's chip; if the activity
//   moves within --takeover-ms it stands by, else it takes over.
// - A standby polls the master's chip; no change of activity for
//   --takeover-ms, the chip unreachable that long, or a record that is no
//   longer master (a master that stops hands over so): take over.
// - Two masters (started together): the one with the higher (priority,
//   guid) stays; the other stands by when it sees the winner's record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mgmt/packet.hpp"

namespace lumen_fm {

struct Self {
	uint64_t guid = 0;
	uint32_t chip = 0;
	uint8_t priority = 0;
};

// (priority, guid) order: true when a beats b.
bool outranks(uint8_t prio_a, uint64_t guid_a, uint8_t prio_b, uint64_t guid_b);

// The master record among those read (other managers' only), the
// highest-ranked one when there are several. deposed: the master we took
// over from, as last seen; its records (left on every chip: a killed master
// cannot clear them) count only if their activity moved past that, that is
// if it is alive after all.
std::optional<lumen::mgmt::ManagerRecord>
find_master(const std::vector<lumen::mgmt::ManagerRecord> &seen, const Self &self,
	    const std::optional<lumen::mgmt::ManagerRecord> &deposed = std::nullopt);

// A master that sees another master's record: stand by for it?
bool should_yield(const Self &self, const lumen::mgmt::ManagerRecord &other);

// Watching a master (at start, or as standby).
class Watch {
      public:
	Watch() = default;
	Watch(const lumen::mgmt::ManagerRecord &rec, double now_ms);

	enum class Verdict { Keep, Alive, Takeover, Follow };
	// One poll of the master's chip: its record, or nullopt when it did
	// not answer. Alive = the activity moved (a starting manager then
	// stands by); Follow = another master took over (watch it instead,
	// see master()); Takeover with the reason in why().
	Verdict poll(const std::optional<lumen::mgmt::ManagerRecord> &rec, double now_ms,
		     double takeover_ms);
	const lumen::mgmt::ManagerRecord &master() const noexcept { return rec_; }
	const std::string &why() const noexcept { return why_; }

      private:
	lumen::mgmt::ManagerRecord rec_;
	double changed_ms_ = 0; // last activity change (or start of watch)
	double answered_ms_ = 0;
	std::string why_;
};

} // namespace lumen_fm
