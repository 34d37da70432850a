// SPDX-License-Identifier: MIT
// The provider object and logging through libfabric's FI_LOG machinery
// (FI_LOG_LEVEL=warn shows our messages, prefixed "lumen:<subsystem>").
#pragma once

#include <lumen/lumen.h>
#include <rdma/fi_errno.h>
#include <rdma/providers/fi_log.h>
#include <rdma/providers/fi_prov.h>

namespace lumen_fi {

extern fi_provider lumen_prov;

// A failed liblumen call: logs it (with liblumen's message) and returns
// the libfabric error it maps to.
int lumen_error(lumen_status_t s, const char *what);

} // namespace lumen_fi

#define LFI_WARN(subsys, ...) FI_WARN(&lumen_fi::lumen_prov, subsys, __VA_ARGS__)
#define LFI_INFO(subsys, ...) FI_INFO(&lumen_fi::lumen_prov, subsys, __VA_ARGS__)
