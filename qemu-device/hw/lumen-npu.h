/*
 * Lumen N1 accelerator (lumen-npu): device state shared by the model's files.
 *
 * The hardware/firmware contract lives in firmware-iface/include/lumen/ and
 * docs/hw-spec.md; this header only holds the model's own bookkeeping.
 *
 * Files, one concern each:
 *   lumen-npu.c        QOM type, properties, BARs, reset, migration
 *   lumen-regs.c       BAR0 decode: access checks, global registers
 *   lumen-irq.c        INT_STATUS/INT_MASK, MSI-X, error reporting
 *   lumen-boot.c       firmware image fetch and validation
 *   lumen-mbox.c       firmware mailbox rings and messages
 *   lumen-telemetry.c  thermal/power/clock model
 *   lumen-queue.c      DMA queue registers, doorbells, queue stop/reset
 *   lumen-engine.c     descriptor fetch, validation and execution (BH)
 *   lumen-mmu.c        device MMU: contexts, table walk, TLB, fault record
 *   lumen-inject.c     test-only fault injection block
 *   lumen-link.c       optical link ports: fiber chardevs, training,
 *                      reliable link layer (seq, ACK/NAK, replay, credits)
 *   lumen-route.c      packets, route table, forwarding, local delivery
 *   lumen-mgmt.c       directed-route management packets and agent, traps
 *   lumen-remote.c     remote windows and remote memory operations
 *   lumen-reduce.c     element arithmetic of REDUCE and RREDUCE
 *
 * Locking: everything runs under the BQL (MMIO callbacks, bottom halves and
 * timers of the main loop), so the state needs no lock of its own.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_LUMEN_NPU_H
#define HW_MISC_LUMEN_NPU_H

#include "hw/pci/pci_device.h"
#include "chardev/char-fe.h"
#include "qom/object.h"
#include "lumen-route.h"
#include "lumen-mgmt.h"
#include "lumen-remote.h"
#include "lumen/lumen_iface.h"
#include "lumen/lumen_fiber.h"

#define TYPE_LUMEN_NPU "lumen-npu"
OBJECT_DECLARE_SIMPLE_TYPE(LumenState, LUMEN_NPU)

/* Board constants of the model (not part of the register contract). */
#define LUMEN_NPU_BOARD_REV         1
#define LUMEN_NPU_SERIAL_MAX        (LUMEN_SERIAL_LEN - 1)

/* Firmware boot state (lumen-boot.c). */
typedef struct LumenBoot {
    uint32_t fw_addr_lo;            /* pending low half until _HI is written */
    uint64_t fw_addr;
    uint32_t fw_size;
    uint32_t state;                 /* enum lumen_boot_state */
    uint32_t error;                 /* enum lumen_status */
    uint32_t fw_version;
    uint32_t abi_version;           /* negotiated major << 16 | minor */
    uint8_t build_id[LUMEN_FW_BUILD_ID_LEN];
    QEMUBH *bh;
} LumenBoot;

/* Firmware mailbox (lumen-mbox.c). Indices are free-running. */
typedef struct LumenMbox {
    uint32_t req_base_lo;
    uint64_t req_base;
    uint32_t resp_base_lo;
    uint64_t resp_base;
    uint32_t ring_order;
    uint32_t req_tail;              /* written by the driver (doorbell) */
    uint32_t req_head;              /* device consumer index */
    uint32_t resp_tail;             /* device producer index */
    uint32_t resp_head;             /* written by the driver */
    uint64_t handled;               /* messages answered since reset */
    QEMUBH *bh;
} LumenMbox;

/* Telemetry model (lumen-telemetry.c), advanced lazily on every use. */
typedef struct LumenTelemetry {
    int64_t reset_ns;               /* QEMU_CLOCK_VIRTUAL at reset */
    int64_t last_ns;                /* model time */
    uint64_t busy_ns;               /* cumulative engine busy time */
    uint64_t busy_at_last;          /* busy_ns at last_ns */
    int32_t temp_mc;                /* die temperature, milli-degrees C */
    uint32_t power_mw;
    uint32_t power_cap_mw;
    bool over_temp;                 /* ERR_THERMAL reported, not yet cooled */
} LumenTelemetry;

