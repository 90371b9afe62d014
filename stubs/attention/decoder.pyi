from array import array
from typing import Any

MASKED: int  # -2**30, the logit given to tokens outside top_k

def ram_needed(h: dict[str, int]) -> int:
    """Bytes of heap a model with header h takes once loaded."""

def shipped(name: str = "reverse.bin") -> str:
    """The path of a model file shipped inside the package (beside this module)."""

class Decoder:
    """A loaded model: feed(token) one step, pick() the next token, generate() text."""

    @classmethod
    def load(cls, path: str) -> Decoder:
        """Check the file at path, say what RAM it needs, then allocate and read it."""
    def __init__(self, h: dict[str, Any]) -> None:
        """A model of header h with zero weights (load() fills them)."""
    @property
    def vocab(self) -> str | tuple[str, ...]:
        """The tokens' text, in order: a str of one character each, else a tuple of str."""
    @property
    def dim(self) -> int: ...
    @property
    def heads(self) -> int: ...
    @property
    def layers(self) -> int: ...
    @property
    def hidden(self) -> int: ...
    @property
    def context(self) -> int:
        """The most tokens the model holds; feeding one more raises ValueError."""
    @property
    def logit_frac(self) -> int: ...
    @property
    def position(self) -> int:
        """The position of the next token fed."""
    @property
    def logits(self) -> array:
        """array('i') of vocab items, the last step's logits in Q(logit_frac): not a copy."""
    @property
    def ram(self) -> int:
        """ram_needed() of the model's header."""
    def reset(self) -> None:
        """Forget the context: the next token fed is at position 0."""
    def sampling(self, temperature: float = 0, top_k: int = 0, seed: int = 1) -> None:
        """How pick() chooses: temperature 0 is greedy; else sample among the top_k."""
    def feed(self, token: int, logits: bool = True) -> None:
        """Run one token through the model at the next position; logits are then ready.

        logits=False: only the keys and values go into the caches (a prompt token whose
        logits nobody reads); logits keep what they held."""
    def pick(self) -> int:
        """The next token from logits: argmax, or a draw as sampling() set."""
    def generate_into(self, prompt: bytes | array, out: bytearray | array, stop: int = -1) -> int:
        """Feed prompt, then fill out with picked tokens; returns how many. Allocates nothing."""
    def encode(self, text: str) -> bytes | array:
        """Token ids of text (array('H') past 256 tokens), longest token first."""
    def generate(self, prompt: str, max_new: int | None = None, stop: str | None = None) -> str:
        """The text generated after prompt, up to max_new tokens or stop (a character)."""
