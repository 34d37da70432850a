// SPDX-License-Identifier: MIT
/*
 * lumen-fm-scenarios: the fabric manager (tools/lumen-fm) in the guests of
 * a supernode, issue 9's "How it is checked". Run in every guest by
 * tests/fm/run:
 *
 *   tests/vm/run --no-build --guests 2 --cards 4 --fabric torus:2x4 -- lumen-fm-scenarios
 *
 * Guest 0 starts the master, guest 1 a standby; the guests step through the
 * scenarios together (lumen-vm-barrier) and run the traffic suite
 * (guest_test_fm_traffic: remote writes between every ordered pair of chips,
 * byte-exact) at the same time. Each scenario is a CMocka test; they build
 * on each other, so after a failure the rest are skipped (and the other
 * guest, stuck at a barrier, is stopped by the harness's --fail-grace).
 * Every wait is bounded and says what it waited for. Scenarios: see main().
 *
 * What it relies on from lumen-fm is the contract in docs/fabric-manager.md
 * (status, topology, events, verify, route). Ground truth comes from
 * elsewhere: the fibers from lumen-fabric's own list, the chips' tables from
 * the driver (lumen-route show --json), the data from the traffic suite.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime_view.hpp"
#include "vm_sync.h"

// Last: cmocka's fail() macro would break the standard headers.
extern "C" {
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
}

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kSyncS = 180;		       // rendezvous timeout
constexpr int kCtlMs = 30000;		       // one lumen-fm ctl call
constexpr int kDiscoverMs = 90000;	       // first sweep, under TCG
constexpr int kRerouteMs = 30000;	       // a trap to new tables
constexpr int kTrafficMs = 400000;	       // a traffic run to its end
const char *const kStateDir = "/run/lumen-fm"; // the daemon's default
const char *const kLog = "/tmp/lumen-fm.log";

// ---- processes ------------------------------------------------------------------

std::string slurp(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

long ms_since(Clock::time_point t0)
{
	return static_cast<long>(
		std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

void sleep_ms(int ms)
{
	std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

pid_t spawn_sh(const std::string &cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char *>(nullptr));
		_exit(127);
	}
	return pid;
}

// Exit status of pid within timeout_ms; -1 on timeout (the process is left
// running), -2 if it was killed by a signal (*sig set).
int wait_exit(pid_t pid, int timeout_ms, int *sig = nullptr)
{
	const auto t0 = Clock::now();
	for (;;) {
		int status = 0;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (sig)
				*sig = WTERMSIG(status);
			return -2;
		}
		if (r < 0)
			return -3;
		if (ms_since(t0) >= timeout_ms)
			return -1;
		sleep_ms(20);
	}
}

struct Run {
	int rc = -1; // exit status; -1: timed out (killed)
	std::string out, err;
};

// sh -c cmd with stdout and stderr captured; killed after timeout_ms.
Run run(const std::string &cmd, int timeout_ms = kCtlMs)
{
	Run r;
	pid_t pid = spawn_sh("exec >/tmp/fms.out 2>/tmp/fms.err; " + cmd);
	if (pid < 0)
		fail_msg("fork for \"%s\": %s", cmd.c_str(), strerror(errno));
	r.rc = wait_exit(pid, timeout_ms);
	if (r.rc == -1) {
		kill(pid, SIGKILL);
		wait_exit(pid, 5000);
		fprintf(stderr, "# \"%s\" still running after %d ms: killed\n", cmd.c_str(),
			timeout_ms);
	}
	r.out = slurp("/tmp/fms.out");
	r.err = slurp("/tmp/fms.err");
	return r;
}

// The first n lines of text.
std::string head(const std::string &text, int n)
{
	size_t end = 0;
	while (n-- > 0 && end != std::string::npos)
		end = text.find('\n', end ? end + 1 : 0);
	return end == std::string::npos ? text : text.substr(0, end);
}

// ---- the environment --------------------------------------------------------------

struct Fx {
	int g = 0, guests = 1, cards = 1, chips = 0;
	std::string spec; // LUMEN_VM_FABRIC, as cabled at boot
	pid_t fm = -1;	  // this guest's lumen-fm run
	int takeover_ms = 2000;
	bool in_progress = false; // the previous scenario did not finish
	bool skip_rest = false;
	int traffic_runs = 0;
	std::string cut1; // the fiber the master cut, "C.P"
};

Fx *F;

// LUMEN_FM_SCENARIOS="a b ...": only those (for work on one of them).
void need_selected(const char *name)
{
	const char *sel = getenv("LUMEN_FM_SCENARIOS");
	if (!sel || !*sel)
		return;
	std::istringstream in(sel);
	for (std::string w; in >> w;)
		if (w == name)
			return;
	printf("# not in LUMEN_FM_SCENARIOS: skipped\n");
	skip();
}

// Scenarios build on each other: one that did not finish skips the rest.
void begin(const char *name)
{
	need_selected(name);
	if (F->in_progress)
		F->skip_rest = true;
	if (F->skip_rest || F->spec.empty()) {
		printf("# %s\n", F->spec.empty() ? "no fabric: skipped"
						 : "an earlier scenario failed: skipped");
		skip();
	}
	F->in_progress = true;
}

void done()
{
	F->in_progress = false;
}

bool driver(int g)
{
	return F->g == g % F->guests;
}

void barrier(const std::string &name)
{
	if (vs_barrier("lumen-fm-scenarios", name.c_str(), kSyncS))
		fail_msg("the guests did not meet at barrier %s within %d s", name.c_str(), kSyncS);
}

// The guest that knows a value hands it to every other one.
std::string share(const std::string &name, const std::string &value, int from)
{
	const std::string mine = driver(from) ? value : std::string();
	if (vs_exchange("lumen-fm-scenarios", name.c_str(), mine.data(), mine.size(), kSyncS))
		fail_msg("exchange %s failed", name.c_str());
	size_t len = 0;
	char *buf = static_cast<char *>(vs_exchanged(name.c_str(), from % F->guests, &len));
	if (!buf)
		fail_msg("exchange %s: nothing from guest %d", name.c_str(), from);
	std::string v(buf, len);
	free(buf);
	return v;
}

// Fields of an answer; a missing field or one of another type is the
// default (null included: an answer's shape is checked, never trusted).
long num(const json &j, const char *key, long def = -1)
{
	auto it = j.is_object() ? j.find(key) : j.end();
	return it != j.end() && it->is_number() ? it->get<long>() : def;
}

std::string str(const json &j, const char *key)
{
	auto it = j.is_object() ? j.find(key) : j.end();
	return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool flag(const json &j, const char *key)
{
	auto it = j.is_object() ? j.find(key) : j.end();
	return it != j.end() && it->is_boolean() && it->get<bool>();
}

json arr(const json &j, const char *key)
{
	auto it = j.is_object() ? j.find(key) : j.end();
	return it != j.end() && it->is_array() ? *it : json::array();
}

// ---- ports and fibers ----------------------------------------------------------------

// "3.+y" or "3.2" -> (3, 2); (-1, -1) if neither.
std::pair<int, int> parse_port(const std::string &s)
{
	static const char *const names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};
	const size_t dot = s.find('.');
	if (dot == std::string::npos || dot == 0)
		return {-1, -1};
	const int chip = atoi(s.substr(0, dot).c_str());
	const std::string p = s.substr(dot + 1);
	for (int i = 0; i < 6; i++)
		if (p == names[i])
			return {chip, i};
	if (!p.empty() && p.find_first_not_of("0123456789") == std::string::npos)
		return {chip, atoi(p.c_str())};
	return {-1, -1};
}

std::string port_str(std::pair<int, int> p)
{
	static const char *const names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};
	return std::to_string(p.first) + "." +
	       (p.second >= 0 && p.second < 6 ? names[p.second] : std::to_string(p.second));
}

using Fiber = std::pair<std::pair<int, int>, std::pair<int, int>>; // ends, ordered
using FiberSet = std::set<Fiber>;

Fiber fiber_of(const std::string &a, const std::string &b)
{
	auto x = parse_port(a), y = parse_port(b);
	return x < y ? Fiber{x, y} : Fiber{y, x};
}

std::string fibers_str(const FiberSet &s)
{
	std::string t;
	for (const Fiber &f : s)
		t += (t.empty() ? "" : " ") + port_str(f.first) + "-" + port_str(f.second);
	return t.empty() ? "(none)" : t;
}

// ---- lumen-fabric, through this guest's control port ---------------------------------

json fabric(const json &req)
{
	const std::string body = req.dump();
	Run r = run("lumen-fabric-ctl -t 10 '" + body + "'", 20000);
	if (r.rc != 0)
		fail_msg("lumen-fabric-ctl %s: exit %d: %s%s", body.c_str(), r.rc, r.out.c_str(),
			 r.err.c_str());
	try {
		return json::parse(r.out);
	} catch (const json::exception &e) {
		fail_msg("lumen-fabric-ctl %s: not JSON (%s): %s", body.c_str(), e.what(),
			 r.out.c_str());
	}
	return {};
}

// The lit fibers as lumen-fabric has them.
FiberSet fabric_fibers()
{
	json l = fabric({{"cmd", "list"}});
	FiberSet s;
	for (const json &f : l.at("fibers"))
		if (str(f, "state") == "lit")
			s.insert(fiber_of(f.at("a").get<std::string>(),
					  f.at("b").get<std::string>()));
	return s;
}

// ---- lumen-fm ----------------------------------------------------------------------

json ctl(const std::string &args, const char *dir = kStateDir)
{
	const std::string cmd = std::string("lumen-fm ctl --state-dir ") + dir + " " + args;
	Run r = run(cmd);
	if (r.rc != 0)
		fail_msg("%s: exit %d: %s", cmd.c_str(), r.rc, r.err.c_str());
	try {
		return json::parse(r.out);
	} catch (const json::exception &e) {
		fail_msg("%s: not JSON (%s): %s", cmd.c_str(), e.what(), r.out.c_str());
	}
	return {};
}

// ctl that may fail (daemon starting): null on failure.
json ctl_try(const std::string &args, const char *dir = kStateDir)
{
	// Short: a poll that hangs on a busy daemon would eat the wait.
	Run r = run(std::string("lumen-fm ctl --state-dir ") + dir + " " + args, 15000);
	if (r.rc != 0)
		return nullptr;
	try {
		return json::parse(r.out);
	} catch (const json::exception &) {
		return nullptr;
	}
}

void fm_report();

// Poll until pred(status) holds; fails naming what it waited for and the
// last status seen.
json wait_status(const std::string &what, int timeout_ms,
		 const std::function<bool(const json &)> &pred, const char *dir = kStateDir)
{
	const auto t0 = Clock::now();
	json st;
	for (;;) {
		st = ctl_try("status", dir);
		if (!st.is_null() && pred(st)) {
			printf("# %s after %ld ms\n", what.c_str(), ms_since(t0));
			return st;
		}
		if (ms_since(t0) > timeout_ms)
			break;
		sleep_ms(250);
	}
	fm_report();
	fail_msg("timed out after %d ms waiting for %s; last status: %s", timeout_ms, what.c_str(),
		 st.is_null() ? "(no answer)" : st.dump().c_str());
	return st;
}

long last_seq(const char *dir = kStateDir)
{
	json e = ctl("events", dir);
	long seq = -1;
	for (const json &ev : e.at("events"))
		seq = std::max(seq, num(ev, "seq", -1));
	return seq;
}

// The first event of type after seq, waiting up to timeout_ms.
json wait_event(const std::string &type, long since, int timeout_ms, const char *dir = kStateDir)
{
	const auto t0 = Clock::now();
	json e;
	for (;;) {
		// All of them, filtered here: --since has a check of its own (discover).
		e = ctl_try("events", dir);
		if (!e.is_null())
			for (const json &ev : e.at("events"))
				if (num(ev, "seq", -1) > since && str(ev, "type") == type) {
					printf("# event %s after %ld ms: %s\n", type.c_str(),
					       ms_since(t0), ev.dump().c_str());
					return ev;
				}
		if (ms_since(t0) > timeout_ms)
			break;
		sleep_ms(250);
	}
	fm_report();
	fail_msg("timed out after %d ms waiting for a \"%s\" event after seq %ld; events: %s",
		 timeout_ms, type.c_str(), since, e.is_null() ? "(no answer)" : e.dump().c_str());
	return e;
}

// events --since SEQ answers the events after SEQ only.
void expect_events_since()
{
	json all = ctl("events");
	const json &ev = all.at("events");
	if (ev.empty())
		fail_msg("events: none after the first sweep: %s", all.dump().c_str());
	const long first = num(ev.at(0), "seq");
	json later = ctl("events --since " + std::to_string(first));
	for (const json &e : later.at("events"))
		if (num(e, "seq") <= first)
			fail_msg("events --since %ld answered seq %ld", first, num(e, "seq"));
	if (later.at("events").size() != ev.size() - 1)
		fail_msg("events --since %ld: %zu events, expected %zu", first,
			 later.at("events").size(), ev.size() - 1);
	printf("# events: %zu, --since %ld: %zu\n", ev.size(), first, later.at("events").size());
}

bool master_ready(const json &st, int fibers)
{
	return str(st, "role") == "master" && flag(st, "routes_programmed") &&
	       num(st, "chips", -1) == F->chips && num(st, "fibers", -1) == fibers &&
	       str(st, "verify") == "ok";
}

// verify: tables read back in-band, proved deadlock-free, all pairs arrive.
json expect_verify(const char *when, const char *dir = kStateDir)
{
	json v = ctl("verify", dir);
	const long pairs = num(v, "pairs", -1), arrived = num(v, "arrived", -2);
	printf("# verify %s: %s\n", when, v.dump().c_str());
	if (!flag(v, "ok") || !flag(v, "cdg_acyclic") || pairs != arrived ||
	    pairs < static_cast<long>(F->chips) * (F->chips - 1) || !arr(v, "problems").empty())
		fail_msg("verify %s failed: %s", when, v.dump().c_str());
	return v;
}

// The topology lumen-fm discovered is the fabric's: every chip, every lit fiber.
void expect_topology(const char *when, const FiberSet &want, const char *dir = kStateDir)
{
	json t = ctl("topology", dir);
	std::set<int> ids;
	for (const json &c : t.at("chips")) {
		const int id = c.at("id").get<int>();
		char serial[32];
		snprintf(serial, sizeof(serial), "LMN1-%06d", id + 1);
		if (str(c, "serial") != serial)
			fail_msg("%s: chip %d has serial \"%s\", expected %s", when, id,
				 str(c, "serial").c_str(), serial);
		ids.insert(id);
	}
	FiberSet got;
	for (const json &f : t.at("fibers"))
		got.insert(fiber_of(f.at(0).get<std::string>(), f.at(1).get<std::string>()));
	if (static_cast<int>(ids.size()) != F->chips || *ids.begin() != 0 ||
	    *ids.rbegin() != F->chips - 1)
		fail_msg("%s: %zu chips discovered, expected ids 0..%d: %s", when, ids.size(),
			 F->chips - 1, t.dump().c_str());
	if (got != want)
		fail_msg("%s: lumen-fm's fibers\n  %s\nare not lumen-fabric's lit ones\n  %s", when,
			 fibers_str(got).c_str(), fibers_str(want).c_str());
	printf("# %s: %d chips, %zu fibers, as cabled\n", when, F->chips, got.size());
}

// The hops of src -> dst through the manager's tables, as (chip, port);
// *outcome: how the walk ended ("arrived").
std::vector<std::pair<int, int>> route_hops(int src, int dst, const char *dir = kStateDir,
					    std::string *outcome = nullptr)
{
	json r = ctl("route " + std::to_string(src) + " " + std::to_string(dst), dir);
	if (outcome)
		*outcome = str(r, "outcome");
	std::vector<std::pair<int, int>> hops;
	const json &h = r.contains("hops") ? r.at("hops") : r;
	for (const json &x : h) {
		int chip = -1, port = -1;
		if (x.is_array() && x.size() >= 2) {
			chip = x.at(0).get<int>();
			port = x.at(1).is_string()
				       ? parse_port("0." + x.at(1).get<std::string>()).second
				       : x.at(1).get<int>();
		} else if (x.is_object()) {
			chip = num(x, "chip", -1);
			if (x.contains("port"))
				port = x.at("port").is_string()
					       ? parse_port("0." + x.at("port").get<std::string>())
							 .second
					       : x.at("port").get<int>();
		}
		if (chip < 0 || port < 0)
			fail_msg("route %d %d: cannot read hop %s in %s", src, dst,
				 x.dump().c_str(), r.dump().c_str());
		hops.emplace_back(chip, port);
	}
	return hops;
}

bool crosses(const std::vector<std::pair<int, int>> &hops, const Fiber &f)
{
	for (const auto &h : hops)
		if (h == f.first || h == f.second)
			return true;
	return false;
}

// Every ordered pair whose route (per the manager) crosses fiber f; every
// route must arrive.
std::vector<std::pair<int, int>> pairs_over(const Fiber &f, const char *dir = kStateDir)
{
	std::vector<std::pair<int, int>> over;
	for (int s = 0; s < F->chips; s++)
		for (int d = 0; d < F->chips; d++) {
			if (s == d)
				continue;
			std::string outcome;
			if (crosses(route_hops(s, d, dir, &outcome), f))
				over.emplace_back(s, d);
			if (outcome != "arrived")
				fail_msg("route %d %d: %s, expected arrived", s, d,
					 outcome.c_str());
		}
	return over;
}

std::string pairs_str(const std::vector<std::pair<int, int>> &v)
{
	std::string t;
	for (const auto &p : v)
		t += (t.empty() ? "" : " ") + std::to_string(p.first) + "->" +
		     std::to_string(p.second);
	return t;
}

// Every chip of this guest routes to every other chip through a port that
// is up, never through an end of fiber f: read back through the driver
// (lumen-route show), not through lumen-fm. Fast failover does not rewrite
// a table: only the manager's new tables pass this after a cut.
void expect_tables_avoid(const Fiber &f, const char *when)
{
	Run r = run("lumen-route show --json");
	if (r.rc != 0)
		fail_msg("lumen-route show --json: exit %d: %s", r.rc, r.err.c_str());
	json j = json::parse(r.out);
	int ends = 0;
	for (const json &c : j.at("chips")) {
		const int chip = c.at("chip_id").get<int>();
		std::set<int> up, dests;
		for (const json &p : c.at("ports"))
			if (str(p, "state") == "up")
				up.insert(p.at("port").get<int>());
		for (const auto &end : {f.first, f.second})
			if (end.first == chip) {
				ends++;
				if (up.count(end.second))
					fail_msg("%s: chip %d port %s, an end of the dead fiber, "
						 "is up",
						 when, chip, port_str(end).c_str());
			}
		for (const json &e : c.at("routes")) {
			const int port = parse_port("0." + e.at("port").get<std::string>()).second;
			const int dest = e.at("dest").get<int>();
			if (dest != chip && !up.count(port))
				fail_msg("%s: chip %d routes to %d through port %s, which is not "
					 "up: "
					 "%s",
					 when, chip, dest, port_str({chip, port}).c_str(),
					 e.dump().c_str());
			dests.insert(dest);
		}
		for (int d = 0; d < F->chips; d++)
			if (d != chip && !dests.count(d))
				fail_msg("%s: chip %d holds no route to chip %d", when, chip, d);
	}
	printf("# %s: every local chip routes to every chip through ports that are up (%d "
	       "end(s) of %s-%s here), read back from the driver\n",
	       when, ends, port_str(f.first).c_str(), port_str(f.second).c_str());
}

// ---- the daemon ------------------------------------------------------------------------

std::string fm_args()
{
	const char *extra = getenv("LUMEN_FM_ARGS");
	return std::string("--takeover-ms ") + std::to_string(F->takeover_ms) +
	       (extra && *extra ? std::string(" ") + extra : "");
}

void start_fm()
{
	// exec: the pid is lumen-fm's own, for the SIGKILL.
	F->fm = spawn_sh("exec lumen-fm run " + fm_args() + " >>" + kLog + " 2>&1");
	if (F->fm < 0)
		fail_msg("cannot start lumen-fm");
	printf("# guest %d: lumen-fm run %s (pid %d), log %s\n", F->g, fm_args().c_str(), F->fm,
	       kLog);
}

// This guest's daemon: alive (and where it sleeps) or how it ended.
std::string fm_state()
{
	if (F->fm <= 0)
		return "no lumen-fm started in this guest";
	int sig = 0;
	int rc = wait_exit(F->fm, 0, &sig);
	if (rc != -1) {
		F->fm = -1;
		return "lumen-fm exited: status " + std::to_string(rc) + ", signal " +
		       std::to_string(sig);
	}
	const std::string pid = std::to_string(F->fm);
	Run r = run("for t in /proc/" + pid +
			    "/task/*; do echo \"thread ${t##*/}: $(cat $t/wchan) " +
			    "$(cut -d' ' -f3 $t/stat)\"; cat $t/stack; done",
		    5000);
	return "lumen-fm pid " + pid + " alive:\n" + r.out;
}

