"""write reports/<network>/report.md + report.json + PNGs

  python -m hw report --network NAME --device DEV [--rows R --cols C --simd S ...] [--out DIR]

Write report.md, report.json and the PNGs of a network on an array config and a device to --out
(default reports/<network>): the model's cycles per op, the resource estimate and utilisation,
the committed synthesis points, the RTL-vs-model cycle checks and the DSE result when present.
Exit status 3 when the resource model says the config does not fit (by how much on stderr);
2 for bad input, found before any work: a named --sim-json/--coeffs file missing or not what it
should be, or an --out folder that exists, is not empty and holds no report of this command.
The folder is written whole or not at all (a temporary sibling renamed into place); a report
folder's other files (the DSE's dse_<device>.json/.png, yours) are kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (add_network_args, command_line, config_from_args, network_out_dir,
                     positive_float)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network_args(p, device_required=True)
    p.add_argument("--bandwidth", type=positive_float, default=1.0, metavar="GBPS",
                   help="off-chip weight bandwidth in GB/s (default 1.0)")
    p.add_argument("--out", help="output directory (default reports/<network>)")
    p.add_argument("--sim-json", nargs="+", metavar="FILE",
                   help="RTL sim results of `python -m sim all --json` "
                   "(default reports/sim/*.json)")
    p.add_argument("--coeffs",
                   help="fitted resource model (default hw/synth/data/resource_model.json)")


def run(ns) -> int:
    from ..cost.report import build_report
    from ..paths import REPO

    cfg = config_from_args(ns)
    out = network_out_dir(ns)
    doc = build_report(ns.network, cfg, ns.device, out_dir=out, bandwidth_gbps=ns.bandwidth,
                       sim_json=[Path(f) for f in ns.sim_json] if ns.sim_json else None,
                       coeffs=ns.coeffs,
                       command=command_line("report", ns, ("bandwidth", "out", "sim_json",
                                                           "coeffs")))
    t = doc["cost"]["totals"]
    shown = out if ns.out else out.relative_to(REPO)
    print(f"{doc['network']} on {cfg.rows}x{cfg.cols}x{cfg.simd} @ {cfg.clock_mhz:g} MHz: "
          f"{t['cycles']:,} cycles/frame, {t['frames_per_s']:.4g} frames/s, utilisation "
          f"{100 * t['utilisation']:.2f}% (model)")
    print(f"wrote {shown / 'report.md'}, {shown / 'report.json'}, "
          + ", ".join(str(shown / p) for p in doc["plots"].values()))
    return 0
