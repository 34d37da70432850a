/*
 * Lumen N1 accelerator: remote windows and remote memory operations
 * (docs/hw-spec.md 13.7). Placeholder until the remote engine lands.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "lumen-npu.h"

void lumen_remote_init(LumenState *s)
{
}

void lumen_remote_exit(LumenState *s)
{
}

void lumen_remote_reset(LumenState *s)
{
}

bool lumen_remote_reg_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    return false;
}

bool lumen_remote_reg_write(LumenState *s, hwaddr addr, uint32_t val)
{
    return false;
}

void lumen_remote_rx(LumenState *s, const struct lumen_pkt_hdr *hdr,
                     const void *payload, uint32_t len)
{
}
