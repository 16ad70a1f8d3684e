"""our cycles side by side with SCALE-Sim's output-stationary timing and the compute limit

  python -m hw baseline [--network NAME] [--configs RxCxS,...] [--json OUT]

For every distinct matmul shape of the network (with its op count) on each config: our cycles
(op.total_cycles: the cycle model equal to the RTL, over legal sub-jobs), SCALE-Sim's idealised
output-stationary count folds * (ceil(K/SIMD) + R + C - 2) with folds = ceil(M/R) * ceil(N/C)
(scale-sim-v2, scalesim/compute/systolic_compute_os.py: T + R + C - 2 cycles per fold, nothing
loaded, folds never overlapped; Samajdar et al., arXiv:1811.02883) and the compute limit
ceil(M/R) * ceil(N/C) * ceil(K/SIMD), with the ratios ours/SCALE-Sim and ours/limit; then the
totals: matmul jobs, pool jobs (ours only), the whole network's cycles per frame, utilisation
and frames/s at the config clock (compute only). Each config is hw.config.DEFAULT with R, C and
SIMD replaced (--clock-mhz and the limits as in DEFAULT).

--json OUT writes the same numbers as one JSON document, whole or not at all (its folder is
created). Exit status 2 for bad input (an unknown network, a malformed --configs entry, a config
the array cannot be built with), found before any work.
"""

from __future__ import annotations

import argparse
import re

from .common import UsageError, positive_float

#: the default configs (R x C x SIMD)
DEFAULT_CONFIGS = "4x4x32,8x8x64"
_CONFIG = re.compile(r"(\d+)x(\d+)x(\d+)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..config import DEFAULT
    from ..cost.network import NETWORKS

    p.add_argument("--network", default="binaryvit-s", metavar="NAME",
                   help=f"one of: {', '.join(NETWORKS)} (default binaryvit-s)")
    p.add_argument("--configs", default=DEFAULT_CONFIGS, metavar="RxCxS,...",
                   help=f"comma-separated array configs R x C x SIMD (default {DEFAULT_CONFIGS})")
    p.add_argument("--clock-mhz", type=positive_float, default=DEFAULT.clock_mhz,
                   help=f"array clock for frames/s (default {DEFAULT.clock_mhz:g})")
    p.add_argument("--json", metavar="OUT", help="also write the numbers as one JSON document")


def parse_configs(text: str, clock_mhz: float | None = None) -> list:
    """The :class:`~hw.config.ArrayConfig` of each ``RxCxS`` entry of a comma-separated list
    (hw.config.DEFAULT with rows, cols, simd and the clock replaced); UsageError naming
    --configs for a malformed entry, ConfigError for a config that cannot be built."""
    from dataclasses import replace

    from ..config import DEFAULT, ConfigError

    entries = [e.strip() for e in str(text).split(",")]
    if not entries or any(not e for e in entries):
        raise UsageError(f"--configs {text!r}: give comma-separated R x C x SIMD entries such "
                         f"as {DEFAULT_CONFIGS}")
    out = []
    for e in entries:
        m = _CONFIG.fullmatch(e.lower())
        if not m:
            raise UsageError(f"--configs: {e!r} is not R x C x SIMD (three whole numbers joined "
                             f"by x, e.g. 8x8x64); give e.g. --configs {DEFAULT_CONFIGS}")
        r, c, s = (int(v) for v in m.groups())
        try:
            out.append(replace(DEFAULT, rows=r, cols=c, simd=s,
                               clock_mhz=clock_mhz or DEFAULT.clock_mhz))
        except ConfigError as exc:
            raise ConfigError(f"--configs {e}: {exc}") from None
    return out


def run(ns) -> int:
    import json

    from ..cost.baseline import baseline, table_lines
    from ..cost.network import load_network
    from ..outfiles import check_output_path, write_text_atomic

    cfgs = parse_configs(ns.configs, ns.clock_mhz)
    if ns.json:
        check_output_path(ns.json, "--json", folder=False)
    doc = baseline(load_network(ns.network), cfgs)
    print("\n".join(table_lines(doc)))
    if ns.json:
        doc["command"] = "python -m hw baseline" + "".join(
            f" --{k.replace('_', '-')} {v}" for k, v in (
                ("network", ns.network), ("configs", ns.configs), ("json", ns.json))
            if v is not None)
        write_text_atomic(ns.json, json.dumps(doc, indent=1) + "\n")   # whole or not at all
        print(f"wrote {ns.json}")
    return 0
