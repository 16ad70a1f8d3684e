"""The popcount tree and the PE in Amaranth's own simulator (fast unit checks)."""

import random

import pytest

from hw.rtl.simulate import run_testbench
from hw.rtl.popcount import Popcount


@pytest.mark.parametrize("width", [1, 5, 8, 9, 32, 64, 100, 256])
def test_popcount_tree_exact_and_pipelined(width):
    dut = Popcount(width)
    rng = random.Random(width)
    vectors = [0, (1 << width) - 1] + [rng.getrandbits(width) for _ in range(40)]
    seen = []

    async def bench(ctx):
        for v in vectors + [0] * dut.latency:
            ctx.set(dut.i, v)
            await ctx.tick()
            seen.append(ctx.get(dut.o))

    run_testbench(dut, bench)
    # the value presented before tick t is visible after tick t + latency - 1
    got = seen[dut.latency - 1:dut.latency - 1 + len(vectors)]
    assert got == [bin(v).count("1") for v in vectors]


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_popcount_rejects_bad_width():
    with pytest.raises(ValueError, match="width"):
        Popcount(0)
