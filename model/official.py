"""Loading (and writing) state dicts in the official BinaryViT training code's key layout.

Our modules have their own names; this file is the one documented mapping between the two.
Official keys are `vit.encoder.layer.N.*` with N counted over all stages; ours are
`stages.S.blocks.B.*`. Block-relative renames are listed in BLOCK_RENAMES (entries ending in
"." rename a module prefix, others a whole key); leaf renames in LEAF_RENAMES. The only shape
difference: a merge's `move` is (C,) here and (1, C, 1, 1) in the official layout.

The same table serves every official variant (model/variants.py): the plain ViT
(`--model-type=extra-res`, one stage, so layer N = block N; `vit.embeddings.cls_token` with
`--enable-cls-token`, no `vit.embeddings.norm`) and the full-precision merges of `--some-fp`
(`norm0`, `proj.weight`, `norm`, `position_embeddings` only). `load_official` picks the variant
from the config.json it is given.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .binaryvit import BinaryViT
from .config import BinaryViTConfig

_ATT = "attention.attention."
BLOCK_RENAMES = [
    ("attn.q.move", _ATT + "moveq"), ("attn.q.weight", _ATT + "query.weight"),
    ("attn.q.norm.", _ATT + "normq."),
    ("attn.k.move", _ATT + "movek"), ("attn.k.weight", _ATT + "key.weight"),
    ("attn.k.norm.", _ATT + "normk."),
    ("attn.v.move", _ATT + "movev"), ("attn.v.weight", _ATT + "value.weight"),
    ("attn.v.norm.", _ATT + "normv."),
    ("attn.sr.move", _ATT + "mover"), ("attn.sr.weight", _ATT + "reduction.weight"),
    ("attn.sr.norm.", _ATT + "norm_r."), ("attn.sr_act.", _ATT + "rprelur."),
    ("attn.q_act.", _ATT + "rpreluq."), ("attn.k_act.", _ATT + "rpreluk."),
    ("attn.v_act.", _ATT + "rpreluv."),
    ("attn.q_sign_move", _ATT + "moveq2"), ("attn.k_sign_move", _ATT + "movek2"),
    ("attn.v_sign_move", _ATT + "movev2"), ("attn.prob_clip", _ATT + "att_prob_clip"),
    ("attn.context_norm.", _ATT + "norm_context."), ("attn.context_act.", _ATT + "rprelu_context."),
    ("attn_proj.move", "attention.output.move"),
    ("attn_proj.weight", "attention.output.dense.weight"),
    ("attn_proj.norm.", "attention.output.norm."), ("attn_proj_act.", "attention.output.rprelu."),
    ("attn_scale.", "attention.output.layerscale."),
    ("fc1.move", "intermediate.move"), ("fc1.weight", "intermediate.dense.weight"),
    ("fc1.norm.", "intermediate.norm."), ("fc1_act.", "intermediate.rprelu."),
    ("fc2.move", "output.move"), ("fc2.weight", "output.dense.weight"),
    ("fc2.norm.", "output.norm."), ("fc2_act.", "output.rprelu."),
    ("ffn_scale.", "output.layerscale."),
    ("norm1.", "layernorm_before."), ("norm2.", "layernorm_after."),
    ("branch_scales.h3.", "layerscale_h3."), ("branch_scales.w3.", "layerscale_w3."),
    ("branch_scales.h5.", "layerscale_h5."), ("branch_scales.w5.", "layerscale_w5."),
]
MERGE_RENAMES = [
    ("norm_in.", "norm0."), ("conv.move", "move"), ("conv.weight", "proj.weight"),
    ("norm.", "norm."), ("act.", "rprelu."), ("pos_embed", "position_embeddings"),
]
TOP_RENAMES = [
    ("stem.proj.", "vit.embeddings.patch_embeddings.projection."),
    ("stem.norm.", "vit.embeddings.norm."), ("stem.pos_embed", "vit.embeddings.position_embeddings"),
    ("stem.cls_token", "vit.embeddings.cls_token"),
    ("norm.", "vit.layernorm."), ("head.", "classifier."),
]
# RPReLU and LayerScale parameters (these leaf names occur nowhere else).
LEAF_RENAMES = {"shift_in": "move1", "slope": "prelu.weight", "shift_out": "move2",
                "scale": "alpha", "shift": "move"}


class OfficialCheckpointError(ValueError):
    """An official state dict does not match the model its config describes."""


def _rename(key: str, table) -> str | None:
    for ours, theirs in table:
        if ours.endswith("."):
            if key.startswith(ours):
                return theirs + key[len(ours):]
        elif key == ours:
            return theirs
    return None


def official_key(key: str, cfg: BinaryViTConfig) -> str:
    """Our state-dict key -> the official training code's key."""
    head, _, leaf = key.rpartition(".")
    if leaf in LEAF_RENAMES:
        key = f"{head}.{LEAF_RENAMES[leaf]}"
    m = re.fullmatch(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)", key)
    if m:
        stage, block, rest = int(m[1]), int(m[2]), m[3]
        layer = sum(cfg.depths[:stage]) + block
        out = _rename(rest, BLOCK_RENAMES)
        if out is not None:
            return f"vit.encoder.layer.{layer}.{out}"
    m = re.fullmatch(r"stages\.(\d+)\.merge\.(.+)", key)
    if m:
        out = _rename(m[2], MERGE_RENAMES)
        if out is not None:
            return f"vit.encoder.patch_embed{m[1]}.{out}"
    out = _rename(key, TOP_RENAMES)
    if out is not None:
        return out
    raise KeyError(f"no official name for model key {key!r}")


