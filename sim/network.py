"""The whole integer BinaryViT through the RTL (``python -m sim network``).

The host folds a float checkpoint into the integer model (:mod:`model.integer`), runs the chosen
digits test images through the integer model on its own (the reference run), then starts one
simulation (:mod:`sim.tb_network`: one elaboration, one reset) in which every binary matmul,
attention product and pool of every image is executed by the RTL, in network order, each job's
operands computed by the integer model from the RTL's earlier results. Afterwards every
intermediate tensor and the logits of the RTL run are compared with the reference run for
integer equality, and the measured cycles with the cost model's network cycles.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hw.config import ArrayConfig, ConfigError


@dataclass
class ImageVerdict:
    """What the RTL run of one image gave next to the reference run."""

    index: int
    label: int
    reference_prediction: int
    rtl_prediction: int | None
    jobs: int
    failed_jobs: list[str]
    tensors: int
    differing_tensors: list[str]
    logits_equal: bool
    cycles: int | None                 # sum of the measured job cycles
    span_cycles: int | None            # first command beat to last result beat
    model_cycles: int                  # the cost model's network cycles
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (not self.failed_jobs and not self.differing_tensors and self.logits_equal
                and self.cycles == self.model_cycles == self.span_cycles and not self.errors)


def reference_runs(int_model, images: np.ndarray) -> tuple[list, list]:
    """The integer model's own run of every image (batch 1, :func:`model.integer.drive` with its
    own executor) and the ops the first image yields, in order, with operands."""
    from model.integer import drive, network_steps

    ops: list = []
    runs = [drive(network_steps(int_model, images[i:i + 1]),
                  on_op=(lambda op, _: ops.append(op)) if i == 0 else None)
            for i in range(images.shape[0])]
    return runs, ops


def check_fits(cfg: ArrayConfig, ops) -> None:
    """ConfigError unless every op runs on ``cfg`` as one job (the network run does not split
    ops into sub-jobs) and the cost model counts its jobs as this run drives them (one at a
    time: with two weight buffers the model streams them, hw/cost/sequence.py)."""
    if cfg.w_buffers != 1:
        raise ConfigError("the network run drives one job at a time, and with --w-buffers 2 "
                          "the cost model counts the jobs streamed; pass --w-buffers 1 "
                          "(tests/sim/test_w_buffers_sim.py runs streamed jobs)")
    for op in ops:
        try:
            op.check(cfg)
        except ConfigError as exc:
            raise ConfigError(f"{op.name} ({op.label}) does not run as one job on this config: "
                              f"{exc}") from None


def cost_model_cycles(cfg: ArrayConfig, model_config) -> int:
    """The cost model's cycles of one frame of the network run alone, one job at a time, as
    this simulation runs it (:func:`hw.cost.network.network_cost`'s ``frame_latency_cycles`` on
    the traced network of ``model_config``: the job sum, also with a pool core of its own)."""
    from hw.cost.network import network_cost, trace_network

    return network_cost(trace_network(model_config), cfg)["totals"]["frame_latency_cycles"]


def compare(reference, path: Path) -> tuple[int, list[str], bool, int, np.ndarray]:
    """(tensor count, names of differing or missing tensors, logits equal, span, RTL logits)
    of the RTL run saved at ``path`` against the reference IntegerRun."""
    with np.load(path) as z:
        got = {k[2:]: z[k] for k in z.files if k.startswith("t/")}
        logits, span = z["logits"], int(z["span_cycles"])
    differing = [name for name, ref in reference.tensors.items()
                 if name not in got or got[name].shape != np.shape(ref)
                 or not np.array_equal(got[name], ref)]
    differing += [name for name in got if name not in reference.tensors]
    equal = logits.shape == np.shape(reference.logits) and np.array_equal(logits,
                                                                         reference.logits)
    return len(reference.tensors), differing, equal, span, logits


def run_network(cfg: ArrayConfig, int_model, images: np.ndarray, labels, model_config, *,
                simulator: str = "icarus", fault: str | None = None, build_dir=None,
                pad: str = "random", seed: int = 0, progress: bool = True) -> list[ImageVerdict]:
    """Run ``images`` (integer inputs, (B, C, H, W)) through the RTL in one simulation and judge
    every image against the integer model's reference run."""
    from tqdm import tqdm

    from sim.runner import SimulationError, run_plan

    refs, ops = reference_runs(int_model, images)
    check_fits(cfg, ops)
    per_image = cost_model_cycles(cfg, model_config)
    total = len(ops) * images.shape[0]
    with tempfile.TemporaryDirectory(prefix="bvit_network_") as tmp:
        tmp = Path(tmp)
        int_model.save(tmp / "model")
        np.save(tmp / "images.npy", images)
        results = tmp / "results"
        results.mkdir()
        jobs_file = results / "jobs.json"
        bar = tqdm(total=total, desc="network on RTL", unit="job", disable=not progress)

        def poll():
            if jobs_file.is_file():
                try:
                    done = len(json.loads(jobs_file.read_text()))
                except ValueError:
                    return
                bar.update(done - bar.n)

        try:
            code = run_plan(cfg, {"model": str(tmp / "model"), "images": str(tmp / "images.npy"),
                                  "results": str(results), "pad": pad, "seed": seed},
                            "sim.tb_network", build_dir=build_dir, fault=fault,
                            simulator=simulator, on_poll=poll if progress else None)
            poll()
        finally:
            bar.close()
        rows = json.loads(jobs_file.read_text()) if jobs_file.is_file() else None
        if rows is None:
            raise SimulationError(f"the {simulator} network simulation ended (exit status "
                                  f"{code}) without results")
        verdicts = []
        for i, ref in enumerate(refs):
            mine = [r for r in rows if r["image"] == i]
            failed = [r["op"] for r in mine if not r["passed"]]
            errors = [f"{r['op']}: {r['error']}" for r in mine if r.get("error")]
            path = results / f"image{i}.npz"
            if path.is_file():
                count, differing, logits_equal, span, logits = compare(ref, path)
                rtl_pred = int(np.argmax(logits[0]))
            else:
                count, differing, logits_equal, span, rtl_pred = (len(ref.tensors),
                                                                  ["(no RTL run)"], False,
                                                                  None, None)
                if not errors:
                    errors.append("the RTL run of this image did not finish")
            cycles = (sum(r["cycles"] for r in mine)
                      if mine and all(r["cycles"] is not None for r in mine) else None)
            if len(mine) != len(ops) and not errors:
                errors.append(f"{len(mine)} jobs run, the network has {len(ops)}")
            verdicts.append(ImageVerdict(
                index=i, label=int(labels[i]), reference_prediction=int(ref.predictions[0]),
                rtl_prediction=rtl_pred, jobs=len(mine), failed_jobs=failed,
                tensors=count, differing_tensors=differing, logits_equal=logits_equal,
                cycles=cycles, span_cycles=span, model_cycles=per_image, errors=errors))
        return verdicts


