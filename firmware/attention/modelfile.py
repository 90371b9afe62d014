"""Reading a model file (docs/model-format.md): check all of it first, then fill buffers with readinto.

read_header() and scan() only read headers and scales (a few bytes at a time):
a wrong magic or version, a truncated file, a tensor of the wrong name or shape,
a scale out of range or bytes past the end raise ValueError naming what, before
any model buffer exists. load_into() then reads each tensor's bytes straight
into the buffers the decoder made for them.
"""

import struct

from micropython import const

from ._fixed import MAX_MULT, MAX_SHIFT, MIN_SHIFT

MAGIC = b"I8TM"
VERSION = const(1)
HEADER_BYTES = const(32)
RECORD_BYTES = const(16)
MAX_CONTEXT = const(4096)
_HEADER = "<4sHHHHHHHHHHHHI"
_RECORD = "<8sHHHH"
_FIELDS = (
    "vocab", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation", "tensors",
)  # fmt: skip
LAYER_TENSORS = ("wq", "wk", "wv", "wo", "w1", "w2")


def read_exactly(f, buf, what, size=None):
    """readinto buf from f, all of it (size bytes: len(buf) unless given), or ValueError."""
    got = f.readinto(buf)
    if got is None or got < (len(buf) if size is None else size):
        raise ValueError("model file: truncated inside %s" % what)


def read_header(f):
    """The hyperparameters as a dict, checked for consistency."""
    raw = bytearray(HEADER_BYTES)
    read_exactly(f, raw, "the header")
    values = struct.unpack(_HEADER, raw)
    if values[0] != MAGIC:
        raise ValueError(
            "model file: magic %r, expected %r (not a model file)" % (values[0], MAGIC)
        )
    if values[1] != VERSION:
        raise ValueError(
            "model file: version %d, this reader reads version %d" % (values[1], VERSION)
        )
    h = dict(zip(_FIELDS, values[2:13]))
    for name in ("vocab", "dim", "heads", "layers", "hidden", "context"):
        if not 1 <= h[name] <= 16384:
            raise ValueError("model file: %s = %d, expected 1..16384" % (name, h[name]))
    if h["vocab"] > 256:
        raise ValueError("model file: vocab = %d, expected at most 256" % h["vocab"])
    if h["dim"] % h["heads"]:
        raise ValueError(
            "model file: heads = %d does not divide dim = %d" % (h["heads"], h["dim"])
        )
    if h["context"] > MAX_CONTEXT:
        raise ValueError(
            "model file: context = %d, expected at most %d" % (h["context"], MAX_CONTEXT)
        )
    for name, most in (("norm_frac", 7), ("logit_shift", 12), ("logit_frac", 12)):
        if h[name] > most:
            raise ValueError("model file: %s = %d, expected 0..%d" % (name, h[name], most))
    if h["activation"] != 0:
        raise ValueError("model file: activation = %d, expected 0 (ReLU)" % h["activation"])
    if h["tensors"] != len(tensor_list(h)):
        raise ValueError(
            "model file: %d tensors, expected %d for %d layers"
            % (h["tensors"], len(tensor_list(h)), h["layers"])
        )
    if values[13]:
        raise ValueError("model file: reserved header word is %d, expected 0" % values[13])
    return h


def tensor_list(h):
    """(name, rows, cols, scaled) of every tensor, in file order."""
    d, f, v = h["dim"], h["hidden"], h["vocab"]
    out = [("vocab", 1, v, 0), ("tok_emb", v, d, 0), ("pos_emb", h["context"], d, 0)]
    for i in range(h["layers"]):
        for name in LAYER_TENSORS:
            rows, cols = (f, d) if name == "w1" else (d, f) if name == "w2" else (d, d)
            out.append(("%d.%s" % (i, name), rows, cols, 1))
    out.append(("lm_head", v, d, 1))
    return out


def padded(size):
    """size rounded up to a multiple of 4 (data blocks are padded to 4 bytes)."""
    return (size + 3) & ~3


def file_bytes(h):
    """The exact size of a model file with header h."""
    total = HEADER_BYTES
    for _, rows, cols, scaled in tensor_list(h):
        total += RECORD_BYTES + 8 * rows * scaled + padded(rows * cols)
    return total


def _record(f, expected):
    name, rows, cols, scaled = expected
    raw = bytearray(RECORD_BYTES)
    read_exactly(f, raw, "the record of tensor %s" % name)
    got, r, c, s, reserved = struct.unpack(_RECORD, raw)
    got = got.rstrip(b"\0").decode()
    if got != name:
        raise ValueError("model file: tensor %r where %r was expected" % (got, name))
    if (r, c) != (rows, cols):
        raise ValueError(
            "model file: tensor %s is %dx%d, expected %dx%d" % (name, r, c, rows, cols)
        )
    if s != scaled or reserved:
        raise ValueError("model file: tensor %s: scaled = %d, expected %d" % (name, s, scaled))


def scan(f):
    """Check the whole file without keeping its data; returns the header dict.

    f is an open binary file at its start; it is left at an unspecified position.
    """
    h = read_header(f)
    pair = bytearray(8)
    for expected in tensor_list(h):
        name, rows, cols, scaled = expected
        _record(f, expected)
        if scaled:
            for row in range(rows):
                read_exactly(f, pair, "the scales of tensor %s" % name)
                m, s = struct.unpack("<ii", pair)
                if not 0 <= m <= MAX_MULT or not MIN_SHIFT <= s <= MAX_SHIFT:
                    raise ValueError(
                        "model file: tensor %s row %d has scale m=%d s=%d; expected m 0..%d, s %d..%d"
                        % (name, row, m, s, MAX_MULT, MIN_SHIFT, MAX_SHIFT)
                    )
        _skip(f, padded(rows * cols), name)
    if f.read(1):
        raise ValueError(
            "model file: bytes after the last tensor (expected %d bytes)" % file_bytes(h)
        )
    return h


def _skip(f, size, name):
    """Move past size bytes of data, checking that the file holds them."""
    here = f.seek(0, 1)
    end = f.seek(0, 2)
    if end - here < size:
        raise ValueError("model file: truncated inside the data of tensor %s" % name)
    f.seek(here + size)


def load_into(f, h, buffers):
    """Read every tensor into buffers: {name: (data, scales or None)}, sized by the caller.

    f must hold a file scan() accepted; data is rows * cols bytes (bytearray),
    scales 2 * rows int32 (array('i')); padding is skipped.
    """
    f.seek(HEADER_BYTES)
    skip = bytearray(RECORD_BYTES)
    for name, rows, cols, scaled in tensor_list(h):
        read_exactly(f, skip, name)
        data, scales = buffers[name]
        if scaled:
            read_exactly(f, scales, "the scales of tensor " + name, 8 * rows)
        read_exactly(f, data, "the data of tensor " + name)
        extra = padded(rows * cols) - len(data)
        if extra > 0:
            f.seek(extra, 1)
