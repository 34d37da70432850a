#!/usr/bin/python3
"""Device-level tests of the lumen-npu remote memory operations (hw-spec 13.7).

Remote windows (WIN_* registers), the RWRITE, RREAD, RATOMIC and RREDUCE
descriptors and the end-to-end layer, driven through QEMU's qtest protocol
like qtest-lumen-npu.py, whose transport and helpers (Card, Space, Queue,
the header parser, the reduction reference) this script reuses. One card
talks to itself: a descriptor whose dst_chip is the card's own chip id goes
through the card's own window without a link (loopback).

Usage: qemu-device/tests/qtest-lumen-remote.py [--qemu PATH] [-v] [TEST...]
The QEMU binary is --qemu, else $LUMEN_QEMU, else
`qemu-device/build-qemu --print-path`. Prints one line per test and a final
"N passed, N failed, N skipped" line; exits 1 if any test failed. Without
CAPS.LINKS only the test of the gate runs; the others are skipped.
"""

import argparse
import importlib.util
import os
import random
import struct
import sys
import tempfile
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
_spec = importlib.util.spec_from_file_location(
    'qtest_lumen_npu', os.path.join(HERE, 'qtest-lumen-npu.py'))
N = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(N)

C = N.Contract(['lumen_regs.h', 'lumen_queue.h', 'lumen_mmu.h',
                'lumen_link.h', 'lumen_remote.h'])
Card, Space, Queue, Env = N.Card, N.Space, N.Queue, N.Env
cmd, nop, copy, qreg = N.cmd, N.nop, N.copy, N.qreg
PAGE, HUGE, RW = N.PAGE, N.HUGE, N.RW
HOST_T, DEV_T = N.HOST_T, N.DEV_T
RO = C.LUMEN_PTE_READ
PKT = C.LUMEN_PKT_PAYLOAD_MAX
CHIP = 3                    # the card's chip id; loopback target
WIN_RIGHTS = C.LUMEN_WIN_READ | C.LUMEN_WIN_WRITE | C.LUMEN_WIN_ATOMIC
SETTLED = (C.LUMEN_QSTS_IDLE, C.LUMEN_QSTS_STOPPED, C.LUMEN_QSTS_DISABLED)


class Skip(Exception):
    pass


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ---- Descriptors ------------------------------------------------------------

def rwrite(local, offset, size, window, key, dst=CHIP, reserved=(0, 0),
           **kw):
    return cmd(C.LUMEN_CMD_RWRITE, (local, offset, size,
                                    dst | window << 32, key) +
               tuple(reserved), **kw)


def rread(local, offset, size, window, key, dst=CHIP, reserved=(0, 0), **kw):
    return cmd(C.LUMEN_CMD_RREAD, (local, offset, size, dst | window << 32,
                                   key) + tuple(reserved), **kw)


def ratomic(result, offset, operand, window, key, op=C.LUMEN_RATOMIC_FETCH_ADD,
            dst=CHIP, reserved0=0, reserved=0, **kw):
    return cmd(C.LUMEN_CMD_RATOMIC, (result, offset, operand,
                                     dst | window << 32, key,
                                     op | reserved0 << 32, reserved), **kw)


# ---- The card and its address spaces ----------------------------------------

# Source context 1 (host page tables): local buffers.
SRC_CTX = 1
L_HOST = 0x100000000        # 8 MiB of host RAM, 2 MiB pages
L_SCAT = 0x110000000        # 32 scattered host 4 KiB pages
L_DEV = 0x200000000         # 8 MiB of device memory, 2 MiB pages
L_RO = 0x300000000          # one read-only host page
L_BIG = 0x400000000         # 64 MiB of device memory, 2 MiB pages
# Target context 2 (device page tables): what the windows expose.
DST_CTX = 2
T_DEV = 0x800000000         # 16 MiB of device memory, 2 MiB pages
T_SCAT = 0x900000000        # 32 scattered host 4 KiB pages
T_RO = 0xa00000000          # one read-only device page
T_HOLE = 0xb00000000        # 3 pages, the middle one unmapped
T_BIG = 0xc00000000         # 64 MiB of device memory, 2 MiB pages
W_DEV, W_SCAT, W_RO, W_HOLE, W_RONLY, W_WONLY, W_BIG = 5, 6, 7, 8, 9, 10, 12
BIG = 32 * HUGE
KEY = 0x0123456789abcdef


def remote_card(env, props=''):
    q, card = N.queue_card(env, ',chip-id=%d%s' % (CHIP, props))
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_LINKS:
        raise Skip('CAPS.LINKS clear')
    return q, card


def open_window(card, slot, va, size, rights=WIN_RIGHTS, ctx=DST_CTX,
                key=KEY):
    card.wreg(C.LUMEN_REG_WIN_INDEX, slot)
    card.wreg64(C.LUMEN_REG_WIN_KEY_LO, key)
    card.wreg64(C.LUMEN_REG_WIN_VA_LO, va)
    card.wreg64(C.LUMEN_REG_WIN_SIZE_LO, size)
    card.wreg(C.LUMEN_REG_WIN_CTRL, C.LUMEN_WIN_VALID | rights |
              ctx << C.LUMEN_WIN_CTX_SHIFT)


def close_window(card, slot):
    card.wreg(C.LUMEN_REG_WIN_INDEX, slot)
    card.wreg(C.LUMEN_REG_WIN_CTRL, 0)


def spaces(card):
    """The source and target contexts and the standard windows."""
    src = Space(card, SRC_CTX, 'host')
    src.map(L_HOST, HOST_T, 0x2000000, 4 * HUGE, huge=True)
    src.map_pages(L_SCAT, HOST_T, [0x2800000 + (31 - i) * 2 * PAGE
                                   for i in range(32)])
    src.map(L_DEV, DEV_T, 0x1000000, 4 * HUGE, huge=True)
    src.map(L_RO, HOST_T, 0x2900000, PAGE, perms=RO)
    src.map(L_BIG, DEV_T, 0x6000000, BIG, huge=True)
    dst = Space(card, DST_CTX, 'device')
    dst.map(T_DEV, DEV_T, 0x4000000, 8 * HUGE, huge=True)
    dst.map_pages(T_SCAT, HOST_T, [0x3000000 + ((i * 7) % 32) * PAGE
                                   for i in range(32)])
    dst.map(T_RO, DEV_T, 0x5000000, PAGE, perms=RO)
    dst.map(T_HOLE, DEV_T, 0x5001000, PAGE)
    dst.map(T_HOLE + 2 * PAGE, DEV_T, 0x5003000, PAGE)
    dst.map(T_BIG, DEV_T, 0xa000000, BIG, huge=True)
    open_window(card, W_DEV, T_DEV, 8 * HUGE)
    open_window(card, W_SCAT, T_SCAT, 32 * PAGE)
    open_window(card, W_RO, T_RO, PAGE)
    open_window(card, W_HOLE, T_HOLE, 3 * PAGE)
    open_window(card, W_RONLY, T_DEV, 8 * HUGE, rights=C.LUMEN_WIN_READ)
    open_window(card, W_WONLY, T_DEV, 8 * HUGE, rights=C.LUMEN_WIN_WRITE)
    open_window(card, W_BIG, T_BIG, BIG)
    return src, dst


def settle(qu, timeout=30.0):
    """Wait (host time: the end-to-end timers are host time) until the
    queue is IDLE, STOPPED or DISABLED; return STATUS."""
    deadline = time.monotonic() + timeout
    while True:
        st = qu.reg(C.LUMEN_QREG_STATUS)
        if st in SETTLED:
            return st
        if time.monotonic() > deadline:
            raise AssertionError('queue %d did not settle: status %d head %d'
                                 % (qu.qn, st, qu.reg(C.LUMEN_QREG_HEAD)))
        time.sleep(0.001)


def run(qu, cmds, timeout=30.0):
    qu.submit(cmds)
    st = settle(qu, timeout)
    assert st == C.LUMEN_QSTS_IDLE, 'queue %d status %d error %d index %d' % (
        qu.qn, st, qu.reg(C.LUMEN_QREG_ERROR),
        qu.reg(C.LUMEN_QREG_ERROR_INDEX))


def expect_stop(qu, code, index):
    st = settle(qu)
    assert st == C.LUMEN_QSTS_STOPPED, 'queue %d status %d' % (qu.qn, st)
    err = qu.reg(C.LUMEN_QREG_ERROR)
    assert err == code, 'queue %d ERROR %d, expected %d' % (qu.qn, err, code)
    got = qu.reg(C.LUMEN_QREG_ERROR_INDEX)
    assert got == index, 'ERROR_INDEX %d, expected %d' % (got, index)


def data(n, seed):
    return random.Random(seed).randbytes(n)


def counters(card):
    return dict(access=card.reg(C.LUMEN_REG_ACCESS_ERRORS),
                retx=card.reg(C.LUMEN_REG_E2E_RETRANSMITS),
                dups=card.reg(C.LUMEN_REG_E2E_DUPLICATES),
                timeouts=card.reg(C.LUMEN_REG_E2E_TIMEOUTS),
                bad=card.reg(C.LUMEN_REG_BAD_PKTS))


# ---- Tests ------------------------------------------------------------------

@test
def remote_gated(env):
    """Without CAPS.LINKS the remote opcodes are malformed descriptors and
    the registers are reserved."""
    q, card = N.queue_card(env, ',chip-id=%d' % CHIP)
    if card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_LINKS:
        raise Skip('CAPS.LINKS set')
    Space(card, 0)
    qu = Queue(card, 2)
    for c in (rwrite(0, 0, 8, 0, 0), rread(0, 0, 8, 0, 0),
              ratomic(0, 0, 1, 0, 0)):
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), c])
        expect_stop(qu, C.LUMEN_STATUS_BAD_DESCRIPTOR, 1)
        N.expect_error(card, C.LUMEN_ERR_QUEUE_DESC,
                       C.LUMEN_STATUS_BAD_DESCRIPTOR, 2)
    for off in (C.LUMEN_REG_E2E_TIMEOUT_MS, C.LUMEN_REG_WIN_CTRL,
                C.LUMEN_REG_NUM_WINDOWS, C.LUMEN_REG_ACCESS_ERRORS):
        assert card.reg(off) == 0, hex(off)
        card.clear_errors()
        card.wreg(off, 1)
        N.expect_error(card, C.LUMEN_ERR_REG_ACCESS,
                       C.LUMEN_STATUS_BAD_ARGUMENT, off)


@test
def window_registers(env):
    q, card = remote_card(env)
    assert card.reg(C.LUMEN_REG_NUM_WINDOWS) == C.LUMEN_NUM_WINDOWS
    assert card.reg(C.LUMEN_REG_E2E_TIMEOUT_MS) == \
        C.LUMEN_E2E_TIMEOUT_DEFAULT_MS
    for off in (C.LUMEN_REG_ACCESS_ERRORS, C.LUMEN_REG_E2E_RETRANSMITS,
                C.LUMEN_REG_E2E_DUPLICATES, C.LUMEN_REG_E2E_TIMEOUTS,
                C.LUMEN_REG_WIN_INDEX, C.LUMEN_REG_WIN_CTRL):
        assert card.reg(off) == 0, hex(off)
    card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, C.LUMEN_E2E_TIMEOUT_MIN_MS)
    assert card.reg(C.LUMEN_REG_E2E_TIMEOUT_MS) == C.LUMEN_E2E_TIMEOUT_MIN_MS
    card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, C.LUMEN_E2E_TIMEOUT_MAX_MS)
    # A staged window, opened in slot 255, read back.
    open_window(card, 255, 0x123456789000, 0x7000, ctx=63, key=~KEY & (
        2 ** 64 - 1), rights=C.LUMEN_WIN_ATOMIC)
    ctrl = C.LUMEN_WIN_VALID | C.LUMEN_WIN_ATOMIC | 63 << C.LUMEN_WIN_CTX_SHIFT
    assert card.reg(C.LUMEN_REG_WIN_CTRL) == ctrl
    assert card.reg64(C.LUMEN_REG_WIN_VA_LO) == 0x123456789000
    assert card.reg64(C.LUMEN_REG_WIN_SIZE_LO) == 0x7000
    assert card.reg64(C.LUMEN_REG_WIN_KEY_LO) == ~KEY & (2 ** 64 - 1)
    # Refused writes: nothing changes, REG_ACCESS / BAD_ARGUMENT.
    bad = [
        (C.LUMEN_REG_E2E_TIMEOUT_MS, C.LUMEN_E2E_TIMEOUT_MIN_MS - 1),
        (C.LUMEN_REG_E2E_TIMEOUT_MS, C.LUMEN_E2E_TIMEOUT_MAX_MS + 1),
        (C.LUMEN_REG_WIN_INDEX, C.LUMEN_NUM_WINDOWS),
        (C.LUMEN_REG_WIN_CTRL, ctrl | 0x10),
        (C.LUMEN_REG_WIN_CTRL, ctrl | 1 << 16),
        (C.LUMEN_REG_WIN_CTRL, C.LUMEN_WIN_VALID |
         64 << C.LUMEN_WIN_CTX_SHIFT),
        (C.LUMEN_REG_NUM_WINDOWS, 1),
        (C.LUMEN_REG_ACCESS_ERRORS, 1),
        (C.LUMEN_REG_E2E_RETRANSMITS, 1),
        (C.LUMEN_REG_E2E_DUPLICATES, 1),
        (C.LUMEN_REG_E2E_TIMEOUTS, 1),
    ]
    for off, val in bad:
        card.clear_errors()
        card.wreg(off, val)
        N.expect_error(card, C.LUMEN_ERR_REG_ACCESS,
                       C.LUMEN_STATUS_BAD_ARGUMENT, off)
    assert card.reg(C.LUMEN_REG_E2E_TIMEOUT_MS) == C.LUMEN_E2E_TIMEOUT_MAX_MS
    assert card.reg(C.LUMEN_REG_WIN_INDEX) == 255
    assert card.reg(C.LUMEN_REG_WIN_CTRL) == ctrl
    # Staged values that cannot open a window: the slot keeps its old one.
    for va, size in ((0x1001, 0x1000), (0x1000, 0x1001), (0x1000, 0),
                     (1 << 48, 0x1000), ((1 << 48) - 0x1000, 0x2000),
                     (0xfffffffffffff000, 0x2000)):
        card.clear_errors()
        card.wreg64(C.LUMEN_REG_WIN_VA_LO, va)
        card.wreg64(C.LUMEN_REG_WIN_SIZE_LO, size)
        card.wreg(C.LUMEN_REG_WIN_CTRL, C.LUMEN_WIN_VALID | C.LUMEN_WIN_READ)
        N.expect_error(card, C.LUMEN_ERR_REG_ACCESS,
                       C.LUMEN_STATUS_BAD_ARGUMENT, C.LUMEN_REG_WIN_CTRL)
        assert card.reg(C.LUMEN_REG_WIN_CTRL) == ctrl, (va, size)
    # The last page of the VA space is a valid window.
    card.wreg64(C.LUMEN_REG_WIN_VA_LO, (1 << 48) - 0x1000)
    card.wreg64(C.LUMEN_REG_WIN_SIZE_LO, 0x1000)
    card.wreg(C.LUMEN_REG_WIN_CTRL, C.LUMEN_WIN_VALID)
    assert card.reg(C.LUMEN_REG_WIN_CTRL) == C.LUMEN_WIN_VALID
    # _LO alone does not change the staged value; _HI latches.
    card.wreg(C.LUMEN_REG_WIN_KEY_LO, 0x11)
    assert card.reg64(C.LUMEN_REG_WIN_KEY_LO) == ~KEY & (2 ** 64 - 1)
    card.wreg(C.LUMEN_REG_WIN_KEY_HI, 0x22)
    assert card.reg64(C.LUMEN_REG_WIN_KEY_LO) == 0x22 << 32 | 0x11
    # Closing; a soft reset closes every window and restores the defaults.
    card.wreg(C.LUMEN_REG_WIN_CTRL, C.LUMEN_WIN_READ)
    assert card.reg(C.LUMEN_REG_WIN_CTRL) == 0
    open_window(card, 0, 0x1000, 0x1000)
    card.soft_reset()
    assert card.reg(C.LUMEN_REG_E2E_TIMEOUT_MS) == \
        C.LUMEN_E2E_TIMEOUT_DEFAULT_MS
    assert card.reg(C.LUMEN_REG_WIN_INDEX) == 0
    assert card.reg(C.LUMEN_REG_WIN_CTRL) == 0
    assert card.reg64(C.LUMEN_REG_WIN_VA_LO) == 0
    card.wreg(C.LUMEN_REG_WIN_INDEX, 255)
    assert card.reg(C.LUMEN_REG_WIN_CTRL) == 0


