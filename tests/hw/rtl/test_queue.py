"""RegisterQueue: measured latency and throughput, order under random stalls on both sides
(with and without ``free_writes``: an entry written whenever it is the free one, the payload
garbage while ``i.valid`` is low), and registered handshakes (neither ready nor valid follows
the other side in the same cycle)."""

import random

import pytest
from amaranth.lib import data

from hw.rtl.queue import RegisterQueue
from hw.rtl.simulate import run_testbench, take


def run_queue(values, in_stall=None, out_stall=None, cycles=400, free_writes=False):
    """Offer ``values`` on ``i`` (a garbage payload while not offering) and take from ``o``;
    return [(cycle taken, cycle out, value)]."""
    dut = RegisterQueue(8, free_writes=free_writes)
    taken, out = [], []
    rin = random.Random(in_stall) if in_stall is not None else None
    rout = random.Random(out_stall) if out_stall is not None else None

    async def bench(ctx):
        k = 0
        for cycle in range(cycles):
            offer = k < len(values) and (rin is None or rin.random() < 0.6)
            ready = rout is None or rout.random() < 0.6
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, values[k] if offer else (0xA5 ^ cycle) % 256)
            if (value := take(ctx, dut.o, ready)) is not None:
                out.append((cycle, value))
            if offer and ctx.get(dut.i.ready):
                taken.append(cycle)
                k += 1
            await ctx.tick()

    run_testbench(dut, bench)
    return taken, out


@pytest.mark.parametrize("free_writes", [False, True])
def test_latency_and_one_entry_per_cycle(free_writes):
    values = list(range(1, 21))
    taken, out = run_queue(values, free_writes=free_writes)
    assert taken == list(range(20))                              # one per cycle, no bubble
    assert [c for c, _ in out] == [t + RegisterQueue.LATENCY for t in taken]
    assert [v for _, v in out] == values


@pytest.mark.parametrize("free_writes", [False, True])
@pytest.mark.parametrize("in_stall, out_stall", [(1, None), (None, 2), (3, 4), (5, 6)])
def test_order_under_stalls(in_stall, out_stall, free_writes):
    values = [random.Random(in_stall).randrange(256) for _ in range(60)]
    values = [(v + 7 * i) % 256 for i, v in enumerate(values)]
    taken, out = run_queue(values, in_stall, out_stall, free_writes=free_writes)
    assert [v for _, v in out] == values
    # never more than DEPTH entries held: an entry leaves no earlier than LATENCY after it came
    assert all(c >= t + RegisterQueue.LATENCY for t, (c, _) in zip(taken, out))


def test_handshakes_are_registers():
    """Within one cycle, toggling o.ready leaves i.ready unchanged and toggling i.valid leaves
    o.valid unchanged (the queue full, then empty)."""
    dut = RegisterQueue(8)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        for v in (1, 2):
            ctx.set(dut.i.payload, v)
            await ctx.tick()
        for ready in (0, 1):                      # full: i.ready low whatever o.ready is
            ctx.set(dut.o.ready, ready)
            seen.append(("full", ready, ctx.get(dut.i.ready), ctx.get(dut.o.valid)))
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 1)
        for _ in range(2):
            await ctx.tick()
        for valid in (0, 1):                      # empty: o.valid low whatever i.valid is
            ctx.set(dut.i.valid, valid)
            seen.append(("empty", valid, ctx.get(dut.i.ready), ctx.get(dut.o.valid)))

    run_testbench(dut, bench)
    assert seen == [("full", 0, 0, 1), ("full", 1, 0, 1), ("empty", 0, 1, 0),
                    ("empty", 1, 1, 0)]


def test_bad_shape_is_refused():
    with pytest.raises(TypeError, match="shape-castable"):
        RegisterQueue("wide")


def test_bad_head_field_is_refused():
    with pytest.raises(ValueError, match="1-bit field.*'flag'"):
        RegisterQueue(8, head_field="flag")
    with pytest.raises(ValueError, match="1-bit field.*'v'"):
        RegisterQueue(data.StructLayout({"v": 3, "flag": 1}), head_field="v")
    with pytest.raises(ValueError, match="head_copies.*got 2 with head_field None"):
        RegisterQueue(data.StructLayout({"v": 3, "flag": 1}), head_copies=2)
    with pytest.raises(ValueError, match="head_copies.*got -1"):
        RegisterQueue(data.StructLayout({"v": 3, "flag": 1}), head_field="flag", head_copies=-1)


@pytest.mark.parametrize("depth, seed", [(2, 1), (2, 2), (3, 3), (4, 4)])
def test_head_field_register_is_the_heads(depth, seed):
    """``o_head`` and each of its copies equal the head entry's field in every cycle with
    ``o.valid``, under random stalls on both sides (the entries' flags random), and
    ``i_ready_next`` is the next cycle's ``i.ready``; the order and latency are the plain
    queue's."""
    layout = data.StructLayout({"v": 8, "flag": 1})
    dut = RegisterQueue(layout, depth, ready_next=True, head_field="flag", head_copies=3)
    rng = random.Random(seed)
    values = [(i % 256, rng.randrange(2)) for i in range(120)]
    checked, out, mismatch = [0], [], []

    async def bench(ctx):
        k, ready_next = 0, None
        for cycle in range(600):
            offer = k < len(values) and rng.random() < 0.6
            ready = rng.random() < 0.5
            if ready_next is not None:
                assert ctx.get(dut.i.ready) == ready_next
            ctx.set(dut.i.valid, offer)
            v, f = values[k] if k < len(values) else (0, rng.randrange(2))
            ctx.set(dut.i.payload.v, v)
            ctx.set(dut.i.payload.flag, f)
            ctx.set(dut.o.ready, ready)
            if ctx.get(dut.o.valid):
                checked[0] += 1
                flag = ctx.get(dut.o.payload.flag)
                if ctx.get(dut.o_head) != flag or ctx.get(dut.o_head_copies) != flag * 0b111:
                    mismatch.append(cycle)
                if ready:
                    out.append((ctx.get(dut.o.payload.v), ctx.get(dut.o.payload.flag)))
            if offer and ctx.get(dut.i.ready):
                k += 1
            ready_next = ctx.get(dut.i_ready_next)
            await ctx.tick()

    run_testbench(dut, bench)
    assert out == values
    assert checked[0] > 200 and mismatch == []
