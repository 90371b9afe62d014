"""`make bench` in quick mode: the device script runs to its end on the unix port, prints its
tables, finds every public method allocation-free and every output equal to plain Python.
Nothing here asserts a speed or a ratio; the host part is checked for its kernel table only."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from board import target
from conftest import REPO as ROOT
from machine_code import kernel_loops
from report import bench

DEVICE = ROOT / "tools" / "device"

MICROPYTHON = target.tool("micropython")
pytestmark = pytest.mark.skipif(
    not os.path.exists(MICROPYTHON), reason="micropython (unix port) not installed"
)
KERNEL_METHODS = (
    "MicroAttention.compute_scores",
    "MicroAttention.apply_causal_mask",
    "MicroAttention.softmax_fixed",
    "MicroAttention.weighted_sum",
    "LinearAttention.forward",
    "LinearAttention.update",
    "LinearAttention.attend",
    "SlidingWindowAttention.forward",
)


def run_quick(folder, extra=""):
    """Run QUICK = True + bench.py's helpers (plain.py, baseline.py, ...) + extra + bench.py
    on the unix port."""
    script = Path(folder) / "bench_quick.py"
    *helpers, last = target.order(["bench.py"])
    parts = [
        "QUICK = True",
        *((DEVICE / name).read_text() for name in helpers),
        extra,
        (DEVICE / last).read_text(),
    ]
    script.write_text("\n".join(parts))
    args, env = target.command(str(script))
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def rows(text, first_cell):
    """The cells of every table row whose first cell starts with first_cell."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0].startswith(first_cell):
            out.append(cells)
    return out


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return run_quick(tmp_path_factory.mktemp("bench"))


def test_runs_to_the_end(quick):
    assert quick.returncode == 0, quick.stdout + quick.stderr
    assert quick.stdout.startswith("machine: sys.platform=linux")
    assert "outputs: all equal to plain Python" in quick.stdout
    assert "FAIL" not in quick.stdout


def test_speed_table_has_every_mechanism_and_size_with_equal_outputs(quick):
    table = [
        r for r in rows(quick.stdout, "") if r[0] in ("micro", "linear", "window 16", "window 32")
    ]
    sizes = {(r[0], int(r[1]), int(r[2])) for r in table}
    assert len(table) == len(sizes) == 4 * 3 * 3
    for row in table:
        assert row[6] == "0", row  # heap bytes per call of the package's call
        assert row[7] == "equal", row


def test_pipeline_is_timed_beside_the_previous_package_and_plain(quick):
    names = [row[0] for row in rows(quick.stdout, "")]
    assert {
        "package",
        "plain Python (plain.py)",
        "previous package (baseline.py)",
        "previous kernels, no checks",
    } <= set(names)
    assert "FAIL" not in quick.stdout  # the previous methods and kernels agree with the package


def test_every_public_method_allocates_nothing(quick):
    methods = {r[0]: r[1:] for r in rows(quick.stdout, "") if r[0][:1].isupper() and "." in r[0]}
    for name in KERNEL_METHODS:
        assert methods.get(name) == ["0", "yes"], (name, methods.get(name))
    measured = {name: cells for name, cells in methods.items() if cells[0][:1].isdigit()}
    assert len(measured) >= len(KERNEL_METHODS)
    for name, cells in measured.items():
        assert cells == ["0", "yes"], name


def test_heap_kept_by_import_and_objects_is_reported(quick):
    for what in ("import attention", "MicroAttention(64, 4)", "LinearAttention(64)"):
        (row,) = rows(quick.stdout, what)
        assert int(row[1]) > 0, row


def test_a_wrong_output_is_a_failure(tmp_path):
    wrong = "def plain_linear(query, keys, values, output, n, dim):\n    output[0] += 12345\n"
    result = run_quick(tmp_path, wrong)
    assert result.returncode != 0
    assert "FAIL: outputs differ from plain Python for linear head_dim 16 n 16" in result.stdout


def test_inner_loops_divide_by_the_declared_unroll():
    pytest.importorskip("capstone")
    for arch in kernel_loops.ARCHES:
        loops = kernel_loops.inner_loops(arch)
        assert {"dot_rows", "weighted_rows", "softmax_q8", "linear_rows"} <= set(loops)
        for name in ("dot_rows", "weighted_rows", "linear_rows"):
            lp = loops[name]
            assert lp["muls"] >= 1
            assert lp["per_element"] == lp["instructions"] / kernel_loops.UNROLL.get(name, 1)


def test_size_table_covers_every_file_of_the_package():
    """make bench's .mpy table: one row per file a board gets, data files included."""
    text = bench.mpy_table(bench.mpy_sizes())
    names = {line.split("|")[1].strip() for line in text.splitlines()[2:]}
    sources = {p.name for p in (ROOT / "firmware" / "attention").iterdir() if p.is_file()}
    expected = {n[:-3] + ".mpy" if n.endswith(".py") else n for n in sources}
    assert names == expected | {"total"}
    assert "reverse.bin" in names


def test_smallest_heap_is_the_edge_where_the_import_starts_to_succeed():
    folder = ROOT / "firmware"
    heap = bench.smallest_heap(folder, "attention._memory")
    assert bench._import(folder, "attention._memory", heap)
    assert bench._import(folder, "attention._memory", heap - 1024) is None


def test_a_failed_device_bench_is_the_last_line(monkeypatch, capsys):
    failed = subprocess.CompletedProcess([], 3)
    monkeypatch.setattr(bench.target, "run", lambda names, port: failed)
    monkeypatch.setattr(bench, "host_report", lambda: print("| table |\n" * 50))
    assert bench.main(["--port", "/dev/ttyUSB0"]) == 3
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("bench: FAILED") and "/dev/ttyUSB0" in last and "status 3" in last


def test_a_failed_device_script_is_the_last_line(monkeypatch, capsys):
    monkeypatch.setattr(target, "run", lambda names, port: subprocess.CompletedProcess([], 1))
    monkeypatch.setattr(sys, "argv", ["target.py", "accuracy.py", "--port", "/dev/ttyACM0"])
    with pytest.raises(SystemExit) as exit_:
        target.main()
    assert exit_.value.code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "accuracy.py: FAILED on the board at /dev/ttyACM0 (exit status 1)"
