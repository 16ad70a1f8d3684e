"""Cost report of a network on an array config and a device: ``reports/<name>/report.md``,
``report.json`` and PNG plots.

Every number carries its source:

- *model*: the analytical cycle model (:mod:`hw.cost.cycles`) on the op list traced from the model
  package (:mod:`hw.cost.network`);
- *resource model*: :func:`hw.cost.resources.estimate` with the fitted coefficients in
  ``hw/synth/data/resource_model.json`` (``python -m hw fit``);
- *synthesis*: the committed records ``hw/synth/data/synth_*.jsonl`` (``python -m hw synth``);
- *RTL sim*: per-job cycles measured by ``python -m sim all --json FILE``;
- *assumption*: the off-chip bandwidth (:data:`hw.cost.memory_bound.DEFAULT_BANDWIDTH` unless
  given) and what crosses the chip boundary (:mod:`hw.cost.memory_bound`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import ArrayConfig, config_flags
from .devices import check_fits, fit_report, get_device
from ..outfiles import (InputFileError, OutputError, atomic_dir, carry_over, check_output_path,
                        read_json)
from ..paths import REPO, SIM_RESULTS_DIR as SIM_DIR
from .memory_bound import REPORT_BATCHES, Bandwidth, batch_table, check_batch, memory_bound_cost
from .network import (device_memory, load_network, network_cost, require_fit)

#: the ``kind`` field of report.json (with ``format_version``): marks a folder as a report
#: written by :func:`build_report`, which a later run may replace
REPORT_KIND = "bvit-cost-report"
REPORT_FORMAT_VERSION = 1
#: the files a report writes (a later report of the same folder replaces them; every other
#: file of the folder, such as the DSE's dse_<device>.json/.png, is kept)
REPORT_FILES = ("report.json", "report.md", "cycles_breakdown.png", "throughput_vs_size.png",
                "lut_vs_synthesis.png", "device_utilisation.png")


def _report_doc(path: Path) -> dict | None:
    """report.json of this tool in folder ``path`` (marked with :data:`REPORT_KIND`, or written
    before the marker existed: its ``command`` is ``python -m hw report``), else None."""
    try:
        doc = json.loads((Path(path) / "report.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    if "kind" in doc:
        return doc if doc["kind"] == REPORT_KIND else None
    return doc if str(doc.get("command", "")).startswith("python -m hw report ") else None


def is_report_dir(path) -> bool:
    """True when folder ``path`` was written by this tool: it holds our report.json, or only the
    DSE's files (dse_<device>.json marked as ours and its .png)."""
    from .dse import is_dse_file

    path = Path(path)
    if _report_doc(path) is not None:
        return True
    entries = list(path.iterdir())
    return bool(entries) and all(
        e.is_file() and e.name.startswith("dse_") and (
            (e.suffix == ".json" and is_dse_file(e))
            or (e.suffix == ".png" and is_dse_file(e.with_suffix(".json"))))
        for e in entries)


def check_report_dir(out_dir, what: str = "--out") -> Path:
    """OutputError (before any work) unless ``out_dir`` can receive a report: it can be written
    and is absent, empty or a folder this tool wrote (:func:`is_report_dir`)."""
    if Path(out_dir).is_symlink():   # replace the folder it points to, not the link
        out_dir = Path(out_dir).resolve()
    out_dir = check_output_path(out_dir, what)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_report_dir(out_dir):
        raise OutputError(f"{what} {out_dir} exists, is not empty and holds no report of "
                          "`python -m hw report`; choose another folder or empty it yourself")
    return out_dir


def _carry_over(old: Path, new: Path) -> None:
    """Give the new report folder ``new`` every entry of the old folder ``old`` that is not a
    report file (the DSE's files, anything a user put there): :func:`hw.outfiles.carry_over`."""
    if not old.is_dir():
        return
    prev = _report_doc(old) or {}
    carry_over(old, new, set(REPORT_FILES) | {str(v) for v in (prev.get("plots") or {}).values()})


def op_category(name: str, kind: str) -> str:
    """Category of an op for the breakdown: its name without stage/block/image/head indices
    (``stages.1.blocks.0.attn.b0.h1.scores`` -> ``attn.scores``)."""
    short = re.sub(r"^stages\.\d+\.(blocks\.\d+\.)?", "", name)
    short = re.sub(r"\.b\d+\.h\d+", "", short)
    return short


def breakdown(cost: dict) -> dict[str, dict]:
    """Cycles, MACs and op count per category, largest first."""
    agg = defaultdict(lambda: {"ops": 0, "jobs": 0, "cycles": 0, "macs": 0, "kind": ""})
    for row in cost["ops"]:
        a = agg[op_category(row["name"], row["kind"])]
        a["ops"] += 1
        a["jobs"] += row["jobs"]
        a["cycles"] += row["cycles"]
        a["macs"] += row["macs"]
        a["kind"] = row["kind"]
    return dict(sorted(agg.items(), key=lambda kv: -kv[1]["cycles"]))


