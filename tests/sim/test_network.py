"""`python -m sim network`: the whole integer digits BinaryViT on the RTL in one simulation."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "model" / "checkpoints" / "digits"


def run_network(tmp_path, *extra):
    out = tmp_path / "network.json"
    r = subprocess.run([sys.executable, "-m", "sim", "network", "--checkpoint", str(CHECKPOINT),
                        "--images", "1", "--json", str(out), *extra],
                       capture_output=True, text=True, timeout=900, cwd=REPO)
    doc = json.loads(out.read_text()) if out.is_file() else None
    return r, doc


def test_network_on_rtl_equals_integer_model_and_cost_model(tmp_path):
    from hw.config import DEFAULT
    from hw.cost.network import load_network, network_cost

    r, doc = run_network(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "1 images passed, 0 failed" in r.stdout
    image, = doc["images"]
    assert image["passed"] and not image["failed_jobs"] and not image["differing_tensors"]
    assert image["logits_equal"] and image["tensors"] > image["jobs"] > 10
    # measured cycles: the sum of the jobs and the span of the whole run, both equal to the
    # cost model's network cycles (computed here independently of the command)
    model_cycles = network_cost(load_network("digits-tiny"), DEFAULT)["totals"]["cycles"]
    assert image["cycles"] == image["span_cycles"] == image["model_cycles"] == model_cycles


def test_network_on_rtl_with_a_pool_core_of_its_own(tmp_path):
    """--pool-port 1: the network's pools on the pool core, its matmuls on the matmul core,
    one job at a time in network order: equal to the integer model, and the run (the two cores'
    job monitors on one cycle count) takes the job sum, the model's one-frame latency."""
    from dataclasses import replace

    from hw.config import DEFAULT
    from hw.cost.network import load_network, network_cost

    r, doc = run_network(tmp_path, "--pool-port", "1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    image, = doc["images"]
    assert image["passed"] and image["logits_equal"] and not image["differing_tensors"]
    totals = network_cost(load_network("digits-tiny"), replace(DEFAULT, pool_port=1))["totals"]
    assert image["cycles"] == image["span_cycles"] == totals["frame_latency_cycles"]
    assert totals["frame_latency_cycles"] == totals["matmul_cycles"] + totals["pool_cycles"]


def test_network_with_a_broken_array_fails_and_names_the_damage(tmp_path):
    r, doc = run_network(tmp_path, "--fault", "xor")
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    assert "0 images passed, 1 failed" in r.stdout
    image, = doc["images"]
    assert image["failed_jobs"] and image["differing_tensors"] and not image["logits_equal"]


def test_network_steps_take_the_rtl_results_not_the_golden():
    """The RTL run feeds each op's *received* result into the next ops: a changed result of the
    first op changes later operands (so the run on the RTL could not pass by itself computing
    the golden results)."""
    from model.checkpoint import load_checkpoint
    from model.data import digits_split
    from model.integer import fold_model, network_steps, quantize_images
    from model.integer.calibrate import digits_calibration_images

    int_model = fold_model(load_checkpoint(CHECKPOINT), digits_calibration_images())
    _, _, test_x, _ = digits_split()
    image = quantize_images(int_model, test_x[:1])

    def operands(perturb: bool):
        steps = network_steps(int_model, image)
        op = next(steps)
        seen = []
        for i in range(6):
            result = op.golden()
            if perturb and i == 0:
                result = result + 2 * (np.arange(result.size).reshape(result.shape) % 3 - 1)
            op = steps.send(result)
            seen.append(op)
        return seen

    plain, changed = operands(False), operands(True)
    assert [o.name for o in plain] == [o.name for o in changed]
    differ = [a.name for a, b in zip(plain, changed)
              if a.kind.value == "matmul" and not np.array_equal(a.a_bits, b.a_bits)
              or a.kind.value == "pool" and not np.array_equal(a.x, b.x)]
    assert differ, "no later operand depends on the first op's result"


@pytest.mark.parametrize("argv, message", [
    (["--images", "0"], "--images 0 must be 1 or more"),
    (["--images", "9999"], "the digits test split has 360 images"),
    (["--checkpoint", "/nonexistent/ckpt"], "--checkpoint /nonexistent/ckpt"),
    (["--rows", "2", "--cols", "2", "--simd", "8", "--max-m", "8", "--pool-bits", "8"],
     "does not run as one job on this config"),
])
def test_network_bad_input_is_one_line(argv, message):
    r = subprocess.run([sys.executable, "-m", "sim", "network", *argv],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