/* Device MMU (lumen-mmu.c). */
#define LUMEN_TLB_ENTRIES           8       /* per context, round robin */

typedef struct LumenTlbEntry {
    uint64_t tag;                   /* va >> shift */
    uint64_t pte;                   /* the leaf entry */
    uint8_t shift;                  /* LUMEN_PAGE_SHIFT or HUGE_PAGE_SHIFT */
    bool valid;
} LumenTlbEntry;

typedef struct LumenMmuCtx {
    uint64_t root;                  /* table pointer, PTE form */
    uint32_t ctrl;                  /* LUMEN_MMU_CTX_* */
    uint32_t tlb_next;              /* not migrated (TLB is flushed) */
    LumenTlbEntry tlb[LUMEN_TLB_ENTRIES];
} LumenMmuCtx;

typedef struct LumenMmu {
    uint32_t select;                /* MMU_CTX_SELECT */
    uint32_t root_lo;               /* pending low half until _HI */
    uint32_t fault_status;
    uint32_t fault_ctx;
    uint64_t fault_addr;
    uint32_t fault_info;
    uint32_t fault_queue;
    uint32_t fault_tag;
    LumenMmuCtx ctx[LUMEN_CONTEXTS_MAX];
} LumenMmu;

/* Result of a translation: where @len bytes from the VA live. */
typedef struct LumenXlate {
    uint64_t addr;                  /* device-memory offset or bus address */
    uint64_t len;                   /* bytes up to the end of the page */
    bool host;                      /* LUMEN_PTE_TARGET_HOST */
    bool priv;                      /* LUMEN_PTE_PRIV: kernel queues only */
} LumenXlate;

/* One hardware DMA queue (lumen-queue.c, lumen-engine.c). */
typedef struct LumenQueue {
    uint32_t base_lo;               /* pending low half until _HI */
    uint64_t base;
    uint32_t order;
    uint32_t ctrl;                  /* ENABLE | PRIO | CTX (never RESET) */
    uint32_t head;
    uint32_t tail;
    uint32_t status;                /* LUMEN_QSTS_* */
    uint32_t error;
    uint32_t error_index;
    uint32_t completed;
    uint32_t written;               /* PROGRESS: bytes written, mod 2^32 */
    uint32_t inject;                /* armed enum lumen_inject, or NONE */
    bool hung;                      /* HANG_QUEUE fired */
    bool waiting;                   /* parked on a WAIT at HEAD */
    bool has_cur;                   /* cur holds the descriptor at HEAD */
    uint64_t progress;              /* bytes of cur done (COPY, FILL) */
    struct lumen_cmd cur;
    /* User-mode queues (CTRL.USER) and the completion interrupt. */
    uint32_t cpl_lo;                /* pending low half until CPL_HI */
    uint64_t cpl;                   /* completion record VA, 0 = none */
    uint32_t completed_hi;          /* upper half of the 64-bit count */
    uint32_t irq_at;                /* IRQ_AT as written */
    bool irq_armed;                 /* IRQ_AT written, not yet reached */
    uint64_t cpl_done;              /* count in the last record written */
    uint32_t cpl_status;            /* status in the last record written */
} LumenQueue;

/*
 * The queue engine: one bottom half serves all queues by priority class,
 * round robin within a class.
 */
typedef struct LumenEngine {
    QEMUBH *bh;
    QEMUTimer *wait_timer;          /* re-checks parked WAITs */
    uint32_t next;                  /* round-robin start of each class */
    uint32_t run_gen;               /* LumenState.reset_gen when the BH began */
    bool kick;                      /* a SIGNAL ran: re-check WAITs */
    uint64_t reduce_left;           /* REDUCE bytes left in this BH run */
} LumenEngine;

/*
 * One optical link port (lumen-link.c). The fiber side (chardev, record
 * framing, light) is physical and survives a device reset; the rest are
 * the port's registers, training and link-layer state, which a reset
 * clears.
 */
