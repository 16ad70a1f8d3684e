"""``python -m hw baseline``: SCALE-Sim's output-stationary formula and the compute limit
against hand computations and an independent wavefront loop, the totals against the network
model, --help, --json, an unknown network (bad --configs: tests/hw/test_bad_inputs_hw.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from hw.__main__ import main
from hw.config import DEFAULT, ArrayConfig
from hw.cost import baseline as bl
from hw.cost.network import load_network, network_cost


def test_one_matmul_by_hand():
    # 196 x 256 x 256 on 8x8x64: folds = ceil(196/8) * ceil(256/8) = 25 * 32 = 800,
    # K' = ceil(256/64) = 4: SCALE-Sim 800 * (4 + 8 + 8 - 2) = 14,400; limit 800 * 4 = 3,200
    assert bl.scalesim_os_cycles(196, 256, 256, 8, 8, 64) == 14_400
    assert bl.compute_limit_cycles(196, 256, 256, 8, 8, 64) == 3_200
    # 49 x 512 x 2048 on 4x4x32: folds 13 * 128 = 1,664, K' = 64: 1,664 * 70 and 1,664 * 64
    assert bl.scalesim_os_cycles(49, 512, 2048, 4, 4, 32) == 116_480
    assert bl.compute_limit_cycles(49, 512, 2048, 4, 4, 32) == 106_496


def wavefront_cycles(m, n, k, rows, cols, simd) -> int:
    """An independent count of SCALE-Sim's output-stationary timing: fold by fold, operands are
    skewed so PE (i, j) works on cycles i + j .. i + j + K' - 1 of the fold; the fold lasts
    until the last PE has its last operand (outputs drain in the gap before the next fold),
    and folds never overlap."""
    kw = -(-k // simd)
    total = 0
    for r0 in range(0, m, rows):
        for c0 in range(0, n, cols):
            # every PE of the array takes part in the skew, used or padded
            last = max(i + j + kw - 1 for i in range(rows) for j in range(cols))
            total += last + 1
    return total


SHAPES = [(196, 256, 256), (3136, 64, 49), (49, 49, 64), (1, 1, 1), (17, 5, 130),
          (784, 1024, 128)]
ARRAYS = [(4, 4, 32), (8, 8, 64), (3, 5, 16), (1, 1, 8)]


def mismatches(formula) -> list:
    """Shapes and arrays where ``formula`` disagrees with :func:`wavefront_cycles`."""
    return [(s, a) for s in SHAPES for a in ARRAYS
            if formula(*s, *a) != wavefront_cycles(*s, *a)]


def test_formula_equals_an_independent_wavefront_loop():
    assert mismatches(bl.scalesim_os_cycles) == []


def test_the_check_catches_a_perturbed_formula():
    """A copy with one more fill term (+R per fold, the output drain some write-ups add) or
    without the -2 disagrees with the loop: the check above can fail."""
    def extra_drain(m, n, k, r, c, s):
        return bl.scalesim_os_cycles(m, n, k, r, c, s) + -(-m // r) * -(-n // c) * r

    def no_minus_two(m, n, k, r, c, s):
        return -(-m // r) * -(-n // c) * (-(-k // s) + r + c)

    assert mismatches(extra_drain) and mismatches(no_minus_two)


@pytest.fixture(scope="module")
def doc():
    net = load_network("binaryvit-s")
    return net, bl.baseline(net, [replace(DEFAULT, rows=4, cols=4, simd=32),
                                  replace(DEFAULT, rows=8, cols=8, simd=64)])


def test_totals_agree_with_the_network_model(doc):
    net, d = doc
    for c in d["configs"]:
        cfg = ArrayConfig.from_dict(c["config"])
        cost = network_cost(net, cfg)["totals"]
        mm = c["matmuls"]
        assert mm["ops"] == len(net.matmuls) == sum(r["count"] for r in c["shapes"])
        assert len({(r["m"], r["n"], r["k"]) for r in c["shapes"]}) == mm["shapes"]
        assert mm["ours_cycles"] == cost["matmul_cycles"]
        assert c["pools"]["ours_cycles"] == cost["pool_cycles"]
        assert c["network"]["cycles_per_frame"] == cost["cycles"]
        assert c["network"]["utilisation"] == pytest.approx(cost["utilisation"])
        assert c["network"]["frames_per_s"] == pytest.approx(cost["frames_per_s"])
        assert mm["jobs"] + c["pools"]["jobs"] == cost["jobs"]
        # the per-op sums, recomputed from the ops one by one
        assert mm["scalesim_cycles"] == sum(
            bl.scalesim_os_cycles(op.m, op.n, op.k, cfg.rows, cfg.cols, cfg.simd)
            for op in net.matmuls)
        assert mm["limit_cycles"] == sum(
            bl.compute_limit_cycles(op.m, op.n, op.k, cfg.rows, cfg.cols, cfg.simd)
            for op in net.matmuls)
        assert mm["ours_over_scalesim"] == mm["ours_cycles"] / mm["scalesim_cycles"]
        assert mm["limit_cycles"] <= mm["ours_cycles"]


def test_help():
    r = subprocess.run([sys.executable, "-m", "hw", "baseline", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "usage" in r.stdout and "SCALE-Sim" in r.stdout


def test_json_is_written_whole_into_a_new_folder(tmp_path, capsys):
    out = tmp_path / "new" / "baseline.json"
    assert main(["baseline", "--network", "digits-tiny", "--configs", "4x4x32", "--json",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "systolic_compute_os.py" in printed and "ours/SCALE-Sim" in printed
    d = json.loads(out.read_text())
    assert d["network"] == "digits-tiny" and [c["label"] for c in d["configs"]] == ["4x4x32"]
    assert "scale-sim-v2" in d["sources"]["scalesim"]
    assert [p.name for p in out.parent.iterdir()] == ["baseline.json"]   # no temporaries


def test_unknown_network_is_a_one_line_error(capsys):
    assert main(["baseline", "--network", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown network 'nope'") and len(err.strip().splitlines()) == 1
