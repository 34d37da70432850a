// SPDX-License-Identifier: MIT
#include "server.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <vector>

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>

#include "log.hpp"
#include "wire.hpp"

namespace lumen::fabric {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxControlLine = 1024 * 1024;
constexpr size_t kMaxControlBacklog = 16 * 1024 * 1024; // unread replies

std::runtime_error sys_error(const std::string &what)
{
	return std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_un unix_address(const std::string &path)
{
	sockaddr_un addr = {};
	addr.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(addr.sun_path))
		throw std::runtime_error("socket path '" + path + "' is empty or longer than " +
					 std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	return addr;
}

} // namespace

Nanos monotonic_now()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return Nanos(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

ListeningSocket::ListeningSocket(const std::string &path) : path_(path)
{
	const sockaddr_un addr = unix_address(path);
	struct stat st;
	if (lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			throw std::runtime_error("'" + path + "' exists and is not a socket");
		// A live socket belongs to another fabric; a dead one is left over.
		UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (probe && connect(probe.get(), reinterpret_cast<const sockaddr *>(&addr),
				     sizeof(addr)) == 0)
			throw std::runtime_error("'" + path +
						 "' is in use (another lumen-fabric running?)");
		unlink(path.c_str());
	}
	fd_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!fd_)
		throw sys_error("socket");
	if (bind(fd_.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) < 0)
		throw sys_error("bind '" + path + "'");
	if (listen(fd_.get(), SOMAXCONN) < 0)
		throw sys_error("listen '" + path + "'");
}

ListeningSocket::~ListeningSocket()
{
	if (fd_)
		unlink(path_.c_str());
}

// Output side common to port and control clients: a queue of whole records or
// lines, written as far as the socket takes them.
struct Server::Connection {
	Connection(Server &server, UniqueFd socket_fd) : owner(server), fd(std::move(socket_fd)) {}
	virtual ~Connection() = default;
	virtual bool is_port() const = 0;

	void queue(std::vector<uint8_t> bytes)
	{
		tx_bytes += bytes.size();
		tx.push_back(std::move(bytes));
		owner.want_flush(fd.get());
	}
	// Writes what the socket takes. Returns bytes written, -1 on a dead socket.
	ssize_t flush()
	{
		ssize_t written = 0;
		while (!tx.empty()) {
			const std::vector<uint8_t> &front = tx.front();
			ssize_t n = ::send(fd.get(), front.data() + tx_offset,
					   front.size() - tx_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				if (errno == EINTR)
					continue;
				return -1;
			}
			written += n;
			tx_offset += size_t(n);
			tx_bytes -= size_t(n);
			if (tx_offset == front.size()) {
				tx.pop_front();
				tx_offset = 0;
			}
		}
		return written;
	}

	Server &owner;
	UniqueFd fd;
	std::deque<std::vector<uint8_t>> tx;
	size_t tx_offset = 0; // bytes of tx.front() already written
	size_t tx_bytes = 0;
	std::vector<uint8_t> rx;
	bool closing = false;	   // no more input; close once tx is written
	uint32_t epoll_events = 0; // what is registered now
};

struct Server::PortConnection : Server::Connection, PortSink {
	PortConnection(Server &server, UniqueFd socket_fd, size_t queue_limit)
	    : Connection(server, std::move(socket_fd)), limit(queue_limit)
	{
	}
	bool is_port() const override { return true; }
	bool has_room() const override { return tx_bytes < limit; }
	void send(std::vector<uint8_t> record) override { queue(std::move(record)); }
	std::string name() const
	{
		return endpoint ? "port " + endpoint->str() : "socket " + std::to_string(fd.get());
	}

