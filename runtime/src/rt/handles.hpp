// SPDX-License-Identifier: MIT
// Handle lookups of streams and events, shared by the API files.
#pragma once

#include <lumen/lumen.h>

#include <cstdint>
#include <memory>

namespace lumen::rt {

class Stream;
class Event;

std::shared_ptr<Stream> stream_from_handle(lumen_stream_t h);
std::shared_ptr<Event> event_from_handle(lumen_event_t h);
// Destroy a stream / an event / a window if h is a live one (context
// teardown).
void destroy_stream_handle(uintptr_t h) noexcept;
void destroy_event_handle(uintptr_t h) noexcept;
void destroy_window_handle(uintptr_t h) noexcept;

} // namespace lumen::rt
