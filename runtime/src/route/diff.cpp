// SPDX-License-Identifier: MIT
#include "route/diff.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lumen::route {
namespace {

// Appends the blocks of one chip where held and want differ; either side
// may be shorter than n (missing words are invalid, 0).
void diff_words(uint32_t chip, const uint32_t *held, uint32_t held_n, const uint32_t *want,
		uint32_t want_n, TableDiff &out)
{
	const uint32_t n = std::max(held_n, want_n);
	for (uint32_t first = 0; first < n; first += kBlockWords) {
		const uint32_t end = std::min(first + kBlockWords, n);
		// Whole blocks on both sides compare at once.
		if (end <= held_n && end <= want_n &&
		    std::equal(held + first, held + end, want + first))
			continue;
		RouteBlock b;
		b.chip = chip;
		b.first = first;
		uint32_t changed = 0;
		for (uint32_t i = 0; i < kBlockWords; i++) {
			const uint32_t e = first + i;
			const uint32_t h = e < held_n ? held[e] : 0, w = e < want_n ? want[e] : 0;
			b.words[i] = w;
			changed += h != w;
		}
		if (!changed)
			continue;
		out.words_changed += changed;
		out.blocks.push_back(b);
	}
}

void diff_datelines(uint32_t chip, uint8_t held, uint8_t want, TableDiff &out)
{
	if (held != want)
		out.datelines.push_back(
			DatelineChange{chip, want, static_cast<uint8_t>(held ^ want)});
}

} // namespace

uint64_t TableDiff::bytes() const noexcept
{
	uint64_t ports = 0;
	for (const DatelineChange &d : datelines)
		ports += __builtin_popcount(d.changed);
	return blocks.size() * kRoutesSetBytes + ports * kPortSetBytes;
}

std::vector<uint32_t> TableDiff::chips() const
{
	std::vector<uint32_t> out;
	for (const RouteBlock &b : blocks)
		out.push_back(b.chip);
	for (const DatelineChange &d : datelines)
		out.push_back(d.chip);
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	return out;
}

void TableDiff::apply(Routes &held) const
{
	const uint32_t limit = held.id_limit();
	for (const RouteBlock &b : blocks) {
		for (uint32_t i = 0; i < kBlockWords; i++) {
			const uint32_t e = b.first + i;
			if (b.chip < limit && e < limit)
				held.set(b.chip, e, b.words[i]);
			else if (b.words[i])
				throw std::out_of_range("block " + std::to_string(b.first) +
							" of chip " + std::to_string(b.chip) +
							" has routes beyond chip id " +
							std::to_string(limit ? limit - 1 : 0));
		}
	}
	for (const DatelineChange &d : datelines) {
		if (d.chip < limit)
			held.set_datelines(d.chip, d.mask);
		else if (d.mask)
			throw std::out_of_range("datelines of chip " + std::to_string(d.chip) +
						" are beyond chip id " +
						std::to_string(limit ? limit - 1 : 0));
	}
}

TableDiff diff_tables(const Routes &held, const Routes &want)
{
	TableDiff out;
	const uint32_t hn = held.id_limit(), wn = want.id_limit(), n = std::max(hn, wn);
	for (uint32_t c = 0; c < n; c++) {
		diff_words(c, held.row(c), c < hn ? hn : 0, want.row(c), c < wn ? wn : 0, out);
		diff_datelines(c, held.datelines(c), want.datelines(c), out);
	}
	return out;
}

TableDiff diff_chip(uint32_t chip, const std::vector<uint32_t> &held_words, uint8_t held_datelines,
		    const Routes &want)
{
	TableDiff out;
	const uint32_t hn =
		static_cast<uint32_t>(std::min<size_t>(held_words.size(), LUMEN_ROUTE_TABLE_SIZE));
	const uint32_t wn = chip < want.id_limit() ? want.id_limit() : 0;
	diff_words(chip, held_words.data(), hn, want.row(chip), wn, out);
	diff_datelines(chip, held_datelines, want.datelines(chip), out);
	return out;
}

} // namespace lumen::route
