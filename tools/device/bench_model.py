"""Speed and memory of the shipped model on this target: `make bench [PORT=...]`.

Runs with tools/device/plain_model.py and baseline_model.py in front of it (its
`# with:` line). Feeds one whole example through the package's Decoder, through
PreviousDecoder (the decoder before the fused kernels, frozen) and through PlainDecoder
(the same int8 arithmetic in plain Python) in this process, checks that every step's
logits agree, and prints time per token for all three with the speed-ups as ratios of
this one run, heap bytes per generated token (also under heap_lock) and the RAM the
loaded model takes. A mismatch raises, so the exit status fails.
"""

# with: plain_model.py baseline_model.py

import gc
import time

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


def main():
    gc.collect()
    before = gc.mem_alloc()
    model = Decoder.load(shipped())
    gc.collect()
    ram = gc.mem_alloc() - before
    plain = PlainDecoder(shipped())  # noqa: F821  (tools/device/plain_model.py, bundled in front)
    previous = PreviousDecoder(shipped())  # noqa: F821  (tools/device/baseline_model.py)
    ids = list(model.encode(TOKENS))
    model.reset()
    previous.reset()
    for t in ids:
        model.feed(t)
        previous.feed(t)
        if list(model.logits) != plain.feed(t):
            raise AssertionError("logits differ from plain Python at position %d" % plain.pos)
        if list(model.logits) != list(previous.logits):
            raise AssertionError("logits differ from the previous decoder at position %d" % t)
    viper = per_token_us(model.feed, model.reset, ids, 20)
    before = per_token_us(previous.feed, previous.reset, ids, 20)
    slow = per_token_us(plain.feed, plain.reset, ids, 2)
    prompt = model.encode("abcdefgh|")
    out = bytearray(9)
    total = None
    for _ in range(5):
        gc.collect()
        start = time.ticks_us()
        count = model.generate_into(prompt, out)
        us = time.ticks_diff(time.ticks_us(), start)
        total = us if total is None or us < total else total
    heap = heap_per_token(model, prompt, out)
    print(
        "Tiny decoder, the shipped reverse.bin (%d layers, dim %d, %d heads, hidden %d, vocab %d, context %d)"
        % (model.layers, model.dim, model.heads, model.hidden, len(model.vocab), model.context)
    )
    print()
    print(
        "feed(token), every token with its logits (embedding, %d layers, LM head):" % model.layers
    )
    print()
    print("| per token | us | the package is |")
    print("|---|---|---|")
    print("| the package (fused kernels of _step.py) | %.1f | |" % viper)
    print(
        "| the previous decoder (baseline_model.py) | %.1f | %.2fx faster |"
        % (before, before / viper)
    )
    print("| plain Python (plain_model.py) | %.1f | %.1fx faster |" % (slow, slow / viper))
    print()
    old = None
    for _ in range(5):
        gc.collect()
        start = time.ticks_us()
        previous.generate_into(prompt, out)
        us = time.ticks_diff(time.ticks_us(), start)
        old = us if old is None or us < old else old
    print(
        'generate_into("abcdefgh|"): %d tokens in %d us, %.1f us per generated token (prompt included);'
        " the previous decoder %d us (%.2fx)" % (count, total, total / count, old, old / total)
    )
    print(
        "heap per token: %d bytes; under micropython.heap_lock(): %s"
        % (heap, "runs" if locked(model, prompt, out) else "MemoryError")
    )
    print(
        "RAM of the loaded model: %d bytes measured (gc.mem_alloc), %d estimated by ram_needed()"
        % (ram, model.ram)
    )


main()
