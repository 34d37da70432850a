#!/usr/bin/python3
"""Seed corpus and dictionary for QEMU's generic-fuzz on lumen-npu.

Usage: qemu-device/fuzz/gen-seeds.py OUTDIR
Writes OUTDIR/corpus/<name> (one generic-fuzz input per scenario) and
OUTDIR/lumen-npu.dict, deterministically: the same tree gives the same bytes.

generic-fuzz (QEMU tests/qtest/fuzz/generic_fuzz.c) reads an input as
commands separated by "FUZZ"; the first byte of a command is its opcode
(mod 10), the rest its little-endian operands (C structs, padding
included). It cannot write guest RAM: what the device reads from guest RAM
by DMA is filled from the input's DMA patterns, in the order the device
reads, while at least one pattern is defined; with none defined a DMA read
sees what RAM holds. The seeds use that to write guest RAM at addresses of
their choosing, independently of the order the device reads in:

  stage(addr, data): add pattern `data`, FW_ADDR = addr, FW_SIZE = len,
  BOOT_CTRL = BOOT (the boot fetch is one DMA read of [addr, addr + len),
  so the harness fills it with `data`), clear the patterns, SOFT_RESET
  (the "image" is refused; the reset makes BOOT_STATUS OFF again).

So a seed is: MSI-X on, every page its scenario writes staged that way,
device memory filled by COPYs of a bootstrap context (the harness cannot
write BAR2, which is RAM), then the scenario's register writes with no
pattern defined, so descriptors, page tables, mailbox requests and the
real (small, valid) firmware image are read as staged.

The scenarios are written against the qtest suite's own helpers
(qemu-device/tests/qtest-lumen-npu.py: contract constants, image and
message builders, descriptors, page-table builder `Space`, `Queue`): a
recording card stands in for the qtest connection, keeps a model of guest
RAM and device memory, and turns register accesses into generic-fuzz MMIO
commands.
"""

import importlib.util
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
_spec = importlib.util.spec_from_file_location(
    'qtest_lumen_npu', os.path.join(REPO, 'qemu-device', 'tests',
                                     'qtest-lumen-npu.py'))
T = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(T)
C = T.C

# ---- How generic-fuzz sees the device ---------------------------------------
#
# The device runs as `-device lumen-npu,mem-size=16M` (see run-generic-fuzz);
# libqos maps BARs from 0xe0000000 up, in BAR order, each aligned to its
# size: BAR0 (64 KiB) 0xe0000000, BAR2 (16 MiB) 0xe1000000, BAR4 (16 queues
# x 4 KiB) 0xe2000000. A command names a memory region by its index among
# the device's non-RAM regions in the flat view (address order; the MSI-X
# table and PBA split BAR0's register region into pieces) and an offset
# into that piece.
MEM_SIZE = 16 << 20
QUEUES = 16
BAR0, BAR2, BAR4 = 0xe0000000, 0xe1000000, 0xe2000000
NVEC = QUEUES + C.LUMEN_VEC_QUEUE_BASE
MSIX_TBL = C.LUMEN_MSIX_TABLE_OFFSET
MSIX_TBL_END = MSIX_TBL + 16 * NVEC
PBA = C.LUMEN_MSIX_PBA_OFFSET
PBA_END = PBA + (NVEC + 63) // 64 * 8
# (bar base, start, end) of each region index, in flat-view order.
REGIONS = [
    (BAR0, 0, MSIX_TBL),                # 0: registers below the MSI-X table
    (BAR0, MSIX_TBL, MSIX_TBL_END),     # 1: MSI-X table
    (BAR0, MSIX_TBL_END, PBA),          # 2: registers (reserved)
    (BAR0, PBA, PBA_END),               # 3: MSI-X PBA
    (BAR0, PBA_END, 0x10000),           # 4: registers (reserved)
    (BAR4, 0, QUEUES * C.LUMEN_DOORBELL_STRIDE),  # 5: doorbells
]

OP_IN, OP_OUT, OP_READ, OP_WRITE, OP_PCI_READ, OP_PCI_WRITE, \
    OP_DISABLE_PCI, OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS, \
    OP_CLOCK_STEP = range(10)
SEP = b'FUZZ'
SIZE_CODE = {1: 0, 2: 1, 4: 2, 8: 3}

# Guest RAM used by the seeds (generic-fuzz gives the machine 512 MiB).
MSI_BASE = T.MSI_BASE           # MSI-X messages land here
STAGE_ORDER = 1                 # MBOX_RING_ORDER during staging boots
BOOT_RING = 0x6000000           # bootstrap: ring of the devmem copies
BOOT_PT = 0x6100000             # bootstrap: host page tables
BOOT_SRC = 0x6400000            # bootstrap: devmem contents, 2 MiB aligned
BOOT_CTX, BOOT_Q = 63, QUEUES - 1
BOOT_VA_DEV, BOOT_VA_SRC = 1 << 32, 2 << 32


