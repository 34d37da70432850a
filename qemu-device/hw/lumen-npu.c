/*
 * Lumen N1 accelerator (lumen-npu): QOM type, properties, BARs, reset and
 * migration. The register behaviour lives in the other lumen-*.c files;
 * see lumen-npu.h for the map and docs/hw-spec.md for the contract.
 *
 *   -device lumen-npu[,mem-size=256M][,queues=16][,link-ports=6]
 *                    [,chip-id=N][,serial=STR][,fault-inject=on|off]
 *                    [,reduce=on|off][,user-queues=on|off]
 *                    [,port0=CHARDEV ... ,port7=CHARDEV]
 *
 * Test-only: x-remote-streams=N (1..4096), the target's table of
 * exactly-once stream state (lumen-remote.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/module.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "lumen-npu.h"
#include "trace.h"

#define LUMEN_PCIE_CAP_OFFSET   0x80

static bool lumen_check_properties(LumenState *s, Error **errp)
{
    const char *p;

    if (!is_power_of_2(s->mem_size) || s->mem_size < LUMEN_MEM_SIZE_MIN ||
        s->mem_size > LUMEN_MEM_SIZE_MAX) {
        g_autofree char *sz = size_to_str(s->mem_size);

        error_setg(errp, "lumen-npu: mem-size %s (%" PRIu64 " bytes) must be "
                   "a power of two from 16 MiB to 16 GiB", sz, s->mem_size);
        return false;
    }
    if (s->num_queues < LUMEN_QUEUES_MIN || s->num_queues > LUMEN_QUEUES_MAX) {
        error_setg(errp, "lumen-npu: queues %u is outside [%u, %u]",
                   s->num_queues, LUMEN_QUEUES_MIN, LUMEN_QUEUES_MAX);
        return false;
    }
    if (s->chip_id > LUMEN_CHIP_ID_MAX) {
        error_setg(errp, "lumen-npu: chip-id %u is outside [0, %u]",
                   s->chip_id, LUMEN_CHIP_ID_MAX);
        return false;
    }
    if (s->num_link_ports > LUMEN_LINK_PORTS_MAX) {
        error_setg(errp, "lumen-npu: link-ports %u is outside [0, %u]",
                   s->num_link_ports, LUMEN_LINK_PORTS_MAX);
        return false;
    }
    if (!s->remote_streams || s->remote_streams > LUMEN_REMOTE_STREAMS_MAX) {
        error_setg(errp, "lumen-npu: x-remote-streams %u is outside [1, %u]",
                   s->remote_streams, LUMEN_REMOTE_STREAMS_MAX);
        return false;
    }

    memset(s->serial_str, 0, sizeof(s->serial_str));
    if (!s->serial) {
        snprintf(s->serial_str, sizeof(s->serial_str), "LN1-%08X", s->chip_id);
        return true;
    }
    if (!*s->serial || strlen(s->serial) > LUMEN_NPU_SERIAL_MAX) {
        error_setg(errp, "lumen-npu: serial must have 1 to %d characters",
                   LUMEN_NPU_SERIAL_MAX);
        return false;
    }
    for (p = s->serial; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            error_setg(errp, "lumen-npu: serial must be printable ASCII");
            return false;
        }
    }
    pstrcpy(s->serial_str, sizeof(s->serial_str), s->serial);
    return true;
}

/* Device-internal state to its reset values (not PCI config or MSI-X). */
static void lumen_reset_state(LumenState *s, bool power_on)
{
    s->reset_gen++;
    lumen_boot_reset(s);
    lumen_mbox_reset(s);
    lumen_engine_reset(s);
    lumen_queue_reset(s);
    lumen_mmu_reset(s);
    lumen_irq_reset(s);
    lumen_inject_reset(s);
    lumen_telemetry_reset(s, power_on);
    lumen_link_reset(s);
    lumen_route_reset(s);
    lumen_mgmt_reset(s);
    lumen_remote_reset(s);
    s->scratch = 0;
    /* RESET_DONE reports a completed soft reset until the next BOOT. */
    s->dev_status = power_on ? 0 : LUMEN_DEVSTS_RESET_DONE;
}

