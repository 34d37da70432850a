// SPDX-License-Identifier: MIT
#include "rt/status.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <system_error>

#include "sys/error.hpp"

namespace lumen::rt {
namespace {

thread_local std::string last_error;

} // namespace

void fail(lumen_status_t status, const std::string &msg)
{
	throw Error(status, msg);
}

lumen_status_t status_from_remote_errno(int err)
{
	switch (err) {
	case EACCES:
		return LUMEN_ERROR_REMOTE_ACCESS;
	case EHOSTUNREACH:
		return LUMEN_ERROR_UNREACHABLE;
	case ETIMEDOUT:
		return LUMEN_ERROR_TIMEOUT;
	default:
		return LUMEN_SUCCESS;
	}
}

lumen_status_t status_from_errno(int err)
{
	switch (err) {
	case ENOMEM:
		return LUMEN_ERROR_OUT_OF_MEMORY;
	case ENOSPC:
		return LUMEN_ERROR_OUT_OF_DEVICE_MEMORY;
	case EBUSY:
		return LUMEN_ERROR_BUSY;
	case ENODEV:
	case ENXIO:
	case ENOENT:
		return LUMEN_ERROR_NO_DEVICE;
	case EOPNOTSUPP:
		return LUMEN_ERROR_NOT_SUPPORTED;
	default:
		return LUMEN_ERROR_SYSTEM;
	}
}

void fail_errno(const std::string &what, int err)
{
	// An ioctl on an open context's file answers -ENODEV once the card was
	// reset or removed under it: its work and memory are gone.
	lumen_status_t st = err == ENOENT   ? LUMEN_ERROR_SYSTEM
			    : err == ENODEV ? LUMEN_ERROR_DEVICE_LOST
					    : status_from_errno(err);
	throw Error(st,
		    what + " failed: " + std::strerror(err) + " (errno " + std::to_string(err) +
			    ")");
}

void set_last_error(const char *fn, const char *msg) noexcept
{
	try {
		last_error.assign(fn);
		last_error.append(": ");
		last_error.append(msg);
	} catch (...) {
		// Out of memory while recording: keep whatever fits.
	}
}

lumen_status_t status_from_current_exception(const char *fn) noexcept
{
	try {
		throw;
	} catch (const Error &e) {
		set_last_error(fn, e.what());
		return e.status();
	} catch (const sys::Error &e) {
		set_last_error(fn, e.what());
		if (e.err() == ENODEV || e.err() == ENOENT)
			return LUMEN_ERROR_NO_DEVICE;
		return status_from_errno(e.err());
	} catch (const std::bad_alloc &) {
		set_last_error(fn, "out of host memory");
		return LUMEN_ERROR_OUT_OF_MEMORY;
	} catch (const std::system_error &e) {
		set_last_error(fn, e.what());
		return LUMEN_ERROR_SYSTEM;
	} catch (const std::exception &e) {
		set_last_error(fn, e.what());
		return LUMEN_ERROR_SYSTEM;
	} catch (...) {
		set_last_error(fn, "unknown internal error");
		return LUMEN_ERROR_SYSTEM;
	}
}

std::string hex(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
	return buf;
}

} // namespace lumen::rt

using lumen::rt::last_error;

extern "C" {

const char *lumen_status_string(lumen_status_t status)
{
	switch (status) {
	case LUMEN_SUCCESS:
		return "LUMEN_SUCCESS";
	case LUMEN_ERROR_INVALID_ARGUMENT:
		return "LUMEN_ERROR_INVALID_ARGUMENT";
	case LUMEN_ERROR_INVALID_HANDLE:
		return "LUMEN_ERROR_INVALID_HANDLE";
	case LUMEN_ERROR_OUT_OF_MEMORY:
		return "LUMEN_ERROR_OUT_OF_MEMORY";
	case LUMEN_ERROR_OUT_OF_DEVICE_MEMORY:
		return "LUMEN_ERROR_OUT_OF_DEVICE_MEMORY";
	case LUMEN_ERROR_NO_DEVICE:
		return "LUMEN_ERROR_NO_DEVICE";
	case LUMEN_ERROR_NOT_READY:
		return "LUMEN_ERROR_NOT_READY";
	case LUMEN_ERROR_DEVICE_FAULT:
		return "LUMEN_ERROR_DEVICE_FAULT";
	case LUMEN_ERROR_TIMEOUT:
		return "LUMEN_ERROR_TIMEOUT";
	case LUMEN_ERROR_WRONG_DEVICE:
		return "LUMEN_ERROR_WRONG_DEVICE";
	case LUMEN_ERROR_BUSY:
		return "LUMEN_ERROR_BUSY";
	case LUMEN_ERROR_NOT_SUPPORTED:
		return "LUMEN_ERROR_NOT_SUPPORTED";
	case LUMEN_ERROR_SYSTEM:
		return "LUMEN_ERROR_SYSTEM";
	case LUMEN_ERROR_DEVICE_ERROR:
		return "LUMEN_ERROR_DEVICE_ERROR";
	case LUMEN_ERROR_DRIVER_VERSION:
		return "LUMEN_ERROR_DRIVER_VERSION";
	case LUMEN_ERROR_DEVICE_LOST:
		return "LUMEN_ERROR_DEVICE_LOST";
	case LUMEN_ERROR_REMOTE_ACCESS:
		return "LUMEN_ERROR_REMOTE_ACCESS";
	case LUMEN_ERROR_UNREACHABLE:
		return "LUMEN_ERROR_UNREACHABLE";
	case LUMEN_ERROR_INVALID_CHIP:
		return "LUMEN_ERROR_INVALID_CHIP";
	case LUMEN_ERROR_FABRIC_UNAVAILABLE:
		return "LUMEN_ERROR_FABRIC_UNAVAILABLE";
	case LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED:
		return "LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED";
	}
	return "LUMEN_ERROR_UNKNOWN";
}

const char *lumen_get_last_error(void)
{
	return last_error.c_str();
}

uint32_t lumen_get_version(void)
{
	return LUMEN_VERSION_MAJOR << 16 | LUMEN_VERSION_MINOR << 8 | LUMEN_VERSION_PATCH;
}

} // extern "C"
