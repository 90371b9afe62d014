from array import array
from typing import Any

from ._buffers import Int8Buffer

def ram_needed(h: dict[str, Any]) -> int:
    """Bytes of heap a classifier with header h takes once loaded, on this port."""

def shipped(name: str = "gesture.bin") -> str:
    """The path of a classifier file shipped inside the package (beside this module)."""

class Classifier:
    """A loaded classifier of int8 feature frames: classify(frames), or push(frame) then classify()."""

    @classmethod
    def load(cls, path: str) -> Classifier:
        """Check the file at path (a version 2 classifier), say what RAM it needs, then read it."""
    def __init__(self, h: dict[str, Any]) -> None:
        """A classifier of header h with zero weights (load() fills them)."""
    @property
    def labels(self) -> tuple[str, ...] | str:
        """The classes' names, in order."""
    @property
    def classes(self) -> int: ...
    @property
    def features(self) -> int:
        """int8 values in a frame."""
    @property
    def window(self) -> int:
        """Frames in a window."""
    @property
    def count(self) -> int:
        """Frames pushed since reset()."""
    @property
    def logits(self) -> array:
        """array('i'), one item per class: the last window's logits in Q(logit_frac)."""
    @property
    def scores(self) -> array:
        """array('i'), one item per class: the last window's softmax in Q8 (256 == 1.0)."""
    @property
    def ram(self) -> int:
        """ram_needed() of the model's header."""
    def reset(self) -> None:
        """Forget the frames pushed."""
    def push(self, frame: Int8Buffer) -> None:
        """Add one frame to the stream; the oldest of the last window goes."""
    def classify(self, frames: Int8Buffer | None = None) -> int:
        """The class of frames (window x features int8, oldest first), or of the last window pushed."""