class Input:
    """One generic-fuzz input, built command by command."""

    def __init__(self):
        self.cmds = []

    def op(self, code, payload=b''):
        assert SEP not in payload, 'operand contains the separator'
        self.cmds.append(bytes([code]) + payload)

    def data(self):
        return SEP.join(self.cmds)

    def mmio(self, addr, size=4, value=None):
        for i, (base, lo, hi) in enumerate(REGIONS):
            if base + lo <= addr < base + hi:
                off = addr - base - lo
                break
        else:
            raise ValueError('0x%x is in no fuzzable region' % addr)
        if value is None:
            self.op(OP_READ, struct.pack('<BBxxI', SIZE_CODE[size], i, off))
        else:
            self.op(OP_WRITE, struct.pack('<BBxxIQ', SIZE_CODE[size], i, off,
                                          value))

    def pci_write(self, off, value, size=4):
        self.op(OP_PCI_WRITE, struct.pack('<BBBxI', SIZE_CODE[size], 0, off,
                                          value))

    def pci_read(self, off, size=4):
        self.op(OP_PCI_READ, struct.pack('<BBB', SIZE_CODE[size], 0, off))

    def pattern(self, data, index=0, stride=0):
        self.op(OP_ADD_DMA_PATTERN, struct.pack('<BB', index, stride) + data)

    def clear_patterns(self):
        self.op(OP_CLEAR_DMA_PATTERNS)

    def clock_step(self):
        self.op(OP_CLOCK_STEP)


class Recorder:
    """Stands in for the qtest connection (T.QTest) of a T.Card: guest RAM
    and device memory writes go to a model, register accesses are recorded
    as generic-fuzz commands."""

    def __init__(self):
        self.ram = {}           # page address -> bytearray(4096)
        self.dev = {}
        self.epoch = {}         # (store, page) -> [triggers at last write]
        self.triggers = 0
        self.ops = []           # ('w'|'r', addr, size, value) | ('clock',)

    @staticmethod
    def _pages(store, addr, size):
        while size:
            page = addr & ~0xfff
            n = min(size, page + 0x1000 - addr)
            yield store.setdefault(page, bytearray(0x1000)), addr - page, n
            addr += n
            size -= n

    def _store(self, addr):
        if BAR2 <= addr < BAR2 + MEM_SIZE:
            return self.dev, addr - BAR2
        assert addr < 0x20000000, 'guest RAM is 512 MiB'
        return self.ram, addr

    def memwrite(self, addr, data):
        """All of RAM is staged before the first register write, so a
        scenario may not change a byte the device may have read already
        (after a doorbell, a boot, a mailbox tail or a clock step): the
        device would see the last value from the start."""
        store, a = self._store(addr)
        o = 0
        now = self.triggers
        for buf, off, n in self._pages(store, a, len(data)):
            page = a + o - off
            ep = self.epoch.setdefault((id(store), page), [None] * 0x1000)
            for i in range(n):
                if buf[off + i] != data[o + i] and ep[off + i] is not None \
                        and ep[off + i] != now:
                    raise ValueError('scenario rewrites 0x%x after register '
                                     'accesses' % (addr + o + i))
                ep[off + i] = now
            buf[off:off + n] = data[o:o + n]
            o += n

    def memread(self, addr, size):
        store, a = self._store(addr)
        return b''.join(bytes(buf[off:off + n])
                        for buf, off, n in self._pages(store, a, size))

    def rd(self, width, addr):
        self.ops.append(('r', addr, {'b': 1, 'w': 2, 'l': 4, 'q': 8}[width],
                         None))
        return 0

    def wr(self, width, addr, val):
        if addr >= BAR4 or addr - BAR0 in (C.LUMEN_REG_BOOT_CTRL,
                                           C.LUMEN_REG_MBOX_REQ_TAIL):
            self.triggers += 1
        self.ops.append(('w', addr, {'b': 1, 'w': 2, 'l': 4, 'q': 8}[width],
                         val))

    def readl(self, addr):
        return self.rd('l', addr)

    def writel(self, addr, val):
        self.wr('l', addr, val)

    def clock_step(self, ns=0):
        self.triggers += 1
        self.ops.append(('clock',))
        return 0


class Card(T.Card):
    """T.Card over a Recorder, at the BARs libqos gives it."""

    def __init__(self):
        self.q = Recorder()
        self.slot, self.bus = 0, 0
        self.bar0, self.bar2, self.bar4 = BAR0, BAR2, BAR4
        self.mem_size, self.queues = MEM_SIZE, QUEUES
        self.msi = MSI_BASE

    def poll(self, off, pred, what, tries=200):
        # Bottom halves run after every command; timers need the clock.
        for _ in range(3):
            self.q.clock_step()
        self.reg(off)
        return None


def runs(card, steps=4):
    for _ in range(steps):
        card.q.clock_step()


def nonzero_blocks(buf, unit=64):
    """(offset, bytes) runs of unit-aligned blocks that are not all zero."""
    out, i = [], 0
    while i < len(buf):
        if any(buf[i:i + unit]):
            j = i
            while j < len(buf) and any(buf[j:j + unit]):
                j += unit
            out.append((i, bytes(buf[i:j])))
            i = j
        else:
            i += unit
    return out


def fetch(inp, addr, size, pattern):
    """RAM [addr, addr + size) := pattern, repeated: the boot fetch of a
    refused "image", then SOFT_RESET (boot state OFF again)."""
    inp.pattern(pattern)
    inp.mmio(BAR0 + C.LUMEN_REG_MBOX_RING_ORDER, value=STAGE_ORDER)
    inp.mmio(BAR0 + C.LUMEN_REG_FW_ADDR_LO, value=addr & 0xffffffff)
    inp.mmio(BAR0 + C.LUMEN_REG_FW_ADDR_HI, value=addr >> 32)
    inp.mmio(BAR0 + C.LUMEN_REG_FW_SIZE, value=size)
    inp.mmio(BAR0 + C.LUMEN_REG_BOOT_CTRL, value=C.LUMEN_BOOT_CTRL_BOOT)
    inp.clear_patterns()
    inp.mmio(BAR0 + C.LUMEN_REG_SOFT_RESET, value=C.LUMEN_RESET_KEY)


