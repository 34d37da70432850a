// SPDX-License-Identifier: MIT
// lumen-fm's logic that needs no device: directed-route reversal, model
// paths, trap coalescing, the upload shadow's diff bookkeeping, routes for
// the discovered cabling (the routing library's Router), the election's
// decisions, and the control socket's answers (route, routes, port, error
// codes, the request line limit).
#include <gtest/gtest.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <set>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include "sys/error.hpp"

#include "card_lock.hpp"
#include "control.hpp"
#include "discovery.hpp"
#include "election.hpp"
#include "mgmt/packet.hpp"
#include "query.hpp"
#include "routing.hpp"
#include "traps.hpp"
#include "upload.hpp"
#include "route/dor.hpp"
#include "route/walk.hpp"

using namespace lumen_fm;
using lumen::mgmt::ManagerRecord;
using lumen::mgmt::Path;
using lumen::route::Fiber;
using lumen::route::Topology;

// Time bounds are for an optimised build; sanitized ones (make
// test-host-asan, test-host-tsan) run several times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSanitizerSlowdown = 10;
#else
constexpr double kSanitizerSlowdown = 1;
#endif

using nlohmann::json;

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

TEST(UploadWaves, DownstreamFirst)
{
	// The torus:2x4 cut of 0.-y/6.+y: 6's new route to 0 leads via 4,
	// whose route to 0 changes too (to 2, unchanged): 4 first, then 6.
	std::map<uint32_t, std::vector<RouteChange>> ch = {
		{6, {{0, 4}}},
		{4, {{0, 2}}},
	};
	auto w = route_waves(ch);
	EXPECT_EQ(w.at(4), 0u);
	EXPECT_EQ(w.at(6), 1u);
	// A chain of three, and a chip whose next hop's entry for another
	// destination changed (no wait: only the same destination counts).
	ch = {{1, {{9, 2}}}, {2, {{9, 3}}}, {3, {{9, 9}, {1, 2}}}, {5, {{7, 3}}}};
	w = route_waves(ch);
	EXPECT_EQ(w.at(3), 0u);
	EXPECT_EQ(w.at(2), 1u);
	EXPECT_EQ(w.at(1), 2u);
	EXPECT_EQ(w.at(5), 0u);
	// Waits in a cycle (over two destinations): the cycle shares the last
	// wave after what does not wait.
	ch = {{1, {{8, 2}}}, {2, {{9, 1}}}, {1 + 10, {}}};
	ch[1].push_back({9, 7});
	ch[2].push_back({8, 7});
	w = route_waves(ch);
	EXPECT_EQ(w.at(11), 0u);
	EXPECT_EQ(w.at(1), 1u);
	EXPECT_EQ(w.at(2), 1u);
	// Entries leading nowhere known, or to the chip itself, wait for nobody.
	ch = {{1, {{2, UINT32_MAX}, {3, 1}}}, {2, {{2, 5}}}};
	w = route_waves(ch);
	EXPECT_EQ(w.at(1), 0u);
	EXPECT_EQ(w.at(2), 0u);
	// Too many changes to order: one wave.
	ch = {{6, {{0, 4}}}, {4, {{0, 2}}}};
	w = route_waves(ch, 1);
	EXPECT_EQ(w.at(4), 0u);
	EXPECT_EQ(w.at(6), 0u);
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

// ---- the control socket's answers ---------------------------------------------------------

TEST(Query, NumbersAndPairsParseStrictly)
{
	uint32_t v = 0;
	EXPECT_TRUE(parse_u32("0", v));
	EXPECT_EQ(v, 0u);
	EXPECT_TRUE(parse_u32("4294967295", v));
	EXPECT_EQ(v, UINT32_MAX);
	for (const char *bad : {"", "-1", "+1", "1x", " 1", "0x10", "4294967296", "99999999999"})
		EXPECT_FALSE(parse_u32(bad, v)) << bad;

	std::vector<std::pair<uint32_t, uint32_t>> pairs;
	std::string bad;
	ASSERT_TRUE(parse_pairs({"0:1", "7:3", "5:5"}, pairs, &bad));
	EXPECT_EQ(pairs, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}, {7, 3}, {5, 5}}));
	for (const char *tok :
	     {"1", "1:", ":2", "1-2", "a:b", "1:2:3", "-1:2", "1:2x", "1::2", "4294967296:1"}) {
		EXPECT_FALSE(parse_pairs({"0:1", tok, "2:3"}, pairs, &bad)) << tok;
		EXPECT_EQ(bad, tok);
	}
	EXPECT_TRUE(parse_pairs({}, pairs, &bad));
	EXPECT_TRUE(pairs.empty());
}