// The daemon's state and log, as comment lines (cmocka's failure messages
// are short).
void fm_report()
{
	std::istringstream in(fm_state() + "\n" + slurp(kLog));
	std::string line;
	while (std::getline(in, line))
		printf("#   lumen-fm: %s\n", line.c_str());
}

void expect_fm_alive(const char *when)
{
	int sig = 0;
	int rc = F->fm > 0 ? wait_exit(F->fm, 0, &sig) : -3;
	if (rc != -1) {
		fm_report();
		fail_msg("%s: lumen-fm is not running (exit %d, signal %d)", when, rc, sig);
	}
}

// ---- traffic ------------------------------------------------------------------------

struct Traffic {
	pid_t pid = -1;
	std::string dir, log;
};

void print_log(const std::string &log)
{
	std::istringstream in(slurp(log));
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("# ", 0) == 0 || line.find("ERROR") != std::string::npos ||
		    line.find("FAILED") != std::string::npos)
			printf("#   traffic: %s\n", line.c_str());
}

// The traffic suite in this guest (every guest starts it at the same step):
// continuous when dir is given, else one round.
Traffic traffic_start(const std::string &dir)
{
	Traffic t;
	t.log = "/tmp/fm-traffic-" + std::to_string(++F->traffic_runs) + ".log";
	std::string env;
	if (!dir.empty()) {
		t.dir = dir;
		run("rm -rf " + dir + " && mkdir -p " + dir);
		env = "LUMEN_FM_TRAFFIC_CTL=" + dir + " ";
	}
	t.pid = spawn_sh("exec env " + env + "guest_test_fm_traffic >" + t.log + " 2>&1");
	if (t.pid < 0)
		fail_msg("cannot start guest_test_fm_traffic");
	return t;
}

