"""The calibration and held-out data of the shipped models, as export.py's documented .npz.

    python tools/tinylm/data.py reverse|gesture OUT_DIR

reverse: 256 training-distribution examples (calibration: tokens, lengths) and 2000
held-out strings (tokens, lengths, targets), from task.py. gesture: 512 windows from
CAL_SEED (calibration: frames) and 6000 held-out windows from HELD_SEED (frames,
labels), from gesture.py. Writes OUT_DIR/<model>-calibration.npz and -held-out.npz.
"""

import argparse
import os
import sys

import numpy as np

if __name__ == "__main__":  # run as a script: tools/ is the import root (tools/README.md)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinylm import gesture, task

# How make train exports each: the reversal model was fine-tuned on the MSE grid, and is
# kept a version 1 file (make bench's previous decoder reads only those).
METHOD = {"reverse": "mse", "gesture": "auto"}
VERSION = {"reverse": 1, "gesture": 2}


def reverse():
    cal = task.arrays(task.strings(256, 7))
    del cal["targets"]
    return cal, task.arrays(task.strings(2000, 2025, held=True))


def gesture_data():
    frames, _ = gesture.dataset(512, gesture.CAL_SEED)
    held, labels = gesture.dataset(6000, gesture.HELD_SEED)
    return {"frames": frames}, {"frames": held, "labels": labels}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("reverse", "gesture"))
    parser.add_argument("out")
    args = parser.parse_args()
    cal, held = reverse() if args.model == "reverse" else gesture_data()
    os.makedirs(args.out, exist_ok=True)
    for what, arrays in (("calibration", cal), ("held-out", held)):
        path = os.path.join(args.out, "%s-%s.npz" % (args.model, what))
        np.savez(path, **arrays)
        print("wrote", path)


if __name__ == "__main__":
    main()
