"""Int8 attention kernels for MicroPython (viper), for the ESP32 and friends."""

import sys

from . import _selfcheck  # ImportError on a port whose buffers measure() cannot read
from .cache import KVCache
from .linear import LinearAttention
from .micro import MicroAttention
from .window import SlidingWindowAttention

# The check ran once, on import: nothing keeps its code in RAM any more.
del sys.modules[_selfcheck.__name__], _selfcheck, sys

__version__ = "0.3.0"
