// SPDX-License-Identifier: MIT
// lumen-fm's logic that needs no device: directed-route reversal, model
// paths, trap coalescing, the upload shadow's diff bookkeeping, routes for
// the discovered cabling (the routing library's Router), and the election's
// decisions.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include "sys/error.hpp"

#include "card_lock.hpp"
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

namespace {

std::set<Fiber> fibers_of(const Topology &t)
{
	return {t.fibers().begin(), t.fibers().end()};
}

// Chip ids of t renumbered by id -> (id * 3 + 1) % 11 (no grid numbering).
std::set<Fiber> shuffled(const Topology &t)
{
	std::set<Fiber> out;
	for (Fiber f : t.fibers()) {
		f.a.chip = (f.a.chip * 3 + 1) % 11;
		f.b.chip = (f.b.chip * 3 + 1) % 11;
		out.insert(f.b < f.a ? Fiber{f.b, f.a} : f);
	}
	return out;
}

} // namespace

TEST(Routing, TheDiscoveredTorusGetsDimensionOrderRoutes)
{
	FabricRouting r("auto");
	const auto cabling = fibers_of(Topology::parse("torus:2x4"));
	auto rr = r.update(cabling, cabling, 0);
	ASSERT_TRUE(rr.ok) << rr.why;
	EXPECT_EQ(rr.engine, "dor");
	EXPECT_TRUE(rr.full);
	EXPECT_EQ(rr.report.pairs, 56u);
	EXPECT_EQ(rr.report.arrived, rr.report.pairs);
	EXPECT_TRUE(rr.report.cdg_acyclic);
	ASSERT_TRUE(rr.topo && rr.routes);
	// The same fabric again: nothing to do.
	auto again = r.update(cabling, cabling, 0);
	ASSERT_TRUE(again.ok) << again.why;
	EXPECT_FALSE(again.full);
	EXPECT_EQ(again.entries_changed, 0u);
	EXPECT_TRUE(*again.routes == *rr.routes);
}

TEST(Routing, CutsAreFollowedIncrementallyAndVerified)
{
	FabricRouting r("auto");
	const Topology t = Topology::parse("torus:4x2");
	const auto cabling = fibers_of(t);
	auto healthy = r.update(cabling, cabling, 0);
	ASSERT_TRUE(healthy.ok) << healthy.why;
	// One fiber of an x ring cut: repaired in place, nothing lost.
	auto up = cabling;
	const Fiber cut = *cabling.begin();
	up.erase(cut);
	auto one = r.update(cabling, up, 0);
	ASSERT_TRUE(one.ok) << one.why;
	EXPECT_FALSE(one.full);
	EXPECT_GT(one.entries_changed, 0u);
	EXPECT_EQ(one.down, std::vector<Fiber>{cut});
	EXPECT_EQ(one.report.arrived, one.report.pairs);
	lumen::route::LinkState ls(*one.topo);
	ls.cut(cut);
	auto path = lumen::route::walk(*one.routes, ls, cut.a.chip, cut.b.chip);
	EXPECT_EQ(path.outcome, lumen::route::Outcome::Arrived) << path.str();
	// A second cut in the same ring: DOR cannot go round both, the
	// topology-agnostic engine can; verified before it is handed out.
	for (const Fiber &f : cabling)
		if (f.a.port / 2 == 0 && f.a.chip / 4 == cut.a.chip / 4 && !(f == cut)) {
			up.erase(f);
			break;
		}
	ASSERT_EQ(up.size() + 2, cabling.size());
	auto two = r.update(cabling, up, 0);
	ASSERT_TRUE(two.ok) << two.why;
	EXPECT_EQ(two.engine, "agnostic");
	EXPECT_EQ(two.down.size(), 2u);
	EXPECT_EQ(two.report.arrived, two.report.pairs);
	EXPECT_TRUE(two.report.cdg_acyclic);
	// Every fiber back: the tables are the healthy fabric's again.
	auto back = r.update(cabling, cabling, 0);
	ASSERT_TRUE(back.ok) << back.why;
	EXPECT_EQ(back.engine, "dor");
	EXPECT_TRUE(*back.routes == *healthy.routes);
}

