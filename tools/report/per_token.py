#!/usr/bin/env python3
"""Per token, counted: kernel instructions on the ESP32 code, whole tokens on RV32
MicroPython, Python steps, and how it scales. Part of `make inspect` and `make bench`.

    python tools/report/per_token.py [--steps] [--shapes] [--rv32-firmware ELF]

1. The shipped model, the standard example (generate_into(encode("abcdefgh|"),
   bytearray(9)), 17 feeds): every kernel call recorded on the unix port and replayed on
   the xtensawin and rv32imc machine code under QEMU, outputs checked equal
   (tools/machine_code/token_counts.py); per kernel, the mean per token, a prompt token
   (logits=False) and a full step (a token whose logits are computed, with its pick).
2. Whole tokens on a 32-bit RISC-V MicroPython under QEMU -icount
   (tools/machine_code/rv32_port.py), when one is built (--rv32-firmware, $RV32_FIRMWARE
   or build/ports/); else one line says it is skipped.
3. The ESP32 time estimate from those counts, at CPI cycles per instruction.
4. --steps: Python calls and viper calls per token, the package against the previous
   decoder (tools/report/steps.py).
5. --shapes: the same counts for larger models of random weights (SHAPES below), at
   sampled positions, per token and per multiply-accumulate, with RAM and tokens/s.
"""

import argparse
import math
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from machine_code import inspect_native, kernel_loops, qemu_run, rv32_port, token_counts
from machine_code.kernel_loops import CPI, ESP32_MHZ, table
from tinylm import model_file

C3_MHZ = 160  # the ESP32-C3's clock; the ESP32 and ESP32-S3 run at ESP32_MHZ (240)
# The ESP32 code these figures are for (`python tools/machine_code/token_counts.py --arch
# armv6m` counts the RP2040's, and --arch armv7emsp the RP2350's, the same way).
ESP32_ARCHES = ("xtensawin", "rv32imc")
# Larger shapes, random weights (vocab: the format's limit of 256). stories260K is the
# shape of llama2.c's tinyllamas checkpoint that esp32-llm runs (its vocab is 512 and
# its feed-forward is SwiGLU with 3 matrices and 4 key/value heads; this format has a
# ReLU feed-forward of 2 matrices and a key/value per head).
SHAPES = {
    "d64-L4-h256-t128": {"dim": 64, "layers": 4, "heads": 4, "hidden": 256, "context": 128},
    "stories260K shape": {"dim": 64, "layers": 5, "heads": 8, "hidden": 172, "context": 512},
}
ESP32_LLM_TOKENS_S = 19.13  # github.com/DaveBben/esp32-llm README: stories260K, ESP32-S3
SAMPLES = 8  # positions 0, T/8, 2T/8, ... and T - 1 are replayed


def random_model(shape, path, seed=1):
    """Write a model file (version 1) of the shape with random int8 weights, scales that
    keep the activations near the int8 range, and the shipped model's fixed-point settings."""
    shipped, _ = model_file.read(token_counts.SHIPPED)
    h = {"vocab": 256, **shape}
    for k in ("norm_frac", "logit_shift", "logit_frac", "activation"):
        h[k] = shipped[k]
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, rows, cols, scaled in model_file.tensor_list(h):
        if name == "vocab":  # printable characters, repeated: only token ids are fed
            tensors[name] = (np.array([[32 + i % 95 for i in range(cols)]]), None)
            continue
        spread = 20 if name.endswith("_emb") else 59  # weights: the shipped model's spread
        data = np.clip(np.round(rng.normal(0, spread, (rows, cols))), -127, 127)
        scales = None
        if scaled:  # m / 2**s ~ 1 / (59 * sqrt(cols)): outputs about as spread as inputs
            m = rng.integers(16384, 32768, rows)
            s = np.clip(np.round(np.log2(m * 59.0 * math.sqrt(cols))), 17, 40)
            scales = np.stack([m, s], axis=1)
        tensors[name] = (data, scales)
    model_file.write(path, h, tensors)
    return h