def stage_page(inp, page, buf):
    """Zero the page (a 1-byte pattern repeats), then write its non-zero
    64-byte blocks (the fetch needs 64 bytes at least). RAM is not cleared
    between inputs, so every page a seed relies on is staged whole."""
    fetch(inp, page, len(buf), b'\0')
    for off, data in nonzero_blocks(buf):
        fetch(inp, page + off, len(data), data)


def msix_on(inp, card):
    """Every vector's message lands in guest RAM at MSI_BASE + 4 * v (as in
    the qtest suite); MSI-X enabled. libqos has enabled memory decoding and
    bus mastering."""
    for v in range(NVEC):
        e = BAR0 + MSIX_TBL + 16 * v
        inp.mmio(e + 0, value=MSI_BASE + 4 * v)
        inp.mmio(e + 4, value=0)
        inp.mmio(e + 8, value=0xa000 + v)
        inp.mmio(e + 12, value=0)
    # A 32-bit write at the capability sets Message Control.Enable (bit 31
    # of the dword); the rest of the dword is read-only.
    inp.pci_write(MSIX_CAP, 0x80000000)


# msix_init() in lumen-npu.c lets QEMU place the capability: the first
# free dword from 0x40 (the PCIe capability sits at 0x80).
MSIX_CAP = 0x40


def devmem_bootstrap(inp, dev_pages):
    """Guest RAM staging area + a context/queue that COPYs it into device
    memory; returns the RAM pages to stage (model dict). Device memory is
    RAM behind BAR2: neither a DMA pattern nor an MMIO command reaches it,
    only the device's own engine."""
    rec = Recorder()
    boot = Card()
    boot.q = rec
    # VA BOOT_VA_DEV + x -> devmem x (2 MiB pages), BOOT_VA_SRC + x -> RAM
    # BOOT_SRC + x (2 MiB pages).
    sp = T.Space(boot, BOOT_CTX, tables='host', pt_base=BOOT_PT)
    sp.map(BOOT_VA_DEV, T.DEV_T, 0, MEM_SIZE, huge=True)
    sp.map(BOOT_VA_SRC, T.HOST_T, BOOT_SRC, MEM_SIZE, huge=True)
    qu = T.Queue(boot, BOOT_Q, ctx=BOOT_CTX, order=8)
    qu.ring = BOOT_RING
    # Queue() programmed RING_BASE before we moved it: program it again.
    boot.wreg(T.qreg(BOOT_Q, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)
    boot.wreg64(T.qreg(BOOT_Q, C.LUMEN_QREG_RING_BASE_LO), BOOT_RING)
    qu.enable()
    # Device memory survives resets and inputs: zero every page first.
    cmds = [T.fill(BOOT_VA_DEV + page, T.PAGE, 0) for page in sorted(dev_pages)]
    for page in sorted(dev_pages):
        for off, data in nonzero_blocks(dev_pages[page], 8):
            rec.memwrite(BOOT_SRC + page + off, data)
            cmds.append(T.copy(BOOT_VA_SRC + page + off,
                               BOOT_VA_DEV + page + off, len(data)))
    assert len(cmds) < 256
    qu.submit(cmds)
    runs(boot)
    # Leave nothing behind: queue reset and disabled, context invalid.
    boot.wreg(T.qreg(BOOT_Q, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)
    boot.wreg(C.LUMEN_REG_MMU_CTX_SELECT, BOOT_CTX)
    boot.wreg(C.LUMEN_REG_MMU_CTX_CTRL, 0)
    boot.wreg(C.LUMEN_REG_MMU_INVALIDATE, BOOT_CTX)
    boot.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 0)
    boot.wreg(C.LUMEN_REG_ERR_STATUS, 0xffffffff)
    boot.wreg(C.LUMEN_REG_INT_STATUS, 0xffffffff)
    return rec


def build(scenario):
    """The generic-fuzz input of one scenario (a function of a Card)."""
    card = Card()
    scenario(card)
    rec = card.q
    inp = Input()
    msix_on(inp, card)
    ram = dict(rec.ram)
    boot = None
    if rec.dev:
        boot = devmem_bootstrap(inp, rec.dev)
        for page, buf in boot.ram.items():
            assert page not in ram, 'bootstrap overlaps the scenario'
            ram[page] = buf
    for page in sorted(ram):
        stage_page(inp, page, ram[page])
    if boot:
        emit(inp, boot.ops)
    emit(inp, rec.ops)
    return inp.data()


def emit(inp, ops):
    for o in ops:
        if o[0] == 'clock':
            inp.clock_step()
        else:
            inp.mmio(o[1], o[2], o[3] if o[0] == 'w' else None)


# ---- Scenarios ----------------------------------------------------------------
#
# Small on purpose: the fuzzer mutates them; each reaches one area of the
# device with valid state so that mutations start from deep inside it.

IMAGE = T.make_image(payload=b'lumen fuzz seed firmware')
SCENARIOS = {}


def scenario(name):
    def reg(fn):
        SCENARIOS[name] = fn
        return fn
    return reg


def booted(card):
    card.boot(IMAGE, order=3)
    card.reg(C.LUMEN_REG_BOOT_STATUS)


def post(card, msgs, first):
    """Requests into slots first.. of the 8-entry ring, REQ_TAIL after."""
    for i, m in enumerate(msgs):
        card.q.memwrite(card.req + ((first + i) % 8) * T.MSG, m)
    card.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, first + len(msgs))


