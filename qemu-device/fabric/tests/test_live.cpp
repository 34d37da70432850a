// SPDX-License-Identifier: MIT
// lumen-fabric for real: the process, its sockets, fake card ports speaking
// lumen_fiber.h and the control socket. Seeded; each test well under 10 s.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <thread>

#include <sys/stat.h>

#include "fiber_client.hpp"
#include "topology.hpp"

using namespace lumen::fabric;
using namespace lumen::fabric::test;
using nlohmann::json;

namespace {

constexpr int kTimeoutMs = 2000; // for things that must happen
constexpr int kQuietMs = 300;	 // for things that must not

// Peer of chip.port in torus:3x2, worked out here and not by the fabric's code:
// chip = x + 3y; ports 0..3 = +x -x +y -y.
Endpoint torus3x2_peer(Endpoint e)
{
	const uint32_t x = e.chip % 3, y = e.chip / 3;
	switch (e.port) {
	case 0:
		return {(x + 1) % 3 + 3 * y, 1};
	case 1:
		return {(x + 2) % 3 + 3 * y, 0};
	case 2:
		return {x + 3 * ((y + 1) % 2), 3};
	default:
		return {x + 3 * ((y + 1) % 2), 2};
	}
}

std::vector<uint8_t> pattern(size_t size, uint32_t salt)
{
	std::vector<uint8_t> p(size);
	uint32_t v = salt * 2654435761u + 1;
	for (auto &b : p) {
		v = v * 1103515245u + 12345u;
		b = uint8_t(v >> 16);
	}
	return p;
}

// A fabric with torus:3x2 and every one of its 24 ports connected and lit.
struct Plant {
	explicit Plant(std::vector<std::string> extra_args = {})
	    : process(LUMEN_FABRIC_BINARY, with_defaults(std::move(extra_args))),
	      control(process.control_socket())
	{
		for (uint32_t chip = 0; chip < 6; chip++)
			for (uint8_t port = 0; port < 4; port++)
				ports[Endpoint{chip, port}] = std::make_unique<FiberPort>(
					process.port_socket(), chip, port);
		// Early ports were told "dark" in their ACK and hear LIGHT on when
		// their peer arrives; late ones were told "lit" in the ACK.
		for (auto &[ep, port] : ports) {
			EXPECT_EQ(port->ack.status, LUMEN_FIBER_OK);
			EXPECT_NE(port->ack.fiber_id, LUMEN_FIBER_ID_NONE);
			if (!port->ack.light) {
				auto light = port->read_light(kTimeoutMs);
				if (!light) {
					ADD_FAILURE() << ep.str() << " never lit";
					continue;
				}
				EXPECT_EQ(light->on, 1);
				EXPECT_EQ(light->reason, LUMEN_FIBER_LIGHT_PEER_UP);
				EXPECT_EQ(light->fiber_id, port->ack.fiber_id);
			}
		}
	}
	static std::vector<std::string> with_defaults(std::vector<std::string> args)
	{
		args.insert(args.begin(), {"--topology", "torus:3x2", "--seed", "1234"});
		return args;
	}
	FiberPort &port(const std::string &name) { return *ports.at(parse_port(name)); }
	json ok(const json &req)
	{
		json reply = control.request(req);
		EXPECT_EQ(reply.value("ok", false), true) << req.dump() << " -> " << reply.dump();
		return reply;
	}
	json fiber_counters(const std::string &port_name)
	{
		json reply = ok({{"cmd", "counters"}, {"port", port_name}});
		return reply["fibers"].at(0);
	}

	FabricProcess process;
	ControlClient control;
	std::map<Endpoint, std::unique_ptr<FiberPort>> ports;
};

} // namespace

