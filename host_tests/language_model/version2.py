"""Version 2 model files for the tests, and the spec's computation read plainly.

random_model() makes a header and random tensors of any kind docs/model-format.md
version 2 allows (a decoder or a classifier; ReLU or a table; causal or full
attention; mean or class-token pooling; either requantisation); to_bytes() writes the
file, CRC included. classify() and decode() compute what the spec says, step by step,
with numpy int64 and tools/tinylm/int8_ops.py's integer steps: the tests' oracle for
the board's Classifier and Decoder. Nothing here reads the firmware.
"""

import struct
import zlib

import numpy as np
from tinylm import int8_ops as ops

FIELDS = (
    "kind", "input", "vocab", "features", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation", "attention", "pooling", "requant",
)  # fmt: skip
LAYER = (("wq", 0), ("wk", 0), ("wv", 0), ("wo", 0), ("w1", 1), ("w2", 2))


def random_model(rng, kind, dim=16, heads=2, layers=2, hidden=24, context=6, vocab=5,
                 features=3, activation=0, attention=0, pooling=0, requant=0, names=None):  # fmt: skip
    """(header, tensors): tensors {name: int8 array, or (int8 array, (rows, 2) scales)}."""
    h = dict(zip(FIELDS, (kind, kind, vocab, features if kind else 0, dim, heads, layers)))
    h.update(hidden=hidden, context=context, norm_frac=5, logit_shift=8, logit_frac=8)
    h.update(activation=activation, attention=attention, pooling=pooling, requant=requant)

    def int8(*shape):
        return rng.integers(-128, 128, size=shape)

    def scaled(rows, cols):
        w = int8(rows, cols)
        pairs = []
        for row in w:
            if requant:  # the file's promise: 128 * sum|w| * m + 2**(s - 1) < 2**31
                s = int(rng.integers(8, 20))
                most = ((2**31 - 1 - 2 ** (s - 1)) >> 7) // max(1, int(np.abs(row).sum()))
                pairs.append((int(rng.integers(0, min(32767, most) + 1)), s))
            else:
                pairs.append((int(rng.integers(100, 32767)), int(rng.integers(17, 28))))
        return w, np.array(pairs)

    names = names or ["t%d" % i for i in range(vocab)]
    width = max(len(n.encode()) for n in names)
    t = {"vocab": np.array([list(n.encode().ljust(width, b"\0")) for n in names])}
    if kind:
        t["in_proj"] = scaled(dim, features)
    else:
        t["tok_emb"] = int8(vocab, dim)
    t["pos_emb"] = int8(context + (pooling == 2), dim)
    if pooling == 2:
        t["cls"] = int8(1, dim)
    if activation:
        t["act"] = int8(1, 256)
    for i in range(layers):
        for name, shape in LAYER:
            rows, cols = ((dim, dim), (hidden, dim), (dim, hidden))[shape]
            t["%d.%s" % (i, name)] = scaled(rows, cols)
    t["head"] = scaled(vocab, dim)
    return h, t


def _order(h):
    yield "vocab"
    yield "in_proj" if h["input"] else "tok_emb"
    yield "pos_emb"
    if h["pooling"] == 2:
        yield "cls"
    if h["activation"]:
        yield "act"
    for i in range(h["layers"]):
        for name, _ in LAYER:
            yield "%d.%s" % (i, name)
    yield "head"


def to_bytes(h, tensors):
    """The file of docs/model-format.md, version 2, with its CRC."""
    names = list(_order(h))
    out = bytearray(struct.pack("<4sH16HH", b"I8TM", 2, *(h[k] for k in FIELDS), len(names)))
    out += bytes(8)  # the CRC (below) and the reserved word
    for name in names:
        data, scales = tensors[name] if type(tensors[name]) is tuple else (tensors[name], None)
        rows, cols = data.shape
        out += struct.pack("<8sHHHH", name.encode(), rows, cols, scales is not None, 0)
        if scales is not None:
            out += struct.pack("<%di" % (2 * rows), *scales.ravel().tolist())
        raw = (np.asarray(data) & 0xFF).astype(np.uint8).tobytes()
        out += raw + bytes(-len(raw) % 4)
    out[40:44] = struct.pack("<I", zlib.crc32(bytes(out)))
    return bytes(out)


