/*
 * Lumen N1 accelerator: remote windows and remote memory operations
 * (docs/hw-spec.md 13.7), lumen-remote.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_REMOTE_H
#define HW_MISC_LUMEN_REMOTE_H

#include "lumen/lumen_remote.h"

typedef struct LumenState LumenState;
typedef struct LumenRemote LumenRemote;

void lumen_remote_init(LumenState *s);
void lumen_remote_exit(LumenState *s);
void lumen_remote_reset(LumenState *s);

/* WIN_* registers, 0xc20-0xc43. */
bool lumen_remote_reg_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_remote_reg_write(LumenState *s, hwaddr addr, uint32_t val);

/*
 * A packet for this chip (not MGMT) whose end-to-end CRC the link engine
 * checked: requests as target, answers as source. Never called re-entrantly
 * from lumen_route_send().
 */
void lumen_remote_rx(LumenState *s, const struct lumen_pkt_hdr *hdr,
                     const void *payload, uint32_t len);

#endif /* HW_MISC_LUMEN_REMOTE_H */
