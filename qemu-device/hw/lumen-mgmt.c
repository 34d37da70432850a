/*
 * Lumen N1 accelerator: directed-route management packets and the chip's
 * management agent (docs/hw-spec.md 13.6).
 *
 * A management packet (op MGMT on VC 4, payload struct lumen_mgmt) is
 * consumed by every chip that holds it: the chip follows the packet's own
 * path (forward) or return_path (with F_RETURN), answers GET and SET when
 * it is the target, and hands answers and traps that reach their end to
 * its host through the receive queue (MGMT_RX_*, INT_MGMT). Because each
 * hop rewrites hop_ptr and return_path, each hop checks the end-to-end
 * CRC of what it received and computes a new one for what it sends.
 *
 * Everything that arrives on a link is checked field by field; a bad
 * packet is counted in BAD_PKTS and dropped, never trusted for an index.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "migration/vmstate.h"
#include "lumen-npu.h"
#include "trace.h"

#define PKT_HDR_SIZE    ((uint32_t)sizeof(struct lumen_pkt_hdr))
#define MGMT_HDR        LUMEN_MGMT_HDR_SIZE
#define CHIP_NONE       0xffffffffu
#define TRAPS_MAX       64          /* traps waiting for the BH */

static uint32_t lumen_mgmt_len(const struct lumen_mgmt *m)
{
    return MGMT_HDR + le32_to_cpu(m->data_len);
}

/*
 * Put @m into @p (resized to fit), with a fresh end-to-end CRC, and queue
 * it on @port's management VC. A port that is not UP (or not a port)
 * drops it (UNREACHABLE, NO_ROUTE_DROPS): the requester sees a timeout. A
 * packet that holds no receive buffer (the host's, a trap) is dropped
 * (BUSY, not counted here) when LUMEN_LINK_OWN_MAX such packets already
 * wait on the port's management VC.
 */
static uint32_t lumen_mgmt_send(LumenState *s, LumenPkt *p,
                                const struct lumen_mgmt *m, unsigned int port)
{
    uint32_t len = PKT_HDR_SIZE + lumen_mgmt_len(m);

    if (!lumen_link_port_up(s, port)) {
        s->route.no_route_drops++;
        trace_lumen_mgmt(s->chip_id, m->method, m->attr, m->hop_ptr,
                         "next port not UP: dropped");
        lumen_route_drop(s, p);
        return LUMEN_STATUS_UNREACHABLE;
    }
    if (len != p->len) {
        p = g_realloc(p, sizeof(*p) + LUMEN_PKT_HEADROOM + len);
        p->len = len;
    }
    memcpy(lumen_pkt_payload(p), m, lumen_mgmt_len(m));
    lumen_pkt_seal(p);
    p->vc = LUMEN_VC_MGMT;
    p->ttl = 0;                 /* directed route: no TTL (13.6) */
    p->detour = false;
    p->stalled = false;
    if (!lumen_link_enqueue(s, port, p)) {
        trace_lumen_mgmt(s->chip_id, m->method, m->attr, m->hop_ptr,
                         "next port full: dropped");
        lumen_route_drop(s, p);
        return LUMEN_STATUS_BUSY;
    }
    return LUMEN_STATUS_OK;
}

/* An answer or trap reached its end: the host's receive queue. */
static void lumen_mgmt_deliver(LumenState *s, const struct lumen_mgmt *m)
{
    LumenMgmt *g = &s->mgmt;
    LumenMgmtRx *rx;

    trace_lumen_mgmt(s->chip_id, m->method, m->attr, m->hop_ptr,
                     g->rx_count == LUMEN_MGMT_RX_DEPTH ?
                     "receive queue full: dropped" : "to the host");
    if (g->rx_count == LUMEN_MGMT_RX_DEPTH) {
        g->rx_drops++;
        return;
    }
    rx = &g->rx[(g->rx_head + g->rx_count) % LUMEN_MGMT_RX_DEPTH];
    rx->len = lumen_mgmt_len(m);
    memcpy(rx->data, m, rx->len);
    g->rx_count++;
    lumen_irq_raise(s, LUMEN_INT_MGMT);
}

/* ---- Attributes (the agent of the target chip) --------------------------- */