void traffic_wait_running(const Traffic &t)
{
	const auto t0 = Clock::now();
	while (access((t.dir + "/running").c_str(), F_OK) != 0) {
		if (wait_exit(t.pid, 0) != -1) {
			print_log(t.log);
			fail_msg("the traffic ended before it ran (its log above)");
		}
		if (ms_since(t0) > 180000)
			fail_msg("timed out after 180 s waiting for the traffic's first round "
				 "(%s/running)",
				 t.dir.c_str());
		sleep_ms(100);
	}
	printf("# guest %d: traffic running after %ld ms\n", F->g, ms_since(t0));
}

// What the chips of this guest hold and drop, and the manager's last
// words: printed when traffic failed.
void diagnose()
{
	Run r = run("lumen-route show; for d in /sys/bus/pci/devices/*/links; do "
		    "[ -e $d/no_route_drops ] || continue; echo \"chip $(cat $d/chip_id):\" "
		    "\"no_route_drops $(cat $d/no_route_drops) lane_errors $(cat $d/lane_errors)\" "
		    "\"ttl_drops $(cat $d/ttl_drops) reroute_drops $(cat $d/reroute_drops)\" "
		    "\"e2e_timeouts $(cat $d/e2e_timeouts)\"; for p in 0 1 2 3; do q=$d/port$p; "
		    "echo \"  port $p: $(cat $q/state) down_events $(cat $q/down_events)\" "
		    "\"retrains $(cat $q/retrains) replay_timeouts $(cat $q/replay_timeouts)\" "
		    "\"failovers $(cat $q/failovers)\"; done; done; tail -n 40 " +
		    std::string(kLog));
	std::istringstream in(r.out + r.err);
	std::string line;
	while (std::getline(in, line))
		printf("#   diagnose: %s\n", line.c_str());
}

