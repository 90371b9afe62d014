"""Reading a model file (docs/model-format.md, versions 1 and 2): check all of it first.

scan() reads the file a few bytes at a time: the CRC of the whole file (version 2), the
header, every record and scale and the vocabulary, and skips the weights. A wrong magic
or version, a field out of range, a record of another name or shape than the header
implies, a scale out of range, a vocabulary entry that is not text, a file cut short or
bytes past its end raise ValueError naming what, before any model buffer exists.
load_into() then reads each tensor's bytes straight into the buffers the model made.
"""

import struct

from micropython import const

from ._fixed import MAX_MULT, MAX_SHIFT, MIN_SHIFT

MAGIC = b"I8TM"
HEADER_BYTES = (const(32), const(48))  # by version - 1
RECORD_BYTES = const(16)
MAX_CONTEXT = const(4096)
MAX_SIZE = const(4096)  # version 2: dim, heads, layers, hidden, context
_CRC_AT = const(40)  # version 2: the CRC's offset in the header
_CHUNK = const(256)  # bytes read at a time while checking
_V1 = "<4sHHHHHHHHHHHHI"
_V1_FIELDS = (
    "vocab", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation", "tensors",
)  # fmt: skip
_V2 = "<4sH17HII"
_V2_FIELDS = (
    "kind", "input", "vocab", "features", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation", "attention", "pooling",
    "requant", "tensors",
)  # fmt: skip
LAYER_TENSORS = ("wq", "wk", "wv", "wo", "w1", "w2")
DECODER = const(0)
CLASSIFIER = const(1)


def _refuse(what, *args):
    raise ValueError("model file: " + (what % args if args else what))


def read_exactly(f, buf, what, size=None):
    """readinto buf from f, all of it (size bytes: len(buf) unless given), or ValueError."""
    got = f.readinto(buf)
    if got is None or got < (len(buf) if size is None else size):
        _refuse("truncated inside %s", what)


def _crc(f, stored):
    """CRC-32 of the whole file f (at its start) with the header's CRC field read as 0."""
    try:
        from binascii import crc32  # noqa: PLC0415  (only for version 2 files)
    except ImportError:
        _refuse("this MicroPython has no binascii.crc32 to check a version 2 file with")
    chunk = bytearray(_CHUNK)
    crc = 0
    first = True
    while True:
        got = f.readinto(chunk)
        if not got:
            break
        if first:  # the field lies in the first chunk (bytes 40..43 of 256)
            for i in range(_CRC_AT, _CRC_AT + 4):
                chunk[i] = 0
            first = False
        crc = crc32(memoryview(chunk)[:got], crc)
    if crc != stored:
        _refuse("CRC %08x, the file says %08x (a damaged or changed file)", crc, stored)
    f.seek(0)