def requeue(card, qu, ring):
    """Reset qu and give it a fresh ring (RAM is written once per seed)."""
    qu.reset(enable=False)
    card.wreg64(T.qreg(qu.qn, C.LUMEN_QREG_RING_BASE_LO), ring)
    qu.ring = ring
    qu.enable()


@scenario('boot-ok')
def s_boot(card):
    booted(card)
    for r in (C.LUMEN_REG_FW_VERSION, C.LUMEN_REG_FW_ABI_VERSION,
              C.LUMEN_REG_DEVICE_STATUS, C.LUMEN_REG_INT_STATUS):
        card.reg(r)


@scenario('boot-bad-crc')
def s_boot_bad(card):
    card.boot(T.make_image(payload=b'lumen fuzz seed firmware', bad_pcrc=True),
              order=3, addr=T.FW_ADDR + 0x10000)
    card.reg(C.LUMEN_REG_BOOT_ERROR)
    card.soft_reset()
    booted(card)


@scenario('mailbox')
def s_mbox(card):
    booted(card)
    post(card, [T.make_msg(C.LUMEN_MBOX_PING, b'ping from the fuzz seed',
                           seq=1),
                T.make_msg(C.LUMEN_MBOX_GET_VERSION, seq=2),
                T.make_msg(C.LUMEN_MBOX_GET_IDENTITY, seq=3)], 0)
    runs(card)
    card.wreg(C.LUMEN_REG_MBOX_RESP_HEAD, 3)
    post(card, [T.make_msg(C.LUMEN_MBOX_GET_TELEMETRY, seq=4),
                T.make_msg(0x0101, seq=5),          # a link message
                T.make_msg(0x7777, seq=6)], 3)      # unknown type
    runs(card)
    card.wreg(C.LUMEN_REG_MBOX_RESP_HEAD, 6)


HOST_DATA = T.HOST_AREA         # host data pages
DEV_DATA = 0x200000             # device-memory data pages (2 MiB aligned)
VA = 0x40000000                 # source window
VA2 = 0x80000000                # destination window
FENCE_VA = 0xc0000000


def mapped(card, tables='host', src='host', dst='host', ctx=0, qn=0,
           huge=False):
    """Boot, a context whose VA/VA2 windows (2 pages each, or 2 MiB) map to
    host or device pages, and queue qn in it."""
    booted(card)
    sp = T.Space(card, ctx, tables=tables)
    size = 2 * T.HUGE if huge else 2 * T.PAGE
    for va, where, base in ((VA, src, 0), (VA2, dst, 2 * T.HUGE)):
        if where == 'host':
            sp.map(va, T.HOST_T, HOST_DATA + base, size, huge=huge)
        else:
            sp.map(va, T.DEV_T, DEV_DATA + base, size, huge=huge)
    sp.map(FENCE_VA, T.HOST_T, HOST_DATA + 4 * T.HUGE, T.PAGE)
    sp.vwrite(VA, bytes(range(256)) * 2)
    qu = T.Queue(card, qn, ctx=ctx)
    return sp, qu


def queue_seed(name, make_cmds, **kw):
    def fn(card):
        sp, qu = mapped(card, **kw)
        qu.submit(make_cmds(sp))
        runs(card)
        qu.reg(C.LUMEN_QREG_STATUS)
        qu.reg(C.LUMEN_QREG_HEAD)
    SCENARIOS[name] = fn


IRQ = C.LUMEN_CMD_F_IRQ
for where in ('host', 'dev'):
    for tables in ('host', 'device'):
        # Page tables in device memory only for the host-data variants.
        if tables == 'device' and where == 'dev':
            continue
        tag = '%s-pages%s' % (where, '-devtables' if tables == 'device'
                              else '')
        kw = dict(src=where, dst=where, tables=tables)
        queue_seed('copy-' + tag, lambda sp: [
            T.copy(VA + 3, VA2 + 0xffd, 0x1003, flags=IRQ, tag=1)], **kw)
        queue_seed('fill-' + tag, lambda sp: [
            T.fill(VA2 + 5, 0x1800, 0x1122334455667788, flags=IRQ)], **kw)
        queue_seed('signal-wait-' + tag, lambda sp: [
            T.fence(C.LUMEN_CMD_SIGNAL, VA2 + 8, 5),
            T.fence(C.LUMEN_CMD_WAIT, VA2 + 8, 5, flags=IRQ)], **kw)
        queue_seed('timestamp-nop-' + tag, lambda sp: [
            T.fence(C.LUMEN_CMD_TIMESTAMP, VA2 + 16),
            T.nop(flags=IRQ | C.LUMEN_CMD_F_BARRIER)], **kw)
        queue_seed('reduce-' + tag, lambda sp: [
            T.reduce_cmd(VA, VA2, 0x200, C.LUMEN_DT_F32,
                         C.LUMEN_REDOP_SUM, flags=IRQ),
            T.reduce_cmd(VA + 0x100, VA2 + 0x40, 0x100, C.LUMEN_DT_BF16,
                         C.LUMEN_REDOP_MAX)], **kw)
queue_seed('copy-host-to-dev', lambda sp: [
    T.copy(VA, VA2 + 0x10, 0x1fe0, flags=IRQ)], src='host', dst='dev')