static void lumen_mgmt_get_info(LumenState *s, struct lumen_mgmt *m)
{
    struct lumen_mgmt_info info = {
        .chip_id = cpu_to_le32(s->chip_id),
        .num_ports = s->num_link_ports,
        .mkey_set = s->mgmt.mkey != 0,
        .route_table_size = cpu_to_le32(LUMEN_ROUTE_TABLE_SIZE),
        .hw_version = cpu_to_le32(LUMEN_HW_VERSION),
    };
    unsigned int p;

    memcpy(info.serial, s->serial_str,
           MIN(sizeof(info.serial), sizeof(s->serial_str)));
    for (p = 0; p < s->num_link_ports; p++) {
        uint32_t ctrl, chip, port;

        info.ports[p].state = lumen_link_port_state(s, p, &ctrl, &chip,
                                                    &port);
        info.ports[p].ctrl = ctrl;
        info.ports[p].peer_chip = cpu_to_le32(chip);
        info.ports[p].peer_port = cpu_to_le32(port);
    }
    memcpy(m->data, &info, sizeof(info));
    m->data_len = cpu_to_le32(sizeof(info));
}

static void lumen_mgmt_get_port(LumenState *s, struct lumen_mgmt *m,
                                unsigned int port)
{
    struct lumen_mgmt_port mp = { 0 };
    uint32_t words[ARRAY_SIZE(mp.counters)];
    uint32_t ctrl, chip, peer;
    unsigned int i;

    mp.state = cpu_to_le32(lumen_link_port_state(s, port, &ctrl, &chip,
                                                 &peer));
    mp.ctrl = cpu_to_le32(ctrl);
    lumen_link_port_counters(s, port, words, ARRAY_SIZE(words));
    for (i = 0; i < ARRAY_SIZE(words); i++) {
        mp.counters[i] = cpu_to_le32(words[i]);
    }
    memcpy(m->data, &mp, sizeof(mp));
    m->data_len = cpu_to_le32(sizeof(mp));
}

static void lumen_mgmt_get_routes(LumenState *s, struct lumen_mgmt *m,
                                  uint32_t first)
{
    unsigned int i;

    for (i = 0; i < LUMEN_MGMT_ROUTES_PER_BLOCK; i++) {
        stl_le_p(m->data + 4 * i, s->route.table[first + i]);
    }
    m->data_len = cpu_to_le32(4 * LUMEN_MGMT_ROUTES_PER_BLOCK);
}

static void lumen_mgmt_get_trap_path(LumenState *s, struct lumen_mgmt *m)
{
    struct lumen_mgmt_trap_path tp = { .hop_count = s->mgmt.trap_hops };

    memcpy(tp.path, s->mgmt.trap_path, sizeof(tp.path));
    memcpy(m->data, &tp, sizeof(tp));
    m->data_len = cpu_to_le32(sizeof(tp));
}

static void lumen_mgmt_get_manager(LumenState *s, struct lumen_mgmt *m)
{
    memcpy(m->data, s->mgmt.manager, sizeof(s->mgmt.manager));
    m->data_len = cpu_to_le32(sizeof(s->mgmt.manager));
}

/*
 * ATTR_MANAGER: the chip only keeps the record for the fabric managers
 * (13.6); it checks the fields it defines and nothing else.
 */
static uint16_t lumen_mgmt_set_manager(LumenState *s, struct lumen_mgmt *m)
{
    struct lumen_mgmt_manager rec;

    if (le32_to_cpu(m->data_len) != sizeof(rec)) {
        return LUMEN_STATUS_BAD_ARGUMENT;
    }
    memcpy(&rec, m->data, sizeof(rec));
    if (rec.reserved || rec.reserved2) {
        return LUMEN_STATUS_RESERVED_SET;
    }
    if (rec.state > LUMEN_MGMT_MANAGER_MASTER) {
        return LUMEN_STATUS_BAD_ARGUMENT;
    }
    memcpy(s->mgmt.manager, &rec, sizeof(rec));
    lumen_mgmt_get_manager(s, m);
    return LUMEN_STATUS_OK;
}

