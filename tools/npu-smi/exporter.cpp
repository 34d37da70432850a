// SPDX-License-Identifier: MIT
#include "exporter.hpp"

#include <functional>
#include <map>

#include <fmt/format.h>

#include "topo.hpp"

namespace npusmi {

std::string prom_escape(const std::string &s)
{
	std::string out;
	for (char c : s) {
		if (c == '\\' || c == '"')
			out += '\\';
		if (c == '\n') {
			out += "\\n";
			continue;
		}
		out += c;
	}
	return out;
}

namespace {

// One metric family: HELP and TYPE once, then one sample per card or port.
class Family {
      public:
	Family(std::string &out, const char *name, const char *type, const char *help)
	    : out_(out), name_(name)
	{
		out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
	}
	void sample(const std::string &labels, double v)
	{
		out_ += fmt::format("{}{{{}}} {}\n", name_, labels, v);
	}

      private:
	std::string &out_;
	const char *name_;
};

std::string card_labels(const CardReport &c)
{
	return fmt::format("card=\"{}\",pci_address=\"{}\"", c.index, prom_escape(c.pci_address));
}

} // namespace

std::string render_prometheus(const std::vector<CardReport> &cards,
			      const std::vector<ProcessUse> &procs)
{
	std::string out;
	{
		Family f(out, "lumen_card_info", "gauge",
			 "Identity of a Lumen card; the value is always 1.");
		for (const auto &c : cards)
			if (!c.error)
				f.sample(card_labels(c) +
						 fmt::format(",serial=\"{}\",chip_id=\"{}\","
							     "firmware_version=\"{}\",driver_"
							     "version=\"{}\"",
							     prom_escape(c.serial), c.chip_id,
							     prom_escape(c.firmware_version),
							     prom_escape(c.driver_version)),
					 1);
	}
	{
		Family f(out, "lumen_card_readable", "gauge",
			 "1 if the card's sysfs could be read, 0 otherwise.");
		for (const auto &c : cards)
			f.sample(card_labels(c), c.error ? 0 : 1);
	}
	{
		Family f(out, "lumen_card_health", "gauge",
			 "Health of the card: 0 OK, 1 WARN, 2 ERROR (npu-smi health).");
		for (const auto &c : cards)
			f.sample(card_labels(c), static_cast<int>(c.health));
	}
	// Optional per-card gauges and counters, skipped where the card lacks them.
	struct Opt {
		const char *name, *type, *help;
		std::function<std::optional<double>(const CardReport &)> get;
	};
	auto d = [](auto v) -> std::optional<double> {
		if (v)
			return static_cast<double>(*v);
		return std::nullopt;
	};
	const Opt opts[] = {
		{"lumen_temperature_celsius", "gauge", "Die temperature.",
		 [](const CardReport &c) { return c.temperature_c; }},
		{"lumen_temperature_critical_celsius", "gauge", "Critical die temperature.",
		 [](const CardReport &c) { return c.temperature_crit_c; }},
		{"lumen_power_watts", "gauge", "Board power.",
		 [](const CardReport &c) { return c.power_w; }},
		{"lumen_power_cap_watts", "gauge", "Board power limit.",
		 [](const CardReport &c) { return c.power_cap_w; }},
		{"lumen_clock_core_hertz", "gauge", "Core clock.",
		 [d](const CardReport &c) {
			 auto v = d(c.clk_core_mhz);
			 return v ? std::optional<double>(*v * 1e6) : v;
		 }},
		{"lumen_clock_memory_hertz", "gauge", "Memory clock.",
		 [d](const CardReport &c) {
			 auto v = d(c.clk_mem_mhz);
			 return v ? std::optional<double>(*v * 1e6) : v;
		 }},
		{"lumen_memory_total_bytes", "gauge", "Device memory.",
		 [](const CardReport &c) { return std::optional<double>(c.memory_bytes); }},
		{"lumen_memory_used_bytes", "gauge", "Device memory allocated to buffer objects.",
		 [d](const CardReport &c) { return d(c.memory_used_bytes); }},
		{"lumen_busy_seconds_total", "counter",
		 "Engine busy time since the last device reset.",
		 [d](const CardReport &c) {
			 auto v = d(c.busy_ns);
			 return v ? std::optional<double>(*v / 1e9) : v;
		 }},
		{"lumen_uptime_seconds", "gauge", "Time since the last device reset.",
		 [d](const CardReport &c) {
			 auto v = d(c.uptime_ms);
			 return v ? std::optional<double>(*v / 1e3) : v;
		 }},
		{"lumen_resets_total", "counter", "Device resets since the driver bound.",
		 [](const CardReport &c) { return std::optional<double>(c.reset_count); }},
		{"lumen_device_errors_total", "counter", "Device errors since the driver bound.",
		 [d](const CardReport &c) { return d(c.device_errors); }},
		{"lumen_links_up", "gauge", "Link ports in state up.",
		 [](const CardReport &c) { return std::optional<double>(c.links_up); }},
	};
	for (const auto &o : opts) {
		Family f(out, o.name, o.type, o.help);
		for (const auto &c : cards)
			if (!c.error)
				if (auto v = o.get(c))
					f.sample(card_labels(c), *v);
	}
	struct PortMetric {
		const char *name, *type, *help;
		std::function<double(const PortReport &)> get;
	};
	const PortMetric ports[] = {
		{"lumen_link_port_up", "gauge", "1 if the link port is up.",
		 [](const PortReport &p) { return p.state == "up" ? 1.0 : 0.0; }},
		{"lumen_link_tx_bytes_total", "counter", "Bytes sent on the port.",
		 [](const PortReport &p) { return static_cast<double>(p.tx_bytes); }},
		{"lumen_link_rx_bytes_total", "counter", "Bytes received on the port.",
		 [](const PortReport &p) { return static_cast<double>(p.rx_bytes); }},
		{"lumen_link_crc_errors_total", "counter", "Frames received with a bad CRC.",
		 [](const PortReport &p) { return static_cast<double>(p.crc_errors); }},
		{"lumen_link_retransmits_total", "counter", "Frames retransmitted.",
		 [](const PortReport &p) { return static_cast<double>(p.retransmits); }},
		{"lumen_link_down_events_total", "counter", "Times the port left state up.",
		 [](const PortReport &p) { return static_cast<double>(p.down_events); }},
	};
	for (const auto &m : ports) {
		Family f(out, m.name, m.type, m.help);
		for (const auto &c : cards)
			if (!c.error)
				for (const auto &p : c.links.ports)
					f.sample(card_labels(c) + fmt::format(",port=\"{}\"",
									      port_label(p.port)),
						 m.get(p));
	}
	{
		std::map<unsigned, unsigned> per_card;
		for (const auto &p : procs)
			per_card[p.card]++;
		Family f(out, "lumen_processes", "gauge",
			 "Processes with the card open (those this user can see).");
		for (const auto &c : cards)
			f.sample(card_labels(c), per_card[c.index]);
	}
	return out;
}

} // namespace npusmi

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "sys/error.hpp"

