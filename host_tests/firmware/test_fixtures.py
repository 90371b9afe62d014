"""Every fixture recorded on a MicroPython target, replayed through the shim: outputs must be equal.

A fixture is written by `make record` (tools/board/record.py) on the target named in its
provenance. Recording on a board and committing the file adds that board to this test.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys
from array import array

import pytest
from conftest import HERE, MICROPYTHON, ROOT
from board import fixture_file
from device import cases


FIXTURES = sorted(glob.glob(os.path.join(HERE, "fixtures", "*.json")))
PACKAGE = os.path.join(ROOT, "firmware", "attention")


def load(path):
    with open(path) as f:
        return json.load(f)


def test_the_unix_port_fixture_is_committed():
    names = [os.path.basename(p) for p in FIXTURES]
    assert "linux-x64.json" in names


def check_provenance(path):
    provenance = load(path)["provenance"]
    target = provenance["target"]
    assert target["implementation"] == "micropython"
    # The file is named after the chip that made it (old files: after the platform), and
    # for a build from source, after the build (make ports).
    assert os.path.basename(path) == fixture_file.file_name(target, provenance.get("built"))
    assert len(provenance["firmware_sha256"]) == 64 and provenance["recorded"]


def check_outputs(path):
    for record in load(path)["cases"]:
        case = tuple(record["case"])
        inputs = record["inputs"]
        buffers = [array("b", inputs[k]) for k in ("query", "keys", "values")]
        assert cases.run(case, *buffers) == record["outputs"], case


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_provenance_names_its_target(path):
    check_provenance(path)


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_shim_reproduces_fixture(path):
    check_outputs(path)


@pytest.mark.parametrize(
    "machine, platform, arch, name",
    [
        ("Generic ESP32 module with ESP32", "esp32", "xtensawin", "esp32-xtensawin.json"),
        ("Generic ESP32S3 module with ESP32S3", "esp32", "xtensawin", "esp32s3-xtensawin.json"),
        ("ESP32C3 module with ESP32C3", "esp32", "rv32imc", "esp32c3-rv32imc.json"),
        ("ESP32C6 module with ESP32C6", "esp32", "rv32imc", "esp32c6-rv32imc.json"),
        ("linux [GCC 14.2.1] version", "linux", "x64", "linux-x64.json"),
    ],
)
def test_fixtures_are_named_per_chip(machine, platform, arch, name):
    target = {"machine": machine, "platform": platform, "mpy_arch": arch}
    assert fixture_file.file_name(target) == name


def record(out):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "board", "record.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A fresh recording on the unix port, under the name the committed one has."""
    if not MICROPYTHON:
        pytest.skip("needs the micropython unix port")
    path = tmp_path_factory.mktemp("fixtures") / "linux-x64.json"
    record(path)
    return path


def test_a_new_recording_passes_the_fixture_tests(recording):
    check_provenance(recording)
    check_outputs(recording)


def test_a_new_recording_is_one_case_per_line(recording):
    lines = recording.read_text().splitlines()
    case_lines = [line for line in lines if line.lstrip().startswith('{"case": ')]
    assert len(case_lines) == len(cases.SUITE)
    assert lines[0] == "{" and '"provenance": {' in lines[1]


def test_only_a_new_date_leaves_the_file_alone(recording, tmp_path):
    fixture = load(recording)
    path = tmp_path / "f.json"
    fixture["provenance"]["recorded"] = "2000-01-01"
    assert fixture_file.write(path, fixture)
    before = path.read_bytes()
    fixture["provenance"]["recorded"] = "2099-12-31"
    assert not fixture_file.write(path, fixture)
    assert path.read_bytes() == before
    assert "unchanged" in record(path) and path.read_bytes() == before
    fixture["cases"][0]["outputs"]["output"][0] += 1
    assert fixture_file.write(path, fixture)
    assert load(path)["provenance"]["recorded"] == "2099-12-31"


def test_an_old_compact_file_with_the_same_data_is_left_alone(recording, tmp_path):
    path = tmp_path / "old.json"
    fixture = load(recording)
    path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    before = path.read_bytes()
    fixture["provenance"]["recorded"] = "2099-12-31"
    assert not fixture_file.write(path, fixture)
    assert path.read_bytes() == before


def test_fixture_inputs_are_the_suite():
    # The stored inputs are the ones the target generated from the same seeds.
    for record in load(FIXTURES[0])["cases"]:
        query, keys, values = cases.inputs(tuple(record["case"]))
        assert record["inputs"] == {
            "query": list(query),
            "keys": list(keys),
            "values": list(values),
        }


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_holds_every_case_of_the_suite(path):
    # A fixture that lost cases, or was recorded from an older suite, replays too little.
    recorded = [tuple(record["case"]) for record in load(path)["cases"]]
    assert recorded == list(cases.SUITE)


def firmware_sha256():
    """sha256 over the package's .py files in name order, each as name, NUL, contents."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(PACKAGE)):
        if name.endswith(".py"):
            with open(os.path.join(PACKAGE, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_was_recorded_from_the_current_firmware(path):
    # After any change to firmware/attention/*.py, record again (`make record`; the 32-bit
    # builds' with `make ports MICROPYTHON_SRC=... RECORD=1`; on each board): a fixture
    # from older sources no longer vouches for these.
    assert load(path)["provenance"]["firmware_sha256"] == firmware_sha256(), (
        "fixture recorded from other firmware sources: run make record, or make ports RECORD=1"
    )
