#!/usr/bin/env python3
"""Writes the small seed corpus of every fuzz target into corpus/<target>/.

The seeds are hand-made programs in each target's input format (see the
comment at the top of each fuzz_*.c): enough for the fuzzer to start from a
working device or a loadable kernel, small enough to commit. Run it again
after changing an input format:  python3 tests/fuzz/gen-corpus.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
only = set(sys.argv[1:])


def seed(target, name, data):
    if only and target not in only:
        return
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


def le16(v): return struct.pack("<H", v & 0xffff)
def le32(v): return struct.pack("<I", v & 0xffffffff)
def le64(v): return struct.pack("<Q", v & 0xffffffffffffffff)


# ---- uart: op%4: 0 read(a), 1 write(a, v), 2 receive(n, bytes), 3 write reg op>>2 ----
def uw(reg, v): return bytes([3 | (reg << 2), v])
def ur(reg): return bytes([0, reg])

probe = (uw(3, 0x80) + uw(0, 1) + uw(1, 0) + uw(3, 0x03) + uw(2, 0xc7) + uw(4, 0x0b) +
         ur(2) + ur(5) + ur(6) + uw(1, 0x0f) + ur(2) + uw(0, ord('h')) + uw(0, ord('i')) +
         ur(2) + ur(5))
seed("fuzz_uart", "probe", probe)
seed("fuzz_uart", "receive", uw(4, 0x0b) + uw(1, 0x01) + bytes([2, 20]) + b"abcdefghijklmnopqrst" +
     ur(2) + ur(5) + ur(0) * 17 + ur(5))
seed("fuzz_uart", "loopback", uw(4, 0x1f) + ur(6) + uw(0, 0x55) + ur(5) + ur(0) +
     uw(2, 0x01) + uw(0, 1) * 17 + ur(5) + uw(2, 0x03) + ur(0) + uw(4, 0x0b) + ur(6))


# ---- x86 kernels: a configuration byte, then the file ----
def bzimage(version=0x020f, xlf=1, init_size=0x400000, pref=0x1000000, align=0x200000,
            cmdline_size=2047, initrd_max=0x7fffffff, sects=1, pm=512):
    setup = (sects + 1) * 512
    img = bytearray(setup + pm)
    img[0x1f1] = sects
    img[0x1fe:0x200] = le16(0xaa55)
    img[0x200] = 0xeb
    img[0x201] = 0x6a
    img[0x202:0x206] = le32(0x53726448)
    img[0x206:0x208] = le16(version)
    img[0x211] = 1
    img[0x22c:0x230] = le32(initrd_max)
    img[0x230:0x234] = le32(align)
    img[0x234] = 1
    img[0x236:0x238] = le16(xlf)
    img[0x238:0x23c] = le32(cmdline_size)
    img[0x258:0x260] = le64(pref)
    img[0x260:0x264] = le32(init_size)
    for i in range(setup, len(img)):
        img[i] = (i * 7) & 0xff
    return bytes(img)


seed("fuzz_bzimage", "plain", b"\x00" + bzimage())
seed("fuzz_bzimage", "initrd", b"\x05" + bzimage())
seed("fuzz_bzimage", "cmdline", b"\x12" + bzimage(cmdline_size=255))
seed("fuzz_bzimage", "big-init", b"\x02" + bzimage(init_size=0x3000000, sects=0))


def elf_pvh(loads=((0x1000000, 0x200, 0x400),), entry=0x1000040, note=True):
    phnum = len(loads) + (1 if note else 0)
    ehdr = bytearray(64)
    ehdr[0:4] = b"\x7fELF"
    ehdr[4] = 2          # ELFCLASS64
    ehdr[5] = 1          # little-endian
    ehdr[6] = 1
    ehdr[16:18] = le16(2)
    ehdr[18:20] = le16(62)   # EM_X86_64
    ehdr[20:24] = le32(1)
    ehdr[32:40] = le64(64)   # phoff
    ehdr[52:54] = le16(64)
    ehdr[54:56] = le16(56)   # phentsize
    ehdr[56:58] = le16(phnum)
    data_off = 64 + 56 * phnum
    phdrs = bytearray()
    body = bytearray()
    if note:
        n = le32(4) + le32(4) + le32(18) + b"Xen\x00" + le32(entry)
        phdrs += le32(4) + le32(4) + le64(data_off) + le64(0) + le64(0) + le64(len(n)) + le64(len(n)) + le64(4)
        body += n
    for paddr, filesz, memsz in loads:
        off = data_off + len(body)
        phdrs += le32(1) + le32(7) + le64(off) + le64(paddr | 0xffffffff80000000) + le64(paddr) + le64(filesz) + le64(memsz) + le64(0x200000)
        body += bytes((i * 3) & 0xff for i in range(filesz))
    return bytes(ehdr + phdrs + body)


seed("fuzz_elf_pvh", "plain", b"\x00" + elf_pvh())
seed("fuzz_elf_pvh", "two-loads", b"\x05" + elf_pvh(loads=((0x1000000, 0x100, 0x1000), (0x1200000, 0x80, 0x80))))
seed("fuzz_elf_pvh", "no-note", b"\x00" + elf_pvh(note=False))


# ---- arm64 Image: a configuration byte, then the file ----
def arm64_image(text_offset=0, image_size=0x200000, flags=0xa, body=256):
    img = bytearray(64 + body)
    img[0:4] = le32(0x91005a4d)
    img[4:8] = le32(0x14000000)
    img[8:16] = le64(text_offset)
    img[16:24] = le64(image_size)
    img[24:32] = le64(flags)
    img[0x38:0x3c] = le32(0x644d5241)
    for i in range(64, len(img)):
        img[i] = (i * 5) & 0xff
    return bytes(img)


seed("fuzz_arm64_image", "plain", b"\x04" + arm64_image())
seed("fuzz_arm64_image", "initrd", b"\x14" + arm64_image(text_offset=0x80000))
seed("fuzz_arm64_image", "old", b"\x24" + arm64_image(image_size=0))
seed("fuzz_arm64_image", "big-endian", b"\x06" + arm64_image(flags=0xb))


# ---- virtqueues: set-up bytes, then ops (fuzz_virtq.c) ----
def vq_chain(segs, indirect=False, publish=True, xor=0, id_=0):
    b = bytes([0, len(segs) - 1, (1 if indirect else 0) | (2 if publish else 0) | (xor << 2)]) + le16(id_)
    for off, ln, w in segs:
        b += bytes([0]) + le16(off) + le16(ln) + bytes([1 if w else 0])
    return b


def vq_prog(placement=0):
    p = b""
    p += vq_chain([(0, 16, False), (0x100, 512, True), (0x400, 1, True)])
    p += vq_chain([(0x800, 64, False), (0x900, 64, True)], indirect=True, id_=1)
    p += bytes([4, 3]) + bytes([5, 1, 0]) + le32(513) + le32(64)
    p += bytes([6, 9, 7, 1, 8])
    p += vq_chain([(0xa00, 8, False)], id_=2) + bytes([4, 0, 5, 0, 1]) + le32(0) + bytes([6, 10, 1]) + le16(3)
    p += bytes([11]) + vq_chain([(0, 16, True)]) + bytes([4, 0, 5, 0, 0]) + le32(16) + bytes([6, 9])
    return p


for name, b0 in (("basic", 0x04), ("event-idx", 0x1c), ("end-of-ram", 0x5c), ("region1", 0x9c)):
    seed("fuzz_virtq_split", name, bytes([b0, 15, 0]) + vq_prog())
    seed("fuzz_virtq_packed", name, bytes([b0, 15, 0]) + vq_prog())
seed("fuzz_virtq_split", "legacy-be", bytes([0x3c, 15, 0]) + vq_prog())


# ---- virtio-mmio (fuzz_mmio.c) ----
def t_chain(q, segs, indirect=False, publish=True):
    b = bytes([q, len(segs) - 1, (1 if indirect else 0) | (2 if publish else 0)]) + le16(0)
    for off, ln, w in segs:
        b += bytes([0]) + le16(off) + le16(ln) + bytes([1 if w else 0])
    return b


def mmio_prog(nq, mask_hi=0xffffffff, qs=4):
    p = bytes([2]) + le32(0xffffffff) + le32(mask_hi) + bytes([qs])
    for q in range(nq):
        p += bytes([3]) + t_chain(q, [(0x100 * q, 16, False), (0x4000 + 0x100 * q, 64, True)])
        p += bytes([3]) + t_chain(q, [(0x8000, 32, False), (0x9000, 32, True)], indirect=True)
        p += bytes([4, q, 5, q, 6, 7, q])
    p += bytes([1]) + le16(0x70 // 4) + le32(0)        # status 0: reset
    return p


seed("fuzz_mmio", "modern-split", bytes([0x50]) + mmio_prog(1, mask_hi=1))
seed("fuzz_mmio", "modern-packed", bytes([0x52]) + mmio_prog(2, mask_hi=0xffffffff, qs=9))
seed("fuzz_mmio", "legacy", bytes([0x51]) + mmio_prog(1))
seed("fuzz_mmio", "legacy-be", bytes([0x73]) + mmio_prog(2))
seed("fuzz_mmio", "many-queues", bytes([0x5e]) + mmio_prog(3, mask_hi=1))
seed("fuzz_mmio", "registers", bytes([0x00]) + b"".join(bytes([0]) + le16(r) for r in range(0, 0x40)) +
     bytes([0]) + le16(0x8000 | 0x100) + bytes([0]) + bytes([1]) + le16(0x8000 | 0x104) + bytes([2]) + le32(0x1234))


# ---- virtio-pci (fuzz_pci.c) ----
def pci_queues(nq, legacy=False):
    p = b""
    for q in range(nq):
        p += bytes([7]) + t_chain(q, [(0x100 * q, 16, False), (0x4000 + 0x100 * q, 64, True)])
        p += bytes([7]) + t_chain(q, [(0x8000, 32, False), (0x9000, 32, True)], indirect=True)
        p += bytes([8, q, 1 if legacy else 0, 9, q, 11, 1 if legacy else 0, 12, q])
    return p


msix_on = bytes([10, 1, 0, 3]) + le32(0) + bytes([10, 1, 1, 3]) + le32(0) + bytes([10, 1, 2, 3]) + le32(0)
seed("fuzz_pci", "modern", bytes([0x40]) + bytes([4, 0]) + bytes([5]) + le32(0xffffffff) + le32(1) + bytes([4, 0]) + pci_queues(1))
seed("fuzz_pci", "modern-msix", bytes([0x52]) + bytes([4, 1]) + msix_on + bytes([5]) + le32(0xffffffff) + le32(1) + bytes([4, 3]) + pci_queues(2))
seed("fuzz_pci", "packed", bytes([0x50]) + bytes([4, 0]) + bytes([5]) + le32(0xffffffff) + le32(0xffffffff) + bytes([9, 0]) + pci_queues(1))
seed("fuzz_pci", "legacy", bytes([0x51]) + bytes([4, 0]) + bytes([6]) + le32(0xffffffff) + pci_queues(1, legacy=True))
seed("fuzz_pci", "legacy-be-msix", bytes([0x73]) + bytes([4, 0]) + msix_on + bytes([6]) + le32(0xffffffff) + pci_queues(2, legacy=True))
sizing = b""
for reg in (0x10, 0x14, 0x18, 0x1c, 0x20, 0x24):
    sizing += bytes([1, 1]) + le16(reg) + bytes([2]) + le32(0xffffffff) + bytes([0, 1]) + le16(reg) + bytes([2])
seed("fuzz_pci", "config", bytes([0x01]) + sizing + b"".join(bytes([0, 1]) + le16(r) + bytes([2]) for r in range(0, 0x100, 4)) +
     bytes([2]) + le32(0x80000800) + bytes([0x08]) + bytes([13, 4]) + le16(0x14) + bytes([2, 0]))


# ---- virtio-blk (fuzz_blk.c) ----
def blk_req(q, tsel, sector, ndata=1, dlen=0x8001, fill=0x5a, split=0, status=0, mut=0, mode=2, dwz=None):
    b = bytes([0, q, tsel, 0, sector, split, ndata])
    for i in range(ndata):
        b += le16(dlen) + bytes([fill])
        if dwz is not None:
            for ss, nn, fl in dwz:
                b += bytes([1, ss, 1, nn, fl])
    if split == 1:
        b += bytes([7])
    return b + bytes([status, mut, mode])


blk = (blk_req(0, 1, 3) + blk_req(0, 0, 3) + bytes([2, 0, 3]) +        # write then read back
       blk_req(0, 0, 5, ndata=2) + blk_req(0, 4, 0, ndata=1, dlen=20) + bytes([2, 0]) +
       blk_req(0, 2, 0, ndata=0) + bytes([2, 0, 5, 0, 3]))
seed("fuzz_blk", "split", bytes([0x06, 4]) + blk)
seed("fuzz_blk", "packed", bytes([0x07, 15]) + blk)
seed("fuzz_blk", "legacy-be", bytes([0x0e, 4]) + blk)
seed("fuzz_blk", "two-queues", bytes([0x26, 5]) + blk + blk_req(1, 1, 9, split=1) + bytes([2, 1, 3]))
seed("fuzz_blk", "discard", bytes([0x46, 4]) + blk_req(0, 5, 0, dlen=32, dwz=[(2, 3, 0), (10, 1, 0)]) +
     blk_req(0, 6, 0, dlen=16, dwz=[(20, 4, 1)]) + bytes([2, 0, 4, 2, 0]))
seed("fuzz_blk", "readonly", bytes([0x16, 4]) + blk + bytes([4]) + blk)


# ---- virtio-net (fuzz_net.c) ----
def net_rx(n=1, ln=1600, mut=0, mode=2):
    return bytes([0, n - 1]) + b"".join(le16(ln - 1) for _ in range(n)) + bytes([mut, mode])


def net_tx(flen=100, fill=0x61, split=0, nseg=1, mut=0, mode=2):
    return bytes([1]) + le16(flen) + bytes([fill, split, nseg - 1, mut, mode])


def net_ctrl(cls, cmd, data, split=0, ack=1, mut=0, mode=2):
    return bytes([2, cls, cmd, len(data)]) + bytes(data) + (bytes([split]) if data else b"") + bytes([ack - 1, mut, mode])


def net_host(ln=200, fill=0x42):
    return bytes([4]) + le16(ln) + bytes([fill])


net = (net_rx() + net_rx(2, 100) + bytes([3, 0]) + net_host() + net_host(60) + bytes([6]) +
       net_tx() + net_tx(300, 0x62, 1, 2) + net_tx(1500, 0x63, 2, 3) + bytes([3, 1, 6]) +
       net_ctrl(0, 0, [1]) + net_ctrl(1, 1, list(range(6)), split=1) +
       net_ctrl(1, 0, [0, 0, 0, 0, 1, 0, 0, 0] + list(range(6))) + net_ctrl(3, 0, []) + bytes([3, 2, 6]) +
       bytes([8, 0, 0, 0, 8, 6, 0, 0]))
seed("fuzz_net", "split", bytes([0x06, 4]) + net)
seed("fuzz_net", "packed", bytes([0x07, 15]) + net)
seed("fuzz_net", "mergeable", bytes([0x16, 5]) + net + net_host(3000) + net_rx(3, 1000) + bytes([3, 0, 6]))
seed("fuzz_net", "legacy-be", bytes([0x0e, 4]) + net + bytes([8, 0, 1, 0x11]))
seed("fuzz_net", "no-cross-endian", bytes([0x9a, 4]) + net)
seed("fuzz_net", "big-frames", bytes([0x12, 6]) + net_rx(4, 2048) * 6 + bytes([3, 0]) + net_host(0x8000 | 22000) +
     net_tx(0x8000 | 21000) + bytes([3, 1, 7]) + net)


# ---- virtio-console (fuzz_console.c) ----
def con_rx(q, n=1, ln=256):
    return bytes([0, q, n - 1]) + b"".join(le16(ln - 1) for _ in range(n)) + bytes([0, 2])


def con_tx(port, ln=40, fill=0x41, n=1):
    return bytes([1, port]) + le16(ln) + bytes([fill, n - 1, 0, 2])


def con_ctrl(id_, ev, val, lk=0, extra=b""):
    return bytes([2, id_, ev]) + le16(val) + bytes([lk]) + extra + bytes([0, 2])


con = (con_rx(2) * 8 + bytes([3, 2]) + con_ctrl(0, 0, 1) + bytes([3, 3, 3, 2, 6]) +
       con_ctrl(0, 3, 1) + con_ctrl(1, 3, 1) + con_ctrl(0, 6, 1) + con_ctrl(1, 6, 1) + bytes([3, 3]) +
       con_rx(2) * 4 + bytes([3, 2, 6]) + con_rx(0, 2, 64) + bytes([3, 0]) + bytes([5, 0x80, 4, 0]) + le16(100) +
       con_tx(0) + con_tx(1, 100, 0x42, 3) + bytes([3, 1, 3, 5, 6]) +
       con_ctrl(0x85, 9, 0, 1, bytes([3])) + con_ctrl(2, 7, 0, 2, bytes([5])) + bytes([3, 3, 8, 4, 2, 7]))
seed("fuzz_console", "multiport", bytes([0x76, 2 + 15 * 4, 0x03]) + con)
seed("fuzz_console", "packed", bytes([0x57, 2 + 15 * 9, 0x07]) + con)
seed("fuzz_console", "legacy-be", bytes([0x7e, 1 + 15 * 3, 0x03]) + con)
seed("fuzz_console", "single", bytes([0x06, 15 * 4, 0x01]) + con_rx(0, 2, 64) + bytes([3, 0, 4, 0]) + le16(50) +
     con_tx(0) + bytes([3, 1, 6, 8, 0, 2]))
seed("fuzz_console", "many-ports", bytes([0x56, 14 + 15 * 2, 0xff]) + con)