/*
 * SOFT_RESET: everything but PCI config space, BARs, the MSI-X table and
 * PBA, device memory and the die temperature. The emulation completes it
 * inside the MMIO write; pending bottom halves are cancelled, so no DMA
 * happens afterwards.
 */
void lumen_soft_reset(LumenState *s)
{
    trace_lumen_soft_reset(s->chip_id);
    lumen_reset_state(s, false);
}

/* Power-on, bus reset and FLR (the PCI core resets config and MSI-X). */
static void lumen_reset_hold(Object *obj, ResetType type)
{
    lumen_reset_state(LUMEN_NPU(obj), true);
}

static void lumen_config_write(PCIDevice *pdev, uint32_t addr, uint32_t val,
                               int len)
{
    pci_default_write_config(pdev, addr, val, len);
    /* DevCtl "Initiate FLR": resets the function (lumen_reset_hold). */
    pcie_cap_flr_write_config(pdev, addr, val, len);
}

static void lumen_realize(PCIDevice *pdev, Error **errp)
{
    LumenState *s = LUMEN_NPU(pdev);
    unsigned int v;

    if (!lumen_check_properties(s, errp)) {
        return;
    }
    s->num_vectors = LUMEN_NUM_VECTORS(s->num_queues);
    s->caps = LUMEN_CAP_MAILBOX | LUMEN_CAP_TELEMETRY |
              LUMEN_CAP_DMA_QUEUES | LUMEN_CAP_MMU | LUMEN_CAP_LINK_PORTS |
              LUMEN_CAP_LINKS;
    if (s->fault_inject) {
        s->caps |= LUMEN_CAP_FAULT_INJECT;
    }
    if (s->reduce) {
        s->caps |= LUMEN_CAP_REDUCE;
    }
    if (s->user_queues) {
        s->caps |= LUMEN_CAP_USER_QUEUES;
    }

    pci_config_set_prog_interface(pdev->config, LUMEN_PCI_CLASS & 0xff);
    pdev->config[PCI_INTERRUPT_PIN] = 0;        /* MSI-X only */

    if (pcie_endpoint_cap_init(pdev, LUMEN_PCIE_CAP_OFFSET) < 0) {
        error_setg(errp, "lumen-npu: cannot add the PCIe capability");
        return;
    }
    pcie_cap_deverr_init(pdev);
    pcie_cap_flr_init(pdev);

    /* BAR2: device memory, migrated as RAM under the device's qdev path. */
    if (!memory_region_init_ram(&s->mem, OBJECT(s), "lumen-npu.mem",
                                s->mem_size, errp)) {
        return;
    }
    pci_register_bar(pdev, LUMEN_BAR_MEM, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->mem);

    /* BAR4: doorbells. */
    memory_region_init_io(&s->db_bar, OBJECT(s), &lumen_doorbell_ops, s,
                          "lumen-npu.doorbell",
                          lumen_doorbell_bar_size(s->num_queues));
    pci_register_bar(pdev, LUMEN_BAR_DOORBELL, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->db_bar);

    /*
     * BAR0: registers underneath the MSI-X table and PBA, so accesses to
     * the reserved rest of the BAR reach the register decoder.
     */
    memory_region_init(&s->bar0, OBJECT(s), "lumen-npu.bar0",
                       LUMEN_REGS_BAR_SIZE);
    memory_region_init_io(&s->regs, OBJECT(s), &lumen_regs_ops, s,
                          "lumen-npu.regs", LUMEN_REGS_BAR_SIZE);
    memory_region_add_subregion_overlap(&s->bar0, 0, &s->regs, -1);
    pci_register_bar(pdev, LUMEN_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->bar0);
    if (msix_init(pdev, s->num_vectors, &s->bar0, LUMEN_BAR_REGS,
                  LUMEN_MSIX_TABLE_OFFSET, &s->bar0, LUMEN_BAR_REGS,
                  LUMEN_MSIX_PBA_OFFSET, 0, errp) < 0) {
        return;
    }
    for (v = 0; v < s->num_vectors; v++) {
        msix_vector_use(pdev, v);
    }

    lumen_boot_init(s);
    lumen_mbox_init(s);
    lumen_engine_init(s);
    lumen_remote_init(s);
    lumen_route_init(s);
    lumen_mgmt_init(s);
    if (!lumen_link_init(s, errp)) {
        lumen_mgmt_exit(s);
        lumen_route_exit(s);
        lumen_remote_exit(s);
        lumen_engine_exit(s);
        lumen_mbox_exit(s);
        lumen_boot_exit(s);
        msix_uninit(pdev, &s->bar0, &s->bar0);
        return;
    }
    lumen_reset_state(s, true);
    trace_lumen_realize(s->chip_id, s->mem_size, s->num_queues,
                        s->num_link_ports);
}

