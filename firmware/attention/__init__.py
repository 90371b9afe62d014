"""Int8 attention kernels for MicroPython (viper), for the ESP32 and friends.

`import attention` checks that this port's buffers can be measured (_selfcheck) and loads
the kernels; each class is imported on first use (`from attention import MicroAttention`),
so a program that only loads a model keeps none of the mechanisms in RAM.
"""

import sys

from . import _selfcheck  # ImportError on a port whose buffers measure() cannot read

# The modules that the others import with `from . import`: loaded here, because
# MicroPython's `from . import x` asks the package first, and its __getattr__ (below)
# knows the classes only.
from . import _check, _kernels, _memory  # noqa: F401

# The check ran once, on import: nothing keeps its code in RAM any more.
del sys.modules[_selfcheck.__name__], _selfcheck, sys

__version__ = "0.3.0"

# Where each class lives: imported from its module the first time it is asked for.
_CLASSES = {
    "KVCache": "cache",
    "LinearAttention": "linear",
    "MicroAttention": "micro",
    "SlidingWindowAttention": "window",
}


def __getattr__(name):
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(name)
    value = getattr(__import__(module, globals(), None, (name,), 1), name)
    globals()[name] = value
    return value
