"""The house rules of tools/: no import circle, each folder imports only the floors below it
(the table in tools/README.md), and a tool imports another by its folder (`from board import
target`, never a bare `import target`). Read from the sources with ast, nothing imported;
and every command-line tool runs as a script from any folder."""

import ast
import os
import subprocess
import sys

import pytest
from conftest import REPO

TOOLS = REPO / "tools"
# folder: the folders its modules may import ("" is the root, tools/host_python.py).
ALLOWED = {
    "": set(),
    "board": {"board"},
    "vboard": {"vboard"},
    "machine_code": {"board", "machine_code"},
    "quality": {"board", "quality"},
    "report": {"board", "machine_code", "tinylm", "report"},
    "ports": {"board", "tinylm", "ports"},
    "tinylm": {"tinylm"},
}
# Not imported by CPython: device/ runs on a target; the agent runs inside the unix port.
ON_TARGET = ("device/", "vboard/vboard_agent.py")


def host_modules(root=TOOLS):
    """{dotted name: path} of every host tool below root (board.target, host_python, ...)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(ON_TARGET):
            continue
        parts = rel[:-3].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name, path, modules):
    """The host modules that module name imports anywhere in it (functions included), and
    the bare names of sibling modules it imports without their folder."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    siblings = {m.rpartition(".")[2] for m in modules if m.rpartition(".")[0] == package}
    out, bare = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .x import y
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(p for p in [*up, base] if p)
            targets = [base] + [base + "." + a.name for a in node.names]
        else:
            continue
        for target in targets:
            if target in modules and target != name:
                out.add(target)
            if package and target in siblings and target not in modules:
                bare.add(target)
    return out, bare


def graph(root=TOOLS):
    modules = host_modules(root)
    return {name: imports(name, path, modules) for name, path in modules.items()}


def circles(edges):
    """Every import circle of {module: modules it imports}, each as a path back to its start."""
    found, done = [], set()

    def visit(name, path):
        if name in path:
            found.append(path[path.index(name) :] + [name])
            return
        if name in done:
            return
        for other in sorted(edges.get(name, ())):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])
    return found


def folder(name):
    return name.split(".")[0] if "." in name or name in ALLOWED else ""


def test_no_import_circle_among_the_tools():
    edges = {name: out for name, (out, _) in graph().items()}
    assert circles(edges) == []


def test_the_circle_finder_finds_a_circle(tmp_path):
    for rel, text in {
        "report/__init__.py": "",
        "report/bench.py": "from machine_code import qemu_inspect\n",
        "machine_code/__init__.py": "",
        "machine_code/qemu_inspect.py": "def f():\n    from report import bench\n",
    }.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    edges = {name: out for name, (out, _) in graph(tmp_path).items()}
    assert circles(edges) == [
        ["machine_code.qemu_inspect", "report.bench", "machine_code.qemu_inspect"]
    ]


@pytest.mark.parametrize("name", sorted(host_modules()))
def test_each_tool_imports_only_the_floors_below_it(name):
    out, bare = graph()[name]
    allowed = ALLOWED[folder(name)]
    assert sorted(m for m in out if folder(m) not in allowed) == [], allowed
    assert sorted(bare) == [], "import a tool by its folder: from <folder> import <module>"


def test_every_folder_says_what_it_holds_and_may_import():
    folders = [*TOOLS.iterdir(), *(REPO / "host_tests").iterdir()]
    for path in sorted(folders):
        if path.is_dir() and path.name not in ("shim", "fixtures") and path.name[0] not in "._":
            init, readme = path / "__init__.py", path / "README.md"
            text = init.read_text() if init.exists() else readme.read_text()
            assert "may import" in text.lower(), path


def command_line_tools():
    """Host tools a user runs as `python tools/<folder>/<name>.py` (those with argparse)."""
    return [
        path
        for path in sorted(TOOLS.glob("*/*.py"))
        if not path.relative_to(TOOLS).as_posix().startswith(ON_TARGET)
        and 'if __name__ == "__main__"' in path.read_text()
        and "argparse" in path.read_text()
    ]


@pytest.mark.parametrize(
    "path", command_line_tools(), ids=lambda p: p.relative_to(TOOLS).as_posix()
)
def test_every_command_line_tool_answers_help_run_as_a_script(path):
    # Run from another folder, as a script: its imports must not depend on the working
    # directory or on how the tests set sys.path.
    if "import torch" in path.read_text():
        pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, str(path), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("usage:"), done.stderr[-2000:]
