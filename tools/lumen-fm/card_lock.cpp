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

// A directory only root (the manager's user) can write: a lock file
// anyone may create could be held by anyone to keep the manager out.
std::string lock_dir()
{
	struct stat st;
	const std::string base =
		stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode) ? "/run/lock" : "/run";
	const std::string dir = base + "/lumen-fm";
	if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
		throw lumen::sys::Error(
			fmt::format("card lock: cannot create {}: {}{}", dir, strerror(errno),
				    errno == EACCES ? " (lumen-fm runs as root)" : ""),
			errno);
	if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022))
		throw lumen::sys::Error(
			fmt::format("card lock: {} is not a directory of this user that only it "
				    "can write",
				    dir),
			EPERM);
	return dir;
}

} // namespace

CardLock::CardLock(const std::string &card, std::string dir)
{
	if (card.empty())
		throw lumen::sys::Error("card lock: the card has no name", EINVAL);
	if (dir.empty())
		dir = lock_dir();
	std::string name = card;
	for (char &c : name)
		if (c == '/')
			c = '_';
	path_ = fmt::format("{}/{}.lock", dir, name);
	int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		throw lumen::sys::Error(fmt::format("card lock {}: {}", path_, strerror(errno)),
					errno);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		throw lumen::sys::Error(fmt::format("card lock {}: not a regular file", path_),
					EPERM);
	}
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
					    card, who, path_),
				EBUSY);
		throw lumen::sys::Error(fmt::format("card lock {}: {}", path_, strerror(err)), err);
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