TEST(FabricLive, CarriesFramesToThePatchedPeerByteExact)
{
	Plant plant;
	json list = plant.ok({{"cmd", "list"}});
	EXPECT_EQ(list["fibers"].size(), 12u);
	EXPECT_EQ(list["seed"], 1234u);
	EXPECT_EQ(list["topology"], "torus:3x2");
	// Every port sends one frame of its own; sizes from 1 byte to the maximum.
	uint32_t salt = 0;
	std::map<Endpoint, std::vector<uint8_t>> sent;
	for (auto &[ep, port] : plant.ports) {
		size_t size = salt == 0 ? LUMEN_FIBER_MAX_PAYLOAD : 1 + salt * 97;
		sent[ep] = pattern(size, salt++);
		port->send_data(sent[ep]);
	}
	for (auto &[ep, port] : plant.ports) {
		auto got = plant.ports.at(torus3x2_peer(ep))->read_data(kTimeoutMs);
		ASSERT_TRUE(got) << "nothing from " << ep.str();
		EXPECT_EQ(*got, sent[ep]) << "from " << ep.str();
	}
	// Nothing else arrives anywhere.
	for (auto &[ep, port] : plant.ports)
		EXPECT_FALSE(port->read_record(10)) << ep.str();
	json c = plant.fiber_counters("0.+x");
	EXPECT_EQ(c["a"], "0.+x");
	EXPECT_EQ(c["b"], "1.-x");
	EXPECT_EQ(c["state"], "lit");
	EXPECT_EQ(c["a_to_b"]["frames_out"], 1);
	const Endpoint first{0, 0};
	EXPECT_EQ(c["a_to_b"]["bytes_out"], sent[first].size());
	EXPECT_EQ(c["b_to_a"]["frames_out"], 1);
	EXPECT_EQ(c["a_to_b"]["bits_flipped"], 0);
}

TEST(FabricLive, CutDarkensBothEndsAndRestoreRelights)
{
	Plant plant;
	FiberPort &a = plant.port("0.+x"), &b = plant.port("1.-x");
	json reply = plant.ok({{"cmd", "cut"}, {"port", "1.-x"}});
	for (FiberPort *end : {&a, &b}) {
		auto light = end->read_light(kTimeoutMs);
		ASSERT_TRUE(light);
		EXPECT_EQ(light->on, 0);
		EXPECT_EQ(light->reason, LUMEN_FIBER_LIGHT_CUT);
	}
	// Dark: nothing passes either way; the sockets stay open.
	a.send_data(pattern(100, 1));
	b.send_data(pattern(100, 2));
	EXPECT_FALSE(b.read_record(kQuietMs));
	EXPECT_FALSE(a.read_record(10));
	EXPECT_FALSE(a.closed || b.closed);
	json c = plant.fiber_counters("0.+x");
	EXPECT_EQ(c["state"], "cut");
	EXPECT_EQ(c["cuts"], 1);
	EXPECT_EQ(c["a_to_b"]["dropped_dark"], 1);
	EXPECT_EQ(c["b_to_a"]["dropped_dark"], 1);
	// Other fibers are untouched.
	plant.port("3.+x").send_data(pattern(10, 3));
	EXPECT_TRUE(plant.port("4.-x").read_data(kTimeoutMs));

	plant.ok({{"cmd", "restore"}, {"fiber", c["id"]}});
	for (FiberPort *end : {&a, &b}) {
		auto light = end->read_light(kTimeoutMs);
		ASSERT_TRUE(light);
		EXPECT_EQ(light->on, 1);
		EXPECT_EQ(light->reason, LUMEN_FIBER_LIGHT_RESTORE);
	}
	a.send_data(pattern(200, 4));
	auto got = b.read_data(kTimeoutMs);
	ASSERT_TRUE(got);
	EXPECT_EQ(*got, pattern(200, 4));
	EXPECT_EQ(plant.fiber_counters("0.+x")["state"], "lit");
}

TEST(FabricLive, BitErrorsLossAndLatencyOnOneFiber)
{
	Plant plant;
	FiberPort &a = plant.port("2.+y"), &b = plant.port("5.-y");
	// ber 1 flips every payload bit: a deterministic check that real bits flip.
	plant.ok({{"cmd", "set"}, {"port", "2.+y"}, {"ber", 1.0}});
	auto sent = pattern(64, 9);
	a.send_data(sent);
	auto got = b.read_data(kTimeoutMs);
	ASSERT_TRUE(got);
	ASSERT_EQ(got->size(), sent.size());
	for (size_t i = 0; i < sent.size(); i++)
		EXPECT_EQ((*got)[i], uint8_t(~sent[i]));
	EXPECT_EQ(plant.fiber_counters("2.+y")["a_to_b"]["bits_flipped"], 64 * 8);

	plant.ok({{"cmd", "set"}, {"port", "2.+y"}, {"ber", 0}, {"loss", 1}});
	a.send_data(sent);
	EXPECT_FALSE(b.read_record(kQuietMs));
	EXPECT_EQ(plant.fiber_counters("2.+y")["a_to_b"]["dropped_loss"], 1);

	plant.ok({{"cmd", "set"}, {"port", "2.+y"}, {"loss", 0}, {"latency_us", 150000}});
	auto start = std::chrono::steady_clock::now();
	a.send_data(sent);
	ASSERT_TRUE(b.read_data(kTimeoutMs));
	auto took = std::chrono::steady_clock::now() - start;
	EXPECT_GE(took, std::chrono::milliseconds(150));
	EXPECT_LT(took, std::chrono::milliseconds(1000));
}

