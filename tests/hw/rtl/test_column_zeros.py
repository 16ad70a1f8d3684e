"""The array with ``column_zeros`` (the composed core's): XNOR-only PEs and one zero-count PE
per weight column; and the result path that makes AND-mode results from them, hold - zeros.
Checked against sums computed here from the bits, in Amaranth's simulator."""

import random

import pytest

from hw.config import ArrayConfig, ceil_div
from hw.rtl.array import SystolicArray
from hw.rtl.formats import OP_AND, pack_cmd
from hw.rtl.parts.result_path import ResultPath
from hw.rtl.simulate import run_testbench


def ones(x: int) -> int:
    return bin(x).count("1")


def run_tile(cfg, a_rows, w_cols, k, *, fault=None, bank=0):
    """One tile of K = ``k`` (``a_rows[r]`` / ``w_cols[c]``: its words) through the array,
    then its bank drained from the flush latency on; returns the rows of ``hold_top`` and the
    ``zeros_top`` seen on every drain shift."""
    dut = SystolicArray(cfg, column_zeros=True, fault=fault)
    S, D, kw = cfg.simd, cfg.drain_rows_eff, ceil_div(k, cfg.simd)
    kmask = (1 << (k % S)) - 1 if k % S else (1 << S) - 1
    start = kw - 1 + SystolicArray.flush_latency(cfg.rows, cfg.cols, S)
    rows, zeros = [], []

    async def bench(ctx):
        ctx.set(dut.kmask, kmask)
        ctx.set(dut.drain_bank, bank)
        for cycle in range(start + ceil_div(cfg.rows, D)):
            word = cycle < kw
            for r, a in enumerate(a_rows):
                ctx.set(dut.a[r], a[cycle] if word else 0)
            for c, w in enumerate(w_cols):
                ctx.set(dut.w[c], w[cycle] if word else 0)
            ctx.set(dut.flags, {"valid": int(word), "first": int(cycle == 0),
                                "last": int(cycle == kw - 1), "and_mode": 0, "bank": bank})
            ctx.set(dut.shift, int(cycle >= start))
            if cycle >= start:
                rows.extend([ctx.get(dut.hold_top[d][c]) for c in range(cfg.cols)]
                            for d in range(D))
                zeros.append([ctx.get(dut.zeros_top[c]) for c in range(cfg.cols)])
            await ctx.tick()

    run_testbench(dut, bench)
    return rows[:cfg.rows], zeros


def bits_of(words, simd, k):
    """The first ``k`` bits of a row given as ``simd``-bit words (word 0 lowest)."""
    return [(words[i // simd] >> (i % simd)) & 1 for i in range(k)]


@pytest.mark.parametrize("rows, cols, simd, drain_rows, k, bank",
                         [(2, 3, 8, 1, 21, 0), (3, 2, 16, 2, 16, 1), (4, 4, 8, 2, 5, 1)])
def test_xnor_sums_and_column_zero_counts_over_the_true_k(rows, cols, simd, drain_rows, k, bank):
    """hold_top: popcount(XNOR) over the first K bits; zeros_top[c]: the zero bits of column
    c's weights over the first K bits (the padding past K counts in neither), the same on
    every drain shift of the tile."""
    cfg = ArrayConfig(rows=rows, cols=cols, simd=simd, max_k=64, max_m=8, max_n=8, pool_bits=8,
                      drain_rows=drain_rows)
    rng = random.Random(rows * 1000 + k)
    kw = ceil_div(k, simd)
    a_rows = [[rng.getrandbits(simd) for _ in range(kw)] for _ in range(rows)]
    w_cols = [[rng.getrandbits(simd) for _ in range(kw)] for _ in range(cols)]
    a_bits = [bits_of(a, simd, k) for a in a_rows]
    w_bits = [bits_of(w, simd, k) for w in w_cols]
    want_rows = [[sum(x == y for x, y in zip(a, w)) for w in w_bits] for a in a_bits]
    want_zeros = [k - sum(w) for w in w_bits]
    got_rows, got_zeros = run_tile(cfg, a_rows, w_cols, k, bank=bank)
    assert got_rows == want_rows
    assert got_zeros == [want_zeros] * len(got_zeros)
    # the AND-mode identity the result path uses: sum(a * w), a in {0, 1}, w in {-1, +1}
    for a, row in zip(a_bits, want_rows):
        for w, xnor, z in zip(w_bits, row, want_zeros):
            assert sum(x * (2 * y - 1) for x, y in zip(a, w)) == xnor - z


def test_a_neighbours_zero_count_is_wrong():
    """The ``zeros_column`` fault shows each column its neighbour's count."""
    cfg = ArrayConfig(rows=2, cols=3, simd=8, max_k=64, max_m=8, max_n=8, pool_bits=8)
    w_cols = [[0b00000000], [0b11111111], [0b00001111]]
    a_rows = [[0b10101010], [0b01010101]]
    _, good = run_tile(cfg, a_rows, w_cols, 8)
    _, bad = run_tile(cfg, a_rows, w_cols, 8, fault="zeros_column")
    assert good[0] == [8, 0, 4] and bad[0] == [0, 4, 8]


def test_result_path_makes_and_results_from_hold_and_column_zeros():
    """AND mode: lane (d, c) = hold[d][c] - zeros[c]; lanes past N and row slots past the
    tile's rows forced to zero."""
    cfg = ArrayConfig(rows=2, cols=3, simd=16, max_k=64, max_m=9, max_n=9, pool_bits=8,
                      pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=16)
    dut = ResultPath(cfg)
    C, D, lw = cfg.cols, cfg.drain_rows_eff, cfg.lane_width
    lat = ResultPath.result_latency(cfg.out_fifo_depth)
    holds, zeros = [[5, 9, 30], [1, 2, 3]], [7, 2, 1]
    got = {}

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.ctl.job.as_value(), pack_cmd(cfg, op=OP_AND, m=1, n=2, k=40))
        ctx.set(dut.ctl.is_and, 1)
        for c in range(C):
            for d in range(D):
                ctx.set(dut.hold_top[d][c], holds[d][c])
            ctx.set(dut.zeros_top[c], zeros[c])
        dr = dut.drain
        for name, value in (("shift", 1), ("end", 1), ("last", 1), ("n", 2), ("lmask", 1)):
            ctx.set(getattr(dr, name), value)
        for cycle in range(lat + 3):
            if cycle == 1:
                ctx.set(dr.shift, 0)
            if ctx.get(dut.out.valid):
                got["beat"] = (cycle, ctx.get(dut.out.payload.data))
            await ctx.tick()

    run_testbench(dut, bench)
    cycle, data = got["beat"]
    lanes = [(data >> (i * lw)) & ((1 << lw) - 1) for i in range(D * C)]
    signed = [v - (1 << lw) if v >> (lw - 1) else v for v in lanes]
    assert cycle == lat and D == 2
    assert signed == [5 - 7, 9 - 2, 0, 0, 0, 0]
