// SPDX-License-Identifier: MIT
// npu-smi's parsing and rendering on the host: field lists and formats,
// CSV quoting, DRM fdinfo, a fake sysfs tree of cards (enumeration, the
// card report, health), the topology's hop statistics and the Prometheus
// exposition.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "card_report.hpp"
#include "exporter.hpp"
#include "fields.hpp"
#include "proc_report.hpp"
#include "render.hpp"
#include "topo.hpp"

namespace fs = std::filesystem;
using namespace npusmi;
using nlohmann::json;

namespace {

TEST(Fields, ParseKnownAndAll)
{
	auto f = parse_fields("index, serial ,temperature_c");
	ASSERT_EQ(f.size(), 3u);
	EXPECT_STREQ(f[0]->name, "index");
	EXPECT_STREQ(f[1]->name, "serial");
	EXPECT_STREQ(f[2]->name, "temperature_c");
	EXPECT_EQ(parse_fields("all").size(), card_fields().size());
}

TEST(Fields, RejectsUnknownAndEmpty)
{
	EXPECT_THROW(parse_fields("index,bogus"), std::invalid_argument);
	EXPECT_THROW(parse_fields(""), std::invalid_argument);
	EXPECT_THROW(parse_fields("index,,serial"), std::invalid_argument);
	EXPECT_THROW(parse_fields("index,"), std::invalid_argument);
	EXPECT_THROW(parse_format("xml"), std::invalid_argument);
	EXPECT_EQ(parse_format("csv"), Format::kCsv);
}

TEST(Fields, NamesAreUniqueJsonKeys)
{
	std::set<std::string> seen;
	for (const auto &f : card_fields()) {
		EXPECT_TRUE(seen.insert(f.name).second) << f.name;
		EXPECT_TRUE(std::regex_match(f.name, std::regex("[a-z][a-z0-9_]*"))) << f.name;
	}
	// The keys `info --json` had in schema 1 before query existed stay.
	for (const char *k : {"index", "pci_address", "device_node", "numa_node", "serial",
			      "chip_id", "driver_version", "firmware_version", "firmware_build_id",
			      "hw_version", "memory_total_bytes", "num_queues", "num_link_ports",
			      "temperature_c", "temperature_crit_c", "power_w", "power_cap_w"})
		EXPECT_TRUE(seen.count(k)) << k;
}

TEST(Csv, Quoting)
{
	EXPECT_EQ(csv_cell(json("plain")), "plain");
	EXPECT_EQ(csv_cell(json("a,b")), "\"a,b\"");
	EXPECT_EQ(csv_cell(json("say \"hi\"")), "\"say \"\"hi\"\"\"");
	EXPECT_EQ(csv_cell(json(nullptr)), "");
	EXPECT_EQ(csv_cell(json(42)), "42");
	EXPECT_EQ(csv_cell(json(true)), "true");
}

CardReport sample_card(unsigned i)
{
	CardReport c;
	c.index = i;
	c.pci_address = "0000:0" + std::to_string(i + 1) + ":00.0";
	c.serial = "LMN1-00000" + std::to_string(i + 1);
	c.chip_id = i;
	c.temperature_c = 41.25;
	c.state = "ok";
	c.reset_reason = "none";
	return c;
}

TEST(Render, QueryFormats)
{
	std::vector<CardReport> cards = {sample_card(0), sample_card(1)};
	cards[1].error = "no answer, within 2000 ms";
	evaluate_health(cards[1]);
	const auto fields = parse_fields("index,serial,temperature_c,error");

	const json j = json::parse(render_fields(cards, fields, Format::kJson));
	EXPECT_EQ(j["schema_version"], kSchemaVersion);
	ASSERT_EQ(j["devices"].size(), 2u);
	EXPECT_EQ(j["devices"][0]["serial"], "LMN1-000001");
	EXPECT_DOUBLE_EQ(j["devices"][0]["temperature_c"].get<double>(), 41.25);
	EXPECT_TRUE(j["devices"][0]["error"].is_null());
	EXPECT_TRUE(j["devices"][1]["serial"].is_null()); // error row: no values
	EXPECT_EQ(j["devices"][1]["index"], 1);

	const std::string csv = render_fields(cards, fields, Format::kCsv);
	EXPECT_EQ(csv, "index,serial,temperature_c,error\n"
		       "0,LMN1-000001,41.25,\n"
		       "1,,,\"no answer, within 2000 ms\"\n");

	const std::string table = render_fields(cards, fields, Format::kTable);
	EXPECT_NE(table.find("N/A"), std::string::npos);
	EXPECT_EQ(table.substr(0, 5), "index");
}

TEST(Render, InfoJsonHasEveryField)
{
	const json j = json::parse(render_info_json({sample_card(0)}));
	for (const auto &f : card_fields())
		EXPECT_TRUE(j["devices"][0].contains(f.name)) << f.name;
}

TEST(Fdinfo, ParsesLumenFile)
{
	const std::string text = "pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t5\n"
				 "drm-driver:\tlumen\ndrm-client-id:\t7\ndrm-pdev:\t0000:01:00.0\n"
				 "drm-engine-dma:\t123456 ns\ndrm-engine-capacity-dma:\t4\n"
				 "drm-total-device:\t2 MiB\ndrm-shared-device:\t0\n"
				 "drm-resident-device:\t2 MiB\ndrm-total-host:\t8 KiB\n"
				 "lumen-context:\t3\nlumen-context-state:\tbanned\n"
				 "lumen-faults:\t1\nlumen-queues:\t2\nlumen-jobs:\t0\n";
	const auto c = parse_fdinfo(text);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->client_id, 7u);
	EXPECT_EQ(c->pdev, "0000:01:00.0");
	EXPECT_EQ(c->engine_dma_ns, 123456u);
	EXPECT_EQ(c->memory.at("total-device"), 2u << 20);
	EXPECT_EQ(c->memory.at("total-host"), 8u << 10);
	EXPECT_EQ(c->context_state, "banned");
	EXPECT_EQ(c->faults, 1u);
	EXPECT_EQ(c->queues, 2u);
	// Another driver's DRM file, and no DRM file at all.
	EXPECT_FALSE(parse_fdinfo("drm-driver:\ti915\ndrm-client-id:\t1\n"));
	EXPECT_FALSE(parse_fdinfo("pos:\t0\nflags:\t0\n"));
	EXPECT_FALSE(parse_fdinfo("drm-driver:\tlumen\n")); // no client id
}

