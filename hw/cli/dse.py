"""sweep R, C, SIMD within a device; Pareto front of frames/s vs LUT (JSON + PNG)

  python -m hw dse --network NAME --device DEV [--rows-range 1 64 ...] [--out DIR]

Sweep R, C, SIMD on a device; write the Pareto front (dse_<device>.json + .png under --out,
default reports/<network>); print the rate. Array-config options other than rows/cols/simd set
the fixed limits and the clock of every swept config.

Exit status: 0 ok, 2 bad input (unknown network/device, invalid config, an empty or reversed
range, no fitted resource model, --out holding a dse_<device>.json this command did not write),
3 no config of the sweep fits the device (by how much on stderr). The two files are written
whole or not at all; the folder's other files (the report) are left as they are.
"""

from __future__ import annotations

import argparse

from .common import (UsageError, add_network_args, command_line, config_from_args,
                     network_out_dir)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network_args(p, device_required=True)
    p.add_argument("--rows-range", type=int, nargs=2, default=(1, 64), metavar=("LO", "HI"),
                   help="R from LO to HI inclusive (default 1 64)")
    p.add_argument("--cols-range", type=int, nargs=2, default=(1, 64), metavar=("LO", "HI"),
                   help="C from LO to HI inclusive (default 1 64)")
    p.add_argument("--simds", type=int, nargs="+", default=None,
                   help="SIMD values (default powers of two from max(8, pool_bits) to 512)")
    p.add_argument("--sweep-hold-banks", type=int, nargs="+", default=None, metavar="N",
                   help="hold_banks values to sweep, e.g. 2 3 4 (default: --hold-banks only)")
    p.add_argument("--pool-lanes-per-col", type=int, nargs="+", default=None, metavar="F",
                   help="pool lanes per column to sweep: pool_lanes L = F x C where it fits one "
                   "result beat (F <= min(--drain-rows, R)); default 1 (L = C)")
    p.add_argument("--use-fmax", action="store_true",
                   help="clock each config at the resource model's Fmax (default: --clock-mhz)")
    p.add_argument("--coeffs",
                   help="fitted resource model (default hw/synth/data/resource_model.json)")
    p.add_argument("--out", help="output directory (default reports/<network>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def sweep_range(flag: str, lo: int, hi: int) -> range:
    """LO..HI inclusive of a --rows-range/--cols-range; UsageError for an empty, reversed or
    out-of-bounds range (never silently the default)."""
    from ..config import MAX_ROWS_COLS

    if lo < 1:
        raise UsageError(f"{flag} {lo} {hi}: LO must be >= 1")
    if hi < lo:
        raise UsageError(f"{flag} {lo} {hi}: LO is above HI, the range is empty; give LO <= HI, "
                         f"e.g. {flag} {hi} {lo}")
    if hi > MAX_ROWS_COLS:
        raise UsageError(f"{flag} {lo} {hi}: HI must be <= {MAX_ROWS_COLS} (the largest R and C "
                         "of an array config, hw/config.py)")
    return range(lo, hi + 1)


def run(ns) -> int:
    from dataclasses import replace

    from ..config import ConfigError
    from ..cost.dse import run_dse

    base = config_from_args(ns)
    rows = sweep_range("--rows-range", *ns.rows_range)
    cols = sweep_range("--cols-range", *ns.cols_range)
    if ns.simds is not None:
        if len(set(ns.simds)) != len(ns.simds):
            raise UsageError(f"--simds {' '.join(map(str, ns.simds))}: a value is repeated")
        for s in ns.simds:
            try:
                replace(base, simd=s)
            except ConfigError as exc:
                raise UsageError(f"--simds {s}: {exc}") from None
    if ns.sweep_hold_banks is not None:
        banks = ns.sweep_hold_banks
        if len(set(banks)) != len(banks):
            raise UsageError(f"--sweep-hold-banks {' '.join(map(str, banks))}: a value is "
                             "repeated")
        for b in banks:
            try:
                replace(base, hold_banks=b)
            except ConfigError as exc:
                raise UsageError(f"--sweep-hold-banks {b}: {exc}") from None
    doc = run_dse(ns.network, ns.device, base, rows=rows, cols=cols, simds=ns.simds,
                  hold_banks=ns.sweep_hold_banks,
                  use_fmax=ns.use_fmax, coeffs=ns.coeffs, out_dir=network_out_dir(ns),
                  progress=not ns.quiet, lanes_per_col=ns.pool_lanes_per_col,
                  command=command_line("dse", ns, ("rows_range", "cols_range", "simds",
                                                   "sweep_hold_banks", "pool_lanes_per_col",
                                                   "use_fmax", "coeffs", "out")))
    print(f"evaluated {doc['configs']:,} configs in {doc['seconds']:.3f} s = "
          f"{doc['configs_per_s']:,.0f} configs/s; {doc['fit']:,} fit {doc['device']}; "
          f"Pareto front: {len(doc['front'])} configs")
    lanes, loads = "pool_lanes" in doc["fastest"], "load_rows" in doc["fastest"]
    print(f"{'R':>3} {'C':>3} {'SIMD':>4} {'n':>2}" + (f" {'L':>4}" if lanes else "")
          + (f" {'G':>2}" if loads else "")
          + f" {'LUT':>8} {'BRAM':>6} {'clock':>7} {'frames/s':>10}")
    for r in doc["front"]:
        print(f"{r['rows']:>3} {r['cols']:>3} {r['simd']:>4} {r['hold_banks']:>2}"
              + (f" {r['pool_lanes']:>4}" if lanes else "")
              + (f" {r['load_rows']:>2}" if loads else "")
              + f" {r['lut']:>8,} {r['bram']:>6g} {r['clock_mhz']:>7.1f} {r['fps']:>10.4g}")
    print("wrote " + ", ".join(doc["files"]))
    return 0
