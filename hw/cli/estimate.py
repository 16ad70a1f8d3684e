"""resource estimate of an array config for a device (same JSON keys as synth)

  python -m hw estimate --device DEV [--rows R --cols C --simd S ...] [--coeffs FILE]

Estimate lut, ff, carry, bram, dsp and fmax_mhz of an array config on a device from the fitted
resource model (hw/synth/data/resource_model.json); also the FINN-R LUT baseline. Prints one
JSON line with the same resource keys as `python -m hw synth`, so the two can be diffed.

Exit status: 0 ok, 2 bad input (unknown device, invalid config, no fitted model), 3 the config
does not fit the device (the JSON line is still printed, the reason goes to stderr).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_config_args, add_device_arg, check_fit, config_from_args, print_record


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    add_device_arg(p)
    p.add_argument("--coeffs", help="fitted model file (default hw/synth/data/resource_model.json)")


def run(ns) -> int:
    from ..cost.devices import get_device
    from ..cost.resources import estimate

    dev = get_device(ns.device)
    cfg = config_from_args(ns)
    rec = estimate(cfg, dev, coeffs_path=Path(ns.coeffs) if ns.coeffs else None)
    status = check_fit(rec, dev)
    print_record(rec)
    return status
