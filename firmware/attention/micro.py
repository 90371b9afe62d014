"""MicroAttention: scaled dot-product attention on int8 data, one head or all heads."""

from array import array

import micropython
from micropython import const

from . import _check, _memory

# Names taken one by one: the methods below then find each with one dictionary lookup
# instead of two (module, then attribute), on every call.
from ._check import INT, changed, pair, refuse, rows, short
from ._softmax import EXP2, MASKED, scale_shift
from ._kernels import dot_rows, fill, softmax_exp2, softmax_q8, weighted_rows
from ._memory import measure

_MAX_LOGIT_SHIFT = const(12)

# What each method hands measure(): the output first, then the inputs, then the scratch
# buffers it uses (frame[SCRATCH]: the query, int32; frame[SCRATCH + 1]: forward's scores).
_QUERY = _memory.SCRATCH
_SCORES_SCRATCH = _memory.SCRATCH + 1
_SCORES = _check.kinds(_memory.INT32)
_SCORES_NAMES = ("scores",)
_COMPUTE = _check.kinds(_memory.INT32, _memory.INT8, _memory.INT8, 0, _memory.INT32)
_COMPUTE_NAMES = ("scores", "query", "keys")
_WEIGHTED = _check.kinds(_memory.INT32, _memory.INT32, _memory.INT8)
_WEIGHTED_NAMES = ("output", "weights", "values")
_FORWARD = _check.kinds(
    _memory.INT32, _memory.INT8, _memory.INT8, _memory.INT8, _memory.INT32, _memory.INT32
)
_FORWARD_NAMES = ("output", "query", "keys", "values")


