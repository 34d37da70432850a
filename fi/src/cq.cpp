// SPDX-License-Identifier: MIT
// Completion queues. Progress is manual: every read (fi_cq_read, readfrom,
// sread) first progresses the endpoints bound to the CQ, which is when
// fragments go out and the inbox is polled.
#include "log.hpp"
#include "objects.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

namespace lumen_fi {

namespace {

int cq_close(fid *f)
{
	Cq *cq = reinterpret_cast<Cq *>(f);
	Domain *d = cq->dom;
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	if (cq->refs) {
		LFI_WARN(FI_LOG_CQ, "fi_close(cq): %d endpoints still bound\n", cq->refs);
		return -FI_EBUSY;
	}
	d->refs--;
	delete cq;
	return 0;
}

void format(const Cq *cq, const Completion &c, uint8_t *out)
{
	switch (cq->format) {
	case FI_CQ_FORMAT_CONTEXT: {
		fi_cq_entry e{c.e.op_context};
		memcpy(out, &e, sizeof(e));
		break;
	}
	case FI_CQ_FORMAT_MSG: {
		fi_cq_msg_entry e{c.e.op_context, c.e.flags, c.e.len};
		memcpy(out, &e, sizeof(e));
		break;
	}
	case FI_CQ_FORMAT_DATA: {
		fi_cq_data_entry e{c.e.op_context, c.e.flags, c.e.len, c.e.buf, c.e.data};
		memcpy(out, &e, sizeof(e));
		break;
	}
	default:
		memcpy(out, &c.e, sizeof(c.e));
		break;
	}
}

ssize_t read_locked(Cq *cq, void *buf, size_t count, fi_addr_t *src)
{
	for (Ep *ep : cq->eps)
		ep->progress();
	if (cq->done.empty())
		return -FI_EAGAIN;
	if (cq->done.front().err)
		return -FI_EAVAIL;
	size_t n = 0;
	uint8_t *out = static_cast<uint8_t *>(buf);
	while (n < count && !cq->done.empty() && !cq->done.front().err) {
		format(cq, cq->done.front(), out + n * cq->entry_size());
		if (src)
			src[n] = cq->done.front().src;
		cq->done.pop_front();
		n++;
	}
	return ssize_t(n);
}

bool args_ok(const char *call, void *buf, size_t count)
{
	if (!buf && count) {
		LFI_WARN(FI_LOG_CQ, "%s: buf is NULL\n", call);
		return false;
	}
	return true;
}

ssize_t cq_readfrom(fid_cq *c, void *buf, size_t count, fi_addr_t *src)
{
	Cq *cq = reinterpret_cast<Cq *>(c);
	if (!args_ok("fi_cq_read", buf, count))
		return -FI_EINVAL;
	std::lock_guard<std::recursive_mutex> lk(cq->dom->mu);
	return read_locked(cq, buf, count, src);
}

ssize_t cq_read(fid_cq *c, void *buf, size_t count)
{
	return cq_readfrom(c, buf, count, nullptr);
}

ssize_t cq_readerr(fid_cq *c, fi_cq_err_entry *buf, uint64_t flags)
{
	Cq *cq = reinterpret_cast<Cq *>(c);
	if (!buf || flags) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_readerr: buf NULL or flags %#lx\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	std::lock_guard<std::recursive_mutex> lk(cq->dom->mu);
	if (cq->done.empty() || !cq->done.front().err)
		return -FI_EAGAIN;
	const Completion &e = cq->done.front();
	buf->op_context = e.e.op_context;
	buf->flags = e.e.flags;
	buf->len = e.e.len;
	buf->buf = e.e.buf;
	buf->data = e.e.data;
	buf->tag = e.e.tag;
	buf->olen = e.olen;
	buf->err = e.err;
	buf->prov_errno = e.prov_errno;
	buf->err_data = nullptr;
	buf->err_data_size = 0;
	cq->done.pop_front();
	return 1;
}

ssize_t cq_sreadfrom(fid_cq *c, void *buf, size_t count, fi_addr_t *src, const void *cond,
		     int timeout)
{
	if (cond) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_sread: wait conditions not supported\n");
		return -FI_EINVAL;
	}
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
	for (;;) {
		ssize_t r = cq_readfrom(c, buf, count, src);
		if (r != -FI_EAGAIN)
			return r;
		if (timeout >= 0 && std::chrono::steady_clock::now() >= end)
			return -FI_EAGAIN;
		std::this_thread::yield();
	}
}

ssize_t cq_sread(fid_cq *c, void *buf, size_t count, const void *cond, int timeout)
{
	return cq_sreadfrom(c, buf, count, nullptr, cond, timeout);
}

int cq_signal(fid_cq *)
{
	return 0;
}

const char *cq_strerror(fid_cq *, int prov_errno, const void *, char *buf, size_t len)
{
	const char *s = lumen_status_string(lumen_status_t(prov_errno));
	if (buf && len) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	return s;
}

fi_ops cq_fid_ops = {sizeof(fi_ops), cq_close, no_bind, no_control, no_ops_open, nullptr, nullptr};
fi_ops_cq cq_ops = {sizeof(fi_ops_cq), cq_read,	     cq_readfrom, cq_readerr,
		    cq_sread,	       cq_sreadfrom, cq_signal,	  cq_strerror};

} // namespace

