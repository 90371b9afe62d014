"""Speed and memory of the shipped model on this target: `make bench [PORT=...]`.

Runs with tools/device/plain_model.py and heap.py in front of it (its `# with:` line).
Feeds one whole example through the viper decoder and then through PlainDecoder (the same
int8 arithmetic in plain Python), in this process, checks that every step's logits
agree, and prints time per token for both, heap bytes per generated token (also under
heap_lock) and the RAM the loaded model takes. A mismatch raises, so the exit status fails.
The two never share the heap: the model is loaded first, on a heap still whole, measured
and dropped, its logits kept (one array); then the plain decoder is made and checked
against them, so a 110 KB board holds each in turn. Where the heap cannot hold the plain decoder at all, its column and the comparison
are skipped with one line.
"""

# first: attention.decoder

# with: plain_model.py heap.py

import gc
import os
import struct
import sys
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


WORD = 8 if sys.maxsize > 2**31 else 4  # bytes of a pointer: list items take one each


def plain_need(path, steps):
    """Heap the plain decoder needs: its weights (the file) and the lists of a context."""
    with open(path, "rb") as f:
        dim, _, layers, hidden = struct.unpack("<HHHH", f.read(16)[8:16])
    return os.stat(path)[6] + WORD * (2 * layers * steps * (dim + 8) + 8 * hidden)


def plain_phase(ids, record):
    """The plain decoder's time per token, after checking its logits of every step against
    record; None (and the line saying why) where the heap cannot hold it."""
    what = "the plain-Python decoder and the check of the logits against it"
    need = plain_need(shipped(), len(ids))
    if not room_for(need):  # noqa: F821  (heap.py)
        print(skip_line(what, need))  # noqa: F821
        return None
    vocab = len(record) // len(ids)
    free = heap_free()  # noqa: F821  (heap.py)
    try:
        plain = PlainDecoder(shipped())  # noqa: F821  (plain_model.py, bundled in front)
        for step, t in enumerate(ids):
            if array("i", plain.feed(t)) != record[step * vocab : (step + 1) * vocab]:
                raise AssertionError("logits differ from plain Python at position %d" % step)
        return per_token_us(plain.feed, plain.reset, ids, 2)
    except MemoryError:
        plain = None
        print(ran_out_line(what, free))  # noqa: F821
        return None


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
    model = None  # not even a stale copy in this frame may keep it alive
    return got, ids, record


def main():
    got, ids, record = viper_phase()
    gc.collect()
    slow = plain_phase(ids, record)
    viper = got["viper"]
    print("Tiny decoder, the shipped reverse.bin (%s)" % got["title"])
    print()
    print("| per token | viper us | plain Python us | speed-up |")
    print("|---|---|---|---|")
    if slow is None:
        print(
            "| feed (embedding, %d layers, LM head) | %.1f | skipped | - |"
            % (got["layers"], viper)
        )
    else:
        print(
            "| feed (embedding, %d layers, LM head) | %.1f | %.1f | %.1fx |"
            % (got["layers"], viper, slow, slow / viper)
        )
    print()
    print(
        'generate_into("abcdefgh|"): %d tokens in %d us, %.1f us per generated token (prompt included)'
        % (got["count"], got["total"], got["total"] / got["count"])
    )
    print(
        "heap per token: %d bytes; under micropython.heap_lock(): %s"
        % (got["heap"], "runs" if got["locked"] else "MemoryError")
    )
    print(
        "RAM of the loaded model: %d bytes measured (gc.mem_alloc), %d estimated by ram_needed()"
        % (got["ram"], got["estimate"])
    )


main()
