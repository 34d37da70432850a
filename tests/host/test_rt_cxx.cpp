// SPDX-License-Identifier: MIT
// Host test of the C++ wrapper lumen.hpp: errors become lumen::Error, types
// are move-only.
extern "C" {
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
}

#include <lumen/lumen.hpp>

#include <cstring>
#include <type_traits>

static_assert(!std::is_copy_constructible_v<lumen::Context>);
static_assert(std::is_nothrow_move_constructible_v<lumen::Context>);
static_assert(!std::is_copy_constructible_v<lumen::Stream>);
static_assert(!std::is_copy_constructible_v<lumen::Event>);
static_assert(!std::is_copy_constructible_v<lumen::DeviceBuffer<float>>);
static_assert(std::is_nothrow_move_assignable_v<lumen::HostBuffer>);
static_assert(!std::is_copy_constructible_v<lumen::Window>);
static_assert(std::is_nothrow_move_constructible_v<lumen::Window>);
static_assert(std::is_trivially_copyable_v<lumen_window_desc_t>);

namespace {

void error_carries_status(void **)
{
	assert_int_equal(lumen::Device::count(), 0);
	bool caught = false;
	try {
		lumen::Context ctx(0);
	} catch (const lumen::Error &e) {
		caught = true;
		assert_int_equal(e.status(), LUMEN_ERROR_NO_DEVICE);
		assert_string_equal(e.status_name(), "LUMEN_ERROR_NO_DEVICE");
		assert_non_null(std::strstr(e.what(), "no device 0"));
	}
	assert_true(caught);
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_carries_status),
	};
	return cmocka_run_group_tests_name("rt_cxx", tests, NULL, NULL);
}
