// SPDX-License-Identifier: MIT
// The fabric manager's loop (FABRIC.md 6, docs/fabric-manager.md): sweeps
// (discover, route, verify, upload diffs), traps (coalesce, reroute), the
// heartbeat and the election, the control socket and the state files.
// Single-threaded: it waits in MGMT_RECV until its next timer, and signals
// (SIGTERM, SIGINT, SIGIO from the control socket) cut the wait short.
#pragma once

#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "card_lock.hpp"
#include "control.hpp"
#include "discovery.hpp"
#include "election.hpp"
#include "query.hpp"
#include "routing.hpp"
#include "state.hpp"
#include "sys/drm_device.hpp"
#include "traps.hpp"
#include "upload.hpp"

namespace lumen_fm {

struct Config {
	int card = -1; // -1: the first card with a link engine
	uint64_t mkey = 0;
	uint8_t priority = 0;
	std::string state_dir = "/run/lumen-fm";
	unsigned sweep_ms = 5000, heartbeat_ms = 500, takeover_ms = 2000;
	std::string engine = "auto";
};

enum class Role { Starting, Standby, Master };

// Where the tables a manager answers route queries from come from: its own
// routing (a master), or read in-band from the chips (a standby's mirror of
// the master's generation).
enum class RoutesFrom { None, Computed, Mirror };

class Manager {
      public:
	explicit Manager(Config cfg);
	// Runs until *stop; returns the exit code (1 when it cannot start).
	int run(volatile std::sig_atomic_t *stop);

      private:
	void open_card();
	void start_election();
	void full_sweep(const std::string &reason);
	void route_and_upload(const std::string &reason, double discover_ms, unsigned gets);
	void apply_traps(const TrapBatch &b);
	void heartbeat();
	void standby_poll();
	// The watched master's record, read from its chip now; nullopt (and
	// *why, if given) when its chip is not discovered or does not answer.
	std::optional<lumen::mgmt::ManagerRecord> read_master_record(std::string *why = nullptr);
	void write_records(uint8_t state);
	void become_master(const std::string &why);
	void become_standby(const lumen::mgmt::ManagerRecord &m, const std::string &why);
	void take_discovery(Discovery d);
	void refresh_paths();
	lumen::mgmt::Path back_of(uint32_t chip) const;
	lumen::mgmt::ManagerRecord my_record(uint8_t state) const;
	void set_routes(RouteResult rr, RoutesFrom from);
	bool mirror(uint32_t generation);

	// Every discovered chip's route words below limit and DATELINE bits,
	// read in-band (GET ROUTES, GET PORT); problems name the GETs that
	// failed (their words stay invalid).
	struct TablesRead {
		lumen::route::Routes routes;
		std::vector<std::string> problems;
		unsigned gets = 0;
	};
	TablesRead read_tables(uint32_t limit);

	nlohmann::json handle(const std::string &line, bool privileged);
	nlohmann::json status() const;
	nlohmann::json topology() const;
	nlohmann::json verify_inband();
	RouteView route_view() const;
	nlohmann::json port_query(const std::vector<std::string> &w);
	void publish();

	Config cfg_;
	CardLock lock_;
	std::string lock_pci_;
	std::unique_ptr<lumen::sys::DrmDevice> dev_;
	std::unique_ptr<lumen::mgmt::Channel> ch_;
	lumen::mgmt::Options mopts_;
	uint32_t local_ = 0;
	Self self_;
	Role role_ = Role::Starting;
	Watch watch_;
	bool watching_ = false;
	// The master this one took over from, as last seen (find_master).
	std::optional<lumen::mgmt::ManagerRecord> deposed_;

	Discovery disc_;
	std::set<lumen::route::Fiber> cabling_, up_;
	FabricRouting routing_;
	RouteResult routes_;
	RoutesFrom routes_from_ = RoutesFrom::None;
	std::optional<lumen::route::GridShape> grid_; // of routes_.topo
	// A standby: the master's generation its tables mirror (none yet).
	std::optional<uint32_t> mirrored_;
	std::string mirror_problem_; // the last mirror's failure, logged once
	// After a failed mirror, the next attempt waits (0.5 s doubling to
	// 8 s): a mirror is a whole discovery and every table, and the loop
	// must keep serving clients and watching the master.
	double mirror_next_ms_ = 0;
	unsigned mirror_backoff_ms_ = 0;
	bool first_routes_ = false; // this master has uploaded no tables yet
	bool routes_programmed_ = false;
	std::string verify_state_ = "failed";
	Uploader uploader_;
	TrapCoalescer coalescer_;
	EventLog events_;
	ControlServer ctl_;

	uint64_t sweep_no_ = 0, generation_ = 0;
	uint32_t activity_ = 0;
	nlohmann::json last_sweep_ = nlohmann::json::object();
	double next_sweep_ = 0, next_beat_ = 0;
};

} // namespace lumen_fm
