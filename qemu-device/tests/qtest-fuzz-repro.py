#!/usr/bin/python3
"""Replay the generic-fuzz reproducers of lumen-npu as qtest regressions.

Every qemu-device/tests/fuzz-repro/NAME.qtest is a qtest trace that once
crashed QEMU (made by qemu-device/fuzz/run-generic-fuzz: QTEST_LOG output
reordered by QEMU's scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py). Lines
starting with '#' are comments; a '# args: ...' line gives QEMU's arguments
(default: those run-generic-fuzz fuzzes with). The test sends the commands
one by one and passes if QEMU answers every one and is still alive at the
end; against the ASAN build (qemu-device/tests/qtest-asan) a sanitizer
report fails it as well.

A NAME.link file is an input of lumen-link-fuzz
(qemu-device/fuzz/lumen_link_fuzz.c), which feeds a link port's chardev and
so has no qtest trace: this script replays it itself, playing lumen-fabric
on a socket chardev and the CPU through qtest, with the harness's semantics
(`--dump FILE` prints its commands). A NAME.fabric file is an input of
lumen-fabric-fuzz (qemu-device/fabric/fuzz/fabric_fuzz.cpp): it is replayed
against the real lumen-fabric process (build/bin/lumen-fabric, or
$LUMEN_FABRIC) on its control and port sockets; it passes if the fabric is
alive at the end and still answers its control socket.

Usage: qemu-device/tests/qtest-fuzz-repro.py [--qemu PATH] [-v] [NAME|FILE...]
QEMU is --qemu, else $LUMEN_QEMU, else `qemu-device/build-qemu --print-path`.
The last line is "N passed, N failed"; exit status 1 on failure.
"""

import argparse
import os
import shlex
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TRACES = os.path.join(HERE, 'fuzz-repro')
# run-generic-fuzz's machine (generic-fuzz adds accel=qtest, -m 512M and
# -display none itself).
DEFAULT_ARGS = ('-machine q35,accel=qtest -m 512M -display none -nodefaults '
                '-device lumen-npu,mem-size=16M,queues=16')


