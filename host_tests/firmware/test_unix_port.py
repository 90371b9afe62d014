"""The firmware on the real MicroPython unix port (real viper machine code, 64-bit ints),
compared with the shim (32-bit semantics) and with the model of the reference."""

import json
import os
import random
import subprocess
from array import array

import model
import pytest
from attention import LinearAttention, MicroAttention, SlidingWindowAttention
from conftest import MICROPYTHON, ROOT, run_micropython

pytestmark = pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")

RUNNER = """
import json, sys
from array import array
from attention import MicroAttention, LinearAttention, SlidingWindowAttention
for line in open(sys.argv[1]):
    c = json.loads(line)
    q, k, v = array("b", c["q"]), array("b", c["k"]), array("b", c["v"])
    if c["kind"] == "micro":
        hd = c["head_dim"]
        a = MicroAttention(hd * c["heads"], c["heads"])
        s = array("i", bytes(4 * (len(k) // hd)))
        a.compute_scores(q, k, s)
        raw = list(s)
        if c["pos"] is not None:
            a.apply_causal_mask(s, c["pos"])
        a.softmax_fixed(s)
        o = array("i", bytes(4 * hd))
        a.weighted_sum(s, v, o)
        print(json.dumps([raw, list(s), list(o)]))
    elif c["kind"] == "linear":
        o = array("i", bytes(4 * len(q)))
        LinearAttention(len(q)).forward(q, k, v, o)
        print(json.dumps([list(o)]))
    else:
        o = array("i", bytes(4 * len(q)))
        SlidingWindowAttention(c["window"], len(q)).forward(q, k, v, c["cache_len"], o)
        print(json.dumps([list(o)]))
"""


def random_cases(count, seed=2024):
    rng = random.Random(seed)

    def int8s(size):
        pick = rng.choice(["full", "extreme", "small"])
        if pick == "extreme":
            return [rng.choice([-128, 127]) for _ in range(size)]
        if pick == "small":
            return [rng.randint(-3, 3) for _ in range(size)]
        return [rng.randint(-128, 127) for _ in range(size)]

    out = []
    for i in range(count):
        kind = ("micro", "linear", "window")[i % 3]
        dim = rng.choice([1, 3, 4, 8, 16, 24, 32, 64])
        rows = rng.choice([0, 1, 2, 5, 16, 40])
        case = {"kind": kind, "q": int8s(dim)}
        if kind == "micro":
            case.update(head_dim=dim, heads=rng.randint(1, 3), pos=rng.choice([None, 0, 3, 50]))
        elif kind == "window":
            case.update(window=rng.randint(1, 12), cache_len=rng.randint(0, 30))
            rows = case["window"]
        case["k"], case["v"] = int8s(rows * dim), int8s(rows * dim)
        out.append(case)
    return out