def _requant(acc, scales):
    """round(acc * m / 2**s), half up: both of the spec's formulas give this."""
    acc = np.asarray(acc, dtype=np.int64)
    m, s = scales[:, 0].astype(np.int64), scales[:, 1].astype(np.int64)
    return (acc * m + (np.int64(1) << (s - 1))) >> s


def _linear(tensors, name, x):
    w, scales = tensors[name]
    return ops.saturate8(_requant(np.asarray(w, np.int64) @ np.asarray(x, np.int64), scales))


def _layer(h, t, i, x, keys, values, rows, num, down):
    """Row x of layer i, attending to rows of keys and values (the cache so far)."""
    n = ops.rms_norm(x, num, down)
    q = _linear(t, "%d.wq" % i, n)
    a = ops.attention(
        q, np.array(keys[:rows]), np.array(values[:rows]), h["heads"], h["logit_shift"]
    )
    x = ops.saturate8(x + _linear(t, "%d.wo" % i, ops.saturate8(a)))
    n = ops.rms_norm(x, num, down)
    w1, s1 = t["%d.w1" % i]
    y = ops.saturate8(_requant(np.asarray(w1, np.int64) @ n, s1))
    hidden = np.asarray(t["act"][0], np.int64)[y & 0xFF] if h["activation"] else np.maximum(y, 0)
    return ops.saturate8(x + _linear(t, "%d.w2" % i, hidden))


def _head(h, t, p, num, down):
    w, scales = t["head"]
    logits = _requant(np.asarray(w, np.int64) @ ops.rms_norm(p, num, down), scales)
    return logits.tolist()


def classify(h, t, frames):
    """(class, logits, scores) of a window of frames (context x features int8)."""
    d, context = h["dim"], h["context"]
    num, down = ops.norm_constants(d, h["norm_frac"])
    w, scales = t["in_proj"]
    x = [
        ops.saturate8(
            ops.saturate8(_requant(np.asarray(w, np.int64) @ frames[r], scales)) + t["pos_emb"][r]
        )
        for r in range(context)
    ]
    if h["pooling"] == 2:
        x.append(ops.saturate8(np.asarray(t["cls"][0]) + t["pos_emb"][context]))
    for i in range(h["layers"]):
        norms = [ops.rms_norm(row, num, down) for row in x]
        keys = [_linear(t, "%d.wk" % i, n) for n in norms]
        values = [_linear(t, "%d.wv" % i, n) for n in norms]
        x = [
            _layer(h, t, i, row, keys, values, len(x) if h["attention"] else r + 1, num, down)
            for r, row in enumerate(x)
        ]
    p = (
        x[context]
        if h["pooling"] == 2
        else (np.sum(x[:context], axis=0) + context // 2) // context
    )
    logits = _head(h, t, p, num, down)
    return int(np.argmax(logits)), logits, ops.softmax_exp2(logits, h["logit_frac"])


def decode(h, t, tokens):
    """The logits after each of tokens, fed from position 0."""
    num, down = ops.norm_constants(h["dim"], h["norm_frac"])
    keys = [[] for _ in range(h["layers"])]
    values = [[] for _ in range(h["layers"])]
    out = []
    for pos, token in enumerate(tokens):
        x = ops.saturate8(np.asarray(t["tok_emb"][token]) + t["pos_emb"][pos])
        for i in range(h["layers"]):
            n = ops.rms_norm(x, num, down)
            keys[i].append(_linear(t, "%d.wk" % i, n))
            values[i].append(_linear(t, "%d.wv" % i, n))
            x = _layer(h, t, i, x, keys[i], values[i], pos + 1, num, down)
        out.append(_head(h, t, x, num, down))
    return out
