// SPDX-License-Identifier: MIT
// What the provider offers (one fi_info: fabric "lumen", domain "lumen",
// FI_EP_RDM) and the filtering of an application's hints against it. Pure
// host logic: the device is chosen when the domain opens.
#pragma once

#include <rdma/fabric.h>

#include <cstddef>
#include <cstdint>

namespace lumen_fi {

constexpr const char *kName = "lumen";
constexpr uint64_t kCaps = FI_MSG | FI_TAGGED | FI_RMA | FI_READ | FI_WRITE | FI_SEND | FI_RECV |
			   FI_REMOTE_READ | FI_REMOTE_WRITE | FI_DIRECTED_RECV | FI_SOURCE |
			   FI_LOCAL_COMM | FI_REMOTE_COMM;
// Everything to one peer travels through one ring, in order.
constexpr uint64_t kMsgOrder = FI_ORDER_SAS | FI_ORDER_SAW | FI_ORDER_WAS | FI_ORDER_WAW |
			       FI_ORDER_RAR | FI_ORDER_RMA_RAR | FI_ORDER_RMA_WAW;
constexpr size_t kInjectSize = 4096 - 128;
constexpr size_t kQueueSize = 1024; // tx and rx contexts
constexpr size_t kMaxMsgSize = 1ull << 30;
constexpr uint64_t kOpFlags = FI_COMPLETION | FI_INJECT | FI_INJECT_COMPLETE |
			      FI_TRANSMIT_COMPLETE | FI_DELIVERY_COMPLETE | FI_REMOTE_CQ_DATA |
			      FI_MORE | FI_FENCE | FI_MATCH_COMPLETE;

// fi_getinfo without the device: the info matching hints (nullptr: any)
// for API version, or -FI_ENODATA (why logged at FI_LOG_INFO, a malformed
// hint at FI_LOG_WARN). node/service name nothing for this provider: only
// NULL is accepted (addresses come from fi_getname).
int getinfo_filter(uint32_t version, const char *node, const char *service, uint64_t flags,
		   const fi_info *hints, fi_info **info);

} // namespace lumen_fi