#define LUMEN_LINK_RX_BUF   (2 * (16 + LUMEN_FIBER_MAX_PAYLOAD))
#define LUMEN_LINK_TXQ_MAX  (64 * 1024)     /* bytes queued for the socket */
#define LUMEN_LINK_TXQ_DATA (32 * 1024)     /* DATA stops here, control not */
/*
 * Packets per port and VC that may wait for credit without holding a
 * receive buffer of this chip (created here, or rerouted from a port that
 * left UP): nothing upstream bounds them, this does (hw-spec 13.3).
 */
#define LUMEN_LINK_OWN_MAX  128

typedef struct LumenLinkPort {
    struct LumenState *s;
    unsigned int index;
    CharBackend chr;

    /* Fiber (emulation physical layer). */
    bool connected;                 /* chardev open, HELLO sent */
    bool attached;                  /* HELLO_ACK OK received */
    bool refused;                   /* HELLO_ACK with an error status */
    bool wire_error;                /* bad record: discard until reconnect */
    bool lit;
    uint32_t fiber_id;
    uint8_t rx[LUMEN_LINK_RX_BUF];
    uint32_t rx_len;
    GByteArray *txq;                /* whole records, written in order */
    guint tx_watch;

    /* Registers and training. */
    uint32_t ctrl;
    uint32_t state;                 /* enum lumen_link_state */
    uint32_t generation;
    /*
     * The last generation this port used, kept across device resets: a
     * port never trains twice with one generation while the card exists,
     * so a neighbour that still holds the old link notices the new one.
     */
    uint32_t gen_last;
    bool heard;                     /* peer_* hold the last valid frame */
    uint32_t peer_chip;
    uint32_t peer_port;
    uint32_t peer_gen;
    int64_t last_rx_ms;             /* QEMU_CLOCK_REALTIME of last good frame */
    uint64_t tx_frames, rx_frames, tx_bytes, rx_bytes;
    uint32_t crc_errors;
    uint32_t frame_errors;
    uint32_t down_events;
    QEMUTimer *timer;               /* training, keepalive, ERROR hold-off */

    /*
     * Reliable link layer (13.3): sequence spaces and credits restart
     * whenever the port goes UP. The replay buffer holds the DATA frames
     * sent and not yet acknowledged, in seq order; tx_next is the first of
     * them not yet written to the socket (NULL: all written).
     */
    uint32_t tx_seq;                /* seq of the next new DATA frame */
    uint32_t tx_acked;              /* oldest seq not acknowledged */
    uint32_t tx_sent[LUMEN_LINK_NUM_VCS];   /* new frames per VC since UP */
    uint32_t tx_done[LUMEN_LINK_NUM_VCS];   /* of them, acknowledged */
    uint32_t tx_limit[LUMEN_LINK_NUM_VCS];  /* neighbour's credit_limit */
    LumenPktQueue replay;
    LumenPkt *tx_next;
    LumenPktQueue waitq[LUMEN_LINK_NUM_VCS];    /* waiting for credit */
    uint32_t own[LUMEN_LINK_NUM_VCS];   /* of them, holding no buffer */
    bool own_refused;               /* one refused: kick the engine later */
    uint32_t replays;               /* replays without ACK progress */
    QEMUTimer *replay_timer;
    uint32_t rx_seq;                /* next seq expected */
    uint32_t rx_accepted[LUMEN_LINK_NUM_VCS];
    uint32_t rx_limit[LUMEN_LINK_NUM_VCS];  /* credit_limit granted */
    bool nak_pending;               /* NAKed, expected frame not yet in */
    bool ack_pending;               /* an ACK is due (LumenLink.ack_bh) */

    /* Link-layer counters (13.5). */
    uint32_t retransmits;
    uint32_t naks_rx, naks_tx;
    uint32_t replay_timeouts;
    uint32_t ttl_drops;
    uint32_t credit_stalls;
    uint32_t failovers;
    uint32_t retrains;
    uint32_t seq_errors;
    uint64_t data_tx, data_rx;
} LumenLinkPort;