void traffic_finish(const Traffic &t, const char *what)
{
	if (!t.dir.empty()) {
		std::ofstream stop(t.dir + "/stop");
	}
	int sig = 0;
	int rc = wait_exit(t.pid, kTrafficMs, &sig);
	if (rc == -1)
		kill(t.pid, SIGKILL);
	print_log(t.log);
	if (rc != 0) {
		diagnose();
		fail_msg("%s: the traffic failed (exit %d, signal %d; its log above)", what, rc,
			 sig);
	}
	printf("# guest %d: %s: traffic byte-exact\n", F->g, what);
}

// ---- the fiber cut, under traffic ---------------------------------------------------------

// A lit fiber between two guests' chips that some route crosses; the
// n-th such (from the end when n < 0) in lumen-fabric's order.
Fiber pick_fiber(int n)
{
	std::vector<Fiber> cands;
	for (const Fiber &f : fabric_fibers()) {
		const bool across = f.first.first / F->cards != f.second.first / F->cards;
		if (across || F->guests == 1)
			cands.push_back(f);
	}
	if (n < 0)
		std::reverse(cands.begin(), cands.end());
	for (const Fiber &f : cands)
		if (!pairs_over(f).empty() && n-- <= 0)
			return f;
	fail_msg("no fiber between guests that a route crosses");
	return {};
}

