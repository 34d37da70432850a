// SPDX-License-Identifier: MIT
#include "rt/fabric_client.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <time.h>
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
	Socket() : fd_(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {}
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
	const char *env = secure_getenv("LUMEN_FM_SOCKET");
	return env && *env ? env : "/run/lumen-fm/fm.sock";
}

namespace {

// Deepest nesting of arrays and objects in JSON text (strings skipped).
// nlohmann's dump() and our walks recurse: a hostile answer nested 100000
// deep would overflow the stack, so answers deeper than kMaxDepth are
// refused before they are parsed.
constexpr int kMaxDepth = 16;

int json_depth(const std::string &t)
{
	int depth = 0, deepest = 0;
	bool in_string = false;
	for (size_t i = 0; i < t.size(); i++) {
		char c = t[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
			deepest = std::max(deepest, ++depth);
		else if (c == ']' || c == '}')
			depth--;
	}
	return deepest;
}

// One request on a new connection; throws like fabric_request. *busy: the
// manager had no room for this client (try again).
nlohmann::json attempt(const std::string &path, const struct sockaddr_un &a,
		       const std::string &line, std::chrono::steady_clock::time_point deadline,
		       int timeout_ms, bool *busy)
{
	*busy = false;
	Socket s;
	if (s.fd() < 0)
		fail_errno("socket(AF_UNIX)", errno);
	// Non-blocking: a manager whose backlog is full (it is busy with a
	// sweep) makes a blocking connect() wait without limit.
	for (;;) {
		if (connect(s.fd(), reinterpret_cast<const struct sockaddr *>(&a), sizeof(a)) == 0)
			break;
		if ((errno == EAGAIN || errno == EINTR) && left_ms(deadline) > 0) {
			struct timespec pause = {0, 10 * 1000 * 1000};
			nanosleep(&pause, nullptr);
			continue;
		}
		unavailable(path, errno == EAGAIN ? "it took no connection within " +
							    std::to_string(timeout_ms) + " ms"
						  : std::strerror(errno));
	}

	std::string req = line + "\n";
	for (size_t off = 0; off < req.size();) {
		ssize_t n = send(s.fd(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
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
		ssize_t n = recv(s.fd(), buf, sizeof(buf), 0);
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
	if (json_depth(in) > kMaxDepth)
		unavailable(path, "its answer is nested deeper than " + std::to_string(kMaxDepth));
	nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
	if (j.is_discarded() || !j.is_object())
		unavailable(path, "its answer is not a JSON object");
	auto err = j.find("error");
	if (err != j.end()) {
		std::string msg = err->is_string() ? err->get<std::string>().substr(0, 512)
						   : std::string("(an error that is a ") +
							     err->type_name() + ")";
		auto c = j.find("code");
		std::string code = c != j.end() && c->is_string() ? c->get<std::string>() : "";
		if (code == "busy") {
			*busy = true;
			return {};
		}
		fail(status_of_code(code), "lumen-fm: " + msg);
	}
	return j;
}

} // namespace

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
	for (;;) {
		bool busy = false;
		nlohmann::json j = attempt(path, a, line, deadline, timeout_ms, &busy);
		if (!busy)
			return j;
		if (left_ms(deadline) <= 0)
			unavailable(path, "it was too busy for another client for " +
						  std::to_string(timeout_ms) + " ms");
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, nullptr);
	}
}

} // namespace lumen::rt
