"""BinaryCore: the output FIFO's latency, and whole jobs in Amaranth's simulator taking the cycles
the cycle model composes from the exported latencies (tile_flush, pool_latency, result_latency)
and the tile spacing rules (tile_period, bank_period), with bit-exact results."""

import random
from dataclasses import replace

import numpy as np
import pytest

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig, ceil_div
from hw.cost.cycles import matmul_cycles, pool_cycles
from hw.rtl.core import BinaryCore
from hw.rtl.fifo import OutputFIFO
from hw.rtl.formats import decode_results, matmul_cmd, matmul_words, pool_cmd, pool_words
from hw.rtl.pool_core import PoolCore
from hw.ops import MatmulOp, PoolOp

CFG = ArrayConfig(rows=2, cols=2, simd=16, max_k=64, max_m=8, max_n=8, pool_bits=8,
                  pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=64)


def test_result_latency_is_the_registers_and_the_fifo():
    assert CFG.result_latency == BinaryCore.RESULT_REGS + OutputFIFO.latency(CFG.out_fifo_depth)
    # a LUT-RAM FIFO (32 deep and less) reads in one register, a block-RAM one in two
    assert [BinaryCore.result_latency(d) for d in (16, 32, 64, 128)] == [6, 6, 7, 7]


def test_fifo_depth_counts_its_own_storage_latency():
    """The FIFO depth is computed with the latency of the storage kind it gets: a depth
    that needs block RAM is computed again with the longer latency (one more staged
    result), and never falls back to LUT RAM."""
    for cfg in (ArrayConfig(), ArrayConfig(rows=8, cols=8, simd=64),
                ArrayConfig(hold_banks=4), ArrayConfig(rows=6, cols=4, simd=16)):
        args = (cfg.tile_beats, cfg.bank_period(1), cfg.tile_flush, cfg.pool_latency,
                cfg.hold_banks)
        depth = cfg.out_fifo_depth
        staged = BinaryCore.result_latency(depth)
        mm = (cfg.mm_credit_margin
              + BinaryCore.tiles_in_flight(*args[:3], cfg.hold_banks) * cfg.tile_beats
              + BinaryCore.FIFO_SPARE + staged)
        pool = cfg.pool_credit_margin + cfg.pool_latency + staged
        assert depth >= max(mm, pool) and depth // 2 < max(mm, pool), cfg
        assert BinaryCore.fifo_depth_for(*args) == depth


def job_cycles(cmd: int, words: list[int], cfg: ArrayConfig = CFG, beats=None,
               budget: int = 400, dut=None) -> int:
    """Cycles from the accepted command beat to the last accepted result beat, both counted
    (input always valid, output always ready), on ``dut`` (default ``BinaryCore(cfg)``); the
    result beats' data go to ``beats``."""
    dut = BinaryCore(cfg) if dut is None else dut
    marks = {}

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.cmd.payload.as_value(), cmd)
        ctx.set(dut.cmd.valid, 1)
        sent = 0
        for cycle in range(budget):
            if "cmd" in marks and sent < len(words):
                ctx.set(dut.data.payload, words[sent])
                ctx.set(dut.data.valid, 1)
            else:
                ctx.set(dut.data.valid, 0)
            if "cmd" not in marks and ctx.get(dut.cmd.ready):
                marks["cmd"] = cycle
            elif ctx.get(dut.data.valid) and ctx.get(dut.data.ready):
                sent += 1
            if ctx.get(dut.out.valid) and beats is not None:
                beats.append(ctx.get(dut.out.payload.data))
            if ctx.get(dut.out.valid) and ctx.get(dut.out.payload.last):
                marks["last"] = cycle
                return
            await ctx.tick()
            if "cmd" in marks:
                ctx.set(dut.cmd.valid, 0)

    run_testbench(dut, bench)
    assert "last" in marks, "the job never finished"
    return marks["last"] - marks["cmd"] + 1


@pytest.mark.parametrize("m, n, k", [(2, 2, 16), (3, 4, 40)])
def test_matmul_takes_the_modelled_cycles(m, n, k):
    rng = random.Random(m * n * k)
    words = [rng.getrandbits(CFG.simd) for _ in range((m + n) * ceil_div(k, CFG.simd))]
    assert job_cycles(matmul_cmd(CFG, "xnor", m, n, k), words) == matmul_cycles(CFG, m, n, k)


def test_pool_takes_the_modelled_cycles():
    p, h, w, kernel, stride = 1, 2, 4, (2, 2), (1, 1)
    words = [0x0102] * (ceil_div(p, CFG.pool_lanes_eff) * h * w)
    got = job_cycles(pool_cmd(CFG, p, h, w, kernel, stride, (0, 0)), words)
    assert got == pool_cycles(CFG, p, h, w, kernel, stride)


