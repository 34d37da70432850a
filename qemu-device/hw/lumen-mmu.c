/*
 * Lumen N1 accelerator: device MMU (docs/hw-spec.md section 11,
 * lumen_mmu.h).
 *
 * LUMEN_CONTEXTS_MAX contexts, each a 48-bit VA space translated by a
 * four-level table (4 KiB pages at level 3, 2 MiB leaves at level 2).
 * Entries point into device memory (the RAM behind BAR2, read directly) or
 * to host bus addresses (DMA through the PCI function's address space);
 * table pages may live in either. Each context caches its last leaf
 * entries in a small TLB, dropped by MMU_INVALIDATE, by writes of the
 * context's root or control register and by reset.
 *
 * A fault fills the fault record if it is free (first fault wins), raises
 * INT_MMU_FAULT on the error vector, and stops every queue of the faulting
 * context with ERROR = MMU_FAULT; every fault is also an ERR_STATUS.MMU
 * error event.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "hw/pci/pci_device.h"
#include "lumen-npu.h"
#include "lumen-engine.h"
#include "trace.h"

#define LUMEN_PT_SIZE           (LUMEN_PT_ENTRIES * 8)
#define LUMEN_PTE_TARGET(pte)   (((pte) & LUMEN_PTE_TARGET_MASK) >> \
                                 LUMEN_PTE_TARGET_SHIFT)
#define LUMEN_PTE_T_DEVMEM      (LUMEN_PTE_TARGET_DEVMEM >> \
                                 LUMEN_PTE_TARGET_SHIFT)
#define LUMEN_PTE_T_HOST        (LUMEN_PTE_TARGET_HOST >> \
                                 LUMEN_PTE_TARGET_SHIFT)

/* Walk outcome: 0 = ok, a enum lumen_mmu_fault, or a DMA failure. */
#define LUMEN_WALK_DMA_ERROR    LUMEN_MMU_LOOKUP_DMA_ERROR

static void lumen_tlb_flush(LumenMmuCtx *c)
{
    memset(c->tlb, 0, sizeof(c->tlb));
    c->tlb_next = 0;
}

static const LumenTlbEntry *lumen_tlb_lookup(LumenMmuCtx *c, uint64_t va)
{
    unsigned int i;

    for (i = 0; i < LUMEN_TLB_ENTRIES; i++) {
        const LumenTlbEntry *e = &c->tlb[i];

        if (e->valid && (va >> e->shift) == e->tag) {
            return e;
        }
    }
    return NULL;
}

static const LumenTlbEntry *lumen_tlb_insert(LumenMmuCtx *c, uint64_t va,
                                             uint64_t pte, unsigned int shift)
{
    LumenTlbEntry *e = &c->tlb[c->tlb_next];

    c->tlb_next = (c->tlb_next + 1) % LUMEN_TLB_ENTRIES;
    e->tag = va >> shift;
    e->pte = pte;
    e->shift = shift;
    e->valid = true;
    return e;
}

/*
 * Common checks of a table pointer or entry: reserved bits, target, and a
 * device-memory address inside the memory. @span is the size of what the
 * address must cover (a table or a page).
 */
static bool lumen_pte_ok(LumenState *s, uint64_t pte, uint64_t span)
{
    uint64_t addr = pte & LUMEN_PTE_ADDR_MASK;
    uint64_t reserved = LUMEN_PTE_RESERVED_MASK;

    if (s->caps & LUMEN_CAP_USER_QUEUES) {
        reserved &= ~LUMEN_PTE_PRIV;
    }
    if (pte & reserved) {
        return false;
    }
    switch (LUMEN_PTE_TARGET(pte)) {
    case LUMEN_PTE_T_DEVMEM:
        return addr < s->mem_size && span <= s->mem_size - addr;
    case LUMEN_PTE_T_HOST:
        return true;
    default:
        return false;
    }
}