def read_header(f):
    """The hyperparameters as a dict (version 1 files get version 2's defaults), checked."""
    raw = bytearray(HEADER_BYTES[1])
    got = f.readinto(raw)
    if got is None or got < HEADER_BYTES[0]:
        _refuse("truncated inside the header")
    if raw[:4] != MAGIC:
        _refuse("magic %r, expected %r (not a model file)", bytes(raw[:4]), MAGIC)
    version = raw[4] | raw[5] << 8
    if version == 1:
        values = struct.unpack(_V1, raw[:32])
        h = dict(zip(_V1_FIELDS, values[2:13]))
        h.update(kind=0, input=0, features=0, attention=0, pooling=0, requant=0)
        reserved = values[13]
        limit = 16384
    elif version == 2:
        if got < HEADER_BYTES[1]:
            _refuse("truncated inside the header")
        values = struct.unpack(_V2, raw)
        h = dict(zip(_V2_FIELDS, values[2:19]))
        reserved = values[20]
        limit = MAX_SIZE
        f.seek(0)
        _crc(f, values[19])
    else:
        _refuse("version %d, this reader reads versions 1 and 2", version)
    h["version"] = version
    for name in ("dim", "heads", "layers", "hidden", "context"):
        if not 1 <= h[name] <= limit:
            _refuse("%s = %d, expected 1..%d", name, h[name], limit)
    if not 1 <= h["vocab"] <= (256 if version == 1 else 65535):
        _refuse("vocab = %d, expected 1..%d", h["vocab"], 256 if version == 1 else 65535)
    if h["dim"] % h["heads"]:
        _refuse("heads = %d does not divide dim = %d", h["heads"], h["dim"])
    if h["dim"] // h["heads"] > 256:
        _refuse("dim / heads = %d, expected at most 256", h["dim"] // h["heads"])
    if h["context"] > MAX_CONTEXT:
        _refuse("context = %d, expected at most %d", h["context"], MAX_CONTEXT)
    for name, most in (
        ("norm_frac", 7), ("logit_shift", 12), ("logit_frac", 12), ("kind", 1),
        ("input", 1), ("activation", version - 1), ("attention", 1), ("pooling", 2),
        ("requant", 1),
    ):  # fmt: skip
        if h[name] > most:
            _refuse("%s = %d, expected 0..%d", name, h[name], most)
    decoder = h["kind"] == DECODER
    if decoder and (h["input"] or h["pooling"] or h["attention"]):
        _refuse(
            "a decoder reads tokens, attends causally and pools nothing (input %d, "
            "attention %d, pooling %d)", h["input"], h["attention"], h["pooling"]
        )  # fmt: skip
    if not decoder and not h["pooling"]:
        _refuse("a classifier needs pooling 1 (mean) or 2 (a class token)")
    if not decoder and not h["input"]:
        _refuse("a classifier reads frames (input 1); one of token ids (input 0) is not run")
    if (h["features"] != 0) != (h["input"] == 1) or h["features"] > MAX_SIZE:
        _refuse("features = %d for input %d", h["features"], h["input"])
    if h["tensors"] != count(h):
        _refuse("%d tensors, expected %d for %d layers", h["tensors"], count(h), h["layers"])
    if reserved:
        _refuse("reserved header word is %d, expected 0", reserved)
    return h


def count(h):
    """The number of tensor records a file with header h holds."""
    return 4 + (h["pooling"] == 2) + h["activation"] + 6 * h["layers"]


def tensors(h):
    """(name, rows, cols, scaled) of every tensor, in file order (a generator: no list)."""
    d, f, v = h["dim"], h["hidden"], h["vocab"]
    cls = h["pooling"] == 2
    yield (
        "vocab",
        (1 if h["version"] == 1 else v),
        (v if h["version"] == 1 else h["vocab_width"]),
        0,
    )
    if h["input"]:
        yield "in_proj", d, h["features"], 1
    else:
        yield "tok_emb", v, d, 0
    yield "pos_emb", h["context"] + cls, d, 0
    if cls:
        yield "cls", 1, d, 0
    if h["activation"]:
        yield "act", 1, 256, 0
    for i in range(h["layers"]):
        for name in LAYER_TENSORS:
            rows, cols = (f, d) if name == "w1" else (d, f) if name == "w2" else (d, d)
            yield "%d.%s" % (i, name), rows, cols, 1
    yield ("lm_head" if h["version"] == 1 else "head"), v, d, 1


def padded(size):
    """size rounded up to a multiple of 4 (data blocks are padded to 4 bytes)."""
    return (size + 3) & ~3


def file_bytes(h):
    """The exact size of a model file with header h."""
    total = HEADER_BYTES[h["version"] - 1]
    for _, rows, cols, scaled in tensors(h):
        total += RECORD_BYTES + 8 * rows * scaled + padded(rows * cols)
    return total


def _record(f, raw, expected, version):
    """Check the record of tensor expected (name, rows, cols, scaled); version 2's vocab
    width is the record's own (checked later against the data)."""
    name, rows, cols, scaled = expected
    read_exactly(f, raw, "the record of tensor %s" % name)
    got, r, c, s, reserved = struct.unpack("<8sHHHH", raw)
    got = got.rstrip(b"\0")
    if got != name.encode():
        shown = got.decode() if all(c < 0x80 for c in got) else got  # text, or its bytes
        _refuse("tensor %r where %r was expected", shown, name)
    if name == "vocab" and version == 2:
        if r != rows or not 1 <= c <= 64:
            _refuse("tensor vocab is %dx%d, expected %dx1..64", r, c, rows)
        return c
    if (r, c) != (rows, cols):
        _refuse("tensor %s is %dx%d, expected %dx%d", name, r, c, rows, cols)
    if s != scaled or reserved:
        _refuse("tensor %s: scaled = %d, expected %d", name, s, scaled)
    return c


def scan(f):
    """Check the whole file without keeping its data; returns the header dict.

    f is an open binary file at its start; it is left at an unspecified position.
    """
    h = read_header(f)
    version = h["version"]
    f.seek(HEADER_BYTES[version - 1])
    h["vocab_width"] = 1
    raw = bytearray(RECORD_BYTES)
    pair = bytearray(8)
    single = h["requant"] == 1
    low, high = (1, 31) if single else (MIN_SHIFT, MAX_SHIFT)
    for expected in tensors(h):
        name, rows, cols, scaled = expected
        cols = _record(f, raw, expected, version)
        if name == "vocab":
            h["vocab_width"] = cols
            _vocabulary(f, rows, cols, version)
            continue
        if scaled:
            for row in range(rows):
                read_exactly(f, pair, "the scales of tensor %s" % name)
                m, s = struct.unpack("<ii", pair)
                if not 0 <= m <= MAX_MULT or not low <= s <= high:
                    _refuse(
                        "tensor %s row %d has scale m=%d s=%d; expected m 0..%d, s %d..%d",
                        name, row, m, s, MAX_MULT, low, high,
                    )  # fmt: skip
        _skip(f, padded(rows * cols), name)
    if f.read(1):
        _refuse("bytes after the last tensor (expected %d bytes)", file_bytes(h))
    return h


def _vocabulary(f, rows, cols, version):
    """Check the vocabulary's text: version 1, one ASCII character a token; version 2,
    a row of UTF-8 a token, padded with 0 bytes."""
    row = bytearray(cols)
    for i in range(rows):
        read_exactly(f, row, "the vocabulary")
        if version == 1:
            for j in range(cols):
                if row[j] > 0x7F:
                    _refuse("vocabulary byte %d is 0x%02x, expected ASCII", j, row[j])
            continue
        end = cols
        while end and not row[end - 1]:
            end -= 1
        try:
            str(row[:end], "utf-8")
        except UnicodeError:
            _refuse("vocabulary entry %d is not UTF-8 text: %r", i, bytes(row))
    _skip(f, padded(rows * cols) - rows * cols, "vocab")


def _skip(f, size, name):
    """Move past size bytes of data, checking that the file holds them."""
    here = f.seek(0, 1)
    end = f.seek(0, 2)
    if end - here < size:
        _refuse("truncated inside the data of tensor %s", name)
    f.seek(here + size)


def load_into(f, h, place):
    """Read every tensor into the buffer place(name, rows, cols) gives, with its row
    stride: (buffer, None) takes the data as it is (rows * cols bytes); (buffer, stride)
    takes a scaled tensor row by row, row r's data at buffer[r * stride ...] and its
    scales (8 bytes) at buffer[(r + 1) * stride - 16 ...]. f holds a file scan() accepted."""
    f.seek(HEADER_BYTES[h["version"] - 1])
    skip = bytearray(RECORD_BYTES)
    for name, rows, cols, scaled in tensors(h):
        if name == "vocab":
            cols = h["vocab_width"]
        read_exactly(f, skip, name)
        data, stride = place(name, rows, cols)
        what = "the data of tensor " + name
        if scaled:
            scales = "the scales of tensor " + name
            for r in range(rows):
                at = (r + 1) * stride - 16
                read_exactly(f, data[at : at + 8], scales)
            for r in range(rows):
                read_exactly(f, data[r * stride : r * stride + cols], what)
        else:
            read_exactly(f, data, what)
        extra = padded(rows * cols) - rows * cols
        if extra > 0:
            f.seek(extra, 1)
