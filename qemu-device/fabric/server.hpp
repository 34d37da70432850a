// SPDX-License-Identifier: MIT
// The sockets and the event loop: one listening socket for every card port, one
// for control clients, epoll, a timerfd for the fiber model's next deadline and
// a signalfd for SIGTERM/SIGINT. Single-threaded and never blocking: a port that
// does not read only fills its own queue, and the fiber feeding it stops reading
// its sender.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "control.hpp"
#include "fabric.hpp"
#include "unique_fd.hpp"

namespace lumen::fabric {

struct ServerConfig {
	std::string port_socket;	      // every card port connects here and says HELLO
	std::string control_socket;	      // JSON lines
	size_t port_queue_bytes = 256 * 1024; // DATA queued for one port's socket
};

// A listening unix socket whose file is removed when this goes away.
class ListeningSocket {
      public:
	// Throws std::runtime_error naming the path and the problem.
	explicit ListeningSocket(const std::string &path);
	ListeningSocket(const ListeningSocket &) = delete;
	ListeningSocket &operator=(const ListeningSocket &) = delete;
	~ListeningSocket();
	int fd() const { return fd_.get(); }

      private:
	std::string path_;
	UniqueFd fd_;
};

Nanos monotonic_now();

class Server {
      public:
	// Binds both sockets; throws std::runtime_error with a message.
	Server(Fabric &fabric, Control &control, const ServerConfig &config);
	~Server();
	// Runs until SIGTERM, SIGINT or a shutdown command. Returns the exit code.
	int run();

	// Implementation details shared with the connection classes in server.cpp.
	struct Connection;
	struct PortConnection;
	struct ControlConnection;
	void want_flush(int fd) { dirty_.insert(fd); }

      private:
	void accept_clients(int listen_fd, bool control);
	void on_readable(Connection &conn);
	void read_port(PortConnection &conn);
	bool parse_port_records(PortConnection &conn);
	void read_control(ControlConnection &conn);
	void close_connection(int fd);
	void close_after_flush(Connection &conn);
	void set_events(Connection &conn);
	void pump();
	bool flush_dirty();
	bool resume_paused_ports();
	void arm_timer();

	Fabric &fabric_;
	Control &control_;
	ServerConfig config_;
	ListeningSocket port_listener_;
	ListeningSocket control_listener_;
	UniqueFd epoll_;
	UniqueFd timer_;
	UniqueFd signals_;
	std::map<int, std::unique_ptr<Connection>> connections_;
	std::set<int> dirty_;  // connections with queued output
	std::set<int> paused_; // ports not read because their fiber is full
	bool stop_ = false;
};

} // namespace lumen::fabric
