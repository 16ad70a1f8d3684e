"""fit the resource model on committed synthesis data and report held-out error

  python -m hw fit [--data GLOB] [--out FILE] [--table FILE]

Fit the resource model's coefficients per device family on hw/synth/data/synth_*.jsonl (records
marked held_out are excluded), write hw/synth/data/resource_model.json and the markdown table
hw/synth/data/resource_model_error.md, and print the held-out error table (ours vs FINN-R).
Both files are written whole or not at all; a --data line that is not a JSON record is an error
naming the file and line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..paths import RESOURCE_MODEL, SYNTH_DATA_DIR


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(SYNTH_DATA_DIR / "synth_*.jsonl"),
                   help="glob of records")
    p.add_argument("--out", default=str(RESOURCE_MODEL))
    p.add_argument("--table", default=str(SYNTH_DATA_DIR / "resource_model_error.md"),
                   help="markdown error table to write")


def run(ns) -> int:
    from ..cost.resources import fit_main

    return fit_main(data_glob=ns.data, out=Path(ns.out), table=ns.table)
