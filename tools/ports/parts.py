"""The parts of the device suite run on every target, and the one line that reports them.

Each part sends scripts of tools/device/ to a target (targets.run) and judges what they
print, without an oracle on the host: the self-test against plain Python on the target,
the recorded cases against the committed fixture of the 64-bit unix port, three fuzzer
seeds, the heap per call of every public method under micropython.heap_lock(), and the
shipped model's answers against the 64-bit unix port's. A part returns a Part: passed or
not, and a reason short enough for one line.
"""

import json
import re
from dataclasses import dataclass

from ports import project
from ports import targets

# Run first on every target: what it is and where its heap is. id() of a bytearray is
# its address: a small int below 0x40000000, a negative small int for 0x40000000-
# 0x7FFFFFFF (bit 30 copied into bit 31) and a long int from 0x80000000 on 32-bit ports.
PROBE = """
import gc, json, sys
obj = bytearray(8)
i = id(obj)
try:
    import os
    machine = os.uname().machine
except (AttributeError, ImportError):
    machine = getattr(sys.implementation, "_machine", "?")
gc.collect()
print("PROBE " + json.dumps({
    "version": sys.version, "impl": list(sys.implementation.version[:3]),
    "mpy": getattr(sys.implementation, "_mpy", 0), "machine": machine,
    "platform": sys.platform, "id": i, "address": i & 0x7FFFFFFF if i < 0 else i,
    "heap": gc.mem_free() + gc.mem_alloc()}))
"""

FUZZ_SEEDS = (1, 2, 3)
FUZZ_CALLS = 2000
EVAL_COUNT = 200
CLASSIFY_COUNT = 48  # gesture windows, sent inline (96 bytes each)

# Seconds each part may take on one target (fuzz: per seed). QEMU runs slower than the
# unix port; the defaults leave a wide margin on a loaded two-core machine.
TIMEOUTS = {
    "probe": 60,
    "selftest": 300,
    "cases": 600,
    "fuzz": 600,
    "heap": 300,
    "eval": 900,
    "classify": 600,
}
REASON_LIMIT = 120
PARTS = ("selftest", "cases", "fuzz", "heap", "eval", "classify")


@dataclass
class Part:
    name: str
    passed: bool
    reason: str

    def text(self):
        reason = "".join(c if " " <= c < "\x7f" else "?" for c in self.reason)
        if len(reason) > REASON_LIMIT:
            reason = reason[: REASON_LIMIT - 3] + "..."
        return "%s %s (%s)" % (self.name, "PASS" if self.passed else "FAIL", reason)


def range_of(address):
    for name, low, high, _ in targets.RANGES:
        if low <= address < high:
            return name
    return "?"


def parse_probe(out):
    """The PROBE dict a target printed, with 'range' and 'arch' added; None if absent."""
    for line in out.splitlines():
        if line.startswith("PROBE "):
            info = json.loads(line[6:])
            info["range"] = range_of(info["address"])
            info["arch"] = project.arch_name(info["mpy"])
            found = re.search(r"MicroPython (v\S+)", info["version"])
            info["micropython"] = found.group(1) if found else ".".join(map(str, info["impl"]))
            return info
    return None


def _failed(run, what=""):
    """A Part reason for a run that did not finish well."""
    return "%s%s" % (what, run.reason)


def selftest(ctx, target):
    run = ctx.run(target, project.device_script("plain.py", "selftest.py"), "selftest")
    found = re.search(r"(\d+) passed, (\d+) failed", run.out)
    if run.status == "ok" and found and found.group(2) == "0":
        return Part("selftest", True, "%s passed" % found.group(1))
    if found:
        fails = [ln[5:] for ln in run.out.splitlines() if ln.startswith("FAIL ")]
        errors = [ln for ln in run.out.splitlines() if re.match(r"^\w*(Error|Exception)\b", ln)]
        why = errors[0] if errors else "first: " + (fails[0] if fails else "?")
        return Part("selftest", False, "%s passed, %s failed; %s" % (*found.groups(), why[:90]))
    done = len([ln for ln in run.out.splitlines() if ln.startswith("FAIL ")])
    return Part("selftest", False, _failed(run, "%d failures, then " % done if done else ""))


