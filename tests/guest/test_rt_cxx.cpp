// SPDX-License-Identifier: MIT
/*
 * liblumen's C++ wrapper on a real card (rt_cxx): RAII owners give back
 * what they hold (memory use returns to zero, a moved-from owner frees
 * nothing twice), errors surface as lumen::Error with the C status and the
 * library's message, and a two-stream program with an event dependency
 * computes the right bytes.
 */
extern "C" {
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
}

#include <lumen/lumen.hpp>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

lumen_mem_info_t info(const lumen::Context &c)
{
	return c.mem_info();
}

void raii_releases(void **)
{
	lumen::Context ctx(0);
	const auto before = info(ctx);
	{
		lumen::DeviceBuffer<float> a(ctx, 1 << 20); // 4 MiB: own BO
		lumen::DeviceBuffer<uint8_t> b(ctx, 100);   // sub-allocated
		lumen::HostBuffer h(ctx, 1 << 20);
		auto mid = info(ctx);
		assert_true(mid.ctx_device_used >= before.ctx_device_used + (4u << 20) + 100);
		assert_true(mid.ctx_host_pinned >= before.ctx_host_pinned + (1u << 20));
		// Moves transfer ownership; the moved-from owner frees nothing.
		lumen::DeviceBuffer<float> a2(std::move(a));
		assert_int_equal(a.get(), 0);
		assert_int_not_equal(a2.get(), 0);
		lumen::HostBuffer h2;
		h2 = std::move(h);
		assert_null(h.get());
		assert_non_null(h2.get());
	}
	const auto after = info(ctx);
	assert_int_equal(after.ctx_device_used, before.ctx_device_used);
	assert_int_equal(after.ctx_host_pinned, before.ctx_host_pinned);
}

void errors_throw(void **)
{
	lumen::Context ctx(0);
	bool caught = false;
	try {
		lumen::Buffer b(ctx, 0);
	} catch (const lumen::Error &e) {
		caught = true;
		assert_int_equal(e.status(), LUMEN_ERROR_INVALID_ARGUMENT);
		assert_string_equal(e.status_name(), "LUMEN_ERROR_INVALID_ARGUMENT");
		assert_non_null(std::strstr(e.what(), "lumen_malloc"));
	}
	assert_true(caught);
	caught = false;
	try {
		lumen::Device::get(1000);
	} catch (const lumen::Error &e) {
		caught = true;
		assert_int_equal(e.status(), LUMEN_ERROR_NO_DEVICE);
	}
	assert_true(caught);
	caught = false;
	try {
		lumen::Stream s(ctx);
		lumen::DeviceBuffer<uint8_t> b(ctx, 64);
		s.memset_d32(b.get(), 1, 6); // not a multiple of 4
	} catch (const lumen::Error &e) {
		caught = true;
		assert_int_equal(e.status(), LUMEN_ERROR_INVALID_ARGUMENT);
	}
	assert_true(caught);
}

void two_streams(void **)
{
	const size_t n = 1 << 20;
	lumen::Context ctx(lumen::Device::get(0));
	lumen::Stream a(ctx), b(ctx);
	lumen::Event done(ctx), start(ctx);
	lumen::DeviceBuffer<uint8_t> x(ctx, n), y(ctx, n);
	lumen::HostBuffer out(ctx, n);
	std::vector<uint8_t> in(n);

	for (size_t i = 0; i < n; i++)
		in[i] = static_cast<uint8_t>(i * 31 + 7);
	start.record(a);
	a.memset(x.get(), 0, n);
	a.copy_to_device(x, in.data());
	a.copy(y.get(), x.get(), n);
	a.memset(y.get(), 0xab, 16);
	done.record(a);
	b.wait(done);
	b.copy_to_host(out.get(), y);
	b.synchronize();
	assert_true(done.query());
	assert_true(done.elapsed_since(start) >= 0.0f);
	const uint8_t *o = out.as<uint8_t>();
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(o[i], 0xab);
	assert_memory_equal(o + 16, in.data() + 16, n - 16);
	assert_true(b.query());
	assert_int_equal(ctx.fault().status, LUMEN_SUCCESS);
}