TEST(Query, ErrorAnswersCarryACode)
{
	json e = error_answer(code::kInvalidPort, "chip 3 has 6 ports, no port 6");
	EXPECT_EQ(e.at("error"), "chip 3 has 6 ports, no port 6");
	EXPECT_EQ(e.at("code"), "invalid_port");
	EXPECT_EQ(e.size(), 2u);
	const std::set<std::string> codes = {
		code::kUsage,	    code::kInvalidChip, code::kInvalidPort, code::kNoRoutes,
		code::kUnreachable, code::kNotMaster,	code::kNoCard,	    code::kUnknownCommand};
	EXPECT_EQ(codes, (std::set<std::string>{"usage", "invalid_chip", "invalid_port",
						"no_routes", "unreachable", "not_master", "no_card",
						"unknown_command"}));
}

namespace {

// The answer's "code", "" when it is no error.
std::string code_of(const json &a)
{
	return a.contains("error") ? a.at("code").get<std::string>() : "";
}

struct Fabric {
	RouteResult rr;
	std::vector<Fiber> down;
	RouteView view(uint64_t gen = 7) const
	{
		RouteView v;
		v.topo = rr.topo.get();
		v.routes = rr.routes.get();
		v.down = down;
		v.generation = gen;
		return v;
	}
};

Fabric routed(const std::string &spec)
{
	FabricRouting r("auto");
	const auto cabling = fibers_of(Topology::parse(spec));
	Fabric f;
	f.rr = r.update(cabling, cabling, 0);
	EXPECT_TRUE(f.rr.ok) << f.rr.why;
	return f;
}

} // namespace

TEST(Query, RouteAnswersHopsAndNominalFigures)
{
	const Fabric f = routed("torus:2x4");
	json a = answer_route(f.view(), {"route", "0", "5"});
	ASSERT_EQ(code_of(a), "") << a.dump();
	EXPECT_EQ(a.at("src"), 0);
	EXPECT_EQ(a.at("dst"), 5);
	EXPECT_EQ(a.at("outcome"), "arrived");
	EXPECT_EQ(a.at("generation"), 7);
	const json &hops = a.at("hops");
	ASSERT_FALSE(hops.empty());
	EXPECT_EQ(a.at("hop_count"), hops.size());
	EXPECT_EQ(a.at("bottleneck_bytes_per_s"), LUMEN_LINK_NOMINAL_BYTES_PER_S);
	EXPECT_EQ(a.at("latency_ns"), hops.size() * LUMEN_LINK_NOMINAL_HOP_NS);
	// The same walk the library does, hop by hop, with its table entries.
	lumen::route::LinkState ls(*f.rr.topo);
	auto path = lumen::route::walk(*f.rr.routes, ls, 0, 5);
	ASSERT_EQ(path.hops.size(), hops.size());
	for (size_t i = 0; i < hops.size(); i++) {
		const auto &h = path.hops[i];
		const json &j = hops[i];
		EXPECT_EQ(j.at("chip"), h.chip);
		EXPECT_EQ(j.at("port"), h.out_port);
		EXPECT_EQ(j.at("port_name"), lumen::route::port_name(h.out_port));
		EXPECT_EQ(j.at("lane"), h.lane);
		EXPECT_EQ(j.at("vc"), LUMEN_VC_REQ(h.lane));
		EXPECT_EQ(j.at("detour"), h.detour);
		const uint8_t alt = f.rr.routes->entry(h.chip, 5).alt_port;
		if (alt == lumen::route::kNoPort)
			EXPECT_TRUE(j.at("alt_port").is_null()) << j.dump();
		else
			EXPECT_EQ(j.at("alt_port"), alt);
	}
	// A chip reaches itself without the fabric.
	json self = answer_route(f.view(), {"route", "3", "3"});
	EXPECT_EQ(self.at("outcome"), "arrived");
	EXPECT_TRUE(self.at("hops").empty());
	EXPECT_EQ(self.at("hop_count"), 0);
	EXPECT_EQ(self.at("bottleneck_bytes_per_s"), 0);
	EXPECT_EQ(self.at("latency_ns"), 0);
}

