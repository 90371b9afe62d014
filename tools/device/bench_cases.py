"""The cases of bench.py: each mechanism as the package computes it and as plain Python
(plain.py) does, on the same inputs into separate outputs.

A helper joined in front of bench.py (its `# with:` line). A case is made with the
package module, the shared data (query, keys, values) and its shape; package() and
plain() run one call each, same() compares their outputs.
"""

from array import array


class Random:
    """xorshift32, as in cases.py: the same bytes on every target."""

    def __init__(self, seed):
        self.state = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def int8s(self, count):
        out = array("b", bytes(count))
        x = self.state
        for i in range(count):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            out[i] = (x >> 24) - 128
        self.state = x
        return out


def int8s(count):
    return array("b", bytes(count))


def int32s(count):
    return array("i", bytes(4 * count))


class Micro:
    """compute_scores, apply_causal_mask(n - 1), softmax_fixed, weighted_sum: one head."""

    def __init__(self, att, data, head_dim, n):
        self.attn = att.MicroAttention(head_dim, 1)
        self.query, self.keys, self.values = data
        self.head_dim, self.n = head_dim, n
        self.scores, self.output = int32s(n), int32s(head_dim)
        self.want_scores, self.want = int32s(n), int32s(head_dim)

    def package(self):
        attn, scores, n = self.attn, self.scores, self.n
        attn.compute_scores(self.query, self.keys, scores, n)
        attn.apply_causal_mask(scores, n - 1, n)
        attn.softmax_fixed(scores, n)
        attn.weighted_sum(scores, self.values, self.output, n)

    def plain(self):
        n = self.n
        plain_micro(  # noqa: F821  (from plain.py)
            self.query,
            self.keys,
            self.values,
            self.want_scores,
            self.want,
            n,
            self.head_dim,
            plain_scale_shift(self.head_dim),  # noqa: F821
            n - 1,
        )

    def same(self):
        return self.scores == self.want_scores and self.output == self.want


class Linear:
    """LinearAttention(head_dim).forward over n rows."""

    def __init__(self, att, data, head_dim, n):
        self.attn = att.LinearAttention(head_dim)
        self.query, self.keys, self.values = data
        self.head_dim, self.n = head_dim, n
        self.output, self.want = int32s(head_dim), int32s(head_dim)

    def package(self):
        self.attn.forward(self.query, self.keys, self.values, self.output, self.n)

    def plain(self):
        plain_linear(self.query, self.keys, self.values, self.want, self.n, self.head_dim)  # noqa: F821

    def same(self):
        return self.output == self.want


class Window:
    """SlidingWindowAttention(window, head_dim).forward with cache_len n."""

    def __init__(self, att, data, head_dim, n, window):
        self.attn = att.SlidingWindowAttention(window, head_dim)
        self.query, self.keys, self.values = data
        self.head_dim, self.n, self.window = head_dim, n, window
        self.output, self.want, self.scores = int32s(head_dim), int32s(head_dim), int32s(window)

    def package(self):
        self.attn.forward(self.query, self.keys, self.values, self.n, self.output)

    def plain(self):
        plain_window(  # noqa: F821
            self.query,
            self.keys,
            self.values,
            self.scores,
            self.want,
            self.n,
            self.window,
            self.head_dim,
        )

    def same(self):
        return self.output == self.want


class Heads:
    """MicroAttention(4 * head_dim, 4).forward over n rows of 4 * head_dim, pos = n - 1."""

    heads = 4

    def __init__(self, att, data, head_dim, n):
        embed = self.heads * head_dim
        self.attn = att.MicroAttention(embed, self.heads)
        _, self.keys, self.values = data
        self.query = Random(7).int8s(embed)
        self.head_dim, self.n = head_dim, n
        self.output, self.want = int32s(embed), int32s(embed)
        self.scores = int32s(n)
        # The plain baseline gets each head's columns as contiguous rows (made here, untimed).
        self.parts = []
        for first in range(0, embed, head_dim):
            keys, values = int8s(n * head_dim), int8s(n * head_dim)
            for i in range(n):
                for j in range(head_dim):
                    keys[i * head_dim + j] = self.keys[first + i * embed + j]
                    values[i * head_dim + j] = self.values[first + i * embed + j]
            self.parts.append(
                (self.query[first : first + head_dim], keys, values, int32s(head_dim))
            )

    @staticmethod
    def extra(head_dim, n):
        """Heap bytes the case needs beyond the shared data: its copies of every head's rows."""
        return 2 * n * Heads.heads * head_dim + 4 * n

    def package(self):
        self.attn.forward(self.query, self.keys, self.values, self.output, self.n, self.n - 1)

    def plain(self):
        n, head_dim = self.n, self.head_dim
        shift = plain_scale_shift(head_dim)  # noqa: F821
        for query, keys, values, out in self.parts:
            plain_micro(query, keys, values, self.scores, out, n, head_dim, shift, n - 1)  # noqa: F821

    def same(self):
        want = []
        for part in self.parts:
            want += list(part[3])
        return list(self.output) == want


class Stream:
    """One streaming step of LinearAttention(head_dim): update with one row, then attend.

    Its cost does not depend on how many rows came before; n is the rows already added.
    """

    def __init__(self, att, data, head_dim, n):
        self.attn = att.LinearAttention(head_dim)
        self.query, self.keys, self.values = data
        self.head_dim, self.n = head_dim, n
        self.context, self.key_sums = [0] * head_dim, [0] * head_dim
        self.row = array("b", bytes(head_dim))
        self.output, self.want = int32s(head_dim), int32s(head_dim)
        self.attn.update(self.keys, self.values, n)
        for t in range(n):
            plain_linear_update(self.context, self.key_sums, self.keys, self.values, t, head_dim)  # noqa: F821
        self.key_row, self.value_row = self.keys[:head_dim], self.values[:head_dim]

    def package(self):
        self.attn.update(self.key_row, self.value_row)
        self.attn.attend(self.query, self.output)

    def plain(self):
        head_dim = self.head_dim
        plain_linear_update(self.context, self.key_sums, self.key_row, self.value_row, 0, head_dim)  # noqa: F821
        plain_linear_attend(self.context, self.key_sums, self.query, self.want, head_dim)  # noqa: F821

    def same(self):
        return self.output == self.want


class Empty:
    def call(self):
        pass

    def two(self, a, b):
        pass

    def four(self, a, b, c, d):
        pass

    def five(self, a, b, c, d, e):
        pass
