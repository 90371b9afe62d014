"""The decoder and its model file: bit for bit with the numpy int8 model, on the shim and the unix port.

Also every refusal of a bad file (nothing half-loaded), the RAM check, the context
limit and 0 bytes allocated per generated token (also under heap_lock).
"""

import json
from array import array
import os
import random
import struct
import subprocess

import pytest
import tinymodels
from attention import decoder
from attention.decoder import Decoder
from attention.model import BLOB, STATE
from conftest import MICROPYTHON, ROOT

needs_unix = pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")

RUNNER = """
import json, sys
from attention.decoder import Decoder
models = {}
for line in open(sys.argv[1]):
    c = json.loads(line)
    m = models.get(c["model"]) or Decoder.load(c["model"])
    models[c["model"]] = m
    print(json.dumps(run(m, c)))
"""

RUN = """
def run(m, c):
    m.sampling(*c["sampling"])
    m.reset()
    logits = []
    for t in c["prompt"]:
        m.feed(t)
        logits.append(list(m.logits))
    picked = []
    while len(picked) < c["room"]:
        t = m.pick()
        picked.append(t)
        if m.position >= m.context or len(picked) == c["room"]:
            break
        m.feed(t)
        logits.append(list(m.logits))
    return [logits, picked]
"""
exec(RUN)  # noqa: S102  (the same loop drives the shim's decoder and the numpy model)


def numpy_run(model, c):
    model.sampling(*c["sampling"])
    model.reset()
    logits = []
    for t in c["prompt"]:
        logits.append(model.feed(t).tolist())
    picked = []
    while len(picked) < c["room"]:
        t = model.pick()
        picked.append(t)
        if model.pos >= model.h["context"] or len(picked) == c["room"]:
            break
        logits.append(model.feed(t).tolist())
    return [logits, picked]


def cases(count, path, vocab, context, seed):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        prompt = [rng.randrange(vocab) for _ in range(rng.randint(1, context))]
        sampling = (
            [0, 0, 1]
            if i % 3 == 0
            else [rng.choice([0.5, 1, 1.7]), rng.randint(0, vocab), rng.randint(0, 2**31 - 1)]
        )
        out.append(
            {
                "model": str(path),
                "prompt": prompt,
                "room": rng.randint(1, context),
                "sampling": sampling,
            }
        )
    return out


def test_shim_decoder_equals_numpy_model(tmp_path):
    path = tmp_path / "tiny.bin"
    ref = tinymodels.write(path, 5, dim=8, layers=1, hidden=12, context=6, vocab=5)
    model = Decoder.load(str(path))
    for c in cases(6, path, 5, 6, 1):
        assert run(model, c) == numpy_run(ref, c), c  # noqa: F821  (defined by exec above)


def test_shim_shipped_model_first_tokens():
    ref = tinymodels.shipped()
    model = Decoder.load(tinymodels.SHIPPED)
    c = {"prompt": [0, 3, 10], "room": 2, "sampling": [0, 0, 1]}
    assert run(model, c) == numpy_run(ref, c)  # noqa: F821


