// SPDX-License-Identifier: MIT
#include "upload.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "log.hpp"

namespace lumen_fm {

using lumen::mgmt::Request;

std::vector<uint32_t> changed_blocks(const Shadow &s, const std::vector<uint32_t> &want)
{
	std::vector<uint32_t> out;
	uint32_t blocks = static_cast<uint32_t>((want.size() + kBlock - 1) / kBlock);

	for (uint32_t b = 0; b < blocks; b++) {
		if (b >= s.have.size() || !s.have[b]) {
			out.push_back(b);
			continue;
		}
		for (uint32_t i = 0; i < kBlock; i++) {
			size_t w = size_t(b) * kBlock + i;
			uint32_t x = w < want.size() ? want[w] : 0;
			if (s.words[w] != x) {
				out.push_back(b);
				break;
			}
		}
	}
	return out;
}

void shadow_store(Shadow &s, uint32_t block, const uint32_t *words)
{
	if (block >= s.have.size()) {
		s.have.resize(block + 1, false);
		s.words.resize(size_t(block + 1) * kBlock, 0);
	}
	std::memcpy(&s.words[size_t(block) * kBlock], words, kBlock * 4);
	s.have[block] = true;
}

std::map<uint32_t, unsigned>
route_waves(const std::map<uint32_t, std::vector<RouteChange>> &changes, size_t max_changes)
{
	std::map<uint32_t, unsigned> wave;
	size_t total = 0;
	for (const auto &[chip, list] : changes)
		total += list.size();
	if (total > max_changes) {
		for (const auto &kv : changes)
			wave[kv.first] = 0;
		return wave;
	}
	// Every changed (chip, destination), to look up where a new entry leads.
	std::vector<uint64_t> changed;
	changed.reserve(total);
	for (const auto &[chip, list] : changes)
		for (const RouteChange &c : list)
			changed.push_back(uint64_t(chip) << 32 | c.dst);
	std::sort(changed.begin(), changed.end());
	auto is_changed = [&](uint32_t chip, uint32_t dst) {
		return std::binary_search(changed.begin(), changed.end(),
					  uint64_t(chip) << 32 | dst);
	};
	std::map<uint32_t, std::set<uint32_t>> waits; // chip -> chips it waits for
	for (const auto &[chip, list] : changes) {
		waits[chip];
		for (const RouteChange &c : list)
			if (c.next != UINT32_MAX && c.next != chip && is_changed(c.next, c.dst))
				waits[chip].insert(c.next);
	}
	unsigned w = 0;
	while (!waits.empty()) {
		std::vector<uint32_t> ready;
		for (const auto &[chip, on] : waits)
			if (std::none_of(on.begin(), on.end(),
					 [&](uint32_t n) { return waits.count(n) != 0; }))
				ready.push_back(chip);
		if (ready.empty()) { // a cycle: the rest together
			for (const auto &kv : waits)
				wave[kv.first] = w;
			break;
		}
		for (uint32_t chip : ready) {
			wave[chip] = w;
			waits.erase(chip);
		}
		w++;
	}
	return wave;
}

const Shadow *Uploader::shadow(uint32_t chip) const
{
	auto it = shadows_.find(chip);
	return it == shadows_.end() ? nullptr : &it->second;
}

namespace {

std::vector<uint32_t> le_words(const uint8_t *data, uint32_t n)
{
	std::vector<uint32_t> w(n);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v;
		std::memcpy(&v, data + 4 * i, 4);
		w[i] = lumen_le32_to_cpu(v);
	}
	return w;
}

} // namespace

