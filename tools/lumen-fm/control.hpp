// SPDX-License-Identifier: MIT
// The control socket DIR/fm.sock: one request line in, one JSON object line
// back, then the connection closes. The server side is non-blocking and
// polled from the manager's loop; O_ASYNC makes a new connection interrupt
// the loop's wait for management packets (SIGIO).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lumen_fm {

// Longest request line (without its newline): a `routes` request of some
// 6000 pairs.
constexpr size_t kMaxLine = 65536;

class ControlServer {
      public:
	ControlServer() = default;
	~ControlServer();
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	// Throws std::runtime_error naming the path and the reason.
	void open(const std::string &path);
	// Accepts and serves what is ready, without blocking on a slow client
	// longer than a short per-client deadline.
	// handle(line, privileged): privileged when the client runs as root
	// (SO_PEERCRED), for the commands that make the manager work.
	void serve(const std::function<nlohmann::json(const std::string &, bool)> &handle);
	void close();

      private:
	struct Client {
		int fd;
		std::string in;
		double since_ms;
		bool privileged;
	};
	int fd_ = -1;
	std::string path_;
	std::vector<Client> clients_;
};

// `lumen-fm ctl`: sends line, prints the answer; the exit code.
int ctl_request(const std::string &state_dir, const std::string &line, double timeout_s);

} // namespace lumen_fm