TEST(Query, RouteErrors)
{
	const Fabric f = routed("torus:2x4");
	EXPECT_EQ(code_of(answer_route(f.view(), {"route", "0"})), "usage");
	EXPECT_EQ(code_of(answer_route(f.view(), {"route", "0", "1", "2"})), "usage");
	json bad = answer_route(f.view(), {"route", "0", "x1"});
	EXPECT_EQ(code_of(bad), "usage");
	EXPECT_EQ(bad.at("error"), "bad number in 'route 0 x1'");
	EXPECT_EQ(code_of(answer_route(f.view(), {"route", "-1", "2"})), "usage");
	json unknown = answer_route(f.view(), {"route", "0", "8"});
	EXPECT_EQ(code_of(unknown), "invalid_chip");
	EXPECT_NE(unknown.at("error").get<std::string>().find("chip 8"), std::string::npos)
		<< unknown.dump();
	EXPECT_EQ(code_of(answer_route(f.view(), {"route", "99", "0"})), "invalid_chip");
	EXPECT_EQ(code_of(answer_route(f.view(), {"route", "99", "99"})), "invalid_chip");
	json none = answer_route(RouteView{}, {"route", "0", "1"});
	EXPECT_EQ(code_of(none), "no_routes");
	EXPECT_EQ(none.at("error"), "no routes uploaded yet");
}

TEST(Query, ADetourIsReportedWithTheLaneAndVc)
{
	// ring:4 with hand-made tables to chip 1: chip 0 sends on +x (alt -x,
	// lane 1), chips 3 and 2 the long way round. 0.+x-1.-x cut: the packet
	// leaves chip 0 on its alternative port with DETOUR, keeps lane 1.
	const Topology t = Topology::parse("ring:4");
	lumen::route::Routes r(t.id_limit());
	lumen::route::RouteEntry e;
	e.valid = true;
	e.port = 0;
	e.alt_port = 1;
	e.lane = 1;
	r.set(0, 1, e);
	e = {};
	e.valid = true;
	e.port = 1;
	r.set(3, 1, e);
	r.set(2, 1, e);
	RouteView v;
	v.topo = &t;
	v.routes = &r;
	v.down = {Fiber{{0, 0}, {1, 1}}};
	json a = answer_route(v, {"route", "0", "1"});
	ASSERT_EQ(a.at("outcome"), "arrived") << a.dump();
	ASSERT_EQ(a.at("hop_count"), 3);
	const json &h = a.at("hops");
	EXPECT_EQ(h[0].at("chip"), 0);
	EXPECT_EQ(h[0].at("port"), 1);
	EXPECT_EQ(h[0].at("alt_port"), 1);
	EXPECT_EQ(h[0].at("detour"), true);
	EXPECT_EQ(h[0].at("vc"), LUMEN_VC_REQ(1));
	EXPECT_EQ(h[1].at("chip"), 3);
	EXPECT_TRUE(h[1].at("alt_port").is_null());
	EXPECT_EQ(h[1].at("detour"), true);
	EXPECT_EQ(h[1].at("vc"), LUMEN_VC_REQ(1));
	EXPECT_EQ(h[2].at("chip"), 2);
	EXPECT_EQ(a.at("latency_ns"), 3 * LUMEN_LINK_NOMINAL_HOP_NS);
	// Chip 3 to 0 has no entry: a normal answer with its outcome.
	json no = answer_route(v, {"route", "3", "0"});
	EXPECT_EQ(code_of(no), "");
	EXPECT_EQ(no.at("outcome"), "no route");
	EXPECT_EQ(no.at("hop_count"), 0);
	EXPECT_EQ(no.at("bottleneck_bytes_per_s"), 0);
	// Both fibers of chip 0 cut: it cannot send at all.
	v.down.push_back(Fiber{{0, 1}, {3, 0}});
	json cut = answer_route(v, {"route", "0", "1"});
	EXPECT_EQ(cut.at("outcome"), "no route");
	EXPECT_EQ(cut.at("bottleneck_bytes_per_s"), 0);
}