def check_transfer(src, dst, qu, local, target, window, size, seed):
    """RWRITE @size bytes from @local to window offset @target, check the
    target byte-exact with guards, then RREAD them back to another local
    buffer and check that with guards too."""
    payload = data(size, seed)
    src.vwrite(local, payload)
    tva = T_DEV if window == W_DEV else T_SCAT
    before = dst.vread_opt(tva + target - 16, 16)
    after = dst.vread_opt(tva + target + size, 16)
    run(qu, [rwrite(local, target, size, window, KEY)])
    got = dst.vread(tva + target, size)
    assert got == payload, 'RWRITE 0x%x bytes to window %d offset 0x%x: ' \
        'first bad byte at 0x%x' % (size, window, target, next(
            i for i in range(size) if got[i] != payload[i]))
    assert dst.vread_opt(tva + target - 16, 16) == before, 'underrun'
    assert dst.vread_opt(tva + target + size, 16) == after, 'overrun'
    back = local + size + 0x1235 if local != L_SCAT + 3 else L_HOST + 0x777
    guard = data(size + 32, seed + 1)
    src.vwrite(back - 16, guard)
    run(qu, [rread(back, target, size, window, KEY)])
    assert src.vread(back, size) == payload, 'RREAD 0x%x bytes' % size
    assert src.vread(back - 16, 16) == guard[:16], 'RREAD underrun'
    assert src.vread(back + size, 16) == guard[16 + size:], 'RREAD overrun'


@test
def rwrite_rread(env):
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 4, ctx=SRC_CTX)
    cases = [
        # (local, target offset, window, size)
        (L_HOST + 0x11, 0x3, W_DEV, 1),
        (L_DEV + 0xfff, 0xffd, W_DEV, 7),
        (L_SCAT + 3, 0x801, W_SCAT, PKT - 1),
        (L_HOST + HUGE - 5, 0x1000, W_SCAT, PKT),
        (L_DEV + 9, HUGE - 0x801, W_DEV, PKT + 1),
        (L_HOST + 0x123, 0x7777, W_SCAT, 5 * PKT + 0x321),
        (L_DEV + 0x4321, 0x10003, W_DEV, 64 * PKT + 3),     # > one window
        (L_HOST + 0x2f, HUGE + 0x5, W_DEV, 3 * (1 << 20) + 5),
    ]
    for i, (local, target, window, size) in enumerate(cases):
        check_transfer(src, dst, qu, local, target, window, size, 100 + i)
    # PROGRESS counts what the target confirmed and what landed locally.
    qu.reset()
    run(qu, [rwrite(L_HOST, 0, 3 * PKT + 1, W_DEV, KEY),
             rread(L_HOST, 0, 5, W_DEV, KEY)])
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == 3 * PKT + 1 + 5
    # Size 0 completes at once and touches nothing, even a closed window.
    qu.reset()
    run(qu, [rwrite(0xdead0000, 0, 0, 200, 0), rread(0xdead0000, 0, 0, 200,
                                                     0)])
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == 2
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    c = counters(card)
    assert c['access'] == 0 and c['bad'] == 0 and c['timeouts'] == 0, c


@test
def rwrite_several_mib(env):
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 0, ctx=SRC_CTX)
    size = 7 * (1 << 20) + 0x123
    payload = data(size, 7)
    src.vwrite(L_HOST + 0x10, payload)
    start = time.monotonic()
    run(qu, [rwrite(L_HOST + 0x10, 0x20, size, W_DEV, KEY)])
    took = time.monotonic() - start
    assert dst.vread(T_DEV + 0x20, size) == payload
    run(qu, [rread(L_DEV + 0x5, 0x20, size, W_DEV, KEY)])
    assert src.vread(L_DEV + 0x5, size) == payload
    print('       (RWRITE of %.1f MiB by loopback: %.0f MiB/s)' % (
        size / (1 << 20), size / (1 << 20) / took))


@test
def ratomic_ops(env):
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 3, ctx=SRC_CTX)
    dst.vwrite(T_DEV + 0x40, struct.pack('<Q', 40))
    dst.vwrite(T_SCAT + 5 * PAGE + 8, struct.pack('<Q', 2 ** 64 - 2))
    src.vwrite(L_HOST + 0x100, bytes(32))
    run(qu, [
        ratomic(L_HOST + 0x100, 0x40, 2, W_DEV, KEY),
        ratomic(L_HOST + 0x108, 0x40, 100, W_DEV, KEY,
                op=C.LUMEN_RATOMIC_SIGNAL),
        ratomic(0, 0x40, 5, W_DEV, KEY),
        ratomic(L_DEV + 0x18, 5 * PAGE + 8, 3, W_SCAT, KEY),   # wraps
    ])
    assert struct.unpack('<QQ', src.vread(L_HOST + 0x100, 16)) == (40, 42)
    assert struct.unpack('<Q', dst.vread(T_DEV + 0x40, 8))[0] == 105
    assert struct.unpack('<Q', src.vread(L_DEV + 0x18, 8))[0] == 2 ** 64 - 2
    assert struct.unpack('<Q', dst.vread(T_SCAT + 5 * PAGE + 8, 8))[0] == 1
    # Neighbours of the word untouched.
    assert dst.vread(T_DEV + 0x38, 8) == bytes(8)
    assert dst.vread(T_DEV + 0x48, 8) == bytes(8)
    # PROGRESS: the result words written (8 bytes each, 3 results).
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == 24
    # A fence across queues: RATOMIC SIGNAL releases a WAIT on another
    # queue of the context (the window maps the same memory).
    waiter = Queue(card, 6, ctx=DST_CTX)
    waiter.submit([N.fence(C.LUMEN_CMD_WAIT, T_DEV + 0x80, 7)])
    time.sleep(0.05)
    assert waiter.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    run(qu, [ratomic(0, 0x80, 7, W_DEV, KEY, op=C.LUMEN_RATOMIC_SIGNAL)])
    for _ in range(100):
        if waiter.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_IDLE:
            break
        q.clock_step(100000)
    assert waiter.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_IDLE
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def access_refused(env):
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 7, ctx=SRC_CTX)
    other = Queue(card, 8, ctx=SRC_CTX)
    close_window(card, 11)
    src.vwrite(L_HOST, data(4 * PKT, 5))
    cases = [
        # (what, descriptor, target VA range that must stay unchanged)
        ('wrong key', rwrite(L_HOST, 0, 100, W_DEV, KEY ^ 1), (T_DEV, 100)),
        ('closed window', rwrite(L_HOST, 0, 100, 11, KEY), None),
        ('past the end', rwrite(L_HOST, 32 * PAGE - 8, 9, W_SCAT, KEY),
         (T_SCAT + 31 * PAGE, PAGE)),
        ('offset beyond', rwrite(L_HOST, 32 * PAGE, 1, W_SCAT, KEY), None),
        ('offset wraps', rwrite(L_HOST, 2 ** 64 - 8, 16, W_SCAT, KEY),
         (T_SCAT, 8)),
        ('no write right', rwrite(L_HOST, 0, 3 * PKT, W_RONLY, KEY),
         (T_DEV, 3 * PKT)),
        ('no read right', rread(L_HOST, 0, 8, W_WONLY, KEY), None),
        ('no atomic right', ratomic(0, 0, 1, W_RONLY, KEY), (T_DEV, 8)),
        ('no atomic right (write only)', ratomic(0, 0, 1, W_WONLY, KEY),
         (T_DEV, 8)),
        ('read-only page', rwrite(L_HOST, 0x10, 0x20, W_RO, KEY),
         (T_RO, PAGE)),
        ('read-only page, atomic', ratomic(0, 0x10, 1, W_RO, KEY),
         (T_RO, PAGE)),
        ('unmapped page', rwrite(L_HOST, PAGE + 0x100, 0x10, W_HOLE, KEY),
         (T_HOLE, PAGE)),
        ('unmapped page, 2 pages', rwrite(L_HOST, 0x800, PAGE, W_HOLE, KEY),
         (T_HOLE, PAGE)),
        ('unmapped page, read', rread(L_HOST, PAGE - 4, 8, W_HOLE, KEY),
         None),
    ]
    dst.vwrite(T_DEV, data(3 * PKT, 9))
    dst.vwrite(T_RO, data(PAGE, 10))
    for i, (what, c, keep) in enumerate(cases):
        card.clear_errors()
        qu.reset()
        snap = dst.vread(*keep) if keep else None
        before = counters(card)
        local_before = src.vread(L_HOST, 16)
        qu.submit([nop(), c, nop()])
        try:
            expect_stop(qu, C.LUMEN_STATUS_ACCESS, 1)
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e))
        N.expect_error(card, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_ACCESS, CHIP)
        assert card.msi_fired(C.LUMEN_VEC_QUEUE_BASE + 7), what
        after = counters(card)
        assert after['access'] > before['access'], what
        if keep:
            assert dst.vread(*keep) == snap, '%s: target written' % what
        assert src.vread(L_HOST, 16) == local_before, what
        # The target's own fault record and queues are not involved.
        assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0, what
        run(other, [nop()])
    # The window opened again: the same operation goes through.
    open_window(card, 11, T_DEV, PAGE)
    qu.reset()
    run(qu, [rwrite(L_HOST, 0, 100, 11, KEY)])
    assert dst.vread(T_DEV, 100) == src.vread(L_HOST, 100)
    assert counters(card)['bad'] == 0


@test
def bad_descriptors(env):
    q, card = remote_card(env)
    spaces(card)
    qu = Queue(card, 9, ctx=SRC_CTX)
    big = C.LUMEN_CMD_REMOTE_MAX_SIZE + 1
    bad = [
        rwrite(L_HOST, 0, big, W_DEV, KEY),
        rread(L_HOST, 0, big, W_DEV, KEY),
        rwrite(L_HOST, 0, 8, W_DEV, KEY, dst=C.LUMEN_CHIP_ID_MAX + 1),
        rread(L_HOST, 0, 8, W_DEV, KEY, dst=0xffffffff),
        rwrite(L_HOST, 0, 8, C.LUMEN_NUM_WINDOWS, KEY),
        rread(L_HOST, 0, 8, 0xffffffff, KEY),
        rwrite(L_HOST, 0, 8, W_DEV, KEY, reserved=(1, 0)),
        rread(L_HOST, 0, 8, W_DEV, KEY, reserved=(0, 1 << 63)),
        rwrite(L_HOST, 0, 8, W_DEV, KEY, flags=4),
        ratomic(L_HOST + 4, 0, 1, W_DEV, KEY),
        ratomic(L_HOST, 1, 1, W_DEV, KEY),
        ratomic(L_HOST, 0, 1, W_DEV, KEY, op=C.LUMEN_RATOMIC_COUNT),
        ratomic(L_HOST, 0, 1, W_DEV, KEY, reserved0=1),
        ratomic(L_HOST, 0, 1, W_DEV, KEY, reserved=1),
        ratomic(L_HOST, 0, 1, C.LUMEN_NUM_WINDOWS, KEY),
        ratomic(L_HOST, 0, 1, W_DEV, KEY, dst=C.LUMEN_CHIP_ID_MAX + 1),
    ]
    for i, c in enumerate(bad):
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), c])
        expect_stop(qu, C.LUMEN_STATUS_BAD_DESCRIPTOR, 1)
        N.expect_error(card, C.LUMEN_ERR_QUEUE_DESC,
                       C.LUMEN_STATUS_BAD_DESCRIPTOR, 9)
    # The limits themselves are fine.
    qu.reset()
    run(qu, [rwrite(L_HOST, 0, 8, W_DEV, KEY),
             ratomic(L_HOST, 8, 1, W_DEV, KEY, op=C.LUMEN_RATOMIC_SIGNAL)])


