// SPDX-License-Identifier: MIT
#include "discovery.hpp"

#include <deque>
#include <set>

#include "log.hpp"

namespace lumen_fm {

using lumen::mgmt::Path;
using lumen::route::Fiber;
using lumen::route::PortRef;

namespace {

struct Probe {
	Path path;
	bool expect = false; // we know who should answer
	uint32_t from_chip = 0, from_port = 0, want_id = 0;
	bool explore = true; // a consistency probe only checks who is there
};

Fiber make_fiber(PortRef a, PortRef b)
{
	return a < b ? Fiber{a, b} : Fiber{b, a};
}

} // namespace

const ChipNode *Discovery::chip(uint32_t id) const
{
	auto it = index.find(id);
	return it == index.end() ? nullptr : &chips[it->second];
}

Discovery discover(lumen::mgmt::Channel &ch, const DiscoverOptions &opts)
{
	Discovery d;
	double t0 = mono_ms();
	std::vector<Probe> level = {Probe{}};
	std::set<std::pair<uint32_t, uint32_t>> probed; // (chip, port) consistency probes
	bool checked = false;

	auto problem = [&d](std::string s) {
		log_warn("discover: {}", s);
		d.problems.push_back(std::move(s));
	};

	while (!level.empty()) {
		std::vector<lumen::mgmt::Request> reqs;
		for (const Probe &p : level)
			reqs.push_back(lumen::mgmt::get(LUMEN_MGMT_ATTR_INFO, p.path));
		auto res = ch.transact(reqs, opts.mgmt);
		d.gets += reqs.size();

		std::vector<size_t> added;
		for (size_t i = 0; i < level.size(); i++) {
			const Probe &p = level[i];
			if (!res[i].ok()) {
				problem(fmt::format("GET INFO via {}: {}",
						    lumen::mgmt::path_str(p.path), res[i].what()));
				continue;
			}
			lumen::mgmt::ChipInfo info;
			try {
				info = lumen::mgmt::decode_info(res[i].answer.data(),
								res[i].answer.data_len());
			} catch (const lumen::mgmt::PacketError &e) {
				problem(fmt::format("INFO via {}: {}",
						    lumen::mgmt::path_str(p.path), e.what()));
				continue;
			}
			if (p.expect && info.chip_id != p.want_id)
				problem(fmt::format("chip {} port {} says its peer is chip {}, but "
						    "chip {} (serial {}) answered there",
						    p.from_chip,
						    lumen::route::port_name(p.from_port), p.want_id,
						    info.chip_id, info.serial));
			auto known = d.index.find(info.chip_id);
			if (known != d.index.end()) {
				const ChipNode &k = d.chips[known->second];
				if (k.serial != info.serial) {
					bool seen = false;
					for (const Conflict &c : d.conflicts)
						seen |= c.id == info.chip_id &&
							c.serial_dup == info.serial;
					if (!seen) {
						log_error("chip_conflict: chip id {} is held by "
							  "serial {} "
							  "(via {}) and serial {} (via {}); the "
							  "second "
							  "is not routed",
							  info.chip_id, k.serial,
							  lumen::mgmt::path_str(k.path),
							  info.serial,
							  lumen::mgmt::path_str(p.path));
						d.conflicts.push_back({info.chip_id, k.serial,
								       info.serial, p.path});
					}
				}
				continue;
			}
			if (!p.explore) {
				// A consistency probe found a chip the BFS missed.
				problem(fmt::format("chip {} (serial {}) answered via {} only",
						    info.chip_id, info.serial,
						    lumen::mgmt::path_str(p.path)));
			}
			ChipNode n;
			n.id = info.chip_id;
			n.serial = info.serial;
			n.path = p.path;
			n.back = lumen::mgmt::reverse_path(res[i].answer.pkt);
			n.num_ports = info.num_ports;
			n.mkey_set = info.mkey_set;
			n.ports = info.ports;
			d.index[n.id] = d.chips.size();
			added.push_back(d.chips.size());
			d.chips.push_back(std::move(n));
		}

		std::vector<Probe> next;
		std::set<uint32_t> queued;
		for (size_t ci : added) {
			const ChipNode &c = d.chips[ci];
			if (c.path.size() >= opts.max_hops)
				continue;
			for (const auto &pi : c.ports) {
				if (pi.state != LUMEN_LINK_UP || pi.peer_chip == UINT32_MAX)
					continue;
				if (d.index.count(pi.peer_chip) || queued.count(pi.peer_chip))
					continue;
				Probe p;
				p.path = c.path;
				p.path.push_back(pi.port);
				p.expect = true;
				p.from_chip = c.id;
				p.from_port = pi.port;
				p.want_id = pi.peer_chip;
				queued.insert(pi.peer_chip);
				next.push_back(std::move(p));
			}
		}
		if (next.empty() && !checked) {
			// Both ends of every UP port must name each other; where they
			// do not, look who is really there (a duplicate chip id).
			checked = true;
			for (const ChipNode &c : d.chips) {
				if (c.path.size() >= opts.max_hops)
					continue;
				for (const auto &pi : c.ports) {
					if (pi.state != LUMEN_LINK_UP || pi.peer_chip == UINT32_MAX)
						continue;
					const ChipNode *o = d.chip(pi.peer_chip);
					bool agree =
						o && pi.peer_port < o->ports.size() &&
						o->ports[pi.peer_port].state == LUMEN_LINK_UP &&
						o->ports[pi.peer_port].peer_chip == c.id &&
						o->ports[pi.peer_port].peer_port == pi.port;
					if (agree || !probed.insert({c.id, pi.port}).second)
						continue;
					Probe p;
					p.path = c.path;
					p.path.push_back(pi.port);
					p.explore = false;
					next.push_back(std::move(p));
				}
			}
		}
		level = std::move(next);
	}

	std::set<Fiber> fibers;
	for (const ChipNode &c : d.chips) {
		for (const auto &pi : c.ports) {
			if (pi.state != LUMEN_LINK_UP)
				continue;
			const ChipNode *o = d.chip(pi.peer_chip);
			if (!o || pi.peer_port >= o->ports.size())
				continue;
			const auto &op = o->ports[pi.peer_port];
			if (op.state != LUMEN_LINK_UP || op.peer_chip != c.id ||
			    op.peer_port != pi.port)
				continue;
			fibers.insert(make_fiber({c.id, pi.port},
						 {o->id, static_cast<uint8_t>(pi.peer_port)}));
		}
	}
	d.fibers.assign(fibers.begin(), fibers.end());
	d.ms = mono_ms() - t0;
	return d;
}

ModelPaths paths_over(uint32_t local, const std::vector<Fiber> &up, unsigned max_hops)
{
	std::map<uint32_t, std::vector<std::pair<PortRef, PortRef>>> adj; // out, in
	for (const Fiber &f : up) {
		adj[f.a.chip].push_back({f.a, f.b});
		adj[f.b.chip].push_back({f.b, f.a});
	}
	ModelPaths mp;
	std::deque<uint32_t> q = {local};
	mp.to[local] = {};
	mp.back[local] = {};
	while (!q.empty()) {
		uint32_t c = q.front();
		q.pop_front();
		if (mp.to[c].size() >= max_hops)
			continue;
		for (const auto &e : adj[c]) {
			uint32_t n = e.second.chip;
			if (mp.to.count(n))
				continue;
			mp.to[n] = mp.to[c];
			mp.to[n].push_back(e.first.port);
			mp.back[n] = {e.second.port};
			const Path &rest = mp.back[c];
			mp.back[n].insert(mp.back[n].end(), rest.begin(), rest.end());
			q.push_back(n);
		}
	}
	return mp;
}

} // namespace lumen_fm