TEST(Query, APartitionedChipAnswersItsOutcome)
{
	// The tables of a partitioned fabric hold no route to the far half:
	// those chips are in the fabric, so no error, the outcome says it.
	FabricRouting r("auto");
	const auto cabling = fibers_of(Topology::parse("torus:2x4"));
	ASSERT_TRUE(r.update(cabling, cabling, 0).ok);
	auto up = cabling;
	Fabric f;
	for (const Fiber &x : cabling)
		if ((x.a.chip < 4) != (x.b.chip < 4)) {
			up.erase(x);
			f.down.push_back(x);
		}
	f.rr = r.update(cabling, up, 0);
	ASSERT_TRUE(f.rr.ok) << f.rr.why;
	json a = answer_route(f.view(), {"route", "0", "6"});
	EXPECT_EQ(code_of(a), "") << a.dump();
	EXPECT_NE(a.at("outcome"), "arrived");
	EXPECT_EQ(a.at("bottleneck_bytes_per_s"), 0);
	EXPECT_EQ(a.at("latency_ns"),
		  a.at("hop_count").get<uint64_t>() * LUMEN_LINK_NOMINAL_HOP_NS);
	json in = answer_route(f.view(), {"route", "0", "3"});
	EXPECT_EQ(in.at("outcome"), "arrived");
}

TEST(Query, RoutesBatchInRequestOrder)
{
	const Fabric f = routed("torus:2x4");
	json a = answer_routes(f.view(9), {"routes", "0:5", "5:0", "2:2", "0:8", "42:1"});
	ASSERT_EQ(code_of(a), "") << a.dump();
	EXPECT_EQ(a.at("generation"), 9);
	const json &r = a.at("routes");
	ASSERT_EQ(r.size(), 5u);
	const json one = answer_route(f.view(9), {"route", "0", "5"});
	for (const char *k :
	     {"src", "dst", "outcome", "hop_count", "bottleneck_bytes_per_s", "latency_ns"})
		EXPECT_EQ(r[0].at(k), one.at(k)) << k;
	EXPECT_FALSE(r[0].contains("hops"));
	EXPECT_EQ(r[1].at("src"), 5);
	EXPECT_EQ(r[1].at("outcome"), "arrived");
	EXPECT_EQ(r[2].at("outcome"), "arrived");
	EXPECT_EQ(r[2].at("hop_count"), 0);
	for (size_t i : {3, 4}) {
		EXPECT_EQ(r[i].at("outcome"), "invalid_chip") << r[i].dump();
		EXPECT_EQ(r[i].at("hop_count"), 0);
		EXPECT_EQ(r[i].at("bottleneck_bytes_per_s"), 0);
		EXPECT_EQ(r[i].at("latency_ns"), 0);
	}
	EXPECT_EQ(r[3].at("dst"), 8);
	EXPECT_EQ(r[4].at("src"), 42);
}

TEST(Query, RoutesErrors)
{
	const Fabric f = routed("ring:4");
	EXPECT_EQ(code_of(answer_routes(f.view(), {"routes"})), "usage");
	json bad = answer_routes(f.view(), {"routes", "0:1", "2-3", "1:0"});
	EXPECT_EQ(code_of(bad), "usage");
	EXPECT_NE(bad.at("error").get<std::string>().find("'2-3'"), std::string::npos)
		<< bad.dump();
	EXPECT_EQ(code_of(answer_routes(f.view(), {"routes", "0:1", "1:x"})), "usage");
	// Syntax first, then the tables.
	EXPECT_EQ(code_of(answer_routes(RouteView{}, {"routes", "0:"})), "usage");
	EXPECT_EQ(code_of(answer_routes(RouteView{}, {"routes", "0:1"})), "no_routes");
}

