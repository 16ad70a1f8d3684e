"""Agreement of the integer model with the float model (float64): top-1, logit error, and per
layer how many binary decisions (RSign bits, attention-mask bits) differ from the float trace
of the same images."""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import torch

from hw.ops import OpKind

from ..export import trace_model
from . import ops
from .fold import quantize_images
from .run import drive, network_steps

#: the tensors that a saturating requant writes (model/INTEGER.md)
_CLAMPED = (".h", ".h2", ".pre", ".act", ".out", ".x1", "head.norm", "head.in")
_HEAD_TAG = re.compile(r"\.b\d+\.h\d+\.(scores|context)$")


def _row(table, layer, what, diff: np.ndarray) -> None:
    key = (layer, what)
    flips, total = table.get(key, (0, 0))
    table[key] = (flips + int(diff.sum()), total + int(diff.size))


def compare_with_float(model, int_model, images: torch.Tensor, labels=None) -> dict:
    """Run ``images`` (float, the float model's input) through the float model (float64, traced)
    and the integer model (its own executor, on :func:`quantize_images` of them); return
    top-1 of both, their agreement, the logit error and the flip table. Rows of the table:
    (layer, what, flips, total, rate) with ``what`` = ``sign`` (the RSign bits entering a weight
    layer or merge conv), ``Qb``/``Kb``/``Vb`` (the attention signs) or ``mask`` (the kept-
    probability mask). ``mask_rule``: the integer mask rule applied to the float model's own
    scores against the float mask (the table's disagreement alone)."""
    logits_f, records = trace_model(model, images)
    logits_f = logits_f.numpy()
    int_ops = []
    run = drive(network_steps(int_model, quantize_images(int_model, images)),
                on_op=lambda op, result: int_ops.append(op))
    names_f = [r.op.name for r in records]
    if names_f != [op.name for op in int_ops]:
        raise AssertionError("the integer model's ops differ from the float trace's")
    table: "OrderedDict[tuple[str, str], tuple[int, int]]" = OrderedDict()
    rule_flips = rule_total = 0
    for rec, op in zip(records, int_ops):
        f = rec.op
        if f.kind is not OpKind.MATMUL:
            continue
        m = _HEAD_TAG.search(f.name)
        if m is None:
            _row(table, f.name, "sign", f.a_bits != op.a_bits)
            continue
        layer = f.name[:m.start()]
        if m.group(1) == "scores":
            _row(table, layer, "Qb", f.a_bits != op.a_bits)
            _row(table, layer, "Kb", f.w_bits != op.w_bits)
            scores = rec.output.numpy().astype(np.int64)
        else:
            _row(table, layer, "mask", f.a_bits != op.a_bits)
            _row(table, layer, "Vb", f.w_bits != op.w_bits)
            consts = int_model.layers[layer.rsplit(".attn", 1)[0]]
            rule = ops.attention_mask(scores, consts["attn.exp_table"],
                                      int(consts["attn.clip_mult"]),
                                      int(consts["attn.clip_shift"]))
            rule_flips += int((rule != f.a_bits).sum())
            rule_total += int(rule.size)
    sat = tot = 0
    for name, t in run.tensors.items():
        bits = {"head.in": 8}.get(name, 16)
        if name.endswith(_CLAMPED) and name != "logits":
            lim = 1 << (bits - 1)
            sat += int(((t == -lim) | (t == lim - 1)).sum())
            tot += int(t.size)
    pred_f = logits_f.argmax(-1)
    logits_i = np.ldexp(run.logits.astype(np.float64), -int_model.frac["logits"])
    err = np.abs(logits_i - logits_f)
    out = {"images": int(images.shape[0]),
           "agreement": float((pred_f == run.predictions).mean()),
           "agree_count": int((pred_f == run.predictions).sum()),
           "logit_max_abs_error": float(err.max()), "logit_mean_abs_error": float(err.mean()),
           "logit_max_abs": float(np.abs(logits_f).max()),
           "float_predictions": pred_f.tolist(), "integer_predictions": run.predictions.tolist(),
           "layers": [{"layer": k[0], "what": k[1], "flips": v[0], "total": v[1],
                       "rate": v[0] / v[1] if v[1] else 0.0} for k, v in table.items()],
           "saturated": {"values": sat, "of": tot},
           "mask_rule": {"flips": rule_flips, "total": rule_total,
                         "rate": rule_flips / rule_total if rule_total else 0.0}}
    if labels is not None:
        y = np.asarray(labels)
        out["float_top1"] = float((pred_f == y).mean())
        out["integer_top1"] = float((run.predictions == y).mean())
    return out


def format_report(result: dict, title: str) -> str:
    """The comparison as printed by `python -m model integer`."""
    n = result["images"]
    lines = [title]
    if "float_top1" in result:
        lines.append(f"  top-1: float {100 * result['float_top1']:.2f} %, integer "
                     f"{100 * result['integer_top1']:.2f} % ({n} images)")
    lines.append(f"  top-1 agreement integer vs float: {100 * result['agreement']:.2f} % "
                 f"({result['agree_count']}/{n})")
    lines.append(f"  logits: max |int - float| {result['logit_max_abs_error']:.4g}, mean "
                 f"{result['logit_mean_abs_error']:.4g} (max |float logit| "
                 f"{result['logit_max_abs']:.4g})")
    sat = result["saturated"]
    lines.append(f"  saturated activations: {sat['values']} of {sat['of']} values")
    r = result["mask_rule"]
    lines.append(f"  mask rule alone (integer mask of the float scores vs float mask): "
                 f"{r['flips']}/{r['total']} = {100 * r['rate']:.4f} %")
    lines.append(f"  {'layer':<40} {'bits':<5} {'flips':>9} {'of':>10} {'rate %':>9}")
    for row in result["layers"]:
        lines.append(f"  {row['layer']:<40} {row['what']:<5} {row['flips']:>9} "
                     f"{row['total']:>10} {100 * row['rate']:>9.4f}")
    return "\n".join(lines)
