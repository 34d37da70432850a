// SPDX-License-Identifier: MIT
#include "sysfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sys/error.hpp"

namespace npusmi {

namespace fs = std::filesystem;

namespace {

// One read(2) of a sysfs attribute (sysfs hands out a whole value at once,
// at most a page); errno set on failure. POSIX I/O rather than iostreams:
// a card is some 60 files and iostreams cost several times the syscalls.
std::optional<std::string> read_first_line(const fs::path &path)
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return std::nullopt;
	char buf[4096];
	ssize_t n;
	do
		n = ::read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	const int err = errno;
	::close(fd);
	if (n < 0) {
		errno = err;
		return std::nullopt;
	}
	std::string line(buf, static_cast<size_t>(n));
	return line.substr(0, line.find('\n'));
}

} // namespace

std::optional<std::string> try_read_file(const fs::path &path)
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return std::nullopt;
	std::string text;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		text.append(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
	::close(fd);
	if (n < 0)
		return std::nullopt;
	return text;
}

std::optional<std::string> try_read_line(const fs::path &path)
{
	return read_first_line(path);
}

std::string read_line(const fs::path &path)
{
	errno = 0;
	auto line = read_first_line(path);
	if (!line) {
		const int err = errno ? errno : EIO;
		throw lumen::sys::Error(path.string() + ": cannot read: " + std::strerror(err),
					err);
	}
	return *line;
}

std::optional<uint64_t> parse_u64(const std::string &s)
{
	if (s.empty() || s.size() > 20)
		return std::nullopt;
	uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return std::nullopt;
		const uint64_t d = static_cast<uint64_t>(c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return std::nullopt;
		v = v * 10 + d;
	}
	return v;
}

uint64_t read_u64(const fs::path &path)
{
	const std::string s = read_line(path);
	if (auto v = parse_u64(s))
		return *v;
	throw lumen::sys::Error(path.string() + ": not a number: '" + s + "'", EINVAL);
}

std::optional<uint64_t> read_u64_opt(const fs::path &path)
{
	// One open: ENOENT is an attribute this driver lacks, EBUSY/EAGAIN one
	// without a value now (a reset has the card), anything else an error.
	errno = 0;
	auto line = read_first_line(path);
	if (!line) {
		if (errno == ENOENT || errno == EBUSY || errno == EAGAIN)
			return std::nullopt;
		const int err = errno ? errno : EIO;
		throw lumen::sys::Error(path.string() + ": cannot read: " + std::strerror(err),
					err);
	}
	if (auto v = parse_u64(*line))
		return *v;
	throw lumen::sys::Error(path.string() + ": not a number: '" + *line + "'", EINVAL);
}

void write_attr(const fs::path &path, const std::string &value)
{
	const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		const int err = errno;
		throw lumen::sys::Error(path.string() + ": " + std::strerror(err) +
						(err == EACCES ? " (needs root)" : ""),
					err);
	}
	const ssize_t n = ::write(fd, value.data(), value.size());
	const int err = errno;
	::close(fd);
	if (n != static_cast<ssize_t>(value.size()))
		throw lumen::sys::Error(path.string() + ": write '" + value +
						"': " + std::strerror(n < 0 ? err : EIO),
					n < 0 ? err : EIO);
}

} // namespace npusmi