TEST(FabricLive, RepatchMovesPortsToTheirNewPeers)
{
	Plant plant;
	const auto t0 = std::chrono::steady_clock::now();
	json reply = plant.ok({{"cmd", "repatch"}, {"topology", "ring:6"}, {"dark_ms", 100}});
	EXPECT_EQ(reply["kept"], 4);
	EXPECT_EQ(reply["removed"].size(), 8u);
	EXPECT_EQ(reply["added"].size(), 2u);
	// Moved ports: dark, then lit on a new fiber after the switching time.
	for (const char *name : {"2.+x", "3.-x", "5.+x", "0.-x"}) {
		FiberPort &p = plant.port(name);
		auto off = p.read_light(kTimeoutMs);
		ASSERT_TRUE(off) << name;
		EXPECT_EQ(off->on, 0);
		EXPECT_EQ(off->reason, LUMEN_FIBER_LIGHT_REPATCH);
		auto on = p.read_light(kTimeoutMs);
		ASSERT_TRUE(on) << name;
		EXPECT_EQ(on->on, 1);
		EXPECT_EQ(on->fiber_id, off->fiber_id);
		EXPECT_NE(on->fiber_id, p.ack.fiber_id);
	}
	EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
	// y ports lose their fibers for good.
	for (uint32_t chip = 0; chip < 6; chip++)
		for (uint8_t port : {2, 3}) {
			auto off = plant.ports.at(Endpoint{chip, port})->read_light(kTimeoutMs);
			ASSERT_TRUE(off);
			EXPECT_EQ(off->on, 0);
			EXPECT_EQ(off->fiber_id, LUMEN_FIBER_ID_NONE);
		}
	// Unchanged fibers never blinked.
	for (const char *name : {"0.+x", "1.-x", "1.+x", "2.-x", "3.+x", "4.-x"})
		EXPECT_FALSE(plant.port(name).read_record(10)) << name;
	// Frames follow the new patching; the y ports are unpatched now.
	plant.port("2.+x").send_data(pattern(300, 5));
	auto got = plant.port("3.-x").read_data(kTimeoutMs);
	ASSERT_TRUE(got);
	EXPECT_EQ(*got, pattern(300, 5));
	plant.port("0.+y").send_data(pattern(30, 6));
	EXPECT_FALSE(plant.port("3.-y").read_record(kQuietMs));
	json list = plant.ok({{"cmd", "list"}});
	EXPECT_EQ(list["fibers"].size(), 6u);
	EXPECT_EQ(list["topology"], "ring:6");
	json ports = plant.ok({{"cmd", "ports"}})["ports"];
	EXPECT_EQ(ports.size(), 24u);
	for (const json &p : ports) {
		if (p["port"] == "0.+y") {
			EXPECT_EQ(p["dropped_unpatched"], 1);
		}
	}
	// Back to the torus: kept fibers keep their counters.
	EXPECT_EQ(plant.fiber_counters("2.+x")["a_to_b"]["frames_out"], 1);
	plant.ok({{"cmd", "repatch"}, {"topology", "torus:3x2"}, {"dark_ms", 0}});
	EXPECT_EQ(plant.ok({{"cmd", "list"}})["fibers"].size(), 12u);
}

