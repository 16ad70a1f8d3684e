"""PoolUnit on its own in Amaranth's simulator: the start and issue-to-output latencies it
exports, one position per cycle, exact window sums of L planes per output, random input stalls,
and the deliberately broken ``line_off`` variant caught."""

import numpy as np
import pytest

from hw.config import ArrayConfig, ceil_div
from hw.ops import PoolOp, pool_extent
from hw.rtl.formats import pool_words
from hw.rtl.pool import PoolUnit
from hw.rtl.simulate import run_testbench

# L = 2 lanes of 8 bits per 16-bit word
CFG = ArrayConfig(rows=1, cols=2, simd=16, max_k=64, max_m=8, max_n=8, pool_bits=8,
                  pool_max_dim=8, pool_max_planes=4, pool_max_kernel=3, pool_open_rows=3,
                  pool_row_depth=8)


def run_pool(op: PoolOp, *, fault=None, stall_seed=None, cfg=CFG) -> dict:
    """Drive ``op`` through a PoolUnit (output FIFO always empty); return the start cycle, the
    cycles each data word was taken, and the (cycle, lanes, last) outputs."""
    dut = PoolUnit(cfg, fault=fault)
    words = pool_words(cfg, op)
    rng = np.random.default_rng(stall_seed) if stall_seed is not None else None
    (kh, kw), (sh, sw), (ph, pw) = op.kernel, op.stride, op.padding
    job = {"p": op.planes, "h": op.h, "w": op.w, "kh": kh, "kw": kw, "sh": sh, "sw": sw,
           "ph": ph, "pw": pw}
    start, taken, out = 3, [], []

    async def bench(ctx):
        for name, v in job.items():
            ctx.set(getattr(dut, name), v)
        ctx.set(dut.fifo_level, 0)
        nxt = 0
        for cycle in range(start + 40 * (len(words) + 10)):
            ctx.set(dut.start, int(cycle == start))
            valid = nxt < len(words) and (rng is None or rng.random() < 0.6)
            ctx.set(dut.data.valid, int(valid))
            ctx.set(dut.data.payload, words[nxt] if nxt < len(words) else 0)
            if valid and ctx.get(dut.data.ready):
                taken.append(cycle)
                nxt += 1
            if ctx.get(dut.o_valid):
                lanes = [ctx.get(dut.o_data[lane]) for lane in range(cfg.pool_lanes_eff)]
                out.append((cycle, lanes, ctx.get(dut.o_last)))
                if out[-1][2]:
                    return
            await ctx.tick()

    run_testbench(dut, bench)
    return {"start": start, "taken": taken, "out": out, "words": len(words)}


def decoded(op: PoolOp, out, cfg=CFG) -> np.ndarray:
    """The (P, Ho, Wo) sums from the outputs (plane group, i, j order, lane l = plane g*L+l)."""
    lanes = cfg.pool_lanes_eff
    p, ho, wo = op.out_shape
    got = np.array([o[1] for o in out], dtype=np.int64).reshape(-1, ho, wo, lanes)
    return got.transpose(0, 3, 1, 2).reshape(-1, ho, wo)[:p]


def pool_op(shape, kernel, stride, padding, seed=0, bits=8):
    x = np.random.default_rng(seed).integers(-(1 << (bits - 1)), 1 << (bits - 1), shape)
    return PoolOp.from_values("t", x, 0, bits, kernel, stride, padding).with_result()


def test_pool_latency_is_measured():
    op = pool_op((2, 1, 4), (1, 1), (1, 1), (0, 0))      # 4 positions, one output each
    got = run_pool(op)
    first_issue = got["start"] + 1 + PoolUnit.START_CYCLES
    assert got["taken"] == [first_issue + i for i in range(4)]       # one position per cycle
    assert [c - first_issue for c, _, _ in got["out"]] == [CFG.pool_latency + i for i in range(4)]
    assert CFG.pool_latency == PoolUnit.latency_of(CFG) == (
        PoolUnit.ISSUE_REGS + PoolUnit.RUN_REGS + PoolUnit.BANK_READ_LATENCY
        + PoolUnit.SUM_REGS + PoolUnit.OUT_REGS) == 8
    assert PoolUnit.MIN_ROW_POSITIONS == CFG.pool_min_row_positions == 5
    assert [last for _, _, last in got["out"]] == [0, 0, 0, 1]
    assert np.array_equal(decoded(op, got["out"]), op.result)


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((3, 5, 6), (3, 1), (1, 1), (1, 0)),       # a branch pool: 3 rows open at once
    ((2, 5, 7), (1, 3), (1, 1), (0, 1)),
    ((4, 6, 6), (2, 2), (2, 2), (0, 0)),       # merge
    ((3, 7, 5), (3, 2), (2, 2), (1, 1)),       # odd: clipped windows, unused last column
    ((1, 2, 1), (2, 1), (1, 1), (0, 0)),       # one column: rows padded to MIN positions
])
def test_window_sums_exact_under_stalls(shape, kernel, stride, padding):
    op = pool_op(shape, kernel, stride, padding, seed=sum(shape))
    for seed in (None, 1):
        got = run_pool(op, stall_seed=seed)
        assert len(got["taken"]) == got["words"]
        assert np.array_equal(decoded(op, got["out"]), op.result), (seed, op.label)
    yn, xn = pool_extent(op.h, op.w, kernel, stride, padding)
    assert got["words"] == ceil_div(op.planes, CFG.pool_lanes_eff) * min(op.h, yn) * min(op.w, xn)


