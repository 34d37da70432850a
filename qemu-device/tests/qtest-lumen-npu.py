#!/usr/bin/python3
"""Device-level tests of the lumen-npu QEMU model, without a guest.

QEMU runs with the qtest accelerator: this script is the "CPU". It programs
PCI config space through ports 0xcf8/0xcfc, places firmware images and
mailbox rings in guest RAM, drives the registers, and reads what the device
DMA'd back. MSI-X table entries point into guest RAM, so every MSI-X message
is a visible memory write. Register offsets and codes are parsed from
firmware-iface/include/lumen/*.h, so the test follows the contract.

Usage: qemu-device/tests/qtest-lumen-npu.py [--qemu PATH] [-v] [TEST...]
The QEMU binary is --qemu, else $LUMEN_QEMU, else
`qemu-device/build-qemu --print-path`. Prints one line per test and a final
"N passed, N failed" line; exits 1 if any test failed.
"""

import argparse
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
IFACE = os.path.join(REPO, 'firmware-iface', 'include', 'lumen')


# ---- Contract constants from the C headers ----------------------------------

class Contract:
    """#define NAME VALUE and enum NAME = VALUE of the lumen headers."""

    def __init__(self, headers):
        ns = {}
        define = re.compile(r'^#define\s+(LUMEN_\w+)\s+(.+?)\s*(/\*.*)?$')
        enum_item = re.compile(r'^\s+(LUMEN_\w+)\s*=\s*([^,/]+),?')
        for name in headers:
            with open(os.path.join(IFACE, name)) as f:
                for line in f:
                    m = define.match(line) or enum_item.match(line)
                    if not m:
                        continue
                    expr = re.sub(r'(0x[0-9a-fA-F]+|\d+)[uUlL]+\b', r'\1',
                                  m.group(2))
                    try:
                        ns[m.group(1)] = int(eval(expr, {}, dict(ns)))
                    except Exception:
                        pass        # function-like or non-integer macro
        self.__dict__.update(ns)


C = Contract(['lumen_regs.h', 'lumen_fw_image.h', 'lumen_mbox.h',
              'lumen_queue.h', 'lumen_mmu.h', 'lumen_link.h', 'lumen_fiber.h',
              'lumen_remote.h', 'lumen_mgmt.h'])
# Enumerators without "= value" are not parsed: LUMEN_INJECT_COUNT.
INJECT_COUNT = C.LUMEN_INJECT_WEDGE_QUEUE + 1
# The kinds INJECT_CTRL arms on a queue (NONE disarms); the rest are device
# injections.
QUEUE_KINDS = (C.LUMEN_INJECT_NONE, C.LUMEN_INJECT_HANG_QUEUE,
               C.LUMEN_INJECT_DMA_FAIL, C.LUMEN_INJECT_CORRUPT_DESC,
               C.LUMEN_INJECT_WEDGE_QUEUE)
# hw-spec 13.3 (emulation): packets a port holds per VC waiting for credit
# without a receive buffer of the chip (created there, or rerouted).
OWN_MAX = 128
CAPS_ALL = (C.LUMEN_CAP_MAILBOX | C.LUMEN_CAP_TELEMETRY |
            C.LUMEN_CAP_DMA_QUEUES | C.LUMEN_CAP_MMU |
            C.LUMEN_CAP_FAULT_INJECT | C.LUMEN_CAP_LINK_PORTS |
            C.LUMEN_CAP_LINKS | C.LUMEN_CAP_REDUCE | C.LUMEN_CAP_USER_QUEUES)


# ---- qtest transport --------------------------------------------------------

class QTest:
    def __init__(self, qemu, args, workdir, name='qemu'):
        self.log = os.path.join(workdir, name + '.log')
        self.stderr = open(os.path.join(workdir, name + '.stderr'), 'w+')
        self.mon_path = os.path.join(workdir, name + '.mon')
        argv = [qemu, '-machine', 'q35', '-accel', 'qtest', '-qtest', 'stdio',
                '-nodefaults', '-display', 'none', '-m', '128M',
                '-monitor', 'unix:%s,server=on,wait=off' % self.mon_path,
                '-d', 'guest_errors,unimp', '-D', self.log] + args
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        self.mon = None

    def hmp(self, command):
        """Run a human monitor command, return its output."""
        if self.mon is None:
            for _ in range(100):
                if os.path.exists(self.mon_path):
                    break
                time.sleep(0.05)
            self.mon = socket.socket(socket.AF_UNIX)
            self.mon.connect(self.mon_path)
            self.mon_buf = b''
            self._until_prompt()
        self.mon.sendall(command.encode() + b'\n')
        out = self._until_prompt().decode(errors='replace')
        return out.split('\n', 1)[1] if '\n' in out else ''

    def _until_prompt(self):
        while b'(qemu) ' not in self.mon_buf:
            data = self.mon.recv(65536)
            if not data:
                raise RuntimeError('monitor closed')
            self.mon_buf += data
        out, self.mon_buf = self.mon_buf.split(b'(qemu) ', 1)
        return out.replace(b'\r', b'')

    def cmd(self, line):
        return self.cmds([line])[0]

    def cmds(self, lines):
        """Several commands in one write (the answers of each): QEMU reads
        and runs a short batch in one go, with no bottom half in between."""
        self.proc.stdin.write(''.join(line + '\n' for line in lines))
        self.proc.stdin.flush()
        out = []
        for line in lines:
            while True:
                resp = self.proc.stdout.readline()
                if not resp:
                    self.stderr.seek(0)
                    raise RuntimeError('QEMU exited (%s) after "%s": %s' % (
                        self.proc.poll(), line, self.stderr.read().strip()))
                if not resp.startswith('IRQ'):
                    break
            words = resp.split()
            if not words or words[0] != 'OK':
                raise RuntimeError('qtest "%s" -> %s' % (line, resp.strip()))
            out.append(words[1:])
        return out

    def close(self):
        if self.mon:
            self.mon.close()
        if self.proc.poll() is None:
            # qtest has no quit command; libqtest also ends QEMU by signal.
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdin.close()
        self.stderr.close()

    def alive(self):
        return self.proc.poll() is None

    def guest_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ''

    # Memory and ports.
    def rd(self, width, addr):
        return int(self.cmd('read%s 0x%x' % (width, addr))[0], 16)

    def wr(self, width, addr, val):
        self.cmd('write%s 0x%x 0x%x' % (width, addr, val))

    def readl(self, addr):
        return self.rd('l', addr)

    def writel(self, addr, val):
        self.wr('l', addr, val)

    def memread(self, addr, size):
        return bytes.fromhex(self.cmd('read 0x%x 0x%x' % (addr, size))[0][2:])

    def memwrite(self, addr, data):
        self.cmd('write 0x%x 0x%x 0x%s' % (addr, len(data), data.hex()))

    def outl(self, port, val):
        self.cmd('outl 0x%x 0x%x' % (port, val))

    def inl(self, port):
        return int(self.cmd('inl 0x%x' % port)[0], 16)

    def outw(self, port, val):
        self.cmd('outw 0x%x 0x%x' % (port, val))

    def inw(self, port):
        return int(self.cmd('inw 0x%x' % port)[0], 16)

    def clock_step(self, ns):
        return int(self.cmd('clock_step %d' % ns)[0])


# ---- One card ---------------------------------------------------------------

MSI_BASE = 0x10000          # MSI-X landing words, 4 bytes per vector
FW_ADDR = 0x100000
REQ_RING = 0x200000
RESP_RING = 0x300000
MSG = C.LUMEN_MBOX_MSG_SIZE


class Card:
    """A lumen-npu at bus 0, slot @slot; BARs placed by the test."""

    def __init__(self, q, slot, bar0, bar2, bar4, mem_size=256 << 20,
                 queues=16, bus=0):
        self.q, self.slot, self.bus = q, slot, bus
        self.bar0, self.bar2, self.bar4 = bar0, bar2, bar4
        self.mem_size, self.queues = mem_size, queues
        self.msi = MSI_BASE + slot * 0x400
        self.setup()

    def cfg_addr(self, reg):
        return 0x80000000 | self.bus << 16 | self.slot << 11 | (reg & 0xfc)

    def cfg_read(self, reg):
        self.q.outl(0xcf8, self.cfg_addr(reg))
        return self.q.inl(0xcfc)

    def cfg_write(self, reg, val):
        self.q.outl(0xcf8, self.cfg_addr(reg))
        self.q.outl(0xcfc, val)

    def cfg_read16(self, reg):
        self.q.outl(0xcf8, self.cfg_addr(reg))
        return self.q.inw(0xcfc + (reg & 2))

    def cfg_write16(self, reg, val):
        self.q.outl(0xcf8, self.cfg_addr(reg))
        self.q.outw(0xcfc + (reg & 2), val)

    def bar_size(self, reg, is64):
        old = self.cfg_read(reg)
        self.cfg_write(reg, 0xffffffff)
        lo = self.cfg_read(reg) & ~0xf
        self.cfg_write(reg, old)
        hi = 0xffffffff
        if is64:
            old_hi = self.cfg_read(reg + 4)
            self.cfg_write(reg + 4, 0xffffffff)
            hi = self.cfg_read(reg + 4)
            self.cfg_write(reg + 4, old_hi)
        mask = (hi << 32 | lo) if is64 else (0xffffffff00000000 | lo)
        return (~mask + 1) & 0xffffffffffffffff

    def find_cap(self, cap_id):
        pos = self.cfg_read(0x34) & 0xff
        while pos:
            hdr = self.cfg_read(pos)
            if hdr & 0xff == cap_id:
                return pos
            pos = (hdr >> 8) & 0xff
        return None

    def setup(self):
        self.cfg_write(0x10, self.bar0)
        self.cfg_write(0x18, self.bar2 & 0xffffffff)
        self.cfg_write(0x1c, self.bar2 >> 32)
        self.cfg_write(0x20, self.bar4 & 0xffffffff)
        self.cfg_write(0x24, self.bar4 >> 32)
        self.cfg_write16(0x04, 0x0006)          # memory space + bus master
        self.msix_cap = self.find_cap(0x11)
        nvec = self.reg(C.LUMEN_REG_NUM_VECTORS)
        for v in range(nvec):
            e = self.bar0 + C.LUMEN_MSIX_TABLE_OFFSET + 16 * v
            self.q.writel(e + 0, self.msi + 4 * v)
            self.q.writel(e + 4, 0)
            self.q.writel(e + 8, 0xa000 + v)
            self.q.writel(e + 12, 0)            # unmasked
        ctrl = self.cfg_read16(self.msix_cap + 2)
        self.cfg_write16(self.msix_cap + 2, ctrl | 0x8000)
        self.clear_msi()

    # MSI-X observation.
    def clear_msi(self):
        self.q.memwrite(self.msi, bytes(0x400))

    def msi_fired(self, v):
        return self.q.readl(self.msi + 4 * v) == 0xa000 + v

    # Registers.
    def reg(self, off):
        return self.q.readl(self.bar0 + off)

    def wreg(self, off, val):
        self.q.writel(self.bar0 + off, val)

    def wreg64(self, off, val):
        self.wreg(off, val & 0xffffffff)
        self.wreg(off + 4, val >> 32)

    def reg64(self, off):
        return self.reg(off) | self.reg(off + 4) << 32

    def errors(self):
        return (self.reg(C.LUMEN_REG_ERR_STATUS),
                self.reg(C.LUMEN_REG_ERR_LAST_CODE),
                self.reg64(C.LUMEN_REG_ERR_LAST_INFO_LO))

    def clear_errors(self):
        self.wreg(C.LUMEN_REG_ERR_STATUS, 0xffffffff)
        self.wreg(C.LUMEN_REG_INT_STATUS, 0xffffffff)
        self.clear_msi()

    def poll(self, off, pred, what, tries=200):
        for _ in range(tries):
            v = self.reg(off)
            if pred(v):
                return v
            self.q.clock_step(100000)
        raise AssertionError('timed out waiting for %s (reg 0x%x = 0x%x)' %
                             (what, off, v))

    # Firmware and mailbox.
    def soft_reset(self):
        self.wreg(C.LUMEN_REG_SOFT_RESET, C.LUMEN_RESET_KEY)
        self.poll(C.LUMEN_REG_DEVICE_STATUS,
                  lambda v: v & C.LUMEN_DEVSTS_RESET_DONE, 'RESET_DONE')
        self.clear_msi()

    def boot(self, image, order=2, size=None, addr=None):
        base = addr if addr is not None else FW_ADDR + self.slot * 0x100000
        self.fw_addr = base
        if image is not None:
            self.q.memwrite(base, image)
        self.req = REQ_RING + self.slot * 0x10000
        self.resp = RESP_RING + self.slot * 0x10000
        self.wreg64(C.LUMEN_REG_MBOX_REQ_BASE_LO, self.req)
        self.wreg64(C.LUMEN_REG_MBOX_RESP_BASE_LO, self.resp)
        if order is not None:
            self.wreg(C.LUMEN_REG_MBOX_RING_ORDER, order)
        self.order = order or 0
        self.wreg64(C.LUMEN_REG_FW_ADDR_LO, base)
        self.wreg(C.LUMEN_REG_FW_SIZE, len(image) if size is None else size)
        self.wreg(C.LUMEN_REG_BOOT_CTRL, C.LUMEN_BOOT_CTRL_BOOT)
        return self.poll(C.LUMEN_REG_BOOT_STATUS,
                         lambda v: v in (C.LUMEN_BOOT_RUNNING,
                                         C.LUMEN_BOOT_FAILED), 'boot end')

    def post(self, msgs):
        """Write requests at REQ_TAIL and ring the doorbell once."""
        tail = self.reg(C.LUMEN_REG_MBOX_REQ_TAIL)
        entries = 1 << self.order
        for m in msgs:
            self.q.memwrite(self.req + (tail % entries) * MSG, m)
            tail = (tail + 1) & 0xffffffff
        self.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, tail)
        return tail

    def responses(self, count):
        """Wait for @count new responses, consume them, return them."""
        head = self.reg(C.LUMEN_REG_MBOX_RESP_HEAD)
        self.poll(C.LUMEN_REG_MBOX_RESP_TAIL,
                  lambda v: (v - head) & 0xffffffff >= count, 'responses')
        entries = 1 << self.order
        out = []
        for i in range(count):
            slot = ((head + i) & 0xffffffff) % entries
            out.append(parse_msg(self.q.memread(self.resp + slot * MSG, MSG)))
        self.wreg(C.LUMEN_REG_MBOX_RESP_HEAD, (head + count) & 0xffffffff)
        return out

    def call(self, msg):
        self.post([msg])
        return self.responses(1)[0]


def make_msg(mtype, payload=b'', seq=1, version=None, status=0, flags=0,
             length=None):
    version = C.LUMEN_MBOX_VERSION if version is None else version
    length = len(payload) if length is None else length
    hdr = struct.pack('<HHIIHH', version, mtype, seq, status, length, flags)
    return (hdr + payload).ljust(MSG, b'\0')[:MSG]


def parse_msg(raw):
    version, mtype, seq, status, length, flags = struct.unpack_from('<HHIIHH',
                                                                    raw)
    return dict(version=version, type=mtype, seq=seq, status=status,
                len=length, flags=flags, payload=raw[16:16 + length],
                tail=raw[16 + length:])


def make_image(payload=b'lumen qtest firmware payload', magic=None,
               abi_major=None, abi_minor=0, fw_version=0x010203, flags=0,
               build_id=b'qtest-build', header_size=64, image_size=None,
               bad_hcrc=False, bad_pcrc=False):
    magic = C.LUMEN_FW_MAGIC if magic is None else magic
    abi_major = C.LUMEN_FW_ABI_MAJOR if abi_major is None else abi_major
    image_size = 64 + len(payload) if image_size is None else image_size
    pcrc = zlib.crc32(payload) ^ (1 if bad_pcrc else 0)
    hdr = struct.pack('<IHHIIIIII32s', magic, abi_major, abi_minor,
                      header_size, image_size, fw_version, pcrc, flags, 0,
                      build_id)
    hcrc = zlib.crc32(hdr) ^ (1 if bad_hcrc else 0)
    return hdr[:28] + struct.pack('<I', hcrc) + hdr[32:] + payload


# ---- Tests ------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def one_card(env, props=''):
    q = env.start(['-device', 'lumen-npu,addr=4.0' + props])
    return q, Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)


def expect_error(card, err_bit, code, info=None):
    status, last, last_info = card.errors()
    assert status & err_bit, 'ERR_STATUS 0x%x lacks 0x%x' % (status, err_bit)
    assert last == code, 'ERR_LAST_CODE %d, expected %d' % (last, code)
    if info is not None:
        assert last_info == info, 'ERR_LAST_INFO 0x%x, expected 0x%x' % (
            last_info, info)


@test
def identity(env):
    q = env.start(['-device', 'lumen-npu,addr=4.0,chip-id=5,queues=20,'
                   'link-ports=4,mem-size=64M'])
    card = Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000, mem_size=64 << 20,
                queues=20)
    vid = card.cfg_read(0)
    assert vid == C.LUMEN_PCI_DEVICE_ID << 16 | C.LUMEN_PCI_VENDOR_ID, hex(vid)
    assert card.cfg_read(8) == C.LUMEN_PCI_CLASS << 8 | C.LUMEN_PCI_REVISION
    assert card.cfg_read(0x2c) == (C.LUMEN_PCI_SUBSYS_ID << 16 |
                                   C.LUMEN_PCI_SUBSYS_VENDOR_ID)
    assert card.cfg_read(0x3c) >> 8 & 0xff == 0, 'interrupt pin should be 0'
    assert card.find_cap(0x10) is not None, 'no PCIe capability'
    assert card.bar_size(0x10, False) == C.LUMEN_REGS_BAR_SIZE
    assert card.bar_size(0x18, True) == 64 << 20
    assert card.bar_size(0x20, True) == 128 << 10     # 20 pages -> 32 pages
    assert card.cfg_read(0x18) & 0xf == 0xc, 'BAR2: 64-bit prefetchable'
    assert card.cfg_read(0x20) & 0xf == 0x4, 'BAR4: 64-bit'
    card.setup()
    expect = {
        C.LUMEN_REG_MAGIC: C.LUMEN_MAGIC,
        C.LUMEN_REG_HW_VERSION: C.LUMEN_HW_VERSION,
        C.LUMEN_REG_CAPS: CAPS_ALL,
        C.LUMEN_REG_CHIP_ID: 5,
        C.LUMEN_REG_MEM_SIZE_LO: 64 << 20,
        C.LUMEN_REG_MEM_SIZE_HI: 0,
        C.LUMEN_REG_NUM_QUEUES: 20,
        C.LUMEN_REG_NUM_LINK_PORTS: 4,
        C.LUMEN_REG_NUM_VECTORS: 24,
        C.LUMEN_REG_DEVICE_STATUS: 0,
        C.LUMEN_REG_BOOT_STATUS: C.LUMEN_BOOT_OFF,
        C.LUMEN_REG_ERR_STATUS: 0,
        C.LUMEN_REG_TEMP_CRIT_MC: 95000,
    }
    for off, val in expect.items():
        got = card.reg(off)
        assert got == val, 'reg 0x%x = 0x%x, expected 0x%x' % (off, got, val)
    msix_ctrl = card.cfg_read16(card.msix_cap + 2)
    assert msix_ctrl & 0x7ff == 23, 'MSI-X table size %d' % (msix_ctrl & 0x7ff)
    tbl = card.cfg_read(card.msix_cap + 4)
    pba = card.cfg_read(card.msix_cap + 8)
    assert tbl == C.LUMEN_MSIX_TABLE_OFFSET | C.LUMEN_BAR_REGS, hex(tbl)
    assert pba == C.LUMEN_MSIX_PBA_OFFSET | C.LUMEN_BAR_REGS, hex(pba)


@test
def device_memory(env):
    q, card = one_card(env)
    q.writel(card.bar2, 0x12345678)
    q.writel(card.bar2 + (256 << 20) - 4, 0xcafef00d)
    q.wr('b', card.bar2 + 9, 0x5a)
    card.soft_reset()
    assert q.readl(card.bar2) == 0x12345678
    assert q.readl(card.bar2 + (256 << 20) - 4) == 0xcafef00d
    assert q.rd('b', card.bar2 + 9) == 0x5a


@test
def scratch_and_soft_reset(env):
    q, card = one_card(env)
    card.wreg(C.LUMEN_REG_SCRATCH, 0xdeadbeef)
    assert card.reg(C.LUMEN_REG_SCRATCH) == 0xdeadbeef
    card.wreg(C.LUMEN_REG_INT_MASK, C.LUMEN_INT_ALL)
    card.wreg(C.LUMEN_REG_SOFT_RESET, 0x1234)     # wrong key
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 C.LUMEN_REG_SOFT_RESET)
    assert card.reg(C.LUMEN_REG_SCRATCH) == 0xdeadbeef
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_SCRATCH) == 0
    assert card.reg(C.LUMEN_REG_INT_MASK) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == 0
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_RESET_DONE
    assert card.reg(C.LUMEN_REG_SOFT_RESET) == 0


@test
def boot_ok(env):
    q, card = one_card(env)
    card.soft_reset()
    st = card.boot(make_image(abi_minor=7, build_id=b'build-42'))
    assert st == C.LUMEN_BOOT_RUNNING, 'BOOT_ERROR %d' % card.reg(
        C.LUMEN_REG_BOOT_ERROR)
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == 0
    assert card.reg(C.LUMEN_REG_FW_VERSION) == 0x010203
    assert card.reg(C.LUMEN_REG_FW_ABI_VERSION) == (
        C.LUMEN_FW_ABI_MAJOR << 16 | min(7, C.LUMEN_FW_ABI_MINOR))
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_FW_RUNNING
    assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_BOOT
    assert card.msi_fired(C.LUMEN_VEC_MBOX), 'no MSI-X on vector 0'
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    for reg in (C.LUMEN_REG_MBOX_REQ_TAIL, C.LUMEN_REG_MBOX_REQ_HEAD,
                C.LUMEN_REG_MBOX_RESP_TAIL, C.LUMEN_REG_MBOX_RESP_HEAD):
        assert card.reg(reg) == 0


@test
def boot_refusals(env):
    q, card = one_card(env)
    good = make_image()
    cases = [
        ('magic', make_image(magic=0x11111111), None,
         C.LUMEN_STATUS_BAD_MAGIC),
        ('header crc', make_image(bad_hcrc=True), None,
         C.LUMEN_STATUS_BAD_CHECKSUM),
        ('payload crc', make_image(bad_pcrc=True), None,
         C.LUMEN_STATUS_BAD_CHECKSUM),
        ('abi', make_image(abi_major=2), None, C.LUMEN_STATUS_BAD_ABI),
        ('flags', make_image(flags=1), None, C.LUMEN_STATUS_RESERVED_SET),
        ('header_size', make_image(header_size=128), None,
         C.LUMEN_STATUS_BAD_SIZE),
        ('image_size', make_image(image_size=200), None,
         C.LUMEN_STATUS_BAD_SIZE),
        ('FW_SIZE short', good, len(good) - 1, C.LUMEN_STATUS_BAD_SIZE),
        ('FW_SIZE < header', good, 63, C.LUMEN_STATUS_BAD_SIZE),
        ('FW_SIZE 0', good, 0, C.LUMEN_STATUS_BAD_SIZE),
        ('FW_SIZE huge', good, C.LUMEN_FW_MAX_SIZE + 1,
         C.LUMEN_STATUS_BAD_SIZE),
    ]
    for name, image, size, code in cases:
        card.soft_reset()
        card.clear_errors()
        st = card.boot(image, size=size)
        assert st == C.LUMEN_BOOT_FAILED, name
        assert card.reg(C.LUMEN_REG_BOOT_ERROR) == code, '%s: BOOT_ERROR %d' % (
            name, card.reg(C.LUMEN_REG_BOOT_ERROR))
        expect_error(card, C.LUMEN_ERR_FW_IMAGE, code, card.fw_addr)
        assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_BOOT, name
        assert card.msi_fired(C.LUMEN_VEC_MBOX), name
        assert card.msi_fired(C.LUMEN_VEC_ERROR), name
        assert card.reg(C.LUMEN_REG_FW_VERSION) == 0, name
        assert not card.reg(C.LUMEN_REG_DEVICE_STATUS) & \
            C.LUMEN_DEVSTS_FW_RUNNING, name
        # FAILED needs a soft reset before another BOOT.
        card.wreg(C.LUMEN_REG_BOOT_CTRL, C.LUMEN_BOOT_CTRL_BOOT)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE,
                     C.LUMEN_REG_BOOT_CTRL)
    # Bad ring order (never programmed) is refused before any fetch.
    card.soft_reset()
    card.clear_errors()
    assert card.boot(good, order=None) == C.LUMEN_BOOT_FAILED
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == C.LUMEN_STATUS_BAD_ARGUMENT
    expect_error(card, C.LUMEN_ERR_FW_IMAGE, C.LUMEN_STATUS_BAD_ARGUMENT)
    # And after all that a good image still boots.
    card.soft_reset()
    assert card.boot(good) == C.LUMEN_BOOT_RUNNING


@test
def boot_dma_errors(env):
    q, card = one_card(env)
    good = make_image()
    # An address nothing decodes.
    card.soft_reset()
    card.clear_errors()
    assert card.boot(good, addr=0x7ff000000000) == C.LUMEN_BOOT_FAILED
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == C.LUMEN_STATUS_DMA_ERROR
    expect_error(card, C.LUMEN_ERR_DMA, C.LUMEN_STATUS_DMA_ERROR,
                 0x7ff000000000)
    # An image that wraps the 64-bit bus address space.
    card.soft_reset()
    card.clear_errors()
    assert card.boot(None, addr=0xffffffffffffff00,
                     size=len(good)) == C.LUMEN_BOOT_FAILED
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == C.LUMEN_STATUS_DMA_ERROR
    # Bus mastering off: DMA must fail, not read memory.
    card.soft_reset()
    card.clear_errors()
    card.cfg_write16(0x04, 0x0002)
    st = card.boot(good)
    card.cfg_write16(0x04, 0x0006)
    assert st == C.LUMEN_BOOT_FAILED
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == C.LUMEN_STATUS_DMA_ERROR


@test
def wrong_state_writes(env):
    q, card = one_card(env)
    card.soft_reset()
    assert card.boot(make_image()) == C.LUMEN_BOOT_RUNNING
    card.clear_errors()
    for off in (C.LUMEN_REG_FW_ADDR_LO, C.LUMEN_REG_FW_SIZE,
                C.LUMEN_REG_MBOX_REQ_BASE_HI, C.LUMEN_REG_MBOX_RING_ORDER,
                C.LUMEN_REG_BOOT_CTRL):
        before = card.reg(off)
        card.wreg(off, 1)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE,
                     off)
        assert card.reg(off) == before, 'reg 0x%x changed' % off
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING))['status'] == 0


@test
def register_access_rules(env):
    q, card = one_card(env, ',fault-inject=off')
    assert card.reg(C.LUMEN_REG_CAPS) == CAPS_ALL & ~C.LUMEN_CAP_FAULT_INJECT
    card.clear_errors()
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    # Reserved offsets read 0 without an error.
    for off in (0x030, 0x108, 0x244, 0x328, 0x600, 0xc98, 0xcfc, 0x2800,
                0x7ffc, 0xa000, 0xfffc):
        assert card.reg(off) == 0, hex(off)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count
    # Fault injection is reserved without its capability.
    assert card.reg(0x504) == 0
    card.wreg(0x500, 1)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 0x500)
    assert card.msi_fired(C.LUMEN_VEC_ERROR)
    # Bad widths, alignment, read-only and reserved writes.
    bad = [
        lambda: q.wr('b', card.bar0 + C.LUMEN_REG_SCRATCH, 1),
        lambda: q.wr('w', card.bar0 + C.LUMEN_REG_SCRATCH, 1),
        lambda: q.wr('q', card.bar0 + C.LUMEN_REG_SCRATCH, 1),
        lambda: q.rd('b', card.bar0 + C.LUMEN_REG_MAGIC),
        lambda: q.rd('q', card.bar0 + C.LUMEN_REG_MAGIC),
        lambda: q.writel(card.bar0 + C.LUMEN_REG_SCRATCH + 2, 1),
        lambda: card.wreg(C.LUMEN_REG_MAGIC, 0),
        lambda: card.wreg(C.LUMEN_REG_ERR_COUNT, 0),
        lambda: card.wreg(C.LUMEN_REG_BOOT_STATUS, 0),
        lambda: card.wreg(C.LUMEN_REG_MBOX_REQ_HEAD, 0),
        lambda: card.wreg(C.LUMEN_REG_TEMP_MC, 0),
        lambda: card.wreg(0x030, 0),
        lambda: card.wreg(0x2800, 0),
        lambda: card.wreg(C.LUMEN_REG_INT_MASK, 0x80),
        lambda: card.wreg(C.LUMEN_REG_BOOT_CTRL, 2),
        lambda: card.wreg(C.LUMEN_REG_MBOX_RING_ORDER, 9),
        lambda: card.wreg(C.LUMEN_REG_POWER_CAP_MW, 0),
        lambda: card.wreg(C.LUMEN_REG_POWER_CAP_MW, 150001),
    ]
    for i, access in enumerate(bad):
        before = card.reg(C.LUMEN_REG_ERR_COUNT)
        access()
        assert card.reg(C.LUMEN_REG_ERR_COUNT) == before + 1, 'access %d' % i
        assert card.reg(C.LUMEN_REG_ERR_STATUS) & C.LUMEN_ERR_REG_ACCESS
    assert card.reg(C.LUMEN_REG_SCRATCH) == 0
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC
    assert card.reg(C.LUMEN_REG_MBOX_RING_ORDER) == 0
    assert 'lumen-npu: chip 0: BAR0 0x2c' in q.guest_log()


@test
def error_interrupt_rules(env):
    q, card = one_card(env)
    card.clear_errors()
    card.wreg(C.LUMEN_REG_MAGIC, 0)
    assert card.msi_fired(C.LUMEN_VEC_ERROR)
    assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_ERROR
    # Same class again: counted, no new INT_ERROR message.
    card.clear_msi()
    card.wreg(C.LUMEN_REG_INT_STATUS, C.LUMEN_INT_ERROR)
    card.wreg(C.LUMEN_REG_CAPS, 0)
    assert not card.msi_fired(C.LUMEN_VEC_ERROR)
    assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_ERROR == 0
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 C.LUMEN_REG_CAPS)
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == 2
    # Masked cause: INT_STATUS bit set, no message, no replay on unmask.
    card.wreg(C.LUMEN_REG_ERR_STATUS, C.LUMEN_ERR_REG_ACCESS)
    card.wreg(C.LUMEN_REG_INT_MASK, C.LUMEN_INT_ERROR)
    card.wreg(C.LUMEN_REG_CAPS, 0)
    assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_ERROR
    assert not card.msi_fired(C.LUMEN_VEC_ERROR)
    card.wreg(C.LUMEN_REG_INT_MASK, 0)
    assert not card.msi_fired(C.LUMEN_VEC_ERROR)
    # MSI-X per-vector mask: the PBA records the pending message.
    card.wreg(C.LUMEN_REG_ERR_STATUS, 0xffffffff)
    entry = card.bar0 + C.LUMEN_MSIX_TABLE_OFFSET + 16 * C.LUMEN_VEC_ERROR
    q.writel(entry + 12, 1)
    card.wreg(C.LUMEN_REG_CAPS, 0)
    assert not card.msi_fired(C.LUMEN_VEC_ERROR)
    pba = q.readl(card.bar0 + C.LUMEN_MSIX_PBA_OFFSET)
    assert pba & (1 << C.LUMEN_VEC_ERROR), 'PBA 0x%x' % pba
    q.writel(entry + 12, 0)
    assert card.msi_fired(C.LUMEN_VEC_ERROR), 'pending message not sent'


@test
def mailbox_messages(env):
    q, card = one_card(env, ',chip-id=3')
    card.soft_reset()
    assert card.boot(make_image(build_id=b'bid-7'), order=3) == \
        C.LUMEN_BOOT_RUNNING
    card.clear_errors()

    r = card.call(make_msg(C.LUMEN_MBOX_PING, b'hello lumen', seq=77))
    assert r['status'] == 0 and r['seq'] == 77 and r['version'] == 1
    assert r['type'] == C.LUMEN_MBOX_PING | C.LUMEN_MBOX_RESPONSE
    assert r['payload'] == b'hello lumen' and r['flags'] == 0
    assert r['tail'] == bytes(len(r['tail'])), 'response tail not zeroed'
    assert card.msi_fired(C.LUMEN_VEC_MBOX)
    assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_MBOX

    big = bytes(range(240))
    r = card.call(make_msg(C.LUMEN_MBOX_PING, big, seq=78))
    assert r['status'] == 0 and r['payload'] == big

    r = card.call(make_msg(C.LUMEN_MBOX_GET_VERSION, seq=79))
    assert r['status'] == 0 and r['len'] == 48
    fw, amaj, amin, mv, rsv, hw = struct.unpack_from('<IHHHHI', r['payload'])
    assert (fw, amaj, amin, mv, rsv, hw) == (
        0x010203, C.LUMEN_FW_ABI_MAJOR, C.LUMEN_FW_ABI_MINOR,
        C.LUMEN_MBOX_VERSION, 0, C.LUMEN_HW_VERSION)
    assert r['payload'][16:48].rstrip(b'\0') == b'bid-7'

    r = card.call(make_msg(C.LUMEN_MBOX_GET_IDENTITY, seq=80))
    assert r['status'] == 0 and r['len'] == 64
    serial = r['payload'][:32]
    chip, rev, mem, nq, nl, caps, rsv = struct.unpack_from('<IIQIIII',
                                                           r['payload'], 32)
    assert serial.rstrip(b'\0') == b'LN1-00000003', serial
    assert (chip, rev, mem, nq, nl, caps, rsv) == (
        3, 1, 256 << 20, 16, 6, CAPS_ALL, 0)

    r = card.call(make_msg(C.LUMEN_MBOX_GET_TELEMETRY, seq=81))
    assert r['status'] == 0 and r['len'] == 40
    (temp, power, core, memclk, busy, uptime, crit,
     cap) = struct.unpack_from('<IIIIQQII', r['payload'])
    assert (temp, power, core, memclk, busy, crit, cap) == (
        35000, 25000, 1000, 1600, 0, 95000, 150000), r['payload'].hex()

    # Per-message errors: answered, never ignored, no ERR_STATUS.
    bad = [
        (make_msg(C.LUMEN_MBOX_PING, version=2, seq=90),
         C.LUMEN_STATUS_BAD_VERSION),
        (make_msg(C.LUMEN_MBOX_PING, version=0, seq=91),
         C.LUMEN_STATUS_BAD_VERSION),
        (make_msg(0x0777, seq=92), C.LUMEN_STATUS_UNKNOWN_MSG),
        (make_msg(0x0100, seq=93), C.LUMEN_STATUS_UNKNOWN_MSG),
        (make_msg(C.LUMEN_MBOX_PING | C.LUMEN_MBOX_RESPONSE, seq=94),
         C.LUMEN_STATUS_UNKNOWN_MSG),
        (make_msg(C.LUMEN_MBOX_GET_VERSION, b'xx', seq=95),
         C.LUMEN_STATUS_BAD_LENGTH),
        (make_msg(C.LUMEN_MBOX_PING, length=241, seq=96),
         C.LUMEN_STATUS_BAD_LENGTH),
        (make_msg(C.LUMEN_MBOX_PING, length=0xffff, seq=97),
         C.LUMEN_STATUS_BAD_LENGTH),
        (make_msg(C.LUMEN_MBOX_PING, flags=1, seq=98),
         C.LUMEN_STATUS_RESERVED_SET),
        (make_msg(C.LUMEN_MBOX_GET_IDENTITY, status=5, seq=99),
         C.LUMEN_STATUS_RESERVED_SET),
        # Order of checks: version before type before length.
        (make_msg(0x0777, version=9, length=300, seq=100),
         C.LUMEN_STATUS_BAD_VERSION),
        (make_msg(0x0777, length=300, seq=101), C.LUMEN_STATUS_UNKNOWN_MSG),
        (make_msg(C.LUMEN_MBOX_GET_VERSION, length=3, flags=1, seq=102),
         C.LUMEN_STATUS_BAD_LENGTH),
    ]
    card.post([m for m, _ in bad[:8]])
    rs = card.responses(8)
    card.post([m for m, _ in bad[8:]])
    rs += card.responses(len(bad) - 8)
    for (m, code), r in zip(bad, rs):
        req = parse_msg(m)
        assert r['status'] == code, 'seq %d: status %d, expected %d' % (
            req['seq'], r['status'], code)
        assert r['seq'] == req['seq'] and r['len'] == 0
        assert r['version'] == req['version']
        assert r['type'] == req['type'] | C.LUMEN_MBOX_RESPONSE
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) & C.LUMEN_DEVSTS_HALTED == 0