def load_reference(path=project.REFERENCE_FIXTURE):
    with open(path) as f:
        return [case["outputs"] for case in json.load(f)["cases"]]


def case_lines(out):
    """The JSON lines cases.py printed: (target dict or None, {case number: outputs})."""
    info, outputs = None, {}
    for line in out.splitlines():
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if "target" in item:
                info = item["target"]
            elif "case" in item:
                outputs[item["case"]] = item["outputs"]
    return info, outputs


def cases(ctx, target):
    run = ctx.run(target, project.device_script("cases.py"), "cases")
    ctx.cases_runs[target.name] = run
    want = ctx.reference
    _, got = case_lines(run.out)
    differ = [n for n in sorted(got) if n >= len(want) or got[n] != want[n]]
    if run.status == "ok" and len(got) == len(want) and not differ:
        return Part(
            "cases", True, "%d of %d identical to %s" % (len(got), len(want), ctx.reference_name)
        )
    parts = []
    if differ:
        parts.append("%d of %d differ, first case %d" % (len(differ), len(got), differ[0]))
    if run.status != "ok" or len(got) < len(want):
        parts.append("stopped after %d of %d cases: %s" % (len(got), len(want), _failed(run)))
    return Part("cases", False, "; ".join(parts))


def fuzz(ctx, target):
    passed = []
    for seed in ctx.fuzz_seeds:
        run = ctx.run(target, project.fuzz_script(seed, ctx.fuzz_calls), "fuzz")
        if run.status != "ok" or ", ok" not in run.out:
            fail = [ln for ln in run.out.splitlines() if ln.startswith("FAIL ")]
            why = re.sub(r"^seed=\d+ ", "", fail[0][5:]) if fail else _failed(run)
            if fail and run.status in ("crash", "timeout"):
                why += ", then " + run.reason
            return Part("fuzz", False, "seed %d: %s%s" % (seed, why[:110], _passed(passed)))
        passed.append(seed)
    return Part("fuzz", True, "seeds %s x %d calls" % (",".join(map(str, passed)), ctx.fuzz_calls))


def _passed(seeds):
    return "; seeds %s passed" % ",".join(map(str, seeds)) if seeds else ""


HEAP_FOOTER = """
def _ports_heap():
    att, _ = import_package()
    rng = Random(2024)
    most = LENGTHS[-1] * HEAD_DIMS[-1]
    data = (rng.int8s(HEAD_DIMS[-1]), rng.int8s(most), rng.int8s(most))
    for name, per, locked in heap_rows(att, data):
        print("HEAP\\t%s\\t%s\\t%s" % (name, per, locked))
    print("HEAP done")


_ports_heap()
"""


def heap_script():
    """tools/device/bench.py without its main() call, then only its heap-per-call table."""
    text = project.device_script("bench.py").rstrip()
    if not text.endswith("\nmain()"):
        raise ValueError("tools/device/bench.py no longer ends with main(): update parts.py")
    return text[: -len("main()")] + HEAP_FOOTER


def heap(ctx, target):
    run = ctx.run(target, heap_script(), "heap")
    rows = [ln.split("\t")[1:] for ln in run.out.splitlines() if ln.startswith("HEAP\t")]
    measured = [r for r in rows if r[2] in ("yes", "NO")]
    allocating = [r for r in measured if r[1].strip() not in ("0", "0 B") or r[2] != "yes"]
    if run.status != "ok" or "HEAP done" not in run.out:
        return Part("heap", False, "after %d of the calls: %s" % (len(rows), _failed(run)))
    if not measured:
        return Part("heap", False, "no call measured")
    if allocating:
        name, per, locked = allocating[0]
        return Part(
            "heap",
            False,
            "%d of %d calls allocate or fail locked, first %s: %s/call, "
            "locked %s" % (len(allocating), len(measured), name, per, locked),
        )
    return Part("heap", True, "%d calls, 0 B/call, all under heap_lock" % len(measured))