TEST(FabricLive, APortThatStopsReadingBlocksNoOne)
{
	Plant plant({"--port-queue-bytes", "65536", "--fiber-queue-bytes", "65536"});
	FiberPort &sender = plant.port("0.+x");
	FiberPort &sleeper = plant.port("1.-x"); // never reads until the end
	// Flood until the fabric stops reading the sender (its socket fills).
	uint32_t sent = 0;
	auto last_accepted = std::chrono::steady_clock::now();
	while (std::chrono::steady_clock::now() - last_accepted < std::chrono::milliseconds(300)) {
		auto frame = pattern(4096, sent);
		std::memcpy(frame.data(), &sent, sizeof(sent));
		if (sender.try_send_data(frame)) {
			sent++;
			last_accepted = std::chrono::steady_clock::now();
		} else {
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		}
		ASSERT_LT(sent, 100000u) << "the fabric never pushed back";
	}
	EXPECT_GT(sent, 16u);
	// Everyone else still talks, both ways, promptly.
	for (const char *name : {"2.+x", "3.+x", "4.+y", "1.+x", "0.-x"}) {
		Endpoint from = parse_port(name);
		plant.ports.at(from)->send_data(pattern(512, from.chip));
		auto got = plant.ports.at(torus3x2_peer(from))->read_data(kTimeoutMs);
		ASSERT_TRUE(got) << "from " << name;
		EXPECT_EQ(*got, pattern(512, from.chip));
	}
	// The control socket answers too.
	plant.ok({{"cmd", "counters"}});
	// The sleeper wakes up: every frame, in order, byte-exact.
	for (uint32_t i = 0; i < sent; i++) {
		auto got = sleeper.read_data(kTimeoutMs);
		ASSERT_TRUE(got) << "frame " << i << " of " << sent;
		auto expected = pattern(4096, i);
		std::memcpy(expected.data(), &i, sizeof(i));
		ASSERT_EQ(*got, expected) << "frame " << i;
		// Keep the sender going so its queued tail gets through.
		sender.flush_pending();
	}
	json c = plant.fiber_counters("0.+x");
	EXPECT_EQ(c["a_to_b"]["frames_out"], sent);
	EXPECT_EQ(c["a_to_b"]["dropped_dark"], 0);
	EXPECT_EQ(c["state"], "lit");
	EXPECT_FALSE(sender.closed);
}

TEST(FabricLive, BadInputGetsAnErrorNotACrash)
{
	Plant plant;
	auto error = [&](const std::string &line) {
		json reply = json::parse(plant.control.request_line(line), nullptr, false);
		EXPECT_EQ(reply.value("ok", true), false) << line;
		return reply.value("error", std::string());
	};
	EXPECT_EQ(error("not json"), "request is not a JSON object");
	EXPECT_EQ(error("[1,2]"), "request is not a JSON object");
	EXPECT_EQ(error("{}"), "request needs \"cmd\": a command name");
	EXPECT_NE(error("{\"cmd\":\"explode\"}").find("unknown command 'explode'"),
		  std::string::npos);
	EXPECT_NE(error("{\"cmd\":\"cut\"}").find("name a fiber"), std::string::npos);
	EXPECT_EQ(error("{\"cmd\":\"cut\",\"fiber\":999}"), "no fiber 999");
	EXPECT_EQ(error("{\"cmd\":\"cut\",\"fiber\":-1}"),
		  "\"fiber\" must be a fiber id (see \"list\")");
	EXPECT_NE(error("{\"cmd\":\"cut\",\"port\":\"0.+q\"}").find("port must be"),
		  std::string::npos);
	EXPECT_EQ(error("{\"cmd\":\"cut\",\"port\":\"0.+z\"}"),
		  "port 0.+z is not patched to any fiber");
	EXPECT_EQ(error("{\"cmd\":\"cut\",\"port\":\"0.+x\",\"fiber\":1}"),
		  "name fibers one way only: \"fiber\", \"port\" or \"all\"");
	EXPECT_EQ(error("{\"cmd\":\"set\",\"all\":true,\"ber\":2}"), "ber must be between 0 and 1");
	EXPECT_EQ(error("{\"cmd\":\"set\",\"all\":true,\"rate\":\"fast\"}"),
		  "\"rate\" must be a number");
	EXPECT_NE(error("{\"cmd\":\"set\",\"all\":true}").find("at least one of"),
		  std::string::npos);
	EXPECT_NE(
		error("{\"cmd\":\"repatch\",\"topology\":\"torus:0x2\"}").find("positive integer"),
		std::string::npos);
	EXPECT_NE(error("{\"cmd\":\"repatch\"}").find("needs \"topology\""), std::string::npos);
	EXPECT_EQ(error("{\"cmd\":\"repatch\",\"topology\":\"ring:3\",\"dark_ms\":-5}"),
		  "dark_ms must be between 0 and 60000");
	// A failed set changed nothing, and the request id comes back.
	json reply = plant.ok({{"cmd", "list"}, {"id", 77}});
	EXPECT_EQ(reply["id"], 77);
	EXPECT_EQ(reply["defaults"]["ber"], 0);

	// Wire protocol abuse: the offender is closed, nobody else notices.
	FiberPort garbage(plant.process.port_socket());
	garbage.send_raw("GET / HTTP/1.0\r\n\r\n", 18);
	EXPECT_FALSE(garbage.read_record(kTimeoutMs));
	EXPECT_TRUE(garbage.closed);

	FiberPort twin(plant.process.port_socket(), 0, 0); // 0.+x is taken
	EXPECT_EQ(twin.ack.status, LUMEN_FIBER_BUSY);

	FiberPort data_first(plant.process.port_socket());
	data_first.send_data(pattern(10, 1));
	EXPECT_FALSE(data_first.read_record(kTimeoutMs));
	EXPECT_TRUE(data_first.closed);

	FiberPort future(plant.process.port_socket());
	struct lumen_fiber_hdr hdr = {};
	hdr.magic = lumen_cpu_to_le16(LUMEN_FIBER_MAGIC);
	hdr.version = 9;
	hdr.type = LUMEN_FIBER_HELLO;
	future.send_raw(&hdr, sizeof(hdr));
	auto answer = future.read_record(kTimeoutMs);
	ASSERT_TRUE(answer);
	ASSERT_EQ(answer->type, LUMEN_FIBER_HELLO_ACK);
	struct lumen_fiber_hello_ack ack;
	std::memcpy(&ack, answer->payload.data(), sizeof(ack));
	EXPECT_EQ(ack.status, LUMEN_FIBER_BAD_VERSION);

	FiberPort huge(plant.process.port_socket(), 40, 5); // unpatched: dark, no fiber
	EXPECT_EQ(huge.ack.status, LUMEN_FIBER_OK);
	EXPECT_EQ(huge.ack.light, 0);
	EXPECT_EQ(huge.ack.fiber_id, LUMEN_FIBER_ID_NONE);
	EXPECT_EQ(huge.ack.max_payload, LUMEN_FIBER_MAX_PAYLOAD);
	huge.send_data(std::vector<uint8_t>(LUMEN_FIBER_MAX_PAYLOAD + 1));
	EXPECT_FALSE(huge.read_record(kTimeoutMs));
	EXPECT_TRUE(huge.closed);

	// The plant still works.
	plant.port("0.+x").send_data(pattern(50, 8));
	auto got = plant.port("1.-x").read_data(kTimeoutMs);
	ASSERT_TRUE(got);
	EXPECT_EQ(*got, pattern(50, 8));
}

