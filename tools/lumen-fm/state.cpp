// SPDX-License-Identifier: MIT
#include "state.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.hpp"

namespace lumen_fm {

bool write_atomic(const std::string &path, const std::string &text)
{
	std::string tmp = path + ".tmp";
	int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	size_t off = 0;
	while (off < text.size()) {
		ssize_t n = write(fd, text.data() + off, text.size() - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = errno;
			close(fd);
			unlink(tmp.c_str());
			errno = err;
			return false;
		}
		off += size_t(n);
	}
	if (close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
		int err = errno;
		unlink(tmp.c_str());
		errno = err;
		return false;
	}
	return true;
}

uint64_t EventLog::add(const std::string &type, nlohmann::json extra)
{
	double now = mono_ms();
	if (t0_ < 0)
		t0_ = now;
	nlohmann::json e = {{"seq", ++seq_}, {"ms", static_cast<uint64_t>(now)}, {"type", type}};
	for (auto it = extra.begin(); it != extra.end(); ++it)
		e[it.key()] = it.value();
	if (!path_.empty()) {
		struct stat st;
		if (stat(path_.c_str(), &st) == 0 && size_t(st.st_size) > kFileMax)
			rename(path_.c_str(), (path_ + ".1").c_str());
		FILE *f = fopen(path_.c_str(), "ae");
		if (f) {
			std::string line = e.dump() + "\n";
			fwrite(line.data(), 1, line.size(), f);
			fclose(f);
		} else {
			log_warn("events: cannot append to {}: {}", path_, strerror(errno));
		}
	}
	events_.push_back(std::move(e));
	if (events_.size() > kKeep)
		events_.pop_front();
	return seq_;
}

nlohmann::json EventLog::since(uint64_t seq) const
{
	nlohmann::json out = nlohmann::json::array();
	for (const auto &e : events_)
		if (e["seq"].get<uint64_t>() > seq)
			out.push_back(e);
	return out;
}

} // namespace lumen_fm
