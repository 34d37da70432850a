// SPDX-License-Identifier: MIT
#include "traps.hpp"

#include <algorithm>

namespace lumen_fm {

void TrapCoalescer::add(const lumen::mgmt::Trap &t, double now_ms)
{
	auto it = last_seq_.find(t.chip_id);
	if (it != last_seq_.end() && t.sequence != it->second + 1) {
		// Not the next one: lost in between (or the chip was reset and
		// counts from 0 again); either way what we know of it is stale.
		if (t.sequence != it->second)
			batch_.seq_gap = true;
		else
			return; // the same trap twice
	}
	last_seq_[t.chip_id] = t.sequence;
	if (batch_.traps.empty())
		first_ = now_ms;
	last_ = now_ms;
	batch_.traps.push_back(t);
	batch_.chips.insert(t.chip_id);
}

double TrapCoalescer::due_ms() const noexcept
{
	return std::min(last_ + kWindowMs, first_ + kMaxHoldMs);
}

TrapBatch TrapCoalescer::take()
{
	TrapBatch b = std::move(batch_);
	batch_ = TrapBatch{};
	return b;
}

} // namespace lumen_fm
