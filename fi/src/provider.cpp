// SPDX-License-Identifier: MIT
// The provider object, fi_getinfo and the fabric object.
#include "info.hpp"
#include "log.hpp"
#include "objects.hpp"

#include <cstring>

namespace lumen_fi {

namespace {

int getinfo(uint32_t version, const char *node, const char *service, uint64_t flags,
	    const fi_info *hints, fi_info **info)
{
	int n = 0;
	if (lumen_device_count(&n) != LUMEN_SUCCESS || n == 0) {
		LFI_INFO(FI_LOG_CORE, "no Lumen card: %s\n", lumen_get_last_error());
		return -FI_ENODATA;
	}
	return getinfo_filter(version, node, service, flags, hints, info);
}

void cleanup() {}

int fabric_close(fid *f)
{
	Fabric *fab = reinterpret_cast<Fabric *>(f);
	if (fab->refs) {
		LFI_WARN(FI_LOG_FABRIC, "fi_close(fabric): %d domains or EQs still open\n",
			 fab->refs);
		return -FI_EBUSY;
	}
	delete fab;
	return 0;
}

fi_ops fabric_fid_ops = {sizeof(fi_ops), fabric_close, no_bind, no_control,
			 no_ops_open,	 nullptr,      nullptr};

int no_passive_ep(fid_fabric *, fi_info *, fid_pep **, void *)
{
	LFI_WARN(FI_LOG_FABRIC, "fi_passive_ep: lumen has no passive endpoints (FI_EP_RDM only)\n");
	return -FI_ENOSYS;
}

int no_wait_open(fid_fabric *, fi_wait_attr *, fid_wait **)
{
	LFI_WARN(FI_LOG_FABRIC, "fi_wait_open: lumen has no wait sets (manual progress)\n");
	return -FI_ENOSYS;
}

int trywait(fid_fabric *, fid **, int)
{
	// Nothing blocks in lumen: the caller must poll.
	return -FI_EAGAIN;
}

int domain2(fid_fabric *fabric, fi_info *info, fid_domain **dom, uint64_t flags, void *context)
{
	if (flags) {
		LFI_WARN(FI_LOG_DOMAIN, "fi_domain2: flags %#lx not supported\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	return domain_open(fabric, info, dom, context);
}

fi_ops_fabric fabric_ops = {sizeof(fi_ops_fabric), domain_open, no_passive_ep, eq_open,
			    no_wait_open,	   trywait,	domain2};

} // namespace

fi_provider lumen_prov = {
	FI_VERSION(1, 0),
	FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION),
	{},
	kName,
	getinfo,
	fabric_open,
	cleanup,
};

int lumen_error(lumen_status_t s, const char *what)
{
	LFI_WARN(FI_LOG_CORE, "%s: %s: %s\n", what, lumen_status_string(s), lumen_get_last_error());
	switch (s) {
	case LUMEN_ERROR_OUT_OF_MEMORY:
	case LUMEN_ERROR_OUT_OF_DEVICE_MEMORY:
		return -FI_ENOMEM;
	case LUMEN_ERROR_INVALID_ARGUMENT:
		return -FI_EINVAL;
	case LUMEN_ERROR_BUSY:
		return -FI_EBUSY;
	case LUMEN_ERROR_NO_DEVICE:
		return -FI_ENODEV;
	case LUMEN_ERROR_REMOTE_ACCESS:
		return -FI_EACCES;
	case LUMEN_ERROR_UNREACHABLE:
		return -FI_EHOSTUNREACH;
	case LUMEN_ERROR_TIMEOUT:
		return -FI_ETIMEDOUT;
	case LUMEN_ERROR_NOT_SUPPORTED:
		return -FI_EOPNOTSUPP;
	default:
		return -FI_EIO;
	}
}

int no_bind(fid *, fid *, uint64_t)
{
	LFI_WARN(FI_LOG_CORE, "fi_bind: this object binds to nothing\n");
	return -FI_ENOSYS;
}

int no_control(fid *, int, void *)
{
	return -FI_ENOSYS;
}

int no_ops_open(fid *, const char *name, uint64_t, void **, void *)
{
	LFI_INFO(FI_LOG_CORE, "fi_open_ops(%s): lumen has no extensions\n", name ? name : "");
	return -FI_ENOSYS;
}

int fabric_open(fi_fabric_attr *attr, fid_fabric **fabric, void *context)
{
	if (!attr || !fabric) {
		LFI_WARN(FI_LOG_FABRIC, "fi_fabric: attr or fabric is NULL\n");
		return -FI_EINVAL;
	}
	if (attr->name && strcmp(attr->name, kName)) {
		LFI_WARN(FI_LOG_FABRIC, "fi_fabric: no fabric named '%s' (lumen's is '%s')\n",
			 attr->name, kName);
		return -FI_ENODATA;
	}
	Fabric *f = new (std::nothrow) Fabric;
	if (!f)
		return -FI_ENOMEM;
	f->fab.fid.fclass = FI_CLASS_FABRIC;
	f->fab.fid.context = context;
	f->fab.fid.ops = &fabric_fid_ops;
	f->fab.ops = &fabric_ops;
	*fabric = &f->fab;
	return 0;
}

} // namespace lumen_fi
