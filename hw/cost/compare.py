"""The co-design table of the model family (``python -m hw compare``): every variant of
model/variants.py at the digits scale of its trained checkpoint and at ImageNet 224 px, on one
array config and one device, with its accuracy, size, work and cost; and, per variant and scale,
the fastest config of the design-space sweep that fits the device.

Where every number comes from (``sources`` of compare.json, and the last column of each table):

- *digits top-1 (ours)*: ``test_top1`` of model/checkpoints/<variant>/metrics.json (360 held-out
  digits test images, measured once after training; ``python -m model train --variant NAME``);
- *ImageNet top-1 (cited)*: :data:`CITED_TOP1`, each with the paper or release it is from, or
  "not found" when the sources we could search do not give it (never a guess);
- *parameters, binary MACs, FP MACs, per-element work, weight bits*: the traced network
  (:func:`hw.cost.network.trace_network`: the model package builds the variant and runs one
  image; nothing is hand-typed);
- *cycles, frames/s, utilisation, pool share, weight traffic*: :func:`hw.cost.network.network_cost`
  (the cycle model, equal to the RTL);
- *LUT/BRAM, DSE*: the fitted resource model and :func:`hw.cost.dse.sweep`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import ArrayConfig
from ..outfiles import InputFileError, OutputError, atomic_dir, carry_over, check_output_path
from ..paths import CHECKPOINTS_DIR, REPO
from .network import DIGITS_SUFFIX, VARIANT_NAMES, NetworkError, load_network

#: the ``kind`` of compare.json (with ``format_version``): marks a folder this command wrote
COMPARE_KIND = "bvit-variants-compare"
COMPARE_FORMAT_VERSION = 1
#: the files the command writes (a later run replaces them; other files of the folder are kept)
COMPARE_FILES = ("compare.json", "compare.md", "compare.csv", "accuracy_vs_fps.png",
                 "accuracy_vs_lut.png")
#: the two scales: (key, label, network name of a variant)
SCALES = {"digits": ("digits (8x8x1, 10 classes)", lambda v: v + DIGITS_SUFFIX),
          "imagenet": ("ImageNet (224x224x3, 1000 classes)", lambda v: v)}

_BVIT = "BinaryViT (Le & Li, CVPR 2023 Workshops, arXiv 2306.16678)"
_NOT_FOUND = ("not found: the paper's tables were not in the sources we could search (its "
              "abstract, the official repository README and paper-index pages give no top-1)")
#: ImageNet-1k top-1 (%) of each variant as published, with where it is from; None = not found.
#: Fill a value in only from the cited table itself.
CITED_TOP1: dict[str, tuple[float | None, str]] = {
    "binaryvit-s": (None, f"{_BVIT}, main result: {_NOT_FOUND}"),
    "binaryvit-s-somefp": (None, f"{_BVIT}, the FP patch-embedding model: {_NOT_FOUND}"),
    "reactdeit-s": (None, f"{_BVIT}, Table 3 row 1 (ReActNet-DeiT-S): {_NOT_FOUND}"),
    "reactdeit-s-avgpool": (None, f"{_BVIT}, Table 3 row 2: {_NOT_FOUND}"),
    "reactdeit-s-avgpool-mb": (None, f"{_BVIT}, Table 3 row 3: {_NOT_FOUND}"),
    "reactdeit-s-avgpool-mb-ls": (None, f"{_BVIT}, Table 3 row 4: {_NOT_FOUND}"),
    "bivit-deit-t": (None, "Bi-ViT (Li et al., AAAI 2024, arXiv 2305.12354), DeiT-Tiny: not found "
                     "(the abstract gives only +22.1 points over its baseline; the release "
                     "README's '66.9 Top-1' is printed for both DeiT-Tiny and DeiT-Small, so it "
                     "is not used)"),
    "fp-teacher": (79.9, "DeiT-S, full precision: the DeiT release's model zoo "
                   "(github.com/facebookresearch/deit, README_deit.md: acc@1 79.9), the "
                   "teacher of every official BinaryViT script"),
}


def checkpoint_top1(variant: str) -> tuple[float | None, str]:
    """(digits test top-1 in %, source) of the variant's committed checkpoint; None with the
    reason when there is none. InputFileError naming the file when metrics.json is damaged or
    belongs to another variant."""
    path = CHECKPOINTS_DIR / variant / "metrics.json"
    rel = path.relative_to(REPO)
    if not path.is_file():
        return None, f"no checkpoint ({rel} missing; python -m model train --variant {variant})"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{rel}: cannot be read as JSON ({exc}); retrain it with `python "
                             f"-m model train --variant {variant}`") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("test_top1"), (int, float)):
        raise InputFileError(f"{rel}: has no numeric test_top1; retrain it with `python -m "
                             f"model train --variant {variant}`")
    if doc.get("variant") not in (None, variant):
        raise InputFileError(f"{rel}: is the checkpoint of variant {doc['variant']!r}, not "
                             f"{variant!r}; put {variant}'s checkpoint there")
    return 100.0 * doc["test_top1"], f"{rel} test_top1 (360 held-out digits images)"


def _row(variant: str, scale: str, cfg: ArrayConfig, bandwidth, batch: int, dev,
         array_bram) -> dict:
    """One variant at one scale: the traced network and its cost on ``cfg``."""
    from .network import device_memory, network_cost

    name = SCALES[scale][1](variant)
    net = load_network(name)
    row = {"variant": variant, "scale": scale, "network": name,
           "network_source": net.source, "parameters": net.parameters,
           "binary_macs": net.macs(), "binary_macs_attention": net.macs("attention"),
           "fp_macs": net.work("FP MACs"), "elementwise": net.work("elements"),
           "weight_bits": net.weight_bits, "array_ops": len(net.ops),
           "elementwise_detail": [vars(w) for w in net.elementwise if w.count]}
    if not net.ops:   # the full-precision teacher: nothing runs on the array
        row.update(cycles=None, frames_per_s=None, utilisation=None, pool_share=None,
                   weight_traffic_bits=None, weights_fit_on_chip=None,
                   frames_per_s_with_bandwidth=None,
                   note="full precision: no binary op, nothing runs on the array")
        return row
    cost = network_cost(net, cfg, bandwidth, batch)
    t = cost["totals"]
    mem = device_memory(cost["memory"], dev, array_bram)
    row.update(cycles=t["cycles"], jobs=t["jobs"], frames_per_s=t["frames_per_s"],
               frames_per_s_with_bandwidth=t["frames_per_s_with_bandwidth"],
               utilisation=t["utilisation"], pool_share=t["pool_cycles"] / t["cycles"],
               weight_traffic_bits=t["weight_traffic_bits_per_frame"],
               weights_fit_on_chip=mem["weights_fit_on_chip"], note="")
    return row


def best_config(network: str, dev, base: ArrayConfig, model: dict, max_side: int) -> dict | None:
    """The fastest config of the sweep R, C in 1..max_side, SIMD powers of two
    (:func:`hw.cost.dse.default_simds`) that fits ``dev`` (:func:`hw.cost.dse.sweep`, the same
    evaluation as ``python -m hw dse``); None when nothing fits or the network has no array op."""
    from .dse import default_simds, pareto_front, sweep

    net = load_network(network)
    if not net.ops:
        return None
    sides = list(range(1, max_side + 1))
    out = sweep(net, dev, model, sides, sides, default_simds(base), base, progress=False)
    if not out["fits"].any():
        return None
    front = pareto_front(out["lut"], out["fps"], out["fits"])
    i = int(front[np.argmax(out["fps"][front])])
    return {k: out[k][i].item() for k in ("rows", "cols", "simd", "lut", "bram", "cycles",
                                          "fps", "utilisation")}


def is_compare_dir(path) -> bool:
    """True when folder ``path`` holds a compare.json written by this command."""
    try:
        doc = json.loads((Path(path) / "compare.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("kind") == COMPARE_KIND


def check_compare_dir(out_dir, what: str = "--out") -> Path:
    """OutputError (before any work) unless ``out_dir`` is absent, empty or ours."""
    out_dir = check_output_path(out_dir, what)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_compare_dir(out_dir):
        raise OutputError(f"{what} {out_dir} exists, is not empty and holds no compare.json of "
                          "`python -m hw compare`; choose another folder or empty it yourself")
    return out_dir


def build_compare(cfg: ArrayConfig, device: str, *, out_dir, variants=VARIANT_NAMES,
                  scales=tuple(SCALES), bandwidth=None, batch: int = 1, dse: bool = True,
                  dse_max_side: int = 64, coeffs=None, command: str = "") -> dict:
    """Write compare.json, compare.md, compare.csv and the two plots into ``out_dir`` (whole or
    not at all; an existing folder only when this command wrote it, keeping your other files);
    return the JSON document. NetworkError for an unknown variant or scale, before any work.
    ``bandwidth`` (:class:`hw.cost.memory_bound.Bandwidth`, None: unlimited) and ``batch`` give
    ``frames_per_s_with_bandwidth`` (:mod:`hw.cost.memory_bound`)."""
    from .devices import get_device
    from .report import resource_estimate

    unknown = [v for v in variants if v not in VARIANT_NAMES]
    if unknown:
        raise NetworkError(f"--variants {' '.join(unknown)}: unknown variant; valid variants: "
                           f"{', '.join(VARIANT_NAMES)}")
    bad = [s for s in scales if s not in SCALES]
    if bad:
        raise NetworkError(f"--scales {' '.join(bad)}: unknown scale; valid: "
                           f"{', '.join(SCALES)}")
    dev = get_device(device)
    out_dir = check_compare_dir(out_dir)
    est, est_note = resource_estimate(cfg, dev, coeffs)
    model = None
    if dse:
        from .resources import load_model
        model = load_model(coeffs)["families"]
    rows = []
    for v in variants:
        top1, top1_src = checkpoint_top1(v)
        cited, cited_src = CITED_TOP1[v]
        for s in scales:
            row = _row(v, s, cfg, bandwidth, batch, dev, est["bram"] if est else None)
            row.update(top1_digits=top1, top1_digits_source=top1_src, top1_imagenet_cited=cited,
                       top1_imagenet_source=cited_src)
            row["dse_best"] = best_config(row["network"], dev, cfg, model, dse_max_side) \
                if dse else None
            rows.append(row)
    doc = {"kind": COMPARE_KIND, "format_version": COMPARE_FORMAT_VERSION, "command": command,
           "device": dev.name, "config": cfg.to_dict(),
           "bandwidth": bandwidth.to_dict() if bandwidth is not None else None, "batch": batch,
           "resources": est, "resources_note": est_note,
           "dse": {"rows_cols": [1, dse_max_side], "run": dse},
           "sources": {
               "top1_digits": "model/checkpoints/<variant>/metrics.json test_top1 (ours)",
               "top1_imagenet_cited": "the paper or release named in each row's "
                                      "top1_imagenet_source (not ours)",
               "parameters/binary_macs/fp_macs/elementwise/weight_bits":
                   "the traced network (hw.cost.network.trace_network)",
               "frames_per_s_with_bandwidth": "model (hw.cost.memory_bound) at the stated "
                                              "bandwidth (an assumption unless given) and batch",
               "cycles/frames_per_s/utilisation/pool_share/weight_traffic_bits":
                   "model (hw.cost.cycles on the traced op list, hw.cost.network.network_cost)",
               "resources": est_note if est is None else
                   "resource model (hw/synth/data/resource_model.json)",
               "dse_best": "hw.cost.dse.sweep (cycle model + resource model), fastest config "
                           "that fits"},
           "rows": rows}
    with atomic_dir(out_dir, owned=is_compare_dir) as tmp:
        _write(tmp, doc, cfg, dev)
        carry_over(out_dir, tmp, COMPARE_FILES)
    return doc


# ---- output ----------------------------------------------------------------------------------
def _pct(v, digits=2) -> str:
    return "-" if v is None else f"{v:.{digits}f} %"


def _num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,}"


def table_lines(doc: dict, scale: str) -> list[str]:
    """The markdown table of one scale (what ``python -m hw compare`` prints)."""
    cited = scale == "imagenet"
    acc = "ImageNet top-1 (cited)" if cited else "digits top-1 (ours)"
    L = [f"| variant | {acc} | params | binary MACs | FP MACs | cycles | frames/s | util. | "
         "pool cycles | per-element work | weight bits | weight traffic/frame |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in doc["rows"] if r["scale"] == scale):
        a = r["top1_imagenet_cited"] if cited else r["top1_digits"]
        a = ("not found" if cited else "no checkpoint") if a is None else f"{a:.2f} %"
        util = None if r["utilisation"] is None else 100 * r["utilisation"]
        pool = None if r["pool_share"] is None else 100 * r["pool_share"]
        traffic = "-" if r["weight_traffic_bits"] is None else \
            f"{r['weight_traffic_bits'] / 8e6:.3g} MB"
        L.append(f"| {r['variant']} | {a} | {_num(r['parameters'])} | {_num(r['binary_macs'])} "
                 f"| {_num(r['fp_macs'])} | {_num(r['cycles'])} | {_num(r['frames_per_s'])} | "
                 f"{_pct(util)} | {_pct(pool, 1)} | {_num(r['elementwise'])} | "
                 f"{_num(r['weight_bits'])} | {traffic} |")
    return L


def markdown(doc: dict, cfg: ArrayConfig, dev) -> str:
    res = doc["resources"]
    head = (f"{cfg.rows}x{cfg.cols}x{cfg.simd} at {cfg.clock_mhz:g} MHz on {dev.name}"
            + (f" ({res['lut']:,} LUT, {res['bram']:g} BRAM: resource model)" if res else ""))
    L = [f"# The model family on one array: {head}", "",
         f"Generated by `{doc['command']}`.", "",
         "Sources: **digits top-1 (ours)** = `model/checkpoints/<variant>/metrics.json` "
         "(`test_top1`, 360 held-out digits images); **ImageNet top-1 (cited)** = the paper or "
         "release below, not measured here (\"not found\" = not in the sources we could "
         "search); **params, binary MACs, FP MACs, per-element work, weight bits** = the "
         "traced network (`hw/cost/network.py`); **cycles, frames/s, utilisation, pool "
         "cycles, weight traffic** = the cycle model on the traced ops (equal to the RTL); "
         "**LUT, DSE** = the fitted resource model. Binary MACs = weight layers + attention "
         "products; per-element work = elements of the non-array work (norms, RPReLU, "
         "thresholds, softmax, adds, pool rescale, LayerNorm, ...); FP MACs = stem, head, FP "
         "merges, FP layers (host CPU). Weight traffic = weight bits streamed per frame (N*K "
         "per legal job, re-loads included).", ""]
    for scale, (label, _) in SCALES.items():
        if not any(r["scale"] == scale for r in doc["rows"]):
            continue
        L += [f"## {label}", ""] + table_lines(doc, scale) + [""]
    L += ["## ImageNet top-1: where each figure is from", "",
          "| variant | ImageNet top-1 | source |", "|---|---|---|"]
    seen = set()
    for r in doc["rows"]:
        if r["variant"] in seen:
            continue
        seen.add(r["variant"])
        v = r["top1_imagenet_cited"]
        L.append(f"| {r['variant']} | {'not found' if v is None else f'{v:.1f} %'} | "
                 f"{r['top1_imagenet_source']} |")
    if doc["dse"]["run"]:
        n = doc["dse"]["rows_cols"][1]
        L += ["", f"## Fastest config that fits {dev.name} (design-space sweep)", "",
              f"R and C 1..{n}, SIMD powers of two, limits and clock of the config above "
              "(`hw.cost.dse.sweep`, as `python -m hw dse`).", "",
              "| variant | scale | R x C x SIMD | LUT | BRAM | frames/s | utilisation | "
              "digits top-1 (ours) |", "|---|---|---|---|---|---|---|---|"]
        for r in doc["rows"]:
            b = r["dse_best"]
            if b is None:
                L.append(f"| {r['variant']} | {r['scale']} | - | - | - | - | - | "
                         f"{_pct(r['top1_digits'])} |")
                continue
            L.append(f"| {r['variant']} | {r['scale']} | {b['rows']}x{b['cols']}x{b['simd']} | "
                     f"{b['lut']:,} | {b['bram']:g} | {b['fps']:,.4g} | "
                     f"{100 * b['utilisation']:.2f} % | {_pct(r['top1_digits'])} |")
    L += ["", "![accuracy vs frames/s](accuracy_vs_fps.png)", ""]
    if doc["dse"]["run"]:
        L += ["![accuracy vs LUT](accuracy_vs_lut.png)", ""]
    L += ["## Per-element work by category", "",
          "Every category of non-array work of each network (elements, or FP MACs on the host "
          "CPU) is in compare.json (`rows[].elementwise_detail`).", ""]
    return "\n".join(L) + "\n"


def _csv(doc: dict) -> str:
    keys = ("variant", "scale", "network", "top1_digits", "top1_imagenet_cited", "parameters",
            "binary_macs", "binary_macs_attention", "fp_macs", "elementwise", "weight_bits",
            "array_ops", "cycles", "frames_per_s", "frames_per_s_with_bandwidth", "utilisation",
            "pool_share", "weight_traffic_bits", "weights_fit_on_chip")
    lines = [",".join(keys) + ",dse_rows,dse_cols,dse_simd,dse_lut,dse_fps"]
    for r in doc["rows"]:
        b = r["dse_best"] or {}
        vals = [r.get(k) for k in keys] + [b.get(k) for k in ("rows", "cols", "simd", "lut",
                                                              "fps")]
        lines.append(",".join("" if v is None else str(v) for v in vals))
    return "\n".join(lines) + "\n"


def _write(out: Path, doc: dict, cfg: ArrayConfig, dev) -> None:
    from . import plots

    (out / "compare.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "compare.md").write_text(markdown(doc, cfg, dev))
    (out / "compare.csv").write_text(_csv(doc))
    pts = [{"label": r["variant"], "scale": r["scale"], "fps": r["frames_per_s"],
            "top1": r["top1_digits"], "cited": r["top1_imagenet_cited"]}
           for r in doc["rows"] if r["frames_per_s"] is not None]
    plots.accuracy_vs(pts, "fps", "frames/s on "
                      f"{cfg.rows}x{cfg.cols}x{cfg.simd} at {cfg.clock_mhz:g} MHz (cycle model)",
                      "the model family: accuracy vs frames/s, same array config",
                      out / "accuracy_vs_fps.png")
    if doc["dse"]["run"]:
        pts = [{"label": f"{r['variant']} ({r['dse_best']['rows']}x{r['dse_best']['cols']}x"
                         f"{r['dse_best']['simd']})",
                "scale": r["scale"], "lut": r["dse_best"]["lut"], "top1": r["top1_digits"],
                "cited": r["top1_imagenet_cited"]}
               for r in doc["rows"] if r["dse_best"] is not None]
        plots.accuracy_vs(pts, "lut", f"LUT of the fastest config that fits {dev.name} "
                          "(resource model)", "the model family: accuracy vs LUT (DSE best "
                          "config per variant)", out / "accuracy_vs_lut.png")