// Driver guest `by` cuts a fiber while every guest's traffic runs; its
// manager must reroute (event, new generation, verify, tables).
void cut_under_traffic(int by, int nth, const char *tag)
{
	const std::string t = tag;
	Fiber f{};
	std::string fname;
	if (driver(by)) {
		f = pick_fiber(nth);
		const auto over = pairs_over(f);
		printf("# cut %s: fiber %s-%s, crossed by %zu pairs: %s\n", tag,
		       port_str(f.first).c_str(), port_str(f.second).c_str(), over.size(),
		       pairs_str(over).c_str());
		fname = port_str(f.first) + " " + port_str(f.second);
	}
	fname = share("fm-" + t + "-fiber", fname, by);
	{
		const size_t sp = fname.find(' ');
		f = fiber_of(fname.substr(0, sp), fname.substr(sp + 1));
	}
	if (driver(by))
		expect_verify((t + ": before the cut").c_str());
	Traffic tr = traffic_start("/tmp/fm-" + t);
	traffic_wait_running(tr);
	const auto rt_seen = fm_runtime::now_seen();
	barrier("fm-" + t + "-running");
	if (driver(by)) {
		const long seq = last_seq();
		const long gen = num(ctl("status"), "generation", -1);
		const auto t0 = Clock::now();
		fabric({{"cmd", "cut"}, {"port", port_str(f.first)}});
		json ev = wait_event("reroute", seq, kRerouteMs);
		printf("# cut %s: reroute event %ld ms after the cut (guest clock)\n", tag,
		       ms_since(t0));
		json st = wait_status("new tables after the cut", kRerouteMs, [&](const json &s) {
			return num(s, "generation", -1) > gen && flag(s, "routes_programmed") &&
			       num(s, "links_down", 0) >= 1 && str(s, "verify") == "ok";
		});
		printf("# cut %s: %s\n", tag, st.dump().c_str());
		json topo = ctl("topology");
		if (arr(topo, "down").empty())
			fail_msg("cut %s: topology lists no fiber down: %s", tag,
				 topo.dump().c_str());
		expect_verify((t + ": after the cut").c_str());
		const auto over = pairs_over(f);
		if (!over.empty())
			fail_msg("cut %s: the manager still routes %s over the dead fiber", tag,
				 pairs_str(over).c_str());
	}
	barrier("fm-" + t + "-rerouted");
	expect_tables_avoid(f, ("cut " + t).c_str());
	// What an application sees through liblumen, from this guest's manager
	// (a standby answers from the tables it mirrors).
	const std::string rt_bad = fm_runtime::check_reroute(rt_seen, f, F->chips, kRerouteMs);
	if (!rt_bad.empty()) {
		fm_report();
		fail_msg("cut %s, liblumen: %s", tag, rt_bad.c_str());
	}
	barrier("fm-" + t + "-checked");
	traffic_finish(tr, ("traffic across cut " + t).c_str());
	// Back to the whole fabric: restored, rerouted, verified.
	if (driver(by)) {
		const long seq = last_seq();
		fabric({{"cmd", "restore"}, {"all", true}});
		const int lit = static_cast<int>(fabric_fibers().size());
		wait_event("link_up", seq, kRerouteMs);
		wait_status("the fiber back in the tables", kRerouteMs, [&](const json &s) {
			return master_ready(s, lit) && num(s, "links_down", -1) == 0;
		});
		expect_verify((t + ": after the restore").c_str());
	}
	barrier("fm-" + t + "-restored");
}

