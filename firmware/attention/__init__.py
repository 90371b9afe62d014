"""Int8 attention kernels for MicroPython (viper), for the ESP32 and friends."""

from .cache import KVCache
from .linear import LinearAttention
from .micro import MicroAttention
from .window import SlidingWindowAttention

__version__ = "0.2.0"
