// SPDX-License-Identifier: MIT
// C API of reductions: REDUCE and RREDUCE commands on streams (hw-spec 10
// "Reductions", 13.7), after every argument was checked.
#include <endian.h>

#include <cstring>

#include "rt/context.hpp"
#include "rt/handles.hpp"
#include "rt/status.hpp"
#include "rt/stream.hpp"
#include "rt/window.hpp"

namespace lumen::rt {
namespace {

static_assert(LUMEN_DTYPE_F32 == DRM_LUMEN_DTYPE_F32 && LUMEN_DTYPE_F16 == DRM_LUMEN_DTYPE_F16 &&
		      LUMEN_DTYPE_BF16 == DRM_LUMEN_DTYPE_BF16 &&
		      LUMEN_DTYPE_I32 == DRM_LUMEN_DTYPE_I32,
	      "lumen_dtype_t is the uAPI's numbering");
static_assert(LUMEN_REDUCE_SUM == DRM_LUMEN_REDOP_SUM && LUMEN_REDUCE_MAX == DRM_LUMEN_REDOP_MAX &&
		      LUMEN_REDUCE_MIN == DRM_LUMEN_REDOP_MIN,
	      "lumen_reduce_op_t is the uAPI's numbering");

const char *dtype_name(lumen_dtype_t t)
{
	switch (t) {
	case LUMEN_DTYPE_F32:
		return "f32";
	case LUMEN_DTYPE_F16:
		return "f16";
	case LUMEN_DTYPE_BF16:
		return "bf16";
	case LUMEN_DTYPE_I32:
		return "i32";
	}
	return "?";
}

const char *op_name(lumen_reduce_op_t op)
{
	switch (op) {
	case LUMEN_REDUCE_SUM:
		return "sum";
	case LUMEN_REDUCE_MAX:
		return "max";
	case LUMEN_REDUCE_MIN:
		return "min";
	}
	return "?";
}

// Bytes of one element; fails for a value outside the enum (the caller's
// argument, read as an integer: enum_value).
uint64_t element_size(const lumen_dtype_t &t)
{
	switch (enum_value(t)) {
	case LUMEN_DTYPE_F32:
	case LUMEN_DTYPE_I32:
		return 4;
	case LUMEN_DTYPE_F16:
	case LUMEN_DTYPE_BF16:
		return 2;
	}
	fail(LUMEN_ERROR_INVALID_ARGUMENT, "dtype " +
						   std::to_string(static_cast<int>(enum_value(t))) +
						   " is not a lumen_dtype_t");
}

void check_op(const lumen_reduce_op_t &op)
{
	const auto v = enum_value(op);
	if (v != LUMEN_REDUCE_SUM && v != LUMEN_REDUCE_MAX && v != LUMEN_REDUCE_MIN)
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "op " + std::to_string(static_cast<int>(v)) + " is not a lumen_reduce_op_t");
}

void require_reduce(Context &c)
{
	if (!(c.device().info().capabilities & DRM_LUMEN_CAP_REDUCE))
		fail(LUMEN_ERROR_NOT_SUPPORTED,
		     "device " + std::to_string(c.device().index()) +
			     " has no reduction engine (DRM_LUMEN_CAP_REDUCE)");
}

// count elements of `size` bytes, without overflow.
uint64_t bytes_of(size_t count, uint64_t size)
{
	if (count > UINT64_MAX / size)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, "count " + std::to_string(count) +
							   " elements of " + std::to_string(size) +
							   " bytes overflow");
	return count * size;
}

void check_aligned(uint64_t a, uint64_t size, const char *name)
{
	if (a % size)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string(name) + " " + hex(a) +
							   " is not aligned to the " +
							   std::to_string(size) + "-byte element");
}

} // namespace
} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_reduce_async(lumen_stream_t stream, lumen_devptr_t dst, lumen_devptr_t src,
				  size_t count, lumen_dtype_t dtype, lumen_reduce_op_t op)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->ctx().check();
		require_reduce(s->ctx());
		const uint64_t es = element_size(dtype);
		check_op(op);
		const uint64_t bytes = bytes_of(count, es);
		check_aligned(dst, es, "dst");
		check_aligned(src, es, "src");
		if (bytes == 0)
			return LUMEN_SUCCESS;
		s->ctx().mem().check_device(dst, bytes, "dst");
		s->ctx().mem().check_device(src, bytes, "src");
		// In place is defined; a partial overlap would leave dst to the
		// order the engine happens to use.
		if (dst != src && dst < src + bytes && src < dst + bytes)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "dst " + hex(dst) + " and src " + hex(src) + " overlap by part of " +
				     std::to_string(bytes) +
				     " bytes (only dst == src is in place)");
		// The limits are powers of two: every piece is whole elements.
		auto cmds = cmds_in_pieces(bytes, DRM_LUMEN_CMD_MAX_BYTES,
					   [&](uint64_t off, uint64_t n) {
						   drm_lumen_cmd c;
						   std::memset(&c, 0, sizeof(c));
						   c.opcode = DRM_LUMEN_CMD_REDUCE;
						   c.u.reduce.src = htole64(src + off);
						   c.u.reduce.dst = htole64(dst + off);
						   c.u.reduce.size = htole64(n);
						   c.u.reduce.dtype = htole32(dtype);
						   c.u.reduce.op = htole32(op);
						   return c;
					   });
		s->submit(std::move(cmds), std::string("reduce (") + dtype_name(dtype) + " " +
						   op_name(op) + ") of " + std::to_string(count) +
						   " elements");
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_remote_reduce_async(lumen_stream_t stream, const lumen_window_desc_t *dst,
					 uint64_t offset, lumen_devptr_t src, size_t count,
					 lumen_dtype_t dtype, lumen_reduce_op_t op)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->ctx().check();
		require_links(s->ctx());
		require_reduce(s->ctx());
		const uint64_t es = element_size(dtype);
		check_op(op);
		const uint64_t bytes = bytes_of(count, es);
		check_desc(dst, "dst", LUMEN_WINDOW_WRITE, offset, bytes);
		if ((dst->base + offset) % es)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "offset " + std::to_string(offset) + " is not aligned to the " +
				     std::to_string(es) + "-byte element in the target's memory");
		check_aligned(src, es, "src");
		if (bytes == 0)
			return LUMEN_SUCCESS;
		s->ctx().mem().check_device(src, bytes, "src");
		auto cmds = cmds_in_pieces(
			bytes, DRM_LUMEN_CMD_REMOTE_MAX_BYTES, [&](uint64_t off, uint64_t n) {
				drm_lumen_cmd c;
				std::memset(&c, 0, sizeof(c));
				c.opcode = DRM_LUMEN_CMD_RREDUCE;
				c.u.rreduce.local = htole64(src + off);
				c.u.rreduce.offset = htole64(dst->base + offset + off);
				c.u.rreduce.size = htole64(n);
				c.u.rreduce.dst_chip = htole32(dst->chip_id);
				c.u.rreduce.window = htole32(dst->window);
				c.u.rreduce.key = htole64(dst->key);
				c.u.rreduce.dtype = htole32(dtype);
				c.u.rreduce.op = htole32(op);
				return c;
			});
		s->submit(std::move(cmds), std::string("remote reduce (") + dtype_name(dtype) +
						   " " + op_name(op) + ") of " +
						   std::to_string(count) + " elements, chip " +
						   std::to_string(dst->chip_id) + " window " +
						   std::to_string(dst->window) + " offset " +
						   std::to_string(offset));
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
