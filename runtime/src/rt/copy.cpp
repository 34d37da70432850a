// SPDX-License-Identifier: MIT
// C API of copies and fills: argument validation, direct device copies for
// device-reachable memory, pinned staging for pageable host memory.
#include <cstring>

#include "rt/context.hpp"
#include "rt/handles.hpp"
#include "rt/memory_manager.hpp"
#include "rt/status.hpp"
#include "rt/stream.hpp"

namespace lumen::rt {
namespace {

// A zero-byte copy or fill does nothing (as memcpy/memset would), but a
// context with a sticky error still reports it.
bool is_noop(Context &c, size_t size)
{
	if (size != 0)
		return false;
	c.check();
	return true;
}

void check_host(const void *p, size_t size, const char *name)
{
	require(p, name);
	uintptr_t a = reinterpret_cast<uintptr_t>(p);
	if (a + size < a)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string(name) + " " + hex(a) + " + " +
							   std::to_string(size) + " overflows");
}

// Returns a staging piece to the pool unless released explicitly.
class PieceGuard {
      public:
	PieceGuard(StagingPool &pool) : pool_(pool), b_(pool.acquire()) {}
	~PieceGuard()
	{
		if (b_)
			pool_.release_now(b_);
	}
	PinnedBuffer *get() const noexcept { return b_; }
	PinnedBuffer *release() noexcept { return std::exchange(b_, nullptr); }

