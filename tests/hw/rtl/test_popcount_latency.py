"""Popcount: the latency the tree has in simulation is the one it exports."""

import pytest

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig, popcount_latency
from hw.rtl.popcount import Popcount


def measured_latency(dut: Popcount) -> int:
    """Cycles from one all-ones input (zeros before and after) to a non-zero count on ``o``."""
    seen = []

    async def bench(ctx):
        for cycle in range(32):
            ctx.set(dut.i, (1 << dut.width) - 1 if cycle == 0 else 0)
            if ctx.get(dut.o):
                seen.append(cycle)
                return
            await ctx.tick()

    run_testbench(dut, bench)
    assert seen, "no count ever appeared on o"
    return seen[0]


@pytest.mark.parametrize("width, group", [(1, 8), (8, 8), (9, 8), (32, 8), (100, 8), (64, 4)])
def test_popcount_latency_is_measured(width, group):
    dut = Popcount(width, group)
    assert measured_latency(dut) == dut.latency == Popcount.latency_of(width, group)


def test_config_reads_the_popcount_latency():
    cfg = ArrayConfig(simd=64, pool_bits=8)
    assert cfg.pe_popcount_latency == Popcount.latency_of(64) == popcount_latency(64)
