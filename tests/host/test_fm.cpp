// SPDX-License-Identifier: MIT
// lumen-fm's logic that needs no device: directed-route reversal, model
// paths, trap coalescing, the upload shadow's diff bookkeeping, grid
// inference and routing around cuts, and the election's decisions.
#include <gtest/gtest.h>

#include <cstring>

#include "discovery.hpp"
#include "election.hpp"
#include "mgmt/packet.hpp"
#include "routing.hpp"
#include "traps.hpp"
#include "upload.hpp"
#include "route/walk.hpp"

using namespace lumen_fm;
using lumen::mgmt::ManagerRecord;
using lumen::mgmt::Path;
using lumen::route::Fiber;
using lumen::route::Topology;

TEST(MgmtPacket, ReversePathIsReturnPathBackwards)
{
	uint8_t rp[LUMEN_MGMT_MAX_HOPS] = {1, 3, 5};
	EXPECT_EQ(lumen::mgmt::reverse_path(rp, 3), (Path{5, 3, 1}));
	EXPECT_EQ(lumen::mgmt::reverse_path(rp, 0), Path{});
	EXPECT_THROW(lumen::mgmt::reverse_path(rp, 17), lumen::mgmt::PacketError);
}

TEST(MgmtPacket, EncodeChecksPathAndData)
{
	uint32_t len = 0;
	auto r = lumen::mgmt::get(LUMEN_MGMT_ATTR_INFO, Path{0, 2});
	auto m = lumen::mgmt::encode(r, 42, &len);
	EXPECT_EQ(len, LUMEN_MGMT_HDR_SIZE);
	EXPECT_EQ(m.hop_count, 2);
	EXPECT_EQ(m.path[1], 2);
	EXPECT_EQ(m.tid, 42u);
	EXPECT_EQ(lumen::mgmt::check_received(m, len), "method 1 is neither RESP nor TRAP");
	r.path.assign(17, 0);
	EXPECT_THROW(lumen::mgmt::encode(r, 1, &len), lumen::mgmt::PacketError);
	r.path.clear();
	r.data.assign(LUMEN_MGMT_DATA_MAX + 1, 0);
	EXPECT_THROW(lumen::mgmt::encode(r, 1, &len), lumen::mgmt::PacketError);
}

TEST(MgmtPacket, ManagerRecordRoundTrip)
{
	ManagerRecord r{0x1122334455667788ull, 5, LUMEN_MGMT_MANAGER_MASTER, 9, 77, 3};
	auto d = lumen::mgmt::encode_manager(r);
	ASSERT_EQ(d.size(), 32u);
	EXPECT_EQ(lumen::mgmt::decode_manager(d.data(), 32), r);
	EXPECT_THROW(lumen::mgmt::decode_manager(d.data(), 31), lumen::mgmt::PacketError);
}

TEST(ModelPaths, ForwardAndBackOverUpFibers)
{
	// ring:4, fiber 0.+x-1.-x cut: chip 1 is reached the long way.
	Topology t = Topology::parse("ring:4");
	std::vector<Fiber> up;
	for (const Fiber &f : t.fibers())
		if (!(f.a.chip == 0 && f.b.chip == 1))
			up.push_back(f);
	ASSERT_EQ(up.size(), 3u);
	ModelPaths mp = paths_over(0, up);
	EXPECT_EQ(mp.to.at(1), (Path{1, 1, 1}));   // -x three times
	EXPECT_EQ(mp.back.at(1), (Path{0, 0, 0})); // +x back
	EXPECT_EQ(mp.to.at(3), Path{1});
	EXPECT_EQ(mp.back.at(3), Path{0});
	EXPECT_EQ(paths_over(0, up, 2).to.count(1), 0u); // beyond max hops
}

