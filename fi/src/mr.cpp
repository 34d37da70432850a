// SPDX-License-Identifier: MIT
// Memory registration. Local buffers need none (every send is staged
// through the card), so an MR only names host memory that peers read and
// write with RMA: the target applies a write (or answers a read) from its
// inbox, looking the key up here. Keys are the application's, or chosen by
// the provider with FI_MR_PROV_KEY; addresses are offsets into the region,
// or virtual addresses with FI_MR_VIRT_ADDR.
#include "log.hpp"
#include "objects.hpp"

namespace lumen_fi {

namespace {

constexpr uint64_t kAccess =
	FI_SEND | FI_RECV | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE;

int mr_close(fid *f)
{
	Mr *mr = reinterpret_cast<Mr *>(f);
	Domain *d = mr->dom;
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	d->mrs.erase(mr->mr.key);
	d->refs--;
	delete mr;
	return 0;
}

fi_ops mr_fid_ops = {sizeof(fi_ops), mr_close, no_bind, no_control, no_ops_open, nullptr, nullptr};

int reg(Domain *d, const iovec *iov, size_t count, uint64_t access, uint64_t offset,
	uint64_t requested_key, uint64_t flags, fid_mr **out, void *context)
{
	if (!out || (count && !iov)) {
		LFI_WARN(FI_LOG_MR, "fi_mr_reg: mr or iov is NULL\n");
		return -FI_EINVAL;
	}
	if (count != 1) {
		LFI_WARN(FI_LOG_MR, "fi_mr_regv: %zu iovs, lumen registers exactly one\n", count);
		return -FI_EINVAL;
	}
	if (!iov->iov_base && iov->iov_len) {
		LFI_WARN(FI_LOG_MR, "fi_mr_reg: buf is NULL\n");
		return -FI_EINVAL;
	}
	if (access & ~kAccess) {
		LFI_WARN(FI_LOG_MR, "fi_mr_reg: access %#lx has unknown bits\n",
			 (unsigned long)access);
		return -FI_EINVAL;
	}
	if (flags) {
		LFI_WARN(FI_LOG_MR, "fi_mr_reg: flags %#lx not supported\n", (unsigned long)flags);
		return -FI_EINVAL;
	}
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	uint64_t key = requested_key;
	if (d->mr_mode & FI_MR_PROV_KEY) {
		while (d->mrs.count(d->next_key))
			d->next_key++;
		key = d->next_key++;
	} else if (d->mrs.count(key)) {
		LFI_WARN(FI_LOG_MR, "fi_mr_reg: key %#lx is in use\n", (unsigned long)key);
		return -FI_ENOKEY;
	}
	Mr *mr = new (std::nothrow) Mr;
	if (!mr)
		return -FI_ENOMEM;
	mr->dom = d;
	mr->base = static_cast<uint8_t *>(iov->iov_base);
	mr->len = iov->iov_len;
	mr->access = access;
	mr->offset = offset;
	mr->mr.fid.fclass = FI_CLASS_MR;
	mr->mr.fid.context = context;
	mr->mr.fid.ops = &mr_fid_ops;
	mr->mr.mem_desc = mr;
	mr->mr.key = key;
	d->mrs[key] = mr;
	d->refs++;
	*out = &mr->mr;
	return 0;
}

Domain *domain_of(fid *f)
{
	if (!f || f->fclass != FI_CLASS_DOMAIN) {
		LFI_WARN(FI_LOG_MR, "fi_mr_reg: not a lumen domain\n");
		return nullptr;
	}
	return reinterpret_cast<Domain *>(f);
}

} // namespace

uint8_t *mr_target(Domain *d, uint64_t key, uint64_t addr, uint64_t len, uint64_t access)
{
	auto it = d->mrs.find(key);
	if (it == d->mrs.end())
		return nullptr;
	Mr *mr = it->second;
	if ((mr->access & access) != access)
		return nullptr;
	const uint64_t start =
		(d->mr_mode & FI_MR_VIRT_ADDR) ? uint64_t(uintptr_t(mr->base)) : mr->offset;
	if (addr < start || addr - start > mr->len || len > mr->len - (addr - start))
		return nullptr;
	return mr->base + (addr - start);
}

int mr_reg(fid *fid, const void *buf, size_t len, uint64_t access, uint64_t offset,
	   uint64_t requested_key, uint64_t flags, fid_mr **mr, void *context)
{
	Domain *d = domain_of(fid);
	if (!d)
		return -FI_EINVAL;
	iovec iov{const_cast<void *>(buf), len};
	return reg(d, &iov, 1, access, offset, requested_key, flags, mr, context);
}

int mr_regv(fid *fid, const iovec *iov, size_t count, uint64_t access, uint64_t offset,
	    uint64_t requested_key, uint64_t flags, fid_mr **mr, void *context)
{
	Domain *d = domain_of(fid);
	if (!d)
		return -FI_EINVAL;
	return reg(d, iov, count, access, offset, requested_key, flags, mr, context);
}

int mr_regattr(fid *fid, const fi_mr_attr *attr, uint64_t flags, fid_mr **mr)
{
	Domain *d = domain_of(fid);
	if (!d)
		return -FI_EINVAL;
	if (!attr) {
		LFI_WARN(FI_LOG_MR, "fi_mr_regattr: attr is NULL\n");
		return -FI_EINVAL;
	}
	if (attr->iface != FI_HMEM_SYSTEM) {
		LFI_WARN(FI_LOG_MR, "fi_mr_regattr: only host memory (FI_HMEM_SYSTEM)\n");
		return -FI_EOPNOTSUPP;
	}
	return reg(d, attr->mr_iov, attr->iov_count, attr->access, attr->offset,
		   attr->requested_key, flags, mr, attr->context);
}

} // namespace lumen_fi