typedef struct LumenLink {
    LumenLinkPort ports[LUMEN_LINK_PORTS_MAX];
    uint32_t changed;               /* LINK_CHANGED */
    QEMUBH *ack_bh;                 /* sends the ACKs that are due */
    Error *blocker;                 /* migration blocker while chardevs */
} LumenLink;

struct LumenState {
    PCIDevice parent_obj;

    /* Properties. */
    uint64_t mem_size;
    uint32_t num_queues;
    uint32_t num_link_ports;
    uint32_t chip_id;
    char *serial;
    bool fault_inject;
    bool reduce;                    /* CAPS.REDUCE */
    bool user_queues;               /* CAPS.USER_QUEUES */
    uint32_t remote_streams;        /* x-remote-streams (test-only) */

    /* Derived at realize. */
    char serial_str[LUMEN_SERIAL_LEN];
    uint32_t num_vectors;
    uint32_t caps;

    /* BARs. */
    MemoryRegion bar0;              /* container: registers + MSI-X */
    MemoryRegion regs;
    MemoryRegion mem;               /* device memory, RAM backed */
    MemoryRegion db_bar;            /* doorbells, one page per queue */

    /*
     * Bumped by every reset (not migrated). A DMA of a bottom half can
     * reset the function (an FLR or bus reset written through MMCONFIG);
     * the BH then must not touch the freshly reset state.
     */
    uint32_t reset_gen;

    /* Global registers. */
    uint32_t dev_status;
    uint32_t scratch;

    /*
     * Device injections that fired (lumen-inject.c), a mask of
     * 1 << enum lumen_inject, and the queues whose WEDGE_QUEUE fired, bit
     * q; both hold until a device reset (QCTRL_RESET keeps a wedge).
     */
    uint32_t inject_fired;
    uint64_t inject_wedged;

    /* Interrupts and errors (lumen-irq.c). */
    uint32_t int_status;
    uint32_t int_mask;
    uint32_t err_status;
    uint32_t err_count;
    uint32_t err_last_code;
    uint64_t err_last_info;

    LumenBoot boot;
    LumenMbox mbox;
    LumenTelemetry telem;
    uint32_t db_last[LUMEN_QUEUES_MAX];     /* last doorbell values */
    LumenMmu mmu;
    LumenQueue queues[LUMEN_QUEUES_MAX];
    LumenEngine engine;
    LumenLink link;
    LumenRoute route;               /* lumen-route.c */
    LumenMgmt mgmt;                 /* lumen-mgmt.c */
    LumenRemote *remote;            /* lumen-remote.c */
};

/* lumen-npu.c */
void lumen_soft_reset(LumenState *s);

/* lumen-regs.c */
extern const MemoryRegionOps lumen_regs_ops;
void lumen_reg_error(LumenState *s, hwaddr addr, enum lumen_status code,
                     const char *why);

/* lumen-irq.c */
void lumen_irq_raise(LumenState *s, uint32_t cause);
void lumen_irq_queue(LumenState *s, unsigned int q);
void lumen_report_error(LumenState *s, uint32_t err_bit,
                        enum lumen_status code, uint64_t info);
void lumen_irq_reset(LumenState *s);
bool lumen_irq_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_irq_write(LumenState *s, hwaddr addr, uint32_t val);

/* lumen-boot.c */
void lumen_boot_init(LumenState *s);
void lumen_boot_exit(LumenState *s);
void lumen_boot_reset(LumenState *s);
void lumen_boot_crash(LumenState *s);
void lumen_boot_post_load(LumenState *s);
bool lumen_boot_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_boot_write(LumenState *s, hwaddr addr, uint32_t val);

/* lumen-mbox.c */
void lumen_mbox_init(LumenState *s);
void lumen_mbox_exit(LumenState *s);
void lumen_mbox_reset(LumenState *s);
bool lumen_mbox_config_ok(LumenState *s);
void lumen_mbox_post_load(LumenState *s);
void lumen_mbox_open(LumenState *s);
bool lumen_mbox_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_mbox_write(LumenState *s, hwaddr addr, uint32_t val);

