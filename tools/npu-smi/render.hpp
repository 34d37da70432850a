// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "card_report.hpp"
#include "fields.hpp"
#include "link_report.hpp"

namespace npusmi {

// Version of the machine-readable output. Fields are only ever added within
// one schema version; a rename or removal bumps it.
inline constexpr int kJsonSchemaVersion = kSchemaVersion;

// `npu-smi info`: a table of the main fields; JSON and CSV hold every field
// of card_fields() (the same as `query --fields all`).
std::string render_info_table(const std::vector<CardReport> &cards);
std::string render_info_json(const std::vector<CardReport> &cards);
std::string render_info_csv(const std::vector<CardReport> &cards);

// `npu-smi link`: one row per port of every card; --errors keeps the ports
// with errors or down events. With a link-engine driver, sections of port
// and chip counters follow (those a driver lacks show "-"). JSON:
// schema_version 1, cards[].ports[] (with counters{}), cards[].chip_counters{}
// (null for a counter the driver lacks).
std::string render_link_table(const std::vector<CardLinks> &cards, bool errors_only);
std::string render_link_json(const std::vector<CardLinks> &cards);
// One row per port: card, chip and the port's fields as JSON names them.
std::string render_link_csv(const std::vector<CardLinks> &cards, bool errors_only);

// `npu-smi health`: one row per card with its level and reasons.
std::string render_health_table(const std::vector<CardReport> &cards);
std::string render_health_json(const std::vector<CardReport> &cards);
std::string render_health_csv(const std::vector<CardReport> &cards);

} // namespace npusmi
