"""write the Verilog top, file list and config sidecar

  python -m hw verilog [--rows R --cols C --simd S ...] --out DIR

Writes DIR/bvit_top.v, DIR/files.f and the config sidecar JSON; prints one JSON line with the
paths and the config.
"""

from __future__ import annotations

import argparse
import json

from .common import add_config_args, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--fault", default=None, help=argparse.SUPPRESS)


def run(args) -> int:
    from ..rtl.verilog import write_verilog

    cfg = config_from_args(args)
    path = write_verilog(cfg, args.out, fault=args.fault)
    print(json.dumps({"top": str(path), "file_list": str(path.parent / "files.f"),
                      "config": cfg.to_dict()}))
    return 0
