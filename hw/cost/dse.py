"""Design-space exploration: sweep R, C and SIMD on a device, keep the configs the resource
model says fit, and return the Pareto front of frames/s against LUTs.

Speed without a second formula: the sweep is evaluated with numpy over all (R, C) of one SIMD
at once, by calling the *same* functions as the scalar model -- :func:`hw.cost.cycles.matmul_cycles`
and :func:`hw.cost.cycles.pool_cycles`, :func:`hw.cost.resources.features` -- on :class:`VecConfig`, a
stand-in for :class:`hw.config.ArrayConfig` whose ``rows`` and ``cols`` are arrays. The two
config helpers that use Python's ``max``/``math`` (``ArrayConfig.tile_period`` and
``resources.features``) are re-bound to numpy equivalents (:func:`_numpy_rebound`): same code
object, numpy globals. Every other config value (pipeline latencies, memory read latencies,
widths) is read from the real ``ArrayConfig`` of each (R, C), so it may depend on anything.
Tests check the vectorized numbers equal the scalar functions on random configs, so a change
on either side cannot drift silently; if numpy cannot evaluate a changed function, the sweep
falls back to the scalar functions config by config (and says so).

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
import types
from collections import Counter
from dataclasses import replace

import numpy as np

from . import resources as _res
from ..config import ArrayConfig
from .cycles import matmul_cycles, pool_cycles
from .network import Network, op_jobs


def _numpy_rebound(func, **overrides):
    """``func`` with the same code and defaults, its module globals with ``overrides``."""
    g = dict(func.__globals__)
    g.update(overrides)
    return types.FunctionType(func.__code__, g, func.__name__, func.__defaults__,
                              func.__closure__)


_np_math = types.SimpleNamespace(log2=np.log2, ceil=np.ceil, floor=np.floor, sqrt=np.sqrt)
_tile_period = _numpy_rebound(ArrayConfig.tile_period, max=np.maximum)


class VecConfig:
    """An ArrayConfig with array-valued ``rows`` and ``cols`` (one SIMD, one set of limits).

    ``rows``, ``cols`` are arrays and ``simd`` a scalar; every other attribute (pipeline
    latencies, bank depths, widths, ...) is read from a real :class:`ArrayConfig` per (R, C)
    -- the real properties, whatever they depend on -- and returned as an array (computed once
    per attribute). ``tile_period`` is ArrayConfig's own code with numpy's ``maximum``.
    """

    def __init__(self, base: ArrayConfig, rows, cols):
        self._base = base
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.simd = base.simd
        self._cfgs = None

    def configs(self) -> list[ArrayConfig]:
        """The real configs, one per (R, C)."""
        if self._cfgs is None:
            self._cfgs = [replace(self._base, rows=int(r), cols=int(c))
                          for r, c in zip(*np.broadcast_arrays(self.rows, self.cols))]
        return self._cfgs

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        vals = np.array([getattr(c, name) for c in self.configs()])
        setattr(self, name, vals)
        return vals

    def tile_period(self, m_valid, kw):
        return _tile_period(self, m_valid, kw)


@functools.lru_cache(maxsize=None)
def _tiles(depth: int, width: int, family: str) -> float:
    return _res.bram_tiles(depth, width, family)


class _Cached:
    """Read-through cache of a config's attributes (its properties are computed once)."""

    def __init__(self, cfg):
        self._cfg = cfg

    def __getattr__(self, name):
        val = getattr(self._cfg, name)
        setattr(self, name, val)
        return val


def bram_of(cfg: ArrayConfig, family: str) -> float:
    """:func:`hw.cost.resources.bram_estimate` with the per-memory tile count cached."""
    shapes = Counter((d, w) for _, d, w in _res.memories(_Cached(cfg)))
    return sum(n * _tiles(d, w, family) for (d, w), n in shapes.items())


_features_np = None


def vec_features(vcfg: VecConfig) -> dict:
    """:func:`hw.cost.resources.features` evaluated on a :class:`VecConfig`."""
    global _features_np
    if _features_np is None:
        _features_np = _numpy_rebound(_res.features, math=_np_math)
    return _features_np(vcfg)


class ShapeTable:
    """The network's legal jobs for one SIMD and set of limits: unique matmul shapes with
    counts, and the pool jobs (their cycles do not depend on R, C: checked in the tests by
    evaluating them on the VecConfig like the matmuls)."""

    def __init__(self, net: Network, base: ArrayConfig):
        self.base = base
        self.matmul = Counter()
        self.pool = Counter()
        for op in net.ops:
            jobs = op_jobs(base, op)
            (self.matmul if op.kind == "matmul" else self.pool).update(jobs)
        self.macs = net.macs()

    def cycles(self, vcfg: VecConfig) -> np.ndarray:
        total = np.zeros(np.broadcast(vcfg.rows, vcfg.cols).shape, dtype=np.int64)
        for shape, n in self.matmul.items():
            total = total + n * matmul_cycles(vcfg, *shape)
        for shape, n in self.pool.items():
            total = total + n * pool_cycles(vcfg, *shape)
        return total