bool is_cq(const fid *f)
{
	return f->fclass == FI_CLASS_CQ && f->ops == &cq_fid_ops;
}

size_t Cq::entry_size() const
{
	switch (format) {
	case FI_CQ_FORMAT_CONTEXT:
		return sizeof(fi_cq_entry);
	case FI_CQ_FORMAT_MSG:
		return sizeof(fi_cq_msg_entry);
	case FI_CQ_FORMAT_DATA:
		return sizeof(fi_cq_data_entry);
	default:
		return sizeof(fi_cq_tagged_entry);
	}
}

void cq_push(Cq *cq, const Completion &c)
{
	if (cq)
		cq->done.push_back(c);
}

int cq_open(fid_domain *domain, fi_cq_attr *attr, fid_cq **out, void *context)
{
	if (!domain || !attr || !out) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_open: domain, attr or cq is NULL\n");
		return -FI_EINVAL;
	}
	const auto raw_fmt = enum_value(attr->format);
	if (raw_fmt != FI_CQ_FORMAT_UNSPEC && raw_fmt != FI_CQ_FORMAT_CONTEXT &&
	    raw_fmt != FI_CQ_FORMAT_MSG && raw_fmt != FI_CQ_FORMAT_DATA &&
	    raw_fmt != FI_CQ_FORMAT_TAGGED) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_open: format %d unknown\n", (int)raw_fmt);
		return -FI_EINVAL;
	}
	fi_cq_format fmt =
		attr->format == FI_CQ_FORMAT_UNSPEC ? FI_CQ_FORMAT_CONTEXT : attr->format;
	const auto raw_wait = enum_value(attr->wait_obj);
	if (raw_wait != FI_WAIT_NONE && raw_wait != FI_WAIT_UNSPEC) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_open: wait object %d not supported\n", (int)raw_wait);
		return -FI_ENOSYS;
	}
	if (attr->flags & ~uint64_t(FI_AFFINITY)) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_open: flags %#lx not supported\n",
			 (unsigned long)attr->flags);
		return -FI_EINVAL;
	}
	if (attr->wait_cond != FI_CQ_COND_NONE) {
		LFI_WARN(FI_LOG_CQ, "fi_cq_open: wait conditions not supported\n");
		return -FI_ENOSYS;
	}
	Domain *d = reinterpret_cast<Domain *>(domain);
	Cq *cq = new (std::nothrow) Cq;
	if (!cq)
		return -FI_ENOMEM;
	cq->dom = d;
	cq->format = fmt;
	cq->cq.fid.fclass = FI_CLASS_CQ;
	cq->cq.fid.context = context;
	cq->cq.fid.ops = &cq_fid_ops;
	cq->cq.ops = &cq_ops;
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	d->refs++;
	LFI_INFO(FI_LOG_CQ, "CQ open, format %d\n", fmt);
	*out = &cq->cq;
	return 0;
}

} // namespace lumen_fi
