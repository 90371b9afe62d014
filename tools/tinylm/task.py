"""The character task the shipped model solves: reverse a string given before a separator.

An example is "<s>|<reversed s>." with s of MIN_LEN..MAX_LEN letters from LETTERS.
The prompt is "<s>|"; the answer is everything after it, up to and including ".".
Strings whose crc32 is a multiple of HOLD_OUT are never trained on: they form the
held-out set that make eval measures.
"""

import random
import zlib

import numpy as np

LETTERS = "abcdefghij"
SEP = "|"
END = "."
VOCAB = LETTERS + SEP + END  # token id = index in VOCAB
MIN_LEN = 1
MAX_LEN = 8
CONTEXT = 2 * MAX_LEN + 2  # the longest example, in tokens
HOLD_OUT = 8


def encode(text):
    """Token ids of text (characters of VOCAB)."""
    return [VOCAB.index(c) for c in text]


def decode(ids):
    """Text of token ids."""
    return "".join(VOCAB[i] for i in ids)


def held_out(s):
    """True for the strings kept out of training."""
    return zlib.crc32(s.encode()) % HOLD_OUT == 0


def example(s):
    """(prompt, answer) for the string s."""
    return s + SEP, s[::-1] + END


def random_string(rng):
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(MIN_LEN, MAX_LEN)))


def strings(count, seed, held=False):
    """count distinct strings, held-out ones (held=True) or training ones, reproducibly."""
    rng = random.Random(seed)
    seen = set()
    out = []
    while len(out) < count:
        s = random_string(rng)
        if held_out(s) == held and s not in seen:
            seen.add(s)
            out.append(s)
    return out


def arrays(strs):
    """The documented .npz arrays of examples (docs/models.md): tokens (N, CONTEXT) with
    lengths (N,) (the prompt and the answer but its last token), and targets (N, CONTEXT):
    the answer's next token after each position from the prompt's last on, -1 elsewhere.
    A model whose argmax meets every target answers the string right when generating."""
    n = len(strs)
    tokens = np.full((n, CONTEXT), VOCAB.index(END), dtype=np.int64)
    targets = np.full((n, CONTEXT), -1, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    for row, s in enumerate(strs):
        prompt, answer = example(s)
        ids = encode(prompt + answer)
        tokens[row, : len(ids) - 1] = ids[:-1]
        lengths[row] = len(ids) - 1
        start = len(prompt) - 1
        targets[row, start : len(ids) - 1] = ids[start + 1 :]
    return {"tokens": tokens, "lengths": lengths, "targets": targets}