// ---- scenarios ------------------------------------------------------------------------

int setup(void **state)
{
	F = new Fx;
	*state = F;
	const char *spec = getenv("LUMEN_VM_FABRIC");
	F->g = vs_env_int("LUMEN_VM_GUEST", 0);
	F->guests = vs_env_int("LUMEN_VM_GUESTS", 1);
	F->cards = vs_env_int("LUMEN_VM_CARDS", 1);
	F->chips = F->guests * F->cards;
	F->takeover_ms = vs_env_int("LUMEN_FM_TAKEOVER_MS", 2000);
	if (!spec || !*spec || !strcmp(spec, "none")) {
		printf("# no fabric (LUMEN_VM_FABRIC): lumen-fm-scenarios skipped\n");
		return 0;
	}
	F->spec = spec;
	if (run("command -v lumen-fm").rc != 0) {
		fprintf(stderr, "lumen-fm-scenarios: lumen-fm is not on PATH (build it: ninja -C "
				"build lumen-fm)\n");
		return -1;
	}
	printf("# guest %d of %d, %d cards, %d chips on %s\n", F->g, F->guests, F->cards, F->chips,
	       spec);
	return 0;
}

int teardown(void **state)
{
	(void)state;
	if (F->fm > 0 && wait_exit(F->fm, 0) == -1) {
		kill(F->fm, SIGTERM);
		if (wait_exit(F->fm, 10000) == -1)
			kill(F->fm, SIGKILL);
	}
	delete F;
	return 0;
}

// lumen-fm ctl without a daemon: exit 1 and a message (never a hang).
void ctl_without_daemon()
{
	need_selected(__func__);
	if (F->spec.empty())
		skip();
	for (const char *dir : {kStateDir, "/tmp/fm-nowhere"}) {
		Run r = run(std::string("lumen-fm ctl --state-dir ") + dir + " status");
		printf("# ctl status, no daemon in %s -> %d: %s", dir, r.rc, r.err.c_str());
		assert_int_equal(r.rc, 1);
		assert_true(r.out.empty());
		assert_false(r.err.empty());
	}
}

// Bad command lines: exit 2 and a message, nothing started.
void bad_flags()
{
	need_selected(__func__);
	if (F->spec.empty())
		skip();
	std::string wrong;
	for (const char *args :
	     {"", "run --no-such-flag", "run --engine warp", "run --takeover-ms soon",
	      "ctl --state-dir /tmp/x", "ctl --no-such-flag status", "frobnicate"}) {
		Run r = run(std::string("lumen-fm ") + args, 10000);
		printf("# lumen-fm %s -> %d: %s\n", args, r.rc, head(r.err, 1).c_str());
		if (r.rc != 2 || r.err.empty())
			wrong += std::string(wrong.empty() ? "" : "; ") + "'lumen-fm " + args +
				 "' exit " + std::to_string(r.rc);
	}
	if (!wrong.empty())
		fail_msg("bad command lines must exit 2 with a message: %s", wrong.c_str());
	// Nothing was started.
	assert_int_not_equal(access("/run/lumen-fm/fm.sock", F_OK), 0);
}

