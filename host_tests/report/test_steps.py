"""tools/report/steps.py: Python calls and viper calls, counted on a tiny program against
its calls counted by hand, and the package's viper calls per token against the ones the
unix port made in the same generation (tools/machine_code/token_counts.py's record)."""

import pytest
from conftest import MICROPYTHON
from report import steps

TINY = """
import micropython


@micropython.viper
def twice(x: int) -> int:
    return x + x


class Box:
    size = property(lambda self: 3)

    def run(self):
        return [twice(i) for i in range(self.size)] + [helper()]


def helper():
    return twice(1) + twice(2)
"""


def test_calls_are_counted_as_made(tmp_path):
    """Box().run(): run, the size property, helper: 3 Python calls (the list
    comprehension is not a call in the source); twice: 3 + 2 viper calls, whose insides
    (the shim's arithmetic) count for nothing."""
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    namespace = {"__name__": "tiny"}
    exec(compile(TINY, str(path), "exec"), namespace)
    counter = steps.Steps([namespace], tmp_path)
    box = namespace["Box"]()
    assert counter.count(box.run) == (3, 5)
    assert counter.by_name["twice (viper)"] == 5 and counter.by_name["<lambda>"] == 1
    assert counter.count(box.run) == (3, 5)  # counts of a second run, alone
    assert namespace["twice"].__name__ == "twice"  # the stand-ins are gone again


@pytest.mark.skipif(not MICROPYTHON, reason="needs the micropython unix port")
def test_viper_calls_per_token_are_the_unix_ports():
    from machine_code import token_counts

    found = steps.count_steps(which=("package",))["package"]
    rec = token_counts.record()
    made = sum(len(s.calls) for s in rec.segments) / len(rec.segments)
    assert found["feeds"] == len(rec.segments) == 17
    assert found["example"][1] == pytest.approx(made)
