"""A deterministic suite of attention cases, run the same way on CPython and on MicroPython.

Inputs are generated from a seed by xorshift32, so the host and a board build the
same bytes from a short description. `python cases.py` or `micropython cases.py`
(or `mpremote run cases.py` with the package on the board) prints one JSON line
describing the target, then one JSON line per case with its outputs.
"""

import json
import sys
from array import array

from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention

# (mechanism, sizes..., value range, seed). Ranges: "full" -128..127, "small" -8..7,
# "extreme" only -128 and 127.
SUITE = (
    ("micro", 4, 1, 0, None, "full", 1),
    ("micro", 4, 1, 1, None, "full", 2),
    ("micro", 1, 3, 5, None, "extreme", 3),
    ("micro", 8, 2, 7, 3, "full", 4),
    ("micro", 16, 4, 16, 9, "small", 5),
    ("micro", 32, 1, 24, 0, "extreme", 6),
    ("micro", 64, 4, 64, None, "full", 7),
    ("micro", 64, 2, 64, 40, "extreme", 8),
    ("micro", 17, 1, 33, 100, "full", 9),
    ("linear", 1, 0, "full", 10),
    ("linear", 4, 1, "full", 11),
    ("linear", 8, 9, "small", 12),
    ("linear", 16, 16, "full", 13),
    ("linear", 16, 200, "extreme", 14),
    ("linear", 32, 64, "full", 15),
    ("linear", 64, 32, "extreme", 16),
    ("window", 1, 4, 0, "full", 17),
    ("window", 4, 8, 3, "full", 18),
    ("window", 4, 8, 11, "extreme", 19),
    ("window", 16, 32, 40, "full", 20),
    ("window", 32, 64, 32, "small", 21),
    ("window", 7, 5, 100, "full", 22),
    # all heads over a KV cache, decoding token by token: (embed_dim, num_heads, tokens, softmax)
    ("layer", 16, 4, 6, "linear", "full", 23),
    ("layer", 32, 2, 9, "exp2", "full", 24),
    ("layer", 64, 4, 12, "exp2", "extreme", 25),
    # streaming linear attention, rows added a few at a time: (dim, rows, rows per update)
    ("stream", 8, 30, 7, "full", 26),
    ("stream", 32, 64, 5, "extreme", 27),
    # a long linear context, past the reference's int32: the same rows added many times:
    # (dim, rows, times)
    ("long", 16, 64, 50, "extreme", 28),
    ("long", 4, 10, 400, "extreme", 29),
)


class Random:
    """xorshift32: the same sequence on every Python."""

    def __init__(self, seed):
        self.state = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def int8s(self, count, kind):
        out = array("b", bytes(count))
        for i in range(count):
            r = self.next() >> 24
            if kind == "extreme":
                out[i] = 127 if r & 1 else -128
            elif kind == "small":
                out[i] = (r & 15) - 8
            else:
                out[i] = r - 128
        return out


def inputs(case):
    """The int8 buffers of a case, as array('b'): query, keys, values."""
    kind, seed = case[-2], case[-1]
    if case[0] in ("micro", "layer"):
        width, rows = case[1], case[3]
    elif case[0] == "window":
        width, rows = case[2], case[1]
    else:  # linear, stream, long
        width, rows = case[1], case[2]
    rng = Random(seed)
    return rng.int8s(width, kind), rng.int8s(rows * width, kind), rng.int8s(rows * width, kind)


def run(case, query, keys, values):
    """The outputs of a case on this target, as a dict of lists."""
    if case[0] == "micro":
        _, head_dim, num_heads, n, pos, _, _ = case
        attn = MicroAttention(head_dim * num_heads, num_heads)
        scores = array("i", bytes(4 * n))
        attn.compute_scores(query, keys, scores)
        raw = list(scores)
        if pos is not None:
            attn.apply_causal_mask(scores, pos)
        attn.softmax_fixed(scores)
        output = array("i", bytes(4 * head_dim))
        attn.weighted_sum(scores, values, output)
        return {"scores": raw, "weights": list(scores), "output": list(output)}
    if case[0] == "linear":
        dim = case[1]
        output = array("i", bytes(4 * dim))
        LinearAttention(dim).forward(query, keys, values, output)
        return {"output": list(output)}
    if case[0] == "layer":
        _, embed_dim, num_heads, tokens, softmax, _, _ = case
        attn = MicroAttention(embed_dim, num_heads, softmax=softmax, max_len=tokens)
        cache = KVCache(tokens, embed_dim)
        output = array("i", bytes(4 * embed_dim))
        outputs = []
        for t in range(tokens):
            start, stop = t * embed_dim, (t + 1) * embed_dim
            cache.append(keys[start:stop], values[start:stop])
            attn.forward(query, cache.keys, cache.values, output, len(cache), t)
            outputs.append(list(output))
        return {"outputs": outputs}
    if case[0] == "stream":
        _, dim, rows, step, _, _ = case
        attn = LinearAttention(dim)
        output = array("i", bytes(4 * dim))
        outputs = []
        for first in range(0, rows, step):
            count = min(step, rows - first)
            attn.update(
                keys[first * dim : (first + count) * dim],
                values[first * dim : (first + count) * dim],
            )
            attn.attend(query, output)
            outputs.append(list(output))
        return {"outputs": outputs}
    if case[0] == "long":
        _, dim, rows, times, _, _ = case
        attn = LinearAttention(dim)
        output = array("i", bytes(4 * dim))
        for _ in range(times):
            attn.update(keys, values)
        attn.attend(query, output)
        return {"output": list(output), "halvings": attn.halvings}
    _, window_size, head_dim, cache_len, _, _ = case
    output = array("i", bytes(4 * head_dim))
    attn = SlidingWindowAttention(window_size, head_dim)
    attn.forward(query, keys, values, cache_len, output)
    return {"output": list(output)}


def target():
    """What this target says about itself."""
    import attention

    impl = sys.implementation
    info = {
        "implementation": impl.name,
        "version": ".".join(str(v) for v in impl.version[:3]),
        "platform": sys.platform,
        "package_version": attention.__version__,
    }
    mpy = getattr(impl, "_mpy", None)
    if mpy is not None:
        archs = [
            None,
            "x86",
            "x64",
            "armv6",
            "armv6m",
            "armv7m",
            "armv7em",
            "armv7emsp",
            "armv7emdp",
            "xtensa",
            "xtensawin",
            "rv32imc",
            "rv64imc",
        ]
        arch = (mpy >> 10) & 15
        info["mpy_version"] = mpy & 0xFF
        info["mpy_arch"] = archs[arch] if arch < len(archs) else arch
    try:
        import os

        info["machine"] = os.uname().machine
        info["release"] = os.uname().release
    except (AttributeError, ImportError):
        info["machine"] = getattr(impl, "_machine", None)
    return info


def main():
    print(json.dumps({"target": target()}))
    for number, case in enumerate(SUITE):
        query, keys, values = inputs(case)
        print(json.dumps({"case": number, "outputs": run(case, query, keys, values)}))


if __name__ == "__main__":
    main()
