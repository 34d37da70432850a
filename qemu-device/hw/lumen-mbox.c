/*
 * Lumen N1 accelerator: firmware mailbox (docs/hw-spec.md section 7).
 *
 * Requests are read from the host request ring and answered, in order, one
 * response per request, into the host response ring. A write of
 * MBOX_REQ_TAIL is the doorbell: it only schedules a bottom half, which
 * serves the ring. Per-message problems are answered with an error status;
 * ring-level protocol violations by the driver are reported in ERR_STATUS;
 * a failed ring DMA halts the device.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "lumen-npu.h"
#include "trace.h"

static uint32_t lumen_mbox_entries(LumenMbox *m)
{
    return 1u << m->ring_order;
}

static bool lumen_mbox_is_open(LumenState *s)
{
    return s->boot.state == LUMEN_BOOT_RUNNING;
}

bool lumen_mbox_config_ok(LumenState *s)
{
    return s->mbox.ring_order >= LUMEN_MBOX_RING_ORDER_MIN &&
           s->mbox.ring_order <= LUMEN_MBOX_RING_ORDER_MAX;
}

/* Called by the boot code once the firmware runs: all indices start at 0. */
void lumen_mbox_open(LumenState *s)
{
    LumenMbox *m = &s->mbox;

    m->req_tail = 0;
    m->req_head = 0;
    m->resp_tail = 0;
    m->resp_head = 0;
}

/* ---- Message handlers -------------------------------------------------- */

static uint16_t lumen_mbox_get_version(LumenState *s, uint8_t *payload)
{
    struct lumen_mbox_version v = {
        .fw_version = cpu_to_le32(s->boot.fw_version),
        .abi_major = cpu_to_le16(s->boot.abi_version >> 16),
        .abi_minor = cpu_to_le16(s->boot.abi_version & 0xffff),
        .mbox_version = cpu_to_le16(LUMEN_MBOX_VERSION),
        .hw_version = cpu_to_le32(LUMEN_HW_VERSION),
    };

    QEMU_BUILD_BUG_ON(sizeof(v) > LUMEN_MBOX_PAYLOAD_MAX);
    QEMU_BUILD_BUG_ON(sizeof(v.build_id) != sizeof(s->boot.build_id));
    memcpy(v.build_id, s->boot.build_id, sizeof(v.build_id));
    memcpy(payload, &v, sizeof(v));
    return sizeof(v);
}

static uint16_t lumen_mbox_get_identity(LumenState *s, uint8_t *payload)
{
    struct lumen_mbox_identity id = {
        .chip_id = cpu_to_le32(s->chip_id),
        .board_rev = cpu_to_le32(LUMEN_NPU_BOARD_REV),
        .mem_size = cpu_to_le64(s->mem_size),
        .num_queues = cpu_to_le32(s->num_queues),
        .num_link_ports = cpu_to_le32(s->num_link_ports),
        .caps = cpu_to_le32(s->caps),
    };

    QEMU_BUILD_BUG_ON(sizeof(id) > LUMEN_MBOX_PAYLOAD_MAX);
    /* serial_str is NUL-padded to its full size at realize. */
    QEMU_BUILD_BUG_ON(sizeof(id.serial) != sizeof(s->serial_str));
    memcpy(id.serial, s->serial_str, sizeof(id.serial));
    memcpy(payload, &id, sizeof(id));
    return sizeof(id);
}

static uint16_t lumen_mbox_get_telemetry(LumenState *s, uint8_t *payload)
{
    struct lumen_mbox_telemetry t;

    QEMU_BUILD_BUG_ON(sizeof(t) > LUMEN_MBOX_PAYLOAD_MAX);
    lumen_telemetry_fill(s, &t);
    memcpy(payload, &t, sizeof(t));
    return sizeof(t);
}

/*
 * Validate @req in the order the spec gives and run it. Fills the response
 * payload and returns the status; an error response carries no payload.
 */
