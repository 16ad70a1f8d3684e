"""analytical cycles of one job (one JSON line)

  python -m hw cycles [--rows R --cols C --simd S ...] --m M --n N --k K [--mode xnor|and]
  python -m hw cycles ... --pool P H W --kernel KH KW [--stride SH SW] [--padding PH PW]

Prints one JSON line: the job, its outputs, cycles (hw.cost.cycles) and time at --clock-mhz.
"""

from __future__ import annotations

import argparse
import json

from .common import UsageError, add_config_args, config_from_args


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


def _pair(flag: str, vals, lo: int) -> None:
    if min(vals) < lo:
        raise UsageError(f"{flag} {' '.join(map(str, vals))}: each value must be >= {lo}")


def run(args) -> int:
    from ..config import ConfigError
    from ..ops import MatmulOp, PoolOp

    cfg = config_from_args(args)
    if args.pool:
        if not args.kernel:
            raise UsageError("--pool needs --kernel KH KW (and --stride, --padding)")
        stride = args.stride or args.kernel
        _pair("--pool", args.pool, 1)
        _pair("--kernel", args.kernel, 1)
        _pair("--stride", stride, 1)
        _pair("--padding", args.padding, 0)
        p, h, w = args.pool
        (kh, kw), (ph, pw) = args.kernel, args.padding
        if kh > h + 2 * ph or kw > w + 2 * pw:
            raise UsageError(f"--kernel {kh} {kw} is larger than the padded input "
                             f"{h + 2 * ph} x {w + 2 * pw} (H x W of --pool plus twice "
                             "--padding); use a smaller window or more padding")
        flags = (f"--pool {p} {h} {w} --kernel {kh} {kw} --stride {' '.join(map(str, stride))}"
                 f" --padding {ph} {pw}")
        op = PoolOp(flags, p, h, w, args.kernel, stride, args.padding)
        out = {"kind": op.kind.value, "planes": op.planes, "h": op.h, "w": op.w,
               "kernel": args.kernel, "stride": stride, "padding": args.padding}
        hint = ("raise the array's limit (--pool-max-dim, --pool-max-planes, --pool-max-kernel, "
                "--pool-open-rows, --pool-row-depth) or give a smaller job")
    else:
        if None in (args.m, args.n, args.k):
            raise UsageError("give --m, --n and --k (or --pool P H W --kernel KH KW)")
        for flag, val in (("--m", args.m), ("--n", args.n), ("--k", args.k)):
            if val < 1:
                raise UsageError(f"{flag} {val}: M, N and K must be >= 1")
        flags = f"--m {args.m} --n {args.n} --k {args.k}"
        op = MatmulOp(flags, args.mode, args.m, args.n, args.k)
        out = {"kind": op.kind.value, "mode": op.mode, "m": op.m, "n": op.n, "k": op.k}
        hint = ""
    try:
        op.check(cfg)   # one legal job of this config, or a one-line error naming the limit
    except ConfigError as exc:
        raise ConfigError(f"{exc}" + (f"; {hint}" if hint else "")) from None
    out.update(outputs=op.outputs, cycles=op.cycles(cfg))
    out["time_us"] = round(out["cycles"] / cfg.clock_mhz, 3)
    print(json.dumps(out))
    return 0
