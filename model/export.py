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
import math
import os
import re
from pathlib import Path

import numpy as np
import torch

from hw.opfile import JobError, is_golden_dir, load_manifest, write_manifest
from hw.ops import MatmulOp, OpKind, PoolOp
from hw.outfiles import OutputError, atomic_dir, check_writable_dir

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


def bit_encoding(precision: str) -> dict:
    """The manifest's ``encoding`` field: how a job file stores its bits (the same for every
    export) and the ``precision`` of the pass that produced them."""
    return {"bits": "bit 1 = +1 (xnor operands, and-mode W), bit 0 = -1; and-mode "
                    "A: bit 1 = 1, bit 0 = 0", "tie_rule": "sign(0) = +1",
            "packing": "numpy.packbits(bitorder='little') along K",
            "precision": precision}


def save_job(folder: Path, index: int, name: str, kind: OpKind, job, **extra) -> dict:
    """Save ``job`` (a hw.ops job of op ``index``, ``name``) into ``folder`` and return its
    manifest entry: index, name, kind, the job's mode and shape (matmul) or shape, frac_bits
    and window (pool), then ``extra``, then the file name."""
    entry = {"index": index, "name": name, "kind": kind.value}
    if kind is OpKind.MATMUL:
        entry.update(mode=job.mode, shape=job.shape)
    else:
        entry.update(shape=job.shape, frac_bits=job.frac_bits, window=job.window)
    entry.update(extra, file=_file_name(index, name))
    job.save(folder / entry["file"])
    return entry


def trace_model(model: BinaryViT, images: torch.Tensor):
    """Run images through a float64 copy of the model and return (logits, recorded ops)."""
    model64 = copy.deepcopy(model).double().eval()
    with torch.no_grad(), recording() as trace:
        logits = model64(images.double())
    return logits, trace.records


#: widths of the fixed-point pooling inputs the export accepts
POOL_BITS_RANGE = (2, 32)


def check_pool_bits(pool_bits) -> int:
    lo, hi = POOL_BITS_RANGE
    if type(pool_bits) is not int or not lo <= pool_bits <= hi:
        raise ValueError(f"pool bits must be an integer in {lo}..{hi}, got {pool_bits!r}")
    return pool_bits


def check_golden_out(out_dir, what: str = "output folder") -> Path:
    """``out_dir`` as an absolute Path that an export may write: absent, empty, or a golden
    directory (its manifest.json carries the marker of :func:`hw.opfile.write_manifest`), in a
    writable folder. OutputError naming the path otherwise; nothing is touched."""
    if Path(out_dir).is_symlink():
        raise OutputError(f"{what} {out_dir} is a symbolic link; give the folder it points to "
                          f"({os.path.realpath(out_dir)}) or another path")
    out_dir = check_writable_dir(Path(os.path.abspath(out_dir)), what)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        try:
            load_manifest(out_dir)
            return out_dir          # a golden directory: the export may replace it
        except JobError as exc:
            reason = str(exc).split("; ", 1)[0]
        raise OutputError(f"{what} {out_dir} exists, is not empty and was not written by "
                          f"`python -m model export` ({reason}); nothing was changed: choose "
                          "another folder or empty it yourself")
    return out_dir


def export_golden(model: BinaryViT, images: torch.Tensor, out_dir, pool_bits: int = 16,
                  labels: torch.Tensor | None = None, source: str = "",
                  progress: bool = True, what: str = "output folder") -> dict:
    """Write every binary op of `images` through `model` into `out_dir`; returns the manifest.

    The directory is written under a temporary sibling name (``.<name>.tmp-<pid>``) and renamed
    into place at the end (:func:`hw.outfiles.atomic_dir`), so a failure, Ctrl-C or SIGTERM
    never leaves a partial golden directory, and a temporary left by a killed export is removed
    by the next one. An existing non-empty directory is replaced only if it is a golden
    directory (manifest.json with ``"kind": "bvit-golden"`` and this format version); anything
    else raises OutputError before any work.
    """
    from tqdm import tqdm

    check_pool_bits(pool_bits)
    if not model.config.binary:
        raise ValueError(f"model {model.config.name!r} is full precision (block "
                         f"{model.config.block!r}): it has no binary ops to export")
    out_dir = check_golden_out(out_dir, what)
    with atomic_dir(out_dir, owned=is_golden_dir, what=what) as tmp:
        logits, ops = trace_model(model, images)
        entries = []
        for i, op in enumerate(tqdm(ops, desc="export", unit="op", disable=not progress)):
            if op.op.kind is OpKind.MATMUL:
                entries.append(save_job(tmp, i, op.op.name, op.op.kind, matmul_job(op)))
            else:
                job, stats = pool_job(op, pool_bits)
                entries.append(save_job(tmp, i, op.op.name, op.op.kind, job,
                                        fixed_point_error=stats))
        pools = [e["fixed_point_error"] for e in entries if e["kind"] == "pool"]
        fields = {
            "source": source, "images": int(images.shape[0]),
            "config": model.config.to_dict(), "pool_bits": pool_bits,
            "encoding": bit_encoding("float64 forward pass"),
            "predictions": logits.argmax(-1).tolist(),
            "labels": labels.tolist() if labels is not None else None,
            "summary": {"matmul_ops": sum(e["kind"] == "matmul" for e in entries),
                        "pool_ops": len(pools),
                        "pool_max_abs_error": max((p["max_abs_error"] for p in pools),
                                                  default=0.0)},
        }
        manifest = write_manifest(tmp, entries, **fields)
    return manifest
