"""SystolicArray: the earliest cycle a drain may start after a tile's last word, measured in
simulation, is the flush latency the array exports; the drain presents D rows per shift."""

import random

import pytest

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig, ceil_div
from hw.rtl.array import SystolicArray


def drained(cfg: ArrayConfig, a_words, w_words, start: int, bank: int = 0) -> list[list[int]]:
    """Feed a one-word tile (XNOR mode, into hold bank ``bank``) on cycle 0 and shift that bank
    from cycle ``start`` on; return the R rows of ``hold_top`` the drain presents, D per
    shift."""
    dut = SystolicArray(cfg)
    D = cfg.drain_rows_eff
    rows = []

    async def bench(ctx):
        ctx.set(dut.kmask, (1 << cfg.simd) - 1)
        ctx.set(dut.drain_bank, bank)
        for cycle in range(start + ceil_div(cfg.rows, D)):
            word = cycle == 0
            for r, a in enumerate(a_words):
                ctx.set(dut.a[r], a if word else 0)
            for c, w in enumerate(w_words):
                ctx.set(dut.w[c], w if word else 0)
            ctx.set(dut.flags, {"valid": int(word), "first": int(word), "last": int(word),
                                "and_mode": 0, "bank": bank})
            ctx.set(dut.shift, int(cycle >= start))
            if cycle >= start:
                rows.extend([ctx.get(dut.hold_top[d][c]) for c in range(cfg.cols)]
                            for d in range(D))
            await ctx.tick()

    run_testbench(dut, bench)
    return rows[:cfg.rows]


@pytest.mark.parametrize("rows, cols, simd, drain_rows, bank",
                         [(1, 1, 8, 1, 0), (2, 3, 16, 1, 1), (3, 2, 8, 2, 0), (4, 2, 8, 2, 1),
                          (3, 2, 8, 3, 1)])
def test_flush_latency_is_measured(rows, cols, simd, drain_rows, bank):
    cfg = ArrayConfig(rows=rows, cols=cols, simd=simd, max_k=64, max_m=8, max_n=8, pool_bits=8,
                      drain_rows=drain_rows)
    rng = random.Random(rows * 100 + cols)
    a_words = [rng.getrandbits(simd) for _ in range(rows)]
    w_words = [rng.getrandbits(simd) for _ in range(cols)]
    want = [[bin(~(a ^ w) & ((1 << simd) - 1)).count("1") for w in w_words] for a in a_words]
    assert all(all(row) for row in want)     # no sum equals a hold register's reset value
    flush = SystolicArray.flush_latency(rows, cols, simd)
    earliest = next((s for s in range(flush + 2)
                     if drained(cfg, a_words, w_words, s, bank) == want), None)
    assert earliest == flush
    assert cfg.tile_flush == cfg.mm_read_latency + flush
    assert SystolicArray.capture_skew(rows, cols) == cfg.capture_skew == rows + cols - 2
