"""The fuzzer's plans for the three mechanisms: MicroAttention, LinearAttention and
SlidingWindowAttention, each method's hostile arguments and what it must refuse.

Part of tools/device/fuzz.py (joined by tools/board/target.py), on fuzz_arena.py.
"""

# with: fuzz_arena.py


def plan_micro(call, s, method):
    """Arguments for one MicroAttention method; returns the bound method."""
    a = s.obj
    rng = call.rng
    embed, head = s.attrs[0][1], s.attrs[2][1]
    if method == "compute_scores":
        if call.buffer("query", "int8", sizes(rng, head)) < head:
            call.must_refuse("query shorter than head_dim")
        rows = call.buffer("keys", "int8", rows_size(rng, head)) // head
        scores = call.buffer("scores", "int32", sizes(rng, rows), out=True)
        n = pick_count(call, "n", rows)
        if scores < (rows if n is None else n if type(n) is int else 0):
            call.must_refuse("scores shorter than n")
        call.add(n)
        return a.compute_scores
    if method in ("apply_causal_mask", "softmax_fixed", "softmax"):
        size = call.buffer("scores", "int32", rng.pick((0, 1, 2, 7, 40, 300)), out=True)
        if method == "apply_causal_mask":
            call.add(pick_count(call, "current_pos", None, optional=False))
        call.add(pick_count(call, "n", size))
        return getattr(a, method)
    if method == "weighted_sum":
        weights = call.buffer("weights", "int32", rng.pick((0, 1, 3, 8, 40)))
        rows = call.buffer("values", "int8", rows_size(rng, head)) // head
        if rng.chance(15) and call.pending and call.pending[0][2] == 0:
            if call.alias("output", 0, head) < weights:
                call.must_refuse("output overlaps weights")
        elif call.buffer("output", "int32", sizes(rng, head), out=True) < head:
            call.must_refuse("output shorter than head_dim")
        call.add(pick_count(call, "n", min(weights, rows)))
        return a.weighted_sum
    if call.buffer("query", "int8", sizes(rng, embed)) < embed:
        call.must_refuse("query shorter than embed_dim")
    keys = call.buffer("keys", "int8", rows_size(rng, embed))
    values = call.buffer("values", "int8", keys if rng.chance(75) else rows_size(rng, embed))
    if call.buffer("output", "int32", sizes(rng, embed), out=True) < embed:
        call.must_refuse("output shorter than embed_dim")
    n = pick_count(call, "n", min(keys, values) // embed)
    if n is None and keys != values:
        call.must_refuse("keys and values hold different rows")
    call.add(n)
    call.add(pick_count(call, "pos", None))
    return a.forward


def plan_linear(call, s, method):
    """Arguments for one LinearAttention method; returns the bound method."""
    rng = call.rng
    dim = s.attrs[0][1]
    if method == "feature_map":
        x = rng.pick((-128, 127, 0, -129, 128, 2**40, 1.0, None))
        if type(x) is not int or not -128 <= x <= 127:
            call.must_refuse("x outside int8")
        call.add(x)
    elif method in ("update", "forward"):
        if method == "forward" and call.buffer("query", "int8", sizes(rng, dim)) < dim:
            call.must_refuse("query shorter than feature_dim")
        keys = call.buffer("keys", "int8", rows_size(rng, dim))
        values = call.buffer("values", "int8", keys if rng.chance(75) else rows_size(rng, dim))
        if method == "forward" and call.buffer("output", "int32", sizes(rng, dim), True) < dim:
            call.must_refuse("output shorter than feature_dim")
        n = pick_count(call, "n", min(keys, values) // dim)
        if n is None and keys != values:
            call.must_refuse("keys and values hold different rows")
        call.add(n)
    elif method == "attend":
        if call.buffer("query", "int8", sizes(rng, dim)) < dim:
            call.must_refuse("query shorter than feature_dim")
        if call.buffer("output", "int32", sizes(rng, dim), out=True) < dim:
            call.must_refuse("output shorter than feature_dim")
    return getattr(s.obj, method)


def plan_window(call, s):
    """Arguments for SlidingWindowAttention.forward."""
    rng = call.rng
    window, head = s.attrs[0][1], s.attrs[1][1]
    if call.buffer("query", "int8", sizes(rng, head)) < head:
        call.must_refuse("query shorter than head_dim")
    cache_len = pick_count(call, "cache_len", None, optional=False)
    rows = min(cache_len, window) if type(cache_len) in (int, bool) and cache_len >= 0 else 0
    for name in ("keys", "values"):
        size = rng.pick((window * head, rows * head, rows * head - 1, 0, head))
        if call.buffer(name, "int8", max(size, 0)) < rows * head:
            call.must_refuse(name + " shorter than the rows in use")
    call.add(cache_len)
    if call.buffer("output", "int32", sizes(rng, head), out=True) < head:
        call.must_refuse("output shorter than head_dim")
    return s.obj.forward
