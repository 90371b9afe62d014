"""The package's import: `import attention` runs the check, each class and module comes
with its first use, and a program that only loads a model holds no class it does not
use. On the unix port (MicroPython's own import rules) and in the shim (CPython's)."""

import ast
import json

import attention
import pytest
from conftest import MICROPYTHON, REPO, run_micropython

PACKAGE = REPO / "firmware" / "attention"
CLASSES = ("KVCache", "LinearAttention", "MicroAttention", "SlidingWindowAttention")


def test_the_package_names_each_of_its_modules():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    named = next(
        ast.literal_eval(node.value).split()
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "_MODULES"
    )
    files = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "_selfcheck"}
    assert sorted(named) == sorted(files)


def test_each_class_is_defined_in_the_module_the_package_names():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    table = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "_CLASSES"
    )
    assert sorted(table) == list(CLASSES)
    for name, module in table.items():
        defined = ast.parse((PACKAGE / (module + ".py")).read_text()).body
        assert any(isinstance(n, ast.ClassDef) and n.name == name for n in defined), name


def test_classes_come_on_first_use_in_the_shim():
    for name in CLASSES:
        assert getattr(attention, name).__name__ == name
    with pytest.raises(AttributeError):
        attention.NoSuchClass  # noqa: B018
    with pytest.raises(ImportError):
        from attention import NoSuchClass  # noqa: F401


SCRIPT = """
import sys
def loaded():
    return sorted(k[10:] for k in sys.modules if k.startswith("attention."))
import attention
out = {"import": loaded()}
from attention import decoder
out["decoder"] = loaded()
from attention import MicroAttention, KVCache
out["classes"] = [MicroAttention.__name__, attention.KVCache.__name__]
out["with classes"] = loaded()
for name in ("unknown", "from unknown"):
    try:
        if name == "unknown":
            attention.NoSuchClass
        else:
            from attention import NoSuchClass
        out[name] = "found"
    except (AttributeError, ImportError) as e:
        out[name] = type(e).__name__
out["selfcheck kept"] = "_selfcheck" in dir(attention) or "attention._selfcheck" in sys.modules
import json
print(json.dumps(out))
"""


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_a_model_alone_loads_no_attention_class_on_the_unix_port(tmp_path):
    script = tmp_path / "imports.py"
    script.write_text(SCRIPT)
    out = json.loads(run_micropython(str(script)))
    assert out["import"] == ["_check", "_memory"]  # what the check stands on
    assert not {"cache", "linear", "micro", "window"} & set(out["decoder"])
    assert {"decoder", "model", "modelfile", "_step", "_layers"} <= set(out["decoder"])
    assert out["classes"] == ["MicroAttention", "KVCache"]
    assert {"micro", "cache"} <= set(out["with classes"])
    assert not {"linear", "window"} & set(out["with classes"])
    assert out["unknown"] == "AttributeError"
    # MicroPython's `from x import y` lets the AttributeError of x.__getattr__ through;
    # CPython turns it into ImportError.
    assert out["from unknown"] in ("AttributeError", "ImportError")
    assert out["selfcheck kept"] is False
