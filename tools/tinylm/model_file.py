"""Writing (and reading back) the model file of docs/model-format.md, versions 1 and 2, on the host.

A model here is (header, tensors): header a dict of the hyperparameters named as in
the format, plus "version" (1 or 2; 1 when absent); tensors a dict {name: (int8 array
(rows, cols), scales (rows, 2) int32 or None)} holding every tensor that tensor_list()
names. The `vocab` tensor holds bytes (0..255): version 1 one row of characters,
version 2 one row per token or class, its UTF-8 text padded with 0 bytes (vocab_rows()
makes it, texts() reads it back).

read() gives a version 1 header the version 2 fields a version 1 file implies (a
decoder of token ids, ReLU, causal attention, no pooling, requant 0), so the numpy
int8 model runs both versions with one code path.
"""

import struct
import zlib

import numpy as np

MAGIC = b"I8TM"
FIELDS_V1 = (
    "vocab", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation",
)  # fmt: skip
FIELDS_V2 = (
    "kind", "input", "vocab", "features", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation", "attention", "pooling", "requant",
)  # fmt: skip
HEADER_BYTES = {1: 32, 2: 48}
CRC_AT = 40  # version 2: the CRC-32 of the file with these 4 bytes read as 0
LAYER_TENSORS = ("wq", "wk", "wv", "wo", "w1", "w2")
# What a version 1 header means in version 2's fields.
V1_IMPLIES = {
    "kind": 0, "input": 0, "features": 0, "attention": 0, "pooling": 0, "requant": 0,
}  # fmt: skip
DECODER, CLASSIFIER = 0, 1
TOKENS, FRAMES = 0, 1
RELU, TABLE = 0, 1
CAUSAL, FULL = 0, 1
NO_POOLING, MEAN, CLS = 0, 1, 2


def version(h):
    return h.get("version", 1)


def head_name(h):
    """The head's record name: `lm_head` in version 1, `head` in version 2."""
    return "lm_head" if version(h) == 1 else "head"


def tensor_list(h, vocab_cols=None):
    """(name, rows, cols, scaled) of every tensor, in file order.

    vocab_cols: version 2's vocab width n (the longest text in bytes); None leaves it
    as -1 (unknown until the record is read).
    """
    d, f, v = h["dim"], h["hidden"], h["vocab"]
    if version(h) == 1:
        out = [("vocab", 1, v, 0), ("tok_emb", v, d, 0), ("pos_emb", h["context"], d, 0)]
    else:
        out = [("vocab", v, -1 if vocab_cols is None else vocab_cols, 0)]
        if h["input"] == TOKENS:
            out.append(("tok_emb", v, d, 0))
        else:
            out.append(("in_proj", d, h["features"], 1))
        cls = h["pooling"] == CLS
        out.append(("pos_emb", h["context"] + cls, d, 0))
        if cls:
            out.append(("cls", 1, d, 0))
        if h["activation"] == TABLE:
            out.append(("act", 1, 256, 0))
    for i in range(h["layers"]):
        for name in LAYER_TENSORS:
            rows, cols = (f, d) if name == "w1" else (d, f) if name == "w2" else (d, d)
            out.append(("%d.%s" % (i, name), rows, cols, 1))
    out.append((head_name(h), v, d, 1))
    return out


def vocab_rows(texts):
    """The version 2 vocab tensor of a list of str: row i is texts[i] in UTF-8, 0-padded."""
    raw = [t.encode() for t in texts]
    if any(b"\0" in r for r in raw):
        raise ValueError("a token or class name may not hold a NUL character")
    n = max([1] + [len(r) for r in raw])
    out = np.zeros((len(raw), n), dtype=np.int64)
    for i, r in enumerate(raw):
        out[i, : len(r)] = list(r)
    return out


def texts(h, tensors):
    """The tokens' (or classes') texts: a list of str, one per id."""
    rows = np.asarray(tensors["vocab"][0]).astype(np.uint8)
    if version(h) == 1:
        return list(bytes(rows[0]).decode("latin-1"))
    return [bytes(r).rstrip(b"\0").decode() for r in rows]


