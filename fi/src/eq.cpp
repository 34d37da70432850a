// SPDX-License-Identifier: MIT
// Event queues. An RDM endpoint of lumen has no connection events, so an
// EQ only carries what the application writes into it (fi_eq_write); it
// exists because applications open one with their fabric (fi_pingpong does).
#include "log.hpp"
#include "objects.hpp"

#include <cstring>
#include <thread>

namespace lumen_fi {

namespace {

int eq_close(fid *f)
{
	Eq *eq = reinterpret_cast<Eq *>(f);
	eq->fabric->refs--;
	delete eq;
	return 0;
}

ssize_t eq_read(fid_eq *e, uint32_t *event, void *buf, size_t len, uint64_t flags)
{
	Eq *eq = reinterpret_cast<Eq *>(e);
	if (!event || (len && !buf) || (flags & ~FI_PEEK)) {
		LFI_WARN(FI_LOG_EQ, "fi_eq_read: event NULL, buf NULL or flags %#lx\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	std::lock_guard<std::mutex> lk(eq->mu);
	if (eq->events.empty())
		return -FI_EAGAIN;
	Eq::Event &ev = eq->events.front();
	if (len < ev.data.size())
		return -FI_ETOOSMALL;
	*event = ev.type;
	memcpy(buf, ev.data.data(), ev.data.size());
	ssize_t n = ssize_t(ev.data.size());
	if (!(flags & FI_PEEK))
		eq->events.pop_front();
	return n;
}

ssize_t eq_readerr(fid_eq *, fi_eq_err_entry *, uint64_t)
{
	// Nothing in lumen reports errors through an EQ.
	return -FI_EAGAIN;
}

ssize_t eq_write(fid_eq *e, uint32_t event, const void *buf, size_t len, uint64_t flags)
{
	Eq *eq = reinterpret_cast<Eq *>(e);
	if ((len && !buf) || flags) {
		LFI_WARN(FI_LOG_EQ, "fi_eq_write: buf NULL or flags %#lx\n", (unsigned long)flags);
		return -FI_EINVAL;
	}
	std::lock_guard<std::mutex> lk(eq->mu);
	const uint8_t *p = static_cast<const uint8_t *>(buf);
	eq->events.push_back({event, std::vector<uint8_t>(p, p + len)});
	return ssize_t(len);
}

ssize_t eq_sread(fid_eq *e, uint32_t *event, void *buf, size_t len, int timeout, uint64_t flags)
{
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
	for (;;) {
		ssize_t r = eq_read(e, event, buf, len, flags);
		if (r != -FI_EAGAIN || (timeout >= 0 && std::chrono::steady_clock::now() >= end))
			return r;
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
}

const char *eq_strerror(fid_eq *, int prov_errno, const void *, char *buf, size_t len)
{
	const char *s = lumen_status_string(lumen_status_t(prov_errno));
	if (buf && len) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	return s;
}

fi_ops eq_fid_ops = {sizeof(fi_ops), eq_close, no_bind, no_control, no_ops_open, nullptr, nullptr};
fi_ops_eq eq_ops = {sizeof(fi_ops_eq), eq_read, eq_readerr, eq_write, eq_sread, eq_strerror};

} // namespace

int eq_open(fid_fabric *fabric, fi_eq_attr *attr, fid_eq **out, void *context)
{
	if (!fabric || !attr || !out) {
		LFI_WARN(FI_LOG_EQ, "fi_eq_open: fabric, attr or eq is NULL\n");
		return -FI_EINVAL;
	}
	const auto raw_wait = enum_value(attr->wait_obj);
	if (raw_wait != FI_WAIT_NONE && raw_wait != FI_WAIT_UNSPEC) {
		LFI_WARN(FI_LOG_EQ, "fi_eq_open: wait object %d not supported\n", (int)raw_wait);
		return -FI_ENOSYS;
	}
	if (attr->flags & ~uint64_t(FI_WRITE)) {
		LFI_WARN(FI_LOG_EQ, "fi_eq_open: flags %#lx not supported\n",
			 (unsigned long)attr->flags);
		return -FI_EINVAL;
	}
	Fabric *fab = reinterpret_cast<Fabric *>(fabric);
	Eq *eq = new (std::nothrow) Eq;
	if (!eq)
		return -FI_ENOMEM;
	eq->fabric = fab;
	eq->eq.fid.fclass = FI_CLASS_EQ;
	eq->eq.fid.context = context;
	eq->eq.fid.ops = &eq_fid_ops;
	eq->eq.ops = &eq_ops;
	fab->refs++;
	*out = &eq->eq;
	return 0;
}

} // namespace lumen_fi