def _official_shape(key: str, shape: torch.Size) -> tuple[int, ...]:
    if re.fullmatch(r"stages\.\d+\.merge\.conv\.move", key):
        return (1, shape[0], 1, 1)
    return tuple(shape)


def to_official_state_dict(model: BinaryViT) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers under the official key names and shapes."""
    cfg = model.config
    return {official_key(k, cfg): v.detach().clone().reshape(_official_shape(k, v.shape))
            for k, v in model.state_dict().items()}


def save_official(model: BinaryViT, path) -> None:
    """Write the model as an official-layout state dict (what `load_official` reads)."""
    torch.save(to_official_state_dict(model), path)


def _read_state_dict(path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise OfficialCheckpointError(f"state dict file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        raise OfficialCheckpointError(f"{path}: cannot be read by torch.load ({exc})") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]          # a full training checkpoint (model, optimizer, ...)
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise OfficialCheckpointError(f"{path}: expected a state dict (or a checkpoint dict with "
                                      "it under 'model')")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}   # saved from a DDP wrapper
    return obj


def _listing(title: str, items: list[str], limit: int = 12) -> str:
    shown = "\n".join(f"    {item}" for item in items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"  {title} ({len(items)}):\n{shown}{more}"


def load_official(config_json_path, state_dict_path) -> BinaryViT:
    """Build a BinaryViT from an official config.json and load an official state dict strictly.

    Every official key must be consumed and every model parameter and buffer filled, with the
    right shape; otherwise one OfficialCheckpointError lists all problems. Returns the model in
    eval mode (float32; call .double() for float64).
    """
    cfg = BinaryViTConfig.load(config_json_path)
    model = BinaryViT(cfg)
    ours = model.state_dict()
    by_official = {official_key(k, cfg): k for k in ours}
    theirs = _read_state_dict(state_dict_path)

    missing = sorted(set(by_official) - set(theirs))
    unexpected = sorted(set(theirs) - set(by_official))
    mismatched = []
    for okey in sorted(set(theirs) & set(by_official)):
        want = _official_shape(by_official[okey], ours[by_official[okey]].shape)
        if tuple(theirs[okey].shape) != want:
            mismatched.append(f"{okey}: checkpoint {list(theirs[okey].shape)}, model {list(want)}")
    if missing or unexpected or mismatched:
        parts = [f"{state_dict_path} does not match the model described by {config_json_path}:"]
        if missing:
            parts.append(_listing("missing keys", missing))
        if unexpected:
            parts.append(_listing("unexpected keys", unexpected))
        if mismatched:
            parts.append(_listing("shape mismatches", mismatched))
        parts.append("  Check that the config is the one the checkpoint was trained with.")
        raise OfficialCheckpointError("\n".join(parts))

    model.load_state_dict({k: theirs[okey].reshape(ours[k].shape).to(ours[k].dtype)
                           for okey, k in by_official.items()}, strict=True)
    return model.eval()