queue_seed('copy-dev-to-host', lambda sp: [
    T.copy(VA + 0x800, VA2, 0x1000, flags=IRQ)], src='dev', dst='host')
queue_seed('copy-huge-pages', lambda sp: [
    T.copy(VA + 0x1ff000, VA2 + 0x1ff800, 0x1000)], src='host', dst='dev',
    huge=True)


@scenario('remote-opcodes')
def s_remote(card):
    """Each remote opcode on its own queue (no link is up: each stops)."""
    sp, qu = mapped(card)
    for qn, c in enumerate((T.cmd(C.LUMEN_CMD_RWRITE, (VA, 0, 64)),
                            T.cmd(C.LUMEN_CMD_RREAD, (VA2, 0, 64)),
                            T.cmd(C.LUMEN_CMD_RATOMIC, (VA2, 0, 1)),
                            T.cmd(C.LUMEN_CMD_RREDUCE, (VA, 0, 64)))):
        q = qu if qn == 0 else T.Queue(card, qn)
        q.submit([c])
    runs(card)

queue_seed('bad-descriptor', lambda sp: [
    T.nop(), T.cmd(C.LUMEN_CMD_LAUNCH), T.nop()])
queue_seed('mmu-fault-not-mapped', lambda sp: [
    T.copy(VA, 0x7000000000, 16, tag=0x77)])


@scenario('mmu-fault-write-readonly')
def s_ro(card):
    booted(card)
    sp = T.Space(card, 3)
    sp.map(VA, T.HOST_T, HOST_DATA, T.PAGE, perms=C.LUMEN_PTE_READ)
    sp.map(VA2, T.HOST_T, HOST_DATA + T.PAGE, T.PAGE, perms=0)
    qu = T.Queue(card, 2, ctx=3)
    other = T.Queue(card, 4, ctx=3)
    qu.submit([T.fill(VA, 8, 1, tag=9)])
    runs(card)
    for r in (C.LUMEN_REG_MMU_FAULT_STATUS, C.LUMEN_REG_MMU_FAULT_INFO):
        card.reg(r)
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    other.reset()
    other.submit([T.copy(VA2, VA, 8)])
    runs(card)


@scenario('mmu-bad-pte')
def s_bad_pte(card):
    booted(card)
    sp = T.Space(card, 5)
    sp.set_pte(VA, 3, HOST_DATA | T.RW | C.LUMEN_PTE_VALID |
               C.LUMEN_PTE_LEAF | (1 << 52))
    qu = T.Queue(card, 1, ctx=5)
    qu.submit([T.fill(VA, 8, 1)])
    runs(card)


@scenario('copy-source-in-own-bar2')
def s_own_bar(card):
    """issue 14: a host page that is the card's own BAR2 (peer-to-peer to
    itself), as COPY source and destination."""
    booted(card)
    sp = T.Space(card, 0)
    sp.map(VA, T.HOST_T, BAR2 + DEV_DATA, 2 * T.PAGE)
    sp.map(VA2, T.DEV_T, DEV_DATA, 2 * T.PAGE)
    sp.map(VA2 + 2 * T.PAGE, T.HOST_T, BAR2 + DEV_DATA + 0x1000, T.PAGE)
    qu = T.Queue(card, 0)
    # Overlapping source and destination in the same device page.
    qu.submit([T.copy(VA + 0x10, VA2, 0x1800, flags=IRQ),
               T.copy(VA2, VA2 + 2 * T.PAGE + 8, 0x100),
               T.reduce_cmd(VA, VA2, 0x100, C.LUMEN_DT_I32,
                            C.LUMEN_REDOP_SUM)])
    runs(card)