class MicroAttention:
    """Attention for one query over n rows of keys and values.

    head_dim = embed_dim // num_heads. Queries, keys and values are int8;
    keys and values are one contiguous buffer of n rows (a KV cache): rows of
    head_dim for the single-head methods, rows of embed_dim for forward().
    Scores are int32; softmax weights are Q8 (256 == 1.0).

    softmax="linear" (the reference's softmax_fixed) or "exp2": weights close to
    256 * softmax(scores / 2**logit_shift), logit_shift 0..12. The reference's
    linear form is the first-order approximation of exp2 with logit_shift 9.
    forward() keeps a scores buffer of max_len items, grown if a longer n comes.
    """

    def __init__(self, embed_dim, num_heads, softmax="linear", logit_shift=9, max_len=0):
        _check.dim("embed_dim", embed_dim)
        if type(num_heads) is not int:
            raise TypeError("num_heads: expected an int, got %s" % type(num_heads).__name__)
        if num_heads <= 0 or embed_dim % num_heads:
            raise ValueError("num_heads: expected a positive divisor of embed_dim %d" % embed_dim)
        if softmax not in ("linear", "exp2"):
            raise ValueError("softmax: expected 'linear' or 'exp2', got %r" % (softmax,))
        if type(logit_shift) is not int:
            raise TypeError("logit_shift: expected an int, got %s" % type(logit_shift).__name__)
        if not 0 <= logit_shift <= _MAX_LOGIT_SHIFT:
            raise ValueError(
                "logit_shift: expected 0..%d, got %d" % (_MAX_LOGIT_SHIFT, logit_shift)
            )
        self._embed_dim = embed_dim
        self._num_heads = num_heads
        self._head_dim = embed_dim // num_heads
        self._scale_shift = scale_shift(self._head_dim)
        self._softmax_kind = softmax
        self._exp2 = softmax == "exp2"
        self._logit_shift = logit_shift
        max_len = _check.number("max_len", max_len, 0, _check.MAX_ROWS)
        # Scratch: the query, sign-extended by dot_rows, and forward()'s scores.
        self._frame = _check.frame(
            array("i", bytes(4 * embed_dim)), array("i", bytes(4 * max_len))
        )

    # Read-only: the kernels rely on these sizes, so they are fixed at construction.
    embed_dim = property(lambda self: self._embed_dim)
    num_heads = property(lambda self: self._num_heads)
    head_dim = property(lambda self: self._head_dim)
    scale_shift = property(lambda self: self._scale_shift)
    softmax_kind = property(lambda self: self._softmax_kind)
    logit_shift = property(lambda self: self._logit_shift)

    @micropython.native
    def compute_scores(self, query, keys, scores, n=None):
        """scores[i] = dot(query, keys row i) >> scale_shift, for i < n.

        query: head_dim int8; keys: rows of head_dim int8; scores: int32, len >= n,
        apart from query and keys. n defaults to the number of rows in keys.
        """
        frame = self._frame
        status = measure(scores, query, keys, None, _COMPUTE, frame)
        if status:
            refuse(status, _COMPUTE_NAMES, _COMPUTE, frame, scores, query, keys)
        facts = frame[1]
        head_dim = self._head_dim
        if not 0 < head_dim <= facts[4]:  # the query scratch holds embed_dim items
            changed()
        if facts[1] < head_dim:
            short("query", facts[1], head_dim)
        n = rows(n, "keys", facts[2], head_dim)
        if facts[0] < n:
            short("scores", facts[0], n, "int32 items")
        dot_rows(keys, frame[_QUERY], scores, n, head_dim, head_dim, 0, self._scale_shift, query)

    @micropython.native
    def apply_causal_mask(self, scores, current_pos, n=None):
        """scores[i] = MASKED for current_pos < i < n (positions in the future)."""
        frame = self._frame
        status = measure(scores, None, None, None, _SCORES, frame)
        if status:
            refuse(status, _SCORES_NAMES, _SCORES, frame, scores)
        facts = frame[1]
        n = rows(n, "scores", facts[0], 1)
        if current_pos.__class__ is not INT:
            raise TypeError("current_pos: expected an int, got %s" % type(current_pos).__name__)
        if current_pos < 0:
            raise ValueError("current_pos: expected >= 0, got %d" % current_pos)
        if current_pos < n:
            fill(scores, current_pos + 1, n, MASKED)

    @micropython.native
    def softmax_fixed(self, scores, n=None):
        """Linear fixed-point softmax of scores[0:n] in place, giving Q8 weights.

        e_i = max(256 + trunc(max(x_i, -512) / 2), 1) with x_i = scores[i] - max(scores);
        weight_i = e_i * 256 // sum(e).
        """
        frame = self._frame
        status = measure(scores, None, None, None, _SCORES, frame)
        if status:
            refuse(status, _SCORES_NAMES, _SCORES, frame, scores)
        facts = frame[1]
        softmax_q8(scores, rows(n, "scores", facts[0], 1))

    @micropython.native
    def softmax(self, scores, n=None):
        """The softmax chosen at construction, in place on scores[0:n]: Q8 weights."""
        frame = self._frame
        status = measure(scores, None, None, None, _SCORES, frame)
        if status:
            refuse(status, _SCORES_NAMES, _SCORES, frame, scores)
        facts = frame[1]
        n = rows(n, "scores", facts[0], 1)
        if self._exp2:
            softmax_exp2(scores, EXP2, n, self._logit_shift)
        else:
            softmax_q8(scores, n)

    @micropython.native
    def weighted_sum(self, weights, values, output, n=None):
        """output[j] = sum(weights[i] * values row i [j] for i < n) >> 8, for j < head_dim.

        weights: int32 Q8, len >= n; values: rows of head_dim int8; output: int32,
        len >= head_dim (items past head_dim are left as they are), apart from
        weights and values. n defaults to the number of rows in values.
        """
        frame = self._frame
        status = measure(output, weights, values, None, _WEIGHTED, frame)
        if status:
            refuse(status, _WEIGHTED_NAMES, _WEIGHTED, frame, output, weights, values)
        facts = frame[1]
        head_dim = self._head_dim
        if head_dim < 1:
            changed()
        n = rows(n, "values", facts[2], head_dim)
        if facts[1] < n:
            short("weights", facts[1], n, "int32 items")
        if facts[0] < head_dim:
            short("output", facts[0], head_dim, "int32 items")
        weighted_rows(values, output, weights, n, head_dim, head_dim, 0)

    @micropython.native
    def forward(self, query, keys, values, output, n=None, pos=None):
        """All heads of one query token over n rows of embed_dim keys and values.

        query: embed_dim int8; keys, values: rows of embed_dim int8 (a KV cache,
        e.g. KVCache(capacity, embed_dim).keys with n=len(cache)); output: int32,
        len >= embed_dim, apart from the inputs. n defaults to the rows in keys,
        which must then equal the rows in values. Head h uses columns
        h*head_dim .. (h+1)*head_dim - 1 of each and writes them in output. With
        pos, rows after pos are masked (causal). Equal to compute_scores,
        apply_causal_mask, softmax and weighted_sum run on each head's columns.
        """
        frame = self._frame
        status = measure(output, query, keys, values, _FORWARD, frame)
        if status:
            refuse(status, _FORWARD_NAMES, _FORWARD, frame, output, query, keys, values)
        facts = frame[1]
        embed_dim = self._embed_dim
        head_dim = self._head_dim
        span = self._num_heads * head_dim  # the columns the heads use
        if head_dim < 1 or span > embed_dim or facts[4] < embed_dim:
            changed()
        if facts[1] < embed_dim:
            short("query", facts[1], embed_dim)
        n = pair(n, facts[2], facts[3], embed_dim)
        if facts[0] < embed_dim:
            short("output", facts[0], embed_dim, "int32 items")
        if pos is not None:
            if pos.__class__ is not INT:
                raise TypeError("pos: expected an int or None, got %s" % type(pos).__name__)
            if pos < 0:
                raise ValueError("pos: expected >= 0, got %d" % pos)
        if n > facts[5]:
            frame[_SCORES_SCRATCH] = array("i", bytes(4 * n))
        scores = frame[_SCORES_SCRATCH]
        query_scratch = frame[_QUERY]
        first = 0
        while first < span:
            dot_rows(
                keys,
                query_scratch,
                scores,
                n,
                head_dim,
                embed_dim,
                first,
                self._scale_shift,
                query,
            )
            if pos is not None and pos < n:
                fill(scores, pos + 1, n, MASKED)
            if self._exp2:
                softmax_exp2(scores, EXP2, n, self._logit_shift)
            else:
                softmax_q8(scores, n)
            weighted_rows(values, output, scores, n, head_dim, embed_dim, first)
            first += head_dim