static void lumen_exit(PCIDevice *pdev)
{
    LumenState *s = LUMEN_NPU(pdev);

    lumen_link_exit(s);
    lumen_mgmt_exit(s);
    lumen_route_exit(s);
    lumen_remote_exit(s);
    lumen_engine_exit(s);
    lumen_mbox_exit(s);
    lumen_boot_exit(s);
    msix_uninit(pdev, &s->bar0, &s->bar0);
}

/* ---- Migration --------------------------------------------------------- */

static int lumen_post_load(void *opaque, int version_id)
{
    LumenState *s = opaque;
    LumenMbox *m = &s->mbox;

    if (s->boot.state > LUMEN_BOOT_FAILED ||
        (s->inject_fired & ~LUMEN_INJECT_DEVICE_MASK)) {
        return -EINVAL;
    }
    if (s->boot.state == LUMEN_BOOT_RUNNING) {
        uint32_t entries;

        if (!lumen_mbox_config_ok(s)) {
            return -EINVAL;
        }
        entries = 1u << m->ring_order;
        if (m->req_tail - m->req_head > entries ||
            m->resp_tail - m->resp_head > entries) {
            return -EINVAL;
        }
    }
    if (s->mmu.select >= LUMEN_CONTEXTS_MAX || !lumen_queue_post_load(s) ||
        !lumen_engine_post_load(s) || !lumen_link_post_load(s) ||
        !lumen_route_post_load(s) || !lumen_mgmt_post_load(s)) {
        return -EINVAL;
    }
    lumen_boot_post_load(s);
    lumen_mbox_post_load(s);
    lumen_mmu_post_load(s);
    return 0;
}