@test
def unreachable(env):
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 1, ctx=SRC_CTX)
    dst.vwrite(T_DEV, bytes(64))
    for c in (rwrite(L_HOST, 0, 64, W_DEV, KEY, dst=CHIP + 1),
              rread(L_HOST, 0, 64, W_DEV, KEY, dst=C.LUMEN_CHIP_ID_MAX),
              ratomic(L_HOST, 0, 1, W_DEV, KEY, dst=0)):
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), c])
        expect_stop(qu, C.LUMEN_STATUS_UNREACHABLE, 1)
        dst_chip = struct.unpack_from('<I', c, 32)[0]
        N.expect_error(card, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_UNREACHABLE,
                       dst_chip)
    assert dst.vread(T_DEV, 64) == bytes(64)
    assert counters(card)['access'] == 0


@test
def local_faults(env):
    """The source side runs in the queue's context like COPY: a bad local
    page is an MMU fault of the queue."""
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 2, ctx=SRC_CTX)
    dst.vwrite(T_DEV, data(2 * PKT, 3))
    snap = dst.vread(T_DEV, 2 * PKT)
    cases = [
        # (descriptor, faulting VA, write access)
        (rwrite(0x700000000, 0, 16, W_DEV, KEY), 0x700000000, False),
        (rread(L_RO, 0, 16, W_DEV, KEY), L_RO, True),
        (rread(L_RO - PKT, 0, 2 * PKT, W_DEV, KEY), L_RO - PKT, True),
        (ratomic(L_RO + 8, 0x40, 1, W_DEV, KEY), L_RO + 8, True),
    ]
    for c, va, write in cases:
        card.clear_errors()
        card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
        qu.reset()
        qu.submit([nop(), c])
        expect_stop(qu, C.LUMEN_STATUS_MMU_FAULT, 1)
        assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 1
        assert card.reg64(C.LUMEN_REG_MMU_FAULT_ADDR_LO) == va, hex(
            card.reg64(C.LUMEN_REG_MMU_FAULT_ADDR_LO))
        assert card.reg(C.LUMEN_REG_MMU_FAULT_QUEUE) == 2
        info = card.reg(C.LUMEN_REG_MMU_FAULT_INFO)
        assert bool(info & C.LUMEN_MMU_FAULT_WRITE_ACCESS) == write, info
    # The RATOMIC was applied, once; nothing else changed at the target.
    word = struct.unpack('<Q', snap[0x40:0x48])[0] + 1
    expect = snap[:0x40] + struct.pack('<Q', word & (2 ** 64 - 1)) + \
        snap[0x48:]
    assert dst.vread(T_DEV, 2 * PKT) == expect


def samples(sp, va, size):
    """First, middle and last 64 KiB of a large range."""
    k = 64 << 10
    return b''.join(sp.vread(a, k) for a in (va, va + size // 2,
                                             va + size - k))


@test
def queue_reset_mid_operation(env):
    q, card = remote_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 5, ctx=SRC_CTX)
    other = Queue(card, 6, ctx=SRC_CTX)
    src.vwrite(L_HOST, data(4 * HUGE, 1))
    for a in range(0, BIG, HUGE):
        src.vwrite(L_BIG + a, data(HUGE, a))
    # A 64 MiB RWRITE in flight: CTRL.RESET, clearing ENABLE or a soft
    # reset drops it at once; answers still in flight are ignored, and the
    # queue works again.
    for how in ('reset', 'disable', 'soft reset'):
        qu.reset()
        qu.submit([rwrite(L_BIG, 0, BIG, W_BIG, KEY)])
        st = qu.reg(C.LUMEN_QREG_STATUS)
        assert st == C.LUMEN_QSTS_RUNNING, '%s: status %d' % (how, st)
        time.sleep(0.005)
        if how == 'reset':
            qu.reset(enable=False)
            assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
            assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0
        elif how == 'disable':
            card.wreg(qreg(5, C.LUMEN_QREG_CTRL),
                      SRC_CTX << C.LUMEN_QCTRL_CTX_SHIFT)
            assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_DISABLED
            assert qu.reg(C.LUMEN_QREG_HEAD) == 0
            # Enabled again, it runs the descriptor again as a new message.
            qu.enable()
            assert settle(qu) == C.LUMEN_QSTS_IDLE
            assert qu.reg(C.LUMEN_QREG_COMPLETED) == 1
            assert samples(dst, T_BIG, BIG) == samples(src, L_BIG, BIG)
        else:
            card.soft_reset()
            src, dst = spaces(card)
            qu = Queue(card, 5, ctx=SRC_CTX)
            other = Queue(card, 6, ctx=SRC_CTX)
        time.sleep(0.05)
        qu.reset()
        run(qu, [rwrite(L_DEV, 0x100, 3 * PKT, W_DEV, KEY),
                 rread(L_HOST + 0x100, 0x100, 3 * PKT, W_DEV, KEY)])
        assert src.vread(L_HOST + 0x100, 3 * PKT) == src.vread(L_DEV,
                                                                3 * PKT)
        run(other, [nop()])
        assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0, how
        assert counters(card)['bad'] == 0, how


@test
def queues_interleave(env):
    """A queue waiting for answers is parked; the other queues run."""
    q, card = remote_card(env, ',queues=8')
    src, dst = spaces(card)
    queues = [Queue(card, n, ctx=SRC_CTX) for n in range(4)]
    payloads = []
    for n, qu in enumerate(queues):
        p = data(HUGE - n * 0x111, 50 + n)
        payloads.append(p)
        src.vwrite(L_HOST + n * HUGE, p)
    for n, qu in enumerate(queues):
        qu.submit([rwrite(L_HOST + n * HUGE, n * 2 * HUGE, len(payloads[n]),
                          W_DEV, KEY),
                   rread(L_DEV + n * HUGE, n * 2 * HUGE, len(payloads[n]),
                         W_DEV, KEY),
                   ratomic(0, 8 * HUGE - 8, 1, W_DEV, KEY)])
    local = Queue(card, 7, ctx=SRC_CTX)
    run(local, [copy(L_HOST, L_SCAT, 32 * PAGE)])
    for qu in queues:
        assert settle(qu) == C.LUMEN_QSTS_IDLE
    for n in range(4):
        assert src.vread(L_DEV + n * HUGE, len(payloads[n])) == payloads[n]
    assert struct.unpack('<Q', dst.vread(T_DEV + 8 * HUGE - 8, 8))[0] == 4


@test
def fuzz_remote(env):
    """Random remote descriptors, windows and resets never crash QEMU; the
    card works afterwards."""
    q, card = remote_card(env, ',queues=4')
    src, dst = spaces(card)
    rng = random.Random(99)
    queues = [Queue(card, n, ctx=rng.choice([SRC_CTX, DST_CTX, 0]))
              for n in range(4)]
    locals_ = [0, L_HOST, L_SCAT, L_DEV, L_RO, 1 << 48, 0xfffffffffffff000]
    for i in range(300):
        qu = rng.choice(queues)
        local = (rng.choice(locals_) + rng.randrange(0, 0x3000)) & \
            (2 ** 64 - 1)
        window = rng.choice([W_DEV, W_SCAT, W_RO, W_HOLE, W_RONLY, W_WONLY,
                             0, 255, rng.randrange(1 << 32)])
        key = rng.choice([KEY, KEY, 0, rng.getrandbits(64)])
        dstc = rng.choice([CHIP, CHIP, CHIP, 0, rng.randrange(1 << 14)])
        off = rng.choice([0, 0x1001, HUGE - 3, 32 * PAGE - 8,
                          rng.getrandbits(64)])
        size = rng.choice([0, 1, 8, PKT + 1, 70 * PKT, rng.getrandbits(29)])
        op = rng.choice([C.LUMEN_CMD_RWRITE, C.LUMEN_CMD_RREAD,
                         C.LUMEN_CMD_RATOMIC, C.LUMEN_CMD_RREDUCE])
        if op == C.LUMEN_CMD_RREDUCE:
            align = rng.choice([~0, ~1, ~3, ~3])
            c = rreduce(local & align, off & align, size & align, window,
                        key, rng.choice([0, 1, 2, 3, 3, 4]),
                        rng.choice([0, 1, 2, 3]), dst=dstc)
        elif op == C.LUMEN_CMD_RATOMIC:
            c = ratomic(local & ~7 if rng.random() < 0.9 else local,
                        off & ~7 if rng.random() < 0.9 else off,
                        rng.getrandbits(64), window, key, dst=dstc,
                        op=rng.choice([0, 1, 1, 2]))
        else:
            c = cmd(op, (local, off, size, dstc | window << 32, key))
        qu.submit([c])
        r = rng.random()
        if r < 0.1:
            qu.reset()
        elif r < 0.15:
            open_window(card, rng.choice([W_DEV, 0, 200]),
                        rng.choice([T_DEV, T_HOLE, 0]),
                        rng.choice([PAGE, HUGE, 32 * PAGE]),
                        rights=rng.randrange(8) << 1, key=KEY)
        elif r < 0.17:
            close_window(card, rng.choice([W_DEV, W_SCAT, 0]))
        elif r < 0.19:
            card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, rng.choice([10, 2000]))
        elif r < 0.2:
            card.soft_reset()
            src, dst = spaces(card)
            queues = [Queue(card, n, ctx=SRC_CTX) for n in range(4)]
        if rng.random() < 0.2:
            time.sleep(0.002)
        if qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_STOPPED:
            qu.reset()
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC
    card.soft_reset()
    src, dst = spaces(card)
    qu = Queue(card, 0, ctx=SRC_CTX)
    src.vwrite(L_HOST, b'after the fuzz')
    run(qu, [rwrite(L_HOST, 0x10, 14, W_DEV, KEY),
             rread(L_DEV, 0x10, 14, W_DEV, KEY)])
    assert src.vread(L_DEV, 14) == b'after the fuzz'


def migrate(env, q, card, dev):
    """Stop @q, migrate it to a new QEMU; the card as seen there."""
    q.hmp('stop')
    state = os.path.join(env.workdir, 'state')
    q.hmp('migrate file:' + state)
    for _ in range(400):
        if 'Migration status: completed' in q.hmp('info migrate'):
            break
        time.sleep(0.05)
    else:
        raise AssertionError('migration did not complete: ' +
                             q.hmp('info migrate'))
    d = env.start(dev + ['-incoming', 'file:' + state], 'dst')
    for _ in range(400):
        if 'completed' in d.hmp('info migrate'):
            break
        time.sleep(0.05)
    d.hmp('cont')
    dcard = Card.__new__(Card)
    dcard.__dict__.update(card.__dict__)
    dcard.q = d
    return d, dcard


@test
def remote_migration(env):
    """The window registers, E2E_TIMEOUT_MS and the counters migrate."""
    npu_c = os.path.join(N.REPO, 'qemu-device', 'hw', 'lumen-npu.c')
    with open(npu_c) as f:
        if 'vmstate_lumen_remote' not in f.read():
            raise Skip('lumen-npu.c does not migrate vmstate_lumen_remote')
    dev = ['-device', 'lumen-npu,addr=4.0,chip-id=%d' % CHIP]
    q = env.start(dev, 'src')
    card = Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)
    card.soft_reset()
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_LINKS:
        raise Skip('CAPS.LINKS clear')
    src, dst = spaces(card)
    qu = Queue(card, 0, ctx=SRC_CTX)
    qu.submit([rwrite(L_HOST, 0, 8, W_DEV, KEY ^ 1)])
    expect_stop(qu, C.LUMEN_STATUS_ACCESS, 0)
    qu.reset()
    card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 777)
    card.wreg(C.LUMEN_REG_WIN_INDEX, W_SCAT)
    card.wreg64(C.LUMEN_REG_WIN_KEY_LO, 0x5555)
    regs = (C.LUMEN_REG_E2E_TIMEOUT_MS, C.LUMEN_REG_WIN_INDEX,
            C.LUMEN_REG_WIN_CTRL, C.LUMEN_REG_WIN_KEY_LO,
            C.LUMEN_REG_WIN_KEY_HI, C.LUMEN_REG_WIN_VA_LO,
            C.LUMEN_REG_WIN_SIZE_LO, C.LUMEN_REG_ACCESS_ERRORS)
    before = {off: card.reg(off) for off in regs}
    assert before[C.LUMEN_REG_ACCESS_ERRORS] == 1
    d, dcard = migrate(env, q, card, dev)
    for off in regs:
        got = dcard.reg(off)
        assert got == before[off], 'reg 0x%x: 0x%x after migration, 0x%x ' \
            'before' % (off, got, before[off])
    for sp in (src, dst):
        sp.card, sp.q = dcard, d
    qu.card = dcard
    payload = data(3 * PKT + 5, 77)
    src.vwrite(L_HOST, payload)
    run(qu, [rwrite(L_HOST, 0x10, len(payload), W_SCAT, KEY),
             rread(L_DEV, 0x10, len(payload), W_SCAT, KEY)])
    assert dst.vread(T_SCAT + 0x10, len(payload)) == payload
    assert src.vread(L_DEV, len(payload)) == payload


# ---- A hostile or buggy peer: packets written by the test -------------------
#
# The card's port 0 is cabled to a fake neighbour chip played by
# qtest-lumen-npu.py's LinkPeer (13.2, 13.3): the test writes the packets
# that chip sends and sees every packet the card sends it.

PEER = 7                    # the fake chip, the card's neighbour on port 0
REQ_VC, ANS_VC = 0, 2       # lane 0 of class 0 (requests), 1 (answers)


def pkt(src, dst, op, payload=b'', stream=1, epoch=1, msg=1, p=0, status=0,
        aop=0, window=0, key=0, offset=0, size=None, arg=0, flags=0):
    """A struct lumen_pkt_hdr with its end-to-end CRC, then @payload."""
    size = len(payload) if size is None else size
    h = struct.pack(N.PKT_FMT, src, dst, op, flags, stream, epoch, msg, p, 0,
                    status, aop, window, key, offset, size, arg)
    crc = zlib.crc32(h + payload)
    return h[:24] + struct.pack('<I', crc) + h[28:] + payload


def peer_card(env, props=''):
    card, peers = N.fake_neighbours(env, CHIP, {0: (PEER, 1)}, props)
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_LINKS:
        raise Skip('CAPS.LINKS clear')
    N.set_routes(card, {PEER: N.route_word(0)})
    card.clear_errors()
    return card, peers[0]


