"""Every fixture recorded on a MicroPython target, replayed through the shim: outputs must be equal.

A fixture is written by `make record` (tools/record.py) on the target named in its
provenance. Recording on a board and committing the file adds that board to this test.
"""

import glob
import hashlib
import json
import os
import sys
from array import array

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "device"))
import cases  # noqa: E402

FIXTURES = sorted(glob.glob(os.path.join(HERE, "fixtures", "*.json")))
PACKAGE = os.path.join(os.path.dirname(HERE), "firmware", "attention")


def load(path):
    with open(path) as f:
        return json.load(f)


def test_the_unix_port_fixture_is_committed():
    names = [os.path.basename(p) for p in FIXTURES]
    assert "linux-x64.json" in names


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_provenance_names_its_target(path):
    provenance = load(path)["provenance"]
    target = provenance["target"]
    assert target["implementation"] == "micropython"
    name = "%s-%s.json" % (target["platform"], target.get("mpy_arch", "bytecode"))
    assert os.path.basename(path) == name  # the file is named after the machine that made it
    assert len(provenance["firmware_sha256"]) == 64 and provenance["recorded"]


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_shim_reproduces_fixture(path):
    for record in load(path)["cases"]:
        case = tuple(record["case"])
        inputs = record["inputs"]
        buffers = [array("b", inputs[k]) for k in ("query", "keys", "values")]
        assert cases.run(case, *buffers) == record["outputs"], case


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
    # After any change to firmware/attention/*.py, record again (`make record`, and on
    # each board): a fixture from older sources no longer vouches for these.
    assert load(path)["provenance"]["firmware_sha256"] == firmware_sha256(), (
        "fixture recorded from other firmware sources: run make record"
    )
