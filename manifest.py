# Freezes the attention package into a MicroPython firmware build.
# In a board's manifest: include("path/to/this/checkout")  (see the README).
metadata(
    description="Int8 attention kernels (viper) for MicroPython on the ESP32.",
    version="0.3.0",
)

package("attention", base_path="firmware")