/* Read entry @index of the table that @table points to. */
static MemTxResult lumen_pt_read(LumenState *s, uint64_t table,
                                 unsigned int index, uint64_t *pte,
                                 uint64_t *bus_addr)
{
    uint64_t addr = (table & LUMEN_PTE_ADDR_MASK) + index * 8ull;
    uint8_t *ram;

    *bus_addr = addr;
    if (LUMEN_PTE_TARGET(table) == LUMEN_PTE_T_DEVMEM) {
        /* lumen_pte_ok() checked the table lies inside device memory. */
        ram = memory_region_get_ram_ptr(&s->mem);
        *pte = ldq_le_p(ram + addr);
        return MEMTX_OK;
    }
    return ldq_le_pci_dma(PCI_DEVICE(s), addr, pte, MEMTXATTRS_UNSPECIFIED);
}

/* Four-level walk of context @c for @va; the leaf goes to @pte/@shift. */
static int lumen_mmu_walk(LumenState *s, LumenMmuCtx *c, uint64_t va,
                          uint64_t *pte, unsigned int *shift,
                          uint64_t *bus_addr)
{
    uint64_t table = c->root;
    unsigned int level;

    if (!(c->ctrl & LUMEN_MMU_CTX_VALID)) {
        return LUMEN_MMU_FAULT_BAD_CONTEXT;
    }
    if (va >> LUMEN_VA_BITS) {
        return LUMEN_MMU_FAULT_NOT_MAPPED;
    }
    /* The root pointer is in PTE form; its VALID bit is ignored. */
    if (!lumen_pte_ok(s, table & ~LUMEN_PTE_VALID, LUMEN_PT_SIZE)) {
        return LUMEN_MMU_FAULT_BAD_PTE;
    }
    for (level = 0; level < LUMEN_PT_LEVELS; level++) {
        uint64_t e;
        bool leaf;

        if (lumen_pt_read(s, table, lumen_va_index(va, level), &e,
                          bus_addr) != MEMTX_OK) {
            return LUMEN_WALK_DMA_ERROR;
        }
        if (!(e & LUMEN_PTE_VALID)) {
            return LUMEN_MMU_FAULT_NOT_MAPPED;
        }
        leaf = level == LUMEN_PT_LEVELS - 1 ||
               (level == 2 && (e & LUMEN_PTE_LEAF));
        if (level < 2 && (e & LUMEN_PTE_LEAF)) {
            return LUMEN_MMU_FAULT_BAD_PTE;
        }
        if (!leaf) {
            if (!lumen_pte_ok(s, e, LUMEN_PT_SIZE)) {
                return LUMEN_MMU_FAULT_BAD_PTE;
            }
            table = e;
            continue;
        }
        *shift = level == 2 ? LUMEN_HUGE_PAGE_SHIFT : LUMEN_PAGE_SHIFT;
        if ((e & LUMEN_PTE_ADDR_MASK) & ((1ull << *shift) - 1)) {
            return LUMEN_MMU_FAULT_BAD_PTE;
        }
        if (!lumen_pte_ok(s, e, 1ull << *shift)) {
            return LUMEN_MMU_FAULT_BAD_PTE;
        }
        *pte = e;
        return 0;
    }
    g_assert_not_reached();
}

/*
 * Record a fault of queue @q at @va: ERR_STATUS.MMU always, the fault
 * record and INT_MMU_FAULT if the record is free, and stop every queue of
 * the context (the faulting one included).
 */
