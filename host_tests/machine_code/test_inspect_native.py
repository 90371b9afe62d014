"""Tests for tools/machine_code/inspect_native.py: .mpy reader, loop finder and CLI on a sample viper file."""

import ast
import json

import pytest

from conftest import REPO
from machine_code import inspect_native as insp
from machine_code import mpy_file

pytest.importorskip("capstone", reason="capstone is not installed (pip install capstone)")
try:
    insp.find_mpy_cross()
except FileNotFoundError as exc:
    pytest.skip(f"{exc}", allow_module_level=True)

ARCHS = ["xtensawin", "rv32imc", "armv6m", "armv7emsp"]
SAMPLE = """\
import micropython
@micropython.viper
def dot(a: ptr8, b: ptr8, n: int) -> int:
    s = 0
    i = 0
    while i < n:
        s += a[i] * b[i]
        i += 1
    return s
@micropython.viper
def fill(p: ptr32, n: int, v: int):
    i = 0
    while i < n:
        p[i] = v
        i += 1
"""
CLASSY = """\
import micropython
class K:
    @micropython.viper
    def sum(self, p: ptr8, n: int) -> int:
        s = 0
        for i in range(n):
            s += p[i]
        return s
    @staticmethod
    @micropython.viper
    def grid(p: ptr32, n: int):
        j = 0
        while j < n:
            k = 0
            while k < 4:
                p[j] = k
                k += 1
            j += 1
"""


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE)
    return path


@pytest.mark.parametrize("arch", ARCHS)
def test_functions_and_loops(sample, arch):
    funcs = {f["function"]: f for f in insp.inspect_file(sample, arch)}
    assert set(funcs) == {"dot", "fill"}
    for f in funcs.values():
        assert f["kind"] == "viper"
        assert len(f["loops"]) == 1
        loop = f["loops"][0]
        assert loop["start"] < loop["end"] < f["size"]
        assert 5 < loop["instructions"] < 100
        assert loop["stack_loads"] > 0 and loop["stack_stores"] > 0
        assert loop["calls"] == 0
    assert funcs["dot"]["loops"][0]["instructions"] > funcs["fill"]["loops"][0]["instructions"]


@pytest.mark.parametrize(
    "arch,loads,mul",
    [
        ("xtensawin", "l8ui", "mull"),
        ("rv32imc", "lbu", "mul"),
        ("armv6m", "ldrb", "muls"),
        ("armv7emsp", "ldrb", "muls"),
    ],
)
def test_dot_loop_holds_the_work(sample, arch, loads, mul):
    name, rc, insns, loops = insp.analyse(sample, arch)[0]
    assert name == "dot"
    body = [i.mnem for i in insns if loops[0]["start"] <= i.addr <= loops[0]["end"]]
    assert body.count(loads) == 2 and body.count(mul) == 1
    assert [i.mnem for i in insns if loops[0]["end"] < i.addr].count(mul) == 0


@pytest.mark.parametrize("arch", ARCHS)
def test_methods_named_and_only_innermost_loop(tmp_path, arch):
    path = tmp_path / "classy.py"
    path.write_text(CLASSY)
    funcs = {f["function"]: f for f in insp.inspect_file(path, arch, build_dir=tmp_path / "b")}
    assert set(funcs) == {"K.sum", "K.grid"}  # 'sum' is a static qstr in the .mpy
    assert len(funcs["K.grid"]["loops"]) == 1  # the nested while: inner loop only
    assert (tmp_path / "b" / f"classy.{arch}.mpy").exists()


