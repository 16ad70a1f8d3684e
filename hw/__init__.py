"""BinaryViT accelerator hardware: Amaranth RTL of an XNOR-popcount systolic array, its
configuration, Verilog generation and the analytical cycle model."""

from .config import ArrayConfig, ConfigError

__all__ = ["ArrayConfig", "ConfigError"]
