"""PNG plots of the cost reports (matplotlib, Agg backend). Each function takes plain data and
a path, writes one PNG and returns the path; the data's source is stated in the title."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path):
    """Write ``fig`` as PNG to ``path`` whole or not at all (a temporary renamed into place,
    :func:`hw.outfiles.atomic_file`), or into ``path`` when it is an open binary file; return
    ``path``."""
    from ..outfiles import atomic_file

    try:
        fig.tight_layout()
        if hasattr(path, "write"):
            fig.savefig(path, dpi=110, format="png")
            return path
        path = Path(path)
        with atomic_file(path, "wb") as fh:
            fig.savefig(fh, dpi=110, format="png")
        return path
    finally:
        plt.close(fig)


def cycle_breakdown(groups: dict[str, int], title: str, path) -> Path:
    """Horizontal bars: cycles per op category."""
    items = sorted(groups.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    total = sum(groups.values()) or 1
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {100 * v / total:.1f}%", va="center", fontsize=8)
    ax.set_xlabel("cycles per frame (model: hw.cost.cycles)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def throughput_vs_size(series: dict[int, tuple[list, list]], marker: tuple | None, title: str,
                       path) -> Path:
    """frames/s against R*C for square arrays, one line per SIMD; ``marker`` = (R*C, fps)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for simd, (pes, fps) in sorted(series.items()):
        ax.plot(pes, fps, marker=".", label=f"SIMD {simd}")
    if marker:
        ax.plot(*marker, "r*", markersize=14, label="this config")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("PEs (R x C, square arrays)")
    ax.set_ylabel("frames/s (model)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def lut_vs_synthesis(points: list[dict], title: str, path) -> Path:
    """Measured LUT (synthesis) against the model's estimate and FINN-R; y = x line."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    meas = [p["lut"] for p in points]
    for key, style, label in (("lut_est", "o", "resource model"), ("finn_r_lut", "x", "FINN-R")):
        xs = [p["lut"] for p in points if p.get(key) is not None]
        ys = [p[key] for p in points if p.get(key) is not None]
        if xs:
            ax.scatter(xs, ys, marker=style, label=label)
    held = [p for p in points if p.get("held_out") and p.get("lut_est") is not None]
    if held:
        ax.scatter([p["lut"] for p in held], [p["lut_est"] for p in held], s=120,
                   facecolors="none", edgecolors="r", label="held out")
    if meas:
        lo, hi = min(meas) * 0.8, max(meas) * 1.25
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("LUT, synthesis (hw/synth/data/synth_*.jsonl)")
    ax.set_ylabel("LUT, estimate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def device_utilisation(percent: dict[str, float], title: str, path) -> Path:
    """Bars: % of the device per resource (red above 100%)."""
    keys = list(percent)
    vals = [percent[k] for k in keys]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.bar(keys, vals, color=["tab:red" if v > 100 else "tab:green" for v in vals])
    ax.axhline(100, color="k", lw=0.8, ls="--")
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.1f}%", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("% of device (resource model)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def pareto(all_lut, all_fps, front_lut, front_fps, title: str, path, lut_cap=None) -> Path:
    """Feasible configs (grey) and the Pareto front (frames/s vs LUT)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(all_lut, all_fps, s=4, c="0.7", label="configs that fit")
    ax.step(front_lut, front_fps, where="post", color="tab:red")
    ax.scatter(front_lut, front_fps, s=16, c="tab:red", label="Pareto front")
    if lut_cap:
        ax.axvline(lut_cap, color="k", ls="--", lw=0.8, label="device LUTs")
    ax.set_xscale("log")
    ax.set_xlabel("LUT (resource model estimate)")
    ax.set_ylabel("frames/s (cycle model)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def accuracy_vs(points: list[dict], key: str, xlabel: str, title: str, path) -> Path:
    """Top-1 against ``key`` (``fps`` or ``lut``) of the model family: our digits top-1 of
    every point (circles: digits-scale networks, squares: ImageNet-224 shapes), and, in a second
    panel when any point has one, the cited ImageNet top-1. Points are labelled by variant."""
    cited = [p for p in points if p.get("cited") is not None]
    panels = 2 if cited else 1
    fig, axes = plt.subplots(1, panels, figsize=(7.5 * panels, 5), squeeze=False)
    marks = {"digits": ("o", "tab:blue", "digits-scale network"),
             "imagenet": ("s", "tab:red", "ImageNet-224 shapes")}

    def draw(ax, pts, ykey, ylabel):
        for scale, (m, c, label) in marks.items():
            sel = [p for p in pts if p["scale"] == scale and p.get(ykey) is not None]
            if not sel:
                continue
            ax.scatter([p[key] for p in sel], [p[ykey] for p in sel], marker=m, color=c,
                       label=label)
            for p in sel:
                ax.annotate(p["label"], (p[key], p[ykey]), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    draw(axes[0][0], points, "top1", "digits test top-1 % (ours, model/checkpoints)")
    axes[0][0].set_title(title, fontsize=10)
    if cited:
        draw(axes[0][1], cited, "cited", "ImageNet top-1 % (cited, not measured here)")
    return _save(fig, path)