static enum lumen_status lumen_mbox_dispatch(LumenState *s,
                                             const struct lumen_mbox_msg *req,
                                             uint8_t *payload,
                                             uint16_t *out_len)
{
    uint16_t version = le16_to_cpu(req->hdr.version);
    uint16_t type = le16_to_cpu(req->hdr.type);
    uint16_t len = le16_to_cpu(req->hdr.payload_len);
    int expected;

    *out_len = 0;
    if (version != LUMEN_MBOX_VERSION) {
        return LUMEN_STATUS_BAD_VERSION;
    }
    expected = (type & LUMEN_MBOX_RESPONSE) ? -2 :
               lumen_mbox_expected_len(type);
    if (expected == -2) {
        return LUMEN_STATUS_UNKNOWN_MSG;
    }
    if (len > LUMEN_MBOX_PAYLOAD_MAX || (expected >= 0 && len != expected)) {
        return LUMEN_STATUS_BAD_LENGTH;
    }
    if (req->hdr.flags != 0 || req->hdr.status != 0) {
        return LUMEN_STATUS_RESERVED_SET;
    }

    switch (type) {
    case LUMEN_MBOX_PING:
        memcpy(payload, req->payload, len);
        *out_len = len;
        break;
    case LUMEN_MBOX_GET_VERSION:
        *out_len = lumen_mbox_get_version(s, payload);
        break;
    case LUMEN_MBOX_GET_IDENTITY:
        *out_len = lumen_mbox_get_identity(s, payload);
        break;
    case LUMEN_MBOX_GET_TELEMETRY:
        *out_len = lumen_mbox_get_telemetry(s, payload);
        break;
    default:
        /* lumen_mbox_expected_len() knows a type this switch does not. */
        qemu_log_mask(LOG_UNIMP, "lumen-npu: chip %u: mailbox message 0x%04x"
                      " not implemented\n", s->chip_id, type);
        return LUMEN_STATUS_UNKNOWN_MSG;
    }
    return LUMEN_STATUS_OK;
}

static void lumen_mbox_answer(LumenState *s, const struct lumen_mbox_msg *req,
                              struct lumen_mbox_msg *resp)
{
    uint16_t type = le16_to_cpu(req->hdr.type);
    enum lumen_status st;
    uint16_t len;

    memset(resp, 0, sizeof(*resp));
    st = lumen_mbox_dispatch(s, req, resp->payload, &len);
    resp->hdr.version = req->hdr.version;
    resp->hdr.type = cpu_to_le16(type | LUMEN_MBOX_RESPONSE);
    resp->hdr.seq = req->hdr.seq;
    resp->hdr.status = cpu_to_le32(st);
    resp->hdr.payload_len = cpu_to_le16(len);

    trace_lumen_mbox_msg(s->chip_id, le32_to_cpu(req->hdr.seq), type, st, len);
    if (st != LUMEN_STATUS_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: mailbox request "
                      "seq %u type 0x%04x version %u: %s\n", s->chip_id,
                      le32_to_cpu(req->hdr.seq), type,
                      le16_to_cpu(req->hdr.version), lumen_status_name(st));
    }
}

/* ---- Ring service ------------------------------------------------------ */

static void lumen_mbox_dma_failed(LumenState *s, const char *what,
                                  uint64_t addr)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: mailbox %s at 0x%"
                  PRIx64 " failed; mailbox halted\n", s->chip_id, what, addr);
    s->dev_status |= LUMEN_DEVSTS_HALTED;
    lumen_report_error(s, LUMEN_ERR_DMA, LUMEN_STATUS_DMA_ERROR, addr);
}

