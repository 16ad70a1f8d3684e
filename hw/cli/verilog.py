"""write the Verilog top, file list and config sidecar

  python -m hw verilog [--rows R --cols C --simd S ...] --out DIR

Writes DIR/bvit_top.v, DIR/files.f and the config sidecar JSON (each whole or not at all; the
folder's other files are left alone); prints one JSON line with the paths and the config. The
config and --out are checked before the elaboration starts.
"""

from __future__ import annotations

import argparse
import json

from .common import UsageError, add_config_args, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--fault", default=None, help=argparse.SUPPRESS)


def run(args) -> int:
    from ..config import check_elaboration
    from ..outfiles import OutputError, check_output_path
    from ..rtl.top import fault_problem
    from ..rtl.verilog import TOP_NAME, write_verilog

    cfg = config_from_args(args)
    check_elaboration(cfg)        # before elaborating: sizes it builds in reasonable memory
    problem = fault_problem(cfg, args.fault)
    if problem is not None:
        raise UsageError(f"--fault {args.fault!r}: {problem}")
    out = check_output_path(args.out, "--out")   # before the elaboration (seconds to minutes)
    for name in (f"{TOP_NAME}.v", "files.f", f"{TOP_NAME}.json"):
        if (out / name).is_dir():
            raise OutputError(f"--out {out}: {name} is a folder; remove it or choose another "
                              "--out")
    path = write_verilog(cfg, out, fault=args.fault)
    print(json.dumps({"top": str(path), "file_list": str(path.parent / "files.f"),
                      "config": cfg.to_dict()}))
    return 0
