"""Put the package in /lib/attention on a board, whole or not at all, copying only what changed.

    python tools/board/deploy.py --port PORT                # .mpy for the board's own chip
    python tools/board/deploy.py --port PORT --form py      # the .py sources
    python tools/board/deploy.py --port PORT --board NAME   # .mpy for boards/NAME.json
    python tools/board/deploy.py --port PORT --force        # even over a newer version
    python tools/board/deploy.py --port PORT --uninstall    # remove it, saying what it was

First the port is checked and the board asked what it runs (tools/board/link.py, with a
timeout; a board whose main.py swallows Ctrl-C is named in one line). A board of another
architecture than BOARD's, or a firmware older than the chip's minimum, is refused
before anything on the board changes (tools/board/board_check.py). Without BOARD= the
package is compiled for the architecture the board reports, when this mpy-cross writes
the .mpy version its firmware loads, else the .py sources go.

Then the board's /lib/attention is listed with a sha256 per file, the version it holds
read from its __init__ file (tools/board/version.py), and a deploy that was cut before
is reported. A board holding a newer version than this checkout's is refused unless
--force. The new package is gathered in /lib/.attention-new: files the board already has
with the right hash are copied there on the board, only the others are sent; when every
file is there with its hash, two renames swap it in (tools/device/deploy_board.py). So
an interrupted deploy leaves the old package or the new one, never a mix, and .py files
of modules now deployed as .mpy (or the reverse) go with the old folder.
"""

import argparse
import ast
import hashlib
import os
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from board import board_check, boards, link, target, version

ROOT = Path(__file__).resolve().parents[2]
LIVE, NEW, OLD = "/lib/attention", "/lib/.attention-new", "/lib/.attention-old"
FOLDER = {"live": LIVE, "new": NEW, "old": OLD}
UNINSTALL = ROOT / "tools" / "device" / "uninstall.py"
RUN_SECONDS = 120  # one on-board step: listing and hashing, copying on the board, swapping


class DeployError(Exception):
    """A user-facing refusal: the message says what is wrong and what to do."""


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def local_files(package):
    """{name relative to the package folder: path} of every file to install."""
    package = Path(package)
    return {
        p.relative_to(package).as_posix(): p for p in sorted(package.rglob("*")) if p.is_file()
    }


def on_board(port, settings, what, seconds=None):
    """Run tools/device/deploy_board.py on the board with settings in front; its lines."""
    with tempfile.TemporaryDirectory() as folder:
        script = target.bundle(["deploy_board.py"], folder, prelude=settings)
        done = link.run(port, ["run", script], link.timeout(seconds or RUN_SECONDS), what)
    if done.returncode:
        lines = (done.stdout + done.stderr).strip().splitlines()
        raise DeployError(
            "the board failed during %s: %s" % (what[0], lines[-1] if lines else "no output")
        )
    return [ast.literal_eval(line) for line in done.stdout.splitlines() if line.startswith("(")]


class Inventory:
    """What the board holds: files per folder {name: (size, sha256)} and __init__ bytes."""

    def __init__(self, lines):
        self.files = {"live": {}, "new": {}, "old": {}}
        self.init = {}
        for line in lines:
            if line[0] == "F":
                self.files[line[1]][line[2]] = (line[3], line[4])
            elif line[0] == "I":
                self.init[line[1]] = (line[2], line[3])

    def version(self, folder):
        if folder not in self.init:
            return None
        return version.import_version(*self.init[folder])

    def describe(self, folder):
        """e.g. 'attention 0.2.0 (16 files, .py)'."""
        files = self.files[folder]
        kinds = sorted({os.path.splitext(n)[1] for n in files if n.endswith((".py", ".mpy"))})
        return "attention %s (%d files, %s)" % (
            self.version(folder) or "of unknown version",
            len(files),
            " and ".join(kinds) or "no modules",
        )

    def leftovers(self):
        """Sentences about what an interrupted deploy left, or []."""
        said = []
        live, new, old = (self.files[k] for k in ("live", "new", "old"))
        if old and not live:
            said.append(
                "a deploy was cut between its two renames: no %s, the previous package is in "
                "%s (%s)" % (LIVE, OLD, self.describe("old"))
            )
        elif old:
            said.append("%s was left by an earlier deploy (removed now)" % OLD)
        if new:
            state = "the package it was gathering" if not live else "files of a cut deploy"
            said.append(
                "%s holds %d file(s), %s; %s was not touched by it"
                % (NEW, len(new), state, LIVE if live else "the previous package")
            )
        return said