TEST(FabricLive, PeerDisconnectIsLightOffAndReconnectRelights)
{
	Plant plant;
	plant.ports.erase(Endpoint{1, 1}); // the card's chardev closes
	auto off = plant.port("0.+x").read_light(kTimeoutMs);
	ASSERT_TRUE(off);
	EXPECT_EQ(off->on, 0);
	EXPECT_EQ(off->reason, LUMEN_FIBER_LIGHT_PEER_DOWN);
	FiberPort again(plant.process.port_socket(), 1, 1); // and reconnects
	EXPECT_EQ(again.ack.light, 1);
	auto on = plant.port("0.+x").read_light(kTimeoutMs);
	ASSERT_TRUE(on);
	EXPECT_EQ(on->on, 1);
	plant.port("0.+x").send_data(pattern(5, 5));
	EXPECT_TRUE(again.read_data(kTimeoutMs));
}

TEST(FabricLive, ShutdownCommandAndSignalsExitCleanly)
{
	{
		FabricProcess fabric(LUMEN_FABRIC_BINARY, {"--topology", "ring:4", "--seed", "1"});
		ControlClient control(fabric.control_socket());
		FiberPort port(fabric.port_socket(), 0, 0);
		EXPECT_EQ(control.request({{"cmd", "shutdown"}})["ok"], true);
		EXPECT_EQ(fabric.wait_exit(kTimeoutMs), 0);
		// Process gone: the port sees its socket close (not a LIGHT).
		EXPECT_FALSE(port.read_record(kTimeoutMs));
		EXPECT_TRUE(port.closed);
		struct stat st;
		EXPECT_NE(stat(fabric.port_socket().c_str(), &st), 0); // sockets removed
	}
	for (int sig : {SIGTERM, SIGINT}) {
		FabricProcess fabric(LUMEN_FABRIC_BINARY, {"--topology", "mesh:2x2"});
		kill(fabric.pid(), sig);
		EXPECT_EQ(fabric.wait_exit(kTimeoutMs), 0);
	}
}
