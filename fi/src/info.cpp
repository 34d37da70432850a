// SPDX-License-Identifier: MIT
#include "info.hpp"

#include "addr.hpp"
#include "log.hpp"
#include "match.hpp"

#include <cstring>
#include <string>

namespace lumen_fi {

namespace {

struct InfoPtr {
	fi_info *p;
	~InfoPtr()
	{
		if (p)
			fi_freeinfo(p);
	}
};

int nomatch(const char *what)
{
	LFI_INFO(FI_LOG_CORE, "hints ask for %s, which lumen does not offer\n", what);
	return -FI_ENODATA;
}

bool subset(uint64_t want, uint64_t have)
{
	return (want & ~have) == 0;
}

int check_tx(const fi_tx_attr *t)
{
	if (!subset(t->caps, kCaps))
		return nomatch("tx caps");
	if (!subset(t->msg_order, kMsgOrder))
		return nomatch("a tx message order");
	if (t->comp_order & ~FI_ORDER_NONE)
		return nomatch("a tx completion order");
	if (t->inject_size > kInjectSize)
		return nomatch("a larger inject size");
	if (t->size > kQueueSize)
		return nomatch("a larger tx queue");
	if (t->iov_limit > kMaxIov || t->rma_iov_limit > 1)
		return nomatch("more iovs");
	if (!subset(t->op_flags, kOpFlags))
		return nomatch("tx op flags");
	return 0;
}

int check_rx(const fi_rx_attr *r)
{
	if (!subset(r->caps, kCaps))
		return nomatch("rx caps");
	if (!subset(r->msg_order, kMsgOrder))
		return nomatch("an rx message order");
	if (r->comp_order & ~FI_ORDER_NONE)
		return nomatch("an rx completion order");
	if (r->size > kQueueSize)
		return nomatch("a larger rx queue");
	if (r->iov_limit > kMaxIov)
		return nomatch("more iovs");
	if (!subset(r->op_flags, FI_COMPLETION | FI_MULTI_RECV) || (r->op_flags & FI_MULTI_RECV))
		return nomatch("rx op flags");
	return 0;
}

int check_hints(const fi_info *h)
{
	if (!subset(h->caps, kCaps))
		return nomatch("capabilities");
	if (h->addr_format != FI_FORMAT_UNSPEC)
		return nomatch("an address format (lumen's is FI_FORMAT_UNSPEC)");
	if (h->handle)
		return nomatch("a handle");
	for (auto [p, len] :
	     {std::pair{h->src_addr, h->src_addrlen}, std::pair{h->dest_addr, h->dest_addrlen}}) {
		std::string why;
		if (p && !address_valid(p, len, &why)) {
			LFI_WARN(FI_LOG_CORE, "hints: bad address: %s\n", why.c_str());
			return -FI_ENODATA;
		}
	}
	if (const fi_ep_attr *e = h->ep_attr) {
		if (e->type != FI_EP_UNSPEC && e->type != FI_EP_RDM)
			return nomatch("an endpoint type other than FI_EP_RDM");
		if (e->protocol != FI_PROTO_UNSPEC)
			return nomatch("a protocol");
		if (e->max_msg_size > kMaxMsgSize)
			return nomatch("a larger max_msg_size");
		if (e->tx_ctx_cnt > 1 || e->rx_ctx_cnt > 1)
			return nomatch("several or shared tx/rx contexts");
		if (e->auth_key_size)
			return nomatch("an auth key");
	}
	if (const fi_domain_attr *d = h->domain_attr) {
		if (d->name && strcmp(d->name, kName))
			return nomatch("another domain name");
		if (d->control_progress == FI_PROGRESS_AUTO || d->data_progress == FI_PROGRESS_AUTO)
			return nomatch("FI_PROGRESS_AUTO (lumen progresses manually)");
		if (d->av_type != FI_AV_UNSPEC && d->av_type != FI_AV_MAP &&
		    d->av_type != FI_AV_TABLE)
			return nomatch("an AV type");
		if (d->mr_key_size > 8 || d->cq_data_size > 8)
			return nomatch("larger keys or CQ data");
		if (d->mr_mode == FI_MR_BASIC)
			return nomatch("FI_MR_BASIC");
		if (d->caps && !subset(d->caps, kCaps))
			return nomatch("domain caps");
		if (d->auth_key_size)
			return nomatch("an auth key");
	}
	if (const fi_fabric_attr *f = h->fabric_attr) {
		if (f->name && strcmp(f->name, kName))
			return nomatch("another fabric name");
	}
	if (h->tx_attr)
		if (int r = check_tx(h->tx_attr))
			return r;
	if (h->rx_attr)
		if (int r = check_rx(h->rx_attr))
			return r;
	return 0;
}

void *dup_addr(const void *p, size_t len)
{
	void *q = malloc(len);
	if (q)
		memcpy(q, p, len);
	return q;
}

} // namespace

int getinfo_filter(uint32_t version, const char *node, const char *service, uint64_t flags,
		   const fi_info *hints, fi_info **info)
{
	if (!info) {
		LFI_WARN(FI_LOG_CORE, "fi_getinfo: info is NULL\n");
		return -FI_EINVAL;
	}
	if ((node || service) && !(flags & FI_SOURCE))
		return nomatch("a node or service (lumen addresses come from fi_getname)");
	if (hints)
		if (int r = check_hints(hints))
			return r;

	InfoPtr i{fi_allocinfo()};
	if (!i.p)
		return -FI_ENOMEM;
	fi_info *p = i.p;
	p->caps = hints && hints->caps ? hints->caps : kCaps;
	p->mode = 0;
	p->addr_format = FI_FORMAT_UNSPEC;
	if (hints && hints->dest_addr) {
		if (!(p->dest_addr = dup_addr(hints->dest_addr, hints->dest_addrlen)))
			return -FI_ENOMEM;
		p->dest_addrlen = hints->dest_addrlen;
	}

	fi_tx_attr *t = p->tx_attr;
	t->caps = p->caps & kCaps;
	t->op_flags = hints && hints->tx_attr ? hints->tx_attr->op_flags : 0;
	t->msg_order = kMsgOrder;
	t->comp_order = FI_ORDER_NONE;
	t->inject_size = kInjectSize;
	t->size = kQueueSize;
	t->iov_limit = kMaxIov;
	t->rma_iov_limit = 1;

	fi_rx_attr *r = p->rx_attr;
	r->caps = p->caps & kCaps;
	r->op_flags = hints && hints->rx_attr ? hints->rx_attr->op_flags : 0;
	r->msg_order = kMsgOrder;
	r->comp_order = FI_ORDER_NONE;
	r->size = kQueueSize;
	r->iov_limit = kMaxIov;

	fi_ep_attr *e = p->ep_attr;
	e->type = FI_EP_RDM;
	e->protocol = FI_PROTO_UNSPEC;
	e->protocol_version = 1;
	e->max_msg_size = kMaxMsgSize;
	e->msg_prefix_size = 0;
	e->max_order_raw_size = kMaxMsgSize;
	e->max_order_war_size = kMaxMsgSize;
	e->max_order_waw_size = kMaxMsgSize;
	// All 64 tag bits match: libfabric's "generic" format (fields of two
	// bits) unless the application gave its own.
	e->mem_tag_format = hints && hints->ep_attr && hints->ep_attr->mem_tag_format
				    ? hints->ep_attr->mem_tag_format
				    : 0xaaaaaaaaaaaaaaaaull;
	e->tx_ctx_cnt = 1;
	e->rx_ctx_cnt = 1;

	fi_domain_attr *d = p->domain_attr;
	const fi_domain_attr *hd = hints ? hints->domain_attr : nullptr;
	if (!(d->name = strdup(kName)))
		return -FI_ENOMEM;
	d->threading = hd && hd->threading != FI_THREAD_UNSPEC ? hd->threading : FI_THREAD_SAFE;
	d->control_progress = FI_PROGRESS_MANUAL;
	d->data_progress = FI_PROGRESS_MANUAL;
	d->resource_mgmt = FI_RM_ENABLED;
	d->av_type = hd && hd->av_type != FI_AV_UNSPEC ? hd->av_type : FI_AV_TABLE;
	// Keys are the application's (or provider-chosen with FI_MR_PROV_KEY)
	// and RMA addresses offsets into the region (FI_MR_VIRT_ADDR: virtual
	// addresses); local buffers need no registration.
	uint64_t mr = 0;
	if (hd && hd->mr_mode == FI_MR_SCALABLE)
		mr = FI_MR_SCALABLE;
	else if (hd && hd->mr_mode != FI_MR_UNSPEC)
		mr = uint64_t(hd->mr_mode) & (FI_MR_PROV_KEY | FI_MR_VIRT_ADDR);
	d->mr_mode = int(mr);
	d->mr_key_size = 8;
	d->cq_data_size = 8;
	d->cq_cnt = 64;
	d->ep_cnt = 64;
	d->tx_ctx_cnt = 64;
	d->rx_ctx_cnt = 64;
	d->max_ep_tx_ctx = 1;
	d->max_ep_rx_ctx = 1;
	d->mr_iov_limit = 1;
	d->mr_cnt = 1 << 16;
	d->caps = FI_LOCAL_COMM | FI_REMOTE_COMM;

	fi_fabric_attr *f = p->fabric_attr;
	// prov_name stays NULL: libfabric's core names the provider itself.
	if (!(f->name = strdup(kName)))
		return -FI_ENOMEM;
	f->prov_version = FI_VERSION(1, 0);
	f->api_version = version;

	*info = i.p;
	i.p = nullptr;
	return 0;
}

} // namespace lumen_fi