def print_verdicts(verdicts: list[ImageVerdict]) -> None:
    """One line per image, then the totals."""
    print(f"{'image':>5} {'label':>5} {'rtl':>4} {'int':>4} {'jobs':>5} {'bad':>4} "
          f"{'tensors':>8} {'differ':>6} {'logits':>6} {'cycles':>9} {'span':>9} "
          f"{'model':>9}  verdict")
    for v in verdicts:
        why = []
        if v.failed_jobs:
            why.append(f"jobs not bit-exact: {', '.join(v.failed_jobs[:4])}"
                       + (" ..." if len(v.failed_jobs) > 4 else ""))
        if v.differing_tensors:
            why.append(f"first differing tensor: {v.differing_tensors[0]}")
        if v.cycles != v.model_cycles or v.span_cycles != v.model_cycles:
            why.append("cycles differ from the cost model")
        why += v.errors
        print(f"{v.index:>5} {v.label:>5} {_dash(v.rtl_prediction):>4} "
              f"{v.reference_prediction:>4} {v.jobs:>5} {len(v.failed_jobs):>4} "
              f"{v.tensors:>8} {len(v.differing_tensors):>6} "
              f"{'=' if v.logits_equal else 'DIFF':>6} {_dash(v.cycles):>9} "
              f"{_dash(v.span_cycles):>9} {v.model_cycles:>9}  "
              + ("ok" if v.passed else "FAIL: " + "; ".join(why)))
    n = len(verdicts)
    right = sum(v.rtl_prediction == v.label for v in verdicts)
    measured = [v.cycles for v in verdicts]
    print(f"predictions (RTL run) vs labels: {right} of {n} right; "
          f"RTL run = integer model on {sum(v.logits_equal for v in verdicts)} of {n} images")
    if all(c is not None for c in measured):
        print(f"cycles: measured {sum(measured):,} (sum of jobs), cost model "
              f"{sum(v.model_cycles for v in verdicts):,} ({n} x "
              f"{verdicts[0].model_cycles:,} per image)")
    print(f"{sum(v.passed for v in verdicts)} images passed, "
          f"{sum(not v.passed for v in verdicts)} failed")


def _dash(value) -> str:
    return "-" if value is None else f"{value}"