@scenario('queues-priorities')
def s_prio(card):
    sp, qu = mapped(card)
    hi = T.Queue(card, 3, prio=C.LUMEN_QPRIO_HIGH)
    lo = T.Queue(card, 7, prio=C.LUMEN_QPRIO_LOW)
    lo.submit([T.fill(VA2, 0x2000, 7), T.fence(C.LUMEN_CMD_SIGNAL,
                                                FENCE_VA, 1)])
    qu.submit([T.fence(C.LUMEN_CMD_WAIT, FENCE_VA, 1), T.copy(VA, VA2, 64)])
    hi.submit([T.copy(VA, VA2 + 64, 0x1000, flags=IRQ)])
    runs(card, 8)
    card.wreg(T.qreg(7, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)


@scenario('queue-registers')
def s_qregs(card):
    booted(card)
    for qn, val in ((0, C.LUMEN_QCTRL_ENABLE | 70 << C.LUMEN_QCTRL_CTX_SHIFT),
                    (1, C.LUMEN_QCTRL_ENABLE | 3 << C.LUMEN_QCTRL_PRIO_SHIFT),
                    (2, C.LUMEN_QCTRL_ENABLE)):
        card.wreg(T.qreg(qn, C.LUMEN_QREG_RING_ORDER), 3 + qn * 7)
        card.wreg(T.qreg(qn, C.LUMEN_QREG_CTRL), val)
    card.q.writel(BAR4 + 5 * C.LUMEN_DOORBELL_STRIDE, 1)
    for r in range(0, 0x2c, 4):
        card.reg(T.qreg(2, r))


for kind in ('HANG_QUEUE', 'DMA_FAIL', 'CORRUPT_DESC', 'WEDGE_QUEUE'):
    def _inject(card, kind=kind):
        sp, qu = mapped(card, qn=2)
        card.wreg(C.LUMEN_REG_INJECT_CTRL,
                  getattr(C, 'LUMEN_INJECT_' + kind) |
                  2 << C.LUMEN_INJECT_QUEUE_SHIFT)
        card.reg(C.LUMEN_REG_INJECT_STATUS)
        qu.submit([T.copy(VA, VA2, 64, flags=IRQ), T.nop()])
        runs(card)
        requeue(card, qu, T.RING_AREA + 0x40000)
        qu.submit([T.nop(flags=IRQ)])
        runs(card)
    SCENARIOS['inject-' + kind.lower().replace('_', '-')] = _inject

for kind in ('FW_CRASH', 'HALT', 'MBOX_HANG'):
    def _dev_inject(card, kind=kind):
        sp, qu = mapped(card)
        qu.submit([T.fence(C.LUMEN_CMD_WAIT, FENCE_VA, 1)])
        card.wreg(C.LUMEN_REG_INJECT_CTRL,
                  getattr(C, 'LUMEN_INJECT_' + kind))
        post(card, [T.make_msg(C.LUMEN_MBOX_PING, b'x', seq=1)], 0)
        qu.submit([T.nop()])
        runs(card)
        card.reg(C.LUMEN_REG_DEVICE_STATUS)
        card.soft_reset()
        booted(card)
    SCENARIOS['inject-' + kind.lower().replace('_', '-')] = _dev_inject


# ---- lumen-link-fuzz: a hostile peer on link port 0 ---------------------------
#
# qemu-device/fuzz/lumen_link_fuzz.c: the card is chip 1, port 0 on a
# chardev the harness feeds; commands separated by "FUZZ", opcode first.
L_FEED, L_WRITE, L_READ, L_CLOCK, L_REOPEN, L_FRAME, L_TRAIN = range(7)
PEER_CHIP, PEER_PORT, PEER_GEN = 2, 1, 5


class LinkInput(Input):
    def feed(self, data):
        self.op(L_FEED, data)

    def write(self, off, val):
        self.op(L_WRITE, struct.pack('<HI', off, val))

    def read(self, off):
        self.op(L_READ, struct.pack('<H', off))

    def clock(self, ns=1000000):
        self.op(L_CLOCK, struct.pack('<I', ns))

    def frame(self, f):
        """A link frame; the harness fixes its CRC."""
        self.op(L_FRAME, f)

    def train(self, up=True):
        """Training frame of the peer; the harness adds F_HEARD and the
        card's port 0 with its current generation."""
        self.op(L_TRAIN, T.train_frame(PEER_CHIP, PEER_PORT, PEER_GEN,
                                       up=up))


def lreg(r):
    return C.LUMEN_REG_LINK_BASE + r


def hello_ack(light=1, status=None):
    return T.fiber_rec(C.LUMEN_FIBER_HELLO_ACK, struct.pack(
        '<IB3sII', C.LUMEN_FIBER_OK if status is None else status, light,
        b'\0' * 3, 7, C.LUMEN_FIBER_MAX_PAYLOAD))


def light(on, reason):
    return T.fiber_rec(C.LUMEN_FIBER_LIGHT, struct.pack('<BB2sI', on, reason,
                                                        b'\0' * 2, 7))


def data_frame(seq, pkt, vc=0, ttl=8, gen=PEER_GEN):
    return struct.pack(T.DATA_FMT, C.LUMEN_LINK_MAGIC, vc,
                       C.LUMEN_LINK_FRAME_DATA, seq, len(pkt), ttl, 0, 0,
                       gen, 0, 0, 0) + pkt


def ack_frame(next_seq, nak=False, credits=None, gen=PEER_GEN):
    credits = credits or [C.LUMEN_LINK_VC_CREDITS] * C.LUMEN_LINK_NUM_VCS
    return struct.pack(T.ACK_FMT, C.LUMEN_LINK_MAGIC, 0,
                       C.LUMEN_LINK_FRAME_NAK if nak else
                       C.LUMEN_LINK_FRAME_ACK, next_seq, gen, 0, 0, 0, 0,
                       *(credits + [0] * (8 - len(credits))))


def link_up(li):
    """HELLO_ACK (lit), port 0 enabled, training answered: UP."""
    li.feed(hello_ack())
    li.write(lreg(C.LUMEN_LREG_CTRL), C.LUMEN_LCTRL_ENABLE)
    li.clock()
    li.train(up=False)
    li.train(up=True)
    li.read(lreg(C.LUMEN_LREG_STATE))


LINK_SCENARIOS = {}


def link_scenario(name):
    def reg(fn):
        LINK_SCENARIOS[name] = fn
        return fn
    return reg


@link_scenario('link-up')
def l_up(li):
    link_up(li)
    for r in (C.LUMEN_LREG_PEER_CHIP, C.LUMEN_LREG_PEER_GENERATION,
              C.LUMEN_LREG_STATUS):
        li.read(lreg(r))


@link_scenario('link-light-and-framing')
def l_light(li):
    link_up(li)
    li.feed(light(0, 1))
    li.feed(light(1, 2))
    rec = T.fiber_rec(C.LUMEN_FIBER_DATA, T.with_crc(ack_frame(0)))
    li.feed(rec[:7])                        # a record cut in pieces
    li.feed(rec[7:20])
    li.feed(rec[20:])
    li.op(L_REOPEN)
    li.feed(hello_ack(light=0))
    li.feed(light(1, 3))
    li.train()


@link_scenario('link-packets')
def l_packets(li):
    """Packets to the card (remote requests without a window, a management
    GET) and through it (routed back out of port 0), ACKs and a NAK."""
    link_up(li)
    for dst in (PEER_CHIP, 3):          # answers and forwarding: port 0
        li.write(C.LUMEN_REG_ROUTE_INDEX, dst)
        li.write(C.LUMEN_REG_ROUTE_ENTRY, T.route_word(0))
    pk = [T.packet(PEER_CHIP, 1, C.LUMEN_PKT_WRITE, bytes(range(64)),
                   size=64),
          T.packet(PEER_CHIP, 1, C.LUMEN_PKT_READ_REQ, size=256),
          T.packet(PEER_CHIP, 1, C.LUMEN_PKT_ATOMIC, size=8),
          T.packet(PEER_CHIP, 3, C.LUMEN_PKT_WRITE, b'forwarded', size=9),
          T.packet(PEER_CHIP, 1, C.LUMEN_PKT_REDUCE, bytes(16), size=16)]
    for seq, p in enumerate(pk):
        li.frame(data_frame(seq, p))
    for i, m in enumerate((
            # Directed routes: the peer used path[0] (its port 1), so the
            # card is at hop 1; a longer path goes on through the card.
            T.mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (1,),
                       hop_ptr=1),
            T.mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_ROUTES, (1,),
                       hop_ptr=1),
            T.mgmt_raw(C.LUMEN_MGMT_SET, C.LUMEN_MGMT_ATTR_PORT, (1,),
                       data=bytes(128), attr_mod=1, hop_ptr=1),
            T.mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (1, 0),
                       hop_ptr=1))):
        li.frame(data_frame(len(pk) + i, T.packet(PEER_CHIP, 0xffffffff,
                                        C.LUMEN_PKT_MGMT, m),
                            vc=C.LUMEN_VC_MGMT))
    li.frame(ack_frame(0))
    li.frame(ack_frame(0, nak=True))
    li.frame(data_frame(20, pk[0]))         # out of sequence
    li.clock()
    li.read(lreg(C.LUMEN_LREG_DATA_RX_LO))


