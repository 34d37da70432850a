// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "card_report.hpp"
#include "proc_report.hpp"

namespace npusmi {

// Prometheus text exposition format 0.0.4 of the cards, their link ports
// and the processes using them. Metric names carry their unit; counters
// end in _total; every metric has HELP and TYPE.
std::string render_prometheus(const std::vector<CardReport> &cards,
			      const std::vector<ProcessUse> &procs);

// Label value escaping of the exposition format (\\, \", \n).
std::string prom_escape(const std::string &s);

} // namespace npusmi

#include <chrono>
#include <functional>

namespace npusmi {

// Serves GET /metrics on listen ("ADDR:PORT", "[V6ADDR]:PORT") with what
// scrape() returns, one connection at a time, each bounded by timeout;
// other paths get 404. Returns after max_requests scrapes (0: never).
// Throws std::invalid_argument for a bad address, lumen::sys::Error if it
// cannot listen.
void serve_metrics(const std::string &listen, const std::function<std::string()> &scrape,
		   std::chrono::milliseconds timeout, unsigned max_requests);

} // namespace npusmi
