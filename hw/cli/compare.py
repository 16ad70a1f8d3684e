"""the co-design table of the model family: every variant at digits and ImageNet scale on one config

  python -m hw compare --device DEV [--rows R --cols C --simd S ...] [--variants NAME ...]
                       [--scales digits imagenet] [--no-dse] [--out DIR]

Trace every variant of model/variants.py at the digits scale of its trained checkpoint
(model/checkpoints/<variant>/) and at ImageNet 224 px, cost it on one array config (cycles,
frames/s, utilisation, the share of pool cycles, weight traffic) and write, into --out (default
reports/variants), compare.md (the tables), compare.json (every number with its source),
compare.csv and two plots: accuracy vs frames/s on the config, and accuracy vs LUT of the
fastest config of the design-space sweep that fits the device (per variant and scale).
Accuracy: our digits top-1 (the checkpoint's metrics.json) and the ImageNet top-1 the papers
report (cited with its source; "not found" where we could not find it).

Exit status 2 for bad input, found before any work (an unknown variant, scale or device, an
--out folder that is not empty and holds no compare.json of this command). The folder is
written whole or not at all; its other files are kept.
"""

from __future__ import annotations

import argparse

from .common import add_bandwidth_args, add_config_args, add_device_arg, bandwidth_from_args, \
    command_line, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..cost.compare import SCALES
    from ..cost.network import VARIANT_NAMES

    add_device_arg(p, default=None, required=True)
    add_config_args(p)
    p.add_argument("--variants", nargs="+", metavar="NAME", default=list(VARIANT_NAMES),
                   help=f"variants to compare (default all: {', '.join(VARIANT_NAMES)})")
    p.add_argument("--scales", nargs="+", metavar="SCALE", default=list(SCALES),
                   help=f"scales (default both: {', '.join(SCALES)})")
    add_bandwidth_args(p)
    p.add_argument("--no-dse", action="store_true",
                   help="skip the design-space sweep (no accuracy-vs-LUT plot)")
    p.add_argument("--dse-max", type=int, default=64, metavar="N",
                   help="sweep R and C from 1 to N (default 64)")
    p.add_argument("--coeffs",
                   help="fitted resource model (default hw/synth/data/resource_model.json)")
    p.add_argument("--out", help="output directory (default reports/variants)")


def compare_command(ns) -> str:
    """The command line that reproduces this run (options at their defaults left out)."""
    from ..cost.compare import SCALES
    from ..cost.network import VARIANT_NAMES

    return command_line("compare", ns, ("variants", "scales", "no_dse", "dse_max",
                                        "bandwidth_gbs", "bandwidth_bpc", "batch", "out"),
                        defaults={"variants": list(VARIANT_NAMES), "scales": list(SCALES),
                                  "dse_max": 64, "batch": 1})


def run(ns) -> int:
    from pathlib import Path

    from ..config import MAX_ROWS_COLS
    from ..cost.compare import SCALES, build_compare, table_lines
    from ..paths import REPO, VARIANTS_REPORT_DIR
    from .common import UsageError

    if not 1 <= ns.dse_max <= MAX_ROWS_COLS:
        raise UsageError(f"--dse-max {ns.dse_max}: give a value from 1 to {MAX_ROWS_COLS}")
    cfg = config_from_args(ns)
    out = Path(ns.out) if ns.out else VARIANTS_REPORT_DIR
    command = compare_command(ns)
    doc = build_compare(cfg, ns.device, out_dir=out, variants=ns.variants, scales=ns.scales,
                        bandwidth=bandwidth_from_args(ns), batch=ns.batch, dse=not ns.no_dse,
                        dse_max_side=ns.dse_max,
                        coeffs=ns.coeffs, command=command)
    for scale, (label, _) in SCALES.items():
        if scale in ns.scales:
            print(f"{label}, {cfg.rows}x{cfg.cols}x{cfg.simd} at {cfg.clock_mhz:g} MHz:")
            print("\n".join(table_lines(doc, scale)))
            print()
    shown = out.relative_to(REPO) if out.resolve().is_relative_to(REPO) and not ns.out else out
    print(f"wrote {shown}/compare.md, compare.json, compare.csv, accuracy_vs_fps.png"
          + ("" if ns.no_dse else ", accuracy_vs_lut.png"))
    return 0