class FakeSysfs : public ::testing::Test {
      protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/test_npu_smiXXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		root_ = tmpl;
	}
	void TearDown() override { fs::remove_all(root_); }

	static void put(const fs::path &p, const std::string &v)
	{
		fs::create_directories(p.parent_path());
		std::ofstream(p) << v << "\n";
	}

	// A bound card as lumen.ko lays it out; bdf order differs from creation.
	fs::path card(const std::string &bdf, uint32_t chip)
	{
		const fs::path dev = root_ / "bus/pci/devices" / bdf;
		fs::create_directories(root_ / "bus/pci/drivers/lumen");
		fs::create_directories(dev / "accel" / ("accel" + std::to_string(chip)));
		fs::create_directory_symlink(dev, root_ / "bus/pci/drivers/lumen" / bdf);
		const std::pair<const char *, std::string> attrs[] = {
			{"serial", "LMN1-" + std::to_string(chip)},
			{"chip_id", std::to_string(chip)},
			{"board_rev", "1"},
			{"hw_version", "1.0"},
			{"fw_version", "1.2.3"},
			{"fw_abi_version", "1.1"},
			{"fw_build_id", "test"},
			{"mem_size", "268435456"},
			{"mem_used", "1048576"},
			{"num_queues", "4"},
			{"driver_version", "1.3.0"},
			{"device_errors", "0"},
			{"reset_count", "0"},
			{"reset_reason", "none"},
			{"state", "ok"},
			{"clk_core_mhz", "1000"},
			{"clk_mem_mhz", "1600"},
			{"busy_ns", "500000000"},
			{"uptime_ms", "2000"},
			{"numa_node", "-1"},
		};
		for (const auto &[k, v] : attrs)
			put(dev / k, v);
		const fs::path hw = dev / "hwmon/hwmon3";
		put(hw / "name", "lumen");
		put(hw / "temp1_input", "35000");
		put(hw / "temp1_crit", "95000");
		put(hw / "power1_input", "25000000");
		put(hw / "power1_cap", "150000000");
		put(hw / "power1_cap_max", "150000000");
		return dev;
	}

	fs::path root_;
};

