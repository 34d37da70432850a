// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace npusmi {

// Reading attributes of the driver's sysfs files: one value and a newline
// each (kmod/lumen_sysfs.c). Everything npu-smi shows comes from here or
// from /proc, so it needs no device context and no privilege.

// First line of a file; nullopt if it does not exist or cannot be read.
std::optional<std::string> try_read_line(const std::filesystem::path &path);

// A whole (small, procfs or sysfs) file; nullopt if it cannot be read.
std::optional<std::string> try_read_file(const std::filesystem::path &path);

// First line of a file; throws lumen::sys::Error naming the file.
std::string read_line(const std::filesystem::path &path);

// A decimal attribute; throws lumen::sys::Error naming the file.
uint64_t read_u64(const std::filesystem::path &path);

// A decimal attribute the driver may lack (nullopt); a file that exists but
// holds no number throws like read_u64.
std::optional<uint64_t> read_u64_opt(const std::filesystem::path &path);

// Writes value to an attribute; throws lumen::sys::Error with the errno and
// a message naming the file (EACCES: "needs root").
void write_attr(const std::filesystem::path &path, const std::string &value);

// Parses a whole string as an unsigned decimal number (no sign, no
// trailing text); nullopt otherwise.
std::optional<uint64_t> parse_u64(const std::string &s);

} // namespace npusmi