TEST(Routing, ABatchBringsFibersBackBeforeItTakesOthersDown)
{
	FabricRouting r("auto");
	const auto cabling = fibers_of(Topology::parse("torus:4x2"));
	ASSERT_TRUE(r.update(cabling, cabling, 0).ok);
	auto it = cabling.begin();
	const Fiber f1 = *it++;
	const Fiber f2 = *it;
	auto up = cabling;
	up.erase(f1);
	auto one = r.update(cabling, up, 0);
	ASSERT_TRUE(one.ok) << one.why;
	EXPECT_EQ(one.engine, "dor");
	// f1 back and f2 gone in one sweep: one fiber down, still DOR.
	up.insert(f1);
	up.erase(f2);
	auto swap = r.update(cabling, up, 0);
	ASSERT_TRUE(swap.ok) << swap.why;
	EXPECT_EQ(swap.engine, "dor");
	EXPECT_EQ(swap.down, std::vector<Fiber>{f2});
}

TEST(Routing, AnyGraphGetsTheAgnosticEngine)
{
	// A torus with its ids shuffled (no grid numbering) and a ring with a
	// chord: no grid, routed by the agnostic engine and verified.
	FabricRouting r("auto");
	const auto odd = shuffled(Topology::parse("torus:2x4"));
	auto rr = r.update(odd, odd, 0);
	ASSERT_TRUE(rr.ok) << rr.why;
	EXPECT_EQ(rr.report.arrived, rr.report.pairs);
	EXPECT_EQ(rr.report.pairs, 56u);
	auto chord = fibers_of(Topology::parse("ring:6"));
	chord.insert(Fiber{{0, 2}, {3, 2}});
	auto cr = r.update(chord, chord, 0);
	ASSERT_TRUE(cr.ok) << cr.why;
	EXPECT_TRUE(cr.full); // a re-patch: a new cabling
	EXPECT_EQ(cr.engine, "agnostic");
	EXPECT_EQ(cr.report.arrived, 30u);
	// DOR forced on it: refused with the reason, nothing to upload.
	FabricRouting dor("dor");
	auto no = dor.update(chord, chord, 0);
	EXPECT_FALSE(no.ok);
	EXPECT_FALSE(no.why.empty());
	EXPECT_FALSE(no.routes);
}

TEST(Routing, APartitionedFabricIsRoutedWhereTheManagerReaches)
{
	FabricRouting r("auto");
	const auto cabling = fibers_of(Topology::parse("torus:2x4"));
	ASSERT_TRUE(r.update(cabling, cabling, 0).ok);
	// The guest of chips 4-7 stops: every fiber between y = 1, 2 and
	// y = 3, 0 goes dark.
	auto up = cabling;
	for (const Fiber &f : cabling)
		if ((f.a.chip < 4) != (f.b.chip < 4))
			up.erase(f);
	ASSERT_EQ(up.size() + 4, cabling.size());
	auto rr = r.update(cabling, up, 0);
	ASSERT_TRUE(rr.ok) << rr.why;
	EXPECT_EQ(rr.unreachable, (std::vector<uint32_t>{4, 5, 6, 7}));
	EXPECT_EQ(rr.report.pairs, 12u);
	EXPECT_EQ(rr.report.arrived, 12u);
	// From the other half, the other half.
	FabricRouting other("auto");
	ASSERT_TRUE(other.update(cabling, cabling, 6).ok);
	auto ro = other.update(cabling, up, 6);
	ASSERT_TRUE(ro.ok) << ro.why;
	EXPECT_EQ(ro.unreachable, (std::vector<uint32_t>{0, 1, 2, 3}));
	// Whole again: every pair.
	auto back = r.update(cabling, cabling, 0);
	ASSERT_TRUE(back.ok) << back.why;
	EXPECT_TRUE(back.unreachable.empty());
	EXPECT_EQ(back.report.pairs, 56u);
}

