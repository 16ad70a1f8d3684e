"""print a config and its derived values

  python -m hw config [--rows R --cols C --simd S ...]

Prints one JSON line: the ArrayConfig and its derived values (widths, latencies, depths).
"""

from __future__ import annotations

import argparse
import json

from .common import add_config_args, config_from_args

#: the derived ArrayConfig properties printed
DERIVED = ("kw_max", "acc_width", "mm_result_width", "pe_popcount_latency", "pe_latency",
           "mm_read_latency", "tile_flush", "capture_skew", "drain_rows_eff", "tile_beats",
           "a_bank_depth", "w_bank_depth", "pool_lanes_eff", "load_rows_eff", "data_width", "pool_sum_width",
           "pool_min_row_positions", "pool_latency", "lane_width", "out_width", "out_fifo_depth",
           "result_latency")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)


def run(args) -> int:
    cfg = config_from_args(args)
    derived = {k: getattr(cfg, k) for k in DERIVED}
    print(json.dumps({"config": cfg.to_dict(), "derived": derived}))
    return 0
