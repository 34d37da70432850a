// SPDX-License-Identifier: MIT
// The FI_EP_RDM endpoint as an object: creation (its inbox is allocated and
// exported then, so fi_getname works at once), binding to an AV and CQs,
// enabling, names, cancel and options. The data operations are in
// ep_data.cpp, progress in progress.cpp.
#include "info.hpp"
#include "log.hpp"
#include "objects.hpp"

#include <algorithm>
#include <cstring>

namespace lumen_fi {

extern fi_ops_msg ep_msg_ops;
extern fi_ops_tagged ep_tagged_ops;
extern fi_ops_rma ep_rma_ops;
extern fi_ops_atomic ep_atomic_ops;

namespace {

int ep_close(fid *f)
{
	Ep *ep = reinterpret_cast<Ep *>(f);
	Domain *d = ep->dom;
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	for (Cq *cq : {ep->txcq, ep->rxcq}) {
		if (!cq)
			continue;
		auto &v = cq->eps;
		auto it = std::find(v.begin(), v.end(), ep);
		if (it != v.end()) {
			v.erase(it);
			cq->refs--;
		}
	}
	if (ep->av)
		ep->av->refs--;
	d->refs--;
	delete ep;
	return 0;
}

int bind_cq(Ep *ep, Cq *cq, uint64_t flags)
{
	if (flags & ~(FI_TRANSMIT | FI_RECV | FI_SELECTIVE_COMPLETION)) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind(cq): flags %#lx unknown\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	if (!(flags & (FI_TRANSMIT | FI_RECV))) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind(cq): neither FI_TRANSMIT nor FI_RECV\n");
		return -FI_EINVAL;
	}
	if (((flags & FI_TRANSMIT) && ep->txcq) || ((flags & FI_RECV) && ep->rxcq)) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind(cq): a CQ is already bound there\n");
		return -FI_EINVAL;
	}
	const bool sel = flags & FI_SELECTIVE_COMPLETION;
	if (flags & FI_TRANSMIT) {
		ep->txcq = cq;
		ep->tx_selective = sel;
	}
	if (flags & FI_RECV) {
		ep->rxcq = cq;
		ep->rx_selective = sel;
	}
	if (std::find(cq->eps.begin(), cq->eps.end(), ep) == cq->eps.end()) {
		cq->eps.push_back(ep);
		cq->refs++;
	}
	return 0;
}

int ep_bind(fid *f, fid *bf, uint64_t flags)
{
	Ep *ep = reinterpret_cast<Ep *>(f);
	if (!bf) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind: object is NULL\n");
		return -FI_EINVAL;
	}
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	if (ep->enabled) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind: the endpoint is already enabled\n");
		return -FI_EOPBADSTATE;
	}
	if ((bf->fclass == FI_CLASS_AV && !is_av(bf)) ||
	    (bf->fclass == FI_CLASS_CQ && !is_cq(bf))) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind: an AV or CQ of another provider\n");
		return -FI_EINVAL;
	}
	switch (bf->fclass) {
	case FI_CLASS_AV: {
		Av *av = reinterpret_cast<Av *>(bf);
		if (av->dom != ep->dom || ep->av || flags) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind(av): another domain's AV, one already "
						 "bound, or flags\n");
			return -FI_EINVAL;
		}
		ep->av = av;
		av->refs++;
		return 0;
	}
	case FI_CLASS_CQ: {
		Cq *cq = reinterpret_cast<Cq *>(bf);
		if (cq->dom != ep->dom) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind(cq): a CQ of another domain\n");
			return -FI_EINVAL;
		}
		return bind_cq(ep, cq, flags);
	}
	case FI_CLASS_EQ:
		return 0; // no connection events on an RDM endpoint
	case FI_CLASS_CNTR:
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind: lumen has no counters\n");
		return -FI_ENOSYS;
	default:
		LFI_WARN(FI_LOG_EP_CTRL, "fi_ep_bind: cannot bind class %zu\n", bf->fclass);
		return -FI_EINVAL;
	}
}

