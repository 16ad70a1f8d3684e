"""Calibration: the largest |value| of every real tensor that the integer model stores, measured
on a deterministic set of images with the float model (float64), through forward hooks on the
model's modules (the model code is not changed)."""

from __future__ import annotations

import copy
from collections import defaultdict

import torch

#: calibration images: this many from the start of the digits training split (never the test
#: split); the split is seeded, so the subset is fixed
CALIB_IMAGES = 512


def digits_calibration_images(n: int = CALIB_IMAGES) -> torch.Tensor:
    """The first ``n`` images of the digits training split (model/data.py, seed 0)."""
    from ..data import digits_split

    return digits_split()[0][:n]


def tensor_sources(model) -> dict[str, tuple[str, str]]:
    """Integer-model tensor name -> (module name, "in" | "out") of the float tensor it stands
    for. Names: see model/INTEGER.md."""
    cfg = model.config
    src = {"stem.out": ("stem", "out")}
    for s in range(cfg.num_stages):
        if s > 0:
            m = f"stages.{s}.merge"
            src.update({f"{m}.h": (f"{m}.norm_in", "out"), f"{m}.pre": (f"{m}.act", "in"),
                        f"{m}.out": (m, "out")})
        for b in range(cfg.depths[s]):
            p = f"stages.{s}.blocks.{b}"
            src[f"{p}.h"] = (f"{p}.norm1", "out")
            units = ["q", "k", "v"] + (["sr"] if cfg.sr_ratios[s] > 1 else [])
            for u in units:
                src[f"{p}.attn.{u}.pre"] = (f"{p}.attn.{u}_act", "in")
                src[f"{p}.attn.{u}.act"] = (f"{p}.attn.{u}_act", "out")
            src.update({
                f"{p}.attn.ctx.pre": (f"{p}.attn.context_act", "in"),
                f"{p}.attn.out": (f"{p}.attn.context_act", "out"),
                f"{p}.attn_proj.pre": (f"{p}.attn_proj_act", "in"),
                f"{p}.attn_proj.act": (f"{p}.attn_proj_act", "out"),
                f"{p}.x1": (f"{p}.norm2", "in"), f"{p}.h2": (f"{p}.norm2", "out"),
                f"{p}.fc1.pre": (f"{p}.fc1_act", "in"), f"{p}.fc1.act": (f"{p}.fc1_act", "out"),
                f"{p}.fc2.pre": (f"{p}.fc2_act", "in"), f"{p}.fc2.act": (f"{p}.fc2_act", "out"),
                f"{p}.out": (p, "out")})
    src.update({"head.norm": ("norm", "out"), "head.in": ("head", "in"),
                "logits": ("head", "out")})
    return src


def calibrate(model, images: torch.Tensor, batch: int = 256) -> dict[str, float]:
    """Max |value| over ``images`` of every tensor of :func:`tensor_sources`, measured on a
    float64 copy of ``model`` in eval mode. Deterministic (no randomness, fixed order)."""
    sources = tensor_sources(model)
    model64 = copy.deepcopy(model).double().eval()
    modules = dict(model64.named_modules())
    wanted = defaultdict(set)
    for mod, io in sources.values():
        wanted[mod].add(io)
    stats: dict[tuple[str, str], float] = defaultdict(float)
    handles = []

    def hook(name):
        def record(module, args, output):
            for io, t in (("in", args[0]), ("out", output)):
                if io in wanted[name]:
                    stats[(name, io)] = max(stats[(name, io)], float(t.detach().abs().max()))
        return record

    for name in wanted:
        handles.append(modules[name].register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            for i in range(0, images.shape[0], batch):
                model64(images[i:i + batch].double())
    finally:
        for h in handles:
            h.remove()
    return {t: stats[src] for t, src in sources.items()}
