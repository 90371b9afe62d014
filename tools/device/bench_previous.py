"""The shipped model beside the previous decoder on this target: `make bench [PORT=...]`.

Runs with tools/device/baseline_model.py (and its kernels), heap.py and model_timing.py
in front of it (its `# with:` line). PreviousDecoder is the decoder before the fused kernels of _step.py,
frozen (docs/performance.md). Feeds one whole example through the package's Decoder, then
through PreviousDecoder, in this process; checks that every step's logits agree and
prints both times per token and per generation with the speed-ups as ratios of this one
run. A mismatch raises, so the exit status fails. The model is loaded, measured and
dropped before the previous decoder is made; where the heap cannot hold that one, its
row is skipped with one line.
"""

# first: attention.decoder

# with: baseline_model.py heap.py model_timing.py

import gc
import os
import time

from attention.decoder import shipped


def previous_phase(ids, record, prompt):
    """The previous decoder's time per token and per generation, after checking its logits
    of every step against record; None (and the line saying why) where the heap cannot
    hold it."""
    what = "the previous decoder and the check of the logits against it"
    need = 2 * os.stat(shipped())[6]  # its weights, scales and caches: about the model's
    if not room_for(need):  # heap.py
        print(skip_line(what, need))
        return None
    vocab = len(record) // len(ids)
    free = heap_free()
    try:
        previous = PreviousDecoder(shipped())  # baseline_model.py
        previous.reset()
        for step, t in enumerate(ids):
            previous.feed(t)
            if previous.logits != record[step * vocab : (step + 1) * vocab]:
                raise AssertionError(
                    "logits differ from the previous decoder at position %d" % step
                )
        per_token = per_token_us(previous.feed, previous.reset, ids, 20)
        out = bytearray(9)
        total = None
        for _ in range(5):
            gc.collect()
            start = time.ticks_us()
            previous.generate_into(prompt, out)
            us = time.ticks_diff(time.ticks_us(), start)
            total = us if total is None or us < total else total
        return per_token, total
    except MemoryError:
        previous = None
        print(ran_out_line(what, free))
        return None


def main():
    got, ids, record = viper_phase()
    gc.collect()
    before = previous_phase(ids, record, got["prompt"])
    print("Tiny decoder, the shipped reverse.bin, beside the previous decoder:")
    print()
    print("| | the package us | previous decoder us | the package is |")
    print("|---|---|---|---|")
    rows = (("feed(token), per token", got["viper"]), ('generate_into("abcdefgh|")', got["total"]))
    for index, (name, us) in enumerate(rows):
        if before is None:
            print("| %s | %.1f | skipped | - |" % (name, us))
        else:
            then = before[index]
            print("| %s | %.1f | %.1f | %.2fx faster |" % (name, us, then, then / us))


main()
