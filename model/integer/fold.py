"""Folding a trained float BinaryViT into an :class:`IntegerBinaryViT`: calibrate the scale of
every stored tensor, then turn every norm, alpha, LayerScale, RPReLU, RSign threshold, clip,
position embedding, stem and classifier into the integer constants of the primitives in
:mod:`model.integer.ops` (model/INTEGER.md lists them all)."""

from __future__ import annotations

import numpy as np
import torch

from ..quant import (conv_weight_scale, linear_weight_scale, linear_weight_signs, sign_pm1,
                     to_bits)
from .calibrate import calibrate
from .fixed import (fold_affine, fold_clip, fold_move, fold_rprelu, frac_bits_for,
                    quantize_weights_int8)
from .intmodel import DIGITS_INPUT, InputFormat, IntegerBinaryViT
from .ops import exp_table

#: calibration margin of the 16-bit tensors: max |x| over the calibration set times this fits
#: (1.0: the largest calibrated value just fits; larger test values saturate)
HEADROOM = 1.0
#: width of the classifier's input activations (int8 x int8 -> int32)
HEAD_IN_BITS = 8
#: width of the logits (int32, at a 16-bit calibrated scale: no saturation in practice)
LOGIT_BITS = 32


def _np(t) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _bn(norm) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (gain, bias) of an eval-mode BatchNorm."""
    g = 1.0 / np.sqrt(_np(norm.running_var) + norm.eps)
    if norm.weight is not None:
        g = g * _np(norm.weight)
    b = -_np(norm.running_mean) * g
    if norm.bias is not None:
        b = b + _np(norm.bias)
    return g, b


def _layerscale(module, channels: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(module, torch.nn.Identity):
        return np.ones(channels), np.zeros(channels)
    return _np(module.scale), _np(module.shift)


def _put(layer: dict, prefix: str, consts: dict) -> None:
    for k, v in consts.items():
        layer[f"{prefix}.{k}"] = np.asarray(v)


def is_digits_images(images: torch.Tensor) -> bool:
    """True if every value is pixel / 8 - 1 with an integer pixel in 0..16 (the digits set)."""
    p = (images.double() + 1) * 8
    return bool(((p == p.round()) & (p >= 0) & (p <= 16)).all())


def input_format_for(images: torch.Tensor) -> InputFormat:
    """DIGITS_INPUT for digits images; else a symmetric int8 format with the largest
    power-of-two scale that holds max |x| of ``images``."""
    if is_digits_images(images):
        return DIGITS_INPUT
    frac = frac_bits_for(float(images.abs().max()), bits=8, headroom=1.0)
    return InputFormat(frac=frac, zero=0, lo=-128, hi=127)


def quantize_images(int_model: IntegerBinaryViT, images_float) -> np.ndarray:
    """The network's integer input (B, C, S, S) int64: clamp(round(x * 2**frac) + zero, lo, hi)
    of the integer model's input format (digits: the raw pixels 0..16, exact)."""
    f = int_model.input
    x = np.asarray(images_float.detach().double().cpu().numpy()
                   if isinstance(images_float, torch.Tensor) else images_float, dtype=np.float64)
    q = np.round(np.ldexp(x, f.frac)).astype(np.int64) + f.zero
    return np.clip(q, f.lo, f.hi)


def _linear(layer, prefix, lin, frac_in, window=1):
    """RSign threshold and weight bits of a BinaryLinear; returns (alpha * gain, bias)."""
    w = lin.weight.detach().double()        # float64, as the traced model the export checks
    layer[f"{prefix}.move"] = fold_move(_np(lin.move), frac_in, window)
    layer[f"{prefix}.w_bits"] = to_bits(linear_weight_signs(w)).numpy()
    g, b = _bn(lin.norm)
    return _np(linear_weight_scale(w))[:, 0] * g, b


def _rprelu(layer, prefix, act, frac_in, frac_out, extra=None):
    _put(layer, prefix, fold_rprelu(_np(act.shift_in), _np(act.slope), _np(act.shift_out),
                                    frac_in, frac_out, extra))


