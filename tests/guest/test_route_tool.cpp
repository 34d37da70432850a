// SPDX-License-Identifier: MIT
/*
 * lumen-route (tools/lumen-route) against the real driver, on cards cabled by
 * lumen-fabric: `tests/vm/run --cards 4 --fabric ring -- lumen-guest-tests
 * route_tool` (without LUMEN_VM_FABRIC or a link engine the device tests
 * skip).
 *   - a bad spec is exit 2, a topology that is not the cabling exit 1 naming
 *     chip, port, expected and found neighbour, and nothing is written;
 *   - --dry-run writes nothing;
 *   - without CAP_SYS_ADMIN: exit 4, "needs root (CAP_SYS_ADMIN)";
 *   - a cabled port that is down is a warning, and the tables are written;
 *   - program writes exactly the routing library's DOR tables and DATELINE
 *     flags (read back with `show --json` and the ioctls), keeping ENABLE.
 * The suite leaves the chips programmed for the topology, as rt_remote
 * wants them.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <unistd.h>
#include <xf86drm.h>

#include <drm/lumen_accel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "route/dor.hpp"
#include "route/topology.hpp"
#include "sys/device_enum.hpp"
#include "sys/drm_device.hpp"
#include "sys/error.hpp"

// Last: cmocka's fail() macro would break the standard headers.
extern "C" {
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
}

namespace {

using lumen::route::Routes;
using lumen::route::Topology;

struct Card {
	std::string pci;
	std::unique_ptr<lumen::sys::DrmDevice> dev;
	uint32_t chip = 0, num_ports = 0;
};

struct Fx {
	std::string spec; // empty: no fabric or no link engine
	std::vector<Card> cards;
};

Fx *F;

struct Run {
	int rc = -1;
	std::string out, err;
};

std::string slurp(const char *path)
{
	std::ifstream in(path);
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

// Run lumen-route with args; drop_admin removes CAP_SYS_ADMIN first (from
// the bounding set, so root keeps everything else across exec).
Run lumen_route(const std::string &args, bool drop_admin = false)
{
	const std::string cmd = "lumen-route " + args + " >/tmp/lr.out 2>/tmp/lr.err";
	Run r;
	pid_t pid = fork();
	if (pid == 0) {
		if (drop_admin && prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd.c_str(), (char *)nullptr);
		_exit(127);
	}
	int status = 0;
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		r.rc = WEXITSTATUS(status);
	r.out = slurp("/tmp/lr.out");
	r.err = slurp("/tmp/lr.err");
	printf("# lumen-route %s%s -> %d\n", args.c_str(), drop_admin ? " (no CAP_SYS_ADMIN)" : "",
	       r.rc);
	return r;
}

void expect_has(const std::string &text, const std::string &needle)
{
	if (text.find(needle) == std::string::npos)
		fail_msg("expected \"%s\" in:\n%s", needle.c_str(), text.c_str());
}

std::vector<uint32_t> table_of(const Card &c)
{
	std::vector<uint32_t> w(DRM_LUMEN_MAX_CHIPS, 0);
	drm_lumen_route r{};
	r.op = DRM_LUMEN_ROUTE_GET;
	r.count = DRM_LUMEN_MAX_CHIPS;
	r.words = reinterpret_cast<uintptr_t>(w.data());
	assert_int_equal(drmIoctl(c.dev->fd(), DRM_IOCTL_LUMEN_ROUTE, &r), 0);
	return w;
}

uint32_t ctrl_of(const Card &c, uint32_t port)
{
	drm_lumen_port_ctrl pc{};
	pc.port = port;
	assert_int_equal(drmIoctl(c.dev->fd(), DRM_IOCTL_LUMEN_PORT_CTRL, &pc), 0);
	return pc.ctrl;
}

// Every local table invalid and no DATELINE: what a reset leaves.
void clear_chips()
{
	for (const Card &c : F->cards) {
		std::vector<uint32_t> zero(DRM_LUMEN_MAX_CHIPS, 0);
		drm_lumen_route r{};
		r.op = DRM_LUMEN_ROUTE_SET;
		r.count = DRM_LUMEN_MAX_CHIPS;
		r.words = reinterpret_cast<uintptr_t>(zero.data());
		assert_int_equal(drmIoctl(c.dev->fd(), DRM_IOCTL_LUMEN_ROUTE, &r), 0);
		for (uint32_t p = 0; p < c.num_ports; p++) {
			drm_lumen_port_ctrl pc{};
			pc.port = p;
			pc.set = 1;
			pc.ctrl = ctrl_of(c, p) & DRM_LUMEN_PORT_ENABLE;
			assert_int_equal(drmIoctl(c.dev->fd(), DRM_IOCTL_LUMEN_PORT_CTRL, &pc), 0);
		}
	}
}

void expect_cleared()
{
	for (const Card &c : F->cards) {
		for (uint32_t w : table_of(c))
			assert_int_equal(w, 0);
		for (uint32_t p = 0; p < c.num_ports; p++)
			assert_false(ctrl_of(c, p) & DRM_LUMEN_PORT_DATELINE);
	}
}

std::string sysfs_state(const Card &c, unsigned port)
{
	std::ifstream in("/sys/bus/pci/devices/" + c.pci + "/links/port" + std::to_string(port) +
			 "/state");
	std::string s;
	std::getline(in, s);
	return s;
}

bool wait_state(const Card &c, unsigned port, bool up, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		if ((sysfs_state(c, port) == "up") == up)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return false;
}

// One JSON command to lumen-fabric through the harness's channel; true if
// it answered ok within 5 s.
bool fabric_cmd(const std::string &json)
{
	const char *ctl = getenv("LUMEN_FABRIC_CTL");
	if (!ctl)
		return false;
	int fd = open(ctl, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	const std::string line = json + "\n";
	std::string reply;
	if (write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
		pollfd pfd{fd, POLLIN, 0};
		char buf[512];
		while (reply.find('\n') == std::string::npos && poll(&pfd, 1, 5000) > 0) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			reply.append(buf, static_cast<size_t>(n));
		}
	}
	close(fd);
	return reply.find("\"ok\":true") != std::string::npos;
}

int setup(void **state)
{
	F = new Fx;
	*state = F;
	const char *fabric = getenv("LUMEN_VM_FABRIC");
	std::vector<lumen::sys::DeviceNode> nodes;
	try {
		nodes = lumen::sys::enumerate_devices();
		for (const auto &n : nodes) {
			Card c;
			c.pci = n.pci_address;
			c.dev = std::make_unique<lumen::sys::DrmDevice>(n.devnode);
			drm_lumen_link_info li = c.dev->link_info();
			c.chip = li.chip_id;
			c.num_ports = li.num_ports;
			F->cards.push_back(std::move(c));
		}
	} catch (const lumen::sys::Error &e) {
		printf("# %s: device tests skip\n", e.what());
		F->cards.clear();
		return 0;
	}
	if (!fabric || F->cards.empty()) {
		printf("# no fabric (LUMEN_VM_FABRIC): device tests skip\n");
		return 0;
	}
	F->spec = fabric;
	if (F->spec == "ring")
		F->spec = "ring:" + std::to_string(F->cards.size());
	return 0;
}

int teardown(void **state)
{
	delete static_cast<Fx *>(*state);
	return 0;
}

void need_fabric()
{
	if (F->spec.empty())
		skip();
}

// ---- tests --------------------------------------------------------------------

void usage_errors(void **)
{
	Run r = lumen_route("program --topology star:3");
	assert_int_equal(r.rc, 2);
	expect_has(r.err, "unknown kind 'star'");
	r = lumen_route("program --topology ring:1");
	assert_int_equal(r.rc, 2);
	expect_has(r.err, "ring size must be");
	r = lumen_route("program");
	assert_int_equal(r.rc, 2);
	r = lumen_route("");
	assert_int_equal(r.rc, 2);
	r = lumen_route("--help");
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "needs root (CAP_SYS_ADMIN)");
}

void wrong_topology_is_refused(void **)
{
	need_fabric();
	Topology t = Topology::parse(F->spec);
	// Chip 0 is card 0 only when this guest has every chip of the ring.
	if (t.kind() != Topology::Kind::Ring || t.chips().size() != F->cards.size() ||
	    F->cards[0].chip != 0)
		skip();
	const unsigned n = static_cast<unsigned>(t.chips().size());
	clear_chips();
	// ring:n+1 wants chip 0's -x on chip n; the fiber goes to chip n-1.
	Run r = lumen_route("program --topology ring:" + std::to_string(n + 1));
	assert_int_equal(r.rc, 1);
	expect_has(r.err, "chip 0 (card 0, " + F->cards[0].pci + ") port -x: expected neighbour " +
				  std::to_string(n) + ".+x, found " + std::to_string(n - 1) +
				  ".+x");
	expect_has(r.err, "nothing was written");
	// A topology without chip n-1 at all.
	if (n > 2) {
		r = lumen_route("program --topology ring:" + std::to_string(n - 1) + " --json");
		assert_int_equal(r.rc, 1);
		expect_has(r.err, "chip " + std::to_string(n - 1) + " (card");
		expect_has(r.err, "not in topology ring:" + std::to_string(n - 1));
		auto j = nlohmann::json::parse(r.out);
		assert_false(j["errors"].empty());
	}
	expect_cleared();
}

void dry_run_writes_nothing(void **)
{
	need_fabric();
	clear_chips();
	Run r = lumen_route("program --topology " + F->spec + " --dry-run --json");
	assert_int_equal(r.rc, 0);
	auto j = nlohmann::json::parse(r.out);
	assert_true(j["dry_run"].get<bool>());
	assert_true(j["verify"]["cdg_acyclic"].get<bool>());
	assert_int_equal(j["chips"].size(), F->cards.size());
	for (const auto &c : j["chips"]) {
		assert_false(c["programmed"].get<bool>());
		for (const auto &p : c["ports"])
			assert_string_equal(p["check"].get<std::string>().c_str(), "ok");
	}
	expect_cleared();
}

void needs_cap_sys_admin(void **)
{
	need_fabric();
	clear_chips();
	Run r = lumen_route("program --topology " + F->spec, true);
	assert_int_equal(r.rc, 4);
	expect_has(r.err, "needs root (CAP_SYS_ADMIN)");
	expect_cleared();
}

void down_port_is_a_warning(void **)
{
	need_fabric();
	const Card &c0 = F->cards[0];
	if (!fabric_cmd("{\"cmd\":\"cut\",\"port\":\"" + std::to_string(c0.chip) + ".+x\"}")) {
		printf("# no fabric control channel: skipped\n");
		skip();
	}
	assert_true(wait_state(c0, 0, false, 5000));
	Run r = lumen_route("program --topology " + F->spec);
	bool restored =
		fabric_cmd("{\"cmd\":\"restore\",\"port\":\"" + std::to_string(c0.chip) + ".+x\"}");
	assert_int_equal(r.rc, 0);
	expect_has(r.err, "warning: chip " + std::to_string(c0.chip) + " (card 0, " + c0.pci +
				  ") port +x is ");
	expect_has(r.err, "the topology cables it to ");
	assert_true(restored);
	assert_true(wait_state(c0, 0, true, 15000));
}

void program_writes_the_dor_tables(void **)
{
	need_fabric();
	Topology t = Topology::parse(F->spec);
	Routes routes = lumen::route::route_dor(t);
	std::vector<std::vector<uint32_t>> enabled(F->cards.size());
	for (size_t i = 0; i < F->cards.size(); i++)
		for (uint32_t p = 0; p < F->cards[i].num_ports; p++)
			enabled[i].push_back(ctrl_of(F->cards[i], p) & DRM_LUMEN_PORT_ENABLE);
	clear_chips();

	Run r = lumen_route("program --topology " + F->spec);
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "channel dependencies acyclic");
	for (size_t i = 0; i < F->cards.size(); i++) {
		const Card &c = F->cards[i];
		expect_has(r.out, "chip " + std::to_string(c.chip) + " (card " + std::to_string(i));
		std::vector<uint32_t> want = routes.chip_table(c.chip), got = table_of(c);
		for (size_t d = 0; d < want.size(); d++)
			if (got[d] != want[d])
				fail_msg("chip %u entry %zu: 0x%08x, expected 0x%08x", c.chip, d,
					 got[d], want[d]);
		for (uint32_t p = 0; p < c.num_ports; p++) {
			uint32_t ctrl = ctrl_of(c, p);
			assert_int_equal(ctrl & DRM_LUMEN_PORT_ENABLE, enabled[i][p]);
			assert_int_equal(!!(ctrl & DRM_LUMEN_PORT_DATELINE),
					 routes.datelines(c.chip) >> p & 1);
		}
	}

	// show --json says the same.
	r = lumen_route("show --json");
	assert_int_equal(r.rc, 0);
	auto j = nlohmann::json::parse(r.out);
	assert_int_equal(j["chips"].size(), F->cards.size());
	for (const auto &c : j["chips"]) {
		const uint32_t chip = c["chip_id"].get<uint32_t>();
		size_t valid = 0;
		for (uint32_t d : t.chips())
			valid += routes.entry(chip, d).valid;
		assert_int_equal(c["routes"].size(), valid);
		for (const auto &e : c["routes"]) {
			const uint32_t d = e["dest"].get<uint32_t>();
			char want[16];
			snprintf(want, sizeof(want), "%#010x", routes.word(chip, d));
			assert_string_equal(e["word"].get<std::string>().c_str(), want);
		}
		for (const auto &p : c["ports"])
			assert_int_equal(p["dateline"].get<bool>(),
					 routes.datelines(chip) >> p["port"].get<unsigned>() & 1);
	}
	r = lumen_route("show");
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "dateline");
	// Programming again is idempotent.
	r = lumen_route("program --topology " + F->spec);
	assert_int_equal(r.rc, 0);
}

} // namespace

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usage_errors),
		cmocka_unit_test(wrong_topology_is_refused),
		cmocka_unit_test(dry_run_writes_nothing),
		cmocka_unit_test(needs_cap_sys_admin),
		cmocka_unit_test(down_port_is_a_warning),
		cmocka_unit_test(program_writes_the_dor_tables),
	};
	return cmocka_run_group_tests_name("route_tool", tests, setup, teardown);
}
