"""Int8 attention kernels for MicroPython (viper), for the ESP32 and friends.

`import attention` only checks that this port's buffers can be measured (_selfcheck); each
class and module is imported on first use (`from attention import MicroAttention`), so a
program that only loads a model keeps none of the mechanisms in RAM.
"""

import sys

from . import _selfcheck  # ImportError on a port whose buffers measure() cannot read

# The check ran once, on import: nothing keeps its code in RAM any more.
del sys.modules[_selfcheck.__name__], _selfcheck, sys

__version__ = "0.3.0"

# Imported the first time they are asked for: each class from its module, and the
# package's modules (MicroPython's `from attention import decoder`, and the package's own
# `from . import _step`, ask here before they import a module that is not yet loaded).
_CLASSES = {
    "KVCache": "cache",
    "LinearAttention": "linear",
    "MicroAttention": "micro",
    "SlidingWindowAttention": "window",
}
# One string, not a tuple of names: names would each be interned, in heap, on import.
_MODULES = (
    " _check _fixed _kernels _layers _memory _softmax _step cache classifier decoder layers"
    " linear micro model modelfile window "
)


def __getattr__(name):
    if " %s " % name in _MODULES:
        return __import__(name, globals(), None, (name,), 1)
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(name)
    # Not kept in the package's dictionary: each name there costs heap on every board,
    # and `from attention import MicroAttention` asks once.
    return getattr(__import__(module, globals(), None, (name,), 1), name)