def answer(peer, n, what, raw, vc=REQ_VC):
    """Send @raw; wait for the card's @n-th packet to the peer, return it."""
    peer.send(raw, vc=vc)
    return N.expect_packets(peer, n, what)


def silent(card, peer, n, raw, vc, what):
    """Send @raw: dropped by the card, counted in BAD_PKTS, no answer."""
    bad = card.reg(C.LUMEN_REG_BAD_PKTS)
    peer.send(raw, vc=vc)
    N.wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == bad + 1, what)
    time.sleep(0.02)
    assert len(peer.data) == n, '%s: answered' % what


@test
def hostile_requests(env):
    """Requests from another chip: window checks, exactly once per
    (chip, stream), stale packets, malformed packets dropped."""
    card, peer = peer_card(env)
    src, dst = spaces(card)
    n = 0

    def req(op, payload=b'', **kw):
        kw.setdefault('window', W_DEV)
        kw.setdefault('key', KEY)
        return pkt(PEER, CHIP, op, payload, **kw)

    def ok(raw, what, status=0):
        nonlocal n
        n += 1
        got = answer(peer, n, what, raw)
        h = N.parse_packet(raw)
        assert got['crc_ok'] and got['hop']['vc'] in (2, 3), what
        assert (got['src'], got['dst'], got['stream'], got['epoch'],
                got['msg'], got['pkt']) == (CHIP, PEER, h['stream'],
                                            h['epoch'], h['msg'],
                                            h['pkt']), what
        assert got['status'] == status, '%s: status %d' % (
            what, got['status'])
        return got

    # A WRITE of 2 packets, message 1 of stream 1, epoch 1.
    data1 = data(PKT + 10, 1)
    for i in range(2):
        got = ok(req(C.LUMEN_PKT_WRITE, data1[i * PKT:(i + 1) * PKT],
                     offset=0x30, size=len(data1), p=i), 'write %d' % i)
        assert got['op'] == C.LUMEN_PKT_ACK and got['payload'] == b''
        assert (got['window'], got['offset'], got['size']) == (
            W_DEV, 0x30, len(data1))
    assert dst.vread(T_DEV + 0x30, len(data1)) == data1
    # The same packet again, other bytes: acknowledged, not written.
    dups = card.reg(C.LUMEN_REG_E2E_DUPLICATES)
    ok(req(C.LUMEN_PKT_WRITE, bytes(PKT), offset=0x30, size=len(data1)),
       'duplicate write')
    assert card.reg(C.LUMEN_REG_E2E_DUPLICATES) == dups + 1
    assert dst.vread(T_DEV + 0x30, len(data1)) == data1
    # A newer message; then the older one is stale: answered, not applied.
    ok(req(C.LUMEN_PKT_WRITE, b'msg 2', msg=2, offset=0x30), 'msg 2')
    ok(req(C.LUMEN_PKT_WRITE, b'stale'.ljust(PKT, b'!'), msg=1, offset=0x30,
           size=len(data1), p=0), 'stale msg')
    assert dst.vread(T_DEV + 0x30, 5) == b'msg 2'
    # Another stream of the same chip is independent.
    ok(req(C.LUMEN_PKT_WRITE, b'other', stream=9, msg=1, offset=0x40),
       'stream 9')
    assert dst.vread(T_DEV + 0x40, 5) == b'other'
    # ATOMIC: applied once, a retransmission gets the same result.
    dst.vwrite(T_DEV + 0x100, struct.pack('<Q', 1000))
    a = req(C.LUMEN_PKT_ATOMIC, msg=3, offset=0x100, size=8, arg=5)
    for i in range(3):
        got = ok(a, 'atomic %d' % i)
        assert got['op'] == C.LUMEN_PKT_ATOMIC_RESP and got['arg'] == 1000
    assert struct.unpack('<Q', dst.vread(T_DEV + 0x100, 8))[0] == 1005
    # A new epoch starts over (message numbers too); the old epoch is stale.
    got = ok(req(C.LUMEN_PKT_ATOMIC, epoch=2, msg=0, offset=0x100, size=8,
                 arg=1, aop=C.LUMEN_RATOMIC_SIGNAL), 'epoch 2')
    assert got['arg'] == 1005 and got['aop'] == C.LUMEN_RATOMIC_SIGNAL
    ok(req(C.LUMEN_PKT_ATOMIC, epoch=1, msg=4, offset=0x100, size=8, arg=7),
       'epoch 1 again')
    assert struct.unpack('<Q', dst.vread(T_DEV + 0x100, 8))[0] == 1
    # READ_REQ is served every time, with the bytes of its packet.
    for i in range(2):
        got = ok(req(C.LUMEN_PKT_READ_REQ, offset=0x30, size=len(data1),
                     p=1, epoch=2, msg=5), 'read %d' % i)
        assert got['op'] == C.LUMEN_PKT_READ_RESP
        assert got['payload'] == data1[PKT:]
    # ... and made message 5 current: a late WRITE of message 4 is stale.
    ok(req(C.LUMEN_PKT_WRITE, b'late', epoch=2, msg=4, offset=0x30),
       'late write')
    assert dst.vread(T_DEV + 0x30, 5) == b'msg 2'
    # Refusals: an answer with ACCESS and nothing written.
    access = card.reg(C.LUMEN_REG_ACCESS_ERRORS)
    for what, raw in (
            ('wrong key', req(C.LUMEN_PKT_WRITE, b'x', key=KEY ^ 2, msg=6,
                              epoch=2)),
            ('no window', req(C.LUMEN_PKT_WRITE, b'x', window=300, msg=7,
                              epoch=2)),
            ('range', req(C.LUMEN_PKT_READ_REQ, window=W_SCAT,
                          offset=32 * PAGE - 1, size=2, epoch=2, msg=8)),
            ('right', req(C.LUMEN_PKT_ATOMIC, window=W_RONLY, size=8,
                          epoch=2, msg=9))):
        got = ok(raw, what, status=C.LUMEN_STATUS_ACCESS)
        assert got['payload'] == b'' and got['arg'] == 0, what
    assert card.reg(C.LUMEN_REG_ACCESS_ERRORS) == access + 4
    assert dst.vread(T_DEV, 0x30) == bytes(0x30)
    # Malformed: dropped, counted, unanswered; the state is untouched.
    bad = [
        ('payload short', REQ_VC, req(C.LUMEN_PKT_WRITE, b'abc', size=4,
                                      epoch=2, msg=10)),
        ('packet beyond the operation', REQ_VC,
         req(C.LUMEN_PKT_WRITE, b'', size=8, p=1, epoch=2, msg=10)),
        ('size over the maximum', REQ_VC,
         req(C.LUMEN_PKT_READ_REQ, size=C.LUMEN_CMD_REMOTE_MAX_SIZE + 1,
             epoch=2, msg=10)),
        ('size 0', REQ_VC, req(C.LUMEN_PKT_READ_REQ, size=0, epoch=2,
                               msg=10)),
        ('aop in a write', REQ_VC, req(C.LUMEN_PKT_WRITE, b'a', aop=1,
                                       epoch=2, msg=10)),
        ('arg in a read', REQ_VC, req(C.LUMEN_PKT_READ_REQ, size=1, arg=1,
                                      epoch=2, msg=10)),
        ('status in a request', REQ_VC, req(C.LUMEN_PKT_WRITE, b'a',
                                            status=1, epoch=2, msg=10)),
        ('atomic misaligned', REQ_VC, req(C.LUMEN_PKT_ATOMIC, offset=4,
                                          size=8, epoch=2, msg=10)),
        ('atomic size', REQ_VC, req(C.LUMEN_PKT_ATOMIC, size=16, epoch=2,
                                    msg=10)),
        ('atomic op', REQ_VC, req(C.LUMEN_PKT_ATOMIC, size=8, aop=2,
                                  epoch=2, msg=10)),
        ('source chip', REQ_VC, pkt(8192, CHIP, C.LUMEN_PKT_WRITE, b'a',
                                    window=W_DEV, key=KEY)),
        ('unknown op', REQ_VC, req(0, b'', size=0)),
        ('flags', REQ_VC, req(C.LUMEN_PKT_WRITE, b'a', flags=1, epoch=2,
                              msg=10)),
        ('request on the answer VC', ANS_VC,
         req(C.LUMEN_PKT_WRITE, b'a', epoch=2, msg=10)),
        ('answer for no queue', ANS_VC,
         pkt(PEER, CHIP, C.LUMEN_PKT_ACK, stream=200)),
        ('answer status', ANS_VC,
         pkt(PEER, CHIP, C.LUMEN_PKT_ACK, stream=0, status=200)),
    ]
    for what, vc, raw in bad:
        silent(card, peer, n, raw, vc, what)
    # A message whose packets disagree with its first one.
    ok(req(C.LUMEN_PKT_WRITE, b'first', epoch=2, msg=11, offset=0x50),
       'first of msg 11')
    silent(card, peer, n, req(C.LUMEN_PKT_WRITE, b'!', epoch=2, msg=11,
                              offset=0x60), REQ_VC,
           'packet of another operation')
    assert dst.vread(T_DEV + 0x50, 5) == b'first'
    assert dst.vread(T_DEV + 0x60, 1) == data1[0x30:0x31]
    # A stale answer (no such message) is ignored without a count.
    bad = card.reg(C.LUMEN_REG_BAD_PKTS)
    peer.send(pkt(PEER, CHIP, C.LUMEN_PKT_ACK, stream=0, epoch=77),
              vc=ANS_VC)
    time.sleep(0.05)
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == bad
    # Every window check passed or failed without touching the card's own
    # queues or fault record.
    assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def forged_answers(env):
    """The card as source towards a peer that answers what the test
    writes: retransmission, duplicates, bogus answers, every error."""
    card, peer = peer_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 2, ctx=SRC_CTX)
    card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 400)
    payload = data(3 * PKT, 8)
    src.vwrite(L_HOST, payload)

    def requests(k, what):
        """Wait until the peer got @k packets (resends may follow)."""
        peer.wait(lambda: len(peer.data) >= k, what)

    def reply(req, op, status=0, arg=0, payload=b'', src=PEER, **kw):
        h = dict(stream=req['stream'], epoch=req['epoch'], msg=req['msg'],
                 p=req['pkt'], status=status, aop=req['aop'],
                 window=req['window'], offset=req['offset'],
                 size=req['size'], arg=arg)
        h.update(kw)
        peer.send(pkt(src, CHIP, op, payload, **h), vc=ANS_VC)

    def copies(p):
        return [x for x in peer.data if x['op'] == C.LUMEN_PKT_WRITE and
                x['pkt'] == p]

    # An RWRITE of 3 packets: all three leave at once (window of 64).
    qu.submit([rwrite(L_HOST, 0x10, len(payload), W_SCAT, KEY, dst=PEER)])
    requests(3, 'three WRITE packets')
    w = peer.data[:3]
    assert [p['pkt'] for p in w] == [0, 1, 2]
    assert all(p['op'] == C.LUMEN_PKT_WRITE and p['src'] == CHIP and
               p['dst'] == PEER and p['stream'] == 2 and p['key'] == KEY and
               p['window'] == W_SCAT and p['offset'] == 0x10 and
               p['size'] == len(payload) for p in w)
    assert b''.join(p['payload'] for p in w) == payload
    # Bogus answers: counted, ignored.
    bad = card.reg(C.LUMEN_REG_BAD_PKTS)
    reply(w[0], C.LUMEN_PKT_READ_RESP)                  # wrong op
    reply(w[0], C.LUMEN_PKT_ACK, src=PEER + 1)          # another chip
    reply(w[0], C.LUMEN_PKT_ACK, offset=0)              # another operation
    reply(w[0], C.LUMEN_PKT_ACK, p=5)                   # never sent
    N.wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == bad + 4,
               'bogus answers')
    # Packets 0 and 2 answered; 1 is resent every 100 ms.
    reply(w[0], C.LUMEN_PKT_ACK)
    reply(w[2], C.LUMEN_PKT_ACK)
    reply(w[2], C.LUMEN_PKT_ACK)                        # a duplicate answer
    peer.wait(lambda: len(copies(1)) >= 3, 'packet 1 resent twice')
    last = copies(1)[-1]
    assert last['payload'] == payload[PKT:2 * PKT]
    assert last['epoch'] == w[1]['epoch'] and last['msg'] == w[1]['msg']
    assert card.reg(C.LUMEN_REG_E2E_RETRANSMITS) >= 2
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    reply(last, C.LUMEN_PKT_ACK)
    assert settle(qu) == C.LUMEN_QSTS_IDLE
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == len(payload)
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == bad + 4
    # RREAD: the data of the answers lands locally, in any order.
    k = len(peer.data)
    qu.submit([rread(L_DEV, 0, 2 * PKT - 3, W_SCAT, KEY, dst=PEER)])
    requests(k + 2, 'READ_REQs')
    r = peer.data[k:k + 2]
    back = data(2 * PKT - 3, 9)
    reply(r[1], C.LUMEN_PKT_READ_RESP, payload=back[PKT:])
    reply(r[0], C.LUMEN_PKT_READ_RESP, payload=back[:PKT - 1])   # short
    N.wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == bad + 5,
               'short READ_RESP')
    reply(r[0], C.LUMEN_PKT_READ_RESP, payload=back[:PKT])
    assert settle(qu) == C.LUMEN_QSTS_IDLE
    assert src.vread(L_DEV, len(back)) == back
    # RATOMIC: the old value from the answer lands in result.
    k = len(peer.data)
    qu.submit([ratomic(L_HOST + 0x800, 0x18, 9, W_DEV, KEY, dst=PEER)])
    requests(k + 1, 'ATOMIC')
    a = peer.data[k]
    assert a['op'] == C.LUMEN_PKT_ATOMIC and a['arg'] == 9 and \
        a['size'] == 8 and a['offset'] == 0x18
    # The result of another atomic op is not this one's.
    reply(a, C.LUMEN_PKT_ATOMIC_RESP, arg=1, aop=C.LUMEN_RATOMIC_SIGNAL)
    N.wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == bad + 6,
               'answer of another atomic op')
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    reply(a, C.LUMEN_PKT_ATOMIC_RESP, arg=0x1122334455667788)
    assert settle(qu) == C.LUMEN_QSTS_IDLE
    assert src.vread(L_HOST + 0x800, 8) == struct.pack('<Q',
                                                       0x1122334455667788)
    # Errors in answers fail the descriptor at once: ACCESS from the
    # target, UNREACHABLE from a chip on the way (another src_chip).
    for status, src_chip in ((C.LUMEN_STATUS_ACCESS, PEER),
                             (C.LUMEN_STATUS_UNREACHABLE, 1234)):
        card.clear_errors()
        qu.reset()
        k = len(peer.data)
        qu.submit([nop(), rwrite(L_HOST, 0, 8 * PKT, W_DEV, KEY, dst=PEER)])
        requests(k + 8, 'WRITEs')
        reply(peer.data[k + 3], C.LUMEN_PKT_ACK, status=status, src=src_chip)
        expect_stop(qu, status, 1)
        N.expect_error(card, C.LUMEN_ERR_LINK, status, PEER)
    # No answer at all: resent every 100 ms, TIMEOUT after E2E_TIMEOUT_MS.
    card.clear_errors()
    qu.reset()
    retx = card.reg(C.LUMEN_REG_E2E_RETRANSMITS)
    k = len(peer.data)
    start = time.monotonic()
    qu.submit([ratomic(0, 0, 1, W_DEV, KEY, dst=PEER)])
    expect_stop(qu, C.LUMEN_STATUS_TIMEOUT, 0)
    took = time.monotonic() - start
    assert 0.35 < took < 3, took
    N.expect_error(card, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_TIMEOUT, PEER)
    assert card.reg(C.LUMEN_REG_E2E_TIMEOUTS) == 1
    sent = len(peer.data) - k
    assert 3 <= sent <= 6, sent
    assert card.reg(C.LUMEN_REG_E2E_RETRANSMITS) - retx == sent - 1
    # Its late answer is stale: ignored, not counted.
    bad = card.reg(C.LUMEN_REG_BAD_PKTS)
    reply(peer.data[-1], C.LUMEN_PKT_ATOMIC_RESP, arg=1)
    time.sleep(0.05)
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == bad
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_STOPPED
    time.sleep(0.05)
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == bad
    # The queue reset: a new epoch, messages from 0.
    qu.reset()
    k = len(peer.data)
    qu.submit([ratomic(0, 0, 1, W_DEV, KEY, dst=PEER)])
    requests(k + 1, 'ATOMIC after the reset')
    assert peer.data[k]['epoch'] != peer.data[k - 1]['epoch']
    assert peer.data[k]['msg'] == 0
    reply(peer.data[k], C.LUMEN_PKT_ATOMIC_RESP)
    assert settle(qu) == C.LUMEN_QSTS_IDLE


