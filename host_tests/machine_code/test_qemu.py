"""Every viper kernel's machine code (mpy-cross for xtensawin and rv32imc, the ESP32s,
and armv6m and armv7emsp, the RP2040 and RP2350), run bare-metal under QEMU, leaves the
same buffers and returns the same value as the same kernel on the unix port, on random
and edge inputs. Kernel variants with portability bugs (a 64-bit host and a 32-bit chip
disagree) are shown to fail the comparison. An architecture whose QEMU or binutils are
missing is skipped alone, with a line naming its packages."""

import ast
import json
import os
import random
import re
import struct
import subprocess

import pytest
from conftest import MICROPYTHON, MPY_CROSS, ROOT
from machine_code import inspect_native, qemu_run

FIRMWARE = os.path.join(ROOT, "firmware")
KERNELS = os.path.join(FIRMWARE, "attention", "_kernels.py")
ARCHS = list(qemu_run.ARCHS)

_missing = [
    name for name, path in (("micropython", MICROPYTHON), ("mpy-cross", MPY_CROSS)) if not path
]
if _missing or all(qemu_run.missing_tools(a) for a in ARCHS):
    pytest.skip(
        f"QEMU layer needs {', '.join(_missing + qemu_run.missing_tools())}: "
        + qemu_run.INSTALL_HINT,
        allow_module_level=True,
    )


def arch_params(archs=ARCHS):
    """The archs as parameters, each skipped when its QEMU or binutils are missing."""
    return [
        pytest.param(
            a,
            marks=pytest.mark.skipif(
                bool(qemu_run.missing_tools(a)),
                reason=f"{a} needs {', '.join(qemu_run.missing_tools(a))}: "
                + qemu_run.install_hint(a),
            ),
        )
        for a in archs
    ]


ARCH_PARAMS = arch_params()

# Runs on the unix port: MODULE's functions on the calls of a JSON-lines file; buffers
# are bytearrays (hex), results one JSON line per call: [returned, [buffer hex, ...]].
UNIX_RUNNER = """
import json, sys
kernels = __import__(sys.argv[1])
for part in sys.argv[1].split(".")[1:]:
    kernels = getattr(kernels, part)
for line in open(sys.argv[2]):
    name, args = json.loads(line)
    args = [bytearray(bytes.fromhex(a)) if isinstance(a, str) else a for a in args]
    ret = getattr(kernels, name)(*args)
    print(json.dumps([ret, [a.hex() for a in args if isinstance(a, bytearray)]]))
"""


def viper_functions(path):
    """Names of the @micropython.viper functions of a source file, in order."""
    tree = ast.parse(open(path).read())
    return [
        f.name
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
        and any(ast.unparse(d) == "micropython.viper" for d in f.decorator_list)
    ]


# --- inputs ------------------------------------------------------------------------------
INT32_EDGES = [-(2**31), 2**31 - 1, -1, 0, 1, -(2**30), 2**30 - 1]
SIZES = [0, 1, 2, 7, 8, 9, 3, 15, 16, 17, 33]  # the eight-wide and four-wide tails


def int8s(rng, size, mode):
    pick = {
        "extreme": lambda: rng.choice([-128, 127]),
        "small": lambda: rng.randint(-3, 3),
        "full": lambda: rng.randint(-128, 127),
        "mixed": lambda: rng.choice([-128, 127, -1, 0, 1, rng.randint(-128, 127)]),
    }[mode]
    return struct.pack(f"<{size}b", *(pick() for _ in range(size)))


def int32s(rng, size, mode, low=-(2**31), high=2**31 - 1):
    pick = {
        "extreme": lambda: rng.choice([v for v in INT32_EDGES if low <= v <= high] or [low]),
        "small": lambda: rng.randint(max(low, -300), min(high, 300)),
        "full": lambda: rng.randint(low, high),
        "mixed": lambda: rng.choice(
            [rng.randint(low, high), rng.choice([low, high]), rng.randint(max(low, -9), 9)]
        ),
    }[mode]
    return struct.pack(f"<{size}i", *(pick() for _ in range(size)))


def junk(rng, size):
    """Bytes the kernel must overwrite or leave alone: both targets start from the same."""
    return bytes(rng.getrandbits(8) for _ in range(size))


EXP2_TABLE = struct.pack("<65i", *(round(65536 * 2 ** (-k / 64)) for k in range(65)))
# phi(k) = max(k, 0) + 1 of the int8 k whose byte is u, as linear_rows takes it
PHI_TABLE = bytes(u + 1 if u < 128 else 1 for u in range(256))