def predict_vec(vcfg: VecConfig, family: str, model: dict) -> dict:
    """Resource-model prediction (lut, ff, dsp, fmax_mhz) for every config of ``vcfg``: the
    fitted coefficients times :func:`hw.cost.resources.features`, rounded like
    :func:`hw.cost.resources.predict` (whose output the tests compare it with)."""
    if family not in model:
        raise _res.ModelError(f"no fitted coefficients for family {family!r}; "
                              "run `python -m hw fit`")
    feats = vec_features(vcfg)
    shape = np.broadcast(vcfg.rows, vcfg.cols).shape
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
          use_fmax: bool = False, progress: bool = True) -> dict:
    """Evaluate every (R, C, SIMD) of the grid. Returns arrays (one entry per config) and the
    measured rate. ``base`` gives the limits and the clock (``use_fmax``: the model's Fmax)."""
    from ..rtl import formats  # noqa: F401  (imported by the legality check; keep it out of the rate)

    fam = device.family
    R, C = np.meshgrid(np.asarray(rows), np.asarray(cols), indexing="ij")
    R, C = R.ravel(), C.ravel()
    cols_out = {k: [] for k in ("rows", "cols", "simd", "cycles", "lut", "ff", "bram", "dsp",
                                "fmax_mhz", "clock_mhz", "fps", "utilisation", "fits")}
    n_total = len(R) * len(simds)
    fallbacks: list[str] = []
    done = 0
    t0 = time.perf_counter()
    bar = _Progress(n_total, progress)
    for s in simds:
        cfg_s = replace(base, simd=int(s), rows=1, cols=1)
        table = ShapeTable(net, cfg_s)
        for lo in range(0, len(R), 4096):
            r, c = R[lo:lo + 4096], C[lo:lo + 4096]
            v = VecConfig(cfg_s, r, c)
            cyc, res = _evaluate(table, v, cfg_s, fam, model, fallbacks)
            if res["lut"] is None:
                raise _res.ModelError(f"the resource model has no LUT coefficients for {fam}; "
                                      "run `python -m hw fit`")
            for key in ("ff", "dsp"):   # a resource the model does not fit counts as 0
                if res[key] is None:
                    res[key] = np.zeros(len(r), dtype=np.int64)
            logic_fits = ((res["lut"] <= device.lut) & (res["ff"] <= device.ff)
                          & (res["dsp"] <= device.dsp))
            # block RAM is counted per config (not vectorized): only where the logic fits
            bram = np.full(len(r), np.nan)
            for i in np.flatnonzero(logic_fits):
                bram[i] = bram_of(replace(cfg_s, rows=int(r[i]), cols=int(c[i])), fam)
            fmax = res["fmax_mhz"] if res["fmax_mhz"] is not None and device.can_place_and_route \
                else np.full(len(r), np.nan)
            clock = fmax if use_fmax else np.full(len(r), float(base.clock_mhz))
            fps = clock * 1e6 / cyc
            util = table.macs / (r * c * int(s) * cyc)
            fits = logic_fits & (bram <= device.bram)
            if use_fmax:
                fits &= np.isfinite(clock) & (clock > 0)
            for k, val in (("rows", r), ("cols", c), ("simd", np.full(len(r), int(s))),
                           ("cycles", cyc), ("lut", res["lut"]), ("ff", res["ff"]),
                           ("bram", bram), ("dsp", res["dsp"]), ("fmax_mhz", fmax),
                           ("clock_mhz", clock), ("fps", fps), ("utilisation", util),
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
    out["scalar_fallback"] = sorted(set(fallbacks))
    return out


def _evaluate(table: ShapeTable, v: VecConfig, cfg_s: ArrayConfig, fam: str, model: dict,
              fallbacks: list) -> tuple[np.ndarray, dict]:
    """Cycles and resources of a block of configs: vectorized, or -- if the scalar functions
    changed in a way numpy cannot evaluate (e.g. a new ``int()`` on a config value) -- one
    config at a time with the scalar functions themselves (slower, same numbers)."""
    try:
        cyc = table.cycles(v)
    except (TypeError, ValueError):
        fallbacks.append("cycles")
        cyc = np.array([sum(n * matmul_cycles(c, *s) for s, n in table.matmul.items())
                        + sum(n * pool_cycles(c, *s) for s, n in table.pool.items())
                        for c in _scalar_configs(v, cfg_s)], dtype=np.int64)
    try:
        res = predict_vec(v, fam, model)
    except (TypeError, ValueError):
        fallbacks.append("resources")
        preds = [_res.predict(c, fam, model) for c in _scalar_configs(v, cfg_s)]
        res = {k: (None if preds[0][k] is None else np.array([p[k] for p in preds]))
               for k in ("lut", "ff", "dsp", "fmax_mhz")}
    return cyc, res


def _scalar_configs(v: VecConfig, cfg_s: ArrayConfig):
    return v.configs()


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
    """Nothing in the sweep fits the device, or a bad sweep range; says by how much/what to do."""


def run_dse(network: str, device: str, base: ArrayConfig, *, rows=None, cols=None, simds=None,
            use_fmax: bool = False, coeffs=None, out_dir=None, progress: bool = True,
            command: str = "") -> dict:
    """Sweep, write ``dse_<device>.json`` and ``dse_<device>.png`` under ``out_dir`` (default
    reports/<network>/), return the JSON document (with the measured rate)."""
    import json
    from pathlib import Path

    from . import plots
    from .devices import fit_report, get_device
    from ..paths import REPORTS_DIR
    from .network import load_network

    dev = get_device(device)
    if use_fmax and not dev.can_place_and_route:
        raise DSEError(f"{dev.name} has no Fmax estimate (no open place-and-route for "
                       f"{dev.family}); drop --use-fmax and give --clock-mhz")
    net = load_network(network)
    model = _res.load_model(coeffs)["families"]
    rows = list(rows or range(1, 65))
    cols = list(cols or range(1, 65))
    simds = list(simds or default_simds(base))
    for what, vals in (("rows", rows), ("cols", cols), ("simd", simds)):
        if not vals or min(vals) < 1:
            raise DSEError(f"--{what} range must hold values >= 1, got {vals[:5]}")
    for s in simds:   # validate every SIMD once with the real config
        replace(base, simd=int(s))
    out = sweep(net, dev, model, rows, cols, simds, base, use_fmax=use_fmax, progress=progress)
    fits = out["fits"]
    if not fits.any():
        i = int(np.argmin(out["lut"]))
        cfg = replace(base, rows=int(out["rows"][i]), cols=int(out["cols"][i]),
                      simd=int(out["simd"][i]))
        usage = {"lut": out["lut"][i], "ff": out["ff"][i], "dsp": out["dsp"][i],
                 "bram": bram_of(cfg, dev.family)}
        over = {k: f"{v['used']:.0f} > {v['available']} (over by {v['over']:.0f})"
                for k, v in fit_report(usage, dev).items() if v["over"] > 0}
        raise DSEError(f"no config of the sweep fits {dev.name}; the smallest "
                       f"({cfg.rows}x{cfg.cols}x{cfg.simd}) needs {over}. Shrink the memory "
                       "limits (--max-m/--max-n/--max-k/--pool-depth) or pick a larger device")
    front = pareto_front(out["lut"], out["fps"], fits)
    keys = ("rows", "cols", "simd", "lut", "ff", "bram", "dsp", "fmax_mhz", "clock_mhz",
            "cycles", "fps", "utilisation")

    def rec(i):
        d = {k: out[k][i].item() for k in keys}
        d["fmax_mhz"] = None if d["fmax_mhz"] != d["fmax_mhz"] else d["fmax_mhz"]
        return d

    best = int(front[np.argmax(out["fps"][front])])
    doc = {"command": command, "network": net.name, "device": dev.name,
           "sources": {"frames_per_s": "model (hw.cost.cycles on the traced op list)",
                       "lut/ff/bram/dsp/fmax": "resource model ("
                       + str(coeffs or "hw/synth/data/resource_model.json") + ")"},
           "limits": {k: v for k, v in base.to_dict().items() if k not in ("rows", "cols",
                                                                           "simd")},
           "clock": "resource-model Fmax per config" if use_fmax else f"{base.clock_mhz} MHz",
           "grid": {"rows": [min(rows), max(rows)], "cols": [min(cols), max(cols)],
                    "simd": simds},
           "configs": int(out["n"]), "fit": int(fits.sum()), "seconds": out["seconds"],
           "configs_per_s": out["rate"], "scalar_fallback": out["scalar_fallback"],
           "front": [rec(int(i)) for i in front],
           "fastest": rec(best)}
    out_dir = Path(out_dir or REPORTS_DIR / net.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / f"dse_{dev.name}.json"
    jpath.write_text(json.dumps(doc, indent=1) + "\n")
    plots.pareto(out["lut"][fits], out["fps"][fits], out["lut"][front], out["fps"][front],
                 f"{net.name} on {dev.name}: frames/s vs LUT ({int(fits.sum())} of "
                 f"{out['n']} configs fit)", out_dir / f"dse_{dev.name}.png", lut_cap=dev.lut)
    doc["files"] = [str(jpath), str(out_dir / f"dse_{dev.name}.png")]
    return doc
