// SPDX-License-Identifier: MIT
// The per-fiber model: rate (token bucket), latency (delay line), bit errors and
// frame loss. Pure logic on a caller-supplied clock, so tests run it in
// simulated time.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace lumen::fabric {

using Nanos = int64_t; // CLOCK_MONOTONIC nanoseconds
constexpr Nanos kNever = std::numeric_limits<Nanos>::max();

struct FiberParams {
	double ber = 0;	       // probability that one payload bit is flipped
	double latency_us = 0; // one-way delay
	double rate = 0;       // DATA payload bytes per second, 0 = unlimited
	double loss = 0;       // probability that a whole frame is lost

	// Empty when valid, else what is wrong (names the field).
	std::string validate() const;
};

// Rate limiter over payload bytes. The bucket may go into deficit by one frame so
// frames larger than the burst still pass; the long-run rate is exact, also
// when this process runs late: while frames wait, the time they waited counts.
class TokenBucket {
      public:
	void configure(double bytes_per_second, Nanos now);
	bool unlimited() const { return rate_ <= 0; }
	// Earliest time the next frame may leave (now if it may leave now).
	Nanos ready_at(Nanos now);
	void consume(size_t bytes, Nanos now);
	// The line carried nothing until now (call before queueing onto an empty line).
	void idle_until(Nanos now);

      private:
	void refill(Nanos now, bool backlogged);

	double rate_ = 0;
	double burst_ = 0;
	double tokens_ = 0;
	Nanos last_ = 0;
};

// xoshiro256** (Blackman, Vigna): a 32-byte random generator, so a fiber
// direction can own one (mt19937_64 is 2.5 KB; 8192 chips have 49152 lanes).
class FiberRng {
      public:
	using result_type = uint64_t;
	explicit FiberRng(uint64_t seed);
	static constexpr result_type min() { return 0; }
	static constexpr result_type max() { return std::numeric_limits<uint64_t>::max(); }
	result_type operator()();

      private:
	uint64_t state_[4];
};

// Flips each bit of payload independently with probability ber; returns how many.
// Draws the gaps between flips (geometric), so cost follows flips, not bits.
uint64_t flip_bits(std::vector<uint8_t> &payload, double ber, FiberRng &rng);

// Seed of one direction of one fiber: depends on the run's seed and the two
// ports only, so a lane's random draws do not depend on what other lanes do.
uint64_t lane_seed(uint64_t run_seed, uint64_t from_key, uint64_t to_key);

struct LaneCounters {
	uint64_t frames_in = 0; // accepted from the sending port
	uint64_t bytes_in = 0;
	uint64_t frames_out = 0; // delivered to the receiving port
	uint64_t bytes_out = 0;
	uint64_t bits_flipped = 0;
	uint64_t dropped_loss = 0; // frames lost to the loss probability
	uint64_t dropped_dark = 0; // frames lost because the fiber was dark
};

// A FIFO that allocates nothing while empty (std::deque allocates on
// construction, and most of 49152 lanes are idle at any time).
template <typename T> class Fifo {
      public:
	bool empty() const { return head_ == items_.size(); }
	size_t size() const { return items_.size() - head_; }
	T &front() { return items_[head_]; }
	const T &front() const { return items_[head_]; }
	void push_back(T item) { items_.push_back(std::move(item)); }
	void pop_front()
	{
		items_[head_++] = T();
		if (head_ == items_.size()) {
			items_.clear(); // keeps the capacity of a busy lane
			head_ = 0;
		} else if (head_ >= 64 && head_ * 2 >= items_.size()) {
			items_.erase(items_.begin(), items_.begin() + long(head_));
			head_ = 0;
		}
	}
	// Empties and gives the memory back.
	void clear()
	{
		items_ = std::vector<T>();
		head_ = 0;
	}

      private:
	std::vector<T> items_;
	size_t head_ = 0;
};

// One direction of a fiber: frames wait for tokens, then travel the delay line,
// then are handed to the receiver when it has room (back-pressure keeps them
// here, in order). Bounded: the sender must stop when has_room() is false.
class Lane {
      public:
	Lane(uint64_t seed, size_t capacity_bytes) : rng_(seed), capacity_(capacity_bytes) {}

	void configure(const FiberParams &params, Nanos now);
	bool has_room() const { return queued_bytes_ < capacity_; }
	bool empty() const { return pacing_.empty() && in_flight_.empty(); }
	size_t queued_bytes() const { return queued_bytes_; }

	void push(std::vector<uint8_t> payload, Nanos now);
	// Moves frames along; deliver() takes a frame or returns false when the
	// receiver is full (the frame stays first in line).
	void advance(Nanos now, const std::function<bool(std::vector<uint8_t> &)> &deliver);
	// When advance() next has something to do on its own (kNever if only the
	// receiver draining can unblock it, or nothing is queued).
	Nanos next_event(Nanos now);
	// The fiber went dark: everything in the glass is lost.
	void purge();

	LaneCounters counters;

      private:
	struct InFlight {
		std::vector<uint8_t> payload;
		Nanos due;
	};

	FiberRng rng_;
	size_t capacity_;
	FiberParams params_;
	TokenBucket bucket_;
	Fifo<std::vector<uint8_t>> pacing_;
	Fifo<InFlight> in_flight_;
	size_t queued_bytes_ = 0;
	Nanos last_due_ = 0;
	bool blocked_ = false; // the first due frame was refused by the receiver
};

} // namespace lumen::fabric