def build_link(fn):
    li = LinkInput()
    fn(li)
    return li.data()


# ---- lumen-fabric-fuzz: the fabric's control socket and port streams -------
#
# qemu-device/fabric/fuzz/fabric_fuzz.cpp: 0x01 K LEN16 BYTES = bytes from
# port connection K, 0x02 K = K closes, else a line with a JSON control
# request. The fabric runs ring:2 (0.+x - 1.-x, 1.+x - 0.-x).

def f_hello(chip, port, version=None):
    rec = T.fiber_rec(C.LUMEN_FIBER_HELLO, struct.pack('<IBB2s', chip, port, 6,
                                                       b'\0' * 2))
    if version is not None:
        rec = rec[:2] + bytes([version]) + rec[3:]
    return rec


def f_port(k, data):
    return struct.pack('<BBH', 1, k, len(data)) + data


def f_data(payload):
    return T.fiber_rec(C.LUMEN_FIBER_DATA, payload)


FABRIC_SCENARIOS = {
    'fabric-control': [
        b'{"cmd":"list"}', b'{"cmd":"ports"}',
        b'{"cmd":"cut","port":"0.+x"}', b'{"cmd":"restore","fiber":0}',
        b'{"cmd":"set","all":true,"ber":1e-5,"latency_us":50,"rate":2e9}',
        b'{"cmd":"set","fiber":1,"loss":0.5}',
        b'{"cmd":"counters","fiber":1}', b'{"cmd":"counters","all":true}',
        b'{"cmd":"repatch","topology":"mesh:2x2","dark_ms":10}',
        b'{"cmd":"repatch","topology":"ring:2"}',
        b'{"cmd":"cut","fiber":99}', b'{"cmd":"nope"}', b'not json',
        b'{"cmd":"shutdown"}'],
    'fabric-ports': [
        # Two cards' ports attach; frames cross both fibers; a cut, a
        # restore; a port closes and comes back.
        f_port(0, f_hello(0, 0)), f_port(1, f_hello(1, 1)),
        f_port(2, f_hello(1, 0)), f_port(3, f_hello(0, 1)),
        f_port(0, f_data(bytes(range(64)))), f_port(1, f_data(b'x' * 200)),
        f_port(2, f_data(b'frame')), b'{"cmd":"cut","port":"0.+x"}',
        f_port(0, f_data(b'lost in the dark')),
        b'{"cmd":"restore","port":"0.+x"}', b'{"cmd":"counters","all":true}',
        bytes([2, 1]), f_port(1, f_hello(1, 1)),
        f_port(1, f_data(b'again')[:9]), f_port(1, f_data(b'again')[9:])],
    'fabric-port-errors': [
        f_port(0, f_data(b'data before hello')),
        f_port(1, f_hello(0, 0, version=9)),
        f_port(2, f_hello(0, 7)), f_port(3, f_hello(0, 0)),
        f_port(0, f_hello(0, 0)),            # BUSY: 0.+x is taken
        f_port(3, f_hello(0, 0)),            # a second HELLO
        f_port(3, T.fiber_rec(C.LUMEN_FIBER_LIGHT, bytes(8))),
        f_port(1, f_data(b'')),
        f_port(2, T.fiber_rec(C.LUMEN_FIBER_DATA, b'', length=1 << 20))],
}


def build_fabric(lines):
    return b'\n'.join(lines) + b'\n'


