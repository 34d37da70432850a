// SPDX-License-Identifier: MIT
#include "control.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.hpp"
#include "query.hpp"

namespace lumen_fm {

namespace {

constexpr size_t kMaxClients = 16;
constexpr double kClientMs = 2000;

bool fill_addr(const std::string &path, struct sockaddr_un &a)
{
	std::memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	if (path.size() >= sizeof(a.sun_path))
		return false;
	std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
	return true;
}

void write_all(int fd, const std::string &s)
{
	size_t off = 0;
	while (off < s.size()) {
		ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {fd, POLLOUT, 0};
			if (poll(&p, 1, 1000) <= 0)
				return;
			continue;
		}
		if (n <= 0)
			return;
		off += size_t(n);
	}
}

} // namespace

ControlServer::~ControlServer()
{
	close();
}

void ControlServer::open(const std::string &path)
{
	struct sockaddr_un a;

	if (!fill_addr(path, a))
		throw std::runtime_error("control socket path too long: " + path);
	fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd_ < 0)
		throw std::runtime_error("socket: " + std::string(strerror(errno)));
	// A socket left by a manager that died: nobody answers on it.
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, reinterpret_cast<struct sockaddr *>(&a), sizeof(a)) == 0) {
			::close(probe);
			::close(fd_);
			fd_ = -1;
			throw std::runtime_error(path + ": another lumen-fm is running here");
		}
		::close(probe);
	}
	unlink(path.c_str());
	// Anyone may connect (liblumen's queries need no root; what changes
	// the fabric is refused to non-root clients by the handler). A long
	// backlog: clients connect while a sweep keeps the loop busy.
	if (bind(fd_, reinterpret_cast<struct sockaddr *>(&a), sizeof(a)) != 0 ||
	    chmod(path.c_str(), 0666) != 0 || listen(fd_, 128) != 0) {
		int err = errno;
		::close(fd_);
		fd_ = -1;
		throw std::runtime_error(path + ": " + strerror(err));
	}
	path_ = path;
	fcntl(fd_, F_SETOWN, getpid());
	fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_ASYNC | O_NONBLOCK);
}

void ControlServer::serve(const std::function<nlohmann::json(const std::string &, bool)> &handle)
{
	if (fd_ < 0)
		return;
	for (;;) {
		int c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			break;
		if (clients_.size() >= kMaxClients) {
			write_all(c, error_answer(code::kBusy, "too many clients").dump() + "\n");
			::close(c);
			continue;
		}
		fcntl(c, F_SETOWN, getpid());
		fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_ASYNC);
		struct ucred cred = {};
		socklen_t len = sizeof(cred);
		bool root =
			getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
		clients_.push_back({c, {}, mono_ms(), root});
	}
	double now = mono_ms();
	for (size_t i = 0; i < clients_.size();) {
		Client &cl = clients_[i];
		char buf[16384];
		bool done = false;
		// Whatever has arrived, never waiting (the socket is non-blocking):
		// a long line comes in over several calls, each woken by SIGIO.
		size_t nl = cl.in.find('\n');
		while (nl == std::string::npos && cl.in.size() <= kMaxLine) {
			ssize_t n = recv(cl.fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				done = true; // EOF: a request without newline is whole too
			if (n <= 0)
				break;
			size_t was = cl.in.size();
			cl.in.append(buf, size_t(n));
			nl = cl.in.find('\n', was);
		}
		bool too_long = (nl == std::string::npos ? cl.in.size() : nl) > kMaxLine;
		if (nl != std::string::npos || done || too_long || now - cl.since_ms > kClientMs) {
			nlohmann::json ans;
			if (too_long)
				ans = error_answer(code::kUsage, "request longer than " +
									 std::to_string(kMaxLine) +
									 " bytes");
			else if (nl == std::string::npos && !done)
				ans = error_answer(code::kUsage, "no request line within 2 s");
			else
				ans = handle(cl.in.substr(0, nl), cl.privileged);
			write_all(cl.fd, ans.dump() + "\n");
			::close(cl.fd);
			clients_.erase(clients_.begin() + long(i));
			continue;
		}
		i++;
	}
}

void ControlServer::close()
{
	for (auto &c : clients_)
		::close(c.fd);
	clients_.clear();
	if (fd_ >= 0) {
		::close(fd_);
		fd_ = -1;
		unlink(path_.c_str());
	}
}

int ctl_request(const std::string &state_dir, const std::string &line, double timeout_s)
{
	std::string path = state_dir + "/fm.sock";
	struct sockaddr_un a;

	if (!fill_addr(path, a)) {
		fprintf(stderr, "lumen-fm ctl: socket path too long: %s\n", path.c_str());
		return 1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, reinterpret_cast<struct sockaddr *>(&a), sizeof(a)) != 0) {
		fprintf(stderr, "lumen-fm ctl: lumen-fm is not running (%s: %s)\n", path.c_str(),
			strerror(errno));
		if (fd >= 0)
			::close(fd);
		return 1;
	}
	write_all(fd, line + "\n");
	std::string in;
	char buf[4096];
	double deadline = mono_ms() + timeout_s * 1e3;
	for (;;) {
		int left = static_cast<int>(deadline - mono_ms());
		struct pollfd p = {fd, POLLIN, 0};
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			if (errno == EINTR && left > 0)
				continue;
			fprintf(stderr, "lumen-fm ctl: no answer within %.0f s\n", timeout_s);
			::close(fd);
			return 1;
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		in.append(buf, size_t(n));
		if (in.find('\n') != std::string::npos)
			break;
	}
	::close(fd);
	size_t nl = in.find('\n');
	if (nl == std::string::npos) {
		fprintf(stderr,
			"lumen-fm ctl: the daemon closed the connection without an answer\n");
		return 1;
	}
	in.resize(nl);
	nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
	if (j.is_discarded()) {
		fprintf(stderr, "lumen-fm ctl: bad answer: %s\n", in.c_str());
		return 1;
	}
	printf("%s\n", in.c_str());
	if (j.is_object() && j.contains("error")) {
		fprintf(stderr, "lumen-fm ctl: %s\n", j["error"].get<std::string>().c_str());
		return 1;
	}
	return 0;
}

} // namespace lumen_fm