def run_unix(tmp_path, all_cases, script_body=RUNNER):
    vectors = tmp_path / "cases.jsonl"
    vectors.write_text("".join(json.dumps(c) + "\n" for c in all_cases))
    runner = tmp_path / "runner.py"
    runner.write_text(RUN + script_body)
    done = subprocess.run(
        [MICROPYTHON, str(runner), str(vectors)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@needs_unix
def test_unix_port_equals_numpy_model_on_many_inputs(tmp_path):
    all_cases, refs = [], {}
    for seed, sizes in (
        (1, {}),
        (2, {"dim": 24, "heads": 3, "layers": 1, "hidden": 40, "vocab": 9, "context": 12}),
        (3, {"dim": 32, "heads": 1, "layers": 3, "hidden": 16, "vocab": 4, "context": 5}),
    ):
        path = tmp_path / ("m%d.bin" % seed)
        refs[str(path)] = tinymodels.write(path, seed, **sizes)
        h = refs[str(path)].h
        all_cases += cases(60, path, h["vocab"], h["context"], seed)
    shipped = tinymodels.shipped()
    refs[tinymodels.SHIPPED] = shipped
    all_cases += cases(100, tinymodels.SHIPPED, shipped.h["vocab"], shipped.h["context"], 9)
    got = run_unix(tmp_path, all_cases)
    assert len(got) == len(all_cases)
    for c, g in zip(all_cases, got):
        assert g == numpy_run(refs[c["model"]], c), c


ALLOC = """
import gc, micropython
m = Decoder.load(sys.argv[1])
m.reset()
m.feed(0)
m.pick()
m.sampling(0.8, 3, 7)
m.pick()
prompt = bytes([1, 2, 3])
out = bytearray(6)
m.generate_into(prompt, out)


def measured(m, prompt, out):
    gc.collect()
    before = gc.mem_alloc()
    m.generate_into(prompt, out)
    m.generate_into(prompt, out)
    return gc.mem_alloc() - before


generated = measured(m, prompt, out)


def tokens(m, prompt, out):
    m.reset()
    t = 0
    while t < m.context:
        m.feed(t % 3)
        m.pick()
        t += 1
    m.generate_into(prompt, out)


micropython.heap_lock()
try:
    tokens(m, prompt, out)
    locked = 0
except MemoryError:
    locked = 1
micropython.heap_unlock()
locked = "MemoryError" if locked else "ok"
print(json.dumps([generated, locked]))
"""


@needs_unix
def test_no_allocation_per_token_on_unix_port(tmp_path):
    script = tmp_path / "alloc.py"
    script.write_text("import json, sys\nfrom attention.decoder import Decoder\n" + ALLOC)
    done = subprocess.run(
        [MICROPYTHON, str(script), tinymodels.SHIPPED],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0, "ok"]


@needs_unix
def test_too_big_model_fails_before_allocating(tmp_path):
    path = tmp_path / "big.bin"
    tinymodels.write(path, 4, dim=128, heads=4, layers=2, hidden=256, context=64, vocab=30)
    script = tmp_path / "big.py"
    script.write_text(
        "from attention.decoder import Decoder\n"
        "try:\n    Decoder.load(%r)\nexcept ValueError as e:\n    print(e)\n" % str(path)
    )
    done = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=200k", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware")),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "the model needs" in done.stdout and "are free" in done.stdout, done.stdout


# The file's checks, on the shim.


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.bin"
    tinymodels.write(path, 6, dim=8, layers=1, hidden=12, context=6, vocab=5)
    return path.read_bytes()


def refused(tmp_path, data, match):
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    made = []
    real_init = Decoder.__init__

    def spy(self, h):
        made.append(h)
        real_init(self, h)

    Decoder.__init__ = spy
    try:
        with pytest.raises(ValueError, match=match):
            Decoder.load(str(path))
    finally:
        Decoder.__init__ = real_init
    assert made == [], "buffers were allocated before the file was refused"


def patched(data, offset, fmt, value):
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def test_bad_magic_and_version(tmp_path, good):
    refused(tmp_path, b"GGUF" + good[4:], "magic")
    refused(tmp_path, patched(good, 4, "<H", 3), "version 3, this reader reads versions 1 and 2")
    refused(tmp_path, patched(good, 4, "<H", 0), "version 0")
    # A version 1 file read as version 2: its bytes 40..43 are no CRC of it.
    refused(tmp_path, patched(good, 4, "<H", 2), "CRC")


