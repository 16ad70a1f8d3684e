"""Command-line helpers shared by ``python -m hw`` and ``python -m sim``."""

from __future__ import annotations

import argparse

from ..config import DEFAULT, ArrayConfig

_FIELDS = ("rows", "cols", "simd", "max_k", "max_m", "max_n", "pool_bits", "pool_max_dim",
           "pool_max_planes", "pool_max_kernel", "pool_depth", "mem_piece_depth")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """--rows/--cols/--simd/--max-k/... with the defaults of :data:`hw.config.DEFAULT`."""
    g = parser.add_argument_group("array configuration (defaults: hw.config.DEFAULT)")
    for name in _FIELDS:
        g.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(DEFAULT, name),
                       help=f"default {getattr(DEFAULT, name)}")
    g.add_argument("--clock-mhz", type=float, default=DEFAULT.clock_mhz,
                   help=f"default {DEFAULT.clock_mhz}")


def config_from_args(args) -> ArrayConfig:
    """The validated :class:`ArrayConfig` named by the parsed arguments (raises ConfigError)."""
    return ArrayConfig(**{name: getattr(args, name) for name in _FIELDS},
                       clock_mhz=args.clock_mhz)
