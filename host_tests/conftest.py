"""Test set-up: the micropython shim and the firmware package on sys.path, before any import."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "shim"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, HERE)

import micropython  # noqa: E402  (puts ptr8, ptr32, ... into builtins)
import pytest  # noqa: E402
import host_tools  # noqa: E402

assert hasattr(micropython, "viper"), "the micropython shim must load before the firmware"

from hypothesis import Phase, settings  # noqa: E402

# tools/mutate.py only needs a failure, not the smallest failing example.
settings.register_profile("mutate", phases=[Phase.explicit, Phase.generate])

sys.dont_write_bytecode = True  # no __pycache__ inside firmware/, which is copied to boards


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A running virtual board (tools/vboard.py): yields (device path, root folder)."""
    yield from host_tools.serve(tmp_path_factory)
