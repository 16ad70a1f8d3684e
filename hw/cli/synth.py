"""synthesize (yosys) and place-and-route (nextpnr) one array config; print one JSON line

  python -m hw synth --device DEV [--rows R --cols C --simd S ...] [--no-pnr] [--keep DIR]
  python -m hw synth --sweep NAME [--only DEV] [--jobs J] [--out-dir DIR] [--scheduler ADDRESS]
  python -m hw synth --rerun FILE [--rerun FILE ...] --out-dir DIR [--jobs J] [--reuse FILE]
  python -m hw synth --replace FILE [--replace FILE ...] --from DIR

Synthesize the array for a device and print one JSON line: lut, ff, carry, bram, dsp (yosys cell
counts), fmax_mhz (nextpnr), cells, tools, flags and the command, plus fits and the utilisation.
With --sweep NAME: run a committed config sweep (hw/synth/sweep.py) and write
synth_NAME.jsonl under --out-dir (default hw/synth/data). With --scheduler the tool runs go to
Dask workers instead of local processes: ADDRESS is a running scheduler (tcp://HOST:PORT; start
it with `dask scheduler` and workers with `dask worker ADDRESS --nthreads 1` in checkouts of this
revision, see hw/cluster.py) or `local` (a local cluster of --jobs workers). This process still
appends every record, one whole line each, exactly as a local sweep does, and skips the configs
already recorded (resumable). With --rerun FILE: measure every record of FILE again at this RTL
revision (its config, device, component, P&R, nextpnr seed, frequency and router: after an RTL
change) into DIR/<the same file name>, resumable (hw/synth/rerun.py); review them, then
--replace FILE --from DIR puts each new record in place of the one it measured again, in FILE's
order, keeping the records without a rerun (hw/synth/replace.py); FILE is written whole or not
at all.

Exit status: 0 ok, 2 bad input (unknown device, invalid config), 3 the config does not fit the
device (the JSON line is still printed, the reason goes to stderr), 1 a tool failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..paths import SYNTH_DATA_DIR
from .common import (UsageError, add_config_args, add_device_arg, check_fit, config_from_args,
                     positive_float, print_record)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..synth.flow import ROUTERS, TOOL_TIMEOUT_S

    add_config_args(p)
    add_device_arg(p)
    p.add_argument("--no-pnr", action="store_true", help="synthesis only, no nextpnr (fmax null)")
    p.add_argument("--freq", type=positive_float, default=None,
                   help="nextpnr target MHz (default per device: ECP5 200, iCE40 100)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placer seed (default 1)")
    p.add_argument("--router", choices=ROUTERS, default=None,
                   help="nextpnr router (default: nextpnr's own, router1, as every record "
                        "without it in its flags); the record's flags spell it")
    p.add_argument("--tmg-ripup", action="store_true",
                   help="nextpnr --tmg-ripup: router1 rips up and reroutes the arcs of paths that "
                        "miss the --freq target once all are routed (off in every record "
                        "without it in its flags); the record's flags spell it")
    p.add_argument("--placer-timing-weight", type=int, default=None, metavar="W",
                   help="nextpnr --placer-heap-timingweight W: the HeAP placer's weight of "
                        "critical connections (nextpnr's default 10, as every record without it "
                        "in its flags); the record's flags spell it")
    p.add_argument("--replicate-fanout", type=int, default=None, metavar="N",
                   help="ECP5: place once, then give every net with more than N loads one "
                        "driver copy per cluster of at most N placed loads before the measured "
                        "P&R (nextpnr has no register replication; hw/synth/replicate.py); "
                        "the record's flags spell it")
    p.add_argument("--timeout", type=positive_float, default=TOOL_TIMEOUT_S,
                   help="seconds per tool run, for one config, --sweep and --rerun alike "
                        f"(default {TOOL_TIMEOUT_S}: router1 on a 50k-LUT ECP5 config takes "
                        "over an hour)")
    p.add_argument("--component", choices=("top", "array"), default="top",
                   help="what to synthesize: the whole accelerator (default) or the systolic "
                   "array alone (to see the array's own Fmax)")
    p.add_argument("--keep", metavar="DIR", help="keep Verilog, netlists and logs in DIR")
    p.add_argument("--append", metavar="FILE", help="also append the record to a .jsonl FILE")
    p.add_argument("--reuse", metavar="FILE", action="append", default=[],
                   help="records (.jsonl) of earlier runs: a config whose Verilog is "
                        "byte-identical, with the same tools and flags, gets its record carried "
                        "over to this RTL revision instead of a tool run (repeatable)")
    p.add_argument("--sweep", metavar="NAME",
                   help="run the named sweep instead (hw/synth/sweep.py)")
    p.add_argument("--only", metavar="DEVICE", help="with --sweep: only this device")
    p.add_argument("--rerun", metavar="FILE", action="append", default=[],
                   help="measure every record of this .jsonl again at this RTL revision, into "
                        "--out-dir (repeatable)")
    p.add_argument("--rerun-core", type=int, choices=(0, 1), default=None, metavar="N",
                   help="with --rerun: only the records of this core (core_parts N: 1 built from "
                        "parts, 0 the single-module core); the other core's records are left "
                        "out of --out-dir, so --replace keeps them as committed")
    p.add_argument("--replace", metavar="FILE", action="append", default=[],
                   help="put the reviewed rerun records of --from DIR in place of this .jsonl's "
                        "records of the same measurement, in its order; records without a rerun "
                        "are kept (repeatable)")
    p.add_argument("--from", dest="from_dir", metavar="DIR", default=None,
                   help="with --replace: the --out-dir of the rerun")
    p.add_argument("--jobs", "-j", type=int, default=2,
                   help="with --sweep or --rerun: parallel tool runs")
    p.add_argument("--out-dir", default=None,
                   help=f"with --sweep: where to write (default {SYNTH_DATA_DIR}); with --rerun "
                        "(required): a folder other than the records'")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="with --sweep: run on Dask, a running scheduler tcp://HOST:PORT or "
                   "`local` (a local cluster of --jobs workers)")
    p.add_argument("--connect-timeout", type=positive_float, default=10.0,
                   help="with --scheduler: seconds to wait for the scheduler and a worker")


def _check_pnr_option(ns, flag: str, value: int | None, least: int, unit: str) -> None:
    """Refuse a place-and-route option of one config (``flag``, given as ``value``) with a
    rerun, a sweep or ``--no-pnr``, or below ``least``."""
    if value is None:
        return
    if ns.rerun or ns.sweep:
        raise UsageError(f"{flag} goes with one config (a rerun repeats each record's own "
                         "flags, a sweep uses the default flow)")
    if value < least:
        raise UsageError(f"{flag} must be >= {least}{unit}, got {value}")
    if ns.no_pnr:
        raise UsageError(f"{flag} with --no-pnr: nothing is placed and routed; drop one")


def run(ns) -> int:
    from ..config import check_elaboration
    from ..cost.devices import get_device
    from ..outfiles import append_line, check_output_path, read_jsonl
    from ..synth.flow import reporting, synth_config
    from ..synth.progress import StatusLine

    reuse = [rec for path in ns.reuse for rec in read_jsonl(path, "--reuse")]
    if ns.router is not None and (ns.rerun or ns.sweep):
        raise UsageError("--router goes with one config (a rerun repeats each record's own "
                         "router, a sweep uses nextpnr's default)")
    if ns.router is not None and ns.no_pnr:
        raise UsageError("--router with --no-pnr: nothing is placed and routed; drop one")
    if ns.tmg_ripup and (ns.rerun or ns.sweep):
        raise UsageError("--tmg-ripup goes with one config (a rerun repeats each record's own "
                         "flags, a sweep uses nextpnr's defaults)")
    if ns.tmg_ripup and ns.no_pnr:
        raise UsageError("--tmg-ripup with --no-pnr: nothing is placed and routed; drop one")
    if ns.tmg_ripup and ns.router == "router2":
        raise UsageError("--tmg-ripup is router1's option; with --router router2 drop it")
    _check_pnr_option(ns, "--placer-timing-weight", ns.placer_timing_weight, 1, "")
    _check_pnr_option(ns, "--replicate-fanout", ns.replicate_fanout, 2, " loads")
    if ns.replace or ns.from_dir is not None:
        from ..synth.replace import replace_records

        if ns.from_dir is None or not ns.replace:
            raise UsageError("--replace FILE and --from DIR go together: the records to replace "
                             "and the --out-dir of their rerun")
        if ns.rerun or ns.sweep or ns.scheduler:
            raise UsageError("--replace runs alone: drop --rerun / --sweep / --scheduler")
        return replace_records(ns.replace, Path(ns.from_dir))
    if ns.rerun:
        from ..synth.rerun import rerun_records

        if ns.sweep or ns.scheduler:
            raise UsageError("--rerun runs locally and alone: drop --sweep / --scheduler")
        if ns.out_dir is None:
            raise UsageError("--rerun needs --out-dir DIR (a folder other than the records'; "
                             "review the new records, then --replace FILE --from DIR)")
        return rerun_records(ns.rerun, out_dir=Path(ns.out_dir), jobs=ns.jobs, reuse=reuse,
                             tool_timeout=ns.timeout, core_parts=ns.rerun_core)
    if ns.rerun_core is not None:
        raise UsageError("--rerun-core goes with --rerun FILE: it picks which records to measure "
                         "again")
    if ns.sweep:
        from ..synth.sweep import run_sweep

        from ..cluster import ClusterError, parse_address

        if ns.jobs < 1:
            raise UsageError(f"--jobs {ns.jobs}: give 1 or more parallel tool runs")
        try:
            if ns.scheduler not in (None, "local"):
                parse_address(ns.scheduler)
            return run_sweep(ns.sweep, jobs=ns.jobs, only=ns.only,
                             out_dir=Path(ns.out_dir or SYNTH_DATA_DIR),
                             scheduler=ns.scheduler, timeout=ns.connect_timeout,
                             reuse=reuse, tool_timeout=ns.timeout)
        except ClusterError as exc:
            raise UsageError(str(exc)) from None
    if ns.scheduler is not None:
        raise UsageError("--scheduler goes with --sweep NAME (one config runs here)")
    dev = get_device(ns.device)
    if ns.replicate_fanout is not None and dev.family != "ecp5":
        raise UsageError(f"--replicate-fanout is an ECP5 P&R pass; {dev.name} is "
                         f"{dev.family}: drop it")
    cfg = config_from_args(ns)
    check_elaboration(cfg)
    # output paths before the tools run (minutes)
    if ns.keep:
        check_output_path(ns.keep, "--keep")
    if ns.append:
        check_output_path(ns.append, "--append", folder=False)
        if Path(ns.append).exists():
            torn: list = []
            read_jsonl(ns.append, "--append", torn=torn)   # a JSONL of records, or an error
            if torn:
                raise UsageError(f"--append {ns.append}: its last line {torn[0][0]} is a torn "
                                 "record (a killed run); delete that line, then rerun")
    status_line = StatusLine(sys.stderr)  # where the tools are, on stderr (minutes to hours)
    try:
        with reporting(status_line):
            rec = synth_config(cfg, dev, pnr=not ns.no_pnr,
                               workdir=Path(ns.keep) if ns.keep else None, freq_mhz=ns.freq,
                               seed=ns.seed, router=ns.router, tmg_ripup=ns.tmg_ripup,
                               timing_weight=ns.placer_timing_weight,
                               replicate=ns.replicate_fanout, timeout=ns.timeout,
                               component=ns.component,
                               reuse=reuse)   # SynthError: exit 1 (hw/__main__.py)
    finally:
        status_line.done()
    status = check_fit(rec, dev)
    if ns.append:
        append_line(ns.append, json.dumps(rec))   # one write: the whole line or a torn one
    print_record(rec)
    return status
