"""PoolUnit: the latencies the pool unit has in simulation (start to first issue, issue to memory
address, memory word to output) are the ones it exports."""


from hw.rtl.simulate import run_testbench
from hw.config import ArrayConfig
from hw.rtl.pool import PoolUnit

# 2 lanes of 8 bits per word; 4 memory pieces, so the pool memory has a multiplexer level
CFG = ArrayConfig(rows=1, cols=1, simd=16, max_k=64, max_m=8, max_n=8, pool_bits=8,
                  pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_depth=64,
                  mem_piece_depth=16)
VALUES = [3, -5, 7, 100]                 # one row of W = 4 values: 2 memory words


def run_pool(dut: PoolUnit) -> dict:
    """Sum 1x1 windows (stride 1) over ``VALUES``, with a memory model of ``pool_read_latency``;
    return the start cycle, the cycle address 1 first shows, and the (cycle, sum, last) outputs."""
    lanes, bits = CFG.pool_lanes, CFG.pool_bits
    mem = [sum((v & ((1 << bits) - 1)) << (bits * i) for i, v in enumerate(VALUES[w:w + lanes]))
           for w in range(0, len(VALUES), lanes)]
    job = {"p": 1, "h": 1, "w": len(VALUES), "kh": 1, "kw": 1, "sh": 1, "sw": 1, "ph": 0,
           "pw": 0, "ww": len(mem), "s_words": 1}
    start, addrs, out = 4, [], []

    async def bench(ctx):
        for name, v in job.items():
            ctx.set(getattr(dut, name), v)
        for cycle in range(start + 40):
            ctx.set(dut.start, int(cycle == start))
            addrs.append(ctx.get(dut.rd_addr))
            back = cycle - CFG.pool_read_latency
            ctx.set(dut.rd_data, mem[addrs[back]] if back >= 0 else 0)
            if ctx.get(dut.o_valid):
                out.append((cycle, ctx.get(dut.o_sum), ctx.get(dut.o_last)))
            await ctx.tick()

    run_testbench(dut, bench)
    return {"start": start, "addr1": addrs.index(1), "out": out}


def test_pool_latency_is_measured():
    dut = PoolUnit(CFG)
    got = run_pool(dut)
    issue = got["start"] + PoolUnit.START_CYCLES            # the first step's issue
    # address 1 belongs to the third step (values 2 and 3), issued two cycles after the first
    assert got["addr1"] - (issue + 2) == PoolUnit.addr_latency(CFG)
    assert got["out"][0][0] - issue == dut.latency == CFG.pool_latency
    assert dut.latency == (PoolUnit.addr_latency(CFG) + CFG.pool_read_latency
                           + PoolUnit.data_latency(CFG))
    # one output per cycle, each the sum of its window (so every word met its step)
    assert [cycle - got["out"][0][0] for cycle, _, _ in got["out"]] == [0, 1, 2, 3]
    assert [s for _, s, _ in got["out"]] == VALUES
    assert [last for _, _, last in got["out"]] == [0, 0, 0, 1]


def test_pool_unit_structure_counts():
    assert CFG.pool_read_latency == 8                # 4 pieces: one multiplexer level
    assert PoolUnit.mul_levels(CFG.pool_max_dim) == CFG.pool_mul_levels == 2
    assert PoolUnit.plane_sum_levels(CFG.pool_bits) == 3
