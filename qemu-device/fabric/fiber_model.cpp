// SPDX-License-Identifier: MIT
#include "fiber_model.hpp"

#include <algorithm>
#include <cmath>

#include <lumen/lumen_fiber.h>

namespace lumen::fabric {

std::string FiberParams::validate() const
{
	// Written as !(x >= lo) so NaN is rejected too.
	if (!(ber >= 0 && ber <= 1))
		return "ber must be between 0 and 1";
	if (!(loss >= 0 && loss <= 1))
		return "loss must be between 0 and 1";
	if (!(latency_us >= 0 && latency_us <= 10e6))
		return "latency_us must be between 0 and 10000000 (10 s)";
	if (!(rate >= 0 && rate <= 1e12))
		return "rate must be between 0 (unlimited) and 1e12 bytes/s";
	if (rate > 0 && rate < 1000)
		return "rate must be 0 (unlimited) or at least 1000 bytes/s";
	return {};
}

void TokenBucket::configure(double bytes_per_second, Nanos now)
{
	rate_ = bytes_per_second;
	// One millisecond of traffic, at least one maximal frame: small enough that
	// the rate holds over a few ms, large enough not to stall on one frame.
	burst_ = std::max(rate_ / 1000.0, double(LUMEN_FIBER_MAX_PAYLOAD));
	tokens_ = burst_;
	last_ = now;
}

void TokenBucket::refill(Nanos now, bool backlogged)
{
	if (now > last_) {
		// An idle line keeps at most a burst; a backlogged one earns the time
		// this process was not running too (up to a second), so the long-run
		// rate holds on a busy host instead of losing every late wake-up.
		const double cap = backlogged ? std::max(burst_, rate_) : burst_;
		tokens_ = std::min(cap, tokens_ + double(now - last_) * rate_ / 1e9);
		last_ = now;
	}
}

void TokenBucket::idle_until(Nanos now)
{
	if (!unlimited())
		refill(now, false);
}

Nanos TokenBucket::ready_at(Nanos now)
{
	if (unlimited())
		return now;
	refill(now, true);
	if (tokens_ >= 0)
		return now;
	return now + static_cast<Nanos>(std::ceil(-tokens_ * 1e9 / rate_));
}

void TokenBucket::consume(size_t bytes, Nanos now)
{
	if (unlimited())
		return;
	refill(now, true);
	tokens_ -= double(bytes);
}

namespace {

uint64_t splitmix64(uint64_t &x)
{
	uint64_t z = (x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

} // namespace

FiberRng::FiberRng(uint64_t seed)
{
	// The authors' recommended seeding: never all zero.
	for (uint64_t &word : state_)
		word = splitmix64(seed);
}

FiberRng::result_type FiberRng::operator()()
{
	const uint64_t result = rotl(state_[1] * 5, 7) * 9;
	const uint64_t t = state_[1] << 17;
	state_[2] ^= state_[0];
	state_[3] ^= state_[1];
	state_[1] ^= state_[2];
	state_[0] ^= state_[3];
	state_[2] ^= t;
	state_[3] = rotl(state_[3], 45);
	return result;
}

uint64_t flip_bits(std::vector<uint8_t> &payload, double ber, FiberRng &rng)
{
	if (ber <= 0 || payload.empty())
		return 0;
	const uint64_t bits = uint64_t(payload.size()) * 8;
	if (ber >= 1) {
		for (auto &byte : payload)
			byte = uint8_t(~byte);
		return bits;
	}
	std::geometric_distribution<uint64_t> gap(ber);
	uint64_t flipped = 0;
	for (uint64_t bit = gap(rng); bit < bits; bit += 1 + gap(rng)) {
		payload[bit / 8] ^= uint8_t(1u << (bit % 8));
		flipped++;
	}
	return flipped;
}

uint64_t lane_seed(uint64_t run_seed, uint64_t from_key, uint64_t to_key)
{
	// splitmix64 finaliser over the mixed inputs.
	uint64_t z =
		run_seed ^ (from_key * 0x9e3779b97f4a7c15ull) ^ (to_key * 0xc2b2ae3d27d4eb4full);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void Lane::configure(const FiberParams &params, Nanos now)
{
	params_ = params;
	bucket_.configure(params.rate, now);
}

void Lane::push(std::vector<uint8_t> payload, Nanos now)
{
	// The line was idle until this frame: it earned no more than a burst.
	if (pacing_.empty())
		bucket_.idle_until(now);
	counters.frames_in++;
	counters.bytes_in += payload.size();
	queued_bytes_ += payload.size();
	pacing_.push_back(std::move(payload));
}

void Lane::advance(Nanos now, const std::function<bool(std::vector<uint8_t> &)> &deliver)
{
	const Nanos latency = static_cast<Nanos>(params_.latency_us * 1000.0);
	std::bernoulli_distribution lost(params_.loss);
	while (!pacing_.empty() && bucket_.ready_at(now) <= now) {
		std::vector<uint8_t> payload = std::move(pacing_.front());
		pacing_.pop_front();
		bucket_.consume(payload.size(), now);
		if (params_.loss > 0 && lost(rng_)) {
			counters.dropped_loss++;
			queued_bytes_ -= payload.size();
			continue;
		}
		counters.bits_flipped += flip_bits(payload, params_.ber, rng_);
		// Never earlier than the frame before: a fiber does not reorder, even
		// when its latency is lowered while frames are in flight.
		last_due_ = std::max(now + latency, last_due_);
		in_flight_.push_back({std::move(payload), last_due_});
	}
	blocked_ = false;
	while (!in_flight_.empty() && in_flight_.front().due <= now) {
		std::vector<uint8_t> &payload = in_flight_.front().payload;
		const size_t size = payload.size();
		if (!deliver(payload)) {
			blocked_ = true;
			break;
		}
		counters.frames_out++;
		counters.bytes_out += size;
		queued_bytes_ -= size;
		in_flight_.pop_front();
	}
}

Nanos Lane::next_event(Nanos now)
{
	Nanos next = kNever;
	if (!pacing_.empty())
		next = bucket_.ready_at(now);
	if (!in_flight_.empty() && !blocked_)
		next = std::min(next, in_flight_.front().due);
	return next;
}

void Lane::purge()
{
	counters.dropped_dark += pacing_.size() + in_flight_.size();
	pacing_.clear();
	in_flight_.clear();
	queued_bytes_ = 0;
	blocked_ = false;
}

} // namespace lumen::fabric