/* SET of an attribute that takes one, key already checked. */
static uint16_t lumen_mgmt_set(LumenState *s, struct lumen_mgmt *m)
{
    uint32_t len = le32_to_cpu(m->data_len);
    uint32_t mod = le32_to_cpu(m->attr_mod);
    struct lumen_mgmt_trap_path tp;
    unsigned int i;

    switch (m->attr) {
    case LUMEN_MGMT_ATTR_PORT:
        /* data.ctrl; the rest of struct lumen_mgmt_port is ignored. */
        if (len < 4 || len > sizeof(struct lumen_mgmt_port) ||
            !lumen_link_set_ctrl(s, mod, ldl_le_p(m->data))) {
            return LUMEN_STATUS_BAD_ARGUMENT;
        }
        lumen_mgmt_get_port(s, m, mod);
        return LUMEN_STATUS_OK;
    case LUMEN_MGMT_ATTR_ROUTES:
        if (len != 4 * LUMEN_MGMT_ROUTES_PER_BLOCK) {
            return LUMEN_STATUS_BAD_ARGUMENT;
        }
        for (i = 0; i < LUMEN_MGMT_ROUTES_PER_BLOCK; i++) {
            if (ldl_le_p(m->data + 4 * i) & LUMEN_ROUTE_W_RESERVED) {
                return LUMEN_STATUS_RESERVED_SET;
            }
        }
        for (i = 0; i < LUMEN_MGMT_ROUTES_PER_BLOCK; i++) {
            s->route.table[mod + i] = ldl_le_p(m->data + 4 * i);
        }
        lumen_mgmt_get_routes(s, m, mod);
        return LUMEN_STATUS_OK;
    case LUMEN_MGMT_ATTR_MKEY:
        if (len != 8) {
            return LUMEN_STATUS_BAD_ARGUMENT;
        }
        s->mgmt.mkey = ldq_le_p(m->data);
        m->data_len = 0;        /* the key does not travel back */
        return LUMEN_STATUS_OK;
    case LUMEN_MGMT_ATTR_TRAP_PATH:
        if (len != sizeof(tp)) {
            return LUMEN_STATUS_BAD_ARGUMENT;
        }
        memcpy(&tp, m->data, sizeof(tp));
        if (tp.hop_count > LUMEN_MGMT_MAX_HOPS ||
            !buffer_is_zero(tp.reserved, sizeof(tp.reserved))) {
            return LUMEN_STATUS_BAD_ARGUMENT;
        }
        for (i = 0; i < tp.hop_count; i++) {
            if (tp.path[i] >= LUMEN_LINK_PORTS_MAX) {
                return LUMEN_STATUS_BAD_ARGUMENT;
            }
        }
        s->mgmt.trap_hops = tp.hop_count;
        memcpy(s->mgmt.trap_path, tp.path, sizeof(tp.path));
        lumen_mgmt_get_trap_path(s, m);
        return LUMEN_STATUS_OK;
    case LUMEN_MGMT_ATTR_MANAGER:
        return lumen_mgmt_set_manager(s, m);
    default:
        return LUMEN_STATUS_BAD_ARGUMENT;
    }
}

/*
 * The target's answer to a GET or SET, in place: same tid, attr and
 * attr_mod, F_RETURN, method RESP, a status, GET contents in data, and the
 * key cleared so that it does not travel back.
 */
static void lumen_mgmt_answer(LumenState *s, struct lumen_mgmt *m)
{
    uint32_t mod = le32_to_cpu(m->attr_mod);
    uint16_t status = LUMEN_STATUS_OK;
    bool set = m->method == LUMEN_MGMT_SET;
    bool mod_ok;

    switch (m->attr) {
    case LUMEN_MGMT_ATTR_PORT:
        mod_ok = mod < s->num_link_ports;
        break;
    case LUMEN_MGMT_ATTR_ROUTES:
        mod_ok = mod < LUMEN_ROUTE_TABLE_SIZE &&
                 !(mod % LUMEN_MGMT_ROUTES_PER_BLOCK);
        break;
    default:
        mod_ok = !mod;
        break;
    }
    if (!mod_ok) {
        status = LUMEN_STATUS_BAD_ARGUMENT;
    } else if (set) {
        switch (m->attr) {
        case LUMEN_MGMT_ATTR_PORT:
        case LUMEN_MGMT_ATTR_ROUTES:
        case LUMEN_MGMT_ATTR_MKEY:
        case LUMEN_MGMT_ATTR_TRAP_PATH:
        case LUMEN_MGMT_ATTR_MANAGER:
            if (s->mgmt.mkey && le64_to_cpu(m->mkey) != s->mgmt.mkey) {
                s->mgmt.mkey_violations++;
                qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: "
                              "management SET of attribute %u refused: "
                              "wrong key\n", s->chip_id, m->attr);
                status = LUMEN_STATUS_ACCESS;
            } else {
                status = lumen_mgmt_set(s, m);
            }
            break;
        default:
            status = LUMEN_STATUS_BAD_ARGUMENT;     /* INFO, TRAP */
            break;
        }
    } else {
        switch (m->attr) {
        case LUMEN_MGMT_ATTR_INFO:
            lumen_mgmt_get_info(s, m);
            break;
        case LUMEN_MGMT_ATTR_PORT:
            lumen_mgmt_get_port(s, m, mod);
            break;
        case LUMEN_MGMT_ATTR_ROUTES:
            lumen_mgmt_get_routes(s, m, mod);
            break;
        case LUMEN_MGMT_ATTR_TRAP_PATH:
            lumen_mgmt_get_trap_path(s, m);
            break;
        case LUMEN_MGMT_ATTR_MANAGER:
            lumen_mgmt_get_manager(s, m);
            break;
        default:
            status = LUMEN_STATUS_BAD_ARGUMENT;     /* MKEY, TRAP */
            break;
        }
    }
    if (status != LUMEN_STATUS_OK) {
        m->data_len = 0;
    }
    trace_lumen_mgmt(s->chip_id, m->method, m->attr, status, "answered");
    m->flags |= LUMEN_MGMT_F_RETURN;
    m->method = LUMEN_MGMT_RESP;
    m->status = cpu_to_le16(status);
    m->mkey = 0;
}

