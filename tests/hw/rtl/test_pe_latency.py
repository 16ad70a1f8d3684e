"""PE: the latency the PE has in simulation is the one it exports."""

import pytest

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig
from hw.rtl.pe import PE


def measured(dut: PE, simd: int) -> tuple[int, int]:
    """Cycles from one valid first-and-last word (all ones, XNOR mode) on the inputs to it on
    ``a_out`` and to its count in ``hold``."""
    ones = (1 << simd) - 1
    seen = {}

    async def bench(ctx):
        for cycle in range(32):
            word = cycle == 0
            ctx.set(dut.a_in, ones if word else 0)
            ctx.set(dut.w_in, ones if word else 0)
            ctx.set(dut.f_in, {"valid": int(word), "first": int(word), "last": int(word),
                               "and_mode": 0})
            if ctx.get(dut.a_out) == ones:
                seen.setdefault("hop", cycle)
            if ctx.get(dut.hold) == simd:
                seen["hold"] = cycle
                return
            await ctx.tick()

    run_testbench(dut, bench)
    return seen["hop"], seen["hold"]


@pytest.mark.parametrize("simd", [8, 16, 64])
def test_pe_latency_is_measured(simd):
    cfg = ArrayConfig(rows=1, cols=1, simd=simd, max_k=64, pool_bits=8)
    dut = PE(cfg)
    hop, hold = measured(dut, simd)
    assert hop == PE.OPERAND_REGS
    assert hold - hop == dut.latency == PE.latency_of(simd) == cfg.pe_latency