def on_shim(c):
    q, k, v = array("b", c["q"]), array("b", c["k"]), array("b", c["v"])
    if c["kind"] == "micro":
        hd = c["head_dim"]
        a = MicroAttention(hd * c["heads"], c["heads"])
        s = array("i", [0] * (len(k) // hd))
        a.compute_scores(q, k, s)
        raw = list(s)
        if c["pos"] is not None:
            a.apply_causal_mask(s, c["pos"])
        a.softmax_fixed(s)
        o = array("i", [0] * hd)
        a.weighted_sum(s, v, o)
        return [raw, list(s), list(o)]
    o = array("i", [0] * len(q))
    if c["kind"] == "linear":
        LinearAttention(len(q)).forward(q, k, v, o)
    else:
        SlidingWindowAttention(c["window"], len(q)).forward(q, k, v, c["cache_len"], o)
    return [list(o)]


def on_model(c):
    q, dim = c["q"], len(c["q"])
    keys, values = model.rows(c["k"], dim), model.rows(c["v"], dim)
    if c["kind"] == "micro":
        raw, _ = model.compute_scores(q, keys, dim)
        scores = raw if c["pos"] is None else model.apply_causal_mask(raw, c["pos"])
        weights, _ = model.softmax_fixed(scores)
        return [raw, weights, model.weighted_sum(weights, values, dim)[0]]
    if c["kind"] == "linear":
        return [model.linear_forward(q, keys, values, wrap=False)[0]]
    return [model.window_forward(q, keys, values, c["cache_len"], c["window"], dim)[0]]


def test_random_cases_agree_on_unix_port_shim_and_model(tmp_path):
    generated = random_cases(300)
    vectors = tmp_path / "cases.jsonl"
    vectors.write_text("".join(json.dumps(c) + "\n" for c in generated))
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    lines = run_micropython(str(runner), str(vectors)).splitlines()
    assert len(lines) == len(generated)
    for case, line in zip(generated, lines):
        got = json.loads(line)
        assert got == on_shim(case), case
        assert got == on_model(case), case


def test_case_suite_agrees_on_unix_port_and_shim():
    from device import cases  # noqa: PLC0415

    lines = run_micropython(os.path.join(ROOT, "tools", "device", "cases.py")).splitlines()
    assert json.loads(lines[0])["target"]["implementation"] == "micropython"
    for number, case in enumerate(cases.SUITE):
        got = json.loads(lines[number + 1])
        assert got["case"] == number
        assert got["outputs"] == cases.run(case, *cases.inputs(case))


ALLOCATION = """
import gc, json
from array import array
from attention import KVCache, LinearAttention, MicroAttention, SlidingWindowAttention

def per_call(fn, calls=50):
    fn()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(calls):
        fn()
    used = gc.mem_alloc() - before
    gc.enable()
    return used // calls

hd, n, embed = 16, 24, 64
q8, rows = array("b", range(64)), array("b", list(range(-128, 128)) * 6)  # 1536 int8
scores, out = array("i", bytes(4 * n)), array("i", bytes(4 * embed))
micro = MicroAttention(hd, 1)
heads = MicroAttention(embed, 4, softmax="exp2", max_len=n)
linear = LinearAttention(hd)
window = SlidingWindowAttention(16, hd)
cache = KVCache(8, hd, ring=True)
key = array("b", range(hd))
long = LinearAttention(hd)  # a long context: past int32, attend() takes the scaled path
for _ in range(400):
    long.update(rows, rows, n)
result = {
    "compute_scores": per_call(lambda: micro.compute_scores(q8, rows, scores, n)),
    "apply_causal_mask": per_call(lambda: micro.apply_causal_mask(scores, 3)),
    "softmax_fixed": per_call(lambda: micro.softmax_fixed(scores)),
    "softmax exp2": per_call(lambda: heads.softmax(scores)),
    "weighted_sum": per_call(lambda: micro.weighted_sum(scores, rows, out, n)),
    "forward": per_call(lambda: heads.forward(q8, rows, rows, out, n, 10)),
    "LinearAttention.forward": per_call(lambda: linear.forward(q8, rows, rows, out, n)),
    "LinearAttention.update": per_call(lambda: linear.update(rows, rows, n)),
    "LinearAttention.attend": per_call(lambda: linear.attend(q8, out)),
    "LinearAttention.attend, long context": per_call(lambda: long.attend(q8, out)),
    "SlidingWindowAttention.forward": per_call(lambda: window.forward(q8, rows, rows, 40, out)),
    "KVCache.append": per_call(lambda: cache.append(key, key)),
}
print(json.dumps(result))
"""


def test_every_kernel_method_allocates_nothing_per_call(tmp_path):
    script = tmp_path / "alloc.py"
    script.write_text(ALLOCATION)
    result = json.loads(run_micropython(str(script)))
    assert result == dict.fromkeys(result, 0)


STREAM = """
from array import array
from attention import LinearAttention
dim, rows, repeats = 8, 1000, 120
keys = array("b", [127 if (t + j) % 5 else -128 for t in range(rows) for j in range(dim)])
values = array("b", [127 - (t * 3 + j) % 7 for t in range(rows) for j in range(dim)])
attn = LinearAttention(dim)
for _ in range(repeats):
    attn.update(keys, values)
out = array("i", bytes(4 * dim))
attn.attend(array("b", [100, -5, 3, 127, 0, 64, -128, 9]), out)
print(attn.halvings, list(out))
"""


def test_streaming_linear_over_a_long_context(tmp_path):
    dim, rows, repeats = 8, 1000, 120
    keys = [127 if (t + j) % 5 else -128 for t in range(rows) for j in range(dim)]
    values = [127 - (t * 3 + j) % 7 for t in range(rows) for j in range(dim)]
    query = [100, -5, 3, 127, 0, 64, -128, 9]
    key_rows, value_rows = model.rows(keys, dim) * repeats, model.rows(values, dim) * repeats
    _, overflow = model.linear_forward(query, key_rows[:rows], value_rows[:rows])
    assert overflow  # already one pass of the rows is past the reference's int32 arithmetic
    expected = model.linear_documented(query, key_rows, value_rows)
    exact, _ = model.linear_forward(query, key_rows, value_rows, wrap=False)
    script = tmp_path / "stream.py"
    script.write_text(STREAM)
    halvings, output = run_micropython(str(script)).split(" ", 1)
    assert halvings == "0"
    assert json.loads(output) == expected
    assert all(abs(o - e) <= 1 <= abs(o) - abs(e) + 1 for o, e in zip(expected, exact))  # one step


EQUIVALENCE = """
from array import array
from attention import LinearAttention, MicroAttention

state = 7
def int8s(count):
    global state
    out = array("b", bytes(count))
    for i in range(count):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (state >> 16) % 256 - 128
    return out

checks = failures = 0
for heads, head_dim, n, kind, pos in ((1, 8, 5, "linear", None), (4, 16, 20, "exp2", 7),
                                      (2, 3, 9, "linear", 0), (8, 8, 33, "exp2", None)):
    embed = heads * head_dim
    attn = MicroAttention(embed, heads, softmax=kind)
    q, k, v = int8s(embed), int8s(n * embed), int8s(n * embed)
    out = array("i", bytes(4 * embed))
    attn.forward(q, k, v, out, n, pos)
    for h in range(heads):
        first = h * head_dim
        cols = lambda buf: array("b", [buf[i * embed + first + j] for i in range(n) for j in range(head_dim)])
        scores, head = array("i", bytes(4 * n)), array("i", bytes(4 * head_dim))
        attn.compute_scores(q[first:first + head_dim], cols(k), scores)
        if pos is not None:
            attn.apply_causal_mask(scores, pos)
        attn.softmax(scores)
        attn.weighted_sum(scores, cols(v), head)
        checks += 1
        failures += list(head) != list(out[first:first + head_dim])
for dim, rows, step in ((8, 40, 3), (32, 100, 7)):
    q, k, v = int8s(dim), int8s(rows * dim), int8s(rows * dim)
    stream, whole = LinearAttention(dim), LinearAttention(dim)
    got, want = array("i", bytes(4 * dim)), array("i", bytes(4 * dim))
    for first in range(0, rows, step):
        last = min(first + step, rows)
        stream.update(k[first * dim:last * dim], v[first * dim:last * dim])
        stream.attend(q, got)
        whole.forward(q, k, v, want, last)
        checks += 1
        failures += got != want
print(checks, failures)
"""


def test_forward_and_streaming_equal_their_counterparts_on_the_unix_port(tmp_path):
    script = tmp_path / "equivalence.py"
    script.write_text(EQUIVALENCE)
    checks, failures = run_micropython(str(script)).split()
    assert int(checks) == (1 + 4 + 2 + 8) + (14 + 15)  # heads, then streaming steps
    assert failures == "0"