TEST(TrapCoalescer, WindowAndMaxHold)
{
	TrapCoalescer c;
	lumen::mgmt::Trap t{2, 0, LUMEN_LINK_DOWN, UINT32_MAX, UINT32_MAX, 0};
	EXPECT_FALSE(c.pending());
	c.add(t, 1000);
	EXPECT_TRUE(c.pending());
	EXPECT_DOUBLE_EQ(c.due_ms(), 1000 + TrapCoalescer::kWindowMs);
	t.chip_id = 3;
	c.add(t, 1010);
	EXPECT_DOUBLE_EQ(c.due_ms(), 1010 + TrapCoalescer::kWindowMs);
	// Traps that keep coming cannot hold the batch past kMaxHoldMs.
	for (int i = 1; i < 20; i++) {
		t.sequence = uint32_t(i);
		c.add(t, 1010 + 25.0 * i);
	}
	EXPECT_DOUBLE_EQ(c.due_ms(), 1000 + TrapCoalescer::kMaxHoldMs);
	TrapBatch b = c.take();
	EXPECT_FALSE(c.pending());
	EXPECT_EQ(b.traps.size(), 21u);
	EXPECT_EQ(b.chips, (std::set<uint32_t>{2, 3}));
	EXPECT_FALSE(b.seq_gap);
}

TEST(TrapCoalescer, SequenceGapAndDuplicates)
{
	TrapCoalescer c;
	lumen::mgmt::Trap t{2, 0, LUMEN_LINK_DOWN, UINT32_MAX, UINT32_MAX, 7};
	c.add(t, 0); // the first trap of a chip sets its baseline
	c.add(t, 1); // the same trap again: ignored
	EXPECT_EQ(c.take().traps.size(), 1u);
	t.sequence = 8;
	c.add(t, 2);
	EXPECT_FALSE(c.take().seq_gap);
	t.sequence = 10; // 9 was lost
	c.add(t, 3);
	EXPECT_TRUE(c.take().seq_gap);
	c.forget(2);
	t.sequence = 0; // a reset chip counts from 0: no gap once forgotten
	c.add(t, 4);
	EXPECT_FALSE(c.take().seq_gap);
}

TEST(UploadShadow, ChangedBlocks)
{
	Shadow s;
	std::vector<uint32_t> want(2 * kBlock, 0);
	want[3] = 0x80000001;
	// Nothing known: every block is sent.
	EXPECT_EQ(changed_blocks(s, want), (std::vector<uint32_t>{0, 1}));
	shadow_store(s, 0, want.data());
	shadow_store(s, 1, want.data() + kBlock);
	EXPECT_TRUE(changed_blocks(s, want).empty());
	want[kBlock + 5] = 0x80000002;
	EXPECT_EQ(changed_blocks(s, want), std::vector<uint32_t>{1});
	// A block the chip refused is unknown again.
	s.have[0] = false;
	EXPECT_EQ(changed_blocks(s, want), (std::vector<uint32_t>{0, 1}));
}

TEST(Routing, InferGridFindsTheTorus)
{
	Topology t = Topology::parse("torus:2x4");
	std::set<Fiber> fibers(t.fibers().begin(), t.fibers().end());
	std::set<uint32_t> chips(t.chips().begin(), t.chips().end());
	auto g = infer_grid(fibers, chips);
	ASSERT_TRUE(g.has_value());
	EXPECT_EQ(g->dims(), (std::array<uint32_t, 3>{2, 4, 1}));
	// One fiber missing from the cabling: no grid.
	fibers.erase(fibers.begin());
	EXPECT_FALSE(infer_grid(fibers, chips).has_value());
	// Ids that are not 0..N-1: no grid.
	EXPECT_FALSE(infer_grid(std::set<Fiber>(t.fibers().begin(), t.fibers().end()),
				{0, 1, 2, 3, 4, 5, 6, 9})
			     .has_value());
}