TEST_F(FakeSysfs, EnumeratesInPciOrderAndReadsEverything)
{
	card("0000:03:00.0", 2);
	card("0000:01:00.0", 0);
	fs::create_directories(root_ / "bus/pci/drivers/lumen/module"); // not a device
	const auto cards = enumerate_cards(root_);
	ASSERT_EQ(cards.size(), 2u);
	EXPECT_EQ(cards[0].pci_address, "0000:01:00.0");
	EXPECT_EQ(cards[1].index, 1u);

	const CardReport r = read_card(cards[1]);
	ASSERT_FALSE(r.error) << *r.error;
	EXPECT_EQ(r.chip_id, 2u);
	EXPECT_EQ(r.device_node, "/dev/accel/accel2");
	EXPECT_EQ(r.memory_used_bytes, 1048576u);
	EXPECT_EQ(r.num_queues, 4u);
	EXPECT_EQ(r.clk_core_mhz, 1000u);
	EXPECT_DOUBLE_EQ(*r.temperature_c, 35.0);
	EXPECT_DOUBLE_EQ(*r.power_w, 25.0);
	EXPECT_DOUBLE_EQ(*r.busy_percent, 25.0); // 0.5 s of 2 s
	EXPECT_EQ(r.health, Health::kOk);
}

TEST_F(FakeSysfs, NoDriverIsNoCard)
{
	EXPECT_TRUE(enumerate_cards(root_).empty());
}

TEST_F(FakeSysfs, HealthFromStateTemperatureResetsLinks)
{
	const fs::path dev = card("0000:01:00.0", 0);
	const auto ref = enumerate_cards(root_)[0];
	put(dev / "state", "lost");
	EXPECT_EQ(read_card(ref).health, Health::kError);

	put(dev / "state", "ok");
	put(dev / "hwmon/hwmon3/temp1_input", "90000");
	auto r = read_card(ref);
	EXPECT_EQ(r.health, Health::kWarn);
	ASSERT_EQ(r.health_reasons.size(), 1u);
	EXPECT_NE(r.health_reasons[0].find("temperature"), std::string::npos);

	put(dev / "hwmon/hwmon3/temp1_input", "35000");
	put(dev / "reset_count", "1");
	put(dev / "reset_reason", "user");
	EXPECT_EQ(read_card(ref).health, Health::kOk); // asked for: no fault
	put(dev / "reset_reason", "fw_crash");
	EXPECT_EQ(read_card(ref).health, Health::kWarn);

	put(dev / "reset_reason", "none");
	put(dev / "mem_size", "lots"); // a broken attribute: the card is an error row
	r = read_card(ref);
	ASSERT_TRUE(r.error);
	EXPECT_NE(r.error->find("mem_size"), std::string::npos);
	EXPECT_EQ(r.health, Health::kError);
}

// A sysfs read that never returns (here: a FIFO nobody writes, whose open
// blocks) makes that card an error row within the timeout; the other card
// is read as usual.
TEST_F(FakeSysfs, WedgedReadIsAnErrorRowWithinTheTimeout)
{
	card("0000:01:00.0", 0);
	const fs::path wedged = card("0000:02:00.0", 1);
	fs::remove(wedged / "serial");
	ASSERT_EQ(mkfifo((wedged / "serial").c_str(), 0600), 0);
	const auto start = std::chrono::steady_clock::now();
	const auto reports =
		collect_reports(enumerate_cards(root_), std::chrono::milliseconds(200));
	const auto took = std::chrono::steady_clock::now() - start;
	EXPECT_LT(took, std::chrono::seconds(2));
	ASSERT_EQ(reports.size(), 2u);
	EXPECT_FALSE(reports[0].error);
	ASSERT_TRUE(reports[1].error);
	EXPECT_NE(reports[1].error->find("within 200 ms"), std::string::npos);
	EXPECT_EQ(reports[1].health, Health::kError);
	// Let the reader go, so its thread ends before the tree is removed.
	const int fd = open((wedged / "serial").c_str(), O_WRONLY | O_NONBLOCK);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "x\n", 2), 2);
	close(fd);
}

TEST_F(FakeSysfs, BusyBetweenSamplesAndAcrossReset)
{
	card("0000:01:00.0", 0);
	const auto ref = enumerate_cards(root_)[0];
	CardReport prev = read_card(ref);
	CardReport now = prev;
	now.busy_ns = *prev.busy_ns + 900'000'000;
	now.uptime_ms = *prev.uptime_ms + 1000;
	compute_busy(now, &prev);
	EXPECT_DOUBLE_EQ(*now.busy_percent, 90.0);
	now.uptime_ms = 100; // reset in between: since the reset
	now.busy_ns = 10'000'000;
	compute_busy(now, &prev);
	EXPECT_DOUBLE_EQ(*now.busy_percent, 10.0);
}

// A ring of n chips, all ports up.
Topology ring(unsigned n)
{
	Topology t;
	t.source = "test";
	for (unsigned i = 0; i < n; i++) {
		TopoChip c;
		c.id = i;
		c.ports.push_back({0, "up", (i + 1) % n, 1u});
		c.ports.push_back({1, "up", (i + n - 1) % n, 0u});
		t.chips[i] = c;
	}
	return t;
}

