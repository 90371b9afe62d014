# Type stubs of the attention package for editors and type checkers (not copied to boards).
from .cache import KVCache as KVCache
from .linear import LinearAttention as LinearAttention
from .micro import MicroAttention as MicroAttention
from .window import SlidingWindowAttention as SlidingWindowAttention

__version__: str
