"""Each part of the composed core alone in Amaranth's simulator: what it does and the latency
it exports (hw/rtl/parts)."""

import random

import pytest

from hw.config import ArrayConfig, ceil_div
from hw.rtl.formats import OP_AND, OP_POOL, OP_XNOR, pack_cmd
from hw.rtl.parts.drain_control import DrainControl
from hw.rtl.parts.job_control import JobControl
from hw.rtl.parts.operand_banks import OperandBanks
from hw.rtl.parts.operand_loader import OperandLoader
from hw.rtl.parts.result_path import ResultPath
from hw.rtl.parts.tile_reader import TileReader
from hw.rtl.simulate import run_testbench

CFG = ArrayConfig(rows=2, cols=3, simd=16, max_k=64, max_m=9, max_n=9, pool_bits=8,
                  pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=16)


@pytest.mark.parametrize("ctl_regs", [0, 1])
def test_job_control_steps_a_matmul_and_a_pool_job(ctl_regs):
    """Command taken in IDLE, setup START_CYCLES - 1 cycles later with the derived K values,
    then MATMUL until the reader's done, MM_DONE until no drain, the last word's mask from
    the cycle after setup; a pool job raises
    pool_start in its setup cycle and ends when the pool unit is idle. The same with the IDLE
    flip-flop (``ctl_regs``)."""
    from dataclasses import replace

    dut = JobControl(replace(CFG, ctl_regs=ctl_regs))
    log = {}

    async def bench(ctx):
        ctx.set(dut.cmd.payload.as_value(), pack_cmd(CFG, op=OP_AND, m=3, n=4, k=40))
        ctx.set(dut.cmd.valid, 1)
        assert ctx.get(dut.cmd.ready)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        for _ in range(JobControl.START_CYCLES - 2):
            await ctx.tick()
        assert ctx.get(dut.ctl.setup) and not ctx.get(dut.cmd.ready)
        await ctx.tick()
        assert not ctx.get(dut.ctl.setup)
        assert (ctx.get(dut.ctl.kwords), ctx.get(dut.ctl.kw_one), ctx.get(dut.ctl.is_and)) == \
            (3, 0, 1)
        assert ctx.get(dut.ctl.kw_pen) == 1
        # the cycle after setup: the first load beat's write pads with the job's mask
        assert ctx.get(dut.ctl.kmask) == kmask_of(40, CFG.simd)
        for _ in range(3):                      # MATMUL waits for the reader's done
            await ctx.tick()
            assert not ctx.get(dut.cmd.ready)
        ctx.set(dut.tiles.done, 1)              # MATMUL ends
        await ctx.tick()
        ctx.set(dut.tiles.done, 0)
        ctx.set(dut.drain.in_flight, 1)         # MM_DONE waits for the drains
        await ctx.tick()
        assert not ctx.get(dut.cmd.ready)
        ctx.set(dut.drain.in_flight, 0)
        ctx.set(dut.drain.shift, 1)
        await ctx.tick()
        assert not ctx.get(dut.cmd.ready)
        ctx.set(dut.drain.shift, 0)
        await ctx.tick()
        assert ctx.get(dut.cmd.ready)           # IDLE again
        # a pool job
        ctx.set(dut.cmd.payload.as_value(), pack_cmd(CFG, op=OP_POOL, p=1, h=2, w=2, kh=1,
                                                     kw=1, sh=1, sw=1))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        assert ctx.get(dut.ctl.setup) and ctx.get(dut.pool_start)
        ctx.set(dut.pool_busy, 1)
        await ctx.tick()
        assert not ctx.get(dut.pool_start) and not ctx.get(dut.cmd.ready)
        ctx.set(dut.pool_busy, 0)
        await ctx.tick()
        assert ctx.get(dut.cmd.ready)
        log["done"] = True

    run_testbench(dut, bench)
    assert log["done"]


def set_job(ctx, ctl, cfg, m, n, k):
    """Drive a job interface (:func:`hw.rtl.interfaces.job_signature`) as job control does
    after the setup of an XNOR m x n x k job (setup itself left low)."""
    kw = ceil_div(k, cfg.simd)
    ctx.set(ctl.job.as_value(), pack_cmd(cfg, op=OP_XNOR, m=m, n=n, k=k))
    ctx.set(ctl.kwords, kw)
    ctx.set(ctl.kw_pen, (kw - 2) % (1 << len(ctl.kw_pen)))
    ctx.set(ctl.kw_one, kw == 1)
    ctx.set(ctl.kmask, kmask_of(k, cfg.simd))