/* lumen-telemetry.c */
void lumen_telemetry_reset(LumenState *s, bool power_on);
void lumen_telemetry_add_busy(LumenState *s, uint64_t ns);
void lumen_telemetry_fill(LumenState *s, struct lumen_mbox_telemetry *t);
bool lumen_telemetry_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_telemetry_write(LumenState *s, hwaddr addr, uint32_t val);

/* lumen-queue.c */
extern const MemoryRegionOps lumen_doorbell_ops;
uint64_t lumen_doorbell_bar_size(uint32_t num_queues);
void lumen_queue_reset(LumenState *s);
bool lumen_queue_post_load(LumenState *s);
bool lumen_queue_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_queue_write(LumenState *s, hwaddr addr, uint32_t val);
void lumen_queue_stop(LumenState *s, unsigned int q, enum lumen_status code);
void lumen_queue_retired(LumenState *s, unsigned int q, bool irq);
void lumen_queue_post_cpl(LumenState *s, unsigned int q);
unsigned int lumen_queue_ctx(LumenQueue *lq);
unsigned int lumen_queue_prio(LumenQueue *lq);

/* lumen-engine.c */
void lumen_engine_init(LumenState *s);
void lumen_engine_exit(LumenState *s);
void lumen_engine_reset(LumenState *s);
bool lumen_engine_post_load(LumenState *s);
void lumen_engine_kick(LumenState *s);

/* lumen-mmu.c */
void lumen_mmu_reset(LumenState *s);
void lumen_mmu_post_load(LumenState *s);
bool lumen_mmu_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_mmu_write(LumenState *s, hwaddr addr, uint32_t val);
enum lumen_status lumen_mmu_translate(LumenState *s, unsigned int q,
                                      uint64_t va, bool write,
                                      LumenXlate *out);

/*
 * lumen-inject.c (armed queue injections live in LumenQueue.inject, fired
 * device injections in LumenState.inject_fired, fired queue wedges in
 * LumenState.inject_wedged). Every kind but NONE is in exactly one mask.
 */
#define LUMEN_INJECT_DEVICE_MASK    (1u << LUMEN_INJECT_FW_CRASH | \
                                     1u << LUMEN_INJECT_HALT | \
                                     1u << LUMEN_INJECT_MBOX_HANG)
#define LUMEN_INJECT_QUEUE_KINDS    (1u << LUMEN_INJECT_HANG_QUEUE | \
                                     1u << LUMEN_INJECT_DMA_FAIL | \
                                     1u << LUMEN_INJECT_CORRUPT_DESC | \
                                     1u << LUMEN_INJECT_WEDGE_QUEUE)

void lumen_inject_reset(LumenState *s);
bool lumen_inject_queue_kind(uint32_t kind);
void lumen_inject_wedge(LumenState *s, unsigned int q);
bool lumen_inject_wedged(LumenState *s, unsigned int q);
bool lumen_inject_queues_frozen(LumenState *s);
bool lumen_inject_mbox_hung(LumenState *s);
bool lumen_inject_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_inject_write(LumenState *s, hwaddr addr, uint32_t val);

/* lumen-link.c */
bool lumen_link_init(LumenState *s, Error **errp);
void lumen_link_exit(LumenState *s);
void lumen_link_reset(LumenState *s);
bool lumen_link_post_load(LumenState *s);
bool lumen_link_read(LumenState *s, hwaddr addr, uint32_t *val);
bool lumen_link_write(LumenState *s, hwaddr addr, uint32_t val);
bool lumen_link_port_up(LumenState *s, unsigned int port);
bool lumen_link_set_ctrl(LumenState *s, unsigned int port, uint32_t ctrl);
bool lumen_link_enqueue(LumenState *s, unsigned int port, LumenPkt *p);
void lumen_link_free_credit(LumenState *s, LumenPkt *p);
void lumen_link_credit_free(LumenState *s, LumenCredit *c);
uint32_t lumen_link_port_state(LumenState *s, unsigned int port,
                               uint32_t *ctrl, uint32_t *peer_chip,
                               uint32_t *peer_port);
void lumen_link_port_counters(LumenState *s, unsigned int port,
                              uint32_t *words, unsigned int n);

#endif /* HW_MISC_LUMEN_NPU_H */