@test
def mailbox_flow_control(env):
    q, card = one_card(env)
    card.soft_reset()
    assert card.boot(make_image(), order=1) == C.LUMEN_BOOT_RUNNING
    # Many round trips through a 2-slot ring: indices wrap the slots.
    for i in range(9):
        r = card.call(make_msg(C.LUMEN_MBOX_PING, bytes([i]) * 3, seq=i))
        assert r['seq'] == i and r['payload'] == bytes([i]) * 3
    # Fill both request slots while the response ring is not consumed.
    card.post([make_msg(C.LUMEN_MBOX_PING, seq=100),
               make_msg(C.LUMEN_MBOX_PING, seq=101)])
    card.poll(C.LUMEN_REG_MBOX_RESP_TAIL, lambda v: v == 11, 'two responses')
    # Two more requests: the response ring is full, so they wait.
    tail = card.reg(C.LUMEN_REG_MBOX_REQ_TAIL)
    for i in range(2):
        card.q.memwrite(card.req + ((tail + i) % 2) * MSG,
                        make_msg(C.LUMEN_MBOX_PING, seq=102 + i))
    card.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, tail + 2)
    for _ in range(5):
        card.q.clock_step(1000000)
    assert card.reg(C.LUMEN_REG_MBOX_REQ_HEAD) == 11
    assert card.reg(C.LUMEN_REG_MBOX_RESP_TAIL) == 11
    rs = card.responses(2)
    assert [r['seq'] for r in rs] == [100, 101]
    rs = card.responses(2)
    assert [r['seq'] for r in rs] == [102, 103]
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def mailbox_protocol_errors(env):
    q, card = one_card(env)
    card.soft_reset()
    card.clear_errors()
    # Doorbell while closed.
    card.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, 1)
    expect_error(card, C.LUMEN_ERR_MBOX_PROTOCOL, C.LUMEN_STATUS_BAD_STATE, 1)
    assert card.reg(C.LUMEN_REG_MBOX_REQ_TAIL) == 0
    assert card.msi_fired(C.LUMEN_VEC_ERROR)
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    card.clear_errors()
    # Overrun: more than 4 outstanding requests.
    card.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, 5)
    expect_error(card, C.LUMEN_ERR_MBOX_PROTOCOL, C.LUMEN_STATUS_BAD_ARGUMENT,
                 5)
    card.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, 0xffffffff)
    assert card.reg(C.LUMEN_REG_MBOX_REQ_TAIL) == 0
    # RESP_HEAD beyond RESP_TAIL, and behind RESP_HEAD.
    card.clear_errors()
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    assert card.call(make_msg(C.LUMEN_MBOX_PING))['status'] == 0
    card.wreg(C.LUMEN_REG_MBOX_RESP_HEAD, 2)
    expect_error(card, C.LUMEN_ERR_MBOX_PROTOCOL, C.LUMEN_STATUS_BAD_ARGUMENT,
                 2)
    card.wreg(C.LUMEN_REG_MBOX_RESP_HEAD, 0)
    assert card.reg(C.LUMEN_REG_MBOX_RESP_HEAD) == 1
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count + 2
    # Still serving.
    assert card.call(make_msg(C.LUMEN_MBOX_PING, seq=5))['seq'] == 5


@test
def mailbox_dma_failure_halts(env):
    q, card = one_card(env)
    card.soft_reset()
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    card.clear_errors()
    # Take bus mastering away under the running mailbox.
    card.cfg_write16(0x04, 0x0002)
    card.post([make_msg(C.LUMEN_MBOX_PING)])
    card.poll(C.LUMEN_REG_DEVICE_STATUS,
              lambda v: v & C.LUMEN_DEVSTS_HALTED, 'HALTED')
    expect_error(card, C.LUMEN_ERR_DMA, C.LUMEN_STATUS_DMA_ERROR, card.req)
    card.cfg_write16(0x04, 0x0006)
    card.post([make_msg(C.LUMEN_MBOX_PING)])
    q.clock_step(1000000)
    assert card.reg(C.LUMEN_REG_MBOX_RESP_TAIL) == 0, 'halted mailbox served'
    # Recovery: soft reset and boot again.
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_RESET_DONE
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_FW_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING, seq=9))['seq'] == 9


@test
def telemetry(env):
    q, card = one_card(env)
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_TEMP_MC) == 35000
    assert card.reg(C.LUMEN_REG_POWER_MW) == 25000
    assert card.reg(C.LUMEN_REG_CLK_CORE_MHZ) == 1000
    assert card.reg(C.LUMEN_REG_CLK_MEM_MHZ) == 1600
    assert card.reg64(C.LUMEN_REG_BUSY_NS_LO) == 0
    assert card.reg(C.LUMEN_REG_POWER_MAX_MW) == 150000
    assert card.reg(C.LUMEN_REG_POWER_CAP_MW) == 150000
    up = card.reg(C.LUMEN_REG_UPTIME_MS)
    q.clock_step(1500 * 1000 * 1000)
    up2 = card.reg(C.LUMEN_REG_UPTIME_MS)
    assert up2 - up == 1500, (up, up2)
    card.wreg(C.LUMEN_REG_POWER_CAP_MW, 60000)
    assert card.reg(C.LUMEN_REG_POWER_CAP_MW) == 60000
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_POWER_CAP_MW) == 150000
    assert card.reg(C.LUMEN_REG_UPTIME_MS) == 0


@test
def doorbells(env):
    q, card = one_card(env, ',queues=3')
    card.clear_errors()
    assert card.bar_size(0x20, True) == 4 << 12
    qreg = C.LUMEN_REG_QUEUE_BASE
    assert card.reg(qreg + C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    # Queue 3 does not exist: its block is reserved.
    assert card.reg(qreg + 3 * 0x40 + C.LUMEN_QREG_STATUS) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # Doorbell of a disabled queue.
    q.writel(card.bar4, 5)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE, 0)
    q.writel(card.bar4 + 3 * 0x1000, 1)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 0x3000)
    q.writel(card.bar4 + 0x1004, 1)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 0x1004)
    q.wr('w', card.bar4 + 0x2000, 1)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 0x2000)
    assert q.readl(card.bar4) == 0


@test
def function_level_reset(env):
    q, card = one_card(env)
    card.soft_reset()
    assert card.boot(make_image()) == C.LUMEN_BOOT_RUNNING
    card.wreg(C.LUMEN_REG_SCRATCH, 7)
    Space(card, 3)
    qu = Queue(card, 1, ctx=3)
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 1 << 8 | C.LUMEN_INJECT_HANG_QUEUE)
    qu.submit([nop()])
    pcie = card.find_cap(0x10)
    devcap = card.cfg_read(pcie + 4)
    assert devcap & (1 << 28), 'FLR not advertised'
    card.cfg_write16(pcie + 8, card.cfg_read16(pcie + 8) | 0x8000)
    card.setup()                        # FLR cleared BARs and MSI-X
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_OFF
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == 0
    assert card.reg(C.LUMEN_REG_SCRATCH) == 0
    assert card.reg(C.LUMEN_REG_MBOX_RING_ORDER) == 0
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    assert qu.reg(C.LUMEN_QREG_TAIL) == 0
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 3)
    assert card.reg(C.LUMEN_REG_MMU_CTX_CTRL) == 0
    assert card.boot(make_image()) == C.LUMEN_BOOT_RUNNING
    Space(card, 3)
    Queue(card, 1, ctx=3).run([nop()])


@test
def four_cards(env):
    q = env.start(['-device', 'lumen-npu,addr=4.0,chip-id=10',
                   '-device', 'lumen-npu,addr=5.0,chip-id=11,serial=SN-B',
                   '-device', 'lumen-npu,addr=6.0,chip-id=12,mem-size=16M',
                   '-device', 'lumen-npu,addr=7.0,chip-id=13,queues=64'])
    cards = [Card(q, 4 + i, 0xe0000000 + i * 0x200000,
                  0x400000000 + i * 0x10000000, 0xe0100000 + i * 0x200000)
             for i in range(4)]
    for c in cards:
        c.soft_reset()
    for c in cards:
        c.wreg(C.LUMEN_REG_SCRATCH, c.slot)
    for i, c in enumerate(cards):
        assert c.boot(make_image(fw_version=0x0100 + i)) == C.LUMEN_BOOT_RUNNING
    serials = []
    for i, c in enumerate(cards):
        assert c.reg(C.LUMEN_REG_SCRATCH) == c.slot
        assert c.reg(C.LUMEN_REG_CHIP_ID) == 10 + i
        assert c.reg(C.LUMEN_REG_FW_VERSION) == 0x0100 + i
        r = c.call(make_msg(C.LUMEN_MBOX_GET_IDENTITY, seq=i))
        serials.append(r['payload'][:32].rstrip(b'\0'))
    assert serials == [b'LN1-0000000A', b'SN-B', b'LN1-0000000C',
                       b'LN1-0000000D'], serials
    assert cards[2].reg(C.LUMEN_REG_MEM_SIZE_LO) == 16 << 20
    assert cards[3].reg(C.LUMEN_REG_NUM_VECTORS) == 68
    q.writel(cards[1].bar2, 0x1111)
    q.writel(cards[2].bar2, 0x2222)
    assert q.readl(cards[1].bar2) == 0x1111
    cards[0].soft_reset()
    assert cards[1].reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_RUNNING
    assert cards[0].reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_OFF


def pcie_type(card):
    return card.cfg_read16(card.find_cap(0x10) + 2) >> 4 & 0xf


@test
def behind_root_port(env):
    q = env.start(['-device', 'pcie-root-port,id=rp0,chassis=1,slot=1,'
                   'addr=8.0', '-device', 'lumen-npu,bus=rp0,chip-id=9',
                   '-device', 'lumen-npu,addr=4.0,chip-id=1'])
    # Root port 0:8.0: bus 1 behind it, memory windows for the card's BARs.
    port = 0x80000000 | 8 << 11

    def port_write(reg, val):
        q.outl(0xcf8, port | reg)
        q.outl(0xcfc, val)
    port_write(0x18, 0x00010100)            # primary 0, secondary 1, sub 1
    port_write(0x20, 0xe030e000)            # 0xe0000000 - 0xe03fffff
    port_write(0x24, 0x0ff00000)            # prefetchable, 64-bit, with:
    port_write(0x28, 0x4)                   # base 0x4_0000_0000
    port_write(0x2c, 0x4)                   # limit 0x4_0fff_ffff
    port_write(0x04, 0x0006)
    card = Card(q, 0, 0xe0000000, 0x400000000, 0xe0100000, bus=1)
    integrated = Card(q, 4, 0xe1000000, 0xd0000000, 0xe1100000)
    assert pcie_type(card) == 0, 'behind a root port: PCIe endpoint'
    assert pcie_type(integrated) == 9, 'on pcie.0: root complex integrated'
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_CHIP_ID) == 9
    assert card.boot(make_image()) == C.LUMEN_BOOT_RUNNING
    assert card.msi_fired(C.LUMEN_VEC_MBOX)
    r = card.call(make_msg(C.LUMEN_MBOX_PING, b'via root port', seq=3))
    assert r['payload'] == b'via root port'
    q.writel(card.bar2 + 0x100, 0xabcd)
    assert q.readl(card.bar2 + 0x100) == 0xabcd


@test
def migration(env):
    dev = ['-device', 'lumen-npu,addr=4.0,chip-id=6']
    q = env.start(dev, 'src')
    card = Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)
    card.soft_reset()
    assert card.boot(make_image(build_id=b'mig'), order=2) == \
        C.LUMEN_BOOT_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING, seq=1))['seq'] == 1
    card.wreg(C.LUMEN_REG_SCRATCH, 0x5eed)
    card.wreg(C.LUMEN_REG_POWER_CAP_MW, 99000)
    q.writel(card.bar2 + 0x1000, 0x600df00d)
    card.wreg(C.LUMEN_REG_MAGIC, 0)          # an error to carry over
    # Fill the response ring, then publish two requests that must wait.
    card.post([make_msg(C.LUMEN_MBOX_PING, seq=10 + i) for i in range(4)])
    card.poll(C.LUMEN_REG_MBOX_RESP_TAIL, lambda v: v == 5, 'full ring')
    card.post([make_msg(C.LUMEN_MBOX_PING, seq=20 + i) for i in range(2)])
    q.hmp('stop')
    req_tail = card.reg(C.LUMEN_REG_MBOX_REQ_TAIL)
    assert req_tail == 7 and card.reg(C.LUMEN_REG_MBOX_REQ_HEAD) == 5
    state = os.path.join(env.workdir, 'state')
    q.hmp('migrate file:' + state)
    for _ in range(200):
        if 'Migration status: completed' in q.hmp('info migrate'):
            break
        time.sleep(0.05)
    else:
        raise AssertionError('migration did not complete: ' +
                             q.hmp('info migrate'))
    before = {off: card.reg(off) for off in (
        C.LUMEN_REG_SCRATCH, C.LUMEN_REG_BOOT_STATUS, C.LUMEN_REG_FW_VERSION,
        C.LUMEN_REG_FW_ABI_VERSION, C.LUMEN_REG_ERR_STATUS,
        C.LUMEN_REG_ERR_COUNT, C.LUMEN_REG_ERR_LAST_INFO_LO,
        C.LUMEN_REG_MBOX_RING_ORDER, C.LUMEN_REG_MBOX_RESP_TAIL,
        C.LUMEN_REG_POWER_CAP_MW, C.LUMEN_REG_DEVICE_STATUS)}

    d = env.start(dev + ['-incoming', 'file:' + state], 'dst')
    for _ in range(200):
        if 'completed' in d.hmp('info migrate'):
            break
        time.sleep(0.05)
    d.hmp('cont')
    dcard = Card.__new__(Card)
    dcard.__dict__.update(card.__dict__)
    dcard.q = d
    for off, val in before.items():
        got = dcard.reg(off)
        assert got == val, 'reg 0x%x: 0x%x after migration, 0x%x before' % (
            off, got, val)
    assert d.readl(card.bar2 + 0x1000) == 0x600df00d, 'device memory lost'
    assert dcard.reg(C.LUMEN_REG_MBOX_REQ_TAIL) == req_tail
    assert [r['seq'] for r in dcard.responses(4)] == [10, 11, 12, 13]
    assert [r['seq'] for r in dcard.responses(2)] == [20, 21]
    dcard.clear_msi()
    r = dcard.call(make_msg(C.LUMEN_MBOX_GET_VERSION, seq=2))
    assert r['seq'] == 2 and r['payload'][16:19] == b'mig'
    assert dcard.msi_fired(C.LUMEN_VEC_MBOX), 'MSI-X state lost'


@test
def fuzz_registers(env):
    """Random guest behaviour must never crash or hang QEMU."""
    q, card = one_card(env)
    rng = random.Random(1234)
    card.soft_reset()
    card.boot(make_image(), order=2)
    offsets = list(range(0, 0x330, 4)) + list(range(0x400, 0x440, 4)) + \
        list(range(0x800, 0x900, 4)) + list(range(0x1000, 0x1100, 4)) + \
        [0x7ffc, 0x9ffc, 0xfffc]
    widths = ['b', 'w', 'l', 'q']
    for i in range(3000):
        off = rng.choice(offsets)
        if off == C.LUMEN_REG_SOFT_RESET and rng.random() < 0.7:
            continue
        width = rng.choice(widths) if rng.random() < 0.1 else 'l'
        off += rng.choice([0, 0, 0, 1, 2]) if width != 'l' else 0
        val = rng.choice([0, 1, 0xffffffff, rng.getrandbits(32),
                          rng.getrandbits(8), 0x80000000])
        if off in (C.LUMEN_REG_FW_ADDR_HI, C.LUMEN_REG_MBOX_REQ_BASE_HI,
                   C.LUMEN_REG_MBOX_RESP_BASE_HI) and rng.random() < 0.8:
            val = 0
        if off == C.LUMEN_REG_FW_SIZE and rng.random() < 0.8:
            val &= 0xfff
        if rng.random() < 0.5:
            q.wr(width, card.bar0 + off, val & ((1 << {
                'b': 8, 'w': 16, 'l': 32, 'q': 64}[width]) - 1))
        else:
            q.rd(width, card.bar0 + off)
        if i % 50 == 0:
            # Garbage in the request ring, then a doorbell.
            q.memwrite(REQ_RING + 4 * 0x10000, bytes(
                rng.getrandbits(8) for _ in range(4 * MSG)))
            q.writel(card.bar4 + rng.choice([0, 0x1000, 0x10000 - 4]),
                     rng.getrandbits(32))
        if i % 500 == 0:
            q.clock_step(rng.randrange(1, 10 ** 9))
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC
    card.soft_reset()
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING, seq=4242))['seq'] == 4242


# ---- DMA queues, device MMU, fault injection ---------------------------------

RING_AREA = 0x1000000       # queue rings in guest RAM, 16 KiB per queue
PT_AREA = 0x1800000         # host page-table pages
HOST_AREA = 0x2000000       # data buffers, up to 0x7000000
PAGE = 1 << C.LUMEN_PAGE_SHIFT
HUGE = 1 << C.LUMEN_HUGE_PAGE_SHIFT
RW = C.LUMEN_PTE_READ | C.LUMEN_PTE_WRITE
HOST_T = C.LUMEN_PTE_TARGET_HOST
DEV_T = C.LUMEN_PTE_TARGET_DEVMEM


def qreg(q, r):
    return C.LUMEN_REG_QUEUE_BASE + q * C.LUMEN_REG_QUEUE_STRIDE + r


def cmd(op, args=(), flags=0, tag=0, reserved0=0):
    words = list(args) + [0] * (7 - len(args))
    return struct.pack('<BBHI7Q', op, flags, reserved0, tag, *words)


def copy(src, dst, size, **kw):
    return cmd(C.LUMEN_CMD_COPY, (src, dst, size), **kw)


def fill(dst, size, pattern, **kw):
    return cmd(C.LUMEN_CMD_FILL, (dst, size, pattern), **kw)


def fence(op, addr, value=0, **kw):
    return cmd(op, (addr, value), **kw)


def nop(**kw):
    return cmd(C.LUMEN_CMD_NOP, **kw)


class Space:
    """One MMU context: page tables built by the test, plus a model of the
    mapping so the test can read and write through device VAs itself."""

    def __init__(self, card, ctx, tables='host', pt_base=None):
        self.card, self.q, self.ctx = card, card.q, ctx
        self.tables = tables
        base = pt_base if pt_base is not None else (
            PT_AREA + ctx * 0x40000 if tables == 'host' else
            card.mem_size - (ctx + 1) * 0x40000)
        self.next_pt = base
        self.limit = base + 0x40000
        self.pages = {}         # va page -> (target, addr, size)
        self.root = self.new_table()
        card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, ctx)
        card.wreg64(C.LUMEN_REG_MMU_CTX_ROOT_LO, self.root | self.tt())
        card.wreg(C.LUMEN_REG_MMU_CTX_CTRL, C.LUMEN_MMU_CTX_VALID)

    def tt(self):
        return HOST_T if self.tables == 'host' else DEV_T

    def phys_write(self, target, addr, data):
        base = self.card.bar2 if target == DEV_T else 0
        self.q.memwrite(base + addr, data)

    def phys_read(self, target, addr, size):
        base = self.card.bar2 if target == DEV_T else 0
        return self.q.memread(base + addr, size)

    def new_table(self):
        t = self.next_pt
        assert t + PAGE <= self.limit
        self.next_pt += PAGE
        self.phys_write(self.tt(), t, bytes(PAGE))
        return t

    def entry_addr(self, va, level):
        table = self.root
        for lvl in range(level):
            idx = (va >> (39 - 9 * lvl)) & 511
            e = struct.unpack('<Q', self.phys_read(self.tt(), table + idx * 8,
                                                   8))[0]
            if not e & C.LUMEN_PTE_VALID:
                nt = self.new_table()
                self.phys_write(self.tt(), table + idx * 8, struct.pack(
                    '<Q', nt | self.tt() | C.LUMEN_PTE_VALID))
                table = nt
            else:
                table = e & C.LUMEN_PTE_ADDR_MASK
        return table + ((va >> (39 - 9 * level)) & 511) * 8

    def set_pte(self, va, level, value):
        self.phys_write(self.tt(), self.entry_addr(va, level),
                        struct.pack('<Q', value))

    def map(self, va, target, addr, size, perms=RW, huge=False):
        step = HUGE if huge else PAGE
        for off in range(0, size, step):
            flags = perms | target | C.LUMEN_PTE_VALID
            if huge:
                flags |= C.LUMEN_PTE_LEAF
            self.set_pte(va + off, 2 if huge else 3, (addr + off) | flags)
            self.pages[(va + off) // step * step] = (target, addr + off, step)

    def map_pages(self, va, target, addrs, perms=RW):
        """4 KiB pages at VA va, va + 4K, ... -> the given scattered pages."""
        for i, a in enumerate(addrs):
            self.map(va + i * PAGE, target, a, PAGE, perms)

    def invalidate(self):
        self.card.wreg(C.LUMEN_REG_MMU_INVALIDATE, self.ctx)

    def _walk(self, va, size, fn):
        out = b''
        while size:
            for step in (PAGE, HUGE):
                key = va // step * step
                if key in self.pages and self.pages[key][2] == step:
                    break
            else:
                raise KeyError('VA 0x%x not mapped in the model' % va)
            target, addr, step = self.pages[key]
            n = min(size, key + step - va)
            out += fn(target, addr + va - key, n, len(out))
            va += n
            size -= n
        return out

    def vread(self, va, size):
        return self._walk(va, size, lambda t, a, n, o: self.phys_read(t, a, n))

    def vread_opt(self, va, size):
        """vread, or None where the model has no mapping."""
        try:
            return self.vread(va, size)
        except KeyError:
            return None

    def vwrite(self, va, data):
        self._walk(va, len(data), lambda t, a, n, o: self.phys_write(
            t, a, data[o:o + n]) or data[o:o + n])


class Queue:
    def __init__(self, card, qn, ctx=0, order=4, prio=C.LUMEN_QPRIO_NORMAL):
        self.card, self.qn, self.ctx, self.order = card, qn, ctx, order
        self.prio = prio
        self.ring = RING_AREA + qn * 0x4000 + card.slot * 0x100000
        card.wreg(qreg(qn, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)
        card.wreg64(qreg(qn, C.LUMEN_QREG_RING_BASE_LO), self.ring)
        card.wreg(qreg(qn, C.LUMEN_QREG_RING_ORDER), order)
        self.enable()

    def ctrl(self):
        """The CTRL value that enables the queue (ENABLE, PRIO, CTX)."""
        return (C.LUMEN_QCTRL_ENABLE |
                self.prio << C.LUMEN_QCTRL_PRIO_SHIFT |
                self.ctx << C.LUMEN_QCTRL_CTX_SHIFT)

    def enable(self):
        self.card.wreg(qreg(self.qn, C.LUMEN_QREG_CTRL), self.ctrl())
        self.tail = self.card.reg(qreg(self.qn, C.LUMEN_QREG_TAIL))

    def reset(self, enable=True):
        self.card.wreg(qreg(self.qn, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET |
                       (self.ctrl() if enable else
                        self.ctx << C.LUMEN_QCTRL_CTX_SHIFT))
        self.tail = 0

    def reg(self, r):
        return self.card.reg(qreg(self.qn, r))

    def submit(self, cmds, ring=True):
        entries = 1 << self.order
        for c in cmds:
            self.card.q.memwrite(self.ring + (self.tail % entries) * 64, c)
            self.tail = (self.tail + 1) & 0xffffffff
        if ring:
            self.doorbell(self.tail)

    def doorbell(self, val):
        self.card.q.writel(self.card.bar4 + self.qn * C.LUMEN_DOORBELL_STRIDE,
                           val)

    def settle(self, tries=400):
        """Wait until the queue is IDLE or STOPPED; return STATUS."""
        return self.card.poll(qreg(self.qn, C.LUMEN_QREG_STATUS),
                              lambda v: v in (C.LUMEN_QSTS_IDLE,
                                              C.LUMEN_QSTS_STOPPED,
                                              C.LUMEN_QSTS_DISABLED),
                              'queue %d to settle' % self.qn, tries)

    def run(self, cmds):
        self.submit(cmds)
        st = self.settle()
        assert st == C.LUMEN_QSTS_IDLE, 'queue %d status %d error %d' % (
            self.qn, st, self.reg(C.LUMEN_QREG_ERROR))

    def expect_stop(self, code, index=None):
        st = self.settle()
        assert st == C.LUMEN_QSTS_STOPPED, 'queue %d status %d' % (self.qn, st)
        err = self.reg(C.LUMEN_QREG_ERROR)
        assert err == code, 'queue %d ERROR %d, expected %d' % (
            self.qn, err, code)
        if index is not None:
            got = self.reg(C.LUMEN_QREG_ERROR_INDEX)
            assert got == index, 'ERROR_INDEX %d, expected %d' % (got, index)
            assert self.reg(C.LUMEN_QREG_HEAD) == index


def queue_card(env, props=''):
    q, card = one_card(env, props)
    card.soft_reset()
    card.clear_errors()
    return q, card


@test
def queue_registers(env):
    q, card = queue_card(env)
    for r, v in ((C.LUMEN_QREG_STATUS, C.LUMEN_QSTS_DISABLED),
                 (C.LUMEN_QREG_HEAD, 0), (C.LUMEN_QREG_CTRL, 0),
                 (C.LUMEN_QREG_COMPLETED, 0)):
        assert card.reg(qreg(15, r)) == v
    ctrl = qreg(0, C.LUMEN_QREG_CTRL)
    # Enabling needs a valid order, an aligned base, a context < 64.
    card.wreg64(qreg(0, C.LUMEN_QREG_RING_BASE_LO), RING_AREA + 0x40)
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE)
    expect_error(card, C.LUMEN_ERR_QUEUE_DESC, C.LUMEN_STATUS_BAD_ARGUMENT, 0)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    card.wreg(qreg(0, C.LUMEN_QREG_RING_ORDER), 17)
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    card.wreg(qreg(0, C.LUMEN_QREG_RING_ORDER), 4)
    card.wreg64(qreg(0, C.LUMEN_QREG_RING_BASE_LO), RING_AREA + 0x20)
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    card.wreg64(qreg(0, C.LUMEN_QREG_RING_BASE_LO), RING_AREA)
    card.clear_errors()
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE | 64 << 8)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 ctrl)
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE | 0x20)      # bits 7:5 reserved
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE | 63 << 8)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_IDLE
    assert card.reg(ctrl) == C.LUMEN_QCTRL_ENABLE | 63 << 8
    assert card.reg64(qreg(0, C.LUMEN_QREG_RING_BASE_LO)) == RING_AREA
    # While enabled: ring and context are locked, status registers RO.
    card.clear_errors()
    for off, val in ((C.LUMEN_QREG_RING_ORDER, 5),
                     (C.LUMEN_QREG_RING_BASE_LO, 0)):
        card.wreg(qreg(0, off), val)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE,
                     qreg(0, off))
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE | 2 << 8)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE, ctrl)
    for off in (C.LUMEN_QREG_HEAD, C.LUMEN_QREG_TAIL, C.LUMEN_QREG_STATUS,
                C.LUMEN_QREG_ERROR, C.LUMEN_QREG_ERROR_INDEX,
                C.LUMEN_QREG_COMPLETED):
        card.wreg(qreg(0, off), 1)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                     qreg(0, off))
    # Doorbell beyond the ring: stop with BAD_ARGUMENT.
    card.clear_errors()
    q.writel(card.bar4, 17)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_STOPPED
    assert card.reg(qreg(0, C.LUMEN_QREG_ERROR)) == C.LUMEN_STATUS_BAD_ARGUMENT
    expect_error(card, C.LUMEN_ERR_QUEUE_DESC, C.LUMEN_STATUS_BAD_ARGUMENT, 0)
    assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE)
    # RESET clears indices and errors; RESET | ENABLE re-enables.
    card.wreg(ctrl, C.LUMEN_QCTRL_RESET)
    for r, v in ((C.LUMEN_QREG_STATUS, C.LUMEN_QSTS_DISABLED),
                 (C.LUMEN_QREG_HEAD, 0), (C.LUMEN_QREG_TAIL, 0),
                 (C.LUMEN_QREG_ERROR, 0), (C.LUMEN_QREG_ERROR_INDEX, 0),
                 (C.LUMEN_QREG_CTRL, 0)):
        assert card.reg(qreg(0, r)) == v, (r, card.reg(qreg(0, r)))
    card.wreg(ctrl, C.LUMEN_QCTRL_RESET | C.LUMEN_QCTRL_ENABLE)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_IDLE
    # NOPs run, F_IRQ signals the queue's vector and INT_QUEUE.
    qu = Queue(card, 2)
    card.clear_errors()
    qu.run([nop(), nop(), nop(flags=C.LUMEN_CMD_F_IRQ | C.LUMEN_CMD_F_BARRIER)])
    assert qu.reg(C.LUMEN_QREG_HEAD) == 3 and \
        qu.reg(C.LUMEN_QREG_COMPLETED) == 3
    assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 2)
    assert not card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 1)
    assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_QUEUE
    # Wrap the ring several times (16 entries).
    for i in range(5):
        qu.run([nop()] * 13)
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == 3 + 65
    # Disable: doorbells are refused, state is kept.
    card.wreg(qreg(2, C.LUMEN_QREG_CTRL), 0)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    card.clear_errors()
    qu.submit([nop()])
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE,
                 2 * 0x1000)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == C.LUMEN_ERR_REG_ACCESS


@test
def mmu_registers(env):
    q, card = queue_card(env)
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 63)
    card.wreg64(C.LUMEN_REG_MMU_CTX_ROOT_LO, 0x123456789000 | HOST_T)
    card.wreg(C.LUMEN_REG_MMU_CTX_CTRL, C.LUMEN_MMU_CTX_VALID)
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 1)
    assert card.reg64(C.LUMEN_REG_MMU_CTX_ROOT_LO) == 0
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 63)
    assert card.reg64(C.LUMEN_REG_MMU_CTX_ROOT_LO) == 0x123456789000 | HOST_T
    assert card.reg(C.LUMEN_REG_MMU_CTX_CTRL) == C.LUMEN_MMU_CTX_VALID
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    for off, val in ((C.LUMEN_REG_MMU_CTX_SELECT, 64),
                     (C.LUMEN_REG_MMU_CTX_CTRL, 2),
                     (C.LUMEN_REG_MMU_INVALIDATE, 64),
                     (C.LUMEN_REG_MMU_FAULT_CTX, 0),
                     (C.LUMEN_REG_MMU_FAULT_INFO, 0),
                     (C.LUMEN_REG_MMU_FAULT_TAG, 0)):
        card.clear_errors()
        card.wreg(off, val)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                     off)
    assert card.reg(C.LUMEN_REG_MMU_CTX_SELECT) == 63
    card.wreg(C.LUMEN_REG_MMU_INVALIDATE, 63)
    assert card.reg(C.LUMEN_REG_MMU_INVALIDATE) == 0
    assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_MMU_CTX_SELECT) == 0
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 63)
    assert card.reg(C.LUMEN_REG_MMU_CTX_CTRL) == 0
    assert card.reg64(C.LUMEN_REG_MMU_CTX_ROOT_LO) == 0


def pattern_bytes(n, seed):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n))


def copy_space(card, ctx, tables):
    """VA layout used by the copy tests:
    0x1_0000_0000  64 host 4K pages, scattered (reverse order)
    0x2_0000_0000  3 device 2M pages, out of order
    0x3_0000_0000  64 device 4K pages, scattered
    0x4_0000_0000  2 host 2M pages
    """
    sp = Space(card, ctx, tables)
    hbase = HOST_AREA + ctx * 0x800000
    sp.map_pages(0x100000000, HOST_T, [hbase + (63 - i) * PAGE * 2
                                       for i in range(64)])
    for i, d in enumerate((0x1000000, 0x600000, 0xa00000)):
        sp.map(0x200000000 + i * HUGE, DEV_T, d + ctx * 0x2000000, HUGE,
               huge=True)
    sp.map_pages(0x300000000, DEV_T, [0x4000000 + ctx * 0x100000 +
                                      ((i * 7) % 64) * PAGE
                                      for i in range(64)])
    sp.map(0x400000000, HOST_T, 0x4000000 + ctx * 0x400000, 2 * HUGE,
           huge=True)
    return sp


def check_copies(card, sp, qu, seed):
    # (src, dst, size): odd sizes and offsets crossing 4K and 2M pages.
    cases = [
        (0x100000000 + 0x7f3, 0x200000000 + HUGE - 0x1801, 0x5123),  # h->d
        (0x200000000 + HUGE - 0x3333, 0x100000000 + 0x1235, 0x9877),  # d->h
        (0x200000000 + 0x11, 0x300000000 + 0xffd, 0x12345),           # d->d
        (0x300000000 + 0x3, 0x200000000 + 2 * HUGE - 0x777, 0x1f001),  # d->d
        (0x100000000 + 0x5, 0x400000000 + HUGE - 0xab3, 0x21001),     # h->h
        (0x400000000 + HUGE - 0x10001, 0x100000000 + 0x9, 0x20000),   # h->h
        (0x200000000 + 0x100, 0x400000000 + 0x1001, 0x3fe000),        # big
        (0x100000000 + 0x1000, 0x300000000 + 0x2000, 0),              # empty
    ]
    for i, (src, dst, size) in enumerate(cases):
        data = pattern_bytes(size, seed + i)
        sp.vwrite(src, data)
        before = sp.vread_opt(dst - 16, 16)
        after = sp.vread_opt(dst + size, 16)
        qu.run([copy(src, dst, size, tag=i)])
        got = sp.vread(dst, size)
        assert got == data, 'copy %d (0x%x -> 0x%x, 0x%x): first bad ' \
            'byte at 0x%x' % (i, src, dst, size, next(
                j for j in range(size) if got[j] != data[j]))
        assert sp.vread_opt(dst - 16, 16) == before, 'copy %d underrun' % i
        assert sp.vread_opt(dst + size, 16) == after, 'copy %d overrun' % i


@test
def copy_host_tables(env):
    q, card = queue_card(env)
    sp = copy_space(card, 1, 'host')
    check_copies(card, sp, Queue(card, 0, ctx=1), 100)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def copy_device_tables(env):
    q, card = queue_card(env)
    sp = copy_space(card, 5, 'device')
    check_copies(card, sp, Queue(card, 7, ctx=5, order=6), 200)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # A context change needs MMU_INVALIDATE: remap a page, invalidate, copy.
    sp.map(0x300000000, DEV_T, 0x7000000, PAGE)
    sp.invalidate()
    q.writel(card.bar2 + 0x7000000, 0x5eed5eed)
    Queue(card, 7, ctx=5).run([copy(0x300000000, 0x100000000, 4)])
    assert sp.vread(0x100000000, 4) == struct.pack('<I', 0x5eed5eed)


