"""Command-line front end of the network cost model: ``network``, ``report``, ``dse``.

Wire into ``python -m hw`` with :func:`add_subcommands`; also runnable on its own as
``python -m hw.cli.cost {network,report,dse} ...``.

  python -m hw network --network NAME [--rows R --cols C --simd S ...] [--json]
  python -m hw report  --network NAME --rows R --cols C --simd S --device DEV [--out DIR]
  python -m hw dse     --network NAME --device DEV [--rows-range 1 64 ...] [--out DIR]

Exit status: 0 ok, 2 bad input (unknown network/device, invalid config, a job that cannot be
split, no fitted resource model for dse), 3 the config does not fit the device (by how much
on stderr).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..cost.network import NETWORKS


def _command(sub: str, ns, extra=()) -> str:
    """The command line that reproduces this run: the network, the device, R/C/SIMD and every
    config field that differs from hw.config.DEFAULT, then ``extra`` option names."""
    from .common import config_from_args
    from ..cost.report import config_flags

    parts = ["python", "-m", "hw", sub, "--network", ns.network]
    if getattr(ns, "device", None):
        parts += ["--device", ns.device]
    parts += config_flags(config_from_args(ns), () if sub == "dse" else ("rows", "cols", "simd"))
    for opt in extra:
        val = getattr(ns, opt)
        if val not in (None, False):
            flag = "--" + opt.replace("_", "-")
            if val is True:
                parts.append(flag)
            else:
                parts += [flag] + [str(v) for v in (val if isinstance(val, (list, tuple))
                                                     else [val])]
    return " ".join(shlex.quote(p) for p in parts)


def _common(p, device_required=False):
    from .common import add_config_args
    from ..cost.devices import DEVICES

    p.add_argument("--network", required=True, metavar="NAME",
                   help=f"one of: {', '.join(NETWORKS)}")
    p.add_argument("--device", required=device_required, default=None,
                   help=f"target device, one of: {', '.join(DEVICES)}")
    add_config_args(p)


def cmd_network(ns) -> int:
    """Print the per-op and total cost of a network on a config."""
    from .common import config_from_args
    from ..cost.network import load_network, network_cost, require_fit

    cfg = config_from_args(ns)
    net = load_network(ns.network)
    require_fit(net, cfg)
    cost = network_cost(net, cfg, ns.bandwidth)
    if ns.device:
        from ..cost.devices import get_device
        from ..cost.network import device_memory
        from ..cost.report import resource_estimate

        dev = get_device(ns.device)
        est, note = resource_estimate(cfg, dev, ns.coeffs)
        cost["resources"] = est if est else note
        cost["device_memory"] = device_memory(cost["memory"], dev, est["bram"] if est else None)
        if est:
            from ..cost.devices import check_fits
            check_fits(est, dev)
    if ns.json:
        print(json.dumps(cost))
        return 0
    w = max(len(r["name"]) for r in cost["ops"])
    print(f"{'op':<{w}}  {'kind':<6} {'shape':<26} {'jobs':>5} {'cycles':>11} {'util':>6} bound")
    for r in cost["ops"]:
        u = f"{100 * r['utilisation']:.1f}%" if r["utilisation"] is not None else "-"
        print(f"{r['name']:<{w}}  {r['kind']:<6} {r['shape']:<26} {r['jobs']:>5} "
              f"{r['cycles']:>11,} {u:>6} {r['bound']}")
    t = cost["totals"]
    print(f"total: {t['ops']} ops, {t['jobs']} jobs, {t['cycles']:,} cycles "
          f"({t['matmul_cycles']:,} matmul + {t['pool_cycles']:,} pool), "
          f"binary MACs {t['binary_macs_linear'] + t['binary_macs_merge']:,} weight layers + "
          f"{t['binary_macs_attention']:,} attention, utilisation {100 * t['utilisation']:.2f}%, "
          f"{t['latency_ms']:.4g} ms, {t['frames_per_s']:.4g} frames/s at {cfg.clock_mhz:g} MHz "
          f"(model)")
    return 0


def cmd_report(ns) -> int:
    """Write reports/<name>/report.md, report.json and the PNGs."""
    from .common import config_from_args
    from ..cost.report import build_report

    cfg = config_from_args(ns)
    doc = build_report(ns.network, cfg, ns.device, bandwidth_gbps=ns.bandwidth,
                       out_dir=Path(ns.out) if ns.out else None,
                       sim_json=[Path(f) for f in ns.sim_json] if ns.sim_json else None,
                       coeffs=ns.coeffs,
                       command=_command("report", ns, ("bandwidth", "out", "sim_json", "coeffs")))
    t = doc["cost"]["totals"]
    out = Path(ns.out) if ns.out else Path("reports") / doc["network"]
    print(f"{doc['network']} on {cfg.rows}x{cfg.cols}x{cfg.simd} @ {cfg.clock_mhz:g} MHz: "
          f"{t['cycles']:,} cycles/frame, {t['frames_per_s']:.4g} frames/s, utilisation "
          f"{100 * t['utilisation']:.2f}% (model)")
    print(f"wrote {out / 'report.md'}, {out / 'report.json'}, "
          + ", ".join(str(out / p) for p in doc["plots"].values()))
    return 0


def cmd_dse(ns) -> int:
    """Sweep R, C, SIMD on a device; write the Pareto front (JSON + PNG); print the rate."""
    from .common import config_from_args
    from ..cost.dse import run_dse

    base = config_from_args(ns)
    doc = run_dse(ns.network, ns.device, base,
                  rows=range(ns.rows_range[0], ns.rows_range[1] + 1),
                  cols=range(ns.cols_range[0], ns.cols_range[1] + 1), simds=ns.simds,
                  use_fmax=ns.use_fmax, coeffs=ns.coeffs,
                  out_dir=Path(ns.out) if ns.out else None, progress=not ns.quiet,
                  command=_command("dse", ns, ("rows_range", "cols_range", "simds", "use_fmax",
                                               "coeffs", "out")))
    print(f"evaluated {doc['configs']:,} configs in {doc['seconds']:.3f} s = "
          f"{doc['configs_per_s']:,.0f} configs/s; {doc['fit']:,} fit {doc['device']}; "
          f"Pareto front: {len(doc['front'])} configs")
    if doc["scalar_fallback"]:
        print(f"warning: {', '.join(doc['scalar_fallback'])} evaluated config by config (the "
              "vectorized path failed; see hw/cost/dse.py)", file=sys.stderr)
    print(f"{'R':>3} {'C':>3} {'SIMD':>4} {'LUT':>8} {'BRAM':>6} {'clock':>7} {'frames/s':>10}")
    for r in doc["front"]:
        print(f"{r['rows']:>3} {r['cols']:>3} {r['simd']:>4} {r['lut']:>8,} {r['bram']:>6g} "
              f"{r['clock_mhz']:>7.1f} {r['fps']:>10.4g}")
    print("wrote " + ", ".join(doc["files"]))
    return 0


def add_subcommands(sub) -> None:
    """Add ``network``, ``report`` and ``dse`` to an argparse subparsers object."""
    p = sub.add_parser("network", help="per-op and total cycles, utilisation, latency and "
                       "memory of a network on an array config (model)",
                       description=cmd_network.__doc__ + " Ops are traced from the model "
                       "package; cycles come from hw.cost.cycles.")
    _common(p)
    p.add_argument("--bandwidth", type=float, default=1.0, metavar="GBPS",
                   help="off-chip weight bandwidth in GB/s (default 1.0)")
    p.add_argument("--coeffs", help="fitted resource model (default hw/synth/data/resource_model.json)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.set_defaults(func=_guarded(cmd_network))

    p = sub.add_parser("report", help="write reports/<network>/report.md + report.json + PNGs",
                       description=cmd_report.__doc__)
    _common(p, device_required=True)
    p.add_argument("--bandwidth", type=float, default=1.0, metavar="GBPS",
                   help="off-chip weight bandwidth in GB/s (default 1.0)")
    p.add_argument("--out", help="output directory (default reports/<network>)")
    p.add_argument("--sim-json", nargs="+", metavar="FILE",
                   help="RTL sim results of `python -m sim all --json` "
                   "(default reports/sim/*.json)")
    p.add_argument("--coeffs", help="fitted resource model (default hw/synth/data/resource_model.json)")
    p.set_defaults(func=_guarded(cmd_report))

    p = sub.add_parser("dse", help="sweep R, C, SIMD within a device; Pareto front of "
                       "frames/s vs LUT (JSON + PNG)", description=cmd_dse.__doc__ +
                       " Array-config options other than rows/cols/simd set the fixed limits "
                       "and the clock of every swept config.")
    _common(p, device_required=True)
    p.add_argument("--rows-range", type=int, nargs=2, default=(1, 64), metavar=("LO", "HI"),
                   help="R from LO to HI inclusive (default 1 64)")
    p.add_argument("--cols-range", type=int, nargs=2, default=(1, 64), metavar=("LO", "HI"),
                   help="C from LO to HI inclusive (default 1 64)")
    p.add_argument("--simds", type=int, nargs="+", default=None,
                   help="SIMD values (default powers of two from max(8, pool_bits) to 512)")
    p.add_argument("--use-fmax", action="store_true",
                   help="clock each config at the resource model's Fmax (default: --clock-mhz)")
    p.add_argument("--coeffs", help="fitted resource model (default hw/synth/data/resource_model.json)")
    p.add_argument("--out", help="output directory (default reports/<network>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_guarded(cmd_dse))


def _guarded(cmd):
    """``cmd`` with bad input mapped to exit 2 and "does not fit" to exit 3 (message on
    stderr), so the statuses are the same under ``python -m hw`` and this module's main."""
    import functools

    @functools.wraps(cmd)
    def run(ns) -> int:
        from ..config import ConfigError
        from ..cost.devices import DeviceError
        from ..cost.dse import DSEError
        from ..cost.network import NetworkError
        from ..cost.resources import ModelError

        try:
            return cmd(ns)
        except DeviceError as e:
            print(f"error: {e}", file=sys.stderr)
            return 3 if "does not fit" in str(e) else 2
        except DSEError as e:
            print(f"error: {e}", file=sys.stderr)
            return 3 if "fits" in str(e) else 2
        except (NetworkError, ConfigError, ModelError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.cli.cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommands(sub)
    ns = parser.parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
