"""tools/machine_code/rv32_port.py: whole tokens on a real RV32 MicroPython under QEMU
(the qemu port's VIRT_RV32 board). Where none is built (RV32_FIRMWARE, build/ports/),
only the search for one is tested."""

import os

import pytest
from conftest import MICROPYTHON
from machine_code import qemu_run, rv32_port, token_counts


def test_the_firmware_is_the_one_named_then_the_environment_then_build_ports(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(rv32_port, "ROOT", tmp_path)
    monkeypatch.delenv(rv32_port.FIRMWARE_ENV, raising=False)
    assert rv32_port.find_firmware() is None
    built = tmp_path / "build" / "ports" / "qemu-VIRT_RV32-heap1572864" / "firmware.elf"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"")
    assert rv32_port.find_firmware() == built
    monkeypatch.setenv(rv32_port.FIRMWARE_ENV, "/from/env.elf")
    assert str(rv32_port.find_firmware()) == "/from/env.elf"
    assert str(rv32_port.find_firmware("/given.elf")) == "/given.elf"


def test_without_a_firmware_the_count_is_skipped_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(rv32_port, "find_firmware", lambda given=None: None)
    assert rv32_port.main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("rv32 whole token: skipped")


FIRMWARE = rv32_port.find_firmware()
needs_rv32 = pytest.mark.skipif(
    FIRMWARE is None or not os.path.exists(FIRMWARE) or bool(qemu_run.missing_tools("rv32imc")),
    reason="no VIRT_RV32 MicroPython built (make ports, or RV32_FIRMWARE=firmware.elf) or no QEMU",
)


@pytest.fixture(scope="module")
def whole_run():
    """The standard example on the RV32 MicroPython, with the full step at position 9."""
    return rv32_port.run(
        FIRMWARE, token_counts.SHIPPED, token_counts.EXAMPLE, token_counts.EXAMPLE_ROOM, full=[9]
    )


@needs_rv32
@pytest.mark.skipif(not MICROPYTHON, reason="needs the micropython unix port")
def test_a_whole_token_holds_its_kernels_and_a_little_more(whole_run):
    """Counted two independent ways: the full step at position 9 on the interpreter
    (instret) is more than the same token's kernels replayed bare-metal, by what the
    interpreter adds (calls, checks, Python), far less than the kernels themselves; and
    the example's mean lies between its cheapest and dearest tokens."""
    got = whole_run
    whole = {x["what"] + str(x.get("position", x.get("heap", ""))): x for x in got}
    rec = token_counts.record(sample=[9])
    kernels = sum(token_counts.replay(rec, "rv32imc")[9].values())
    full = whole["full9"]["instructions"]
    assert kernels < full < kernels + 100_000
    example = whole["examplecollected"]
    assert example["feeds"] == 17
    prompt = [x["instructions"] for x in got if x["what"] == "prompt"]
    assert min(prompt) < example["instructions"] / 17 < full
    ram = whole["ram"]  # the load's gc.mem_alloc() and the model's own estimate, close
    assert abs(ram["measured"] - ram["estimated"]) < 4096


@needs_rv32
def test_a_whole_token_stays_within_its_budget(whole_run):
    """The standard example's mean per token on the RV32 MicroPython, interpreter and all,
    is at most 240,000 instructions after gc.collect() (docs/performance.md)."""
    example = next(x for x in whole_run if x["what"] == "example" and x["heap"] == "collected")
    assert example["instructions"] / example["feeds"] <= 240_000
