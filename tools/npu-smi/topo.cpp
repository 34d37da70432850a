// SPDX-License-Identifier: MIT
#include "topo.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include <fmt/format.h>

#include "fields.hpp"

namespace npusmi {

using nlohmann::json;

namespace {

// An fd closed when it goes out of scope.
class Fd {
      public:
	explicit Fd(int fd) : fd_(fd) {}
	~Fd()
	{
		if (fd_ >= 0)
			::close(fd_);
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int get() const { return fd_; }

      private:
	int fd_;
};

int ms_left(std::chrono::steady_clock::time_point deadline)
{
	const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
		deadline - std::chrono::steady_clock::now());
	return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

} // namespace

json fm_request(const std::string &state_dir, const std::string &request,
		std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	const std::string path = state_dir + "/fm.sock";
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.size() >= sizeof(addr.sun_path))
		throw FmError(path + ": path too long", "usage");
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (fd.get() < 0)
		throw FmError(std::string("socket: ") + std::strerror(errno), "no_manager");
	if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0 &&
	    errno != EINPROGRESS && errno != EAGAIN)
		throw FmError(fmt::format("no fabric manager at {}: {} (is lumen-fm running?)",
					  path, std::strerror(errno)),
			      "no_manager");
	const std::string line = request + "\n";
	size_t sent = 0;
	while (sent < line.size()) {
		pollfd p{fd.get(), POLLOUT, 0};
		if (::poll(&p, 1, ms_left(deadline)) <= 0)
			throw FmError("fabric manager did not accept the request in time",
				      "timeout");
		const ssize_t n =
			::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			throw FmError(std::string("fabric manager: send: ") + std::strerror(errno),
				      "no_manager");
		sent += n > 0 ? static_cast<size_t>(n) : 0;
	}
	std::string answer;
	char buf[65536];
	for (;;) {
		pollfd p{fd.get(), POLLIN, 0};
		if (::poll(&p, 1, ms_left(deadline)) <= 0)
			throw FmError(fmt::format("fabric manager did not answer within {} ms",
						  timeout.count()),
				      "timeout");
		const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			throw FmError(std::string("fabric manager: recv: ") + std::strerror(errno),
				      "no_manager");
		if (n == 0)
			break;
		answer.append(buf, static_cast<size_t>(n));
	}
	json j = json::parse(answer, nullptr, false);
	if (j.is_discarded() || !j.is_object())
		throw FmError("fabric manager sent no JSON object", "protocol");
	if (j.contains("error"))
		throw FmError("fabric manager: " + j["error"].get<std::string>(),
			      j.value("code", std::string("error")));
	return j;
}

std::string port_label(unsigned port)
{
	static const char *const names[] = {"+x", "-x", "+y", "-y", "+z", "-z"};
	return port < 6 ? names[port] : fmt::format("p{}", port);
}

Topology topology_from_fm(const json &status, const json &topo)
{
	Topology t;
	t.source = "fabric-manager";
	t.shape = status.value("shape", std::string());
	t.links_not_up = status.value("links_down", 0u);
	for (const auto &c : topo.at("chips")) {
		TopoChip chip;
		chip.id = c.at("id").get<uint32_t>();
		chip.serial = c.value("serial", std::string());
		for (const auto &p : c.at("ports")) {
			TopoPort tp;
			tp.port = p.at("port").get<unsigned>();
			tp.state = p.value("state", std::string("down"));
			if (p.contains("peer_chip") && p["peer_chip"].is_number())
				tp.peer_chip = p["peer_chip"].get<uint32_t>();
			if (p.contains("peer_port") && p["peer_port"].is_number())
				tp.peer_port = p["peer_port"].get<uint32_t>();
			chip.ports.push_back(tp);
		}
		t.chips[chip.id] = std::move(chip);
	}
	return t;
}

Topology topology_from_cards(const std::vector<CardReport> &cards)
{
	Topology t;
	t.source = "sysfs";
	for (const auto &c : cards) {
		if (c.error || c.links.error || !c.links.chip_id)
			continue;
		TopoChip chip;
		chip.id = *c.links.chip_id;
		chip.serial = c.serial;
		for (const auto &p : c.links.ports) {
			chip.ports.push_back({p.port, p.state, p.peer_chip, p.peer_port});
			// Lit but not UP: a fiber is there and did not come up.
			if (p.state != "up" &&
			    (p.light || p.state == "training" || p.state == "error"))
				t.links_not_up++;
		}
		t.chips[chip.id] = std::move(chip);
	}
	// Neighbours on other hosts appear as chips whose ports are unknown.
	std::vector<uint32_t> remote;
	for (const auto &[id, chip] : t.chips)
		for (const auto &p : chip.ports)
			if (p.state == "up" && p.peer_chip && !t.chips.count(*p.peer_chip))
				remote.push_back(*p.peer_chip);
	for (uint32_t id : remote)
		t.chips[id].id = id;
	return t;
}

