// SPDX-License-Identifier: MIT
#include "wire.hpp"

#include <cstdio>
#include <cstring>

namespace lumen::fabric {

std::vector<uint8_t> encode_record(enum lumen_fiber_type type, const void *payload, size_t len)
{
	struct lumen_fiber_hdr hdr = {};
	hdr.magic = lumen_cpu_to_le16(LUMEN_FIBER_MAGIC);
	hdr.version = LUMEN_FIBER_VERSION;
	hdr.type = static_cast<unsigned char>(type);
	hdr.len = lumen_cpu_to_le32(static_cast<uint32_t>(len));
	std::vector<uint8_t> record(kHeaderBytes + len);
	std::memcpy(record.data(), &hdr, kHeaderBytes);
	if (len)
		std::memcpy(record.data() + kHeaderBytes, payload, len);
	return record;
}

std::vector<uint8_t> encode_hello_ack(enum lumen_fiber_status status, bool light, uint32_t fiber_id)
{
	struct lumen_fiber_hello_ack ack = {};
	ack.status = lumen_cpu_to_le32(status);
	ack.light = light ? 1 : 0;
	ack.fiber_id = lumen_cpu_to_le32(fiber_id);
	ack.max_payload = lumen_cpu_to_le32(LUMEN_FIBER_MAX_PAYLOAD);
	return encode_record(LUMEN_FIBER_HELLO_ACK, &ack, sizeof(ack));
}

std::vector<uint8_t> encode_light(bool on, enum lumen_fiber_light_reason reason, uint32_t fiber_id)
{
	struct lumen_fiber_light light = {};
	light.on = on ? 1 : 0;
	light.reason = static_cast<unsigned char>(reason);
	light.fiber_id = lumen_cpu_to_le32(fiber_id);
	return encode_record(LUMEN_FIBER_LIGHT, &light, sizeof(light));
}

ParseResult parse_record(const uint8_t *data, size_t size, RecordView &out, size_t &consumed,
			 std::string &error)
{
	if (size < kHeaderBytes)
		return ParseResult::kNeedMore;
	struct lumen_fiber_hdr hdr;
	std::memcpy(&hdr, data, kHeaderBytes);
	if (lumen_le16_to_cpu(hdr.magic) != LUMEN_FIBER_MAGIC) {
		char magic[16];
		std::snprintf(magic, sizeof(magic), "0x%04x", lumen_le16_to_cpu(hdr.magic));
		error = std::string("bad magic ") + magic;
		return ParseResult::kMalformed;
	}
	if (hdr.version != LUMEN_FIBER_VERSION) {
		error = "unsupported version " + std::to_string(hdr.version);
		return ParseResult::kBadVersion;
	}
	if (hdr.flags || hdr.reserved || hdr.reserved2) {
		error = "non-zero flags or reserved header fields";
		return ParseResult::kMalformed;
	}
	if (hdr.type < LUMEN_FIBER_HELLO || hdr.type > LUMEN_FIBER_DATA) {
		error = "unknown record type " + std::to_string(hdr.type);
		return ParseResult::kMalformed;
	}
	const uint32_t len = lumen_le32_to_cpu(hdr.len);
	if (len > LUMEN_FIBER_MAX_PAYLOAD) {
		error = "payload of " + std::to_string(len) + " bytes exceeds the maximum " +
			std::to_string(LUMEN_FIBER_MAX_PAYLOAD);
		return ParseResult::kMalformed;
	}
	if (size < kHeaderBytes + len)
		return ParseResult::kNeedMore;
	out.type = hdr.type;
	out.payload = data + kHeaderBytes;
	out.len = len;
	consumed = kHeaderBytes + len;
	return ParseResult::kRecord;
}

} // namespace lumen::fabric