TEST(Topo, RingHops)
{
	const Topology t = ring(4);
	EXPECT_EQ(count_fibers(t), 4u);
	const HopStats s = hop_stats(t);
	EXPECT_EQ(s.histogram.at(1), 8u); // 4 chips x 2 neighbours
	EXPECT_EQ(s.histogram.at(2), 4u);
	EXPECT_EQ(s.unreachable, 0u);
	const auto m = hop_matrix(t);
	EXPECT_EQ(m[0][2], 2u);
	EXPECT_EQ(m[1][1], 0u);
}

TEST(Topo, CutRingAndPartition)
{
	Topology t = ring(4);
	t.chips[0].ports[0].state = "down"; // 0-1 cut (seen from 0 only)
	t.chips[1].ports[1].state = "down";
	EXPECT_EQ(count_fibers(t), 3u);
	EXPECT_EQ(hop_stats(t).histogram.at(3), 2u); // 0 <-> 1 the long way
	t.chips[2].ports[0].state = "down";	     // 2-3 cut too: two halves
	t.chips[3].ports[1].state = "down";
	const HopStats s = hop_stats(t);
	EXPECT_EQ(s.unreachable, 8u);
	const json j = topo_json(t, true, true);
	EXPECT_EQ(j["chips"], 4);
	EXPECT_EQ(j["unreachable_pairs"], 8);
	EXPECT_TRUE(j["matrix"]["hops"][0][1].is_null());
	EXPECT_EQ(j["neighbors"].size(), 4u);
}

TEST(Topo, FromFabricManagerJson)
{
	const json status = json::parse(R"({"shape":"ring:2","links_down":1})");
	const json topo = json::parse(R"({"chips":[
	  {"id":0,"serial":"A","ports":[{"port":0,"state":"up","peer_chip":1,"peer_port":1},
	                                {"port":2,"state":"down"}]},
	  {"id":1,"serial":"B","ports":[{"port":1,"state":"up","peer_chip":0,"peer_port":0}]}]})");
	const Topology t = topology_from_fm(status, topo);
	EXPECT_EQ(t.shape, "ring:2");
	EXPECT_EQ(t.links_not_up, 1u);
	EXPECT_EQ(count_fibers(t), 1u);
	EXPECT_EQ(render_topo_csv(t, false),
		  "source,shape,chips,fibers_up,links_not_up,max_hops,unreachable_pairs,"
		  "hop_histogram\nfabric-manager,ring:2,2,1,1,1,0,1:2\n");
	EXPECT_THROW(topology_from_fm(status, json::parse(R"({"nochips":1})")), json::exception);
}

TEST(Prometheus, Exposition)
{
	std::vector<CardReport> cards = {sample_card(0), sample_card(1)};
	cards[0].serial = "odd\"serial\\";
	cards[0].links.ports.push_back(PortReport{});
	cards[0].links.ports.back().state = "up";
	cards[1].error = "gone";
	std::vector<ProcessUse> procs(1);
	const std::string out = render_prometheus(cards, procs);
	EXPECT_NE(out.find("serial=\"odd\\\"serial\\\\\""), std::string::npos);
	EXPECT_NE(out.find("lumen_card_readable{card=\"1\",pci_address=\"0000:02:00.0\"} 0"),
		  std::string::npos);
	EXPECT_NE(out.find("lumen_link_port_up{card=\"0\",pci_address=\"0000:01:00.0\",port=\"+x\"}"
			   " 1"),
		  std::string::npos);
	EXPECT_NE(out.find("lumen_processes{card=\"0\",pci_address=\"0000:01:00.0\"} 1"),
		  std::string::npos);
	// Every sample line belongs to the family announced before it, and
	// every counter's name ends in _total.
	std::istringstream in(out);
	std::string line, family, type;
	const std::regex sample("([a-z_]+)\\{[^}]*\\} [-+0-9.e]+");
	while (std::getline(in, line)) {
		if (line.rfind("# TYPE ", 0) == 0) {
			std::istringstream w(line.substr(7));
			w >> family >> type;
			if (type == "counter") {
				EXPECT_EQ(family.substr(family.size() - 6), "_total") << family;
			}
			continue;
		}
		if (line.rfind("# HELP ", 0) == 0)
			continue;
		std::smatch m;
		ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
		EXPECT_EQ(m[1], family) << line;
	}
}

} // namespace