def refusal(port, found):
    return "refusing to deploy to %s (nothing on the board changed):\n%s" % (
        port,
        "\n".join(found),
    )


def choose_package(port, device, board_name, form, out):
    """(folder of the files to install, words for them): compiled or the sources."""
    if board_name is not None:
        found = board_check.problems(device, board_name)  # the arch, before compiling
        if found:
            raise DeployError(refusal(port, found))
        arch = boards.load(board_name)["mpy_arch"]
        package = compile_for(arch)
        header = board_check.mpy_header(package / "_kernels.mpy")
        found = board_check.problems(device, board_name, mpy_files=header[:2])
        if found:
            raise DeployError(refusal(port, found))
        return package, "the %s .mpy files (%s)" % (board_name, arch)
    found = board_check.problems(device)
    if found:
        raise DeployError(refusal(port, found))
    arch = board_check.arch(device["mpy"])
    if form == "py":
        return boards.SRC, "the .py sources"
    why = None
    try:
        package = compile_for(arch)
    except boards.BoardError as exc:
        why = str(exc).splitlines()[0]
    else:
        ver, sub, _ = board_check.mpy_header(package / "_kernels.mpy")
        loads = (device["mpy"] & 0xFF, (device["mpy"] >> 8) & 3)
        if loads == (ver, sub):
            return package, "the %s .mpy files" % arch
        why = "the board loads .mpy %d.%d and this mpy-cross writes %d.%d" % (loads + (ver, sub))
    if form == "mpy":
        raise DeployError("cannot deploy .mpy files: %s" % why)
    print("deploy: the .py sources go (%s)" % why, file=out)
    return boards.SRC, "the .py sources"


def compile_for(arch):
    build = ROOT / "build" / arch
    boards.compile_package(boards.SRC, build, arch)
    return build / "attention"


def plan(inventory, want):
    """(copy on the board [(name, folder)], delete from staging [name], send [name])."""
    live = inventory.files["live"] or inventory.files["old"]
    source = "live" if inventory.files["live"] else "old"
    staged = inventory.files["new"]
    copies, deletes, sends = [], [], []
    for name, digest in want.items():
        if staged.get(name, (0, None))[1] == digest:
            continue
        if name in staged:
            deletes.append(name)
        if live.get(name, (0, None))[1] == digest:
            copies.append((name, source))
        else:
            sends.append(name)
    deletes += [name for name in staged if name not in want]
    return copies, deletes, sends


