"""Timing of the shipped model, for the scripts that compare it with another decoder.

A helper joined in front of bench_model.py and bench_previous.py (their `# with:` line).
viper_phase() loads the package's Decoder on a heap still whole, measures it, keeps its
logits of one example (one array) and drops it, so the decoder compared next finds its
room on a 110 KB board.
"""

import gc
import time
from array import array

import micropython

from attention.decoder import Decoder, shipped

TOKENS = "abcdefgh|hgfedcba"  # one full example: 17 steps


def per_token_us(feed, reset, ids, rounds):
    best = None
    for _ in range(rounds):
        reset()
        start = time.ticks_us()
        for t in ids:
            feed(t)
        us = time.ticks_diff(time.ticks_us(), start) / len(ids)
        best = us if best is None or us < best else best
    return best


def heap_per_token(model, prompt, out):
    gc.collect()
    before = gc.mem_alloc()
    count = model.generate_into(prompt, out)
    count += model.generate_into(prompt, out)
    return (gc.mem_alloc() - before) / (count + 2 * len(prompt))


def locked(model, prompt, out):
    micropython.heap_lock()
    try:
        model.generate_into(prompt, out)
        model.generate_into(prompt, out)
        ok = True
    except MemoryError:
        ok = False
    micropython.heap_unlock()
    return ok


def viper_phase():
    """Everything measured on the loaded model, and its logits of every step (one array);
    the model is dropped on return, so the plain decoder finds its room."""
    gc.collect()
    before = gc.mem_alloc()
    model = Decoder.load(shipped())
    gc.collect()
    got = {"ram": gc.mem_alloc() - before, "estimate": model.ram}
    got["title"] = "%d layers, dim %d, %d heads, hidden %d, vocab %d, context %d" % (
        model.layers, model.dim, model.heads, model.hidden, len(model.vocab), model.context,
    )  # fmt: skip
    got["layers"] = model.layers
    ids = list(model.encode(TOKENS))
    vocab = len(model.vocab)
    record = array("i", bytes(4 * vocab * len(ids)))
    model.reset()
    for step, t in enumerate(ids):
        model.feed(t)
        record[step * vocab : (step + 1) * vocab] = model.logits
    got["viper"] = per_token_us(model.feed, model.reset, ids, 20)
    prompt = model.encode("abcdefgh|")
    out = bytearray(9)
    total = None
    for _ in range(5):
        gc.collect()
        start = time.ticks_us()
        count = model.generate_into(prompt, out)
        us = time.ticks_diff(time.ticks_us(), start)
        total = us if total is None or us < total else total
    got["count"], got["total"] = count, total
    got["heap"] = heap_per_token(model, prompt, out)
    got["locked"] = locked(model, prompt, out)
    got["prompt"] = prompt
    model = None  # not even a stale copy in this frame may keep it alive
    return got, ids, record
