"""The committed synthesis sweeps: which array configs are synthesized on which device.

``python -m hw synth --sweep NAME`` runs one (``all`` runs every one) and writes one JSON line per
config to ``<out_dir>/synth_<NAME>.jsonl`` (the command's default out_dir: ``hw/synth/data``).
Each record carries the ``command`` that reproduces it alone and ``held_out``: held-out records
are never used to fit the resource model (:mod:`hw.cost.resources`); they measure its error.

Memory limits (max_k, max_m, max_n, pool_*) are the ArrayConfig defaults on ECP5/Artix-7 and a
small "iCE40 profile" on iCE40 (the default banks need ~2.5 Mbit of block RAM; an UP5K has 120
kbit). A few configs vary max_k so the accumulator-width terms of the model are identifiable.
A config whose command already has a record in the output file is skipped, so an interrupted
sweep resumes. Each record is appended in one write and fsynced
(:func:`hw.outfiles.append_line`); a last line torn by a killed run is cut off with a warning when
the sweep resumes (its config runs again), and any other line that is not a JSON record stops the
sweep before it starts, naming the file and line. RTL changes are NOT detected this way (each
record carries ``rtl_revision``): after an RTL change, move the files away (or pass a fresh
``--out-dir``) and rerun, so that one sweep file holds one RTL revision (the worker processes
import the RTL once per run); ``--reuse OLD.jsonl`` carries over the records of configs whose
Verilog the change left byte-identical (:mod:`hw.synth.reuse`) instead of running their tools.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .flow import TOOL_TIMEOUT_S
from .yowasp_cache import warm_yowasp_cache


class SweepError(ValueError):
    """An unknown sweep name or --only device (``python -m hw``: exit status 2)."""


#: Small memory limits that fit iCE40 block RAM (pool windows of up to 2 rows at stride 1).
ICE40_PROFILE = dict(max_k=256, max_m=32, max_n=32, pool_max_dim=32, pool_max_planes=32,
                     pool_max_kernel=5, pool_open_rows=2, pool_row_depth=32)

# (rows, cols, simd, extra ArrayConfig fields, held_out)
_ECP5 = [
    (2, 2, 32, {}, False), (4, 4, 32, {}, False), (2, 4, 64, {}, False), (4, 4, 16, {}, False),
    (2, 2, 128, {}, False), (4, 4, 64, {}, False),
    (2, 2, 32, {"max_k": 8192, "max_m": 128, "max_n": 128}, False),
    # twice C pool lanes (the one training point of the pool-lane term of the LUT model)
    (2, 2, 32, {"pool_lanes": 4}, False),
    # eight hold banks (the one training point of the LUT model's term for the banks beyond two)
    (4, 4, 16, {"hold_banks": 8}, False),
    # 64 PEs, the throughput issue's size: without it the Fmax model extrapolated from at most
    # 24 PEs (it estimated 135.8 MHz for 8x8x64, which placed at 95.4; its record is seed 1 of
    # composed_ecp5.jsonl, carried over with --reuse)
    (8, 8, 64, {}, False),
    # held out: never used for fitting
    (3, 5, 32, {"max_m": 256}, True), (6, 4, 16, {}, True), (2, 6, 64, {}, True),
    # held out, the throughput options: four hold banks, twice C pool lanes
    (4, 4, 32, {"hold_banks": 4}, True), (4, 4, 32, {"pool_lanes": 8}, True),
]
#: Artix-7 is synthesis only and synth_xilinx is the slowest flow: a shorter list
_XC7 = [
    (2, 2, 32, {}, False), (4, 4, 32, {}, False), (2, 4, 64, {}, False), (4, 4, 16, {}, False),
    (3, 3, 32, {}, False), (2, 2, 64, {"max_k": 512}, False),
    (3, 5, 32, {}, True), (6, 4, 16, {}, True), (2, 6, 32, {}, True),
]
_ICE40 = [
    (1, 1, 16, {}, False), (1, 2, 16, {}, False), (2, 2, 16, {}, False), (2, 1, 32, {}, False),
    (1, 1, 64, {}, False), (2, 2, 32, {}, False), (1, 3, 32, {}, False), (3, 2, 16, {}, False),
    (1, 1, 32, {"max_k": 1024}, False),
    # held out
    (2, 3, 16, {}, True), (1, 2, 32, {}, True), (3, 1, 32, {}, True),
]

SWEEPS: dict[str, list[tuple[str, int, int, int, dict, bool]]] = {
    "ecp5": [("ecp5-85", r, c, s, x, h) for r, c, s, x, h in _ECP5],
    "xc7": [("xc7a100t", r, c, s, x, h) for r, c, s, x, h in _XC7],
    "ice40": [("ice40-hx8k", r, c, s, {**ICE40_PROFILE, **x}, h) for r, c, s, x, h in _ICE40],
}


def sweep_configs(name: str):
    """[(device, ArrayConfig, held_out)] of a sweep; SweepError listing the valid names."""
    from ..config import ArrayConfig

    if name not in SWEEPS:
        raise SweepError(f"--sweep {name!r}: unknown sweep; valid: {', '.join(SWEEPS)}, all")
    return [(dev, ArrayConfig(rows=r, cols=c, simd=s, **x), h)
            for dev, r, c, s, x, h in SWEEPS[name]]


def _one(dev: str, cfg, held_out: bool, sweep: str, reuse: tuple = (),
         tool_timeout: float = TOOL_TIMEOUT_S) -> dict:
    from .flow import SynthError, config_command, synth_config

    try:
        rec = synth_config(cfg, dev, pnr=dev != "xc7a100t", reuse=reuse, timeout=tool_timeout)
    except SynthError as e:
        rec = {"rows": cfg.rows, "cols": cfg.cols, "simd": cfg.simd, "device": dev,
               "config": cfg.to_dict(), "error": str(e), "command": config_command(cfg, dev)}
    rec["held_out"] = held_out
    rec["sweep"] = f"python -m hw synth --sweep {sweep}"
    return rec


def recorded(path: Path, key=lambda rec: rec["command"]) -> set:
    """``key`` (default: the command) of each record already in ``path`` (failed ones excluded:
    they run again). A torn last line is cut off with a warning on stderr; another bad line is
    an InputFileError."""
    from ..outfiles import InputFileError, read_jsonl, repair_torn_tail

    if not path.exists():
        return set()
    cut = repair_torn_tail(path, "sweep records")
    if cut:
        print(f"warning: {path}: removed a torn last line ({cut} bytes, the partial record of a "
              "killed run); its config runs again", file=sys.stderr)
    done = set()
    for no, rec in enumerate(read_jsonl(path, "sweep records"), 1):
        if "error" in rec:
            continue
        if not isinstance(rec.get("command"), str):
            raise InputFileError(f"sweep records {path}: record {no} has no command; it is not "
                                 "a record of `python -m hw synth`, move the file away")
        done.add(key(rec))
    return done


def _one_on_worker(dev: str, cfg, held_out: bool, sweep: str, reuse: tuple = (),
                   tool_timeout: float = TOOL_TIMEOUT_S) -> dict:
    """:func:`_one` on a Dask worker: the YoWASP cache of that machine is filled first (once;
    concurrent workers wait for the one that compiles it)."""
    warm_yowasp_cache(log=lambda m: None)
    return _one(dev, cfg, held_out, sweep, reuse, tool_timeout)


def run_sweep(name: str, *, out_dir: Path, jobs: int = 2, only: str | None = None,
              scheduler: str | None = None, timeout: float = 10.0,
              sweeps: dict | None = None, reuse: list[dict] | tuple = (),
              tool_timeout: float = TOOL_TIMEOUT_S) -> int:
    """Run sweep ``name`` (or ``all``) with ``jobs`` tool runs at once, appending the records to
    ``out_dir/synth_<name>.jsonl`` (created); returns an exit status.

    ``scheduler``: run the tool runs on Dask instead of local processes: ``"local"`` a
    LocalCluster of ``jobs`` workers, else the address of a running scheduler
    (:mod:`hw.cluster`; ClusterError when it cannot be used). Either way this process alone
    appends the records, in the order the runs finish, each line as a local run writes it, and
    the configs that already have a record are skipped (resumable). ``sweeps`` replaces
    :data:`SWEEPS` (tests). ``reuse``: records of an earlier sweep; a config whose Verilog,
    tools and flags are those of one of them gets that record, carried over to this RTL
    revision, without a tool run (:mod:`hw.synth.reuse`). ``timeout``: seconds to reach the
    scheduler; ``tool_timeout``: seconds per tool run."""
    from tqdm import tqdm

    from ..config import ArrayConfig
    from ..cost.devices import get_device
    from ..outfiles import append_line, check_writable_dir
    from .flow import config_command

    table = SWEEPS if sweeps is None else sweeps
    names = list(table) if name == "all" else [name]
    if name != "all" and name not in table:
        raise SweepError(f"--sweep {name!r}: unknown sweep; valid: {', '.join(table)}, all")
    if only:
        dev_names = {dev for n in names for dev, *_ in table[n]}
        get_device(only)                          # DeviceError listing the valid names
        if only not in dev_names:
            raise SweepError(f"--only {only}: not a device of sweep {name!r} "
                             f"({', '.join(sorted(dev_names))})")
    out_dir = check_writable_dir(out_dir, "--out-dir")   # created with the first record
    todo = []
    for n in names:
        path = out_dir / f"synth_{n}.jsonl"
        done = recorded(path)
        for dev, r, c, simd, extra, held in table[n]:
            cfg = ArrayConfig(rows=r, cols=c, simd=simd, **extra)
            if only and dev != only:
                continue
            command = config_command(cfg, dev, dev != "xc7a100t")
            if command not in done:
                todo.append((n, path, dev, cfg, held,
                             tuple(r for r in reuse if r.get("command") == command)))
    failures = 0
    # the families with P&R and an error target first (iCE40, then ECP5), Artix-7 last; within a
    # family the big configs first so the workers finish together
    prio = {"ice40": 0, "ecp5": 1, "xc7": 2}
    todo.sort(key=lambda t: (prio.get(t[0], 3), -(t[3].rows * t[3].cols * t[3].simd)))

    def take(bar, path, rec):
        path.parent.mkdir(parents=True, exist_ok=True)
        append_line(path, json.dumps(rec))   # one write: whole, or torn and cut on resume
        bar.set_postfix_str(f"{rec['device']} {rec['rows']}x{rec['cols']}x{rec['simd']} "
                            f"lut={rec.get('lut')} fmax={rec.get('fmax_mhz')}")
        bar.update()
        return "error" in rec

    if scheduler is not None:
        failures = _run_dask(todo, name, scheduler, jobs, timeout, take, tool_timeout)
    else:
        warm_yowasp_cache(log=lambda m: print(m, file=sys.stderr))   # before parallel runs
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool, \
                tqdm(total=len(todo), desc=f"synth sweep {name}", unit="cfg",
                     file=sys.stderr) as bar:
            futs = {pool.submit(_one, dev, cfg, held, n, again, tool_timeout): (n, path)
                    for n, path, dev, cfg, held, again in todo}
            for fut in as_completed(futs):
                failures += take(bar, futs[fut][1], fut.result())
    if failures:
        print(f"{failures} config(s) failed; their records carry an 'error' field", file=sys.stderr)
    return 1 if failures else 0


def _run_dask(todo, name: str, scheduler: str, jobs: int, timeout: float, take,
              tool_timeout: float = TOOL_TIMEOUT_S) -> int:
    """The tool runs of ``todo`` as Dask tasks (in ``todo``'s order of priority); ``take``
    appends each record here as it arrives. A task that fails outside the flow (its worker
    died more than ``allowed-failures`` times, say) writes no record, so the config runs again
    on resume; it counts as a failure and is named on stderr. Returns the failure count."""
    from tqdm import tqdm

    from ..cluster import completed, dask_client

    failures = 0
    with dask_client(None if scheduler == "local" else scheduler, workers=max(1, jobs),
                     timeout=timeout) as (client, where), \
            tqdm(total=len(todo), desc=f"synth sweep {name} on {where}", unit="cfg",
                 file=sys.stderr) as bar:
        futs = {}
        for i, (n, path, dev, cfg, held, again) in enumerate(todo):
            fut = client.submit(_one_on_worker, dev, cfg, held, n, again, tool_timeout, pure=False,
                                priority=len(todo) - i, retries=1)
            futs[fut.key] = (fut, path, dev, cfg)
        for fut, rec, why in completed(client, [f for f, *_ in futs.values()]):
            _, path, dev, cfg = futs[fut.key]
            if why is None:
                failures += take(bar, path, rec)
            else:
                print(f"error: {dev} {cfg.rows}x{cfg.cols}x{cfg.simd}: {why}; no record "
                      "written, it runs again when the sweep resumes", file=sys.stderr)
                failures += 1
                bar.update()
    return failures
