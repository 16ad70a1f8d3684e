"""Design-space exploration: sweep R, C and SIMD on a device, keep the configs the resource
model says fit, and return the Pareto front of frames/s against LUTs.

Speed without a second formula: the sweep is evaluated with numpy over all (R, C) of one SIMD
at once, by calling the *same* functions as the scalar model -- :func:`hw.cost.cycles.matmul_cycles`
and :func:`hw.cost.cycles.pool_cycles`, :func:`hw.cost.resources.features` -- on a
:class:`ConfigGrid`: ``rows`` and ``cols`` are arrays, ``simd`` an int, ``tile_period`` and
``bank_period`` are :func:`hw.config.tile_period` and :func:`hw.config.bank_period` (which
:meth:`hw.config.ArrayConfig.tile_period` and ``bank_period`` call too), and
the other config values those functions read (:data:`STACKED`: pipeline latencies, widths)
are taken from the real ``ArrayConfig`` of each (R, C) and stacked into arrays, so they may
depend on anything. The formulas are written with operations that work elementwise on arrays
and on ints alike (``np.maximum``, ``np.where``, ``np.log2``, ``//``); a formula numpy cannot
evaluate, or a config value the grid does not stack, is an error, not a silent fallback. Tests
check the vectorized numbers equal the scalar functions on random configs, and that the sweep
reproduces the committed BinaryViT-S result.

The legal-job split (:mod:`hw.cost.network`) depends on the limits and SIMD only, so it is computed
once per SIMD into a table of unique job shapes with counts. Block RAM is counted per config
with :func:`hw.cost.resources.memories` and a cache of :func:`hw.cost.resources.bram_tiles` (few unique
memory shapes), and only for the configs whose LUT, FF and DSP already fit (elsewhere it is NaN:
not evaluated, the config is out anyway).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections import Counter
from dataclasses import replace

import numpy as np

from . import resources as _res
from ..config import ArrayConfig, bank_period, rows_before_first_read, tile_period
from .cycles import frame_cycles, matmul_cycles, pool_cycles
from ..ops import OpKind
from .network import Network, matmul_runs, op_jobs
from .sequence import sequence_cycles
from .utilisation import utilisation


#: The :class:`hw.config.ArrayConfig` properties that :func:`hw.cost.cycles.matmul_cycles`,
#: :func:`hw.cost.cycles.pool_cycles` and :func:`hw.cost.resources.features` read (besides
#: rows, cols, simd, tile_period, bank_period and rows_before_first_read); :class:`ConfigGrid`
#: holds each as an array, one value per (R, C). A formula that starts reading another property
#: fails on the grid with an AttributeError naming it: add it here.
STACKED = ("tile_flush", "result_latency", "job_start_cycles", "load_to_read",
           "pool_start_cycles", "pool_lanes_eff", "pool_min_row_positions", "pool_latency", "pool_register_bits",
           "acc_width", "lane_width", "pe_latency", "drain_rows_eff", "load_rows_eff",
           "skew_register_bits")


def config_at(base: ArrayConfig, rows: int, cols: int, lanes_per_col: int = 1) -> ArrayConfig:
    """``base`` with R x C = ``rows`` x ``cols`` and L = ``lanes_per_col`` x C pool lanes
    (pool_lanes 0, i.e. C, for 1); ConfigError when L is above the result beat's D x C lanes
    (``lanes_per_col`` > min(drain_rows, rows))."""
    return replace(base, rows=int(rows), cols=int(cols),
                   pool_lanes=0 if lanes_per_col == 1 else int(lanes_per_col * cols))


def stacked_properties(base: ArrayConfig, rows, cols, names=STACKED,
                       lanes_per_col: int = 1) -> dict[str, np.ndarray]:
    """``{name: array}`` of the properties ``names`` of the real configs ``base`` with each
    (rows[i], cols[i]) and ``lanes_per_col`` x C pool lanes (every property computed by
    ArrayConfig itself, per config)."""
    cfgs = [config_at(base, r, c, lanes_per_col) for r, c in zip(rows, cols)]
    return {name: np.array([getattr(c, name) for c in cfgs]) for name in names}


class ConfigGrid:
    """The configs ``base`` with (R, C) = (rows[i], cols[i]) and ``lanes_per_col`` x C pool
    lanes: what the cycle and resource formulas read of a config, as arrays (one SIMD and set
    of limits).

    ``rows``, ``cols``: int64 arrays; ``simd``, ``hold_banks``, ``pool_port``, ``core_parts``,
    ``w_buffers``, ``a_buffers`` and the job limits ``max_m``, ``max_n``, ``max_k``: ints
    (the cycle formula loops over the hold banks); the :data:`STACKED` properties: arrays
    from :func:`stacked_properties`; :meth:`tile_period`, :meth:`bank_period`,
    :meth:`rows_before_first_read`: :func:`hw.config.tile_period`,
    :func:`hw.config.bank_period`, :func:`hw.config.rows_before_first_read`.
    Nothing else (no other attribute of ArrayConfig is imitated).
    """

    def __init__(self, base: ArrayConfig, rows, cols, lanes_per_col: int = 1):
        self.rows, self.cols = (np.array(a, dtype=np.int64)
                                for a in np.broadcast_arrays(rows, cols))
        self.simd = base.simd
        self.hold_banks = base.hold_banks
        self.pool_port = base.pool_port
        self.core_parts = base.core_parts
        self.w_buffers = base.w_buffers
        self.a_buffers = base.a_buffers
        self.max_m, self.max_n, self.max_k = base.max_m, base.max_n, base.max_k
        for name, vals in stacked_properties(base, self.rows, self.cols,
                                             lanes_per_col=lanes_per_col).items():
            setattr(self, name, vals)

    def tile_period(self, m_valid, kw):
        return tile_period(self.rows, self.cols, self.drain_rows_eff, m_valid, kw)

    def bank_period(self, m_valid):
        return bank_period(self.rows, self.cols, self.drain_rows_eff, m_valid)

    def rows_before_first_read(self, m, n):
        return rows_before_first_read(self.rows, self.cols, m, n, self.load_rows_eff)


@functools.lru_cache(maxsize=None)
def _tiles(depth: int, width: int, family: str, block: bool) -> float:
    return _res.bram_tiles(depth, width, family, block)


def bram_of(cfg: ArrayConfig, family: str) -> float:
    """:func:`hw.cost.resources.bram_estimate` with the per-memory tile count cached."""
    shapes = Counter((r.depth, r.width, r.block) for r in _res.memories(cfg))
    return sum(n * _tiles(d, w, family, b) for (d, w, b), n in shapes.items())


class ShapeTable:
    """The network's legal jobs for one SIMD and set of limits: unique matmul shapes with
    counts, and the pool jobs (evaluated on the :class:`ConfigGrid` like the matmuls); with
    ``keep_weights`` 1 the matmul ops (each saves :meth:`hw.ops.MatmulOp.weight_reload_cycles`),
    with ``w_buffers`` 2 the streamed sequences (:func:`hw.cost.network.matmul_runs`), as the
    scalar :func:`hw.cost.network.network_cost` counts them."""

    def __init__(self, net: Network, base: ArrayConfig):
        self.base = base
        self.matmul = Counter()
        self.pool = Counter()
        for op in net.ops:
            for job, n in op_jobs(base, op).items():
                if job.kind is OpKind.MATMUL:
                    self.matmul[(job.m, job.n, job.k)] += n
                else:
                    self.pool[(job.planes, job.h, job.w, job.kernel, job.stride,
                               job.padding)] += n
        self.kept_ops = net.matmuls if base.keep_weights else []
        self.runs = ([[shape for _, shape in run] for run in matmul_runs(base, net.ops)]
                     if base.w_buffers == 2 else [])
        self.macs = net.macs()

    def cycles(self, grid: ConfigGrid) -> np.ndarray:
        """Cycles per frame of the network on every config of ``grid`` (:mod:`hw.cost.cycles`;
        with ``pool_port`` the two cores' sums overlap, :func:`~hw.cost.cycles.frame_cycles`)."""
        mm = np.zeros(grid.rows.shape, dtype=np.int64)
        pool = np.zeros(grid.rows.shape, dtype=np.int64)
        if self.runs:
            for run in self.runs:
                mm = mm + sequence_cycles(grid, run)
        else:
            for shape, n in self.matmul.items():
                mm = mm + n * matmul_cycles(grid, *shape)
        for op in self.kept_ops:
            mm = mm - op.weight_reload_cycles(grid)
        for shape, n in self.pool.items():
            pool = pool + n * pool_cycles(grid, *shape)
        return frame_cycles(mm, pool, grid.pool_port)


def predict_vec(grid: ConfigGrid, family: str, model: dict) -> dict:
    """Resource-model prediction (lut, ff, dsp, fmax_mhz) for every config of ``grid``: the
    fitted coefficients times :func:`hw.cost.resources.features`, rounded like
    :func:`hw.cost.resources.predict` (whose output the tests compare it with)."""
    if family not in model:
        raise _res.ModelError(f"no fitted coefficients for family {family!r}; "
                              "run `python -m hw fit`")
    feats = _res.features(grid)
    shape = grid.rows.shape
    out = {}
    for key in ("lut", "ff", "dsp", "fmax_mhz"):
        m = model[family].get(key)
        if m is None:
            out[key] = None
            continue
        val = np.zeros(shape)
        for name, c in zip(m["features"], m["coef"]):
            if name not in feats[key]:
                raise _res.ModelError(f"the fitted coefficients name a {key} feature {name!r} "
                                      "that hw.cost.resources.features no longer has; re-run "
                                      "`python -m hw fit`")
            val = val + c * np.asarray(feats[key][name], dtype=float)
        out[key] = np.round(val, 1) if key == "fmax_mhz" else np.rint(val).astype(np.int64)
    return out


def sweep(net: Network, device, model: dict, rows, cols, simds, base: ArrayConfig,
          use_fmax: bool = False, progress: bool = True, lanes_per_col=(1,),
          hold_banks=None) -> dict:
    """Evaluate every (R, C, SIMD, hold_banks, pool lanes per column F) of the grid:
    pool_lanes L = F x C, only where it fits one result beat (F <= min(drain_rows, R)). Returns
    arrays (one entry per config) and the measured rate. ``base`` gives the limits, the clock
    (``use_fmax``: the model's Fmax) and, unless ``hold_banks`` lists the values to sweep, the
    hold banks."""
    banks_values = [base.hold_banks] if hold_banks is None else [int(b) for b in hold_banks]
    fam = device.family
    R0, C0 = np.meshgrid(np.asarray(rows), np.asarray(cols), indexing="ij")
    R0, C0 = R0.ravel(), C0.ravel()
    fits_beat = [f <= np.minimum(base.drain_rows, R0) for f in lanes_per_col]
    points = [(f, R0[ok], C0[ok]) for f, ok in zip(lanes_per_col, fits_beat)]
    cols_out = {k: [] for k in ("rows", "cols", "simd", "hold_banks", "pool_lanes",
                                "load_rows", "cycles",
                                "lut", "ff",
                                "bram", "dsp", "fmax_mhz", "clock_mhz", "fps", "utilisation",
                                "fits")}
    n_total = sum(len(R) for _, R, _ in points) * len(simds) * len(banks_values)
    done = 0
    t0 = time.perf_counter()
    bar = _Progress(n_total, progress)
    for s in simds:
        table = ShapeTable(net, replace(base, simd=int(s), rows=1, cols=1))
        for nb in banks_values:
            cfg_s = replace(base, simd=int(s), rows=1, cols=1, hold_banks=nb)
            for f, R, C in points:
                for lo in range(0, len(R), 4096):
                    r, c = R[lo:lo + 4096], C[lo:lo + 4096]
                    grid = ConfigGrid(cfg_s, r, c, lanes_per_col=f)
                    cyc = table.cycles(grid)
                    res = predict_vec(grid, fam, model)
                    if res["lut"] is None:
                        raise _res.ModelError(f"the resource model has no LUT coefficients for "
                                              f"{fam}; run `python -m hw fit`")
                    for key in ("ff", "dsp"):   # a resource the model does not fit counts as 0
                        if res[key] is None:
                            res[key] = np.zeros(len(r), dtype=np.int64)
                    logic_fits = ((res["lut"] <= device.lut) & (res["ff"] <= device.ff)
                                  & (res["dsp"] <= device.dsp))
                    # block RAM is counted per config (not vectorized): only where the logic fits
                    bram = np.full(len(r), np.nan)
                    for i in np.flatnonzero(logic_fits):
                        bram[i] = bram_of(config_at(cfg_s, r[i], c[i], f), fam)
                    fmax = (res["fmax_mhz"]
                            if res["fmax_mhz"] is not None and device.can_place_and_route
                            else np.full(len(r), np.nan))
                    clock = fmax if use_fmax else np.full(len(r), float(base.clock_mhz))
                    fps = clock * 1e6 / cyc
                    util = utilisation(table.macs, cyc, r, c, int(s))
                    fits = logic_fits & (bram <= device.bram)
                    if use_fmax:
                        fits &= np.isfinite(clock) & (clock > 0)
                    for k, val in (("rows", r), ("cols", c), ("simd", np.full(len(r), int(s))),
                                   ("hold_banks", np.full(len(r), int(nb))),
                                   ("pool_lanes", f * c),
                                   ("load_rows", grid.load_rows_eff),
                                   ("cycles", cyc), ("lut", res["lut"]),
                                   ("ff", res["ff"]), ("bram", bram), ("dsp", res["dsp"]),
                                   ("fmax_mhz", fmax), ("clock_mhz", clock), ("fps", fps),
                                   ("utilisation", util),
                                   ("fits", fits)):
                        cols_out[k].append(np.asarray(val))
                    done += len(r)
                    bar.update(done)
    elapsed = time.perf_counter() - t0
    bar.close()
    out = {k: np.concatenate(v) for k, v in cols_out.items()}
    out["n"] = n_total
    out["seconds"] = elapsed
    out["rate"] = n_total / elapsed if elapsed > 0 else float("inf")
    return out


def pareto_front(lut: np.ndarray, fps: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of the non-dominated points (fewer LUTs, more frames/s), by increasing LUT.

    A point is dominated when another has lut <= and fps >= with one strict; of exact ties the
    first index is kept.
    """
    idx = np.arange(len(lut)) if mask is None else np.flatnonzero(mask)
    order = idx[np.lexsort((idx, -fps[idx], lut[idx]))]
    front, best = [], -np.inf
    for i in order:
        if fps[i] > best:
            front.append(i)
            best = fps[i]
    return np.array(front, dtype=np.int64)


class _Progress:
    """A one-line progress bar on stderr (silent when disabled or not a long sweep)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.last = total, enabled and total >= 2000, -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        pct = int(100 * done / self.total)
        if pct != self.last:
            self.last = pct
            bar = "#" * (pct // 4)
            print(f"\rdse [{bar:<25}] {pct:3d}% {done}/{self.total}", end="", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr, flush=True)


def default_simds(base: ArrayConfig, top: int = 512) -> list[int]:
    """Powers of two from the smallest SIMD the config allows (>= pool_bits, >= 8) to ``top``."""
    lo = max(8, base.pool_bits)
    return [1 << e for e in range(int(math.log2(lo)), int(math.log2(top)) + 1)]


class DSEError(ValueError):
    """A bad sweep (empty or reversed range, --use-fmax without P&R); says what to do."""


class DSENoFitError(DSEError):
    """No config of the sweep fits the device (``python -m hw``: exit status 3); says by how
    much the smallest one is over."""


#: the ``kind`` field of a DSE JSON (with ``format_version``): marks the file as written by
#: :func:`run_dse`, so a later run may replace it (and a report folder holding it is ours)
DSE_KIND = "bvit-dse"
DSE_FORMAT_VERSION = 1


def is_dse_file(path) -> bool:
    """True when ``path`` is a DSE JSON written by this tool: ``kind`` :data:`DSE_KIND`, or (files
    written before the marker existed) a ``command`` of ``python -m hw dse``."""
    import json
    from pathlib import Path

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    if "kind" in doc:
        return doc["kind"] == DSE_KIND
    return str(doc.get("command", "")).startswith("python -m hw dse ")


def dse_outputs(out_dir, device_name: str):
    """(json, png) paths of the DSE of ``device_name`` under ``out_dir``."""
    from pathlib import Path

    return (Path(out_dir) / f"dse_{device_name}.json", Path(out_dir) / f"dse_{device_name}.png")


def check_dse_outputs(out_dir, device_name: str, what: str = "--out") -> None:
    """OutputError unless the DSE may write its two files into ``out_dir``: the folder can be
    written, and an existing dse_<device>.json / .png is replaced only when the JSON was written
    by this tool."""
    from ..outfiles import OutputError, check_output_path

    check_output_path(out_dir, what)
    jpath, ppath = dse_outputs(out_dir, device_name)
    for p in (jpath, ppath):
        if p.is_dir():
            raise OutputError(f"{what} {out_dir}: {p.name} is a folder; remove it or choose "
                              "another --out")
    if (jpath.exists() or ppath.exists()) and not is_dse_file(jpath):
        raise OutputError(f"{what} {out_dir}: {jpath.name if jpath.exists() else ppath.name} "
                          "exists and was not written by `python -m hw dse`; move it away or "
                          "choose another --out")


def sweep_values(what: str, vals, default) -> list[int]:
    """The swept values of one axis: ``default`` when ``vals`` is None; DSEError for an empty
    axis or values below 1 (an empty range is never replaced by the default)."""
    vals = list(default) if vals is None else [int(v) for v in vals]
    if not vals:
        raise DSEError(f"the {what} sweep is empty; give at least one value")
    if min(vals) < 1:
        raise DSEError(f"the {what} sweep must hold values >= 1, got {min(vals)}")
    return vals


def run_dse(network: str, device: str, base: ArrayConfig, *, rows=None, cols=None, simds=None,
            use_fmax: bool = False, coeffs=None, out_dir, progress: bool = True,
            command: str = "", lanes_per_col=None, hold_banks=None) -> dict:
    """Sweep, write ``dse_<device>.json`` and ``dse_<device>.png`` under ``out_dir`` (created;
    ``python -m hw dse`` passes reports/<network>/; each file whole or not at all, the folder's
    other files untouched), return the JSON document (with the measured rate).

    ``rows``/``cols``/``simds``/``hold_banks``: the values to sweep (None: 1..64, 1..64,
    :func:`default_simds`, ``base.hold_banks``).
    ``lanes_per_col``: pool lanes per column F to sweep, L = F x C where it fits one result beat
    (F <= min(drain_rows, R)); None: (1,), L = C (the JSON then has no pool_lanes fields).
    Raises DSEError for a bad sweep, DSENoFitError when nothing fits, OutputError (before the
    sweep) when ``out_dir`` holds a dse file this tool did not write."""
    import json

    from . import plots
    from ..config import ConfigError
    from ..outfiles import atomic_file
    from .devices import fit_report, get_device
    from .network import load_network

    dev = get_device(device)
    if use_fmax and not dev.can_place_and_route:
        raise DSEError(f"{dev.name} has no Fmax estimate (no open place-and-route for "
                       f"{dev.family}); drop --use-fmax and give --clock-mhz")
    if base.pool_lanes:
        raise DSEError(f"the sweep sets the pool lanes per column (--pool-lanes-per-col), not "
                       f"pool_lanes; drop --pool-lanes {base.pool_lanes}")
    if base.load_rows > 1:
        raise DSEError(f"--load-rows {base.load_rows} does not divide every swept R and C: give "
                       f"--load-rows 0 (the largest power of two dividing each R and C) or 1")
    rows = sweep_values("rows", rows, range(1, 65))
    cols = sweep_values("cols", cols, range(1, 65))
    simds = sweep_values("simd", simds, default_simds(base))
    lanes = sweep_values("pool lanes per column", lanes_per_col, (1,))
    if len(set(lanes)) != len(lanes):
        raise DSEError(f"the pool lanes per column sweep repeats a value: {lanes}")
    most = min(base.drain_rows, max(rows))      # D x C lanes per result beat
    if max(lanes) > most:
        raise DSEError(f"no config of the sweep takes {max(lanes)} pool lanes per column: one "
                       f"result beat holds drain_rows x cols lanes (drain_rows "
                       f"{base.drain_rows}, rows up to {max(rows)}); give values up to {most} "
                       f"or raise --drain-rows")
    for s in simds:   # validate every SIMD once with the real config, at the largest R, C, L
        try:
            config_at(replace(base, simd=int(s)), max(rows), max(cols), max(lanes))
        except ConfigError as exc:
            raise DSEError(f"the sweep holds an invalid config (R={max(rows)}, C={max(cols)}, "
                           f"SIMD={s}): {exc}") from None
    model = _res.load_model(coeffs)["families"]
    check_dse_outputs(out_dir, dev.name)
    net = load_network(network)
    banks = sweep_values("hold_banks", hold_banks, [base.hold_banks])
    for b in banks:
        try:
            replace(base, hold_banks=b)
        except ConfigError as exc:
            raise DSEError(f"the hold_banks sweep holds an invalid value: {exc}") from None
    out = sweep(net, dev, model, rows, cols, simds, base, use_fmax=use_fmax, progress=progress,
                lanes_per_col=lanes, hold_banks=banks)
    fits = out["fits"]
    if not fits.any():
        i = int(np.argmin(out["lut"]))
        cfg = config_at(replace(base, simd=int(out["simd"][i]),
                                hold_banks=int(out["hold_banks"][i])), out["rows"][i],
                        out["cols"][i], out["pool_lanes"][i] // out["cols"][i])
        usage = {"lut": out["lut"][i], "ff": out["ff"][i], "dsp": out["dsp"][i],
                 "bram": bram_of(cfg, dev.family)}
        over = {k: f"{v['used']:.0f} > {v['available']} (over by {v['over']:.0f})"
                for k, v in fit_report(usage, dev).items() if v["over"] > 0}
        raise DSENoFitError(f"no config of the sweep fits {dev.name}; the smallest "
                            f"({cfg.rows}x{cfg.cols}x{cfg.simd}) needs {over}. Shrink the "
                            "memory limits (--max-m/--max-n/--max-k/--pool-row-depth) or pick a "
                            "larger device")
    front = pareto_front(out["lut"], out["fps"], fits)
    keys = ("rows", "cols", "simd", "hold_banks", "lut", "ff", "bram", "dsp", "fmax_mhz",
            "clock_mhz", "cycles", "fps", "utilisation") + (("pool_lanes",) if lanes != [1] else ()) \
        + (("load_rows",) if base.load_rows == 0 else ())

    def rec(i):
        d = {k: out[k][i].item() for k in keys}
        d["fmax_mhz"] = None if d["fmax_mhz"] != d["fmax_mhz"] else d["fmax_mhz"]
        return d

    best = int(front[np.argmax(out["fps"][front])])
    doc = {"kind": DSE_KIND, "format_version": DSE_FORMAT_VERSION,
           "command": command, "network": net.name, "device": dev.name,
           "sources": {"frames_per_s": "model (hw.cost.cycles on the traced op list)",
                       "lut/ff/bram/dsp/fmax": "resource model ("
                       + str(coeffs or "hw/synth/data/resource_model.json") + ")"},
           "limits": {k: v for k, v in base.to_dict().items() if k not in ("rows", "cols",
                                                                           "simd")},
           "clock": "resource-model Fmax per config" if use_fmax else f"{base.clock_mhz} MHz",
           "grid": {"rows": [min(rows), max(rows)], "cols": [min(cols), max(cols)],
                    "simd": simds, "hold_banks": banks} | ({"pool_lanes_per_col": lanes} if lanes != [1] else {}),
           "configs": int(out["n"]), "fit": int(fits.sum()), "seconds": out["seconds"],
           "configs_per_s": out["rate"],
           "front": [rec(int(i)) for i in front],
           "fastest": rec(best)}
    jpath, ppath = dse_outputs(out_dir, dev.name)
    # both files or neither: the PNG is drawn first, the JSON (which marks the pair as ours)
    # is renamed into place first, so a kill between the two renames leaves our JSON
    with atomic_file(ppath, "wb") as png, atomic_file(jpath) as js:
        plots.pareto(out["lut"][fits], out["fps"][fits], out["lut"][front], out["fps"][front],
                     f"{net.name} on {dev.name}: frames/s vs LUT ({int(fits.sum())} of "
                     f"{out['n']} configs fit)", png, lut_cap=dev.lut)
        js.write(json.dumps(doc, indent=1) + "\n")
    doc["files"] = [str(jpath), str(ppath)]
    return doc
