// SPDX-License-Identifier: MIT
// What lumen-fm publishes for npu-smi and liblumen: the events (bounded in
// memory, appended to DIR/events.jsonl) and DIR/state.json, each file
// replaced atomically (write, fsync, rename).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include <nlohmann/json.hpp>

namespace lumen_fm {

// Writes path via path.tmp + rename; false (errno set) on failure.
bool write_atomic(const std::string &path, const std::string &text);

class EventLog {
      public:
	static constexpr size_t kKeep = 1024;	     // in memory
	static constexpr size_t kFileMax = 4u << 20; // events.jsonl rotated to .1 beyond

	void set_file(const std::string &path) { path_ = path; }
	// Adds {"seq","ms","type",...extra}; returns its seq.
	uint64_t add(const std::string &type, nlohmann::json extra = nlohmann::json::object());
	nlohmann::json since(uint64_t seq) const;
	uint64_t last_seq() const noexcept { return seq_; }

      private:
	std::deque<nlohmann::json> events_;
	uint64_t seq_ = 0;
	std::string path_;
	double t0_ = -1;
};

} // namespace lumen_fm
