/*
 * Lumen N1 accelerator: packets, route table and forwarding
 * (docs/hw-spec.md 13.4), lumen-route.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_ROUTE_H
#define HW_MISC_LUMEN_ROUTE_H

#include "lumen/lumen_remote.h"

typedef struct LumenState LumenState;

/*
 * Send a packet this chip creates: fills in hdr->crc32 (end-to-end CRC),
 * copies header and payload, and routes it like any packet (13.4). The VC
 * class follows hdr->op. Returns LUMEN_STATUS_OK when the packet is on its
 * way (queued; credits and links may still delay it), or
 * LUMEN_STATUS_UNREACHABLE when this chip has no route to hdr->dst_chip
 * (nothing queued). A packet for this chip's own id is delivered to
 * lumen_remote_rx() from a bottom half, never from inside this call.
 */
uint32_t lumen_route_send(LumenState *s, struct lumen_pkt_hdr *hdr,
                          const void *payload, uint32_t len);

#endif /* HW_MISC_LUMEN_ROUTE_H */