      private:
	StagingPool &pool_;
	PinnedBuffer *b_;
};

void h2d(Stream &s, uint64_t dst, const void *src, size_t size)
{
	Context &c = s.ctx();
	c.mem().check_device(dst, size, "dst");
	check_host(src, size, "src");
	if (auto va = c.mem().host_va(src, size)) {
		s.submit({cmd_copy(dst, *va, size)});
		return;
	}
	const char *p = static_cast<const char *>(src);
	for (size_t off = 0; off < size; off += StagingPool::kPiece) {
		size_t n = std::min<size_t>(StagingPool::kPiece, size - off);
		PieceGuard piece(c.staging());
		std::memcpy(piece.get()->host(), p + off, n);
		uint64_t pt = s.submit({cmd_copy(dst + off, piece.get()->va, n)});
		c.staging().release_after(piece.release(), s.timeline(), pt);
	}
}

void d2h(Stream &s, void *dst, uint64_t src, size_t size)
{
	Context &c = s.ctx();
	c.mem().check_device(src, size, "src");
	check_host(dst, size, "dst");
	if (auto va = c.mem().host_va(dst, size)) {
		s.submit({cmd_copy(*va, src, size)});
		return;
	}
	char *p = static_cast<char *>(dst);
	for (size_t off = 0; off < size; off += StagingPool::kPiece) {
		size_t n = std::min<size_t>(StagingPool::kPiece, size - off);
		PieceGuard piece(c.staging());
		uint64_t pt = s.submit({cmd_copy(piece.get()->va, src + off, n)});
		PinnedBuffer *b = piece.get();
		StagingPool *pool = &c.staging();
		try {
			s.host_op([pool, b, out = p + off, n](lumen_status_t st) {
				if (st == LUMEN_SUCCESS)
					std::memcpy(out, b->host(), n);
				pool->release_now(b);
			});
			piece.release();
		} catch (...) {
			c.staging().release_after(piece.release(), s.timeline(), pt);
			throw;
		}
	}
}

void d2d(Stream &s, uint64_t dst, uint64_t src, size_t size)
{
	s.ctx().mem().check_device(dst, size, "dst");
	s.ctx().mem().check_device(src, size, "src");
	s.submit({cmd_copy(dst, src, size)});
}

void h2h(Stream &s, void *dst, const void *src, size_t size)
{
	check_host(dst, size, "dst");
	check_host(src, size, "src");
	auto dva = s.ctx().mem().host_va(dst, size);
	auto sva = s.ctx().mem().host_va(src, size);
	if (dva && sva) {
		s.submit({cmd_copy(*dva, *sva, size)});
		return;
	}
	s.host_op([dst, src, size](lumen_status_t st) {
		if (st == LUMEN_SUCCESS)
			std::memmove(dst, src, size);
	});
}

void fill(Stream &s, uint64_t dst, uint64_t pattern, size_t size)
{
	s.ctx().mem().check_device(dst, size, "dst");
	s.submit({cmd_fill(dst, size, pattern)});
}

uint64_t byte_pattern(int value)
{
	return 0x0101010101010101ull * static_cast<uint8_t>(value);
}

// Run op on the context's internal stream and wait for it.
template <typename F> void run_sync(Context &c, F &&op)
{
	c.check();
	auto s = c.internal_stream();
	try {
		op(*s);
	} catch (...) {
		// Pieces queued before the failure still read src / write dst:
		// finish them before the caller gets its buffers back.
		try {
			s->synchronize();
		} catch (...) {
		}
		throw;
	}
	s->synchronize();
}

} // namespace
} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_memcpy_h2d_async(lumen_stream_t stream, lumen_devptr_t dst, const void *src,
				      size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (is_noop(s->ctx(), size))
			return LUMEN_SUCCESS;
		h2d(*s, dst, src, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memcpy_d2h_async(lumen_stream_t stream, void *dst, lumen_devptr_t src,
				      size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (is_noop(s->ctx(), size))
			return LUMEN_SUCCESS;
		d2h(*s, dst, src, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memcpy_d2d_async(lumen_stream_t stream, lumen_devptr_t dst, lumen_devptr_t src,
				      size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (is_noop(s->ctx(), size))
			return LUMEN_SUCCESS;
		d2d(*s, dst, src, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memcpy_h2h_async(lumen_stream_t stream, void *dst, const void *src,
				      size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (is_noop(s->ctx(), size))
			return LUMEN_SUCCESS;
		h2h(*s, dst, src, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memcpy(lumen_context_t ctx, void *dst, const void *src, size_t size,
			    lumen_copy_kind_t kind)
{
	return guard(__func__, [&] {
		if (enum_value(kind) > LUMEN_COPY_HOST_TO_HOST)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "kind " + std::to_string(static_cast<int>(enum_value(kind))) +
				     " is not a lumen_copy_kind_t");
		auto c = context_from_handle(ctx);
		if (is_noop(*c, size))
			return LUMEN_SUCCESS;
		uint64_t d = reinterpret_cast<uintptr_t>(dst),
			 sr = reinterpret_cast<uintptr_t>(src);
		if (kind == LUMEN_COPY_DEFAULT) {
			bool dd = c->mem().contains_device(d, 1),
			     sd = c->mem().contains_device(sr, 1);
			kind = dd && sd ? LUMEN_COPY_DEVICE_TO_DEVICE
			       : dd	? LUMEN_COPY_HOST_TO_DEVICE
			       : sd	? LUMEN_COPY_DEVICE_TO_HOST
					: LUMEN_COPY_HOST_TO_HOST;
		}
		switch (kind) {
		case LUMEN_COPY_HOST_TO_DEVICE:
			run_sync(*c, [&](Stream &s) { h2d(s, d, src, size); });
			break;
		case LUMEN_COPY_DEVICE_TO_HOST:
			run_sync(*c, [&](Stream &s) { d2h(s, dst, sr, size); });
			break;
		case LUMEN_COPY_DEVICE_TO_DEVICE:
			run_sync(*c, [&](Stream &s) { d2d(s, d, sr, size); });
			break;
		case LUMEN_COPY_HOST_TO_HOST:
			c->check();
			check_host(dst, size, "dst");
			check_host(src, size, "src");
			std::memmove(dst, src, size);
			break;
		default:
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "kind " + std::to_string(static_cast<int>(kind)) +
				     " is not a lumen_copy_kind_t");
		}
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memset_async(lumen_stream_t stream, lumen_devptr_t dst, int value, size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (is_noop(s->ctx(), size))
			return LUMEN_SUCCESS;
		fill(*s, dst, byte_pattern(value), size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memset_d32_async(lumen_stream_t stream, lumen_devptr_t dst, uint32_t value,
				      size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		if (is_noop(s->ctx(), size))
			return LUMEN_SUCCESS;
		if (size % 4)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "size " + std::to_string(size) + " is not a multiple of 4");
		if (dst % 4)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "dst " + hex(dst) + " is not 4-byte aligned");
		fill(*s, dst, static_cast<uint64_t>(value) << 32 | value, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_memset(lumen_context_t ctx, lumen_devptr_t dst, int value, size_t size)
{
	return guard(__func__, [&] {
		auto c = context_from_handle(ctx);
		if (is_noop(*c, size))
			return LUMEN_SUCCESS;
		run_sync(*c, [&](Stream &s) { fill(s, dst, byte_pattern(value), size); });
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
