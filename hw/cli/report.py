"""write reports/<network>/report.md + report.json + PNGs

  python -m hw report --network NAME --device DEV [--rows R --cols C --simd S ...]
                      [--bandwidth-gbs GBPS | --bandwidth-bpc BYTES] [--batch N] [--out DIR]

Write report.md, report.json and the PNGs of a network on an array config and a device to --out
(default reports/<network>): the model's cycles per op, the resource estimate and utilisation,
the committed synthesis points, the RTL-vs-model cycle checks and the DSE result when present;
and the off-chip model (hw/cost/memory_bound.py): bytes per frame crossing the chip boundary at
--batch frames per weight load, compute- vs memory-bound ops, cycles, utilisation and frames/s
at the config clock and at the resource model's Fmax, per batch size. Default bandwidth: an
assumption (1.6 GB/s, a 16-bit DDR3-800; hw/README.md); the compute-only numbers are kept.
Exit status 3 when the resource model says the config does not fit (by how much on stderr);
2 for bad input, found before any work: a named --sim-json/--coeffs file missing or not what it
should be, or an --out folder that exists, is not empty and holds no report of this command.
The folder is written whole or not at all (a temporary sibling renamed into place); a report
folder's other files (the DSE's dse_<device>.json/.png, yours) are kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (add_bandwidth_args, add_network_args, bandwidth_from_args, command_line,
                     config_from_args, network_out_dir)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network_args(p, device_required=True)
    add_bandwidth_args(p)
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
    doc = build_report(ns.network, cfg, ns.device, out_dir=out, bandwidth=bandwidth_from_args(ns),
                       batch=ns.batch,
                       sim_json=[Path(f) for f in ns.sim_json] if ns.sim_json else None,
                       coeffs=ns.coeffs,
                       command=command_line("report", ns, ("bandwidth_gbs", "bandwidth_bpc",
                                                           "batch", "out", "sim_json",
                                                           "coeffs")))
    t = doc["cost"]["totals"]
    shown = out if ns.out else out.relative_to(REPO)
    print(f"{doc['network']} on {cfg.rows}x{cfg.cols}x{cfg.simd} @ {cfg.clock_mhz:g} MHz: "
          f"{t['cycles']:,} cycles/frame, {t['frames_per_s']:.4g} frames/s, utilisation "
          f"{100 * t['utilisation']:.2f}% (model)")
    off = doc.get("offchip")
    if off:
        print(offchip_line(off))
    print(f"wrote {shown / 'report.md'}, {shown / 'report.json'}, "
          + ", ".join(str(shown / p) for p in doc["plots"].values()))
    return 0


def offchip_line(off: dict) -> str:
    """One line of the report's off-chip section (:func:`hw.cost.report.offchip_summary`)."""
    a, f, bw = off["at_clock"], off["at_fmax"], off["bandwidth"]
    if bw is None:
        shown = "unlimited bandwidth"
    else:
        how = "assumed" if bw["source"].startswith("assumption") else "given"
        shown = f"{bw['label']} ({how})"
    return (f"with {shown} off-chip, batch {off['batch']}: {a['cycles_per_frame']:,.0f} "
            f"cycles/frame, {a['frames_per_s']:.4g} frames/s at {a['clock_mhz']:g} MHz"
            + (f", {f['frames_per_s']:.4g} at the estimated Fmax {off['fmax_mhz']:g} MHz "
               "(resource model)" if f else "")
            + f", utilisation {100 * a['utilisation']:.2f}%, {a['memory_bound_ops']} of "
            f"{a['ops']} ops memory-bound, {a['bytes_per_frame'] / 1e6:.3g} MB/frame off-chip "
            "(model)")