TEST(Query, SixThousandPairsOnA4096ChipTorusInOneRequest)
{
	const Topology t = Topology::parse("torus:16x16x16");
	const lumen::route::Routes r = lumen::route::route_dor(t);
	RouteView v;
	v.topo = &t;
	v.routes = &r;
	v.down = {t.fibers()[0]};
	std::vector<std::string> w = {"routes"};
	std::string line = "routes";
	uint32_t x = 12345;
	for (int i = 0; i < 6000; i++) {
		x = x * 1103515245u + 12345u;
		const uint32_t s = x >> 8 & 4095;
		x = x * 1103515245u + 12345u;
		w.push_back(std::to_string(s) + ":" + std::to_string(x >> 8 & 4095));
		line += " " + w.back();
	}
	// The request fits the socket's line limit.
	EXPECT_LE(line.size(), kMaxLine);
	const auto t0 = std::chrono::steady_clock::now();
	json a = answer_routes(v, w);
	const double ms =
		std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
			.count();
	ASSERT_EQ(code_of(a), "") << a.dump().substr(0, 200);
	ASSERT_EQ(a.at("routes").size(), 6000u);
	size_t arrived = 0;
	for (const json &e : a.at("routes")) {
		arrived += e.at("outcome") == "arrived";
		EXPECT_LE(e.at("hop_count").get<unsigned>(), LUMEN_LINK_TTL_DEFAULT + 1u);
	}
	EXPECT_GT(arrived, 5900u);
	printf("# 6000 pairs on torus:16x16x16: %.1f ms\n", ms);
	EXPECT_LT(ms, 2000 * kSanitizerSlowdown); // the link state once, not per pair
}

TEST(Query, GridFieldsAndCoords)
{
	const Fabric torus = routed("torus:2x4");
	auto g = lumen::route::infer_grid(*torus.rr.topo);
	ASSERT_TRUE(g.has_value());
	json s = grid_fields(g);
	EXPECT_EQ(s.at("shape"), "torus:2x4");
	EXPECT_EQ(s.at("dims"), json({2, 4, 1}));
	EXPECT_EQ(s.at("wrap"), true);
	EXPECT_TRUE(s.at("dims")[0].is_number_unsigned());
	EXPECT_EQ(grid_coords(g, 5), json({1, 2, 0}));
	EXPECT_TRUE(grid_coords(g, 8).is_null());

	const Fabric ring = routed("ring:8");
	EXPECT_EQ(grid_fields(lumen::route::infer_grid(*ring.rr.topo)).at("shape"), "ring:8");
	const Fabric mesh = routed("mesh:4x4");
	json m = grid_fields(lumen::route::infer_grid(*mesh.rr.topo));
	EXPECT_EQ(m.at("shape"), "mesh:4x4");
	EXPECT_EQ(m.at("wrap"), false);

	// No grid (ids shuffled), or no topology: "" and nulls.
	const auto odd = shuffled(Topology::parse("torus:2x4"));
	const Topology ot = Topology::from_fibers({odd.begin(), odd.end()}, "odd");
	auto none = lumen::route::infer_grid(ot);
	EXPECT_FALSE(none.has_value());
	json n = grid_fields(none);
	EXPECT_EQ(n.at("shape"), "");
	EXPECT_TRUE(n.at("dims").is_null());
	EXPECT_EQ(n.at("wrap"), false);
	EXPECT_TRUE(grid_coords(none, 1).is_null());
}

