// SPDX-License-Identifier: MIT
#include "route/verify.hpp"

#include <algorithm>
#include <queue>
#include <utility>

#include "route/dest_walk.hpp"

namespace lumen::route {
namespace {

// Channel index: (chip x 8 + port) x 2 + lane.
constexpr unsigned kSlots = kMaxPorts * LUMEN_LINK_LANES;

size_t index_of(uint32_t chip, unsigned port, unsigned lane)
{
	return (size_t(chip) * kMaxPorts + port) * LUMEN_LINK_LANES + lane;
}

Channel channel_of(size_t i)
{
	Channel c;
	c.lane = static_cast<uint8_t>(i % LUMEN_LINK_LANES);
	c.port = static_cast<uint8_t>(i / LUMEN_LINK_LANES % kMaxPorts);
	c.chip = static_cast<uint32_t>(i / kSlots);
	return c;
}

// The CDG: a channel's successors are channels of the chip its link leads
// to, so a 16-bit mask (port x 2 + lane) per channel holds its edges.
class Cdg {
      public:
	Cdg(const Topology &t)
	    : t_(t), used_(size_t(t.id_limit()) * kSlots, 0),
	      next_(size_t(t.id_limit()) * kSlots, 0)
	{
	}

	// Channel ch used, followed by next in the same packet's path.
	void add(uint32_t ch, uint32_t next)
	{
		used_[ch] = 1;
		if (next != DestinationWalk::kNoChannel)
			next_[ch] |= static_cast<uint16_t>(1u << (next % kSlots));
	}

	uint64_t channels() const { return std::count(used_.begin(), used_.end(), 1); }

	uint64_t dependencies() const
	{
		uint64_t n = 0;
		for (uint16_t m : next_)
			n += __builtin_popcount(m);
		return n;
	}

	// An iterative DFS; returns a cycle (empty if none).
	std::vector<Channel> find_cycle() const
	{
		enum : uint8_t { kWhite, kGrey, kBlack };
		std::vector<uint8_t> color(next_.size(), kWhite);
		struct Frame {
			size_t node;
			unsigned slot; // next successor slot to look at
		};
		std::vector<Frame> stack;
		for (size_t root = 0; root < next_.size(); root++) {
			if (color[root] != kWhite || !next_[root])
				continue;
			stack.push_back({root, 0});
			color[root] = kGrey;
			while (!stack.empty()) {
				Frame &f = stack.back();
				if (f.slot == kSlots) {
					color[f.node] = kBlack;
					stack.pop_back();
					continue;
				}
				unsigned s = f.slot++;
				if (!(next_[f.node] >> s & 1))
					continue;
				const Channel c = channel_of(f.node);
				const PortRef far = *t_.neighbour(PortRef{c.chip, c.port});
				size_t succ = index_of(far.chip, s / LUMEN_LINK_LANES,
						       s % LUMEN_LINK_LANES);
				if (color[succ] == kGrey) {
					std::vector<Channel> cycle;
					auto it = std::find_if(
						stack.begin(), stack.end(),
						[&](const Frame &x) { return x.node == succ; });
					for (; it != stack.end(); ++it)
						cycle.push_back(channel_of(it->node));
					return cycle;
				}
				if (color[succ] == kWhite) {
					color[succ] = kGrey;
					stack.push_back({succ, 0});
				}
			}
		}
		return {};
	}

      private:
	const Topology &t_;
	std::vector<uint8_t> used_;
	std::vector<uint16_t> next_;
};

std::string pair_str(uint32_t s, uint32_t d)
{
	return std::to_string(s) + " -> " + std::to_string(d);
}

std::string cut_str(const std::vector<Fiber> &cut)
{
	std::string s;
	for (const Fiber &f : cut)
		s += (s.empty() ? "" : ", ") + f.a.str() + "-" + f.b.str();
	return s;
}

class Problems {
      public:
	Problems(std::vector<std::string> &out, uint64_t &count, size_t keep)
	    : out_(out), count_(count), keep_(keep)
	{
	}
	void add(std::string msg)
	{
		if (out_.size() < keep_)
			out_.push_back(std::move(msg));
		count_++;
	}