static void lumen_mbox_bh(void *opaque)
{
    LumenState *s = opaque;
    LumenMbox *m = &s->mbox;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t entries, budget;
    struct lumen_mbox_msg req, resp;
    bool answered = false;
    uint32_t gen = s->reset_gen;
    uint64_t addr;

    /* Not served: closed, halted, or hung by injection (silently). */
    if (!lumen_mbox_is_open(s) || (s->dev_status & LUMEN_DEVSTS_HALTED) ||
        lumen_inject_mbox_hung(s)) {
        return;
    }
    entries = lumen_mbox_entries(m);
    /* Serve at most one ring's worth per run so other work gets a turn. */
    for (budget = entries; budget && m->req_head != m->req_tail; budget--) {
        if (m->resp_tail - m->resp_head >= entries) {
            /* Response ring full: wait for MBOX_RESP_HEAD to move. */
            break;
        }
        addr = m->req_base +
               (uint64_t)(m->req_head & (entries - 1)) * LUMEN_MBOX_MSG_SIZE;
        if (pci_dma_read(pdev, addr, &req, sizeof(req)) != MEMTX_OK) {
            lumen_mbox_dma_failed(s, "request read", addr);
            break;
        }
        lumen_mbox_answer(s, &req, &resp);
        addr = m->resp_base +
               (uint64_t)(m->resp_tail & (entries - 1)) * LUMEN_MBOX_MSG_SIZE;
        if (pci_dma_write(pdev, addr, &resp, sizeof(resp)) != MEMTX_OK) {
            lumen_mbox_dma_failed(s, "response write", addr);
            break;
        }
        if (s->reset_gen != gen) {
            /* The response write reset the function (e.g. FLR). */
            qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: device reset "
                          "by a mailbox DMA\n", s->chip_id);
            return;
        }
        /* The slot is written (synchronously) before the index moves. */
        m->req_head++;
        m->resp_tail++;
        m->handled++;
        answered = true;
    }
    if (answered) {
        lumen_irq_raise(s, LUMEN_INT_MBOX);
    }
    if (!budget && m->req_head != m->req_tail &&
        m->resp_tail - m->resp_head < entries) {
        qemu_bh_schedule(m->bh);
    }
}

static void lumen_mbox_protocol_error(LumenState *s, enum lumen_status code,
                                      uint32_t val, const char *why)
{
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: mailbox protocol "
                  "error: %s (value %u)\n", s->chip_id, why, val);
    lumen_report_error(s, LUMEN_ERR_MBOX_PROTOCOL, code, val);
}

static void lumen_mbox_req_tail_write(LumenState *s, uint32_t val)
{
    LumenMbox *m = &s->mbox;

    if (!lumen_mbox_is_open(s)) {
        lumen_mbox_protocol_error(s, LUMEN_STATUS_BAD_STATE, val,
                                  "MBOX_REQ_TAIL written while closed");
        return;
    }
    if (val - m->req_head > lumen_mbox_entries(m)) {
        lumen_mbox_protocol_error(s, LUMEN_STATUS_BAD_ARGUMENT, val,
                                  "MBOX_REQ_TAIL overruns the request ring");
        return;
    }
    trace_lumen_mbox_doorbell(s->chip_id, val, m->req_head);
    m->req_tail = val;
    qemu_bh_schedule(m->bh);
}

static void lumen_mbox_resp_head_write(LumenState *s, uint32_t val)
{
    LumenMbox *m = &s->mbox;

    if (val - m->resp_head > m->resp_tail - m->resp_head) {
        lumen_mbox_protocol_error(s, LUMEN_STATUS_BAD_ARGUMENT, val,
                                  "MBOX_RESP_HEAD outside [RESP_HEAD, "
                                  "RESP_TAIL]");
        return;
    }
    m->resp_head = val;
    if (m->req_head != m->req_tail) {
        /* Responses were held back by a full ring. */
        qemu_bh_schedule(m->bh);
    }
}

