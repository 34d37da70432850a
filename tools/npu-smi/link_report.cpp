// SPDX-License-Identifier: MIT
#include "link_report.hpp"

#include <cerrno>
#include <filesystem>
#include <string>

#include "sys/error.hpp"
#include "sysfs.hpp"

namespace npusmi {

const std::vector<std::string> kPortEngineCounters = {
	"naks_rx",   "naks_tx",	 "replay_timeouts", "ttl_drops", "credit_stalls",
	"failovers", "retrains", "data_tx",	    "data_rx",	 "seq_errors",
};

const std::vector<std::string> kChipCounters = {
	"fwd_pkts",	   "no_route_drops", "ttl_drops",	"access_errors",
	"e2e_retransmits", "e2e_duplicates", "mkey_violations", "lane_errors",
	"reroute_drops",   "e2e_timeouts",   "bad_pkts",
};

namespace {

namespace fs = std::filesystem;

// -1 in sysfs means "no neighbour".
std::optional<uint32_t> read_peer(const fs::path &path)
{
	const std::string s = read_line(path);
	if (s == "-1")
		return std::nullopt;
	return static_cast<uint32_t>(read_u64(path));
}

// Counters that exist are read (a bad one is an error like any attribute);
// a missing file is a counter this driver does not have.
std::vector<Counter> read_counters(const fs::path &dir, const std::vector<std::string> &names)
{
	std::vector<Counter> out;
	for (const auto &n : names)
		out.push_back(Counter{n, read_u64_opt(dir / n)});
	return out;
}

PortReport read_port(const fs::path &dir, unsigned port, bool full)
{
	PortReport p;
	p.port = port;
	p.state = read_line(dir / "state");
	p.peer_chip = read_peer(dir / "peer_chip");
	p.peer_port = read_peer(dir / "peer_port");
	p.light = read_u64(dir / "light") != 0;
	p.crc_errors = read_u64(dir / "crc_errors");
	p.frame_errors = read_u64(dir / "frame_errors");
	// What health and topology need ends here.
	if (!full)
		return p;
	p.enabled = read_u64(dir / "enabled") != 0;
	p.generation = read_u64(dir / "generation");
	p.tx_frames = read_u64(dir / "tx_frames");
	p.rx_frames = read_u64(dir / "rx_frames");
	p.tx_bytes = read_u64(dir / "tx_bytes");
	p.rx_bytes = read_u64(dir / "rx_bytes");
	p.retransmits = read_u64(dir / "retransmits");
	p.down_events = read_u64(dir / "down_events");
	p.engine = read_counters(dir, kPortEngineCounters);
	return p;
}

} // namespace

void read_card_links(const fs::path &dev, CardLinks &c, bool full)
{
	try {
		// The device's chip_id; links/chip_id (link engine) says the same.
		std::error_code ec;
		c.chip_id = static_cast<uint32_t>(read_u64(fs::exists(dev / "chip_id", ec)
								   ? dev / "chip_id"
								   : dev / "links" / "chip_id"));
		if (full)
			c.chip = read_counters(dev / "links", kChipCounters);
		for (unsigned p = 0; fs::exists(dev / "links" / ("port" + std::to_string(p)), ec);
		     p++)
			c.ports.push_back(
				read_port(dev / "links" / ("port" + std::to_string(p)), p, full));
	} catch (const lumen::sys::Error &e) {
		c.error = e.what();
	}
}

} // namespace npusmi
