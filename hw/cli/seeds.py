"""the nextpnr seed spread of the committed synthesis records (Fmax per seed, min/median/max)

  python -m hw seeds [--data GLOB] [--device DEV] [--all] [--json]

Groups the whole-accelerator records with P&R (default: every hw/synth/data/*.jsonl, the
sweep's seed-1 records and seeds_ecp5.jsonl) by device, config and RTL revision, and prints
for each group placed with more than one nextpnr seed (every group with --all) the Fmax of each
seed with its critical path, the minimum, median, mean and maximum, and how many seeds reach the
config's clock (``clock_mhz``, 150 MHz by default). Add a seed with ``python -m hw synth
--device ecp5-85 --seed S --append hw/synth/data/seeds_ecp5.jsonl``.
"""

from __future__ import annotations

import argparse
import json

from ..paths import SYNTH_DATA_DIR
from .common import add_device_arg


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(SYNTH_DATA_DIR / "*.jsonl"),
                   help="glob of synthesis record files (default hw/synth/data/*.jsonl)")
    add_device_arg(p, default=None)      # only this device's records
    p.add_argument("--all", action="store_true",
                   help="also the groups placed with one seed only")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")


def run(ns) -> int:
    from ..cost.devices import get_device
    from ..synth.seeds import format_spread, seed_spreads

    if ns.device is not None:
        get_device(ns.device)             # an unknown name: one error line, exit 2
    groups = [g for g in seed_spreads(ns.data, ns.device) if ns.all or len(g.runs) > 1]
    if ns.json:
        print(json.dumps([{"device": g.device, "config": g.config,
                           "rtl_revision": g.rtl_revision, **g.summary(),
                           "runs": [vars(r) for r in g.runs]} for g in groups], indent=1))
        return 0
    print("\n\n".join(format_spread(g) for g in groups) if groups else
          "no config is recorded with more than one nextpnr seed (--all lists every one)")
    return 0
