// SPDX-License-Identifier: MIT
// The fiber model in simulated time: rate, latency, bit errors, loss, order and
// back-pressure. Fixed seeds, so every run draws the same numbers.
#include <gtest/gtest.h>

#include <bitset>
#include <cmath>
#include <cstring>

#include "fiber_model.hpp"

using namespace lumen::fabric;

namespace {

constexpr Nanos kMs = 1000000;

struct Delivered {
	std::vector<uint8_t> payload;
	Nanos at;
};

// Runs the lane until it is empty, jumping the clock from event to event.
std::vector<Delivered> drain(Lane &lane, Nanos start)
{
	std::vector<Delivered> out;
	Nanos now = start;
	for (int guard = 0; guard < 1000000 && !lane.empty(); guard++) {
		lane.advance(now, [&](std::vector<uint8_t> &p) {
			out.push_back({p, now});
			return true;
		});
		if (lane.empty())
			break;
		Nanos next = lane.next_event(now);
		EXPECT_NE(next, kNever);
		now = std::max(next, now);
	}
	return out;
}

std::vector<uint8_t> frame(size_t size, uint8_t fill)
{
	return std::vector<uint8_t>(size, fill);
}

} // namespace

TEST(FiberModel, ParamsValidation)
{
	EXPECT_EQ(FiberParams{}.validate(), "");
	EXPECT_EQ((FiberParams{1e-5, 100, 1e9, 0.01}).validate(), "");
	EXPECT_NE((FiberParams{-1, 0, 0, 0}).validate().find("ber"), std::string::npos);
	EXPECT_NE((FiberParams{NAN, 0, 0, 0}).validate().find("ber"), std::string::npos);
	EXPECT_NE((FiberParams{0, 0, 0, 1.5}).validate().find("loss"), std::string::npos);
	EXPECT_NE((FiberParams{0, -3, 0, 0}).validate().find("latency_us"), std::string::npos);
	EXPECT_NE((FiberParams{0, 0, -1, 0}).validate().find("rate"), std::string::npos);
	EXPECT_NE((FiberParams{0, 0, 10, 0}).validate().find("rate"), std::string::npos);
	EXPECT_NE((FiberParams{0, 0, INFINITY, 0}).validate().find("rate"), std::string::npos);
}

TEST(FiberModel, RateHoldsWithinOnePercent)
{
	const double rate = 10e6; // 10 MB/s
	Lane lane(1, 64 << 20);
	lane.configure({0, 0, rate, 0}, 0);
	const size_t frames = 2000, size = 1000; // 2 MB: 200 ms at the rate
	for (size_t i = 0; i < frames; i++)
		lane.push(frame(size, uint8_t(i)), 0);
	auto out = drain(lane, 0);
	ASSERT_EQ(out.size(), frames);
	// After the initial burst (1 ms of traffic), frames leave at the rate.
	const double burst = rate / 1000;
	const double expected_s = (frames * size - burst) / rate;
	const double last_s = double(out.back().at) / 1e9;
	EXPECT_NEAR(last_s, expected_s, expected_s * 0.01);
	// And over any later window of 50 ms too.
	size_t bytes = 0;
	for (const auto &d : out)
		if (d.at > 100 * kMs && d.at <= 150 * kMs)
			bytes += d.payload.size();
	EXPECT_NEAR(double(bytes), rate * 0.050, rate * 0.050 * 0.02);
	EXPECT_EQ(lane.counters.bytes_out, frames * size);
}