	size_t limit;
	std::optional<Endpoint> endpoint; // set once HELLO was accepted
	bool paused = false;		  // input waits for room in the fiber
};

struct Server::ControlConnection : Server::Connection {
	using Connection::Connection;
	bool is_port() const override { return false; }
};

Server::Server(Fabric &fabric, Control &control, const ServerConfig &config)
    : fabric_(fabric), control_(control), config_(config), port_listener_(config.port_socket),
      control_listener_(config.control_socket)
{
	epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
	if (!epoll_)
		throw sys_error("epoll_create1");
	timer_ = UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	if (!timer_)
		throw sys_error("timerfd_create");
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	// Blocked so they arrive on the signalfd, in the loop, never mid-update.
	if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0)
		throw sys_error("sigprocmask");
	signals_ = UniqueFd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
	if (!signals_)
		throw sys_error("signalfd");
	std::signal(SIGPIPE, SIG_IGN);
	for (int fd : {port_listener_.fd(), control_listener_.fd(), timer_.get(), signals_.get()}) {
		epoll_event ev = {};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
			throw sys_error("epoll_ctl");
	}
}

Server::~Server() = default;

void Server::set_events(Connection &conn)
{
	uint32_t events = 0;
	bool reading = !conn.closing;
	if (conn.is_port() && static_cast<PortConnection &>(conn).paused)
		reading = false;
	if (reading)
		events |= EPOLLIN;
	if (!conn.tx.empty())
		events |= EPOLLOUT;
	if (events == conn.epoll_events)
		return;
	epoll_event ev = {};
	ev.events = events;
	ev.data.fd = conn.fd.get();
	epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, conn.fd.get(), &ev);
	conn.epoll_events = events;
}

void Server::accept_clients(int listen_fd, bool control)
{
	while (true) {
		UniqueFd fd(accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_line(std::string("accept: ") + std::strerror(errno));
			return;
		}
		const int raw = fd.get();
		std::unique_ptr<Connection> conn;
		if (control)
			conn = std::make_unique<ControlConnection>(*this, std::move(fd));
		else
			conn = std::make_unique<PortConnection>(*this, std::move(fd),
								config_.port_queue_bytes);
		epoll_event ev = {};
		ev.events = EPOLLIN;
		ev.data.fd = raw;
		if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) < 0) {
			log_line(std::string("epoll_ctl: ") + std::strerror(errno));
			continue;
		}
		conn->epoll_events = EPOLLIN;
		connections_.emplace(raw, std::move(conn));
	}
}

void Server::close_connection(int fd)
{
	auto it = connections_.find(fd);
	if (it == connections_.end())
		return;
	std::unique_ptr<Connection> conn = std::move(it->second);
	connections_.erase(it);
	dirty_.erase(fd);
	paused_.erase(fd);
	epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
	if (conn->is_port()) {
		auto &port = static_cast<PortConnection &>(*conn);
		if (port.endpoint)
			fabric_.detach(*port.endpoint, monotonic_now());
	}
}

void Server::close_after_flush(Connection &conn)
{
	conn.closing = true;
	conn.rx.clear();
	if (conn.is_port()) {
		auto &port = static_cast<PortConnection &>(conn);
		port.paused = false;
		paused_.erase(conn.fd.get());
		if (port.endpoint) {
			fabric_.detach(*port.endpoint, monotonic_now());
			port.endpoint.reset();
		}
	}
	want_flush(conn.fd.get());
}