int ep_control(fid *f, int command, void *arg)
{
	Ep *ep = reinterpret_cast<Ep *>(f);
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	switch (command) {
	case FI_ENABLE:
		if (!ep->av) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_enable: no AV bound\n");
			return -FI_ENOAV;
		}
		if (!ep->txcq && !ep->rxcq) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_enable: no CQ bound\n");
			return -FI_ENOCQ;
		}
		ep->enabled = true;
		LFI_INFO(FI_LOG_EP_CTRL, "endpoint enabled\n");
		return 0;
	case FI_GETOPSFLAG:
	case FI_SETOPSFLAG: {
		if (!arg) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_control: arg is NULL\n");
			return -FI_EINVAL;
		}
		uint64_t *flags = static_cast<uint64_t *>(arg);
		bool tx = *flags & FI_TRANSMIT, rx = *flags & FI_RECV;
		if (tx == rx) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_control: need FI_TRANSMIT or FI_RECV\n");
			return -FI_EINVAL;
		}
		uint64_t &of = tx ? ep->tx_op_flags : ep->rx_op_flags;
		if (command == FI_GETOPSFLAG) {
			*flags = of;
			return 0;
		}
		uint64_t v = *flags & ~(FI_TRANSMIT | FI_RECV);
		if (v & ~kOpFlags) {
			LFI_WARN(FI_LOG_EP_CTRL, "fi_control: op flags %#lx unknown\n",
				 (unsigned long)v);
			return -FI_EINVAL;
		}
		of = v;
		return 0;
	}
	default:
		LFI_WARN(FI_LOG_EP_CTRL, "fi_control: command %d not supported\n", command);
		return -FI_ENOSYS;
	}
}

ssize_t ep_cancel(fid_t f, void *context)
{
	Ep *ep = reinterpret_cast<Ep *>(f);
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	std::optional<RecvReq> r = ep->matcher.cancel(context);
	if (!r)
		return -FI_ENOENT;
	Completion c;
	c.e.op_context = r->context;
	c.e.flags = FI_RECV | (r->tagged ? FI_TAGGED : FI_MSG);
	c.e.tag = r->tag;
	c.err = FI_ECANCELED;
	cq_push(ep->rxcq, c);
	return 0;
}

int ep_getopt(fid_t, int level, int optname, void *, size_t *)
{
	LFI_INFO(FI_LOG_EP_CTRL, "fi_getopt(%d, %d): no such option in lumen\n", level, optname);
	return -FI_ENOPROTOOPT;
}

int ep_setopt(fid_t, int level, int optname, const void *, size_t)
{
	LFI_INFO(FI_LOG_EP_CTRL, "fi_setopt(%d, %d): no such option in lumen\n", level, optname);
	return -FI_ENOPROTOOPT;
}

template <typename Attr> int no_ctx(fid_ep *, int, Attr *, fid_ep **, void *)
{
	LFI_WARN(FI_LOG_EP_CTRL, "fi_tx/rx_context: not a scalable endpoint\n");
	return -FI_ENOSYS;
}

ssize_t rx_size_left(fid_ep *e)
{
	Ep *ep = reinterpret_cast<Ep *>(e);
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	return ssize_t(ep->rx_size - std::min(ep->rx_size, ep->matcher.posted_count()));
}

ssize_t tx_size_left(fid_ep *e)
{
	Ep *ep = reinterpret_cast<Ep *>(e);
	std::lock_guard<std::recursive_mutex> lk(ep->dom->mu);
	return ssize_t(ep->tx_size - std::min(ep->tx_size, ep->txq.size()));
}

int ep_getname(fid_t f, void *addr, size_t *addrlen)
{
	Ep *ep = reinterpret_cast<Ep *>(f);
	if (!addrlen || (*addrlen && !addr)) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_getname: addr or addrlen is NULL\n");
		return -FI_EINVAL;
	}
	const size_t have = *addrlen;
	*addrlen = sizeof(Address);
	if (have < sizeof(Address))
		return -FI_ETOOSMALL;
	memcpy(addr, &ep->tp->address(), sizeof(Address));
	return 0;
}