namespace {

// UP neighbours of every chip, each chip's list in port order; a fiber seen
// from one end only (a remote chip) counts both ways.
std::map<uint32_t, std::vector<uint32_t>> adjacency(const Topology &t)
{
	std::map<uint32_t, std::vector<uint32_t>> adj;
	for (const auto &[id, chip] : t.chips)
		adj[id];
	auto add = [&adj](uint32_t a, uint32_t b) {
		auto &v = adj[a];
		if (std::find(v.begin(), v.end(), b) == v.end())
			v.push_back(b);
	};
	for (const auto &[id, chip] : t.chips)
		for (const auto &p : chip.ports)
			if (p.state == "up" && p.peer_chip && t.chips.count(*p.peer_chip)) {
				add(id, *p.peer_chip);
				add(*p.peer_chip, id);
			}
	return adj;
}

std::map<uint32_t, unsigned> bfs(const std::map<uint32_t, std::vector<uint32_t>> &adj, uint32_t src)
{
	std::map<uint32_t, unsigned> dist{{src, 0}};
	std::deque<uint32_t> q{src};
	while (!q.empty()) {
		const uint32_t u = q.front();
		q.pop_front();
		for (uint32_t v : adj.at(u))
			if (dist.emplace(v, dist[u] + 1).second)
				q.push_back(v);
	}
	return dist;
}

} // namespace

unsigned count_fibers(const Topology &t)
{
	unsigned n = 0;
	for (const auto &[id, nbrs] : adjacency(t))
		n += static_cast<unsigned>(nbrs.size());
	return n / 2;
}

HopStats hop_stats(const Topology &t)
{
	HopStats s;
	const auto adj = adjacency(t);
	for (const auto &[src, nbrs] : adj) {
		const auto dist = bfs(adj, src);
		for (const auto &[dst, d] : dist)
			if (dst != src)
				s.histogram[d]++;
		s.unreachable += adj.size() - dist.size();
	}
	return s;
}

std::vector<std::vector<std::optional<unsigned>>> hop_matrix(const Topology &t)
{
	const auto adj = adjacency(t);
	std::vector<std::vector<std::optional<unsigned>>> m;
	for (const auto &[src, nbrs] : adj) {
		const auto dist = bfs(adj, src);
		m.emplace_back();
		for (const auto &[dst, unused] : adj) {
			auto it = dist.find(dst);
			m.back().push_back(it == dist.end() ? std::nullopt
							    : std::optional<unsigned>(it->second));
		}
	}
	return m;
}

json topo_json(const Topology &t, bool neighbors, bool matrix)
{
	const HopStats hs = hop_stats(t);
	json hist = json::object();
	for (const auto &[h, n] : hs.histogram)
		hist[std::to_string(h)] = n;
	json j = {{"schema_version", kSchemaVersion},
		  {"source", t.source},
		  {"shape", t.shape},
		  {"chips", t.chips.size()},
		  {"fibers_up", count_fibers(t)},
		  {"links_not_up", t.links_not_up},
		  {"hop_histogram", hist},
		  {"unreachable_pairs", hs.unreachable}};
	if (neighbors) {
		json arr = json::array();
		for (const auto &[id, chip] : t.chips) {
			json ports = json::array();
			for (const auto &p : chip.ports)
				ports.push_back(
					{{"port", p.port},
					 {"name", port_label(p.port)},
					 {"state", p.state},
					 {"peer_chip", p.peer_chip ? json(*p.peer_chip) : json()},
					 {"peer_port", p.peer_port ? json(*p.peer_port) : json()}});
			arr.push_back({{"chip", id}, {"serial", chip.serial}, {"ports", ports}});
		}
		j["neighbors"] = arr;
	}
	if (matrix) {
		json ids = json::array();
		for (const auto &[id, chip] : t.chips)
			ids.push_back(id);
		json rows = json::array();
		for (const auto &row : hop_matrix(t)) {
			json r = json::array();
			for (const auto &h : row)
				r.push_back(h ? json(*h) : json());
			rows.push_back(r);
		}
		j["matrix"] = {{"chips", ids}, {"hops", rows}};
	}
	return j;
}