def test_values_wider_than_simd_widen_the_data_beat():
    cfg = ArrayConfig(rows=1, cols=1, simd=8, max_k=64, max_m=8, max_n=8, pool_bits=16,
                      pool_max_dim=8, pool_max_planes=4, pool_max_kernel=3, pool_row_depth=8)
    assert (cfg.pool_lanes_eff, cfg.data_width) == (1, 16)
    op = pool_op((2, 4, 4), (3, 3), (1, 1), (1, 1), seed=7, bits=16)
    got = run_pool(op, cfg=cfg, stall_seed=3)
    assert np.array_equal(decoded(op, got["out"], cfg), op.result)


def test_queue_drop_fault_is_caught_under_stalls():
    """The sequencer walking on with a full position queue loses positions only when the
    issue waits: no stalls, exact sums; input idles, wrong or missing sums."""
    op = pool_op((2, 4, 6), (1, 3), (1, 1), (0, 1), seed=5)
    good = run_pool(op, stall_seed=1)["out"]
    assert np.array_equal(decoded(op, good), op.result)
    assert np.array_equal(decoded(op, run_pool(op, fault="queue_drop")["out"]), op.result)
    bad = run_pool(op, fault="queue_drop", stall_seed=1)["out"]
    assert len(bad) != len(good) or not np.array_equal(decoded(op, bad), op.result)


def test_line_off_fault_is_caught():
    op = pool_op((2, 4, 6), (1, 3), (1, 1), (0, 1), seed=5)
    got = run_pool(op, fault="line_off")
    assert not np.array_equal(decoded(op, got["out"]), op.result)
    with pytest.raises(ValueError, match="unknown pool fault"):
        PoolUnit(CFG, fault="nope")


def test_more_lanes_than_columns():
    """L = 8 lanes on 4 columns (pool_lanes 8, drain_rows 2): 8 x 8 bits, a 64-bit data beat;
    the same latency, one position per cycle, exact sums over groups of 8 planes (the last one
    partial), under stalls; the line_off fault is still caught."""
    cfg = ArrayConfig(rows=2, cols=4, simd=16, max_k=64, max_m=8, max_n=8, pool_bits=8,
                      pool_max_dim=8, pool_max_planes=16, pool_max_kernel=3, pool_open_rows=3,
                      pool_row_depth=8, drain_rows=2, pool_lanes=8)
    assert (cfg.pool_lanes_eff, cfg.data_width, cfg.pool_latency) == (8, 64, 8)
    lanes = PoolUnit(cfg)
    lanes._MustUse__silence = True                   # only its ports are looked at
    assert len(lanes.o_data) == 8
    op = pool_op((11, 5, 6), (3, 1), (1, 1), (1, 0), seed=11)     # 2 groups, 3 planes of pad
    for seed in (None, 2):
        got = run_pool(op, cfg=cfg, stall_seed=seed)
        assert got["words"] == 2 * 5 * 6
        assert np.array_equal(decoded(op, got["out"], cfg), op.result), seed
    op = pool_op((9, 1, 5), (1, 1), (1, 1), (0, 0), seed=3)       # 2 groups x 5 positions
    got = run_pool(op, cfg=cfg)
    first_issue = got["start"] + 1 + PoolUnit.START_CYCLES
    assert got["taken"] == [first_issue + i for i in range(10)]
    assert [c - first_issue for c, _, _ in got["out"]] == [cfg.pool_latency + i for i in range(10)]
    assert np.array_equal(decoded(op, got["out"], cfg), op.result)
    op = pool_op((9, 4, 6), (1, 3), (1, 1), (0, 1), seed=5)
    bad = run_pool(op, cfg=cfg, fault="line_off")
    assert not np.array_equal(decoded(op, bad["out"], cfg), op.result)
