"""Speed and memory of the shipped model on this target: `make bench [PORT=...]`.

Runs with tools/device/plain_model.py, heap.py and model_timing.py in front of it (its
`# with:` line). Feeds one whole example through the package's Decoder and then through
PlainDecoder (the same int8 arithmetic in plain Python), in this process; checks that
every step's logits agree, and prints time per token of both with the speed-up as a ratio
of this one run, heap bytes per generated token (also under heap_lock) and the RAM the
loaded model takes. A mismatch raises, so the exit status fails. The two never share the
heap: the model is loaded first, measured and dropped, its logits kept; then the plain
decoder is made and checked against them. Where the heap cannot hold it, its row and the
comparison are skipped with one line.
"""

# first: attention.decoder

# with: plain_model.py heap.py model_timing.py

import os
import struct
import sys
from array import array

from attention.decoder import shipped


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
    if not room_for(need):  # heap.py
        print(skip_line(what, need))
        return None
    vocab = len(record) // len(ids)
    free = heap_free()  # heap.py
    try:
        plain = PlainDecoder(shipped())  # noqa: F821  (plain_model.py, bundled in front)
        for step, t in enumerate(ids):
            if array("i", plain.feed(t)) != record[step * vocab : (step + 1) * vocab]:
                raise AssertionError("logits differ from plain Python at position %d" % step)
        return per_token_us(plain.feed, plain.reset, ids, 2)
    except MemoryError:
        plain = None
        print(ran_out_line(what, free))
        return None


def main():
    got, ids, record = viper_phase()
    gc.collect()
    slow = plain_phase(ids, record)
    viper = got["viper"]
    print("Tiny decoder, the shipped reverse.bin (%s)" % got["title"])
    print()
    print(
        "feed(token), every token with its logits (embedding, %d layers, LM head):" % got["layers"]
    )
    print()
    print("| per token | us | the package is |")
    print("|---|---|---|")
    print("| the package (fused kernels of _step.py) | %.1f | |" % viper)
    if slow is None:
        print("| plain Python (plain_model.py) | skipped | - |")
    else:
        print("| plain Python (plain_model.py) | %.1f | %.2fx faster |" % (slow, slow / viper))
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