def resource_estimate(cfg: ArrayConfig, device, coeffs=None) -> tuple[dict | None, str]:
    """(estimate record or None, note). None with the reason when the committed fitted model
    does not exist; a named ``coeffs`` file must exist (InputFileError) and be a model."""
    from .resources import ModelError, estimate, load_model

    if coeffs is not None:
        if not Path(coeffs).is_file():
            raise InputFileError(f"--coeffs {coeffs}: no such file; give the model written by "
                                 "`python -m hw fit`")
        load_model(coeffs)      # ModelError / InputFileError naming the file: not a note
    try:
        return estimate(cfg, device, coeffs_path=coeffs), "resource model"
    except ModelError as exc:
        return None, str(exc).replace(str(REPO) + "/", "")


def synthesis_points(device, coeffs=None) -> tuple[list[dict], str | None]:
    """Committed synthesis records of ``device``'s family with the model's estimate and FINN-R,
    and the held-out error table (markdown) when a fitted model exists."""
    from .resources import (ModelError, error_rows, error_table, finn_r_lut, load_model,
                            load_records, predict)

    all_recs = load_records()
    recs = [r for r in all_recs if get_device(r["device"]).family == device.family]
    try:
        model = load_model(coeffs)["families"]
    except ModelError:
        model = None
    points = []
    for r in recs:
        cfg = ArrayConfig.from_dict(r["config"])
        est = predict(cfg, device.family, model)["lut"] if model and device.family in model \
            else None
        points.append({"device": r["device"], "config": f"{cfg.rows}x{cfg.cols}x{cfg.simd}",
                       "lut": r["lut"], "lut_est": est, "finn_r_lut": finn_r_lut(cfg),
                       "held_out": bool(r.get("held_out"))})
    table = None
    if model and recs:
        rows = error_rows(all_recs, model)
        table = error_table(rows) if rows else None
    return points, table


def fmax_vs_size(dev) -> list[dict]:
    """Nextpnr Fmax of every committed synthesis record on this device, whole accelerator
    (``hw/synth/data/synth_*.jsonl``) and array alone (``hw/synth/data/fmax_array_*.jsonl``), by size."""
    from ..paths import SYNTH_DATA_DIR as DATA_DIR

    from ..outfiles import read_jsonl

    rows = []
    for path in sorted(DATA_DIR.glob("synth_*.jsonl")) + sorted(DATA_DIR.glob("fmax_array_*.jsonl")):
        for rec in read_jsonl(path, "synthesis records"):
            if rec.get("device") == dev.name and rec.get("fmax_mhz") and "error" not in rec:
                rows.append({"rows": rec["rows"], "cols": rec["cols"], "simd": rec["simd"],
                             "pes": rec["rows"] * rec["cols"],
                             "max_k": rec.get("config", {}).get("max_k"),
                             "component": rec.get("component", "top"),
                             "fmax_mhz": rec["fmax_mhz"], "file": f"hw/synth/data/{path.name}"})
    return sorted(rows, key=lambda r: (r["component"] != "top", r["pes"], r["simd"]))


def measured_clocks(cfg: ArrayConfig, dev, cycles_per_frame: int) -> list[dict]:
    """The committed place-and-route records of exactly ``cfg`` (the whole accelerator) on
    ``dev``, one entry per nextpnr flow (router and options: :func:`hw.synth.seeds.seed_spreads`):
    the Fmax of each seed, the minimum, median and maximum, the record files, and the frames/s of a frame
    of ``cycles_per_frame`` at the minimum (the clock every placement closed)."""
    from ..paths import SYNTH_DATA_DIR as DATA_DIR
    from ..synth.seeds import seed_spreads

    out = []
    for g in seed_spreads(DATA_DIR / "*.jsonl", dev.name):
        if ArrayConfig.from_dict(g.config) != cfg:
            continue
        s = g.summary()
        out.append({"router": g.flow, "rtl_revision": g.rtl_revision,
                    "seeds": {r.seed: r.fmax_mhz for r in g.runs},
                    "min_mhz": s["min"], "median_mhz": s["median"], "max_mhz": s["max"],
                    "files": sorted({f"hw/synth/data/{r.source}" for r in g.runs}),
                    "frames_per_s_at_min": s["min"] * 1e6 / cycles_per_frame})
    return out


def rtl_check(path: Path, what: str = "RTL sim results") -> dict | None:
    """Measured (RTL sim) vs model cycles of every job in a ``python -m sim all --json`` file;
    the model side is recomputed here from the shape and the file's config. None when the file
    does not exist; InputFileError naming the file (as ``what``) when it is not such a file."""
    from .cycles import matmul_cycles, pool_cycles

    path = Path(path)
    if not path.exists():
        return None
    doc = read_json(path, what)
    try:
        cfg = ArrayConfig.from_dict(doc["config"])
        rows = []
        for i, r in enumerate(doc["rows"]):
            s = r["shape"]
            if r["kind"] == "matmul":
                model = matmul_cycles(cfg, s["m"], s["n"], s["k"])
            elif r["kind"] == "pool":
                model = pool_cycles(cfg, s["planes"], s["h"], s["w"], s["kernel"], s["stride"],
                                    s["padding"])
            else:
                raise ValueError(f"row {i} has kind {r['kind']!r}, not matmul or pool")
            cyc = r.get("cycles")
            if cyc is not None and (isinstance(cyc, bool) or not isinstance(cyc, int)):
                raise ValueError(f"row {i} has cycles {cyc!r}, not an integer")
            rows.append({"op": str(r["op"]), "kind": r["kind"], "measured": cyc,
                         "model": model, "passed": r.get("passed")})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"no field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputFileError(f"{what} {path}: not a `python -m sim all --json` result "
                             f"({reason}); regenerate it with `python -m sim all --json "
                             f"{path}`") from None
    measured = [r for r in rows if r["measured"] is not None]
    return {"file": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
            "config": cfg.to_dict(), "jobs": len(rows), "measured": len(measured),
            "exact": sum(r["measured"] == r["model"] for r in measured),
            "max_abs_diff": max((abs(r["measured"] - r["model"]) for r in measured), default=None),
            "rows": rows}


