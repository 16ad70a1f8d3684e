"""cocotb test module: the whole integer BinaryViT on ``bvit_top``, one simulation.

Driven by :mod:`sim.network` through the environment variable ``BVIT_PLAN``: the path of a JSON
plan {"config": ArrayConfig fields, "model": folder of the folded integer model
(:meth:`model.integer.IntegerBinaryViT.save`), "images": .npy of the integer input images
(B, C, H, W), "pad": "random" | "zero", "seed", "results": folder for the results}.

One reset at the start, then every image in turn, batch 1: :func:`model.integer.network_steps`
yields each binary matmul and pool with operands computed from the results the RTL returned
for the earlier ones; each is driven as one job, back to back (the command beat goes out the
cycle after the previous job's last result beat), its result beats are decoded and scored
against the op's numpy golden (:class:`sim.bfm.ReferenceModel`), and the RTL's result — not the
golden — goes back into the network. Writes ``results/jobs.json`` (one row per job, with its
measured cycles) and ``results/image<i>.npz`` (every intermediate tensor and the logits of the
run), each whole, after every image.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock

from hw.config import ArrayConfig
from sim.bfm import ReferenceModel, Scoreboard
from sim.tb import drive_job, reset



def save_run(path: Path, run, span: int) -> None:
    """Every tensor of one image's integer run, its logits and its measured span (whole or not
    at all)."""
    arrays = {f"t/{name}": np.asarray(value) for name, value in run.tensors.items()}
    arrays["logits"] = np.asarray(run.logits)
    arrays["span_cycles"] = np.asarray(span)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


@cocotb.test()
async def run_network(dut):
    """Every image through the whole network, every binary op on the RTL."""
    from model.integer import IntegerBinaryViT, network_steps

    plan = json.loads(Path(os.environ["BVIT_PLAN"]).read_text())
    cfg = ArrayConfig.from_dict(plan["config"])
    int_model = IntegerBinaryViT.load(plan["model"])
    images = np.load(plan["images"])
    out = Path(plan["results"])
    rng = random.Random(plan.get("seed", 0))
    pad_rng = np.random.default_rng(plan.get("seed", 0)) if plan.get("pad") == "random" else None
    Clock(dut.clk, 10, unit="ns").start()
    model, board = ReferenceModel(), Scoreboard()
    await reset(dut)                                   # once, for the whole run
    for i in range(images.shape[0]):
        steps = network_steps(int_model, images[i:i + 1])
        first_cmd = None            # the job monitor's cycle of the first command beat
        result = None
        job = next(steps)
        while True:
            row, got = await drive_job(dut, cfg, job, rng, 0.0, 0.0, model, board,
                                       pad_rng=pad_rng, linger=0)
            row.update(image=i, predicted_cycles=job.cycles(cfg))
            if first_cmd is None:
                first_cmd = row["cycle_span"][0]
            if got is None:
                # no usable result (a lost or extra beat): stop this image, say so
                row["error"] = row["error"] or "no result"
                break
            try:
                job = steps.send(got)
            except StopIteration as stop:
                result = stop.value
                break
            except Exception as exc:        # the network cannot go on with these results
                row["error"] = (f"the integer model failed on the RTL's results: "
                                f"{type(exc).__name__}: {exc}")
                break
        (out / "jobs.json.tmp").write_text(json.dumps(board.rows))
        os.replace(out / "jobs.json.tmp", out / "jobs.json")
        if result is not None:
            last = row["cycle_span"][1]
            span = last - first_cmd + 1 if None not in (first_cmd, last) else -1
            save_run(out / f"image{i}.npz", result, int(span))
        dut._log.info("image %d: %d jobs", i, sum(r["image"] == i for r in board.rows))
