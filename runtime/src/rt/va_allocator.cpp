// SPDX-License-Identifier: MIT
#include "rt/va_allocator.hpp"

#include <iterator>

namespace lumen::rt {

VaAllocator::VaAllocator(uint64_t start, uint64_t end)
    : start_(start), end_(end), free_bytes_(end > start ? end - start : 0)
{
	if (end > start)
		free_.emplace(start, end - start);
}

std::optional<uint64_t> VaAllocator::allocate(uint64_t size, uint64_t align)
{
	if (size == 0 || size > end_ - start_)
		return std::nullopt;
	if (align < kPage || (align & (align - 1)))
		align = align < kPage ? kPage : align;
	size = (size + kPage - 1) & ~(kPage - 1);
	for (auto it = free_.begin(); it != free_.end(); ++it) {
		uint64_t hs = it->first, hsz = it->second;
		uint64_t a = (hs + align - 1) & ~(align - 1);
		if (a < hs || a - hs > hsz || hsz - (a - hs) < size)
			continue;
		free_.erase(it);
		if (a > hs)
			free_.emplace(hs, a - hs);
		if (hs + hsz > a + size)
			free_.emplace(a + size, hs + hsz - (a + size));
		used_.emplace(a, size);
		free_bytes_ -= size;
		return a;
	}
	return std::nullopt;
}

bool VaAllocator::release(uint64_t va)
{
	auto u = used_.find(va);
	if (u == used_.end())
		return false;
	uint64_t s = u->first, sz = u->second;
	used_.erase(u);
	free_bytes_ += sz;
	auto next = free_.lower_bound(s);
	if (next != free_.end() && s + sz == next->first) {
		sz += next->second;
		next = free_.erase(next);
	}
	if (next != free_.begin()) {
		auto prev = std::prev(next);
		if (prev->first + prev->second == s) {
			prev->second += sz;
			return true;
		}
	}
	free_.emplace(s, sz);
	return true;
}

} // namespace lumen::rt
