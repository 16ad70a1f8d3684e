"""Golden job files from the integer model: the same files (hw/ops.py, hw/opfile.py), op names
and order as the float export (model/export.py), but every operand comes from the integer
model. Each job's result (hw.ops ``with_result()``) is asserted equal to the integer model's own
computation (:func:`model.integer.run.execute`); the integer constants go into ``params/``."""

from __future__ import annotations

import numpy as np

from hw.opfile import is_golden_dir, write_manifest
from hw.outfiles import atomic_dir

from ..export import ExportError, bit_encoding, check_golden_out, save_job
from . import run as run_mod
from .intmodel import IntegerBinaryViT, write_integer_files

#: the folder inside the golden directory with the integer constants (one .npz per layer)
PARAMS_DIR = "params"


def export_integer_golden(int_model: IntegerBinaryViT, images_q: np.ndarray, out_dir,
                          labels=None, source: str = "", progress: bool = True,
                          what: str = "output folder") -> dict:
    """Run ``images_q`` (integers, :func:`quantize_images`) through the integer model and write
    every binary op as a job file plus manifest.json into ``out_dir``, and the integer constants
    into ``out_dir/params`` (:meth:`IntegerBinaryViT.save`'s format). ExportError (nothing
    written) if any job's hw.ops result differs from the integer model's own result. Written
    whole or not at all; replaces only a golden directory (like :func:`export_golden`)."""
    from tqdm import tqdm

    out_dir = check_golden_out(out_dir, what)
    with atomic_dir(out_dir, owned=is_golden_dir, what=what) as tmp:
        entries: list[dict] = []
        bar = tqdm(desc="export --integer", unit="op", disable=not progress)

        def executor(op):
            job = op.with_result()
            own = np.asarray(run_mod.execute(op), dtype=np.int64)
            if own.shape != job.result.shape or not np.array_equal(job.result, own):
                bad = (int((job.result != own).sum()) if own.shape == job.result.shape
                       else "all")
                raise ExportError(f"{op.name}: {bad} of {job.result.size} integers differ "
                                  "between the job's result (hw.ops) and the integer model's "
                                  "own computation; nothing was written")
            entries.append(save_job(tmp, len(entries), op.name, op.kind, job))
            bar.update()
            return own

        result = run_mod.drive(run_mod.network_steps(int_model, images_q), executor)
        bar.close()
        (tmp / PARAMS_DIR).mkdir()
        write_integer_files(int_model, tmp / PARAMS_DIR)
        fields = {
            "source": source, "images": int(np.shape(images_q)[0]),
            "config": int_model.config.to_dict(), "pool_bits": run_mod.POOL_BITS,
            "encoding": bit_encoding("integer model (model/integer, model/INTEGER.md)"),
            "integer_model": {"params": f"{PARAMS_DIR}/index.json",
                              "input": int_model.input.to_dict(),
                              "logits_frac_bits": int_model.frac["logits"]},
            "predictions": result.predictions.tolist(),
            "labels": np.asarray(labels).tolist() if labels is not None else None,
            "summary": {"matmul_ops": sum(e["kind"] == "matmul" for e in entries),
                        "pool_ops": sum(e["kind"] == "pool" for e in entries)},
        }
        manifest = write_manifest(tmp, entries, **fields)
    return manifest