@test
def copy_host_page_in_own_bar(env):
    """A "host" page whose guest-physical address is the card's own BAR2
    (or a host page both sides share) is the same memory as the device
    page behind it: a COPY between the two must not hand overlapping
    ranges to memcpy (ASAN memcpy-param-overlap, issue 14) and must give
    the memmove result, as device-to-device does."""
    q, card = queue_card(env)
    sp = Space(card, 3)
    qu = Queue(card, 4, ctx=3)
    D = 0x8000000                    # device page, also seen through BAR2
    E = 0x8002000                    # another device page
    R = HOST_AREA + 0x3000000        # a guest RAM page
    sp.map(0x10000, HOST_T, card.bar2 + D, PAGE)    # host alias of D
    sp.map(0x20000, DEV_T, D, PAGE)
    sp.map(0x30000, HOST_T, card.bar2 + D, PAGE)    # second alias of D
    sp.map(0x40000, DEV_T, E, PAGE)
    sp.map(0x50000, HOST_T, R, PAGE)
    sp.map(0x60000, HOST_T, R, PAGE)                # alias of R
    sp.map(0x70000, HOST_T, card.bar2 + E, PAGE)    # host alias of E
    # (src VA, dst VA, size, page the source is in, page the destination
    # is in): offsets inside one page, so one chunk, both directions.
    dpage = (DEV_T, D)
    cases = [
        (0x10000 + 0x10, 0x20000 + 0x230, 0xc01, dpage, dpage),   # h->d
        (0x10000 + 0x377, 0x20000 + 0x5, 0xc00, dpage, dpage),    # h->d
        (0x20000 + 0x8, 0x10000 + 0x100, 0xe00, dpage, dpage),    # d->h
        (0x20000 + 0x400, 0x10000 + 0x3, 0xbff, dpage, dpage),    # d->h
        (0x10000 + 0x21, 0x30000 + 0x801, 0x7ff, dpage, dpage),   # h->h
        (0x30000 + 0x900, 0x10000 + 0x11, 0x6f0, dpage, dpage),   # h->h
        (0x50000 + 0x40, 0x60000 + 0x333, 0xc00, (HOST_T, R), (HOST_T, R)),
        (0x60000 + 0x333, 0x50000 + 0x41, 0xc00, (HOST_T, R), (HOST_T, R)),
        # No overlap: the host alias of D to device page E and back, and
        # BAR2 to BAR2 through two host pages.
        (0x10000 + 0x10, 0x40000 + 0x20, 0xfe0, dpage, (DEV_T, E)),
        (0x40000 + 0x7, 0x10000 + 0x9, 0xff0, (DEV_T, E), dpage),
        (0x70000 + 0x3, 0x30000 + 0x5, 0xff8, (DEV_T, E), dpage),
    ]
    for i, (src, dst, size, spg, dpg) in enumerate(cases):
        sp.phys_write(DEV_T, D, pattern_bytes(PAGE, 300 + i))
        sp.phys_write(DEV_T, E, pattern_bytes(PAGE, 400 + i))
        sp.phys_write(HOST_T, R, pattern_bytes(PAGE, 500 + i))
        pages = {p: bytearray(sp.phys_read(p[0], p[1], PAGE))
                 for p in (spg, dpg)}
        so, do = src % PAGE, dst % PAGE
        # memmove: the source as it was before the copy.
        pages[dpg][do:do + size] = pages[spg][so:so + size]
        qu.run([copy(src, dst, size, tag=i)])
        for p, want in pages.items():
            got = sp.phys_read(p[0], p[1], PAGE)
            assert got == bytes(want), 'copy %d (0x%x -> 0x%x, 0x%x): page ' \
                '0x%x: first bad byte at 0x%x' % (i, src, dst, size, p[1], next(
                    j for j in range(PAGE) if got[j] != want[j]))
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def fill_patterns(env):
    q, card = queue_card(env)
    sp = copy_space(card, 3, 'host')
    qu = Queue(card, 1, ctx=3)
    pat = 0x0807060504030201
    for i, (dst, size) in enumerate(((0x100000000 + 0xffd, 0x2003),
                                     (0x200000000 + HUGE - 5, 0x1000b),
                                     (0x300000000 + 1, 7),
                                     (0x400000000 + 3, 0x200001))):
        before = sp.vread_opt(dst - 8, 8)
        after = sp.vread_opt(dst + size, 8)
        qu.run([fill(dst, size, pat + i)])
        p = struct.pack('<Q', pat + i)
        want = (p * (size // 8 + 1))[:size]
        assert sp.vread(dst, size) == want, 'fill %d' % i
        assert sp.vread_opt(dst - 8, 8) == before and \
            sp.vread_opt(dst + size, 8) == after
    qu.run([fill(0x300000000, 0, 1)])


@test
def signal_wait_timestamp(env):
    q, card = queue_card(env)
    sp = copy_space(card, 2, 'host')
    a, b = Queue(card, 3, ctx=2), Queue(card, 4, ctx=2)
    hfence = 0x100000000 + 0x100          # host memory
    dfence = 0x200000000 + 0x88           # device memory
    for f in (hfence, dfence):
        sp.vwrite(f, bytes(8))
    # A waits for dfence >= 5, then signals hfence.
    a.submit([fence(C.LUMEN_CMD_WAIT, dfence, 5, tag=1),
              fence(C.LUMEN_CMD_SIGNAL, hfence, 77, tag=2,
                    flags=C.LUMEN_CMD_F_IRQ)])
    for _ in range(5):
        q.clock_step(100000)
    assert a.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert a.reg(C.LUMEN_QREG_HEAD) == 0
    # B signals 4 (not enough), then 5.
    b.run([fence(C.LUMEN_CMD_SIGNAL, dfence, 4)])
    q.clock_step(100000)
    assert a.reg(C.LUMEN_QREG_HEAD) == 0
    assert not card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 3)
    b.run([fence(C.LUMEN_CMD_SIGNAL, dfence, 0x100000005)])
    assert a.settle() == C.LUMEN_QSTS_IDLE
    assert sp.vread(hfence, 8) == struct.pack('<Q', 77)
    assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 3)
    # A WAIT satisfied by a host CPU write (seen by the poll timer).
    a.submit([fence(C.LUMEN_CMD_WAIT, hfence, 1000),
              fence(C.LUMEN_CMD_SIGNAL, dfence, 1)])
    q.clock_step(200000)
    assert a.reg(C.LUMEN_QREG_HEAD) == 2
    sp.vwrite(hfence, struct.pack('<Q', 1000))
    q.clock_step(100000)
    assert a.settle() == C.LUMEN_QSTS_IDLE
    assert sp.vread(dfence, 8) == struct.pack('<Q', 1)
    # TIMESTAMP: ns since reset, monotonic.
    t0 = 0x300000000 + 0x40
    a.run([fence(C.LUMEN_CMD_TIMESTAMP, t0)])
    q.clock_step(3000000)
    a.run([fence(C.LUMEN_CMD_TIMESTAMP, t0 + 8),
           fence(C.LUMEN_CMD_TIMESTAMP, t0 + 16)])
    ts = struct.unpack('<3Q', sp.vread(t0, 24))
    up = card.reg(C.LUMEN_REG_UPTIME_MS)
    assert ts[0] < ts[1] <= ts[2], ts
    assert ts[1] - ts[0] >= 3000000, ts
    assert ts[2] // 1000000 <= up <= ts[2] // 1000000 + 2, (ts, up)
    # Disabling a queue parked on a WAIT abandons the wait.
    a.submit([fence(C.LUMEN_CMD_WAIT, hfence, 1 << 60)])
    q.clock_step(100000)
    card.wreg(qreg(3, C.LUMEN_QREG_CTRL), 2 << 8)
    assert a.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def descriptor_validation(env):
    q, card = queue_card(env)
    Space(card, 0)
    qu = Queue(card, 5)
    big = C.LUMEN_CMD_MAX_SIZE + 1
    bad = [
        cmd(C.LUMEN_CMD_RREDUCE + 1),      # LUMEN_CMD_OP_COUNT
        cmd(0xff),
        cmd(C.LUMEN_CMD_LAUNCH),
        nop(flags=0x4),
        nop(flags=0x80),
        nop(reserved0=1),
        nop(reserved0=0x100),
        cmd(C.LUMEN_CMD_NOP, (1,)),
        cmd(C.LUMEN_CMD_NOP, (0, 0, 0, 0, 0, 0, 1 << 63)),
        copy(0, 0, 8) + b'',
        cmd(C.LUMEN_CMD_COPY, (0, 0, 8, 1)),
        cmd(C.LUMEN_CMD_COPY, (0, 0, 8, 0, 0, 0, 1)),
        copy(0, 0, big),
        fill(0, big, 0),
        cmd(C.LUMEN_CMD_FILL, (0, 8, 0, 0, 1)),
        fence(C.LUMEN_CMD_SIGNAL, 4),
        fence(C.LUMEN_CMD_WAIT, 1),
        fence(C.LUMEN_CMD_TIMESTAMP, 0x1002),
        fence(C.LUMEN_CMD_TIMESTAMP, 0, 1),
        cmd(C.LUMEN_CMD_SIGNAL, (0, 0, 1)),
        cmd(C.LUMEN_CMD_WAIT, (0, 0, 0, 0, 0, 0, 1)),
    ]
    bad[9] = bad[9][:63] + b'\x01'     # last reserved byte of COPY
    for i, c in enumerate(bad):
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), nop(), c, nop()])
        qu.expect_stop(C.LUMEN_STATUS_BAD_DESCRIPTOR, 2)
        assert qu.reg(C.LUMEN_QREG_COMPLETED) == 2
        expect_error(card, C.LUMEN_ERR_QUEUE_DESC,
                     C.LUMEN_STATUS_BAD_DESCRIPTOR, 5)
        assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 5), i
        # A doorbell on a STOPPED queue only records TAIL.
        qu.submit([nop()])
        assert qu.reg(C.LUMEN_QREG_TAIL) == 5
        assert qu.reg(C.LUMEN_QREG_HEAD) == 2
    # ERROR_INDEX is free-running across ring wraps.
    qu.reset()
    for _ in range(3):
        qu.run([nop()] * 10)
    qu.submit([nop(), cmd(0x77)])
    qu.expect_stop(C.LUMEN_STATUS_BAD_DESCRIPTOR, 31)
    # The ring itself unreachable: DMA error at fetch.
    card.clear_errors()
    card.wreg(qreg(5, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)
    card.wreg64(qreg(5, C.LUMEN_QREG_RING_BASE_LO), 0xfee00000000)
    card.wreg(qreg(5, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_ENABLE)
    qu.doorbell(1)
    qu.expect_stop(C.LUMEN_STATUS_DMA_ERROR, 0)
    expect_error(card, C.LUMEN_ERR_DMA, C.LUMEN_STATUS_DMA_ERROR,
                 0xfee00000000)


def fault_record(card):
    return dict(status=card.reg(C.LUMEN_REG_MMU_FAULT_STATUS),
                ctx=card.reg(C.LUMEN_REG_MMU_FAULT_CTX),
                addr=card.reg64(C.LUMEN_REG_MMU_FAULT_ADDR_LO),
                info=card.reg(C.LUMEN_REG_MMU_FAULT_INFO),
                queue=card.reg(C.LUMEN_REG_MMU_FAULT_QUEUE),
                tag=card.reg(C.LUMEN_REG_MMU_FAULT_TAG))


class UserQueue(Queue):
    """A CTRL.USER queue: ring and completion record at device VAs of
    its context (hw-spec 10, "User-mode queues")."""

    def __init__(self, card, sp, qn, ring_va, cpl_va, order=4):
        self.sp, self.ring_va, self.cpl_va = sp, ring_va, cpl_va
        self.card, self.qn, self.ctx, self.order = card, qn, sp.ctx, order
        self.prio = C.LUMEN_QPRIO_NORMAL
        card.wreg(qreg(qn, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)
        card.wreg64(qreg(qn, C.LUMEN_QREG_RING_BASE_LO), ring_va)
        card.wreg(qreg(qn, C.LUMEN_QREG_RING_ORDER), order)
        card.wreg64(qreg(qn, C.LUMEN_QREG_CPL_LO), cpl_va)
        self.enable()

    def ctrl(self):
        return Queue.ctrl(self) | C.LUMEN_QCTRL_USER

    def submit(self, cmds, ring=True):
        entries = 1 << self.order
        for c in cmds:
            self.sp.vwrite(self.ring_va + (self.tail % entries) * 64, c)
            self.tail = (self.tail + 1) & 0xffffffff
        if ring:
            self.doorbell(self.tail)

    def record(self):
        return struct.unpack('<QII', self.sp.vread(self.cpl_va, 16))


@test
def user_queues(env):
    q, card = queue_card(env)
    sp = copy_space(card, 3, 'host')
    ring, cpl = 0x100000000 + 8 * PAGE, 0x300000000 + 0x10
    sp.vwrite(cpl, bytes(16))
    uq = UserQueue(card, sp, 5, ring, cpl)
    assert card.reg(qreg(5, C.LUMEN_QREG_CTRL)) & C.LUMEN_QCTRL_USER
    # Descriptors fetched through the MMU, the record written after them,
    # across several wraps of a 16-entry ring.
    for i in range(5):
        cmds = [fill(0x200000000 + i * 64, 64, 0x1111 * (i + 1))] + \
            [nop()] * 6
        uq.run(cmds)
        done = 7 * (i + 1)
        assert uq.record() == (done, C.LUMEN_QSTS_IDLE, 0), uq.record()
        assert uq.reg(C.LUMEN_QREG_COMPLETED) == done
        assert sp.vread(0x200000000 + i * 64, 8) == struct.pack(
            '<Q', 0x1111 * (i + 1))
    # IRQ_AT: fires once COMPLETED reaches it, at once if already there.
    card.clear_msi()
    card.wreg(qreg(5, C.LUMEN_QREG_IRQ_AT), 35)
    assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 5)
    card.clear_msi()
    card.wreg(qreg(5, C.LUMEN_QREG_IRQ_AT), 38)
    assert card.reg(qreg(5, C.LUMEN_QREG_IRQ_AT)) == 38
    uq.run([nop(), nop()])
    assert not card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 5)
    uq.run([nop()])
    assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 5)
    assert uq.record()[0] == 38
    card.clear_msi()
    uq.run([nop()])                         # disarmed after firing
    assert not card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 5)
    # A kernel page (PRIV): a USER queue faults PRIV, a driver queue of
    # the same context writes it.
    priv = 0x700000000
    sp.map(priv, HOST_T, 0x6800000, PAGE, perms=RW | C.LUMEN_PTE_PRIV)
    kq = Queue(card, 6, ctx=3)
    kq.run([fence(C.LUMEN_CMD_SIGNAL, priv, 5)])
    assert sp.vread(priv, 8) == struct.pack('<Q', 5)
    card.clear_errors()
    uq.submit([fence(C.LUMEN_CMD_SIGNAL, priv + 8, 6, tag=0x77)])
    uq.expect_stop(C.LUMEN_STATUS_MMU_FAULT, index=39)
    rec = fault_record(card)
    assert (rec['ctx'], rec['addr'], rec['queue'], rec['tag']) == \
        (3, priv + 8, 5, 0x77), rec
    assert rec['info'] == C.LUMEN_MMU_FAULT_PRIV | \
        C.LUMEN_MMU_FAULT_WRITE_ACCESS, rec
    assert uq.record() == (39, C.LUMEN_QSTS_STOPPED,
                           C.LUMEN_STATUS_MMU_FAULT), uq.record()
    assert sp.vread(priv + 8, 8) == bytes(8)
    # RESET keeps ring, record and USER; the count restarts.
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    kq.reset()
    uq.reset()
    assert card.reg(qreg(5, C.LUMEN_QREG_CTRL)) & C.LUMEN_QCTRL_USER
    assert card.reg64(qreg(5, C.LUMEN_QREG_CPL_LO)) == cpl
    uq.run([nop()])
    assert uq.record() == (1, C.LUMEN_QSTS_IDLE, 0), uq.record()
    # A doorbell may repeat TAIL but not move it back over submitted work.
    card.clear_errors()
    uq.submit([fence(C.LUMEN_CMD_WAIT, 0x300000000 + 0x100, 1)])
    uq.doorbell(uq.tail)
    assert uq.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    uq.doorbell(uq.tail - 1)
    uq.expect_stop(C.LUMEN_STATUS_BAD_ARGUMENT)
    expect_error(card, C.LUMEN_ERR_QUEUE_DESC, C.LUMEN_STATUS_BAD_ARGUMENT, 5)
    uq.reset()
    # USER and CPL are locked while enabled.
    card.clear_errors()
    card.wreg64(qreg(5, C.LUMEN_QREG_CPL_LO), cpl + 16)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE)
    card.wreg(qreg(5, C.LUMEN_QREG_CTRL), uq.ctrl() & ~C.LUMEN_QCTRL_USER)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE)
    # A ring VA that does not translate: the fetch faults (NOT_MAPPED).
    card.clear_errors()
    bad = UserQueue(card, sp, 7, 0x900000000, cpl + 32)
    bad.doorbell(1)
    bad.expect_stop(C.LUMEN_STATUS_MMU_FAULT, index=0)
    rec = fault_record(card)
    assert rec['addr'] == 0x900000000 and rec['queue'] == 7, rec
    assert rec['info'] == C.LUMEN_MMU_FAULT_NOT_MAPPED, rec
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    # A record that does not translate stops the queue after the
    # descriptor ran (not retried); a misaligned one is refused.
    for qq in (uq, kq):
        qq.reset()
    card.clear_errors()
    rq = UserQueue(card, sp, 8, ring + PAGE, 0x900000000)
    rq.submit([fill(0x200000000 + 0x800, 8, 0xabc)])
    rq.expect_stop(C.LUMEN_STATUS_MMU_FAULT)
    assert sp.vread(0x200000000 + 0x800, 8) == struct.pack('<Q', 0xabc)
    assert rq.reg(C.LUMEN_QREG_COMPLETED) == 1
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    card.clear_errors()
    card.wreg(qreg(9, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_RESET)
    card.wreg64(qreg(9, C.LUMEN_QREG_RING_BASE_LO), ring)
    card.wreg(qreg(9, C.LUMEN_QREG_RING_ORDER), 4)
    card.wreg64(qreg(9, C.LUMEN_QREG_CPL_LO), cpl + 8)
    card.wreg(qreg(9, C.LUMEN_QREG_CTRL), C.LUMEN_QCTRL_ENABLE |
              C.LUMEN_QCTRL_USER | 3 << C.LUMEN_QCTRL_CTX_SHIFT)
    assert card.reg(qreg(9, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    expect_error(card, C.LUMEN_ERR_QUEUE_DESC, C.LUMEN_STATUS_BAD_ARGUMENT, 9)


@test
def user_queues_off(env):
    q, card = queue_card(env, ',user-queues=off')
    assert not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_USER_QUEUES
    ctrl = qreg(0, C.LUMEN_QREG_CTRL)
    card.wreg64(qreg(0, C.LUMEN_QREG_RING_BASE_LO), RING_AREA)
    card.wreg(qreg(0, C.LUMEN_QREG_RING_ORDER), 4)
    card.clear_errors()
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE | C.LUMEN_QCTRL_USER)
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 ctrl)
    # PRIV is a reserved PTE bit without the capability.
    sp = Space(card, 2)
    sp.map(0x100000000, HOST_T, HOST_AREA, PAGE, perms=RW | C.LUMEN_PTE_PRIV)
    qu = Queue(card, 1, ctx=2)
    card.clear_errors()
    qu.submit([fill(0x100000000, 8, 1)])
    qu.expect_stop(C.LUMEN_STATUS_MMU_FAULT)
    assert fault_record(card)['info'] & C.LUMEN_MMU_FAULT_KIND_MASK == \
        C.LUMEN_MMU_FAULT_BAD_PTE


@test
def mmu_faults(env):
    q, card = queue_card(env)
    victim = copy_space(card, 4, 'host')
    va = Queue(card, 8, ctx=4)
    va2 = Queue(card, 9, ctx=4)
    other = copy_space(card, 6, 'device')
    ob = Queue(card, 10, ctx=6)
    ro = 0x500000000
    victim.map(ro, HOST_T, 0x6000000, PAGE, perms=C.LUMEN_PTE_READ)
    victim.map(ro + PAGE, HOST_T, 0x6001000, PAGE, perms=C.LUMEN_PTE_WRITE)
    W = C.LUMEN_MMU_FAULT_WRITE_ACCESS
    cases = [
        # (descriptor, fault VA, info)
        (copy(0x900000000, 0x100000000, 8), 0x900000000,
         C.LUMEN_MMU_FAULT_NOT_MAPPED),
        (copy(0x100000000, 0x100000000 + 64 * PAGE - 4, 8),
         0x100000000 + 64 * PAGE, C.LUMEN_MMU_FAULT_NOT_MAPPED | W),
        (fill(ro + 8, 8, 0), ro + 8, C.LUMEN_MMU_FAULT_WRITE | W),
        (fence(C.LUMEN_CMD_WAIT, ro + PAGE + 8, 1), ro + PAGE + 8,
         C.LUMEN_MMU_FAULT_READ),
        (fence(C.LUMEN_CMD_SIGNAL, 1 << 48, 1), 1 << 48,
         C.LUMEN_MMU_FAULT_NOT_MAPPED | W),
        (fence(C.LUMEN_CMD_TIMESTAMP, 0xfffffffffffffff8), 0xfffffffffffffff8,
         C.LUMEN_MMU_FAULT_NOT_MAPPED | W),
    ]
    # Bad entries: reserved bits, LEAF at level 1, misaligned 2 MiB leaf,
    # device memory beyond MEM_SIZE, target 2.
    bad_ptes = [
        (0x600000000, 3, 0x6002000 | HOST_T | RW | 1 | 1 << 7),
        (0x640000000, 1, 0x6000000 | HOST_T | RW | 1 | C.LUMEN_PTE_LEAF),
        (0x680000000, 2, 0x6001000 | HOST_T | RW | 1 | C.LUMEN_PTE_LEAF),
        (0x6c0000000, 3, card.mem_size | DEV_T | RW | 1),
        (0x700000000, 3, 0x6002000 | 2 << 4 | RW | 1),
        (0x740000000, 3, 0x6002000 | HOST_T | RW | 1 | 1 << 52),
    ]
    for v, level, pte in bad_ptes:
        victim.set_pte(v, level, pte)
        cases.append((copy(v + 0x10, 0x100000000, 8), v + 0x10,
                      C.LUMEN_MMU_FAULT_BAD_PTE))
    ob.submit([fence(C.LUMEN_CMD_WAIT, 0x200000000, 1 << 62)])
    for i, (c, addr, info) in enumerate(cases):
        card.clear_errors()
        card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
        va.reset()
        va2.reset()
        va2.submit([fence(C.LUMEN_CMD_WAIT, 0x100000000, 1 << 62)])
        va.submit([nop(), cmd(c[0], struct.unpack('<7Q', c[8:]),
                              flags=c[1], tag=0x1000 + i)])
        va.expect_stop(C.LUMEN_STATUS_MMU_FAULT, 1)
        rec = fault_record(card)
        want = dict(status=1, ctx=4, addr=addr, info=info, queue=8,
                    tag=0x1000 + i)
        assert rec == want, 'case %d: %r != %r' % (i, rec, want)
        expect_error(card, C.LUMEN_ERR_MMU, C.LUMEN_STATUS_MMU_FAULT, addr)
        assert card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_MMU_FAULT
        assert card.msi_fired(C.LUMEN_VEC_ERROR)
        # Every queue of context 4 stopped; context 6 keeps running.
        va2.expect_stop(C.LUMEN_STATUS_MMU_FAULT)
        assert va2.reg(C.LUMEN_QREG_ERROR_INDEX) == va2.reg(
            C.LUMEN_QREG_HEAD)
        assert ob.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    other.vwrite(0x200000000, struct.pack('<Q', 1 << 62))
    q.clock_step(100000)
    assert ob.settle() == C.LUMEN_QSTS_IDLE
    ob.run([copy(0x300000000, 0x200000000, 0x3000)])
    # First fault wins: a second fault only counts.
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    card.clear_errors()
    va.reset()
    va.submit([copy(0xa00000000, 0x100000000, 1, tag=1)])
    va.expect_stop(C.LUMEN_STATUS_MMU_FAULT, 0)
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    card.clear_errors()
    va.reset()
    va.submit([copy(0xb00000000, 0x100000000, 1, tag=2)])
    va.expect_stop(C.LUMEN_STATUS_MMU_FAULT, 0)
    rec = fault_record(card)
    assert rec['addr'] == 0xa00000000 and rec['tag'] == 1, rec
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count + 1
    assert not card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_MMU_FAULT
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0
    # An invalid context: BAD_CONTEXT.
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 4)
    card.wreg(C.LUMEN_REG_MMU_CTX_CTRL, 0)
    va.reset()
    va.submit([nop(), fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 1, tag=9)])
    va.expect_stop(C.LUMEN_STATUS_MMU_FAULT, 1)
    rec = fault_record(card)
    assert rec['info'] == C.LUMEN_MMU_FAULT_BAD_CONTEXT | W, rec
    # Unmap + invalidate: the next access faults.
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    other.set_pte(0x300000000, 3, 0)
    other.invalidate()
    ob.submit([copy(0x300000000, 0x200000000, 8)])
    ob.expect_stop(C.LUMEN_STATUS_MMU_FAULT, ob.reg(C.LUMEN_QREG_HEAD))
    assert fault_record(card)['ctx'] == 6
    # A host page-table page that cannot be read: DMA error.
    card.clear_errors()
    card.wreg(C.LUMEN_REG_MMU_CTX_SELECT, 4)
    card.wreg64(C.LUMEN_REG_MMU_CTX_ROOT_LO, 0xfee00000000 | HOST_T)
    card.wreg(C.LUMEN_REG_MMU_CTX_CTRL, C.LUMEN_MMU_CTX_VALID)
    va.reset()
    va.submit([fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 1)])
    va.expect_stop(C.LUMEN_STATUS_DMA_ERROR, 0)
    expect_error(card, C.LUMEN_ERR_DMA, C.LUMEN_STATUS_DMA_ERROR,
                 0xfee00000000 + 8 * ((0x100000000 >> 39) & 511))


@test
def fault_injection(env):
    q, card = queue_card(env, ',queues=40')
    sp = copy_space(card, 0, 'host')
    qs = {n: Queue(card, n) for n in (0, 1, 2, 35)}
    st = C.LUMEN_REG_INJECT_STATUS
    assert card.reg(st) == 0 and card.reg(st + 4) == 0
    for bad in (INJECT_COUNT, 0xff, 40 << 8 | 1, 1 << 16 | 1):
        card.clear_errors()
        card.wreg(C.LUMEN_REG_INJECT_CTRL, bad)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                     C.LUMEN_REG_INJECT_CTRL)
    card.clear_errors()
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 0 << 8 | C.LUMEN_INJECT_HANG_QUEUE)
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 1 << 8 | C.LUMEN_INJECT_DMA_FAIL)
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 2 << 8 | C.LUMEN_INJECT_CORRUPT_DESC)
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 35 << 8 | C.LUMEN_INJECT_HANG_QUEUE)
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 34 << 8 | C.LUMEN_INJECT_WEDGE_QUEUE)
    assert card.reg(st) == 7 and card.reg(st + 4) == 1 << 3 | 1 << 2
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 35 << 8 | C.LUMEN_INJECT_NONE)
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 34 << 8 | C.LUMEN_INJECT_NONE)
    assert card.reg(st + 4) == 0
    assert card.reg(C.LUMEN_REG_INJECT_CTRL) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # HANG_QUEUE: RUNNING forever, HEAD stays, until QCTRL_RESET.
    qs[0].submit([fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 1), nop()])
    for _ in range(10):
        q.clock_step(1000000)
    assert qs[0].reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qs[0].reg(C.LUMEN_QREG_HEAD) == 0
    assert sp.vread(0x100000000, 8) == bytes(8)
    assert card.reg(st) == 6
    qs[0].reset()
    qs[0].run([fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 1)])
    assert sp.vread(0x100000000, 8) == struct.pack('<Q', 1)
    # DMA_FAIL: the next descriptor fails with DMA_ERROR.
    qs[1].run([nop()] * 0 + [])
    qs[1].submit([nop(), nop()])
    qs[1].expect_stop(C.LUMEN_STATUS_DMA_ERROR, 0)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) & C.LUMEN_ERR_DMA
    # CORRUPT_DESC: the next descriptor is garbage.
    qs[2].submit([nop(), nop()])
    qs[2].expect_stop(C.LUMEN_STATUS_BAD_DESCRIPTOR, 0)
    assert card.reg(st) == 0
    for n in (1, 2):
        qs[n].reset()
        qs[n].run([nop(), nop()])
    # A queue reset disarms.
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 2 << 8 | C.LUMEN_INJECT_HANG_QUEUE)
    qs[2].reset()
    assert card.reg(st) == 0
    qs[2].run([nop()])
    # Soft reset disarms too.
    card.wreg(C.LUMEN_REG_INJECT_CTRL, 2 << 8 | C.LUMEN_INJECT_HANG_QUEUE)
    card.soft_reset()
    assert card.reg(st) == 0


# Device injections: FW_CRASH, HALT, MBOX_HANG fire at once and hold until a
# soft reset or an FLR.

def alias(sp, va, dev, size):
    """Map [va, va + size) of @sp to the 2 MiB device page at @dev, again
    and again: a large job that touches little RAM."""
    for i in range((size + HUGE - 1) // HUGE):
        sp.map(va + i * HUGE, DEV_T, dev, HUGE, huge=True)


def inject_card(env, props=''):
    """A booted card whose mailbox answers and whose queue 0 (context 0)
    runs; errors and interrupts cleared."""
    q, card = queue_card(env, props)
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING, seq=1))['seq'] == 1
    sp = copy_space(card, 0, 'host')
    qu = Queue(card, 0)
    qu.run([fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 1)])
    card.clear_errors()
    return q, card, sp, qu


def inject(card, kind, qn=0):
    card.wreg(C.LUMEN_REG_INJECT_CTRL, qn << C.LUMEN_INJECT_QUEUE_SHIFT | kind)


def start_wait(card, sp, qu, flag, word):
    """Park @qu on a WAIT for *flag >= 1 with a SIGNAL of *word behind it."""
    sp.vwrite(flag, bytes(8))
    sp.vwrite(word, bytes(8))
    head = qu.reg(C.LUMEN_QREG_HEAD)
    qu.submit([fence(C.LUMEN_CMD_WAIT, flag, 1),
               fence(C.LUMEN_CMD_SIGNAL, word, 0x77)])
    card.q.clock_step(200000)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qu.reg(C.LUMEN_QREG_HEAD) == head
    return head


def expect_stops_at_boundary(card, sp, qu, flag, word, head):
    """The WAIT parked before the injection still completes (it was in
    progress); the SIGNAL behind it is never fetched."""
    sp.vwrite(flag, struct.pack('<Q', 1))
    for _ in range(5):
        card.q.clock_step(1000000)
    assert qu.reg(C.LUMEN_QREG_HEAD) == head + 1, 'HEAD %d, expected %d' % (
        qu.reg(C.LUMEN_QREG_HEAD), head + 1)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == head + 1
    assert sp.vread(word, 8) == bytes(8), 'descriptor fetched after the stop'


def expect_no_fetch(card, sp, qu, va):
    """@qu takes a doorbell but fetches nothing: RUNNING, HEAD kept."""
    head = qu.reg(C.LUMEN_QREG_HEAD)
    sp.vwrite(va, bytes(8))
    qu.submit([fence(C.LUMEN_CMD_SIGNAL, va, 0x5a), nop()])
    for _ in range(5):
        card.q.clock_step(1000000)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qu.reg(C.LUMEN_QREG_HEAD) == head
    assert qu.reg(C.LUMEN_QREG_TAIL) == qu.tail
    assert sp.vread(va, 8) == bytes(8), 'stopped queue ran a SIGNAL'


def expect_mbox_silent(card):
    """A PING is accepted, but neither consumed nor answered, silently."""
    card.clear_msi()
    head = card.reg(C.LUMEN_REG_MBOX_REQ_HEAD)
    resp = card.reg(C.LUMEN_REG_MBOX_RESP_TAIL)
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    tail = card.post([make_msg(C.LUMEN_MBOX_PING, seq=66)])
    for _ in range(5):
        card.q.clock_step(1000000)
    # A RESP_HEAD write re-kicks the mailbox: still nothing.
    card.wreg(C.LUMEN_REG_MBOX_RESP_HEAD,
              card.reg(C.LUMEN_REG_MBOX_RESP_HEAD))
    card.q.clock_step(1000000)
    assert card.reg(C.LUMEN_REG_MBOX_REQ_TAIL) == tail
    assert card.reg(C.LUMEN_REG_MBOX_REQ_HEAD) == head
    assert card.reg(C.LUMEN_REG_MBOX_RESP_TAIL) == resp
    assert not card.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_MBOX
    assert not card.msi_fired(C.LUMEN_VEC_MBOX)
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count


def flr(card):
    pcie = card.find_cap(0x10)
    card.cfg_write16(pcie + 8, card.cfg_read16(pcie + 8) | 0x8000)
    card.setup()                        # FLR cleared BARs and MSI-X


def expect_recovered(card, after_flr=False):
    """After the reset: as after any reset; firmware, mailbox, queues work."""
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == (
        0 if after_flr else C.LUMEN_DEVSTS_RESET_DONE)
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_OFF
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    assert card.reg(qreg(0, C.LUMEN_QREG_STATUS)) == C.LUMEN_QSTS_DISABLED
    assert card.reg(qreg(0, C.LUMEN_QREG_PROGRESS)) == 0
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_FW_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING, b'back', seq=9))[
        'payload'] == b'back'
    sp = copy_space(card, 0, 'host')
    sp.vwrite(0x100000000, bytes(8))
    Queue(card, 0).run([fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 3)])
    assert sp.vread(0x100000000, 8) == struct.pack('<Q', 3)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def inject_device_rejects(env):
    q, card, sp, qu = inject_card(env)
    for bad in (1 << 8 | C.LUMEN_INJECT_FW_CRASH, 1 << 8 | C.LUMEN_INJECT_HALT,
                15 << 8 | C.LUMEN_INJECT_MBOX_HANG, INJECT_COUNT,
                1 << 16 | C.LUMEN_INJECT_HALT):
        card.clear_errors()
        card.wreg(C.LUMEN_REG_INJECT_CTRL, bad)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                     C.LUMEN_REG_INJECT_CTRL)
        assert card.reg(C.LUMEN_REG_ERR_STATUS) == C.LUMEN_ERR_REG_ACCESS
    # Nothing fired or was armed.
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_FW_RUNNING
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_RUNNING
    assert card.call(make_msg(C.LUMEN_MBOX_PING, seq=2))['seq'] == 2
    sp.vwrite(0x100000000, bytes(8))
    qu.run([fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 2)])
    assert sp.vread(0x100000000, 8) == struct.pack('<Q', 2)
    # Without CAPS.FAULT_INJECT the block is reserved for device kinds too.
    q2, card2 = one_card(env, ',fault-inject=off')
    card2.soft_reset()
    card2.clear_errors()
    card2.wreg(C.LUMEN_REG_INJECT_CTRL, C.LUMEN_INJECT_HALT)
    expect_error(card2, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 C.LUMEN_REG_INJECT_CTRL)
    assert card2.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_RESET_DONE


@test
def inject_fw_crash(env):
    q, card, sp, qu = inject_card(env)
    flag, word = 0x100000000 + 0x200, 0x100000000 + 0x208
    head = start_wait(card, sp, qu, flag, word)
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    inject(card, C.LUMEN_INJECT_FW_CRASH)
    # The firmware is dead, the device is not halted.
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == 0
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_FAILED
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == C.LUMEN_STATUS_FW_CRASHED
    assert card.reg(C.LUMEN_REG_FW_VERSION) == 0
    assert card.reg(C.LUMEN_REG_FW_ABI_VERSION) == 0
    # ERR_INTERNAL with FW_CRASHED on the error vector, no INT_BOOT.
    expect_error(card, C.LUMEN_ERR_INTERNAL, C.LUMEN_STATUS_FW_CRASHED, 0)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == C.LUMEN_ERR_INTERNAL
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count + 1
    assert card.reg(C.LUMEN_REG_INT_STATUS) == C.LUMEN_INT_ERROR
    assert card.msi_fired(C.LUMEN_VEC_ERROR)
    assert not card.msi_fired(C.LUMEN_VEC_MBOX)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    # Queues: the WAIT in progress completes, nothing more is fetched, by
    # this queue or by one enabled after the crash; registers are kept.
    expect_stops_at_boundary(card, sp, qu, flag, word, head)
    expect_no_fetch(card, sp, Queue(card, 1), 0x100000000 + 0x300)
    expect_no_fetch(card, sp, qu, 0x100000000 + 0x310)
    # The mailbox is closed: a doorbell is a protocol error, no response.
    card.clear_errors()
    resp = card.reg(C.LUMEN_REG_MBOX_RESP_TAIL)
    card.wreg(C.LUMEN_REG_MBOX_REQ_TAIL, 3)
    expect_error(card, C.LUMEN_ERR_MBOX_PROTOCOL, C.LUMEN_STATUS_BAD_STATE, 3)
    q.clock_step(1000000)
    assert card.reg(C.LUMEN_REG_MBOX_RESP_TAIL) == resp
    assert not card.msi_fired(C.LUMEN_VEC_MBOX)
    # BOOT needs a reset first; the crash holds.
    card.wreg(C.LUMEN_REG_BOOT_CTRL, C.LUMEN_BOOT_CTRL_BOOT)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE,
                 C.LUMEN_REG_BOOT_CTRL)
    q.clock_step(10 ** 8)
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_FAILED
    assert qu.reg(C.LUMEN_QREG_HEAD) == head + 1
    # Soft reset: the firmware boots again, mailbox and queues work.
    card.soft_reset()
    expect_recovered(card)
    # A crash without running firmware (OFF) fails the boot state too.
    card.soft_reset()
    card.clear_errors()
    inject(card, C.LUMEN_INJECT_FW_CRASH)
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_FAILED
    assert card.reg(C.LUMEN_REG_BOOT_ERROR) == C.LUMEN_STATUS_FW_CRASHED
    expect_error(card, C.LUMEN_ERR_INTERNAL, C.LUMEN_STATUS_FW_CRASHED, 0)
    card.soft_reset()
    expect_recovered(card)


