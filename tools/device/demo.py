"""A short demo of the three mechanisms: inputs, outputs and time per call.

Runs unchanged on the unix port and on a board (`make run`, `make run PORT=...`).
"""

import sys
import time
from array import array

from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention


def ramp(count, step, start=0):
    """count int8 values start, start + step, ... wrapped into -128..127."""
    return array("b", [((start + i * step + 128) % 256) - 128 for i in range(count)])


def per_call_us(fn, repeat=200):
    start = time.ticks_us()
    for _ in range(repeat):
        fn()
    return time.ticks_diff(time.ticks_us(), start) / repeat


def show(name, values, limit=8):
    values = list(values)
    tail = " ..." if len(values) > limit else ""
    print("  %-9s %s%s" % (name, " ".join(str(v) for v in values[:limit]), tail))


def micro():
    embed_dim, num_heads, n = 64, 4, 8
    attn = MicroAttention(embed_dim, num_heads)
    head_dim = attn.head_dim
    query = ramp(head_dim, 9)
    keys = ramp(n * head_dim, 13, 5)
    values = ramp(n * head_dim, 7, -40)
    scores = array("i", bytes(4 * n))
    output = array("i", bytes(4 * head_dim))
    pos = 5

    def step():
        attn.compute_scores(query, keys, scores)
        attn.apply_causal_mask(scores, pos)
        attn.softmax_fixed(scores)
        attn.weighted_sum(scores, values, output)

    print(
        "MicroAttention(embed_dim=%d, num_heads=%d): head_dim %d, scale_shift %d, %d keys, pos %d"
        % (embed_dim, num_heads, head_dim, attn.scale_shift, n, pos)
    )
    show("query", query)
    attn.compute_scores(query, keys, scores)
    show("scores", scores)
    step()
    show("weights", scores)
    print("  (Q8 weights, sum %d of 256; positions after %d are masked)" % (sum(scores), pos))
    show("output", output)
    print("  %.1f us per query (scores + mask + softmax + weighted sum)" % per_call_us(step))


def linear():
    dim, n = 16, 32
    attn = LinearAttention(dim)
    query, keys, values = ramp(dim, 11), ramp(n * dim, 5, 3), ramp(n * dim, 17, -9)
    output = array("i", bytes(4 * dim))
    print("LinearAttention(feature_dim=%d) over %d rows" % (dim, n))
    show("query", query)
    attn.forward(query, keys, values, output)
    show("output", output)
    print(
        "  feature_map(-5), feature_map(7): %d, %d" % (attn.feature_map(-5), attn.feature_map(7))
    )
    print("  %.1f us per forward" % per_call_us(lambda: attn.forward(query, keys, values, output)))


def window():
    window_size, head_dim, cache_len = 8, 16, 21
    attn = SlidingWindowAttention(window_size, head_dim)
    query = ramp(head_dim, 3)
    keys = ramp(window_size * head_dim, 29, 1)
    values = ramp(window_size * head_dim, 3, -60)
    output = array("i", bytes(4 * head_dim))
    print(
        "SlidingWindowAttention(window_size=%d, head_dim=%d), cache_len %d"
        % (window_size, head_dim, cache_len)
    )
    show("query", query)
    attn.forward(query, keys, values, cache_len, output)
    show("output", output)
    fn = lambda: attn.forward(query, keys, values, cache_len, output)  # noqa: E731
    print("  %.1f us per forward" % per_call_us(fn))


def project(weights, x, out, shift=11):
    """out = (weights @ x) >> shift, clamped to int8: a plain-Python int8 linear layer."""
    size = len(x)
    for i in range(len(out)):
        acc = 0
        base = i * size
        for j in range(size):
            acc += weights[base + j] * x[j]
        acc >>= shift
        out[i] = 127 if acc > 127 else -128 if acc < -128 else acc


def layer():
    embed_dim, num_heads, tokens = 32, 4, 8
    attn = MicroAttention(embed_dim, num_heads, softmax="exp2", max_len=tokens)
    cache = KVCache(tokens, embed_dim)
    wq, wk, wv = ramp(embed_dim**2, 7, 1), ramp(embed_dim**2, 11, 2), ramp(embed_dim**2, 13, 3)
    q, k, v = (array("b", bytes(embed_dim)) for _ in range(3))
    output = array("i", bytes(4 * embed_dim))
    print(
        "One attention layer decoding %d tokens: MicroAttention(%d, %d, softmax='exp2') "
        "over a KVCache" % (tokens, embed_dim, num_heads)
    )
    spent = 0
    for t in range(tokens):
        x = ramp(embed_dim, 5 + 3 * t, t * 17)  # the token's embedding
        project(wq, x, q)
        project(wk, x, k)
        project(wv, x, v)
        start = time.ticks_us()
        cache.append(k, v)
        attn.forward(q, cache.keys, cache.values, output, len(cache), t)
        spent += time.ticks_diff(time.ticks_us(), start)
        show("token %d" % t, output, 6)
    print(
        "  %.1f us per token for append + forward over the cache (projections not counted)"
        % (spent / tokens)
    )


print(
    "attention demo on %s (%s %s)"
    % (
        sys.platform,
        sys.implementation.name,
        ".".join(str(v) for v in sys.implementation.version[:3]),
    )
)
micro()
linear()
window()
layer()
