// SPDX-License-Identifier: MIT
// C API of remote operations: RWRITE, RREAD and RATOMIC commands (uAPI 1.2)
// on streams, after every argument was checked.
#include <endian.h>

#include <cstring>

#include "rt/context.hpp"
#include "rt/handles.hpp"
#include "rt/kernel.hpp"
#include "rt/remote.hpp"
#include "rt/status.hpp"
#include "rt/stream.hpp"
#include "rt/window.hpp"

namespace lumen::rt {
namespace {

drm_lumen_cmd cmd_remote(uint8_t opcode, uint64_t local, const lumen_window_desc_t &d,
			 uint64_t offset, uint64_t size)
{
	drm_lumen_cmd c;
	std::memset(&c, 0, sizeof(c));
	c.opcode = opcode;
	c.u.remote.local = htole64(local);
	c.u.remote.offset = htole64(d.base + offset);
	c.u.remote.size = htole64(size);
	c.u.remote.dst_chip = htole32(d.chip_id);
	c.u.remote.window = htole32(d.window);
	c.u.remote.key = htole64(d.key);
	return c;
}

std::string describe(const char *op, uint64_t size, const lumen_window_desc_t &d, uint64_t offset)
{
	return std::string(op) + " of " + std::to_string(size) + " bytes, chip " +
	       std::to_string(d.chip_id) + " window " + std::to_string(d.window) + " offset " +
	       std::to_string(offset);
}

} // namespace

void remote_transfer(Stream &s, bool write, uint64_t local, const lumen_window_desc_t &d,
		     uint64_t offset, uint64_t size)
{
	const uint8_t opcode = write ? DRM_LUMEN_CMD_RWRITE : DRM_LUMEN_CMD_RREAD;
	auto cmds = cmds_in_pieces(
		size, DRM_LUMEN_CMD_REMOTE_MAX_BYTES, [&](uint64_t done, uint64_t n) {
			return cmd_remote(opcode, local + done, d, offset + done, n);
		});
	s.submit(std::move(cmds),
		 describe(write ? "remote write" : "remote read", size, d, offset));
}

} // namespace lumen::rt

using namespace lumen::rt;

extern "C" {

lumen_status_t lumen_remote_write_async(lumen_stream_t stream, const lumen_window_desc_t *dst,
					uint64_t offset, lumen_devptr_t src, size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->ctx().check();
		require_links(s->ctx());
		check_desc(dst, "dst", LUMEN_WINDOW_WRITE, offset, size);
		if (size == 0)
			return LUMEN_SUCCESS;
		s->ctx().mem().check_device(src, size, "src");
		remote_transfer(*s, true, src, *dst, offset, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_remote_read_async(lumen_stream_t stream, lumen_devptr_t dst,
				       const lumen_window_desc_t *src, uint64_t offset, size_t size)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->ctx().check();
		require_links(s->ctx());
		check_desc(src, "src", LUMEN_WINDOW_READ, offset, size);
		if (size == 0)
			return LUMEN_SUCCESS;
		s->ctx().mem().check_device(dst, size, "dst");
		remote_transfer(*s, false, dst, *src, offset, size);
		return LUMEN_SUCCESS;
	});
}

lumen_status_t lumen_remote_atomic_async(lumen_stream_t stream, const lumen_window_desc_t *dst,
					 uint64_t offset, lumen_atomic_op_t op, uint64_t operand,
					 lumen_devptr_t result)
{
	return guard(__func__, [&] {
		auto s = stream_from_handle(stream);
		s->ctx().check();
		require_links(s->ctx());
		check_desc(dst, "dst", LUMEN_WINDOW_ATOMIC, offset, 8);
		if ((dst->base + offset) % 8)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "offset " + std::to_string(offset) +
				     " is not an 8-byte aligned word of the target's memory");
		if (enum_value(op) != LUMEN_ATOMIC_FETCH_ADD &&
		    enum_value(op) != LUMEN_ATOMIC_SIGNAL)
			fail(LUMEN_ERROR_INVALID_ARGUMENT,
			     "op " + std::to_string(static_cast<int>(enum_value(op))) +
				     " is not a lumen_atomic_op_t");
		if (result) {
			if (result % 8)
				fail(LUMEN_ERROR_INVALID_ARGUMENT,
				     "result " + hex(result) + " is not 8-byte aligned");
			s->ctx().mem().check_device(result, 8, "result");
		}
		drm_lumen_cmd c;
		std::memset(&c, 0, sizeof(c));
		c.opcode = DRM_LUMEN_CMD_RATOMIC;
		c.u.ratomic.result = htole64(result);
		c.u.ratomic.offset = htole64(dst->base + offset);
		c.u.ratomic.operand = htole64(operand);
		c.u.ratomic.dst_chip = htole32(dst->chip_id);
		c.u.ratomic.window = htole32(dst->window);
		c.u.ratomic.key = htole64(dst->key);
		c.u.ratomic.op = htole32(op == LUMEN_ATOMIC_FETCH_ADD ? DRM_LUMEN_RATOMIC_FETCH_ADD
								      : DRM_LUMEN_RATOMIC_SIGNAL);
		s->submit({c}, std::string(op == LUMEN_ATOMIC_FETCH_ADD ? "remote fetch-add"
									: "remote signal") +
				       " at chip " + std::to_string(dst->chip_id) + " window " +
				       std::to_string(dst->window) + " offset " +
				       std::to_string(offset));
		return LUMEN_SUCCESS;
	});
}

} // extern "C"
