"""The network cost model (hw/cost/network.py) against independent references: hw.cost.cycles on shapes
traced here, MAC/element counts computed by hand from the model config, brute-force splits."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from hw.config import ArrayConfig
from hw.cost.cycles import matmul_cycles, pool_cycles
from hw.config import ConfigError
from hw.cost.network import (NETWORKS, NetworkError, bram_bits_per_block, load_network,
                             network_config, network_cost, op_jobs)
from hw.ops import MatmulOp, OpKind, PoolOp, _bands, chunks, window_sums


def _shapes(jobs: Counter) -> Counter:
    """Sub-jobs as plain shape tuples with counts."""
    out = Counter()
    for job, c in jobs.items():
        out[(job.m, job.n, job.k) if job.kind is OpKind.MATMUL else
            (job.planes, job.h, job.w, job.kernel, job.stride, job.padding)] += c
    return out


@pytest.fixture(scope="module")
def tiny():
    return load_network("digits-tiny")


@pytest.fixture(scope="module")
def small_s():
    return load_network("binaryvit-s")


def _hand_macs(cfg):
    """Binary MACs per group from the config alone (the model's structure as
    model/README.md states it): q, [sr], k, v, attn_proj, fc1, fc2 per block; scores and context per head; merges."""
    lin = att = merge = 0
    for s in range(cfg.num_stages):
        g, d, f, h, r = (cfg.stage_grids[s], cfg.dims[s], cfg.ffn_sizes[s], cfg.heads[s],
                         cfg.sr_ratios[s])
        t, keys, hd = g * g, (g // r) ** 2, d // h
        per_block = (t * d * d + (keys * d * d if r > 1 else 0) + 2 * keys * d * d
                     + t * d * d + 2 * t * d * f)
        lin += cfg.depths[s] * per_block
        att += cfg.depths[s] * h * 2 * t * keys * hd
        if s:
            merge += t * d * 4 * cfg.dims[s - 1]
    return lin, att, merge


def test_unknown_network_lists_valid_names():
    with pytest.raises(NetworkError, match="valid networks: digits-tiny, binaryvit-s, "):
        load_network("resnet")
    assert NETWORKS[:2] == ("digits-tiny", "binaryvit-s")


def test_digits_config_source():
    cfg, source = network_config("digits-tiny")
    assert cfg.image_size == 8 and source


def test_tiny_macs_by_hand(tiny):
    lin, att, merge = _hand_macs(tiny.config)
    assert tiny.macs("linear") == lin
    assert tiny.macs("attention") == att
    assert tiny.macs("merge") == merge


def test_binaryvit_s_macs_anchor(small_s):
    lin, att, merge = _hand_macs(small_s.config)
    assert (small_s.macs("linear"), small_s.macs("attention"), small_s.macs("merge")) == \
        (lin, att, merge)
    # counted independently of the trace: ~3.56 G in weight layers + ~0.27 G in the attention products
    assert round((lin + merge) / 1e9, 2) == 3.56
    assert round(att / 1e9, 2) == 0.27
    fp = {w.category: w.count for w in small_s.elementwise if w.unit == "FP MACs"}
    assert 9e6 < sum(fp.values()) < 11e6       # ~10 M FP MACs (stem + head)
    assert small_s.weight_bits == 21_196_800    # 21.2 M binary parameters


def test_per_op_cycles_equal_hw_cycles_on_traced_shapes(tiny):
    """Trace the model here (independently of hw.cost.network) and compare op by op."""
    from model import BinaryViT
    from model.trace import recording

    cfg = ArrayConfig(rows=3, cols=5, simd=16)
    torch.manual_seed(1)
    model = BinaryViT(tiny.config).eval()
    with torch.no_grad(), recording() as tr:
        model(torch.randn(1, 1, 8, 8))
    cost = network_cost(tiny, cfg)
    assert len(cost["ops"]) == len(tr.ops)
    for row, rec in zip(cost["ops"], tr.records):
        t = rec.op
        assert row["name"] == t.name
        if t.kind is OpKind.MATMUL:   # the shape from the traced bits themselves
            want = matmul_cycles(cfg, t.a_bits.shape[0], t.w_bits.shape[0], t.a_bits.shape[1])
        else:                         # the shape from the traced float planes
            want = pool_cycles(cfg, *rec.input.shape, t.kernel, t.stride, t.padding)
        assert row["cycles"] == want and row["jobs"] == 1
    assert cost["totals"]["cycles"] == sum(r["cycles"] for r in cost["ops"])
    peak = cfg.rows * cfg.cols * cfg.simd
    assert cost["totals"]["utilisation"] == tiny.macs() / (peak * cost["totals"]["cycles"])
    assert cost["totals"]["frames_per_s"] == pytest.approx(
        cfg.clock_mhz * 1e6 / cost["totals"]["cycles"])


def test_tiny_rprelu_and_fp_counts_by_hand(tiny):
    cfg = tiny.config
    rp = 0
    for s in range(cfg.num_stages):
        g, d, f, r = cfg.stage_grids[s], cfg.dims[s], cfg.ffn_sizes[s], cfg.sr_ratios[s]
        t, keys = g * g, (g // r) ** 2
        # q_act, context_act, attn_proj_act, fc2_act on T x d; k_act, v_act (+ sr_act) on keys
        rp += cfg.depths[s] * (4 * t * d + 2 * keys * d + (keys * d if r > 1 else 0) + t * f)
        if s:
            rp += t * d          # merge act
    counts = {w.category: w.count for w in tiny.elementwise}
    assert counts["RPReLU"] == rp
    t0 = cfg.stage_tokens[0]
    assert counts["FP stem conv"] == t0 * cfg.dims[0] * cfg.in_channels * cfg.patch_size ** 2
    assert counts["FP head linear"] == cfg.dims[-1] * cfg.num_classes
    for w in tiny.elementwise:
        assert w.runs_on in ("per-element unit", "host CPU")


def test_chunks():
    assert chunks(10, 4) == [4, 4, 2]
    assert chunks(8, 4) == [4, 4]
    assert chunks(3, 4) == [3]


def test_split_matmul_is_legal_and_complete():
    cfg = ArrayConfig(rows=2, cols=3, simd=16, max_m=7, max_n=5, max_k=40)
    m, n, k = 23, 11, 100
    jobs = _shapes(MatmulOp("mm", "xnor", m, n, k).legal_jobs(cfg))
    assert sum(c * a * b * d for (a, b, d), c in jobs.items()) == m * n * k
    assert sum(jobs.values()) == len(chunks(m, 7)) * len(chunks(n, 5)) * len(chunks(k, 40))
    for (a, b, d) in jobs:
        assert a <= 7 and b <= 5 and d <= 40
    # brute force: the same multiset as enumerating every chunk triple
    brute = Counter((a, b, d) for a in chunks(m, 7) for b in chunks(n, 5) for d in chunks(k, 40))
    assert jobs == brute


def test_split_network_cycles_sum(tiny):
    cfg = ArrayConfig(rows=2, cols=2, simd=16, max_m=20, max_n=24, max_k=48,
                      pool_max_planes=10, pool_row_depth=300)
    cost = network_cost(tiny, cfg)
    total = 0
    adds = 0
    for op in tiny.ops:
        if op.kind is OpKind.MATMUL:
            total += sum(matmul_cycles(cfg, a, b, d) for a in chunks(op.m, 20)
                         for b in chunks(op.n, 24) for d in chunks(op.k, 48))
            adds += op.m * op.n * (len(chunks(op.k, 48)) - 1)
        else:
            total += sum(c * pool_cycles(cfg, *s) for s, c in _shapes(op_jobs(cfg, op)).items())
    assert cost["totals"]["cycles"] == total
    assert cost["totals"]["k_split_partial_adds"] == adds > 0
    assert cost["totals"]["binary_macs"] == tiny.macs()


def test_split_network_matmul_terms(tiny):
    """The totals' matmul terms add up to the matmul cycles; the W loads of later M chunks
    and the frame with every load hidden follow from them (by hand: one ceil(n/G) * KW per N, K
    chunk of every M chunk after the first)."""
    cfg = ArrayConfig(rows=2, cols=2, simd=16, max_m=20, max_n=24, max_k=48,
                      pool_max_planes=10, pool_row_depth=300)
    t = network_cost(tiny, cfg)["totals"]
    terms = t["matmul_terms"]
    assert sum(terms.values()) == t["matmul_cycles"]
    assert terms["reads"] == sum(-(-a // 2) * -(-b // 2) * -(-d // 16) for op in tiny.matmuls
                                 for a in chunks(op.m, 20) for b in chunks(op.n, 24)
                                 for d in chunks(op.k, 48))
    reload = sum((len(chunks(op.m, 20)) - 1) * b * -(-d // 16) for op in tiny.matmuls
                 for b in chunks(op.n, 24) for d in chunks(op.k, 48))
    assert t["weight_reload_cycles"] == reload > 0
    hidden = t["matmul_cycles"] - terms["w_load"] - terms["a_load"] + t["pool_cycles"]
    assert t["cycles_every_load_hidden"] == hidden < t["cycles"]


def test_weight_reload_cycles_by_hand():
    """M chunks 1024, 1024, 952: two reload the weights; N chunks 64 + 36 rows at G = 2 (32 +
    18 beats), K chunks 256 + 44 (KW 4 + 1): 2 * (32 + 18) * (4 + 1) = 500."""
    cfg = ArrayConfig(rows=4, cols=4, simd=64, max_m=1024, max_n=64, max_k=256, load_rows=2)
    assert MatmulOp("mm", "xnor", 3000, 100, 300).weight_reload_cycles(cfg) == 500
    assert MatmulOp("mm", "xnor", 1024, 100, 300).weight_reload_cycles(cfg) == 0


def test_pool_split_planes_cover_outputs():
    cfg = ArrayConfig(rows=2, cols=2, simd=32, pool_max_planes=5, pool_row_depth=400)
    op = PoolOp("p", 23, 8, 8, (3, 1), (1, 1), (1, 0))
    jobs = _shapes(op.legal_jobs(cfg))
    assert sum(c * s[0] for s, c in jobs.items()) == 23
    for (p, h, w, *_), c in jobs.items():
        assert p <= 5 and (h, w) == (8, 8)


@pytest.mark.parametrize("size,k,s,limit", [(20, 3, 2, 7), (17, 2, 2, 6), (31, 5, 1, 9),
                                            (12, 4, 4, 8)])
def test_band_split_equals_whole_pool(size, k, s, limit):
    """Window sums of the bands, concatenated, equal the window sums of the whole plane."""
    rng = np.random.default_rng(size)
    x = rng.integers(-100, 100, size=(2, size, 3))
    whole = window_sums(x, (k, 1), (s, 1), (0, 0))
    bands = _bands(whole.shape[1], k, s, 0, limit)
    parts, o0 = [], 0
    for n_in, n_out in bands:
        assert n_in <= limit
        parts.append(window_sums(x[:, o0 * s:o0 * s + n_in], (k, 1), (s, 1), (0, 0)))
        assert parts[-1].shape[1] == n_out
        o0 += n_out
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_pool_band_split_needs_unpadded_axis():
    cfg = ArrayConfig(rows=2, cols=2, simd=16, pool_row_depth=16)   # 40-wide rows: split W
    with pytest.raises(NetworkError, match="padded"):
        op_jobs(cfg, PoolOp("p", 1, 40, 40, (3, 3), (1, 1), (1, 1)))
    with pytest.raises(ConfigError, match="padded"):
        PoolOp("p", 1, 40, 40, (3, 3), (1, 1), (1, 1)).legal_jobs(cfg)
    jobs = _shapes(PoolOp("q", 1, 40, 40, (2, 2), (2, 2), (0, 0)).legal_jobs(cfg))
    assert all(s[1] == 40 for s in jobs)                  # bands of columns, whole rows
    assert sum(c * ((s[2] - 2) // 2 + 1) for s, c in jobs.items()) == 20   # all output columns
    assert all((s[2] - 2) // 2 + 1 <= cfg.pool_row_depth for s in jobs)


def test_pool_kernel_above_limit_is_a_clear_error():
    cfg = ArrayConfig(pool_max_kernel=4)
    with pytest.raises(NetworkError, match="pool_max_kernel=4"):
        op_jobs(cfg, PoolOp("gap", 8, 7, 7, (7, 7), (7, 7), (0, 0)))


def test_memory_bound_marking(tiny):
    """network_cost keeps its compute-only totals whatever the bandwidth; with a very low
    bandwidth every op is memory-bound (every op moves activations off-chip), with a very high
    one none is; no bandwidth (unlimited) equals the compute-only numbers."""
    from hw.cost.memory_bound import Bandwidth, BandwidthError

    cfg = ArrayConfig(rows=4, cols=4, simd=32)
    fast = network_cost(tiny, cfg, Bandwidth(1000.0))
    slow = network_cost(tiny, cfg, Bandwidth(1e-4))
    free = network_cost(tiny, cfg)
    assert fast["totals"]["memory_bound_ops"] == 0 == free["totals"]["memory_bound_ops"]
    assert all(r["bound"] == "memory" for r in slow["ops"])
    assert slow["totals"]["latency_ms_with_bandwidth"] > slow["totals"]["latency_ms"]
    assert free["totals"]["cycles_with_bandwidth"] == free["totals"]["cycles"]
    for key in ("cycles", "utilisation", "frames_per_s"):
        assert fast["totals"][key] == slow["totals"][key] == free["totals"][key]
    assert fast["totals"]["weight_traffic_bits_per_frame"] == tiny.weight_bits
    with pytest.raises(BandwidthError):
        network_cost(tiny, cfg, Bandwidth(0))
    with pytest.raises(BandwidthError):
        network_cost(tiny, cfg, Bandwidth(1.0), batch=0)


def test_matmul_op_properties():
    op = MatmulOp("x.fc1", "xnor", 10, 20, 30, "linear")
    assert op.macs == 6000 and op.weight_bits == 600
    assert MatmulOp("x.scores", "xnor", 10, 20, 30, "attention").weight_bits == 0


def test_bram_bits_per_block():
    assert bram_bits_per_block("ecp5") == 18432
    assert bram_bits_per_block("ice40") == 4096
    assert bram_bits_per_block("xc7") == 36864


def test_tiny_adds_by_hand(tiny):
    """Element adds outside the layers, counted by hand from the block structure: q/k/v (+sr)
    shortcuts, Q/K/V sign thresholds, context + q + k + v, attn_proj shortcut, the two block
    residuals, fc1/fc2 shortcuts, four branch adds; stem and merge position embeddings and the
    merge shortcut."""
    cfg = tiny.config
    total = cfg.stage_tokens[0] * cfg.dims[0]
    for s in range(cfg.num_stages):
        g, d, f, r = cfg.stage_grids[s], cfg.dims[s], cfg.ffn_sizes[s], cfg.sr_ratios[s]
        t, keys = g * g, (g // r) ** 2
        shortcuts = t * d + (keys * d if r > 1 else 0) + 2 * keys * d
        thresholds = t * d + 2 * keys * d
        block = shortcuts + thresholds + 3 * t * d + t * d + 2 * t * d + t * f + t * d + 4 * t * d
        total += cfg.depths[s] * block + (2 * t * d if s else 0)
    counts = {w.category: w.count for w in tiny.elementwise}
    assert counts["adds outside layers (residuals, shortcuts, pos-embed, Q/K/V thresholds)"] \
        == total


def test_kept_weights_and_two_buffers_in_the_network_model(tiny):
    """``keep_weights``: a frame's matmul cycles fall by exactly the W loads of later M chunks;
    ``w_buffers`` 2: the matmul cycles are the streamed sequences' (one per run of matmuls
    between pools on one core, hw/cost/sequence.py), ops in order, each op's jobs in order; the
    bound with every load hidden is the same for all three."""
    from dataclasses import replace

    from hw.cost.network import network_cost, op_jobs
    from hw.cost.sequence import sequence_cycles

    cfg = ArrayConfig(max_m=48, max_n=48)            # the tiny model's M chunks split
    base = network_cost(tiny, cfg)["totals"]
    kept = network_cost(tiny, replace(cfg, keep_weights=1))["totals"]
    reload = sum(op.weight_reload_cycles(cfg) for op in tiny.matmuls)
    assert reload > 0 and kept["matmul_cycles"] == base["matmul_cycles"] - reload
    two = replace(cfg, w_buffers=2)
    streamed = network_cost(tiny, two)["totals"]
    runs, run = [], []
    for op in tiny.ops:
        if op.kind is OpKind.MATMUL:
            run += [(j.m, j.n, j.k) for j, n in op_jobs(two, op).items() for _ in range(n)]
        else:
            runs.append(run)
            run = []
    runs.append(run)
    assert streamed["matmul_cycles"] == sum(sequence_cycles(two, r) for r in runs)
    assert streamed["streamed_saved_cycles"] == base["matmul_cycles"] - streamed["matmul_cycles"] > 0
    assert streamed["pool_cycles"] == base["pool_cycles"]
    assert base["cycles_every_load_hidden"] == streamed["cycles_every_load_hidden"]