def find_qemu(arg):
    if arg:
        return arg
    if os.environ.get('LUMEN_QEMU'):
        return os.environ['LUMEN_QEMU']
    out = subprocess.run([os.path.join(REPO, 'qemu-device', 'build-qemu'),
                          '--print-path'], stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit('qtest-fuzz-repro: no QEMU; run qemu-device/build-qemu')
    return out.stdout.strip().splitlines()[-1]


def load(path):
    args, cmds = DEFAULT_ARGS, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('# args:'):
                args = line[len('# args:'):].strip()
            elif line and not line.startswith('#'):
                cmds.append(line)
    return shlex.split(args), cmds


def replay(qemu, path, wd):
    """None if QEMU survived the trace, else why not."""
    args, cmds = load(path)
    err = open(os.path.join(wd, 'stderr'), 'w+')
    p = subprocess.Popen([qemu] + args + ['-qtest', 'stdio',
                                          '-qtest-log', 'none'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=err, text=True)
    why = None
    try:
        for i, c in enumerate(cmds):
            p.stdin.write(c + '\n')
            p.stdin.flush()
            while True:
                resp = p.stdout.readline()
                if not resp or not resp.startswith('IRQ'):
                    break
            if not resp:
                why = 'QEMU died at command %d of %d (%s)' % (i + 1,
                                                               len(cmds), c)
                break
        else:
            # One more round of the main loop, then QEMU must be alive.
            p.stdin.write('clock_step 0\n')
            p.stdin.flush()
            if not p.stdout.readline() or p.poll() is not None:
                why = 'QEMU died after the last command'
    except BrokenPipeError:
        why = 'QEMU died (broken pipe)'
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        err.seek(0)
        tail = err.read()[-2000:]
        err.close()
    if why:
        summary = [ln for ln in tail.splitlines()
                   if ln.startswith('SUMMARY:') or 'ERROR:' in ln or
                   ln.startswith('*** ')]
        why += ', exit status %s%s\n%s' % (
            p.returncode, ': ' + summary[-1] if summary else '', tail)
    return why


# ---- lumen-link-fuzz inputs (qemu-device/fuzz/lumen_link_fuzz.c) -----------

LINK_OPS = ('FEED', 'WRITE', 'READ', 'CLOCK', 'REOPEN', 'FRAME', 'TRAIN')
LINK_BAR0 = 0xe0000000
LINK_SLOT = 4
CARD_CHIP = 1
# lumen_fiber.h / lumen_link.h / lumen_regs.h
FIBER_MAGIC, FIBER_VERSION, FIBER_DATA = 0x464c, 1, 4
FIBER_MAX_PAYLOAD = 4096 + 512
FRAME_MIN, CRC_OFFSET, TRAIN_F_HEARD = 32, 24, 1
REG_PORT0_GENERATION = 0x800 + 0x40


def link_commands(data):
    """(op name, argument bytes) of each command, as the harness splits."""
    out = []
    for c in data.split(b'FUZZ'):
        if c:
            out.append((LINK_OPS[c[0] % len(LINK_OPS)], c[1:]))
    return out


def link_dump(path):
    with open(path, 'rb') as f:
        for op, arg in link_commands(f.read()):
            if op == 'WRITE' and len(arg) >= 6:
                off, val = struct.unpack_from('<HI', arg)
                print('WRITE  0x%04x 0x%08x' % (off & 0xfffc, val))
            elif op == 'READ' and len(arg) >= 2:
                print('READ   0x%04x' % (struct.unpack_from('<H', arg)[0]
                                         & 0xfffc))
            elif op == 'CLOCK':
                print('CLOCK  %d ns' % (struct.unpack_from('<I', arg)[0]
                                        if len(arg) >= 4 else 1000000))
            else:
                print('%-6s %s' % (op, arg.hex()))


def link_record(frame, train=False, card_gen=0):
    f = bytearray(frame[:FIBER_MAX_PAYLOAD])
    if not f:
        return b''
    if train and len(f) >= 32:
        flags = struct.unpack_from('<H', f, 10)[0] | TRAIN_F_HEARD
        struct.pack_into('<H', f, 10, flags)
        struct.pack_into('<I', f, 16, CARD_CHIP)
        f[20] = 0
        struct.pack_into('<I', f, 28, card_gen)
    if len(f) >= FRAME_MIN:
        struct.pack_into('<I', f, CRC_OFFSET, 0)
        struct.pack_into('<I', f, CRC_OFFSET, zlib.crc32(bytes(f)))
    return struct.pack('<HBBHHII', FIBER_MAGIC, FIBER_VERSION, FIBER_DATA, 0,
                       0, len(f), 0) + bytes(f)


class Fabric:
    """The port's far end: accepts the chardev, drains what it sends."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(2)
        self.srv.settimeout(10)
        self.conn = None

    def accept(self):
        self.conn, _ = self.srv.accept()
        conn = self.conn
        threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn):
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    def send(self, data):
        if data:
            self.conn.sendall(data)
            time.sleep(0.005)           # let the main loop read it

    def reopen(self):
        self.conn.close()
        self.accept()

    def close(self):
        if self.conn:
            self.conn.close()
        self.srv.close()


def link_replay(qemu, path, wd):
    """None if QEMU survived the input, else why not."""
    with open(path, 'rb') as f:
        cmds = link_commands(f.read())
    sock = os.path.join(wd, 'port0.sock')
    fab = Fabric(sock)
    err = open(os.path.join(wd, 'stderr'), 'w+')
    p = subprocess.Popen([
        qemu, '-machine', 'q35,accel=qtest', '-nodefaults', '-display',
        'none', '-m', '64M', '-chardev',
        'socket,id=p0,path=%s,reconnect-ms=20' % sock, '-device',
        'lumen-npu,addr=%02x.0,mem-size=16M,chip-id=%d,port0=p0' % (
            LINK_SLOT, CARD_CHIP), '-qtest', 'stdio', '-qtest-log', 'none'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)

    def qt(line):
        p.stdin.write(line + '\n')
        p.stdin.flush()
        while True:
            resp = p.stdout.readline()
            if not resp:
                raise EOFError(line)
            if not resp.startswith('IRQ'):
                return resp.split()

    def cfg(reg, val):
        qt('outl 0xcf8 0x%x' % (0x80000000 | LINK_SLOT << 11 | reg))
        qt('outl 0xcfc 0x%x' % val)

    why = None
    i = 0
    try:
        fab.accept()
        cfg(0x10, LINK_BAR0)
        cfg(0x04, 0x6)                  # memory space, bus master
        for i, (op, arg) in enumerate(cmds):
            if op == 'FEED':
                fab.send(arg)
            elif op == 'WRITE' and len(arg) >= 6:
                off, val = struct.unpack_from('<HI', arg)
                qt('writel 0x%x 0x%x' % (LINK_BAR0 + (off & 0xfffc), val))
            elif op == 'READ' and len(arg) >= 2:
                off = struct.unpack_from('<H', arg)[0] & 0xfffc
                qt('readl 0x%x' % (LINK_BAR0 + off))
            elif op == 'CLOCK':
                ns = struct.unpack_from('<I', arg)[0] if len(arg) >= 4 \
                    else 1000000
                qt('clock_step %d' % max(ns, 1))
            elif op == 'REOPEN':
                fab.reopen()
            elif op == 'FRAME':
                fab.send(link_record(arg))
            elif op == 'TRAIN':
                gen = int(qt('readl 0x%x' % (LINK_BAR0 +
                                             REG_PORT0_GENERATION))[1], 16)
                fab.send(link_record(arg, True, gen))
        time.sleep(0.1)
        qt('readl 0x%x' % LINK_BAR0)
    except (EOFError, BrokenPipeError, ConnectionError) as e:
        why = 'QEMU died at command %d of %d (%s: %s)' % (
            i + 1, len(cmds), type(e).__name__, e)
    except socket.timeout:
        why = 'the port did not connect (command %d)' % (i + 1)
    finally:
        fab.close()
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        err.seek(0)
        tail = err.read()[-2000:]
        err.close()
    if why:
        summary = [ln for ln in tail.splitlines()
                   if ln.startswith('SUMMARY:') or 'ERROR:' in ln or
                   ln.startswith('*** ')]
        why += ', exit status %s%s\n%s' % (
            p.returncode, ': ' + summary[-1] if summary else '', tail)
    return why


# ---- lumen-fabric-fuzz inputs (qemu-device/fabric/fuzz/fabric_fuzz.cpp) -----

def fabric_commands(data):
    """('port', K, bytes) | ('close', K) | ('control', line), as the harness
    reads them."""
    out, i = [], 0
    while i < len(data):
        if data[i] == 1 and len(data) - i >= 4:
            n = min(data[i + 2] | data[i + 3] << 8, len(data) - i - 4)
            out.append(('port', data[i + 1] % 4, data[i + 4:i + 4 + n]))
            i += 4 + n
            if i < len(data) and data[i] == 0x0a:
                i += 1
        else:
            j = data.find(b'\n', i)
            j = len(data) if j < 0 else j
            line = data[i:j]
            if len(line) >= 2 and line[0] == 2:
                out.append(('close', line[1] % 4))
            elif line:
                out.append(('control', line))
            i = j + 1
    return out


def fabric_dump(path):
    with open(path, 'rb') as f:
        for c in fabric_commands(f.read()):
            if c[0] == 'port':
                print('PORT %d  %s' % (c[1], c[2].hex()))
            elif c[0] == 'close':
                print('CLOSE %d' % c[1])
            else:
                print('CTRL    %r' % c[1])


def find_fabric():
    if os.environ.get('LUMEN_FABRIC'):
        return os.environ['LUMEN_FABRIC']
    return os.path.join(REPO, os.environ.get('BUILD', 'build'), 'bin',
                        'lumen-fabric')


def fabric_replay(path, wd):
    """None if lumen-fabric survived the input, else why not."""
    with open(path, 'rb') as f:
        cmds = fabric_commands(f.read())
    fabric = find_fabric()
    if not os.path.exists(fabric):
        return 'no lumen-fabric at %s (make userspace, or $LUMEN_FABRIC)' % fabric
    err = open(os.path.join(wd, 'stderr'), 'w+')
    p = subprocess.Popen([fabric, '--topology', 'ring:2', '--socket-dir', wd,
                          '--seed', '7', '--switch-ms', '1'],
                         stdout=subprocess.DEVNULL, stderr=err)
    ctl_path = os.path.join(wd, 'control.sock')
    why, conns, ctl = None, {}, None
    try:
        for _ in range(200):
            if os.path.exists(ctl_path):
                break
            time.sleep(0.01)
        ctl = socket.socket(socket.AF_UNIX)
        ctl.connect(ctl_path)
        ctl.settimeout(10)
        cf = ctl.makefile('rb')
        shutdown = False
        for c in cmds:
            if c[0] == 'port':
                if c[1] not in conns:
                    s_ = socket.socket(socket.AF_UNIX)
                    s_.connect(os.path.join(wd, 'ports.sock'))
                    conns[c[1]] = s_
                    threading.Thread(target=Fabric._drain, args=(s_,),
                                     daemon=True).start()
                try:
                    conns[c[1]].sendall(c[2])
                except OSError:
                    conns.pop(c[1]).close()     # the fabric closed it
            elif c[0] == 'close':
                if c[1] in conns:
                    conns.pop(c[1]).close()
                    time.sleep(0.02)    # the fabric sees it before a new HELLO
            else:
                ctl.sendall(c[1] + b'\n')
                if not cf.readline():
                    raise EOFError('control socket closed')
                if c[1].strip().startswith(b'{') and b'shutdown' in c[1]:
                    shutdown = True
                    break
            time.sleep(0.002)
        if not shutdown:
            ctl.sendall(b'{"cmd":"list"}\n')
            if not cf.readline() or p.poll() is not None:
                why = 'lumen-fabric died after the last command'
    except (OSError, EOFError) as e:
        why = 'lumen-fabric died or hung (%s: %s)' % (type(e).__name__, e)
    finally:
        for s_ in conns.values():
            s_.close()
        if ctl:
            ctl.close()
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        elif p.returncode not in (0, None) and not why:
            why = 'lumen-fabric exited with status %s' % p.returncode
        err.seek(0)
        tail = err.read()[-2000:]
        err.close()
    if why:
        why += '\n' + tail
    return why


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--qemu')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('--dump', metavar='FILE',
                    help='print the commands of a lumen-link-fuzz input')
    ap.add_argument('tests', nargs='*')
    args = ap.parse_args()
    if args.dump:
        (fabric_dump if args.dump.endswith('.fabric') else link_dump)(
            args.dump)
        return 0
    files = sorted(f for f in os.listdir(TRACES) if f.endswith(
        ('.qtest', '.link', '.fabric'))) if os.path.isdir(TRACES) else []
    sel = args.tests or files
    qemu = find_qemu(args.qemu) if any(
        not t.endswith('.fabric') for t in sel) else None
    names = [f.rsplit('.', 1)[0] for f in files]
    paths = {n: os.path.join(TRACES, f) for n, f in zip(names, files)}
    selected = []
    for t in args.tests or names:
        if t in paths:
            selected.append(t)
        elif os.path.isfile(t):         # a trace file anywhere
            paths[t] = t
            selected.append(t)
        else:
            sys.exit('qtest-fuzz-repro: no trace %s; have: %s' % (
                t, ' '.join(names)))
    passed = failed = 0
    for n in selected:
        with tempfile.TemporaryDirectory(prefix='lumen-fuzz-repro-') as wd:
            if paths[n].endswith('.fabric'):
                why = fabric_replay(paths[n], wd)
            else:
                why = (link_replay if paths[n].endswith('.link') else
                       replay)(qemu, paths[n], wd)
        if why is None:
            passed += 1
            print('ok     %s' % n)
        else:
            failed += 1
            print('FAILED %s: %s' % (n, why.splitlines()[0]))
            if args.verbose:
                print(why)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