def eval_script(examples):
    """eval_model.py with examples [(prompt, answer)], as the text it reads: a line
    "prompt\tanswer" each."""
    text = "".join("%s\t%s\n" % pair for pair in examples)
    return project.device_script("eval_model.py", head="EXAMPLES = %r" % (text,))


def eval_answers(out):
    """(right, total, sorted wrong lines) from eval_model.py's output, or None."""
    last = re.search(r"int8 (\d+) of (\d+) correct", out)
    if not last:
        return None
    wrong = sorted(ln for ln in out.splitlines() if ln.startswith("wrong: "))
    return int(last.group(1)), int(last.group(2)), wrong


def model_eval(ctx, target):
    run = ctx.run(target, eval_script(ctx.examples), "eval")
    got = eval_answers(run.out)
    if run.status != "ok" or got is None:
        return Part("eval", False, _failed(run))
    right, total, wrong = got
    score = "int8 %d of %d right" % (right, total)
    want = ctx.eval_reference()
    if want is None:
        return Part("eval", True, score + "; no 64-bit unix port to compare with")
    if got != want:
        differ = len(set(wrong) ^ set(want[2]))
        return Part(
            "eval",
            False,
            "%s, %d answers differ from the 64-bit unix port's (%d right)"
            % (score, differ, want[0]),
        )
    return Part("eval", True, score + ", every answer as on the 64-bit unix port")


def classify_script(windows, count):
    """eval_classifier.py with count windows (bytes) inline, printing their logits."""
    head = "WINDOWS = %r\nCOUNT = %d\nLOGITS = True" % (windows, count)
    return project.device_script("eval_classifier.py", head=head)


def logits_of(out):
    """The logits eval_classifier.py printed, a list per window."""
    return [
        [int(v) for v in line.split()[1:]]
        for line in out.splitlines()
        if line.startswith("logits:")
    ]


def classify(ctx, target):
    """The shipped gesture classifier on held-out windows: every window's logits must be
    the numpy int8 model's (tools/tinylm/int8_model.py), bit for bit."""
    windows, want = ctx.gesture
    run = ctx.run(target, classify_script(windows, len(want)), "classify")
    got = logits_of(run.out)
    if run.status != "ok" or not got:
        return Part("classify", False, _failed(run))
    if got != want:
        differ = sum(g != w for g, w in zip(got, want)) + abs(len(got) - len(want))
        return Part(
            "classify", False, "%d of %d windows' logits differ from numpy's" % (differ, len(want))
        )
    return Part(
        "classify", True, "%d gesture windows, logits as the numpy int8 model's" % len(want)
    )


RUNNERS = {
    "selftest": selftest,
    "cases": cases,
    "fuzz": fuzz,
    "heap": heap,
    "eval": model_eval,
    "classify": classify,
}


def line(target, info, parts, problem=None):
    """The one line of a target: where it ran, then PASS/FAIL (reason) per part."""
    if info:
        where = "MicroPython %s, %s, heap %s at 0x%08x" % (
            info["micropython"],
            info["arch"],
            targets.RANGE_TEXT.get(info["range"], "?"),
            info["address"],
        )
        if info["range"] != target.expect:
            where += " (WRONG RANGE: expected %s)" % targets.RANGE_TEXT[target.expect]
    else:
        where = "MicroPython ?, heap ?"
    head = "%s [%s %s]: %s" % (target.name, target.port, target.arch, where)
    if problem:
        return "%s | FAIL: %s" % (head, problem)
    return head + " | " + " | ".join(p.text() for p in parts)


def passed(info, target, parts, problem=None):
    return (
        problem is None
        and info is not None
        and info["range"] == target.expect
        and all(p.passed for p in parts)
    )
