// SPDX-License-Identifier: MIT
// The domain: one liblumen context on the chip this process uses
// (LUMEN_FI_DEVICE, else the local rank an MPI launcher exports, modulo the
// number of cards), and the inbox geometry of its endpoints.
#include "info.hpp"
#include "log.hpp"
#include "objects.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

namespace lumen_fi {

namespace {

// An unsigned environment variable; def when unset, -1 when malformed.
long env_number(const char *name, long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	long n = strtol(v, &end, 0);
	if (*end || n < 0) {
		LFI_WARN(FI_LOG_DOMAIN, "%s='%s' is not a number\n", name, v);
		return -1;
	}
	return n;
}

int choose_device(int count)
{
	long dev = env_number("LUMEN_FI_DEVICE", -2);
	if (dev == -1)
		return -FI_EINVAL;
	if (dev >= 0) {
		if (dev >= count) {
			LFI_WARN(FI_LOG_DOMAIN, "LUMEN_FI_DEVICE=%ld: there are %d cards\n", dev,
				 count);
			return -FI_ENODEV;
		}
		return int(dev);
	}
	for (const char *var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK",
				"SLURM_LOCALID"}) {
		long rank = env_number(var, -2);
		if (rank >= 0)
			return int(rank % count);
	}
	return 0;
}

int domain_close(fid *f)
{
	Domain *d = reinterpret_cast<Domain *>(f);
	if (d->refs) {
		LFI_WARN(FI_LOG_DOMAIN, "fi_close(domain): %d objects still open on it\n", d->refs);
		return -FI_EBUSY;
	}
	lumen_context_destroy(d->ctx);
	d->fabric->refs--;
	delete d;
	return 0;
}

int no_scalable_ep(fid_domain *, fi_info *, fid_ep **, void *)
{
	LFI_WARN(FI_LOG_DOMAIN, "fi_scalable_ep: not supported by lumen\n");
	return -FI_ENOSYS;
}

int no_cntr_open(fid_domain *, fi_cntr_attr *, fid_cntr **, void *)
{
	LFI_WARN(FI_LOG_DOMAIN, "fi_cntr_open: lumen has no counters (use CQs)\n");
	return -FI_ENOSYS;
}

int no_poll_open(fid_domain *, fi_poll_attr *, fid_poll **)
{
	LFI_WARN(FI_LOG_DOMAIN, "fi_poll_open: not supported by lumen\n");
	return -FI_ENOSYS;
}

int no_stx_ctx(fid_domain *, fi_tx_attr *, fid_stx **, void *)
{
	LFI_WARN(FI_LOG_DOMAIN, "fi_stx_context: not supported by lumen\n");
	return -FI_ENOSYS;
}

int no_srx_ctx(fid_domain *, fi_rx_attr *, fid_ep **, void *)
{
	LFI_WARN(FI_LOG_DOMAIN, "fi_srx_context: not supported by lumen\n");
	return -FI_ENOSYS;
}

int no_query_atomic(fid_domain *, fi_datatype, fi_op, fi_atomic_attr *, uint64_t)
{
	return -FI_EOPNOTSUPP;
}

int no_query_collective(fid_domain *, fi_collective_op, fi_collective_attr *, uint64_t)
{
	return -FI_EOPNOTSUPP;
}

int endpoint2(fid_domain *domain, fi_info *info, fid_ep **ep, uint64_t flags, void *context)
{
	if (flags) {
		LFI_WARN(FI_LOG_DOMAIN, "fi_endpoint2: flags %#lx not supported\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	return ep_open(domain, info, ep, context);
}

fi_ops domain_fid_ops = {sizeof(fi_ops), domain_close, no_bind, no_control,
			 no_ops_open,	 nullptr,      nullptr};
fi_ops_domain domain_ops = {
	sizeof(fi_ops_domain), av_open,	     cq_open,	 ep_open,    no_scalable_ep,
	no_cntr_open,	       no_poll_open, no_stx_ctx, no_srx_ctx, no_query_atomic,
	no_query_collective,   endpoint2};
fi_ops_mr mr_ops = {sizeof(fi_ops_mr), mr_reg, mr_regv, mr_regattr};

} // namespace

int domain_open(fid_fabric *fabric, fi_info *info, fid_domain **dom, void *context)
{
	if (!fabric || !info || !dom) {
		LFI_WARN(FI_LOG_DOMAIN, "fi_domain: fabric, info or domain is NULL\n");
		return -FI_EINVAL;
	}
	if (info->domain_attr && info->domain_attr->name &&
	    strcmp(info->domain_attr->name, kName)) {
		LFI_WARN(FI_LOG_DOMAIN, "fi_domain: no domain named '%s'\n",
			 info->domain_attr->name);
		return -FI_ENODATA;
	}
	Geometry g{};
	long v;
	if ((v = env_number("LUMEN_FI_RINGS", 16)) < 0)
		return -FI_EINVAL;
	g.rings = uint32_t(v);
	if ((v = env_number("LUMEN_FI_SLOTS", 8)) < 0)
		return -FI_EINVAL;
	g.slots = uint32_t(v);
	if ((v = env_number("LUMEN_FI_SLOT_SIZE", 65536)) < 0)
		return -FI_EINVAL;
	g.slot_size = uint32_t(v);
	std::string why;
	if (!geometry_valid(g, &why)) {
		LFI_WARN(FI_LOG_DOMAIN, "LUMEN_FI_RINGS/SLOTS/SLOT_SIZE: %s\n", why.c_str());
		return -FI_EINVAL;
	}

	int count = 0;
	lumen_status_t s = lumen_device_count(&count);
	if (s)
		return lumen_error(s, "lumen_device_count");
	if (!count) {
		LFI_WARN(FI_LOG_DOMAIN, "fi_domain: no Lumen card\n");
		return -FI_ENODEV;
	}
	int index = choose_device(count);
	if (index < 0)
		return index;
	lumen_device_t dev;
	if ((s = lumen_device_get(index, &dev)))
		return lumen_error(s, "lumen_device_get");
	uint32_t chip;
	if ((s = lumen_device_get_chip_id(dev, &chip)))
		return lumen_error(s, "lumen_device_get_chip_id");
	lumen_context_t ctx;
	if ((s = lumen_context_create(dev, &ctx)))
		return lumen_error(s, "lumen_context_create");

	Domain *d = new (std::nothrow) Domain;
	if (!d) {
		lumen_context_destroy(ctx);
		return -FI_ENOMEM;
	}
	d->fabric = reinterpret_cast<Fabric *>(fabric);
	d->ctx = ctx;
	d->geometry = g;
	if (info->domain_attr)
		d->mr_mode = uint64_t(info->domain_attr->mr_mode);
	d->dom.fid.fclass = FI_CLASS_DOMAIN;
	d->dom.fid.context = context;
	d->dom.fid.ops = &domain_fid_ops;
	d->dom.ops = &domain_ops;
	d->dom.mr = &mr_ops;
	d->fabric->refs++;
	LFI_INFO(FI_LOG_DOMAIN, "domain on card %d (chip %u)\n", index, chip);
	*dom = &d->dom;
	return 0;
}

} // namespace lumen_fi
