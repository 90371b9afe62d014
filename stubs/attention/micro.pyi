from typing import Literal

from ._buffers import Int8Buffer, Int32Buffer

MASKED: int  # -2**30, the score given to masked positions

class MicroAttention:
    """Scaled dot-product attention on int8 data, one head or all heads of a layer."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        softmax: Literal["linear", "exp2"] = "linear",
        logit_shift: int = 9,
        max_len: int = 0,
    ) -> None: ...
    @property
    def embed_dim(self) -> int: ...
    @property
    def num_heads(self) -> int: ...
    @property
    def head_dim(self) -> int:
        """embed_dim // num_heads."""
    @property
    def scale_shift(self) -> int: ...
    @property
    def softmax_kind(self) -> Literal["linear", "exp2"]: ...
    @property
    def logit_shift(self) -> int: ...
    def compute_scores(
        self, query: Int8Buffer, keys: Int8Buffer, scores: Int32Buffer, n: int | None = None
    ) -> None:
        """scores[i] = dot(query, keys row i) >> scale_shift, for i < n (rows of head_dim)."""
    def apply_causal_mask(
        self, scores: Int32Buffer, current_pos: int, n: int | None = None
    ) -> None:
        """scores[i] = MASKED for current_pos < i < n."""
    def softmax_fixed(self, scores: Int32Buffer, n: int | None = None) -> None:
        """The reference's linear softmax, in place: Q8 weights (256 == 1.0)."""
    def softmax(self, scores: Int32Buffer, n: int | None = None) -> None:
        """The softmax chosen at construction, in place: Q8 weights."""
    def weighted_sum(
        self, weights: Int32Buffer, values: Int8Buffer, output: Int32Buffer, n: int | None = None
    ) -> None:
        """output[j] = sum(weights[i] * values row i [j] for i < n) >> 8, for j < head_dim."""
    def forward(
        self,
        query: Int8Buffer,
        keys: Int8Buffer,
        values: Int8Buffer,
        output: Int32Buffer,
        n: int | None = None,
        pos: int | None = None,
    ) -> None:
        """All heads over n rows of embed_dim; head h uses columns h*head_dim..(h+1)*head_dim.

        Causal when pos is given. output: embed_dim int32.
        """
