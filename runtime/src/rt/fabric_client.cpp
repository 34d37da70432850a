// SPDX-License-Identifier: MIT
#include "rt/fabric_client.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt/status.hpp"

namespace lumen::rt {
namespace {

// Answers are one line; a batched route answer of 6000 pairs is ~600 KB.
constexpr size_t kMaxAnswer = 64u << 20;

class Socket {
      public:
	Socket() : fd_(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
	~Socket()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	Socket(const Socket &) = delete;
	Socket &operator=(const Socket &) = delete;
	int fd() const noexcept { return fd_; }

      private:
	int fd_;
};

[[noreturn]] void unavailable(const std::string &path, const std::string &why)
{
	fail(LUMEN_ERROR_FABRIC_UNAVAILABLE, "no fabric manager answers on " + path + ": " + why +
						     " (is lumen-fm running? LUMEN_FM_SOCKET "
						     "names another socket)");
}

// Milliseconds left until deadline, at least 0.
int left_ms(std::chrono::steady_clock::time_point deadline)
{
	auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
		deadline - std::chrono::steady_clock::now());
	return d.count() > 0 ? static_cast<int>(d.count()) : 0;
}

// Waits for ev on fd until deadline; false on timeout.
bool wait_for(int fd, short ev, std::chrono::steady_clock::time_point deadline)
{
	for (;;) {
		struct pollfd p = {fd, ev, 0};
		int n = poll(&p, 1, left_ms(deadline));
		if (n > 0)
			return true;
		if (n == 0)
			return false;
		if (errno != EINTR)
			return false;
	}
}

lumen_status_t status_of_code(const std::string &code)
{
	if (code == "invalid_chip" || code == "invalid_port")
		return LUMEN_ERROR_INVALID_CHIP;
	if (code == "unreachable")
		return LUMEN_ERROR_UNREACHABLE;
	if (code == "usage")
		return LUMEN_ERROR_INVALID_ARGUMENT;
	// no_routes, no_card, not_master, unknown_command (an older manager)
	return LUMEN_ERROR_FABRIC_UNAVAILABLE;
}

} // namespace

std::string fabric_socket_path()
{
	const char *env = std::getenv("LUMEN_FM_SOCKET");
	return env && *env ? env : "/run/lumen-fm/fm.sock";
}

nlohmann::json fabric_request(const std::string &line, int timeout_ms)
{
	std::string path = fabric_socket_path();
	struct sockaddr_un a = {};
	a.sun_family = AF_UNIX;
	if (path.size() >= sizeof(a.sun_path))
		fail(LUMEN_ERROR_INVALID_ARGUMENT,
		     "LUMEN_FM_SOCKET is longer than a socket path may be: " + path);
	std::memcpy(a.sun_path, path.c_str(), path.size() + 1);

	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	Socket s;
	if (s.fd() < 0)
		fail_errno("socket(AF_UNIX)", errno);
	if (connect(s.fd(), reinterpret_cast<struct sockaddr *>(&a), sizeof(a)) != 0)
		unavailable(path, std::strerror(errno));

	std::string req = line + "\n";
	for (size_t off = 0; off < req.size();) {
		ssize_t n = send(s.fd(), req.data() + off, req.size() - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += size_t(n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && wait_for(s.fd(), POLLOUT, deadline))
			continue;
		unavailable(path, n < 0 && errno != EAGAIN
					  ? std::strerror(errno)
					  : "it took no request within " +
						    std::to_string(timeout_ms) + " ms");
	}

	std::string in;
	char buf[16384];
	for (;;) {
		if (!wait_for(s.fd(), POLLIN, deadline))
			unavailable(path, "no answer within " + std::to_string(timeout_ms) + " ms");
		ssize_t n = recv(s.fd(), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			unavailable(path, std::strerror(errno));
		if (n == 0)
			break;
		in.append(buf, size_t(n));
		if (in.find('\n') != std::string::npos)
			break;
		if (in.size() > kMaxAnswer)
			unavailable(path, "an answer longer than 64 MiB");
	}
	size_t nl = in.find('\n');
	if (nl == std::string::npos)
		unavailable(path, "it closed the connection without a whole answer");
	in.resize(nl);
	nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
	if (j.is_discarded() || !j.is_object())
		unavailable(path, "its answer is not a JSON object");
	auto err = j.find("error");
	if (err != j.end()) {
		std::string msg = err->is_string() ? err->get<std::string>() : err->dump();
		std::string code = j.value("code", std::string());
		fail(status_of_code(code), "lumen-fm: " + msg);
	}
	return j;
}

} // namespace lumen::rt