def deploy(port, board_name=None, form=None, force=False, out=sys.stdout):
    if board_name is not None:
        boards.load(board_name)  # an unknown name fails here, before the board is asked
    device = link.probe(port)
    print("deploy: %s runs %s" % (port, board_check.describe(device)), file=out, flush=True)
    package, what = choose_package(port, device, board_name, form, out)
    files = local_files(package)
    want = {name: sha256(path) for name, path in files.items()}
    new_version = boards.version(package) if (package / "__init__.py").exists() else None
    new_version = new_version or version.import_version(
        "__init__.mpy", (package / "__init__.mpy").read_bytes()
    )
    cut = ("the deploy", "; %s on the board is as it was, or whole if the swap was done" % LIVE)
    inventory = Inventory(on_board(port, 'ACTION = "inventory"\n', ("listing", cut[1])))
    for sentence in inventory.leftovers():
        print("deploy: found: %s" % sentence, file=out)
    there = "live" if inventory.files["live"] else "old" if inventory.files["old"] else None
    old_version = inventory.version(there) if there else None
    if there and version.key(old_version) and version.key(new_version):
        if version.key(old_version) > version.key(new_version) and not force:
            raise DeployError(
                "the board holds attention %s, newer than this checkout's %s: refusing to "
                "replace it (FORCE=1 replaces it; `git pull` brings the checkout up to date)"
                % (old_version, new_version)
            )
    print(
        "deploy: on the board: %s; from this checkout: attention %s, %s"
        % (inventory.describe(there) if there else "no " + LIVE, new_version, what),
        file=out,
    )
    current = {n: d for n, (_, d) in inventory.files["live"].items()}
    if current == want and not inventory.files["new"] and not inventory.files["old"]:
        print(
            "deploy: done: every file is on the board already, unchanged: nothing copied", file=out
        )
        return
    copies, deletes, sends = plan(inventory, want)
    settings = "ACTION = 'stage'\nCOPY = %r\nDELETE = %r\n" % (copies, deletes)
    on_board(port, settings, ("gathering the files on the board", cut[1]))
    size = sum(files[name].stat().st_size for name in sends)
    if sends:
        print(
            "deploy: sending %d file(s), %.1f KB, to %s%s"
            % (
                len(sends),
                size / 1024,
                NEW,
                "; %d unchanged, copied on the board" % len(copies) if copies else "",
            ),
            file=out,
            flush=True,
        )
        commands = []
        for name in sends:
            commands += ["+"] * bool(commands) + ["cp", str(files[name]), ":%s/%s" % (NEW, name)]
        done = link.run(port, commands, link.copy_timeout(size), ("the copy", cut[1]))
        if done.returncode:
            lines = (done.stdout + done.stderr).strip().splitlines()
            raise DeployError("mpremote failed while copying: %s" % (lines[-1:] or ["?"])[0])
    result = on_board(port, "ACTION = 'swap'\nWANT = %r\n" % want, ("the swap", cut[1]))
    if result[-1:] != [("OK",)]:
        raise DeployError("the board did not swap the package in: %r" % result)
    removed = gone_words(sorted(set(inventory.files[there]) - set(want)) if there else [], want)
    print(
        "deploy: done: %s on %s holds attention %s (%s): %d file(s) sent, %d unchanged%s"
        % (
            LIVE,
            port,
            new_version,
            "it held " + (old_version or "an unknown version") if there else "a first install",
            len(sends),
            len(want) - len(sends),
            "; removed: " + ", ".join(removed) if removed else "",
        ),
        file=out,
    )


def gone_words(gone, want):
    """What the swap removed, in words: the files of modules now in the other form counted
    together (e.g. '15 .py files of modules now deployed as .mpy'), the rest by name."""
    stems = {os.path.splitext(name)[0] for name in want}
    switched = [name for name in gone if os.path.splitext(name)[0] in stems]
    words = [name for name in gone if name not in switched]
    if switched:
        old = os.path.splitext(switched[0])[1]
        new = ".mpy" if old == ".py" else ".py"
        words.insert(0, "%d %s files of modules now deployed as %s" % (len(switched), old, new))
    return words


def uninstall(port, out=sys.stdout):
    link.probe(port)
    inventory = Inventory(on_board(port, 'ACTION = "inventory"\n', ("listing", "")))
    present = [k for k in ("live", "new", "old") if inventory.files[k]]
    with tempfile.TemporaryDirectory() as folder:
        script = target.bundle([UNINSTALL.name], folder)
        done = link.run(port, ["run", script], link.timeout(RUN_SECONDS), ("removing", ""))
    if done.returncode:
        raise DeployError("the board failed while removing: %s" % done.stdout.strip()[-200:])
    if not present:
        print("uninstall: nothing to remove: %s is not on %s" % (LIVE, port), file=out)
        return
    for key in present:
        print(
            "uninstall: removed %s (%s) from %s" % (FOLDER[key], inventory.describe(key), port),
            file=out,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial port of the board")
    parser.add_argument("--board", help="a board of boards/: deploy its .mpy files")
    parser.add_argument("--form", choices=("py", "mpy"), help="default: .mpy where it can")
    parser.add_argument("--force", action="store_true", help="replace even a newer version")
    parser.add_argument("--uninstall", action="store_true", help="remove /lib/attention")
    args = parser.parse_args(argv)
    name = "uninstall" if args.uninstall else "deploy"
    try:
        if args.uninstall:
            uninstall(args.port)
        else:
            deploy(args.port, args.board, args.form, args.force)
    except (DeployError, boards.BoardError, link.BoardFailure) as exc:
        print("%s: error: %s" % (name, exc), file=sys.stderr)
        return 130 if isinstance(exc, link.Interrupted) else 1
    except KeyboardInterrupt:  # before or between the board commands: nothing half done
        print(
            "%s: interrupted (Ctrl-C); %s on the board is as it was" % (name, LIVE),
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
