"""The model kernels' machine code (attention/_step.py, mpy-cross for every arch of
tools/machine_code/qemu_run.py), run bare-metal under QEMU, does what the same kernels
did on the unix port: every kernel's calls are recorded there (each buffer before and
after, the ints, what it returned) while models load, generate and classify, then each
call is made again under QEMU on copies of the buffers as they were before it, and must
leave them as they were after it and return the same. The models: the shipped decoder,
a version 2 decoder with the one-multiply requantisation, and two classifiers (mean
pooling with a table activation; a class token with the one-multiply requantisation),
so that every kernel and every mode of project runs."""

import json
import os
import subprocess

import numpy as np
import pytest
import test_qemu as q  # skips this module too when micropython or every arch's QEMU is missing
from language_model import version2

from machine_code import qemu_run

STEP = os.path.join(q.FIRMWARE, "attention", "_step.py")
SHIPPED = os.path.join(q.FIRMWARE, "attention", "reverse.bin")
PER_KERNEL = 40  # most calls kept per kernel and model: the first with each record (at)

# Runs on the unix port: wraps every viper function of _step, then imports, loads and runs the
# models named on the command line; one JSON line per kept call:
# [model, function, args (an int, or the number of a buffer of this call), buffers
# before (hex), buffers after (hex), returned].
RECORDER = (
    """
import json, sys
from array import array
from attention import _step

out = open(sys.argv[1], "w")
model = ""
kept = {}

def wrap(name, f):
    def call(*args):
        key = (model, name, [a for a in args if isinstance(a, int)][0])  # the record
        keep = key not in kept and sum(1 for k in kept if k[:2] == key[:2]) < %d
        if not keep:
            return f(*args)
        kept[key] = 1
        bufs, refs = [], []
        for a in args:
            if isinstance(a, int):
                refs.append(a)
                continue
            k = next((i for i, b in enumerate(bufs) if b is a), None)
            if k is None:
                k = len(bufs)
                bufs.append(a)
            refs.append([k])
        before = [bytes(b).hex() for b in bufs]
        ret = f(*args)
        after = [bytes(b).hex() for b in bufs]
        out.write(json.dumps([model, name, refs, before, after, ret]) + "\\n")
        return ret
    return call

for name in dir(_step):
    f = getattr(_step, name)
    if type(f).__name__ == "function" and not name.startswith("_"):
        setattr(_step, name, wrap(name, f))

# Imported after the wrapping: the models take the kernels by name from _step.
from attention.decoder import Decoder
from attention.classifier import Classifier

for arg in sys.argv[2:]:
    kind, path = arg.split(":", 1)
    model = path
    if kind == "decoder":
        m = Decoder.load(path)
        m.generate_into(bytes([1, 2, 3]), bytearray(4))
    else:
        m = Classifier.load(path)
        n = m.window * m._h["features"]
        m.classify(array("b", [(i * 37) %% 256 - 128 for i in range(n)]))
out.close()
"""
    % PER_KERNEL
)


def models(folder):
    rng = np.random.default_rng(3)
    made = [("decoder", SHIPPED)]
    for name, kind, options in (
        ("decoder-one", 0, {"requant": 1, "context": 6}),
        ("classifier-mean", 1, {"pooling": 1, "activation": 1}),
        ("classifier-cls", 1, {"pooling": 2, "requant": 1, "attention": 1}),
    ):
        h, t = version2.random_model(rng, kind, **options)
        path = folder / f"{name}.bin"
        path.write_bytes(version2.to_bytes(h, t))
        made.append(("decoder" if kind == 0 else "classifier", str(path)))
    return made


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("step")
    out = folder / "calls.jsonl"
    done = subprocess.run(
        [q.MICROPYTHON, "-X", "heapsize=8M", "-c", RECORDER, str(out)]
        + [f"{kind}:{path}" for kind, path in models(folder)],
        env={**os.environ, "MICROPYPATH": q.FIRMWARE},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def calls_of(records):
    """qemu_run calls: each buffer of a call a Shared of its own, so that one object
    given twice (project's state and out) is one memory, as on the interpreter."""
    calls = []
    for _, name, refs, before, _, _ in records:
        shared = [qemu_run.Shared(bytes.fromhex(b)) for b in before]
        calls.append(
            qemu_run.Call(name, [a if isinstance(a, int) else shared[a[0]] for a in refs])
        )
    return calls


def test_every_kernel_and_mode_is_recorded(recorded):
    """Every viper function of _step.py is called, and project in every mode (the seventh
    word of its record at blob[at]: INT8, ADD8, TABLE, INT32, each also with
    ONE_MULTIPLY); the calls change buffers."""
    assert {name for _, name, *_ in recorded} == set(q.viper_functions(STEP))
    modes = set()
    for _, name, refs, before, after, _ in recorded:
        assert len(before) == len(after) == len({a[0] for a in refs if not isinstance(a, int)})
        if name == "project":
            blob, at = bytes.fromhex(before[refs[0][0]]), refs[3]
            modes.add(int.from_bytes(blob[at + 24 : at + 28], "little"))
    assert modes == set(range(8)), sorted(modes)
    assert sum(r[3] != r[4] for r in recorded) > len(recorded) // 2


@pytest.mark.parametrize("arch", q.ARCH_PARAMS)
def test_step_kernels_match_unix_port(arch, recorded, tmp_path):
    calls = calls_of(recorded)
    results = qemu_run.run(arch, qemu_run.native_code(STEP, arch, tmp_path), calls)
    wrong = []
    for (model, name, refs, _, after, ret), res in zip(recorded, results):
        if res.ret != ret:
            wrong.append(f"{os.path.basename(model)} {name}{refs}: returned {res.ret}, {ret}")
        got, k = {}, iter(res.buffers)
        for a in refs:
            if not isinstance(a, int):
                got[a[0]] = next(k)
        if [got[i] for i in range(len(after))] != [bytes.fromhex(b) for b in after]:
            wrong.append(f"{os.path.basename(model)} {name}{refs}: buffers differ")
        if res.damaged:
            wrong.append(f"{os.path.basename(model)} {name}{refs}: wrote outside a buffer")
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("arch", q.ARCH_PARAMS)
def test_a_step_kernel_without_its_wrap_differs(arch, recorded, tmp_path):
    """attend's scores read back for the softmax without the sign fold: a negative score
    is a large positive one on the unix port (zero-extended ptr32 loads), a negative
    int32 on the 32-bit code, so the weights and the outputs differ."""
    source = q.mutate(
        open(STEP).read(),
        "attend",
        "v = (ptr32(state)[0] ^ sign) - sign",
        "v = ptr32(state)[0]",
    )
    (tmp_path / "mutant_step.py").write_text(source)
    kept = [r for r in recorded if r[1] == "attend"]
    # the same calls on the unix port, with the mutant: the JSON-lines runner of test_qemu
    calls = calls_of(kept)
    unix = q.run_unix("mutant_step", str(tmp_path), [_plain(c) for c in calls], tmp_path)
    code = qemu_run.native_code(tmp_path / "mutant_step.py", arch, tmp_path)
    qemu = qemu_run.run(arch, code, [_plain(c) for c in calls])
    assert q.differences([_plain(c) for c in calls], unix, qemu)


def _plain(call):
    """A call whose buffers are plain copies (the unix-port runner takes no Shared)."""
    return call._replace(args=[a if isinstance(a, int) else a.data for a in call.args])
