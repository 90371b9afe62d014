"""Speed and memory of the shipped model on this target: `make bench [PORT=...]`.

Runs with tools/device/plain_model.py in front of it (its `# with:` line). Feeds one
whole example through the viper decoder and through PlainDecoder (the same int8
arithmetic in plain Python) in this process, checks that every step's logits agree,
and prints time per token for both, heap bytes per generated token (also under
heap_lock) and the RAM the loaded model takes. A mismatch raises, so the exit status fails.
"""

# with: plain_model.py

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
    ids = list(model.encode(TOKENS))
    model.reset()
    for t in ids:
        model.feed(t)
        if list(model.logits) != plain.feed(t):
            raise AssertionError("logits differ from plain Python at position %d" % plain.pos)
    viper = per_token_us(model.feed, model.reset, ids, 20)
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
    print("| per token | viper us | plain Python us | speed-up |")
    print("|---|---|---|---|")
    print(
        "| feed (embedding, %d layers, LM head) | %.1f | %.1f | %.1fx |"
        % (model.layers, viper, slow, slow / viper)
    )
    print()
    print(
        'generate_into("abcdefgh|"): %d tokens in %d us, %.1f us per generated token (prompt included)'
        % (count, total, total / count)
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