def fold_model(model, calib_images: torch.Tensor, headroom: float = HEADROOM,
               input_format: InputFormat | None = None) -> IntegerBinaryViT:
    """Calibrate ``model`` (a float BinaryViT) on ``calib_images`` (deterministic: the max |x|
    of every stored tensor) and fold it into integer constants.

    Scales: every stored activation is int16 with the power-of-two scale 2**-F of
    :func:`~model.integer.fixed.frac_bits_for` (max |x| * headroom fits); the classifier input
    is int8 (headroom 1), the logits int32. ``input_format``: default DIGITS_INPUT for digits
    images, else calibrated int8 (:func:`input_format_for`)."""
    cfg = model.config
    check_supported(cfg)
    model = model.eval()
    stats = calibrate(model, calib_images)
    frac = {t: frac_bits_for(v, 16, headroom) for t, v in stats.items()}
    frac["head.in"] = frac_bits_for(stats["head.in"], HEAD_IN_BITS, 1.0)
    inp = input_format or input_format_for(calib_images)
    layers: dict[str, dict[str, np.ndarray]] = {}

    # ---- stem: int8 weights x integer pixels -> int32, one affine with BN and position ----
    stem = model.stem
    c0 = cfg.dims[0]
    w8, ws = quantize_weights_int8(_np(stem.proj.weight).reshape(c0, -1))
    g, b = _bn(stem.norm)
    step = 2.0 ** -inp.frac
    bias = (g * (_np(stem.proj.bias) - ws * step * inp.zero * w8.astype(np.int64).sum(axis=1))
            + b + _np(stem.pos_embed)[0])
    layer = {"weight": w8}
    _put(layer, "stem", fold_affine([(g * ws * step, 0)], bias, frac["stem.out"], c0))
    layers["stem"] = layer
    x_name = "stem.out"

    for s in range(cfg.num_stages):
        stage, dim = model.stages[s], cfg.dims[s]
        if s > 0:
            m, pre = stage.merge, f"stages.{s}.merge"
            cin = cfg.dims[s - 1]
            layer = {}
            g, b = _bn(m.norm_in)
            _put(layer, "norm_in", fold_affine([(g, frac[x_name])], b, frac[f"{pre}.h"], cin))
            w = m.conv.weight.detach().double()
            layer["conv.move"] = fold_move(_np(m.conv.move), frac[f"{pre}.h"])
            layer["conv.w_bits"] = to_bits(sign_pm1(w)).numpy().reshape(dim, -1)
            g, b = _bn(m.norm)
            alpha = _np(conv_weight_scale(w)).reshape(dim)
            _put(layer, "conv", fold_affine([(alpha * g, 0), (0.25, frac[f"{pre}.h"])], b,
                                            frac[f"{pre}.pre"], dim))
            _rprelu(layer, "act", m.act, frac[f"{pre}.pre"], frac[f"{pre}.out"],
                    _np(m.pos_embed)[0])
            layers[pre] = layer
            x_name = f"{pre}.out"
        for bi, blk in enumerate(stage.blocks):
            pre = f"stages.{s}.blocks.{bi}"
            layers[pre] = _fold_block(blk, cfg, s, pre, frac, x_name)
            x_name = f"{pre}.out"

    # ---- head: BN, GAP sums -> int8, int8 classifier -> int32 logits ------------------------
    c = cfg.dims[-1]
    grid = cfg.stage_grids[-1]
    layer = {}
    g, b = _bn(model.norm)
    _put(layer, "norm", fold_affine([(g, frac[x_name])], b, frac["head.norm"], c))
    _put(layer, "in", fold_affine([(1.0 / (grid * grid), frac["head.norm"])], np.zeros(c),
                                  frac["head.in"], c))
    w8, ws = quantize_weights_int8(_np(model.head.weight))
    layer["weight"] = w8
    _put(layer, "logits", fold_affine([(ws * 2.0 ** -frac["head.in"], 0)], _np(model.head.bias),
                                      frac["logits"], cfg.num_classes))
    layers["head"] = layer
    meta = {"calibration_images": int(calib_images.shape[0]), "headroom": headroom,
            "calibration_max_abs": {k: float(v) for k, v in stats.items()},
            "widths": constant_widths(layers)}
    return IntegerBinaryViT(cfg, inp, frac, layers, meta)


#: model-family switches (model/config.py) the fold handles only at these values
SUPPORTED_FAMILY = {"block": "binaryvit", "cls_token": False, "stem_norm": True,
                    "fp_merge": False}


def check_supported(cfg) -> None:
    """ValueError naming the switch unless ``cfg`` is the BinaryViT the fold knows (pyramid
    BinaryViT blocks, binary merges, stem BatchNorm, no class token)."""
    for key, want in SUPPORTED_FAMILY.items():
        have = getattr(cfg, key, want)
        if have != want:
            raise ValueError(f"the integer fold supports the BinaryViT family member with "
                             f"{key}={want!r} only; this model has {key}={have!r}")


def constant_widths(layers: dict) -> dict:
    """Signed bits needed by the largest multiplier (``*.mI``, RPReLU ``*.slope``), bias and
    RSign threshold over all layers (model/INTEGER.md states 16, 48 and 32)."""
    def bits(v) -> int:
        top = int(np.abs(np.asarray(v, dtype=np.int64)).max(initial=0))
        return top.bit_length() + 1
    out = {"mult": 0, "bias": 0, "move": 0}
    for consts in layers.values():
        for k, v in consts.items():
            kind = k.rsplit(".", 1)[-1]
            if kind.startswith("m") and kind[1:].isdigit() or kind == "slope":
                out["mult"] = max(out["mult"], bits(v))
            elif kind == "bias":
                out["bias"] = max(out["bias"], bits(v))
            elif kind in ("move", "sign_move"):
                out["move"] = max(out["move"], bits(v))
    return out


