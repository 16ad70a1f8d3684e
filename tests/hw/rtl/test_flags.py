"""at_most (hw/rtl/flags.py) against Python's integer comparison for every value of a small
signed signal, in the Amaranth simulator."""

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from hw.rtl.flags import at_most


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 7])
def test_at_most_every_value(k):
    m = Module()
    x = Signal(signed(5))
    flag = Signal()
    m.d.comb += flag.eq(at_most(x, k))
    seen = {}

    async def bench(ctx):
        for v in range(-16, 16):
            ctx.set(x, v)
            seen[v] = ctx.get(flag)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {v: int(v <= k) for v in range(-16, 16)}


def test_at_most_bad_constant():
    with pytest.raises(ValueError, match="k >= 0, got -1"):
        at_most(Signal(signed(5)), -1)
    with pytest.raises(ValueError, match="needs 4 bits"):
        at_most(Signal(signed(4)), 8)