@test
def inject_halt(env):
    q, card, sp, qu = inject_card(env)
    flag, word = 0x100000000 + 0x200, 0x100000000 + 0x208
    head = start_wait(card, sp, qu, flag, word)
    # And a long COPY (3 GiB) in progress on another queue.
    big = Space(card, 3)
    size = 3 << 30
    alias(big, 0x1000000000, 0, size)
    alias(big, 0x2000000000, HUGE, size)
    big.map(0x3000000000, DEV_T, 2 * HUGE, PAGE)
    q.memwrite(card.bar2 + 2 * HUGE, bytes(8))
    bq = Queue(card, 2, ctx=3)
    bq.submit([copy(0x1000000000, 0x2000000000, size),
               fence(C.LUMEN_CMD_SIGNAL, 0x3000000000, 1)])
    card.poll(qreg(2, C.LUMEN_QREG_PROGRESS), lambda v: v > 0, 'COPY start')
    inject(card, C.LUMEN_INJECT_HALT)
    assert bq.reg(C.LUMEN_QREG_PROGRESS) < size, 'COPY ended before HALT'
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == (C.LUMEN_DEVSTS_FW_RUNNING |
                                                   C.LUMEN_DEVSTS_HALTED)
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_RUNNING
    expect_error(card, C.LUMEN_ERR_INTERNAL, C.LUMEN_STATUS_INTERNAL, 0)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == C.LUMEN_ERR_INTERNAL
    assert card.reg(C.LUMEN_REG_INT_STATUS) == C.LUMEN_INT_ERROR
    assert card.msi_fired(C.LUMEN_VEC_ERROR)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    expect_stops_at_boundary(card, sp, qu, flag, word, head)
    # The COPY completes, the SIGNAL behind it is not fetched.
    card.poll(qreg(2, C.LUMEN_QREG_PROGRESS), lambda v: v == size,
              'COPY end', tries=2000)
    q.clock_step(1000000)
    assert bq.reg(C.LUMEN_QREG_HEAD) == 1
    assert bq.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert bq.reg(C.LUMEN_QREG_PROGRESS) == size
    assert q.memread(card.bar2 + 2 * HUGE, 8) == bytes(8)
    expect_no_fetch(card, sp, Queue(card, 1), 0x100000000 + 0x300)
    expect_mbox_silent(card)
    # Firing again is one more error event (same class: no new INT_ERROR).
    card.clear_msi()
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    inject(card, C.LUMEN_INJECT_HALT)
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count + 1
    assert not card.msi_fired(C.LUMEN_VEC_ERROR)
    # An FLR ends it like a soft reset does.
    flr(card)
    expect_recovered(card, after_flr=True)
    # And a soft reset ends it as well.
    card.clear_errors()
    inject(card, C.LUMEN_INJECT_HALT)
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) & C.LUMEN_DEVSTS_HALTED
    card.soft_reset()
    expect_recovered(card)


@test
def inject_mbox_hang(env):
    q, card, sp, qu = inject_card(env)
    card.clear_msi()
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    inject(card, C.LUMEN_INJECT_MBOX_HANG)
    # Silent: no status change, no error, no interrupt.
    assert card.reg(C.LUMEN_REG_DEVICE_STATUS) == C.LUMEN_DEVSTS_FW_RUNNING
    assert card.reg(C.LUMEN_REG_BOOT_STATUS) == C.LUMEN_BOOT_RUNNING
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count
    assert card.reg(C.LUMEN_REG_INT_STATUS) == 0
    assert not card.msi_fired(C.LUMEN_VEC_ERROR)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    expect_mbox_silent(card)
    # Queues keep running.
    sp.vwrite(0x100000000, bytes(8))
    qu.run([nop(), fence(C.LUMEN_CMD_SIGNAL, 0x100000000, 4)])
    assert sp.vread(0x100000000, 8) == struct.pack('<Q', 4)
    q.clock_step(10 ** 8)
    assert card.reg(C.LUMEN_REG_MBOX_RESP_TAIL) == 1
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    card.soft_reset()
    expect_recovered(card)


def expect_wedged(card, sp, qu, va, head=0):
    """@qu is enabled but wedged: RUNNING, HEAD and TAIL kept, a doorbell
    is dropped silently (no error, no interrupt) and runs nothing."""
    card.clear_msi()
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    tail = qu.reg(C.LUMEN_QREG_TAIL)
    progress = qu.reg(C.LUMEN_QREG_PROGRESS)
    sp.vwrite(va, bytes(8))
    qu.submit([fence(C.LUMEN_CMD_SIGNAL, va, 0x5a, flags=C.LUMEN_CMD_F_IRQ),
               nop()])
    for _ in range(5):
        card.q.clock_step(1000000)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qu.reg(C.LUMEN_QREG_HEAD) == head
    assert qu.reg(C.LUMEN_QREG_TAIL) == tail, 'doorbell of a wedged queue ' \
        'moved TAIL to %d' % qu.reg(C.LUMEN_QREG_TAIL)
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == progress
    assert sp.vread(va, 8) == bytes(8), 'wedged queue ran a SIGNAL'
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert not card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + qu.qn)
    qu.tail = tail                      # the dropped doorbell never happened


@test
def inject_wedge_queue(env):
    q, card, sp, qu = inject_card(env)
    other = Queue(card, 1)
    va = 0x100000000 + 0x400
    # Armed like any queue injection: shown in INJECT_STATUS, no error.
    inject(card, C.LUMEN_INJECT_WEDGE_QUEUE, qu.qn)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 1 << qu.qn
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    head = qu.reg(C.LUMEN_QREG_HEAD)
    # It fires on the next descriptor: the job stops like a hang, silently.
    sp.vwrite(va, bytes(8))
    qu.submit([fence(C.LUMEN_CMD_SIGNAL, va, 1), nop()])
    for _ in range(10):
        q.clock_step(1000000)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qu.reg(C.LUMEN_QREG_HEAD) == head
    assert qu.reg(C.LUMEN_QREG_TAIL) == qu.tail
    assert sp.vread(va, 8) == bytes(8)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # Fired: device state now, no longer "armed".
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    # Unlike a hang, later doorbells are dropped (TAIL kept).
    expect_wedged(card, sp, qu, va + 8, head)
    # Other queues keep running.
    sp.vwrite(va + 16, bytes(8))
    other.run([fence(C.LUMEN_CMD_SIGNAL, va + 16, 2)])
    assert sp.vread(va + 16, 8) == struct.pack('<Q', 2)
    # QCTRL_RESET does not recover it. The reset itself works: DISABLED,
    # indices 0; but re-programmed and enabled, the queue reads RUNNING
    # with HEAD == TAIL, and a new doorbell does nothing.
    qu.reset(enable=False)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    assert qu.reg(C.LUMEN_QREG_HEAD) == 0 and qu.reg(C.LUMEN_QREG_TAIL) == 0
    qu = Queue(card, qu.qn)             # QCTRL_RESET, ring, ORDER, enable
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING, \
        'wedged queue reads %d after its reset' % qu.reg(C.LUMEN_QREG_STATUS)
    expect_wedged(card, sp, qu, va + 24)
    # RESET | ENABLE in one write: the same.
    qu.reset()
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    expect_wedged(card, sp, qu, va + 32)
    # Disabled, it is DISABLED and its doorbell is the usual error;
    # enabled again, RUNNING.
    card.wreg(qreg(qu.qn, C.LUMEN_QREG_CTRL), 0)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    qu.doorbell(1)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE, 0)
    card.clear_errors()
    qu.enable()
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    # An injection armed on the wedged queue never fires (nothing is
    # fetched), so it stays armed until a queue reset disarms it.
    inject(card, C.LUMEN_INJECT_DMA_FAIL, qu.qn)
    expect_wedged(card, sp, qu, va + 40)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 1 << qu.qn
    qu.reset()
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    # Only a device reset clears it: the queue works normally again.
    card.soft_reset()
    expect_recovered(card)
    sp = copy_space(card, 0, 'host')
    qu = Queue(card, 0)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_IDLE
    sp.vwrite(va, bytes(8))
    qu.run([nop(), fence(C.LUMEN_CMD_SIGNAL, va, 5)])
    assert sp.vread(va, 8) == struct.pack('<Q', 5)
    assert qu.reg(C.LUMEN_QREG_HEAD) == 2
    # An FLR clears it too.
    inject(card, C.LUMEN_INJECT_WEDGE_QUEUE, qu.qn)
    qu.submit([nop()])
    for _ in range(5):
        q.clock_step(1000000)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert qu.reg(C.LUMEN_QREG_HEAD) == 2
    qu.reset()
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    flr(card)
    expect_recovered(card, after_flr=True)
    # Unknown kinds after it are still refused.
    card.clear_errors()
    inject(card, INJECT_COUNT, 0)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 C.LUMEN_REG_INJECT_CTRL)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0


# The queue PROGRESS register.

def watch_progress(qu, cmds, tries=200000):
    """Submit @cmds and read PROGRESS until the queue settles IDLE; return
    PROGRESS before and every value seen (the last one after the end)."""
    start = qu.reg(C.LUMEN_QREG_PROGRESS)
    qu.submit(cmds)
    seen = []
    for _ in range(tries):
        st = qu.reg(C.LUMEN_QREG_STATUS)
        seen.append(qu.reg(C.LUMEN_QREG_PROGRESS))
        if st != C.LUMEN_QSTS_RUNNING:
            break
    assert st == C.LUMEN_QSTS_IDLE, 'queue %d status %d' % (qu.qn, st)
    return start, seen


def check_growth(start, seen, size, what):
    """PROGRESS (mod 2^32) only moved forward, by @size in all, and was seen
    while the descriptor ran, strictly between its start and end."""
    done, prev, mid = 0, start, False
    for v in seen:
        step = (v - prev) & 0xffffffff
        assert step < 1 << 31, '%s: PROGRESS went back (0x%x -> 0x%x)' % (
            what, prev, v)
        done += step
        prev = v
        mid = mid or 0 < done < size
    assert done == size, '%s: PROGRESS moved by 0x%x, expected 0x%x' % (
        what, done, size)
    assert mid, '%s: PROGRESS not seen moving (%d reads)' % (what, len(seen))


@test
def queue_progress(env):
    q, card = queue_card(env)
    sp = copy_space(card, 1, 'host')
    qu = Queue(card, 2, ctx=1)
    P = C.LUMEN_QREG_PROGRESS
    assert qu.reg(P) == 0
    # Exact counts: COPY and FILL destinations, SIGNAL and TIMESTAMP words;
    # NOP, WAIT and an empty COPY write nothing.
    qu.run([copy(0x100000000 + 0x7f3, 0x200000000 + HUGE - 0x1801, 0x5123)])
    assert qu.reg(P) == 0x5123, hex(qu.reg(P))
    qu.run([fill(0x300000000 + 1, 0x2003, 0x1122334455667788), nop(),
            copy(0x100000000, 0x300000000, 0),
            fence(C.LUMEN_CMD_SIGNAL, 0x200000000, 1),
            fence(C.LUMEN_CMD_WAIT, 0x200000000, 1),
            fence(C.LUMEN_CMD_TIMESTAMP, 0x100000008)])
    total = 0x5123 + 0x2003 + 16
    assert qu.reg(P) == total, hex(qu.reg(P))
    # Per queue; read-only.
    assert card.reg(qreg(3, P)) == 0
    card.clear_errors()
    card.wreg(qreg(2, P), 0)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 qreg(2, P))
    assert qu.reg(P) == total
    # Disabling keeps it.
    card.wreg(qreg(2, C.LUMEN_QREG_CTRL), 1 << C.LUMEN_QCTRL_CTX_SHIFT)
    assert qu.reg(P) == total
    qu.enable()
    # A COPY that faults on its third destination page wrote two; the
    # STOPPED queue keeps the count.
    head = qu.reg(C.LUMEN_QREG_HEAD)
    qu.submit([copy(0x300000000, 0x100000000 + 62 * PAGE, 3 * PAGE)])
    qu.expect_stop(C.LUMEN_STATUS_MMU_FAULT, head)
    total += 2 * PAGE
    assert qu.reg(P) == total, hex(qu.reg(P))
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    card.clear_errors()
    # QCTRL_RESET clears it.
    qu.reset()
    assert qu.reg(P) == 0
    qu.run([fence(C.LUMEN_CMD_SIGNAL, 0x200000000, 2)])
    assert qu.reg(P) == 8

    # Large jobs run over many engine turns (16 MiB each), so PROGRESS is
    # seen moving. Their VA ranges are backed by one 2 MiB page of device
    # memory each, mapped again and again, so they touch little RAM.
    big = Space(card, 2)
    # A COPY of 2 GiB + 0x1235 from one page to another.
    size = (2 << 30) + 0x1235
    alias(big, 0x1000000000, 0, size)
    alias(big, 0x2000000000, HUGE, size)
    q.memwrite(card.bar2 + 0x1230, b'progress')
    bq = Queue(card, 4, ctx=2)
    start, seen = watch_progress(bq, [copy(0x1000000000, 0x2000000000, size)])
    check_growth(start, seen, size, 'COPY 2 GiB')
    assert start == 0 and bq.reg(P) == size
    assert q.memread(card.bar2 + HUGE + 0x1230, 8) == b'progress'
    # A FILL of 4 GiB + 0x12345: PROGRESS wraps modulo 2^32.
    fsize = (1 << 32) + 0x12345
    alias(big, 0x4000000000, 2 * HUGE, fsize)
    start, seen = watch_progress(bq, [fill(0x4000000000, fsize, 0x42)])
    check_growth(start, seen, fsize, 'FILL 4 GiB')
    assert bq.reg(P) == (size + fsize) & 0xffffffff
    assert q.memread(card.bar2 + 2 * HUGE, 8) == b'\x42' + bytes(7)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # A soft reset clears every queue's PROGRESS.
    card.soft_reset()
    assert bq.reg(P) == 0 and qu.reg(P) == 0


# REDUCE (hw-spec section 10, "Reductions").
#
# An independent reference of the numerics: Python's float arithmetic and
# struct's binary32 ('f') and binary16 ('e') packing, which round to
# nearest even from a double; bfloat16 rounded to nearest even by bit
# manipulation. The sum of two binary32 values computed in a double and
# then rounded to binary32 is the correctly rounded binary32 sum (53 >=
# 2 * 24 + 2 bits); a 16-bit SUM is then rounded once more from that
# binary32, as the contract says. Only the NaN payloads are left open by
# the contract: a NaN result is checked to be a quiet NaN.

DT_F32, DT_F16, DT_BF16, DT_I32 = (C.LUMEN_DT_F32, C.LUMEN_DT_F16,
                                   C.LUMEN_DT_BF16, C.LUMEN_DT_I32)
DTYPES = (DT_F32, DT_F16, DT_BF16, DT_I32)
REDOPS = (C.LUMEN_REDOP_SUM, C.LUMEN_REDOP_MAX, C.LUMEN_REDOP_MIN)
DT_SIZE = {DT_F32: 4, DT_F16: 2, DT_BF16: 2, DT_I32: 4}
DT_NAME = {DT_F32: 'f32', DT_F16: 'f16', DT_BF16: 'bf16', DT_I32: 'i32'}
REDOP_NAME = {C.LUMEN_REDOP_SUM: 'sum', C.LUMEN_REDOP_MAX: 'max',
              C.LUMEN_REDOP_MIN: 'min'}
DT_FMT = {4: '<I', 2: '<H'}
# Exponent-all-ones mask and quiet bit of each float type.
DT_EXP = {DT_F32: 0x7f800000, DT_F16: 0x7c00, DT_BF16: 0x7f80}
DT_QUIET = {DT_F32: 0x00400000, DT_F16: 0x0200, DT_BF16: 0x0040}


def reduce_cmd(src, dst, size, dtype, op, reserved=(0, 0, 0), **kw):
    return cmd(C.LUMEN_CMD_REDUCE, (src, dst, size, dtype | op << 32) +
               tuple(reserved), **kw)


def f32_value(bits):
    return struct.unpack('<f', struct.pack('<I', bits))[0]


def f32_bits(x):
    """binary32 of the double @x, to nearest even; overflow: infinity."""
    try:
        return struct.unpack('<I', struct.pack('<f', x))[0]
    except OverflowError:
        return 0xff800000 if x < 0 else 0x7f800000


def f16_bits(x):
    """binary16 of the double @x, to nearest even; overflow: infinity."""
    try:
        return struct.unpack('<H', struct.pack('<e', x))[0]
    except OverflowError:
        return 0xfc00 if x < 0 else 0x7c00


def bf16_round(b32):
    """bfloat16 of the (non-NaN) binary32 @b32, to nearest even."""
    return ((b32 + 0x7fff + (b32 >> 16 & 1)) >> 16) & 0xffff


def dt_nan(dtype, bits):
    """Is @bits a NaN of @dtype (exponent all ones, fraction not 0)?"""
    e = DT_EXP[dtype]
    frac = (e & -e) - 1             # the bits below the exponent
    return bits & e == e and bits & frac != 0


def dt_widen(dtype, bits):
    """The value of a (non-NaN) element as a double, exactly."""
    if dtype == DT_F32:
        return f32_value(bits)
    if dtype == DT_F16:
        return struct.unpack('<e', struct.pack('<H', bits))[0]
    return f32_value(bits << 16)


def signed32(v):
    return v - (1 << 32) if v & 0x80000000 else v


def ref_element(dtype, op, d, s):
    """dst element @d op= src element @s (bits): the result's bits, or None
    for "a quiet NaN"."""
    if dtype == DT_I32:
        if op == C.LUMEN_REDOP_SUM:
            return (d + s) & 0xffffffff
        if op == C.LUMEN_REDOP_MAX:
            return s if signed32(s) > signed32(d) else d
        return s if signed32(s) < signed32(d) else d
    if dt_nan(dtype, d) or dt_nan(dtype, s):
        return None
    x, y = dt_widen(dtype, d), dt_widen(dtype, s)
    if op == C.LUMEN_REDOP_MAX:
        return s if x < y else d            # equal (-0, +0): dst's
    if op == C.LUMEN_REDOP_MIN:
        return s if y < x else d
    r = x + y
    if r != r:
        return None                         # inf + -inf
    b32 = f32_bits(r)
    if dtype == DT_F32:
        return b32
    if dtype == DT_F16:
        return f16_bits(f32_value(b32))
    return bf16_round(b32)


def elems(dtype, raw):
    n = DT_SIZE[dtype]
    return [struct.unpack_from(DT_FMT[n], raw, i)[0]
            for i in range(0, len(raw), n)]


def pack_elems(dtype, values):
    fmt = DT_FMT[DT_SIZE[dtype]]
    return b''.join(struct.pack(fmt, v) for v in values)


def ref_reduce(dtype, op, dst, src):
    """The expected dst (element list, None = a quiet NaN) of @dst op= @src
    (raw bytes)."""
    return [ref_element(dtype, op, d, s)
            for d, s in zip(elems(dtype, dst), elems(dtype, src))]


def check_reduced(dtype, op, got, want, dst, src, what):
    """@got (raw dst bytes after the REDUCE) against the reference @want;
    @dst and @src (raw) only for the message."""
    g, ds, ss = elems(dtype, got), elems(dtype, dst), elems(dtype, src)
    assert len(g) == len(want), what
    for i, (x, w) in enumerate(zip(g, want)):
        if w is None:
            ok = dt_nan(dtype, x) and x & DT_QUIET[dtype]
        else:
            ok = x == w
        if not ok:
            raise AssertionError(
                '%s: %s %s element %d: dst 0x%x op src 0x%x = 0x%x, '
                'expected %s' % (what, DT_NAME[dtype], REDOP_NAME[op], i,
                                 ds[i], ss[i], x, 'a quiet NaN' if w is None
                                 else '0x%x' % w))


# Values every pair of which is tried: zeros of both signs, infinities,
# quiet and signalling NaNs, subnormals, the extremes, ties of the rounding
# (1 + half an ulp, 1 + 1.5 ulp), overflow.
REDUCE_SPECIALS = {
    DT_F32: [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00123,
             0x7f800001, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff,
             0xff7fffff, 0x3f800000, 0xbf800000, 0x3f800001, 0x33800000,
             0xb3800000, 0x4b800000],
    DT_F16: [0, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7c01, 0x0001,
             0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0xbc00, 0x3c01,
             0x1000, 0x5000, 0x4800, 0x0200],
    DT_BF16: [0, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x0001,
              0x807f, 0x0080, 0x7f7f, 0xff7f, 0x3f80, 0xbf80, 0x3f81,
              0x3b80, 0x4380, 0x0040],
    DT_I32: [0, 1, 2, 0xffffffff, 0xfffffffe, 0x7fffffff, 0x80000000,
             0x80000001, 0x12345678, 0xedcba988],
}


def rand_element(dtype, rng):
    """Random bits, or (mostly) a value near 1 so that sums really round."""
    if dtype == DT_I32 or rng.random() < 0.3:
        return rng.getrandbits(8 * DT_SIZE[dtype])
    sign = rng.getrandbits(1)
    if dtype == DT_F32:
        return sign << 31 | (127 + rng.randrange(-12, 12)) << 23 | \
            rng.getrandbits(23)
    if dtype == DT_F16:
        return sign << 15 | (15 + rng.randrange(-14, 15)) << 10 | \
            rng.getrandbits(10)
    return sign << 15 | (127 + rng.randrange(-12, 12)) << 7 | \
        rng.getrandbits(7)


def finite_element(dtype, rng):
    """A random element that is neither a NaN nor an infinity."""
    while True:
        v = rand_element(dtype, rng)
        if dtype == DT_I32 or v & DT_EXP[dtype] != DT_EXP[dtype]:
            return v


def reduce_vectors(dtype, seed, random_pairs=200):
    """(dst, src) raw bytes: every pair of the special values, then random
    pairs."""
    sp = REDUCE_SPECIALS[dtype]
    pairs = [(a, b) for a in sp for b in sp]
    rng = random.Random(seed)
    pairs += [(rand_element(dtype, rng), rand_element(dtype, rng))
              for _ in range(random_pairs)]
    return (pack_elems(dtype, [a for a, _ in pairs]),
            pack_elems(dtype, [b for _, b in pairs]))


def reduce_case(sp, qu, src, dst, dtype, op, dval, sval, what, **kw):
    """@dval at @dst and @sval at @src (ignored if src == dst: in place),
    REDUCE, check dst against the reference and its neighbours untouched."""
    size = len(dval)
    sp.vwrite(dst, dval)
    if src != dst:
        sp.vwrite(src, sval)
    else:
        sval = dval
    before = sp.vread_opt(dst - 16, 16)
    after = sp.vread_opt(dst + size, 16)
    want = ref_reduce(dtype, op, dval, sval)
    qu.run([reduce_cmd(src, dst, size, dtype, op, **kw)])
    check_reduced(dtype, op, sp.vread(dst, size), want, dval, sval, what)
    assert sp.vread_opt(dst - 16, 16) == before, '%s: underrun' % what
    assert sp.vread_opt(dst + size, 16) == after, '%s: overrun' % what
    if src != dst:
        assert sp.vread(src, size) == sval, '%s: source changed' % what


@test
def reduce_numerics(env):
    """Every dtype x op against the reference, special values included,
    between host and device pages in all four directions and in place,
    across 4 KiB and 2 MiB page boundaries."""
    q, card = queue_card(env)
    assert card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE
    sp = copy_space(card, 1, 'host')
    qu = Queue(card, 3, ctx=1)
    # (what, src VA, dst VA): each range crosses a page boundary.
    places = [
        ('host -> device', 0x100000000 + PAGE - 0x40,
         0x300000000 + 2 * PAGE - 0x24),
        ('device -> host', 0x200000000 + HUGE - 0x100,
         0x100000000 + 5 * PAGE - 0x88),
        ('device -> device', 0x300000000 + 9 * PAGE - 0x10,
         0x200000000 + 2 * HUGE - 0x200),
        ('host -> host', 0x400000000 + HUGE - 0x804,
         0x100000000 + 20 * PAGE - 0x4),
        ('in place, device', 0x300000000 + 30 * PAGE - 0x30,
         0x300000000 + 30 * PAGE - 0x30),
        ('in place, host', 0x100000000 + 40 * PAGE - 0x60,
         0x100000000 + 40 * PAGE - 0x60),
    ]
    for dtype in DTYPES:
        dval, sval = reduce_vectors(dtype, 1000 + dtype)
        for op in REDOPS:
            for what, src, dst in places:
                reduce_case(sp, qu, src, dst, dtype, op, dval, sval, '%s %s '
                            '%s' % (DT_NAME[dtype], REDOP_NAME[op], what),
                            tag=dtype << 8 | op)
    # A chain: k buffers summed into one with k - 1 descriptors rounds
    # k - 1 times, each REDUCE once per element.
    rng = random.Random(7)
    for dtype in (DT_F16, DT_BF16, DT_F32):
        n = 0x1800 // DT_SIZE[dtype]
        bufs = [pack_elems(dtype, [finite_element(dtype, rng)
                                   for _ in range(n)]) for _ in range(4)]
        vas = [0x200000000 + HUGE - 0x800 + i * 0x2000 for i in range(4)]
        for va, b in zip(vas, bufs):
            sp.vwrite(va, b)
        acc = bufs[0]
        for b in bufs[1:]:
            want = ref_reduce(dtype, C.LUMEN_REDOP_SUM, acc, b)
            assert None not in want
            acc = pack_elems(dtype, want)
        qu.run([reduce_cmd(va, vas[0], len(bufs[0]), dtype,
                           C.LUMEN_REDOP_SUM) for va in vas[1:]])
        assert sp.vread(vas[0], len(acc)) == acc, '%s chain' % DT_NAME[dtype]
    # Size 0 completes at once and touches nothing (not even a page).
    head = qu.reg(C.LUMEN_QREG_HEAD)
    prog = qu.reg(C.LUMEN_QREG_PROGRESS)
    qu.run([reduce_cmd(0xdead0000, 0xbeef0000, 0, DT_F32,
                       C.LUMEN_REDOP_SUM)])
    assert qu.reg(C.LUMEN_QREG_HEAD) == head + 1
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == prog
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0


@test
def reduce_off(env):
    """reduce=off: CAPS.REDUCE (bit 8) clear, and REDUCE is a malformed
    descriptor, even a well-formed one of 0 bytes; the rest works."""
    q, card = queue_card(env, ',reduce=off')
    caps = card.reg(C.LUMEN_REG_CAPS)
    assert not caps & C.LUMEN_CAP_REDUCE and C.LUMEN_CAP_REDUCE == 1 << 8
    assert caps & C.LUMEN_CAP_DMA_QUEUES
    sp = copy_space(card, 1, 'host')
    qu = Queue(card, 3, ctx=1)
    sp.vwrite(0x300000000, struct.pack('<2I', 1, 2))
    sp.vwrite(0x200000000, struct.pack('<2I', 10, 20))
    for i, c in enumerate((
            reduce_cmd(0x300000000, 0x200000000, 8, DT_I32,
                       C.LUMEN_REDOP_SUM),
            reduce_cmd(0, 0x1000, 0, DT_F32, C.LUMEN_REDOP_MAX))):
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), c, nop()])
        qu.expect_stop(C.LUMEN_STATUS_BAD_DESCRIPTOR, 1)
        expect_error(card, C.LUMEN_ERR_QUEUE_DESC,
                     C.LUMEN_STATUS_BAD_DESCRIPTOR, 3)
        assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0, i
    assert sp.vread(0x200000000, 8) == struct.pack('<2I', 10, 20)
    qu.reset()
    qu.run([copy(0x300000000, 0x200000000, 8)])
    assert sp.vread(0x200000000, 8) == struct.pack('<2I', 1, 2)


@test
def reduce_overlap_own_bar(env):
    """A "host" page whose guest-physical address is the card's own BAR2 is
    the device page behind it: a REDUCE between the two views of the same
    bytes is an in-place one (x op x), and any other overlap must not hand
    overlapping ranges to memcpy (ASAN memcpy-param-overlap)."""
    q, card = queue_card(env)
    sp = Space(card, 3)
    qu = Queue(card, 4, ctx=3)
    D = 0x8000000
    sp.map(0x10000, HOST_T, card.bar2 + D, PAGE)    # host alias of D
    sp.map(0x20000, DEV_T, D, PAGE)
    sp.map(0x30000, HOST_T, card.bar2 + D, PAGE)    # second alias of D
    rng = random.Random(3)
    for dtype in DTYPES:
        for op in REDOPS:
            for src, dst in ((0x10000 + 0x100, 0x20000 + 0x100),
                             (0x20000 + 0x204, 0x10000 + 0x204),
                             (0x10000 + 0x308, 0x30000 + 0x308)):
                size = 0x600
                page = bytes(rng.getrandbits(8) for _ in range(PAGE))
                sp.phys_write(DEV_T, D, page)
                o = dst % PAGE
                x = page[o:o + size]
                want = ref_reduce(dtype, op, x, x)
                qu.run([reduce_cmd(src, dst, size, dtype, op)])
                got = sp.phys_read(DEV_T, D, PAGE)
                check_reduced(dtype, op, got[o:o + size], want, x, x,
                              'alias 0x%x -> 0x%x' % (src, dst))
                assert got[:o] == page[:o] and \
                    got[o + size:] == page[o + size:]
            # Partial overlaps: dst unspecified, but QEMU stays sane.
            for src, dst in ((0x10000 + 0x100, 0x20000 + 0x180),
                             (0x20000 + 0x400, 0x10000 + 0x200),
                             (0x10000 + 0x10, 0x30000 + 0x20)):
                qu.run([reduce_cmd(src, dst, 0xc00, dtype, op)])
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def reduce_descriptor_validation(env):
    q, card = queue_card(env)
    Space(card, 0)
    qu = Queue(card, 5)
    F32, F16, SUM = DT_F32, DT_F16, C.LUMEN_REDOP_SUM
    big = C.LUMEN_CMD_MAX_SIZE + 4
    bad = [
        ('unknown dtype', reduce_cmd(0, 0x1000, 8, C.LUMEN_DT_COUNT, SUM)),
        ('dtype 0xffffffff', reduce_cmd(0, 0x1000, 8, 0xffffffff, SUM)),
        ('unknown op', reduce_cmd(0, 0x1000, 8, F32, C.LUMEN_REDOP_COUNT)),
        ('op 0xffffffff', reduce_cmd(0, 0x1000, 8, F16, 0xffffffff)),
        ('src misaligned (f32)', reduce_cmd(2, 0x1000, 8, F32, SUM)),
        ('dst misaligned (f32)', reduce_cmd(0, 0x1001, 8, F32, SUM)),
        ('src misaligned (f16)', reduce_cmd(1, 0x1000, 8, F16, SUM)),
        ('dst misaligned (i32)', reduce_cmd(0, 0x1006, 8, DT_I32, SUM)),
        ('size not whole f32', reduce_cmd(0, 0x1000, 6, F32, SUM)),
        ('size not whole bf16', reduce_cmd(0, 0x1000, 3, DT_BF16, SUM)),
        ('size over the maximum', reduce_cmd(0, 0x1000, big, F32, SUM)),
        ('reserved[0]', reduce_cmd(0, 0x1000, 8, F32, SUM,
                                   reserved=(1, 0, 0))),
        ('reserved[1]', reduce_cmd(0, 0x1000, 8, F32, SUM,
                                   reserved=(0, 1 << 63, 0))),
        ('reserved[2]', reduce_cmd(0, 0x1000, 8, F32, SUM,
                                   reserved=(0, 0, 1))),
        ('reserved flag', reduce_cmd(0, 0x1000, 8, F32, SUM, flags=4)),
        ('reserved0', reduce_cmd(0, 0x1000, 8, F32, SUM, reserved0=1)),
    ]
    for what, c in bad:
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), c, nop()])
        try:
            qu.expect_stop(C.LUMEN_STATUS_BAD_DESCRIPTOR, 1)
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e))
        expect_error(card, C.LUMEN_ERR_QUEUE_DESC,
                     C.LUMEN_STATUS_BAD_DESCRIPTOR, 5)
        assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 5), what
        assert qu.reg(C.LUMEN_QREG_COMPLETED) == 1, what
        assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0, what
    # The limits themselves are fine (size 0 touches nothing).
    qu.reset()
    qu.run([reduce_cmd(2, 0x1002, 0, F16, C.LUMEN_REDOP_MIN),
            reduce_cmd(4, 0x1004, 0, DT_I32, C.LUMEN_REDOP_MAX)])
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == 2


