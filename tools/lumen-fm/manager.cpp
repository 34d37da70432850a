// SPDX-License-Identifier: MIT
#include "manager.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.hpp"
#include "route/walk.hpp"
#include "sys/device_enum.hpp"
#include "sys/error.hpp"

namespace lumen_fm {

using lumen::mgmt::ManagerRecord;
using lumen::mgmt::Path;
using lumen::route::Fiber;
using lumen::route::PortRef;
using nlohmann::json;

namespace {

const char *role_name(Role r)
{
	switch (r) {
	case Role::Master:
		return "master";
	case Role::Standby:
		return "standby";
	default:
		return "starting";
	}
}

Fiber make_fiber(PortRef a, PortRef b)
{
	return a < b ? Fiber{a, b} : Fiber{b, a};
}

void sd_notify_ready()
{
	const char *sock = getenv("NOTIFY_SOCKET");
	if (!sock || !*sock)
		return;
	struct sockaddr_un a = {};
	a.sun_family = AF_UNIX;
	size_t n = strlen(sock);
	if (n >= sizeof(a.sun_path))
		return;
	memcpy(a.sun_path, sock, n);
	if (a.sun_path[0] == '@')
		a.sun_path[0] = 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	const char msg[] = "READY=1";
	sendto(fd, msg, sizeof(msg) - 1, 0, reinterpret_cast<struct sockaddr *>(&a),
	       socklen_t(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

} // namespace

Manager::Manager(Config cfg) : cfg_(std::move(cfg)), routing_(cfg_.engine)
{
	std::random_device rd;
	self_.guid = (uint64_t(rd()) << 32 | rd()) | 1; // never 0
	self_.priority = cfg_.priority;
	mopts_.timeout_ms = 200;
	mopts_.retries = 2;
	mopts_.window = 16;
}

void Manager::open_card()
{
	auto nodes = lumen::sys::enumerate_devices();
	ch_.reset();
	dev_.reset();
	for (size_t i = 0; i < nodes.size(); i++) {
		// After a reset or unplug: the card we hold the lock of, only.
		if (!lock_pci_.empty() ? nodes[i].pci_address != lock_pci_
				       : cfg_.card >= 0 && size_t(cfg_.card) != i)
			continue;
		auto dev = std::make_unique<lumen::sys::DrmDevice>(nodes[i].devnode);
		drm_lumen_link_info li;
		try {
			li = dev->link_info();
		} catch (const lumen::sys::Error &e) {
			if (cfg_.card >= 0 || !lock_pci_.empty())
				throw;
			continue;
		}
		// Before the first management packet: one manager per card.
		if (!lock_.held()) {
			lock_ = CardLock(nodes[i].pci_address.empty() ? nodes[i].devnode
								      : nodes[i].pci_address);
			lock_pci_ = nodes[i].pci_address;
		}
		local_ = li.chip_id;
		dev_ = std::move(dev);
		log_info("card {} ({}): chip {}", i, nodes[i].pci_address, local_);
		break;
	}
	if (!dev_)
		throw lumen::sys::Error(!lock_pci_.empty()
						? fmt::format("card {} is gone", lock_pci_)
					: cfg_.card >= 0 ? fmt::format("no card {}", cfg_.card)
							 : "no card with a link engine",
					ENODEV);
	ch_ = std::make_unique<lumen::mgmt::Channel>(dev_->fd());
	ch_->probe();
	self_.chip = local_;
}

ManagerRecord Manager::my_record(uint8_t state) const
{
	ManagerRecord r;
	r.guid = self_.guid;
	r.chip_id = local_;
	r.state = state;
	r.priority = self_.priority;
	r.activity = activity_;
	r.sweep = static_cast<uint32_t>(generation_);
	return r;
}

Path Manager::back_of(uint32_t chip) const
{
	if (chip == local_) {
		// A 0-hop trap path means "traps off": out of one UP port and back.
		for (const Fiber &f : up_) {
			if (f.a.chip == local_ && f.b.chip != local_)
				return {f.a.port, f.b.port};
			if (f.b.chip == local_ && f.a.chip != local_)
				return {f.b.port, f.a.port};
		}
		return {};
	}
	const ChipNode *n = disc_.chip(chip);
	return n ? n->back : Path{};
}

void Manager::take_discovery(Discovery d)
{
	std::set<Fiber> now(d.fibers.begin(), d.fibers.end());
	bool repatch = false;
	// A port of a new fiber that is in a remembered fiber to another port:
	// the cabling changed (OCS re-patch), forget the old one. A new fiber
	// between ports nobody cabled before only adds to the cabling.
	auto shares_end = [](const Fiber &x, const Fiber &y) {
		return x.a == y.a || x.a == y.b || x.b == y.a || x.b == y.b;
	};
	for (const Fiber &f : now) {
		if (cabling_.count(f))
			continue;
		for (const Fiber &old : cabling_)
			repatch |= shares_end(f, old);
	}
	if (repatch) {
		log_info("repatch: the cabling changed ({} fibers before, {} UP now)",
			 cabling_.size(), now.size());
		events_.add("repatch",
			    {{"fibers_before", cabling_.size()}, {"fibers", now.size()}});
		cabling_ = now;
	} else {
		cabling_.insert(now.begin(), now.end());
	}
	for (const Fiber &f : cabling_)
		if (up_.count(f) && !now.count(f))
			events_.add("link_down",
				    {{"fiber", {f.a.str(), f.b.str()}}, {"by", "sweep"}});
	for (const Fiber &f : now)
		if (!up_.count(f) && !up_.empty())
			events_.add("link_up",
				    {{"fiber", {f.a.str(), f.b.str()}}, {"by", "sweep"}});
	for (const Conflict &c : d.conflicts)
		events_.add("chip_conflict", {{"chip", c.id},
					      {"serial", c.serial_kept},
					      {"duplicate_serial", c.serial_dup}});
	up_ = std::move(now);
	disc_ = std::move(d);
}

void Manager::refresh_paths()
{
	ModelPaths mp = paths_over(local_, std::vector<Fiber>(up_.begin(), up_.end()));
	for (ChipNode &c : disc_.chips) {
		if (c.id == local_)
			continue;
		auto t = mp.to.find(c.id);
		if (t != mp.to.end()) {
			c.path = t->second;
			c.back = mp.back[c.id];
		}
	}
}

void Manager::full_sweep(const std::string &reason)
{
	double t0 = mono_ms();
	Discovery d = discover(*ch_, {LUMEN_MGMT_MAX_HOPS, mopts_});
	double ms = mono_ms() - t0;
	unsigned gets = d.gets;
	take_discovery(std::move(d));
	if (role_ != Role::Master) {
		sweep_no_++;
		log_info("sweep {} ({}): discover {:.1f} ms ({} chips, {} fibers, {} gets) as {}",
			 sweep_no_, reason, ms, disc_.chips.size(), up_.size(), gets,
			 role_name(role_));
		publish();
		return;
	}
	// Another master? The one that outranks stays (election.hpp).
	std::vector<lumen::mgmt::Request> reqs;
	for (const ChipNode &c : disc_.chips)
		reqs.push_back(lumen::mgmt::get(LUMEN_MGMT_ATTR_MANAGER, c.path));
	auto res = ch_->transact(reqs, mopts_);
	gets += reqs.size();
	std::vector<ManagerRecord> seen;
	for (auto &r : res)
		if (r.ok())
			seen.push_back(
				lumen::mgmt::decode_manager(r.answer.data(), r.answer.data_len()));
	auto other = find_master(seen, self_, deposed_);
	if (other && should_yield(self_, *other)) {
		become_standby(*other, fmt::format("master {:016x} on chip {} outranks us",
						   other->guid, other->chip_id));
		return;
	}
	route_and_upload(reason, ms, gets);
}

void Manager::route_and_upload(const std::string &reason, double discover_ms, unsigned gets)
{
	sweep_no_++;
	RouteResult rr = routing_.update(cabling_, up_, local_);
	std::string line = fmt::format(
		"sweep {} ({}): discover {:.1f} ms ({} chips, {} fibers, "
		"{} gets) route {:.1f} ms ({}{}, {} entries changed) verify {:.1f} ms {}",
		sweep_no_, reason, discover_ms, disc_.chips.size(), up_.size(), gets, rr.route_ms,
		rr.engine.empty() ? "none" : rr.engine, rr.full ? " full" : "", rr.entries_changed,
		rr.verify_ms, rr.ok ? "ok" : "FAILED");
	if (!rr.unreachable.empty())
		line += fmt::format(" (partitioned: {} chips unreachable: {})",
				    rr.unreachable.size(), fmt::join(rr.unreachable, " "));
	last_sweep_ = {{"reason", reason},	    {"discover_ms", discover_ms},
		       {"route_ms", rr.route_ms},   {"engine", rr.engine},
		       {"full", rr.full},	    {"entries_changed", rr.entries_changed},
		       {"verify_ms", rr.verify_ms}, {"upload_ms", 0.0},
		       {"upload_bytes", 0},	    {"blocks", 0}};
	if (!rr.ok) {
		verify_state_ = "failed";
		log_info("{}", line);
		log_error("routes not uploaded: {}", rr.why);
		events_.add("sweep", {{"sweep", sweep_no_},
				      {"reason", reason},
				      {"ok", false},
				      {"why", rr.why.substr(0, 400)}});
		publish();
		return;
	}
	verify_state_ = "ok";
	UploadStats st = uploader_.upload(
		*ch_, disc_, *rr.routes, cfg_.mkey, [this](uint32_t c) { return back_of(c); },
		mopts_);
	// A new master's first tables are a new generation even where the
	// chips held them already: clients of the old master or of a standby's
	// mirror see the number move on, never back.
	const bool bumped = st.blocks || st.ports || first_routes_;
	if (bumped)
		generation_++;
	first_routes_ = false;
	routes_programmed_ = st.failures == 0;
	set_routes(std::move(rr), RoutesFrom::Computed);
	last_sweep_["upload_ms"] = st.ms;
	last_sweep_["upload_bytes"] = st.bytes;
	last_sweep_["blocks"] = st.blocks;
	last_sweep_["upload_waves"] = st.waves;
	log_info("{} upload {:.1f} ms ({} blocks, {} ports, {} trap paths, {} bytes, {} waves{})",
		 line, st.ms, st.blocks, st.ports, st.trap_paths, st.bytes, st.waves,
		 st.failures ? fmt::format(", {} FAILED", st.failures) : "");
	write_records(LUMEN_MGMT_MANAGER_MASTER);
	events_.add("sweep", {{"sweep", sweep_no_},
			      {"reason", reason},
			      {"ok", routes_programmed_},
			      {"generation", generation_},
			      {"blocks", st.blocks}});
	if (bumped)
		events_.add("reroute", {{"generation", generation_}, {"reason", reason}});
	publish();
}

void Manager::write_records(uint8_t state)
{
	std::vector<lumen::mgmt::Request> reqs;
	activity_++;
	auto data = lumen::mgmt::encode_manager(my_record(state));
	for (const ChipNode &c : disc_.chips)
		reqs.push_back(lumen::mgmt::set(LUMEN_MGMT_ATTR_MANAGER, c.path, data, cfg_.mkey));
	auto res = ch_->transact(reqs, mopts_);
	for (size_t i = 0; i < res.size(); i++)
		if (!res[i].ok())
			log_warn("manager record on chip {}: {}", disc_.chips[i].id, res[i].what());
}

void Manager::heartbeat()
{
	activity_++;
	auto r = ch_->call(
		lumen::mgmt::set(LUMEN_MGMT_ATTR_MANAGER, {},
				 lumen::mgmt::encode_manager(my_record(LUMEN_MGMT_MANAGER_MASTER)),
				 cfg_.mkey),
		mopts_);
	if (!r.ok())
		log_warn("heartbeat on chip {}: {}", local_, r.what());
}

void Manager::become_master(const std::string &why)
{
	bool takeover = role_ == Role::Standby || watching_;
	role_ = Role::Master;
	watching_ = false;
	log_info("master ({}), guid {:016x}", why, self_.guid);
	if (takeover) {
		deposed_ = watch_.master();
		// Number on from the old master's generation (as last polled, or
		// as mirrored if that is newer).
		generation_ = std::max<uint64_t>(generation_, watch_.master().sweep);
	}
	first_routes_ = true;
	if (takeover)
		events_.add("takeover",
			    {{"why", why}, {"guid", fmt::format("{:016x}", self_.guid)}});
	uploader_.forget_all(); // read back what the chips hold, re-point traps
	full_sweep(takeover ? "takeover" : "start");
	next_sweep_ = mono_ms() + cfg_.sweep_ms;
}

void Manager::become_standby(const ManagerRecord &m, const std::string &why)
{
	role_ = Role::Standby;
	deposed_.reset();
	mirrored_.reset(); // mirror this master's tables at the next poll
	watch_ = Watch(m, mono_ms());
	watching_ = true;
	log_info("standby ({}): master {:016x} on chip {}", why, m.guid, m.chip_id);
	events_.add("standby", {{"master_chip", m.chip_id},
				{"master_guid", fmt::format("{:016x}", m.guid)},
				{"why", why}});
	publish();
}

void Manager::start_election()
{
	double t0 = mono_ms();
	Discovery d = discover(*ch_, {LUMEN_MGMT_MAX_HOPS, mopts_});
	log_info("discover {:.1f} ms ({} chips, {} fibers, {} gets)", mono_ms() - t0,
		 d.chips.size(), d.fibers.size(), d.gets);
	take_discovery(std::move(d));
	std::vector<lumen::mgmt::Request> reqs;
	for (const ChipNode &c : disc_.chips)
		reqs.push_back(lumen::mgmt::get(LUMEN_MGMT_ATTR_MANAGER, c.path));
	auto res = ch_->transact(reqs, mopts_);
	std::vector<ManagerRecord> seen;
	for (auto &r : res) {
		if (r.ok())
			seen.push_back(
				lumen::mgmt::decode_manager(r.answer.data(), r.answer.data_len()));
		else if (r.err == 0)
			log_warn("GET MANAGER: {} (a chip without ATTR_MANAGER?)", r.what());
	}
	// Number generations on from every record's (a restart or another
	// manager's), so clients waiting on it never see it go back.
	for (const ManagerRecord &r : seen)
		generation_ = std::max<uint64_t>(generation_, r.sweep);
	auto m = find_master(seen, self_);
	if (!m) {
		become_master("no master on the fabric");
		return;
	}
	// Alive? Its activity must move within --takeover-ms.
	log_info("master record {:016x} of chip {} found: watching it", m->guid, m->chip_id);
	watch_ = Watch(*m, mono_ms());
	watching_ = true;
	role_ = Role::Starting;
	publish();
}

std::optional<ManagerRecord> Manager::read_master_record(std::string *why)
{
	const ChipNode *n = disc_.chip(watch_.master().chip_id);
	if (!n) {
		if (why)
			*why = fmt::format("chip {} is not discovered", watch_.master().chip_id);
		return std::nullopt;
	}
	auto r = ch_->call(lumen::mgmt::get(LUMEN_MGMT_ATTR_MANAGER, n->path), mopts_);
	if (!r.ok()) {
		if (why)
			*why = r.what();
		return std::nullopt;
	}
	return lumen::mgmt::decode_manager(r.answer.data(), r.answer.data_len());
}

void Manager::standby_poll()
{
	std::optional<ManagerRecord> rec = read_master_record();
	if (!rec) {
		// The directed route to the master's chip may cross a fiber that
		// just went down (the master is rerouting around it): find the
		// chip again before its silence counts towards a takeover.
		double t0 = mono_ms();
		Discovery d = discover(*ch_, {LUMEN_MGMT_MAX_HOPS, mopts_});
		log_debug("standby: master's chip {} silent, discover {:.1f} ms ({} chips)",
			  watch_.master().chip_id, mono_ms() - t0, d.chips.size());
		take_discovery(std::move(d));
		rec = read_master_record();
	}
	switch (watch_.poll(rec, mono_ms(), cfg_.takeover_ms)) {
	case Watch::Verdict::Alive:
		if (role_ == Role::Starting)
			become_standby(watch_.master(), "its heartbeat moves");
		break;
	case Watch::Verdict::Follow:
		log_info("master is now {:016x} on chip {}", watch_.master().guid,
			 watch_.master().chip_id);
		mirrored_.reset(); // another master's generations
		if (role_ == Role::Starting)
			become_standby(watch_.master(), "a new master");
		break;
	case Watch::Verdict::Takeover:
		become_master(watch_.why());
		break;
	case Watch::Verdict::Keep:
		break;
	}
	// The master's tables, read again only when its generation moves (at
	// most one mirror per poll; a failed one is retried at the next).
	if (role_ == Role::Standby && rec && (!mirrored_ || *mirrored_ != rec->sweep) &&
	    mono_ms() >= mirror_next_ms_)
		mirror(rec->sweep);
}

void Manager::set_routes(RouteResult rr, RoutesFrom from)
{
	routes_ = std::move(rr);
	routes_from_ = routes_.topo && routes_.routes ? from : RoutesFrom::None;
	grid_ = routes_.topo ? lumen::route::infer_grid(*routes_.topo) : std::nullopt;
}

bool Manager::mirror(uint32_t generation)
{
	const double t0 = mono_ms();
	Discovery d = discover(*ch_, {LUMEN_MGMT_MAX_HOPS, mopts_});
	unsigned gets = d.gets;
	take_discovery(std::move(d));
	auto failed = [&](const std::string &why) {
		// Every poll retries: say it once, not twice a second.
		if (why != mirror_problem_)
			log_warn("mirror of generation {}: {}; keeping generation {}, retrying",
				 generation, why, generation_);
		else
			log_debug("mirror of generation {}: {}", generation, why);
		mirror_problem_ = why;
		mirror_backoff_ms_ =
			std::min(8000u, mirror_backoff_ms_ ? 2 * mirror_backoff_ms_ : 500u);
		mirror_next_ms_ = mono_ms() + mirror_backoff_ms_;
		return false;
	};
	if (cabling_.empty())
		return failed("no fibers discovered");
	RouteResult rr;
	try {
		// The topology as the master builds it: the cabling discovered.
		rr.topo = std::make_unique<lumen::route::Topology>(
			lumen::route::Topology::from_fibers({cabling_.begin(), cabling_.end()},
							    "discovered"));
	} catch (const std::exception &e) {
		return failed(e.what());
	}
	TablesRead tr = read_tables(rr.topo->id_limit());
	gets += tr.gets;
	if (!tr.problems.empty())
		return failed(fmt::format("{} GETs failed, the first: {}", tr.problems.size(),
					  tr.problems.front()));
	// The master may have uploaded (part of) new tables while they were
	// read: its record says so; read them again at the next poll.
	if (disc_.chip(watch_.master().chip_id)) {
		std::string why;
		auto now = read_master_record(&why);
		if (!now)
			return failed("the master's record: " + why);
		if (now->sweep != generation)
			return failed(fmt::format("the master moved on to generation {} while its "
						  "tables were read",
						  now->sweep));
	}
	rr.ok = true;
	rr.full = true;
	rr.routes = std::make_unique<lumen::route::Routes>(std::move(tr.routes));
	for (const Fiber &f : cabling_)
		if (!up_.count(f))
			rr.down.push_back(f);
	for (uint32_t c : rr.topo->chips())
		if (!disc_.chip(c))
			rr.unreachable.push_back(c);
	// What the chips hold, proven as the master proves its own: kept
	// even when it fails (it is what packets follow), with verify "failed".
	const double t1 = mono_ms();
	lumen::route::VerifyOptions vo;
	vo.cut = rr.down;
	if (!rr.unreachable.empty()) {
		for (uint32_t c : rr.topo->chips())
			if (disc_.chip(c))
				vo.only.push_back(c);
		if (vo.only.size() < 2)
			vo.only.clear();
	}
	rr.report = lumen::route::verify(*rr.topo, *rr.routes, vo);
	rr.verify_ms = mono_ms() - t1;
	verify_state_ = rr.report.ok() ? "ok" : "failed";
	if (!rr.report.ok())
		log_warn("mirror of generation {}: the tables read fail the verifier: {}",
			 generation, rr.report.str());
	set_routes(std::move(rr), RoutesFrom::Mirror);
	// The master's number, unless ours is past it already (a deposed
	// master's, or seeded from every record at start): then tables new
	// since the last mirror still move it on.
	if (generation > generation_)
		generation_ = generation;
	else if (mirrored_)
		generation_++;
	mirrored_ = generation;
	mirror_problem_.clear();
	mirror_backoff_ms_ = 0;
	mirror_next_ms_ = 0;
	log_info("mirror of generation {}: {} chips, {} fibers, {} gets, {:.1f} ms, verify {}",
		 generation, disc_.chips.size(), up_.size(), gets, mono_ms() - t0, verify_state_);
	events_.add("mirror", {{"generation", generation_}, {"master_generation", generation}});
	publish();
	return true;
}

void Manager::apply_traps(const TrapBatch &b)
{
	std::string what;
	bool changed = false, cabling = false;
	double t0 = mono_ms();

	for (const auto &t : b.traps) {
		PortRef p{t.chip_id, t.port};
		std::string s = p.str() + (t.state == LUMEN_LINK_UP	    ? " up"
					   : t.state == LUMEN_LINK_DOWN	    ? " down"
					   : t.state == LUMEN_LINK_TRAINING ? " training"
									    : " error");
		what += (what.empty() ? "" : ", ") + s;
		if (t.state == LUMEN_LINK_UP) {
			if (t.peer_chip == UINT32_MAX || t.peer_port >= lumen::route::kMaxPorts)
				continue;
			Fiber f = make_fiber(p, {t.peer_chip, static_cast<uint8_t>(t.peer_port)});
			if (!cabling_.count(f)) {
				cabling = true; // a new neighbour: re-discover
				continue;
			}
			if (up_.insert(f).second) {
				changed = true;
				events_.add("link_up",
					    {{"fiber", {f.a.str(), f.b.str()}}, {"by", "trap"}});
			}
			continue;
		}
		for (auto it = up_.begin(); it != up_.end();) {
			if (it->a == p || it->b == p) {
				events_.add("link_down", {{"fiber", {it->a.str(), it->b.str()}},
							  {"by", "trap"}});
				it = up_.erase(it);
				changed = true;
			} else {
				++it;
			}
		}
	}
	std::string reason = fmt::format(
		"trap {}{}", b.traps.size() > 3 ? fmt::format("x{} ", b.traps.size()) : "",
		b.traps.size() > 3 ? "" : what);
	if (b.seq_gap || cabling) {
		full_sweep(b.seq_gap ? "traps lost" : "new peer");
		return;
	}
	if (!changed)
		return;
	refresh_paths();
	route_and_upload(reason, mono_ms() - t0, 0);
}

void Manager::publish()
{
	json st = status();
	st["topology"] = topology();
	if (!write_atomic(cfg_.state_dir + "/state.json", st.dump() + "\n"))
		log_warn("state: cannot write {}/state.json: {}", cfg_.state_dir, strerror(errno));
}

json Manager::status() const
{
	static const char *const from[] = {"none", "computed", "mirror"};
	uint32_t master_chip = role_ == Role::Master ? local_ : watch_.master().chip_id;
	size_t down = 0;
	for (const Fiber &f : cabling_)
		down += !up_.count(f);
	json st = {{"role", role_name(role_)},
		   {"guid", fmt::format("{:016x}", self_.guid)},
		   {"chip", local_},
		   {"master_chip",
		    watching_ || role_ == Role::Master ? json(master_chip) : json(nullptr)},
		   {"sweep", sweep_no_},
		   {"generation", generation_},
		   {"chips", disc_.chips.size()},
		   {"fibers", up_.size()},
		   {"links_down", down},
		   {"unreachable", routes_.unreachable.size()},
		   {"engine", routes_.engine.empty() ? "dor" : routes_.engine},
		   {"verify", verify_state_},
		   {"routes_programmed", routes_programmed_},
		   {"last_sweep", last_sweep_},
		   {"event_seq", events_.last_seq()},
		   {"routes_from", from[static_cast<int>(routes_from_)]}};
	st.update(grid_fields(grid_));
	return st;
}

json Manager::topology() const
{
	json chips = json::array();
	for (const ChipNode &c : disc_.chips) {
		json ports = json::array();
		for (const auto &p : c.ports) {
			json jp = {{"port", p.port}, {"state", link_state_name(p.state)}};
			if (p.state == LUMEN_LINK_UP) {
				jp["peer_chip"] = p.peer_chip;
				jp["peer_port"] = p.peer_port;
			}
			ports.push_back(jp);
		}
		chips.push_back({{"id", c.id},
				 {"serial", c.serial},
				 {"path", c.path},
				 {"num_ports", c.num_ports},
				 {"coords", grid_coords(grid_, c.id)},
				 {"ports", ports}});
	}
	json fibers = json::array(), down = json::array();
	for (const Fiber &f : up_)
		fibers.push_back({f.a.str(), f.b.str()});
	for (const Fiber &f : cabling_)
		if (!up_.count(f))
			down.push_back({f.a.str(), f.b.str()});
	json conflicts = json::array();
	for (const Conflict &c : disc_.conflicts)
		conflicts.push_back({{"chip", c.id},
				     {"serial", c.serial_kept},
				     {"duplicate_serial", c.serial_dup}});
	return {{"chips", chips}, {"fibers", fibers}, {"down", down}, {"conflicts", conflicts}};
}

Manager::TablesRead Manager::read_tables(uint32_t limit)
{
	const uint32_t blocks = (limit + kBlock - 1) / kBlock;
	std::vector<lumen::mgmt::Request> reqs;
	struct Of {
		uint32_t chip;
		int kind;
		uint32_t arg;
	};
	std::vector<Of> of;
	for (const ChipNode &c : disc_.chips) {
		for (uint32_t b = 0; b < blocks; b++) {
			reqs.push_back(
				lumen::mgmt::get(LUMEN_MGMT_ATTR_ROUTES, c.path, b * kBlock));
			of.push_back({c.id, 0, b});
		}
		for (const auto &p : c.ports) {
			reqs.push_back(lumen::mgmt::get(LUMEN_MGMT_ATTR_PORT, c.path, p.port));
			of.push_back({c.id, 1, p.port});
		}
	}
	auto res = ch_->transact(reqs, mopts_);
	TablesRead tr{lumen::route::Routes(limit), {}, static_cast<unsigned>(reqs.size())};
	for (size_t i = 0; i < res.size(); i++) {
		if (!res[i].ok()) {
			tr.problems.push_back(fmt::format("chip {}: {} {}: {}", of[i].chip,
							  of[i].kind ? "GET PORT" : "GET ROUTES",
							  of[i].arg, res[i].what()));
			continue;
		}
		const uint8_t *d = res[i].answer.data();
		if (of[i].kind == 0) {
			for (uint32_t k = 0; k < kBlock; k++) {
				uint32_t dst = of[i].arg * kBlock + k, w;
				memcpy(&w, d + 4 * k, 4);
				if (dst < limit && of[i].chip < limit)
					tr.routes.set(of[i].chip, dst, lumen_le32_to_cpu(w));
			}
		} else if (of[i].chip < limit) {
			uint32_t ctrl;
			memcpy(&ctrl, d, 4);
			tr.routes.set_dateline(of[i].chip, of[i].arg,
					       lumen_le32_to_cpu(ctrl) & LUMEN_LCTRL_DATELINE);
		}
	}
	return tr;
}

json Manager::verify_inband()
{
	if (!routes_.topo)
		return {{"ok", false},	 {"pairs", 0},
			{"arrived", 0},	 {"cdg_acyclic", false},
			{"max_hops", 0}, {"problems", {"no routes computed yet"}}};
	const auto &t = *routes_.topo;
	TablesRead tr = read_tables(t.id_limit());
	json problems = tr.problems;
	lumen::route::VerifyOptions vo;
	for (const Fiber &f : cabling_)
		if (!up_.count(f))
			vo.cut.push_back(f);
	auto rep = lumen::route::verify(t, tr.routes, vo);
	for (const auto &p : rep.problems)
		problems.push_back(p);
	return {{"ok", rep.ok() && problems.size() == rep.problems.size()},
		{"pairs", rep.pairs},
		{"arrived", rep.arrived},
		{"cdg_acyclic", rep.cdg_acyclic},
		{"max_hops", rep.max_hops},
		{"problems", problems}};
}

RouteView Manager::route_view() const
{
	RouteView v;
	v.topo = routes_.topo.get();
	v.routes = routes_.routes.get();
	for (const Fiber &f : cabling_)
		if (!up_.count(f))
			v.down.push_back(f);
	v.generation = generation_;
	return v;
}

json Manager::port_query(const std::vector<std::string> &w)
{
	uint32_t chip, port;
	if (w.size() != 3)
		return error_answer(code::kUsage, "usage: port CHIP PORT");
	if (!parse_u32(w[1], chip) || !parse_u32(w[2], port))
		return error_answer(code::kUsage, "bad number in 'port " + w[1] + " " + w[2] + "'");
	if (!ch_)
		return error_answer(code::kNoCard, "no card open");
	const ChipNode *n = disc_.chip(chip);
	if (!n)
		return error_answer(code::kInvalidChip,
				    fmt::format("chip {} is not in the fabric", chip));
	if (port >= n->num_ports)
		return error_answer(
			code::kInvalidPort,
			fmt::format("chip {} has {} ports, no port {}", chip, n->num_ports, port));
	lumen::mgmt::Result r;
	try {
		r = ch_->call(lumen::mgmt::get(LUMEN_MGMT_ATTR_PORT, n->path, port), mopts_);
	} catch (const lumen::mgmt::ChannelError &e) {
		return error_answer(code::kNoCard, e.what()); // the loop reopens the card
	}
	if (!r.ok())
		return error_answer(code::kUnreachable,
				    fmt::format("GET PORT {} of chip {} via {}: {}", port, chip,
						lumen::mgmt::path_str(n->path), r.what()));
	// The neighbour: from the fibers up (traps keep them current on a
	// master), else as the last discovery saw the port.
	const PortRef me{chip, static_cast<uint8_t>(port)};
	std::optional<PortRef> peer;
	for (const Fiber &f : up_)
		if (f.a == me || f.b == me)
			peer = f.a == me ? f.b : f.a;
	for (const auto &p : n->ports)
		if (!peer && p.port == port && p.state == LUMEN_LINK_UP &&
		    p.peer_port < lumen::route::kMaxPorts)
			peer = PortRef{p.peer_chip, static_cast<uint8_t>(p.peer_port)};
	try {
		return port_answer(chip, port, r.answer.data(), r.answer.data_len(), peer);
	} catch (const lumen::mgmt::PacketError &e) {
		return error_answer(code::kUnreachable, fmt::format("chip {}: {}", chip, e.what()));
	}
}

json Manager::handle(const std::string &line, bool privileged)
{
	std::istringstream in(line);
	std::vector<std::string> w;
	for (std::string s; in >> s;)
		w.push_back(s);
	if (w.empty())
		return error_answer(code::kUsage, "empty request");
	try {
		if (w[0] == "status")
			return status();
		if (w[0] == "topology")
			return topology();
		if (w[0] == "events") {
			uint64_t since = 0;
			if (w.size() == 3 && w[1] == "--since")
				since = std::stoull(w[2]);
			else if (w.size() != 1)
				return error_answer(code::kUsage, "usage: events [--since SEQ]");
			return {{"events", events_.since(since)}};
		}
		if ((w[0] == "verify" || w[0] == "sweep") && !privileged)
			return error_answer(code::kNotPermitted,
					    "'" + w[0] + "' makes the manager work: root only");
		if (w[0] == "verify") {
			if (!ch_)
				return error_answer(code::kNoCard, "no card open");
			return verify_inband();
		}
		if (w[0] == "sweep") {
			if (role_ != Role::Master)
				return error_answer(code::kNotMaster,
						    std::string("this manager is ") +
							    role_name(role_) + ", not master");
			full_sweep("requested");
			next_sweep_ = mono_ms() + cfg_.sweep_ms;
			return status();
		}
		if (w[0] == "route")
			return answer_route(route_view(), w);
		if (w[0] == "routes")
			return answer_routes(route_view(), w);
		if (w[0] == "port")
			return port_query(w);
	} catch (const std::logic_error &e) {
		return error_answer(code::kUsage, "bad number in '" + line + "'");
	}
	return error_answer(
		code::kUnknownCommand,
		"unknown command '" + w[0] +
			"' (status, topology, events, verify, sweep, route, routes, port)");
}

int Manager::run(volatile std::sig_atomic_t *stop)
{
	if (mkdir(cfg_.state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
		log_error("state dir {}: {}", cfg_.state_dir, strerror(errno));
		return 1;
	}
	events_.set_file(cfg_.state_dir + "/events.jsonl");
	try {
		open_card();
		ctl_.open(cfg_.state_dir + "/fm.sock");
	} catch (const lumen::mgmt::ChannelError &e) {
		log_error("{}", e.what());
		return 1;
	} catch (const std::exception &e) {
		log_error("{}", e.what());
		return 1;
	}
	auto serve = [this] {
		ctl_.serve([this](const std::string &l, bool privileged) {
			return handle(l, privileged);
		});
	};
	unsigned backoff_ms = 100;
	bool started = false;
	while (!*stop) {
		try {
			if (!ch_) {
				open_card();
				uploader_.forget_all();
				started = false;
			}
			if (!started) {
				start_election();
				started = true;
				sd_notify_ready();
				next_beat_ = mono_ms();
				next_sweep_ = mono_ms() + cfg_.sweep_ms;
			}
			backoff_ms = 100;
			serve();
			double now = mono_ms();
			auto &q = ch_->traps();
			while (!q.empty()) {
				if (role_ == Role::Master)
					coalescer_.add(q.front().trap, now);
				q.pop_front();
			}
			if (role_ == Role::Master && coalescer_.pending() &&
			    now >= coalescer_.due_ms())
				apply_traps(coalescer_.take());
			if (now >= next_beat_) {
				if (role_ == Role::Master)
					heartbeat();
				else if (watching_)
					standby_poll();
				next_beat_ = now + cfg_.heartbeat_ms;
			}
			if (now >= next_sweep_) {
				full_sweep("periodic");
				next_sweep_ = mono_ms() + cfg_.sweep_ms;
			}
			double until = std::min(next_beat_, next_sweep_);
			if (coalescer_.pending())
				until = std::min(until, coalescer_.due_ms());
			until = std::min(until, mono_ms() + 200); // signals can race the wait
			if (*stop)
				break;
			double left = until - mono_ms();
			if (left > 0)
				ch_->wait(lumen::mgmt::now_ns() + uint64_t(left * 1e6));
		} catch (const lumen::mgmt::ChannelError &e) {
			log_error("{}; reopening the card in {} ms", e.what(), backoff_ms);
			ch_.reset();
			dev_.reset();
			usleep(backoff_ms * 1000);
			backoff_ms = std::min(backoff_ms * 2, 5000u);
		} catch (const lumen::sys::Error &e) {
			log_error("{}; retrying in {} ms", e.what(), backoff_ms);
			ch_.reset();
			dev_.reset();
			usleep(backoff_ms * 1000);
			backoff_ms = std::min(backoff_ms * 2, 5000u);
		}
	}
	log_info("stopping ({})", role_name(role_));
	if (role_ == Role::Master && ch_) {
		try {
			write_records(LUMEN_MGMT_MANAGER_NONE); // hand over at once
		} catch (const std::exception &e) {
			log_warn("handing over: {}", e.what());
		}
	}
	ctl_.close();
	return 0;
}

} // namespace lumen_fm