int no_setname(fid_t, void *, size_t)
{
	LFI_WARN(FI_LOG_EP_CTRL, "fi_setname: a lumen address names its own inbox\n");
	return -FI_ENOSYS;
}

int no_getpeer(fid_ep *, void *, size_t *)
{
	return -FI_ENOSYS;
}

int no_connect(fid_ep *, const void *, const void *, size_t)
{
	LFI_WARN(FI_LOG_EP_CTRL, "fi_connect: FI_EP_RDM is connectionless\n");
	return -FI_ENOSYS;
}

int no_listen(fid_pep *)
{
	return -FI_ENOSYS;
}

int no_accept(fid_ep *, const void *, size_t)
{
	return -FI_ENOSYS;
}

int no_reject(fid_pep *, fid_t, const void *, size_t)
{
	return -FI_ENOSYS;
}

int no_shutdown(fid_ep *, uint64_t)
{
	return -FI_ENOSYS;
}

int no_join(fid_ep *, const void *, uint64_t, fid_mc **, void *)
{
	return -FI_ENOSYS;
}

fi_ops ep_fid_ops = {sizeof(fi_ops), ep_close, ep_bind, ep_control, no_ops_open, nullptr, nullptr};
fi_ops_ep ep_ops = {sizeof(fi_ops_ep),	ep_cancel,	    ep_getopt,	  ep_setopt,
		    no_ctx<fi_tx_attr>, no_ctx<fi_rx_attr>, rx_size_left, tx_size_left};
fi_ops_cm ep_cm_ops = {sizeof(fi_ops_cm), no_setname, ep_getname, no_getpeer,  no_connect,
		       no_listen,	  no_accept,  no_reject,  no_shutdown, no_join};

} // namespace

int ep_open(fid_domain *domain, fi_info *info, fid_ep **out, void *context)
{
	if (!domain || !info || !out) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_endpoint: domain, info or ep is NULL\n");
		return -FI_EINVAL;
	}
	if (info->ep_attr && info->ep_attr->type != FI_EP_RDM &&
	    info->ep_attr->type != FI_EP_UNSPEC) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_endpoint: lumen endpoints are FI_EP_RDM\n");
		return -FI_EINVAL;
	}
	if (info->caps & ~kCaps) {
		LFI_WARN(FI_LOG_EP_CTRL, "fi_endpoint: caps %#lx not offered\n",
			 (unsigned long)(info->caps & ~kCaps));
		return -FI_EINVAL;
	}
	Domain *d = reinterpret_cast<Domain *>(domain);
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	const uint64_t caps = info->caps ? info->caps : kCaps;
	std::unique_ptr<Ep> ep(new (std::nothrow) Ep(caps & FI_DIRECTED_RECV));
	if (!ep)
		return -FI_ENOMEM;
	if (int r = Transport::create(d->ctx, d->geometry, &ep->tp))
		return r;
	ep->dom = d;
	ep->caps = caps;
	ep->tx_op_flags = info->tx_attr ? info->tx_attr->op_flags : 0;
	ep->rx_op_flags = info->rx_attr ? info->rx_attr->op_flags : 0;
	ep->tx_size = info->tx_attr && info->tx_attr->size ? info->tx_attr->size : kQueueSize;
	ep->rx_size = info->rx_attr && info->rx_attr->size ? info->rx_attr->size : kQueueSize;
	ep->rings.resize(d->geometry.rings);
	ep->ep.fid.fclass = FI_CLASS_EP;
	ep->ep.fid.context = context;
	ep->ep.fid.ops = &ep_fid_ops;
	ep->ep.ops = &ep_ops;
	ep->ep.cm = &ep_cm_ops;
	ep->ep.msg = &ep_msg_ops;
	ep->ep.tagged = &ep_tagged_ops;
	ep->ep.rma = &ep_rma_ops;
	ep->ep.atomic = &ep_atomic_ops;
	d->refs++;
	LFI_INFO(FI_LOG_EP_CTRL, "endpoint %s open\n", address_string(ep->tp->address()).c_str());
	*out = &ep.release()->ep;
	return 0;
}

} // namespace lumen_fi