def send_within_credit(peer, raws, vc=REQ_VC, wait=0.3):
    """Send @raws on @vc while the card grants credit for them (the
    credit_limit of its last ACK); how many went before it stopped."""

    def room():
        ack = peer.last_ack()
        granted = ack['credits'][vc] if ack else C.LUMEN_LINK_VC_CREDITS
        return granted - peer.sent[vc]

    sent = 0
    for raw in raws:
        deadline = time.monotonic() + wait
        while room() <= 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        if room() <= 0:
            break
        peer.send(raw, vc=vc)
        sent += 1
    return sent


@test
def answers_hold_request_credit(env):
    """A peer that sends requests but grants no credit for the answers
    cannot make the card queue answers without bound: an answer holds its
    request's receive buffer until it leaves, so after 16 answers wait the
    card grants no more request credit. Nothing is lost."""
    card, peer = peer_card(env)
    src, dst = spaces(card)
    base = C.LUMEN_LINK_VC_CREDITS
    body = data(PKT, 21)
    dst.vwrite(T_DEV, body)
    # READ_REQs for this chip: 16 answers leave on the peer's initial
    # credit, 16 wait for more and keep their requests' buffers.
    peer.frozen[ANS_VC] = base
    reads = [pkt(PEER, CHIP, C.LUMEN_PKT_READ_REQ, window=W_DEV, key=KEY,
                 size=PKT, msg=i) for i in range(6 * base)]
    n = send_within_credit(peer, reads)
    assert n == 2 * base, '%d requests took credit' % n
    N.expect_packets(peer, base, '16 answers')
    time.sleep(0.2)
    assert peer.last_ack()['credits'][REQ_VC] == 2 * base
    # Credit for the answers: the 16 waiting leave, request credit flows.
    del peer.frozen[ANS_VC]
    peer.ack()
    N.expect_packets(peer, 2 * base, 'all 32 answers')
    assert [(x['op'], x['status'], x['msg'], x['payload']) for x in
            peer.data] == [(C.LUMEN_PKT_READ_RESP, 0, i, body)
                           for i in range(2 * base)]
    N.wait_reg(card, N.lreg(0, C.LUMEN_LREG_DATA_TX_LO),
               lambda v: v == 2 * base, 'answers sent once each')
    peer.wait(lambda: peer.last_ack()['credits'][REQ_VC] == 3 * base,
              'request credit back')
    # The same for UNREACHABLE answers of a transit chip with no route.
    peer.frozen[ANS_VC] = 3 * base
    lost = [pkt(PEER, 999, C.LUMEN_PKT_WRITE, b'x', window=W_DEV, key=KEY,
                msg=100 + i) for i in range(6 * base)]
    n = send_within_credit(peer, lost)
    assert n == 2 * base, '%d requests took credit' % n
    del peer.frozen[ANS_VC]
    peer.ack()
    N.expect_packets(peer, 4 * base, 'all UNREACHABLE answers')
    assert all(x['op'] == C.LUMEN_PKT_ACK and
               x['status'] == C.LUMEN_STATUS_UNREACHABLE
               for x in peer.data[2 * base:])
    assert card.reg(C.LUMEN_REG_NO_ROUTE_DROPS) == 2 * base
    assert card.reg(N.lreg(0, C.LUMEN_LREG_FRAME_ERRORS)) == 0
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0


@test
def resends_do_not_pile_up(env):
    """An RWRITE towards a peer that grants no credit: the packets that
    cannot leave wait at the card, and resends every 100 ms add copies
    only up to LUMEN_LINK_OWN_MAX per port and VC. Once credit comes the
    message completes, each packet acknowledged once."""
    card, peer = peer_card(env)
    src, dst = spaces(card)
    base = C.LUMEN_LINK_VC_CREDITS
    qu = Queue(card, 2, ctx=SRC_CTX)
    card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 10000)
    payload = data(64 * PKT, 31)
    src.vwrite(L_HOST, payload)
    peer.frozen[REQ_VC] = base
    qu.submit([rwrite(L_HOST, 0, len(payload), W_DEV, KEY, dst=PEER)])
    N.expect_packets(peer, base, '16 WRITE packets')
    time.sleep(1.2)
    stalls = card.reg(N.lreg(0, C.LUMEN_LREG_CREDIT_STALLS))
    assert 64 - base <= stalls <= N.OWN_MAX, stalls
    assert card.reg(C.LUMEN_REG_E2E_RETRANSMITS) <= \
        N.OWN_MAX - (64 - base)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    # Credit: what waited leaves; one ACK per packet completes it.
    del peer.frozen[REQ_VC]
    peer.ack()
    peer.wait(lambda: len({x['pkt'] for x in peer.data}) == 64,
              'every packet')
    acked = set()
    for x in list(peer.data):
        if x['pkt'] not in acked:
            acked.add(x['pkt'])
            peer.send(pkt(PEER, CHIP, C.LUMEN_PKT_ACK, stream=x['stream'],
                          epoch=x['epoch'], msg=x['msg'], p=x['pkt'],
                          window=x['window'], offset=x['offset'],
                          size=x['size']), vc=ANS_VC)
    assert settle(qu) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == len(payload)
    got = {x['pkt']: x['payload'] for x in peer.data}
    assert b''.join(got[i] for i in range(64)) == payload
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0


# ---- Two cards on lumen-fabric ----------------------------------------------

def ring2_remote(env, args=(), props=('', '')):
    """ring:2: chip 0 port 0 (+x) - chip 1 port 1 (-x) carries chip 0's
    requests, chip 1 port 0 (+x) - chip 0 port 1 (-x) chip 1's answers."""
    fab, a, b = N.ring2(env, args, props)
    for c in (a, b):
        if not c.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_LINKS:
            raise Skip('CAPS.LINKS clear')
        for p in (0, 1):
            N.enable(c, p)
    for c in (a, b):
        for p in (0, 1):
            N.wait_state(c, p, C.LUMEN_LINK_UP)
    N.set_routes(a, {1: N.route_word(0)})
    N.set_routes(b, {0: N.route_word(0)})
    src = Space(a, SRC_CTX, 'host')
    src.map(L_HOST, HOST_T, 0x2000000, 4 * HUGE, huge=True)
    dst = Space(b, DST_CTX, 'device')
    dst.map(T_DEV, DEV_T, 0x4000000, 8 * HUGE, huge=True)
    open_window(b, W_DEV, T_DEV, 8 * HUGE)
    return fab, a, b, src, dst, Queue(a, 1, ctx=SRC_CTX)


@test
def request_route_flaps(env):
    """The requests' fiber cut under an RWRITE, no alternative port: the
    message keeps resending while there is no route and completes when the
    link is back; cut for good, it fails UNREACHABLE at E2E_TIMEOUT_MS."""
    fab, a, b, src, dst, qu = ring2_remote(env, ('--rate', '20000000'))
    a.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 10000)
    payload = data(4 * HUGE, 12)
    src.vwrite(L_HOST, payload)
    qu.submit([rwrite(L_HOST, 0, len(payload), W_DEV, KEY, dst=1)])
    N.wait_reg(a, qreg(1, C.LUMEN_QREG_PROGRESS), lambda v: v > 0,
               'bytes confirmed')
    fab.call(cmd='cut', port='0.+x')
    N.wait_state(a, 0, C.LUMEN_LINK_DOWN)
    time.sleep(0.3)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    fab.call(cmd='restore', port='0.+x')
    assert settle(qu, 60) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    assert dst.vread(T_DEV, len(payload)) == payload
    assert a.reg(C.LUMEN_REG_E2E_RETRANSMITS) > 0
    # Cut for good: UNREACHABLE once E2E_TIMEOUT_MS passed, not TIMEOUT.
    a.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 300)
    a.clear_errors()
    qu.submit([rwrite(L_HOST, 0, len(payload), W_DEV, KEY, dst=1)])
    time.sleep(0.1)
    fab.call(cmd='cut', port='0.+x')
    expect_stop(qu, C.LUMEN_STATUS_UNREACHABLE, 1)
    N.expect_error(a, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_UNREACHABLE, 1)
    assert a.reg(C.LUMEN_REG_E2E_TIMEOUTS) == 0
    # A new message without a route fails at once.
    qu.reset()
    start = time.monotonic()
    qu.submit([rwrite(L_HOST, 0, 8, W_DEV, KEY, dst=1)])
    expect_stop(qu, C.LUMEN_STATUS_UNREACHABLE, 0)
    assert time.monotonic() - start < 0.25


@test
def answers_lost_exactly_once(env):
    """The answers' fiber cut: the source resends, the target recognises
    the duplicates; the atomic and the writes are applied once. Cut for
    longer than E2E_TIMEOUT_MS: TIMEOUT."""
    fab, a, b, src, dst, qu = ring2_remote(env)
    a.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 5000)
    payload = data(16 * PKT, 11)
    src.vwrite(L_HOST, payload)
    dst.vwrite(T_DEV + 0x200, struct.pack('<Q', 10))
    fab.call(cmd='cut', port='1.+x')
    N.wait_state(a, 1, C.LUMEN_LINK_DOWN)
    qu.submit([ratomic(L_HOST + 16 * PKT, 0x200, 5, W_DEV, KEY, dst=1),
               rwrite(L_HOST, 0x1000, len(payload), W_DEV, KEY, dst=1)])
    N.wait_reg(b, C.LUMEN_REG_E2E_DUPLICATES, lambda v: v >= 2,
               'duplicates at the target')
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    fab.call(cmd='restore', port='1.+x')
    assert settle(qu) == C.LUMEN_QSTS_IDLE
    assert struct.unpack('<Q', dst.vread(T_DEV + 0x200, 8))[0] == 15
    assert src.vread(L_HOST + 16 * PKT, 8) == struct.pack('<Q', 10)
    assert dst.vread(T_DEV + 0x1000, len(payload)) == payload
    assert a.reg(C.LUMEN_REG_E2E_RETRANSMITS) >= 2
    assert a.reg(C.LUMEN_REG_E2E_TIMEOUTS) == 0
    # Cut for good: TIMEOUT, ERR_LAST_INFO = the target.
    N.wait_state(a, 1, C.LUMEN_LINK_UP)
    a.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 300)
    fab.call(cmd='cut', port='1.+x')
    N.wait_state(a, 1, C.LUMEN_LINK_DOWN)
    a.clear_errors()
    qu.submit([ratomic(0, 0x200, 1, W_DEV, KEY, dst=1)])
    expect_stop(qu, C.LUMEN_STATUS_TIMEOUT, 2)
    N.expect_error(a, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_TIMEOUT, 1)
    assert a.reg(C.LUMEN_REG_E2E_TIMEOUTS) == 1
    # Applied once at the target, even though the source gave up.
    assert struct.unpack('<Q', dst.vread(T_DEV + 0x200, 8))[0] == 16
    fab.call(cmd='restore', port='1.+x')
    N.wait_state(a, 1, C.LUMEN_LINK_UP)
    qu.reset()
    run(qu, [ratomic(L_HOST, 0x200, 1, W_DEV, KEY, dst=1)])
    assert src.vread(L_HOST, 8) == struct.pack('<Q', 16)


# ---- RREDUCE: reductions into a window (13.7) -------------------------------

DT_F32, DT_F16, DT_BF16, DT_I32 = N.DT_F32, N.DT_F16, N.DT_BF16, N.DT_I32
SUM, MAX, MIN = C.LUMEN_REDOP_SUM, C.LUMEN_REDOP_MAX, C.LUMEN_REDOP_MIN


def rreduce(local, offset, size, window, key, dtype, op, dst=CHIP,
            reserved=0, **kw):
    return cmd(C.LUMEN_CMD_RREDUCE, (local, offset, size, dst | window << 32,
                                     key, dtype | op << 32, reserved), **kw)


def redop(dtype, op):
    """lumen_pkt_redop(): the aop byte of a REDUCE packet."""
    return dtype | op << 4


