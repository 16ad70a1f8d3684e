"""``python -m hw``: Verilog generation and the analytical cycle model.

  python -m hw verilog [--rows R --cols C --simd S ...] --out DIR   bvit_top.v + files.f + json
  python -m hw cycles  [--rows R --cols C --simd S ...] --m M --n N --k K [--mode xnor|and]
  python -m hw cycles  ... --pool P H W --kernel KH KW --stride SH SW [--padding PH PW]
  python -m hw config  [...]                                        the config and derived values
"""

from __future__ import annotations

import argparse
import json
import sys

from .cli.common import add_config_args, config_from_args
from .config import ConfigError


def cmd_verilog(args) -> int:
    from .rtl.verilog import write_verilog

    cfg = config_from_args(args)
    path = write_verilog(cfg, args.out, fault=args.fault)
    print(json.dumps({"top": str(path), "file_list": str(path.parent / "files.f"),
                      "config": cfg.to_dict()}))
    return 0


def cmd_cycles(args) -> int:
    from .cost.cycles import matmul_cycles, pool_cycles, pool_out_shape

    cfg = config_from_args(args)
    if args.pool:
        p, h, w = args.pool
        if not args.kernel:
            raise ConfigError("--pool needs --kernel KH KW (and --stride, --padding)")
        stride = args.stride or args.kernel
        cyc = pool_cycles(cfg, p, h, w, args.kernel, stride, args.padding)
        ho, wo = pool_out_shape(h, w, args.kernel, stride, args.padding)
        out = {"kind": "pool", "planes": p, "h": h, "w": w, "kernel": args.kernel,
               "stride": stride, "padding": args.padding, "outputs": p * ho * wo, "cycles": cyc}
    else:
        if None in (args.m, args.n, args.k):
            raise ConfigError("give --m, --n and --k (or --pool P H W --kernel KH KW)")
        for what, v, lim in (("m", args.m, cfg.max_m), ("n", args.n, cfg.max_n),
                             ("k", args.k, cfg.max_k)):
            if not 1 <= v <= lim:
                raise ConfigError(f"--{what} {v} outside 1..{lim} (the config's max_{what})")
        cyc = matmul_cycles(cfg, args.m, args.n, args.k)
        out = {"kind": "matmul", "mode": args.mode, "m": args.m, "n": args.n, "k": args.k,
               "outputs": args.m * args.n, "cycles": cyc}
    out["time_us"] = round(out["cycles"] / cfg.clock_mhz, 3)
    print(json.dumps(out))
    return 0


def cmd_config(args) -> int:
    cfg = config_from_args(args)
    derived = {k: getattr(cfg, k) for k in (
        "kw_max", "acc_width", "mm_result_width", "pe_popcount_latency", "pe_latency",
        "mm_read_latency", "tile_flush", "a_bank_depth", "w_bank_depth", "pool_lanes",
        "pool_sum_width", "pool_read_latency", "pool_mul_levels", "pool_latency", "lane_width",
        "out_width", "out_fifo_depth", "result_latency")}
    print(json.dumps({"config": cfg.to_dict(), "derived": derived}))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("verilog", help="write the Verilog top, file list and config sidecar")
    add_config_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--fault", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_verilog)
    p = sub.add_parser("cycles", help="analytical cycles of one job (one JSON line)")
    add_config_args(p)
    p.add_argument("--m", type=int)
    p.add_argument("--n", type=int)
    p.add_argument("--k", type=int)
    p.add_argument("--mode", choices=("xnor", "and"), default="xnor")
    p.add_argument("--pool", type=int, nargs=3, metavar=("P", "H", "W"))
    p.add_argument("--kernel", type=int, nargs=2, metavar=("KH", "KW"))
    p.add_argument("--stride", type=int, nargs=2, metavar=("SH", "SW"))
    p.add_argument("--padding", type=int, nargs=2, metavar=("PH", "PW"), default=[0, 0])
    p.set_defaults(func=cmd_cycles)
    p = sub.add_parser("config", help="print a config and its derived values")
    add_config_args(p)
    p.set_defaults(func=cmd_config)
    from .cli.synth import add_subcommands  # synth, estimate, fit (hw/cli/synth.py)
    add_subcommands(sub)
    from .cli.cost import add_subcommands as add_cost_subcommands  # network, report, dse
    add_cost_subcommands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
