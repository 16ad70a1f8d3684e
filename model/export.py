"""Golden binary tensors: run images through the model in float64, record every binary matmul and
pooling op, and write each as an op file (hw/ops.py, hw/opfile.py) plus manifest.json.

Matmul jobs carry the exact integers; the export asserts that they equal what the float model's
own matmul of the +-1 (or 0/1) operands computed. Pool jobs carry the input in signed fixed
point (``bits``-bit two's complement, a power-of-two scale 2**-frac_bits chosen per op as the
largest that cannot overflow) and the exact integer window sums; the manifest reports the error
of the fixed-point average against the float model's average pooling.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from hw.opfile import FORMAT_VERSION, MANIFEST_NAME
from hw.ops import MatmulOp, OpKind, PoolOp

from .binaryvit import BinaryViT
from .trace import Recorded, recording


class ExportError(RuntimeError):
    """The export found an inconsistency (it never writes a partial directory)."""


def fixed_point_frac_bits(max_abs: float, bits: int) -> int:
    """Largest F with round(max_abs * 2**F) <= 2**(bits-1) - 1 (capped at 2*bits)."""
    limit = (1 << (bits - 1)) - 1
    if max_abs <= 0:
        return 2 * bits
    return min(2 * bits, math.floor(math.log2(limit / max_abs)))


def to_fixed_point(x: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Float array -> (integers, frac_bits), value = q * 2**-frac_bits."""
    frac = fixed_point_frac_bits(float(np.abs(x).max(initial=0.0)), bits)
    q = np.round(np.ldexp(x, frac)).astype(np.int64)
    limit = (1 << (bits - 1)) - 1
    if np.abs(q).max(initial=0) > limit:
        raise ExportError(f"fixed-point overflow: |q| > {limit} with frac_bits {frac}")
    return q, frac


def matmul_job(rec: Recorded) -> MatmulOp:
    """A traced matmul with its result; raises ExportError unless the float product is the
    exact integer result of the bits."""
    op = rec.op
    product = rec.output.double().numpy()
    job = op.with_result()
    if not np.array_equal(product, np.round(product)) or not np.array_equal(job.result, product):
        bad = int((job.result != product).sum())
        raise ExportError(f"{op.name}: {bad} of {product.size} integers differ between the bits' "
                          "popcount result and the float model's binary matmul")
    return job


def pool_job(rec: Recorded, bits: int) -> tuple[PoolOp, dict]:
    """A traced pooling as a fixed-point op with its result, and its error against the float
    pooling."""
    op = rec.op
    q, frac = to_fixed_point(rec.input.double().numpy(), bits)
    job = PoolOp.from_values(op.name, q, frac, bits, op.kernel, op.stride,
                             op.padding).with_result()
    fixed_avg = np.ldexp(job.result / job.window, -frac)
    float_avg = rec.output.double().numpy()
    err = np.abs(fixed_avg - float_avg)
    stats = {"max_abs_error": float(err.max()), "mean_abs_error": float(err.mean()),
             "max_abs_value": float(np.abs(float_avg).max()),
             "lsb": math.ldexp(1.0, -frac)}
    return job, stats


def _file_name(index: int, name: str) -> str:
    return f"{index:04d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.npz"


def trace_model(model: BinaryViT, images: torch.Tensor):
    """Run images through a float64 copy of the model and return (logits, recorded ops)."""
    model64 = copy.deepcopy(model).double().eval()
    with torch.no_grad(), recording() as trace:
        logits = model64(images.double())
    return logits, trace.records


def export_golden(model: BinaryViT, images: torch.Tensor, out_dir, pool_bits: int = 16,
                  labels: torch.Tensor | None = None, source: str = "",
                  progress: bool = True) -> dict:
    """Write every binary op of `images` through `model` into `out_dir`; returns the manifest.

    The directory is written under a temporary name and moved into place at the end, so a
    failure never leaves a partial golden directory. An existing directory is replaced only if
    it holds a previous export (a manifest.json).
    """
    from tqdm import tqdm

    if not 2 <= pool_bits <= 32:
        raise ExportError(f"pool bits must be in 2..32, got {pool_bits}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_NAME).is_file():
        raise ExportError(f"{out_dir} exists, is not empty and is not a golden directory; "
                          "choose another --out")
    logits, ops = trace_model(model, images)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        entries = []
        for i, op in enumerate(tqdm(ops, desc="export", unit="op", disable=not progress)):
            entry = {"index": i, "name": op.op.name, "kind": op.op.kind.value}
            if op.op.kind is OpKind.MATMUL:
                job = matmul_job(op)
                entry.update(mode=job.mode, shape=job.shape)
            else:
                job, stats = pool_job(op, pool_bits)
                entry.update(shape=job.shape, frac_bits=job.frac_bits,
                             window=job.window, fixed_point_error=stats)
            entry["file"] = _file_name(i, op.op.name)
            job.save(tmp / entry["file"])
            entries.append(entry)
        pools = [e["fixed_point_error"] for e in entries if e["kind"] == "pool"]
        manifest = {
            "format_version": FORMAT_VERSION, "source": source, "images": int(images.shape[0]),
            "config": model.config.to_dict(), "pool_bits": pool_bits,
            "encoding": {"bits": "bit 1 = +1 (xnor operands, and-mode W), bit 0 = -1; and-mode "
                                 "A: bit 1 = 1, bit 0 = 0", "tie_rule": "sign(0) = +1",
                         "packing": "numpy.packbits(bitorder='little') along K",
                         "precision": "float64 forward pass"},
            "predictions": logits.argmax(-1).tolist(),
            "labels": labels.tolist() if labels is not None else None,
            "summary": {"matmul_ops": sum(e["kind"] == "matmul" for e in entries),
                        "pool_ops": len(pools),
                        "pool_max_abs_error": max((p["max_abs_error"] for p in pools),
                                                  default=0.0)},
            "ops": entries,
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