/* ---- Directed route ------------------------------------------------------ */

/*
 * @p holds the checked management packet @m at this chip (for a packet
 * from a link, return_path already has the port it came in on). Returns
 * lumen_mgmt_send()'s status when it went to a port, else OK.
 */
static uint32_t lumen_mgmt_route(LumenState *s, LumenPkt *p,
                                 struct lumen_mgmt *m)
{
    if (!(m->flags & LUMEN_MGMT_F_RETURN)) {
        if (m->hop_ptr < m->hop_count) {
            unsigned int port = m->path[m->hop_ptr++];

            return lumen_mgmt_send(s, p, m, port);
        }
        if (m->method == LUMEN_MGMT_TRAP) {
            lumen_mgmt_deliver(s, m);
            lumen_route_drop(s, p);
            return LUMEN_STATUS_OK;
        }
        lumen_mgmt_answer(s, m);
        lumen_pkt_hdr(p)->src_chip = cpu_to_le32(s->chip_id);
    }
    if (m->hop_ptr > 0) {
        m->hop_ptr--;
        return lumen_mgmt_send(s, p, m, m->return_path[m->hop_ptr]);
    }
    lumen_mgmt_deliver(s, m);
    lumen_route_drop(s, p);
    return LUMEN_STATUS_OK;
}

/* The 13.6 rules for a management packet that arrived on a link. */
static const char *lumen_mgmt_check_link(const struct lumen_mgmt *m,
                                         uint32_t len)
{
    bool ret = m->flags & LUMEN_MGMT_F_RETURN;

    if (m->version != LUMEN_MGMT_VERSION) {
        return "management version";
    }
    if (m->hop_count > LUMEN_MGMT_MAX_HOPS || m->hop_ptr > m->hop_count) {
        return "hop_count or hop_ptr out of range";
    }
    if (le32_to_cpu(m->data_len) > LUMEN_MGMT_DATA_MAX ||
        MGMT_HDR + le32_to_cpu(m->data_len) != len) {
        return "data_len disagrees with the packet length";
    }
    if ((m->flags & ~LUMEN_MGMT_F_RETURN) || m->reserved0 || m->reserved) {
        return "management reserved fields set";
    }
    if (ret ? m->method != LUMEN_MGMT_RESP :
        (m->method != LUMEN_MGMT_GET && m->method != LUMEN_MGMT_SET &&
         m->method != LUMEN_MGMT_TRAP)) {
        return "method does not match the direction";
    }
    if (!ret && m->status) {
        return "status set on a request";
    }
    if (ret ? m->hop_ptr >= m->hop_count : m->hop_ptr == 0) {
        return "hop_ptr impossible for a packet that crossed a link";
    }
    return NULL;
}

