// SPDX-License-Identifier: MIT
#include "rt/suballocator.hpp"

#include <algorithm>

namespace lumen::rt {

SubAllocator::~SubAllocator()
{
	for (auto &kv : chunks_)
		backend_.release_chunk(kv.first);
}

unsigned SubAllocator::class_of(uint64_t size) noexcept
{
	unsigned shift = kMinShift;
	while ((1ull << shift) < size)
		shift++;
	return shift - kMinShift;
}

uint64_t SubAllocator::allocate(uint64_t size)
{
	unsigned cls = class_of(size);
	auto &partial = partial_[cls];
	if (partial.empty()) {
		uint64_t base = backend_.allocate_chunk(kChunkSize);
		auto c = std::make_unique<Chunk>();
		c->base = base;
		c->cls = cls;
		c->nblocks = static_cast<uint32_t>(kChunkSize / class_size(cls));
		c->nfree = c->nblocks;
		c->bitmap.assign((c->nblocks + 63) / 64, 0);
		Chunk *raw = c.get();
		try {
			partial.push_back(raw);
			chunks_.emplace(base, std::move(c));
		} catch (...) {
			partial.erase(std::remove(partial.begin(), partial.end(), raw),
				      partial.end());
			backend_.release_chunk(base);
			throw;
		}
	}
	// Prefer the most recently used partial chunk (back): warm, and lets
	// older chunks drain so trim can release them.
	Chunk *c = partial.back();
	uint32_t words = static_cast<uint32_t>(c->bitmap.size());
	for (uint32_t n = 0; n < words; n++) {
		uint32_t w = (c->hint + n) % words;
		uint64_t bits = c->bitmap[w];
		if (bits == ~0ull)
			continue;
		unsigned b = static_cast<unsigned>(__builtin_ctzll(~bits));
		uint32_t idx = w * 64 + b;
		if (idx >= c->nblocks)
			continue;
		c->bitmap[w] |= 1ull << b;
		c->hint = w;
		if (--c->nfree == 0)
			partial.pop_back();
		used_ += class_size(cls);
		return c->base + static_cast<uint64_t>(idx) * class_size(cls);
	}
	// Unreachable: a partial chunk has a free block.
	partial.pop_back();
	return allocate(size);
}

SubAllocator::Chunk *SubAllocator::chunk_containing(uint64_t addr) const noexcept
{
	auto it = chunks_.upper_bound(addr);
	if (it == chunks_.begin())
		return nullptr;
	--it;
	if (addr - it->first >= kChunkSize)
		return nullptr;
	return it->second.get();
}

bool SubAllocator::find_block(uint64_t addr, uint64_t *start, uint64_t *size) const noexcept
{
	Chunk *c = chunk_containing(addr);
	if (!c)
		return false;
	uint64_t cs = class_size(c->cls);
	uint64_t idx = (addr - c->base) / cs;
	if (!(c->bitmap[idx / 64] >> (idx % 64) & 1))
		return false;
	*start = c->base + idx * cs;
	*size = cs;
	return true;
}

uint64_t SubAllocator::block_size(uint64_t addr) const noexcept
{
	uint64_t s, sz;
	if (!find_block(addr, &s, &sz) || s != addr)
		return 0;
	return sz;
}

uint64_t SubAllocator::chunk_of(uint64_t addr) const noexcept
{
	Chunk *c = chunk_containing(addr);
	return c ? c->base : 0;
}

bool SubAllocator::free(uint64_t addr) noexcept
{
	Chunk *c = chunk_containing(addr);
	if (!c)
		return false;
	uint64_t cs = class_size(c->cls);
	if ((addr - c->base) % cs)
		return false;
	uint64_t idx = (addr - c->base) / cs;
	uint64_t &word = c->bitmap[idx / 64];
	if (!(word >> (idx % 64) & 1))
		return false;
	word &= ~(1ull << (idx % 64));
	used_ -= cs;
	if (c->nfree++ == 0) {
		// Was full: becomes partial again. push_back of a pointer into a
		// vector that had this element before cannot need more capacity
		// than it once had, but may still allocate; losing it from the
		// partial list only costs reuse until trim, never correctness.
		try {
			partial_[c->cls].insert(partial_[c->cls].begin(), c);
		} catch (...) {
		}
	}
	return true;
}

uint64_t SubAllocator::trim() noexcept
{
	uint64_t released = 0;
	for (auto it = chunks_.begin(); it != chunks_.end();) {
		Chunk *c = it->second.get();
		if (c->nfree != c->nblocks) {
			++it;
			continue;
		}
		auto &p = partial_[c->cls];
		p.erase(std::remove(p.begin(), p.end(), c), p.end());
		backend_.release_chunk(it->first);
		released += kChunkSize;
		it = chunks_.erase(it);
	}
	return released;
}

} // namespace lumen::rt
