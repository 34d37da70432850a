// SPDX-License-Identifier: MIT
// lumen-fabric-fuzz: libFuzzer on lumen-fabric's two inputs, the JSON-lines
// control socket and the card ports' byte streams (a hostile operator and
// hostile or broken QEMUs), without sockets: the patch panel (Fabric), the
// control commands (Control) and the record parser (parse_record) are the
// fabric's own code; the port state machine below follows server.cpp's.
//
// An input is a sequence of
//   0x01 K LEN16 BYTES  LEN (le16) bytes from port connection K (K % 4), as
//                       read from its socket: records of lumen_fiber.h, the
//                       first one HELLO (a '\n' after them is skipped)
//   0x02 K '\n'         connection K closes
//   LINE '\n'           anything else: one control request (a JSON object)
//                       to Control::handle
// Each step advances the fabric's clock by 100 us. The topology is ring:2
// (fibers 0.+x - 1.-x and 1.+x - 0.-x, ports 0 and 1 of chips 0 and 1).
//
// Built by qemu-device/fuzz/run-fabric-fuzz (cmake -DLUMEN_FABRIC_FUZZ=ON
// with clang-14, ASAN + UBSAN); seeds from qemu-device/fuzz/gen-seeds.py.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "control.hpp"
#include "fabric.hpp"
#include "topology.hpp"
#include "wire.hpp"

using namespace lumen::fabric;

namespace {

constexpr int kConns = 4;
constexpr Nanos kStep = 100000;

// A port connection: what server.cpp keeps per socket, minus the socket.
struct Conn : PortSink {
	std::vector<uint8_t> rx;
	std::optional<Endpoint> endpoint;
	bool closed = false;
	size_t sent = 0;

	bool has_room() const override { return sent < (1u << 20); }
	void send(std::vector<uint8_t> record) override { sent += record.size(); }
};

void close_conn(Fabric &fabric, Conn &c, Nanos now)
{
	if (c.endpoint)
		fabric.detach(*c.endpoint, now);
	c.endpoint.reset();
	c.rx.clear();
	c.closed = true;
}

// server.cpp's read loop: HELLO first (attach), then DATA; anything else,
// or a record that does not parse, closes the connection.
void port_bytes(Fabric &fabric, Conn &c, const uint8_t *data, size_t len, Nanos now)
{
	if (c.closed)
		c = Conn{}; // the client reconnects: a new connection
	c.rx.insert(c.rx.end(), data, data + len);
	size_t start = 0;
	while (!c.closed) {
		RecordView record;
		size_t consumed = 0;
		std::string error;
		ParseResult result = parse_record(c.rx.data() + start, c.rx.size() - start,
						  record, consumed, error);
		if (result == ParseResult::kNeedMore)
			break;
		if (result != ParseResult::kRecord) {
			close_conn(fabric, c, now);
			return;
		}
		if (!c.endpoint) {
			struct lumen_fiber_hello hello = {};
			if (record.type != LUMEN_FIBER_HELLO || record.len != sizeof(hello)) {
				close_conn(fabric, c, now);
				return;
			}
			std::memcpy(&hello, record.payload, sizeof(hello));
			Endpoint port{lumen_le32_to_cpu(hello.chip_id), hello.port};
			if (fabric.attach(port, &c, now) != LUMEN_FIBER_OK) {
				close_conn(fabric, c, now);
				return;
			}
			c.endpoint = port;
		} else if (record.type == LUMEN_FIBER_DATA && record.len > 0) {
			if (!fabric.can_accept(*c.endpoint))
				break;
			fabric.receive_data(*c.endpoint,
					    std::vector<uint8_t>(record.payload,
								 record.payload + record.len),
					    now);
		} else {
			close_conn(fabric, c, now);
			return;
		}
		start += consumed;
	}
	c.rx.erase(c.rx.begin(), c.rx.begin() + std::min(start, c.rx.size()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FiberParams defaults;
	Fabric fabric(7, defaults, 1 << 16);
	fabric.repatch(parse_topology("ring:2"), 0, 0);
	Control control(fabric, 1.0);
	Conn conns[kConns];
	Nanos now = 0;

	const uint8_t *end = data + size;
	while (data < end && !control.shutdown_requested()) {
		now += kStep;
		if (data[0] == 1 && end - data >= 4) {
			size_t len = std::min<size_t>(data[2] | data[3] << 8, end - data - 4);
			port_bytes(fabric, conns[data[1] % kConns], data + 4, len, now);
			data += 4 + len;
			if (data < end && *data == '\n')
				data++;
		} else {
			const uint8_t *nl =
				static_cast<const uint8_t *>(std::memchr(data, '\n', end - data));
			const uint8_t *line_end = nl ? nl : end;
			size_t len = line_end - data;

			if (len >= 2 && data[0] == 2)
				close_conn(fabric, conns[data[1] % kConns], now);
			else if (len)
				control.handle(
					std::string(reinterpret_cast<const char *>(data), len), now);
			data = nl ? nl + 1 : end;
		}
		fabric.advance(now);
	}
	for (Conn &c : conns)
		close_conn(fabric, c, now);
	return 0;
}
