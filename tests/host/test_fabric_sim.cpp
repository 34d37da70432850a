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
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

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

// The simulator, run as a user runs it.
struct SimRun {
	int status = -1; // exit status, -1 if it did not exit
	json out;	 // stdout as JSON, when --json and it parsed
	std::string text, err;
};

std::string slurp(FILE *f)
{
	std::string s;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		s.append(buf, n);
	return s;
}

class TempFile {
      public:
	explicit TempFile(const std::string &text = "")
	{
		char name[] = "/tmp/test_fabric_sim.XXXXXX";
		int fd = mkstemp(name);
		EXPECT_GE(fd, 0);
		path_ = name;
		if (fd >= 0) {
			EXPECT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
			close(fd);
		}
	}
	~TempFile() { unlink(path_.c_str()); }
	TempFile(const TempFile &) = delete;
	TempFile &operator=(const TempFile &) = delete;
	const std::string &path() const { return path_; }

      private:
	std::string path_;
};

SimRun run_sim(const std::string &args)
{
	TempFile err;
	SimRun r;
	const std::string cmd = std::string(LUMEN_FABRIC_SIM) + " " + args + " 2>" + err.path();
	FILE *p = popen(cmd.c_str(), "r");
	if (!p) {
		ADD_FAILURE() << "popen " << cmd;
		return r;
	}
	r.text = slurp(p);
	int st = pclose(p);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (FILE *e = fopen(err.path().c_str(), "r")) {
		r.err = slurp(e);
		fclose(e);
	}
	r.out = json::parse(r.text, nullptr, false);
	return r;
}

// The fields of one layout every reader of the JSON relies on.
void expect_layout_fields(const json &l)
{
	for (const char *k : {"layout", "spec", "chips", "fibers", "diameter", "id_limit",
			      "table_bytes_per_chip", "engine", "first_routes_ms", "full_routes_ms",
			      "quality", "verifier", "verified", "collectives", "figures"})
		EXPECT_TRUE(l.contains(k)) << "no '" << k << "' in " << l.dump();
	for (const char *k : {"mean_hops", "max_hops", "mean_shortest", "diameter", "max_load",
			      "mean_load", "ideal_load", "lanes_used"})
		EXPECT_TRUE(l["quality"].contains(k)) << "no quality." << k;
	for (const char *k : {"ok", "ms", "pairs", "arrived", "cdg_acyclic", "problem_count"})
		EXPECT_TRUE(l["verifier"].contains(k)) << "no verifier." << k;
	EXPECT_EQ(l["table_bytes_per_chip"]["held"], 8192 * 4);
	EXPECT_EQ(l["table_bytes_per_chip"]["used"], l["id_limit"].get<int>() * 4);
	for (const json &f : l["figures"]) {
		EXPECT_TRUE(f.contains("key") && f.contains("value") && f.contains("unit") &&
			    f.contains("target") && f.contains("pass"))
			<< f.dump();
		if (!f["target"].is_null()) {
			EXPECT_TRUE(f["pass"].is_boolean()) << f.dump();
		}
	}
}

const json *figure(const json &layout, const std::string &key)
{
	for (const json &f : layout["figures"])
		if (f["key"] == key)
			return &f;
	return nullptr;
}

void expect_verified(const json &l)
{
	EXPECT_EQ(l["verifier"]["ok"], true) << l["verifier"].dump();
	EXPECT_EQ(l["verifier"]["cdg_acyclic"], true);
	EXPECT_EQ(l["verifier"]["arrived"], l["verifier"]["pairs"]);
	const uint64_t chips = l["chips"];
	EXPECT_EQ(l["verifier"]["pairs"].get<uint64_t>(), chips * (chips - 1));
	EXPECT_EQ(l["verified"], true);
}

