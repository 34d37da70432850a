// SPDX-License-Identifier: MIT
// Host unit tests of the runtime's caching sub-allocator and VA allocator,
// driven by a fake chunk backend (no device).
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <set>
#include <stdexcept>
#include <vector>

#include "rt/suballocator.hpp"
#include "rt/va_allocator.hpp"

using lumen::rt::SubAllocator;
using lumen::rt::VaAllocator;

namespace {

struct FakeBackend : lumen::rt::ChunkBackend {
	uint64_t next = 1ull << 32;
	size_t limit = 1000, allocs = 0, releases = 0;
	std::set<uint64_t> live;
	uint64_t allocate_chunk(uint64_t size) override
	{
		if (live.size() >= limit)
			throw std::runtime_error("fake backend: out of device memory");
		uint64_t b = next;
		next += size;
		live.insert(b);
		allocs++;
		return b;
	}
	void release_chunk(uint64_t base) noexcept override
	{
		live.erase(base);
		releases++;
	}
};

void size_classes(void **)
{
	assert_int_equal(SubAllocator::class_of(1), 0);
	assert_int_equal(SubAllocator::class_of(256), 0);
	assert_int_equal(SubAllocator::class_of(257), 1);
	assert_int_equal(SubAllocator::class_of(4096), 4);
	assert_int_equal(SubAllocator::class_of(SubAllocator::kMaxSize),
			 SubAllocator::kClasses - 1);
	FakeBackend be;
	SubAllocator sa(be);
	for (uint64_t sz : {1ull, 100ull, 256ull, 300ull, 4096ull, 5000ull, 262144ull}) {
		uint64_t p = sa.allocate(sz);
		uint64_t cs = sa.block_size(p);
		assert_true(cs >= sz);
		assert_true(cs < 2 * sz || cs == 256);
		assert_int_equal(p % cs, 0); // aligned to its class
	}
}

void one_chunk_many_allocs(void **)
{
	FakeBackend be;
	SubAllocator sa(be);
	std::set<uint64_t> seen;
	for (int i = 0; i < 512; i++) {
		uint64_t p = sa.allocate(4096);
		assert_true(seen.insert(p).second); // distinct
	}
	assert_int_equal(be.allocs, 1); // 512 * 4 KiB = one 2 MiB chunk
	sa.allocate(4096);
	assert_int_equal(be.allocs, 2);
	assert_int_equal(sa.bytes_used(), 513 * 4096);
}

void reuse_after_free(void **)
{
	FakeBackend be;
	SubAllocator sa(be);
	uint64_t a = sa.allocate(1000);
	uint64_t b = sa.allocate(1000);
	assert_true(sa.free(a));
	assert_false(sa.free(a));     // double free detected
	assert_false(sa.free(b + 8)); // not a block start
	uint64_t c = sa.allocate(1000);
	assert_int_equal(c, a);
	assert_int_equal(be.allocs, 1);
	assert_int_equal(be.releases, 0); // free returns to the cache
}

void trim_releases_empty_chunks(void **)
{
	FakeBackend be;
	SubAllocator sa(be);
	std::vector<uint64_t> ps;
	for (int i = 0; i < 3 * 512; i++)
		ps.push_back(sa.allocate(4096));
	assert_int_equal(sa.chunk_count(), 3);
	for (int i = 0; i < 2 * 512; i++)
		assert_true(sa.free(ps[i]));
	assert_int_equal(sa.bytes_cached(), 2 * SubAllocator::kChunkSize);
	assert_int_equal(sa.trim(), 2 * SubAllocator::kChunkSize);
	assert_int_equal(sa.chunk_count(), 1);
	assert_int_equal(be.live.size(), 1);
	assert_int_equal(sa.trim(), 0); // the last chunk is in use
	for (int i = 2 * 512; i < 3 * 512; i++)
		sa.free(ps[i]);
	sa.trim();
	assert_int_equal(be.live.size(), 0);
	assert_int_equal(sa.bytes_used(), 0);
}

void fragmentation(void **)
{
	FakeBackend be;
	SubAllocator sa(be);
	std::vector<uint64_t> ps;
	for (int i = 0; i < 1024; i++)
		ps.push_back(sa.allocate(2048));
	for (int i = 0; i < 1024; i += 2)
		sa.free(ps[i]); // every other block
	size_t chunks = sa.chunk_count();
	for (int i = 0; i < 512; i++)
		sa.allocate(2048); // holes are refilled before new chunks
	assert_int_equal(sa.chunk_count(), chunks);
	// Other classes never share a chunk with 2 KiB blocks.
	uint64_t big = sa.allocate(65536);
	assert_int_equal(sa.block_size(big), 65536);
	assert_int_equal(sa.chunk_count(), chunks + 1);
	uint64_t s, sz;
	assert_true(sa.find_block(big + 100, &s, &sz));
	assert_int_equal(s, big);
	assert_false(sa.find_block(ps[0], &s, &sz) && s != ps[0]);
}

void backend_out_of_memory(void **)
{
	FakeBackend be;
	be.limit = 1;
	SubAllocator sa(be);
	sa.allocate(SubAllocator::kMaxSize);
	sa.allocate(SubAllocator::kMaxSize); // 8 x 256 KiB per chunk
	bool threw = false;
	try {
		for (int i = 0; i < 8; i++)
			sa.allocate(SubAllocator::kMaxSize);
	} catch (const std::runtime_error &) {
		threw = true;
	}
	assert_true(threw);
	assert_int_equal(sa.chunk_count(), 1); // nothing half-made
	assert_int_equal(sa.bytes_used(), 8 * SubAllocator::kMaxSize);
}

void destructor_releases_all(void **)
{
	FakeBackend be;
	{
		SubAllocator sa(be);
		sa.allocate(300);
		sa.allocate(70000);
	}
	assert_int_equal(be.live.size(), 0);
}

void va_alloc_basic(void **)
{
	VaAllocator va(1ull << 32, (1ull << 32) + (64ull << 20));
	auto a = va.allocate(4096, 4096);
	auto b = va.allocate(2ull << 20, 2ull << 20);
	assert_true(a && b);
	assert_int_equal(*a, 1ull << 32);
	assert_int_equal(*b % (2ull << 20), 0);
	assert_true(*b >= *a + 4096);
	auto c = va.allocate(100, 4096); // rounded to a page
	assert_true(c.has_value());
	assert_int_equal(va.bytes_free(), (64ull << 20) - 4096 - (2ull << 20) - 4096);
	assert_true(va.release(*a));
	assert_false(va.release(*a));
	assert_true(va.release(*b));
	assert_true(va.release(*c));
	assert_int_equal(va.bytes_free(), 64ull << 20);
	// Fully coalesced: the whole range fits again.
	auto all = va.allocate(64ull << 20, 4096);
	assert_true(all.has_value());
	assert_false(va.allocate(4096, 4096).has_value());
	assert_false(va.allocate(0, 4096).has_value());
}

void va_alloc_exhaustion_and_reuse(void **)
{
	VaAllocator va(1ull << 32, (1ull << 32) + (8ull << 20));
	std::vector<uint64_t> v;
	while (auto p = va.allocate(1ull << 20, 1ull << 20))
		v.push_back(*p);
	assert_int_equal(v.size(), 8);
	va.release(v[3]);
	va.release(v[4]);
	auto p = va.allocate(2ull << 20, 1ull << 20);
	assert_true(p.has_value());
	assert_int_equal(*p, v[3]);
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_classes),
		cmocka_unit_test(one_chunk_many_allocs),
		cmocka_unit_test(reuse_after_free),
		cmocka_unit_test(trim_releases_empty_chunks),
		cmocka_unit_test(fragmentation),
		cmocka_unit_test(backend_out_of_memory),
		cmocka_unit_test(destructor_releases_all),
		cmocka_unit_test(va_alloc_basic),
		cmocka_unit_test(va_alloc_exhaustion_and_reuse),
	};
	return cmocka_run_group_tests_name("rt_suballocator", tests, NULL, NULL);
}
