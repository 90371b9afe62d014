#!/usr/bin/env python3
"""Kernel instructions per token of a model, counted on each arch's machine code under QEMU.

    python tools/machine_code/token_counts.py [--model FILE] [--prompt TEXT] [--room N]
                                              [--sample K,K,...] [--arch ARCH|all]

1. Record: tools/device/record_calls.py runs on the unix port (the real interpreter and
   viper code; fast enough for contexts of hundreds of tokens, which the CPython shim is
   not) and writes every viper kernel call of one generate_into(prompt, bytearray(room))
   of the model, with its arguments, what it returned and, for the sampled feeds, the
   bytes of every buffer before and after.
2. Replay: the calls of each sampled feed (the feed and the pick after it: a segment),
   in order, on the xtensawin, rv32imc, armv6m and armv7emsp machine code of the same kernels
   (tools/machine_code/qemu_run.py), each buffer placed once and shared by the calls
   that name it, as on the interpreter. Every executed instruction of each call is
   counted. The buffers after the last call must equal the recorded ones byte for byte,
   the returned values too, and no call may write outside a buffer: a count is of the
   real work, or the run fails.
Calls of _memory (the buffer checks, whose frame holds object pointers) cannot run bare-
metal: they are counted as calls, not as instructions (a whole-interpreter count,
tools/machine_code/rv32_port.py, includes them).

Prints, per kernel, calls and instructions per token: the mean over the sampled feeds, the
feeds that compute logits (a full step) and those that do not (prompt tokens).
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from board import boards, target
from machine_code import qemu_run
from machine_code.kernel_loops import table

FIRMWARE = Path(boards.SRC)
SHIPPED = FIRMWARE / "reverse.bin"
EXAMPLE = "abcdefgh|"  # the standard example: generate_into of this prompt, 9 tokens of room
EXAMPLE_ROOM = 9
HEAP = "heapsize=64M"  # the recording unix port's heap: the sampled buffers are copied out
JOB_BYTES = 6 << 20  # buffer bytes per QEMU boot (several segments share one boot)


@dataclass
class Segment:
    """One feed() and the calls after it up to the next feed (the pick)."""

    index: int
    token: int
    logits: bool
    position: int
    calls: list = field(default_factory=list)  # (function, args, returned)
    pre: dict = field(default_factory=dict)  # buffer number -> bytes at the start
    post: dict = field(default_factory=dict)  # buffer number -> bytes at the end

    @property
    def sampled(self):
        return bool(self.post)


@dataclass
class Recording:
    header: dict
    functions: dict  # function -> module of firmware/attention/
    segments: list
    generated: list


def read_record(path) -> Recording:
    """Parse the file record_calls.py wrote."""
    data = Path(path).read_bytes()
    at = 0
    meta, segments, done = None, [], None
    while at < len(data):
        tag, size = struct.unpack_from("<4sI", data, at)
        payload = data[at + 8 : at + 8 + size]
        at += 8 + size
        if tag == b"META":
            meta = json.loads(payload)
        elif tag == b"FEED":
            index, token, logits, position = json.loads(payload)
            segments.append(Segment(index, token, bool(logits), position))
        elif tag == b"CALL":
            name, args, ret = json.loads(payload)
            segments[-1].calls.append((name, args, ret))
        elif tag in (b"PRE ", b"POST"):
            (k,) = struct.unpack_from("<I", payload)
            (segments[-1].pre if tag == b"PRE " else segments[-1].post)[k] = payload[4:]
        elif tag == b"DONE":
            done = json.loads(payload)
        else:
            raise ValueError(f"{path}: unknown chunk {tag!r}")
    if meta is None or done is None or done[0] != len(segments):
        raise ValueError(f"{path}: an incomplete record")
    return Recording(meta["header"], meta["functions"], segments, done[2])


def record(model=SHIPPED, prompt=EXAMPLE, room=EXAMPLE_ROOM, sample=None, folder=None):
    """Run record_calls.py on the unix port; the Recording. sample: feed indices whose
    buffers are kept (None: all); prompt: text, or token ids (bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(folder or tmp) / "calls.bin"
        settings = "MODEL = %r; OUT = %r; PROMPT = %r; ROOM = %d; SAMPLE = %r\n" % (
            str(Path(model).resolve()),
            str(out),
            prompt,
            room,
            None if sample is None else tuple(sorted(sample)),
        )
        script = target.bundle(["record_calls.py"], tmp, settings)
        done = subprocess.run(
            [boards.tool("micropython"), "-X", HEAP, script],
            env=dict(os.environ, MICROPYPATH=str(FIRMWARE.parent)),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(
                "record_calls.py failed on the unix port:\n" + done.stdout + done.stderr
            )
        return read_record(out)


def replayable(args):
    return None not in args


def native_code(rec: Recording, arch: str):
    """The machine code of every function the recording calls that can run bare-metal."""
    names = {n for s in rec.segments for n, a, _ in s.calls if replayable(a)}
    modules = sorted({rec.functions[n] for n in names})
    return qemu_run.NativeCode.merge(
        *(qemu_run.native_code(FIRMWARE / f"{m}.py", arch) for m in modules)
    )


class ReplayError(RuntimeError):
    """The replayed kernels did not do what they did on the interpreter."""


def _jobs(segments):
    """Sampled segments in groups of about JOB_BYTES of buffers."""
    group, size = [], 0
    for seg in segments:
        need = sum(len(b) for b in seg.pre.values())
        if group and size + need > JOB_BYTES:
            yield group
            group, size = [], 0
        group.append(seg)
        size += need
    if group:
        yield group


def replay(rec: Recording, arch: str, code=None, timeout=600):
    """{segment index: Counter of instructions per function} of every sampled segment,
    replayed under QEMU and checked against the recording (ReplayError if not equal)."""
    code = code or native_code(rec, arch)
    counts = {}
    for group in _jobs([s for s in rec.segments if s.sampled]):
        calls, plan = [], []  # plan: (segment, {k: Shared}, [(call number, returned)])
        for seg in group:
            shared = {k: qemu_run.Shared(b) for k, b in seg.pre.items()}
            made = []
            for name, args, ret in seg.calls:
                if not replayable(args):
                    continue
                try:
                    real = [shared[int(a[1:])] if isinstance(a, str) else a for a in args]
                except KeyError as exc:
                    raise ReplayError(f"segment {seg.index}: {name} names buffer {exc} unseen")
                made.append((len(calls), name, ret))
                calls.append(qemu_run.Call(name, real))
            plan.append((seg, shared, made))
        results = qemu_run.run(arch, code, calls, timeout=timeout)
        for seg, shared, made in plan:
            count = Counter()
            after = {}
            for i, name, ret in made:
                res = results[i]
                if res.damaged:
                    raise ReplayError(
                        f"{arch}: {name} wrote outside a buffer (segment {seg.index})"
                    )
                if res.ret != ret:
                    raise ReplayError(
                        f"{arch}: {name} returned {res.ret}, the interpreter {ret} (segment {seg.index})"
                    )
                count[name] += res.instructions
                buffers = iter(res.buffers)
                for a in calls[i].args:
                    if not isinstance(a, int):
                        data = next(buffers)
                        for k, s in shared.items():
                            if s is a:
                                after[k] = data
            for k, data in after.items():
                if data != seg.post[k]:
                    raise ReplayError(
                        f"{arch}: buffer {k} after segment {seg.index} (position {seg.position})"
                        " differs from the interpreter's"
                    )
            counts[seg.index] = count
    return counts


@dataclass
class PerToken:
    """Means over a set of segments: calls and instructions per function."""

    segments: int
    calls: Counter
    instructions: Counter
    unreplayed: Counter  # calls counted, not run (they read object headers)

    @property
    def total(self):
        return sum(self.instructions.values())


def per_token(rec: Recording, counts: dict, which=lambda seg: True) -> PerToken:
    chosen = [s for s in rec.segments if s.index in counts and which(s)]
    calls, instr, unrun = Counter(), Counter(), Counter()
    for seg in chosen:
        for name, args, _ in seg.calls:
            (calls if replayable(args) else unrun)[name] += 1
        instr.update(counts[seg.index])
    n = len(chosen) or 1
    scale = lambda c: Counter({k: v / n for k, v in c.items()})  # noqa: E731
    return PerToken(len(chosen), scale(calls), scale(instr), scale(unrun))


def kernel_table(columns):
    """columns: [(title, PerToken)]: one row per function, instructions per token; the
    first column's calls per token in front."""
    names = sorted(
        {n for _, pt in columns for n in pt.instructions},
        key=lambda n: -max(pt.instructions.get(n, 0) for _, pt in columns),
    )
    first = columns[0][1]
    rows = [
        [n, "%.1f" % first.calls.get(n, 0)]
        + ["%.0f" % pt.instructions.get(n, 0) for _, pt in columns]
        for n in names
    ]
    rows.append(
        ["all kernels", "%.1f" % sum(first.calls.values())]
        + ["%.0f" % pt.total for _, pt in columns]
    )
    return table(
        ["kernel", "calls"] + [t for t, _ in columns], rows, "l" + "r" * (1 + len(columns))
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", default=str(SHIPPED), help="a model file (default: the shipped one)"
    )
    ap.add_argument("--prompt", default=EXAMPLE, help="prompt text (default %(default)r)")
    ap.add_argument("--room", type=int, default=EXAMPLE_ROOM, help="tokens to generate")
    ap.add_argument("--sample", help="feed indices to replay, K,K,... (default: all)")
    ap.add_argument("--arch", choices=[*qemu_run.ARCHS, "all"], default="all")
    args = ap.parse_args(argv)
    arches = list(qemu_run.ARCHS) if args.arch == "all" else [args.arch]
    missing = [t for a in arches for t in qemu_run.missing_tools(a)]
    if missing:
        hint = qemu_run.install_hint(*arches)
        print(f"token_counts: not installed: {', '.join(dict.fromkeys(missing))}; {hint}")
        return 1
    sample = None if args.sample is None else [int(k) for k in args.sample.split(",")]
    rec = record(args.model, args.prompt, args.room, sample)
    columns = []
    for arch in arches:
        counts = replay(rec, arch)
        columns.append((f"{arch} mean", per_token(rec, counts)))
        columns.append((f"{arch} full", per_token(rec, counts, lambda s: s.logits)))
    print(
        f"{len(rec.segments)} feeds, {sum(len(s.calls) for s in rec.segments)} calls; "
        "replayed feeds identical to the interpreter's"
    )
    print(kernel_table(columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