def fabric_dictionary():
    words = [b'{"cmd":"', b'"port":"', b'"fiber":', b'"all":true',
             b'"topology":"', b'"dark_ms":', b'"ber":', b'"latency_us":',
             b'"rate":', b'"loss":', b'ring:', b'mesh:', b'torus:', b'.+x',
             b'.-z', struct.pack('<H', C.LUMEN_FIBER_MAGIC)]
    for c in ('list', 'counters', 'ports', 'cut', 'restore', 'set',
              'repatch', 'shutdown'):
        words.append(c.encode())
    return ''.join('"%s"\n' % ''.join('\\x%02x' % b for b in w)
                   for w in words)


# ---- Dictionary -------------------------------------------------------------

def dictionary():
    """libFuzzer -dict entries: the separator, the opcodes of generic-fuzz
    commands, magic values, and BAR0 register offsets as the operand bytes
    an OP_WRITE carries."""
    words = [b'FUZZ', struct.pack('<I', C.LUMEN_FW_MAGIC),
             struct.pack('<I', C.LUMEN_RESET_KEY),
             struct.pack('<Q', T.RW | T.HOST_T | C.LUMEN_PTE_VALID),
             struct.pack('<Q', T.RW | T.DEV_T | C.LUMEN_PTE_VALID)]
    for name in sorted(vars(C)):
        v = getattr(C, name)
        if name.startswith('LUMEN_REG_') and isinstance(v, int) and \
                0 <= v < MSIX_TBL and v % 4 == 0 and \
                not name.endswith(('_BASE', '_STRIDE')):
            # OP_WRITE of 4 bytes to region 0 at this offset (opcode, then
            # struct { u8 size, base; u32 offset; u64 value; }).
            words.append(struct.pack('<BBBxxI', OP_WRITE, 2, 0, v))
    for q in range(4):
        for r in (C.LUMEN_QREG_CTRL, C.LUMEN_QREG_RING_BASE_LO,
                  C.LUMEN_QREG_RING_ORDER):
            words.append(struct.pack('<BBBxxI', OP_WRITE, 2, 0,
                                     T.qreg(q, r)))
    # LUMEN_CMD_OP_COUNT has no "= value" (the Contract parser skips it).
    for op in range(C.LUMEN_CMD_RREDUCE + 1):
        words.append(bytes([op, 0, 0, 0]))
    out, seen = [], set()
    for w in words:
        if w in seen or (SEP in w and w != SEP):
            continue
        seen.add(w)
        out.append('"%s"' % ''.join('\\x%02x' % b for b in w))
    return '\n'.join(out) + '\n'


def link_dictionary():
    words = [b'FUZZ', struct.pack('<H', C.LUMEN_FIBER_MAGIC),
             struct.pack('<H', C.LUMEN_LINK_MAGIC),
             struct.pack('<HBB', C.LUMEN_FIBER_MAGIC, C.LUMEN_FIBER_VERSION,
                         C.LUMEN_FIBER_DATA)]
    for t in (C.LUMEN_LINK_FRAME_TRAIN, C.LUMEN_LINK_FRAME_DATA,
              C.LUMEN_LINK_FRAME_ACK, C.LUMEN_LINK_FRAME_NAK):
        words.append(struct.pack('<HBB', C.LUMEN_LINK_MAGIC, 0, t))
    for op in range(1, C.LUMEN_PKT_REDUCE + 1):
        words.append(struct.pack('<II', PEER_CHIP, 1) + bytes([op]))
    return ''.join('"%s"\n' % ''.join('\\x%02x' % b for b in w)
                   for w in words)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split('\n\n')[1])
    out = sys.argv[1]
    corpus = os.path.join(out, 'corpus')
    os.makedirs(corpus, exist_ok=True)
    for f in os.listdir(corpus):
        os.unlink(os.path.join(corpus, f))
    for name in sorted(SCENARIOS):
        data = build(SCENARIOS[name])
        with open(os.path.join(corpus, name), 'wb') as f:
            f.write(data)
    with open(os.path.join(out, 'lumen-npu.dict'), 'w') as f:
        f.write(dictionary())
    link = os.path.join(out, 'link-corpus')
    os.makedirs(link, exist_ok=True)
    for f in os.listdir(link):
        os.unlink(os.path.join(link, f))
    for name in sorted(LINK_SCENARIOS):
        with open(os.path.join(link, name), 'wb') as f:
            f.write(build_link(LINK_SCENARIOS[name]))
    with open(os.path.join(out, 'lumen-link.dict'), 'w') as f:
        f.write(link_dictionary())
    fab = os.path.join(out, 'fabric-corpus')
    os.makedirs(fab, exist_ok=True)
    for f in os.listdir(fab):
        os.unlink(os.path.join(fab, f))
    for name in sorted(FABRIC_SCENARIOS):
        with open(os.path.join(fab, name), 'wb') as f:
            f.write(build_fabric(FABRIC_SCENARIOS[name]))
    with open(os.path.join(out, 'lumen-fabric.dict'), 'w') as f:
        f.write(fabric_dictionary())
    print('seeds in %s: %d generic-fuzz (%d bytes max), %d lumen-link-fuzz, '
          '%d lumen-fabric-fuzz' % (
              out, len(SCENARIOS), max(os.path.getsize(os.path.join(corpus, n))
                                       for n in SCENARIOS),
              len(LINK_SCENARIOS), len(FABRIC_SCENARIOS)))


if __name__ == '__main__':
    main()