std::string render_topo_text(const Topology &t, bool neighbors, bool matrix)
{
	const HopStats hs = hop_stats(t);
	std::string out = fmt::format("Source:        {}\nShape:         {}\nChips:         {}\n"
				      "Fibers up:     {}\nLinks not up:  {}\n",
				      t.source, t.shape.empty() ? "-" : t.shape, t.chips.size(),
				      count_fibers(t), t.links_not_up);
	out += "Hops:         ";
	for (const auto &[h, n] : hs.histogram)
		out += fmt::format(" {}:{}", h, n);
	out += fmt::format("{}  (pairs; unreachable: {})\n", hs.histogram.empty() ? " -" : "",
			   hs.unreachable);
	if (neighbors) {
		out += "\nChip  Neighbours (port -> chip.port)\n";
		for (const auto &[id, chip] : t.chips) {
			out += fmt::format("{:<5}", id);
			if (chip.ports.empty())
				out += " (not on this host)";
			for (const auto &p : chip.ports) {
				if (p.state == "up" && p.peer_chip)
					out += fmt::format(" {}->{}.{}", port_label(p.port),
							   *p.peer_chip,
							   port_label(p.peer_port.value_or(0)));
				else
					out += fmt::format(" {}:{}", port_label(p.port), p.state);
			}
			out += "\n";
		}
	}
	if (matrix) {
		out += "\nHops  ";
		for (const auto &[id, chip] : t.chips)
			out += fmt::format("{:>4}", id);
		out += "\n";
		size_t i = 0;
		const auto m = hop_matrix(t);
		for (const auto &[id, chip] : t.chips) {
			out += fmt::format("{:<6}", id);
			for (size_t k = 0; k < m[i].size(); k++)
				out += fmt::format("{:>4}", k == i    ? std::string("-")
							    : m[i][k] ? std::to_string(*m[i][k])
								      : std::string("X"));
			out += "\n";
			i++;
		}
	}
	return out;
}

std::string render_topo_csv(const Topology &t, bool neighbors)
{
	if (neighbors) {
		std::string out = "chip,port,name,state,peer_chip,peer_port\n";
		for (const auto &[id, chip] : t.chips)
			for (const auto &p : chip.ports)
				out += fmt::format("{},{},{},{},{},{}\n", id, p.port,
						   port_label(p.port), p.state,
						   p.peer_chip ? std::to_string(*p.peer_chip) : "",
						   p.peer_port ? std::to_string(*p.peer_port) : "");
		return out;
	}
	const HopStats hs = hop_stats(t);
	unsigned max_hops = 0;
	for (const auto &[h, n] : hs.histogram)
		max_hops = std::max(max_hops, h);
	std::string hist;
	for (const auto &[h, n] : hs.histogram)
		hist += fmt::format("{}{}:{}", hist.empty() ? "" : " ", h, n);
	return fmt::format("source,shape,chips,fibers_up,links_not_up,max_hops,unreachable_pairs,"
			   "hop_histogram\n{},{},{},{},{},{},{},{}\n",
			   t.source, t.shape, t.chips.size(), count_fibers(t), t.links_not_up,
			   max_hops, hs.unreachable, hist);
}

std::string render_route_text(const json &r)
{
	std::string out = fmt::format(
		"Route {} -> {}: {}, {} hop(s), generation {}, bottleneck {} B/s, latency {} ns\n",
		r.value("src", 0u), r.value("dst", 0u), r.value("outcome", std::string("?")),
		r.value("hop_count", 0u), r.value("generation", 0u),
		r.value("bottleneck_bytes_per_s", uint64_t{0}), r.value("latency_ns", uint64_t{0}));
	if (!r.contains("hops") || r["hops"].empty())
		return out;
	out += fmt::format("{:>4} {:>6} {:<5} {:>4} {:>3} {:>8} {:<6}\n", "Hop", "Chip", "Port",
			   "Lane", "VC", "Alt port", "Detour");
	unsigned i = 0;
	for (const auto &h : r["hops"]) {
		const json alt = h.value("alt_port", json());
		out += fmt::format("{:>4} {:>6} {:<5} {:>4} {:>3} {:>8} {:<6}\n", ++i,
				   h.value("chip", 0u), h.value("port_name", std::string("?")),
				   h.value("lane", 0u), h.value("vc", 0u),
				   alt.is_number() ? port_label(alt.get<unsigned>()) : "-",
				   h.value("detour", false) ? "yes" : "no");
	}
	return out;
}

std::string render_route_csv(const json &r)
{
	std::string out = "hop,chip,port,port_name,lane,vc,alt_port,detour\n";
	unsigned i = 0;
	for (const auto &h : r.value("hops", json::array())) {
		const json alt = h.value("alt_port", json());
		out += fmt::format("{},{},{},{},{},{},{},{}\n", ++i, h.value("chip", 0u),
				   h.value("port", 0u), h.value("port_name", std::string()),
				   h.value("lane", 0u), h.value("vc", 0u),
				   alt.is_number() ? std::to_string(alt.get<unsigned>()) : "",
				   h.value("detour", false) ? "true" : "false");
	}
	return out;
}

} // namespace npusmi