def split_macs(h, position, logits=True):
    """{"project": ..., "attend": ...}: multiply-accumulates of one token at position
    (0-based) in the projections (the LM head among them) and in the attention over
    position + 1 rows (scores and weighted sum). Without logits the last layer stops
    after its keys and values."""
    d, f, n, layers = h["dim"], h["hidden"], position + 1, h["layers"]
    full = layers if logits else layers - 1
    project = full * (4 * d * d + 2 * d * f) + (h["vocab"] * d if logits else 2 * d * d)
    return {"project": project, "attend": full * 2 * n * d}


def macs(h, position, logits=True):
    return sum(split_macs(h, position, logits).values())


def split_rows(h, position, logits=True):
    """{"project": output rows of the projections, "attend": cached rows times heads}
    of one token, as split_macs."""
    d, layers = h["dim"], h["layers"]
    full = layers if logits else layers - 1
    project = full * (5 * d + h["hidden"]) + (h["vocab"] if logits else 2 * d)
    return {"project": project, "attend": full * (position + 1) * h["heads"]}


def mac_loops(arch="xtensawin"):
    """{kernel: instructions per MAC of its unrolled multiply-accumulate loops} of
    firmware/attention/_step.py, static: every innermost loop with 8 multiplies or more,
    averaged (attend's scores and weighted sum do as many MACs each)."""
    per = {}
    path = Path(token_counts.FIRMWARE) / "_step.py"
    for name, _, insns, loops in inspect_native.analyse(path, arch):
        rates = []
        for lp in loops:
            body = [i for i in insns if lp["start"] <= i.addr <= lp["end"] and i.kind != "data"]
            muls = sum(i.mnem == kernel_loops.MUL[arch] for i in body)
            if muls >= 8:
                rates.append(lp["instructions"] / muls)
        if rates:
            per[name] = sum(rates) / len(rates)
    return per


