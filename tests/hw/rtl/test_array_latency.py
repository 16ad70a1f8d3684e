"""SystolicArray: the earliest cycle a drain may start after a tile's last word, measured in
simulation, is the flush latency the array exports."""

import random

import pytest

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig
from hw.rtl.array import SystolicArray


def drained(cfg: ArrayConfig, a_words, w_words, start: int) -> list[list[int]]:
    """Feed a one-word tile (XNOR mode) on cycle 0 and shift from cycle ``start`` on; return the
    R rows of ``hold_top`` the drain presents."""
    dut = SystolicArray(cfg)
    rows = []

    async def bench(ctx):
        ctx.set(dut.kmask, (1 << cfg.simd) - 1)
        for cycle in range(start + cfg.rows):
            word = cycle == 0
            for r, a in enumerate(a_words):
                ctx.set(dut.a[r], a if word else 0)
            for c, w in enumerate(w_words):
                ctx.set(dut.w[c], w if word else 0)
            ctx.set(dut.flags, {"valid": int(word), "first": int(word), "last": int(word),
                                "and_mode": 0})
            ctx.set(dut.shift, int(cycle >= start))
            if cycle >= start:
                rows.append([ctx.get(dut.hold_top[c]) for c in range(cfg.cols)])
            await ctx.tick()

    run_testbench(dut, bench)
    return rows


@pytest.mark.parametrize("rows, cols, simd", [(1, 1, 8), (2, 3, 16), (3, 2, 8)])
def test_flush_latency_is_measured(rows, cols, simd):
    cfg = ArrayConfig(rows=rows, cols=cols, simd=simd, max_k=64, max_m=8, max_n=8, pool_bits=8)
    rng = random.Random(rows * 100 + cols)
    a_words = [rng.getrandbits(simd) for _ in range(rows)]
    w_words = [rng.getrandbits(simd) for _ in range(cols)]
    want = [[bin(~(a ^ w) & ((1 << simd) - 1)).count("1") for w in w_words] for a in a_words]
    assert all(all(row) for row in want)     # no sum equals a hold register's reset value
    flush = SystolicArray.flush_latency(rows, cols, simd)
    earliest = next((s for s in range(flush + 2) if drained(cfg, a_words, w_words, s) == want),
                    None)
    assert earliest == flush
    assert cfg.tile_flush == cfg.mm_read_latency + flush