UploadStats Uploader::upload(lumen::mgmt::Channel &ch, const Discovery &d,
			     const lumen::route::Routes &r, uint64_t mkey,
			     const std::function<lumen::mgmt::Path(uint32_t)> &back_of,
			     const lumen::mgmt::Options &opts)
{
	UploadStats st;
	double t0 = mono_ms();
	uint32_t blocks = (r.id_limit() + kBlock - 1) / kBlock;

	// First contact (or a new serial behind the id): read the blocks in use.
	std::vector<Request> reads;
	std::vector<std::pair<uint32_t, uint32_t>> read_of; // chip, block
	for (const ChipNode &c : d.chips) {
		Shadow &s = shadows_[c.id];
		if (s.serial != c.serial) {
			s = Shadow{};
			s.serial = c.serial;
			for (const auto &p : c.ports)
				s.ctrl.push_back(p.ctrl);
		}
		s.ctrl.resize(c.ports.size(), 0);
		for (uint32_t b = 0; b < blocks; b++) {
			if (b < s.have.size() && s.have[b])
				continue;
			reads.push_back(
				lumen::mgmt::get(LUMEN_MGMT_ATTR_ROUTES, c.path, b * kBlock));
			read_of.push_back({c.id, b});
		}
	}
	if (!reads.empty()) {
		auto res = ch.transact(reads, opts);
		st.reads = static_cast<unsigned>(reads.size());
		for (size_t i = 0; i < res.size(); i++) {
			if (!res[i].ok() || res[i].answer.data_len() != 4 * kBlock) {
				log_warn("upload: reading chip {} block {}: {}", read_of[i].first,
					 read_of[i].second, res[i].what());
				continue;
			}
			auto w = le_words(res[i].answer.data(), kBlock);
			shadow_store(shadows_[read_of[i].first], read_of[i].second, w.data());
		}
	}

	struct Pending {
		uint32_t chip;
		int kind; // 0 block, 1 port, 2 trap path, 3 key
		uint32_t arg;
		std::vector<uint32_t> words;
		lumen::mgmt::Path path;
	};
	std::vector<Request> sets;
	std::vector<Pending> pend;
	std::map<uint32_t, std::vector<RouteChange>> changes;
	for (const ChipNode &c : d.chips) {
		Shadow &s = shadows_[c.id];
		if (mkey && !c.mkey_set) {
			uint64_t k = lumen_cpu_to_le64(mkey);
			std::vector<uint8_t> data(8);
			std::memcpy(data.data(), &k, 8);
			sets.push_back(lumen::mgmt::set(LUMEN_MGMT_ATTR_MKEY, c.path, data, 0));
			pend.push_back({c.id, 3, 0, {}, {}});
		}
		std::vector<uint32_t> want(size_t(blocks) * kBlock, 0);
		for (uint32_t dst = 0; dst < r.id_limit(); dst++)
			want[dst] = dst == c.id ? 0 : r.word(c.id, dst);
		for (uint32_t b : changed_blocks(s, want)) {
			std::vector<uint32_t> w(want.begin() + size_t(b) * kBlock,
						want.begin() + size_t(b + 1) * kBlock);
			const bool known = b < s.have.size() && s.have[b];
			for (uint32_t i = 0; i < kBlock; i++) {
				const size_t dst = size_t(b) * kBlock + i;
				if (known && s.words[dst] == w[i])
					continue;
				auto e = lumen::route::RouteEntry::decode(w[i]);
				uint32_t next = UINT32_MAX;
				if (e.valid && e.port < c.ports.size() &&
				    c.ports[e.port].state == LUMEN_LINK_UP)
					next = c.ports[e.port].peer_chip;
				changes[c.id].push_back({static_cast<uint32_t>(dst), next});
			}
			sets.push_back(lumen::mgmt::set(LUMEN_MGMT_ATTR_ROUTES, c.path,
							lumen::mgmt::encode_le32s(w.data(), kBlock),
							mkey, b * kBlock));
			pend.push_back({c.id, 0, b, std::move(w), {}});
		}
		uint8_t dl = r.datelines(c.id);
		for (size_t p = 0; p < s.ctrl.size(); p++) {
			uint32_t ctrl = s.ctrl[p] & ~LUMEN_LCTRL_DATELINE;
			if (dl & (1u << p))
				ctrl |= LUMEN_LCTRL_DATELINE;
			if (ctrl == s.ctrl[p])
				continue;
			sets.push_back(lumen::mgmt::set(LUMEN_MGMT_ATTR_PORT, c.path,
							lumen::mgmt::encode_le32s(&ctrl, 1), mkey,
							static_cast<uint32_t>(p)));
			pend.push_back({c.id, 1, static_cast<uint32_t>(p), {ctrl}, {}});
		}
		lumen::mgmt::Path back = back_of(c.id);
		if (!s.trap_path_known || s.trap_path != back) {
			sets.push_back(lumen::mgmt::set(LUMEN_MGMT_ATTR_TRAP_PATH, c.path,
							lumen::mgmt::encode_trap_path(back), mkey));
			pend.push_back({c.id, 2, 0, {}, back});
		}
	}
	// Route blocks and DATELINE bits in their chip's wave (route_waves):
	// new datelines with the routes they were computed for. Keys and trap
	// paths with the first wave, in the order they were queued (a key
	// before the SETs that carry it). A route block that fails holds back
	// the later waves, which may lead through it: they go out at the next
	// sweep, from the shadow.
	const auto waves = route_waves(changes);
	unsigned last = 0;
	for (const auto &kv : waves)
		last = std::max(last, kv.second);
	bool held = false;
	for (unsigned wave = 0; wave <= last && !sets.empty(); wave++) {
		std::vector<size_t> idx;
		for (size_t i = 0; i < sets.size(); i++) {
			auto it = waves.find(pend[i].chip);
			const bool routing = pend[i].kind == 0 || pend[i].kind == 1;
			unsigned w = routing && it != waves.end() ? it->second : 0;
			if (w == wave)
				idx.push_back(i);
		}
		if (idx.empty())
			continue;
		if (held) {
			st.failures += static_cast<unsigned>(idx.size());
			log_warn("upload: wave {} ({} SETs) held back: a route block of an earlier "
				 "wave failed",
				 wave, idx.size());
			continue;
		}
		std::vector<Request> batch;
		for (size_t i : idx)
			batch.push_back(sets[i]);
		auto res = ch.transact(batch, opts);
		st.waves++;
		for (size_t k = 0; k < res.size(); k++) {
			const size_t i = idx[k];
			const Pending &p = pend[i];
			Shadow &s = shadows_[p.chip];
			st.bytes += LUMEN_MGMT_HDR_SIZE + sets[i].data.size();
			if (!res[k].ok()) {
				st.failures++;
				held |= p.kind == 0;
				static const char *const what[] = {"route block", "port",
								   "trap path", "key"};
				log_warn("upload: chip {} {} {}: {}", p.chip, what[p.kind], p.arg,
					 res[k].what());
				if (p.kind == 0 && p.arg < s.have.size())
					s.have[p.arg] = false; // read it back next time
				continue;
			}
			switch (p.kind) {
			case 0:
				shadow_store(s, p.arg, p.words.data());
				st.blocks++;
				break;
			case 1:
				s.ctrl[p.arg] = static_cast<uint8_t>(p.words[0]);
				st.ports++;
				break;
			case 2:
				s.trap_path = p.path;
				s.trap_path_known = true;
				st.trap_paths++;
				break;
			default:
				st.keys++;
				break;
			}
		}
	}
	st.ms = mono_ms() - t0;
	return st;
}

} // namespace lumen_fm