def header_bytes(h, count, crc=0):
    if version(h) == 1:
        return (
            struct.pack("<4sH", MAGIC, 1)
            + struct.pack("<10H", *(h[k] for k in FIELDS_V1))
            + struct.pack("<HI", count, 0)
        )
    return (
        struct.pack("<4sH", MAGIC, 2)
        + struct.pack("<16H", *(h[k] for k in FIELDS_V2))
        + struct.pack("<HII", count, crc, 0)
    )


def to_bytes(h, tensors):
    """The file's bytes (version 2: with its CRC-32)."""
    cols = np.asarray(tensors["vocab"][0]).shape[1]
    names = tensor_list(h, cols)
    out = bytearray(header_bytes(h, len(names)))
    for name, rows, cols, scaled in names:
        data, scales = tensors[name]
        data = np.asarray(data)
        if data.shape != (rows, cols):
            raise ValueError("%s: shape %s, expected %s" % (name, data.shape, (rows, cols)))
        if name == "vocab":
            if data.min() < 0 or data.max() > 255:
                raise ValueError("vocab: bytes 0..255 expected")
        elif data.min(initial=0) < -128 or data.max(initial=0) > 127:
            raise ValueError("%s: int8 data expected" % name)
        out += struct.pack("<8sHHHH", name.encode(), rows, cols, scaled, 0)
        if scaled:
            out += np.asarray(scales, dtype="<i4").reshape(rows, 2).tobytes()
        raw = data.astype(np.int64).astype(np.uint8).tobytes()
        out += raw + bytes(-len(raw) % 4)
    if version(h) == 2:
        struct.pack_into("<I", out, CRC_AT, zlib.crc32(out))
    return bytes(out)


def write(path, h, tensors):
    with open(path, "wb") as f:
        f.write(to_bytes(h, tensors))


def crc(raw):
    """The CRC-32 a version 2 file should hold: of all its bytes with the CRC's read as 0."""
    return zlib.crc32(bytes(raw[:CRC_AT]) + bytes(4) + bytes(raw[CRC_AT + 4 :]))


def parse(raw):
    """(header, tensors) of a file's bytes (versions 1 and 2).

    Checks only what it needs to find the tensors (magic, version, record names and
    shapes, length) and a version 2 file's CRC: the board's reader checks the rest.
    """
    raw = bytes(raw)
    if raw[:4] != MAGIC or len(raw) < 32:
        raise ValueError("not a model file")
    ver = struct.unpack_from("<H", raw, 4)[0]
    if ver == 1:
        values = struct.unpack_from("<10H", raw, 6)
        h = dict(zip(FIELDS_V1, values), version=1, **V1_IMPLIES)
    elif ver == 2:
        if len(raw) < 48:
            raise ValueError("truncated header")
        values = struct.unpack_from("<16H", raw, 6)
        h = dict(zip(FIELDS_V2, values), version=2)
        stored = struct.unpack_from("<I", raw, CRC_AT)[0]
        if stored != crc(raw):
            raise ValueError("CRC-32 %08x, the file's bytes give %08x" % (stored, crc(raw)))
    else:
        raise ValueError("version %d" % ver)
    at = HEADER_BYTES[ver]
    tensors = {}
    for name, rows, cols, scaled in tensor_list(h):
        got, r, c, s, _ = struct.unpack_from("<8sHHHH", raw, at)
        if got.rstrip(b"\0") != name.encode() or r != rows or (cols >= 0 and c != cols):
            raise ValueError("record %r %dx%d where %s %dx%d" % (got, r, c, name, rows, cols))
        cols = c
        at += 16
        scales = None
        if scaled:
            scales = np.frombuffer(raw, dtype="<i4", count=2 * rows, offset=at).reshape(rows, 2)
            at += 8 * rows
        kind = np.uint8 if name == "vocab" else np.int8
        data = np.frombuffer(raw, dtype=kind, count=rows * cols, offset=at).reshape(rows, cols)
        at += rows * cols + (-rows * cols % 4)
        tensors[name] = (
            data.astype(np.int64),
            None if scales is None else scales.astype(np.int64),
        )
    if at != len(raw):
        raise ValueError("%d bytes, expected %d" % (len(raw), at))
    return h, tensors


def read(path):
    """(header, tensors) of the model file at path (see parse)."""
    with open(path, "rb") as f:
        return parse(f.read())
