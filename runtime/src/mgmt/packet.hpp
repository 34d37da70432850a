// SPDX-License-Identifier: MIT
// Management packets (docs/hw-spec.md 13.6) as values: requests built from a
// method, attribute and directed route, and the attribute contents decoded
// from answers and traps. No device here: channel.hpp sends them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <lumen/lumen_link.h>
#include <lumen/lumen_mgmt.h>

namespace lumen::mgmt {

// A directed route: the output port at each hop, at most
// LUMEN_MGMT_MAX_HOPS; empty = the sending chip itself.
using Path = std::vector<uint8_t>;

// A request the caller cannot send as given (path too long, data too big);
// the message names the problem.
class PacketError : public std::invalid_argument {
      public:
	using std::invalid_argument::invalid_argument;
};

struct Request {
	uint8_t method = LUMEN_MGMT_GET;
	uint8_t attr = LUMEN_MGMT_ATTR_INFO;
	uint32_t attr_mod = 0;
	Path path;
	std::vector<uint8_t> data;
	uint64_t mkey = 0;
};

Request get(uint8_t attr, const Path &path, uint32_t attr_mod = 0);
Request set(uint8_t attr, const Path &path, std::vector<uint8_t> data, uint64_t mkey,
	    uint32_t attr_mod = 0);

// The packet for MGMT_SEND, its length in *len. Throws PacketError.
struct lumen_mgmt encode(const Request &r, uint64_t tid, uint32_t *len);

// Checks an answer or trap the driver returned (len bytes): version, lengths,
// hop fields. Empty when sound, else what is wrong.
std::string check_received(const struct lumen_mgmt &m, uint32_t len);

// The directed route from a packet's target back to its sender: the chips
// recorded in return_path the port each hop arrived on, so the way back is
// that list reversed (what a chip's TRAP_PATH to the manager must be).
Path reverse_path(const uint8_t *return_path, unsigned hops);
Path reverse_path(const struct lumen_mgmt &answer);

// "[+x -y]" style, for logs.
std::string path_str(const Path &p);

// ---- attribute contents -------------------------------------------------

struct PortInfo {
	uint8_t port = 0;
	uint8_t state = LUMEN_LINK_DOWN; // enum lumen_link_state
	uint8_t ctrl = 0;
	uint32_t peer_chip = UINT32_MAX; // ~0 unless UP
	uint32_t peer_port = UINT32_MAX;
};

struct ChipInfo {
	uint32_t chip_id = 0;
	uint8_t num_ports = 0;
	bool mkey_set = false;
	uint32_t route_table_size = 0;
	uint32_t hw_version = 0;
	std::string serial;
	std::vector<PortInfo> ports;
};

// Throws PacketError when data is too short or num_ports is above 8.
ChipInfo decode_info(const uint8_t *data, uint32_t len);

struct Trap {
	uint32_t chip_id = 0;
	uint8_t port = 0;
	uint8_t state = 0;
	uint32_t peer_chip = UINT32_MAX;
	uint32_t peer_port = UINT32_MAX;
	uint32_t sequence = 0;
};

Trap decode_trap(const uint8_t *data, uint32_t len);

struct ManagerRecord {
	uint64_t guid = 0;
	uint32_t chip_id = 0;
	uint8_t state = LUMEN_MGMT_MANAGER_NONE;
	uint8_t priority = 0;
	uint32_t activity = 0;
	uint32_t sweep = 0;

	bool operator==(const ManagerRecord &o) const
	{
		return guid == o.guid && chip_id == o.chip_id && state == o.state &&
		       priority == o.priority && activity == o.activity && sweep == o.sweep;
	}
};

std::vector<uint8_t> encode_manager(const ManagerRecord &r);
ManagerRecord decode_manager(const uint8_t *data, uint32_t len);

std::vector<uint8_t> encode_trap_path(const Path &to_manager);
std::vector<uint8_t> encode_le32s(const uint32_t *words, size_t n);

} // namespace lumen::mgmt