def _fold_block(blk, cfg, s, pre, frac, x_name) -> dict:
    dim, ffn = cfg.dims[s], cfg.ffn_sizes[s]
    r = cfg.sr_ratios[s]
    f = lambda name: frac[f"{pre}.{name}"]          # noqa: E731 - local shorthand
    layer = {}
    g, b = _bn(blk.norm1)
    _put(layer, "norm1", fold_affine([(g, frac[x_name])], b, f("h"), dim))
    at = blk.attn
    kv_frac = f("h")
    if r > 1:
        ag, b = _linear(layer, "attn.sr", at.sr, f("h"), r * r)
        _put(layer, "attn.sr", fold_affine([(ag, 0), (1.0 / (r * r), f("h"))], b,
                                           f("attn.sr.pre"), dim))
        _rprelu(layer, "attn.sr.act", at.sr_act, f("attn.sr.pre"), f("attn.sr.act"))
        kv_frac = f("attn.sr.act")
    for u, lin, act, sm, src in (("q", at.q, at.q_act, at.q_sign_move, f("h")),
                                 ("k", at.k, at.k_act, at.k_sign_move, kv_frac),
                                 ("v", at.v, at.v_act, at.v_sign_move, kv_frac)):
        ag, b = _linear(layer, f"attn.{u}", lin, src)
        _put(layer, f"attn.{u}", fold_affine([(ag, 0), (1.0, src)], b, f(f"attn.{u}.pre"), dim))
        _rprelu(layer, f"attn.{u}.act", act, f(f"attn.{u}.pre"), f(f"attn.{u}.act"))
        layer[f"attn.{u}.sign_move"] = fold_move(_np(sm), f(f"attn.{u}.act"))
    layer["attn.exp_table"] = exp_table(dim // cfg.heads[s])
    mult, shift = fold_clip(float(at.prob_clip.detach()))
    layer["attn.clip_mult"], layer["attn.clip_shift"] = np.int64(mult), np.int64(shift)
    g, b = _bn(at.context_norm)
    clip = float(at.prob_clip.detach().double())
    _put(layer, "attn.ctx", fold_affine([(clip * g, 0), (1.0, f("attn.q.act")),
                                         (1.0, f("attn.k.act")), (1.0, f("attn.v.act"))],
                                        b, f("attn.ctx.pre"), dim))
    _rprelu(layer, "attn.ctx.act", at.context_act, f("attn.ctx.pre"), f("attn.out"))
    ag, b = _linear(layer, "attn_proj", blk.attn_proj, f("attn.out"))
    _put(layer, "attn_proj", fold_affine([(ag, 0), (1.0, f("attn.out"))], b, f("attn_proj.pre"),
                                         dim))
    _rprelu(layer, "attn_proj.act", blk.attn_proj_act, f("attn_proj.pre"), f("attn_proj.act"))
    ls, lb = _layerscale(blk.attn_scale, dim)
    _put(layer, "x1", fold_affine([(ls, f("attn_proj.act")), (1.0, frac[x_name])], lb, f("x1"),
                                  dim))
    g, b = _bn(blk.norm2)
    _put(layer, "norm2", fold_affine([(g, f("x1"))], b, f("h2"), dim))
    ag, b = _linear(layer, "fc1", blk.fc1, f("h2"))
    _put(layer, "fc1", fold_affine([(ag, 0), (1.0, f("h2"))], b, f("fc1.pre"), ffn))
    _rprelu(layer, "fc1.act", blk.fc1_act, f("fc1.pre"), f("fc1.act"))
    ratio = ffn // dim
    ag, b = _linear(layer, "fc2", blk.fc2, f("fc1.act"))
    _put(layer, "fc2", fold_affine([(ag, 0), (1.0 / ratio, f("fc1.act"))], b, f("fc2.pre"), dim))
    _rprelu(layer, "fc2.act", blk.fc2_act, f("fc2.pre"), f("fc2.act"))
    ls, lb = _layerscale(blk.ffn_scale, dim)
    terms, bias = [(ls, f("fc2.act")), (1.0, f("x1"))], lb.copy()
    for name, scale in blk.branch_scales.items():
        kh, kw = blk.BRANCHES[name]
        bs, bb = _np(scale.scale), _np(scale.shift)
        terms.append((bs / (kh * kw), f("h2")))
        bias = bias + bb
    _put(layer, "out", fold_affine(terms, bias, f("out"), dim))
    return layer


__all__ = ["fold_model", "quantize_images", "input_format_for", "is_digits_images",
           "HEADROOM"]