def kmask_of(k, simd):
    """Ones below K mod simd (all ones when K is a multiple): the last word's valid bits."""
    return (1 << ((k - 1) % simd + 1)) - 1


def run_loader(cfg, m, n, k, seed=1, fault=None):
    """Load an m x n x k job through the OperandLoader, a beat every cycle; return the
    writes (cycle, addr, data, a_en, w_en), the cycles of the beats taken, of w_done and of
    the row pulses, and the final progress values."""
    dut = OperandLoader(cfg, fault=fault)
    rng = random.Random(seed)
    kw, G = ceil_div(k, cfg.simd), cfg.load_rows_eff
    beats = [rng.getrandbits(cfg.data_width) for _ in range((ceil_div(n, G) + ceil_div(m, G)) * kw)]
    got = {"writes": [], "taken": [], "w_done": [], "pulses": []}

    async def bench(ctx):
        set_job(ctx, dut.ctl, cfg, m, n, k)
        ctx.set(dut.ctl.setup, 1)
        await ctx.tick()
        ctx.set(dut.ctl.setup, 0)
        sent = 0
        for cycle in range(1, len(beats) + 10):
            ctx.set(dut.data.valid, sent < len(beats))
            ctx.set(dut.data.payload, beats[sent] if sent < len(beats) else 0)
            a_en, w_en = ctx.get(dut.write.a_en), ctx.get(dut.write.w_en)
            if a_en or w_en:
                got["writes"].append((cycle, ctx.get(dut.write.addr), ctx.get(dut.write.data),
                                      a_en, w_en))
            if ctx.get(dut.progress.row_pulse):
                got["pulses"].append(cycle)
            if ctx.get(dut.progress.w_done):
                got["w_done"].append(cycle)
            if sent < len(beats) and ctx.get(dut.data.ready):
                got["taken"].append(cycle)
                sent += 1
            await ctx.tick()
        got["all_loaded"] = ctx.get(dut.progress.all_loaded)
        got["ml_beats"] = ctx.get(dut.progress.ml_beats)
        got["n_l"] = ctx.get(dut.progress.n_l)
        got["beats"] = beats

    run_testbench(dut, bench)
    return got


G2 = ArrayConfig(rows=4, cols=2, simd=16, max_k=64, max_m=9, max_n=9, load_rows=2,
                 pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=16)


@pytest.mark.parametrize("cfg, k", [(CFG, 40), (G2, 40), (CFG, 48), (G2, 7)],
                         ids=["g1", "g2", "g1-k48", "g2-k7"])
