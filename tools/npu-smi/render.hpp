// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "card_report.hpp"

namespace npusmi {

// Version of the machine-readable output. Fields are only ever added within
// one schema version; a rename or removal bumps it.
inline constexpr int kJsonSchemaVersion = 1;

std::string render_info_table(const std::vector<CardReport> &cards);
std::string render_info_json(const std::vector<CardReport> &cards);

} // namespace npusmi
