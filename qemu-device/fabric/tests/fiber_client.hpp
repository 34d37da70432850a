// SPDX-License-Identifier: MIT
// Test side of lumen-fabric: the process itself, a fake card port speaking
// lumen_fiber.h over the real socket, and a control-socket client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <lumen/lumen_fiber.h>
#include <nlohmann/json.hpp>

namespace lumen::fabric::test {

// A lumen-fabric process in a fresh socket directory; killed if still running
// when this goes away.
class FabricProcess {
      public:
	FabricProcess(const std::string &binary, const std::vector<std::string> &args);
	~FabricProcess();
	FabricProcess(const FabricProcess &) = delete;
	FabricProcess &operator=(const FabricProcess &) = delete;

	std::string port_socket() const { return dir_ + "/ports.sock"; }
	std::string control_socket() const { return dir_ + "/control.sock"; }
	const std::string &dir() const { return dir_; }
	// Exit status once it exits within timeout_ms, or nullopt.
	std::optional<int> wait_exit(int timeout_ms);
	pid_t pid() const { return pid_; }

      private:
	std::string dir_;
	pid_t pid_ = -1;
};

struct Record {
	uint8_t type = 0;
	std::vector<uint8_t> payload;
};

class FiberPort {
      public:
	// Connects without saying anything (for protocol-error tests).
	explicit FiberPort(const std::string &socket_path);
	// Connects and says HELLO; the HELLO_ACK is in ack.
	FiberPort(const std::string &socket_path, uint32_t chip, uint8_t port);
	~FiberPort();
	FiberPort(const FiberPort &) = delete;
	FiberPort &operator=(const FiberPort &) = delete;

	void send_raw(const void *data, size_t len); // blocking, all of it
	void send_record(uint8_t type, const std::vector<uint8_t> &payload);
	void send_data(const std::vector<uint8_t> &payload)
	{
		send_record(LUMEN_FIBER_DATA, payload);
	}
	// Non-blocking: false when the socket did not take the previous record yet.
	bool try_send_data(const std::vector<uint8_t> &payload);
	// Non-blocking: writes what try_send_data left; true when nothing is left.
	bool flush_pending();
	// Next record within timeout_ms, or nullopt. closed is set on EOF.
	std::optional<Record> read_record(int timeout_ms);
	// Next LIGHT record, skipping nothing: any other record fails the test.
	std::optional<struct lumen_fiber_light> read_light(int timeout_ms);
	// Next DATA payload; LIGHT records in between fail the test.
	std::optional<std::vector<uint8_t>> read_data(int timeout_ms);

	struct lumen_fiber_hello_ack ack = {};
	bool closed = false;
	std::string name;

      private:
	int fd_ = -1;
	std::vector<uint8_t> rx_;
	std::vector<uint8_t> pending_; // written partly by try_send_data
};

class ControlClient {
      public:
	explicit ControlClient(const std::string &socket_path);
	~ControlClient();
	ControlClient(const ControlClient &) = delete;
	ControlClient &operator=(const ControlClient &) = delete;

	std::string request_line(const std::string &line); // raw line in, raw line out
	nlohmann::json request(const nlohmann::json &req);

      private:
	int fd_ = -1;
	std::string rx_;
};

} // namespace lumen::fabric::test
