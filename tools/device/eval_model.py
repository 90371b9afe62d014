"""The shipped model on held-out examples, on this target: int8 answers and time.

The host (tools/report/eval_model.py) puts EXAMPLES = [(prompt, answer), ...] in front of
this script. Prints `target: ...`, one `wrong: prompt -> got` line per mistake and,
last, `int8 N of M correct, T tokens in U us`.
"""

import os
import sys
import time

from attention.decoder import Decoder, shipped

EXAMPLES = globals().get("EXAMPLES", [("abc|", "cba.")])


def main():
    model = Decoder.load(shipped())
    try:
        machine = os.uname().machine
    except AttributeError:  # the unix port's os has no uname()
        machine = getattr(sys.implementation, "_machine", "?")
    print("target: %s (%s)" % (sys.platform, machine))
    stop = model.vocab.find(".")
    out = bytearray(model.context)
    right = tokens = spent = 0
    for prompt, answer in EXAMPLES:
        ids = model.encode(prompt)
        start = time.ticks_us()
        count = model.generate_into(ids, out, stop)
        spent += time.ticks_diff(time.ticks_us(), start)
        tokens += count
        got = "".join(model.vocab[t] for t in out[:count])
        if got == answer:
            right += 1
        else:
            print("wrong: %s -> %s" % (prompt, got))
    print("int8 %d of %d correct, %d tokens in %d us" % (right, len(EXAMPLES), tokens, spent))


main()
