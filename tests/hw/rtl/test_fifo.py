"""OutputFIFO: measured latency, one entry per cycle, order and level under random writes and
random output stalls, and the storage full without loss."""

import random

import pytest

from hw.rtl.fifo import OutputFIFO
from hw.rtl.simulate import run_testbench, take


def run_fifo(n_values, depth=8, write_p=1.0, ready_p=1.0, seed=0, cycles=600):
    """Write ``n_values`` values (never into a full storage, as the core's credit ensures) and
    read them; return the write cycles, the (cycle, value) outputs and the largest level."""
    dut = OutputFIFO(16, depth)
    rng = random.Random(seed)
    writes, out, levels = [], [], []

    async def bench(ctx):
        k = 0
        for cycle in range(cycles):
            level = ctx.get(dut.level)
            levels.append(level)
            w = k < n_values and level < depth and rng.random() < write_p
            ready = rng.random() < ready_p
            ctx.set(dut.w_en, w)
            ctx.set(dut.w_data, (k * 2654435761) & 0xFFFF)
            if (value := take(ctx, dut.r, ready)) is not None:
                out.append((cycle, value))
            if w:
                writes.append(cycle)
                k += 1
            await ctx.tick()

    run_testbench(dut, bench)
    return writes, out, max(levels)


@pytest.mark.parametrize("depth, latency", [(8, 3), (64, 4)])
def test_latency_and_one_entry_per_cycle(depth, latency):
    """LUT-RAM depths read through one register, block-RAM depths (above 32) through two
    (the RAM's output register): one cycle more, and still one entry per cycle."""
    writes, out, _ = run_fifo(20, depth=depth)
    assert OutputFIFO.latency(depth) == latency
    assert writes == list(range(20))
    assert [c for c, _ in out] == [w + latency for w in writes]
    assert [v for _, v in out] == [(k * 2654435761) & 0xFFFF for k in range(20)]


@pytest.mark.parametrize("depth", [8, 64])
@pytest.mark.parametrize("write_p, ready_p, seed", [(1.0, 0.3, 1), (0.5, 0.5, 2),
                                                    (0.9, 0.7, 3), (1.0, 0.0, 4)])
def test_order_and_no_loss_under_stalls(write_p, ready_p, seed, depth):
    n = 3 * depth // 2 + 20
    writes, out, top = run_fifo(n, depth=depth, write_p=write_p, ready_p=ready_p, seed=seed,
                                cycles=10 * n)
    want = [(k * 2654435761) & 0xFFFF for k in range(len(writes))]
    assert [v for _, v in out] == want[:len(out)]
    if ready_p == 0.0:
        # nothing read out: the storage fills to its depth and the queue holds 3 (LUT RAM) or
        # 4 (block RAM) more
        assert OutputFIFO.queue_depth(depth) == (3 if depth <= 32 else 4)
        assert (len(writes), len(out), top) == (depth + OutputFIFO.queue_depth(depth), 0, depth)
    else:
        assert len(out) == len(writes) == n


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="power of two, got 12"):
        OutputFIFO(8, 12)
    with pytest.raises(ValueError, match="width must be an integer >= 1, got 0"):
        OutputFIFO(0, 8)


@pytest.mark.parametrize("depth", [8, 64])
def test_overfill_fault_loses_entries_under_back_pressure(depth):
    """The broken variant reads one entry too many into the queue: with the output stalled,
    the good FIFO keeps every value in order and the broken one loses some (with one and
    with two read-data registers)."""
    def run(fault):
        dut = OutputFIFO(16, depth, fault=fault)
        out = []

        async def bench(ctx):
            rng = random.Random(9)
            k = 0
            for _ in range(400):
                ready = rng.random() < 0.3
                w = k < 40 and ctx.get(dut.level) < depth
                ctx.set(dut.w_en, w)
                ctx.set(dut.w_data, k)
                k += w
                if (value := take(ctx, dut.r, ready)) is not None:
                    out.append(value)
                await ctx.tick()

        run_testbench(dut, bench)
        return out

    assert run(None) == list(range(40))
    bad = run("fifo_overfill")
    assert len(bad) < 40 and bad == sorted(set(bad))         # some lost, the rest in order
    with pytest.raises(ValueError, match="unknown output FIFO fault"):
        OutputFIFO(8, 8, fault="nope")


def test_early_take_fault_is_caught_on_block_ram_storage():
    """The broken variant lets the queue take a block-RAM read one register early: its values
    are the previous entry's (the good FIFO's are exact); on LUT RAM (one register) the fault
    has nothing to break."""
    def values(depth, fault):
        dut = OutputFIFO(16, depth, fault=fault)
        out = []

        async def bench(ctx):
            for k in range(60):
                ctx.set(dut.w_en, k < 20)
                ctx.set(dut.w_data, 1000 + k)
                if (value := take(ctx, dut.r, True)) is not None:
                    out.append(value)
                await ctx.tick()

        run_testbench(dut, bench)
        return out

    want = [1000 + k for k in range(20)]
    assert values(64, None) == want and values(8, "fifo_early_take") == want
    bad = values(64, "fifo_early_take")
    assert bad != want and bad[1:] == want[:-1]