static const VMStateDescription vmstate_lumen_boot = {
    .name = "lumen-npu/boot",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(fw_addr_lo, LumenBoot),
        VMSTATE_UINT64(fw_addr, LumenBoot),
        VMSTATE_UINT32(fw_size, LumenBoot),
        VMSTATE_UINT32(state, LumenBoot),
        VMSTATE_UINT32(error, LumenBoot),
        VMSTATE_UINT32(fw_version, LumenBoot),
        VMSTATE_UINT32(abi_version, LumenBoot),
        VMSTATE_UINT8_ARRAY(build_id, LumenBoot, LUMEN_FW_BUILD_ID_LEN),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_mbox = {
    .name = "lumen-npu/mbox",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(req_base_lo, LumenMbox),
        VMSTATE_UINT64(req_base, LumenMbox),
        VMSTATE_UINT32(resp_base_lo, LumenMbox),
        VMSTATE_UINT64(resp_base, LumenMbox),
        VMSTATE_UINT32(ring_order, LumenMbox),
        VMSTATE_UINT32(req_tail, LumenMbox),
        VMSTATE_UINT32(req_head, LumenMbox),
        VMSTATE_UINT32(resp_tail, LumenMbox),
        VMSTATE_UINT32(resp_head, LumenMbox),
        VMSTATE_UINT64(handled, LumenMbox),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_telemetry = {
    .name = "lumen-npu/telemetry",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(reset_ns, LumenTelemetry),
        VMSTATE_INT64(last_ns, LumenTelemetry),
        VMSTATE_UINT64(busy_ns, LumenTelemetry),
        VMSTATE_UINT64(busy_at_last, LumenTelemetry),
        VMSTATE_INT32(temp_mc, LumenTelemetry),
        VMSTATE_UINT32(power_mw, LumenTelemetry),
        VMSTATE_UINT32(power_cap_mw, LumenTelemetry),
        VMSTATE_BOOL(over_temp, LumenTelemetry),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_mmu_ctx = {
    .name = "lumen-npu/mmu-ctx",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(root, LumenMmuCtx),
        VMSTATE_UINT32(ctrl, LumenMmuCtx),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_mmu = {
    .name = "lumen-npu/mmu",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(select, LumenMmu),
        VMSTATE_UINT32(root_lo, LumenMmu),
        VMSTATE_UINT32(fault_status, LumenMmu),
        VMSTATE_UINT32(fault_ctx, LumenMmu),
        VMSTATE_UINT64(fault_addr, LumenMmu),
        VMSTATE_UINT32(fault_info, LumenMmu),
        VMSTATE_UINT32(fault_queue, LumenMmu),
        VMSTATE_UINT32(fault_tag, LumenMmu),
        VMSTATE_STRUCT_ARRAY(ctx, LumenMmu, LUMEN_CONTEXTS_MAX, 1,
                             vmstate_lumen_mmu_ctx, LumenMmuCtx),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_queue = {
    .name = "lumen-npu/queue",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(base_lo, LumenQueue),
        VMSTATE_UINT64(base, LumenQueue),
        VMSTATE_UINT32(order, LumenQueue),
        VMSTATE_UINT32(ctrl, LumenQueue),
        VMSTATE_UINT32(head, LumenQueue),
        VMSTATE_UINT32(tail, LumenQueue),
        VMSTATE_UINT32(status, LumenQueue),
        VMSTATE_UINT32(error, LumenQueue),
        VMSTATE_UINT32(error_index, LumenQueue),
        VMSTATE_UINT32(completed, LumenQueue),
        VMSTATE_UINT32(inject, LumenQueue),
        VMSTATE_BOOL(hung, LumenQueue),
        VMSTATE_BOOL(waiting, LumenQueue),
        VMSTATE_BOOL(has_cur, LumenQueue),
        VMSTATE_UINT64(progress, LumenQueue),
        VMSTATE_BUFFER_UNSAFE(cur, LumenQueue, 1, sizeof(struct lumen_cmd)),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * Subsections, sent only when their state is not the reset state, so that
 * the stream stays loadable by a model without them in the common case:
 * fired device injections, fired queue wedges, and the queues' PROGRESS
 * counters. (An armed WEDGE_QUEUE travels in LumenQueue.inject; a model
 * that does not know the kind refuses it in its post_load.)
 */
static bool lumen_inject_needed(void *opaque)
{
    LumenState *s = opaque;

    return s->inject_fired != 0;
}

static const VMStateDescription vmstate_lumen_inject = {
    .name = "lumen-npu/inject",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_inject_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(inject_fired, LumenState),
        VMSTATE_END_OF_LIST()
    },
};

static bool lumen_wedge_needed(void *opaque)
{
    LumenState *s = opaque;

    return s->inject_wedged != 0;
}

/*
 * Not "lumen-npu/inject-...": the loader would take a name with the prefix
 * "lumen-npu/inject" for a subsection of vmstate_lumen_inject and fail.
 */
static const VMStateDescription vmstate_lumen_wedge = {
    .name = "lumen-npu/wedge",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_wedge_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(inject_wedged, LumenState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_queue_progress = {
    .name = "lumen-npu/queue-progress",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(written, LumenQueue),
        VMSTATE_END_OF_LIST()
    },
};

static bool lumen_progress_needed(void *opaque)
{
    LumenState *s = opaque;
    unsigned int q;

    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        if (s->queues[q].written) {
            return true;
        }
    }
    return false;
}

static const VMStateDescription vmstate_lumen_progress = {
    .name = "lumen-npu/progress",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_progress_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(queues, LumenState, LUMEN_QUEUES_MAX, 1,
                             vmstate_lumen_queue_progress, LumenQueue),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_lumen_queue_user = {
    .name = "lumen-npu/queue-user",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(cpl_lo, LumenQueue),
        VMSTATE_UINT64(cpl, LumenQueue),
        VMSTATE_UINT32(completed_hi, LumenQueue),
        VMSTATE_UINT32(irq_at, LumenQueue),
        VMSTATE_BOOL(irq_armed, LumenQueue),
        VMSTATE_UINT64(cpl_done, LumenQueue),
        VMSTATE_UINT32(cpl_status, LumenQueue),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * User-mode queue state, sent whenever the device has CAPS.USER_QUEUES: a
 * guest driver that saw the bit puts PRIV in its page tables, which a
 * destination without the feature would take for a reserved bit.
 */
static bool lumen_queue_user_needed(void *opaque)
{
    LumenState *s = opaque;
    unsigned int q;

    if (s->user_queues) {
        return true;
    }
    for (q = 0; q < LUMEN_QUEUES_MAX; q++) {
        LumenQueue *lq = &s->queues[q];

        if (lq->cpl || lq->cpl_lo || lq->completed_hi || lq->irq_at ||
            lq->irq_armed || lq->cpl_done || lq->cpl_status) {
            return true;
        }
    }
    return false;
}

static int lumen_queue_user_post_load(void *opaque, int version_id)
{
    LumenState *s = opaque;

    return s->user_queues ? 0 : -EINVAL;
}

static const VMStateDescription vmstate_lumen_user = {
    .name = "lumen-npu/user",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_queue_user_needed,
    .post_load = lumen_queue_user_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(queues, LumenState, LUMEN_QUEUES_MAX, 1,
                             vmstate_lumen_queue_user, LumenQueue),
        VMSTATE_END_OF_LIST()
    },
};

/* Link port CTRL registers (the only link state that migrates). */
static const VMStateDescription vmstate_lumen_link_port = {
    .name = "lumen-npu/link-port",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(ctrl, LumenLinkPort),
        VMSTATE_END_OF_LIST()
    },
};

static bool lumen_link_needed(void *opaque)
{
    LumenState *s = opaque;
    unsigned int p;

    for (p = 0; p < LUMEN_LINK_PORTS_MAX; p++) {
        if (s->link.ports[p].ctrl) {
            return true;
        }
    }
    return false;
}

static const VMStateDescription vmstate_lumen_link = {
    .name = "lumen-npu/link",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_link_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(link.ports, LumenState, LUMEN_LINK_PORTS_MAX, 1,
                             vmstate_lumen_link_port, LumenLinkPort),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * The link engine's registers that a driver programs or reads back: route
 * table, TTL_DEFAULT, management key, trap path, the management buffers and
 * receive queue, and the chip counters. Only a card without port chardevs
 * migrates (its ports are DOWN), so no packet or link-layer state travels.
 */
static const VMStateDescription vmstate_lumen_mgmt_rx = {
    .name = "lumen-npu/mgmt-rx",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(len, LumenMgmtRx),
        VMSTATE_UINT8_ARRAY(data, LumenMgmtRx, LUMEN_MGMT_PKT_MAX),
        VMSTATE_END_OF_LIST()
    },
};

static bool lumen_engine_regs_needed(void *opaque)
{
    LumenState *s = opaque;
    LumenRoute *r = &s->route;
    LumenMgmt *g = &s->mgmt;

    return r->index || r->ttl_default != LUMEN_LINK_TTL_DEFAULT ||
           r->fwd_pkts || r->no_route_drops || r->ttl_drops ||
           r->lane_errors || r->reroute_drops || r->bad_pkts ||
           !buffer_is_zero(r->table, sizeof(r->table)) || g->mkey ||
           g->mkey_violations || g->trap_hops || g->trap_seq ||
           g->tx_status || g->rx_count || g->rx_drops ||
           !buffer_is_zero(g->tx_buf, sizeof(g->tx_buf));
}

static const VMStateDescription vmstate_lumen_engine_regs = {
    .name = "lumen-npu/link-engine",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_engine_regs_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_ARRAY(route.table, LumenState, LUMEN_ROUTE_TABLE_SIZE),
        VMSTATE_UINT32(route.index, LumenState),
        VMSTATE_UINT32(route.ttl_default, LumenState),
        VMSTATE_UINT64(route.fwd_pkts, LumenState),
        VMSTATE_UINT32(route.no_route_drops, LumenState),
        VMSTATE_UINT32(route.ttl_drops, LumenState),
        VMSTATE_UINT32(route.lane_errors, LumenState),
        VMSTATE_UINT32(route.reroute_drops, LumenState),
        VMSTATE_UINT32(route.bad_pkts, LumenState),
        VMSTATE_UINT64(mgmt.mkey, LumenState),
        VMSTATE_UINT32(mgmt.mkey_violations, LumenState),
        VMSTATE_UINT8(mgmt.trap_hops, LumenState),
        VMSTATE_UINT8_ARRAY(mgmt.trap_path, LumenState, LUMEN_MGMT_MAX_HOPS),
        VMSTATE_UINT32(mgmt.trap_seq, LumenState),
        VMSTATE_UINT32(mgmt.tx_status, LumenState),
        VMSTATE_UINT8_ARRAY(mgmt.tx_buf, LumenState, LUMEN_MGMT_BUF_SIZE),
        VMSTATE_STRUCT_ARRAY(mgmt.rx, LumenState, LUMEN_MGMT_RX_DEPTH, 1,
                             vmstate_lumen_mgmt_rx, LumenMgmtRx),
        VMSTATE_UINT32(mgmt.rx_head, LumenState),
        VMSTATE_UINT32(mgmt.rx_count, LumenState),
        VMSTATE_UINT32(mgmt.rx_drops, LumenState),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * Version 2 added the device MMU and the queue engine; a version 1 stream
 * (no queue ever ran) loads with both in their reset state.
 */
static const VMStateDescription vmstate_lumen = {
    .name = TYPE_LUMEN_NPU,
    .version_id = 2,
    .minimum_version_id = 1,
    .post_load = lumen_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, LumenState),
        VMSTATE_MSIX(parent_obj, LumenState),
        VMSTATE_UINT32(dev_status, LumenState),
        VMSTATE_UINT32(scratch, LumenState),
        VMSTATE_UINT32(int_status, LumenState),
        VMSTATE_UINT32(int_mask, LumenState),
        VMSTATE_UINT32(err_status, LumenState),
        VMSTATE_UINT32(err_count, LumenState),
        VMSTATE_UINT32(err_last_code, LumenState),
        VMSTATE_UINT64(err_last_info, LumenState),
        VMSTATE_STRUCT(boot, LumenState, 1, vmstate_lumen_boot, LumenBoot),
        VMSTATE_STRUCT(mbox, LumenState, 1, vmstate_lumen_mbox, LumenMbox),
        VMSTATE_STRUCT(telem, LumenState, 1, vmstate_lumen_telemetry,
                       LumenTelemetry),
        VMSTATE_UINT32_ARRAY(db_last, LumenState, LUMEN_QUEUES_MAX),
        VMSTATE_STRUCT(mmu, LumenState, 2, vmstate_lumen_mmu, LumenMmu),
        VMSTATE_STRUCT_ARRAY(queues, LumenState, LUMEN_QUEUES_MAX, 2,
                             vmstate_lumen_queue, LumenQueue),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_lumen_inject,
        &vmstate_lumen_wedge,
        &vmstate_lumen_progress,
        &vmstate_lumen_user,
        &vmstate_lumen_link,
        &vmstate_lumen_engine_regs,
        &vmstate_lumen_remote,
        &vmstate_lumen_mgmt_manager,
        NULL
    },
};

/* ---- QOM --------------------------------------------------------------- */

static const Property lumen_properties[] = {
    DEFINE_PROP_SIZE("mem-size", LumenState, mem_size, LUMEN_MEM_SIZE_DEFAULT),
    DEFINE_PROP_UINT32("queues", LumenState, num_queues, LUMEN_QUEUES_DEFAULT),
    DEFINE_PROP_UINT32("link-ports", LumenState, num_link_ports,
                       LUMEN_LINK_PORTS_DEFAULT),
    DEFINE_PROP_UINT32("chip-id", LumenState, chip_id, 0),
    DEFINE_PROP_STRING("serial", LumenState, serial),
    DEFINE_PROP_BOOL("fault-inject", LumenState, fault_inject, true),
    DEFINE_PROP_BOOL("reduce", LumenState, reduce, true),
    DEFINE_PROP_BOOL("user-queues", LumenState, user_queues, true),
    DEFINE_PROP_UINT32("x-remote-streams", LumenState, remote_streams,
                       LUMEN_REMOTE_STREAMS_MAX),
    DEFINE_PROP_CHR("port0", LumenState, link.ports[0].chr),
    DEFINE_PROP_CHR("port1", LumenState, link.ports[1].chr),
    DEFINE_PROP_CHR("port2", LumenState, link.ports[2].chr),
    DEFINE_PROP_CHR("port3", LumenState, link.ports[3].chr),
    DEFINE_PROP_CHR("port4", LumenState, link.ports[4].chr),
    DEFINE_PROP_CHR("port5", LumenState, link.ports[5].chr),
    DEFINE_PROP_CHR("port6", LumenState, link.ports[6].chr),
    DEFINE_PROP_CHR("port7", LumenState, link.ports[7].chr),
};

static void lumen_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = lumen_realize;
    k->exit = lumen_exit;
    k->config_write = lumen_config_write;
    k->vendor_id = LUMEN_PCI_VENDOR_ID;
    k->device_id = LUMEN_PCI_DEVICE_ID;
    k->revision = LUMEN_PCI_REVISION;
    k->class_id = LUMEN_PCI_CLASS >> 8;
    k->subsystem_vendor_id = LUMEN_PCI_SUBSYS_VENDOR_ID;
    k->subsystem_id = LUMEN_PCI_SUBSYS_ID;

    dc->desc = "Lumen N1 AI inference accelerator";
    dc->vmsd = &vmstate_lumen;
    rc->phases.hold = lumen_reset_hold;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    device_class_set_props(dc, lumen_properties);
    object_class_property_set_description(klass, "mem-size",
        "device memory (BAR2), power of two from 16M to 16G");
    object_class_property_set_description(klass, "queues",
        "hardware DMA queues, 1..64");
    object_class_property_set_description(klass, "link-ports",
        "optical link ports, 0..8");
    object_class_property_set_description(klass, "chip-id",
        "position of the chip in the supernode");
    object_class_property_set_description(klass, "serial",
        "board serial, up to 31 printable ASCII characters "
        "(default LN1-<chip-id in hex>)");
    object_class_property_set_description(klass, "fault-inject",
        "test-only fault injection block (CAPS.FAULT_INJECT)");
    object_class_property_set_description(klass, "reduce",
        "REDUCE and RREDUCE descriptors, REDUCE packets as a target "
        "(CAPS.REDUCE)");
    object_class_property_set_description(klass, "user-queues",
        "user-mode queues: QCTRL.USER, completion records, IRQ_AT "
        "(CAPS.USER_QUEUES)");
    object_class_property_set_description(klass, "x-remote-streams",
        "test-only: (source chip, stream) pairs whose exactly-once state "
        "a remote target keeps, 1..4096");
    for (unsigned int p = 0; p < LUMEN_LINK_PORTS_MAX; p++) {
        g_autofree char *name = g_strdup_printf("port%u", p);

        object_class_property_set_description(klass, name,
            "chardev of an optical link port: a client socket to "
            "lumen-fabric's ports.sock (docs/hw-spec.md 13.1)");
    }
}

static const TypeInfo lumen_types[] = {
    {
        .name = TYPE_LUMEN_NPU,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(LumenState),
        .class_init = lumen_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(lumen_types)