// The fabric process may run late on a busy host (woken 20 ms after the frame
// was due): frames that waited meanwhile still get the line's full rate, while
// a line that sat idle earns no more than its 1 ms burst.
TEST(FiberModel, RateHoldsWhenTheProcessRunsLate)
{
	const double rate = 10e6;
	Lane lane(1, 64 << 20);
	lane.configure({0, 0, rate, 0}, 0);
	const size_t frames = 2000, size = 1000; // 2 MB: 200 ms at the rate
	for (size_t i = 0; i < frames; i++)
		lane.push(frame(size, uint8_t(i)), 0);
	size_t got = 0;
	Nanos now = 0;
	for (int wake = 0; wake < 100000 && got < frames; wake++) {
		lane.advance(now, [&](std::vector<uint8_t> &) {
			got++;
			return true;
		});
		now += 20 * kMs; // every wake-up 20 ms apart, whatever was due
	}
	ASSERT_EQ(got, frames);
	// 2 MB at 10 MB/s is 200 ms: done by the wake-up after it, not 20x later.
	EXPECT_LE(now, 260 * kMs);

	// Idle for a second, then a new backlog: only the burst goes at once.
	Lane idle(1, 64 << 20);
	idle.configure({0, 0, rate, 0}, 0);
	for (size_t i = 0; i < 100; i++)
		idle.push(frame(size, uint8_t(i)), 1000 * kMs);
	size_t at_once = 0;
	idle.advance(1000 * kMs, [&](std::vector<uint8_t> &) {
		at_once++;
		return true;
	});
	EXPECT_LE(at_once * size, size_t(rate / 1000) + size);
}

TEST(FiberModel, UnlimitedRateIsImmediate)
{
	Lane lane(1, 1 << 20);
	lane.configure({}, 0);
	for (int i = 0; i < 10; i++)
		lane.push(frame(4096, 1), 5);
	auto out = drain(lane, 5);
	ASSERT_EQ(out.size(), 10u);
	EXPECT_EQ(out.back().at, 5);
}

TEST(FiberModel, LatencyDelaysAndNeverReorders)
{
	Lane lane(1, 1 << 20);
	lane.configure({0, 250, 0, 0}, 0);
	lane.push(frame(10, 1), 0);
	std::vector<Delivered> out;
	auto take = [&](Nanos now) {
		lane.advance(now, [&](std::vector<uint8_t> &p) {
			out.push_back({p, now});
			return true;
		});
	};
	take(0);
	EXPECT_TRUE(out.empty());
	EXPECT_EQ(lane.next_event(0), 250000);
	take(249999);
	EXPECT_TRUE(out.empty());
	take(250000);
	ASSERT_EQ(out.size(), 1u);
	// Lowering the latency while a frame is in flight does not let the next
	// frame overtake it.
	lane.configure({0, 1000, 0, 0}, 300000);
	lane.push(frame(10, 2), 300000);
	take(300000);
	lane.configure({0, 0, 0, 0}, 300001);
	lane.push(frame(10, 3), 300001);
	take(300001);
	EXPECT_EQ(out.size(), 1u);
	take(1300000);
	ASSERT_EQ(out.size(), 3u);
	EXPECT_EQ(out[1].payload[0], 2);
	EXPECT_EQ(out[2].payload[0], 3);
}

TEST(FiberModel, BitErrorsFlipRealBitsAtTheRate)
{
	const double ber = 1e-3;
	const size_t frames = 1000, size = 1000; // 8e6 bits: 8000 flips expected
	Lane lane(42, 64 << 20);
	lane.configure({ber, 0, 0, 0}, 0);
	for (size_t i = 0; i < frames; i++)
		lane.push(frame(size, 0x5a), 0);
	auto out = drain(lane, 0);
	ASSERT_EQ(out.size(), frames);
	uint64_t differing = 0;
	for (const auto &d : out) {
		ASSERT_EQ(d.payload.size(), size); // bits flip, lengths never change
		for (uint8_t byte : d.payload)
			differing += std::bitset<8>(byte ^ 0x5a).count();
	}
	EXPECT_EQ(differing, lane.counters.bits_flipped);
	const double expected = ber * frames * size * 8;
	EXPECT_NEAR(double(differing), expected, 5 * std::sqrt(expected)); // 5 sigma
}

TEST(FiberModel, FlipBitsEdgeCases)
{
	FiberRng rng(7);
	std::vector<uint8_t> p(100, 0);
	EXPECT_EQ(flip_bits(p, 0, rng), 0u);
	EXPECT_EQ(p, std::vector<uint8_t>(100, 0));
	EXPECT_EQ(flip_bits(p, 1, rng), 800u);
	EXPECT_EQ(p, std::vector<uint8_t>(100, 0xff));
	std::vector<uint8_t> empty;
	EXPECT_EQ(flip_bits(empty, 0.5, rng), 0u);
}