void lumen_mgmt_rx(LumenState *s, LumenPkt *p)
{
    struct lumen_pkt_hdr *h = lumen_pkt_hdr(p);
    uint32_t len = p->len - PKT_HDR_SIZE;
    struct lumen_mgmt m;
    const char *why = NULL;

    if (!lumen_pkt_crc_ok(h, p->pkt_crc, p->len)) {
        why = "end-to-end CRC";
    } else if (h->op != LUMEN_PKT_MGMT || h->flags) {
        why = "not a management packet on the management VC";
    } else if (len < MGMT_HDR || len > sizeof(m)) {
        why = "management packet length";
    } else {
        memset(&m, 0, sizeof(m));
        memcpy(&m, lumen_pkt_payload(p), len);
        why = lumen_mgmt_check_link(&m, len);
    }
    if (why) {
        lumen_route_bad_pkt(s, p, why);
        lumen_route_drop(s, p);
        return;
    }
    if (!(m.flags & LUMEN_MGMT_F_RETURN)) {
        m.return_path[m.hop_ptr - 1] = p->in_port;
    }
    /*
     * Directed routes may cross a link any number of times: a packet that
     * waited for credit while holding its receive buffer could close a
     * cycle of full VC 4 buffers, a deadlock that no keepalive breaks.
     * So its buffer is free at once (like InfiniBand's VL15), and what
     * then finds no room on its next port is dropped.
     */
    lumen_link_free_credit(s, p);
    if (lumen_mgmt_route(s, p, &m) == LUMEN_STATUS_BUSY) {
        s->route.no_route_drops++;
    }
}

/* MGMT_TX_LEN: check the host's packet (13.6 "Sending") and send it. */
static uint32_t lumen_mgmt_host_send(LumenState *s, uint32_t len)
{
    struct lumen_pkt_hdr *h;
    struct lumen_mgmt m;
    LumenPkt *p;

    if (len < MGMT_HDR || len > sizeof(m)) {
        return LUMEN_STATUS_BAD_LENGTH;
    }
    memset(&m, 0, sizeof(m));
    memcpy(&m, s->mgmt.tx_buf, len);
    if (m.version != LUMEN_MGMT_VERSION) {
        return LUMEN_STATUS_BAD_VERSION;
    }
    if (le32_to_cpu(m.data_len) > LUMEN_MGMT_DATA_MAX ||
        MGMT_HDR + le32_to_cpu(m.data_len) != len) {
        return LUMEN_STATUS_BAD_LENGTH;
    }
    if (m.flags || m.hop_ptr || m.status || m.reserved0 || m.reserved) {
        return LUMEN_STATUS_RESERVED_SET;
    }
    if ((m.method != LUMEN_MGMT_GET && m.method != LUMEN_MGMT_SET) ||
        m.attr < LUMEN_MGMT_ATTR_INFO || m.attr > LUMEN_MGMT_ATTR_MANAGER ||
        m.hop_count > LUMEN_MGMT_MAX_HOPS) {
        return LUMEN_STATUS_BAD_ARGUMENT;
    }
    if (m.hop_count && !lumen_link_port_up(s, m.path[0])) {
        return LUMEN_STATUS_UNREACHABLE;
    }
    p = lumen_pkt_new(PKT_HDR_SIZE + len);
    h = lumen_pkt_hdr(p);
    h->src_chip = cpu_to_le32(s->chip_id);
    h->dst_chip = cpu_to_le32(CHIP_NONE);
    h->op = LUMEN_PKT_MGMT;
    p->class = LUMEN_VC_MGMT / 2;
    trace_lumen_mgmt(s->chip_id, m.method, m.attr, m.hop_count, "host sends");
    /* OK, or BUSY: the first port holds too many packets, none sent. */
    return lumen_mgmt_route(s, p, &m);
}

/* ---- Traps --------------------------------------------------------------- */

