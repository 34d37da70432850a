/*
 * lumen-link-fuzz: a hostile or broken peer on a lumen-npu link port.
 *
 * QEMU fuzz target (built into qemu-fuzz-x86_64 by qemu-device/build-qemu
 * --fuzz, which copies this file to tests/qtest/fuzz/). The card (chip 1,
 * 16 MiB, port 0 on a ringbuf chardev, which never blocks the transmit
 * side) is driven by commands separated by "FUZZ", as generic-fuzz's are;
 * the first byte of a command is its opcode (mod LINK_OP_COUNT):
 *
 *   FEED   the rest of the command goes to port 0 as if from lumen-fabric:
 *          records (hw-spec 13.1: HELLO_ACK, LIGHT, DATA frames), in one
 *          piece or cut anywhere
 *   WRITE  le16 BAR0 offset, le32 value: a register write
 *   READ   le16 BAR0 offset: a register read
 *   CLOCK  le32 ns (at least 1): QEMU_CLOCK_VIRTUAL steps (the link's timers run on
 *          QEMU_CLOCK_REALTIME and fire as real time passes)
 *   REOPEN the socket closes and opens again (a restarted fabric): the port
 *          sends a new HELLO and waits for HELLO_ACK
 *   FRAME  the rest is a link frame: its CRC (offset 24) is made right and
 *          it goes to the port in a fiber DATA record (so that mutations
 *          reach the link layer behind the CRC check; FEED has the rest)
 *   TRAIN  like FRAME, for a training frame that says it heard the card's
 *          port 0 (F_HEARD, chip 1, port 0 and the port's GENERATION, which
 *          a real neighbour learns from the card's own training frames and
 *          which changes on every retrain, also across inputs)
 *
 * Every input starts with the socket reopened and the machine reset after
 * the previous input. Seeds: qemu-device/fuzz/gen-seeds.py --link.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "chardev/char.h"
#include "tests/qtest/libqtest.h"
#include "tests/qtest/libqos/pci-pc.h"
#include "fuzz.h"
#include <zlib.h>
/* The contract headers, as build-qemu copies them into the tree. */
#include "../../../hw/misc/lumen/include/lumen/lumen_regs.h"
#include "../../../hw/misc/lumen/include/lumen/lumen_fiber.h"
#include "../../../hw/misc/lumen/include/lumen/lumen_link.h"

#define SEPARATOR "FUZZ"
#define PORT_CHARDEV "lumen-fuzz-port0"
#define CARD_DEVFN QPCI_DEVFN(4, 0)

enum { LINK_FEED, LINK_WRITE, LINK_READ, LINK_CLOCK, LINK_REOPEN,
       LINK_FRAME, LINK_TRAIN, LINK_OP_COUNT };

#define CARD_CHIP           1

static Chardev *port_chr;

/* $QEMU_FUZZ_ARGS adds arguments (e.g. -trace 'lumen_link_*'). */
static GString *link_cmdline(FuzzTarget *t)
{
    GString *cmd = g_string_new(TARGET_NAME " -machine q35,accel=qtest"
                                " -nodefaults -display none -m 64M"
                                " -chardev ringbuf,id=" PORT_CHARDEV
                                ",size=65536 -device lumen-npu,addr=04.0,"
                                "mem-size=16M,chip-id=1,port0=" PORT_CHARDEV);

    if (getenv("QEMU_FUZZ_ARGS")) {
        g_string_append_printf(cmd, " %s", getenv("QEMU_FUZZ_ARGS"));
    }
    return cmd;
}

static void link_pre_fuzz(QTestState *s)
{
    port_chr = qemu_chr_find(PORT_CHARDEV);
    g_assert(port_chr);
}

static void feed(const uint8_t *buf, size_t len)
{
    while (len) {
        int n = qemu_chr_be_can_write(port_chr);

        if (n <= 0) {
            main_loop_wait(false);
            n = qemu_chr_be_can_write(port_chr);
            if (n <= 0) {
                return;         /* the port reads no more: drop the rest */
            }
        }
        n = MIN((size_t)n, len);
        qemu_chr_be_write(port_chr, buf, n);
        buf += n;
        len -= n;
    }
}

