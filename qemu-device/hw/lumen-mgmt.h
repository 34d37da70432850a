/*
 * Lumen N1 accelerator: directed-route management packets and the chip's
 * management agent (docs/hw-spec.md 13.6), lumen-mgmt.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_LUMEN_MGMT_H
#define HW_MISC_LUMEN_MGMT_H

#include "lumen/lumen_mgmt.h"
#include "lumen-route.h"

#define LUMEN_MGMT_PKT_MAX      (LUMEN_MGMT_HDR_SIZE + LUMEN_MGMT_DATA_MAX)

/* One packet of the host's receive queue. */
typedef struct LumenMgmtRx {
    uint32_t len;
    uint8_t data[LUMEN_MGMT_PKT_MAX];
} LumenMgmtRx;

typedef struct LumenMgmt {
    uint64_t mkey;                  /* MKEY_LO/HI, 0 = none */
    uint32_t mkey_violations;
    uint8_t trap_hops;              /* TRAP_PATH, 0 = traps off */
    uint8_t trap_path[LUMEN_MGMT_MAX_HOPS];
    uint32_t trap_seq;
    /* ATTR_MANAGER, struct lumen_mgmt_manager as the manager wrote it */
    uint8_t manager[sizeof(struct lumen_mgmt_manager)];
    uint32_t tx_status;             /* MGMT_TX_STATUS */
    uint8_t tx_buf[LUMEN_MGMT_BUF_SIZE];    /* MGMT_TX_BUF, little-endian */
    LumenMgmtRx rx[LUMEN_MGMT_RX_DEPTH];
    uint32_t rx_head;               /* index of the head packet */
    uint32_t rx_count;
    uint32_t rx_drops;
    LumenPktQueue traps;            /* built on a state change, sent by BH */
    uint32_t traps_queued;
    QEMUBH *trap_bh;
} LumenMgmt;

extern const VMStateDescription vmstate_lumen_mgmt_manager;

void lumen_mgmt_init(LumenState *s);
void lumen_mgmt_exit(LumenState *s);
void lumen_mgmt_reset(LumenState *s);
bool lumen_mgmt_post_load(LumenState *s);
bool lumen_mgmt_reg_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_mgmt_reg_write(LumenState *s, hwaddr addr, uint32_t val);

/* A packet that arrived on VC 4 (lumen-route.c): it is consumed here. */
void lumen_mgmt_rx(LumenState *s, LumenPkt *p);
/* Port @port changed STATE: a trap along the trap path, if one is set. */
void lumen_mgmt_port_changed(LumenState *s, unsigned int port);

#endif /* HW_MISC_LUMEN_MGMT_H */
