// SPDX-License-Identifier: MIT
// The runtime's side of lumen-fm's control socket (docs/fabric-manager.md):
// one request line, one JSON answer line, a connection per request, bounded
// in time so a wedged manager cannot hang the caller.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace lumen::rt {

// $LUMEN_FM_SOCKET, else /run/lumen-fm/fm.sock.
std::string fabric_socket_path();

// Sends line, returns the answer object. Throws Error:
// FABRIC_UNAVAILABLE when nobody answers (no socket, refused, no answer
// within timeout_ms, a garbled answer) or the manager has no routes yet;
// INVALID_CHIP, INVALID_ARGUMENT or UNREACHABLE for the manager's error
// codes; each with the manager's message.
nlohmann::json fabric_request(const std::string &line, int timeout_ms = 2000);

} // namespace lumen::rt
