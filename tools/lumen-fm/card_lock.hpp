// SPDX-License-Identifier: MIT
// One manager per card: the card's management receive queue is shared by
// every opener, so a second lumen-fm on the same card (whatever its state
// dir) would take the first one's answers and traps. The lock is an
// flock(2) on a file named after the card (its PCI address) in a directory
// only the manager's user can write (/run/lock/lumen-fm, else
// /run/lumen-fm); the kernel drops it when the holder exits, however it
// exits.
#pragma once

#include <string>

namespace lumen_fm {

class CardLock {
      public:
	CardLock() = default;
	// Locks the card named `card` (its PCI address; '/' becomes '_'), with
	// the lock file in dir (default: see above). Throws lumen::sys::Error:
	// EBUSY naming the holder's pid when another process holds it; the
	// errno of a lock file or directory that cannot be made, EPERM for one
	// that others could write or that is no regular file.
	explicit CardLock(const std::string &card, std::string dir = "");
	~CardLock();
	CardLock(CardLock &&o) noexcept;
	CardLock &operator=(CardLock &&o) noexcept;
	CardLock(const CardLock &) = delete;
	CardLock &operator=(const CardLock &) = delete;

	bool held() const noexcept { return fd_ >= 0; }
	const std::string &path() const noexcept { return path_; }

      private:
	void release() noexcept;

	int fd_ = -1;
	std::string path_;
};

} // namespace lumen_fm
