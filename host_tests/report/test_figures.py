"""The README figures in docs/ are well-formed, labelled, and what the tools draw today."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import MICROPYTHON, REPO
from report import accuracy_figure

DOCS = REPO / "docs"
FIGURES = {
    "accuracy.svg": ("accuracy_figure.py", ["float", "exp2", "linear", "logit_shift"]),
    "layouts.svg": (
        "layout_figure.py",
        ["head 0", "head 1", "columns 4..7", "row i % window_size", "cache_len = 10"],
    ),
    "architecture.svg": (
        "architecture_figure.py",
        ["_kernels", "_check", "micro", "decoder", "board/", "machine_code/", "language_model/"],
    ),
}


def texts(path):
    ns = "{http://www.w3.org/2000/svg}"
    return " ".join(t.text or "" for t in ET.parse(path).getroot().iter(ns + "text"))


@pytest.mark.parametrize("name", list(FIGURES))
def test_committed_figure_is_well_formed_and_labelled(name):
    words = texts(DOCS / name)
    for label in FIGURES[name][1]:
        assert label in words, (name, label)


@pytest.mark.skipif(not MICROPYTHON, reason="the accuracy figure runs on the unix port")
@pytest.mark.parametrize("name", list(FIGURES))
def test_committed_figure_is_up_to_date(name, tmp_path):
    out = tmp_path / name
    tool = REPO / "tools" / "report" / FIGURES[name][0]
    subprocess.run([sys.executable, str(tool), "--out", str(out)], check=True, capture_output=True)
    assert out.read_text() == (DOCS / name).read_text(), "stale: run `make figures`"


def test_accuracy_tables_are_read_from_the_device_output():
    found = accuracy_figure.tables(
        "max error ...\nlogit_shift  vectors  exp2  linear\n0  79  0.497  223.134\n"
        "9  79  0.500  120.791\ntime per call: exp2 2.8 us\n\nweight of ...\n"
        "d  float  exp2  linear\n0  128.000  128  128\n32  124.001  124  123\n"
    )
    assert found == {
        "logit_shift": [[0, 79, 0.497, 223.134], [9, 79, 0.5, 120.791]],
        "d": [[0, 128, 128, 128], [32, 124.001, 124, 123]],
    }


@pytest.mark.skipif(not MICROPYTHON, reason="the accuracy table runs on the unix port")
def test_committed_accuracy_table_is_up_to_date(tmp_path):
    page = tmp_path / "api.md"
    page.write_text((DOCS / "api.md").read_text())
    tool = REPO / "tools" / "report" / "accuracy_figure.py"
    args = [sys.executable, str(tool), "--out", str(tmp_path / "a.svg"), "--page", str(page)]
    subprocess.run(args, check=True, capture_output=True)
    assert page.read_text() == (DOCS / "api.md").read_text(), "stale: run `make accuracy`"
    assert "| 9 | 0.500 | 120.791 |" in page.read_text()  # the table is in the page


def test_committed_boards_table_is_up_to_date():
    from report import doc_block  # noqa: PLC0415

    assert doc_block.block(DOCS / "boards.md", "boards-table") == doc_block.boards_table()
