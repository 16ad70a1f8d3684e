"""The PE in Amaranth's simulator: XNOR/AND popcount accumulation, ping-pong hold capture, drain
shift of one bank while the other captures; three hold banks (hold_banks = 3)."""

import random
from dataclasses import replace

from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig
from hw.rtl.pe import PE

CFG = ArrayConfig(rows=1, cols=1, simd=16, max_k=64)
IDLE = {"valid": 0, "first": 0, "last": 0, "and_mode": 0, "bank": 0}


def run_pe(words, and_mode, shift_value=None):
    """Feed (a, w) words as one tile into bank 0; return the hold register after the tile (and
    after one shift cycle loading ``shift_value`` if given)."""
    dut = PE(CFG)
    out = {}

    async def bench(ctx):
        for i, (a, w) in enumerate(words):
            ctx.set(dut.a_in, a)
            ctx.set(dut.w_in, w)
            ctx.set(dut.f_in, {"valid": 1, "first": int(i == 0), "last": int(i == len(words) - 1),
                               "and_mode": and_mode, "bank": 0})
            await ctx.tick()
        ctx.set(dut.f_in, IDLE)
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


def ping_pong(fault=None) -> dict:
    """One-word tiles: 16 ones into bank 0, then 9 ones into bank 1 while bank 0 shifts in 5,
    then 3 ones into bank 0 in the very cycle bank 0 shifts again (the capture wins); the
    values each bank shows at each step."""
    dut = PE(CFG, fault=fault)
    seen = {}

    def word(ones):
        return (1 << ones) - 1

    async def tile(ctx, ones, bank):
        ctx.set(dut.a_in, word(ones))
        ctx.set(dut.w_in, 0xFFFF)
        ctx.set(dut.f_in, {"valid": 1, "first": 1, "last": 1, "and_mode": 1, "bank": bank})
        await ctx.tick()
        ctx.set(dut.f_in, IDLE)

    async def bench(ctx):
        await tile(ctx, 16, 0)
        await ctx.tick().repeat(dut.latency)       # captured at the end of this wait
        for b in (0, 1):
            ctx.set(dut.drain_bank, b)
            seen[f"first_bank{b}"] = ctx.get(dut.hold)
        await tile(ctx, 9, 1)                      # bank 1 captures latency cycles later ...
        ctx.set(dut.drain_bank, 0)
        ctx.set(dut.shift, 1)                      # ... while bank 0 drains
        ctx.set(dut.shift_in, 5)
        await ctx.tick().repeat(dut.latency - 1)
        ctx.set(dut.shift, 0)
        await ctx.tick()
        for b in (0, 1):
            ctx.set(dut.drain_bank, b)
            seen[f"second_bank{b}"] = ctx.get(dut.hold)
        await tile(ctx, 3, 0)
        await ctx.tick().repeat(dut.latency - 1)
        ctx.set(dut.drain_bank, 0)
        ctx.set(dut.shift, 1)                      # a shift of bank 0 in its capture cycle
        ctx.set(dut.shift_in, 5)
        await ctx.tick()
        ctx.set(dut.shift, 0)
        for b in (0, 1):
            ctx.set(dut.drain_bank, b)
            seen[f"third_bank{b}"] = ctx.get(dut.hold)

    run_testbench(dut, bench)
    return seen


def test_ping_pong_capture_and_drain():
    seen = ping_pong()
    assert (seen["first_bank0"], seen["first_bank1"]) == (16, 0)
    assert (seen["second_bank0"], seen["second_bank1"]) == (5, 9)   # drained, kept
    assert (seen["third_bank0"], seen["third_bank1"]) == (3, 9)     # capture beats shift


def test_hold_swap_fault_captures_into_the_other_bank():
    seen = ping_pong("hold_swap")
    assert (seen["first_bank0"], seen["first_bank1"]) == (0, 16)



def three_banks(fault=None) -> dict:
    """hold_banks = 3: one-word tiles of 16, 9 and 4 ones into banks 0, 1, 2, then bank 1
    shifts in 5; what every bank shows after the captures and after the shift."""
    dut = PE(replace(CFG, hold_banks=3), fault=fault)
    seen = {}

    async def bench(ctx):
        for bank, ones in enumerate((16, 9, 4)):
            ctx.set(dut.a_in, (1 << ones) - 1)
            ctx.set(dut.w_in, 0xFFFF)
            ctx.set(dut.f_in, {"valid": 1, "first": 1, "last": 1, "and_mode": 1, "bank": bank})
            await ctx.tick()
        ctx.set(dut.f_in, IDLE)
        await ctx.tick().repeat(dut.latency + 1)
        for b in range(3):
            ctx.set(dut.drain_bank, b)
            seen[f"captured{b}"] = ctx.get(dut.hold)
        ctx.set(dut.drain_bank, 1)
        ctx.set(dut.shift, 1)
        ctx.set(dut.shift_in, 5)
        await ctx.tick()
        ctx.set(dut.shift, 0)
        for b in range(3):
            ctx.set(dut.drain_bank, b)
            seen[f"shifted{b}"] = ctx.get(dut.hold)

    run_testbench(dut, bench)
    return seen


def test_three_hold_banks_capture_and_drain_each_bank():
    dut = PE(replace(CFG, hold_banks=3))
    dut._MustUse__silence = True                     # only its ports are looked at
    assert len(dut.drain_bank) == 2 and len(dut.f_in.bank) == 2
    seen = three_banks()
    assert [seen[f"captured{b}"] for b in range(3)] == [16, 9, 4]
    assert [seen[f"shifted{b}"] for b in range(3)] == [16, 5, 4]      # only bank 1 drains


def test_hold_swap_fault_with_three_banks_captures_into_the_next_bank():
    seen = three_banks("hold_swap")
    assert [seen[f"captured{b}"] for b in range(3)] == [4, 16, 9]     # bank + 1 mod 3


def test_acc_register_bits_count_every_hold_bank():
    assert PE.acc_register_bits(11, 2) == 33 and PE.acc_register_bits(11, 4) == 55