@test
def reduce_faults(env):
    """Faults are those of COPY: dst is translated for a write; a REDUCE
    that faults has reduced (and counted in PROGRESS) a prefix."""
    q, card = queue_card(env)
    sp = copy_space(card, 4, 'host')
    qu = Queue(card, 8, ctx=4)
    other = Queue(card, 9, ctx=4)
    ro = 0x500000000
    sp.map(ro, HOST_T, 0x6000000, PAGE, perms=C.LUMEN_PTE_READ)
    W = C.LUMEN_MMU_FAULT_WRITE_ACCESS
    SUM = C.LUMEN_REDOP_SUM
    sp.vwrite(ro, bytes(range(256)) * 16)
    snap = sp.vread(ro, PAGE)
    cases = [
        # (what, descriptor, fault VA, info)
        ('dst read-only', reduce_cmd(0x300000000, ro + 8, 64, DT_F32, SUM),
         ro + 8, C.LUMEN_MMU_FAULT_WRITE | W),
        ('dst unmapped', reduce_cmd(0x300000000, 0x900000000, 8, DT_I32,
                                    C.LUMEN_REDOP_MAX),
         0x900000000, C.LUMEN_MMU_FAULT_NOT_MAPPED | W),
        ('src unmapped', reduce_cmd(0x900000010, 0x300000000, 8, DT_F16,
                                    SUM),
         0x900000010, C.LUMEN_MMU_FAULT_NOT_MAPPED),
        ('src read-only is fine, dst read-only is not',
         reduce_cmd(ro, ro, 16, DT_BF16, C.LUMEN_REDOP_MIN), ro,
         C.LUMEN_MMU_FAULT_WRITE | W),
    ]
    for i, (what, c, addr, info) in enumerate(cases):
        card.clear_errors()
        card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
        qu.reset()
        other.reset()
        other.submit([fence(C.LUMEN_CMD_WAIT, 0x100000000, 1 << 62)])
        qu.submit([nop(), cmd(c[0], struct.unpack('<7Q', c[8:]),
                              tag=0x2000 + i)])
        qu.expect_stop(C.LUMEN_STATUS_MMU_FAULT, 1)
        rec = fault_record(card)
        want = dict(status=1, ctx=4, addr=addr, info=info, queue=8,
                    tag=0x2000 + i)
        assert rec == want, '%s: %r != %r' % (what, rec, want)
        expect_error(card, C.LUMEN_ERR_MMU, C.LUMEN_STATUS_MMU_FAULT, addr)
        other.expect_stop(C.LUMEN_STATUS_MMU_FAULT)
        assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0, what
        assert sp.vread(ro, PAGE) == snap, what
    # Faulting on the third destination page: two pages reduced, counted.
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    card.clear_errors()
    qu.reset()
    n = 3 * PAGE
    src, dst = 0x300000000, 0x100000000 + 62 * PAGE
    sval = pack_elems(DT_I32, range(n // 4))
    dval = pack_elems(DT_I32, [7] * (2 * PAGE // 4))
    sp.vwrite(src, sval)
    sp.vwrite(dst, dval)
    qu.submit([reduce_cmd(src, dst, n, DT_I32, SUM)])
    qu.expect_stop(C.LUMEN_STATUS_MMU_FAULT, 0)
    assert fault_record(card)['addr'] == dst + 2 * PAGE
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == 2 * PAGE
    assert sp.vread(dst, 2 * PAGE) == pack_elems(
        DT_I32, [i + 7 for i in range(2 * PAGE // 4)])
    # A page no DMA reaches (nothing at that bus address): DMA_ERROR at
    # the side's VA, nothing reduced.
    sp.map(0x600000000, HOST_T, 0xfee00000000, PAGE)
    for what, c, va in (
            ('dst', reduce_cmd(0x300000000, 0x600000000 + 0x40, 64, DT_F32,
                               SUM), 0x600000000 + 0x40),
            ('src', reduce_cmd(0x600000000 + 0x80, 0x300000000, 64, DT_F16,
                               C.LUMEN_REDOP_MIN), 0x600000000 + 0x80)):
        card.clear_errors()
        qu.reset()
        snap = sp.vread(0x300000000, 64)
        qu.submit([c])
        qu.expect_stop(C.LUMEN_STATUS_DMA_ERROR, 0)
        expect_error(card, C.LUMEN_ERR_DMA, C.LUMEN_STATUS_DMA_ERROR, va)
        assert sp.vread(0x300000000, 64) == snap, what
        assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0, what


@test
def reduce_resets_own_function(env):
    """A REDUCE whose destination is the card's own PCIe DEVCTL (through
    MMCONFIG): the write back starts an FLR, and the engine must not go on
    with the reset state."""
    q, card = queue_card(env)
    q.outl(0xcf8, 0x80000064)
    q.outl(0xcfc, 0)
    q.outl(0xcf8, 0x80000060)
    q.outl(0xcfc, 0xb0000001)
    devctl = card.find_cap(0x10) + 8
    sp = Space(card, 2)
    sp.map(0x10000, HOST_T, 0xb0000000 + (card.slot << 15), PAGE)
    sp.map(0x20000, HOST_T, HOST_AREA, PAGE)
    # DEVCTL + 0x8000 (Initiate FLR): an i32 SUM into its dword.
    sp.vwrite(0x20000, struct.pack('<I', 0x8000 << (8 * (devctl & 3))))
    qu = Queue(card, 5, ctx=2)
    qu.submit([reduce_cmd(0x20000, 0x10000 + (devctl & ~3), 4, DT_I32,
                          C.LUMEN_REDOP_SUM, flags=1), nop(), nop()])
    for _ in range(100):
        if qu.reg(C.LUMEN_QREG_STATUS) == 0 or \
                card.reg(C.LUMEN_REG_MAGIC) == 0:
            break
    card.setup()                        # FLR cleared BARs
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    assert qu.reg(C.LUMEN_QREG_HEAD) == 0, 'HEAD %d after FLR' % \
        qu.reg(C.LUMEN_QREG_HEAD)
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == 0
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    Space(card, 2)
    Queue(card, 5, ctx=2).run([nop()])


@test
def reduce_progress_and_busy(env):
    """A REDUCE larger than an engine turn continues where it stopped:
    PROGRESS is seen moving, and every element is reduced exactly once
    (the VA ranges map one 2 MiB page again and again, so each element of
    it is reduced once per time it appears). Busy time is that of a COPY
    of the same size."""
    q, card = queue_card(env)
    sp = Space(card, 2)
    qu = Queue(card, 4, ctx=2)
    S, Dp = 0, HUGE                  # device pages behind src and dst
    k = 40
    size = k * HUGE + 0x1234
    alias(sp, 0x1000000000, S, size)
    alias(sp, 0x2000000000, Dp, size)
    rng = random.Random(11)
    marks = (0, 0x1000, HUGE // 2, HUGE - 0x1000)
    # i32 SUM wraps: each element ends at d + k * s (k + 1 for the first
    # 0x1234 bytes of the page); f32 SUM of small integers is exact.
    for dtype in (DT_I32, DT_F32):
        svals, dvals = {}, {}
        for m in marks:
            if dtype == DT_I32:
                s = [rng.getrandbits(32) for _ in range(0x400)]
                d = [rng.getrandbits(32) for _ in range(0x400)]
            else:
                s = [f32_bits(rng.randrange(-1000, 1000))
                     for _ in range(0x400)]
                d = [f32_bits(rng.randrange(-10 ** 6, 10 ** 6))
                     for _ in range(0x400)]
            svals[m], dvals[m] = s, d
            q.memwrite(card.bar2 + S + m, pack_elems(dtype, s))
            q.memwrite(card.bar2 + Dp + m, pack_elems(dtype, d))
        start, seen = watch_progress(qu, [reduce_cmd(
            0x1000000000, 0x2000000000, size, dtype, C.LUMEN_REDOP_SUM)])
        check_growth(start, seen, size, 'REDUCE %s 80 MiB' % DT_NAME[dtype])
        for m in marks:
            got = elems(dtype, q.memread(card.bar2 + Dp + m, 0x1000))
            for i, (g, s, d) in enumerate(zip(got, svals[m], dvals[m])):
                times = k + (m + 4 * i < 0x1234)
                if dtype == DT_I32:
                    want = (d + times * s) & 0xffffffff
                else:
                    want = f32_bits(f32_value(d) + times * f32_value(s))
                assert g == want, '%s at 0x%x: 0x%x, expected 0x%x' % (
                    DT_NAME[dtype], m + 4 * i, g, want)
    # Busy time: BUSY_NS grows as for a COPY of the same size (one turn).
    sp.map(0x3000000000, DEV_T, 2 * HUGE, HUGE, huge=True)
    sp.map(0x3000000000 + HUGE, DEV_T, 3 * HUGE, HUGE, huge=True)
    q.clock_step(10 ** 9)           # room for BUSY_NS (capped at uptime)
    n = 0x12344
    b0 = card.reg64(C.LUMEN_REG_BUSY_NS_LO)
    qu.run([copy(0x3000000000, 0x3000000000 + HUGE, n)])
    b1 = card.reg64(C.LUMEN_REG_BUSY_NS_LO)
    qu.run([reduce_cmd(0x3000000000, 0x3000000000 + HUGE, n, DT_F16,
                       C.LUMEN_REDOP_MAX)])
    b2 = card.reg64(C.LUMEN_REG_BUSY_NS_LO)
    assert b1 - b0 == b2 - b1 > 0, (b0, b1, b2)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


# What one run of the engine may reduce (lumen-engine.c): the run's
# allowance, plus a minimum for each later queue with a REDUCE.
ENGINE_REDUCE_BYTES = 2 * 1024 * 1024
ENGINE_REDUCE_MIN = 4096
ENGINE_RUN_RE = re.compile(r'lumen_engine_run chip \d+: busy (\d+) ns, '
                           r'(\d+) bytes reduced, more (\d)')


@test
def reduce_turns_bounded(env):
    """16 queues with eight 2 MiB REDUCEs each, doorbells rung together:
    the element arithmetic of one run of the engine is bounded over all
    queues and descriptors (a queue's turn reduces at most 2 MiB, whatever
    its descriptors; the run about that much in all), so QEMU answers
    register reads while they run. Every descriptor completes once, and
    busy time is that of COPYs of the same bytes."""
    q = env.start(['-device', 'lumen-npu,addr=4.0', '-trace',
                   'lumen_engine_run'])
    card = Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)
    card.soft_reset()
    card.clear_errors()
    sp = Space(card, 2)
    S, D = 0, HUGE                   # device pages behind src and dst
    sp.map(0x1000000000, DEV_T, S, HUGE, huge=True)
    sp.map(0x2000000000, DEV_T, D, HUGE, huge=True)
    q.cmd('memset 0x%x 0x%x 0x3c' % (card.bar2 + S, HUGE))  # f16 0x3c3c
    q.cmd('memset 0x%x 0x%x 0' % (card.bar2 + D, HUGE))
    nq, per = 16, 8
    queues = [Queue(card, n, ctx=2) for n in range(nq)]
    for qu in queues:
        qu.submit([reduce_cmd(0x1000000000, 0x2000000000, HUGE, DT_F16,
                              C.LUMEN_REDOP_SUM) for _ in range(per)],
                  ring=False)
    q.clock_step(10 ** 9)           # room for BUSY_NS (capped at uptime)
    b0 = card.reg64(C.LUMEN_REG_BUSY_NS_LO)
    q.cmds(['writel 0x%x 0x%x' % (card.bar4 + qu.qn *
                                  C.LUMEN_DOORBELL_STRIDE, qu.tail)
            for qu in queues])
    # Each read waits for at most the run in progress.
    worst, reads = 0.0, 0
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        t = time.monotonic()
        card.reg(C.LUMEN_REG_SCRATCH)
        worst = max(worst, time.monotonic() - t)
        reads += 1
    assert worst < 0.5, 'a register read waited %.2f s for the engine' % worst
    deadline = time.monotonic() + 120
    for qu in queues:
        while qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING:
            assert time.monotonic() < deadline, 'REDUCEs did not finish'
            time.sleep(0.01)
        assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_IDLE
        assert qu.reg(C.LUMEN_QREG_COMPLETED) == per
        assert qu.reg(C.LUMEN_QREG_PROGRESS) == per * HUGE
    b1 = card.reg64(C.LUMEN_REG_BUSY_NS_LO)
    total = nq * per * HUGE
    assert b1 - b0 == nq * per * 100 + total // 16, (b0, b1)
    # Each element was reduced once per descriptor, in some order: the
    # same chain of f16 roundings for all.
    acc = 0
    for _ in range(nq * per):
        acc = ref_element(DT_F16, C.LUMEN_REDOP_SUM, acc, 0x3c3c)
    got = set(elems(DT_F16, q.memread(card.bar2 + D, 0x1000) +
                    q.memread(card.bar2 + D + HUGE - 0x1000, 0x1000)))
    assert got == {acc}, (sorted(got)[:4], acc)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # The runs, as traced: none reduced more than its bound; all of it.
    runs = [tuple(int(x) for x in m.groups())
            for m in ENGINE_RUN_RE.finditer(q.guest_log())]
    assert runs, 'no lumen_engine_run trace in the log'
    bound = ENGINE_REDUCE_BYTES + nq * ENGINE_REDUCE_MIN
    most = max(r[1] for r in runs)
    assert most <= bound, 'a run reduced %d bytes (bound %d)' % (most, bound)
    assert sum(r[1] for r in runs) == total
    print('       %d runs, at most %d KiB reduced per run, %d register '
          'reads in 1 s (slowest %.1f ms)' % (
              len(runs), most // 1024, reads, worst * 1000))


# Queue priority: QCTRL.PRIO and the engine's arbitration.

PRIO_NAMES = {C.LUMEN_QPRIO_LOW: 'LOW', C.LUMEN_QPRIO_NORMAL: 'NORMAL',
              C.LUMEN_QPRIO_HIGH: 'HIGH'}


def prio_ctrl(prio, ctx=0, enable=True):
    return ((C.LUMEN_QCTRL_ENABLE if enable else 0) |
            prio << C.LUMEN_QCTRL_PRIO_SHIFT | ctx << C.LUMEN_QCTRL_CTX_SHIFT)


@test
def queue_priority_registers(env):
    q, card = queue_card(env)
    ctrl = qreg(1, C.LUMEN_QREG_CTRL)
    status = qreg(1, C.LUMEN_QREG_STATUS)
    assert C.LUMEN_QCTRL_PRIO_MASK == 0xc
    card.wreg64(qreg(1, C.LUMEN_QREG_RING_BASE_LO), RING_AREA + 0x4000)
    card.wreg(qreg(1, C.LUMEN_QREG_RING_ORDER), 4)
    # Priority 3 is reserved: with ENABLE the write fails with REG_ACCESS
    # and the queue stays DISABLED, also after a RESET in the same write.
    for extra in (0, C.LUMEN_QCTRL_RESET):
        card.clear_errors()
        card.wreg(ctrl, prio_ctrl(3, ctx=5) | extra)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                     ctrl)
        assert card.reg(status) == C.LUMEN_QSTS_DISABLED
        assert card.reg(ctrl) == 0, hex(card.reg(ctrl))
    # Without ENABLE the field is stored unchecked, like CTX.
    card.clear_errors()
    card.wreg(ctrl, prio_ctrl(3, ctx=5, enable=False))
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    assert card.reg(ctrl) == prio_ctrl(3, ctx=5, enable=False)
    # Bits 7:4 stay reserved.
    card.wreg(ctrl, C.LUMEN_QCTRL_ENABLE | 0xf0)
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 ctrl)
    assert card.reg(status) == C.LUMEN_QSTS_DISABLED
    # LOW, NORMAL and HIGH enable and read back.
    for p in (C.LUMEN_QPRIO_LOW, C.LUMEN_QPRIO_NORMAL, C.LUMEN_QPRIO_HIGH):
        card.clear_errors()
        card.wreg(ctrl, C.LUMEN_QCTRL_RESET | prio_ctrl(p, ctx=5))
        assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0, PRIO_NAMES[p]
        assert card.reg(status) == C.LUMEN_QSTS_IDLE, PRIO_NAMES[p]
        assert card.reg(ctrl) == prio_ctrl(p, ctx=5), hex(card.reg(ctrl))
    # The priority of an enabled queue changes at once (same CTX, ENABLE
    # kept); the queue keeps its indices and runs on.
    qu = Queue(card, 1, ctx=5, prio=C.LUMEN_QPRIO_HIGH)
    card.clear_errors()
    qu.run([nop(), nop()])
    for p in (C.LUMEN_QPRIO_LOW, C.LUMEN_QPRIO_NORMAL, C.LUMEN_QPRIO_HIGH):
        card.wreg(ctrl, prio_ctrl(p, ctx=5))
        assert card.reg(ctrl) == prio_ctrl(p, ctx=5)
        assert card.reg(status) == C.LUMEN_QSTS_IDLE
        qu.run([nop()])
    assert qu.reg(C.LUMEN_QREG_HEAD) == 5
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # An enabled queue refuses 3 and keeps its priority; a CTX change is
    # still BAD_STATE, and the priority of that write is not taken either.
    card.wreg(ctrl, prio_ctrl(3, ctx=5))
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                 ctrl)
    card.wreg(ctrl, prio_ctrl(C.LUMEN_QPRIO_LOW, ctx=6))
    expect_error(card, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_STATE, ctrl)
    assert card.reg(ctrl) == prio_ctrl(C.LUMEN_QPRIO_HIGH, ctx=5)
    assert card.reg(status) == C.LUMEN_QSTS_IDLE
    # QCTRL_RESET returns it to NORMAL (0); so does a soft reset.
    card.wreg(ctrl, C.LUMEN_QCTRL_RESET)
    assert card.reg(ctrl) == 0 and card.reg(status) == C.LUMEN_QSTS_DISABLED
    qu.reset()
    assert card.reg(ctrl) == prio_ctrl(C.LUMEN_QPRIO_HIGH, ctx=5)
    card.soft_reset()
    assert card.reg(ctrl) == 0


ARB_SRC = 0x1000000000      # bulk sources: one 2 MiB device page, aliased
ARB_DST = 0x2000000000      # bulk destinations: another one
ARB_FENCE = 0x100000000     # gate and done words (host memory)
ARB_UNMAPPED = 0x7000000000


def arbitration_space(card):
    """Context 1: the aliased COPY ranges and a page of fence words."""
    sp = Space(card, 1)
    alias(sp, ARB_SRC, 0, 256 << 20)
    alias(sp, ARB_DST, HUGE, 256 << 20)
    sp.map(ARB_FENCE, HOST_T, HOST_AREA, PAGE)
    return sp


def arbitration(card, sp, prio, lead, bulk_prio=C.LUMEN_QPRIO_LOW,
                bulk=256 << 20):
    """Queues 0-2 (@bulk_prio) each COPY @bulk bytes; queue 3 (@prio) runs
    a decode step: COPY @lead bytes, then SIGNAL done. All four wait on one
    gate word, so they start in the same engine run when the test opens it.
    Right after its SIGNAL, queue 3 faults on purpose: an MMU fault stops
    every queue of the context, so the bulk queues' PROGRESS freezes at the
    bytes they had written when the SIGNAL completed. Returns those."""
    gate, done = ARB_FENCE, ARB_FENCE + 8
    sp.vwrite(gate, bytes(16))
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    card.clear_errors()
    bulkq = [Queue(card, n, ctx=1, prio=bulk_prio) for n in range(3)]
    dq = Queue(card, 3, ctx=1, prio=prio)
    wait = fence(C.LUMEN_CMD_WAIT, gate, 1)
    for b in bulkq:
        b.submit([wait, copy(ARB_SRC, ARB_DST, bulk)])
    step = [copy(ARB_SRC, ARB_DST, lead)] if lead else []
    dq.submit([wait] + step + [fence(C.LUMEN_CMD_SIGNAL, done, 1),
                               fence(C.LUMEN_CMD_SIGNAL, ARB_UNMAPPED, 1)])
    card.q.clock_step(200000)
    for qu in bulkq + [dq]:
        assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
        assert qu.reg(C.LUMEN_QREG_HEAD) == 0, 'queue %d passed the gate' % (
            qu.qn)
    sp.vwrite(gate, struct.pack('<Q', 1))
    dq.expect_stop(C.LUMEN_STATUS_MMU_FAULT, len(step) + 2)
    assert sp.vread(done, 8) == struct.pack('<Q', 1)
    assert dq.reg(C.LUMEN_QREG_PROGRESS) == lead + 8
    assert card.reg64(C.LUMEN_REG_MMU_FAULT_ADDR_LO) == ARB_UNMAPPED
    assert card.reg(C.LUMEN_REG_MMU_FAULT_QUEUE) == 3
    moved = []
    for b in bulkq:
        assert b.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_STOPPED
        assert b.reg(C.LUMEN_QREG_ERROR) == C.LUMEN_STATUS_MMU_FAULT
        moved.append(b.reg(C.LUMEN_QREG_PROGRESS))
        # Stopped in its COPY, or still at the WAIT if never served.
        assert b.reg(C.LUMEN_QREG_HEAD) == (1 if moved[-1] else 0)
    return moved


def mib(values):
    return '/'.join('%g' % (v / (1 << 20)) for v in values)


@test
def queue_priority_arbitration(env):
    """A HIGH queue's SIGNAL behind three 256 MiB bulk COPYs: counted in
    bytes the bulk queues wrote before it completed, not in time."""
    q, card = queue_card(env)
    sp = arbitration_space(card)
    bulk, lead = 256 << 20, 32 << 20
    HIGH, NORMAL, LOW = (C.LUMEN_QPRIO_HIGH, C.LUMEN_QPRIO_NORMAL,
                         C.LUMEN_QPRIO_LOW)
    # A lone SIGNAL: HIGH is served first, before the bulk wrote a byte.
    alone = arbitration(card, sp, HIGH, 0)
    assert alone == [0, 0, 0], alone
    # A decode step that needs several engine turns (a 32 MiB COPY before
    # its SIGNAL): the bulk queues move on, at a quarter of their share.
    high = arbitration(card, sp, HIGH, lead)
    for v in high:
        assert 0 < v < bulk // 4, 'bulk moved %d bytes (HIGH)' % v
    # The same step at NORMAL: still served before the LOW bulk queues, but
    # they take full turns in between, four times as much.
    normal = arbitration(card, sp, NORMAL, lead)
    for h, n in zip(high, normal):
        assert n == 4 * h, 'bulk moved %d (NORMAL) vs %d (HIGH)' % (n, h)
    # Bulk at NORMAL: HIGH takes the same quarter from them.
    over_normal = arbitration(card, sp, HIGH, lead, bulk_prio=NORMAL)
    assert over_normal == high, (over_normal, high)
    # No priorities at all (everything NORMAL): the step also waits behind
    # bulk turns of the same class.
    flat = arbitration(card, sp, NORMAL, lead, bulk_prio=NORMAL)
    for f in flat:
        assert f >= max(normal), 'bulk moved %d (all NORMAL)' % f
    print('       bulk MiB written when the decode SIGNAL completed: '
          'HIGH alone %s; 32 MiB step: HIGH %s, NORMAL %s, all NORMAL %s' %
          (mib(alone), mib(high), mib(normal), mib(flat)))


@test
def copy_throughput(env):
    """64 MiB host -> device COPY with 2 MiB pages; prints the rate."""
    q, card = queue_card(env)
    sp = Space(card, 0)
    size = 64 << 20
    sp.map(0x100000000, HOST_T, 0x2000000, size, huge=True)
    sp.map(0x200000000, DEV_T, 0x4000000, size, huge=True)
    marks = [0, 0x1ffff5, 0x200003, size // 2 + 12345, size - 8]
    for m in marks:
        q.wr('q', m + 0x2000000, 0x1111111100000000 | m)
    qu = Queue(card, 0)
    q.clock_step(10 ** 9)           # room for BUSY_NS (capped at uptime)
    times = []
    for _ in range(2):              # first run: QEMU touches the RAM first
        t0 = time.monotonic()
        qu.submit([copy(0x100000000, 0x200000000, size)])
        while qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING:
            pass
        times.append(time.monotonic() - t0)
        assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_IDLE
    for m in marks:
        assert q.rd('q', card.bar2 + 0x4000000 + m) == \
            0x1111111100000000 | m, hex(m)
    busy = card.reg64(C.LUMEN_REG_BUSY_NS_LO)
    print('       copy 64 MiB host->dev: cold %.3f s (%.0f MiB/s), warm '
          '%.3f s (%.0f MiB/s); BUSY_NS %d' % (times[0], 64 / times[0],
                                                times[1], 64 / times[1],
                                                busy))


@test
def telemetry_busy(env):
    q, card = queue_card(env)
    sp = Space(card, 0)
    sp.map(0x200000000, DEV_T, 0, 64 << 20, huge=True)
    qu = Queue(card, 0)
    temp0 = card.reg(C.LUMEN_REG_TEMP_MC)
    for _ in range(20):
        q.clock_step(10000000)
        qu.run([fill(0x200000000, 64 << 20, 0)] * 4)
    assert card.reg64(C.LUMEN_REG_BUSY_NS_LO) > 100000000
    assert card.reg(C.LUMEN_REG_TEMP_MC) > temp0
    assert card.reg(C.LUMEN_REG_POWER_MW) > 25000


@test
def fuzz_descriptors(env):
    """Random descriptors and rings must never crash or hang QEMU."""
    q, card = queue_card(env, ',queues=4')

    def setup():
        copy_space(card, 0, 'host')
        copy_space(card, 1, 'device')
        return [Queue(card, n, ctx=n % 2) for n in range(4)]

    def wedged(qu):
        """After a reset with ENABLE, only a wedged queue is not IDLE."""
        return qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING

    rng = random.Random(4321)
    vas = [0, 0x100000000, 0x200000000, 0x300000000, 0x400000000,
           0x1ffffffffff8, 1 << 48, 0xfffffffffffffff8]
    queues = setup()
    for i in range(600):
        qu = rng.choice(queues)
        if rng.random() < 0.3:
            c = bytes(rng.getrandbits(8) for _ in range(64))
        else:
            op = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, C.LUMEN_CMD_REDUCE])
            args = [(rng.choice(vas) + rng.randrange(0, 0x300000)) &
                    (2 ** 64 - 1) for _ in range(2)] + [rng.choice([
                        0, 1, 7, 0x1000, 0x12345, rng.getrandbits(64)])]
            if op in (3, 4, 5):
                args[0] &= ~7
                if op == 4:
                    args[1] = rng.choice([0, 1])
            args += [0] * 4
            if op == C.LUMEN_CMD_REDUCE:
                # Mostly well-formed: aligned, a known dtype and op.
                if rng.random() < 0.8:
                    args = [a & ~3 for a in args]
                args[3] = rng.choice([0, 1, 2, 3, 4]) | \
                    rng.choice([0, 1, 2, 3]) << 32
            if rng.random() < 0.1:
                args[rng.randrange(7)] = rng.getrandbits(64)
            c = cmd(op, args, flags=rng.choice([0, 1, 2, 3, 4]),
                    tag=rng.getrandbits(32))
        qu.submit([c], ring=False)
        r = rng.random()
        if r < 0.05:
            qu.doorbell(rng.getrandbits(32))
        elif r < 0.1:
            card.wreg(C.LUMEN_REG_INJECT_CTRL,
                      qu.qn << 8 | rng.choice(QUEUE_KINDS))
        else:
            qu.doorbell(qu.tail)
        if rng.random() < 0.3:
            q.clock_step(rng.choice([1000, 60000, 1000000]))
        st = qu.reg(C.LUMEN_QREG_STATUS)
        if st != C.LUMEN_QSTS_IDLE and rng.random() < 0.5:
            qu.reset()
            if wedged(qu):
                # Only a device reset helps; the contexts go with it.
                card.soft_reset()
                queues = setup()
                qu = rng.choice(queues)
        if i % 100 == 0:
            card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
            q.memwrite(qu.ring, bytes(rng.getrandbits(8)
                                      for _ in range(64 * 16)))
            qu.doorbell(rng.randrange(17))
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC
    for qu in queues:
        qu.reset()
    if any(wedged(qu) for qu in queues):
        card.soft_reset()
        queues = setup()
    for qu in queues:
        qu.run([nop()])


@test
def reset_from_own_dma(env):
    """A descriptor whose DMA resets the function (FLR through MMCONFIG)
    must not let the engine keep running on the reset state."""
    q, card = queue_card(env)
    # Enable the q35 MMCONFIG window at 0xb0000000 (PCIEXBAR, MCH 0:0.0).
    q.outl(0xcf8, 0x80000064)
    q.outl(0xcfc, 0)
    q.outl(0xcf8, 0x80000060)
    q.outl(0xcfc, 0xb0000001)
    devctl = card.find_cap(0x10) + 8
    sp = Space(card, 2)
    sp.map(0x10000, HOST_T, 0xb0000000 + (card.slot << 15), PAGE)
    qu = Queue(card, 5, ctx=2)
    qu.submit([fence(C.LUMEN_CMD_SIGNAL, 0x10000 + (devctl & ~7),
                     0x8000 << (8 * (devctl & 7)), flags=1), nop(), nop()])
    for _ in range(100):
        if qu.reg(C.LUMEN_QREG_STATUS) == 0 or card.reg(C.LUMEN_REG_MAGIC) == 0:
            break
    card.setup()                        # FLR cleared BARs
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
    assert qu.reg(C.LUMEN_QREG_HEAD) == 0, 'HEAD %d after FLR' % \
        qu.reg(C.LUMEN_QREG_HEAD)
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    Space(card, 2)
    Queue(card, 5, ctx=2).run([nop()])


@test
def queue_migration(env):
    dev = ['-device', 'lumen-npu,addr=4.0,chip-id=6']
    q = env.start(dev, 'src')
    card = Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)
    card.soft_reset()
    sp = copy_space(card, 2, 'device')
    a = Queue(card, 3, ctx=2, prio=C.LUMEN_QPRIO_HIGH)
    a.run([fence(C.LUMEN_CMD_SIGNAL, 0x100000000 + 0x3800, 1)])
    a.submit([fence(C.LUMEN_CMD_WAIT, 0x200000000, 9),
              copy(0x300000000, 0x100000000, 0x3000, flags=1)])
    q.clock_step(100000)
    sp.vwrite(0x300000000, b'migrated!')
    inject(card, C.LUMEN_INJECT_MBOX_HANG)      # fired state migrates too
    # A fired wedge (queue 5) and an armed one (queue 6) migrate as well.
    w = Queue(card, 5, ctx=2)
    inject(card, C.LUMEN_INJECT_WEDGE_QUEUE, 5)
    w.submit([nop()])
    q.clock_step(100000)
    armed = Queue(card, 6, ctx=2)
    inject(card, C.LUMEN_INJECT_WEDGE_QUEUE, 6)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 1 << 6
    assert w.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    q.hmp('stop')
    state = os.path.join(env.workdir, 'state')
    q.hmp('migrate file:' + state)
    for _ in range(200):
        if 'Migration status: completed' in q.hmp('info migrate'):
            break
        time.sleep(0.05)
    d = env.start(dev + ['-incoming', 'file:' + state], 'dst')
    for _ in range(200):
        if 'completed' in d.hmp('info migrate'):
            break
        time.sleep(0.05)
    d.hmp('cont')
    card.q = d
    sp.q = d
    assert a.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert a.reg(C.LUMEN_QREG_PROGRESS) == 8
    assert a.reg(C.LUMEN_QREG_CTRL) == a.ctrl()        # PRIO came along
    sp.vwrite(0x200000000, struct.pack('<Q', 9))
    d.clock_step(100000)
    assert a.settle() == C.LUMEN_QSTS_IDLE
    assert sp.vread(0x100000000, 9) == b'migrated!'
    assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 3)
    assert a.reg(C.LUMEN_QREG_PROGRESS) == 8 + 0x3000
    # The wedges came along: queue 5 stays RUNNING through a queue reset,
    # queue 6's armed wedge fires on its first descriptor.
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 1 << 6
    assert w.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert w.reg(C.LUMEN_QREG_HEAD) == 0
    w.reset()
    assert w.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    armed.submit([nop()])
    d.clock_step(1000000)
    assert card.reg(C.LUMEN_REG_INJECT_STATUS) == 0
    assert armed.reg(C.LUMEN_QREG_HEAD) == 0
    armed.reset()
    assert armed.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    # The mailbox hang came along: booted firmware does not answer.
    assert card.boot(make_image(), order=2) == C.LUMEN_BOOT_RUNNING
    expect_mbox_silent(card)
    card.soft_reset()
    expect_recovered(card)
    for n in (5, 6):
        Queue(card, n).run([nop()])


# ---- Optical link ports -----------------------------------------------------
#
# Link timers run on QEMU_CLOCK_REALTIME, so these tests wait in real time
# (bounded, a few seconds) instead of stepping the virtual clock.

FABRIC = os.path.join(REPO, 'build', 'bin', 'lumen-fabric')
LINK_WAIT = 8.0             # seconds; training takes tens of ms when idle


def lreg(p, r):
    return C.LUMEN_REG_LINK_BASE + p * C.LUMEN_REG_LINK_STRIDE + r


class Fabric:
    """lumen-fabric in the test's directory, driven by its control socket."""

    def __init__(self, env, topology, args=()):
        if not os.access(FABRIC, os.X_OK):
            raise RuntimeError('%s missing: cmake --build build --target '
                               'lumen-fabric' % FABRIC)
        self.dir = os.path.join(env.workdir, 'fab')
        self.ports = os.path.join(self.dir, 'ports.sock')
        self.err = open(os.path.join(env.workdir, 'fabric.stderr'), 'w+')
        self.proc = subprocess.Popen(
            [FABRIC, '--topology', topology, '--socket-dir', self.dir,
             '--seed', '1'] + list(args),
            stdout=subprocess.DEVNULL, stderr=self.err)
        env.others.append(self)
        ctl = os.path.join(self.dir, 'control.sock')
        deadline = time.monotonic() + 10
        while not os.path.exists(ctl):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.err.seek(0)
                raise RuntimeError('lumen-fabric did not start: ' +
                                   self.err.read())
            time.sleep(0.02)
        self.ctl = socket.socket(socket.AF_UNIX)
        self.ctl.settimeout(10)
        self.ctl.connect(ctl)
        self.buf = b''

    def call(self, **req):
        self.ctl.sendall(json.dumps(req).encode() + b'\n')
        while b'\n' not in self.buf:
            data = self.ctl.recv(65536)
            if not data:
                raise RuntimeError('lumen-fabric control socket closed')
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        ans = json.loads(line)
        assert ans.get('ok'), 'fabric %s -> %s' % (req, ans)
        return ans

    def close(self):
        self.ctl.close() if hasattr(self, 'ctl') else None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def link_card(env, sock, chip, ports, name, props=''):
    args = []
    for p in ports:
        args += ['-chardev', 'socket,id=fib%d,path=%s,reconnect-ms=200' %
                 (p, sock)]
        props += ',port%d=fib%d' % (p, p)
    q = env.start(args + ['-device', 'lumen-npu,addr=4.0,chip-id=%d%s' %
                          (chip, props)], name)
    return Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)


def wait_link(card, p, pred, what, timeout=LINK_WAIT, reg=None):
    reg = C.LUMEN_LREG_STATE if reg is None else reg
    deadline = time.monotonic() + timeout
    while True:
        v = card.reg(lreg(p, reg))
        if pred(v):
            return v
        if time.monotonic() > deadline:
            raise AssertionError('chip %d port %d: timed out waiting for %s '
                                 '(reg 0x%x = 0x%x)' % (
                                     card.reg(C.LUMEN_REG_CHIP_ID), p, what,
                                     reg, v))
        time.sleep(0.01)


def wait_state(card, p, state, timeout=LINK_WAIT):
    names = {C.LUMEN_LINK_DOWN: 'DOWN', C.LUMEN_LINK_TRAINING: 'TRAINING',
             C.LUMEN_LINK_UP: 'UP'}
    wait_link(card, p, lambda v: v == state, names.get(state, state),
              timeout)


def enable(card, p, on=True):
    card.wreg(lreg(p, C.LUMEN_LREG_CTRL), C.LUMEN_LCTRL_ENABLE if on else 0)


def lit(card, p):
    wait_link(card, p, lambda v: v & C.LUMEN_LSTS_LIGHT == C.LUMEN_LSTS_LIGHT,
              'light', reg=C.LUMEN_LREG_STATUS)


def peer(card, p):
    return (card.reg(lreg(p, C.LUMEN_LREG_PEER_CHIP)),
            card.reg(lreg(p, C.LUMEN_LREG_PEER_PORT)))


def ring2(env, args=(), props=('', '')):
    """lumen-fabric ring:2 and chips 0 and 1 with ports 0 and 1 attached:
    0.+x (0.0) - 1.-x (1.1) and 1.+x (1.0) - 0.-x (0.1). @props: extra
    device properties of chip 0 and chip 1."""
    fab = Fabric(env, 'ring:2', args)
    a = link_card(env, fab.ports, 0, (0, 1), 'chip0', props[0])
    b = link_card(env, fab.ports, 1, (0, 1), 'chip1', props[1])
    for c in (a, b):
        for p in (0, 1):
            lit(c, p)
    return fab, a, b


@test
def link_ports_train(env):
    fab, a, b = ring2(env)
    caps = a.reg(C.LUMEN_REG_CAPS)
    assert caps & C.LUMEN_CAP_LINK_PORTS and caps & C.LUMEN_CAP_LINKS
    for c in (a, b):
        c.clear_errors()
        c.wreg(C.LUMEN_REG_LINK_CHANGED, 0xffffffff)
        for p in (0, 1):
            assert c.reg(lreg(p, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
            assert c.reg(lreg(p, C.LUMEN_LREG_STATUS)) == \
                C.LUMEN_LSTS_ATTACHED | C.LUMEN_LSTS_LIGHT
            assert peer(c, p) == (0xffffffff, 0xffffffff)
            assert c.reg(lreg(p, C.LUMEN_LREG_TX_PKTS_LO)) == 0, \
                'a disabled port sends nothing'
    # One side enabled alone trains but cannot come up.
    enable(a, 0)
    wait_state(a, 0, C.LUMEN_LINK_TRAINING)
    wait_link(a, 0, lambda v: v >= 3, 'training frames',
              reg=C.LUMEN_LREG_TX_PKTS_LO)
    assert a.reg(lreg(0, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_TRAINING
    assert b.reg(lreg(1, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
    for c, p in ((b, 1), (a, 1), (b, 0)):
        enable(c, p)
    want = {(a, 0): (1, 1), (a, 1): (1, 0), (b, 0): (0, 1), (b, 1): (0, 0)}
    for (c, p), who in want.items():
        wait_state(c, p, C.LUMEN_LINK_UP)
    for (c, p), who in want.items():
        o, op = (b if c is a else a), who[1]
        assert peer(c, p) == who, (p, peer(c, p))
        gen = c.reg(lreg(p, C.LUMEN_LREG_GENERATION))
        assert gen >= 1
        assert o.reg(lreg(op, C.LUMEN_LREG_PEER_GENERATION)) == gen
        tx = c.reg64(lreg(p, C.LUMEN_LREG_TX_PKTS_LO))
        assert tx >= 1 and c.reg64(lreg(p, C.LUMEN_LREG_TX_BYTES_LO)) == \
            tx * 32
        assert c.reg64(lreg(p, C.LUMEN_LREG_RX_PKTS_LO)) >= 1
        assert c.reg(lreg(p, C.LUMEN_LREG_CRC_ERRORS)) == 0
        assert c.reg(lreg(p, C.LUMEN_LREG_DOWN_EVENTS)) == 0
    for c in (a, b):
        assert c.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_LINK
        assert c.msi_fired(C.LUMEN_VEC_LINK)
        assert c.reg(C.LUMEN_REG_LINK_CHANGED) == 0b11
        c.wreg(C.LUMEN_REG_LINK_CHANGED, 0b01)
        assert c.reg(C.LUMEN_REG_LINK_CHANGED) == 0b10
        c.wreg(C.LUMEN_REG_LINK_CHANGED, 0xffffffff)
        assert c.reg(C.LUMEN_REG_LINK_CHANGED) == 0
        assert c.reg(C.LUMEN_REG_ERR_STATUS) == 0
        c.wreg(C.LUMEN_REG_INT_STATUS, 0xffffffff)
        c.clear_msi()
    # A port without a chardev stays DOWN when enabled.
    enable(a, 2)
    time.sleep(0.2)
    assert a.reg(lreg(2, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
    assert a.reg(lreg(2, C.LUMEN_LREG_STATUS)) == 0
    assert a.reg(lreg(2, C.LUMEN_LREG_TX_PKTS_LO)) == 0
    assert a.reg(C.LUMEN_REG_LINK_CHANGED) == 0
    # Cut the fiber 0.+x - 1.-x: both ends DOWN, the other fiber stays UP.
    gen = a.reg(lreg(0, C.LUMEN_LREG_GENERATION))
    fab.call(cmd='cut', port='0.+x')
    wait_state(a, 0, C.LUMEN_LINK_DOWN)
    wait_state(b, 1, C.LUMEN_LINK_DOWN)
    for c, p in ((a, 0), (b, 1)):
        assert c.reg(lreg(p, C.LUMEN_LREG_DOWN_EVENTS)) == 1
        assert c.reg(lreg(p, C.LUMEN_LREG_STATUS)) == C.LUMEN_LSTS_ATTACHED
        assert peer(c, p) == (0xffffffff, 0xffffffff)
        assert c.reg(C.LUMEN_REG_LINK_CHANGED) == 1 << p
        assert c.msi_fired(C.LUMEN_VEC_LINK)
    assert a.reg(lreg(1, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP
    assert b.reg(lreg(0, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP
    # Restore: UP again with a new generation, one down event.
    fab.call(cmd='restore', port='0.+x')
    wait_state(a, 0, C.LUMEN_LINK_UP)
    wait_state(b, 1, C.LUMEN_LINK_UP)
    assert a.reg(lreg(0, C.LUMEN_LREG_GENERATION)) > gen
    assert peer(a, 0) == (1, 1) and peer(b, 1) == (0, 0)
    for c, p in ((a, 0), (b, 1)):
        assert c.reg(lreg(p, C.LUMEN_LREG_DOWN_EVENTS)) == 1
    # Disabling one end: it goes DOWN at once and sends nothing; the other
    # end sees no keepalives and retrains.
    enable(a, 1, False)
    assert a.reg(lreg(1, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
    assert a.reg(lreg(1, C.LUMEN_LREG_DOWN_EVENTS)) == 1
    tx = a.reg(lreg(1, C.LUMEN_LREG_TX_PKTS_LO))
    wait_state(b, 0, C.LUMEN_LINK_TRAINING,
               timeout=C.LUMEN_LINK_DEAD_MS / 1000 + LINK_WAIT)
    assert b.reg(lreg(0, C.LUMEN_LREG_DOWN_EVENTS)) == 1
    assert a.reg(lreg(1, C.LUMEN_LREG_TX_PKTS_LO)) == tx
    enable(a, 1)
    wait_state(a, 1, C.LUMEN_LINK_UP)
    wait_state(b, 0, C.LUMEN_LINK_UP)
    # A soft reset takes every port DOWN and clears the registers; the
    # neighbours retrain and come UP again once the ports are enabled.
    rx_before = [a.reg64(lreg(p, C.LUMEN_LREG_RX_PKTS_LO)) for p in (0, 1)]
    a.soft_reset()
    for p in (0, 1):
        assert a.reg(lreg(p, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
        for r in (C.LUMEN_LREG_CTRL, C.LUMEN_LREG_GENERATION,
                  C.LUMEN_LREG_DOWN_EVENTS, C.LUMEN_LREG_TX_PKTS_LO,
                  C.LUMEN_LREG_TX_BYTES_LO):
            assert a.reg(lreg(p, r)) == 0, hex(r)
        # The receive counters restart from 0 but go on counting what the
        # neighbour, UP until LUMEN_LINK_DEAD_MS, still sends: keepalives.
        rx = a.reg64(lreg(p, C.LUMEN_LREG_RX_PKTS_LO))
        assert rx < rx_before[p], (p, rx, rx_before[p])
        assert a.reg64(lreg(p, C.LUMEN_LREG_RX_BYTES_LO)) <= rx * 32 + 32
        assert a.reg(lreg(p, C.LUMEN_LREG_STATUS)) == \
            C.LUMEN_LSTS_ATTACHED | C.LUMEN_LSTS_LIGHT
    assert a.reg(C.LUMEN_REG_LINK_CHANGED) == 0
    for p in (0, 1):
        enable(a, p)
    for c in (a, b):
        for p in (0, 1):
            wait_state(c, p, C.LUMEN_LINK_UP)
    assert peer(a, 0) == (1, 1) and peer(a, 1) == (1, 0)


@test
def link_bit_errors(env):
    """BER 1.0: every training frame fails its CRC, the ports never come
    UP; with the errors gone they train."""
    fab, a, b = ring2(env, ('--ber', '1'))
    for c in (a, b):
        enable(c, 0)
        enable(c, 1)
    for c in (a, b):
        for p in (0, 1):
            wait_link(c, p, lambda v: v >= 5, 'CRC errors',
                      reg=C.LUMEN_LREG_CRC_ERRORS)
            assert c.reg(lreg(p, C.LUMEN_LREG_STATE)) == \
                C.LUMEN_LINK_TRAINING
            assert c.reg(lreg(p, C.LUMEN_LREG_FRAME_ERRORS)) == 0
            assert peer(c, p) == (0xffffffff, 0xffffffff)
    fab.call(cmd='set', all=True, ber=0)
    for c in (a, b):
        for p in (0, 1):
            wait_state(c, p, C.LUMEN_LINK_UP)
    assert peer(b, 0) == (0, 1)


@test
def link_register_rules(env):
    q, card = one_card(env, ',link-ports=3')
    card.clear_errors()
    count = card.reg(C.LUMEN_REG_ERR_COUNT)
    # Port blocks of ports >= NUM_LINK_PORTS and holes read 0 silently.
    for off in (lreg(3, C.LUMEN_LREG_STATE), lreg(7, C.LUMEN_LREG_CTRL),
                lreg(0, C.LUMEN_LREG_LAST + 4), lreg(2, 0x7c)):
        assert card.reg(off) == 0, hex(off)
    assert card.reg(C.LUMEN_REG_ERR_COUNT) == count
    for p in range(3):
        assert card.reg(lreg(p, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
        assert card.reg(lreg(p, C.LUMEN_LREG_PEER_CHIP)) == 0xffffffff
    bad = [
        (lreg(0, C.LUMEN_LREG_CTRL), 4),
        (lreg(0, C.LUMEN_LREG_STATE), 0),
        (lreg(1, C.LUMEN_LREG_CRC_ERRORS), 0),
        (lreg(2, C.LUMEN_LREG_GENERATION), 1),
        (lreg(3, C.LUMEN_LREG_CTRL), 1),
        (lreg(0, C.LUMEN_LREG_LAST + 4), 1),
    ]
    for off, val in bad:
        card.wreg(off, val)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS,
                     C.LUMEN_STATUS_BAD_ARGUMENT, off)
    assert card.reg(lreg(0, C.LUMEN_LREG_CTRL)) == 0
    enable(card, 2)
    assert card.reg(lreg(2, C.LUMEN_LREG_CTRL)) == C.LUMEN_LCTRL_ENABLE
    assert card.reg(lreg(2, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
    # A chardev on a port the card does not have is refused at realize.
    out = subprocess.run(
        [env.qemu, '-machine', 'q35', '-accel', 'qtest', '-display', 'none',
         '-nodefaults', '-chardev', 'null,id=x', '-device',
         'lumen-npu,link-ports=2,port3=x'],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode != 0 and 'port3' in out.stdout, out.stdout


@test
def link_migration_blocked(env):
    fab = Fabric(env, 'none')
    card = link_card(env, fab.ports, 0, (0,), 'src')
    out = card.q.hmp('migrate file:' + os.path.join(env.workdir, 'state'))
    assert 'cannot be migrated' in out, out
    # Without port chardevs CTRL migrates and the card keeps working.
    q = env.start(['-device', 'lumen-npu,addr=5.0,chip-id=3'], 'plain')
    plain = Card(q, 5, 0xe0200000, 0xc0000000, 0xe0300000)
    enable(plain, 4)
    q.hmp('stop')
    state = os.path.join(env.workdir, 'plain-state')
    q.hmp('migrate file:' + state)
    for _ in range(200):
        if 'Migration status: completed' in q.hmp('info migrate'):
            break
        time.sleep(0.05)
    else:
        raise AssertionError('migration did not complete')
    d = env.start(['-device', 'lumen-npu,addr=5.0,chip-id=3',
                   '-incoming', 'file:' + state], 'dst')
    for _ in range(200):
        if 'completed' in d.hmp('info migrate'):
            break
        time.sleep(0.05)
    d.hmp('cont')
    dcard = Card.__new__(Card)
    dcard.__dict__.update(plain.__dict__)
    dcard.q = d
    assert dcard.reg(lreg(4, C.LUMEN_LREG_CTRL)) == C.LUMEN_LCTRL_ENABLE
    assert dcard.reg(lreg(4, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN


def fiber_rec(rtype, payload, magic=None, version=None, length=None):
    magic = C.LUMEN_FIBER_MAGIC if magic is None else magic
    version = C.LUMEN_FIBER_VERSION if version is None else version
    length = len(payload) if length is None else length
    return struct.pack('<HBBHHII', magic, version, rtype, 0, 0, length,
                       0) + payload


def train_frame(chip, port, gen, heard=None, up=False, crc_xor=0):
    flags = (C.LUMEN_TRAIN_F_HEARD if heard else 0) | \
        (C.LUMEN_TRAIN_F_UP if up else 0)
    pc, pp, pg = heard or (0, 0, 0)
    f = struct.pack('<HBBIBBHIIB3sII', C.LUMEN_LINK_MAGIC, 0,
                    C.LUMEN_LINK_FRAME_TRAIN, chip, port, 6, flags, gen, pc,
                    pp, b'\0' * 3, 0, pg)
    crc = zlib.crc32(f) ^ crc_xor
    return f[:24] + struct.pack('<I', crc) + f[28:]


class FakeFabric:
    """A one-connection stand-in for lumen-fabric, to send what the real
    one never would."""

    def __init__(self, env):
        self.path = os.path.join(env.workdir, 'fake.sock')
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.srv.settimeout(LINK_WAIT)
        self.conn = None
        env.others.append(self)

    def accept(self):
        if self.conn:
            self.conn.close()
        self.conn, _ = self.srv.accept()
        self.conn.settimeout(LINK_WAIT)
        self.buf = b''
        return self.record()

    def record(self):
        while True:
            if len(self.buf) >= 16:
                magic, ver, rtype, fl, res, ln, res2 = struct.unpack_from(
                    '<HBBHHII', self.buf)
                assert (magic, ver, fl, res, res2) == (
                    C.LUMEN_FIBER_MAGIC, C.LUMEN_FIBER_VERSION, 0, 0, 0)
                if len(self.buf) >= 16 + ln:
                    payload = self.buf[16:16 + ln]
                    self.buf = self.buf[16 + ln:]
                    return rtype, payload
            data = self.conn.recv(65536)
            if not data:
                raise RuntimeError('the port closed the socket')
            self.buf += data

    def send(self, data, pieces=1):
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            self.conn.sendall(data[i:i + step])
            time.sleep(0.005)

    def close(self):
        if self.conn:
            self.conn.close()
        self.srv.close()


@test
def link_fiber_protocol(env):
    """Framing with partial records, the handshake against a scripted
    neighbour, bad CRCs, and a malformed record taking the port DOWN."""
    fake = FakeFabric(env)
    card = link_card(env, fake.path, 9, (2,), 'chip9', ',link-ports=4')
    rtype, hello = fake.accept()
    assert rtype == C.LUMEN_FIBER_HELLO
    assert struct.unpack('<IBBH', hello) == (9, 2, 4, 0)
    enable(card, 2)
    ack = struct.pack('<IB3sII', C.LUMEN_FIBER_OK, 1, b'\0' * 3, 7,
                      C.LUMEN_FIBER_MAX_PAYLOAD)
    fake.send(fiber_rec(C.LUMEN_FIBER_HELLO_ACK, ack), pieces=5)
    wait_state(card, 2, C.LUMEN_LINK_TRAINING)
    rtype, f = fake.record()
    assert rtype == C.LUMEN_FIBER_DATA and len(f) == 32
    magic, vc, ftype, chip, port, nports, flags, gen = struct.unpack_from(
        '<HBBIBBHI', f)
    assert (magic, vc, ftype, chip, port, nports) == (
        C.LUMEN_LINK_MAGIC, 0, C.LUMEN_LINK_FRAME_TRAIN, 9, 2, 4)
    assert zlib.crc32(f[:24] + b'\0' * 4 + f[28:]) == \
        struct.unpack_from('<I', f, 24)[0], 'training frame CRC'
    assert gen == card.reg(lreg(2, C.LUMEN_LREG_GENERATION)) >= 1
    # A corrupted frame is counted and ignored; two records in one write,
    # the second split.
    bad = fiber_rec(C.LUMEN_FIBER_DATA, train_frame(5, 3, 1, crc_xor=4))
    good = fiber_rec(C.LUMEN_FIBER_DATA, train_frame(5, 3, 1,
                                                     heard=(9, 2, gen)))
    fake.send(bad + good[:7])
    fake.send(good[7:])
    wait_state(card, 2, C.LUMEN_LINK_UP)
    assert card.reg(lreg(2, C.LUMEN_LREG_CRC_ERRORS)) == 1
    assert peer(card, 2) == (5, 3)
    assert card.reg(lreg(2, C.LUMEN_LREG_PEER_GENERATION)) == 1
    # The port answered with F_UP and our identity.
    while True:
        rtype, f = fake.record()
        flags, = struct.unpack_from('<H', f, 10)
        if flags & C.LUMEN_TRAIN_F_UP:
            break
    assert struct.unpack_from('<IB', f, 16) == (5, 3)
    # The neighbour comes back with a new generation: retrain, then UP.
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA, train_frame(5, 3, 2)))
    wait_state(card, 2, C.LUMEN_LINK_TRAINING)
    assert card.reg(lreg(2, C.LUMEN_LREG_DOWN_EVENTS)) == 1
    gen2 = card.reg(lreg(2, C.LUMEN_LREG_GENERATION))
    assert gen2 > gen
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA,
                        train_frame(5, 3, 2, heard=(9, 2, gen2), up=True)))
    wait_state(card, 2, C.LUMEN_LINK_UP)
    # Frames too short or of an unknown type are frame errors.
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA, b'\x4b\x4c'))
    f = bytearray(train_frame(5, 3, 2, heard=(9, 2, gen2)))
    f[3] = 0x77
    f[24:28] = struct.pack('<I', zlib.crc32(bytes(f[:24]) + b'\0' * 4 +
                                            bytes(f[28:])))
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA, bytes(f)))
    wait_link(card, 2, lambda v: v == 2, 'frame errors',
              reg=C.LUMEN_LREG_FRAME_ERRORS)
    assert card.reg(lreg(2, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP
    # A bad record header: logged, the port DOWN, the socket kept open.
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA, b'x', magic=0x1234))
    wait_state(card, 2, C.LUMEN_LINK_DOWN)
    assert card.reg(lreg(2, C.LUMEN_LREG_STATUS)) & C.LUMEN_LSTS_WIRE_ERROR
    assert card.reg(lreg(2, C.LUMEN_LREG_DOWN_EVENTS)) == 2
    assert 'bad record from the fabric: bad magic' in card.q.guest_log()
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA, train_frame(5, 3, 2)))
    time.sleep(0.1)
    assert card.reg(lreg(2, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN
    # The fabric restarting (socket closed) brings a new HELLO; a record
    # longer than the maximum is refused too.
    rtype, hello = fake.accept()
    assert rtype == C.LUMEN_FIBER_HELLO
    assert card.reg(lreg(2, C.LUMEN_LREG_STATUS)) == 0
    fake.send(fiber_rec(C.LUMEN_FIBER_HELLO_ACK, ack))
    wait_state(card, 2, C.LUMEN_LINK_TRAINING)
    fake.send(fiber_rec(C.LUMEN_FIBER_DATA, b'',
                        length=C.LUMEN_FIBER_MAX_PAYLOAD + 1))
    wait_state(card, 2, C.LUMEN_LINK_DOWN)
    assert 'record too long' in card.q.guest_log()
    # A refused HELLO (another card has this chip id) shows in STATUS.
    rtype, hello = fake.accept()
    busy = struct.pack('<IB3sII', C.LUMEN_FIBER_BUSY, 0, b'\0' * 3,
                       0xffffffff, C.LUMEN_FIBER_MAX_PAYLOAD)
    fake.send(fiber_rec(C.LUMEN_FIBER_HELLO_ACK, busy))
    wait_link(card, 2, lambda v: v & C.LUMEN_LSTS_REFUSED, 'REFUSED',
              reg=C.LUMEN_LREG_STATUS)
    assert card.reg(lreg(2, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_DOWN


@test
def link_fiber_fuzz(env):
    """Random frames and random records from the fabric never crash QEMU;
    the port recovers on reconnect."""
    rng = random.Random(77)
    fake = FakeFabric(env)
    card = link_card(env, fake.path, 4, (0,), 'chip4')
    ack = struct.pack('<IB3sII', C.LUMEN_FIBER_OK, 1, b'\0' * 3, 1,
                      C.LUMEN_FIBER_MAX_PAYLOAD)
    for round_ in range(3):
        assert fake.accept()[0] == C.LUMEN_FIBER_HELLO
        fake.send(fiber_rec(C.LUMEN_FIBER_HELLO_ACK, ack))
        enable(card, 0)
        wait_state(card, 0, C.LUMEN_LINK_TRAINING)
        blob = b''
        for i in range(400):
            kind = rng.random()
            if kind < 0.4:
                f = bytes(rng.getrandbits(8)
                          for _ in range(rng.choice([1, 8, 31, 32, 33, 64])))
            else:
                f = bytearray(train_frame(rng.choice([0, 5, 0xffffffff]),
                                          rng.randrange(10),
                                          rng.choice([0, 1, 2, 0xffffffff]),
                                          heard=rng.choice([None,
                                                            (4, 0, 1)]),
                                          up=rng.random() < 0.5))
                f[rng.randrange(32)] ^= rng.choice([0, 0, 1, 0x80])
                if rng.random() < 0.7:
                    f[24:28] = struct.pack('<I', zlib.crc32(
                        bytes(f[:24]) + b'\0' * 4 + bytes(f[28:])))
                f = bytes(f)
            blob += fiber_rec(C.LUMEN_FIBER_DATA, f)
        fake.send(blob, pieces=37)
        # Garbage: a random header sooner or later breaks the protocol.
        fake.send(bytes(rng.getrandbits(8) for _ in range(4096)), pieces=9)
        wait_state(card, 0, C.LUMEN_LINK_DOWN)
        assert card.reg(lreg(0, C.LUMEN_LREG_STATUS)) & \
            C.LUMEN_LSTS_WIRE_ERROR
        assert card.reg64(lreg(0, C.LUMEN_LREG_RX_PKTS_LO)) >= \
            400 * (round_ + 1)
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC


# ---- Link engine: management packets -----------------------------------------
#
# hw-spec 13.3-13.6. Several QEMUs cabled by lumen-fabric; the management
# agent of every chip answers directed-route GET and SET, so management
# packets exercise the link layer and the directed route end to end.

MGMT_FMT = '<BBBBHBBIIQQII16s16s'
MGMT_NAMES = ('version method attr flags status hop_count hop_ptr data_len '
              'reserved0 tid mkey attr_mod reserved path return_path').split()
assert struct.calcsize(MGMT_FMT) == C.LUMEN_MGMT_HDR_SIZE


def mgmt_raw(method, attr, path=(), data=b'', tid=1, mkey=0, attr_mod=0,
             **kw):
    f = dict(version=C.LUMEN_MGMT_VERSION, flags=0, status=0, hop_ptr=0,
             data_len=len(data), reserved0=0, reserved=0,
             hop_count=len(path), return_path=b'')
    f.update(kw)
    return struct.pack(MGMT_FMT, f['version'], method, attr, f['flags'],
                       f['status'], f['hop_count'], f['hop_ptr'],
                       f['data_len'], f['reserved0'], tid, mkey, attr_mod,
                       f['reserved'], bytes(path),
                       bytes(f['return_path'])) + data


def mgmt_parse(raw):
    m = dict(zip(MGMT_NAMES, struct.unpack_from(MGMT_FMT, raw)))
    m['data'] = raw[C.LUMEN_MGMT_HDR_SIZE:C.LUMEN_MGMT_HDR_SIZE +
                    m['data_len']]
    return m


def mgmt_send(card, raw, length=None):
    """Write @raw into MGMT_TX_BUF and send it; MGMT_TX_STATUS."""
    padded = raw + b'\0' * (-len(raw) % 4)
    for i in range(0, len(padded), 4):
        card.wreg(C.LUMEN_REG_MGMT_TX_BUF + i,
                  struct.unpack_from('<I', padded, i)[0])
    card.wreg(C.LUMEN_REG_MGMT_TX_LEN, len(raw) if length is None else length)
    return card.reg(C.LUMEN_REG_MGMT_TX_STATUS)


def mgmt_recv(card, timeout=LINK_WAIT):
    """Pop the head of the management receive queue (None on timeout)."""
    deadline = time.monotonic() + timeout
    while not card.reg(C.LUMEN_REG_MGMT_RX_COUNT):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)
    n = card.reg(C.LUMEN_REG_MGMT_RX_LEN)
    raw = b''.join(struct.pack('<I', card.reg(C.LUMEN_REG_MGMT_RX_BUF + i))
                   for i in range(0, n + 4, 4))
    assert raw[n:] == bytes(len(raw) - n), 'MGMT_RX_BUF not zero past len'
    card.wreg(C.LUMEN_REG_MGMT_RX_POP, 1)
    return mgmt_parse(raw[:n])


def mgmt_call(card, method, attr, path=(), status=C.LUMEN_STATUS_OK, **kw):
    tid = kw.setdefault('tid', random.getrandbits(64))
    sent = mgmt_send(card, mgmt_raw(method, attr, path, **kw))
    assert sent == C.LUMEN_STATUS_OK, 'MGMT_TX_STATUS %d' % sent
    m = mgmt_recv(card)
    assert m is not None, 'no answer to method %d attr %d path %s' % (
        method, attr, list(path))
    assert (m['tid'], m['method'], m['attr'], m['flags'], m['hop_ptr']) == (
        tid, C.LUMEN_MGMT_RESP, attr, C.LUMEN_MGMT_F_RETURN, 0), m
    assert m['status'] == status, 'status %d, expected %d' % (m['status'],
                                                              status)
    return m


def mgmt_get(card, attr, path=(), **kw):
    return mgmt_call(card, C.LUMEN_MGMT_GET, attr, path, **kw)


def parse_info(data):
    chip, nports, mkey_set, _, size, hw = struct.unpack_from('<IBBHII', data)
    serial = data[16:48].rstrip(b'\0').decode()
    ports = [struct.unpack_from('<BBHII', data, 48 + 12 * p)
             for p in range(nports)]
    return dict(chip=chip, nports=nports, mkey_set=mkey_set, size=size,
                hw=hw, serial=serial,
                ports=[(st, ctrl, pc, pp) for st, ctrl, _, pc, pp in ports])


def ring3(env, args=(), ports=(0, 1)):
    """lumen-fabric ring:3, chips 0-2 with ports 0 (+x) and 1 (-x), all
    enabled and UP: chip i +x <-> chip i+1 -x."""
    fab = Fabric(env, 'ring:3', args)
    cards = [link_card(env, fab.ports, c, ports, 'chip%d' % c)
             for c in range(3)]
    for c in cards:
        for p in ports:
            lit(c, p)
            enable(c, p)
    for c in cards:
        for p in ports:
            wait_state(c, p, C.LUMEN_LINK_UP)
    return fab, cards


def port_total(cards, reg, ports=(0, 1)):
    return sum(c.reg(lreg(p, reg)) for c in cards for p in ports)


# ---- Link engine: a fake neighbour chip ---------------------------------------
#
# To send what a real chip never would (and to see exactly what a card
# forwards) the test plays the fabric and the neighbour chips itself: each
# card port connects to a socket of the test, which answers HELLO, trains
# the port and speaks the reliable link layer (13.2, 13.3) from Python.

DATA_FMT = '<HBBIIBBHIIII'         # struct lumen_link_data_hdr
ACK_FMT = '<HBBIIIQII8I'           # struct lumen_link_ack
PKT_FMT = '<IIBBHIIIIBBHQQQQ'      # struct lumen_pkt_hdr
assert struct.calcsize(DATA_FMT) == 32 and struct.calcsize(ACK_FMT) == 64
assert struct.calcsize(PKT_FMT) == 64


def frame_crc(f):
    return zlib.crc32(f[:24] + b'\0' * 4 + f[28:])


def with_crc(f, xor=0):
    return f[:24] + struct.pack('<I', frame_crc(f) ^ xor) + f[28:]


def packet(src, dst, op, payload=b'', stream=1, epoch=1, msg=1, pkt=0,
           status=0, size=None, flags=0, crc_xor=0):
    """A struct lumen_pkt_hdr with its end-to-end CRC, then @payload."""
    size = len(payload) if size is None else size
    h = struct.pack(PKT_FMT, src, dst, op, flags, stream, epoch, msg, pkt, 0,
                    status, 0, 0, 0, 0, size, 0)
    crc = zlib.crc32(h + payload) ^ crc_xor
    return h[:24] + struct.pack('<I', crc) + h[28:] + payload


def parse_packet(raw):
    names = ('src dst op flags stream epoch msg pkt crc status aop window '
             'key offset size arg').split()
    h = dict(zip(names, struct.unpack_from(PKT_FMT, raw)))
    h['payload'] = raw[64:]
    h['crc_ok'] = zlib.crc32(raw[:24] + b'\0' * 4 + raw[28:]) == h['crc']
    return h


class Wire:
    """One card port's connection to the test's fake fabric."""

    def __init__(self, conn):
        self.conn, self.buf = conn, b''
        self.conn.settimeout(LINK_WAIT)
        self.lock = threading.Lock()

    def record(self):
        while True:
            if len(self.buf) >= 16:
                ln, = struct.unpack_from('<I', self.buf, 8)
                if len(self.buf) >= 16 + ln:
                    rtype, payload = self.buf[3], self.buf[16:16 + ln]
                    self.buf = self.buf[16 + ln:]
                    return rtype, payload
            data = self.conn.recv(65536)
            if not data:
                raise EOFError('the port closed the socket')
            self.buf += data

    def send(self, data):
        with self.lock:
            self.conn.sendall(data)

    def frame(self, f):
        self.send(fiber_rec(C.LUMEN_FIBER_DATA, f))


class FakePlant:
    """Accepts card ports, answers HELLO with light, keyed by port."""

    def __init__(self, env):
        self.path = os.path.join(env.workdir, 'plant.sock')
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(8)
        self.srv.settimeout(LINK_WAIT)
        self.peers = []
        env.others.append(self)

    def attach(self, n):
        """Accept @n ports; {port: Wire}, each lit."""
        wires = {}
        for _ in range(n):
            conn, _ = self.srv.accept()
            w = Wire(conn)
            rtype, hello = w.record()
            assert rtype == C.LUMEN_FIBER_HELLO
            port = hello[4]
            w.send(fiber_rec(C.LUMEN_FIBER_HELLO_ACK, struct.pack(
                '<IB3sII', C.LUMEN_FIBER_OK, 1, b'\0' * 3, port,
                C.LUMEN_FIBER_MAX_PAYLOAD)))
            wires[port] = w
        return wires

    def close(self):
        for p in self.peers:
            p.stop()
        self.srv.close()


class LinkPeer:
    """A neighbour chip on one wire: trains, keeps the link alive, and
    speaks 13.3. Received DATA packets land in self.data in order; with
    auto_ack each is acknowledged and its credit returned at once."""

    def __init__(self, plant, wire, chip, port, card_chip, card_port):
        self.w, self.chip, self.port = wire, chip, port
        self.card = (card_chip, card_port)
        self.gen, self.card_gen, self.up = 1, None, False
        self.auto_ack = True
        self.frozen = {}        # VC -> credit_limit it keeps granting
        self.tx_seq = 0
        self.sent = [0] * C.LUMEN_LINK_NUM_VCS     # DATA frames since UP
        self.rx_seq = 0
        self.consumed = [0] * C.LUMEN_LINK_NUM_VCS
        self.data, self.acks, self.seen = [], [], []
        self.cv = threading.Condition()
        self.running = True
        plant.peers.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def stop(self):
        self.running = False
        try:
            self.w.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.w.conn.close()

    def train(self):
        heard = self.card + (self.card_gen,) if self.card_gen else None
        self.w.frame(train_frame(self.chip, self.port, self.gen, heard=heard,
                                 up=self.up))

    def ack(self, nak=False, next_seq=None, credits=None, gen=None):
        credits = credits or [self.frozen.get(v, C.LUMEN_LINK_VC_CREDITS + c)
                              for v, c in enumerate(self.consumed)]
        f = struct.pack(ACK_FMT, C.LUMEN_LINK_MAGIC, 0,
                        C.LUMEN_LINK_FRAME_NAK if nak else
                        C.LUMEN_LINK_FRAME_ACK,
                        self.rx_seq if next_seq is None else next_seq,
                        self.gen if gen is None else gen, 0, 0, 0, 0,
                        *(credits + [0] * (8 - len(credits))))
        self.w.frame(with_crc(f))

    def _tick(self):
        while self.running:
            time.sleep(0.15)
            try:
                if self.card_gen:
                    self.train()
            except OSError:
                return

    def _read(self):
        while self.running:
            try:
                rtype, f = self.w.record()
            except (OSError, EOFError):
                return
            if rtype != C.LUMEN_FIBER_DATA:
                continue
            with self.cv:
                try:
                    self._frame(f)
                except OSError:
                    return          # the card closed the socket (teardown)
                finally:
                    self.cv.notify_all()

    def _frame(self, f):
        crc_ok = len(f) >= 32 and struct.unpack_from('<I', f, 24)[0] == \
            frame_crc(f)
        ftype = f[3]
        if ftype == C.LUMEN_LINK_FRAME_TRAIN:
            chip, port, _, flags, gen = struct.unpack_from('<IBBHI', f, 4)
            if self.card_gen != gen:
                self.card_gen, self.up = gen, False
                self.rx_seq, self.tx_seq = 0, 0
                self.sent = [0] * C.LUMEN_LINK_NUM_VCS
                self.consumed = [0] * C.LUMEN_LINK_NUM_VCS
                self.train()
            elif flags & C.LUMEN_TRAIN_F_HEARD and not self.up:
                self.up = True
                self.train()
        elif ftype == C.LUMEN_LINK_FRAME_DATA:
            h = dict(zip('magic vc type seq len ttl flags r0 gen r1 crc r2'
                         .split(), struct.unpack_from(DATA_FMT, f)))
            h['crc_ok'] = crc_ok
            self.seen.append(h)
            if h['seq'] != self.rx_seq or not self.auto_ack:
                return
            self.rx_seq += 1
            pkt = parse_packet(f[32:])
            pkt['hop'] = h
            self.data.append(pkt)
            self.consumed[h['vc']] += 1
            self.ack()
        elif ftype in (C.LUMEN_LINK_FRAME_ACK, C.LUMEN_LINK_FRAME_NAK):
            a = struct.unpack_from(ACK_FMT, f)
            self.acks.append(dict(nak=ftype == C.LUMEN_LINK_FRAME_NAK,
                                  next_seq=a[3], gen=a[4],
                                  credits=list(a[9:14]), crc_ok=crc_ok))

    def wait(self, pred, what, timeout=LINK_WAIT):
        with self.cv:
            if not self.cv.wait_for(pred, timeout):
                raise AssertionError('peer chip %d: timed out waiting for %s'
                                     % (self.chip, what))

    def wait_up(self):
        self.wait(lambda: self.up, 'UP')

    def send(self, pkt, vc=0, ttl=8, flags=0, seq=None, gen=None, crc_xor=0,
             **hdr):
        """One DATA frame; seq defaults to the next one."""
        if seq is None:
            seq, self.tx_seq = self.tx_seq, self.tx_seq + 1
            if vc < C.LUMEN_LINK_NUM_VCS:
                self.sent[vc] += 1
        f = struct.pack(DATA_FMT, C.LUMEN_LINK_MAGIC, hdr.get('vc_raw', vc),
                        C.LUMEN_LINK_FRAME_DATA, seq,
                        hdr.get('len', len(pkt)), ttl, flags,
                        hdr.get('r0', 0), self.gen if gen is None else gen,
                        0, 0, 0) + pkt
        self.w.frame(with_crc(f, crc_xor))

    def last_ack(self):
        with self.cv:
            return self.acks[-1] if self.acks else None


def fake_neighbours(env, chip, neighbours, props=''):
    """One card (chip id @chip) whose ports are cabled to fake neighbour
    chips: @neighbours maps card port -> (peer chip, peer port). Every
    port enabled and UP; returns the card and {card port: LinkPeer}."""
    plant = FakePlant(env)
    card = link_card(env, plant.path, chip, sorted(neighbours), 'chip%d' % chip,
                     props)
    wires = plant.attach(len(neighbours))
    peers = {p: LinkPeer(plant, wires[p], pc, pp, chip, p)
             for p, (pc, pp) in neighbours.items()}
    for p in neighbours:
        enable(card, p)
    for p, peer in peers.items():
        peer.wait_up()
        wait_state(card, p, C.LUMEN_LINK_UP)
    return card, peers


def set_routes(card, routes):
    for dst, word in routes.items():
        card.wreg(C.LUMEN_REG_ROUTE_INDEX, dst)
        card.wreg(C.LUMEN_REG_ROUTE_ENTRY, word)


def route_word(port, alt=0xf, lane=0, fixed=False):
    return (1 << 31) | port | alt << 4 | lane << 8 | (1 << 9 if fixed else 0)


def wait_reg(card, off, pred, what, timeout=LINK_WAIT):
    deadline = time.monotonic() + timeout
    while True:
        v = card.reg(off)
        if pred(v):
            return v
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s (0x%x = %d)' %
                                 (what, off, v))
        time.sleep(0.005)


# Card chip 5: port 0 (+x) to chip 9, port 1 (-x) to chip 7, port 2 (+y)
# to chip 8, port 3 (-y) to chip 6, all fake.
FAKE_CARD = 5
FAKE_NEIGHBOURS = {0: (9, 1), 1: (7, 0), 2: (8, 3), 3: (6, 2)}
FAKE_ROUTES = {7: route_word(1, alt=3), 8: route_word(2), 9: route_word(0),
               6: route_word(3), 20: route_word(1, lane=1, fixed=True)}


def fake_card(env):
    card, peers = fake_neighbours(env, FAKE_CARD, FAKE_NEIGHBOURS)
    set_routes(card, FAKE_ROUTES)
    card.clear_errors()
    return card, peers


def expect_packets(peer, n, what):
    peer.wait(lambda: len(peer.data) >= n, what)
    time.sleep(0.05)
    assert len(peer.data) == n, '%s: %d packets, expected %d' % (
        what, len(peer.data), n)
    return peer.data[-1]


@test
def link_forwarding(env):
    """A transit chip between fake neighbours: route table, TTL, lanes,
    datelines, turns, UNREACHABLE answers, checks where consumed."""
    card, peers = fake_card(env)
    a, b, c = peers[0], peers[1], peers[2]
    assert card.reg(C.LUMEN_REG_ROUTE_SIZE) == C.LUMEN_ROUTE_TABLE_SIZE
    assert card.reg(C.LUMEN_REG_LINK_CHIP_ID) == FAKE_CARD
    assert card.reg(C.LUMEN_REG_TTL_DEFAULT) == C.LUMEN_LINK_TTL_DEFAULT
    # A write 9 -> 7 crosses: same packet, TTL - 1, lane kept, its receive
    # buffer freed at once (credit + 1 in A's next ACK).
    w = packet(9, 7, C.LUMEN_PKT_WRITE, bytes(range(100)), msg=3)
    a.send(w, vc=0, ttl=8)
    got = expect_packets(b, 1, 'forwarded write')
    assert got['hop']['crc_ok'] and got['crc_ok']
    assert got['hop']['vc'] == 0 and got['hop']['ttl'] == 7
    assert got['hop']['flags'] == 0 and got['hop']['seq'] == 0
    assert got['hop']['gen'] == card.reg(lreg(1, C.LUMEN_LREG_GENERATION))
    assert (got['src'], got['dst'], got['msg'], got['payload']) == (
        9, 7, 3, bytes(range(100)))
    a.wait(lambda: any(k['next_seq'] == 1 and
                       k['credits'][0] == C.LUMEN_LINK_VC_CREDITS + 1
                       for k in a.acks), 'ACK with the credit back')
    assert card.reg64(C.LUMEN_REG_FWD_PKTS_LO) == 1
    assert card.reg64(lreg(0, C.LUMEN_LREG_DATA_RX_LO)) == 1
    assert card.reg64(lreg(1, C.LUMEN_LREG_DATA_TX_LO)) == 1
    # Lane 1 stays lane 1 along a dimension; a turn (port 0 -> 2, x -> y)
    # takes the entry's lane; answers travel on class 1.
    a.send(w, vc=1)
    assert expect_packets(b, 2, 'lane 1')['hop']['vc'] == 1
    a.send(packet(9, 8, C.LUMEN_PKT_WRITE, b'turn'), vc=1)
    assert expect_packets(c, 1, 'turn')['hop']['vc'] == 0
    a.send(packet(9, 7, C.LUMEN_PKT_ACK), vc=3)
    assert expect_packets(b, 3, 'answer')['hop']['vc'] == 3
    # A dateline on the output port moves lane 0 to 1; lane 1 has no lane
    # above it (LANE_ERRORS); FIXED_LANE ignores datelines.
    card.wreg(lreg(1, C.LUMEN_LREG_CTRL),
              C.LUMEN_LCTRL_ENABLE | C.LUMEN_LCTRL_DATELINE)
    assert card.reg(lreg(1, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP
    a.send(w, vc=0)
    assert expect_packets(b, 4, 'dateline')['hop']['vc'] == 1
    a.send(w, vc=1)
    wait_reg(card, C.LUMEN_REG_LANE_ERRORS, lambda v: v == 1, 'lane error')
    a.send(packet(9, 20, C.LUMEN_PKT_WRITE, b'fixed'), vc=0)
    assert expect_packets(b, 5, 'fixed lane')['hop']['vc'] == 1
    card.wreg(lreg(1, C.LUMEN_LREG_CTRL), C.LUMEN_LCTRL_ENABLE)
    # Back out of the port it came in on: the entry's lane.
    a.send(packet(6, 9, C.LUMEN_PKT_WRITE, b'u-turn'), vc=1)
    got = expect_packets(a, 1, 'u-turn')
    assert got['hop']['vc'] == 0 and got['payload'] == b'u-turn'
    # TTL: 1 still crosses (leaves with 0); 0 is dropped here and a request
    # is answered UNREACHABLE by this chip; an answer is just dropped.
    a.send(w, ttl=1)
    assert expect_packets(b, 6, 'ttl 1')['hop']['ttl'] == 0
    a.send(packet(9, 7, C.LUMEN_PKT_READ_REQ, stream=4, epoch=5, msg=6,
                  pkt=7, size=4096), ttl=0)
    got = expect_packets(a, 2, 'UNREACHABLE for TTL')
    assert (got['op'], got['status'], got['src'], got['dst'], got['stream'],
            got['epoch'], got['msg'], got['pkt'], got['payload']) == (
        C.LUMEN_PKT_READ_RESP, C.LUMEN_STATUS_UNREACHABLE, FAKE_CARD, 9, 4,
        5, 6, 7, b''), got
    assert got['crc_ok'] and got['hop']['vc'] == 2
    assert got['hop']['ttl'] == C.LUMEN_LINK_TTL_DEFAULT
    a.send(packet(9, 7, C.LUMEN_PKT_ACK), vc=2, ttl=0)
    wait_reg(card, C.LUMEN_REG_TTL_DROPS, lambda v: v == 2, 'TTL drops')
    assert card.reg(lreg(0, C.LUMEN_LREG_TTL_DROPS)) == 2
    # No route: dropped and answered (WRITE -> ACK, ATOMIC -> ATOMIC_RESP).
    card.wreg(C.LUMEN_REG_TTL_DEFAULT, 9)
    a.send(packet(9, 100, C.LUMEN_PKT_WRITE, b'x', msg=11))
    got = expect_packets(a, 3, 'UNREACHABLE for no route')
    assert (got['op'], got['status'], got['msg']) == (
        C.LUMEN_PKT_ACK, C.LUMEN_STATUS_UNREACHABLE, 11)
    assert got['hop']['ttl'] == 9
    a.send(packet(9, 4000, C.LUMEN_PKT_ATOMIC, size=8))
    assert expect_packets(a, 4, 'atomic')['op'] == C.LUMEN_PKT_ATOMIC_RESP
    assert card.reg(C.LUMEN_REG_NO_ROUTE_DROPS) == 2
    assert len(b.data) == 6
    # Packets for this chip are checked where they are consumed.
    bad = [packet(9, 5, C.LUMEN_PKT_WRITE, b'abc', crc_xor=1),
           packet(9, 5, C.LUMEN_PKT_ACK),                 # class 1 on VC 0
           packet(9, 5, C.LUMEN_PKT_READ_REQ, b'data', size=4096),
           packet(9, 5, C.LUMEN_PKT_WRITE, b'toolong', size=4),
           packet(9, 5, C.LUMEN_PKT_WRITE, b'x', size=4096, pkt=1),
           packet(9, 5, 9),
           packet(9, 5, C.LUMEN_PKT_WRITE, b'x', flags=1)]
    for pk in bad:
        a.send(pk)
    wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == len(bad), 'BAD_PKTS')
    assert 'end-to-end CRC' in card.q.guest_log()
    assert card.reg(C.LUMEN_REG_FWD_PKTS_LO) == 8
    # Transit chips do not check the end-to-end CRC.
    a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'abc', crc_xor=1))
    assert not expect_packets(b, 7, 'corrupt transit')['crc_ok']
    assert card.reg(C.LUMEN_REG_FWD_PKTS_LO) == 9
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == len(bad)
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # Route registers: reserved bits, index range, RO writes, TTL range.
    card.wreg(C.LUMEN_REG_ROUTE_INDEX, 7)
    assert card.reg(C.LUMEN_REG_ROUTE_ENTRY) == FAKE_ROUTES[7]
    for off, val in ((C.LUMEN_REG_ROUTE_ENTRY, (1 << 31) | (1 << 10)),
                     (C.LUMEN_REG_ROUTE_INDEX, C.LUMEN_ROUTE_TABLE_SIZE),
                     (C.LUMEN_REG_TTL_DEFAULT, 0),
                     (C.LUMEN_REG_TTL_DEFAULT, 64),
                     (C.LUMEN_REG_ROUTE_SIZE, 1),
                     (C.LUMEN_REG_FWD_PKTS_LO, 0),
                     (C.LUMEN_REG_BAD_PKTS, 0),
                     (C.LUMEN_REG_LINK_CHIP_ID, 1),
                     (lreg(1, C.LUMEN_LREG_FAILOVERS), 0),
                     (lreg(1, C.LUMEN_LREG_DATA_TX_HI), 0)):
        card.clear_errors()
        card.wreg(off, val)
        expect_error(card, C.LUMEN_ERR_REG_ACCESS,
                     C.LUMEN_STATUS_BAD_ARGUMENT, off)
    assert card.reg(C.LUMEN_REG_ROUTE_INDEX) == 7
    assert card.reg(C.LUMEN_REG_ROUTE_ENTRY) == FAKE_ROUTES[7]
    assert card.reg(C.LUMEN_REG_TTL_DEFAULT) == 9
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == len(bad)
    # ROUTE_ENTRY writes advance the index, wrapping at the table's end.
    card.wreg(C.LUMEN_REG_ROUTE_INDEX, C.LUMEN_ROUTE_TABLE_SIZE - 1)
    card.wreg(C.LUMEN_REG_ROUTE_ENTRY, route_word(2))
    card.wreg(C.LUMEN_REG_ROUTE_ENTRY, route_word(3))
    assert card.reg(C.LUMEN_REG_ROUTE_INDEX) == 1
    card.wreg(C.LUMEN_REG_ROUTE_INDEX, 0)
    assert card.reg(C.LUMEN_REG_ROUTE_ENTRY) == route_word(3)
    # A soft reset clears the table, TTL_DEFAULT and the counters.
    card.soft_reset()
    for off in (C.LUMEN_REG_FWD_PKTS_LO, C.LUMEN_REG_TTL_DROPS,
                C.LUMEN_REG_NO_ROUTE_DROPS, C.LUMEN_REG_LANE_ERRORS,
                C.LUMEN_REG_BAD_PKTS, C.LUMEN_REG_ROUTE_INDEX,
                lreg(0, C.LUMEN_LREG_TTL_DROPS),
                lreg(1, C.LUMEN_LREG_DATA_TX_LO)):
        assert card.reg(off) == 0, hex(off)
    card.wreg(C.LUMEN_REG_ROUTE_INDEX, 7)
    assert card.reg(C.LUMEN_REG_ROUTE_ENTRY) == 0
    assert card.reg(C.LUMEN_REG_TTL_DEFAULT) == C.LUMEN_LINK_TTL_DEFAULT


@test
def link_layer_errors(env):
    """Sequence gaps and bad CRCs are NAKed once, duplicates ACKed,
    malformed DATA and ACK frames counted; nothing reaches the far side
    twice or out of order."""
    card, peers = fake_card(env)
    a, b = peers[0], peers[1]
    base = C.LUMEN_LINK_VC_CREDITS

    def reg(r, p=0):
        return card.reg(lreg(p, r))

    def pk(i):
        return packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % i, msg=i)

    a.send(pk(0))
    expect_packets(b, 1, 'first')
    # A gap: SEQ_ERRORS, one NAK carrying the expected seq; a second gap
    # frame sends no second NAK (one pending).
    a.send(pk(9), seq=3)
    a.wait(lambda: any(k['nak'] for k in a.acks), 'NAK')
    nak = [k for k in a.acks if k['nak']][0]
    assert nak['next_seq'] == 1 and nak['crc_ok']
    a.send(pk(9), seq=2)
    wait_link(card, 0, lambda v: v == 2, 'seq errors',
              reg=C.LUMEN_LREG_SEQ_ERRORS)
    assert reg(C.LUMEN_LREG_NAKS_TX) == 1
    # The expected frame clears the NAK; a corrupted DATA frame then gets a
    # new one (CRC_ERRORS), and so does the next gap after it.
    a.send(pk(1), seq=1)
    a.tx_seq = 2
    expect_packets(b, 2, 'expected frame after the gap')
    a.send(pk(2), crc_xor=0x10)
    wait_link(card, 0, lambda v: v == 1, 'CRC error',
              reg=C.LUMEN_LREG_CRC_ERRORS)
    wait_link(card, 0, lambda v: v == 2, 'second NAK',
              reg=C.LUMEN_LREG_NAKS_TX)
    a.send(pk(2), seq=2)
    expect_packets(b, 3, 'after the CRC error')
    # A duplicate (seq behind) is dropped and answered by an ACK.
    acks = len(a.acks)
    a.send(pk(2), seq=2)
    a.wait(lambda: len(a.acks) > acks, 'ACK for a duplicate')
    assert a.last_ack()['next_seq'] == 3 and not a.last_ack()['nak']
    # Malformed DATA frames: bad VC, len disagreeing, reserved bits, an old
    # generation. FRAME_ERRORS; the sequence does not move.
    frames = reg(C.LUMEN_LREG_FRAME_ERRORS)
    a.send(pk(3), seq=3, vc_raw=5)
    a.send(pk(3), seq=3, len=70)
    a.send(pk(3), seq=3, r0=1)
    a.send(pk(3), seq=3, flags=2)
    a.send(pk(3), seq=3, gen=7)
    a.send(b'\0' * 40, seq=3)                   # shorter than a packet header
    wait_link(card, 0, lambda v: v == frames + 6, 'frame errors',
              reg=C.LUMEN_LREG_FRAME_ERRORS)
    a.send(pk(3), seq=3)
    a.tx_seq = 4
    got = expect_packets(b, 4, 'after malformed frames')
    assert [d['msg'] for d in b.data] == [0, 1, 2, 3]
    assert reg(C.LUMEN_LREG_DATA_RX_LO) == 4
    # ACK and NAK frames are checked too: acknowledging a seq never sent,
    # another generation, credit entries beyond VC 4.
    frames = reg(C.LUMEN_LREG_FRAME_ERRORS)
    a.ack(next_seq=50)
    a.ack(gen=9)
    a.ack(credits=[base] * 6)
    wait_link(card, 0, lambda v: v == frames + 3, 'ACK frame errors',
              reg=C.LUMEN_LREG_FRAME_ERRORS)
    assert reg(C.LUMEN_LREG_STATE) == C.LUMEN_LINK_UP
    # A NAK from the far side replays the frames it did not acknowledge.
    b.auto_ack = False
    for i in range(4, 7):
        a.send(pk(i))
    b.wait(lambda: len(b.seen) >= 7, 'three unacknowledged frames')
    seen = len(b.seen)
    b.ack(nak=True)
    b.wait(lambda: len(b.seen) >= seen + 3, 'replay after NAK')
    assert [h['seq'] for h in b.seen[seen:seen + 3]] == [4, 5, 6]
    assert card.reg(lreg(1, C.LUMEN_LREG_NAKS_RX)) == 1
    assert card.reg(lreg(1, C.LUMEN_LREG_RETRANSMITS)) >= 3
    b.auto_ack = True
    expect_packets(b, 7, 'after the NAK')
    assert [d['msg'] for d in b.data] == list(range(7))
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def link_credits_and_failover(env):
    """Credit back-pressure, replay on timeout, ERROR after four failed
    replays, and rerouting to alt_port (DETOUR, FAILOVERS) when the output
    port leaves UP."""
    card, peers = fake_card(env)
    a, b, d = peers[0], peers[1], peers[3]
    base = C.LUMEN_LINK_VC_CREDITS

    def pk(i):
        return packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % i, msg=i)

    # B grants no credit back: 16 frames reach it, 4 wait in the card and
    # keep their receive buffers on port 0 (A gets only 16 credits back).
    b.auto_ack = False
    for i in range(20):
        a.send(pk(i))
    b.wait(lambda: len(b.seen) >= base, '16 frames')
    time.sleep(0.02)
    assert len({h['seq'] for h in b.seen}) == base
    a.wait(lambda: a.acks and a.last_ack()['next_seq'] == 20, 'all accepted')
    assert a.last_ack()['credits'][0] == 2 * base
    assert card.reg(lreg(1, C.LUMEN_LREG_CREDIT_STALLS)) == 4
    # Its replay timer resends the unacknowledged frames every 50 ms.
    wait_link(card, 1, lambda v: v >= 2, 'replay timeouts',
              reg=C.LUMEN_LREG_REPLAY_TIMEOUTS)
    assert card.reg(lreg(1, C.LUMEN_LREG_RETRANSMITS)) >= base
    assert card.reg(lreg(1, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP
    # B takes them now: the replays are accepted, the credits return and
    # the waiting four follow, in order.
    b.auto_ack = True
    expect_packets(b, 20, 'all twenty')
    assert [x['msg'] for x in b.data] == list(range(20))
    a.wait(lambda: a.last_ack()['credits'][0] == base + 20, 'all credits')
    assert card.reg64(lreg(1, C.LUMEN_LREG_DATA_TX_LO)) == 20
    # B goes silent for good: four replays without progress put the port
    # in ERROR; what it held goes out of alt_port 3 with DETOUR.
    b.auto_ack = False
    card.wreg(C.LUMEN_REG_LINK_CHANGED, 0xffffffff)
    a.send(pk(20))
    d.wait(lambda: len(d.data) == 1, 'rerouted after ERROR', timeout=2)
    got = d.data[0]
    assert got['msg'] == 20 and got['hop']['flags'] == C.LUMEN_HOP_F_DETOUR
    assert got['hop']['vc'] == 0        # x -> y is a turn: the entry's lane
    assert card.reg(lreg(1, C.LUMEN_LREG_RETRAINS)) == 1
    assert card.reg(lreg(1, C.LUMEN_LREG_REPLAY_TIMEOUTS)) >= 5
    assert card.reg(lreg(1, C.LUMEN_LREG_DOWN_EVENTS)) == 1
    assert card.reg(lreg(3, C.LUMEN_LREG_FAILOVERS)) == 1
    assert card.reg(C.LUMEN_REG_LINK_CHANGED) & 0b10
    # It retrains and comes back UP with the neighbour.
    b.auto_ack = True
    wait_state(card, 1, C.LUMEN_LINK_UP)
    # Light off while frames wait unacknowledged and more wait for credit:
    # all of them leave by the alternative port, none twice, in order.
    b.wait_up()
    b.auto_ack = False
    seen = len(b.seen)
    for i in range(21, 41):
        a.send(pk(i))
    b.wait(lambda: len(b.seen) >= seen + base, 'frames before the cut')
    b.w.send(fiber_rec(C.LUMEN_FIBER_LIGHT, struct.pack('<BBHI', 0, 1, 0, 1)))
    wait_state(card, 1, C.LUMEN_LINK_DOWN)
    d.wait(lambda: len(d.data) == 21, 'rerouted after the cut')
    assert [x['msg'] for x in d.data] == list(range(20, 41))
    assert all(x['hop']['flags'] == C.LUMEN_HOP_F_DETOUR for x in d.data)
    assert card.reg(lreg(3, C.LUMEN_LREG_FAILOVERS)) == 21
    assert card.reg(C.LUMEN_REG_REROUTE_DROPS) == 0
    # New packets take the alternative port while port 1 is down; without
    # it there is no way out: UNREACHABLE for requests.
    a.send(pk(41))
    d.wait(lambda: len(d.data) == 22, 'alternative port')
    enable(card, 3, False)
    a.send(pk(42))
    got = expect_packets(a, 1, 'UNREACHABLE')
    assert got['status'] == C.LUMEN_STATUS_UNREACHABLE and got['msg'] == 42
    assert card.reg(lreg(3, C.LUMEN_LREG_FAILOVERS)) == 22
    b.w.send(fiber_rec(C.LUMEN_FIBER_LIGHT, struct.pack('<BBHI', 1, 2, 0, 1)))
    b.auto_ack = True
    wait_state(card, 1, C.LUMEN_LINK_UP)
    a.send(pk(43))
    b.wait(lambda: b.data and b.data[-1]['msg'] == 43, 'primary again')
    assert b.data[-1]['hop']['flags'] == 0


@test
def link_credit_past_acknowledged(env):
    """A neighbour that grants credit for frames it never acknowledged
    (a hostile or broken one) cannot make the card hold more than
    LUMEN_LINK_VC_CREDITS frames of a VC in its replay buffer: a limit is
    read as at most one buffer past what it acknowledged on the VC."""
    card, peers = fake_card(env)
    a, b = peers[0], peers[1]
    base = C.LUMEN_LINK_VC_CREDITS

    def pk(i):
        return packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % i, msg=i)

    def seqs():
        with b.cv:
            return {h['seq'] for h in b.seen if h['gen'] == gen}

    # 16 frames reach B, 16 more wait in the card for B's credit.
    b.auto_ack = False
    for i in range(2 * base):
        a.send(pk(i))
    b.wait(lambda: len(b.seen) >= base, '16 frames')
    gen = b.seen[0]['gen']
    a.wait(lambda: a.acks and a.last_ack()['next_seq'] == 2 * base,
           'all accepted')
    # B acknowledges none of them but grants a million credits: nothing
    # more leaves (before the replay timer gives up on B).
    b.ack(next_seq=0, credits=[1 << 20] + [base] * 4)
    time.sleep(0.04)
    assert max(seqs()) == base - 1, sorted(seqs())
    assert card.reg(lreg(1, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP
    # Once B takes the frames, the others follow, in order, none lost.
    b.auto_ack = True
    expect_packets(b, 2 * base, 'all of them')
    assert [x['msg'] for x in b.data] == list(range(2 * base))
    assert card.reg(C.LUMEN_REG_REROUTE_DROPS) == 0


@test
def link_reroutes_bounded(env):
    """What a port held in its replay buffer when it left UP holds no
    receive buffer any more: rerouted onto a port without credit it waits
    there, OWN_MAX per VC at most, and the rest is dropped
    (REROUTE_DROPS), so a flapping link cannot pile packets up."""
    card, peers = fake_card(env)
    a, b, d = peers[0], peers[1], peers[3]
    base = C.LUMEN_LINK_VC_CREDITS
    d.frozen[0] = base
    b.auto_ack = False
    light = (struct.pack('<BBHI', 0, 1, 0, 1),
             struct.pack('<BBHI', 1, 2, 0, 1))
    n = 0
    # Each round B takes 16 frames without acknowledging them, then its
    # fiber goes dark: the 16 leave by port 3 (alt_port), the first 16 on
    # D's credit, the next 128 wait there, the last 16 are dropped.
    for _ in range(OWN_MAX // base + 2):
        wait_state(card, 1, C.LUMEN_LINK_UP)
        seen = len(b.seen)
        for _ in range(base):
            a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % n, msg=n))
            n += 1
        b.wait(lambda: len(b.seen) >= seen + base, '16 frames')
        b.w.send(fiber_rec(C.LUMEN_FIBER_LIGHT, light[0]))
        wait_state(card, 1, C.LUMEN_LINK_DOWN)
        b.w.send(fiber_rec(C.LUMEN_FIBER_LIGHT, light[1]))
    assert card.reg(C.LUMEN_REG_REROUTE_DROPS) == base
    assert card.reg(lreg(3, C.LUMEN_LREG_CREDIT_STALLS)) == OWN_MAX
    del d.frozen[0]
    d.ack()
    expect_packets(d, base + OWN_MAX, 'every packet rerouted and kept')
    assert [x['msg'] for x in d.data] == list(range(base + OWN_MAX))
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def mgmt_host_sends_bounded(env):
    """Management packets the host sends towards a neighbour that grants
    no credit on VC 4: 16 leave, LUMEN_LINK_OWN_MAX wait, then
    MGMT_TX_STATUS is BUSY and nothing is queued; all that was accepted
    leaves once credit comes."""
    card, peers = fake_card(env)
    a = peers[0]
    base = C.LUMEN_LINK_VC_CREDITS
    a.frozen[C.LUMEN_VC_MGMT] = base
    raw = mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (0, 1), tid=5)
    drops = card.reg(C.LUMEN_REG_NO_ROUTE_DROPS)
    statuses = [mgmt_send(card, raw)]
    for _ in range(base + OWN_MAX + 20):
        card.wreg(C.LUMEN_REG_MGMT_TX_LEN, len(raw))
        statuses.append(card.reg(C.LUMEN_REG_MGMT_TX_STATUS))
    ok = statuses.count(C.LUMEN_STATUS_OK)
    assert ok == base + OWN_MAX, ok
    assert set(statuses[ok:]) == {C.LUMEN_STATUS_BUSY}, statuses[ok:]
    assert card.reg(lreg(0, C.LUMEN_LREG_CREDIT_STALLS)) == \
        OWN_MAX
    assert card.reg(C.LUMEN_REG_NO_ROUTE_DROPS) == drops
    # A trap along that port finds no room either: dropped and counted
    # (its sequence number tells the manager).
    mgmt_set(card, C.LUMEN_MGMT_ATTR_TRAP_PATH, (),
             struct.pack('<B7x16s', 1, bytes([0])))
    enable(card, 3, False)
    wait_reg(card, C.LUMEN_REG_NO_ROUTE_DROPS, lambda v: v == drops + 1,
             'trap dropped')
    del a.frozen[C.LUMEN_VC_MGMT]
    a.ack()
    expect_packets(a, ok, 'every packet accepted')
    assert all(x['hop']['vc'] == C.LUMEN_VC_MGMT and x['crc_ok'] and
               mgmt_parse(x['payload'])['tid'] == 5 for x in a.data)
    assert mgmt_send(card, raw) == C.LUMEN_STATUS_OK
    expect_packets(a, ok + 1, 'room again')


@test
def link_mgmt_from_a_link(env):
    """Management packets from a fake neighbour: answered as target,
    forwarded on their path with return_path filled in, malformed ones
    counted in BAD_PKTS."""
    card, peers = fake_card(env)
    a, b = peers[0], peers[1]

    def mg(m, crc_xor=0, op=C.LUMEN_PKT_MGMT):
        return packet(9, 0xffffffff, op, m, crc_xor=crc_xor)

    # Target (hop_ptr == hop_count): the answer comes back on port 0.
    a.send(mg(mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (1,),
                       tid=77, hop_ptr=1)), vc=C.LUMEN_VC_MGMT, ttl=0)
    got = expect_packets(a, 1, 'INFO answer')
    assert got['hop']['vc'] == C.LUMEN_VC_MGMT and got['crc_ok']
    assert got['op'] == C.LUMEN_PKT_MGMT and got['src'] == FAKE_CARD
    m = mgmt_parse(got['payload'])
    assert (m['method'], m['flags'], m['hop_ptr'], m['tid'], m['status']) == (
        C.LUMEN_MGMT_RESP, C.LUMEN_MGMT_F_RETURN, 0, 77, 0)
    assert m['return_path'][0] == 0
    info = parse_info(m['data'])
    assert info['chip'] == FAKE_CARD and info['nports'] == 6
    assert info['ports'][1][0] == C.LUMEN_LINK_UP
    assert info['ports'][1][2:] == (7, 0)
    # Transit: sent on path[hop_ptr] with hop_ptr + 1, return_path set.
    a.send(mg(mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (2, 1, 0),
                       tid=78, hop_ptr=1)), vc=C.LUMEN_VC_MGMT)
    got = expect_packets(b, 1, 'forwarded management packet')
    m = mgmt_parse(got['payload'])
    assert got['crc_ok'] and got['hop']['vc'] == C.LUMEN_VC_MGMT
    assert (m['hop_ptr'], m['tid'], m['return_path'][:2]) == (2, 78,
                                                              b'\0\0')
    assert m['return_path'][0] == 0
    # A returning answer follows return_path back.
    ret = bytearray(mgmt_raw(C.LUMEN_MGMT_RESP, C.LUMEN_MGMT_ATTR_INFO,
                             (1, 1), tid=79, hop_ptr=1,
                             flags=C.LUMEN_MGMT_F_RETURN,
                             return_path=b'\x03\x00'))
    b.send(mg(bytes(ret)), vc=C.LUMEN_VC_MGMT)
    got = expect_packets(peers[3], 1, 'returning answer')
    assert mgmt_parse(got['payload'])['hop_ptr'] == 0
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0
    # Malformed: counted, dropped, never forwarded or answered.
    good = dict(method=C.LUMEN_MGMT_GET, attr=C.LUMEN_MGMT_ATTR_INFO,
                path=(1,), hop_ptr=1)

    def raw(**kw):
        f = dict(good)
        f.update(kw)
        return mgmt_raw(f.pop('method'), f.pop('attr'), f.pop('path'), **f)

    bad = [mg(raw(version=2)),
           mg(raw(hop_ptr=2)),
           mg(raw(hop_count=17, hop_ptr=17)),
           mg(raw(data_len=4)),
           mg(raw(data=b'abcd', data_len=8)),
           mg(raw(hop_ptr=0)),
           mg(raw(flags=2)),
           mg(raw(reserved0=1)),
           mg(raw(status=3)),
           mg(raw(method=C.LUMEN_MGMT_RESP)),
           mg(raw(method=9)),
           mg(raw(flags=C.LUMEN_MGMT_F_RETURN, hop_ptr=1)),
           mg(raw(), crc_xor=1),
           mg(raw()[:40]),
           mg(raw() + bytes(600)),
           mg(raw(), op=C.LUMEN_PKT_WRITE)]
    for pk in bad:
        a.send(pk, vc=C.LUMEN_VC_MGMT)
    # A management packet off VC 4 is not one (class disagrees).
    a.send(packet(9, FAKE_CARD, C.LUMEN_PKT_MGMT, raw()), vc=0)
    wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == len(bad) + 1,
             'BAD_PKTS')
    time.sleep(0.1)
    assert len(a.data) == 1 and len(b.data) == 1
    assert card.reg(C.LUMEN_REG_MGMT_RX_COUNT) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    # Path through a port that is not UP (or not a port): dropped.
    drops = card.reg(C.LUMEN_REG_NO_ROUTE_DROPS)
    a.send(mg(mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (0, 5),
                       hop_ptr=1)), vc=C.LUMEN_VC_MGMT)
    a.send(mg(mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (0, 200),
                       hop_ptr=1)), vc=C.LUMEN_VC_MGMT)
    wait_reg(card, C.LUMEN_REG_NO_ROUTE_DROPS, lambda v: v == drops + 2,
             'dropped on a dead path')


@test
def mgmt_directed_route(env):
    """GET over 0, 1 and 2 hops with return paths, the host's send checks,
    dead paths, and the receive queue's registers and limits."""
    fab, cards = ring3(env)
    a, b, c = cards
    a.clear_errors()
    for hops, want in (((), 0), ((0,), 1), ((0, 0), 2), ((1,), 2),
                       ((1, 1), 1), ((0, 1), 0)):
        m = mgmt_get(a, C.LUMEN_MGMT_ATTR_INFO, hops)
        info = parse_info(m['data'])
        assert info['chip'] == want, (hops, info)
        assert m['hop_count'] == len(hops) and m['mkey'] == 0
        assert m['data_len'] == 144 and len(m['data']) == 144
        # Each hop recorded the port it arrived on: always the far end's
        # opposite port on a ring.
        assert list(m['return_path'][:len(hops)]) == [1 - p for p in hops]
    info = parse_info(mgmt_get(a, C.LUMEN_MGMT_ATTR_INFO, (0,))['data'])
    assert info == dict(chip=1, nports=6, mkey_set=0,
                        size=C.LUMEN_ROUTE_TABLE_SIZE, hw=C.LUMEN_HW_VERSION,
                        serial='LN1-00000001', ports=[
                            (C.LUMEN_LINK_UP, 1, 2, 1),
                            (C.LUMEN_LINK_UP, 1, 0, 0)] + [
                            (0, 0, 0xffffffff, 0xffffffff)] * 4), info
    # PORT: CTRL, STATE and the port's registers 0x10-0x7c.
    m = mgmt_get(a, C.LUMEN_MGMT_ATTR_PORT, (0,), attr_mod=1)
    ctrl, state = struct.unpack_from('<II', m['data'])
    words = struct.unpack_from('<28I', m['data'], 16)
    assert (ctrl, state, m['data_len']) == (1, C.LUMEN_LINK_UP, 128)
    gen = (C.LUMEN_LREG_GENERATION - 0x10) // 4
    assert words[gen] == b.reg(lreg(1, C.LUMEN_LREG_GENERATION))
    assert words[(C.LUMEN_LREG_DATA_RX_LO - 0x10) // 4] >= 1
    assert words[-1] == 0                       # 0x7c is reserved
    mgmt_get(a, C.LUMEN_MGMT_ATTR_PORT, (0,), attr_mod=6,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    mgmt_get(a, C.LUMEN_MGMT_ATTR_INFO, attr_mod=1,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    assert b.reg(C.LUMEN_REG_BAD_PKTS) == 0
    # The host's packet is checked before anything is sent.
    info_get = mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO, (0,))
    checks = [
        (mgmt_raw(C.LUMEN_MGMT_GET, 1, version=2), None,
         C.LUMEN_STATUS_BAD_VERSION),
        (info_get, 71, C.LUMEN_STATUS_BAD_LENGTH),
        (info_get, 585, C.LUMEN_STATUS_BAD_LENGTH),
        (info_get, 76, C.LUMEN_STATUS_BAD_LENGTH),
        (mgmt_raw(1, 1, data_len=4), None, C.LUMEN_STATUS_BAD_LENGTH),
        (mgmt_raw(1, 1, hop_ptr=1, hop_count=1), None,
         C.LUMEN_STATUS_RESERVED_SET),
        (mgmt_raw(1, 1, flags=C.LUMEN_MGMT_F_RETURN), None,
         C.LUMEN_STATUS_RESERVED_SET),
        (mgmt_raw(1, 1, status=1), None, C.LUMEN_STATUS_RESERVED_SET),
        (mgmt_raw(1, 1, reserved=1), None, C.LUMEN_STATUS_RESERVED_SET),
        (mgmt_raw(C.LUMEN_MGMT_RESP, 1), None, C.LUMEN_STATUS_BAD_ARGUMENT),
        (mgmt_raw(C.LUMEN_MGMT_TRAP, 6), None, C.LUMEN_STATUS_BAD_ARGUMENT),
        (mgmt_raw(1, C.LUMEN_MGMT_ATTR_MANAGER + 1), None,
         C.LUMEN_STATUS_BAD_ARGUMENT),
        (mgmt_raw(1, 1, hop_count=17), None, C.LUMEN_STATUS_BAD_ARGUMENT),
        (mgmt_raw(1, 1, (2,)), None, C.LUMEN_STATUS_UNREACHABLE),
        (mgmt_raw(1, 1, (9,)), None, C.LUMEN_STATUS_UNREACHABLE),
    ]
    for raw, length, status in checks:
        assert mgmt_send(a, raw, length) == status, (raw[:8], status)
    assert mgmt_recv(a, 0.2) is None
    # A path through a port that is not UP further on: dropped there.
    drops = b.reg(C.LUMEN_REG_NO_ROUTE_DROPS)
    assert mgmt_send(a, mgmt_raw(1, 1, (0, 3))) == C.LUMEN_STATUS_OK
    wait_reg(b, C.LUMEN_REG_NO_ROUTE_DROPS, lambda v: v == drops + 1,
             'drop at chip 1')
    assert mgmt_recv(a, 0.2) is None
    # Registers: TX_BUF reads back, RO and WO rules, POP takes 1.
    a.wreg(C.LUMEN_REG_MGMT_TX_BUF + 0x3fc, 0x12345678)
    assert a.reg(C.LUMEN_REG_MGMT_TX_BUF + 0x3fc) == 0x12345678
    assert a.reg(C.LUMEN_REG_MGMT_TX_LEN) == 0
    assert a.reg(C.LUMEN_REG_MGMT_RX_LEN) == 0
    assert a.reg(C.LUMEN_REG_MGMT_RX_BUF) == 0
    a.wreg(C.LUMEN_REG_MGMT_RX_POP, 1)          # empty: nothing happens
    assert a.reg(C.LUMEN_REG_ERR_STATUS) == 0
    for off, val in ((C.LUMEN_REG_MGMT_RX_POP, 2),
                     (C.LUMEN_REG_MGMT_TX_STATUS, 0),
                     (C.LUMEN_REG_MGMT_RX_LEN, 0),
                     (C.LUMEN_REG_MGMT_RX_COUNT, 0),
                     (C.LUMEN_REG_MGMT_RX_DROPS, 0),
                     (C.LUMEN_REG_MKEY_VIOLATIONS, 0),
                     (C.LUMEN_REG_MGMT_RX_BUF + 8, 0)):
        a.clear_errors()
        a.wreg(off, val)
        expect_error(a, C.LUMEN_ERR_REG_ACCESS, C.LUMEN_STATUS_BAD_ARGUMENT,
                     off)
    # The receive queue holds 32; INT_MGMT on the link vector per packet.
    a.clear_errors()
    for i in range(C.LUMEN_MGMT_RX_DEPTH + 2):
        assert mgmt_send(a, mgmt_raw(1, 1, tid=i)) == C.LUMEN_STATUS_OK
    assert a.reg(C.LUMEN_REG_MGMT_RX_COUNT) == C.LUMEN_MGMT_RX_DEPTH
    assert a.reg(C.LUMEN_REG_MGMT_RX_DROPS) == 2
    assert a.reg(C.LUMEN_REG_INT_STATUS) & C.LUMEN_INT_MGMT
    assert a.msi_fired(C.LUMEN_VEC_LINK)
    for i in range(C.LUMEN_MGMT_RX_DEPTH):
        assert mgmt_recv(a, 0)['tid'] == i
    assert a.reg(C.LUMEN_REG_MGMT_RX_COUNT) == 0
    # Masked: the cause is set, no message.
    a.wreg(C.LUMEN_REG_INT_MASK, C.LUMEN_INT_MGMT)
    a.clear_errors()
    assert mgmt_send(a, mgmt_raw(1, 1)) == C.LUMEN_STATUS_OK
    assert a.reg(C.LUMEN_REG_INT_STATUS) == C.LUMEN_INT_MGMT
    assert not a.msi_fired(C.LUMEN_VEC_LINK)
    # A soft reset empties the queue and the buffers.
    a.soft_reset()
    for off in (C.LUMEN_REG_MGMT_RX_COUNT, C.LUMEN_REG_MGMT_RX_DROPS,
                C.LUMEN_REG_MGMT_TX_BUF + 0x3fc, C.LUMEN_REG_MGMT_TX_STATUS):
        assert a.reg(off) == 0, hex(off)


def mgmt_set(card, attr, path, data, **kw):
    return mgmt_call(card, C.LUMEN_MGMT_SET, attr, path, data=data, **kw)


@test
def mgmt_keys_routes_traps(env):
    """SET of ROUTES, PORT, MKEY and TRAP_PATH two hops away, the key,
    and traps on port state changes."""
    fab, cards = ring3(env)
    a, b, c = cards
    far = (0, 0)
    words = [route_word(i % 2, alt=1 - i % 2, lane=i % 2, fixed=i % 3 == 0)
             for i in range(64)]
    block = struct.pack('<64I', *words)
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_ROUTES, far, block, attr_mod=128)
    assert m['data'] == block
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_ROUTES, far,
                    attr_mod=128)['data'] == block
    c.wreg(C.LUMEN_REG_ROUTE_INDEX, 130)
    assert c.reg(C.LUMEN_REG_ROUTE_ENTRY) == words[2]
    # Bad blocks change nothing.
    bad = struct.pack('<64I', *(words[:63] + [words[63] | 1 << 12]))
    mgmt_set(a, C.LUMEN_MGMT_ATTR_ROUTES, far, bad, attr_mod=128,
             status=C.LUMEN_STATUS_RESERVED_SET)
    for mod, data in ((65, block), (C.LUMEN_ROUTE_TABLE_SIZE, block),
                      (0, block[:100])):
        mgmt_set(a, C.LUMEN_MGMT_ATTR_ROUTES, far, data, attr_mod=mod,
                 status=C.LUMEN_STATUS_BAD_ARGUMENT)
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_ROUTES, far,
                    attr_mod=128)['data'] == block
    # The key: once set, SETs need it; GETs do not; it never travels back.
    key = 0x1122334455667788
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_MKEY, far, struct.pack('<Q', key))
    assert m['data_len'] == 0
    assert c.reg64(C.LUMEN_REG_MKEY_LO) == key
    assert parse_info(mgmt_get(a, C.LUMEN_MGMT_ATTR_INFO, far)['data'])[
        'mkey_set'] == 1
    for k in (0, key + 1):
        mgmt_set(a, C.LUMEN_MGMT_ATTR_ROUTES, far, bytes(256),
                 attr_mod=128, mkey=k, status=C.LUMEN_STATUS_ACCESS)
    mgmt_set(a, C.LUMEN_MGMT_ATTR_MKEY, far, bytes(8),
             status=C.LUMEN_STATUS_ACCESS)
    assert c.reg(C.LUMEN_REG_MKEY_VIOLATIONS) == 3
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_ROUTES, far,
                    attr_mod=128)['data'] == block
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_ROUTES, far, bytes(256), attr_mod=128,
                 mkey=key)
    assert m['mkey'] == 0 and m['data'] == bytes(256)
    # Attributes that cannot be read or written.
    mgmt_get(a, C.LUMEN_MGMT_ATTR_MKEY, far,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    mgmt_set(a, C.LUMEN_MGMT_ATTR_INFO, far, b'', mkey=key,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    mgmt_get(a, C.LUMEN_MGMT_ATTR_TRAP, far,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    mgmt_set(a, C.LUMEN_MGMT_ATTR_MKEY, far, bytes(4), mkey=key,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    assert c.reg(C.LUMEN_REG_MKEY_VIOLATIONS) == 3
    # PORT: CTRL (ENABLE, DATELINE) of chip 2's port 1.
    ctrl = C.LUMEN_LCTRL_ENABLE | C.LUMEN_LCTRL_DATELINE
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_PORT, far, struct.pack('<I', ctrl),
                 attr_mod=1, mkey=key)
    assert struct.unpack_from('<II', m['data']) == (ctrl, C.LUMEN_LINK_UP)
    assert c.reg(lreg(1, C.LUMEN_LREG_CTRL)) == ctrl
    for data, mod in ((struct.pack('<I', 4), 1), (struct.pack('<I', 1), 6),
                      (b'', 1)):
        mgmt_set(a, C.LUMEN_MGMT_ATTR_PORT, far, data, attr_mod=mod,
                 mkey=key, status=C.LUMEN_STATUS_BAD_ARGUMENT)
    assert c.reg(lreg(1, C.LUMEN_LREG_CTRL)) == ctrl
    # Traps: chip 2 reports its port changes to chip 0 along 2.-x, 1.-x.
    trap_path = struct.pack('<B7x16s', 2, bytes([1, 1]))
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_TRAP_PATH, far, trap_path, mkey=key)
    assert m['data'] == trap_path
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_TRAP_PATH, far)['data'] == trap_path
    for bad in (struct.pack('<B7x16s', 17, b''),
                struct.pack('<B7x16s', 1, bytes([8])),
                struct.pack('<BB6x16s', 1, 1, b''), trap_path[:20]):
        mgmt_set(a, C.LUMEN_MGMT_ATTR_TRAP_PATH, far, bad, mkey=key,
                 status=C.LUMEN_STATUS_BAD_ARGUMENT)
    a.clear_errors()
    enable(c, 0, False)
    traps = []
    while len(traps) < 1:
        m = mgmt_recv(a)
        assert m is not None, 'no trap'
        traps.append(m)
    m = traps[0]
    assert (m['method'], m['attr'], m['flags'], m['hop_ptr'],
            m['data_len']) == (C.LUMEN_MGMT_TRAP, C.LUMEN_MGMT_ATTR_TRAP, 0, 2,
                               20), m
    assert list(m['return_path'][:2]) == [0, 0]
    assert struct.unpack('<IBBHIII', m['data']) == (
        2, 0, C.LUMEN_LINK_DOWN, 0, 0xffffffff, 0xffffffff, 0)
    assert a.msi_fired(C.LUMEN_VEC_LINK)
    enable(c, 0)
    seq = 1
    for want in (C.LUMEN_LINK_TRAINING, C.LUMEN_LINK_UP):
        m = mgmt_recv(a)
        assert m is not None, 'no trap for state %d' % want
        t = struct.unpack('<IBBHIII', m['data'])
        assert t[:3] == (2, 0, want) and t[6] == seq, t
        seq += 1
    assert t[4:6] == (0, 1)
    # A soft reset forgets key, trap path and counters.
    c.soft_reset()
    assert c.reg64(C.LUMEN_REG_MKEY_LO) == 0
    assert c.reg(C.LUMEN_REG_MKEY_VIOLATIONS) == 0
    m = mgmt_get(c, C.LUMEN_MGMT_ATTR_TRAP_PATH)
    assert m['data'] == bytes(24)
    # Without a key, SETs are open; the driver can also write MKEY itself.
    c.wreg64(C.LUMEN_REG_MKEY_LO, 5)
    mgmt_set(c, C.LUMEN_MGMT_ATTR_ROUTES, (), bytes(256),
             status=C.LUMEN_STATUS_ACCESS)
    mgmt_set(c, C.LUMEN_MGMT_ATTR_ROUTES, (), bytes(256), mkey=5)


MANAGER_FMT = '<QIBBHIIQ'


def manager_rec(guid=0, chip=0, state=0, prio=0, res=0, act=0, sweep=0,
                res2=0):
    return struct.pack(MANAGER_FMT, guid, chip, state, prio, res, act, sweep,
                       res2)


@test
def mgmt_manager_record(env):
    """ATTR_MANAGER: zeros after reset, SET/GET round trip two hops away,
    the key, lengths, state and reserved fields, and a reset clearing it."""
    fab, cards = ring3(env)
    a, b, c = cards
    far = (0, 0)
    assert struct.calcsize(MANAGER_FMT) == 32
    m = mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER, far)
    assert (m['data_len'], m['data']) == (32, bytes(32)), m
    rec = manager_rec(0x0123456789abcdef, 0, C.LUMEN_MGMT_MANAGER_MASTER, 7,
                      act=41, sweep=3)
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_MANAGER, far, rec)
    assert m['data'] == rec
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER, far)['data'] == rec
    # Only chip 2 has it; the others still read zeros.
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER)['data'] == bytes(32)
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER, (0,))['data'] == bytes(32)
    # Bad records change nothing and count no key violation.
    for data, status in (
            (manager_rec(state=3), C.LUMEN_STATUS_BAD_ARGUMENT),
            (manager_rec(res=1), C.LUMEN_STATUS_RESERVED_SET),
            (manager_rec(res2=1 << 63), C.LUMEN_STATUS_RESERVED_SET),
            (rec[:31], C.LUMEN_STATUS_BAD_ARGUMENT),
            (rec + bytes(4), C.LUMEN_STATUS_BAD_ARGUMENT)):
        m = mgmt_set(a, C.LUMEN_MGMT_ATTR_MANAGER, far, data, status=status)
        assert m['data_len'] == 0
    mgmt_set(a, C.LUMEN_MGMT_ATTR_MANAGER, far, rec, attr_mod=1,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER, far, attr_mod=1,
             status=C.LUMEN_STATUS_BAD_ARGUMENT)
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER, far)['data'] == rec
    assert c.reg(C.LUMEN_REG_MKEY_VIOLATIONS) == 0
    # With a key: a SET without it is refused and counted; GET stays open.
    key = 0x5a5a000011112222
    mgmt_set(a, C.LUMEN_MGMT_ATTR_MKEY, far, struct.pack('<Q', key))
    rec2 = manager_rec(0xfeed, 1, C.LUMEN_MGMT_MANAGER_STANDBY, 1, act=1)
    for k in (0, key ^ 1):
        mgmt_set(a, C.LUMEN_MGMT_ATTR_MANAGER, far, rec2, mkey=k,
                 status=C.LUMEN_STATUS_ACCESS)
    assert c.reg(C.LUMEN_REG_MKEY_VIOLATIONS) == 2
    assert mgmt_get(a, C.LUMEN_MGMT_ATTR_MANAGER, far)['data'] == rec
    m = mgmt_set(a, C.LUMEN_MGMT_ATTR_MANAGER, far, rec2, mkey=key)
    assert m['data'] == rec2 and m['mkey'] == 0
    # A soft reset clears it.
    c.soft_reset()
    assert mgmt_get(c, C.LUMEN_MGMT_ATTR_MANAGER)['data'] == bytes(32)