TEST(Query, PortCountersByRegister)
{
	const auto &t = port_counters();
	EXPECT_EQ(t.size(), 18u);
	std::set<std::string> names;
	std::set<unsigned> regs;
	for (const PortCounter &c : t) {
		EXPECT_TRUE(names.insert(c.name).second) << c.name;
		for (unsigned reg : {c.lo, c.hi}) {
			if (reg == 0 && reg == c.hi)
				continue; // a 32-bit counter
			EXPECT_GE(reg, LUMEN_LREG_TX_PKTS_LO) << c.name;
			EXPECT_LE(reg, LUMEN_LREG_LAST) << c.name;
			EXPECT_TRUE(regs.insert(reg).second) << c.name << " reuses a register";
		}
	}
	// Words that are state, not counters, are left out.
	for (unsigned reg : {LUMEN_LREG_STATUS, LUMEN_LREG_GENERATION, LUMEN_LREG_PEER_GENERATION})
		EXPECT_EQ(regs.count(reg), 0u) << reg;
	EXPECT_EQ(regs.size(), 28u - 3u - 1u); // 0x7c is not a register

	// Every word a distinct value: each name reads its own register(s).
	struct lumen_mgmt_port raw;
	std::memset(&raw, 0, sizeof(raw));
	raw.ctrl = LUMEN_LCTRL_ENABLE | LUMEN_LCTRL_DATELINE;
	raw.state = LUMEN_LINK_UP;
	for (unsigned i = 0; i < 28; i++)
		raw.counters[i] = 0x100 + i;
	auto word = [](unsigned reg) { return uint64_t(0x100 + (reg - 0x10) / 4); };
	const lumen::route::PortRef peer{4, 1};
	json a = port_answer(5, 0, reinterpret_cast<const uint8_t *>(&raw), sizeof(raw), peer);
	EXPECT_EQ(a.at("chip"), 5);
	EXPECT_EQ(a.at("port"), 0);
	EXPECT_EQ(a.at("state"), "up");
	EXPECT_EQ(a.at("enabled"), true);
	EXPECT_EQ(a.at("dateline"), true);
	EXPECT_EQ(a.at("peer_chip"), 4);
	EXPECT_EQ(a.at("peer_port"), 1);
	EXPECT_EQ(a.at("bandwidth_bytes_per_s"), LUMEN_LINK_NOMINAL_BYTES_PER_S);
	EXPECT_EQ(a.at("latency_ns"), LUMEN_LINK_NOMINAL_HOP_NS);
	const json &c = a.at("counters");
	EXPECT_EQ(c.size(), 18u);
	EXPECT_EQ(c.at("tx_frames"),
		  word(LUMEN_LREG_TX_PKTS_HI) << 32 | word(LUMEN_LREG_TX_PKTS_LO));
	EXPECT_EQ(c.at("rx_frames"),
		  word(LUMEN_LREG_RX_PKTS_HI) << 32 | word(LUMEN_LREG_RX_PKTS_LO));
	EXPECT_EQ(c.at("tx_bytes"),
		  word(LUMEN_LREG_TX_BYTES_HI) << 32 | word(LUMEN_LREG_TX_BYTES_LO));
	EXPECT_EQ(c.at("data_rx"), word(LUMEN_LREG_DATA_RX_HI) << 32 | word(LUMEN_LREG_DATA_RX_LO));
	EXPECT_EQ(c.at("crc_errors"), word(LUMEN_LREG_CRC_ERRORS));
	EXPECT_EQ(c.at("frame_errors"), word(LUMEN_LREG_FRAME_ERRORS));
	EXPECT_EQ(c.at("credit_stalls"), word(LUMEN_LREG_CREDIT_STALLS));
	EXPECT_EQ(c.at("seq_errors"), word(LUMEN_LREG_SEQ_ERRORS));
	for (const PortCounter &pc : t)
		EXPECT_EQ(c.at(pc.name), (pc.hi ? word(pc.hi) << 32 : 0) | word(pc.lo)) << pc.name;

	// A port that is not up has no peer; the state names.
	raw.ctrl = 0;
	raw.state = LUMEN_LINK_TRAINING;
	a = port_answer(5, 0, reinterpret_cast<const uint8_t *>(&raw), sizeof(raw), peer);
	EXPECT_EQ(a.at("state"), "training");
	EXPECT_EQ(a.at("enabled"), false);
	EXPECT_EQ(a.at("dateline"), false);
	EXPECT_TRUE(a.at("peer_chip").is_null());
	EXPECT_TRUE(a.at("peer_port").is_null());
	raw.state = LUMEN_LINK_UP;
	a = port_answer(5, 0, reinterpret_cast<const uint8_t *>(&raw), sizeof(raw), std::nullopt);
	EXPECT_TRUE(a.at("peer_chip").is_null());
	EXPECT_STREQ(link_state_name(LUMEN_LINK_DOWN), "down");
	EXPECT_STREQ(link_state_name(LUMEN_LINK_ERROR), "error");
	EXPECT_STREQ(link_state_name(9), "?");
	// A short answer is refused, not read past its end.
	EXPECT_THROW(
		port_answer(5, 0, reinterpret_cast<const uint8_t *>(&raw), sizeof(raw) - 1, peer),
		lumen::mgmt::PacketError);
}

