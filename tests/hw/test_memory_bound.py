"""The off-chip model (hw/cost/memory_bound.py): bytes per op against hand computations, batch,
the compute/memory flip, GB/s vs bytes per cycle, bad values in the library (the commands' bad
--bandwidth-gbs/--bandwidth-bpc/--batch: tests/hw/test_bad_inputs_hw.py)."""

from __future__ import annotations

import json

import pytest

from hw.__main__ import main
from hw.config import ArrayConfig
from hw.cost.memory_bound import (DEFAULT_BANDWIDTH, Bandwidth, BandwidthError, batch_table,
                                  check_batch, memory_bound_cost, op_traffic)
from hw.ops import MatmulOp, PoolOp

CFG = ArrayConfig(rows=8, cols=8, simd=64)
#: one BinaryViT-S weight layer (stage 2 attention projection shape): M=196 tokens, N=K=256
LAYER = MatmulOp("stages.1.blocks.0.attn.proj", "xnor", 196, 256, 256)


def test_weight_layer_bytes_by_hand():
    lane = CFG.lane_width
    t = op_traffic(LAYER, CFG)
    assert (t.weight_bits, t.input_bits, t.output_bits) == (256 * 256, 196 * 256,
                                                            196 * 256 * lane)
    # batch 1: 8192 weight bytes + 6272 activation bytes in + 196*256 results of lane bits out
    assert t.bytes_per_frame(1) == 8192 + 6272 + 196 * 256 * lane / 8
    # batch 4: the weights are shared by 4 frames: 2048 bytes per frame
    assert t.weight_bytes_per_frame(4) == 2048
    assert t.bytes_per_frame(4) == 2048 + 6272 + 196 * 256 * lane / 8


def test_attention_product_and_pool_bytes_by_hand():
    scores = MatmulOp("stages.1.blocks.0.attn.b0.h0.scores", "xnor", 196, 49, 64)
    t = op_traffic(scores, CFG)
    assert t.weight_bits == 0                       # no weights: both operands are activations
    assert t.input_bits == 196 * 64 + 49 * 64
    assert t.output_bits == 196 * 49 * CFG.lane_width
    pool = PoolOp("p", 4, 14, 14, (2, 2), (2, 2))
    t = op_traffic(pool, CFG)
    assert t == type(t)(0, 4 * 14 * 14 * CFG.pool_bits, 4 * 7 * 7 * CFG.lane_width)


def test_k_split_results_leave_once_per_chunk():
    cfg = ArrayConfig(rows=8, cols=8, simd=64, max_k=1024)
    op = MatmulOp("fc2", "xnor", 49, 512, 2048)
    assert op_traffic(op, cfg).output_bits == 2 * 49 * 512 * cfg.lane_width


def test_bound_flips_from_compute_to_memory_when_bandwidth_drops():
    compute = LAYER.total_cycles(CFG)
    nbytes = op_traffic(LAYER, CFG).bytes_per_frame(1)
    flip = nbytes / compute          # bytes per cycle at which memory == compute
    above = memory_bound_cost([(LAYER, compute)], CFG, Bandwidth(flip * 1.01, "B/cycle"))
    below = memory_bound_cost([(LAYER, compute)], CFG, Bandwidth(flip * 0.99, "B/cycle"))
    assert above["ops"][0]["bound"] == "compute"
    assert above["totals"]["cycles_per_frame"] == compute
    assert below["ops"][0]["bound"] == "memory"
    assert below["totals"]["cycles_per_frame"] == pytest.approx(nbytes / (flip * 0.99))
    assert below["totals"]["memory_bound_ops"] == 1
    # a larger batch shares the weights: the same bandwidth becomes compute-bound again
    w = op_traffic(LAYER, CFG).weight_bits / 8
    assert (nbytes - w + w / 64) / (flip * 0.99) < compute
    batched = memory_bound_cost([(LAYER, compute)], CFG, Bandwidth(flip * 0.99, "B/cycle"), 64)
    assert batched["ops"][0]["bound"] == "compute"


def test_gbs_depends_on_the_clock_bytes_per_cycle_does_not():
    bw = Bandwidth(1.6)
    assert bw.bytes_per_cycle(150.0) == pytest.approx(1.6e9 / 150e6)
    assert bw.bytes_per_cycle(100.0) == pytest.approx(16.0)
    assert Bandwidth(8, "B/cycle").bytes_per_cycle(100.0) == 8.0
    compute = LAYER.total_cycles(CFG)
    slow_clock = memory_bound_cost([(LAYER, compute)], CFG, bw, clock_mhz=75.0)["totals"]
    fast_clock = memory_bound_cost([(LAYER, compute)], CFG, bw, clock_mhz=300.0)["totals"]
    # 4x the clock at the same GB/s: a quarter of the bytes per cycle, 4x the memory cycles
    assert fast_clock["memory_cycles"] == pytest.approx(4 * slow_clock["memory_cycles"])


def test_totals_utilisation_and_frames_per_s():
    compute = LAYER.total_cycles(CFG)
    t = memory_bound_cost([(LAYER, compute)], CFG, None)["totals"]
    assert t["bandwidth"] is None and t["memory_cycles"] == 0 and t["memory_bound_ops"] == 0
    assert t["utilisation"] == LAYER.macs / (8 * 8 * 64 * compute)
    assert t["frames_per_s"] == pytest.approx(150e6 / compute)
    rows = batch_table([(LAYER, compute)], CFG, Bandwidth(1e-3), [1, 4], fmax_mhz=100.0)
    assert [r["batch"] for r in rows] == [1, 4]
    assert rows[1]["bytes_per_frame"] < rows[0]["bytes_per_frame"]
    assert rows[1]["frames_per_s"] > rows[0]["frames_per_s"]
    # GB/s at a lower clock: more bytes per cycle, fewer memory cycles per frame
    assert rows[0]["cycles_per_frame_at_fmax"] < rows[0]["cycles_per_frame"]


def test_the_default_bandwidth_is_a_stated_assumption():
    assert DEFAULT_BANDWIDTH.value == 1.6 and DEFAULT_BANDWIDTH.unit == "GB/s"
    assert DEFAULT_BANDWIDTH.source.startswith("assumption")
    assert "FPGA-TN-02035" in DEFAULT_BANDWIDTH.source


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), True, "1"])
def test_bad_bandwidth_in_the_library(value):
    with pytest.raises(BandwidthError):
        Bandwidth(value)


@pytest.mark.parametrize("batch", [0, -2, 1.5, True, "4"])
def test_bad_batch_in_the_library(batch):
    with pytest.raises(BandwidthError):
        check_batch(batch)


def test_network_command_with_bandwidth_and_batch(capsys):
    assert main(["network", "--network", "digits-tiny", "--bandwidth-bpc", "0.01", "--batch",
                 "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bandwidth"]["unit"] == "B/cycle" and doc["batch"] == 2
    assert doc["totals"]["memory_bound_ops"] == len(doc["ops"])      # 0.01 B/cycle: all
    assert doc["offchip"]["cycles_per_frame"] == doc["totals"]["cycles_with_bandwidth"]