void lumen_mgmt_port_changed(LumenState *s, unsigned int port)
{
    LumenMgmt *g = &s->mgmt;
    struct lumen_mgmt_trap t = { 0 };
    struct lumen_mgmt m = { 0 };
    uint32_t ctrl, chip, peer;
    LumenPkt *p;

    if (!g->trap_hops || !g->trap_bh) {
        return;
    }
    t.chip_id = cpu_to_le32(s->chip_id);
    t.port = port;
    t.state = lumen_link_port_state(s, port, &ctrl, &chip, &peer);
    t.peer_chip = cpu_to_le32(chip);
    t.peer_port = cpu_to_le32(peer);
    t.sequence = cpu_to_le32(g->trap_seq++);
    if (g->traps_queued >= TRAPS_MAX) {
        return;                 /* lost: the sequence number shows it */
    }
    m.version = LUMEN_MGMT_VERSION;
    m.method = LUMEN_MGMT_TRAP;
    m.attr = LUMEN_MGMT_ATTR_TRAP;
    m.hop_count = g->trap_hops;
    m.data_len = cpu_to_le32(sizeof(t));
    m.tid = cpu_to_le64(le32_to_cpu(t.sequence));
    memcpy(m.path, g->trap_path, sizeof(m.path));
    memcpy(m.data, &t, sizeof(t));

    p = lumen_pkt_new(PKT_HDR_SIZE + lumen_mgmt_len(&m));
    lumen_pkt_hdr(p)->src_chip = cpu_to_le32(s->chip_id);
    lumen_pkt_hdr(p)->dst_chip = cpu_to_le32(CHIP_NONE);
    lumen_pkt_hdr(p)->op = LUMEN_PKT_MGMT;
    p->class = LUMEN_VC_MGMT / 2;
    memcpy(lumen_pkt_payload(p), &m, lumen_mgmt_len(&m));
    QTAILQ_INSERT_TAIL(&g->traps, p, next);
    g->traps_queued++;
    qemu_bh_schedule(g->trap_bh);
}

/* Traps leave from a BH: a state change happens deep inside the link. */
static void lumen_mgmt_trap_bh(void *opaque)
{
    LumenState *s = opaque;
    LumenMgmt *g = &s->mgmt;
    struct lumen_mgmt m;
    LumenPkt *p;

    while ((p = QTAILQ_FIRST(&g->traps)) != NULL) {
        QTAILQ_REMOVE(&g->traps, p, next);
        g->traps_queued--;
        memset(&m, 0, sizeof(m));
        memcpy(&m, lumen_pkt_payload(p), p->len - PKT_HDR_SIZE);
        if (lumen_mgmt_route(s, p, &m) == LUMEN_STATUS_BUSY) {
            s->route.no_route_drops++;  /* its sequence number shows it */
        }
    }
}

/* ---- Registers (13.5) ---------------------------------------------------- */

static bool lumen_mgmt_buf(hwaddr addr, hwaddr base)
{
    return addr >= base && addr < base + LUMEN_MGMT_BUF_SIZE;
}

bool lumen_mgmt_reg_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenMgmt *g = &s->mgmt;
    LumenMgmtRx *head = &g->rx[g->rx_head];

    if (lumen_mgmt_buf(addr, LUMEN_REG_MGMT_TX_BUF)) {
        *val = ldl_le_p(g->tx_buf + (addr - LUMEN_REG_MGMT_TX_BUF));
        return true;
    }
    if (lumen_mgmt_buf(addr, LUMEN_REG_MGMT_RX_BUF)) {
        hwaddr off = addr - LUMEN_REG_MGMT_RX_BUF;

        *val = 0;
        if (g->rx_count && off < head->len) {
            uint8_t b[4] = { 0 };

            memcpy(b, head->data + off, MIN(4, head->len - off));
            *val = ldl_le_p(b);
        }
        return true;
    }
    switch (addr) {
    case LUMEN_REG_MKEY_LO:
        *val = (uint32_t)g->mkey;
        return true;
    case LUMEN_REG_MKEY_HI:
        *val = g->mkey >> 32;
        return true;
    case LUMEN_REG_MKEY_VIOLATIONS:
        *val = g->mkey_violations;
        return true;
    case LUMEN_REG_MGMT_TX_LEN:
    case LUMEN_REG_MGMT_RX_POP:
        *val = 0;               /* write-only */
        return true;
    case LUMEN_REG_MGMT_TX_STATUS:
        *val = g->tx_status;
        return true;
    case LUMEN_REG_MGMT_RX_LEN:
        *val = g->rx_count ? head->len : 0;
        return true;
    case LUMEN_REG_MGMT_RX_COUNT:
        *val = g->rx_count;
        return true;
    case LUMEN_REG_MGMT_RX_DROPS:
        *val = g->rx_drops;
        return true;
    default:
        return false;
    }
}