TEST(FabricSim, Ring8)
{
	SimRun r = run_sim("ring:8 --json");
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_FALSE(r.out.is_discarded()) << r.text;
	for (const char *k : {"schema_version", "load_average", "model", "sizes", "layouts"})
		EXPECT_TRUE(r.out.contains(k)) << k;
	EXPECT_EQ(r.out["model"]["port_bandwidth_bytes_per_s"], 50e9);
	ASSERT_EQ(r.out["layouts"].size(), 1u);
	const json &l = r.out["layouts"][0];
	expect_layout_fields(l);
	expect_verified(l);
	EXPECT_EQ(l["chips"], 8);
	EXPECT_EQ(l["fibers"], 8);
	EXPECT_EQ(l["diameter"], 4);
	EXPECT_EQ(l["quality"]["max_hops"], 4);
	// DOR on a ring is minimal: the mean of 1,2,3,4,3,2,1 hops = 16/7.
	EXPECT_NEAR(l["quality"]["mean_hops"].get<double>(), 16.0 / 7, 1e-9);
	EXPECT_NEAR(l["quality"]["mean_shortest"].get<double>(), 16.0 / 7, 1e-9);
	EXPECT_EQ(l["quality"]["lanes_used"], 2); // the dateline
	ASSERT_NE(figure(l, "mean_hops_over_shortest"), nullptr);
	EXPECT_EQ((*figure(l, "mean_hops_over_shortest"))["pass"], true);
	ASSERT_NE(figure(l, "full_routes_ms"), nullptr);
	EXPECT_EQ((*figure(l, "full_routes_ms"))["target"]["limit"], 100);
	// Ring and torus (the bidirectional ring) estimates at 1 MiB, 64 MiB, 1 GiB.
	EXPECT_EQ(l["collectives"].size(), 2u * 2 * 3);
	for (const json &c : l["collectives"])
		EXPECT_GT(c["seconds"].get<double>(), 0) << c.dump();
}

TEST(FabricSim, Torus2x4HasSixteenFibers)
{
	SimRun r = run_sim("torus:2x4 --json");
	ASSERT_EQ(r.status, 0) << r.err;
	const json &l = r.out["layouts"][0];
	expect_layout_fields(l);
	expect_verified(l);
	EXPECT_EQ(l["chips"], 8);
	EXPECT_EQ(l["fibers"], 16);
	EXPECT_EQ(l["diameter"], 3);
}

TEST(FabricSim, Torus4x4x4WithThreeFailures)
{
	SimRun r = run_sim("torus:4x4x4 --fail 3 --seed 5 --json");
	ASSERT_EQ(r.status, 0) << r.err << r.text;
	const json &l = r.out["layouts"][0];
	expect_layout_fields(l);
	expect_verified(l);
	EXPECT_EQ(l["fibers"], 192);
	EXPECT_EQ(l["diameter"], 6);
	ASSERT_TRUE(l.contains("failures"));
	const json &f = l["failures"];
	EXPECT_EQ(f["count"], 3);
	EXPECT_EQ(f["seed"], 5);
	ASSERT_EQ(f["steps"].size(), 3u);
	std::set<std::string> fibers;
	for (const json &s : f["steps"]) {
		for (const char *k :
		     {"fiber", "engine", "ms", "entries_changed", "dests_recomputed", "diff_bytes"})
			EXPECT_TRUE(s.contains(k)) << k;
		fibers.insert(s["fiber"]);
		// Every fiber of a torus carries some route: its loss changes
		// entries, and the changes are uploaded.
		EXPECT_GT(s["entries_changed"].get<uint64_t>(), 0u) << s.dump();
		EXPECT_GT(s["diff_bytes"].get<uint64_t>(), 0u) << s.dump();
	}
	EXPECT_EQ(fibers.size(), 3u);
	EXPECT_EQ(f["verifier"]["ok"], true) << f["verifier"].dump();
	EXPECT_EQ(f["verifier"]["arrived"], f["verifier"]["pairs"]);
	EXPECT_EQ(f["quality"]["disconnected"], 0);
	ASSERT_NE(figure(l, "reroute_first_ms"), nullptr);
	EXPECT_EQ((*figure(l, "reroute_first_ms"))["target"]["limit"], 5);

	// The seed reproduces the failures; another seed picks others.
	SimRun again = run_sim("torus:4x4x4 --fail 3 --seed 5 --json");
	ASSERT_EQ(again.status, 0);
	SimRun other = run_sim("torus:4x4x4 --fail 3 --seed 6 --json");
	ASSERT_EQ(other.status, 0);
	std::vector<std::string> a, b, c;
	for (const json &s : f["steps"])
		a.push_back(s["fiber"]);
	for (const json &s : again.out["layouts"][0]["failures"]["steps"])
		b.push_back(s["fiber"]);
	for (const json &s : other.out["layouts"][0]["failures"]["steps"])
		c.push_back(s["fiber"]);
	EXPECT_EQ(a, b);
	EXPECT_NE(a, c);
}