def test_reader_rejects_non_mpy(tmp_path, sample):
    with pytest.raises(mpy_file.MpyError, match="not a .mpy file"):
        mpy_file.read_mpy(SAMPLE.encode())
    with pytest.raises(mpy_file.MpyError, match="version"):
        mpy_file.read_mpy(b"M\x05\x00\x1f\x00\x00")
    good = insp.compile_py(sample, "rv32imc")
    assert mpy_file.read_mpy(good)[0] == "rv32imc"
    with pytest.raises(mpy_file.MpyError, match="truncated"):
        mpy_file.read_mpy(good[: len(good) // 2])
    bogus = tmp_path / "bogus.mpy"
    bogus.write_bytes(b"\x7fELF not an mpy")
    with pytest.raises(mpy_file.MpyError):
        insp.inspect_file(bogus, "xtensawin")
    assert insp.main([str(bogus)]) == 1


def test_cli_table_json_and_disasm(sample, capsys):
    assert insp.main([str(sample)]) == 0
    out = capsys.readouterr().out
    assert "[xtensawin]" in out and "[rv32imc]" in out and "dot" in out and "fill" in out
    assert insp.main(["--json", "--arch", "rv32imc", str(sample)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["function"] for f in report[0]["functions"]] == ["dot", "fill"]
    assert insp.main(["--disasm", "dot", "--arch", "xtensawin", str(sample)]) == 0
    text = capsys.readouterr().out
    assert "L0>" in text and "L0^" in text and "(back edge)" in text and "entry" in text
    assert insp.main(["--disasm", "nope", str(sample)]) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_work_per_pass_is_read_from_the_code(sample, arch):
    funcs = {f["function"]: f for f in insp.inspect_file(sample, arch)}
    dot, fill = funcs["dot"]["loops"][0], funcs["fill"]["loops"][0]
    assert (dot["muls"], dot["memory_loads"], dot["memory_stores"]) == (1, 2, 0)
    assert (dot["work"], dot["unit"]) == (1, "mac")
    assert (fill["muls"], fill["memory_stores"], fill["work"], fill["unit"]) == (0, 1, 1, "elem")
    assert insp.per_work(dot) == dot["instructions"]
    assert "label" not in dot  # the sample file has no annotations


def test_annotations_name_the_loops_or_say_they_are_stale():
    loops = [{"work": 3, "unit": "mac"}, {"work": 1, "unit": "elem"}]
    insp.annotate("_kernels", "dot_rows", loops)  # four loops annotated, two here
    assert [lp["label"] for lp in loops] == ["annotation stale"] * 2
    assert loops[0]["work"] == 3
    loops = [{"work": 1, "unit": "elem"}]
    insp.annotate("_kernels", "carry16", loops)
    assert loops == [{"work": 1, "unit": "elem", "label": "carry"}]
    insp.annotate("other", "carry16", loops := [{"work": 2, "unit": "elem"}])
    assert loops == [{"work": 2, "unit": "elem"}]


def test_table_prints_every_loop_with_its_work(sample, capsys):
    assert insp.main(["--arch", "xtensawin", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "per pass" in out and "insns/unit" in out
    assert "1 mac" in out and "1 elem" in out
    # `while i < n` makes a boolean, then branches on it: marked on xtensawin
    assert "branches inside" in out


# Inner-loop targets, in executed instructions per multiply-accumulate (per element for
# the key sums), on every arch: (kernel, what the loop does, most instructions per unit).
KERNELS = REPO / "firmware" / "attention" / "_kernels.py"
TARGETS = [
    ("dot_rows", "mac", 11.5),
    ("weighted_rows", "mac", 13.5),
    ("linear_rows", "mac", 13.5),  # the context sums
    ("linear_rows", "elem", 26.0),  # the key sums: a store per element, no multiply
]


@pytest.fixture(scope="module")
def kernel_loops():
    return {
        arch: {name: loops for name, _, _, loops in insp.analyse(KERNELS, arch)} for arch in ARCHS
    }


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kernel,unit,most", TARGETS)
def test_kernel_inner_loops_meet_their_targets(kernel_loops, arch, kernel, unit, most):
    """The widest loop of its kind (most multiplies, or most stores among loops without
    one) has no branch inside, so its static count is what a pass executes."""
    loops = kernel_loops[arch][kernel]
    if unit == "mac":
        loop = max(loops, key=lambda lp: lp["muls"])
        work = loop["muls"]
    else:
        loop = max((lp for lp in loops if not lp["muls"]), key=lambda lp: lp["memory_stores"])
        work = loop["memory_stores"]
    assert work >= 4, f"{kernel} [{arch}]: no unrolled {unit} loop found"
    assert loop["forward_branches"] == 0, f"{kernel} [{arch}]: a branch inside the loop"
    per = loop["instructions"] / work
    assert per <= most, f"{kernel} [{arch}]: {per:.2f} instructions per {unit} > {most}"


def test_inner_loops_are_the_same_from_mpy_and_from_py():
    """A board that compiles the .py sources itself keeps three viper locals in registers,
    mpy-cross two (py/emitnative.c, MAX_REGS_FOR_LOCAL_VARS; the third register holds the
    qstr table). Locals are numbered parameters first, so the third is the third
    parameter: no multiply-accumulate loop uses it, and both forms run the same loops."""
    source = (REPO / "firmware/attention/_kernels.py").read_text()
    functions = {f.name: f for f in ast.parse(source).body if isinstance(f, ast.FunctionDef)}
    checked = 0
    for name in ("dot_rows", "weighted_rows", "linear_rows"):
        third = functions[name].args.args[2].arg
        for loop in ast.walk(functions[name]):
            inside = list(ast.walk(loop))[1:] if isinstance(loop, ast.While) else [None]
            if any(isinstance(n, ast.While) for n in inside):
                continue  # not an innermost loop
            if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) for n in inside):
                used = {n.id for n in inside if isinstance(n, ast.Name)}
                assert third not in used, f"{name}: a multiply loop uses {third}"
                checked += 1
    assert checked == 7  # dot_rows 16, 4, 1; weighted_rows 8, 1; linear_rows' context 8, 1


# ARMv6-M, the RP2040's Cortex-M0+: the 16-bit Thumb instructions but cbz, cbnz and the
# it family, and of the 32-bit ones only these (ARMv6-M Architecture Reference Manual,
# A5.2 and A5.6). QEMU has no Cortex-M0 board with a RAM large enough for the runner, so
# the armv6m code runs on a Cortex-M3 (tools/machine_code/qemu_run.py): this is the check
# that it would run on a Cortex-M0+ at all.
V6M_WIDE = {"bl", "mrs", "msr", "dmb", "dsb", "isb"}
NATIVE_SOURCES = [
    p
    for p in sorted((REPO / "firmware" / "attention").glob("*.py"))
    if "@micropython.viper" in p.read_text() or "@micropython.native" in p.read_text()
]


def not_armv6m(insns):
    """The executed instructions of a listing that an ARMv6-M core does not have."""
    return [
        i
        for i in insns
        if i.kind != "data"
        and (
            (i.size == 4 and i.mnem not in V6M_WIDE)
            or i.mnem in ("cbz", "cbnz")
            or i.mnem.startswith("it")
        )
    ]


@pytest.mark.parametrize("source", NATIVE_SOURCES, ids=lambda p: p.name)
def test_armv6m_code_holds_armv6m_instructions_only(source):
    found = [
        f"{name}+{i.addr:#x}: {i.mnem} {i.ops}"
        for name, _, insns, _ in insp.analyse(source, "armv6m")
        for i in not_armv6m(insns)
    ]
    assert not found, found[:5]


def test_the_armv6m_check_finds_armv7m_code():
    """The same check over the armv7emsp code (a board given the other arch's .mpy)
    finds what ARMv7-M adds: wide moves and branches, and it blocks."""
    found = {
        i.mnem for _, _, insns, _ in insp.analyse(KERNELS, "armv7emsp") for i in not_armv6m(insns)
    }
    assert {"movw", "b.w", "ite"} <= found, found
