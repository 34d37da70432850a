// SPDX-License-Identifier: MIT
// Address vectors, FI_AV_TABLE and FI_AV_MAP alike: fi_addr_t is the index
// of the entry (a MAP may choose any value; the index is one). A reverse
// map finds the fi_addr_t of an arriving message's sender.
#include "log.hpp"
#include "objects.hpp"

#include <cstring>

namespace lumen_fi {

namespace {

int av_close(fid *f)
{
	Av *av = reinterpret_cast<Av *>(f);
	Domain *d = av->dom;
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	if (av->refs) {
		LFI_WARN(FI_LOG_AV, "fi_close(av): %d endpoints still bound\n", av->refs);
		return -FI_EBUSY;
	}
	d->refs--;
	delete av;
	return 0;
}

int av_insert(fid_av *a, const void *addr, size_t count, fi_addr_t *fi_addr, uint64_t flags, void *)
{
	Av *av = reinterpret_cast<Av *>(a);
	if (!addr && count) {
		LFI_WARN(FI_LOG_AV, "fi_av_insert: addr is NULL\n");
		return -FI_EINVAL;
	}
	if (flags & ~FI_MORE) {
		LFI_WARN(FI_LOG_AV, "fi_av_insert: flags %#lx not supported\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	if (av->type == FI_AV_MAP && !fi_addr && count) {
		LFI_WARN(FI_LOG_AV, "fi_av_insert: FI_AV_MAP needs fi_addr\n");
		return -FI_EINVAL;
	}
	std::lock_guard<std::recursive_mutex> lk(av->dom->mu);
	int inserted = 0;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = static_cast<const uint8_t *>(addr) + i * sizeof(Address);
		std::string why;
		fi_addr_t fa = FI_ADDR_NOTAVAIL;
		if (!address_valid(p, sizeof(Address), &why)) {
			LFI_WARN(FI_LOG_AV, "fi_av_insert: address %zu: %s\n", i, why.c_str());
		} else {
			Address a2;
			memcpy(&a2, p, sizeof(a2));
			fa = av->entries.size();
			av->entries.push_back({a2, true});
			av->rev.emplace(key_of(a2), fa); // the first of duplicates answers
			inserted++;
		}
		if (fi_addr)
			fi_addr[i] = fa;
	}
	return inserted;
}

int av_insertsvc(fid_av *, const char *, const char *, fi_addr_t *, uint64_t, void *)
{
	LFI_WARN(FI_LOG_AV, "fi_av_insertsvc: lumen addresses are not names; use fi_getname\n");
	return -FI_ENOSYS;
}

int av_insertsym(fid_av *, const char *, size_t, const char *, size_t, fi_addr_t *, uint64_t,
		 void *)
{
	LFI_WARN(FI_LOG_AV, "fi_av_insertsym: lumen addresses are not names; use fi_getname\n");
	return -FI_ENOSYS;
}

int av_remove(fid_av *a, fi_addr_t *fi_addr, size_t count, uint64_t flags)
{
	Av *av = reinterpret_cast<Av *>(a);
	if ((!fi_addr && count) || flags) {
		LFI_WARN(FI_LOG_AV, "fi_av_remove: fi_addr NULL or flags %#lx\n",
			 (unsigned long)flags);
		return -FI_EINVAL;
	}
	std::lock_guard<std::recursive_mutex> lk(av->dom->mu);
	for (size_t i = 0; i < count; i++) {
		if (fi_addr[i] >= av->entries.size() || !av->entries[fi_addr[i]].valid) {
			LFI_WARN(FI_LOG_AV, "fi_av_remove: fi_addr %lu is not in the AV\n",
				 (unsigned long)fi_addr[i]);
			return -FI_EINVAL;
		}
	}
	for (size_t i = 0; i < count; i++) {
		Av::Entry &e = av->entries[fi_addr[i]];
		e.valid = false;
		auto it = av->rev.find(key_of(e.addr));
		if (it != av->rev.end() && it->second == fi_addr[i])
			av->rev.erase(it);
	}
	return 0;
}

int av_lookup(fid_av *a, fi_addr_t fi_addr, void *addr, size_t *addrlen)
{
	Av *av = reinterpret_cast<Av *>(a);
	if (!addrlen || (*addrlen && !addr)) {
		LFI_WARN(FI_LOG_AV, "fi_av_lookup: addr or addrlen is NULL\n");
		return -FI_EINVAL;
	}
	std::lock_guard<std::recursive_mutex> lk(av->dom->mu);
	if (fi_addr >= av->entries.size() || !av->entries[fi_addr].valid) {
		LFI_WARN(FI_LOG_AV, "fi_av_lookup: fi_addr %lu is not in the AV\n",
			 (unsigned long)fi_addr);
		return -FI_ENOENT;
	}
	memcpy(addr, &av->entries[fi_addr].addr, std::min(*addrlen, sizeof(Address)));
	*addrlen = sizeof(Address);
	return 0;
}

const char *av_straddr(fid_av *, const void *addr, char *buf, size_t *len)
{
	if (!addr || !buf || !len)
		return nullptr;
	Address a;
	memcpy(&a, addr, sizeof(a));
	std::string s = address_string(a);
	snprintf(buf, *len, "%s", s.c_str());
	*len = s.size() + 1;
	return buf;
}

int no_av_set(fid_av *, fi_av_set_attr *, fid_av_set **, void *)
{
	LFI_WARN(FI_LOG_AV, "fi_av_set: lumen has no collectives\n");
	return -FI_ENOSYS;
}

fi_ops av_fid_ops = {sizeof(fi_ops), av_close, no_bind, no_control, no_ops_open, nullptr, nullptr};
fi_ops_av av_ops = {sizeof(fi_ops_av), av_insert, av_insertsvc, av_insertsym,
		    av_remove,	       av_lookup, av_straddr,	no_av_set};

} // namespace

bool is_av(const fid *f)
{
	return f->fclass == FI_CLASS_AV && f->ops == &av_fid_ops;
}

fi_addr_t Av::lookup(const Address &a) const
{
	auto it = rev.find(key_of(a));
	return it == rev.end() ? FI_ADDR_NOTAVAIL : it->second;
}

int av_open(fid_domain *domain, fi_av_attr *attr, fid_av **out, void *context)
{
	if (!domain || !attr || !out) {
		LFI_WARN(FI_LOG_AV, "fi_av_open: domain, attr or av is NULL\n");
		return -FI_EINVAL;
	}
	const auto raw_type = enum_value(attr->type);
	if (raw_type != FI_AV_UNSPEC && raw_type != FI_AV_TABLE && raw_type != FI_AV_MAP) {
		LFI_WARN(FI_LOG_AV, "fi_av_open: type %d unknown\n", (int)raw_type);
		return -FI_EINVAL;
	}
	fi_av_type type = attr->type == FI_AV_UNSPEC ? FI_AV_TABLE : attr->type;
	if (attr->flags || attr->rx_ctx_bits || attr->name) {
		LFI_WARN(FI_LOG_AV, "fi_av_open: flags, rx_ctx_bits and named AVs unsupported\n");
		return -FI_EINVAL;
	}
	Domain *d = reinterpret_cast<Domain *>(domain);
	Av *av = new (std::nothrow) Av;
	if (!av)
		return -FI_ENOMEM;
	av->dom = d;
	av->type = type;
	av->entries.reserve(attr->count);
	av->av.fid.fclass = FI_CLASS_AV;
	av->av.fid.context = context;
	av->av.fid.ops = &av_fid_ops;
	av->av.ops = &av_ops;
	std::lock_guard<std::recursive_mutex> lk(d->mu);
	d->refs++;
	LFI_INFO(FI_LOG_AV, "AV open, %s\n", type == FI_AV_MAP ? "FI_AV_MAP" : "FI_AV_TABLE");
	*out = &av->av;
	return 0;
}

} // namespace lumen_fi
