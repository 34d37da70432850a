// SPDX-License-Identifier: MIT
#include "mgmt/channel.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <unordered_map>

#include <sys/ioctl.h>

#include <drm/lumen_accel.h>
#include <lumen/lumen_regs.h>

namespace lumen::mgmt {

namespace {

// Back-off for a first port that is full: 1 ms doubling to 32 ms.
constexpr unsigned kBusyRetries = 8;

void sleep_ms(unsigned ms)
{
	struct timespec ts = {static_cast<time_t>(ms / 1000),
			      static_cast<long>(ms % 1000) * 1000000L};
	nanosleep(&ts, nullptr);
}

std::string errno_name(int err)
{
	switch (err) {
	case EPERM:
		return "needs CAP_SYS_ADMIN (run as root)";
	case EOPNOTSUPP:
		return "card has no link engine";
	case ENODEV:
		return "card was reset or removed";
	default:
		return std::strerror(err);
	}
}

} // namespace

uint64_t now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::string Result::what() const
{
	switch (err) {
	case 0:
		if (answer.status() == 0)
			return "ok";
		return "status " + std::to_string(answer.status()) + " (" +
		       lumen_status_name(answer.status()) + ")";
	case ETIME:
		return "no answer after " + std::to_string(attempts) + " attempts";
	case EHOSTUNREACH:
		return "first port not UP";
	case EBUSY:
		return "first port stayed full";
	default:
		return std::strerror(err);
	}
}

Channel::Channel(int fd) : fd_(fd)
{
	// Random high bits: answers to an earlier manager's requests never match.
	std::random_device rd;
	tid_base_ = (uint64_t(rd()) << 32) & 0xffffff0000000000ull;
}

void Channel::probe()
{
	struct lumen_mgmt m;
	struct drm_lumen_mgmt a = {};

	a.data = reinterpret_cast<uintptr_t>(&m);
	a.size = sizeof(m);
	a.timeout_ns = 0;
	if (ioctl(fd_, DRM_IOCTL_LUMEN_MGMT_RECV, &a) == 0) {
		queue_trap(m, a.size); // an answer of before us: dropped inside
		return;
	}
	if (errno == ETIME || errno == EINTR)
		return;
	throw ChannelError("management receive: " + errno_name(errno), errno);
}

int Channel::send(const struct lumen_mgmt &m, uint32_t len)
{
	struct drm_lumen_mgmt a = {};

	a.data = reinterpret_cast<uintptr_t>(&m);
	a.size = len;
	if (ioctl(fd_, DRM_IOCTL_LUMEN_MGMT_SEND, &a) == 0) {
		stats_.sent++;
		return 0;
	}
	int err = errno;
	if (err == ENODEV || err == EPERM || err == EOPNOTSUPP || err == EFAULT)
		throw ChannelError("management send: " + errno_name(err), err);
	return -err;
}

int Channel::recv(struct lumen_mgmt &m, uint32_t &len, uint64_t deadline_ns)
{
	struct drm_lumen_mgmt a = {};

	a.data = reinterpret_cast<uintptr_t>(&m);
	a.size = sizeof(m);
	a.timeout_ns = deadline_ns;
	if (ioctl(fd_, DRM_IOCTL_LUMEN_MGMT_RECV, &a) == 0) {
		len = a.size;
		std::string bad = check_received(m, len);
		if (!bad.empty()) {
			stats_.malformed++;
			return 0;
		}
		return 1;
	}
	int err = errno;
	if (err == ETIME || err == EINTR || err == EFAULT)
		return 0;
	throw ChannelError("management receive: " + errno_name(err), err);
}

void Channel::queue_trap(const struct lumen_mgmt &m, uint32_t len)
{
	if (m.method != LUMEN_MGMT_TRAP || m.attr != LUMEN_MGMT_ATTR_TRAP) {
		stats_.stray++;
		return;
	}
	try {
		ReceivedTrap t;
		t.trap = decode_trap(m.data, len - LUMEN_MGMT_HDR_SIZE);
		t.return_path = reverse_path(m);
		t.at_ns = now_ns();
		stats_.traps++;
		// Bounded: a manager that does not keep up loses the oldest,
		// and the sequence numbers then show the gap.
		if (traps_.size() >= 4096)
			traps_.pop_front();
		traps_.push_back(std::move(t));
	} catch (const PacketError &) {
		stats_.malformed++;
	}
}

std::vector<Result> Channel::transact(const std::vector<Request> &reqs, const Options &opts)
{
	struct Flight {
		size_t index;
		uint64_t deadline;
	};
	std::vector<Result> results(reqs.size());
	std::vector<struct lumen_mgmt> pkts(reqs.size());
	std::vector<uint32_t> lens(reqs.size());
	std::unordered_map<uint64_t, Flight> flying;
	std::deque<size_t> todo;
	unsigned busy_round = 0;
	const unsigned window = opts.window ? opts.window : 1;

	for (size_t i = 0; i < reqs.size(); i++) {
		pkts[i] = encode(reqs[i], 0, &lens[i]);
		todo.push_back(i);
	}
	while (!todo.empty() || !flying.empty()) {
		bool busy = false;

		while (!todo.empty() && flying.size() < window) {
			size_t i = todo.front();
			uint64_t tid = tid_base_ | next_tid_++;

			pkts[i].tid = lumen_cpu_to_le64(tid);
			int ret = send(pkts[i], lens[i]);
			if (ret == -EBUSY) {
				busy = true;
				stats_.busy++;
				break;
			}
			todo.pop_front();
			results[i].attempts++;
			if (ret) {
				results[i].err = -ret;
				continue;
			}
			flying[tid] = {i, now_ns() + uint64_t(opts.timeout_ms) * 1000000ull};
		}
		if (busy && flying.empty()) {
			// Nothing of ours will drain the port: back off.
			if (++busy_round > kBusyRetries) {
				results[todo.front()].err = EBUSY;
				todo.pop_front();
				busy_round = 0;
			} else {
				sleep_ms(1u << (busy_round - 1));
			}
			continue;
		}
		if (!busy)
			busy_round = 0;
		if (flying.empty())
			continue;

		uint64_t first = UINT64_MAX;
		for (const auto &f : flying)
			first = std::min(first, f.second.deadline);
		struct lumen_mgmt m;
		uint32_t len = 0;
		if (recv(m, len, first) == 1) {
			auto it = flying.find(lumen_le64_to_cpu(m.tid));
			if (m.method == LUMEN_MGMT_RESP && it != flying.end()) {
				Result &r = results[it->second.index];
				r.answer.pkt = m;
				r.answer.len = len;
				r.err = 0;
				stats_.answers++;
				flying.erase(it);
			} else {
				queue_trap(m, len);
			}
			continue;
		}
		uint64_t now = now_ns();
		for (auto it = flying.begin(); it != flying.end();) {
			if (it->second.deadline > now) {
				++it;
				continue;
			}
			size_t i = it->second.index;
			stats_.timeouts++;
			if (results[i].attempts <= opts.retries)
				todo.push_front(i);
			else
				results[i].err = ETIME;
			it = flying.erase(it);
		}
	}
	return results;
}

Result Channel::call(const Request &req, const Options &opts)
{
	return transact({req}, opts).front();
}

bool Channel::wait(uint64_t deadline_ns)
{
	struct lumen_mgmt m;
	uint32_t len = 0;
	size_t before = traps_.size();

	while (traps_.size() == before) {
		if (recv(m, len, deadline_ns) != 1)
			break;
		queue_trap(m, len);
		if (now_ns() >= deadline_ns)
			break;
	}
	return traps_.size() != before;
}

} // namespace lumen::mgmt