def sample_positions(context):
    return sorted({k * context // SAMPLES for k in range(SAMPLES)} | {context - 1})


def interpolated_mean(points, context):
    """The mean over positions 0..context-1 of the piecewise-linear curve through
    points {position: value} (which holds 0 and context - 1)."""
    xs = sorted(points)
    total = 0.0
    for p in range(context):
        j = max(i for i, x in enumerate(xs) if x <= p)
        if xs[j] == p:
            total += points[p]
        else:
            a, b = xs[j], xs[j + 1]
            total += points[a] + (points[b] - points[a]) * (p - a) / (b - a)
    return total / context


def us(instructions, mhz):
    return instructions * CPI / mhz


# --- 1-3: the shipped model ------------------------------------------------------------


def shipped_report(firmware):
    rec = token_counts.record()
    columns, totals, kept = [], {}, {}
    for arch in ESP32_ARCHES:
        counts = token_counts.replay(rec, arch)
        kept[arch] = counts
        mean = token_counts.per_token(rec, counts)
        prompt = token_counts.per_token(rec, counts, lambda s: not s.logits)
        full = token_counts.per_token(rec, counts, lambda s: s.logits)
        columns += [(f"{arch} mean", mean), (f"{arch} prompt", prompt), (f"{arch} full", full)]
        totals[arch] = (mean, prompt, full)
    feeds = len(rec.segments)
    full_n = sum(s.logits for s in rec.segments)
    lines = [
        "## Per token, the shipped model: kernel instructions on the ESP32 code (QEMU)\n",
        'generate_into(encode("%s"), bytearray(%d)): %d feeds (%d prompt tokens without '
        "logits, %d full steps with their pick), every kernel call recorded on the unix port "
        "and replayed under QEMU; all buffers and returned values equal to the "
        "interpreter's after every feed.\n"
        % (token_counts.EXAMPLE, token_counts.EXAMPLE_ROOM, feeds, feeds - full_n, full_n),
        token_counts.kernel_table(columns),
        "",
        "calls: per token, mean. Not replayed (counted in the whole token below): "
        + ", ".join(
            "%s %.1f calls per token" % (n, c)
            for n, c in sorted(totals["xtensawin"][0].unreplayed.items())
        )
        + ".\n",
    ]
    whole = None
    if firmware is None:
        lines.append(
            "Whole token on RV32 MicroPython: skipped, no VIRT_RV32 firmware.elf built "
            "(`make ports`, or RV32_FIRMWARE=path).\n"
        )
    else:
        got = rv32_port.run(
            firmware,
            token_counts.SHIPPED,
            token_counts.EXAMPLE,
            token_counts.EXAMPLE_ROOM,
            full=[s.position for s in rec.segments if s.logits],
        )
        whole = _whole(got)
        kern = {k: v.total for k, v in zip(("mean", "prompt", "full"), totals["rv32imc"])}
        rows = []
        for label, key in (
            ("mean, a run after gc.collect()", "collected"),
            ("mean, the first run after loading", "loaded"),
            ("prompt token (heap collected)", "prompt"),
            ("full step (heap collected)", "full"),
        ):
            k = kern["mean" if key in ("collected", "loaded") else key]
            rows.append(
                [
                    label,
                    "%.0f" % whole[key],
                    "%.0f" % k,
                    "%.0f" % (whole[key] - k),
                    "%.0f%%" % (100 * k / whole[key]),
                ]  # fmt: skip
            )
        lines += [
            "## Per token, whole tokens on RV32 MicroPython (qemu port VIRT_RV32, -icount shift=0)\n",
            "firmware: %s. instret read around the calls (tools/device/token_instructions.py).\n"
            % firmware,
            table(
                ["per token", "whole", "rv32 kernels", "the rest", "kernels' share"], rows, "lrrrr"
            ),
            "",
            "the rest: the interpreter: Python code, argument conversion into the kernels, the\n"
            "buffer checks (_memory.measure), and the frames of feed() and _measure(), which come\n"
            "from the heap on every call (more than 11 words of locals and stack: py/objfun.c,\n"
            "VM_MAX_STATE_ON_STACK). What such a frame costs depends on the heap: one call of a\n"
            "function with 13 locals takes %d instructions on the heap as the load left it, %d\n"
            "right after gc.collect() (gc_alloc searches from where it last found free blocks,\n"
            "from the heap's start after a collect); one with a frame on the C stack %d.\n"
            % (whole["frame loaded"], whole["frame collected"], whole["frame small"]),
        ]
    lines += estimate_lines(totals, whole)
    h = dict(rec.header)
    split = {"project": 0.0, "attend": 0.0}
    rows = {"project": 0.0, "attend": 0.0}
    for seg in rec.segments:
        for k, v in split_macs(h, seg.position, seg.logits).items():
            split[k] += v / len(rec.segments)
        for k, v in split_rows(h, seg.position, seg.logits).items():
            rows[k] += v / len(rec.segments)
    mean = totals["xtensawin"][0].instructions
    lines += breakdown_lines([("shipped, mean", mean, split, rows)])
    return "\n".join(lines), totals, whole


def _whole(lines):
    """{"collected", "loaded", "prompt", "full": mean instructions per token; "frame
    loaded", "frame collected", "frame small": a call's} of token_instructions.py's lines."""
    out = {}
    for line in lines:
        if line["what"] == "example":
            out[line["heap"]] = line["instructions"] / line["feeds"]
        elif line["what"] == "frame":
            out["frame " + line["heap"]] = line["large"]
            out["frame small"] = line["small"]
    for what in ("prompt", "full"):
        values = [x["instructions"] for x in lines if x["what"] == what]
        if values:
            out[what] = sum(values) / len(values)
    return out


def estimate_lines(totals, whole):
    x_mean, _, x_full = totals["xtensawin"]
    r_mean, _, r_full = totals["rv32imc"]
    rows = [
        ["ESP32 / ESP32-S3, kernels (xtensawin, counted)", ESP32_MHZ,
         "%.0f" % x_mean.total, "%.0f" % us(x_mean.total, ESP32_MHZ),
         "%.0f" % us(x_full.total, ESP32_MHZ)],
        ["ESP32-C3, kernels (rv32imc, counted)", C3_MHZ, "%.0f" % r_mean.total,
         "%.0f" % us(r_mean.total, C3_MHZ), "%.0f" % us(r_full.total, C3_MHZ)],
    ]  # fmt: skip
    if whole:
        rest = whole["collected"] - r_mean.total
        rest_full = whole["full"] - r_full.total
        rows += [
            ["ESP32-C3, whole token (RV32 MicroPython, counted)", C3_MHZ,
             "%.0f" % whole["collected"], "%.0f" % us(whole["collected"], C3_MHZ),
             "%.0f" % us(whole["full"], C3_MHZ)],
            ["ESP32 / ESP32-S3, whole token (kernels + the rest as on RV32)", ESP32_MHZ,
             "%.0f" % (x_mean.total + rest), "%.0f" % us(x_mean.total + rest, ESP32_MHZ),
             "%.0f" % us(x_full.total + rest_full, ESP32_MHZ)],
        ]  # fmt: skip
    return [
        "## ESP32 time per token: ESTIMATE from the counts, not a measurement\n",
        table(
            ["chip, what", "MHz", "instructions (mean)", "us mean", "us full step"], rows, "lrrrr"
        ),
        "",
        "us = instructions x %.1f cycles per instruction / MHz. CPI %.1f is an assumption "
        "(tools/machine_code/kernel_loops.py):\nthe LX6/LX7 and the C3's core issue one "
        "instruction per cycle at best; stack loads and stores, load-use\nstalls and taken "
        "branches add to that (a model of the first kernels' inner loop gave 60-65 cycles for\n"
        "52-55 instructions, about 1.2). No board has run it. Heap collected. The Xtensa whole token takes "
        "the interpreter's\ninstructions (whole minus kernels) from RV32: an assumption too.\n"
        % (CPI, CPI),
    ]


def breakdown_lines(models):
    """Where a token's kernel instructions go: per kernel, its share, and for the kernels
    that multiply-accumulate, what their unrolled MAC loops would take at their static
    rate against the rest (per-row and per-call work, requantisation, loop tails)."""
    rate = mac_loops()
    rows = []
    for label, by_kernel, split, counted_rows in models:
        total = sum(by_kernel.values())
        for name, value in sorted(by_kernel.items(), key=lambda kv: -kv[1]):
            m = split.get(name, 0)
            cells = [label, name, "%.0f" % value, "%.0f%%" % (100 * value / total)]
            if m and name in rate:
                at_rate = m * rate[name]
                r = counted_rows[name]
                cells += ["%.0f" % m, "%.2f" % (value / m), "%.2f" % rate[name],
                          "%.0f%%" % (100 * at_rate / value), "%.0f" % (value - at_rate),
                          "%.0f" % r, "%.0f" % ((value - at_rate) / r)]  # fmt: skip
            else:
                cells += [""] * 7
            rows.append(cells)
    return [
        "## Where the kernel instructions go (xtensawin)\n",
        table(
            [
                "model",
                "kernel",
                "instructions",
                "share",
                "MACs",
                "per MAC",
                "MAC loop per MAC",
                "in MAC loops",
                "the rest",
                "rows",
                "rest per row",
            ],
            rows,
            "ll" + "r" * 9,
        ),  # fmt: skip
        "",
        "MAC loop per MAC: the kernel's unrolled multiply-accumulate loops, static (their "
        "instructions / their multiplies).\nin MAC loops: MACs x that rate, as a share of "
        "the kernel's instructions; the rest: per-row and per-call work,\nrequantisation, "
        "softmax, loop tails (a width below the unroll runs in the tail loops). rows: project's "
        "output\nrows; attend's cached rows times heads (a score, a softmax weight and a "
        "weighted row each).\n",
    ]


# --- 5: larger shapes --------------------------------------------------------------------


def shape_counts(name, shape, firmware, folder):
    """Counts of one shape: {"h", "positions", arch: {position: Counter per kernel},
    "whole": {position: instructions}, "ram": {...}} (the last two with a firmware)."""
    path = Path(folder) / (name.split()[0] + ".bin")
    h = random_model(shape, path)
    t = h["context"]
    positions = sample_positions(t)
    rec = token_counts.record(path, bytes([1]), t, sample=positions)
    found = {"h": h, "positions": positions}
    for arch in ESP32_ARCHES:
        counts = token_counts.replay(rec, arch)
        found[arch] = {p: counts[p] for p in positions}
    if firmware is not None:
        tokens = bytes([1]) + bytes(rec.generated)  # as fed when recorded
        got = rv32_port.run(firmware, path, bytes([1]), t, positions, example=False, tokens=tokens)
        found["whole"] = {x["position"]: x["instructions"] for x in got if x["what"] == "full"}
        found["ram"] = next((x for x in got if x["what"] == "ram"), None)
    return found


def shapes_report(firmware):
    lines = ["## How it scales: larger shapes, random weights\n"]
    rows, ram_rows, speed_rows, row_rows, parts = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        found = {
            name: shape_counts(name, shape, firmware, folder) for name, shape in SHAPES.items()
        }
    for name, f in found.items():
        h, positions = f["h"], f["positions"]
        t = h["context"]
        total = {a: {p: sum(f[a][p].values()) for p in positions} for a in ESP32_ARCHES}
        for p in positions:
            m = macs(h, p)
            row = [name, p, m]
            for arch in ESP32_ARCHES:
                row += ["%.0f" % total[arch][p], "%.2f" % (total[arch][p] / m)]
            if "whole" in f:
                row += ["%.0f" % f["whole"][p], "%.2f" % (f["whole"][p] / m)]
            rows.append(row)
        mean_macs = interpolated_mean({p: macs(h, p) for p in positions}, t)
        means = {a: interpolated_mean(total[a], t) for a in ESP32_ARCHES}
        row = [name, "mean 0..%d" % (t - 1), "%.0f" % mean_macs]
        for arch in ESP32_ARCHES:
            row += ["%.0f" % means[arch], "%.2f" % (means[arch] / mean_macs)]
        whole = None
        if "whole" in f:
            whole = interpolated_mean(f["whole"], t)
            row += ["%.0f" % whole, "%.2f" % (whole / mean_macs)]
        rows.append(row)
        kv = h["layers"] * t * 2 * h["dim"]
        ram = f.get("ram")
        ram_rows.append(
            [name, ram["measured"] if ram else "-", ram["estimated"] if ram else "-", kv]
        )
        rest = (whole - means["rv32imc"]) if whole else 0
        x = means["xtensawin"]
        speed_rows.append(
            [name, "%.0f" % x, "%.1f" % (ESP32_MHZ * 1e6 / (x * CPI)),
             "%.1f" % (ESP32_MHZ * 1e6 / ((x + rest) * CPI)) if whole else "-",
             "%.2f" % ESP32_LLM_TOKENS_S if name.startswith("stories") else ""]
        )  # fmt: skip
        # Per kernel, the mean over the context; attend's cost of one more cached row.
        names = {n for p in positions for n in f["xtensawin"][p]}
        by_kernel = {
            n: interpolated_mean({p: f["xtensawin"][p].get(n, 0) for p in positions}, t)
            for n in names
        }
        split = {
            k: interpolated_mean({p: split_macs(h, p)[k] for p in positions}, t)
            for k in ("project", "attend")
        }
        counted = {
            k: interpolated_mean({p: split_rows(h, p)[k] for p in positions}, t)
            for k in ("project", "attend")
        }
        parts.append(("%s, mean" % name, by_kernel, split, counted))
        first, last = positions[0], positions[-1]
        slope = (f["xtensawin"][last]["attend"] - f["xtensawin"][first]["attend"]) / (last - first)
        per_row = slope / h["layers"]
        hd = h["dim"] // h["heads"]
        row_rows.append(
            [name, hd, "%.0f" % per_row, "%.0f" % (per_row / h["heads"]), 2 * hd,
             "%.1f" % (per_row / h["heads"] / (2 * hd))]
        )  # fmt: skip
    head = ["shape", "position", "MACs"]
    for arch in ESP32_ARCHES:
        head += [f"{arch}", "per MAC"]
    if any(len(r) > 7 for r in rows):
        head += ["RV32 whole", "per MAC"]
    lines += [
        "Every token a full step (generate_into of a 1-token prompt filling the context); "
        "positions 0, T/%d, 2T/%d, ... and T-1\nreplayed (all outputs checked); the mean over "
        "the context interpolates linearly between them. MACs per token:\nlayers x (4 d^2 + 2 d f "
        "+ 2 (p + 1) d) + vocab x d at position p.\n" % (SAMPLES, SAMPLES),
        table(head, [[str(c) for c in r] for r in rows], "ll" + "r" * (len(head) - 2)),
        "",
        table(
            [
                "shape",
                "RAM of the loaded model, B (gc.mem_alloc, RV32)",
                "ram_needed()",
                "of which KV caches, B",
            ],
            ram_rows,
            "lrrr",
        ),  # fmt: skip
        "",
        table(
            [
                "shape",
                "xtensawin kernels per token (mean)",
                "tokens/s, kernels only",
                "tokens/s, with the interpreter",
                "esp32-llm tokens/s",
            ],
            speed_rows,
            "lrrrr",
        ),  # fmt: skip
        "",
        "tokens/s: ESTIMATE for one ESP32-S3 core at %d MHz, CPI %.1f, the whole model in RAM; "
        "the interpreter's share\ntaken from RV32 (whole minus kernels). esp32-llm: %.2f "
        "tokens/s, published in github.com/DaveBben/esp32-llm's\nREADME (float32 llama2.c, both "
        "cores, ESP-DSP dot products, PSRAM at 80 MHz, the real stories260K: vocab 512,\nSwiGLU)."
        "\n" % (ESP32_MHZ, CPI, ESP32_LLM_TOKENS_S),
    ]
    lines += breakdown_lines(parts)
    lines += [
        table(
            [
                "shape",
                "head_dim",
                "attend: one more cached row, per layer",
                "per head",
                "its MACs",
                "per MAC",
            ],
            row_rows,
            "lrrrrr",
        ),  # fmt: skip
        "",
        "One more cached row: attend's xtensawin instructions at the last sampled position "
        "minus the first, over the\npositions between, per layer: the row's scores, softmax "
        "and weighted sum in every head.\n",
    ]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", action="store_true", help="Python and viper calls per token")
    ap.add_argument("--shapes", action="store_true", help="larger shapes of random weights")
    ap.add_argument("--rv32-firmware", help="a VIRT_RV32 firmware.elf (default: $RV32_FIRMWARE)")
    args = ap.parse_args(argv)
    missing = [t for a in ESP32_ARCHES for t in qemu_run.missing_tools(a)]
    if missing:
        print(
            "per token: skipped, not installed: %s; %s"
            % (", ".join(dict.fromkeys(missing)), qemu_run.install_hint(*ESP32_ARCHES))
        )
        return 0
    firmware = rv32_port.find_firmware(args.rv32_firmware)
    text, _, _ = shipped_report(firmware)
    print(text, flush=True)
    if args.steps:
        from report import steps  # noqa: PLC0415  (imports the shim: only when asked)

        print(steps.report(steps.count_steps()) + "\n", flush=True)
    if args.shapes:
        print(shapes_report(firmware), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
