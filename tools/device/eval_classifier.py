"""The shipped gesture classifier on held-out windows, on this target: classes and time.

The host puts WINDOWS and COUNT in front of this script: WINDOWS the path of a file of
COUNT windows (tools/report/eval_model.py) or the windows themselves as bytes
(tools/ports/, a few dozen), each window * features int8, one after another; with
LOGITS = True, a line `logits: ...` follows each window. Prints `target: ...`, `ram: N bytes`, then
`classes: <one digit per window>` (the class of each, as '0' + class) and, last,
`classified N windows in U us`.
"""

# first: attention.classifier

import os
import sys
import time

from attention.classifier import Classifier, shipped

WINDOWS = globals().get("WINDOWS", "")
COUNT = globals().get("COUNT", 0)
LOGITS = globals().get("LOGITS", False)  # also print each window's logits


def main():
    model = Classifier.load(shipped())
    try:
        machine = os.uname().machine
    except AttributeError:  # the unix port's os has no uname()
        machine = getattr(sys.implementation, "_machine", "?")
    print("target: %s (%s)" % (sys.platform, machine))
    print("ram: %d bytes" % model.ram)
    size = model.window * model.features
    frames = bytearray(size)
    classes = bytearray(COUNT)
    spent = 0
    f = open(WINDOWS, "rb") if isinstance(WINDOWS, str) else None
    for i in range(COUNT):
        if f:
            f.readinto(frames)
        else:
            frames[:] = WINDOWS[i * size : (i + 1) * size]
        start = time.ticks_us()
        classes[i] = 48 + model.classify(frames)
        spent += time.ticks_diff(time.ticks_us(), start)
        if LOGITS:
            print("logits: " + " ".join(str(v) for v in model.logits))
    if f:
        f.close()
    print("classes: " + classes.decode())
    print("classified %d windows in %d us" % (COUNT, spent))


main()
