"""The shipped model on held-out examples, on this target: int8 answers and time.

The host (tools/report/eval_model.py) puts EXAMPLES = "prompt\tanswer\n..." in front of
this script: one string, read one example at a time (a list of 200 tuples would take
more heap than the model on a board). Prints `target: ...`, one `wrong: prompt -> got`
line per mistake and, last, `int8 N of M correct, T tokens in U us`.
"""

# first: attention.decoder

import os
import sys
import time

from attention.decoder import Decoder, shipped

EXAMPLES = globals().get("EXAMPLES", "abc|\tcba.\n")


def examples(text):
    """(prompt, answer) of each line "prompt\tanswer" of text, one at a time."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        tab = text.find("\t", start, end)
        yield text[start:tab], text[tab + 1 : end]
        start = end + 1


def main():
    model = Decoder.load(shipped())
    try:
        machine = os.uname().machine
    except AttributeError:  # the unix port's os has no uname()
        machine = getattr(sys.implementation, "_machine", "?")
    print("target: %s (%s)" % (sys.platform, machine))
    stop = model.vocab.find(".")
    out = bytearray(model.context)
    right = tokens = spent = count_examples = 0
    for prompt, answer in examples(EXAMPLES):
        count_examples += 1
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
    print("int8 %d of %d correct, %d tokens in %d us" % (right, count_examples, tokens, spent))


main()
