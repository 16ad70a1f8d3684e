"""The PE in Amaranth's simulator: XNOR/AND popcount accumulation, hold capture, drain shift."""

import random


from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig
from hw.rtl.pe import PE

CFG = ArrayConfig(rows=1, cols=1, simd=16, max_k=64)


def run_pe(words, and_mode, shift_value=None):
    """Feed (a, w) words as one tile; return the hold register after the tile (and after one
    shift cycle loading ``shift_value`` if given)."""
    dut = PE(CFG)
    out = {}

    async def bench(ctx):
        for i, (a, w) in enumerate(words):
            ctx.set(dut.a_in, a)
            ctx.set(dut.w_in, w)
            ctx.set(dut.f_in, {"valid": 1, "first": int(i == 0), "last": int(i == len(words) - 1),
                               "and_mode": and_mode})
            await ctx.tick()
        ctx.set(dut.f_in, {"valid": 0, "first": 0, "last": 0, "and_mode": 0})
        await ctx.tick().repeat(dut.latency + 1)
        out["hold"] = ctx.get(dut.hold)
        if shift_value is not None:
            ctx.set(dut.shift_in, shift_value)
            ctx.set(dut.shift, 1)
            await ctx.tick()
            ctx.set(dut.shift, 0)
            out["shifted"] = ctx.get(dut.hold)

    run_testbench(dut, bench)
    return out


def test_xnor_and_and_popcount():
    rng = random.Random(5)
    words = [(rng.getrandbits(16), rng.getrandbits(16)) for _ in range(3)]
    xnor = sum(bin(~(a ^ w) & 0xFFFF).count("1") for a, w in words)
    andc = sum(bin(a & w).count("1") for a, w in words)
    assert run_pe(words, 0)["hold"] == xnor
    assert run_pe(words, 1)["hold"] == andc


def test_first_restarts_and_shift_loads():
    out = run_pe([(0xFFFF, 0xFFFF)], 0, shift_value=7)
    assert out["hold"] == 16 and out["shifted"] == 7
