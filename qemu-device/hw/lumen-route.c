/*
 * Lumen N1 accelerator: packets, route table and forwarding
 * (docs/hw-spec.md 13.4). Placeholder until forwarding lands.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lumen-npu.h"

uint32_t lumen_route_send(LumenState *s, struct lumen_pkt_hdr *hdr,
                          const void *payload, uint32_t len)
{
    return LUMEN_STATUS_UNREACHABLE;
}