static void lumen_mmu_fault(LumenState *s, unsigned int q, uint64_t va,
                            unsigned int kind, bool write)
{
    LumenMmu *m = &s->mmu;
    LumenQueue *lq = &s->queues[q];
    unsigned int ctx = lumen_queue_ctx(lq);
    uint32_t tag = le32_to_cpu(lq->cur.tag);
    unsigned int i;

    trace_lumen_mmu_fault(s->chip_id, ctx, q, va, kind, write, tag);
    qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: MMU fault: context "
                  "%u queue %u %s VA 0x%" PRIx64 " kind %u tag 0x%x\n",
                  s->chip_id, ctx, q, write ? "write" : "read", va, kind,
                  tag);
    if (!(m->fault_status & 1)) {
        m->fault_status = 1;
        m->fault_ctx = ctx;
        m->fault_addr = va;
        m->fault_info = kind | (write ? LUMEN_MMU_FAULT_WRITE_ACCESS : 0);
        m->fault_queue = q;
        m->fault_tag = tag;
        lumen_irq_raise(s, LUMEN_INT_MMU_FAULT);
    }
    lumen_report_error(s, LUMEN_ERR_MMU, LUMEN_STATUS_MMU_FAULT, va);
    for (i = 0; i < s->num_queues; i++) {
        LumenQueue *o = &s->queues[i];

        if (lumen_queue_ctx(o) == ctx && o->status != LUMEN_QSTS_DISABLED &&
            o->status != LUMEN_QSTS_STOPPED) {
            lumen_queue_stop(s, i, LUMEN_STATUS_MMU_FAULT);
        }
    }
}

int lumen_mmu_lookup(LumenState *s, unsigned int ctx, uint64_t va,
                     bool write, LumenXlate *out, uint64_t *bus_addr)
{
    LumenMmuCtx *c = &s->mmu.ctx[ctx % LUMEN_CONTEXTS_MAX];
    const LumenTlbEntry *e;
    uint64_t pte, off;
    unsigned int shift = LUMEN_PAGE_SHIFT;
    int r;

    *bus_addr = 0;
    e = lumen_tlb_lookup(c, va);
    if (!e) {
        r = lumen_mmu_walk(s, c, va, &pte, &shift, bus_addr);
        if (r) {
            return r;
        }
        e = lumen_tlb_insert(c, va, pte, shift);
    }
    if (!(e->pte & (write ? LUMEN_PTE_WRITE : LUMEN_PTE_READ))) {
        return write ? LUMEN_MMU_FAULT_WRITE : LUMEN_MMU_FAULT_READ;
    }
    off = va & ((1ull << e->shift) - 1);
    out->addr = (e->pte & LUMEN_PTE_ADDR_MASK) + off;
    out->len = (1ull << e->shift) - off;
    out->host = LUMEN_PTE_TARGET(e->pte) == LUMEN_PTE_T_HOST;
    out->priv = e->pte & LUMEN_PTE_PRIV;
    return 0;
}

/*
 * Translate @va for an access of queue @q. OK fills @out; MMU_FAULT means
 * the fault is recorded and the context's queues are stopped; DMA_ERROR
 * means a host table page could not be read (the caller stops the queue,
 * ERR_LAST_INFO is the table entry's bus address).
 */
enum lumen_status lumen_mmu_translate(LumenState *s, unsigned int q,
                                      uint64_t va, bool write,
                                      LumenXlate *out)
{
    uint64_t bus_addr;
    int r;

    r = lumen_mmu_lookup(s, lumen_queue_ctx(&s->queues[q]), va, write, out,
                         &bus_addr);
    if (!r && out->priv && (s->queues[q].ctrl & LUMEN_QCTRL_USER)) {
        r = LUMEN_MMU_FAULT_PRIV;
    }
    if (r == LUMEN_MMU_LOOKUP_DMA_ERROR) {
        qemu_log_mask(LOG_GUEST_ERROR, "lumen-npu: chip %u: queue %u: "
                      "page-table read at bus address 0x%" PRIx64
                      " failed\n", s->chip_id, q, bus_addr);
        lumen_report_error(s, LUMEN_ERR_DMA, LUMEN_STATUS_DMA_ERROR,
                           bus_addr);
        return LUMEN_STATUS_DMA_ERROR;
    }
    if (r) {
        lumen_mmu_fault(s, q, va, r, write);
        return LUMEN_STATUS_MMU_FAULT;
    }
    return LUMEN_STATUS_OK;
}

/* ---- Registers --------------------------------------------------------- */