namespace {

// One request to a ControlServer on a real socket, served from this
// thread; the answer line (without newline), "" when none came.
std::string ask(ControlServer &srv, const std::string &path, const std::string &req,
		std::vector<std::string> *seen)
{
	std::string answer;
	std::atomic<bool> done{false};
	std::thread client([&] {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = {};
		a.sun_family = AF_UNIX;
		std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
		if (connect(fd, reinterpret_cast<struct sockaddr *>(&a), sizeof(a)) == 0) {
			for (size_t off = 0; off < req.size();) {
				ssize_t n =
					send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
				if (n <= 0)
					break; // the server may answer before it has all
				off += size_t(n);
			}
			shutdown(fd, SHUT_WR);
			char buf[4096];
			for (;;) {
				ssize_t n = recv(fd, buf, sizeof(buf), 0);
				if (n <= 0)
					break;
				answer.append(buf, size_t(n));
			}
		}
		close(fd);
		done = true;
	});
	const auto t0 = std::chrono::steady_clock::now();
	while (!done && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
		srv.serve([seen](const std::string &l, bool) {
			seen->push_back(l);
			return json{{"len", l.size()}};
		});
		usleep(1000);
	}
	client.join();
	const size_t nl = answer.find('\n');
	return nl == std::string::npos ? "" : answer.substr(0, nl);
}

} // namespace

TEST(Control, RequestLinesUpTo64KiB)
{
	signal(SIGIO, SIG_IGN); // the server asks for SIGIO, the daemon catches it
	char tmpl[] = "/tmp/lumen-fm-ctl.XXXXXX";
	ASSERT_NE(mkdtemp(tmpl), nullptr);
	const std::string path = std::string(tmpl) + "/fm.sock";
	ControlServer srv;
	srv.open(path);
	std::vector<std::string> seen;

	json a = json::parse(ask(srv, path, "status\n", &seen));
	EXPECT_EQ(a.at("len"), 6);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0], "status");

	// 64 KiB exactly: whole, in one request.
	const std::string longest = "routes" + std::string(kMaxLine - 6, ' ');
	ASSERT_EQ(longest.size(), 65536u);
	a = json::parse(ask(srv, path, longest + "\n", &seen));
	EXPECT_EQ(a.at("len"), 65536);
	ASSERT_EQ(seen.size(), 2u);
	EXPECT_EQ(seen[1], longest);

	// One byte more: refused without calling the handler.
	a = json::parse(ask(srv, path, longest + " \n", &seen));
	EXPECT_EQ(a.at("code"), "usage");
	EXPECT_EQ(a.at("error"), "request longer than 65536 bytes");
	EXPECT_EQ(seen.size(), 2u);
	a = json::parse(ask(srv, path, std::string(3 * kMaxLine, 'x'), &seen));
	EXPECT_EQ(a.at("code"), "usage");
	EXPECT_EQ(seen.size(), 2u);

	// No newline, then EOF: the request is whole too.
	a = json::parse(ask(srv, path, "topology", &seen));
	ASSERT_EQ(seen.size(), 3u);
	EXPECT_EQ(seen[2], "topology");
	srv.close();
	EXPECT_NE(access(path.c_str(), F_OK), 0);
	rmdir(tmpl);
}
