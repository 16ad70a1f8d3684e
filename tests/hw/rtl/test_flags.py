"""at_most / above (hw/rtl/flags.py) against Python's integer comparison for every value of a
small signed and unsigned signal, in the Amaranth simulator."""

import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from hw.rtl.flags import above, at_most


def _flags_of(shape, values, k):
    """{value: (at_most, above)} of the gates for every value of a signal of ``shape``."""
    m = Module()
    x = Signal(shape)
    le, gt = Signal(), Signal()
    m.d.comb += [le.eq(at_most(x, k)), gt.eq(above(x, k))]
    seen = {}

    async def bench(ctx):
        for v in values:
            ctx.set(x, v)
            seen[v] = (ctx.get(le), ctx.get(gt))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 7, 15, 16])
def test_at_most_every_signed_value(k):
    values = range(-16, 16)
    assert _flags_of(signed(5), values, k) == {v: (int(v <= k), int(v > k)) for v in values}


@pytest.mark.parametrize("k", [0, 1, 4, 6, 21, 32, 62, 63, 64, 100])
def test_at_most_every_unsigned_value(k):
    values = range(64)
    assert _flags_of(unsigned(6), values, k) == {v: (int(v <= k), int(v > k)) for v in values}


def test_at_most_bad_constant():
    with pytest.raises(ValueError, match="k >= 0, got -1"):
        at_most(Signal(signed(5)), -1)