bool lumen_mmu_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenMmu *m = &s->mmu;
    LumenMmuCtx *c = &m->ctx[m->select];

    switch (addr) {
    case LUMEN_REG_MMU_CTX_SELECT:
        *val = m->select;
        return true;
    case LUMEN_REG_MMU_CTX_ROOT_LO:
        *val = (uint32_t)c->root;
        return true;
    case LUMEN_REG_MMU_CTX_ROOT_HI:
        *val = c->root >> 32;
        return true;
    case LUMEN_REG_MMU_CTX_CTRL:
        *val = c->ctrl;
        return true;
    case LUMEN_REG_MMU_INVALIDATE:
        *val = 0;       /* write-only */
        return true;
    case LUMEN_REG_MMU_FAULT_STATUS:
        *val = m->fault_status;
        return true;
    case LUMEN_REG_MMU_FAULT_CTX:
        *val = m->fault_ctx;
        return true;
    case LUMEN_REG_MMU_FAULT_ADDR_LO:
        *val = (uint32_t)m->fault_addr;
        return true;
    case LUMEN_REG_MMU_FAULT_ADDR_HI:
        *val = m->fault_addr >> 32;
        return true;
    case LUMEN_REG_MMU_FAULT_INFO:
        *val = m->fault_info;
        return true;
    case LUMEN_REG_MMU_FAULT_QUEUE:
        *val = m->fault_queue;
        return true;
    case LUMEN_REG_MMU_FAULT_TAG:
        *val = m->fault_tag;
        return true;
    default:
        return false;
    }
}

bool lumen_mmu_write(LumenState *s, hwaddr addr, uint32_t val)
{
    LumenMmu *m = &s->mmu;
    LumenMmuCtx *c = &m->ctx[m->select];

    switch (addr) {
    case LUMEN_REG_MMU_CTX_SELECT:
        if (val >= LUMEN_CONTEXTS_MAX) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "MMU_CTX_SELECT beyond LUMEN_CONTEXTS_MAX");
            return true;
        }
        m->select = val;
        return true;
    case LUMEN_REG_MMU_CTX_ROOT_LO:
        m->root_lo = val;
        return true;
    case LUMEN_REG_MMU_CTX_ROOT_HI:
        c->root = (uint64_t)val << 32 | m->root_lo;
        lumen_tlb_flush(c);
        return true;
    case LUMEN_REG_MMU_CTX_CTRL:
        if (val & ~LUMEN_MMU_CTX_VALID) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "MMU_CTX_CTRL reserved bits set");
            return true;
        }
        c->ctrl = val;
        lumen_tlb_flush(c);
        return true;
    case LUMEN_REG_MMU_INVALIDATE:
        if (val >= LUMEN_CONTEXTS_MAX) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "MMU_INVALIDATE of a context beyond "
                            "LUMEN_CONTEXTS_MAX");
            return true;
        }
        /* Synchronous: no walk is in flight outside the engine's BH. */
        lumen_tlb_flush(&m->ctx[val]);
        return true;
    case LUMEN_REG_MMU_FAULT_STATUS:
        /* RW1C; other bits are ignored like INT_STATUS's. */
        m->fault_status &= ~(val & 1);
        return true;
    case LUMEN_REG_MMU_FAULT_CTX:
    case LUMEN_REG_MMU_FAULT_ADDR_LO:
    case LUMEN_REG_MMU_FAULT_ADDR_HI:
    case LUMEN_REG_MMU_FAULT_INFO:
    case LUMEN_REG_MMU_FAULT_QUEUE:
    case LUMEN_REG_MMU_FAULT_TAG:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}

void lumen_mmu_post_load(LumenState *s)
{
    unsigned int i;

    for (i = 0; i < LUMEN_CONTEXTS_MAX; i++) {
        lumen_tlb_flush(&s->mmu.ctx[i]);
    }
}

void lumen_mmu_reset(LumenState *s)
{
    memset(&s->mmu, 0, sizeof(s->mmu));
}
