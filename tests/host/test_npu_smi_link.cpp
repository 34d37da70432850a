// SPDX-License-Identifier: MIT
// npu-smi link's sysfs reader and renderers on sysfs trees laid out as the
// driver writes them (kmod/lumen_link.c): a driver before the link engine
// (no engine counters), one with all of them, and one missing a few.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "link_report.hpp"
#include "render.hpp"

namespace fs = std::filesystem;
using namespace npusmi;

namespace {

class SysfsTree : public ::testing::Test {
      protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/test_npu_smi_linkXXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		root_ = tmpl;
	}
	void TearDown() override { fs::remove_all(root_); }

	static void put(const fs::path &p, const std::string &v)
	{
		fs::create_directories(p.parent_path());
		std::ofstream(p) << v << "\n";
	}

	// A card's PCI directory: chip_id and two ports of a 1.0/1.1 driver;
	// with engine, every link-engine counter as value base + its index.
	fs::path card(const std::string &name, uint32_t chip, bool engine, uint64_t base = 0)
	{
		fs::path dev = root_ / name;
		put(dev / "chip_id", std::to_string(chip));
		for (unsigned p = 0; p < 2; p++) {
			fs::path d = dev / "links" / ("port" + std::to_string(p));
			put(d / "state", "up");
			put(d / "peer_chip", std::to_string(chip + 1));
			put(d / "peer_port", std::to_string(1 - p));
			put(d / "light", "1");
			put(d / "enabled", "1");
			put(d / "generation", "3");
			for (const char *n :
			     {"tx_frames", "rx_frames", "tx_bytes", "rx_bytes", "crc_errors",
			      "frame_errors", "retransmits", "down_events"})
				put(d / n, "0");
			if (engine)
				for (size_t i = 0; i < kPortEngineCounters.size(); i++)
					put(d / kPortEngineCounters[i], std::to_string(base + i));
		}
		if (engine) {
			put(dev / "links" / "chip_id", std::to_string(chip));
			for (size_t i = 0; i < kChipCounters.size(); i++)
				put(dev / "links" / kChipCounters[i],
				    std::to_string(base + 100 + i));
		}
		return dev;
	}

	fs::path root_;
};

CardLinks read(const fs::path &dev, unsigned index)
{
	CardLinks c;
	c.index = index;
	c.pci_address = dev.filename();
	read_card_links(dev, c);
	return c;
}

} // namespace

TEST_F(SysfsTree, OlderDriverHasNoEngineCounters)
{
	CardLinks c = read(card("0000:01:00.0", 4, false), 0);
	ASSERT_FALSE(c.error) << *c.error;
	EXPECT_EQ(c.chip_id, 4u);
	ASSERT_EQ(c.ports.size(), 2u);
	ASSERT_EQ(c.ports[0].engine.size(), kPortEngineCounters.size());
	for (const auto &k : c.ports[0].engine)
		EXPECT_FALSE(k.value) << k.name;
	for (const auto &k : c.chip)
		EXPECT_FALSE(k.value) << k.name;

	const std::string table = render_link_table({c}, false);
	EXPECT_EQ(table.find("Link engine"), std::string::npos) << table;
	auto j = nlohmann::json::parse(render_link_json({c}));
	EXPECT_EQ(j["schema_version"], 1);
	EXPECT_TRUE(j["cards"][0]["ports"][0]["counters"]["naks_rx"].is_null());
	EXPECT_TRUE(j["cards"][0]["chip_counters"]["fwd_pkts"].is_null());
	EXPECT_EQ(render_link_table({c}, true).find("+x"), std::string::npos);
}

TEST_F(SysfsTree, EngineCountersAreShown)
{
	CardLinks c = read(card("0000:01:00.0", 2, true, 10), 0);
	ASSERT_FALSE(c.error) << *c.error;
	EXPECT_EQ(*c.ports[1].engine[0].value, 10u); // naks_rx
	EXPECT_EQ(c.ports[1].engine[9].name, "seq_errors");
	EXPECT_EQ(*c.ports[1].engine[9].value, 19u);
	EXPECT_EQ(c.chip[0].name, "fwd_pkts");
	EXPECT_EQ(*c.chip[10].value, 120u); // bad_pkts

	const std::string table = render_link_table({c}, false);
	EXPECT_NE(table.find("Link engine, per port:"), std::string::npos) << table;
	EXPECT_NE(table.find("Link engine, per chip:"), std::string::npos) << table;
	EXPECT_NE(table.find("Seq err"), std::string::npos);
	EXPECT_NE(table.find(" 120\n"), std::string::npos) << table;
	auto j = nlohmann::json::parse(render_link_json({c}));
	EXPECT_EQ(j["cards"][0]["ports"][1]["counters"]["credit_stalls"], 14);
	EXPECT_EQ(j["cards"][0]["chip_counters"]["no_route_drops"], 111);
	EXPECT_EQ(j["cards"][0]["chip_counters"].size(), kChipCounters.size());
	// NAKs are errors: --errors keeps the ports and the chip.
	const std::string errs = render_link_table({c}, true);
	EXPECT_NE(errs.find("+x"), std::string::npos) << errs;
}

TEST_F(SysfsTree, MissingCountersPrintAsDashOrNull)
{
	fs::path dev = card("0000:02:00.0", 7, true, 0);
	fs::remove(dev / "links" / "port0" / "failovers");
	fs::remove(dev / "links" / "lane_errors");
	CardLinks c = read(dev, 1);
	ASSERT_FALSE(c.error) << *c.error;
	EXPECT_FALSE(c.ports[0].engine[5].value); // failovers
	EXPECT_TRUE(c.ports[1].engine[5].value);
	EXPECT_FALSE(c.chip[7].value); // lane_errors
	auto j = nlohmann::json::parse(render_link_json({c}));
	EXPECT_TRUE(j["cards"][0]["ports"][0]["counters"]["failovers"].is_null());
	EXPECT_TRUE(j["cards"][0]["chip_counters"]["lane_errors"].is_null());
	EXPECT_EQ(j["cards"][0]["chip_counters"]["reroute_drops"], 108);
	const std::string table = render_link_table({c}, false);
	EXPECT_NE(table.find(" -"), std::string::npos) << table;
}

TEST_F(SysfsTree, ABadCounterIsAnError)
{
	fs::path dev = card("0000:03:00.0", 1, true, 0);
	put(dev / "links" / "port1" / "naks_tx", "lots");
	CardLinks c = read(dev, 2);
	ASSERT_TRUE(c.error);
	EXPECT_NE(c.error->find("naks_tx"), std::string::npos) << *c.error;
	EXPECT_NE(render_link_table({c}, false).find("error:"), std::string::npos);
}
