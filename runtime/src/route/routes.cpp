// SPDX-License-Identifier: MIT
#include "route/routes.hpp"

#include <stdexcept>

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

Routes::Routes(uint32_t id_limit)
    : limit_(id_limit), words_(size_t(id_limit) * id_limit, 0), dateline_(id_limit, 0)
{
	if (id_limit > kMaxChips)
		throw std::invalid_argument("route tables hold " + std::to_string(kMaxChips) +
					    " chip ids, not " + std::to_string(id_limit));
}

void Routes::set(uint32_t chip, uint32_t dest, uint32_t word)
{
	if (chip >= limit_ || dest >= limit_)
		throw std::out_of_range("route entry " + std::to_string(chip) + " -> " +
					std::to_string(dest) + " is beyond chip id " +
					std::to_string(limit_ - 1));
	words_[size_t(chip) * limit_ + dest] = word;
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
		for (uint32_t d = 0; d < limit_; d++)
			t[d] = words_[size_t(chip) * limit_ + d];
	return t;
}

} // namespace lumen::route
