// SPDX-License-Identifier: MIT
#include "mgmt/packet.hpp"

#include <cstring>

#include <lumen/lumen_link.h>

namespace lumen::mgmt {

Request get(uint8_t attr, const Path &path, uint32_t attr_mod)
{
	Request r;
	r.method = LUMEN_MGMT_GET;
	r.attr = attr;
	r.attr_mod = attr_mod;
	r.path = path;
	return r;
}

Request set(uint8_t attr, const Path &path, std::vector<uint8_t> data, uint64_t mkey,
	    uint32_t attr_mod)
{
	Request r;
	r.method = LUMEN_MGMT_SET;
	r.attr = attr;
	r.attr_mod = attr_mod;
	r.path = path;
	r.data = std::move(data);
	r.mkey = mkey;
	return r;
}

struct lumen_mgmt encode(const Request &r, uint64_t tid, uint32_t *len)
{
	struct lumen_mgmt m;

	if (r.path.size() > LUMEN_MGMT_MAX_HOPS)
		throw PacketError("directed route of " + std::to_string(r.path.size()) +
				  " hops (at most " + std::to_string(LUMEN_MGMT_MAX_HOPS) + ")");
	if (r.data.size() > LUMEN_MGMT_DATA_MAX)
		throw PacketError("management data of " + std::to_string(r.data.size()) +
				  " bytes (at most " + std::to_string(LUMEN_MGMT_DATA_MAX) + ")");
	std::memset(&m, 0, sizeof(m));
	m.version = LUMEN_MGMT_VERSION;
	m.method = r.method;
	m.attr = r.attr;
	m.hop_count = static_cast<unsigned char>(r.path.size());
	m.data_len = lumen_cpu_to_le32(static_cast<uint32_t>(r.data.size()));
	m.tid = lumen_cpu_to_le64(tid);
	m.mkey = lumen_cpu_to_le64(r.mkey);
	m.attr_mod = lumen_cpu_to_le32(r.attr_mod);
	if (!r.path.empty())
		std::memcpy(m.path, r.path.data(), r.path.size());
	if (!r.data.empty())
		std::memcpy(m.data, r.data.data(), r.data.size());
	*len = LUMEN_MGMT_HDR_SIZE + static_cast<uint32_t>(r.data.size());
	return m;
}

std::string check_received(const struct lumen_mgmt &m, uint32_t len)
{
	if (len < LUMEN_MGMT_HDR_SIZE || len > sizeof(m))
		return "length " + std::to_string(len);
	if (m.version != LUMEN_MGMT_VERSION)
		return "version " + std::to_string(m.version);
	if (LUMEN_MGMT_HDR_SIZE + lumen_le32_to_cpu(m.data_len) != len)
		return "data_len disagrees with the length";
	if (m.hop_count > LUMEN_MGMT_MAX_HOPS)
		return "hop_count " + std::to_string(m.hop_count);
	if (m.method != LUMEN_MGMT_RESP && m.method != LUMEN_MGMT_TRAP)
		return "method " + std::to_string(m.method) + " is neither RESP nor TRAP";
	return {};
}

Path reverse_path(const uint8_t *return_path, unsigned hops)
{
	Path p;

	if (hops > LUMEN_MGMT_MAX_HOPS)
		throw PacketError("return path of " + std::to_string(hops) + " hops");
	for (unsigned i = hops; i > 0; i--)
		p.push_back(return_path[i - 1]);
	return p;
}

Path reverse_path(const struct lumen_mgmt &answer)
{
	return reverse_path(answer.return_path, answer.hop_count);
}

std::string path_str(const Path &p)
{
	static const char *const names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};
	std::string s = "[";

	for (size_t i = 0; i < p.size(); i++) {
		if (i)
			s += ' ';
		s += p[i] < 6 ? names[p[i]] : std::to_string(p[i]);
	}
	return s + "]";
}

