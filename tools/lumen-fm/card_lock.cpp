// SPDX-License-Identifier: MIT
#include "card_lock.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "sys/error.hpp"

namespace lumen_fm {

namespace {

std::string default_dir()
{
	struct stat st;
	for (const char *d : {"/run/lock", "/run"})
		if (stat(d, &st) == 0 && S_ISDIR(st.st_mode) && access(d, W_OK) == 0)
			return d;
	return "/tmp";
}

} // namespace

CardLock::CardLock(const std::string &pci_address, std::string dir)
{
	if (dir.empty())
		dir = default_dir();
	path_ = fmt::format("{}/lumen-fm.{}.lock", dir, pci_address);
	int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		throw lumen::sys::Error(
			fmt::format("card lock {}: {}", path_, strerror(errno)), errno);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		const int err = errno;
		char pid[32] = {};
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		close(fd);
		std::string who = n > 0 ? std::string(pid, strcspn(pid, "\n")) : "?";
		if (err == EWOULDBLOCK)
			throw lumen::sys::Error(
				fmt::format("card {} already has a manager (pid {}, lock {}): one "
					    "lumen-fm per card",
					    pci_address, who, path_),
				EBUSY);
		throw lumen::sys::Error(fmt::format("card lock {}: {}", path_, strerror(err)),
					err);
	}
	// The holder's pid, for the message above (the lock, not the text, decides).
	const std::string me = fmt::format("{}\n", getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) {
		// Only the message loses its pid.
	}
	fd_ = fd;
}

CardLock::~CardLock()
{
	release();
}

CardLock::CardLock(CardLock &&o) noexcept : fd_(o.fd_), path_(std::move(o.path_))
{
	o.fd_ = -1;
}

CardLock &CardLock::operator=(CardLock &&o) noexcept
{
	if (this != &o) {
		release();
		fd_ = o.fd_;
		path_ = std::move(o.path_);
		o.fd_ = -1;
	}
	return *this;
}

void CardLock::release() noexcept
{
	if (fd_ >= 0)
		close(fd_); // drops the flock; the file stays (unlinking would race a new holder)
	fd_ = -1;
}

} // namespace lumen_fm