namespace npusmi {
namespace {

class Socket {
      public:
	explicit Socket(int fd) : fd_(fd) {}
	~Socket()
	{
		if (fd_ >= 0)
			::close(fd_);
	}
	Socket(const Socket &) = delete;
	Socket &operator=(const Socket &) = delete;
	int get() const { return fd_; }

      private:
	int fd_;
};

void send_all(int fd, const std::string &s, std::chrono::steady_clock::time_point deadline)
{
	size_t off = 0;
	while (off < s.size()) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
					  deadline - std::chrono::steady_clock::now())
					  .count();
		pollfd p{fd, POLLOUT, 0};
		if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
			return;
		const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return;
		off += n > 0 ? static_cast<size_t>(n) : 0;
	}
}

} // namespace

void serve_metrics(const std::string &listen, const std::function<std::string()> &scrape,
		   std::chrono::milliseconds timeout, unsigned max_requests)
{
	const size_t colon = listen.rfind(':');
	if (colon == std::string::npos || colon + 1 == listen.size())
		throw std::invalid_argument("--listen wants ADDR:PORT, got '" + listen + "'");
	std::string host = listen.substr(0, colon);
	const std::string port = listen.substr(colon + 1);
	if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
		host = host.substr(1, host.size() - 2);
	addrinfo hints{};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	addrinfo *res = nullptr;
	const int gai =
		::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
	if (gai != 0)
		throw std::invalid_argument("--listen " + listen + ": " + ::gai_strerror(gai));
	std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> ai(res, ::freeaddrinfo);
	Socket srv(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
	if (srv.get() < 0)
		throw lumen::sys::Error(std::string("socket: ") + std::strerror(errno), errno);
	const int one = 1;
	::setsockopt(srv.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (::bind(srv.get(), ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(srv.get(), 16) < 0)
		throw lumen::sys::Error("listen on " + listen + ": " + std::strerror(errno), errno);
	std::signal(SIGPIPE, SIG_IGN);
	for (unsigned served = 0; max_requests == 0 || served < max_requests;) {
		Socket c(::accept4(srv.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (c.get() < 0) {
			// Out of descriptors or a connection gone: not a reason to spin.
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				std::this_thread::sleep_for(std::chrono::milliseconds(100));
			continue;
		}
		// The request head within the timeout; the answer gets a window of
		// its own after the scrape (which has the timeout for the cards).
		auto deadline = std::chrono::steady_clock::now() + timeout;
		// The request head; a client that sends nothing in time is dropped.
		std::string req;
		char buf[4096];
		while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
			const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
						  deadline - std::chrono::steady_clock::now())
						  .count();
			pollfd p{c.get(), POLLIN, 0};
			if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
				break;
			const ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			req.append(buf, static_cast<size_t>(n));
		}
		const size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
		if (sp1 == std::string::npos || sp2 == std::string::npos)
			continue;
		std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
		path = path.substr(0, path.find('?'));
		std::string status = "200 OK", body;
		if (req.compare(0, sp1, "GET") != 0) {
			status = "405 Method Not Allowed";
			body = "GET only\n";
		} else if (path != "/metrics") {
			status = "404 Not Found";
			body = "npu-smi exporter: metrics are at /metrics\n";
		} else {
			// A card gone or unreadable, threads that cannot start: an
			// error answer for this scrape, and the exporter goes on.
			try {
				body = scrape();
			} catch (const std::exception &e) {
				status = "500 Internal Server Error";
				body = std::string("npu-smi exporter: ") + e.what() + "\n";
			}
			served++;
		}
		deadline = std::chrono::steady_clock::now() + timeout;
		send_all(c.get(),
			 fmt::format(
				 "HTTP/1.0 {}\r\nContent-Type: text/plain; version=0.0.4; "
				 "charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
				 status, body.size()) +
				 body,
			 deadline);
	}
}

} // namespace npusmi
