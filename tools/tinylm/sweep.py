"""Every string of the reversal task, int8 and float: errors by length (make eval FULL=1).

    python tools/tinylm/sweep.py [--model firmware/attention/reverse.bin] [--lengths 1-8] [--jobs 2]
                                 [--sample N]

The 111,111,110 strings of 1..8 letters are too many for the unix port (and for numpy):
sweep.c, compiled here with the system's C compiler into build/, runs the int8 model's
integer steps (those of int8_model.py, which the board's decoder matches bit for bit;
host_tests/language_model/test_sweep.py checks sweep.c's logits against int8_model.py's)
and the float model (float_model.py's, in single precision) over all of them, a prefix's rows once.
A string counts as right when greedy generation answers it right; teacher forcing
decides that exactly (the argmax after the prompt and after each answer token must be
the next answer token). --sample N draws N strings per length instead (a quicker look at
lengths 7 and 8: all of them take about 15 and 150 CPU minutes).
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import convert, float_model, int8_model, model_file, task
from tinylm import int8_ops as ops

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.path.join(HERE, "sweep.c")
BUILD = os.path.join(ROOT, "build", "sweep")
MODEL = os.path.join(ROOT, "firmware", "attention", "reverse.bin")
# Vectorised loops; float sums may be reordered (the int8 sums are exact either way).
FLAGS = [
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fassociative-math",
    "-fno-signed-zeros",
    "-fno-trapping-math",
]
FLOAT = os.path.join(HERE, "reverse.npz")


def compiler():
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def build(h, out=BUILD):
    """Compile sweep.c for the sizes of header h (again when the source is newer); returns
    the program's path."""
    cc = compiler()
    if not cc:
        raise RuntimeError("no C compiler (cc): make eval FULL=1 needs one")
    sizes = [h[k] for k in ("dim", "heads", "hidden", "layers", "vocab", "context")]
    out = "%s-%s" % (out, "-".join(map(str, sizes)))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(SOURCE):
        names = ("DIM", "HEADS", "HIDDEN", "LAYERS", "VOCAB", "CONTEXT")
        defines = ["-D%s=%d" % kv for kv in zip(names, sizes)]
        subprocess.run([cc, *FLAGS, *defines, "-o", out, SOURCE, "-lm"], check=True)
    return out


def dump(path, model_path=MODEL, float_path=FLOAT):
    """Write what sweep.c reads: the int8 model of the file and the float model."""
    h, t = model_file.read(model_path)
    m = int8_model.build(h, t)
    p, c = float_model.load(float_path)
    if c.activation != "relu" or h.get("kind", 0) != 0:
        raise ValueError("sweep.c runs ReLU decoders")
    num, down = ops.norm_constants(h["dim"], h["norm_frac"])
    hd = h["dim"] // h["heads"]
    head = [
        h["vocab"], h["dim"], h["heads"], h["layers"], h["hidden"], h["context"], num, down,
        h["logit_shift"], ops.scale_shift(hd), len(task.LETTERS), task.VOCAB.index(task.SEP),
        task.VOCAB.index(task.END),
    ]  # fmt: skip
    out = [np.array(head, dtype="<i4"), m.table.astype("<i4")]
    out += [t["tok_emb"][0].astype("<i4"), t["pos_emb"][0].astype("<i4")]
    names = ["%d.%s" % (i, n) for i in range(h["layers"]) for n in model_file.LAYER_TENSORS]
    for name in [*names, model_file.head_name(h)]:
        out += [t[name][0].astype("<i4"), t[name][1].astype("<i4")]
    w = convert.fold(p, c)
    out += [p["tok_emb.weight"].astype("<f8"), p["pos_emb.weight"].astype("<f8")]
    out += [w[n].astype("<f8") for n in [*names, "head"]]
    with open(path, "wb") as f:
        for a in out:
            f.write(np.ascontiguousarray(a).tobytes())


def logits(program, model_dump, sequences):
    """int8 logits (one list per position) of token id sequences, by sweep.c."""
    text = "".join(",".join(map(str, s)) + "\n" for s in sequences)
    done = subprocess.run(
        [program, model_dump, "logits"], input=text, capture_output=True, text=True, check=True
    )
    return [[int(v) for v in line.split()] for line in done.stdout.splitlines()]


def sweep(lengths, jobs=2, model_path=MODEL, float_path=FLOAT, log=print, sample=0, seed=1):
    """{n: (count, int8 wrong, float wrong, [wrong int8 strings])} over every string of n
    letters, or over `sample` strings of n letters drawn uniformly (numpy, seed) per length
    when sample is given and smaller than all of them."""
    program = build(model_file.read(model_path)[0])
    model_dump = program + ".model"
    dump(model_dump, model_path, float_path)
    letters = len(task.LETTERS)
    bounds = np.linspace(0, letters, jobs + 1).round().astype(int)
    results = {}
    for n in lengths:
        start = time.time()
        drawn = sample and sample < letters**n
        if drawn:
            rng = np.random.default_rng((seed, n))
            picks = rng.integers(0, letters, (sample, n))
            parts = np.array_split(picks, jobs)
            procs = [
                subprocess.Popen(
                    [program, model_dump, "strings"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in parts
            ]
            feeds = [
                "".join(",".join(map(str, r)) + "\n" for r in part.tolist()) for part in parts
            ]
        else:
            procs = [
                subprocess.Popen(
                    [program, model_dump, str(n), str(lo), str(hi)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for lo, hi in zip(bounds[:-1], bounds[1:])
                if hi > lo
            ]
            feeds = [None] * len(procs)
        count = w8 = wf = 0
        wrong = []
        for proc, feed in zip(procs, feeds):
            out, _ = proc.communicate(feed)
            if proc.returncode:
                raise RuntimeError("sweep.c failed (exit %d)" % proc.returncode)
            for line in out.splitlines():
                what, rest = line.split(" ", 1)
                if what == "count":
                    c, a, b = (int(v) for v in rest.split()[::2])
                    count, w8, wf = count + c, w8 + a, wf + b
                elif what == "int8":
                    wrong.append("".join(task.LETTERS[int(i)] for i in rest.split(",")))
        results[n] = (count, w8, wf, wrong)
        log(
            "length %d: %d strings%s, int8 wrong %d (%.4f%%), float wrong %d (%.4f%%)  [%.0f s]"
            % (
                n,
                count,
                " drawn at random" if drawn else "",
                w8,
                100 * w8 / count,
                wf,
                100 * wf / count,
                time.time() - start,
            )
        )
    return results


def parse_lengths(text):
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--float", default=FLOAT)
    parser.add_argument("--lengths", default="1-%d" % task.MAX_LEN)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=0, help="strings drawn per length (0: all)")
    args = parser.parse_args()
    sweep(parse_lengths(args.lengths), args.jobs, args.model, args.float, sample=args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
