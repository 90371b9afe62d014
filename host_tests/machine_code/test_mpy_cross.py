"""Every firmware file compiles for every board's arch: xtensawin (ESP32, S3), rv32imc (C3,
C6), armv6m (RP2040) and armv7emsp (RP2350)."""

import glob
import os
import subprocess

import pytest
from conftest import MPY_CROSS, ROOT

SOURCES = sorted(glob.glob(os.path.join(ROOT, "firmware", "attention", "*.py")))


@pytest.mark.skipif(not MPY_CROSS, reason="mpy-cross not installed")
@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc", "armv6m", "armv7emsp"])
@pytest.mark.parametrize("source", SOURCES, ids=os.path.basename)
def test_compiles(tmp_path, arch, source):
    out = tmp_path / "out.mpy"
    done = subprocess.run(
        [MPY_CROSS, "-march=" + arch, "-o", str(out), source],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:2] == b"M\x06"