def throughput_series(net, cfg: ArrayConfig) -> dict[int, tuple[list, list]]:
    """frames/s of square arrays (R = C = 1, 2, 4, ... 64) for SIMD/2, SIMD, 2*SIMD (model,
    vectorized like the DSE)."""
    from ..config import ConfigError
    from .dse import ConfigGrid, ShapeTable

    sides = np.array([1, 2, 4, 8, 16, 32, 64])
    out = {}
    for s in (cfg.simd // 2, cfg.simd, cfg.simd * 2):
        try:
            base = replace(cfg, simd=s, rows=1, cols=1)
        except ConfigError:
            continue
        cyc = ShapeTable(net, base).cycles(ConfigGrid(base, sides, sides))
        out[s] = ((sides * sides).tolist(), (cfg.clock_mhz * 1e6 / cyc).tolist())
    return out


def offchip_summary(net, cfg: ArrayConfig, cost: dict, bandwidth: Bandwidth | None, batch: int,
                    fmax_mhz: float | None, fmax_source: str) -> dict:
    """The report's off-chip section (:mod:`hw.cost.memory_bound` on the costed ops): totals at
    the config clock (``cost["offchip"]``) and at the estimated Fmax, the totals per batch size
    (:data:`hw.cost.memory_bound.REPORT_BATCHES` and ``batch``) and, per op category, bytes per
    frame, compute and memory cycles and how many ops are memory-bound."""
    op_cycles = [(op, row["cycles"]) for op, row in zip(net.ops, cost["ops"])]
    at_fmax = (memory_bound_cost(op_cycles, cfg, bandwidth, batch, fmax_mhz)["totals"]
               if fmax_mhz else None)
    groups = defaultdict(lambda: {"kind": "", "ops": 0, "memory_bound_ops": 0,
                                  "bytes_per_frame": 0.0, "weight_bytes_per_frame": 0.0,
                                  "compute_cycles": 0, "memory_cycles": 0.0, "cycles": 0.0})
    for row in cost["ops"]:
        g = groups[op_category(row["name"], row["kind"])]
        g["kind"] = row["kind"]
        g["ops"] += 1
        g["memory_bound_ops"] += row["bound"] == "memory"
        g["bytes_per_frame"] += row["offchip_bytes_per_frame"]
        g["weight_bytes_per_frame"] += row["offchip_weight_bytes_per_frame"]
        g["compute_cycles"] += row["cycles"]
        g["memory_cycles"] += row["memory_cycles"]
        g["cycles"] += row["cycles_with_bandwidth"]
    return {"bandwidth": cost["bandwidth"], "batch": batch, "fmax_mhz": fmax_mhz,
            "fmax_source": fmax_source, "at_clock": cost["offchip"], "at_fmax": at_fmax,
            "batches": batch_table(op_cycles, cfg, bandwidth, set(REPORT_BATCHES) | {batch},
                                   fmax_mhz),
            "groups": dict(sorted(groups.items(), key=lambda kv: -kv[1]["cycles"]))}


def build_report(network: str, cfg: ArrayConfig, device: str, *, out_dir: Path,
                 bandwidth: Bandwidth | None = None, batch: int = 1,
                 sim_json: list | None = None, coeffs=None, command: str = "") -> dict:
    """Write report.md, report.json and the PNGs into ``out_dir`` (``python -m hw report``
    passes reports/<network>); return the JSON document. ``sim_json``: the RTL sim results to
    check (default: the committed ``reports/sim/*.json``); each named file must exist.
    ``bandwidth`` (None: unlimited) and ``batch``: the off-chip model
    (:mod:`hw.cost.memory_bound`); the compute-only numbers are reported beside it.

    The folder is written whole or not at all (:func:`hw.outfiles.atomic_dir`): an existing
    ``out_dir`` is replaced only when this tool wrote it (:func:`is_report_dir`), and keeps its
    files that are not report files (the DSE's dse_<device>.json/.png).

    Raises, before any work, InputFileError (a named --sim-json/--coeffs file missing or not
    what it should be), OutputError (``out_dir`` not ours or not writable); then DeviceError
    (unknown device; DeviceFitError: the resource model says the config does not fit, with by
    how much) and NetworkError (unknown network, an op that cannot be split).
    """
    dev = get_device(device)
    batch = check_batch(batch)
    if sim_json is not None:   # every named file must be there and readable
        for p in sim_json:
            if not Path(p).is_file():
                raise InputFileError(f"--sim-json {p}: no such file; give the JSON written by "
                                     "`python -m sim all --json FILE`")
        rtl = [rtl_check(p, "--sim-json") for p in sim_json]
    else:
        rtl = [r for r in (rtl_check(p) for p in sorted(SIM_DIR.glob("*.json")))
               if r is not None]
    if coeffs is not None:
        from .resources import load_model

        load_model(coeffs)   # a named --coeffs file must exist and be a fitted model
    out_dir = check_report_dir(out_dir)
    net = load_network(network)
    require_fit(net, cfg)
    est, est_note = resource_estimate(cfg, dev, coeffs)
    if est is not None:
        check_fits(est, dev)

    cost = network_cost(net, cfg, bandwidth, batch)
    fmax = est.get("fmax_mhz") if est else None
    offchip = offchip_summary(
        net, cfg, cost, bandwidth, batch, fmax,
        "resource model (hw/synth/data/resource_model.json)" if fmax else
        (f"not available: {est_note}" if est is None else
         f"not available: the resource model has no Fmax for {dev.name}"))
    mem_dev = device_memory(cost["memory"], dev, est["bram"] if est else None)
    groups = breakdown(cost)
    points, err_table = synthesis_points(dev, coeffs)
    names = {row["name"] for row in cost["ops"]}
    for r in rtl:   # a sim of exactly this network's ops on this config: compare the totals
        # (a record written before a config field existed has that field at its value then)
        if ArrayConfig.from_dict(r["config"]) == cfg \
                and {row["op"] for row in r["rows"]} == names \
                and len(r["rows"]) == len(names) and r["measured"] == r["jobs"]:
            meas = sum(row["measured"] for row in r["rows"])
            r["network"] = {"measured_total": meas, "model_total": cost["totals"]["cycles"],
                            "equal": meas == cost["totals"]["cycles"]}
    util = {k: v["percent"] for k, v in fit_report(est, dev).items()} if est else None
    dse = _dse_summary(out_dir / f"dse_{dev.name}.json")
    with atomic_dir(out_dir, owned=is_report_dir) as tmp:
        doc = _write_report(tmp, net, cfg, dev, command, cost, groups, est, est_note, util,
                            mem_dev, points, err_table, rtl, dse, offchip)
        _carry_over(out_dir, tmp)
    return doc


def _write_report(out_dir: Path, net, cfg, dev, command, cost, groups, est, est_note, util,
                  mem_dev, points, err_table, rtl, dse, offchip) -> dict:
    """Write the report's files into the (temporary) folder ``out_dir``; return report.json's
    document."""
    from . import plots

    pngs = {}
    pngs["cycles"] = plots.cycle_breakdown(
        {k: v["cycles"] for k, v in groups.items()},
        f"{net.name}: cycles per op category, {cfg.rows}x{cfg.cols}x{cfg.simd}",
        out_dir / "cycles_breakdown.png")
    rc = cfg.rows * cfg.cols
    pngs["throughput"] = plots.throughput_vs_size(
        throughput_series(net, cfg), (rc, cost["totals"]["frames_per_s"]),
        f"{net.name}: frames/s vs array size at {cfg.clock_mhz:g} MHz (model)",
        out_dir / "throughput_vs_size.png")
    if points:
        pngs["lut"] = plots.lut_vs_synthesis(points, f"LUT: estimate vs synthesis "
                                             f"({dev.family})", out_dir / "lut_vs_synthesis.png")
    if util:
        pngs["utilisation"] = plots.device_utilisation(
            util, f"{dev.name}: {cfg.rows}x{cfg.cols}x{cfg.simd} (resource model)",
            out_dir / "device_utilisation.png")

    doc = {"kind": REPORT_KIND, "format_version": REPORT_FORMAT_VERSION,
           "command": command, "network": net.name, "network_source": net.source,
           "device": {"name": dev.name, "part": dev.part, **dev.capacity,
                      "source": dev.source},
           "sources": {"cycles": "model (hw.cost.cycles on the traced op list)",
                       "resources": est_note if est is None else
                       "resource model (hw/synth/data/resource_model.json)",
                       "synthesis": "hw/synth/data/synth_*.jsonl",
                       "rtl": "python -m sim all --json",
                       "bandwidth": (cost["bandwidth"]["source"] or "given on the command line")
                       if cost["bandwidth"] else "unlimited (no off-chip limit)",
                       "offchip": "model (hw.cost.memory_bound) with the stated assumptions"},
           "cost": cost, "offchip": offchip, "breakdown": groups, "resources": est,
           "utilisation_percent": util,
           "device_memory": mem_dev, "synthesis_points": points,
           "held_out_error_table": err_table, "rtl_checks": rtl,
           "fmax_vs_size": fmax_vs_size(dev),
           "measured_clocks": measured_clocks(cfg, dev, cost["totals"]["cycles"]),
           "dse": dse,
           "plots": {k: p.name for k, p in pngs.items()}}
    (out_dir / "report.json").write_text(json.dumps(doc, indent=1, default=_json) + "\n")
    (out_dir / "report.md").write_text(markdown(doc, cfg, dev))
    return doc


def _dse_summary(path: Path) -> dict | None:
    """The DSE result of this network and device (``python -m hw dse``) when it was run."""
    if not path.is_file():
        return None
    doc = read_json(path, "DSE result")
    missing = [k for k in ("command", "configs", "configs_per_s", "fit", "device", "front",
                           "fastest") if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise InputFileError(f"DSE result {path}: not written by `python -m hw dse` (no "
                             f"{', '.join(missing)}); rerun the DSE or move the file away")
    doc["file"] = str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return doc


def _json(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))


def _n(v, digits=3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,}"


def _summary(doc: dict) -> list[str]:
    """Bullet points computed from the document (largest cycle shares, utilisation, memory)."""
    t = doc["cost"]["totals"]
    top = list(doc["breakdown"].items())[:3]
    pool_share = 100 * t["pool_cycles"] / t["cycles"]
    shares = ", ".join(f"{k} ({100 * g['cycles'] / t['cycles']:.1f}%)" for k, g in top)
    if doc["cost"]["config"].get("pool_port"):
        out = [f"- {t['frames_per_s']:.4g} frames/s at batch 1 with frames streamed through the "
               f"matmul core and the pool core at once, {t['latency_ms']:.4g} ms for one frame "
               f"alone (model); array utilisation {100 * t['utilisation']:.2f}%.",
               f"- Per frame the matmul core is busy "
               f"{100 * t['matmul_cycles'] / t['cycles']:.1f}% of the cycles and the pool core "
               f"{pool_share:.1f}%; the largest categories (share of the frame's cycles, each on "
               f"its core) are {shares}."]
    else:
        out = [f"- {t['frames_per_s']:.4g} frames/s, {t['latency_ms']:.4g} ms per frame at "
               f"batch 1 (model); array utilisation {100 * t['utilisation']:.2f}%.",
               f"- Pool jobs take {pool_share:.1f}% of the cycles; the largest categories are "
               f"{shares}."]
    out.append(_measured_bullet(doc))
    md = doc["device_memory"]
    where = ("the block RAM left beside the array" if md["array_bram_blocks"] is not None else
             "the device's block RAM (the array's own share unknown: no resource model)")
    out.append(f"- Binary weights: {doc['cost']['memory']['weight_bits'] / 8e6:.3g} MB; "
               + (f"they fit in {where}." if md["weights_fit_on_chip"] else
                  f"they do not fit {where}, so they stream from off-chip."))
    off = doc["offchip"]
    a = off["at_clock"]
    bw = off["bandwidth"]["label"] if off["bandwidth"] else "unlimited bandwidth"
    out.append(f"- Off-chip at {bw}, batch {off['batch']}: {a['bytes_per_frame'] / 1e6:.3g} MB "
               f"per frame cross the chip boundary; {a['memory_bound_ops']} of {a['ops']} ops "
               f"are memory-bound; {a['frames_per_s']:.4g} frames/s at {a['clock_mhz']:g} MHz"
               + (f", {off['at_fmax']['frames_per_s']:.4g} at the estimated Fmax "
                  f"{off['fmax_mhz']:g} MHz" if off["at_fmax"] else "")
               + f" (model; bandwidth: {_bw_kind(off['bandwidth'])}).")
    return out


def _measured_rows(doc: dict) -> list[str]:
    """Throughput-table rows: frames/s at each router's lowest measured Fmax of this config."""
    rows = [f"| frames/s at the measured Fmax {m['min_mhz']:g} MHz (the lowest of "
            f"{len(m['seeds'])} nextpnr placement(s), {m['router']}) | "
            f"{m['frames_per_s_at_min']:.4g} | model cycles; Fmax: synthesis "
            f"({', '.join(m['files'])}) |" for m in doc["measured_clocks"]]
    return rows or ["| frames/s at a measured Fmax | - | no placed-and-routed record of this "
                    "config in hw/synth/data |"]


def _measured_bullet(doc: dict) -> str:
    """The summary's line on the clock this config closed (placed and routed), or that none is
    measured."""
    if not doc["measured_clocks"]:
        return ("- Clock: not measured (no placed-and-routed record of this config in "
                "hw/synth/data; `python -m hw synth` with this config places and routes it).")
    parts = []
    for m in doc["measured_clocks"]:
        seeds = ", ".join(f"seed {k}: {v:g}" for k, v in m["seeds"].items())
        parts.append(f"{m['min_mhz']:g} MHz with {m['router']} ({seeds} MHz), "
                     f"{m['frames_per_s_at_min']:.4g} frames/s at that clock")
    return ("- Clock measured by nextpnr on this config (the lowest of its placements): "
            + "; ".join(parts) + " (model cycles; Fmax: synthesis).")


def _bw(cost: dict) -> str:
    """The bandwidth of a cost document in words."""
    return cost["bandwidth"]["label"] if cost["bandwidth"] else "unlimited bandwidth"


def _bw_kind(bw: dict | None) -> str:
    """Where a bandwidth comes from, in two words."""
    if bw is None:
        return "unlimited"
    return "assumption" if bw["source"].startswith("assumption") else "given on the command line"


def _fps(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def offchip_markdown(doc: dict, cfg: ArrayConfig) -> list[str]:
    """The report's section on off-chip bandwidth and batch (:func:`offchip_summary`)."""
    off, a, f = doc["offchip"], doc["offchip"]["at_clock"], doc["offchip"]["at_fmax"]
    bw = off["bandwidth"]
    fm = (f"{off['fmax_mhz']:g} MHz" if off["fmax_mhz"] else "-")
    L = ["## Off-chip bandwidth and batch (model + stated assumption)", "",
         "What crosses the chip boundary per op (`hw/cost/memory_bound.py`): the weight layers' "
         "N x K weight bits once per batch (kept on chip while the batch's frames pass: "
         f"{doc['cost']['memory']['largest_weight_op_bits']:,} bits for the largest layer); "
         "every op's activation operands in (M x K bits; an attention product's second operand "
         "N x K bits too; pool inputs at pool_bits) and its results out at the "
         f"{cfg.lane_width}-bit lane width (per K chunk), once per frame, because the "
         "per-element work between ops is taken to run off the chip. Per op, cycles = "
         "max(compute cycles, bytes / bytes per cycle): the loads are assumed overlapped with "
         "the compute (double-buffered); the op is *memory-bound* when the memory cycles are "
         "larger.", "",
         "| quantity | value | source |", "|---|---|---|",
         (f"| off-chip bandwidth | {bw['label']} | {bw['source'] or 'given on the command line'} |"
          if bw else "| off-chip bandwidth | unlimited | no limit given |"),
         f"| bytes per cycle at {a['clock_mhz']:g} MHz | "
         f"{'-' if a['bytes_per_cycle'] is None else format(a['bytes_per_cycle'], '.4g')} | "
         "bandwidth / clock |",
         f"| batch (frames per weight load) | {off['batch']} | command line |",
         f"| off-chip bytes per frame: weights / activations in / results out | "
         f"{a['weight_bytes_per_frame']:,.0f} / {a['input_bytes_per_frame']:,.0f} / "
         f"{a['output_bytes_per_frame']:,.0f} | model (traced shapes) |",
         f"| cycles per frame: compute only / with the bandwidth | {a['compute_cycles']:,} / "
         f"{a['cycles_per_frame']:,.0f} | model |",
         f"| utilisation with the bandwidth (MACs / (R*C*SIMD*cycles)) | "
         f"{100 * a['utilisation']:.2f}% | model |",
         f"| memory-bound ops | {a['memory_bound_ops']} of {a['ops']} | model |",
         f"| frames/s at the config clock {a['clock_mhz']:g} MHz | {_fps(a['frames_per_s'])} "
         "| model |",
         f"| frames/s at the estimated Fmax {fm} | {_fps(f['frames_per_s'] if f else None)} | "
         f"model; Fmax: {off['fmax_source']} |", "",
         "Per batch size (weights loaded once per batch):", "",
         f"| batch | off-chip bytes per frame | cycles per frame | utilisation | memory-bound "
         f"ops | frames/s at {a['clock_mhz']:g} MHz | frames/s at Fmax {fm} |",
         "|---|---|---|---|---|---|---|"]
    for r in off["batches"]:
        L.append(f"| {r['batch']} | {r['bytes_per_frame']:,.0f} | {r['cycles_per_frame']:,.0f} | "
                 f"{100 * r['utilisation']:.2f}% | {r['memory_bound_ops']} | "
                 f"{_fps(r['frames_per_s'])} | {_fps(r['frames_per_s_at_fmax'])} |")
    L += ["", f"Per op category at batch {off['batch']} (model):", "",
          "| category | kind | ops | off-chip bytes per frame | of which weights | compute "
          "cycles | memory cycles | memory-bound ops |", "|---|---|---|---|---|---|---|---|"]
    for k, g in off["groups"].items():
        L.append(f"| {k} | {g['kind']} | {g['ops']} | {g['bytes_per_frame']:,.0f} | "
                 f"{g['weight_bytes_per_frame']:,.0f} | {g['compute_cycles']:,} | "
                 f"{g['memory_cycles']:,.0f} | {g['memory_bound_ops']} |")
    return L + [""]


def markdown(doc: dict, cfg: ArrayConfig, dev) -> str:
    """The report as markdown (every number tagged with its source)."""
    c, t, mem, md = doc["cost"], doc["cost"]["totals"], doc["cost"]["memory"], doc["device_memory"]
    L = [f"# Cost report: {doc['network']} on {cfg.rows}x{cfg.cols}x{cfg.simd} "
         f"({dev.name}, {cfg.clock_mhz:g} MHz)", "",
         f"Generated by `{doc['command']}`. Network traced from {doc['network_source']}.", "",
         "Sources: **model** = `hw.cost.cycles` on the traced op list (`hw/cost/network.py`); "
         "**resource model** = `hw/cost/resources.py` fitted on committed synthesis data; "
         "**synthesis** = `hw/synth/data/synth_*.jsonl`; **RTL sim** = `python -m sim all --json`; "
         "**assumption** = the off-chip bandwidth and what crosses the chip boundary "
         "(`hw/cost/memory_bound.py`, stated in its section).",
         "", "## Summary", ""] + _summary(doc) + ["", "## Array configuration", "",
         "| field | value |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in cfg.to_dict().items()]
    L += ["", "## Throughput (model)", "",
          "| quantity | value | source |", "|---|---|---|",
          f"| array ops (traced) / legal jobs | {t['ops']} / {t['jobs']} | model |",
          f"| cycles per frame | {t['cycles']:,} | model |",
          (f"| matmul core / pool core, at once (`hw.cost.cycles.frame_cycles`) | "
           f"{t['matmul_cycles']:,} / {t['pool_cycles']:,} | model |" if cfg.pool_port else
           f"| of which matmul / pool | {t['matmul_cycles']:,} / {t['pool_cycles']:,} | model |"),
          f"| binary MACs: weight layers (linear + merge) | "
          f"{t['binary_macs_linear'] + t['binary_macs_merge']:,} | traced shapes |",
          f"| binary MACs: attention products | {t['binary_macs_attention']:,} | traced shapes |",
          f"| pool window additions | {t['pool_window_adds']:,} | traced shapes |",
          f"| array utilisation (MACs / (R*C*SIMD*cycles)) | {100 * t['utilisation']:.2f}% "
          "| model |",
          f"| utilisation over matmul cycles only | "
          f"{100 * t['utilisation_matmul_cycles']:.2f}% | model |",
          f"| latency (batch 1{', one frame alone: the sum of both cores' if cfg.pool_port else ''}) "
          f"| {t['latency_ms']:.4g} ms | model, {cfg.clock_mhz:g} MHz |",
          f"| frames/s | {t['frames_per_s']:.4g} | model |",
          *_measured_rows(doc),
          f"| frames/s with {_bw(c)} off-chip, batch {c['batch']} | "
          f"{t['frames_per_s_with_bandwidth']:.4g} | model (per op max(compute, memory)); "
          f"bandwidth: {_bw_kind(c['bandwidth'])}, see below |",
          f"| memory-bound ops with {_bw(c)}, batch {c['batch']} | {t['memory_bound_ops']} of "
          f"{t['ops']} | model |",
          ""]
    res = doc["resources"]
    L += ["## Resources and device utilisation (resource model)", ""]
    if res:
        L += [f"Coefficients: `{res['model']}` (`python -m hw fit`); estimate as printed by "
              f"`python -m hw estimate --device {dev.name} {' '.join(config_flags(cfg))}`.", ""]
        L += ["| resource | estimate | device | % |", "|---|---|---|---|"]
        for k in ("lut", "ff", "bram", "dsp"):
            L.append(f"| {k} | {_n(res[k])} | {doc['device'][k]:,} | "
                     f"{doc['utilisation_percent'][k]}% |")
        L += ["", f"Estimated Fmax: {_n(res['fmax_mhz'])} MHz (resource model; the report "
              f"uses the config clock {cfg.clock_mhz:g} MHz"
              + (", ABOVE the estimate)" if res["fmax_mhz"] and res["fmax_mhz"] < cfg.clock_mhz
                 else ")") + f". FINN-R LUT baseline: {res['finn_r_lut']:,}.", ""]
    else:
        L += [f"Not available: {doc['sources']['resources']}", ""]
    L += ["## On-chip memory and off-chip weight traffic (model)", "",
          "| quantity | bits | source |", "|---|---|---|",
          f"| all binary weights | {mem['weight_bits']:,} ({mem['weight_bits'] / 8e6:.3g} MB) "
          "| traced shapes |",
          f"| largest op working set (A + W bits + M*N results at {cfg.lane_width} bits) | "
          f"{mem['largest_op_working_set_bits']:,} | traced shapes |",
          f"| the array's job buffers (R a-banks + C w-banks + pool memory) | "
          f"{mem['array_buffer_bits']:,} | ArrayConfig |",
          f"| device block RAM ({dev.bram} x {md['bram_bits_per_block']:,} bits) | "
          f"{md['device_bram_bits']:,} | hw/cost/devices.py, hw/cost/resources.py |",
          f"| block RAM left beside the array | {_n(md['free_bram_bits'])} | "
          + ("resource model |" if md["array_bram_blocks"] is not None
             else "device total (no resource model for the array's share) |"),
          f"| weight traffic per frame (N*K per legal job, re-loads included) | "
          f"{t['weight_traffic_bits_per_frame']:,} ({t['weight_traffic_mb_per_frame']:.3g} MB) "
          "| model |",
          "", "All weights fit in the free block RAM: "
          f"**{'yes' if md['weights_fit_on_chip'] else 'no'}**"
          + (f" (they need {md['weights_over_free_bram_percent']:.0f}% of it)"
             if md['weights_over_free_bram_percent'] is not None else "")
          + ". The weight traffic above is what the array loads (one SIMD word per cycle, in "
          "its cycles); the off-chip traffic is in the next section.", ""]
    L += offchip_markdown(doc, cfg)
    L += ["## Per-op cycle breakdown (model)", "",
          "| category | kind | ops | jobs | cycles | % | binary MACs / window adds |",
          "|---|---|---|---|---|---|---|"]
    for k, g in doc["breakdown"].items():
        L.append(f"| {k} | {g['kind']} | {g['ops']} | {g['jobs']} | {g['cycles']:,} | "
                 f"{100 * g['cycles'] / t['cycles']:.1f}% | {g['macs']:,} |")
    L += ["", "![cycles](cycles_breakdown.png)", "",
          "Largest ops (every op is in report.json):", "",
          "| op | shape | jobs | cycles | utilisation | weight traffic bits | off-chip bytes "
          f"per frame | bound ({_bw(c)}, batch {c['batch']}) |",
          "|---|---|---|---|---|---|---|---|"]
    for row in sorted(c["ops"], key=lambda r: -r["cycles"])[:15]:
        u = f"{100 * row['utilisation']:.1f}%" if row["utilisation"] is not None else "-"
        L.append(f"| {row['name']} | {row['shape']} | {row['jobs']} | {row['cycles']:,} | {u} | "
                 f"{row['weight_traffic_bits']:,} | {row['offchip_bytes_per_frame']:,.0f} | "
                 f"{row['bound']} |")
    split = cfg.max_m, cfg.max_n, cfg.max_k
    L += ["", f"Jobs above the limits (max_m, max_n, max_k) = {split} are split greedily into "
          "legal sub-jobs (full chunks, remainder last) along M, N and K; K-chunk partial sums "
          f"are added outside the array ({t['k_split_partial_adds']:,} adds). Pools split "
          "along planes (and into bands of whole output rows/columns on an unpadded axis). "
          "Cycles of the sub-jobs are summed.", "",
          "## Throughput vs array size (model)", "", "![throughput](throughput_vs_size.png)", "",
          "## Non-array work (counted on the traced forward pass)", "",
          "Assumption: these run on a per-element post-processing unit beside the array (the FP "
          "stem conv and head on the host CPU), overlapped with the array; they are **not** in "
          "the array cycles above.", "",
          "| work | count | unit | runs on | note |", "|---|---|---|---|---|"]
    for w in doc["cost"]["elementwise"]:
        L.append(f"| {w['category']} | {w['count']:,} | {w['unit']} | {w['runs_on']} | "
                 f"{w['note']} |")
    L += ["", "## LUT estimate vs synthesis", ""]
    if doc["synthesis_points"]:
        L += [f"{len(doc['synthesis_points'])} synthesis records of the {dev.family} family "
              "(hw/synth/data/synth_*.jsonl) against the resource model and FINN-R.", "",
              "![lut](lut_vs_synthesis.png)", ""]
    else:
        L += ["No synthesis records committed yet (hw/synth/data/synth_*.jsonl; `make synth`).", ""]
    if doc["held_out_error_table"]:
        L += ["Held-out error of the resource model (synthesis vs resource model; "
              "`python -m hw fit`):", "", doc["held_out_error_table"], ""]
    else:
        L += ["Held-out error table: not available (needs hw/synth/data/synth_*.jsonl and "
              "hw/synth/data/resource_model.json).", ""]
    L += ["## Fmax vs array size (synthesis)", ""]
    if doc["fmax_vs_size"]:
        L += [f"nextpnr's achieved clock on {dev.name} (committed records; `whole` = the "
              "accelerator with memories and controller, `array` = the PE array alone, "
              "`python -m hw synth --component array`). Each record's critical path is in "
              "its `pnr.critical_path`; the whole design is limited by control paths and "
              "routes to far block RAMs, not by the array (hw/README.md, timing closure). "
              "One placement (seed 1) per config: nextpnr varies by about +-5 % with the "
              "seed.", "",
              "| R x C x SIMD | PEs | max K | part | Fmax (MHz) | source |",
              "|---|---|---|---|---|---|"]
        L += [f"| {r['rows']}x{r['cols']}x{r['simd']} | {r['pes']} | {r['max_k']} | "
              f"{'whole' if r['component'] == 'top' else r['component']} | {r['fmax_mhz']:.1f} | "
              f"{r['file']} |" for r in doc["fmax_vs_size"]]
        L += [""]
    else:
        L += [f"No placed-and-routed records for {dev.name} in hw/synth/data/ (`make synth`).", ""]
    if doc["utilisation_percent"]:
        L += ["## Device utilisation (resource model)", "",
              "![utilisation](device_utilisation.png)", ""]
    dse = doc.get("dse")
    L += ["## Design-space exploration", ""]
    if dse:
        f = dse["fastest"]
        L += [f"From `{dse['file']}` (`{dse['command']}`): {dse['configs']:,} configs swept at "
              f"{dse['configs_per_s']:,.0f} configs/s, {dse['fit']:,} fit {dse['device']}, "
              f"{len(dse['front'])} on the Pareto front; the fastest that fits is "
              f"{f['rows']}x{f['cols']}x{f['simd']}: {f['fps']:.4g} frames/s (model) at "
              f"{f['lut']:,} LUT (resource model).", "",
              f"![dse]({Path(dse['file']).with_suffix('.png').name})", ""]
    else:
        L += [f"Not run for {dev.name} yet (`python -m hw dse --network {doc['network']} "
              f"--device {dev.name}`).", ""]
    L += ["## RTL vs model cycles", ""]
    for rtl in doc["rtl_checks"]:
        rc = rtl["config"]
        L += [f"From `{rtl['file']}` (RTL sim, config {rc['rows']}x{rc['cols']}x{rc['simd']}): "
              f"{rtl['measured']} of {rtl['jobs']} jobs have measured cycles; "
              f"**{rtl['exact']} equal the model exactly**, max |difference| "
              f"{rtl['max_abs_diff']} cycles.", ""]
        net = rtl.get("network")
        if net:
            L += [f"These jobs are this network's ops on this config: RTL total "
                  f"{net['measured_total']:,} cycles vs network model {net['model_total']:,} "
                  f"cycles per frame ({'equal' if net['equal'] else 'DIFFERENT'}).", ""]
        if len(rtl["rows"]) <= 60:
            L += ["| job | kind | cycles (RTL sim) | cycles (model) |", "|---|---|---|---|"]
            L += [f"| {r['op']} | {r['kind']} | {r['measured']} | {r['model']} |"
                  for r in rtl["rows"]]
            L.append("")
    if not doc["rtl_checks"]:
        sim_dir = SIM_DIR.relative_to(REPO) if SIM_DIR.is_relative_to(REPO) else SIM_DIR
        L += [f"No RTL simulation results present ({sim_dir}/*.json; write "
              "them with `python -m sim all --golden DIR --json reports/sim/NAME.json`). "
              "The cycle model is checked against the RTL by tests/sim/test_cycles.py.", ""]
    return "\n".join(L) + "\n"
