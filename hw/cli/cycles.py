"""analytical cycles of one job (one JSON line)

  python -m hw cycles [--rows R --cols C --simd S ...] --m M --n N --k K [--mode xnor|and]
  python -m hw cycles ... --pool P H W --kernel KH KW [--stride SH SW] [--padding PH PW]

Prints one JSON line: the job, its outputs, cycles (hw.cost.cycles) and time at --clock-mhz.
"""

from __future__ import annotations

import argparse
import json

from .common import add_config_args, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--m", type=int)
    p.add_argument("--n", type=int)
    p.add_argument("--k", type=int)
    p.add_argument("--mode", choices=("xnor", "and"), default="xnor")
    p.add_argument("--pool", type=int, nargs=3, metavar=("P", "H", "W"))
    p.add_argument("--kernel", type=int, nargs=2, metavar=("KH", "KW"))
    p.add_argument("--stride", type=int, nargs=2, metavar=("SH", "SW"))
    p.add_argument("--padding", type=int, nargs=2, metavar=("PH", "PW"), default=[0, 0])


def run(args) -> int:
    from ..config import ConfigError
    from ..ops import MatmulOp, PoolOp

    cfg = config_from_args(args)
    if args.pool:
        if not args.kernel:
            raise ConfigError("--pool needs --kernel KH KW (and --stride, --padding)")
        stride = args.stride or args.kernel
        op = PoolOp("(command line)", *args.pool, args.kernel, stride, args.padding)
        out = {"kind": op.kind.value, "planes": op.planes, "h": op.h, "w": op.w,
               "kernel": args.kernel, "stride": stride, "padding": args.padding}
    else:
        if None in (args.m, args.n, args.k):
            raise ConfigError("give --m, --n and --k (or --pool P H W --kernel KH KW)")
        op = MatmulOp("(command line)", args.mode, args.m, args.n, args.k)
        out = {"kind": op.kind.value, "mode": op.mode, "m": op.m, "n": op.n, "k": op.k}
    op.check(cfg)   # one legal job of this config, or a one-line error naming the limit
    out.update(outputs=op.outputs, cycles=op.cycles(cfg))
    out["time_us"] = round(out["cycles"] / cfg.clock_mhz, 3)
    print(json.dumps(out))
    return 0