TEST(FiberModel, SameSeedSameErrors)
{
	auto run = [](uint64_t seed) {
		Lane lane(seed, 1 << 20);
		lane.configure({1e-2, 0, 0, 0.1}, 0);
		for (int i = 0; i < 50; i++)
			lane.push(frame(100, 0), 0);
		return drain(lane, 0);
	};
	auto a = run(lane_seed(5, 1, 2)), b = run(lane_seed(5, 1, 2)), c = run(lane_seed(6, 1, 2));
	ASSERT_EQ(a.size(), b.size());
	for (size_t i = 0; i < a.size(); i++)
		EXPECT_EQ(a[i].payload, b[i].payload);
	bool differs = a.size() != c.size();
	for (size_t i = 0; !differs && i < a.size(); i++)
		differs = a[i].payload != c[i].payload;
	EXPECT_TRUE(differs);
	EXPECT_NE(lane_seed(5, 1, 2), lane_seed(5, 2, 1)); // the two directions differ
}

TEST(FiberModel, LossDropsWholeFramesAtTheRate)
{
	const double loss = 0.1;
	const size_t frames = 20000;
	Lane lane(3, 64 << 20);
	lane.configure({0, 0, 0, loss}, 0);
	for (size_t i = 0; i < frames; i++) {
		auto f = frame(8, 0);
		std::memcpy(f.data(), &i, sizeof(i));
		lane.push(std::move(f), 0);
	}
	auto out = drain(lane, 0);
	EXPECT_EQ(out.size() + lane.counters.dropped_loss, frames);
	const double expected = loss * frames; // 2000, sigma 42
	EXPECT_NEAR(double(lane.counters.dropped_loss), expected, 5 * std::sqrt(expected));
	// The survivors arrive intact and in order.
	size_t last = 0;
	for (size_t i = 0; i < out.size(); i++) {
		size_t seq;
		std::memcpy(&seq, out[i].payload.data(), sizeof(seq));
		if (i) {
			EXPECT_GT(seq, last);
		}
		last = seq;
	}
	EXPECT_EQ(lane.queued_bytes(), 0u);
}

TEST(FiberModel, BackPressureKeepsFramesInOrder)
{
	Lane lane(1, 3000);
	lane.configure({}, 0);
	EXPECT_TRUE(lane.has_room());
	for (int i = 0; i < 3; i++)
		lane.push(frame(1000, uint8_t(i)), 0);
	EXPECT_FALSE(lane.has_room());
	// A full receiver: frames stay, and there is no timer to wait for.
	int offered = 0;
	lane.advance(0, [&](std::vector<uint8_t> &) {
		offered++;
		return false;
	});
	EXPECT_EQ(offered, 1);
	EXPECT_EQ(lane.next_event(0), kNever);
	EXPECT_FALSE(lane.has_room());
	// The receiver takes one: room again, and order kept.
	std::vector<uint8_t> got;
	lane.advance(1, [&](std::vector<uint8_t> &p) {
		if (!got.empty())
			return false;
		got.push_back(p[0]);
		return true;
	});
	EXPECT_EQ(got, std::vector<uint8_t>{0});
	EXPECT_TRUE(lane.has_room());
	auto rest = drain(lane, 2);
	ASSERT_EQ(rest.size(), 2u);
	EXPECT_EQ(rest[0].payload[0], 1);
	EXPECT_EQ(rest[1].payload[0], 2);
}

TEST(FiberModel, PurgeCountsWhatWasInTheGlass)
{
	Lane lane(1, 1 << 20);
	lane.configure({0, 1000, 1e6, 0}, 0);
	for (int i = 0; i < 5; i++)
		lane.push(frame(1000, 0), 0);
	lane.advance(0, [](std::vector<uint8_t> &) { return true; });
	lane.purge();
	EXPECT_EQ(lane.counters.dropped_dark, 5u);
	EXPECT_TRUE(lane.empty());
	EXPECT_EQ(lane.queued_bytes(), 0u);
	EXPECT_EQ(lane.next_event(0), kNever);
}