bool lumen_mgmt_reg_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenMgmt *g = &s->mgmt;

    if (lumen_mgmt_buf(addr, LUMEN_REG_MGMT_TX_BUF)) {
        stl_le_p(g->tx_buf + (addr - LUMEN_REG_MGMT_TX_BUF), val);
        return true;
    }
    switch (addr) {
    case LUMEN_REG_MKEY_LO:
        g->mkey = deposit64(g->mkey, 0, 32, val);
        return true;
    case LUMEN_REG_MKEY_HI:
        g->mkey = deposit64(g->mkey, 32, 32, val);
        return true;
    case LUMEN_REG_MGMT_TX_LEN:
        g->tx_status = lumen_mgmt_host_send(s, val);
        return true;
    case LUMEN_REG_MGMT_RX_POP:
        if (val != 1) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "MGMT_RX_POP takes 1");
            return true;
        }
        if (g->rx_count) {
            g->rx_head = (g->rx_head + 1) % LUMEN_MGMT_RX_DEPTH;
            g->rx_count--;
        }
        return true;
    case LUMEN_REG_MKEY_VIOLATIONS:
    case LUMEN_REG_MGMT_TX_STATUS:
    case LUMEN_REG_MGMT_RX_LEN:
    case LUMEN_REG_MGMT_RX_COUNT:
    case LUMEN_REG_MGMT_RX_DROPS:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        if (lumen_mgmt_buf(addr, LUMEN_REG_MGMT_RX_BUF)) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "write to a read-only register");
            return true;
        }
        return false;
    }
}

/* ---- Life cycle ---------------------------------------------------------- */

static void lumen_mgmt_flush_traps(LumenMgmt *g)
{
    LumenPkt *p;

    while ((p = QTAILQ_FIRST(&g->traps)) != NULL) {
        QTAILQ_REMOVE(&g->traps, p, next);
        lumen_pkt_free(p);
    }
    g->traps_queued = 0;
}

void lumen_mgmt_init(LumenState *s)
{
    QTAILQ_INIT(&s->mgmt.traps);
    s->mgmt.trap_bh = qemu_bh_new_guarded(lumen_mgmt_trap_bh, s,
                                          &DEVICE(s)->mem_reentrancy_guard);
}

void lumen_mgmt_exit(LumenState *s)
{
    lumen_mgmt_flush_traps(&s->mgmt);
    qemu_bh_delete(s->mgmt.trap_bh);
    s->mgmt.trap_bh = NULL;
}

/* Migrated state: the queue's indices and lengths are used as indices. */
bool lumen_mgmt_post_load(LumenState *s)
{
    LumenMgmt *g = &s->mgmt;
    unsigned int i;

    if (g->trap_hops > LUMEN_MGMT_MAX_HOPS ||
        g->rx_head >= LUMEN_MGMT_RX_DEPTH ||
        g->rx_count > LUMEN_MGMT_RX_DEPTH ||
        g->tx_status >= LUMEN_STATUS_COUNT) {
        return false;
    }
    for (i = 0; i < g->rx_count; i++) {
        uint32_t len = g->rx[(g->rx_head + i) % LUMEN_MGMT_RX_DEPTH].len;

        if (len < LUMEN_MGMT_HDR_SIZE || len > LUMEN_MGMT_PKT_MAX) {
            return false;
        }
    }
    return true;
}

/*
 * The manager record (ATTR_MANAGER) migrates in a subsection of its own,
 * sent only when a manager wrote one, so older streams still load.
 */
static bool lumen_mgmt_manager_needed(void *opaque)
{
    LumenState *s = opaque;

    return !buffer_is_zero(s->mgmt.manager, sizeof(s->mgmt.manager));
}

const VMStateDescription vmstate_lumen_mgmt_manager = {
    .name = "lumen-npu/mgmt-manager",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = lumen_mgmt_manager_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_ARRAY(mgmt.manager, LumenState,
                            sizeof(struct lumen_mgmt_manager)),
        VMSTATE_END_OF_LIST()
    },
};

/* Key, trap path, manager record, buffers and receive queue to reset. */
void lumen_mgmt_reset(LumenState *s)
{
    LumenMgmt *g = &s->mgmt;

    if (g->trap_bh) {
        qemu_bh_cancel(g->trap_bh);
    }
    lumen_mgmt_flush_traps(g);
    g->mkey = 0;
    g->mkey_violations = 0;
    g->trap_hops = 0;
    memset(g->trap_path, 0, sizeof(g->trap_path));
    memset(g->manager, 0, sizeof(g->manager));
    g->trap_seq = 0;
    g->tx_status = LUMEN_STATUS_OK;
    memset(g->tx_buf, 0, sizeof(g->tx_buf));
    g->rx_head = g->rx_count = g->rx_drops = 0;
}
