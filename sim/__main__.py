"""``python -m sim``: cocotb simulations of the generated Verilog.

  python -m sim array --rows R --cols C --simd S --m M --n N --k K [--mode xnor|and] [--seed S]
                      [--simulator icarus|verilator]     one random job, one JSON line
  python -m sim all --golden DIR [--no-random] [--json OUT]
                      every op of a golden manifest + the random edge-shape suite, a table,
                      "N passed, 0 failed"; exit 1 on any mismatch
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hw.cli.common import add_config_args, config_from_args
from hw.config import ConfigError
from hw.cost.cycles import job_cycles
from hw.rtl.formats import check_job
from hw.jobs import JobError, load_job, read_manifest


def _sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--seed", type=int, default=1, help="random data and stall seed")
    p.add_argument("--idle-prob", type=float, default=0.0,
                   help="chance per beat that the input tvalid stays low a cycle")
    p.add_argument("--stall-prob", type=float, default=0.0,
                   help="chance per cycle that the output tready is low")
    p.add_argument("--fault", default=None, help="build a deliberately broken variant "
                   "(xor, kpad, acc_short, skew) to see the scoreboard fail")


def cmd_array(args) -> int:
    from sim.runner import run_jobs
    from sim.suite import random_matmul

    cfg = config_from_args(args)
    job = random_matmul(f"random_{args.mode}_{args.m}x{args.n}x{args.k}", args.mode, args.m,
                        args.n, args.k, args.seed)
    check_job(cfg, job)
    with tempfile.TemporaryDirectory(prefix="bvit_job_") as tmp:
        path = Path(tmp) / "job.npz"
        job.save(path)
        t0 = time.time()
        row = run_jobs(cfg, [path], fault=args.fault, simulator=args.simulator, seed=args.seed,
                       idle_prob=args.idle_prob, stall_prob=args.stall_prob,
                       expect_fail=args.fault is not None)[0]
        wall = time.time() - t0
    row.pop("file", None)
    row.update({"predicted_cycles": job_cycles(cfg, job), "simulator": args.simulator,
                "wall_s": round(wall, 2), "config": cfg.to_dict()})
    print(json.dumps(row))
    return 0 if row["passed"] else 1


def _fmt_shape(row) -> str:
    s = row["shape"]
    if row["kind"] == "matmul":
        return f"{s['m']}x{s['n']}x{s['k']}"
    k, st, pd = s["kernel"], s["stride"], s["padding"]
    return f"{s['planes']}x{s['h']}x{s['w']} k{k[0]}x{k[1]} s{st[0]}x{st[1]} p{pd[0]}x{pd[1]}"


def cmd_all(args) -> int:
    from sim.runner import run_parallel
    from sim.suite import edge_suite, save_jobs

    cfg = config_from_args(args)
    paths = []
    if args.golden is not None:
        ops = read_manifest(args.golden)
        paths += [op["path"] for op in ops]
    with tempfile.TemporaryDirectory(prefix="bvit_suite_") as tmp:
        if not args.no_random:
            paths += [str(p) for p in save_jobs(edge_suite(cfg, args.seed), tmp)]
        if not paths:
            raise SystemExit("nothing to simulate: give --golden DIR and/or drop --no-random")
        # every job loads, validates and fits the config before any simulation starts
        jobs = [load_job(p) for p in paths]
        for job in jobs:
            check_job(cfg, job)
        print(f"simulating {len(paths)} jobs on {args.simulator} "
              f"(R={cfg.rows} C={cfg.cols} SIMD={cfg.simd}), {args.workers} processes ...",
              flush=True)
        t0 = time.time()
        rows = run_parallel(cfg, paths, workers=args.workers, simulator=args.simulator,
                            seed=args.seed, idle_prob=args.idle_prob,
                            stall_prob=args.stall_prob, fault=args.fault)
        wall = time.time() - t0
    for row, job in zip(rows, jobs):
        row["predicted_cycles"] = job_cycles(cfg, job)
    w = max(len(r["op"]) for r in rows)
    print(f"{'op':<{w}}  {'kind':<6} {'shape':<28} {'outputs':>8} {'mismatch':>8} "
          f"{'cycles':>9} {'model':>9}")
    for r in rows:
        print(f"{r['op']:<{w}}  {r['kind']:<6} {_fmt_shape(r):<28} {r['outputs']:>8} "
              f"{r['mismatches']:>8} {r['cycles'] if r['cycles'] is not None else '-':>9} "
              f"{r['predicted_cycles']:>9}" + (f"  ERROR {r['error']}" if r["error"] else ""))
    passed = sum(r["passed"] for r in rows)
    failed = len(rows) - passed
    if args.json:
        Path(args.json).write_text(json.dumps({"config": cfg.to_dict(), "rows": rows,
                                               "wall_s": wall}, indent=1))
    print(f"{passed} passed, {failed} failed  ({wall:.1f} s simulation)")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("array", help="simulate one random matmul job, print one JSON line")
    add_config_args(p)
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--mode", choices=("xnor", "and"), default="xnor")
    _sim_args(p)
    p.set_defaults(func=cmd_array)

    p = sub.add_parser("all", help="golden manifest + random edge suite, table, pass/fail")
    add_config_args(p)
    p.add_argument("--golden", type=Path, default=None,
                   help="golden directory with manifest.json (from `python -m model export`)")
    p.add_argument("--no-random", action="store_true", help="skip the random edge-shape suite")
    p.add_argument("--workers", type=int, default=2, help="parallel simulator processes")
    p.add_argument("--json", default=None, help="also write every result row to this file")
    _sim_args(p)
    p.set_defaults(func=cmd_all)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, JobError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