ChipInfo decode_info(const uint8_t *data, uint32_t len)
{
	struct lumen_mgmt_info raw;
	ChipInfo info;

	if (len < sizeof(raw))
		throw PacketError("INFO of " + std::to_string(len) + " bytes (want " +
				  std::to_string(sizeof(raw)) + ")");
	std::memcpy(&raw, data, sizeof(raw));
	if (raw.num_ports > 8)
		throw PacketError("INFO with " + std::to_string(raw.num_ports) + " ports");
	info.chip_id = lumen_le32_to_cpu(raw.chip_id);
	info.num_ports = raw.num_ports;
	info.mkey_set = raw.mkey_set != 0;
	info.route_table_size = lumen_le32_to_cpu(raw.route_table_size);
	info.hw_version = lumen_le32_to_cpu(raw.hw_version);
	info.serial.assign(raw.serial, strnlen(raw.serial, sizeof(raw.serial)));
	for (unsigned p = 0; p < raw.num_ports; p++) {
		PortInfo pi;
		pi.port = static_cast<uint8_t>(p);
		pi.state = raw.ports[p].state;
		pi.ctrl = raw.ports[p].ctrl;
		pi.peer_chip = lumen_le32_to_cpu(raw.ports[p].peer_chip);
		pi.peer_port = lumen_le32_to_cpu(raw.ports[p].peer_port);
		info.ports.push_back(pi);
	}
	return info;
}

Trap decode_trap(const uint8_t *data, uint32_t len)
{
	struct lumen_mgmt_trap raw;
	Trap t;

	if (len < sizeof(raw))
		throw PacketError("TRAP of " + std::to_string(len) + " bytes");
	std::memcpy(&raw, data, sizeof(raw));
	t.chip_id = lumen_le32_to_cpu(raw.chip_id);
	t.port = raw.port;
	t.state = raw.state;
	t.peer_chip = lumen_le32_to_cpu(raw.peer_chip);
	t.peer_port = lumen_le32_to_cpu(raw.peer_port);
	t.sequence = lumen_le32_to_cpu(raw.sequence);
	return t;
}

std::vector<uint8_t> encode_manager(const ManagerRecord &r)
{
	struct lumen_mgmt_manager raw;
	std::vector<uint8_t> out(sizeof(raw));

	std::memset(&raw, 0, sizeof(raw));
	raw.guid = lumen_cpu_to_le64(r.guid);
	raw.chip_id = lumen_cpu_to_le32(r.chip_id);
	raw.state = r.state;
	raw.priority = r.priority;
	raw.activity = lumen_cpu_to_le32(r.activity);
	raw.sweep = lumen_cpu_to_le32(r.sweep);
	std::memcpy(out.data(), &raw, sizeof(raw));
	return out;
}

ManagerRecord decode_manager(const uint8_t *data, uint32_t len)
{
	struct lumen_mgmt_manager raw;
	ManagerRecord r;

	if (len < sizeof(raw))
		throw PacketError("MANAGER of " + std::to_string(len) + " bytes");
	std::memcpy(&raw, data, sizeof(raw));
	r.guid = lumen_le64_to_cpu(raw.guid);
	r.chip_id = lumen_le32_to_cpu(raw.chip_id);
	r.state = raw.state;
	r.priority = raw.priority;
	r.activity = lumen_le32_to_cpu(raw.activity);
	r.sweep = lumen_le32_to_cpu(raw.sweep);
	return r;
}

std::vector<uint8_t> encode_trap_path(const Path &to_manager)
{
	struct lumen_mgmt_trap_path raw;
	std::vector<uint8_t> out(sizeof(raw));

	if (to_manager.size() > LUMEN_MGMT_MAX_HOPS)
		throw PacketError("trap path of " + std::to_string(to_manager.size()) + " hops");
	std::memset(&raw, 0, sizeof(raw));
	raw.hop_count = static_cast<unsigned char>(to_manager.size());
	if (!to_manager.empty())
		std::memcpy(raw.path, to_manager.data(), to_manager.size());
	std::memcpy(out.data(), &raw, sizeof(raw));
	return out;
}

std::vector<uint8_t> encode_le32s(const uint32_t *words, size_t n)
{
	std::vector<uint8_t> out(4 * n);

	for (size_t i = 0; i < n; i++) {
		uint32_t v = lumen_cpu_to_le32(words[i]);
		std::memcpy(out.data() + 4 * i, &v, 4);
	}
	return out;
}

} // namespace lumen::mgmt
