"""Writing (and reading back) the model file of docs/model-format.md, on the host.

A model here is (header, tensors): header a dict of the hyperparameters named as
in the format, tensors a dict {name: (int8 array (rows, cols), scales (rows, 2) int32
or None)} holding every tensor that tensor_list() names.
"""

import struct

import numpy as np

MAGIC = b"I8TM"
VERSION = 1
FIELDS = (
    "vocab", "dim", "heads", "layers", "hidden", "context",
    "norm_frac", "logit_shift", "logit_frac", "activation",
)  # fmt: skip
LAYER_TENSORS = ("wq", "wk", "wv", "wo", "w1", "w2")


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


def to_bytes(h, tensors):
    """The file's bytes."""
    names = tensor_list(h)
    out = bytearray(
        struct.pack("<4sH", MAGIC, VERSION)
        + struct.pack("<10H", *(h[k] for k in FIELDS))
        + struct.pack("<HI", len(names), 0)
    )
    for name, rows, cols, scaled in names:
        data, scales = tensors[name]
        data = np.asarray(data)
        if data.shape != (rows, cols):
            raise ValueError("%s: shape %s, expected %s" % (name, data.shape, (rows, cols)))
        out += struct.pack("<8sHHHH", name.encode(), rows, cols, scaled, 0)
        if scaled:
            out += np.asarray(scales, dtype="<i4").reshape(rows, 2).tobytes()
        raw = data.astype(np.int8).tobytes()
        out += raw + bytes(-len(raw) % 4)
    return bytes(out)


def write(path, h, tensors):
    with open(path, "wb") as f:
        f.write(to_bytes(h, tensors))


def read(path):
    """(header, tensors) of a file this module wrote (no checks: the board's reader checks)."""
    with open(path, "rb") as f:
        raw = f.read()
    values = struct.unpack_from("<4sH10HHI", raw)
    h = dict(zip(FIELDS, values[2:12]))
    at = 32
    tensors = {}
    for name, rows, cols, scaled in tensor_list(h):
        at += 16
        scales = None
        if scaled:
            scales = np.frombuffer(raw, dtype="<i4", count=2 * rows, offset=at).reshape(rows, 2)
            at += 8 * rows
        data = np.frombuffer(raw, dtype=np.int8, count=rows * cols, offset=at).reshape(rows, cols)
        at += rows * cols + (-rows * cols % 4)
        tensors[name] = (
            data.astype(np.int64),
            None if scales is None else scales.astype(np.int64),
        )
    return h, tensors