// Stream::reduce, and a bad argument as a lumen::Error; skipped on a card that
// cannot reduce.
void reduce_wrapper(void **)
{
	const size_t n = 1000;
	lumen::Context ctx(0);
	lumen::Stream s(ctx);
	lumen::DeviceBuffer<int32_t> a(ctx, n), b(ctx, n);
	std::vector<int32_t> x(n), y(n), out(n);

	for (size_t i = 0; i < n; i++) {
		x[i] = static_cast<int32_t>(i) - 500;
		y[i] = 250 - static_cast<int32_t>(i);
	}
	s.copy_to_device(a, x.data());
	s.copy_to_device(b, y.data());
	try {
		s.reduce(a.get(), b.get(), n, LUMEN_DTYPE_I32, LUMEN_REDUCE_MIN);
	} catch (const lumen::Error &e) {
		if (e.status() != LUMEN_ERROR_NOT_SUPPORTED)
			throw;
		skip();
	}
	s.copy_to_host(out.data(), a);
	s.synchronize();
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i], std::min(x[i], y[i]));
	// A bad argument throws. (Not a dtype outside the enum: C++ cannot make
	// one without undefined behaviour; rt_reduce passes those from C.)
	bool caught = false;
	try {
		s.reduce(a.get() + 2, b.get(), n, LUMEN_DTYPE_I32, LUMEN_REDUCE_SUM);
	} catch (const lumen::Error &e) {
		caught = true;
		assert_int_equal(e.status(), LUMEN_ERROR_INVALID_ARGUMENT);
		assert_non_null(std::strstr(e.what(), "is not aligned to the 4-byte element"));
	}
	assert_true(caught);
}

// Peer access between two contexts of card 0 (loopback over its link
// engine); skipped on a card without one.
void peer_wrapper(void **)
{
	const size_t n = 4096;
	lumen::Device dev = lumen::Device::get(0);
	uint32_t caps = 0;
	try {
		dev.link_info();
	} catch (const lumen::Error &e) {
		if (e.status() != LUMEN_ERROR_NOT_SUPPORTED)
			throw;
		skip(); // no link engine
	}
	if (!dev.can_access_peer(dev.chip_id(), &caps) || !(caps & LUMEN_PEER_WRITE))
		fail_msg("card 0 cannot write to its own chip: caps %#x", caps);
	lumen::Context a(dev), b(dev);
	lumen::Stream s(a);
	lumen::DeviceBuffer<uint8_t> x(a, n), y(b, n);
	std::vector<uint8_t> in(n), out(n);
	for (size_t i = 0; i < n; i++)
		in[i] = static_cast<uint8_t>(i * 13 + 1);
	s.copy_to_device(x, in.data());
	bool caught = false;
	try {
		s.memcpy_peer(b, y.get(), a, x.get(), n);
	} catch (const lumen::Error &e) {
		caught = e.status() == LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED;
	}
	assert_true(caught);
	a.enable_peer_access(b);
	s.memcpy_peer(b, y.get(), a, x.get(), n);
	s.synchronize();
	b.memcpy(out.data(), reinterpret_cast<const void *>(y.get()), n, LUMEN_COPY_DEVICE_TO_HOST);
	assert_memory_equal(out.data(), in.data(), n);
	a.disable_peer_access(b);

	// The same through a fabric handle: no peer access, RAII export/import.
	std::fill(out.begin(), out.end(), 0);
	{
		lumen::FabricExport ex(b, y.get(), n, LUMEN_WINDOW_READ | LUMEN_WINDOW_WRITE);
		lumen::FabricImport im(a, ex.handle());
		assert_true(im.get() >> 63);
		s.memset(x.get(), 0x3c, n);
		s.memcpy_peer(a, im.get(), a, x.get(), n);
		s.synchronize();
		b.memcpy(out.data(), reinterpret_cast<const void *>(y.get()), n,
			 LUMEN_COPY_DEVICE_TO_HOST);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(out[i], 0x3c);
		lumen::FabricImport moved = std::move(im);
		assert_int_equal(im.get(), 0);
	}
}

} // namespace

int main()
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raii_releases),
		cmocka_unit_test(errors_throw),
		cmocka_unit_test(two_streams),
		cmocka_unit_test(reduce_wrapper),
		cmocka_unit_test(peer_wrapper),
	};

	return cmocka_run_group_tests_name("rt_cxx", tests, nullptr, nullptr);
}
