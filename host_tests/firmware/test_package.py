"""The package's import: `import attention` loads the check and the kernels, each class
comes with its first use, and a program that only loads a model holds no class it does
not use. On the unix port (MicroPython's own import rules) and in the shim (CPython's)."""

import ast
import json

import attention
import pytest
from conftest import MICROPYTHON, REPO, run_micropython

PACKAGE = REPO / "firmware" / "attention"
CLASSES = ("KVCache", "LinearAttention", "MicroAttention", "SlidingWindowAttention")


def relative_imports(path):
    """The modules path imports with `from . import a, b`."""
    tree = ast.parse(path.read_text(), str(path))
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
        for alias in node.names
    }


def test_every_module_imported_with_from_dot_import_is_loaded_by_the_package():
    # MicroPython's `from . import x` asks the package's __getattr__ first, which raises
    # for anything but a class: x must already be loaded by __init__.
    loaded = relative_imports(PACKAGE / "__init__.py")
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name != "__init__.py":
            missing = relative_imports(path) - loaded
            assert not missing, "%s: from . import %s" % (path.name, ", ".join(sorted(missing)))


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
import attention.decoder
out["decoder"] = loaded()
from attention import MicroAttention, KVCache
out["classes"] = [MicroAttention.__name__, attention.KVCache.__name__]
out["with classes"] = loaded()
try:
    attention.NoSuchClass
    out["unknown"] = "found"
except AttributeError:
    out["unknown"] = "AttributeError"
try:
    from attention import NoSuchClass
    out["from unknown"] = "found"
except (AttributeError, ImportError) as e:
    out["from unknown"] = type(e).__name__
out["selfcheck kept"] = hasattr(attention, "_selfcheck") or "attention._selfcheck" in sys.modules
import json
print(json.dumps(out))
"""


@pytest.mark.skipif(not MICROPYTHON, reason="micropython (unix port) not installed")
def test_a_model_alone_loads_no_attention_class_on_the_unix_port(tmp_path):
    script = tmp_path / "imports.py"
    script.write_text(SCRIPT)
    out = json.loads(run_micropython(str(script)))
    kernels = ["_check", "_kernels", "_memory"]
    assert out["import"] == kernels
    assert not {"cache", "linear", "micro", "window"} & set(out["decoder"])
    assert {"decoder", "model", "modelfile"} <= set(out["decoder"])
    assert out["classes"] == ["MicroAttention", "KVCache"]
    assert {"micro", "cache"} <= set(out["with classes"])
    assert not {"linear", "window"} & set(out["with classes"])
    assert out["unknown"] == "AttributeError"
    # MicroPython's `from x import y` lets the AttributeError of x.__getattr__ through;
    # CPython turns it into ImportError.
    assert out["from unknown"] in ("AttributeError", "ImportError")
    assert out["selfcheck kept"] is False
