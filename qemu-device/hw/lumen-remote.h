/*
 * Lumen N1 accelerator: remote windows and remote memory operations
 * (docs/hw-spec.md 13.7), lumen-remote.c. The queue engine's side of the
 * interface (descriptor check, execution, abandon) is in lumen-engine.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_REMOTE_H
#define HW_MISC_LUMEN_REMOTE_H

#include "lumen/lumen_remote.h"

typedef struct LumenState LumenState;
typedef struct LumenRemote LumenRemote;

/*
 * (source chip, stream) pairs whose exactly-once state a target keeps
 * (13.7, emulation note); the test-only property x-remote-streams lowers
 * it so that a full table can be tested.
 */
#define LUMEN_REMOTE_STREAMS_MAX    4096

void lumen_remote_init(LumenState *s);
void lumen_remote_exit(LumenState *s);
void lumen_remote_reset(LumenState *s);

/*
 * The one gate of everything in this file: CAPS.LINKS. Without it the
 * remote opcodes are malformed descriptors and the registers below are
 * reserved.
 */
bool lumen_remote_enabled(LumenState *s);

/*
 * Registers this file decodes (false for any other offset):
 * E2E_TIMEOUT_MS (0xc1c), WIN_* and NUM_WINDOWS (0xc20-0xc43),
 * ACCESS_ERRORS, E2E_RETRANSMITS, E2E_DUPLICATES (0xc60-0xc6b) and
 * E2E_TIMEOUTS (0xc78).
 */
bool lumen_remote_reg_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_remote_reg_write(LumenState *s, hwaddr addr, uint32_t val);

/*
 * A packet for this chip (not MGMT) whose end-to-end CRC the link engine
 * checked: requests as target, answers as source. Every field is checked
 * again; what is malformed is dropped and counted (lumen_remote_bad_pkts).
 * Nothing is kept of @hdr or @payload after the call. Never called
 * re-entrantly from lumen_route_send().
 */
void lumen_remote_rx(LumenState *s, const struct lumen_pkt_hdr *hdr,
                     const void *payload, uint32_t len);

/*
 * Packets this file dropped as malformed since the last reset: the remote
 * part of BAD_PKTS (0xc7c), which the link registers add to their own.
 */
uint32_t lumen_remote_bad_pkts(LumenState *s);

/*
 * Migration subsection of the remote registers (windows, E2E_TIMEOUT_MS,
 * counters), for the subsections of the device's VMStateDescription.
 */
extern const VMStateDescription vmstate_lumen_remote;

#endif /* HW_MISC_LUMEN_REMOTE_H */
