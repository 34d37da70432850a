// SPDX-License-Identifier: MIT
// Records of the fiber protocol (lumen_fiber.h): encoding and checked decoding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <lumen/lumen_fiber.h>

namespace lumen::fabric {

constexpr size_t kHeaderBytes = sizeof(struct lumen_fiber_hdr);

// A whole record (header + payload) ready to write to a socket.
std::vector<uint8_t> encode_record(enum lumen_fiber_type type, const void *payload, size_t len);

std::vector<uint8_t> encode_hello_ack(enum lumen_fiber_status status, bool light,
				      uint32_t fiber_id);
std::vector<uint8_t> encode_light(bool on, enum lumen_fiber_light_reason reason, uint32_t fiber_id);

struct RecordView {
	uint8_t type = 0;
	const uint8_t *payload = nullptr;
	size_t len = 0;
};

enum class ParseResult {
	kRecord,     // out holds a record; consumed bytes of input were used
	kNeedMore,   // no complete record yet
	kBadVersion, // a version this fabric does not speak (answer HELLO_ACK, then close)
	kMalformed,  // error says why; the stream cannot be resynchronised
};

// Looks for one record at the start of data[0, size). Checks magic, version,
// zero flags/reserved, a known type and the payload limit before the payload
// has arrived, so a bad length is caught without buffering it.
ParseResult parse_record(const uint8_t *data, size_t size, RecordView &out, size_t &consumed,
			 std::string &error);

} // namespace lumen::fabric