bool lumen_mbox_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenMbox *m = &s->mbox;

    switch (addr) {
    case LUMEN_REG_MBOX_REQ_BASE_LO:
        *val = (uint32_t)m->req_base;
        return true;
    case LUMEN_REG_MBOX_REQ_BASE_HI:
        *val = m->req_base >> 32;
        return true;
    case LUMEN_REG_MBOX_RESP_BASE_LO:
        *val = (uint32_t)m->resp_base;
        return true;
    case LUMEN_REG_MBOX_RESP_BASE_HI:
        *val = m->resp_base >> 32;
        return true;
    case LUMEN_REG_MBOX_RING_ORDER:
        *val = m->ring_order;
        return true;
    case LUMEN_REG_MBOX_REQ_TAIL:
        *val = m->req_tail;
        return true;
    case LUMEN_REG_MBOX_REQ_HEAD:
        *val = m->req_head;
        return true;
    case LUMEN_REG_MBOX_RESP_TAIL:
        *val = m->resp_tail;
        return true;
    case LUMEN_REG_MBOX_RESP_HEAD:
        *val = m->resp_head;
        return true;
    default:
        return false;
    }
}

bool lumen_mbox_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenMbox *m = &s->mbox;

    switch (addr) {
    case LUMEN_REG_MBOX_REQ_BASE_LO:
    case LUMEN_REG_MBOX_REQ_BASE_HI:
    case LUMEN_REG_MBOX_RESP_BASE_LO:
    case LUMEN_REG_MBOX_RESP_BASE_HI:
    case LUMEN_REG_MBOX_RING_ORDER:
        if (s->boot.state != LUMEN_BOOT_OFF) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_STATE,
                            "mailbox configuration written while not OFF");
            return true;
        }
        break;
    case LUMEN_REG_MBOX_REQ_TAIL:
        lumen_mbox_req_tail_write(s, val);
        return true;
    case LUMEN_REG_MBOX_RESP_HEAD:
        lumen_mbox_resp_head_write(s, val);
        return true;
    case LUMEN_REG_MBOX_REQ_HEAD:
    case LUMEN_REG_MBOX_RESP_TAIL:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }

    switch (addr) {
    case LUMEN_REG_MBOX_REQ_BASE_LO:
        m->req_base_lo = val;
        break;
    case LUMEN_REG_MBOX_REQ_BASE_HI:
        m->req_base = (uint64_t)val << 32 | m->req_base_lo;
        break;
    case LUMEN_REG_MBOX_RESP_BASE_LO:
        m->resp_base_lo = val;
        break;
    case LUMEN_REG_MBOX_RESP_BASE_HI:
        m->resp_base = (uint64_t)val << 32 | m->resp_base_lo;
        break;
    case LUMEN_REG_MBOX_RING_ORDER:
        if (val < LUMEN_MBOX_RING_ORDER_MIN ||
            val > LUMEN_MBOX_RING_ORDER_MAX) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "MBOX_RING_ORDER outside [1, 8]");
            break;
        }
        m->ring_order = val;
        break;
    }
    return true;
}

void lumen_mbox_reset(LumenState *s)
{
    LumenMbox *m = &s->mbox;

    qemu_bh_cancel(m->bh);
    m->req_base_lo = 0;
    m->req_base = 0;
    m->resp_base_lo = 0;
    m->resp_base = 0;
    m->ring_order = 0;
    m->req_tail = 0;
    m->req_head = 0;
    m->resp_tail = 0;
    m->resp_head = 0;
    m->handled = 0;
}

void lumen_mbox_post_load(LumenState *s)
{
    if (s->mbox.req_head != s->mbox.req_tail) {
        qemu_bh_schedule(s->mbox.bh);
    }
}

void lumen_mbox_init(LumenState *s)
{
    s->mbox.bh = qemu_bh_new_guarded(lumen_mbox_bh, s,
                                     &DEVICE(s)->mem_reentrancy_guard);
}

void lumen_mbox_exit(LumenState *s)
{
    qemu_bh_delete(s->mbox.bh);
    s->mbox.bh = NULL;
}
