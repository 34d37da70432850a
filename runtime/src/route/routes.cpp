// SPDX-License-Identifier: MIT
#include "route/routes.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <stdexcept>
#include <utility>

namespace lumen::route {

uint32_t RouteEntry::word() const noexcept
{
	if (!valid)
		return 0;
	return lumen_route_word(port, alt_port, lane, fixed_lane);
}

RouteEntry RouteEntry::decode(uint32_t w) noexcept
{
	RouteEntry e;
	e.valid = (w & LUMEN_ROUTE_W_VALID) != 0;
	e.port = static_cast<uint8_t>(w & LUMEN_ROUTE_W_PORT_MASK);
	e.alt_port = static_cast<uint8_t>((w & LUMEN_ROUTE_W_ALT_MASK) >> LUMEN_ROUTE_W_ALT_SHIFT);
	e.lane = static_cast<uint8_t>((w & LUMEN_ROUTE_W_LANE_MASK) >> LUMEN_ROUTE_W_LANE_SHIFT);
	e.fixed_lane = (w & LUMEN_ROUTE_W_FIXED_LANE) != 0;
	return e;
}

std::string RouteEntry::str() const
{
	if (!valid)
		return "-";
	std::string s = port_name(port);
	if (alt_port != kNoPort)
		s += " alt " + port_name(alt_port);
	s += " lane " + std::to_string(lane);
	if (fixed_lane)
		s += " fixed";
	return s;
}

void Routes::Free::operator()(uint32_t *p) const noexcept
{
	if (mapped)
		munmap(p, mapped);
	else
		std::free(p);
}

std::unique_ptr<uint32_t[], Routes::Free> Routes::zeroed(size_t words)
{
	constexpr size_t kHuge = size_t(2) << 20;
	const size_t bytes = words * sizeof(uint32_t);
	if (bytes >= 2 * kHuge) {
		// Fresh anonymous pages are zero; huge ones fault 512 times less.
		const size_t len = (bytes + kHuge - 1) / kHuge * kHuge;
		void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED)
			throw std::bad_alloc();
		madvise(p, len, MADV_HUGEPAGE); // a hint: fine if refused
		return std::unique_ptr<uint32_t[], Free>(static_cast<uint32_t *>(p), Free{len});
	}
	auto *p = static_cast<uint32_t *>(std::calloc(words ? words : 1, sizeof(uint32_t)));
	if (!p)
		throw std::bad_alloc();
	return std::unique_ptr<uint32_t[], Free>(p, Free{0});
}

Routes::Routes(uint32_t id_limit) : limit_(id_limit)
{
	if (id_limit > kMaxChips)
		throw std::invalid_argument("route tables hold " + std::to_string(kMaxChips) +
					    " chip ids, not " + std::to_string(id_limit));
	words_ = zeroed(size_t(id_limit) * id_limit);
	dateline_.assign(id_limit, 0);
}

Routes::Routes(const Routes &o) : limit_(o.limit_), dateline_(o.dateline_), changes_(o.changes_)
{
	const size_t n = size_t(limit_) * limit_;
	words_ = zeroed(n);
	std::memcpy(words_.get(), o.words_.get(), n * sizeof(uint32_t));
}

Routes::Routes(Routes &&o) noexcept
    : limit_(std::exchange(o.limit_, 0)), words_(std::move(o.words_)),
      dateline_(std::move(o.dateline_)), changes_(std::exchange(o.changes_, 0))
{
}

Routes &Routes::operator=(Routes &&o) noexcept
{
	limit_ = std::exchange(o.limit_, 0);
	words_ = std::move(o.words_);
	dateline_ = std::move(o.dateline_);
	changes_ = std::exchange(o.changes_, 0);
	return *this;
}

Routes &Routes::operator=(const Routes &o)
{
	if (this != &o) {
		Routes copy(o);
		*this = std::move(copy);
	}
	return *this;
}

bool Routes::operator==(const Routes &o) const noexcept
{
	return limit_ == o.limit_ && dateline_ == o.dateline_ &&
	       (limit_ == 0 || std::memcmp(words_.get(), o.words_.get(),
					   size_t(limit_) * limit_ * sizeof(uint32_t)) == 0);
}

void Routes::set(uint32_t chip, uint32_t dest, uint32_t word)
{
	if (chip >= limit_ || dest >= limit_)
		throw std::out_of_range("route entry " + std::to_string(chip) + " -> " +
					std::to_string(dest) + " is beyond chip id " +
					std::to_string(limit_ ? limit_ - 1 : 0));
	uint32_t &w = words_[size_t(chip) * limit_ + dest];
	changes_ += w != word;
	w = word;
}

void Routes::set_datelines(uint32_t chip, uint8_t mask)
{
	if (chip >= limit_)
		throw std::out_of_range("datelines of chip " + std::to_string(chip) +
					" are out of range");
	dateline_[chip] = mask;
}

void Routes::set_dateline(uint32_t chip, unsigned port, bool on)
{
	if (chip >= limit_ || port >= kMaxPorts)
		throw std::out_of_range("dateline of port " + std::to_string(port) + " of chip " +
					std::to_string(chip) + " is out of range");
	if (on)
		dateline_[chip] |= static_cast<uint8_t>(1u << port);
	else
		dateline_[chip] &= static_cast<uint8_t>(~(1u << port));
}

std::vector<uint32_t> Routes::chip_table(uint32_t chip) const
{
	std::vector<uint32_t> t(LUMEN_ROUTE_TABLE_SIZE, 0);
	if (chip < limit_)
		std::memcpy(t.data(), row(chip), size_t(limit_) * sizeof(uint32_t));
	return t;
}

} // namespace lumen::route