// Parses whole records out of conn.rx. Returns false when the input stopped
// because the port's fiber is full (the port is then paused).
bool Server::parse_port_records(PortConnection &conn)
{
	size_t start = 0;
	bool complete = true;
	while (!conn.closing) {
		RecordView record;
		size_t consumed = 0;
		std::string error;
		ParseResult result = parse_record(conn.rx.data() + start, conn.rx.size() - start,
						  record, consumed, error);
		if (result == ParseResult::kNeedMore)
			break;
		if (result == ParseResult::kBadVersion && !conn.endpoint) {
			log_line(conn.name() + ": " + error + ", closing");
			conn.send(encode_hello_ack(LUMEN_FIBER_BAD_VERSION, false,
						   LUMEN_FIBER_ID_NONE));
			close_after_flush(conn);
			break;
		}
		if (result != ParseResult::kRecord) {
			log_line(conn.name() + ": protocol error: " + error + ", closing");
			close_after_flush(conn);
			break;
		}
		if (!conn.endpoint) {
			if (record.type != LUMEN_FIBER_HELLO) {
				log_line(conn.name() + ": protocol error: first record is not "
						       "HELLO, closing");
				close_after_flush(conn);
				break;
			}
			struct lumen_fiber_hello hello = {};
			if (record.len != sizeof(hello)) {
				log_line(conn.name() + ": HELLO of " + std::to_string(record.len) +
					 " bytes, expected " + std::to_string(sizeof(hello)));
				conn.send(encode_hello_ack(LUMEN_FIBER_BAD_HELLO, false,
							   LUMEN_FIBER_ID_NONE));
				close_after_flush(conn);
				break;
			}
			std::memcpy(&hello, record.payload, sizeof(hello));
			Endpoint port{lumen_le32_to_cpu(hello.chip_id), hello.port};
			if (fabric_.attach(port, &conn, monotonic_now()) != LUMEN_FIBER_OK) {
				close_after_flush(conn);
				break;
			}
			conn.endpoint = port;
		} else if (record.type == LUMEN_FIBER_DATA && record.len > 0) {
			if (!fabric_.can_accept(*conn.endpoint)) {
				complete = false;
				break;
			}
			fabric_.receive_data(
				*conn.endpoint,
				std::vector<uint8_t>(record.payload, record.payload + record.len),
				monotonic_now());
		} else {
			log_line(conn.name() + ": protocol error: unexpected record type " +
				 std::to_string(record.type) + " of " + std::to_string(record.len) +
				 " bytes, closing");
			close_after_flush(conn);
			break;
		}
		start += consumed;
	}
	if (conn.closing)
		return true;
	conn.rx.erase(conn.rx.begin(), conn.rx.begin() + long(start));
	conn.paused = !complete;
	if (conn.paused)
		paused_.insert(conn.fd.get());
	else
		paused_.erase(conn.fd.get());
	set_events(conn);
	return complete;
}

void Server::read_port(PortConnection &conn)
{
	const size_t old_size = conn.rx.size();
	conn.rx.resize(old_size + kReadChunk);
	ssize_t n = ::recv(conn.fd.get(), conn.rx.data() + old_size, kReadChunk, MSG_DONTWAIT);
	conn.rx.resize(old_size + size_t(std::max<ssize_t>(n, 0)));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		if (!conn.endpoint)
			log_line(conn.name() + " closed before HELLO");
		close_connection(conn.fd.get());
		return;
	}
	if (n > 0)
		parse_port_records(conn);
}

void Server::read_control(ControlConnection &conn)
{
	char buf[16384];
	ssize_t n = ::recv(conn.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		close_connection(conn.fd.get());
		return;
	}
	if (n < 0)
		return;
	conn.rx.insert(conn.rx.end(), buf, buf + n);
	size_t start = 0;
	while (true) {
		auto newline = std::find(conn.rx.begin() + long(start), conn.rx.end(), '\n');
		if (newline == conn.rx.end())
			break;
		std::string line(conn.rx.begin() + long(start), newline);
		start = size_t(newline - conn.rx.begin()) + 1;
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		if (line.empty())
			continue;
		std::string reply = control_.handle(line, monotonic_now()) + "\n";
		conn.queue(std::vector<uint8_t>(reply.begin(), reply.end()));
	}
	conn.rx.erase(conn.rx.begin(), conn.rx.begin() + long(start));
	if (conn.rx.size() > kMaxControlLine) {
		std::string reply = "{\"ok\":false,\"error\":\"request line longer than " +
				    std::to_string(kMaxControlLine) + " bytes\"}\n";
		conn.queue(std::vector<uint8_t>(reply.begin(), reply.end()));
		close_after_flush(conn);
	} else if (conn.tx_bytes > kMaxControlBacklog) {
		log_line("control client does not read its replies, closing");
		close_connection(conn.fd.get());
	}
}

void Server::on_readable(Connection &conn)
{
	if (conn.closing)
		return;
	if (conn.is_port()) {
		auto &port = static_cast<PortConnection &>(conn);
		if (!port.paused)
			read_port(port);
	} else {
		read_control(static_cast<ControlConnection &>(conn));
	}
}

