// SPDX-License-Identifier: MIT
// Status codes, the thread-local last-error message and the C boundary guard
// that turns every exception into a status.
#pragma once

#include <lumen/lumen.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

namespace lumen::rt {

// A failed runtime operation: the status the C API returns and the message
// (without the function name, which the guard prepends).
class Error : public std::exception {
      public:
	Error(lumen_status_t status, std::string msg) : status_(status), msg_(std::move(msg)) {}
	lumen_status_t status() const noexcept { return status_; }
	const char *what() const noexcept override { return msg_.c_str(); }

      private:
	lumen_status_t status_;
	std::string msg_;
};

[[noreturn]] void fail(lumen_status_t status, const std::string &msg);
// LUMEN_ERROR_SYSTEM (or a better match for err) naming what failed and errno.
[[noreturn]] void fail_errno(const std::string &what, int err);
// The status that best describes a failed ioctl's errno.
lumen_status_t status_from_errno(int err);
// The status of a job that failed with -err for a remote reason (-EACCES,
// -EHOSTUNREACH, -ETIMEDOUT; uAPI 1.2), LUMEN_SUCCESS for any other errno.
lumen_status_t status_from_remote_errno(int err);

// Record "fn: msg" as the calling thread's last error.
void set_last_error(const char *fn, const char *msg) noexcept;
// Turn the exception being handled into a status, recording its message.
lumen_status_t status_from_current_exception(const char *fn) noexcept;

std::string hex(uint64_t v);

// Run f at the C boundary: its status, or the status of what it threw.
template <typename F> lumen_status_t guard(const char *fn, F &&f) noexcept
{
	try {
		return f();
	} catch (...) {
		return status_from_current_exception(fn);
	}
}

// Throw INVALID_ARGUMENT when a required pointer is NULL.
inline void require(const void *p, const char *name)
{
	if (!p)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string(name) + " is NULL");
}

// Throw INVALID_ARGUMENT when an output array p of n (> 0) elements is
// NULL; names both arguments.
inline void require_array(const void *p, size_t n, const char *name, const char *n_name)
{
	if (n && !p)
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string(name) + " is NULL with " + n_name +
							   " " + std::to_string(n));
}

// The value of an enum argument from a C caller, read as the enum's integer
// type. C lets the caller pass any value of that type; in C++, loading an
// enum (without a fixed type) whose value lies outside its enumerators' range
// is undefined, so an argument is validated through this before it is used
// as the enum (UBSAN: "load of value 99, which is not a valid value for type
// 'lumen_copy_kind'").
template <typename E> std::underlying_type_t<E> enum_value(const E &e) noexcept
{
	std::underlying_type_t<E> v;
	std::memcpy(&v, &e, sizeof(v));
	return v;
}

// Copy a versioned struct (first member size_t struct_size) out to the
// caller: only the prefix both sides know; struct_size stays the caller's.
template <typename T> void copy_versioned(T *out, const T &full, const char *name)
{
	size_t n = out->struct_size;
	if (n < sizeof(size_t))
		fail(LUMEN_ERROR_INVALID_ARGUMENT, std::string(name) + "->struct_size " +
							   std::to_string(n) +
							   " is too small (use LUMEN_STRUCT_INIT)");
	if (n > sizeof(T))
		n = sizeof(T);
	const char *src = reinterpret_cast<const char *>(&full);
	char *dst = reinterpret_cast<char *>(out);
	for (size_t i = sizeof(size_t); i < n; i++)
		dst[i] = src[i];
}

} // namespace lumen::rt
