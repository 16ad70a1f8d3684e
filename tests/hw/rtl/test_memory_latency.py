"""PipelinedMemory: the read latency the memory has in simulation is the one it exports, with
and without piece multiplexer levels."""

import pytest

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig, mem_read_latency
from hw.rtl.core import BinaryCore
from hw.rtl.memory import PipelinedMemory


def read_trace(dut: PipelinedMemory, writes: dict, reads: list, cycles: int) -> tuple[int, list]:
    """Write ``writes`` (address -> word), then read ``reads`` on consecutive cycles from cycle
    ``t0`` on (address 0, never written, before and after); return t0 and ``r_data`` per cycle."""
    out = []
    t0 = len(writes) + 4

    async def bench(ctx):
        for addr, word in writes.items():
            ctx.set(dut.w_en, 1)
            ctx.set(dut.w_addr, addr)
            ctx.set(dut.w_data, word)
            out.append(ctx.get(dut.r_data))
            await ctx.tick()
        ctx.set(dut.w_en, 0)
        for cycle in range(len(writes), cycles):
            i = cycle - t0
            ctx.set(dut.r_addr, reads[i] if 0 <= i < len(reads) else 0)
            out.append(ctx.get(dut.r_data))
            await ctx.tick()

    run_testbench(dut, bench)
    return t0, out


@pytest.mark.parametrize("depth, piece, mux_levels", [(40, 16384, 0), (64, 16, 1), (200, 16, 2)])
def test_read_latency_is_measured(depth, piece, mux_levels):
    dut = PipelinedMemory(8, depth, piece)
    assert PipelinedMemory.mux_levels(dut.pieces) == mux_levels
    a, b = depth - 1, 1                       # the last piece, then the first one
    t0, trace = read_trace(dut, {a: 0xA5, b: 0x3C}, [a, b], cycles=40)
    measured = trace.index(0xA5) - t0
    assert measured == dut.latency == PipelinedMemory.read_latency(depth, piece)
    assert trace[t0 + measured + 1] == 0x3C   # back-to-back reads from two pieces
    assert trace[t0 + measured + 2] == 0


def test_config_reads_the_memory_latency():
    cfg = ArrayConfig(rows=2, cols=3, max_m=64, max_n=9, max_k=256, simd=32, mem_piece_depth=16)
    mem = PipelinedMemory.read_latency
    assert mem(300, 16) == mem_read_latency(300, 16)
    assert cfg.mm_read_latency == BinaryCore.READ_ADDR_REGS + max(mem(cfg.a_bank_depth, 16),
                                                                  mem(cfg.w_bank_depth, 16))
