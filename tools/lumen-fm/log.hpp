// SPDX-License-Identifier: MIT
// lumen-fm's log: one line per message on stderr, prefixed with the
// CLOCK_MONOTONIC time in seconds (systemd's journal adds wall time).
#pragma once

#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace lumen_fm {

enum class Level { Debug, Info, Warn, Error };

void log_set_verbose(bool on);
void log_line(Level lvl, const std::string &msg);

template <typename... Args> void log_info(fmt::format_string<Args...> f, Args &&...a)
{
	log_line(Level::Info, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args> void log_warn(fmt::format_string<Args...> f, Args &&...a)
{
	log_line(Level::Warn, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args> void log_error(fmt::format_string<Args...> f, Args &&...a)
{
	log_line(Level::Error, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args> void log_debug(fmt::format_string<Args...> f, Args &&...a)
{
	log_line(Level::Debug, fmt::format(f, std::forward<Args>(a)...));
}

// Milliseconds on CLOCK_MONOTONIC.
double mono_ms();

} // namespace lumen_fm
