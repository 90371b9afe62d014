"""Generation demo of the shipped model (reverse the letters before "|"): `make run`.

Runs unchanged on the unix port and on a board (the package deployed with its
reverse.bin). Prints each prompt with the model's answer, a sampled answer, the
RAM the model takes and the time per token.
"""

# first: attention.decoder

# with: heap.py

import time

from attention.decoder import Decoder, shipped

PROMPTS = ("abc|", "jihgf|", "abcdefgh|", "bead|", "fig|")


def main():
    model, used = loaded(Decoder.load, shipped())
    print(
        "decoder: %d layers, dim %d, %d heads, context %d, vocabulary %r"
        % (model.layers, model.dim, model.heads, model.context, model.vocab)
    )
    print("  RAM of the loaded model: %d bytes (the file says %d)" % (used, model.ram))
    for prompt in PROMPTS:
        start = time.ticks_us()
        text = model.generate(prompt, stop=".")
        us = time.ticks_diff(time.ticks_us(), start)
        steps = len(prompt) + len(text) - 1
        print("  %-10s -> %-10s %6.1f us per token" % (prompt, text, us / steps))
    model.sampling(temperature=1.5, top_k=3, seed=42)
    print(
        "  sampled (temperature 1.5, top_k 3, seed 42): abcdefgh| ->",
        model.generate("abcdefgh|", stop="."),
    )


main()
