// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>

namespace lumen::sys {

// A failed system interaction: the message names what was attempted on what,
// err is the errno (0 if none applies).
class Error : public std::runtime_error {
public:
	Error(const std::string &what, int err) : std::runtime_error(what), err_(err) {}
	int err() const noexcept { return err_; }

private:
	int err_;
};

} // namespace lumen::sys