@test
def link_bit_errors_no_loss(env):
    """Bit errors and lost frames on a fiber under management traffic:
    CRC errors, sequence errors, NAKs and replays, and every answer
    arrives exactly once."""
    fab, cards = ring3(env)
    a, b, c = cards
    fab.call(cmd='set', port='0.+x', ber=2e-5, loss=0.01)
    fab.call(cmd='set', port='1.+x', ber=2e-5)
    want = 300
    sent, got = 0, {}
    start = time.monotonic()
    while len(got) < want:
        while sent < want and sent - len(got) < 16:
            assert mgmt_send(a, mgmt_raw(
                C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_ROUTES, (0, 0), tid=sent,
                attr_mod=64 * (sent % 8))) == C.LUMEN_STATUS_OK
            sent += 1
        m = mgmt_recv(a)
        assert m is not None, 'answer lost (%d of %d)' % (len(got), sent)
        assert m['status'] == 0 and m['tid'] not in got
        assert m['data'] == bytes(256)
        got[m['tid']] = m
        assert time.monotonic() - start < 60
    counts = {r: port_total(cards, r) for r in (
        C.LUMEN_LREG_CRC_ERRORS, C.LUMEN_LREG_NAKS_TX, C.LUMEN_LREG_NAKS_RX,
        C.LUMEN_LREG_RETRANSMITS, C.LUMEN_LREG_SEQ_ERRORS)}
    assert all(counts.values()), counts
    assert a.reg(C.LUMEN_REG_MGMT_RX_DROPS) == 0
    for card in cards:
        assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0
        assert card.reg(C.LUMEN_REG_REROUTE_DROPS) == 0


