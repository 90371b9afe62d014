"""The shipped gesture classifier on held-out windows, on this target: classes and time.

The host (tools/report/eval_model.py) puts WINDOWS = "<path of a file of windows>" and
COUNT = <windows in it> in front of this script; the file holds COUNT windows of
window * features int8, one after another. Prints `target: ...`, `ram: N bytes`, then
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
    with open(WINDOWS, "rb") as f:
        for i in range(COUNT):
            f.readinto(frames)
            start = time.ticks_us()
            classes[i] = 48 + model.classify(frames)
            spent += time.ticks_diff(time.ticks_us(), start)
    print("classes: " + classes.decode())
    print("classified %d windows in %d us" % (COUNT, spent))


main()
