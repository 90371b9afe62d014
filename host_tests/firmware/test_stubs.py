"""The type stubs in stubs/attention name exactly the public API of the real package."""

import ast
import importlib
import inspect
import types
from array import array

import pytest

import attention
from conftest import REPO

STUBS = REPO / "stubs" / "attention"
MODULES = ["__init__", "cache", "classifier", "decoder", "layers", "linear", "micro", "window"]
# Small objects whose instance attributes are the public data of each class.
SAMPLES = {
    "MicroAttention": lambda cls: cls(8, 2),
    "LinearAttention": lambda cls: cls(4),
    "SlidingWindowAttention": lambda cls: cls(4, 8),
    "KVCache": lambda cls: cls(2, 4),
    "Linear": lambda cls: cls(bytearray(6), array("i", [1, 20] * 2), 2, 3),
    "RMSNorm": lambda cls: cls(8, 5),
    "Embedding": lambda cls: cls(bytearray(8), 2, 4),
    "Decoder": lambda cls: cls.load(importlib.import_module("attention.decoder").shipped()),
    "Classifier": lambda cls: cls({**_CLASSIFIER}),
}
UNSET = object()
_CLASSIFIER = {"kind": 1, "input": 1, "vocab": 3, "features": 2, "dim": 8, "heads": 2}
_CLASSIFIER.update(layers=1, hidden=8, context=4, norm_frac=5, logit_shift=8, logit_frac=8)
_CLASSIFIER.update(activation=0, attention=1, pooling=1, requant=0, version=2, vocab_width=1)


def _public(name):
    return not name.startswith("_") or name in ("__version__", "__init__", "__len__")


def _is_property(node):
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def _signature(node):
    """Parameter names and default values of a stub function."""
    args = node.args.args
    defaults = [UNSET] * (len(args) - len(node.args.defaults)) + [
        ast.literal_eval(d) for d in node.args.defaults
    ]
    return [(a.arg, d) for a, d in zip(args, defaults)]


def stub_api(module):
    """{name: "value"} for module-level names; {name: {member: signature or "property"}} for classes."""
    tree = ast.parse((STUBS / (module + ".pyi")).read_text())
    api = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):  # "import X as X" is a re-export
            api.update({a.asname: "value" for a in node.names if a.asname == a.name})
        elif isinstance(node, ast.AnnAssign):
            api[node.target.id] = "value"
        elif isinstance(node, ast.FunctionDef):
            api[node.name] = _signature(node)
        elif isinstance(node, ast.ClassDef):
            members = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members[item.name] = "property" if _is_property(item) else _signature(item)
            api[node.name] = members
    return {name: v for name, v in api.items() if _public(name)}


def _real_signature(fn):
    return [
        (p.name, UNSET if p.default is inspect.Parameter.empty else p.default)
        for p in inspect.signature(fn).parameters.values()
    ]


def real_class_api(cls):
    """Methods from the class itself; data from a small instance (attributes or properties)."""
    members = {}
    for owner in reversed([c for c in cls.__mro__ if c.__module__.startswith("attention")]):
        for name, value in vars(owner).items():  # a subclass's own come last and win
            if not _public(name):
                continue
            if isinstance(value, property):
                members[name] = "property"
            elif inspect.isfunction(value):
                members[name] = _real_signature(value)
            elif isinstance(value, (staticmethod, classmethod)):
                members[name] = _real_signature(value.__func__)
    instance = SAMPLES[cls.__name__](cls)
    members.update({name: "property" for name in vars(instance) if _public(name)})
    return members


def _imported(module):
    """Names the module imports from the package's other modules (`from ._step import
    INT32`): its API only where its stub names them (a re-export, as MASKED)."""
    tree = ast.parse((REPO / "firmware" / "attention" / (module + ".py")).read_text())
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level
        for alias in node.names
    }


def real_api(module):
    mod = attention if module == "__init__" else importlib.import_module("attention." + module)
    names = dict(vars(mod))
    if module == "__init__":  # the classes come from the package's __getattr__, when asked
        names.update((name, getattr(mod, name)) for name in stub_api(module))
    foreign = _imported(module) - set(stub_api(module))
    api = {}
    for name, value in names.items():
        if not _public(name) or isinstance(value, types.ModuleType) or name in foreign:
            continue
        if inspect.isclass(value) and value.__module__.startswith("attention"):
            if module == "__init__":
                api[name] = "value"  # re-exported: its members are checked in its own module
            else:
                api[name] = real_class_api(value) if value.__module__ == mod.__name__ else None
        elif inspect.isfunction(value) and value.__module__ == mod.__name__:
            api[name] = _real_signature(value)
        elif isinstance(value, (int, str)) and not isinstance(value, bool):
            api[name] = "value"
    return {name: v for name, v in api.items() if v is not None}


@pytest.mark.parametrize("module", MODULES)
def test_stub_names_the_real_api(module):
    assert stub_api(module) == real_api(module)


def test_stubs_cover_the_documented_api():
    micro = stub_api("micro")["MicroAttention"]
    assert micro["__init__"] == [
        ("self", UNSET),
        ("embed_dim", UNSET),
        ("num_heads", UNSET),
        ("softmax", "linear"),
        ("logit_shift", 9),
        ("max_len", 0),
    ]
    for name in ("embed_dim", "num_heads", "head_dim", "scale_shift", "softmax_kind"):
        assert micro[name] == "property"
    cache = stub_api("cache")["KVCache"]
    assert {"keys", "values", "count", "ring", "__len__", "append", "clear"} <= set(cache)
    assert stub_api("__init__") == dict.fromkeys(
        ["KVCache", "LinearAttention", "MicroAttention", "SlidingWindowAttention", "__version__"],
        "value",
    )


def test_a_missing_or_extra_name_is_caught():
    real = real_api("linear")
    assert "halvings" in real["LinearAttention"]
    stub = stub_api("linear")
    del stub["LinearAttention"]["halvings"]
    assert stub != real
    stub = stub_api("linear")
    stub["LinearAttention"]["extra"] = "property"
    assert stub != real


def test_stubs_cover_the_layers_and_the_decoder():
    layers = stub_api("layers")
    assert {"Linear", "RMSNorm", "Embedding", "add_saturate", "relu", "activate"} <= set(layers)
    assert {"narrow", "check_scales", "MAX_MULT", "MIN_SHIFT", "MAX_SHIFT"} <= set(layers)
    assert {"accumulate", "forward", "forward32", "weights", "scales"} <= set(layers["Linear"])
    assert layers["narrow"][2:] == [("n", None), ("m", None), ("s", None)]
    model = stub_api("decoder")["Decoder"]
    assert model["load"] == [("cls", UNSET), ("path", UNSET)]
    assert model["sampling"] == [("self", UNSET), ("temperature", 0), ("top_k", 0), ("seed", 1)]
    for name in ("vocab", "context", "position", "logits", "ram"):
        assert model[name] == "property"


def test_a_wrong_default_or_a_missing_class_method_is_caught():
    real = real_api("decoder")
    assert real["Decoder"]["load"] == [("cls", UNSET), ("path", UNSET)]
    stub = stub_api("decoder")
    del stub["Decoder"]["load"]
    assert stub != real
    stub = stub_api("decoder")
    stub["Decoder"]["generate_into"][-1] = ("stop", 0)
    assert stub != real
