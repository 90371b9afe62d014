"""Int8 attention kernels for MicroPython (viper), for the ESP32 and friends."""

from .linear import LinearAttention
from .micro import MicroAttention
from .window import SlidingWindowAttention

__version__ = "0.1.0"