TEST(Routing, OneCutPerRingIsRoutedAroundAndVerified)
{
	Topology t = Topology::parse("torus:4x2");
	std::set<Fiber> cabling(t.fibers().begin(), t.fibers().end());
	std::set<uint32_t> chips(t.chips().begin(), t.chips().end());
	std::set<Fiber> up = cabling;
	auto full = compute_routes(cabling, up, chips, "auto");
	ASSERT_TRUE(full.ok) << full.why;
	EXPECT_EQ(full.engine, "dor");
	// Cut 0.+x - 1.-x: DOR alone would lose the pairs that cross it.
	Fiber cut = *cabling.begin();
	up.erase(cut);
	// Entries that crossed the cut now go the other way, with no detour.
	lumen::route::Routes moved = *full.routes;
	EXPECT_GT(route_around_cuts(*full.topo, {cut}, moved), 0u);
	lumen::route::LinkState ls(*full.topo);
	ls.cut(cut);
	auto path = lumen::route::walk(moved, ls, cut.a.chip, cut.b.chip);
	EXPECT_EQ(path.outcome, lumen::route::Outcome::Arrived) << path.str();
	for (const auto &h : path.hops)
		EXPECT_FALSE(h.detour) << path.str();
	EXPECT_TRUE(lumen::route::walk(*full.routes, ls, cut.a.chip, cut.b.chip).hops[0].detour);
	auto rr = compute_routes(cabling, up, chips, "auto");
	ASSERT_TRUE(rr.ok) << rr.why;
	EXPECT_EQ(rr.down.size(), 1u);
	EXPECT_EQ(rr.report.arrived, rr.report.pairs);
	EXPECT_TRUE(rr.report.cdg_acyclic);
	// Two cuts in one x ring split it: refused, never uploaded.
	for (const Fiber &f : cabling)
		if (f.a.port / 2 == 0 && f.a.chip / 4 == cut.a.chip / 4 && !(f == cut)) {
			up.erase(f);
			break;
		}
	auto bad = compute_routes(cabling, up, chips, "auto");
	EXPECT_FALSE(bad.ok);
	EXPECT_NE(bad.why.find("verifier"), std::string::npos) << bad.why;
}

TEST(Routing, NoGridNoRoutes)
{
	Topology t = Topology::parse("ring:5");
	std::set<Fiber> cabling(t.fibers().begin(), t.fibers().end());
	auto rr = compute_routes(cabling, cabling, {0, 1, 2, 3, 7}, "auto");
	EXPECT_FALSE(rr.ok);
	EXPECT_NE(rr.why.find("topology-agnostic"), std::string::npos) << rr.why;
}

TEST(Election, Ranking)
{
	EXPECT_TRUE(outranks(2, 1, 1, 99));
	EXPECT_TRUE(outranks(1, 5, 1, 4));
	EXPECT_FALSE(outranks(1, 4, 1, 5));
	Self me{10, 0, 1};
	std::vector<ManagerRecord> seen = {
		{10, 0, LUMEN_MGMT_MANAGER_MASTER, 1, 0, 0}, // ourselves
		{20, 1, LUMEN_MGMT_MANAGER_STANDBY, 9, 0, 0},
		{30, 2, LUMEN_MGMT_MANAGER_MASTER, 0, 0, 0},
		{40, 3, LUMEN_MGMT_MANAGER_MASTER, 0, 0, 0},
	};
	auto m = find_master(seen, me);
	ASSERT_TRUE(m.has_value());
	EXPECT_EQ(m->guid, 40u);
	EXPECT_FALSE(should_yield(me, *m)); // priority 1 beats 0
	me.priority = 0;
	EXPECT_TRUE(should_yield(me, *m));
	EXPECT_FALSE(find_master({seen[0], seen[1]}, me).has_value());
}

TEST(Election, WatchVerdicts)
{
	ManagerRecord m{7, 3, LUMEN_MGMT_MANAGER_MASTER, 0, 100, 1};
	Watch w(m, 0);
	EXPECT_EQ(w.poll(m, 500, 2000), Watch::Verdict::Keep);
	m.activity++;
	EXPECT_EQ(w.poll(m, 1000, 2000), Watch::Verdict::Alive);
	EXPECT_EQ(w.poll(m, 2900, 2000), Watch::Verdict::Keep);
	EXPECT_EQ(w.poll(m, 3000, 2000), Watch::Verdict::Takeover); // silent 2 s
	EXPECT_NE(w.why().find("silent"), std::string::npos);

	Watch u(m, 0);
	EXPECT_EQ(u.poll(std::nullopt, 1999, 2000), Watch::Verdict::Keep);
	EXPECT_EQ(u.poll(std::nullopt, 2000, 2000), Watch::Verdict::Takeover);
	EXPECT_NE(u.why().find("unreachable"), std::string::npos);

	Watch h(m, 0);
	ManagerRecord gone = m;
	gone.state = LUMEN_MGMT_MANAGER_NONE;
	EXPECT_EQ(h.poll(gone, 10, 2000), Watch::Verdict::Takeover); // handed over

	Watch f(m, 0);
	ManagerRecord other{8, 4, LUMEN_MGMT_MANAGER_MASTER, 0, 1, 1};
	EXPECT_EQ(f.poll(other, 10, 2000), Watch::Verdict::Follow);
	EXPECT_EQ(f.master().guid, 8u);
}