@test
def link_frame_fuzz(env):
    """Random DATA, ACK and NAK frames with good CRCs from a neighbour on
    an UP port, carrying random packets for this chip, for others and for
    management, never crash the card; it keeps forwarding afterwards."""
    rng = random.Random(1313)
    card, peers = fake_card(env)
    a, b = peers[0], peers[1]
    set_routes(card, {dst: route_word(rng.randrange(8), rng.randrange(16),
                                      rng.randrange(2), rng.random() < .3)
                      for dst in range(0, 64)})
    set_routes(card, FAKE_ROUTES)
    card.wreg(lreg(2, C.LUMEN_LREG_CTRL),
              C.LUMEN_LCTRL_ENABLE | C.LUMEN_LCTRL_DATELINE)
    ops = list(range(0, 9))

    def rand_packet():
        if rng.random() < 0.3:
            m = bytearray(mgmt_raw(rng.randrange(6), rng.randrange(8),
                                   [rng.randrange(10) for _ in
                                    range(rng.randrange(18))][:16],
                                   data=bytes(rng.randrange(40)),
                                   tid=rng.getrandbits(64),
                                   attr_mod=rng.choice([0, 1, 64, 9999]),
                                   hop_ptr=rng.randrange(4),
                                   flags=rng.choice([0, 0, 1, 2])))
            if rng.random() < 0.2:
                m[rng.randrange(len(m))] ^= 0xff
            return packet(rng.randrange(12), 0xffffffff, C.LUMEN_PKT_MGMT,
                          bytes(m), crc_xor=rng.choice([0] * 5 + [1]))
        return packet(rng.randrange(12),
                      rng.choice([FAKE_CARD, 6, 7, 8, 9, 20, 33, 5000,
                                  0xffffffff]),
                      rng.choice(ops),
                      bytes(rng.randrange(256)) * rng.choice([0, 1, 1, 16]),
                      size=rng.choice([0, 8, 100, 4096, 1 << 40]),
                      pkt=rng.choice([0, 1, 0xffffffff]),
                      flags=rng.choice([0] * 9 + [1]),
                      crc_xor=rng.choice([0] * 9 + [4]))

    for i in range(1500):
        kind = rng.random()
        if kind < 0.6:
            # A well-formed frame in sequence carrying a random packet.
            a.send(rand_packet(), vc=rng.choice([0, 1, 2, 3, 4, 4]),
                   ttl=rng.choice([0, 1, 5, 63, 255]),
                   flags=rng.choice([0, 0, 1]))
        elif kind < 0.75:
            # A malformed or out-of-sequence one: the sequence stays.
            bad = rng.choice(['vc', 'flags', 'seq', 'gen'])
            a.send(rand_packet(), seq=(a.tx_seq + rng.choice([-2, -1, 1, 3]))
                   & 0xffffffff if bad == 'seq' else a.tx_seq,
                   vc=rng.randrange(5, 256) if bad == 'vc' else 0,
                   flags=rng.randrange(2, 256) if bad == 'flags' else 0,
                   gen=rng.getrandbits(32) | 2 if bad == 'gen' else None)
        elif kind < 0.9:
            a.ack(nak=rng.random() < 0.3,
                  next_seq=rng.choice([None, rng.getrandbits(32),
                                       (a.rx_seq + rng.randrange(-2, 3)) &
                                       0xffffffff]),
                  credits=[rng.choice([16, 17, 1 << 31, 0,
                                       rng.getrandbits(32)])
                           for _ in range(rng.choice([5, 5, 8]))],
                  gen=rng.choice([None, None, rng.getrandbits(32)]))
        else:
            f = bytearray(rng.getrandbits(8)
                          for _ in range(rng.choice([32, 64, 96, 200])))
            f[0:2] = struct.pack('<H', C.LUMEN_LINK_MAGIC)
            f[3] = rng.randrange(1, 6)
            a.w.frame(with_crc(bytes(f)))
        time.sleep(0.001)      # let credits come back
    time.sleep(0.5)
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC
    assert card.q.alive()
    assert card.reg(C.LUMEN_REG_BAD_PKTS) > 100
    assert card.reg(lreg(0, C.LUMEN_LREG_DATA_RX_LO)) > 300
    # The link to B still works, and A's port comes back to a clean
    # sequence space if the fuzz broke it.
    for p in (0, 1):
        wait_state(card, p, C.LUMEN_LINK_UP)
    a.tx_seq = 0
    card.wreg(lreg(0, C.LUMEN_LREG_CTRL), 0)
    enable(card, 0)
    a.wait_up()
    wait_state(card, 0, C.LUMEN_LINK_UP)
    n = len(b.data)
    a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'after the fuzz'))
    b.wait(lambda: any(x['payload'] == b'after the fuzz'
                       for x in b.data[n:]), 'a packet after the fuzz')