TEST(FabricSim, AgnosticEngineWithFailedFibers)
{
	// 2% of 192 fibers: 4 down, the agnostic engine from scratch.
	SimRun r = run_sim("torus:4x4x4 --fail-pct 2 --json");
	ASSERT_EQ(r.status, 0) << r.err;
	const json &l = r.out["layouts"][0];
	ASSERT_TRUE(l.contains("agnostic"));
	const json &a = l["agnostic"];
	EXPECT_EQ(a["failed"], 4);
	EXPECT_EQ(a["verifier"]["ok"], true) << a["verifier"].dump();
	EXPECT_EQ(a["verifier"]["arrived"], a["verifier"]["pairs"]);
	EXPECT_GE(a["lanes_used"].get<int>(), 1);
	EXPECT_LE(a["lanes_used"].get<int>(), 2);
	EXPECT_EQ(a["minimal_dests"].get<int>() + a["longer_dests"].get<int>() +
			  a["fallback_dests"].get<int>(),
		  64);
	ASSERT_NE(figure(l, "agnostic_ms"), nullptr);
	// The bar is for 1% failed: 2% prints without one.
	EXPECT_TRUE((*figure(l, "agnostic_ms"))["target"].is_null());
}

TEST(FabricSim, Ocs128Repatch)
{
	SimRun r = run_sim("ocs:128 --json");
	ASSERT_EQ(r.status, 0) << r.err;
	const json &l = r.out["layouts"][0];
	expect_layout_fields(l);
	expect_verified(l);
	EXPECT_EQ(l["spec"], "torus:4x4x8");
	EXPECT_EQ(l["chips"], 128);
	ASSERT_TRUE(l.contains("repatch"));
	const json &p = l["repatch"];
	EXPECT_EQ(p["from"], "torus:4x4x8");
	EXPECT_EQ(p["to"], "torus:8x16");
	EXPECT_EQ(p["fibers"], 256);
	EXPECT_EQ(p["verifier"]["ok"], true) << p["verifier"].dump();
	EXPECT_EQ(p["verifier"]["pairs"], 128 * 127);
	EXPECT_EQ(p["quality"]["diameter"], 12);
	EXPECT_GT(p["entries_changed"].get<uint64_t>(), 0u);
	EXPECT_GT(p["diff_bytes"].get<uint64_t>(), 0u);
	EXPECT_FALSE(p["collectives"].empty());
}

TEST(FabricSim, HumanOutputPrintsFiguresNextToTargets)
{
	SimRun r = run_sim("ring:8 --fail 1");
	ASSERT_EQ(r.status, 0) << r.err;
	for (const char *s : {"load average", "collective model", "== ring:8: 8 chips, 8 fibers",
			      "verifier: ok", "full routes", "< 100 ms", "<= 1.01 x",
			      "reroute after one failure", "all_reduce", "torus"})
		EXPECT_NE(r.text.find(s), std::string::npos) << "no '" << s << "' in\n" << r.text;
}

TEST(FabricSim, DisconnectedFabricFailsVerification)
{
	// Two pairs of chips with no fiber between the pairs: no route from 0
	// to 2 can exist, and the verifier must say so.
	TempFile edges("0.+x 1.-x\n2.+x 3.-x\n");
	SimRun r = run_sim("edges:" + edges.path());
	EXPECT_EQ(r.status, 3) << r.text << r.err;
	EXPECT_NE(r.err.find("verifier"), std::string::npos) << r.err;
}

void expect_usage_error(const std::string &args, const std::string &says)
{
	SimRun r = run_sim(args);
	EXPECT_EQ(r.status, 2) << args << ": " << r.text << r.err;
	EXPECT_NE(r.err.find(says), std::string::npos)
		<< args << ": message '" << r.err << "' does not say '" << says << "'";
}

TEST(FabricSim, BadArgumentsExitTwoWithAMessage)
{
	expect_usage_error("foo:3", "unknown kind 'foo'");
	expect_usage_error("ring:8 --fail 9", "has only 8 fibers");
	expect_usage_error("torus:4x4x4 --fail 1000", "has only 192 fibers");
	expect_usage_error("torus:128x128", "more than the 8192");
	expect_usage_error("", "no layout");
	expect_usage_error("ring:8 --fail-pct 101", "0..100");
	expect_usage_error("ring:8 --sizes 1X", "size '1X'");
	expect_usage_error("ring:8 --port-gbs 0", "bandwidth");
	expect_usage_error("ocs:64", "ocs:128 or ocs:SPEC_A,SPEC_B");
	expect_usage_error("ocs:torus:2x4,ring:4", "an OCS re-patch keeps the chips");
	expect_usage_error("ring:8 --bogus", "bogus");
	TempFile beyond("0.+x 8192.-x\n");
	expect_usage_error("edges:" + beyond.path(), "below 8192");
	expect_usage_error("edges:/nonexistent/fabric", "cannot read");
}

} // namespace