def _rows(rng, case):
    n, dim = SIZES[case % len(SIZES)], SIZES[(case * 7 + 3) % len(SIZES)]
    if case >= len(SIZES):
        n, dim = rng.randint(0, 12), rng.randint(1, 40)
    return n, dim


def cases_copy8(rng, case, mode):
    n, start = _rows(rng, case)[0], rng.randint(0, 5)
    return [junk(rng, start + n + 3), int8s(rng, n, mode), start, n]


def cases_fill(rng, case, mode):
    start, stop = rng.randint(0, 4), _rows(rng, case)[0] + rng.choice([0, 0, -5])
    value = struct.unpack("<i", int32s(rng, 1, mode))[0]
    return [junk(rng, 4 * (max(start, stop) + 2)), start, stop, value]


def cases_dot_rows(rng, case, mode):
    n, dim = _rows(rng, case)
    stride, first = dim + rng.randint(0, 3), rng.randint(0, 3)
    keys = int8s(rng, first + max(n - 1, 0) * stride + dim, mode)
    source = int8s(rng, first + dim, mode)
    query = junk(rng, 4 * (first + dim) + 4)  # scratch: dot_rows writes the query into it
    shift = rng.randint(0, 31)
    return [keys, query, junk(rng, 4 * n + 4), n, dim, stride, first, shift, source]


def cases_softmax_q8(rng, case, mode):
    n = _rows(rng, case)[0]
    return [int32s(rng, n, mode), n]


def cases_softmax_exp2(rng, case, mode):
    n = _rows(rng, case)[0]
    return [int32s(rng, n, mode), EXP2_TABLE, n, rng.randint(0, 12)]


def cases_weighted_rows(rng, case, mode):
    n, dim = _rows(rng, case)
    stride, first = dim + rng.randint(0, 3), rng.randint(0, 3)
    values = int8s(rng, first + max(n - 1, 0) * stride + dim, mode)
    weights = int32s(rng, n, mode, *((0, 256) if case % 2 else (-(2**31), 2**31 - 1)))
    return [values, junk(rng, 4 * (first + dim) + 4), weights, n, dim, stride, first]


def cases_linear_rows(rng, case, mode):
    n, dim = _rows(rng, case)
    first = rng.randint(0, 2)
    keys, values = int8s(rng, (first + n) * dim, mode), int8s(rng, (first + n) * dim, mode)
    return [keys, int32s(rng, 2 * dim, mode), values, first, n, dim, PHI_TABLE]


def _carried(rng, dim, mode, contexts):
    """carry16's output shape: low words 0..65535, high words within +-2**28 (key sums >= 0)."""
    low = int32s(rng, dim, mode, 0, 65535)
    if contexts:
        return low, int32s(rng, dim, mode, -(2**28), 2**28)
    return low, int32s(rng, dim, mode, 0, rng.choice([0x7FFF, 0x8000, 2**28]))


def cases_carry16(rng, case, mode):
    count = _rows(rng, case)[1]
    return [int32s(rng, 2 * count, mode), count]


def cases_linear_finish(rng, case, mode):
    dim = _rows(rng, case)[1]
    c_lo, c_hi = _carried(rng, dim, mode, True)
    k_lo, k_hi = _carried(rng, dim, mode, False)
    if case % 3 == 1:  # small sums, so that the division path runs
        c_hi, k_hi = int32s(rng, dim, "small", -99, 99), int32s(rng, dim, "small", 0, 9)
    return [junk(rng, 4 * dim + 4), int8s(rng, dim, mode), c_lo + k_lo + c_hi + k_hi, dim]


def cases_linear_finish_scaled(rng, case, mode):
    dim = _rows(rng, case)[1]
    c_lo, c_hi = _carried(rng, dim, mode, True)
    k_lo, k_hi = _carried(rng, dim, mode, False)
    return [junk(rng, 4 * dim + 4), int8s(rng, dim, mode), c_lo + k_lo + c_hi + k_hi, dim]


CASES = {name[6:]: f for name, f in globals().items() if name.startswith("cases_")}
MODES = ["extreme", "full", "small", "mixed"]
PER_KERNEL = 40


def make_calls(names, seed=8):
    rng = random.Random(seed)
    return [
        qemu_run.Call(name, CASES[name](rng, case, MODES[case % len(MODES)]))
        for name in names
        for case in range(PER_KERNEL)
    ]


