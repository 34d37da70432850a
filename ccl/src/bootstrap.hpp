// SPDX-License-Identifier: MIT
// Bootstrap of communicators whose ranks live in several processes or
// hosts: before any data can move over the links, every rank must learn
// the others' staging areas (fabric handles). That exchange goes over the
// management network with libfabric's tcp provider (tcp;ofi_rxm, FI_EP_RDM).
//
// lumen_ccl_get_unique_id() starts a root in the calling process: an
// endpoint and a thread that waits for the ranks' joins. Its address and a
// random nonce make the unique id. Each rank's init joins with its blob;
// once all n joined, the root sends every rank the blobs in rank order.
#pragma once

#include <lumen/lumen_ccl.h>

#include <cstdint>
#include <vector>

namespace lumen::ccl {

// The unique id's layout (inside lumen_ccl_unique_id_t's bytes).
struct UniqueId {
	uint32_t magic; // kIdMagic
	uint16_t version;
	uint16_t addr_len; // bytes of addr: the root's fi_getname
	uint64_t nonce;	   // this bootstrap's, random
	uint8_t addr[LUMEN_CCL_UNIQUE_ID_BYTES - 16];
};
static_assert(sizeof(UniqueId) == LUMEN_CCL_UNIQUE_ID_BYTES);

constexpr uint32_t kIdMagic = 0x44494343; // "CCID"
constexpr uint16_t kIdVersion = 1;
constexpr size_t kMaxBlob = 1024;

// Starts a root that serves one bootstrap; its id. Throws Failure.
UniqueId start_root();

// Joins the bootstrap of id as rank of n with blob (at most kMaxBlob bytes,
// the same length on every rank); every rank's blob in rank order, once
// all have joined. Throws Failure (TIMEOUT after $LUMEN_CCL_BOOTSTRAP_TIMEOUT
// seconds, default 120, without the others).
std::vector<std::vector<uint8_t>> join(const UniqueId &id, int rank, int n,
				       const std::vector<uint8_t> &blob);

} // namespace lumen::ccl