// Guest 0's manager discovers every chip and fiber and programs routes;
// guest 1's finds it and stands by.
void discover()
{
	begin(__func__);
	const FiberSet want = fabric_fibers();
	if (F->spec == "torus:2x4" && (want.size() != 16 || F->chips != 8))
		fail_msg("torus:2x4 with %d chips and %zu lit fibers, expected 8 and 16", F->chips,
			 want.size());
	if (driver(0)) {
		start_fm();
		wait_status("master with routes for every chip", kDiscoverMs, [&](const json &s) {
			return master_ready(s, static_cast<int>(want.size()));
		});
		json st = ctl("status");
		printf("# status: %s\n", st.dump().c_str());
		if (num(st, "chip", -1) / F->cards != F->g)
			fail_msg("status chip %d is not one of guest %d's", num(st, "chip", -1),
				 F->g);
		expect_topology("first sweep", want);
		expect_verify("after the first sweep");
	}
	barrier("fm-master-up");
	if (F->guests > 1 && !driver(0)) {
		start_fm();
		json st = wait_status("standby", kDiscoverMs,
				      [](const json &s) { return str(s, "role") == "standby"; });
		printf("# status: %s\n", st.dump().c_str());
		if (num(st, "master_chip", -1) / F->cards != 0)
			fail_msg("standby sees master_chip %d, expected one of guest 0's",
				 num(st, "master_chip", -1));
	}
	barrier("fm-standby-up");
	if (driver(0)) {
		json st = ctl("status");
		if (str(st, "role") != "master")
			fail_msg("guest 0's manager is no longer master once the standby started: "
				 "%s",
				 st.dump().c_str());
	}
	done();
}

// A second manager on a card that has one is refused; the first goes on
// in its role. Late in the run and no prerequisite of the others: a second
// manager that is not refused may disturb the first.
void second_manager_refused()
{
	need_selected(__func__);
	if (F->skip_rest || F->in_progress || F->spec.empty()) {
		printf("# needs the managers of the scenarios before: skipped\n");
		skip();
	}
	const std::string before = str(ctl("status"), "role");
	Run r = run("lumen-fm run --card 0 --state-dir /tmp/fm-second", 20000);
	printf("# lumen-fm run --card 0 (a second manager) -> %d: %s\n", r.rc,
	       head(r.err, 3).c_str());
	if (r.rc == -1)
		fail_msg("a second manager on card 0 was not refused within 20 s");
	if (r.rc == 0 || r.err.empty())
		fail_msg("a second manager on card 0: exit %d with \"%s\", expected a refusal",
			 r.rc, head(r.err, 3).c_str());
	expect_fm_alive("after the second manager");
	const std::string role = str(ctl("status"), "role");
	if (role != before)
		fail_msg("the first manager is %s after the second one's refusal, was %s",
			 role.c_str(), before.c_str());
}

// liblumen's fabric queries in every guest (the master's and a standby's
// manager) against lumen-fabric's fibers and the driver's ports.
void runtime_view()
{
	begin(__func__);
	fm_runtime::Expect e;
	e.chips = F->chips;
	e.lit = fabric_fibers();
	e.mirror = F->guests > 1 && !driver(0);
	const std::string bad = fm_runtime::check_view(e, kRerouteMs);
	if (!bad.empty()) {
		fm_report();
		fail_msg("liblumen: %s", bad.c_str());
	}
	barrier("fm-runtime-view");
	done();
}

// events --since, on each guest's manager; no prerequisite of the others.
void events_since()
{
	need_selected(__func__);
	if (F->skip_rest || F->in_progress || F->spec.empty()) {
		printf("# needs the managers of the scenarios before: skipped\n");
		skip();
	}
	expect_events_since();
}

// Remote writes between every ordered pair of chips, both guests at once.
void every_pair()
{
	begin(__func__);
	traffic_finish(traffic_start(""), "every pair after the first sweep");
	done();
}

// The master reroutes a fiber cut under traffic; verified before and after.
void cut_rerouted()
{
	begin(__func__);
	cut_under_traffic(0, 0, "cut1");
	done();
}

// An OCS re-patch to a ring and back: re-discovered, rerouted, verified.
void repatch()
{
	begin(__func__);
	const char *to = getenv("LUMEN_FM_REPATCH");
	const std::string ring = to && *to ? to : "ring:" + std::to_string(F->chips);
	if (driver(0)) {
		for (const std::string &topo : {ring, F->spec}) {
			const long seq = last_seq();
			const long gen = num(ctl("status"), "generation", -1);
			json a = fabric({{"cmd", "repatch"}, {"topology", topo}});
			printf("# repatch to %s: %s\n", topo.c_str(), a.dump().c_str());
			const auto t0 = Clock::now();
			FiberSet want;
			// The ports light up on their new fibers after the OCS's dark time.
			while ((want = fabric_fibers()).size() <
				       arr(a, "added").size() +
					       static_cast<size_t>(num(a, "kept", 0)) &&
			       ms_since(t0) < 10000)
				sleep_ms(100);
			wait_event("repatch", seq, kRerouteMs * 2);
			wait_status("tables for " + topo, kRerouteMs * 2, [&](const json &s) {
				return master_ready(s, static_cast<int>(want.size())) &&
				       num(s, "generation", -1) > gen &&
				       num(s, "links_down", -1) == 0;
			});
			printf("# %s re-discovered and rerouted %ld ms after the repatch\n",
			       topo.c_str(), ms_since(t0));
			expect_topology(("after the repatch to " + topo).c_str(), want);
			expect_verify(("after the repatch to " + topo).c_str());
		}
	}
	barrier("fm-repatched");
	traffic_finish(traffic_start(""),
		       ("every pair after the repatch " + ring + " -> " + F->spec).c_str());
	done();
}

