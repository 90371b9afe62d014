# Buffer types the package accepts (checked at run time by attention._check).
from array import array
from typing import Union

from typing_extensions import TypeAlias

# int8 data: array('b'), or array('B'), bytearray, bytes, memoryview read as two's complement.
Int8Buffer: TypeAlias = Union[array, bytearray, bytes, memoryview]
# int32 data: array('i') (4-byte items; array('l') is refused), or a memoryview of one.
Int32Buffer: TypeAlias = Union[array, memoryview]