# --- running -----------------------------------------------------------------------------
def run_unix(module, path, calls, tmp_path):
    """The calls on the unix port, MODULE imported from path: [(returned, [buffers])]."""
    lines = tmp_path / "calls.jsonl"
    with open(lines, "w") as f:
        for c in calls:
            args = [a if isinstance(a, int) else bytes(a).hex() for a in c.args]
            f.write(json.dumps([c.function, args]) + "\n")
    done = subprocess.run(
        [MICROPYTHON, "-c", UNIX_RUNNER, module, str(lines)],
        env={**os.environ, "MICROPYPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [
        (r, [bytes.fromhex(b) for b in bufs])
        for r, bufs in map(json.loads, done.stdout.split("\n")[:-1])
    ]


def differences(calls, unix, qemu):
    """(index, what) of every call where the two targets disagree."""
    out = []
    for i, (c, (ret, bufs), res) in enumerate(zip(calls, unix, qemu)):
        if ret != res.ret:
            out.append((i, f"{c.function}: returned {res.ret}, unix port {ret}"))
        for k, (a, b) in enumerate(zip(bufs, res.buffers)):
            if a != b:
                out.append((i, f"{c.function}: buffer {k} differs, args {c.args}"))
    return out


@pytest.fixture(scope="module")
def kernel_names():
    return viper_functions(KERNELS)


@pytest.fixture(scope="module")
def calls(kernel_names):
    return make_calls([n for n in kernel_names if n in CASES])


@pytest.fixture(scope="module")
def unix_results(calls, tmp_path_factory):
    return run_unix("attention._kernels", FIRMWARE, calls, tmp_path_factory.mktemp("unix"))


# --- tests -------------------------------------------------------------------------------
def test_every_kernel_has_cases(kernel_names):
    assert len(kernel_names) >= 5
    missing = [n for n in kernel_names if n not in CASES]
    assert not missing, f"add a cases_<name> generator to {__file__} for {missing}"
    assert not set(CASES) - set(kernel_names), "cases for kernels that no longer exist"


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_kernels_match_unix_port(arch, calls, unix_results, tmp_path):
    results = qemu_run.run(arch, qemu_run.native_code(KERNELS, arch, tmp_path), calls)
    assert len(results) == len(calls) == len(unix_results)
    assert not differences(calls, unix_results, results)[:5]
    damaged = [(i, c.function) for i, (c, r) in enumerate(zip(calls, results)) if r.damaged]
    assert not damaged, f"writes outside their buffers: {damaged[:5]}"
    assert all(r.instructions > 0 for r in results)


def test_cases_reach_both_outcomes(calls, unix_results):
    """The inputs reach the interesting paths: both return values, and every kernel writes."""
    rets = {(c.function, r) for c, (r, _) in zip(calls, unix_results)}
    for name in ("carry16", "linear_finish"):
        assert {(name, 0), (name, 1)} <= rets
    for name in CASES:
        assert any(
            bufs != [bytes(a) for a in c.args if not isinstance(a, int)]
            for c, (_, bufs) in zip(calls, unix_results)
            if c.function == name
        ), f"{name} never changed a buffer"


# Portability bugs: each variant is right on one kind of machine only, so the unix port
# (64-bit ints, zero-extended ptr32 loads) and the 32-bit code must disagree on it.
MUTATIONS = {
    "int32 sign extension dropped": (
        "softmax_q8",
        "v = (scores[0] ^ sign) - sign\n        e = 1",
        "v = scores[0]\n        e = 1",
    ),
    "shift by 32": ("dot_rows", "sign <<= 31", "sign <<= 32"),
    "loaded int32 used unsigned": (
        "linear_finish",
        "khi = (acc[hi_key + j] ^ sign) - sign",
        "khi = acc[hi_key + j]",
    ),
    "int32 wrap dropped": (
        "weighted_rows",
        "((((out[0] - bias) & low32) ^ sign) - sign) >> 8",
        "(out[0] - bias) >> 8",
    ),
}


def mutate(source, function, old, new):
    """source with old replaced by new inside one function (which must contain it)."""
    m = re.search(rf"^def {function}\(.*?(?=^@micropython|\Z)", source, re.S | re.M)
    assert m and old in m.group(0), f"mutation of {function} no longer applies: update it"
    body = m.group(0).replace(old, new)
    return source[: m.start()] + body + source[m.end() :]


@pytest.fixture(scope="module")
def mutants(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mutants")
    source = open(KERNELS).read()
    out = {}
    for i, (label, (function, old, new)) in enumerate(MUTATIONS.items()):
        module = f"mutant{i}"
        (folder / f"{module}.py").write_text(mutate(source, function, old, new))
        calls = make_calls([function], seed=i)
        if function == "linear_finish":  # negative key-sum high words show this bug
            calls = [c._replace(args=_negative_key_sums(c.args)) for c in calls]
        out[label] = (module, folder, calls, run_unix(module, str(folder), calls, folder))
    return out


def _negative_key_sums(args):
    out, query, acc, dim = args
    words = list(struct.unpack(f"<{4 * dim}i", acc))
    words[3 * dim :] = [-1 - (w & 0xFF) for w in words[3 * dim :]]
    return [out, query, struct.pack(f"<{4 * dim}i", *words), dim]


@pytest.mark.parametrize("arch", ARCH_PARAMS)
@pytest.mark.parametrize("label", MUTATIONS)
def test_broken_kernels_differ(arch, label, mutants, tmp_path):
    module, folder, calls, unix = mutants[label]
    qemu = qemu_run.run(arch, qemu_run.native_code(folder / f"{module}.py", arch, tmp_path), calls)
    assert differences(calls, unix, qemu), f"{label}: QEMU and the unix port agree"


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_unknown_runtime_call_traps(arch, tmp_path):
    """A fun-table entry the runner does not provide stops the run, naming it: here the
    argument-count error a call with three arguments for two raises."""
    code = qemu_run.native_code(KERNELS, arch, tmp_path)
    with pytest.raises(qemu_run.QemuError, match=r"unknown fun-table entry \(entry 44.*carry16"):
        qemu_run.run(arch, code, [qemu_run.Call("carry16", [bytes(8), 1, 2])])


@pytest.mark.parametrize("arch", arch_params(["xtensawin"]))
def test_exception_stops_the_run(arch, tmp_path):
    """A CPU exception (here the LX's integer divide by zero) names its cause and place."""
    src = tmp_path / "divide.py"
    src.write_text(DIVIDE)
    code = qemu_run.native_code(src, arch, tmp_path)
    calls = [qemu_run.Call("div", [7, 2]), qemu_run.Call("div", [7, 0])]
    with pytest.raises(qemu_run.QemuError, match=r"exception \(cause 6, at driver.*call 1 \(div"):
        qemu_run.run(arch, code, calls)


# The int32 query scratch addressed in bytes, not in words: every access stays inside
# the buffer and the results do not change, but with first not a multiple of 4 each
# word access is unaligned. x86-64 and the Cortex-M4 do such accesses; the RP2040's
# Cortex-M0+ (ARMv6-M) faults on them, as the Xtensa LX does on l32i.
UNALIGNED = ("dot_rows", "q0 = int(query) + (first << 2)", "q0 = int(query) + first")


@pytest.mark.parametrize("arch", arch_params(["armv6m", "armv7emsp"]))
def test_an_unaligned_word_access_faults_on_armv6m(arch, tmp_path):
    """Only the armv6m run (CCR.UNALIGN_TRP set, as on a Cortex-M0+) catches the
    unaligned variant: it stops at the first such call, naming the fault and the place;
    the Cortex-M4 gives what the unix port gives. The package's own dot_rows runs the
    same calls."""
    (tmp_path / "unaligned.py").write_text(mutate(open(KERNELS).read(), *UNALIGNED))
    calls = [c for c in make_calls(["dot_rows"], seed=5) if c.args[6] % 4 and c.args[4]]
    assert len(calls) >= 10
    code = qemu_run.native_code(tmp_path / "unaligned.py", arch, tmp_path)
    if arch == "armv6m":
        with pytest.raises(
            qemu_run.QemuError,
            match=r"exception \(cause CFSR 0x01000000 UNALIGNED, at dot_rows\+0x[0-9a-f]+\) "
            r"in call 0 \(dot_rows\)",
        ):
            qemu_run.run(arch, code, calls)
    else:
        unix = run_unix("unaligned", str(tmp_path), calls, tmp_path)
        assert not differences(calls, unix, qemu_run.run(arch, code, calls))
    right = qemu_run.run(arch, qemu_run.native_code(KERNELS, arch, tmp_path), calls)
    assert len(right) == len(calls) and not any(r.damaged for r in right)


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_function_table_after_other_constants(arch, tmp_path):
    """A module whose constant objects (here a long string) come before the function
    table still runs: the runner puts the table in the slot the .mpy gives it."""
    src = tmp_path / "constants.py"
    src.write_text(
        'NOTE = "a string long enough to be a constant object, not a qstr" * 2\n' + DIVIDE
    )
    code = qemu_run.native_code(src, arch, tmp_path)
    assert code.fun_table > 0
    assert [r.ret for r in qemu_run.run(arch, code, [qemu_run.Call("div", [-7, 2])])] == [-4]


DIVIDE = """
import micropython
@micropython.viper
def div(a: int, b: int) -> int:
    return a // b
@micropython.viper
def mod(a: int, b: int) -> int:
    return a % b
"""


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_floor_divide_and_modulo(arch, tmp_path):
    """// and % as MicroPython's 32-bit runtime computes them (py/smallint.c)."""
    src = tmp_path / "divide.py"
    src.write_text(DIVIDE)
    pairs = [(a, b) for a in (7, -7, 0, 1, -1, 1000003, -(2**30)) for b in (2, -2, 3, -3, 1, -1)]
    pairs += [(-(2**31), 3), (2**31 - 1, -2)]
    calls = [qemu_run.Call(f, [a, b]) for a, b in pairs for f in ("div", "mod")]
    got = [r.ret for r in qemu_run.run(arch, qemu_run.native_code(src, arch, tmp_path), calls)]
    expected = [v for a, b in pairs[:-2] for v in (a // b, a % b)]
    # Within |b| of -2**31 the helper's adjustment wraps: a 32-bit MicroPython gives these.
    expected += [715827882, (-(2**31)) % 3, 1073741824, (2**31 - 1) % -2]
    assert got == expected


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_counts_are_executed_instructions(arch, tmp_path):
    """fill's count grows by its loop's length per element, as the disassembly gives it."""
    calls = [qemu_run.Call("fill", [bytes(4 * 3000), 0, k, 5]) for k in (0, 1000, 2000, 3000)]
    counts = [
        r.instructions for r in qemu_run.run(arch, qemu_run.native_code(KERNELS, arch), calls)
    ]
    steps = {b - a for a, b in zip(counts, counts[1:])}
    assert len(steps) == 1 and steps.pop() % 1000 == 0, counts
    per_pass = (counts[1] - counts[0]) // 1000
    (loop,) = next(lp for n, _, _, lp in inspect_native.analyse(KERNELS, arch) if n == "fill")
    assert loop["instructions"] - loop["forward_branches"] <= per_pass <= loop["instructions"]


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_inspect_per_pass_is_the_inner_loop(arch):
    """make inspect's measured pass of an unrolled row loop is its disassembled body."""
    from machine_code import kernel_loops, qemu_inspect

    measured = qemu_inspect.measure(arch, ["dot_rows", "weighted_rows"])
    loops = kernel_loops.inner_loops(arch)
    for name, (per_call, per_pass) in measured.items():
        loop = loops[name]
        assert loop["instructions"] - loop["forward_branches"] <= per_pass <= loop["instructions"]
        assert per_call > qemu_inspect.N * qemu_inspect.DIM // loop["unroll"] * per_pass


ACCUMULATE = """
import micropython
@micropython.viper
def add_into(dst: ptr32, src: ptr32, n: int):
    i = 0
    while i < n:
        dst[i] = dst[i] + src[i]
        i += 1
"""


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_a_shared_buffer_is_one_memory_for_every_call(arch, tmp_path):
    """Calls given one Shared object see each other's writes, in order, and one call given
    it twice gets the same address twice (as MicroPython passes one object); a plain
    bytes argument stays a copy per call. The sums are checked by plain arithmetic."""
    src = tmp_path / "accumulate.py"
    src.write_text(ACCUMULATE)
    code = qemu_run.native_code(src, arch, tmp_path)
    start = [3, -1, 7]
    acc = qemu_run.Shared(struct.pack("<3i", *start))
    plain = struct.pack("<3i", *start)
    calls = [
        qemu_run.Call("add_into", [acc, struct.pack("<3i", 1, 2, 3), 3]),
        qemu_run.Call("add_into", [acc, acc, 3]),  # doubles it in place
        qemu_run.Call("add_into", [plain, plain, 3]),
        qemu_run.Call("add_into", [plain, struct.pack("<3i", 10, 10, 10), 3]),
    ]
    res = qemu_run.run(arch, code, calls)
    twice = [2 * (a + b) for a, b in zip(start, (1, 2, 3))]
    assert list(struct.unpack("<3i", res[0].buffers[0])) == twice  # the job's end
    assert res[1].buffers[0] == res[1].buffers[1] == res[0].buffers[0]
    assert list(struct.unpack("<3i", res[2].buffers[0])) == [2 * v for v in start]
    assert list(struct.unpack("<3i", res[3].buffers[0])) == [v + 10 for v in start]
    # The same work, counted: a call's instructions do not depend on where its buffers are.
    alone = qemu_run.run(arch, code, [qemu_run.Call("add_into", [plain, plain, 3])])
    assert res[2].instructions == alone[0].instructions == res[1].instructions


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_functions_of_two_modules_run_in_one_job(arch, tmp_path):
    """NativeCode.merge: each function keeps its own module's fun-table slot."""
    slow = tmp_path / "slow.py"
    slow.write_text(
        'NOTE = "a string long enough to be a constant object, not a qstr" * 2\n' + DIVIDE
    )
    fast = tmp_path / "fast.py"
    fast.write_text(ACCUMULATE)
    a = qemu_run.native_code(slow, arch, tmp_path)
    b = qemu_run.native_code(fast, arch, tmp_path)
    assert a.fun_table != b.fun_table
    both = qemu_run.NativeCode.merge(a, b)
    acc = qemu_run.Shared(struct.pack("<2i", 5, 6))
    calls = [
        qemu_run.Call("div", [-7, 2]),
        qemu_run.Call("add_into", [acc, acc, 2]),
        qemu_run.Call("mod", [-7, 2]),
    ]
    res = qemu_run.run(arch, both, calls)
    assert [r.ret for r in res] == [-4, None, 1]
    assert struct.unpack("<2i", res[1].buffers[0]) == (10, 12)
    with pytest.raises(qemu_run.QemuError, match="two modules define 'div'"):
        qemu_run.NativeCode.merge(a, a)


SHIFTS = """
import micropython
@micropython.viper
def shl(a: int, b: int) -> int:
    return a << b
@micropython.viper
def sar(a: int, b: int) -> int:
    return a >> b
@micropython.viper
def shr(a: uint, b: uint) -> uint:
    return a >> b
"""
COUNTS = [0, 1, 7, 31, 32, 33, 40, 63, 64, 255, 256, 257]


def _wrap(v, signed=True):
    v &= 0xFFFFFFFF
    return v - (v >> 31 << 32) if signed else v


def shifted(arch, op, a, count):
    """What a register shift gives, by the instruction sets' manuals: Xtensa (SSL/SSR set
    SAR from the count's low 5 bits) and RISC-V (SLL/SRL/SRA use them) take the count mod
    32; Thumb's LSLS/LSRS/ASRS (register) take its low byte, and a count of 32 to 255
    shifts every bit out."""
    if arch in ("xtensawin", "rv32imc"):
        count &= 31
    else:
        count &= 0xFF
    if op == "shl":
        return _wrap(a << count) if count < 32 else 0
    if op == "shr":
        return (a & 0xFFFFFFFF) >> min(count, 32)
    return _wrap(a) >> min(count, 31)


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_shift_counts_beyond_31_differ_between_archs(arch, tmp_path):
    """Why the shim refuses a shift count outside 0..31: the ESP32s take it mod 32, the
    ARM chips shift everything out (1 << 32 is 1 on an ESP32, 0 on an RP2040), and a
    count of 256 is no shift on ARM."""
    src = tmp_path / "shifts.py"
    src.write_text(SHIFTS)
    cases = [
        (op, a, c) for op in ("shl", "sar", "shr") for a in (1, -8, 0x12345678) for c in COUNTS
    ]
    calls = [qemu_run.Call(op, [a, c]) for op, a, c in cases]
    got = [r.ret for r in qemu_run.run(arch, qemu_run.native_code(src, arch, tmp_path), calls)]
    expected = [shifted(arch, op, a, c) for op, a, c in cases]
    assert got == [e if op != "shr" else _wrap(e) for e, (op, _, _) in zip(expected, cases)]
    ones = {c: r for (op, a, c), r in zip(cases, got) if (op, a) == ("shl", 1)}
    assert ones[32] == (1 if arch in ("xtensawin", "rv32imc") else 0)