def test_every_truncation_is_refused(tmp_path, good):
    for cut in sorted({0, 1, 31, 32, 40, 48, 100, len(good) // 2, len(good) - 4, len(good) - 1}):
        refused(tmp_path, good[:cut], "truncated")


def test_trailing_bytes_are_refused(tmp_path, good):
    refused(tmp_path, good + b"\0\0\0\0", "after the last tensor")


def test_inconsistent_shapes_are_refused(tmp_path, good):
    refused(tmp_path, patched(good, 6, "<H", 9), "tensor vocab is 1x5, expected 1x9")
    refused(tmp_path, patched(good, 8, "<H", 9), "heads = 2 does not divide dim = 9")
    refused(tmp_path, patched(good, 14, "<H", 13), "tensor 0.w1 is 12x8, expected 13x8")
    refused(tmp_path, patched(good, 10, "<H", 3), "heads = 3 does not divide dim = 8")
    refused(tmp_path, patched(good, 26, "<H", 9), "9 tensors, expected 10 for 1 layers")
    refused(tmp_path, patched(good, 12, "<H", 2), "10 tensors, expected 16 for 2 layers")
    refused(tmp_path, patched(good, 20, "<H", 13), "logit_shift = 13")
    # The first tensor's record: name, then rows and cols.
    refused(tmp_path, patched(good, 32, "<8s", b"vocob"), "tensor 'vocob' where 'vocab'")
    refused(tmp_path, patched(good, 42, "<H", 6), "tensor vocab is 1x6, expected 1x5")


def test_bad_scale_is_refused(tmp_path, good):
    # vocab (16 + 8 bytes), tok_emb (16 + 40), pos_emb (16 + 48), then 0.wq's record and scales.
    at = 32 + 24 + 56 + 64 + 16
    assert good[at - 16 : at - 11] == b"0.wq\0"
    refused(tmp_path, patched(good, at + 4, "<i", 16), "tensor 0.wq row 0 has scale m=.* s=16")
    refused(tmp_path, patched(good, at + 8, "<i", 40000), "tensor 0.wq row 1 has scale m=40000")


def test_ram_needed_covers_the_buffers():
    model = Decoder.load(tinymodels.SHIPPED)
    buffers = [b for b in model._frame if type(b) in (bytearray, array)]  # the frame's
    held = sum(memoryview(b).nbytes for b in buffers)
    assert held < model.ram < held + 4096  # the objects and their headers
    assert model.ram == decoder.ram_needed(model._h)


def test_context_limit_and_token_checks():
    model = Decoder.load(tinymodels.SHIPPED)
    model.reset()
    with pytest.raises(ValueError, match="token: expected 0..11"):
        model.feed(12)
    with pytest.raises(TypeError, match="token"):
        model.feed(1.0)
    with pytest.raises(ValueError, match="text: 'z' is not in the vocabulary"):
        model.encode("az")
    with pytest.raises(ValueError, match="top_k"):
        model.sampling(1.0, 13)
    with pytest.raises(TypeError, match="out"):
        model.generate_into(b"\x01", [0])


@needs_unix
def test_context_full_is_an_error_on_unix_port(tmp_path):
    body = """
m = Decoder.load(sys.argv[1])
for t in range(m.context):
    m.feed(0)
try:
    m.feed(0)
except ValueError as e:
    print(json.dumps(str(e)))
m.reset()
m.feed(0)
print(json.dumps(m.position))
"""
    got = run_unix(
        tmp_path,
        [],
        "import json, sys\nfrom attention.decoder import Decoder\n"
        + body.replace("sys.argv[1]", repr(tinymodels.SHIPPED)),
    )
    assert got == ["context: full at 18 tokens; reset() first", 1]


@needs_unix
def test_model_bench_runs_agrees_with_plain_python_and_allocates_nothing():
    import re

    from board import target

    done = target.run(["plain_model.py", "bench_model.py"], capture=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "heap per token: 0 bytes; under micropython.heap_lock(): runs" in done.stdout
    measured, estimated = (
        int(v)
        for v in re.search(
            r"RAM of the loaded model: (\d+) bytes measured .*, (\d+) estimated", done.stdout
        ).groups()
    )
    assert measured <= estimated < measured + 8192


def test_resized_logits_are_refused():
    model = Decoder.load(tinymodels.SHIPPED)
    model.reset()
    model.feed(1)
    with pytest.raises(AttributeError):
        model.logits = None
    model.logits[3:] = model.logits[:0]
    with pytest.raises(ValueError, match="logits: resized to 3 items, expected 12"):
        model.pick()
    with pytest.raises(ValueError, match="logits: resized to 3 items, expected 12"):
        model.feed(1)


@pytest.mark.parametrize("which", [BLOB, STATE], ids=["blob", "state"])
def test_the_models_own_buffers_one_byte_short_are_refused(which):
    # Only a private name reaches them; a kernel would still read and write their whole
    # planned size, so one byte short is refused before any kernel runs.
    m = Decoder.load(tinymodels.SHIPPED)
    buf = m._frame[which]
    size = len(buf)
    del buf[size - 1 :]
    with pytest.raises(ValueError, match="the model's buffers were resized: load it again"):
        m.feed(1)
    buf.append(0)  # back to its size: accepted again
    m.reset()
    m.feed(1)


@pytest.mark.parametrize("temperature", [float("inf"), float("-inf"), float("nan"), 1e308, -1])
def test_sampling_refuses_temperatures_outside_0_to_256(temperature):
    m = Decoder.load(decoder.shipped())
    with pytest.raises(ValueError, match="temperature"):
        m.sampling(temperature)


def test_generate_allocates_no_more_than_the_context_holds():
    m = Decoder.load(decoder.shipped())
    assert m.generate("abc|", 2**31, ".") == m.generate("abc|", None, ".") == "cba."
    with pytest.raises(TypeError, match="max_new"):
        m.generate("abc|", 2.0)


def test_header_and_record_fields_one_past_their_limits(tmp_path, good):
    import io

    from attention import modelfile

    refused(tmp_path, patched(good, 4, "<H", 0), "version 0")
    refused(tmp_path, patched(good, 18, "<H", 8), "norm_frac = 8")
    refused(tmp_path, patched(good, 16, "<H", 4097), "context = 4097")
    assert modelfile.read_header(io.BytesIO(patched(good, 16, "<H", 4096)))["context"] == 4096
    refused(tmp_path, patched(good, 46, "<H", 1), "tensor vocab: scaled")  # the reserved word
    at = 32 + 24 + 56 + 64 + 16  # 0.wq's scales (see test_bad_scale_is_refused)
    refused(tmp_path, patched(good, at + 4, "<i", 41), "tensor 0.wq row 0 has scale m=.* s=41")
    refused(tmp_path, patched(good, at + 4, "<i", 40)[:-1], "truncated")
    refused(tmp_path, good[:31], "truncated inside the header")
    refused(tmp_path, good[: at + 7], "truncated inside the scales of tensor 0.wq")
    # One byte short in the last scale pair of 0.wq (dim rows): refused there, not later.
    rows = modelfile.read_header(io.BytesIO(good))["dim"]
    refused(tmp_path, good[: at + 8 * rows - 1], "truncated inside the scales of tensor 0.wq")


def test_generate_into_stops_when_the_context_is_full():
    m = Decoder.load(decoder.shipped())  # context 18
    out = bytearray(4)
    assert m.generate_into(bytes(17), out) == 2  # one more fed, then the context is full
    assert m.generate_into(bytes(18), out) == 1
    assert m.position == 18


def test_temperature_is_rounded_to_q8():
    from tinylm import int8_ops as ops

    m = Decoder.load(decoder.shipped())
    for temperature, q8 in ((0.6, 154), (1.3, 333), (2.5 / 256, 3)):  # 153.6, 332.8, 2.5
        m.sampling(temperature, 0, 7)
        assert m._temperature == q8  # "kept as round(256 * temperature)"
        m.reset()
        m.feed(3)
        logits = list(m.logits)
        m.pick()
        want = ops.softmax_exp2(ops.temper(logits, 12, q8), m.logit_frac)
        assert list(m._frame[decoder._TEMPERED]) == list(want), temperature