def test_pool_core_takes_the_shared_cores_cycles_with_exact_sums():
    """PoolCore (pool_port = 1) alone: a pool job takes the cycles it takes on BinaryCore, the
    model's, and its beats decode to the golden window sums; the matmul-only core keeps its
    matmul cycles and takes a pool command without a result."""
    pcfg = replace(CFG, pool_port=1)
    rng = np.random.default_rng(3)
    for kernel, stride, padding in (((2, 3), (1, 2), (1, 0)), ((3, 1), (2, 1), (0, 0))):
        x = rng.integers(-128, 128, (2, 5, 6))
        job = PoolOp.from_values("pc", x, 0, 8, kernel, stride, padding).with_result()
        cmd = pool_cmd(pcfg, 2, 5, 6, kernel, stride, padding)
        beats = []
        got = job_cycles(cmd, pool_words(pcfg, job), pcfg, beats, dut=PoolCore(pcfg))
        assert got == job.cycles(pcfg) == job_cycles(cmd, pool_words(CFG, job), CFG)
        assert (decode_results(pcfg, job, beats) == job.golden()).all()
    mm = replace(CFG, pool_port=1)
    words = [random.Random(5).getrandbits(16) for _ in range((3 + 2) * 2)]
    assert job_cycles(matmul_cmd(mm, "xnor", 2, 3, 20), words, mm,
                      dut=BinaryCore(mm, with_pool=False)) == matmul_cycles(mm, 2, 3, 20)
    dropped = BinaryCore(mm, with_pool=False)
    seen = {}

    async def bench(ctx):
        ctx.set(dropped.cmd.payload.as_value(), pool_cmd(mm, 1, 2, 2, (1, 1), (1, 1), (0, 0)))
        ctx.set(dropped.cmd.valid, 1)
        ctx.set(dropped.out.ready, 1)
        for cycle in range(20):
            if ctx.get(dropped.cmd.ready) and ctx.get(dropped.cmd.valid):
                seen.setdefault("taken", []).append(cycle)
            seen["out"] = seen.get("out", 0) + ctx.get(dropped.out.valid)
            await ctx.tick()

    run_testbench(dropped, bench)
    # taken, dropped in its setup cycle, the next beat (the same command) taken two cycles on
    assert seen["taken"][:2] == [0, BinaryCore.JOB_START_CYCLES] and seen["out"] == 0


def small_k_config(rows: int, cols: int, drain_rows: int) -> ArrayConfig:
    return ArrayConfig(rows=rows, cols=cols, simd=16, max_k=64, max_m=24, max_n=24, pool_bits=8,
                       pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=64,
                       drain_rows=drain_rows)


#: R x C x D with D in {1, 2, R}, and small-K shapes: one data word per row (KW = 1, where the
#: drain and the hold banks set the tile spacing), full and partial last tile rows, one and
#: several tile columns; one two-word shape
SMALL_K = [(r, c, d) for r, c in ((2, 2), (4, 4), (3, 5)) for d in sorted({1, 2, r})]


@pytest.mark.parametrize("rows, cols, drain_rows", SMALL_K)
def test_small_k_tiles_take_the_modelled_cycles(rows, cols, drain_rows):
    cfg = small_k_config(rows, cols, drain_rows)
    shapes = [(3 * rows, 2 * cols + 1, 16), (2 * rows + 1, 3 * cols, 9), (rows + 1, 1, 32)]
    check_matmuls(cfg, shapes, "small_k")


def check_matmuls(cfg, shapes, name):
    """Random jobs of ``shapes`` (M, N, K), XNOR and AND in turn, on ``cfg``: cycles equal the
    model and results equal the golden ones."""
    for i, (m, n, k) in enumerate(shapes):
        rng = np.random.default_rng(i)
        job = MatmulOp.from_bits(name, "and" if i % 2 else "xnor",
                                 rng.integers(0, 2, (m, k)), rng.integers(0, 2, (n, k)))
        beats = []
        got = job_cycles(matmul_cmd(cfg, job.mode, m, n, k), matmul_words(cfg, job), cfg,
                         beats, budget=1000)
        assert got == matmul_cycles(cfg, m, n, k), (m, n, k)
        assert np.array_equal(decode_results(cfg, job, beats), job.golden()), (m, n, k)


#: R x C x D x hold_banks: three and four hold banks, KW = 1 and 2
MORE_BANKS = [(2, 2, 1, 3), (3, 5, 3, 4)]


@pytest.mark.parametrize("rows, cols, drain_rows, banks", MORE_BANKS)
def test_more_hold_banks_take_the_modelled_cycles(rows, cols, drain_rows, banks):
    cfg = replace(small_k_config(rows, cols, drain_rows), hold_banks=banks)
    shapes = [(3 * rows, 2 * cols + 1, 16), (2 * rows + 1, 3 * cols, 9),
              (2 * rows, 3 * cols + 1, 20)]
    check_matmuls(cfg, shapes, "banks")


#: R x C x G: rows per load beat G = 2 and 4 (a power of two dividing R and C); shapes with
#: partial last row groups of W and A, few tile columns (the first tile waits for all of A)
#: and many (tile rows start as their rows load: N > (R/G - 1) * C)
LOAD_ROWS = [(2, 2, 2), (4, 4, 2), (4, 4, 4), (2, 4, 2)]


@pytest.mark.parametrize("rows, cols, load_rows", LOAD_ROWS)
def test_wide_load_beats_take_the_modelled_cycles(rows, cols, load_rows):
    cfg = replace(small_k_config(rows, cols, 2), load_rows=load_rows)
    shapes = [(3 * rows + 1, 2 * cols - 1, 16), (rows - 1 or 1, 4 * cols + 1, 33),
              (2 * rows, 1, 5)]
    check_matmuls(cfg, shapes, "wide_load")
