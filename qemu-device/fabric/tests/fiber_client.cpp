// SPDX-License-Identifier: MIT
#include "fiber_client.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace lumen::fabric::test {

namespace {

int connect_unix(const std::string &path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw std::runtime_error("socket failed");
	sockaddr_un addr = {};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
	if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int connect_with_retry(const std::string &path)
{
	for (int i = 0; i < 500; i++) {
		int fd = connect_unix(path);
		if (fd >= 0)
			return fd;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	throw std::runtime_error("cannot connect to " + path);
}

} // namespace

FabricProcess::FabricProcess(const std::string &binary, const std::vector<std::string> &args)
{
	char dir_template[] = "/tmp/lumen-fabric-test-XXXXXX";
	if (!mkdtemp(dir_template))
		throw std::runtime_error("mkdtemp failed");
	dir_ = dir_template;
	std::vector<std::string> argv_strings = {binary, "--socket-dir", dir_};
	argv_strings.insert(argv_strings.end(), args.begin(), args.end());
	pid_ = fork();
	if (pid_ == 0) {
		std::vector<char *> argv;
		for (auto &s : argv_strings)
			argv.push_back(s.data());
		argv.push_back(nullptr);
		execv(binary.c_str(), argv.data());
		_exit(127);
	}
	// Ready when the control socket answers.
	close(connect_with_retry(control_socket()));
}

FabricProcess::~FabricProcess()
{
	// SIGTERM first: a clean exit is part of what is tested.
	if (pid_ > 0)
		kill(pid_, SIGTERM);
	if (pid_ > 0 && !wait_exit(2000)) {
		ADD_FAILURE() << "lumen-fabric ignored SIGTERM";
		kill(pid_, SIGKILL);
		waitpid(pid_, nullptr, 0);
	}
	unlink(port_socket().c_str());
	unlink(control_socket().c_str());
	rmdir(dir_.c_str());
}

std::optional<int> FabricProcess::wait_exit(int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		int status = 0;
		if (waitpid(pid_, &status, WNOHANG) == pid_) {
			pid_ = -1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (waited >= timeout_ms)
			return std::nullopt;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

FiberPort::FiberPort(const std::string &socket_path) : fd_(connect_with_retry(socket_path))
{
	fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

FiberPort::FiberPort(const std::string &socket_path, uint32_t chip, uint8_t port)
    : FiberPort(socket_path)
{
	name = std::to_string(chip) + "." + std::to_string(port);
	struct lumen_fiber_hello hello = {};
	hello.chip_id = lumen_cpu_to_le32(chip);
	hello.port = port;
	hello.num_ports = 6;
	std::vector<uint8_t> payload(sizeof(hello));
	std::memcpy(payload.data(), &hello, sizeof(hello));
	send_record(LUMEN_FIBER_HELLO, payload);
	auto record = read_record(5000);
	if (!record || record->type != LUMEN_FIBER_HELLO_ACK ||
	    record->payload.size() != sizeof(ack))
		throw std::runtime_error("no HELLO_ACK for " + name);
	std::memcpy(&ack, record->payload.data(), sizeof(ack));
}

FiberPort::~FiberPort()
{
	if (fd_ >= 0)
		close(fd_);
}

bool FiberPort::flush_pending()
{
	while (!pending_.empty()) {
		ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
		if (n < 0)
			return false; // EAGAIN (or a dead socket: the test notices later)
		pending_.erase(pending_.begin(), pending_.begin() + n);
	}
	return true;
}

void FiberPort::send_raw(const void *data, size_t len)
{
	const uint8_t *bytes = static_cast<const uint8_t *>(data);
	pending_.insert(pending_.end(), bytes, bytes + len);
	for (int waited = 0; !flush_pending(); waited++) {
		if (waited > 5000)
			throw std::runtime_error("send blocked for 5 s on " + name);
		pollfd pfd = {fd_, POLLOUT, 0};
		poll(&pfd, 1, 1);
	}
}

void FiberPort::send_record(uint8_t type, const std::vector<uint8_t> &payload)
{
	struct lumen_fiber_hdr hdr = {};
	hdr.magic = lumen_cpu_to_le16(LUMEN_FIBER_MAGIC);
	hdr.version = LUMEN_FIBER_VERSION;
	hdr.type = type;
	hdr.len = lumen_cpu_to_le32(uint32_t(payload.size()));
	std::vector<uint8_t> record(sizeof(hdr) + payload.size());
	std::memcpy(record.data(), &hdr, sizeof(hdr));
	std::copy(payload.begin(), payload.end(), record.begin() + sizeof(hdr));
	send_raw(record.data(), record.size());
}

bool FiberPort::try_send_data(const std::vector<uint8_t> &payload)
{
	if (!flush_pending())
		return false;
	struct lumen_fiber_hdr hdr = {};
	hdr.magic = lumen_cpu_to_le16(LUMEN_FIBER_MAGIC);
	hdr.version = LUMEN_FIBER_VERSION;
	hdr.type = LUMEN_FIBER_DATA;
	hdr.len = lumen_cpu_to_le32(uint32_t(payload.size()));
	const uint8_t *h = reinterpret_cast<const uint8_t *>(&hdr);
	pending_.insert(pending_.end(), h, h + sizeof(hdr));
	pending_.insert(pending_.end(), payload.begin(), payload.end());
	flush_pending();
	return true;
}

std::optional<Record> FiberPort::read_record(int timeout_ms)
{
	const auto deadline =
		std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	while (true) {
		if (rx_.size() >= sizeof(struct lumen_fiber_hdr)) {
			struct lumen_fiber_hdr hdr;
			std::memcpy(&hdr, rx_.data(), sizeof(hdr));
			EXPECT_EQ(lumen_le16_to_cpu(hdr.magic), LUMEN_FIBER_MAGIC);
			EXPECT_EQ(hdr.version, LUMEN_FIBER_VERSION);
			EXPECT_EQ(hdr.flags, 0);
			const size_t len = lumen_le32_to_cpu(hdr.len);
			if (rx_.size() >= sizeof(hdr) + len) {
				Record r{hdr.type,
					 std::vector<uint8_t>(rx_.begin() + sizeof(hdr),
							      rx_.begin() + sizeof(hdr) + len)};
				rx_.erase(rx_.begin(), rx_.begin() + long(sizeof(hdr) + len));
				return r;
			}
		}
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			deadline - std::chrono::steady_clock::now());
		if (left.count() < 0 || closed)
			return std::nullopt;
		pollfd pfd = {fd_, POLLIN, 0};
		if (poll(&pfd, 1, int(left.count()) + 1) <= 0)
			continue;
		uint8_t buf[65536];
		ssize_t n = recv(fd_, buf, sizeof(buf), 0);
		if (n == 0) {
			closed = true;
			continue;
		}
		if (n > 0)
			rx_.insert(rx_.end(), buf, buf + n);
	}
}

std::optional<struct lumen_fiber_light> FiberPort::read_light(int timeout_ms)
{
	auto record = read_record(timeout_ms);
	if (!record)
		return std::nullopt;
	EXPECT_EQ(record->type, LUMEN_FIBER_LIGHT) << "on " << name;
	struct lumen_fiber_light light = {};
	if (record->type != LUMEN_FIBER_LIGHT || record->payload.size() != sizeof(light))
		return std::nullopt;
	std::memcpy(&light, record->payload.data(), sizeof(light));
	return light;
}

std::optional<std::vector<uint8_t>> FiberPort::read_data(int timeout_ms)
{
	auto record = read_record(timeout_ms);
	if (!record)
		return std::nullopt;
	EXPECT_EQ(record->type, LUMEN_FIBER_DATA) << "on " << name;
	if (record->type != LUMEN_FIBER_DATA)
		return std::nullopt;
	return record->payload;
}

ControlClient::ControlClient(const std::string &socket_path) : fd_(connect_with_retry(socket_path))
{
}

ControlClient::~ControlClient()
{
	if (fd_ >= 0)
		close(fd_);
}

std::string ControlClient::request_line(const std::string &line)
{
	std::string out = line + "\n";
	if (::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != ssize_t(out.size()))
		return "(send failed)";
	while (rx_.find('\n') == std::string::npos) {
		pollfd pfd = {fd_, POLLIN, 0};
		if (poll(&pfd, 1, 5000) <= 0)
			return "(no answer in 5 s)";
		char buf[65536];
		ssize_t n = recv(fd_, buf, sizeof(buf), 0);
		if (n <= 0)
			return "(connection closed)";
		rx_.append(buf, size_t(n));
	}
	const size_t eol = rx_.find('\n');
	std::string reply = rx_.substr(0, eol);
	rx_.erase(0, eol + 1);
	return reply;
}

nlohmann::json ControlClient::request(const nlohmann::json &req)
{
	std::string reply = request_line(req.dump());
	auto j = nlohmann::json::parse(reply, nullptr, false);
	if (j.is_discarded())
		return {{"ok", false}, {"error", "unparsable reply: " + reply}};
	return j;
}

} // namespace lumen::fabric::test
