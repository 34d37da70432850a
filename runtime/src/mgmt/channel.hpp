// SPDX-License-Identifier: MIT
// A management channel on one card (DRM_IOCTL_LUMEN_MGMT_SEND/RECV, admin
// only): transactions matched by tid, with timeouts, retries and a window of
// requests in flight, and traps queued apart from answers. The card's
// receive queue is shared by everyone who opens it, so one manager per card.
#pragma once

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include "mgmt/packet.hpp"

namespace lumen::mgmt {

// The channel cannot be used any more (the card was reset or removed:
// ENODEV; no CAP_SYS_ADMIN: EPERM; no link engine: EOPNOTSUPP).
class ChannelError : public std::runtime_error {
      public:
	ChannelError(const std::string &what, int err) : std::runtime_error(what), err_(err) {}
	int err() const noexcept { return err_; }

      private:
	int err_;
};

struct Answer {
	struct lumen_mgmt pkt;
	uint32_t len = 0;

	uint16_t status() const noexcept { return lumen_le16_to_cpu(pkt.status); }
	const uint8_t *data() const noexcept { return pkt.data; }
	uint32_t data_len() const noexcept { return lumen_le32_to_cpu(pkt.data_len); }
};

// One request's outcome: err 0 with the answer (whose status may still be a
// refusal), else ETIME (no answer after every retry), EHOSTUNREACH (first
// port not UP), EBUSY (the port stayed full), EINVAL (the card refused it).
struct Result {
	int err = 0;
	unsigned attempts = 0;
	Answer answer;

	bool ok() const noexcept { return !err && answer.status() == 0; }
	// "timeout after 3 attempts", "status 18 (remote access refused)", "ok".
	std::string what() const;
};

struct ReceivedTrap {
	Trap trap;
	Path return_path;   // the trap's way from its chip to here
	uint64_t at_ns = 0; // CLOCK_MONOTONIC when received
};

struct Options {
	unsigned timeout_ms = 250; // per attempt
	unsigned retries = 2;	   // attempts after the first
	unsigned window = 16;	   // requests in flight
};

struct Stats {
	uint64_t sent = 0, answers = 0, traps = 0, timeouts = 0, busy = 0, stray = 0, malformed = 0;
};

class Channel {
      public:
	// fd: an open accel node of a card with a link engine (not owned).
	explicit Channel(int fd);

	// Sends every request (at most opts.window at a time) and waits for
	// all answers; results in request order. Traps that arrive meanwhile
	// are queued. Throws ChannelError when the card is gone.
	std::vector<Result> transact(const std::vector<Request> &reqs, const Options &opts = {});
	Result call(const Request &req, const Options &opts = {});

	// Receives until deadline_ns (CLOCK_MONOTONIC) or the first trap or a
	// signal; answers to no request in flight are dropped (late answers of
	// timed-out attempts). Returns true when a trap was queued.
	bool wait(uint64_t deadline_ns);

	std::deque<ReceivedTrap> &traps() noexcept { return traps_; }
	const Stats &stats() const noexcept { return stats_; }

	// First call: EPERM without CAP_SYS_ADMIN etc.; throws ChannelError.
	void probe();

      private:
	// 1 with a packet, 0 at the deadline or on a signal; throws for a dead card.
	int recv(struct lumen_mgmt &m, uint32_t &len, uint64_t deadline_ns);
	// 0, or -errno of MGMT_SEND (ENODEV throws).
	int send(const struct lumen_mgmt &m, uint32_t len);
	void queue_trap(const struct lumen_mgmt &m, uint32_t len);

	int fd_;
	uint64_t tid_base_;
	uint64_t next_tid_ = 1;
	std::deque<ReceivedTrap> traps_;
	Stats stats_;
};

uint64_t now_ns();

} // namespace lumen::mgmt