# ---- Link engine: remote operations across chips ---------------------------
#
# RWRITE/RREAD/RATOMIC (13.7, lumen-remote.c) from chip 0 to chip 2 of a
# ring:3 on lumen-fabric, every request forwarded by chip 1's route table.

R_SRC, R_DST = 0x100000000, 0x800000000     # source VAs (ctx 1), window VA
R_WIN, R_KEY = 5, 0x5eed0123456789ab
R_HOPS = 2


def remote_cmd(op, local, offset, size, dst, window=R_WIN, key=R_KEY):
    return cmd(op, (local, offset, size, dst | window << 32, key, 0, 0))


def remote_settle(qu, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        st = qu.reg(C.LUMEN_QREG_STATUS)
        if st in (C.LUMEN_QSTS_IDLE, C.LUMEN_QSTS_STOPPED,
                  C.LUMEN_QSTS_DISABLED):
            return st
        assert time.monotonic() < deadline, 'queue %d did not settle' % qu.qn
        time.sleep(0.005)


def ring3_remote(env, args=()):
    """ring3 with routes that send everything +x (chip 0 reaches chip 2
    through chip 1, two hops; alt_port the other way round), a source
    space on chip 0 and a 16 MiB window on chip 2."""
    fab, cards = ring3(env, args)
    for i, c in enumerate(cards):
        set_routes(c, {(i + 1) % 3: route_word(0, alt=1),
                       (i + 2) % 3: route_word(0, alt=1)})
    src = Space(cards[0], 1, 'host')
    src.map(R_SRC, HOST_T, 0x2000000, 4 * HUGE, huge=True)
    dst = Space(cards[2], 2, 'device')
    dst.map(R_DST, DEV_T, 0x4000000, 8 * HUGE, huge=True)
    t = cards[2]
    t.wreg(C.LUMEN_REG_WIN_INDEX, R_WIN)
    t.wreg64(C.LUMEN_REG_WIN_KEY_LO, R_KEY)
    t.wreg64(C.LUMEN_REG_WIN_VA_LO, R_DST)
    t.wreg64(C.LUMEN_REG_WIN_SIZE_LO, 8 * HUGE)
    t.wreg(C.LUMEN_REG_WIN_CTRL, C.LUMEN_WIN_VALID | C.LUMEN_WIN_READ |
           C.LUMEN_WIN_WRITE | C.LUMEN_WIN_ATOMIC | 2 << C.LUMEN_WIN_CTX_SHIFT)
    qu = Queue(cards[0], 3, ctx=1)
    return fab, cards, src, dst, qu


@test
def remote_through_a_transit_chip(env):
    """RWRITE, RREAD and RATOMIC across two hops: byte-exact, every request
    forwarded by chip 1, answers on the response VCs; UNREACHABLE from this
    chip's table, from a transit chip's table, and for a TTL that runs
    out."""
    fab, cards, src, dst, qu = ring3_remote(env)
    a, b, c = cards
    size = (1 << 20) + 333
    payload = random.Random(3).randbytes(size)
    src.vwrite(R_SRC, payload)
    qu.submit([remote_cmd(C.LUMEN_CMD_RWRITE, R_SRC, 0x1001, size, 2)])
    assert remote_settle(qu) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    assert dst.vread(R_DST + 0x1001, size) == payload
    pkts = (size + 4095) // 4096
    assert b.reg64(C.LUMEN_REG_FWD_PKTS_LO) >= pkts
    assert b.reg64(lreg(1, C.LUMEN_LREG_DATA_RX_LO)) >= pkts
    assert c.reg64(lreg(1, C.LUMEN_LREG_DATA_RX_LO)) >= pkts
    # Answers (ACKs) come back the short way, chip 2 +x -> chip 0 -x.
    assert a.reg64(lreg(1, C.LUMEN_LREG_DATA_RX_LO)) >= pkts
    back = R_SRC + 4 * HUGE - size - 7
    qu.submit([remote_cmd(C.LUMEN_CMD_RREAD, back, 0x1001, size, 2),
               cmd(C.LUMEN_CMD_RATOMIC, (R_SRC + 0x10, 0x2000, 5,
                                         2 | R_WIN << 32, R_KEY,
                                         C.LUMEN_RATOMIC_FETCH_ADD, 0))])
    assert remote_settle(qu) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    assert src.vread(back, size) == payload
    old, = struct.unpack_from('<Q', payload, 0x2000 - 0x1001)
    assert struct.unpack('<Q', src.vread(R_SRC + 0x10, 8))[0] == old
    assert struct.unpack('<Q', dst.vread(R_DST + 0x2000, 8))[0] == \
        (old + 5) & (1 << 64) - 1
    for card in cards:
        assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0
        assert card.reg(C.LUMEN_REG_ERR_STATUS) & \
            ~C.LUMEN_ERR_QUEUE_DESC == 0
    # No route here: fails at once, nothing sent.
    qu.submit([remote_cmd(C.LUMEN_CMD_RWRITE, R_SRC, 0, 64, 40)])
    assert remote_settle(qu) == C.LUMEN_QSTS_STOPPED
    assert qu.reg(C.LUMEN_QREG_ERROR) == C.LUMEN_STATUS_UNREACHABLE
    assert a.reg(C.LUMEN_REG_NO_ROUTE_DROPS) == 1
    # No route at chip 1: it answers UNREACHABLE.
    set_routes(a, {41: route_word(0)})
    qu.reset()
    qu.submit([remote_cmd(C.LUMEN_CMD_RWRITE, R_SRC, 0, 3 * 4096, 41)])
    assert remote_settle(qu) == C.LUMEN_QSTS_STOPPED
    assert qu.reg(C.LUMEN_QREG_ERROR) == C.LUMEN_STATUS_UNREACHABLE
    assert b.reg(C.LUMEN_REG_NO_ROUTE_DROPS) >= 1
    # A routing loop (chip 1 sends it back): the TTL runs out.
    set_routes(a, {42: route_word(0)})
    set_routes(b, {42: route_word(1)})
    a.wreg(C.LUMEN_REG_TTL_DEFAULT, 5)
    qu.reset()
    qu.submit([remote_cmd(C.LUMEN_CMD_RREAD, R_SRC, 0, 64, 42)])
    assert remote_settle(qu) == C.LUMEN_QSTS_STOPPED
    assert qu.reg(C.LUMEN_QREG_ERROR) == C.LUMEN_STATUS_UNREACHABLE
    assert a.reg(C.LUMEN_REG_TTL_DROPS) + b.reg(C.LUMEN_REG_TTL_DROPS) >= 1


@test
def remote_cut_fails_over(env):
    """A fiber cut in the middle of a transfer: what the dead port held
    and what follows take alt_port (DETOUR, FAILOVERS); the end-to-end
    layer fills what was lost; the target gets every byte."""
    fab, cards, src, dst, qu = ring3_remote(env, ('--rate', '20000000'))
    a, b, c = cards
    size = 6 << 20
    payload = random.Random(4).randbytes(size)
    src.vwrite(R_SRC, payload)
    qu.submit([remote_cmd(C.LUMEN_CMD_RWRITE, R_SRC, 0, size, 2)])
    wait_reg(b, C.LUMEN_REG_FWD_PKTS_LO, lambda v: v >= 200,
             'traffic through chip 1')
    fab.call(cmd='cut', port='0.+x')
    wait_state(a, 0, C.LUMEN_LINK_DOWN)
    assert remote_settle(qu) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    assert dst.vread(R_DST, size) == payload
    assert a.reg(lreg(1, C.LUMEN_LREG_FAILOVERS)) > 0
    assert a.reg(lreg(0, C.LUMEN_LREG_DOWN_EVENTS)) == 1
    assert b.reg64(C.LUMEN_REG_FWD_PKTS_LO) < size // 4096
    fab.call(cmd='restore', port='0.+x')
    wait_state(a, 0, C.LUMEN_LINK_UP)


@test
def link_engine_migration(env):
    """Without port chardevs a card migrates with its route table,
    TTL_DEFAULT, management key, trap path, management buffers and receive
    queue, and chip counters."""
    dev = ['-device', 'lumen-npu,addr=5.0,chip-id=3']
    q = env.start(dev, 'src')
    card = Card(q, 5, 0xe0200000, 0xc0000000, 0xe0300000)
    words = {d: route_word(d % 6, alt=(d + 1) % 6, lane=d % 2)
             for d in (0, 1, 77, 8191)}
    set_routes(card, words)
    card.wreg(C.LUMEN_REG_TTL_DEFAULT, 17)
    trap_path = struct.pack('<B7x16s', 3, bytes([1, 2, 3]))
    mgmt_set(card, C.LUMEN_MGMT_ATTR_TRAP_PATH, (), trap_path)
    card.wreg64(C.LUMEN_REG_MKEY_LO, 0xabcdef)
    mgmt_set(card, C.LUMEN_MGMT_ATTR_MKEY, (), bytes(8),
             status=C.LUMEN_STATUS_ACCESS)
    for tid in (11, 12):
        assert mgmt_send(card, mgmt_raw(C.LUMEN_MGMT_GET,
                                        C.LUMEN_MGMT_ATTR_ROUTES, (),
                                        tid=tid)) == C.LUMEN_STATUS_OK
    assert mgmt_send(card, mgmt_raw(9, 1)) == C.LUMEN_STATUS_BAD_ARGUMENT
    card.wreg(C.LUMEN_REG_ROUTE_INDEX, 4321)
    regs = [C.LUMEN_REG_ROUTE_INDEX, C.LUMEN_REG_TTL_DEFAULT,
            C.LUMEN_REG_MKEY_LO, C.LUMEN_REG_MKEY_VIOLATIONS,
            C.LUMEN_REG_MGMT_TX_STATUS, C.LUMEN_REG_MGMT_RX_COUNT,
            C.LUMEN_REG_MGMT_RX_LEN, C.LUMEN_REG_MGMT_TX_BUF + 4]
    before = [card.reg(r) for r in regs]
    q.hmp('stop')
    state = os.path.join(env.workdir, 'state')
    q.hmp('migrate file:' + state)
    for _ in range(200):
        if 'Migration status: completed' in q.hmp('info migrate'):
            break
        time.sleep(0.05)
    else:
        raise AssertionError('migration did not complete')
    d = env.start(dev + ['-incoming', 'file:' + state], 'dst')
    for _ in range(200):
        if 'completed' in d.hmp('info migrate'):
            break
        time.sleep(0.05)
    d.hmp('cont')
    card.q = d
    assert [card.reg(r) for r in regs] == before
    for dst, w in words.items():
        card.wreg(C.LUMEN_REG_ROUTE_INDEX, dst)
        assert card.reg(C.LUMEN_REG_ROUTE_ENTRY) == w
    got = [mgmt_recv(card, 0) for _ in range(2)]
    assert [m['tid'] for m in got] == [11, 12]
    assert got[0]['data'][4:8] == struct.pack('<I', words[1])
    assert card.reg(C.LUMEN_REG_MGMT_RX_COUNT) == 0
    assert mgmt_get(card, C.LUMEN_MGMT_ATTR_TRAP_PATH)['data'] == trap_path
    assert card.reg(C.LUMEN_REG_MKEY_VIOLATIONS) == 1


@test
def link_generation_after_reset(env):
    """A port never trains twice with one generation while the card
    exists, device resets included: a neighbour that kept the old link
    (its keepalive still names the generation it knew) cannot bring the
    reset port UP on its old sequence space. The neighbours see a new
    generation and start over with it; no replay is needed."""
    card, peers = fake_card(env)
    a, b = peers[0], peers[1]
    for i in range(3):
        a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % i, msg=i))
    expect_packets(b, 3, 'before the reset')
    old = [card.reg(lreg(p, C.LUMEN_LREG_GENERATION)) for p in (0, 1)]
    card.soft_reset()
    for p in FAKE_NEIGHBOURS:
        enable(card, p)
    for p in FAKE_NEIGHBOURS:
        wait_state(card, p, C.LUMEN_LINK_UP)
    new = [card.reg(lreg(p, C.LUMEN_LREG_GENERATION)) for p in (0, 1)]
    assert all(n > o for n, o in zip(new, old)), (old, new)
    set_routes(card, FAKE_ROUTES)
    a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'after', msg=3))
    got = expect_packets(b, 4, 'after the reset')
    assert got['payload'] == b'after' and got['hop']['seq'] == 0
    for p in (0, 1):
        for r in (C.LUMEN_LREG_REPLAY_TIMEOUTS, C.LUMEN_LREG_RETRAINS,
                  C.LUMEN_LREG_SEQ_ERRORS, C.LUMEN_LREG_FRAME_ERRORS):
            assert card.reg(lreg(p, r)) == 0, (p, hex(r))


@test
def link_resets_under_traffic(env):
    """A soft reset, then an FLR, while frames wait in the replay buffer
    and port queues, a remote message is in flight and a trap path is set:
    every port DOWN with CTRL clear, the link engine at its reset values,
    nothing sent afterwards; enabled again, the ports retrain and forward
    (13.8)."""
    card, peers = fake_card(env)
    a, b = peers[0], peers[1]
    base = C.LUMEN_LINK_VC_CREDITS
    for reset in ('soft', 'flr'):
        src = Space(card, 1, 'host')
        src.map(R_SRC, HOST_T, 0x2000000, HUGE, huge=True)
        mgmt_set(card, C.LUMEN_MGMT_ATTR_TRAP_PATH, (),
                 struct.pack('<B7x16s', 1, bytes([0])))
        b.auto_ack = False
        for i in range(2 * base):
            a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % i, msg=i))
        qu = Queue(card, 3, ctx=1)
        qu.submit([remote_cmd(C.LUMEN_CMD_RWRITE, R_SRC, 0, 64 * PAGE, 7)])
        b.wait(lambda: len(b.seen) >= base, 'frames before the reset')
        if reset == 'soft':
            card.soft_reset()
        else:
            flr(card)
        for p in FAKE_NEIGHBOURS:
            assert card.reg(lreg(p, C.LUMEN_LREG_STATE)) == \
                C.LUMEN_LINK_DOWN
            assert card.reg(lreg(p, C.LUMEN_LREG_CTRL)) == 0
            assert card.reg(lreg(p, C.LUMEN_LREG_DATA_TX_LO)) == 0
        assert card.reg(C.LUMEN_REG_FWD_PKTS_LO) == 0
        card.wreg(C.LUMEN_REG_ROUTE_INDEX, 7)
        assert card.reg(C.LUMEN_REG_ROUTE_ENTRY) == 0
        # Nothing of what the card held leaves: the neighbours see only
        # the links go silent.
        seen = [len(x.seen) for x in peers.values()]
        time.sleep(0.3)
        assert [len(x.seen) for x in peers.values()] == seen
        # Enabled again: every port retrains and forwarding works.
        b.auto_ack = True
        for p, x in peers.items():
            enable(card, p)
        for p, x in peers.items():
            wait_state(card, p, C.LUMEN_LINK_UP)
        set_routes(card, FAKE_ROUTES)
        n = len(b.data)
        a.tx_seq = 0
        a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'after ' + reset.encode()))
        b.wait(lambda: any(x['payload'] == b'after ' + reset.encode()
                           for x in b.data[n:]), 'a packet after the reset')
    assert card.q.alive()


@test
def mgmt_loops_do_not_deadlock(env):
    """Directed routes can bounce between two chips: management packets
    in both directions over one fiber, more than its VC 4 buffers hold.
    A chip frees a management packet's receive buffer as soon as it took
    it (it never waits for credit holding one), so VC 4 cannot deadlock:
    what finds no room is dropped and counted, and the link's management
    keeps working."""
    fab, a, b = ring2(env)
    for c in (a, b):
        for p in (0, 1):
            enable(c, p)
    for c in (a, b):
        for p in (0, 1):
            wait_state(c, p, C.LUMEN_LINK_UP)
    # a +x (port 0) is b -x (port 1): 16 hops back and forth on that fiber
    # (a, b, a, ..., the target a), then 16 back along return_path.
    sent = 0
    for c, first in ((a, 0), (b, 1)):
        raw = mgmt_raw(C.LUMEN_MGMT_GET, C.LUMEN_MGMT_ATTR_INFO,
                       [first, 1 - first] * 8, tid=7)
        sent += mgmt_send(c, raw) == C.LUMEN_STATUS_OK
        for _ in range(OWN_MAX + 2 * C.LUMEN_LINK_VC_CREDITS):
            c.wreg(C.LUMEN_REG_MGMT_TX_LEN, len(raw))
            sent += c.reg(C.LUMEN_REG_MGMT_TX_STATUS) == C.LUMEN_STATUS_OK
    # Every packet sent comes back to its host, or is dropped and counted
    # (on the way, or at a full receive queue).
    deadline = time.monotonic() + LINK_WAIT

    def fate():
        return sum(c.reg(C.LUMEN_REG_MGMT_RX_COUNT) +
                   c.reg(C.LUMEN_REG_MGMT_RX_DROPS) +
                   c.reg(C.LUMEN_REG_NO_ROUTE_DROPS) for c in (a, b))
    while fate() < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fate() == sent, (fate(), sent)
    # The fiber still carries management.
    for c, first in ((a, 0), (b, 1)):
        while mgmt_recv(c, 0):
            pass
        m = mgmt_get(c, C.LUMEN_MGMT_ATTR_INFO, (first,), tid=8)
        assert parse_info(m['data'])['chip'] == (1 if c is a else 0)
    for c in (a, b):
        assert c.reg(C.LUMEN_REG_BAD_PKTS) == 0
        for p in (0, 1):
            assert c.reg(lreg(p, C.LUMEN_LREG_STATE)) == C.LUMEN_LINK_UP


@test
def link_unplug_under_traffic(env):
    """The card is unplugged (its slot powered off) while its ports are UP,
    frames wait in its replay buffer and queues, a remote message is in
    flight and its link, replay, keepalive and end-to-end timers are
    armed: nothing of it runs afterwards (QEMU lives; an ASAN build finds
    no use after free) while the neighbours keep sending."""
    plant = FakePlant(env)
    args = []
    for p in (0, 1):
        args += ['-chardev', 'socket,id=fib%d,path=%s,reconnect-ms=200' %
                 (p, plant.path)]
    q = env.start(args + [
        '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
        '-device', 'pcie-root-port,id=rp0,chassis=1,slot=1,addr=8.0',
        '-device', 'lumen-npu,bus=rp0,chip-id=5,port0=fib0,port1=fib1'])
    port = 0x80000000 | 8 << 11

    def port_read(reg):
        q.outl(0xcf8, port | reg)
        return q.inl(0xcfc)

    def port_write(reg, val):
        q.outl(0xcf8, port | reg)
        q.outl(0xcfc, val)
    port_write(0x18, 0x00010100)
    port_write(0x20, 0xe030e000)
    port_write(0x24, 0x0ff00000)
    port_write(0x28, 0x4)
    port_write(0x2c, 0x4)
    port_write(0x04, 0x0006)
    card = Card(q, 0, 0xe0000000, 0x400000000, 0xe0100000, bus=1)
    wires = plant.attach(2)
    a = LinkPeer(plant, wires[0], 9, 1, 5, 0)
    b = LinkPeer(plant, wires[1], 7, 0, 5, 1)
    for p in (0, 1):
        enable(card, p)
    for p, x in ((0, a), (1, b)):
        x.wait_up()
        wait_state(card, p, C.LUMEN_LINK_UP)
    set_routes(card, {7: route_word(1)})
    # B stops acknowledging: frames pile up in the replay buffer and the
    # queue of port 1; an RWRITE to chip 7 waits for answers.
    b.auto_ack = False
    for i in range(2 * C.LUMEN_LINK_VC_CREDITS):
        a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'%d' % i, msg=i))
    src = Space(card, 1, 'host')
    src.map(R_SRC, HOST_T, 0x2000000, HUGE, huge=True)
    qu = Queue(card, 3, ctx=1)
    qu.submit([remote_cmd(C.LUMEN_CMD_RWRITE, R_SRC, 0, 64 * PAGE, 7)])
    b.wait(lambda: len(b.seen) >= C.LUMEN_LINK_VC_CREDITS, 'frames')
    # Slot power and its indicator off: the root port unplugs the card.
    pos = port_read(0x34) & 0xff
    while port_read(pos) & 0xff != 0x10:
        pos = (port_read(pos) >> 8) & 0xff
    q.outl(0xcf8, port | ((pos + 0x18) & 0xfc))
    q.outw(0xcfc + ((pos + 0x18) & 2), 0x0700)
    assert card.cfg_read(0) == 0xffffffff, 'the card is still there'
    for i in range(50):
        a.send(packet(9, 7, C.LUMEN_PKT_WRITE, b'after', msg=100 + i))
        b.train()
        time.sleep(0.01)
    time.sleep(0.3)
    assert q.alive()
    q.hmp('info pci')


# ---- Runner -----------------------------------------------------------------

class Env:
    def __init__(self, qemu, workdir):
        self.qemu, self.workdir, self.q = qemu, workdir, None
        self.all = []
        self.others = []        # lumen-fabric and fake fabrics

    def start(self, args, name='qemu'):
        self.q = QTest(self.qemu, args, self.workdir, name)
        self.all.append(self.q)
        return self.q

    def close(self):
        """Stop every QEMU; False if one had died on its own."""
        alive = True
        for q in self.all:
            alive = q.alive() and alive
            q.close()
        self.all = []
        for o in self.others:
            o.close()
        self.others = []
        return alive


def find_qemu(arg):
    if arg:
        return arg
    if os.environ.get('LUMEN_QEMU'):
        return os.environ['LUMEN_QEMU']
    out = subprocess.run([os.path.join(REPO, 'qemu-device', 'build-qemu'),
                          '--print-path'], stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit('qtest-lumen-npu: no QEMU; run qemu-device/build-qemu')
    return out.stdout.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--qemu')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('tests', nargs='*')
    args = ap.parse_args()
    qemu = find_qemu(args.qemu)
    selected = [t for t in TESTS if not args.tests or t.__name__ in args.tests]
    if not selected:
        sys.exit('qtest-lumen-npu: no such test; have: ' +
                 ' '.join(t.__name__ for t in TESTS))
    passed = failed = 0
    for t in selected:
        with tempfile.TemporaryDirectory(prefix='lumen-qtest-') as wd:
            env = Env(qemu, wd)
            err = None
            try:
                t(env)
            except Exception as e:       # noqa: BLE001 - report any failure
                err = e
                tb = traceback.format_exc()
            log = '\n'.join(q.guest_log() for q in env.all)
            if not env.close() and err is None:
                err = RuntimeError('QEMU exited during the test')
                tb = ''
            if err is None:
                passed += 1
                print('ok     %s' % t.__name__)
            else:
                failed += 1
                print('FAILED %s: %s' % (t.__name__, err))
                if args.verbose:
                    print(tb + '\n--- QEMU log ---\n' + log[-3000:])
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