TEST(Routing, BadCablingIsRefusedAndForgotten)
{
	FabricRouting r("auto");
	EXPECT_FALSE(r.update({}, {}, 0).ok);
	// Port 0.0 cabled twice.
	std::set<Fiber> bad = {Fiber{{0, 0}, {1, 1}}, Fiber{{0, 0}, {2, 1}}};
	auto rr = r.update(bad, bad, 0);
	EXPECT_FALSE(rr.ok);
	EXPECT_FALSE(rr.why.empty());
	const auto good = fibers_of(Topology::parse("ring:4"));
	auto ok = r.update(good, good, 0);
	ASSERT_TRUE(ok.ok) << ok.why;
	EXPECT_EQ(ok.report.arrived, 12u);
}

TEST(Election, ADeposedMastersLeftoversDoNotCount)
{
	Self me{10, 4, 0};
	// The master we took over from was last seen at activity 50 on its own
	// chip; the records it left on other chips are older.
	const ManagerRecord dead{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 50, 3};
	std::vector<ManagerRecord> seen = {
		{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 50, 3},
		{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 41, 3},
		{10, 4, LUMEN_MGMT_MANAGER_MASTER, 0, 1, 1},
	};
	EXPECT_TRUE(find_master(seen, me).has_value()); // without the takeover: it counts
	EXPECT_FALSE(find_master(seen, me, dead).has_value());
	// Its activity moved on after all: alive, it counts again.
	seen.push_back({7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 51, 3});
	auto m = find_master(seen, me, dead);
	ASSERT_TRUE(m.has_value());
	EXPECT_EQ(m->activity, 51u);
	// Another master than the deposed one always counts.
	std::vector<ManagerRecord> other = {{9, 2, LUMEN_MGMT_MANAGER_MASTER, 0, 3, 1}};
	EXPECT_TRUE(find_master(other, me, dead).has_value());
}

TEST(CardLock, OneManagerPerCard)
{
	char tmpl[] = "/tmp/lumen-fm-lock.XXXXXX";
	ASSERT_NE(mkdtemp(tmpl), nullptr);
	const std::string dir = tmpl;
	{
		CardLock a("0000:01:00.0", dir);
		EXPECT_TRUE(a.held());
		try {
			CardLock b("0000:01:00.0", dir);
			ADD_FAILURE() << "a second lock on the same card was granted";
		} catch (const lumen::sys::Error &e) {
			EXPECT_EQ(e.err(), EBUSY);
			EXPECT_NE(std::string(e.what()).find(std::to_string(getpid())),
				  std::string::npos)
				<< e.what();
		}
		CardLock other("0000:02:00.0", dir); // another card: its own lock
		EXPECT_TRUE(other.held());
		CardLock moved = std::move(a);
		EXPECT_TRUE(moved.held());
		EXPECT_FALSE(a.held());
		EXPECT_THROW(CardLock("0000:01:00.0", dir), lumen::sys::Error);
	}
	// Released with its holder.
	CardLock again("0000:01:00.0", dir);
	EXPECT_TRUE(again.held());
	EXPECT_THROW(CardLock("0000:01:00.0", dir + "/no-such-dir"), lumen::sys::Error);
	// A lock file planted as a symlink is not followed.
	ASSERT_EQ(symlink("/etc/hostname", (dir + "/0000:03:00.0.lock").c_str()), 0);
	EXPECT_THROW(CardLock("0000:03:00.0", dir), lumen::sys::Error);
	// A device node as the name: one file, no directories.
	CardLock node("/dev/accel/accel0", dir);
	EXPECT_EQ(node.path(), dir + "/_dev_accel_accel0.lock");
	EXPECT_THROW(CardLock("", dir), lumen::sys::Error);
	std::system(("rm -rf " + dir).c_str());
}

TEST(Election, DeposedActivityWrapsAround)
{
	Self me{10, 4, 0};
	const ManagerRecord dead{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 0xffffffffu, 3};
	// Moved past 0xffffffff: alive.
	EXPECT_TRUE(find_master({{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 0, 3}}, me, dead));
	const ManagerRecord dead5{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 5, 3};
	// Older than 5 across the wrap: a leftover.
	EXPECT_FALSE(
		find_master({{7, 0, LUMEN_MGMT_MANAGER_MASTER, 0, 0xfffffff0u, 3}}, me, dead5));
	// A record that is not a master's never counts.
	EXPECT_FALSE(find_master({{7, 0, LUMEN_MGMT_MANAGER_STANDBY, 0, 9, 3}}, me, dead5));
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