      private:
	std::vector<std::string> &out_;
	uint64_t &count_;
	size_t keep_;
};

} // namespace

std::string Channel::str() const
{
	return PortRef{chip, port}.str() + "/" + std::to_string(lane);
}

std::string VerifyReport::str() const
{
	std::string s = std::to_string(pairs) + " pairs, " + std::to_string(arrived) +
			" arrived, max " + std::to_string(max_hops) + " hops, max lane " +
			std::to_string(max_lane);
	if (cdg_checked)
		s += ", CDG " + std::to_string(channels) + " channels " +
		     std::to_string(dependencies) + " dependencies " +
		     (cdg_acyclic ? "acyclic" : "CYCLIC");
	s += "\n";
	for (const auto &p : problems)
		s += "  " + p + "\n";
	if (problem_count > problems.size())
		s += "  ... " + std::to_string(problem_count - problems.size()) + " more\n";
	return s;
}

std::string FailoverReport::str() const
{
	std::string s = std::to_string(cuts) + " single-fiber cuts, max " +
			std::to_string(max_hops) + " hops, " + std::to_string(cyclic_cuts) +
			" with a CDG cycle on detours\n";
	for (const auto &p : problems)
		s += "  " + p + "\n";
	if (problem_count > problems.size())
		s += "  ... " + std::to_string(problem_count - problems.size()) + " more\n";
	return s;
}

VerifyReport verify(const Topology &t, const Routes &r, const VerifyOptions &opts)
{
	VerifyReport rep;
	Problems problems(rep.problems, rep.problem_count, opts.max_problems);
	const std::string where = opts.cut.empty() ? "" : " (cut " + cut_str(opts.cut) + ")";

	// Words a chip refuses or cannot follow, before any walk.
	auto bad = [](uint32_t w) {
		return (w & LUMEN_ROUTE_W_RESERVED) ||
		       (w & (LUMEN_ROUTE_W_VALID | 8u)) == (LUMEN_ROUTE_W_VALID | 8u);
	};
	const bool dense = t.chips().size() == t.id_limit();
	for (uint32_t s : t.chips()) {
		const uint32_t *row = r.row(s);
		if (!row)
			break; // beyond the tables: every entry invalid
		if (dense) {
			// A quick look at the whole row first; the loop below
			// names what it finds (a chip's own entry may hold any
			// port: it is never used).
			const uint32_t n = std::min(t.id_limit(), r.id_limit());
			bool any = false;
			for (uint32_t d = 0; d < n; d++)
				any |= bad(row[d]);
			if (!any)
				continue;
		}
		for (uint32_t d : t.chips()) {
			if (d >= r.id_limit())
				break;
			const uint32_t w = row[d];
			if (!bad(w) || (d == s && !RouteEntry::reserved_bits(w)))
				continue;
			if (RouteEntry::reserved_bits(w))
				problems.add("chip " + std::to_string(s) + " entry " +
					     std::to_string(d) + ": reserved bits in word " +
					     std::to_string(w));
			else
				problems.add("chip " + std::to_string(s) + " entry " +
					     std::to_string(d) + ": port " +
					     std::to_string(w & LUMEN_ROUTE_W_PORT_MASK) +
					     " does not exist");
		}
	}
	if (!rep.ok())
		return rep;

	std::vector<uint32_t> only = opts.only;
	std::sort(only.begin(), only.end());
	only.erase(std::unique(only.begin(), only.end()), only.end());
	for (uint32_t c : only)
		if (!t.has_chip(c))
			problems.add("chip " + std::to_string(c) +
				     " to verify is not in the topology");
	if (!rep.ok())
		return rep;

	LinkState ls(t);
	for (const Fiber &f : opts.cut)
		ls.cut(f);
	Cdg cdg(t);
	// Failing pairs are counted as found; the messages are for the first
	// max_problems in (source, destination) order, walked again at the end.
	std::priority_queue<std::pair<uint32_t, uint32_t>> first_failures;
	uint64_t failures = 0;
	DestinationWalk dw(r, ls, opts.ttl);
	const std::vector<uint32_t> &chips = only.empty() ? t.chips() : only;
	for (uint32_t d : chips) {
		dw.run(d, chips,
		       opts.check_cdg ? DestinationWalk::kDependencies : DestinationWalk::kResults);
		const DestinationWalk::Summary &sum = dw.summary();
		rep.pairs += sum.pairs;
		rep.arrived += sum.arrived;
		rep.max_hops = std::max(rep.max_hops, sum.max_hops);
		rep.max_lane = std::max<unsigned>(rep.max_lane, sum.max_lane);
		failures += sum.failed.size();
		for (uint32_t i : sum.failed) {
			first_failures.emplace(chips[i], d);
			if (first_failures.size() > opts.max_problems)
				first_failures.pop();
		}
		if (opts.check_cdg)
			dw.dependencies([&](uint32_t ch, uint32_t next) { cdg.add(ch, next); });
	}
	std::vector<std::pair<uint32_t, uint32_t>> listed;
	for (; !first_failures.empty(); first_failures.pop())
		listed.push_back(first_failures.top());
	std::reverse(listed.begin(), listed.end());
	for (const auto &[s, d] : listed) {
		Path p = walk(r, ls, s, d, opts.ttl);
		problems.add(pair_str(s, d) + where + ": " + outcome_name(p.outcome) + ": " +
			     p.str());
	}
	rep.problem_count += failures - listed.size();
	if (opts.check_cdg) {
		rep.cdg_checked = true;
		rep.channels = cdg.channels();
		rep.dependencies = cdg.dependencies();
		rep.cycle = cdg.find_cycle();
		rep.cdg_acyclic = rep.cycle.empty();
		if (!rep.cdg_acyclic) {
			std::string c;
			for (const Channel &ch : rep.cycle)
				c += ch.str() + " ";
			problems.add("channel dependency cycle" + where + ": " + c + "-> " +
				     rep.cycle.front().str());
		}
	}
	return rep;
}

FailoverReport verify_failover(const Topology &t, const Routes &r, const VerifyOptions &opts)
{
	FailoverReport rep;
	Problems problems(rep.problems, rep.problem_count, opts.max_problems);
	for (const Fiber &f : t.fibers()) {
		VerifyOptions o = opts;
		o.cut.push_back(f);
		o.max_problems = opts.max_problems;
		VerifyReport v = verify(t, r, o);
		rep.cuts++;
		rep.max_hops = std::max(rep.max_hops, v.max_hops);
		// Everything but the cycle counts: kept messages, then the rest.
		uint64_t unlisted = v.problem_count - v.problems.size();
		bool cycle_listed = false;
		for (const auto &p : v.problems) {
			if (p.rfind("channel dependency cycle", 0) == 0)
				cycle_listed = true;
			else
				problems.add(p);
		}
		if (!v.cdg_acyclic) {
			rep.cyclic_cuts++;
			if (!cycle_listed)
				unlisted--;
		}
		rep.problem_count += unlisted;
	}
	return rep;
}

} // namespace lumen::route
