"""Mutated model files for the board's loader: seeded, each with a label that says what changed.

    python tools/quality/model_fuzz.py FILE.bin OUT_DIR [--seed 1] [--count 300]

mutations(raw, seed, count) damages a model file (docs/model-format.md, versions 1 and
2) the ways a bad copy, a wrong tool or a hostile file would: header fields set to edge
values, record names with bytes >= 0x80 or of another tensor, rows, cols and the scaled
flag, scales (m, s) out of range, vocabulary bytes that are not UTF-8, the tensor count,
truncations anywhere, bytes appended, single bits flipped, the CRC. A version 2 file's
CRC is made right again after most mutations (label "+crc"), so the checks behind it
are reached; a flipped bit keeps the stale CRC, which must catch it. The same seed
gives the same files: a label and its seed reproduce a failure.
"""

import argparse
import os
import random
import struct
import zlib

EDGES = (0, 1, 2, 7, 8, 12, 13, 127, 128, 255, 256, 257, 4095, 4096, 4097, 10921, 10922,
         16383, 16384, 16385, 32767, 32768, 65534, 65535)  # fmt: skip
EDGE_SHARE = 0.7  # the share of values taken from the edges, the rest drawn at random
HIGH_SHARE = 0.6  # the share of name bytes >= 0x80
INT32_EDGES = (-(2**31), -1, 0, 1, 16, 17, 31, 32, 40, 41, 32767, 32768, 2**31 - 1)


def layout(raw):
    """(version, header size, [(name offset, rows, cols, scaled, scales offset, data offset)])
    of a well-formed file, by walking its records."""
    version = struct.unpack_from("<H", raw, 4)[0]
    at = 32 if version == 1 else 48
    records = []
    while at + 16 <= len(raw):
        rows, cols, scaled = struct.unpack_from("<HHH", raw, at + 8)
        scales = at + 16
        data = scales + 8 * rows * scaled
        records.append((at, rows, cols, scaled, scales, data))
        at = data + rows * cols + (-rows * cols % 4)
    return version, (32 if version == 1 else 48), records


def fix_crc(raw):
    raw = bytearray(raw)
    raw[40:44] = bytes(4)
    raw[40:44] = struct.pack("<I", zlib.crc32(bytes(raw)))
    return bytes(raw)


def mutate(raw, rng):
    """(label, bytes) of one mutation of raw."""
    version, header, records = layout(raw)
    out = bytearray(raw)
    kind = rng.choice(
        ["field"] * 4
        + [
            "name",
            "shape",
            "scale",
            "scale",
            "vocab",
            "count",
            "truncate",
            "append",
            "flip",
            "crc",
        ]
    )
    keep_crc = False
    if kind == "field":
        at = rng.randrange(6, header - (4 if version == 1 else 8), 2)
        value = rng.choice(EDGES) if rng.random() < EDGE_SHARE else rng.randrange(65536)
        struct.pack_into("<H", out, at, value)
        label = "u16 at %d = %d" % (at, value)
    elif kind == "count":
        at = 30 if version == 1 else 38
        value = struct.unpack_from("<H", raw, at)[0] + rng.choice((-1, 1, 6, 65535 - 100))
        struct.pack_into("<H", out, at, value % 65536)
        label = "tensors = %d" % (value % 65536)
    elif kind == "name":
        rec = rng.choice(records)
        i = rng.randrange(8)
        value = rng.randrange(0x80, 0x100) if rng.random() < HIGH_SHARE else rng.randrange(256)
        out[rec[0] + i] = value
        label = "record at %d: name byte %d = 0x%02x" % (rec[0], i, value)
    elif kind == "shape":
        rec = rng.choice(records)
        field = rng.randrange(4)
        value = rng.choice(EDGES)
        struct.pack_into("<H", out, rec[0] + 8 + 2 * field, value)
        label = "record at %d: %s = %d" % (
            rec[0],
            ("rows", "cols", "scaled", "reserved")[field],
            value,
        )
    elif kind == "scale":
        scaled = [r for r in records if r[3]]
        rec = rng.choice(scaled)
        row = rng.randrange(rec[1])
        which = rng.randrange(2)
        value = (
            rng.choice(INT32_EDGES)
            if rng.random() < EDGE_SHARE
            else rng.randrange(-(2**31), 2**31)
        )
        struct.pack_into("<i", out, rec[4] + 8 * row + 4 * which, value)
        label = "record at %d row %d: %s = %d" % (rec[0], row, "ms"[which], value)
    elif kind == "vocab":
        rec = records[0]
        i = rng.randrange(rec[1] * rec[2])
        value = rng.randrange(0x80, 0x100)
        out[rec[5] + i] = value
        label = "vocab byte %d = 0x%02x" % (i, value)
    elif kind == "truncate":
        cut = rng.choice(
            [rng.randrange(len(raw)), *(r[0] + d for r in records[:6] for d in (-1, 0, 1, 16))]
        )
        out = out[: max(0, min(cut, len(raw) - 1))]
        label = "cut at %d" % len(out)
    elif kind == "append":
        extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        out += extra
        label = "%d bytes appended" % len(extra)
    elif kind == "flip":
        at = rng.randrange(len(raw))
        bit = rng.randrange(8)
        out[at] ^= 1 << bit
        keep_crc = True
        label = "bit %d of byte %d flipped" % (bit, at)
    else:
        at = 40 if version == 2 else 28
        value = rng.randrange(2**32)
        struct.pack_into("<I", out, at, value)
        keep_crc = True
        label = "u32 at %d = %d" % (at, value)
    if version == 2 and not keep_crc and len(out) >= 48:
        out = fix_crc(out)
        label += " +crc"
    return label, bytes(out)


def mutations(raw, seed, count):
    """count (label, bytes) mutations of the file raw, from random.Random(seed)."""
    rng = random.Random(seed)
    return [mutate(raw, rng) for _ in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    with open(args.model, "rb") as f:
        raw = f.read()
    os.makedirs(args.out, exist_ok=True)
    for i, (label, data) in enumerate(mutations(raw, args.seed, args.count)):
        path = os.path.join(args.out, "%04d.bin" % i)
        with open(path, "wb") as f:
            f.write(data)
        print("%s: %s" % (path, label))


if __name__ == "__main__":
    main()
