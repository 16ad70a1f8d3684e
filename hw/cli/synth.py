"""Command-line front end of synthesis and the resource model: ``synth``, ``estimate``, ``fit``.

Wire into ``python -m hw`` with :func:`add_subcommands`; also runnable on its own as
``python -m hw.cli.synth {synth,estimate,fit} ...``.

``synth`` and ``estimate`` print ONE JSON line with the same resource keys (lut, ff, carry, bram,
dsp, fmax_mhz) so their outputs can be diffed. Exit status: 0 ok, 2 bad input (unknown device,
invalid config), 3 the config does not fit the device (the JSON line is still printed, the reason
goes to stderr), 1 a tool failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cost.devices import DEVICES, DeviceError, fit_report, get_device

from ..paths import SYNTH_DATA_DIR as DATA_DIR


def _config_args(p: argparse.ArgumentParser) -> None:
    """The array-config options shared with ``python -m hw verilog`` (hw/cli/common.py)."""
    from .common import add_config_args

    add_config_args(p)


def _config_from(ns):
    from .common import config_from_args

    return config_from_args(ns)


def _device_arg(p, default="ecp5-85"):
    p.add_argument("--device", default=default,
                   help=f"target device, one of: {', '.join(DEVICES)} (default {default})")


def _print(rec: dict) -> None:
    print(json.dumps(rec, sort_keys=False), flush=True)


def _check_fit(rec: dict, dev) -> int:
    """Add ``fits``/``over`` to ``rec``; message on stderr and status 3 when it does not fit."""
    rep = fit_report(rec, dev)
    over = {k: v for k, v in rep.items() if v["over"] > 0}
    rec["fits"] = not over
    rec["utilization_percent"] = {k: v["percent"] for k, v in rep.items()}
    if over:
        rec["over"] = {k: v["over"] for k, v in over.items()}
        msg = "; ".join(f"{k} {v['used']:.0f} > {v['available']} (over by {v['over']:.0f}, "
                        f"{v['percent']:.0f}%)" for k, v in over.items())
        print(f"error: does not fit {dev.name}: {msg}", file=sys.stderr)
        return 3
    return 0


# ---- synth ---------------------------------------------------------------------------------------
def cmd_synth(ns) -> int:
    from ..synth.flow import SynthError, synth_config

    if ns.sweep:
        from ..synth.sweep import run_sweep

        return run_sweep(ns.sweep, jobs=ns.jobs, only=ns.only, out_dir=Path(ns.out_dir))
    dev = get_device(ns.device)
    cfg = _config_from(ns)
    try:
        rec = synth_config(cfg, dev, pnr=not ns.no_pnr,
                           workdir=Path(ns.keep) if ns.keep else None,
                           freq_mhz=ns.freq, seed=ns.seed, timeout=ns.timeout,
                           component=ns.component)
    except SynthError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    status = _check_fit(rec, dev)
    if ns.append:
        with open(ns.append, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
    _print(rec)
    return status


# ---- estimate ------------------------------------------------------------------------------------
def cmd_estimate(ns) -> int:
    from ..cost.resources import ModelError, estimate

    dev = get_device(ns.device)
    cfg = _config_from(ns)
    try:
        rec = estimate(cfg, dev, coeffs_path=Path(ns.coeffs) if ns.coeffs else None)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = _check_fit(rec, dev)
    _print(rec)
    return status


# ---- fit -----------------------------------------------------------------------------------------
def cmd_fit(ns) -> int:
    from ..cost.resources import ModelError, fit_main

    try:
        return fit_main(data_glob=ns.data, out=Path(ns.out), table=ns.table)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def add_subcommands(sub) -> None:
    """Add ``synth``, ``estimate`` and ``fit`` to an argparse subparsers object."""
    p = sub.add_parser("synth", help="synthesize (yosys) and place-and-route (nextpnr) one array "
                       "config; print one JSON line", description=cmd_synth.__doc__ or
                       "Synthesize the array for a device and print one JSON line: lut, ff, "
                       "carry, bram, dsp (yosys cell counts), fmax_mhz (nextpnr), cells, tools, "
                       "flags and the command. With --sweep NAME: run a committed config sweep "
                       "(see hw/synth/sweep.py) and write hw/synth/data/synth_NAME.jsonl.")
    _config_args(p)
    _device_arg(p)
    p.add_argument("--no-pnr", action="store_true", help="synthesis only, no nextpnr (fmax null)")
    p.add_argument("--freq", type=float, default=None,
                   help="nextpnr target MHz (default per device: ECP5 200, iCE40 100)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placer seed (default 1)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per tool run")
    p.add_argument("--component", choices=("top", "array"), default="top",
                   help="what to synthesize: the whole accelerator (default) or the systolic "
                   "array alone (to see the array's own Fmax)")
    p.add_argument("--keep", metavar="DIR", help="keep Verilog, netlists and logs in DIR")
    p.add_argument("--append", metavar="FILE", help="also append the record to a .jsonl FILE")
    p.add_argument("--sweep", metavar="NAME", help="run the named sweep instead (hw/synth/sweep.py)")
    p.add_argument("--only", metavar="DEVICE", help="with --sweep: only this device")
    p.add_argument("--jobs", "-j", type=int, default=2, help="with --sweep: parallel tool runs")
    p.add_argument("--out-dir", default=str(DATA_DIR), help="with --sweep: where to write")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("estimate", help="resource estimate of an array config for a device "
                       "(same JSON keys as synth)",
                       description="Estimate lut, ff, carry, bram, dsp and fmax_mhz of an array "
                       "config on a device from the fitted resource model (hw/synth/data/"
                       "resource_model.json); also the FINN-R LUT baseline. Prints one JSON line.")
    _config_args(p)
    _device_arg(p)
    p.add_argument("--coeffs", help="fitted model file (default hw/synth/data/resource_model.json)")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("fit", help="fit the resource model on committed synthesis data and "
                       "report held-out error",
                       description="Fit the resource model's coefficients per device family on "
                       "hw/synth/data/synth_*.jsonl (records marked held_out are excluded), write "
                       "hw/synth/data/resource_model.json and print the held-out error table "
                       "(ours vs FINN-R).")
    p.add_argument("--data", default=str(DATA_DIR / "synth_*.jsonl"), help="glob of records")
    p.add_argument("--out", default=str(DATA_DIR / "resource_model.json"))
    p.add_argument("--table", default=str(DATA_DIR / "resource_model_error.md"),
                   help="markdown error table to write")
    p.set_defaults(func=cmd_fit)


def run(ns) -> int:
    """Dispatch a parsed namespace; map bad input to exit status 2 with a clear message."""
    from ..config import ConfigError

    try:
        return ns.func(ns)
    except (DeviceError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.cli.synth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommands(sub)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