// SIGKILL the master: the standby takes over within the takeover time.
void takeover()
{
	begin(__func__);
	if (F->guests < 2) {
		printf("# one guest: no standby to take over\n");
		skip();
	}
	long seq = -1;
	if (!driver(0))
		seq = last_seq();
	barrier("fm-before-kill");
	if (driver(0)) {
		kill(F->fm, SIGKILL);
		assert_int_equal(wait_exit(F->fm, 5000), -2);
		F->fm = -1;
		Run r = run("lumen-fm ctl status");
		printf("# ctl status after SIGKILL -> %d: %s", r.rc, r.err.c_str());
		assert_int_equal(r.rc, 1);
		assert_false(r.err.empty());
	}
	barrier("fm-killed");
	if (!driver(0)) {
		const auto t0 = Clock::now();
		const int lit = static_cast<int>(fabric_fibers().size());
		json st = wait_status("master after the takeover", F->takeover_ms + 15000,
				      [&](const json &s) { return master_ready(s, lit); });
		const long ms = ms_since(t0);
		json ev = wait_event("takeover", seq, 5000);
		printf("# takeover: master %ld ms after the kill (takeover time %d ms, +1 "
		       "barrier)\n",
		       ms, F->takeover_ms);
		if (num(st, "master_chip", -1) != num(st, "chip", -2))
			fail_msg("after the takeover master_chip %d is not its own chip %d",
				 num(st, "master_chip", -1), num(st, "chip", -2));
		expect_verify("after the takeover");
	}
	barrier("fm-taken-over");
	if (driver(0)) {
		// Back as a standby of the new master.
		start_fm();
		json st = wait_status("standby of the new master", kDiscoverMs, [&](const json &s) {
			return str(s, "role") == "standby" &&
			       num(s, "master_chip", -1) / F->cards == 1;
		});
		printf("# restarted: %s\n", st.dump().c_str());
	}
	barrier("fm-restarted");
	done();
}

// The new master reroutes a further cut, traffic across it byte-exact.
void cut_after_takeover()
{
	begin(__func__);
	if (F->guests < 2)
		skip();
	cut_under_traffic(1, -1, "cut2");
	done();
}

// SIGTERM: a clean exit 0, the socket gone, the standby master at once.
void clean_shutdown()
{
	begin(__func__);
	if (F->guests < 2)
		skip();
	long seq = -1;
	if (driver(0))
		seq = last_seq();
	barrier("fm-before-term");
	if (driver(1)) {
		kill(F->fm, SIGTERM);
		int rc = wait_exit(F->fm, 15000);
		if (rc != 0)
			fail_msg("lumen-fm after SIGTERM: exit %d (-1: still running after 15 s)",
				 rc);
		F->fm = -1;
		if (access("/run/lumen-fm/fm.sock", F_OK) == 0)
			fail_msg("SIGTERM left /run/lumen-fm/fm.sock behind");
	}
	barrier("fm-terminated");
	if (driver(0)) {
		const auto t0 = Clock::now();
		const int lit = static_cast<int>(fabric_fibers().size());
		wait_status("master after the handover", F->takeover_ms + 15000,
			    [&](const json &s) { return master_ready(s, lit); });
		printf("# handover: master %ld ms after the SIGTERM (+1 barrier)\n", ms_since(t0));
		wait_event("takeover", seq, 5000);
		kill(F->fm, SIGTERM);
		assert_int_equal(wait_exit(F->fm, 15000), 0);
		F->fm = -1;
	}
	// Guest 1 powers off after its last scenario and its fibers go dark:
	// it waits until guest 0 has checked the handover on the whole fabric.
	barrier("fm-handover-checked");
	done();
}

// An answer of another shape (json::at on a missing field, a wrong type)
// fails the scenario instead of aborting the program.
char guard_msg[512];

template <void (*Scenario)()> void guarded(void **)
{
	guard_msg[0] = '\0';
	try {
		Scenario();
	} catch (const std::exception &e) {
		snprintf(guard_msg, sizeof(guard_msg), "%s", e.what());
	}
	if (guard_msg[0])
		fail_msg("unexpected answer: %s", guard_msg);
}

#define SCENARIO(fn)                                                                               \
	{                                                                                          \
#fn, guarded < fn>, nullptr, nullptr, nullptr                                      \
	}

} // namespace

int main()
{
	const struct CMUnitTest tests[] = {
		SCENARIO(ctl_without_daemon),
		SCENARIO(bad_flags),
		SCENARIO(discover),
		SCENARIO(runtime_view),
		SCENARIO(events_since),
		SCENARIO(every_pair),
		SCENARIO(cut_rerouted),
		SCENARIO(repatch),
		SCENARIO(takeover),
		SCENARIO(cut_after_takeover),
		SCENARIO(second_manager_refused),
		SCENARIO(clean_shutdown),
	};
	return cmocka_run_group_tests_name("fm", tests, setup, teardown);
}