bool Server::flush_dirty()
{
	bool progress = false;
	// Closing a port can queue LIGHT records to others: repeat until settled.
	while (!dirty_.empty()) {
		const int fd = *dirty_.begin();
		dirty_.erase(dirty_.begin());
		auto it = connections_.find(fd);
		if (it == connections_.end())
			continue;
		Connection &conn = *it->second;
		const ssize_t written = conn.flush();
		if (written < 0 || (conn.closing && conn.tx.empty())) {
			close_connection(fd);
			progress = true;
			continue;
		}
		progress |= written > 0;
		set_events(conn);
	}
	return progress;
}

bool Server::resume_paused_ports()
{
	bool progress = false;
	const std::vector<int> paused(paused_.begin(), paused_.end());
	for (int fd : paused) {
		auto it = connections_.find(fd);
		if (it == connections_.end()) {
			paused_.erase(fd);
			continue;
		}
		auto &port = static_cast<PortConnection &>(*it->second);
		if (!port.endpoint || !fabric_.can_accept(*port.endpoint))
			continue;
		const size_t before = port.rx.size();
		parse_port_records(port);
		progress |= port.rx.size() != before || !port.paused;
	}
	return progress;
}

// Lets frames, freed queue space and resumed ports feed each other until
// nothing moves; what is left waits for a socket or the timer.
void Server::pump()
{
	for (int round = 0; round < 64; round++) {
		fabric_.advance(monotonic_now());
		bool progress = resume_paused_ports();
		progress |= flush_dirty();
		if (!progress)
			break;
	}
}

void Server::arm_timer()
{
	const Nanos now = monotonic_now();
	const Nanos deadline = fabric_.next_deadline(now);
	itimerspec spec = {};
	if (deadline != kNever) {
		// An absolute time of zero would disarm: fire at once instead.
		const Nanos at = std::max(deadline, now + 1);
		spec.it_value.tv_sec = at / 1000000000;
		spec.it_value.tv_nsec = at % 1000000000;
	}
	timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

int Server::run()
{
	log_line("listening for card ports on " + config_.port_socket + ", control on " +
		 config_.control_socket);
	log_line("ready");
	epoll_event events[64];
	while (!stop_) {
		arm_timer();
		int n = epoll_wait(epoll_.get(), events, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_line(std::string("epoll_wait: ") + std::strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			const int fd = events[i].data.fd;
			if (fd == port_listener_.fd()) {
				accept_clients(fd, false);
			} else if (fd == control_listener_.fd()) {
				accept_clients(fd, true);
			} else if (fd == timer_.get()) {
				uint64_t expirations;
				(void)!read(fd, &expirations, sizeof(expirations));
			} else if (fd == signals_.get()) {
				signalfd_siginfo info;
				if (read(fd, &info, sizeof(info)) == sizeof(info)) {
					log_line(std::string("caught ") +
						 strsignal(int(info.ssi_signo)) +
						 ", shutting down");
					stop_ = true;
				}
			} else {
				auto it = connections_.find(fd);
				if (it == connections_.end())
					continue;
				Connection &conn = *it->second;
				const bool hangup = events[i].events & (EPOLLHUP | EPOLLERR);
				// Hang-ups are reported even when not reading: a paused
				// or closing socket would spin; its input is moot now.
				const bool not_reading =
					conn.closing ||
					(conn.is_port() &&
					 static_cast<PortConnection &>(conn).paused);
				if (hangup && not_reading) {
					close_connection(fd);
					continue;
				}
				if (events[i].events & EPOLLOUT)
					want_flush(fd);
				if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					on_readable(conn);
			}
		}
		pump();
		if (control_.shutdown_requested())
			stop_ = true;
	}
	// Best effort: let control clients see the answer to "shutdown".
	for (auto &[fd, conn] : connections_)
		if (!conn->is_port())
			conn->flush();
	log_line("stopped");
	return 0;
}

} // namespace lumen::fabric
