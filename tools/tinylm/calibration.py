"""Max, percentile and MSE ranges compared on the shipped models: the table of docs/models.md.

    python tools/tinylm/calibration.py [--lengths 1-6] [--jobs 2]

Each float model (tools/tinylm/reverse-float.npz: the reversal model as trained in
float; reverse.npz: the same after quantisation-aware fine-tuning, the shipped one;
gesture.npz) is converted with every method (convert.py) on its calibration data
(data.py), then measured: the logits' SNR
against the float model on the calibration data (what export's "auto" ranks by), the
held-out accuracy (the gesture model's 6000 windows; the reversal model's 2000 held-out
strings), and for the reversal model the int8 errors of every string of the given
lengths (sweep.py; 1-8 is make eval FULL=1's sweep and takes long).
"""

import argparse
import os
import sys

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import convert, data, export, float_model, model_file, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1-6")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    lengths = sweep.parse_lengths(args.lengths)
    folder = os.path.join(ROOT, "build", "calibration")
    os.makedirs(folder, exist_ok=True)
    print(
        "model          method      logits SNR  held-out int8  float   int8 wrong by length %s"
        % lengths
    )
    for name in ("reverse-float", "reverse", "gesture"):
        ckpt = os.path.join(HERE, name + ".npz")
        p, config = float_model.load(ckpt)
        cal, held = data.gesture_data() if name == "gesture" else data.reverse()
        samples = export.inputs_of(cal, config)
        for method in convert.METHODS:
            h, tensors, info = convert.convert(p, config, samples, method)
            out = os.path.join(folder, "%s-%s.bin" % (name, method))
            model_file.write(out, h, tensors)
            snr = export.logit_snr(p, config, h, tensors, info, samples)
            fa, ia, _, _ = convert.accuracy(p, config, h, tensors, held)
            wrong = ""
            if name != "gesture":
                got = sweep.sweep(lengths, args.jobs, out, ckpt, log=lambda s: None)
                wrong = " ".join("%d" % got[n][1] for n in lengths)
            print(
                "%-14s %-10s %8.1f dB %12.2f%% %6.2f%%   %s"
                % (name, method, snr, 100 * ia, 100 * fa, wrong),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