def reduce_card(env, props=''):
    q, card = remote_card(env, props)
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.REDUCE clear')
    return q, card


@test
def rreduce_loopback(env):
    """RREDUCE of every dtype x op by loopback, into device and scattered
    host pages of a window, from host, scattered and device pages: the
    window ends as the reference says, several packets and page
    boundaries included; PROGRESS counts the bytes confirmed."""
    q, card = reduce_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 4, ctx=SRC_CTX)
    places = [
        # (local, window, target offset)
        (L_HOST + 0x40, W_DEV, PAGE - 0x20),
        (L_SCAT + PAGE - 0x10, W_SCAT, 3 * PAGE - 0x48),
        (L_DEV + HUGE - 0x400, W_DEV, HUGE - 0x804),
    ]
    for dtype in (DT_F32, DT_F16, DT_BF16, DT_I32):
        # More than two packets: the specials, then random pairs.
        dval, sval = N.reduce_vectors(dtype, 2000 + dtype, random_pairs=(
            2 * PKT + 0x100) // N.DT_SIZE[dtype])
        size = len(dval)
        assert size > 2 * PKT
        for op in (SUM, MAX, MIN):
            for local, window, off in places:
                what = '%s %s window %d offset 0x%x' % (
                    N.DT_NAME[dtype], N.REDOP_NAME[op], window, off)
                tva = (T_DEV if window == W_DEV else T_SCAT) + off
                dst.vwrite(tva, dval)
                src.vwrite(local, sval)
                before = dst.vread_opt(tva - 16, 16)
                after = dst.vread_opt(tva + size, 16)
                want = N.ref_reduce(dtype, op, dval, sval)
                qu.reset()
                run(qu, [rreduce(local, off, size, window, KEY, dtype, op)])
                N.check_reduced(dtype, op, dst.vread(tva, size), want, dval,
                                sval, what)
                assert dst.vread_opt(tva - 16, 16) == before, what
                assert dst.vread_opt(tva + size, 16) == after, what
                assert src.vread(local, size) == sval, what
                assert qu.reg(C.LUMEN_QREG_PROGRESS) == size, what
    # Size 0 completes at once and touches nothing, even a closed window.
    qu.reset()
    run(qu, [rreduce(0xdead0000, 0, 0, 200, 0, DT_F32, SUM)])
    assert qu.reg(C.LUMEN_QREG_COMPLETED) == 1
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0
    c = counters(card)
    assert c['access'] == 0 and c['bad'] == 0 and c['dups'] == 0, c


@test
def rreduce_refused(env):
    """A window without the WRITE right (or a read-only or unmapped page,
    a wrong key) refuses an RREDUCE: ACCESS, and nothing changes."""
    q, card = reduce_card(env)
    src, dst = spaces(card)
    qu = Queue(card, 7, ctx=SRC_CTX)
    src.vwrite(L_HOST, data(4 * PKT, 5))
    dst.vwrite(T_DEV, data(4 * PKT, 6))
    dst.vwrite(T_RO, data(PAGE, 7))
    cases = [
        ('read right only', rreduce(L_HOST, 0, 3 * PKT, W_RONLY, KEY, DT_I32,
                                    SUM), (T_DEV, 4 * PKT)),
        ('wrong key', rreduce(L_HOST, 0, 64, W_DEV, KEY ^ 4, DT_F32, MAX),
         (T_DEV, 64)),
        ('read-only page', rreduce(L_HOST, 0x10, 0x20, W_RO, KEY, DT_F16,
                                   MIN), (T_RO, PAGE)),
        ('unmapped page', rreduce(L_HOST, PAGE - 8, 16, W_HOLE, KEY,
                                  DT_BF16, SUM), (T_HOLE, PAGE)),
        ('past the end', rreduce(L_HOST, 32 * PAGE - 4, 8, W_SCAT, KEY,
                                 DT_I32, SUM), (T_SCAT + 31 * PAGE, PAGE)),
    ]
    for what, c, keep in cases:
        card.clear_errors()
        qu.reset()
        snap = dst.vread(*keep)
        before = counters(card)
        qu.submit([nop(), c, nop()])
        try:
            expect_stop(qu, C.LUMEN_STATUS_ACCESS, 1)
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e))
        N.expect_error(card, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_ACCESS, CHIP)
        assert counters(card)['access'] > before['access'], what
        assert dst.vread(*keep) == snap, '%s: target changed' % what
        assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0, what
        assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0, what
    # The local side runs in the queue's context like COPY: an unmapped
    # source page is an MMU fault of the queue.
    card.clear_errors()
    qu.reset()
    qu.submit([nop(), rreduce(0x700000000, 0, 16, W_DEV, KEY, DT_F32, SUM)])
    expect_stop(qu, C.LUMEN_STATUS_MMU_FAULT, 1)
    assert card.reg64(C.LUMEN_REG_MMU_FAULT_ADDR_LO) == 0x700000000
    assert not card.reg(C.LUMEN_REG_MMU_FAULT_INFO) & \
        C.LUMEN_MMU_FAULT_WRITE_ACCESS
    card.wreg(C.LUMEN_REG_MMU_FAULT_STATUS, 1)
    # The WRITE right alone is enough.
    qu.reset()
    dst.vwrite(T_DEV, struct.pack('<2I', 5, 0xffffffff))
    src.vwrite(L_HOST, struct.pack('<2I', 7, 2))
    run(qu, [rreduce(L_HOST, 0, 8, W_WONLY, KEY, DT_I32, SUM)])
    assert dst.vread(T_DEV, 8) == struct.pack('<2I', 12, 1)
    assert counters(card)['bad'] == 0


@test
def rreduce_bad_descriptors(env):
    q, card = reduce_card(env)
    spaces(card)
    qu = Queue(card, 9, ctx=SRC_CTX)
    big = C.LUMEN_CMD_REMOTE_MAX_SIZE + 4
    bad = [
        ('unknown dtype', rreduce(L_HOST, 0, 8, W_DEV, KEY, C.LUMEN_DT_COUNT,
                                  SUM)),
        ('unknown op', rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_F32,
                               C.LUMEN_REDOP_COUNT)),
        ('op 0xffffffff', rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_F16,
                                  0xffffffff)),
        ('local misaligned', rreduce(L_HOST + 2, 0, 8, W_DEV, KEY, DT_F32,
                                     SUM)),
        ('local misaligned (f16)', rreduce(L_HOST + 1, 0, 8, W_DEV, KEY,
                                           DT_F16, SUM)),
        ('offset misaligned', rreduce(L_HOST, 2, 8, W_DEV, KEY, DT_I32,
                                      MAX)),
        ('size not whole', rreduce(L_HOST, 0, 6, W_DEV, KEY, DT_F32, SUM)),
        ('size not whole (bf16)', rreduce(L_HOST, 0, 7, W_DEV, KEY, DT_BF16,
                                          SUM)),
        ('size over the maximum', rreduce(L_HOST, 0, big, W_DEV, KEY, DT_F32,
                                          SUM)),
        ('reserved', rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_F32, SUM,
                             reserved=1)),
        ('dst_chip', rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_F32, SUM,
                             dst=C.LUMEN_CHIP_ID_MAX + 1)),
        ('window', rreduce(L_HOST, 0, 8, C.LUMEN_NUM_WINDOWS, KEY, DT_F32,
                           SUM)),
        ('flags', rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_F32, SUM, flags=4)),
    ]
    for what, c in bad:
        card.clear_errors()
        qu.reset()
        qu.submit([nop(), c])
        try:
            expect_stop(qu, C.LUMEN_STATUS_BAD_DESCRIPTOR, 1)
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e))
        N.expect_error(card, C.LUMEN_ERR_QUEUE_DESC,
                       C.LUMEN_STATUS_BAD_DESCRIPTOR, 9)
    assert counters(card)['access'] == 0
    # The limits themselves are fine.
    qu.reset()
    run(qu, [rreduce(L_HOST + 2, 6, 2, W_DEV, KEY, DT_BF16, MIN),
             rreduce(L_HOST + 4, 4, 4, W_DEV, KEY, DT_I32, SUM,
                     dst=CHIP)])


