// SPDX-License-Identifier: MIT
#include "log.hpp"

#include <cstdio>
#include <ctime>

namespace lumen_fm {

namespace {
bool verbose = false;
}

void log_set_verbose(bool on)
{
	verbose = on;
}

double mono_ms()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void log_line(Level lvl, const std::string &msg)
{
	static const char *const tag[] = {"debug: ", "", "warning: ", "error: "};

	if (lvl == Level::Debug && !verbose)
		return;
	// One write per line, so lines of a dying process stay whole.
	std::string line = fmt::format("[{:12.3f}] lumen-fm: {}{}\n", mono_ms() / 1e3,
				       tag[static_cast<int>(lvl)], msg);
	fwrite(line.data(), 1, line.size(), stderr);
	fflush(stderr);
}

} // namespace lumen_fm