/* @f as a DATA record, CRC fixed; for TRAIN, heard the card's port 0. */
static void send_frame(const uint8_t *f, size_t len, bool train,
                       uint32_t card_gen)
{
    uint8_t buf[sizeof(struct lumen_fiber_hdr) + LUMEN_FIBER_MAX_PAYLOAD];
    struct lumen_fiber_hdr *h = (struct lumen_fiber_hdr *)buf;
    uint8_t *fr = buf + sizeof(*h);
    struct lumen_link_train *t = (struct lumen_link_train *)fr;
    uLong crc;

    if (!len) {
        return;
    }
    len = MIN(len, LUMEN_FIBER_MAX_PAYLOAD);
    memcpy(fr, f, len);
    if (train && len >= sizeof(*t)) {
        t->flags = cpu_to_le16(le16_to_cpu(t->flags) | LUMEN_TRAIN_F_HEARD);
        t->peer_chip = cpu_to_le32(CARD_CHIP);
        t->peer_port = 0;
        t->peer_generation = cpu_to_le32(card_gen);
    }
    if (len >= LUMEN_LINK_FRAME_MIN) {
        stl_le_p(fr + LUMEN_LINK_CRC_OFFSET, 0);
        crc = crc32(crc32(0L, Z_NULL, 0), fr, len);
        stl_le_p(fr + LUMEN_LINK_CRC_OFFSET, crc);
    }
    memset(h, 0, sizeof(*h));
    h->magic = cpu_to_le16(LUMEN_FIBER_MAGIC);
    h->version = LUMEN_FIBER_VERSION;
    h->type = LUMEN_FIBER_DATA;
    h->len = cpu_to_le32(len);
    feed(buf, sizeof(*h) + len);
}

static void reopen(void)
{
    qemu_chr_be_event(port_chr, CHR_EVENT_CLOSED);
    qemu_chr_be_event(port_chr, CHR_EVENT_OPENED);
}

static void link_fuzz(QTestState *s, const unsigned char *data, size_t size)
{
    QPCIBus *bus = qpci_new_pc(s, NULL);
    QPCIDevice *dev = qpci_device_find(bus, CARD_DEVFN);
    QPCIBar bar0;
    const unsigned char *cmd = data, *next;
    uint16_t off;
    uint32_t val;

    g_assert(dev);
    bar0 = qpci_iomap(dev, 0, NULL);
    qpci_device_enable(dev);
    reopen();
    flush_events(s);

    while (cmd && size) {
        size_t len;

        next = memmem(cmd, size, SEPARATOR, strlen(SEPARATOR));
        len = next ? next - cmd : size;
        if (len > 0) {
            const unsigned char *arg = cmd + 1;
            size_t alen = len - 1;

            switch (cmd[0] % LINK_OP_COUNT) {
            case LINK_FEED:
                feed(arg, alen);
                break;
            case LINK_WRITE:
                if (alen >= 6) {
                    off = lduw_le_p(arg) & 0xfffc;
                    val = ldl_le_p(arg + 2);
                    qpci_io_writel(dev, bar0, off, val);
                }
                break;
            case LINK_READ:
                if (alen >= 2) {
                    off = lduw_le_p(arg) & 0xfffc;
                    qpci_io_readl(dev, bar0, off);
                }
                break;
            case LINK_CLOCK:
                val = alen >= 4 ? ldl_le_p(arg) : 1000000;
                qtest_clock_step(s, MAX(val, 1));   /* 0 would FAIL */
                break;
            case LINK_REOPEN:
                reopen();
                break;
            case LINK_FRAME:
                send_frame(arg, alen, false, 0);
                break;
            case LINK_TRAIN:
                send_frame(arg, alen, true, qpci_io_readl(dev, bar0,
                           LUMEN_REG_LINK(0, LUMEN_LREG_GENERATION)));
                break;
            }
            flush_events(s);
        }
        cmd = next ? next + strlen(SEPARATOR) : NULL;
        size -= len + (next ? strlen(SEPARATOR) : 0);
    }
    g_free(dev);
    qpci_free_pc(bus);
    fuzz_reset(s);
}

static void register_lumen_link_fuzz(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "lumen-link-fuzz",
        .description = "lumen-npu link port 0 fed by a hostile peer "
                       "(qemu-device/fuzz/lumen_link_fuzz.c)",
        .get_init_cmdline = link_cmdline,
        .pre_fuzz = link_pre_fuzz,
        .fuzz = link_fuzz,
    });
}

fuzz_target_init(register_lumen_link_fuzz);
