"""The shape of a model: one Config for the torch modules (nets.py), the numpy float model
(float_model.py) and the converter (convert.py). No torch here.

A Config is either
- a decoder (kind "decoder"): token ids in, causal attention, next-token logits out; or
- a classifier (kind "classifier"): a window of `context` int8 frames of `features`
  values (or of token ids, features 0: host-side only, the board refuses such a file),
  attention "full" or "causal", pooled by the mean of the rows or by a class token
  ("mean" or "cls"), class logits out.
activation: "relu", or one given to the board as a table: "gelu" (the tanh form),
"silu", "tanh". input_scale: the real value of one int8 step of a frame (the module
multiplies frames by it; the converter folds it into in_proj's scales).
texts: the tokens' texts (a decoder) or the classes' names (a classifier).
"""

import json
from dataclasses import asdict, dataclass, field

ACTIVATIONS = ("relu", "gelu", "silu", "tanh")


@dataclass
class Config:
    kind: str = "decoder"
    vocab: int = 12
    dim: int = 32
    heads: int = 2
    layers: int = 2
    hidden: int = 64
    context: int = 18
    features: int = 0
    activation: str = "relu"
    attention: str = "causal"
    pooling: str = "none"
    input_scale: float = 1.0
    texts: list = field(default_factory=list)

    def __post_init__(self):
        self.check()

    def check(self):
        if self.kind not in ("decoder", "classifier"):
            raise ValueError("kind: 'decoder' or 'classifier', got %r" % (self.kind,))
        for name in ("vocab", "dim", "heads", "layers", "hidden", "context"):
            if not 1 <= getattr(self, name) <= (65535 if name == "vocab" else 4096):
                raise ValueError("%s = %r out of range" % (name, getattr(self, name)))
        if self.dim % self.heads or self.dim // self.heads > 256:
            raise ValueError("heads must divide dim, head width at most 256")
        if self.activation not in ACTIVATIONS:
            raise ValueError("activation: one of %s" % (ACTIVATIONS,))
        if self.attention not in ("causal", "full"):
            raise ValueError("attention: 'causal' or 'full'")
        if self.kind == "decoder":
            if self.pooling != "none" or self.features:
                raise ValueError("a decoder has pooling 'none' and features 0")
        elif self.pooling not in ("mean", "cls"):
            raise ValueError("a classifier's pooling: 'mean' or 'cls'")
        if not 0 <= self.features <= 65535:
            raise ValueError("features: 0..65535")
        if self.texts and len(self.texts) != self.vocab:
            raise ValueError("texts: %d given for vocab %d" % (len(self.texts), self.vocab))

    @property
    def frames(self):
        """True when the input is frames of int8 features (through in_proj)."""
        return self.kind == "classifier" and self.features > 0

    @property
    def rows(self):
        """Rows of the residual stream: the context, and the class token's row."""
        return self.context + (self.pooling == "cls")

    def names(self):
        """texts, or "0", "1", ... where none were given."""
        return list(self.texts) or [str(i) for i in range(self.vocab)]

    def to_json(self):
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text):
        return Config(**json.loads(text))