def test_operand_loader_writes_every_word_where_the_reader_reads_it(cfg, k):
    """Row j of W (then A) word w lands in bank j mod C (R) at address (j div C) * KW + w
    (the slots of a last group past N or M too: never read into a valid lane),
    WRITE_REGS cycles after its beat, the last word of each row padded past K (W bits 1, A
    bits 0); w_done with the last W beat; the tile rows' pulses ROW_DONE_REGS after their
    last beat; the last tile row's and column's sizes."""
    m, n = 7, 5
    R, C, G, S = cfg.rows, cfg.cols, cfg.load_rows_eff, cfg.simd
    kw = ceil_div(k, S)
    keep, ones = kmask_of(k, S), (1 << S) - 1
    got = run_loader(cfg, m, n, k)
    expect = []                 # (cycle, kind, bank, addr, word)
    i = 0
    for kind, rows, banks in (("w", n, C), ("a", m, R)):
        for g in range(ceil_div(rows, G)):
            for w in range(kw):
                beat, cycle = got["beats"][i], got["taken"][i]
                for s in range(G):      # a last group's slots past the rows are written too
                    j = g * G + s
                    word = (beat >> (s * S)) & ones
                    if w == kw - 1:
                        word = word | (ones & ~keep) if kind == "w" else word & keep
                    expect.append((cycle + OperandLoader.WRITE_REGS, kind, j % banks,
                                   (j // banks) * kw + w, word))
                i += 1
    seen = []
    for cycle, addr, data, a_en, w_en in got["writes"]:
        for kind, en, banks in (("w", w_en, C), ("a", a_en, R)):
            for b in range(banks):
                if en >> b & 1:
                    slot = b % G
                    seen.append((cycle, kind, b, addr, (data >> (slot * S)) & ((1 << S) - 1)))
    assert sorted(seen) == sorted(expect)
    n_w_beats = ceil_div(n, G) * kw
    assert got["w_done"] == [got["taken"][n_w_beats - 1]]
    # tile rows start as loaded (N > (R/G - 1) * C): a pulse after each tile row's last beat
    last_beats = [got["taken"][n_w_beats + min((t + 1) * R, m) // G * kw - 1]
                  if min((t + 1) * R, m) % G == 0 else
                  got["taken"][n_w_beats + ceil_div(min((t + 1) * R, m), G) * kw - 1]
                  for t in range(ceil_div(m, R))]
    assert got["pulses"] == [c + OperandLoader.ROW_DONE_REGS for c in last_beats]
    assert got["all_loaded"] == 1
    m_l = (m - 1) % R + 1
    assert got["ml_beats"] == ceil_div(m_l, cfg.drain_rows_eff)
    assert got["n_l"] == (n - 1) % C + 1


def test_operand_loader_kpad_fault_leaves_the_last_word_unpadded():
    """The kpad fault writes every word as it came: the bits past K keep their random values,
    which the array would count."""
    cfg, m, n, k = CFG, 7, 5, 40
    good, bad = run_loader(cfg, m, n, k), run_loader(cfg, m, n, k, fault="kpad")
    assert [w[:2] for w in good["writes"]] == [w[:2] for w in bad["writes"]]
    assert good["writes"] != bad["writes"]
    width = (1 << (cfg.simd * cfg.load_rows_eff)) - 1
    assert [data for _, _, data, _, _ in bad["writes"]] == [b & width for b in bad["beats"]]


@pytest.mark.parametrize("fault", [None, "load_slot_rotated"])
def test_operand_banks_read_what_was_written_after_their_latency(fault):
    """Bank i takes slot i mod G of a write; a read address gives its words read_latency
    cycles later on bank 0 and one cycle later per bank after it (the array's skew; the
    fault: bank i takes the next slot, so the words differ)."""
    cfg = ArrayConfig(rows=2, cols=2, simd=16, max_k=64, max_m=8, max_n=8, load_rows=2,
                      pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=16)
    dut = OperandBanks(cfg, fault=fault)
    lat = OperandBanks.read_latency(cfg)
    rng = random.Random(4)
    words = {addr: rng.getrandbits(32) for addr in range(6)}
    got = {}

    async def bench(ctx):
        for addr, data in words.items():
            ctx.set(dut.write.addr, addr)
            ctx.set(dut.write.data, data)
            ctx.set(dut.write.a_en, 0b11)
            ctx.set(dut.write.w_en, 0b11)
            await ctx.tick()
        ctx.set(dut.write.a_en, 0)
        ctx.set(dut.write.w_en, 0)
        for cycle in range(len(words) + lat + 2):
            ctx.set(dut.read.a_addr, cycle % len(words))
            ctx.set(dut.read.w_addr, (cycle + 1) % len(words))
            got[cycle] = ([ctx.get(dut.a[i]) for i in range(2)],
                          [ctx.get(dut.w[i]) for i in range(2)])
            await ctx.tick()

    run_testbench(dut, bench)
    slot = lambda d, i: (d >> (16 * i)) & 0xFFFF
    # bank i shows, in cycle t, the word whose address was presented in cycle t - lat - i
    want = {t: ([slot(words[(t - lat - i) % 6], i) for i in range(2)],
                [slot(words[(t - lat - i + 1) % 6], i) for i in range(2)])
            for t in range(lat + 1, lat + 1 + len(words))}
    if fault is None:
        assert {t: got[t] for t in want} == want
    else:
        assert {t: got[t] for t in want} != want


def run_drain(cfg, tiles):
    """DrainControl fed tile beats at the given cycles ({cycle: (beats, n, last, bank)});
    return the cycles of every shift with its (bank, n, last, end) and the in_flight cycles;
    every PE's copy of shift and bank must equal them in every cycle."""
    dut = DrainControl(cfg)
    got = {"shifts": [], "in_flight": [], "copies_differ": []}
    horizon = max(tiles) + DrainControl.start_latency(cfg) + cfg.tile_beats + 4

    async def bench(ctx):
        for cycle in range(horizon):
            if cycle in tiles:
                beats, n, last, bank = tiles[cycle]
                ctx.set(dut.tiles.valid, 1)
                ctx.set(dut.tiles.payload.as_value(), 0)
                ctx.set(dut.tiles.payload.beats, beats)
                ctx.set(dut.tiles.payload.n, n)
                ctx.set(dut.tiles.payload.last, last)
                ctx.set(dut.tiles.payload.bank, bank)
            else:
                ctx.set(dut.tiles.valid, 0)
            dr = dut.drain
            if ctx.get(dr.shift):
                got["shifts"].append((cycle, ctx.get(dr.bank), ctx.get(dr.n), ctx.get(dr.last),
                                      ctx.get(dr.end)))
            if ctx.get(dr.in_flight):
                got["in_flight"].append(cycle)
            for r in range(cfg.rows):
                for c in range(cfg.cols):
                    if (ctx.get(dut.pe_shift[r][c]), ctx.get(dut.pe_bank[r][c])) != \
                            (ctx.get(dr.shift), ctx.get(dr.bank)):
                        got["copies_differ"].append((cycle, r, c))
            await ctx.tick()

    run_testbench(dut, bench)
    assert got["copies_differ"] == []
    return got


def test_drain_control_starts_each_drain_start_latency_after_the_tile():
    cfg = ArrayConfig(rows=4, cols=2, simd=16, max_k=64, max_m=8, max_n=8, drain_rows=1,
                      pool_max_dim=8, pool_max_planes=2, pool_max_kernel=3, pool_row_depth=16)
    F = DrainControl.start_latency(cfg)
    assert F == cfg.tile_flush > 1
    got = run_drain(cfg, {2: (4, 2, 0, 0), 6: (3, 1, 1, 1)})
    assert got["shifts"] == [(2 + F + i, 0, 2, 0, i == 3) for i in range(4)] + \
                            [(6 + F + i, 1, 1, 1, i == 2) for i in range(3)]
    # in flight from the cycle after each tile beat until its drain starts
    assert got["in_flight"] == sorted(set(range(3, 2 + F)) | set(range(7, 6 + F)))


def test_result_path_turns_a_drain_beat_into_a_result_beat_after_its_latency():
    """Lanes 2 * hold - K (XNOR: popcount to +-1 sums), lanes past n and row slots past the
    last beat's zero, last on the job's last beat, result_latency cycles after the shift; the
    count of entries (occupied) holds it OCCUPIED_DELAY cycles after."""
    cfg = CFG
    dut = ResultPath(cfg)
    C, D, lw = cfg.cols, cfg.drain_rows_eff, cfg.lane_width
    lat = ResultPath.result_latency(cfg.out_fifo_depth)
    holds = [[5, 9, 30], [1, 2, 3]]
    got = {}

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.ctl.job.as_value(), pack_cmd(cfg, op=OP_XNOR, m=1, n=2, k=40))
        for d in range(D):
            for c in range(C):
                ctx.set(dut.hold_top[d][c], holds[d][c])
        dr = dut.drain
        ctx.set(dr.shift, 1)
        ctx.set(dr.end, 1)
        ctx.set(dr.last, 1)
        ctx.set(dr.n, 2)
        ctx.set(dr.lmask, 0b01)
        for cycle in range(lat + 3):
            if cycle == 1:
                ctx.set(dr.shift, 0)
            got.setdefault("occupied", []).append(ctx.get(dut.occupancy.occupied))
            if ctx.get(dut.out.valid):
                got["beat"] = (cycle, ctx.get(dut.out.payload.data), ctx.get(dut.out.payload.last))
            await ctx.tick()

    run_testbench(dut, bench)
    cycle, data, last = got["beat"]
    assert cycle == lat and last == 1
    lanes = [(data >> (i * lw)) & ((1 << lw) - 1) for i in range(D * C)]
    signed = [v - (1 << lw) if v >> (lw - 1) else v for v in lanes]
    assert signed == [2 * 5 - 40, 2 * 9 - 40, 0, 0, 0, 0]
    assert got["occupied"][ResultPath.OCCUPIED_DELAY - 1] == 0
    assert got["occupied"][ResultPath.OCCUPIED_DELAY] == 1


def run_reader(cfg, m, n, k, occupied=0, budget=300):
    """TileReader on an m x n x k job with every A row loaded and the FIFO at ``occupied``;
    return the tile beats (cycle, beats, n, last, bank), the read addresses seen (cycle,
    a_addr, w_addr) and the cycles of valid flags at the array."""
    dut = TileReader(cfg)
    kw = ceil_div(k, cfg.simd)
    got = {"tiles": [], "reads": [], "flags": [], "done": []}

    async def bench(ctx):
        set_job(ctx, dut.ctl, cfg, m, n, k)
        ctx.set(dut.progress.ml_beats, ceil_div((m - 1) % cfg.rows + 1, cfg.drain_rows_eff))
        ctx.set(dut.progress.n_l, (n - 1) % cfg.cols + 1)
        ctx.set(dut.occupancy.occupied, occupied)
        ctx.set(dut.ctl.setup, 1)
        await ctx.tick()
        ctx.set(dut.ctl.setup, 0)
        ctx.set(dut.progress.all_loaded, 1)
        ctx.set(dut.progress.w_done, 1)
        await ctx.tick()
        ctx.set(dut.progress.w_done, 0)
        for cycle in range(2, budget):
            if ctx.get(dut.tiles.valid):
                t = dut.tiles.payload
                got["tiles"].append((cycle, ctx.get(t.beats), ctx.get(t.n), ctx.get(t.last),
                                     ctx.get(t.bank)))
            if ctx.get(dut.flags.valid):
                got["flags"].append(cycle)
            if ctx.get(dut.status.done):
                got["done"].append(cycle)
            got["reads"].append((cycle, ctx.get(dut.read.a_addr), ctx.get(dut.read.w_addr)))
            await ctx.tick()

    run_testbench(dut, bench)
    return got


def test_tile_reader_reads_the_tiles_in_order_spaced_by_the_tile_period():
    """Tiles in (tile row, tile column) order with their valid rows' beats, columns, hold
    bank and last flag; consecutive tiles' last reads tile_period apart; each read's address
    READ_ADDR_REGS after it and its flags at the array mm_read_latency after it."""
    cfg = CFG
    m, n, k = 5, 7, 40                      # 3 tile rows x 3 tile columns, KW = 3
    kw = ceil_div(k, cfg.simd)
    got = run_reader(cfg, m, n, k)
    R, C = cfg.rows, cfg.cols
    want = [(ceil_div(min(R, m - tr * R), cfg.drain_rows_eff), min(C, n - tc * C))
            for tr in range(ceil_div(m, R)) for tc in range(ceil_div(n, C))]
    assert [(b, nn) for _, b, nn, _, _ in got["tiles"]] == want
    assert [last for *_, last, _ in got["tiles"]] == [0] * (len(want) - 1) + [1]
    assert [bank for *_, bank in got["tiles"]] == [i % cfg.hold_banks for i in range(len(want))]
    ends = [c for c, *_ in got["tiles"]]
    periods = [cfg.tile_period(min(R, m - (i // 3) * R), kw) for i in range(len(ends) - 1)]
    assert [b - a for a, b in zip(ends, ends[1:])] == periods
    assert got["done"] == [ends[-1] + 1]         # registered
    # reads: KW per tile; read i's flags at the array mm_read_latency after it
    first_read = ends[0] - (kw - 1)
    assert got["flags"][0] == first_read + cfg.mm_read_latency
    assert len(got["flags"]) == kw * len(want)
    addr = {c: (a, w) for c, a, w in got["reads"]}
    assert addr[first_read + TileReader.READ_ADDR_REGS] == (0, 0)
    assert addr[first_read + 1 + TileReader.READ_ADDR_REGS] == (1, 1)


def test_tile_reader_waits_for_fifo_credit():
    """With the output FIFO counted full, no tile starts."""
    got = run_reader(CFG, 2, 3, 16, occupied=CFG.out_fifo_depth, budget=60)
    assert got["tiles"] == [] and got["flags"] == []
    assert run_reader(CFG, 2, 3, 16, budget=60)["tiles"]


def test_job_start_cycles_and_load_to_read_are_the_parts_latencies():
    """The cost model's latencies are the parts' (one source of truth)."""
    from hw.rtl.parts.operand_loader import OperandLoader as L

    assert CFG.job_start_cycles == JobControl.START_CYCLES
    assert CFG.load_to_read == L.ROW_DONE_REGS + TileReader.ROW_OK_REGS
    assert CFG.mm_read_latency == TileReader.READ_ADDR_REGS + OperandBanks.read_latency(CFG)
    assert CFG.result_latency == ResultPath.result_latency(CFG.out_fifo_depth)
    assert CFG.tile_flush == DrainControl.start_latency(CFG)


@pytest.mark.parametrize("ctl_regs", [0, 1])
def test_job_control_with_two_weight_buffers_takes_a_matmul_ahead(ctl_regs):
    """``w_buffers`` 2: in MATMUL a matmul command is taken once the loader has every operand
    of the running job (a pool command is not: it waits for IDLE), with the loader's setup and
    ``ahead`` the next cycle and the loader's own derived values; the running job's values stay;
    when MM_DONE ends the cycle NEXT takes the waiting job and its SETUP raises ``ahead.run``."""
    from dataclasses import replace

    cfg = replace(CFG, w_buffers=2, ctl_regs=ctl_regs)
    dut = JobControl(cfg)
    log = {}

    async def bench(ctx):
        ctx.set(dut.cmd.payload.as_value(), pack_cmd(cfg, op=OP_XNOR, m=3, n=4, k=40))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()                        # taken in IDLE
        ctx.set(dut.cmd.valid, 0)
        assert ctx.get(dut.ctl.setup) and ctx.get(dut.load.setup)
        assert not ctx.get(dut.ahead.ahead) and not ctx.get(dut.ahead.run)
        await ctx.tick()                        # MATMUL
        pool = pack_cmd(cfg, op=OP_POOL, p=1, h=2, w=2, kh=1, kw=1, sh=1, sw=1)
        ctx.set(dut.cmd.payload.as_value(), pool)
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.all_loaded, 1)
        assert not ctx.get(dut.cmd.ready)       # a pool waits for IDLE
        ctx.set(dut.cmd.payload.as_value(), pack_cmd(cfg, op=OP_AND, m=2, n=5, k=17))
        ctx.set(dut.all_loaded, 0)
        assert not ctx.get(dut.cmd.ready)       # the running job's A still loads
        ctx.set(dut.all_loaded, 1)
        assert ctx.get(dut.cmd.ready)
        await ctx.tick()                        # taken ahead
        ctx.set(dut.cmd.valid, 0)
        assert ctx.get(dut.load.setup) and ctx.get(dut.ahead.ahead)
        assert not ctx.get(dut.ctl.setup)
        await ctx.tick()
        assert (ctx.get(dut.load.kwords), ctx.get(dut.load.kw_one)) == (2, 0)
        assert (ctx.get(dut.ctl.kwords), ctx.get(dut.ctl.is_and)) == (3, 0)   # still the first
        ctx.set(dut.cmd.valid, 1)
        assert not ctx.get(dut.cmd.ready)       # one job waits at most
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.tiles.done, 1)
        await ctx.tick()                        # MM_DONE, no drain: it ends now
        ctx.set(dut.tiles.done, 0)
        await ctx.tick()                        # NEXT
        assert not ctx.get(dut.ctl.setup) and not ctx.get(dut.cmd.ready)
        await ctx.tick()                        # SETUP of the job taken ahead
        assert ctx.get(dut.ctl.setup) and ctx.get(dut.ahead.run)
        assert not ctx.get(dut.load.setup)
        await ctx.tick()
        assert (ctx.get(dut.ctl.kwords), ctx.get(dut.ctl.is_and)) == (2, 1)
        log["done"] = True

    run_testbench(dut, bench)
    assert log["done"]
