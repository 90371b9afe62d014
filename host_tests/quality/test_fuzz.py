"""The hostile-call fuzzer (tools/device/fuzz.py and its fuzz_*.py) on the real unix port: no public method
lets a viper kernel touch memory outside the buffers it was given."""

import random
import textwrap

import pytest
from conftest import MICROPYTHON
from quality import fuzz

pytestmark = pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")

CALLS = 8000
FRESH_SEED = random.randrange(1, 2**31)


def last_calls(seed, calls, env=None, count=12):
    """Replay a seed in verbose mode: the last calls printed before it stopped."""
    result = fuzz.run(seed, calls, verbose=True, capture=True, timeout=300, env=env)
    lines = (result.stdout + result.stderr).splitlines()
    return "exit status %d, last lines:\n%s" % (result.returncode, "\n".join(lines[-count:]))


@pytest.mark.parametrize(
    "seed", [1, 20240917, FRESH_SEED], ids=["seed_1", "seed_20240917", "fresh_seed"]
)
def test_public_api_survives_hostile_calls(seed):
    print("fuzz seed %d (replay: make fuzz SEED=%d CALLS=%d)" % (seed, seed, CALLS))
    result = fuzz.run(seed, CALLS, capture=True, timeout=300)
    if result.returncode != 0 or "ok" not in result.stdout:
        pytest.fail(
            "fuzz seed %d failed (exit status %d):\n%s%s\nverbose replay: %s"
            % (
                seed,
                result.returncode,
                result.stdout[-3000:],
                result.stderr[-2000:],
                last_calls(seed, CALLS),
            )
        )
    assert result.stdout.strip().endswith("fuzz: %d calls, seed %d, ok" % (CALLS, seed))


UNSAFE = '''
"""A stand-in for the package whose checks were forgotten: %s."""
from array import array

import micropython


@micropython.viper
def _poke(buf: ptr32, i: int):
    buf[i] = 0


def _int8(buf, need):
    if type(buf) not in (array, bytearray, bytes, memoryview) or len(buf) < need:
        raise ValueError("int8")


def _int32(buf, need):
    if type(buf) not in (array, memoryview) or len(buf) < need:
        raise ValueError("int32")


def _count(n, available):
    if n is None:
        return available
    if type(n) is not int or n < 0 or n > available:
        raise ValueError("n")
    return n


class MicroAttention:
    def __init__(self, embed_dim, num_heads, softmax="linear", logit_shift=9, max_len=0):
        if type(embed_dim) is not int or type(num_heads) is not int:
            raise TypeError("dims")
        if not 0 < embed_dim <= 32768 or num_heads <= 0 or embed_dim %% num_heads:
            raise ValueError("dims")
        if softmax not in ("linear", "exp2") or type(logit_shift) is not int:
            raise ValueError("softmax")
        if not 0 <= logit_shift <= 12 or type(max_len) is not int:
            raise ValueError("logit_shift")
        if not 0 <= max_len <= 4194304:
            raise ValueError("max_len")
        self._dims = (embed_dim, num_heads, embed_dim // num_heads, softmax, logit_shift)

    embed_dim = property(lambda self: self._dims[0])
    num_heads = property(lambda self: self._dims[1])
    head_dim = property(lambda self: self._dims[2])
    softmax_kind = property(lambda self: self._dims[3])
    logit_shift = property(lambda self: self._dims[4])
    scale_shift = property(lambda self: 3 if self._dims[2] >= 32 else 2 if self._dims[2] >= 16 else 1)

    def _scores(self, scores, n):
        _int32(scores, 0)
        n = _count(n, len(scores))
        for i in range(n):
            scores[i] = 0%s

    def compute_scores(self, query, keys, scores, n=None):
        raise ValueError("not here")

    def apply_causal_mask(self, scores, current_pos, n=None):
        raise ValueError("not here")

    def softmax_fixed(self, scores, n=None):
        self._scores(scores, n)

    def softmax(self, scores, n=None):
        self._scores(scores, n)

    def weighted_sum(self, weights, values, output, n=None):
        raise ValueError("not here")

    def forward(self, query, keys, values, output, n=None, pos=None):
        raise ValueError("not here")


class _Refuses:
    def __init__(self, *args):
        raise ValueError("not here")


LinearAttention = SlidingWindowAttention = KVCache = _Refuses
'''


@pytest.mark.parametrize(
    "flaw, write, reported",
    [
        (
            "softmax writes one int32 past the buffer",
            "\n        _poke(scores, len(scores))",
            "changed",
        ),
        ("softmax takes any buffer as int32", "", "accepted, but scores is a"),
    ],
)
def test_fuzzer_reports_an_unsafe_package(tmp_path, flaw, write, reported):
    package = tmp_path / "attention"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(UNSAFE % (flaw, write)))
    env = {"MICROPYPATH": str(tmp_path)}
    result = fuzz.run(3, CALLS, capture=True, timeout=300, env=env)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "FAIL seed=3 call=" in result.stdout, (result.stdout + result.stderr)[-2000:]
    assert reported in result.stdout.splitlines()[-1]
