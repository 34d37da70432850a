// SPDX-License-Identifier: MIT
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "card_report.hpp"

namespace npusmi {

// Version of the machine-readable output (JSON and CSV, docs/npu-smi.md).
// Fields are only ever added within one schema version; a rename, removal
// or change of meaning bumps it.
inline constexpr int kSchemaVersion = 1;

// One per-card field of `info --json` and `query`: its name is the JSON key
// and the CSV column header.
struct Field {
	const char *name;
	const char *help;
	std::function<nlohmann::json(const CardReport &)> get;
};

// Every field, in the order of `--list-fields` and of `info --json`.
const std::vector<Field> &card_fields();

// Parses "a,b,c" (blanks around names allowed) into fields; "all" is every
// field. Throws std::invalid_argument naming an unknown or empty name.
std::vector<const Field *> parse_fields(const std::string &list);

enum class Format { kTable, kCsv, kJson };

// Parses csv|json|table; throws std::invalid_argument otherwise.
Format parse_format(const std::string &s);

// One CSV cell: null is empty, strings are quoted when they hold a comma,
// quote or line break (RFC 4180), numbers as JSON writes them.
std::string csv_cell(const nlohmann::json &v);

// The cards' chosen fields. JSON: {"schema_version":1,"devices":[{...}]};
// CSV: a header of field names, one row per card; table: aligned columns.
// A card that could not be read has its identity and "error" (JSON), or
// empty cells and its error in the "error" column when chosen (CSV).
std::string render_fields(const std::vector<CardReport> &cards,
			  const std::vector<const Field *> &fields, Format fmt);

std::string render_field_list();

} // namespace npusmi
