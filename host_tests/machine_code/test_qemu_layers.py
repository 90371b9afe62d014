"""The layer kernels' machine code (attention/_layers.py, mpy-cross for every arch of
tools/machine_code/qemu_run.py), run bare-metal under QEMU, leaves the same buffers and
returns the same value as on the unix port; a kernel with a portability bug is shown to
disagree."""

import os
import random
import struct

import pytest
import test_qemu as q  # skips this module too when QEMU or the cross tools are missing

from machine_code import qemu_run
from tinylm.int8_ops import norm_constants

LAYERS = os.path.join(q.FIRMWARE, "attention", "_layers.py")
PER_KERNEL = 40


def scales(rng, count):
    return struct.pack(
        "<%di" % (2 * count),
        *(
            v
            for _ in range(count)
            for v in (rng.choice([0, 32767, rng.randint(0, 32767)]), rng.randint(17, 40))
        ),
    )


def _n(rng, case):
    return q.SIZES[case % len(q.SIZES)] if case < len(q.SIZES) else rng.randint(0, 40)


def cases_requant8(rng, case, mode):
    n = _n(rng, case)
    step = 2 * (case % 2)
    return [q.int32s(rng, n, mode), q.junk(rng, n + 3), scales(rng, max(n, 1)), n, step]


def cases_requant32(rng, case, mode):
    n = _n(rng, case)
    step = 2 * (case % 2)
    return [q.int32s(rng, n, mode), q.junk(rng, 4 * n + 4), scales(rng, max(n, 1)), n, step]


def cases_clamp8(rng, case, mode):
    n = _n(rng, case)
    return [q.int32s(rng, n, mode), q.junk(rng, n + 3), n]


def cases_gather8(rng, case, mode):
    n, start = _n(rng, case), rng.randint(0, 9)
    return [q.junk(rng, n + 3), q.int8s(rng, start + n, mode), start, n]


def cases_add8(rng, case, mode):
    n, start = _n(rng, case), rng.randint(0, 9)
    return [q.int8s(rng, n + 3, mode), q.int8s(rng, start + n, mode), start, n]


def cases_relu8(rng, case, mode):
    n = _n(rng, case)
    return [q.int8s(rng, n + 3, mode), n]


def cases_lookup8(rng, case, mode):
    n = _n(rng, case)
    return [q.int8s(rng, n + 3, mode), q.junk(rng, 256), n]


def cases_rms_norm8(rng, case, mode):
    n = max(_n(rng, case), 1)
    num, down = norm_constants(n, rng.randint(0, 7))
    x = q.int8s(rng, n, mode) if case % 5 else bytes(n)
    return [x, q.junk(rng, n + 3), n, num, down]


def cases_argmax32(rng, case, mode):
    n = max(_n(rng, case), 1)
    return [q.int32s(rng, n, mode), n]


def cases_temper(rng, case, mode):
    n = max(_n(rng, case), 1)
    return [
        q.int32s(rng, n, mode),
        q.junk(rng, 4 * n + 4),
        n,
        rng.randint(1, n + 2),
        rng.randint(1, 2000),
        -(2**30),
    ]


def cases_draw(rng, case, mode):
    n = max(_n(rng, case), 1)
    weights = [rng.randint(0, 300) for _ in range(n)]
    weights[rng.randrange(n)] += 1
    return [struct.pack("<%di" % n, *weights), n, struct.pack("<i", rng.randint(0, 2**31 - 1))]


CASES = {name[6:]: f for name, f in globals().items() if name.startswith("cases_")}


def make_calls(names, seed=10):
    rng = random.Random(seed)
    return [
        qemu_run.Call(name, CASES[name](rng, case, q.MODES[case % len(q.MODES)]))
        for name in names
        for case in range(PER_KERNEL)
    ]


@pytest.fixture(scope="module")
def calls():
    return make_calls(q.viper_functions(LAYERS))


def test_every_layer_kernel_has_cases():
    names = q.viper_functions(LAYERS)
    assert set(names) == set(CASES), "add or remove a cases_<name> generator"


@pytest.mark.parametrize("arch", q.ARCH_PARAMS)
def test_layer_kernels_match_unix_port(arch, calls, tmp_path):
    unix = q.run_unix("attention._layers", q.FIRMWARE, calls, tmp_path)
    results = qemu_run.run(arch, qemu_run.native_code(LAYERS, arch, tmp_path), calls)
    assert len(results) == len(calls) == len(unix)
    assert not q.differences(calls, unix, results)[:5]
    damaged = [(i, c.function) for i, (c, r) in enumerate(zip(calls, results)) if r.damaged]
    assert not damaged, f"writes outside their buffers: {damaged[:5]}"


@pytest.mark.parametrize("arch", q.ARCH_PARAMS)
def test_requant_without_sign_extension_differs(arch, tmp_path):
    source = q.mutate(open(LAYERS).read(), "requant8", "a = (acc[i] ^ sign) - sign", "a = acc[i]")
    (tmp_path / "mutant.py").write_text(source)
    calls = make_calls(["requant8"], seed=3)
    unix = q.run_unix("mutant", str(tmp_path), calls, tmp_path)
    qemu = qemu_run.run(arch, qemu_run.native_code(tmp_path / "mutant.py", arch, tmp_path), calls)
    assert q.differences(calls, unix, qemu), "QEMU and the unix port agree on the broken kernel"