@test
def hostile_reduce(env):
    """REDUCE packets from another chip: applied once per packet (a
    duplicate or a stale packet is acknowledged, not reduced again), the
    WRITE right, the answer echoes aop; malformed ones are dropped and
    counted."""
    card, peer = peer_card(env)
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.REDUCE clear')
    src, dst = spaces(card)
    n = 0

    def req(payload=b'', **kw):
        kw.setdefault('window', W_DEV)
        kw.setdefault('key', KEY)
        return pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE, payload, **kw)

    def ok(raw, what, status=0):
        nonlocal n
        n += 1
        got = answer(peer, n, what, raw)
        h = N.parse_packet(raw)
        assert got['crc_ok'] and got['hop']['vc'] in (2, 3), what
        assert got['op'] == C.LUMEN_PKT_ACK and got['payload'] == b'', what
        assert (got['src'], got['dst'], got['stream'], got['epoch'],
                got['msg'], got['pkt'], got['aop'], got['window'],
                got['offset'], got['size']) == (
                    CHIP, PEER, h['stream'], h['epoch'], h['msg'], h['pkt'],
                    h['aop'], h['window'], h['offset'], h['size']), what
        assert got['status'] == status, '%s: status %d' % (
            what, got['status'])
        return got

    # An i32 SUM of 2 packets: message 1 of stream 1, epoch 1.
    rng = random.Random(5)
    size = PKT + 16
    dval = N.pack_elems(DT_I32, [rng.getrandbits(32)
                                 for _ in range(size // 4)])
    sval = N.pack_elems(DT_I32, [rng.getrandbits(32)
                                 for _ in range(size // 4)])
    once = N.pack_elems(DT_I32, N.ref_reduce(DT_I32, SUM, dval, sval))
    dst.vwrite(T_DEV + 0x40, dval)
    a = redop(DT_I32, SUM)
    p0 = req(sval[:PKT], aop=a, offset=0x40, size=size)
    p1 = req(sval[PKT:], aop=a, offset=0x40, size=size, p=1)
    ok(p0, 'reduce 0')
    ok(p1, 'reduce 1')
    assert dst.vread(T_DEV + 0x40, size) == once
    # Resent, with the same or other bytes: acknowledged, not reduced again.
    dups = card.reg(C.LUMEN_REG_E2E_DUPLICATES)
    ok(p0, 'reduce 0 resent')
    ok(p1, 'reduce 1 resent')
    ok(req(bytes(range(256)) * 16, aop=a, offset=0x40, size=size),
       'reduce 0, other bytes')
    assert card.reg(C.LUMEN_REG_E2E_DUPLICATES) == dups + 3
    assert dst.vread(T_DEV + 0x40, size) == once
    # A newer message; then the older one is stale: acknowledged only.
    f16 = redop(DT_F16, MAX)
    dval2, sval2 = N.reduce_vectors(DT_F16, 9, random_pairs=0)
    dst.vwrite(T_SCAT + 0x10, dval2)
    ok(req(sval2, aop=f16, msg=2, window=W_SCAT, offset=0x10,
           size=len(sval2)), 'f16 max, msg 2')
    N.check_reduced(DT_F16, MAX, dst.vread(T_SCAT + 0x10, len(dval2)),
                    N.ref_reduce(DT_F16, MAX, dval2, sval2), dval2, sval2,
                    'f16 max from a peer')
    ok(p0, 'stale reduce')
    assert card.reg(C.LUMEN_REG_E2E_DUPLICATES) == dups + 4
    assert dst.vread(T_DEV + 0x40, size) == once
    # The WRITE right is needed: ACCESS, nothing reduced, and the rest of
    # the message is refused too.
    access = card.reg(C.LUMEN_REG_ACCESS_ERRORS)
    snap = dst.vread(T_DEV, 2 * PKT)
    ok(req(sval[:PKT], aop=a, window=W_RONLY, msg=3, size=2 * PKT),
       'no write right', status=C.LUMEN_STATUS_ACCESS)
    ok(req(sval[:PKT], aop=a, window=W_RONLY, msg=3, size=2 * PKT, p=1),
       'no write right, packet 1', status=C.LUMEN_STATUS_ACCESS)
    assert card.reg(C.LUMEN_REG_ACCESS_ERRORS) == access + 2
    assert dst.vread(T_DEV, 2 * PKT) == snap
    # Malformed: dropped, counted, unanswered; nothing changes.
    f32 = redop(DT_F32, SUM)
    bad = [
        ('unknown dtype', REQ_VC, req(b'abcd', aop=redop(C.LUMEN_DT_COUNT,
                                                        SUM), msg=4)),
        ('dtype 0xf', REQ_VC, req(b'abcd', aop=0x0f, msg=4)),
        ('unknown op', REQ_VC, req(b'abcd', aop=redop(DT_F32,
                                                      C.LUMEN_REDOP_COUNT),
                                   msg=4)),
        ('aop 0xff', REQ_VC, req(b'abcd', aop=0xff, msg=4)),
        ('offset misaligned', REQ_VC, req(b'abcd', aop=f32, offset=2,
                                          msg=4)),
        ('offset misaligned (f16)', REQ_VC, req(b'ab', aop=redop(DT_F16, MIN),
                                                offset=1, msg=4)),
        ('size misaligned', REQ_VC, req(b'abcdef', aop=f32, msg=4)),
        ('size misaligned (bf16)', REQ_VC, req(b'abc', aop=redop(DT_BF16,
                                                                SUM),
                                               msg=4)),
        ('payload short', REQ_VC, req(b'abcd', aop=f32, size=8, msg=4)),
        ('payload long', REQ_VC, req(b'abcdefgh', aop=f32, size=4, msg=4)),
        ('arg set', REQ_VC, req(b'abcd', aop=f32, arg=1, msg=4)),
        ('status set', REQ_VC, req(b'abcd', aop=f32, status=1, msg=4)),
        ('size 0', REQ_VC, req(b'', aop=f32, size=0, msg=4)),
        ('request on the answer VC', ANS_VC, req(b'abcd', aop=f32, msg=4)),
    ]
    snap = dst.vread(T_DEV, 0x80)
    for what, vc, raw in bad:
        silent(card, peer, n, raw, vc, what)
    # A packet that disagrees with its message (another aop).
    ok(req(struct.pack('<I', 1), aop=f32, msg=5, offset=0x7c, size=4),
       'msg 5')
    silent(card, peer, n, req(struct.pack('<I', 1), aop=redop(DT_F32, MAX),
                              msg=5, offset=0x7c, size=4), REQ_VC,
           'packet of another reduction')
    assert dst.vread(T_DEV, 0x7c) == snap[:0x7c]
    assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def forged_reduce_answers(env):
    """RREDUCE towards a peer that answers what the test writes: REDUCE
    packets like RWRITE's WRITE packets, aop = lumen_pkt_redop(); answers
    must echo it; a packet left unanswered is resent unchanged."""
    card, peer = peer_card(env)
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.REDUCE clear')
    src, dst = spaces(card)
    qu = Queue(card, 2, ctx=SRC_CTX)
    card.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 2000)
    payload = data(2 * PKT + 6, 8)
    src.vwrite(L_HOST, payload)

    def reply(req, op=C.LUMEN_PKT_ACK, status=0, **kw):
        h = dict(stream=req['stream'], epoch=req['epoch'], msg=req['msg'],
                 p=req['pkt'], status=status, aop=req['aop'],
                 window=req['window'], offset=req['offset'],
                 size=req['size'])
        h.update(kw)
        peer.send(pkt(PEER, CHIP, op, **h), vc=ANS_VC)

    def copies(p):
        return [x for x in peer.data if x['op'] == C.LUMEN_PKT_REDUCE and
                x['pkt'] == p]

    a = redop(DT_F16, MAX)
    qu.submit([rreduce(L_HOST, 0x10, len(payload), W_SCAT, KEY, DT_F16, MAX,
                       dst=PEER)])
    peer.wait(lambda: len(peer.data) >= 3, 'three REDUCE packets')
    w = peer.data[:3]
    assert [p['pkt'] for p in w] == [0, 1, 2]
    assert all(p['op'] == C.LUMEN_PKT_REDUCE and p['aop'] == a and
               p['src'] == CHIP and p['dst'] == PEER and p['stream'] == 2 and
               p['key'] == KEY and p['window'] == W_SCAT and
               p['offset'] == 0x10 and p['size'] == len(payload) and
               p['arg'] == 0 and p['hop']['vc'] in (0, 1) for p in w)
    assert b''.join(p['payload'] for p in w) == payload
    # ACKs that do not echo the reduction: counted, ignored.
    bad = card.reg(C.LUMEN_REG_BAD_PKTS)
    reply(w[0], aop=0)
    reply(w[0], aop=redop(DT_F16, MIN))
    reply(w[0], aop=0xff)
    reply(w[0], C.LUMEN_PKT_READ_RESP)
    N.wait_reg(card, C.LUMEN_REG_BAD_PKTS, lambda v: v == bad + 4,
               'ACKs without the reduction')
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == 0
    # Packets 0 and 2 answered; 1 is resent, unchanged.
    reply(w[0])
    reply(w[2])
    peer.wait(lambda: len(copies(1)) >= 2, 'packet 1 resent')
    last = copies(1)[-1]
    assert (last['payload'], last['aop'], last['epoch'], last['msg']) == (
        w[1]['payload'], a, w[1]['epoch'], w[1]['msg'])
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    reply(last)
    assert settle(qu) == C.LUMEN_QSTS_IDLE
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == len(payload)
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == bad + 4
    # A refusal fails the descriptor at once.
    card.clear_errors()
    qu.reset()
    k = len(peer.data)
    qu.submit([nop(), rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_I32, SUM,
                              dst=PEER)])
    peer.wait(lambda: len(peer.data) > k, 'REDUCE')
    reply(peer.data[k], status=C.LUMEN_STATUS_ACCESS)
    expect_stop(qu, C.LUMEN_STATUS_ACCESS, 1)
    N.expect_error(card, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_ACCESS, PEER)


@test
def rreduce_answers_lost_exactly_once(env):
    """The answers' fiber cut under an RREDUCE: the source resends its
    REDUCE packets and the target recognises every copy: each packet is
    reduced once."""
    fab, a, b, src, dst, qu = ring2_remote(env)
    if not a.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.REDUCE clear')
    a.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 5000)
    rng = random.Random(13)
    n = 16 * PKT
    sval = N.pack_elems(DT_I32, [rng.getrandbits(32) for _ in range(n // 4)])
    dval = N.pack_elems(DT_I32, [rng.getrandbits(32) for _ in range(n // 4)])
    once = N.pack_elems(DT_I32, N.ref_reduce(DT_I32, SUM, dval, sval))
    src.vwrite(L_HOST, sval)
    dst.vwrite(T_DEV + 0x1000, dval)
    fab.call(cmd='cut', port='1.+x')
    N.wait_state(a, 1, C.LUMEN_LINK_DOWN)
    qu.submit([rreduce(L_HOST, 0x1000, n, W_DEV, KEY, DT_I32, SUM, dst=1)])
    N.wait_reg(b, C.LUMEN_REG_E2E_DUPLICATES, lambda v: v >= 16,
               'a round of resent REDUCE packets at the target')
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert dst.vread(T_DEV + 0x1000, n) == once
    fab.call(cmd='restore', port='1.+x')
    assert settle(qu) == C.LUMEN_QSTS_IDLE
    assert dst.vread(T_DEV + 0x1000, n) == once
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == n
    assert a.reg(C.LUMEN_REG_E2E_RETRANSMITS) >= 16
    assert a.reg(C.LUMEN_REG_E2E_TIMEOUTS) == 0


# ---- Exactly-once state only for requests a window accepts (13.7) -----------

def reduce_peer(env, props=''):
    card, peer = peer_card(env, props)
    if not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.REDUCE clear')
    return card, peer


def answers(card, peer):
    """ok(raw, what, status): send a request, expect its one answer (op,
    stream, epoch, msg, pkt and aop echoed), return it. quiet(raw, what):
    send one that must be dropped unanswered, not counted as malformed."""
    n = [len(peer.data)]

    def ok(raw, what, status=0):
        n[0] += 1
        got = answer(peer, n[0], what, raw)
        h = N.parse_packet(raw)
        want_op = {C.LUMEN_PKT_WRITE: C.LUMEN_PKT_ACK,
                   C.LUMEN_PKT_REDUCE: C.LUMEN_PKT_ACK,
                   C.LUMEN_PKT_READ_REQ: C.LUMEN_PKT_READ_RESP,
                   C.LUMEN_PKT_ATOMIC: C.LUMEN_PKT_ATOMIC_RESP}[h['op']]
        assert got['crc_ok'] and got['op'] == want_op, what
        assert (got['src'], got['dst'], got['stream'], got['epoch'],
                got['msg'], got['pkt'], got['aop']) == (
                    CHIP, PEER, h['stream'], h['epoch'], h['msg'], h['pkt'],
                    h['aop']), what
        assert got['status'] == status, '%s: status %d, expected %d' % (
            what, got['status'], status)
        return got

    def quiet(raw, what):
        bad = card.reg(C.LUMEN_REG_BAD_PKTS)
        peer.send(raw, vc=REQ_VC)
        time.sleep(0.2)
        assert len(peer.data) == n[0], '%s: answered' % what
        assert card.reg(C.LUMEN_REG_BAD_PKTS) == bad, \
            '%s: counted as malformed' % what

    return ok, quiet


@test
def spoofed_requests_exactly_once(env):
    """Requests naming a live stream of another chip (its src_chip and
    stream, any epoch or message) but not an open window with its key,
    right and range are refused without touching the stream's exactly-once
    state: a resend of a REDUCE packet already applied is not reduced
    again, and its next packets are applied (not taken as stale)."""
    card, peer = reduce_peer(env)
    src, dst = spaces(card)
    ok, _ = answers(card, peer)
    rng = random.Random(17)
    size = 3 * PKT
    E, M = 0x1000, 7
    dval = N.pack_elems(DT_I32, [rng.getrandbits(32)
                                 for _ in range(size // 4)])
    sval = N.pack_elems(DT_I32, [rng.getrandbits(32)
                                 for _ in range(size // 4)])
    once = N.pack_elems(DT_I32, N.ref_reduce(DT_I32, SUM, dval, sval))
    a = redop(DT_I32, SUM)
    dst.vwrite(T_DEV, dval)

    def red(p):
        return pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE,
                   sval[p * PKT:(p + 1) * PKT], epoch=E, msg=M, p=p,
                   aop=a, window=W_DEV, key=KEY, size=size)

    def spoof(op, payload=b'', **kw):
        h = dict(epoch=E, msg=M, window=W_DEV, key=KEY, size=len(payload),
                 aop=a if op == C.LUMEN_PKT_REDUCE else 0)
        h.update(kw)
        return pkt(PEER, CHIP, op, payload, **h)

    ok(red(0), 'packet 0')
    after0 = once[:PKT] + dval[PKT:]
    assert dst.vread(T_DEV, size) == after0
    four = struct.pack('<I', 1)
    spoofs = [
        ('wrong key, far epoch', spoof(C.LUMEN_PKT_WRITE, b'spoof',
                                       key=KEY ^ 1, epoch=E ^ 0x80000000,
                                       msg=0)),
        ('wrong key, next epoch', spoof(C.LUMEN_PKT_REDUCE, four,
                                        key=KEY ^ 1, epoch=E + 1, msg=0)),
        ('wrong key, next message', spoof(C.LUMEN_PKT_ATOMIC, size=8,
                                          offset=0x100, key=KEY ^ 1,
                                          msg=M + 1, arg=1)),
        ('wrong key, same message', spoof(C.LUMEN_PKT_REDUCE, four,
                                          key=KEY ^ 1, p=0)),
        ('closed window, far epoch', spoof(C.LUMEN_PKT_WRITE, b'x',
                                           window=200, epoch=E + 0x40000000)),
        ('no such window', spoof(C.LUMEN_PKT_WRITE, b'x', window=300,
                                 msg=M + 1)),
        ('right missing, next message', spoof(C.LUMEN_PKT_READ_REQ,
                                              window=W_WONLY, size=16,
                                              msg=M + 1)),
        ('right missing, far epoch', spoof(C.LUMEN_PKT_REDUCE, four,
                                           window=W_RONLY,
                                           epoch=E + 0x10000000)),
        ('beyond the window, next epoch', spoof(C.LUMEN_PKT_REDUCE,
                                                bytes(8), window=W_SCAT,
                                                offset=32 * PAGE - 4,
                                                epoch=E + 1)),
    ]
    access = card.reg(C.LUMEN_REG_ACCESS_ERRORS)
    dups = card.reg(C.LUMEN_REG_E2E_DUPLICATES)
    for i, (what, raw) in enumerate(spoofs):
        ok(raw, what, status=C.LUMEN_STATUS_ACCESS)
        ok(red(0), 'packet 0 resent after: ' + what)
        assert dst.vread(T_DEV, size) == after0, \
            'packet 0 reduced again after: ' + what
        assert card.reg(C.LUMEN_REG_E2E_DUPLICATES) == dups + i + 1, what
    assert card.reg(C.LUMEN_REG_ACCESS_ERRORS) == access + len(spoofs)
    # The message goes on: its other packets are applied, once.
    ok(red(2), 'packet 2')
    ok(red(1), 'packet 1')
    ok(red(1), 'packet 1 resent')
    assert dst.vread(T_DEV, size) == once
    assert dst.vread(T_SCAT + 32 * PAGE - 4, 4) == bytes(4)
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0
    assert card.reg(C.LUMEN_REG_MMU_FAULT_STATUS) == 0


@test
def stream_table_full(env):
    """x-remote-streams=2 (test-only property): with both entries in use
    (packets within E2E_TIMEOUT_MS's maximum), a request of a third stream
    is dropped unanswered and uncounted as malformed, so that the source
    resends it later, instead of evicting a live stream: a resend of an
    applied REDUCE packet of the oldest stream is still not reduced again.
    Requests refused for their window take no entry; READ_REQs need none.
    (Evicting a stream silent for 60 s is not tested: too slow.)"""
    card, peer = reduce_peer(env, ',x-remote-streams=2')
    src, dst = spaces(card)
    ok, quiet = answers(card, peer)
    size = 2 * PKT
    a = redop(DT_I32, SUM)
    dst.vwrite(T_DEV, bytes(size))
    ones = N.pack_elems(DT_I32, [1] * (PKT // 4))

    def red(p, stream=1):
        return pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE, ones, stream=stream,
                   epoch=5, msg=1, p=p, aop=a, window=W_DEV, key=KEY,
                   size=size)

    ok(red(0), 'stream 1 packet 0')
    ok(pkt(PEER, CHIP, C.LUMEN_PKT_WRITE, b'two', stream=2, window=W_DEV,
           key=KEY, offset=0x4000), 'stream 2')
    # Refused for the key: answered, takes no entry.
    ok(pkt(PEER, CHIP, C.LUMEN_PKT_WRITE, b'bad', stream=3, window=W_DEV,
           key=KEY ^ 1, offset=0x5000), 'stream 3, wrong key',
       status=C.LUMEN_STATUS_ACCESS)
    # A valid request of a third stream: no room, no answer.
    third = pkt(PEER, CHIP, C.LUMEN_PKT_WRITE, b'three', stream=3,
                window=W_DEV, key=KEY, offset=0x5000)
    quiet(third, 'stream 3 with the table full')
    assert dst.vread(T_DEV + 0x5000, 5) == bytes(5)
    quiet(red(0, stream=4), 'stream 4 with the table full')
    assert card.q.guest_log().count('2 streams in use') == 2
    # A READ_REQ of a new stream is served all the same.
    got = ok(pkt(PEER, CHIP, C.LUMEN_PKT_READ_REQ, stream=4, window=W_DEV,
                 key=KEY, offset=0x4000, size=3), 'read of stream 4')
    assert got['payload'] == b'two'
    # Stream 1 was not evicted: its resend is a duplicate.
    dups = card.reg(C.LUMEN_REG_E2E_DUPLICATES)
    ok(red(0), 'stream 1 packet 0 resent')
    assert card.reg(C.LUMEN_REG_E2E_DUPLICATES) == dups + 1
    ok(red(1), 'stream 1 packet 1')
    assert dst.vread(T_DEV, size) == ones * 2
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0


# ---- A REDUCE packet whose write back fails or resets the target ------------

MMCFG = 0xb0000000          # q35 MMCONFIG base the test programs
T_CFG = 0xd00000000         # window VA: the card's config page, a RAM page
W_CFG = 13
RAM_PAGE = 0x3400000        # host RAM behind the window's second page


def cfg_window(card, dst):
    """W_CFG: page 0 is the card's own PCIe config space (through
    MMCONFIG), page 1 host RAM."""
    dst.map(T_CFG, HOST_T, MMCFG + (card.slot << 15), PAGE)
    dst.map(T_CFG + PAGE, HOST_T, RAM_PAGE, PAGE)
    open_window(card, W_CFG, T_CFG, 2 * PAGE)


@test
def reduce_write_fails_midway(env):
    """A REDUCE packet whose pieces are written one after the other: the
    first one clears the card's own bus-master enable (an i32 SUM into its
    COMMAND register through MMCONFIG), so writing the second one fails.
    The target answers ACCESS, and the packet counts as applied: a resend
    (bus mastering back on) is refused and reduces nothing again. Then an
    FLR written the same way resets the card half way through a packet:
    unanswered; after the card is set up again, the resend is refused and
    no second FLR happens."""
    card, peer = reduce_peer(env)
    q = card.q
    q.outl(0xcf8, 0x80000064)
    q.outl(0xcfc, 0)
    q.outl(0xcf8, 0x80000060)
    q.outl(0xcfc, MMCFG | 1)
    src, dst = spaces(card)
    cfg_window(card, dst)
    ok, _ = answers(card, peer)
    a = redop(DT_I32, SUM)
    ram = data(PAGE, 23)
    q.memwrite(RAM_PAGE, ram)
    cmd0 = card.cfg_read16(0x04)
    assert cmd0 & 0x4, hex(cmd0)
    # Offset 4 of the window: COMMAND/STATUS on to the end of config
    # space, then the first 4 bytes of the RAM page. COMMAND - 4 clears
    # BUS MASTER; every other element adds 0.
    payload = struct.pack('<I', 0xfffffffc) + bytes(PKT - 4)
    raw = pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE, payload, epoch=3, msg=1,
              aop=a, window=W_CFG, key=KEY, offset=4, size=PKT)
    access = card.reg(C.LUMEN_REG_ACCESS_ERRORS)
    ok(raw, 'second piece unwritable', status=C.LUMEN_STATUS_ACCESS)
    assert card.cfg_read16(0x04) == cmd0 & ~0x4
    assert q.memread(RAM_PAGE, PAGE) == ram
    card.cfg_write16(0x04, cmd0)
    ok(raw, 'resent', status=C.LUMEN_STATUS_ACCESS)
    assert card.cfg_read16(0x04) == cmd0, 'the packet was reduced again'
    assert q.memread(RAM_PAGE, PAGE) == ram
    assert card.reg(C.LUMEN_REG_ACCESS_ERRORS) == access + 2
    # DEVCTL + Initiate FLR: the card resets under the first piece.
    devctl = card.find_cap(0x10) + 8
    dw = devctl & ~3
    payload = struct.pack('<I', 0x8000 << (8 * (devctl & 3))) + \
        bytes(PKT - 4)
    raw = pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE, payload, epoch=3, msg=2,
              aop=a, window=W_CFG, key=KEY, offset=dw, size=PKT)
    k = len(peer.data)
    peer.send(raw, vc=REQ_VC)
    deadline = time.monotonic() + 5
    while card.cfg_read16(0x04) & 0x6:
        assert time.monotonic() < deadline, 'no FLR'
        time.sleep(0.01)
    card.setup()
    N.enable(card, 0)
    N.wait_state(card, 0, C.LUMEN_LINK_UP)
    N.set_routes(card, {PEER: N.route_word(0)})
    src, dst = spaces(card)
    cfg_window(card, dst)
    assert len(peer.data) == k, 'a packet that reset the card was answered'
    card.clear_errors()
    ok, _ = answers(card, peer)
    ok(raw, 'resent after the FLR', status=C.LUMEN_STATUS_ACCESS)
    assert card.cfg_read16(0x04) & 0x6 == 0x6, 'a second FLR'
    assert card.reg(C.LUMEN_REG_MAGIC) == C.LUMEN_MAGIC
    assert q.memread(RAM_PAGE, PAGE) == ram
    assert card.reg(C.LUMEN_REG_BAD_PKTS) == 0


# ---- Migration with an RREDUCE or RATOMIC in flight -------------------------

L_AL = 0x500000000          # 256 MiB of VA, one device page again and again
T_AL = 0xe00000000          # the same for the window
W_AL = 14
SP_AL, DP_AL = 0xe000000, 0xe200000


@test
def rreduce_migration_blocked(env):
    """An RREDUCE in flight blocks migration (messages in flight and the
    target's exactly-once state do not migrate: the destination would run
    it again and reduce twice); it completes, the card then migrates, and
    nothing was reduced twice. While the VM is stopped a RATOMIC does not
    start: it runs once, on the destination, never on the source."""
    npu_c = os.path.join(N.REPO, 'qemu-device', 'hw', 'lumen-npu.c')
    with open(npu_c) as f:
        if 'vmstate_lumen_remote' not in f.read():
            raise Skip('lumen-npu.c does not migrate vmstate_lumen_remote')
    dev = ['-device', 'lumen-npu,addr=4.0,chip-id=%d' % CHIP]
    q = env.start(dev, 'src')
    card = Card(q, 4, 0xe0000000, 0xd0000000, 0xe0100000)
    card.soft_reset()
    caps = card.reg(C.LUMEN_REG_CAPS)
    if not caps & C.LUMEN_CAP_LINKS or not caps & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.LINKS or CAPS.REDUCE clear')
    src, dst = spaces(card)
    size = C.LUMEN_CMD_REMOTE_MAX_SIZE
    N.alias(src, L_AL, SP_AL, size)
    N.alias(dst, T_AL, DP_AL, size)
    open_window(card, W_AL, T_AL, size)
    # f16 SUM (slow enough to catch in flight): every element of the page
    # is reduced once per alias, by 0x3c3c, rounding to f16 each time.
    q.cmd('memset 0x%x 0x%x 0x3c' % (card.bar2 + SP_AL, HUGE))
    q.cmd('memset 0x%x 0x%x 0' % (card.bar2 + DP_AL, HUGE))
    acc = 0
    for _ in range(size // HUGE):
        acc = N.ref_element(DT_F16, SUM, acc, 0x3c3c)
    want = struct.pack('<H', acc)
    qu = Queue(card, 1, ctx=SRC_CTX)
    start = time.monotonic()
    qu.submit([rreduce(L_AL, 0, size, W_AL, KEY, DT_F16, SUM)])
    N.wait_reg(card, qreg(1, C.LUMEN_QREG_PROGRESS), lambda v: v > 0,
               'RREDUCE under way')
    q.hmp('stop')
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING, \
        'the RREDUCE ended before the test could migrate'
    state = os.path.join(env.workdir, 'state')
    out = q.hmp('migrate file:' + state)
    assert 'RREDUCE or RATOMIC is in flight' in out, out
    info = q.hmp('info migrate')
    assert 'Migration status' not in info and \
        'RREDUCE or RATOMIC is in flight' in info, info
    prog = qu.reg(C.LUMEN_QREG_PROGRESS)
    assert 0 < prog < size, prog
    # It goes on while the VM is stopped, and completes once.
    assert settle(qu, 120) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    print('       RREDUCE of %d MiB by loopback: %.1f s, migration refused '
          'after %d MiB' % (size >> 20, time.monotonic() - start,
                            prog >> 20))
    assert qu.reg(C.LUMEN_QREG_PROGRESS) == size
    assert q.memread(card.bar2 + DP_AL, HUGE) == want * (HUGE // 2)
    assert counters(card)['dups'] == 0
    # A RATOMIC while the VM is stopped: it waits.
    dst.vwrite(T_DEV + 0x100, struct.pack('<Q', 1000))
    src.vwrite(L_HOST, bytes(8))
    qu.submit([ratomic(L_HOST, 0x100, 5, W_DEV, KEY)])
    time.sleep(0.3)
    assert qu.reg(C.LUMEN_QREG_STATUS) == C.LUMEN_QSTS_RUNNING
    assert dst.vread(T_DEV + 0x100, 8) == struct.pack('<Q', 1000)
    d, dcard = migrate(env, q, card, dev)
    for sp in (src, dst):
        sp.card, sp.q = dcard, d
    qu.card = dcard
    assert settle(qu) == C.LUMEN_QSTS_IDLE, qu.reg(C.LUMEN_QREG_ERROR)
    assert dst.vread(T_DEV + 0x100, 8) == struct.pack('<Q', 1005)
    assert src.vread(L_HOST, 8) == struct.pack('<Q', 1000)
    assert d.memread(card.bar2 + DP_AL, HUGE) == want * (HUGE // 2)
    # The source, stopped after the migration, never ran the RATOMIC.
    time.sleep(0.2)
    assert q.memread(card.bar2 + 0x4000000 + 0x100, 8) == \
        struct.pack('<Q', 1000)


# ---- reduce=off: no CAPS.REDUCE ---------------------------------------------

@test
def reduce_off_target(env):
    """A card with reduce=off: CAPS.REDUCE clear, RREDUCE a malformed
    descriptor, and a REDUCE packet from a peer is refused (ACCESS,
    ACCESS_ERRORS; nothing reduced), so that the source fails at once
    instead of timing out; a malformed one is still dropped."""
    card, peer = peer_card(env, ',reduce=off')
    assert not card.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE
    src, dst = spaces(card)
    ok, _ = answers(card, peer)
    qu = Queue(card, 2, ctx=SRC_CTX)
    qu.submit([nop(), rreduce(L_HOST, 0, 8, W_DEV, KEY, DT_F32, SUM)])
    expect_stop(qu, C.LUMEN_STATUS_BAD_DESCRIPTOR, 1)
    card.clear_errors()
    dst.vwrite(T_DEV, data(2 * PKT, 3))
    snap = dst.vread(T_DEV, 2 * PKT)
    access = card.reg(C.LUMEN_REG_ACCESS_ERRORS)
    a = redop(DT_F16, MAX)
    for p in (0, 1, 0):
        got = ok(pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE, data(PKT, p), p=p,
                     aop=a, window=W_DEV, key=KEY, size=2 * PKT),
                 'REDUCE packet %d' % p, status=C.LUMEN_STATUS_ACCESS)
        assert (got['window'], got['offset'], got['size']) == (
            W_DEV, 0, 2 * PKT)
    assert card.reg(C.LUMEN_REG_ACCESS_ERRORS) == access + 3
    assert dst.vread(T_DEV, 2 * PKT) == snap
    silent(card, peer, len(peer.data),
           pkt(PEER, CHIP, C.LUMEN_PKT_REDUCE, b'abcd', aop=0xff,
               window=W_DEV, key=KEY), REQ_VC, 'unknown reduction')
    # WRITEs are served as ever.
    ok(pkt(PEER, CHIP, C.LUMEN_PKT_WRITE, b'still', msg=9, window=W_DEV,
           key=KEY), 'WRITE')
    assert dst.vread(T_DEV, 5) == b'still'
    assert card.reg(C.LUMEN_REG_ERR_STATUS) == 0


@test
def rreduce_to_reduce_off(env):
    """RREDUCE from a card with CAPS.REDUCE to one without (reduce=off, a
    second QEMU on lumen-fabric): the target refuses every REDUCE packet,
    the source fails the descriptor with ACCESS at once (not TIMEOUT), and
    the target's window is unchanged."""
    fab, a, b, src, dst, qu = ring2_remote(env, props=('', ',reduce=off'))
    if not a.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE:
        raise Skip('CAPS.REDUCE clear')
    assert not b.reg(C.LUMEN_REG_CAPS) & C.LUMEN_CAP_REDUCE
    a.wreg(C.LUMEN_REG_E2E_TIMEOUT_MS, 20000)
    src.vwrite(L_HOST, data(3 * PKT, 4))
    dst.vwrite(T_DEV, data(3 * PKT, 5))
    snap = dst.vread(T_DEV, 3 * PKT)
    a.clear_errors()
    start = time.monotonic()
    qu.submit([nop(), rreduce(L_HOST, 0, 3 * PKT, W_DEV, KEY, DT_BF16, SUM,
                              dst=1)])
    expect_stop(qu, C.LUMEN_STATUS_ACCESS, 1)
    assert time.monotonic() - start < 5, 'not failed at once'
    N.expect_error(a, C.LUMEN_ERR_LINK, C.LUMEN_STATUS_ACCESS, 1)
    assert b.reg(C.LUMEN_REG_ACCESS_ERRORS) >= 1
    assert a.reg(C.LUMEN_REG_E2E_TIMEOUTS) == 0
    assert dst.vread(T_DEV, 3 * PKT) == snap
    # RWRITE between the same cards works.
    qu.reset()
    run(qu, [rwrite(L_HOST, 0, 64, W_DEV, KEY, dst=1)])
    assert dst.vread(T_DEV, 64) == src.vread(L_HOST, 64)


# ---- Runner -----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--qemu')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('tests', nargs='*')
    args = ap.parse_args()
    qemu = N.find_qemu(args.qemu)
    selected = [t for t in TESTS if not args.tests or t.__name__ in args.tests]
    if not selected:
        sys.exit('qtest-lumen-remote: no such test; have: ' +
                 ' '.join(t.__name__ for t in TESTS))
    passed = failed = skipped = 0
    for t in selected:
        with tempfile.TemporaryDirectory(prefix='lumen-qtest-') as wd:
            env = Env(qemu, wd)
            err = skip = None
            try:
                t(env)
            except Skip as e:
                skip = e
            except Exception as e:       # noqa: BLE001 - report any failure
                err = e
                tb = traceback.format_exc()
            log = '\n'.join(q.guest_log() for q in env.all)
            if not env.close() and err is None:
                err = RuntimeError('QEMU exited during the test')
                tb = ''
            if skip is not None and err is None:
                skipped += 1
                print('skip   %s: %s' % (t.__name__, skip))
            elif err is None:
                passed += 1
                print('ok     %s' % t.__name__)
            else:
                failed += 1
                print('FAILED %s: %s' % (t.__name__, err))
                if args.verbose:
                    print(tb + '\n--- QEMU log ---\n' + log[-3000:])
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
