// SPDX-License-Identifier: MIT
#include "rt/staging.hpp"

#include "rt/memory_manager.hpp"

namespace lumen::rt {

StagingPool::~StagingPool()
{
	for (auto &b : all_)
		mem_.release_pinned(std::move(b));
}

PinnedBuffer *StagingPool::acquire()
{
	std::unique_lock lk(m_);
	for (;;) {
		// Reclaim pieces whose copies completed.
		for (auto it = busy_.begin(); it != busy_.end();) {
			if (it->tl->submitted() >= it->point && it->tl->wait(it->point, 0)) {
				free_.push_back(it->buf);
				it = busy_.erase(it);
			} else {
				++it;
			}
		}
		if (!free_.empty()) {
			PinnedBuffer *b = free_.back();
			free_.pop_back();
			return b;
		}
		if (all_.size() + creating_ < kMaxPieces) {
			creating_++;
			lk.unlock();
			std::unique_ptr<PinnedBuffer> b;
			try {
				b = mem_.make_pinned(kPiece);
			} catch (...) {
				lk.lock();
				creating_--;
				throw;
			}
			lk.lock();
			creating_--;
			PinnedBuffer *raw = b.get();
			all_.push_back(std::move(b));
			return raw;
		}
		if (!busy_.empty()) {
			Busy oldest = busy_.front();
			lk.unlock();
			oldest.tl->wait(oldest.point, -1);
			lk.lock();
			continue;
		}
		cv_.wait(lk);
	}
}

void StagingPool::release_after(PinnedBuffer *b, std::shared_ptr<Timeline> tl, uint64_t point)
{
	std::lock_guard lk(m_);
	busy_.push_back({b, std::move(tl), point});
}

void StagingPool::release_now(PinnedBuffer *b) noexcept
{
	{
		std::lock_guard lk(m_);
		try {
			free_.push_back(b);
		} catch (...) {
		}
	}
	cv_.notify_all();
}

} // namespace lumen::rt
