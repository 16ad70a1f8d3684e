"""The accelerator core in one module: command/data/result streams, operand memories,
controller, array, pool unit and the output FIFO.

``ArrayConfig.core_parts`` = 0; the default since 2026-12-05 is
:class:`hw.rtl.composed_core.ComposedCore`, the same core built from parts (hw/rtl/parts), equal
to it in every cycle (tests/hw/rtl/test_composed_core.py). Its latencies are the parts' (one
source); its logic is kept as measured: the committed records written before the change
measure it (their configs have no ``core_parts``), and it goes when they are measured again."""

from __future__ import annotations

from amaranth.hdl import Array, Mux, Cat, Const, Module, Signal, signed
from amaranth.lib import data

from .array import ARRAY_FAULTS, SystolicArray
from .command import idle_state
from .fifo import FIFO_FAULTS, OutputFIFO
from .flags import above, at_most
from ..config import ArrayConfig, ceil_log2
from .formats import OP_AND, OP_POOL, cmd_layout
from .interfaces import CoreStreams, k_words
from .memory import PipelinedMemory
from .parts.job_control import JobControl
from .parts.operand_banks import BANK_FAULTS
from .parts.result_path import ResultPath
from .parts.tile_reader import READER_FAULTS, TileReader
from .pipeline import delayed
from .pool import POOL_FAULTS, PoolUnit
from .pool_core import POOL_CORE_FAULTS

#: Deliberate bugs of the core the testbench must catch: ``early_rows`` lets the tile reader
#: start a tile row before the loader has written its activation rows; ``load_slot_rotated``
#: (with G = ``load_rows_eff`` > 1 rows per load beat) writes each bank the word of the next
#: row slot of the beat (owned by the parts of the composed core that they break).
CORE_FAULTS = READER_FAULTS + BANK_FAULTS
#: Every deliberate bug of the top (those of :mod:`hw.rtl.pool_core` need ``pool_port`` = 1).
FAULTS = ARRAY_FAULTS + POOL_FAULTS + FIFO_FAULTS + CORE_FAULTS + POOL_CORE_FAULTS


class BinaryCore(CoreStreams):
    """Takes whole jobs and streams their integer results.

    ``with_pool=False`` (the matmul core beside a :class:`hw.rtl.pool_core.PoolCore`, with
    ``cfg.pool_port`` = 1) leaves the pool unit out: a pool command is then taken and dropped
    in its setup cycle, with no result; matmul jobs are unchanged, cycle for cycle.

    Streams (beat formats in hw/README.md):

    - ``cmd``  (in):  one :func:`hw.rtl.formats.cmd_layout` beat per job.
    - ``data`` (in):  ``data_width``-bit beats. Matmul: N rows of W then M rows of A in groups
      of G = ``cfg.load_rows_eff`` consecutive rows, each group as ceil(K/simd) beats; beat w
      of a group holds word w of its row j in bits [j*simd, (j+1)*simd) (bit k of a row in
      bit k % simd of word k // simd; with G = 1 the low ``simd`` bits of a beat; bits above
      G*simd are ignored, and so are the slots of rows past N or M). Pool: positions
      (plane group, row, column), each the values of L = ``cfg.pool_lanes_eff`` planes
      (:func:`hw.rtl.formats.pool_words`), streamed straight into the pool unit.
    - ``out``  (out): ``data`` = D row slots of C lanes (D = ``cfg.drain_rows_eff``), ``last``
      on the final beat of the job. Matmul: ceil(m_valid/D) beats per R x C tile, tiles in
      (tile row, tile column) order; slot d of beat b holds tile row b*D + d; slots past the
      tile's rows and lanes past N are zero. Pool: one beat per output position (plane group,
      Ho, Wo order), pool lane l (plane g * L + l) in slot l // C, lane l % C (L <= D * C, so
      a position fits one beat; with L = C, the default, slot 0 lane l); lanes past L or past
      P zero.

    Phases of a matmul job (no data-dependent timing): load (1 beat per cycle of G rows' words,
    written into G banks at once: W, then A),
    while tiles stream through the array back to back (KW reads each), captured into the
    ``cfg.hold_banks`` hold banks in turn; each tile drains (ceil(m_valid/D) beats into the
    output FIFO, one per cycle) ``tile_flush`` cycles after its last read, while later tiles accumulate. A tile starts
    only when its drain cannot overlap the previous tile's (:meth:`ArrayConfig.tile_period`)
    and its bank's previous tile (``hold_banks`` tiles earlier) has drained before its first
    capture (:meth:`ArrayConfig.bank_period`). The first tile of a tile row starts only
    ``LOAD_TO_READ`` cycles after the last beat of its A rows: with at least R/G tile columns
    (N > (R/G - 1) * C, :meth:`ArrayConfig.rows_before_first_read`) tile row t waits for A rows
    up to (t + 1) * R, so the load of later rows overlaps the tiles of earlier ones (a tile row
    reads for Tn * KW >= R/G * KW cycles, as long as its R rows take to load, so only the first
    one ever waits); with fewer, the first tile waits for the whole of A.

    Output flow control: a tile starts, and the pool unit starts an output, only while the
    output FIFO has room for every result promised so far plus a credit margin
    (:meth:`credit_margin`), so back-pressure stalls the producers and never drops a result.
    """

    KNOWN_FAULTS = FAULTS
    # The latencies and the FIFO/credit arithmetic are owned by the parts of the composed core
    # (hw/rtl/parts), which this core matches cycle for cycle; read here under the names the
    # code below and the cost model have always used.
    #: cycles of a job before its first data beat is taken (:class:`JobControl`)
    JOB_START_CYCLES = JobControl.START_CYCLES
    #: the controller's tile read-address register (:class:`TileReader`)
    READ_ADDR_REGS = TileReader.READ_ADDR_REGS
    #: result registers between the drain or the pool unit and the FIFO (:class:`ResultPath`)
    RESULT_REGS = ResultPath.REGS
    result_latency = ResultPath.result_latency
    CREDIT_REGS = TileReader.CREDIT_REGS
    OCCUPIED_DELAY = ResultPath.OCCUPIED_DELAY
    RESERVED_DELAY = TileReader.RESERVED_DELAY
    FIFO_SPARE = ResultPath.FIFO_SPARE
    LOAD_TO_READ = TileReader.LOAD_TO_READ
    credit_margin = ResultPath.credit_margin
    mm_credit_margin = ResultPath.mm_credit_margin
    tiles_in_flight = staticmethod(ResultPath.tiles_in_flight)
    pool_credit_margin = ResultPath.pool_credit_margin
    fifo_depth_for = ResultPath.fifo_depth_for

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        R, C, S, D = cfg.rows, cfg.cols, cfg.simd, cfg.drain_rows_eff
        G, lgg = cfg.load_rows_eff, ceil_log2(cfg.load_rows_eff)   # rows per load beat
        B = cfg.tile_beats                          # result beats of a full tile
        lgs = ceil_log2(S)
        kwb = (cfg.kw_max + 1).bit_length()

        # ---- job registers ------------------------------------------------------------------
        job = Signal(cmd_layout(cfg))
        kwords = Signal(kwb)                        # KW = ceil(K / simd)
        kmask = Signal(S)                           # ones below K mod simd (all ones if 0)
        is_and = Signal()                           # registered in SETUP

        # the last word's mask, free-running from the job register in two stages (subtract,
        # shift): settled two cycles after the command, long before the first read (after
        # setup and >= 2 load beats)
        krem = Signal(lgs, name="krem", reset_less=True)   # (K - 1) mod simd
        m.d.sync += [krem.eq(job.k - 1), kmask.eq(Const((1 << S) - 1, S) >> (~krem))]

        # ---- operand memories (hw/rtl/memory.py) ------------------------------------------------
        piece = cfg.mem_piece_depth
        a_mem = [PipelinedMemory(S, cfg.a_bank_depth, piece) for _ in range(R)]
        w_mem = [PipelinedMemory(S, cfg.w_bank_depth, piece) for _ in range(C)]
        for r, mem in enumerate(a_mem):
            m.submodules[f"a_bank{r}"] = mem
        for c, mem in enumerate(w_mem):
            m.submodules[f"w_bank{c}"] = mem

        # ---- array, pool unit, output FIFO --------------------------------------------------
        m.submodules.array = arr = SystolicArray(
            cfg, fault=self._fault if self._fault in ARRAY_FAULTS else None)
        pool = None
        if self._with_pool:
            m.submodules.pool = pool = PoolUnit(
                cfg, fault=self._fault if self._fault in POOL_FAULTS else None)
        m.submodules.fifo = fifo = OutputFIFO(
            cfg.out_width + 1, cfg.out_fifo_depth,
            fault=self._fault if self._fault in FIFO_FAULTS else None)
        # RESULT_REGS result registers in front of the FIFO (see the result datapath below)
        st_a_valid, st_b_valid, res_valid = Signal(), Signal(), Signal()
        res_data = Signal(cfg.out_width + 1, reset_less=True)
        # registered: FIFO + staged entries
        occupied = Signal(range(cfg.out_fifo_depth + self.RESULT_REGS + 1))
        m.d.comb += [fifo.w_en.eq(res_valid), fifo.w_data.eq(res_data)]
        m.d.sync += occupied.eq(fifo.level + res_valid + st_a_valid + st_b_valid)
        m.d.comb += [
            self.out.valid.eq(fifo.r.valid),
            self.out.payload.eq(fifo.r.payload),
            fifo.r.ready.eq(self.out.ready),
        ]
        if pool is not None:
            m.d.comb += [
                pool.fifo_level.eq(occupied),
                pool.data.valid.eq(self.data.valid),
                pool.data.payload.eq(self.data.payload),
            ]
            for name in PoolUnit.JOB_FIELDS:
                m.d.comb += getattr(pool, name).eq(getattr(job, name))

        # ---- load counters ------------------------------------------------------------------
        wcount = Signal(kwb)                       # word within the row
        kw_pen = Signal(kwb)                       # KW - 2 (wraps when KW = 1: never matched)
        kw_one = Signal()                          # KW == 1
        w_last, b_last, r_one = Signal(), Signal(), Signal()   # load flags (see LOAD)
        # the loader counts row groups of G (one per load beat word): bank group, rows_left
        bank = Signal(range(max(R, C)))
        bank_last = Signal(range(max(R, C)))       # R/G - 1 while loading A, C/G - 1 for W
        bank_pen = Signal(range(max(R, C)))        # bank_last - 1 (wraps when 0: never matched)
        base = Signal(range(max(cfg.a_bank_depth, cfg.w_bank_depth) + 1))
        rows_left = Signal(range(max(cfg.max_m, cfg.max_n) + 1))
        in_w = Signal()                            # loading W (else A)
        # the last tile row has m_l = (M-1) % R + 1 rows: its beats ceil(m_l / D) and the mask
        # of the row slots its last beat fills, both from tables indexed by m_l - 1
        ml_beats = Signal(range(B + 1))
        ml_lmask = Signal(D)
        beats_of = Array(Const(-(-(min(i, R - 1) + 1) // D), range(B + 1))
                         for i in range(max(R, C)))
        lmask_of = Array(Const((1 << (min(i, R - 1) % D + 1)) - 1, D) for i in range(max(R, C)))
        n_l = Signal(range(C + 1))                 # columns of the last tile column
        loading = Signal()                         # registered: the matmul loader runs
        overlap = Signal()                         # N > (R - 1) * C: tile rows start as loaded
        row_pulse = Signal()                       # registered: a tile row's A rows are loaded
        all_loaded = Signal()                      # registered: every A row is loaded

        # ---- tile reader ----------------------------------------------------------------------
        a_base = Signal(range(cfg.a_bank_depth + 1))
        w_base = Signal(range(cfg.w_bank_depth + 1))
        rd_k = Signal(kwb)
        k_first, k_last = Signal(), Signal()       # read flags (see READ)
        reading = Signal()                         # registered: the tile reader runs
        row_end, col_step = Signal(), Signal()     # the next tile starts a row / a column
        # rows from this tile row on, and columns from this tile on, each kept minus
        # (2 tiles + 1) so that "the next tile is the last" is a sign bit, no comparator
        m_far = Signal(signed(cfg.max_m.bit_length() + 2))   # m_rem - 2 R - 1
        n_far = Signal(signed(cfg.max_n.bit_length() + 2))   # n_rem - 2 C - 1
        n_far0 = Signal(signed(cfg.max_n.bit_length() + 2))  # N - 2 C - 1 (a tile row's start)
        last_mrow = Signal()                       # this is the last tile row (m_rem <= R)
        last_ncol = Signal()                       # this is the last tile column (n_rem <= C)
        n_single = Signal()                        # N <= C
        m_beats = Signal(range(B + 1))             # result beats of this tile
        m_lmask = Signal(D)                        # row slots filled by its last beat
        n_valid = Signal(range(C + 1))
        last_tile = Signal()
        first_col = Signal()                       # this tile is the first of its tile row
        # tile rows loaded and not yet started (loader pulses minus reader starts), and the
        # registered flag that lets a tile row start (see READ)
        ahead = Signal(range(cfg.max_m // R + 3))
        row_ok = Signal()
        NB = cfg.hold_banks
        # the hold bank this tile captures into: tile i uses bank i mod NB
        rd_bank = Signal(name="rd_bank") if NB == 2 else Signal(range(NB), name="rd_bank")
        # Spacing (hw.config.tile_period, bank_period), two rules with countdowns, loaded at a
        # tile's last read: `gap_d` until the next tile may end its reads (one drain at a time:
        # max(KW, beats)), and one bank countdown per hold bank until the next tile of the same
        # bank (NB tiles later) may: its PE (0, 0) capture, capture_skew cycles before its drain
        # could start, must not precede this tile's last drain shift. A rule holds when its
        # countdown is <= 0 (the start flag `go` below reads them a cycle ahead). Two banks:
        # `gap_bank[b]` per bank, selected by rd_bank. More banks: a queue `gap_q[0..NB-1]`
        # that moves one place at every tile end, so that the tile about to start always reads
        # gap_q[0] (the countdown of the tile NB places earlier): no bank-indexed mux.
        gbits = max(kwb, (3 * R + C).bit_length()) + 2
        gap_d = Signal(signed(gbits), name="gap_d")
        gap_bank = [Signal(signed(gbits), name=f"gap_bank{b}" if NB == 2 else f"gap_q{b}")
                    for b in range(NB)]
        # each countdown's registered flags, set with it a step ahead (so that neither the
        # countdown nor `go` waits for a comparison): > 0 (it counts down) and <= 1 (it is
        # <= 0 in the next cycle)
        gap_d_pos, gap_d_le1 = Signal(name="gap_d_pos"), Signal(name="gap_d_le1", init=1)
        bank_pos = [Signal(name=f"{g.name}_pos") for g in gap_bank]
        bank_le1 = [Signal(name=f"{g.name}_le1", init=1) for g in gap_bank]
        # their reloads after a tile of R rows (_r) / of m_l rows (_l), minus the KW reads of
        # the next tile, and their flags; free-running from the job registers:
        # kneg and thr (set in SETUP, each from K in one sum) -> reload, one stage, settled
        # when the first tile can end (>= 3 cycles after SETUP: 2 load beats at least, then
        # the read); ml_beats (set with the last A row's last beat, cycle c) -> reload, one
        # stage, settled in cycle c + 2, the first read of the last tile row at the earliest
        # (LOAD_TO_READ)
        skew = cfg.capture_skew
        kneg = Signal(signed(gbits), reset_less=True)     # -KW
        # the reload flags compare the tile's cycles with thresholds of KW (no sum before a
        # comparison): count + off > KW is count > KW - off, and so on
        thr = {(off, d): Signal(signed(gbits), name=f"kw_{d}_{off}", reset_less=True)
               for off in (0, skew) for d in (0, 1)}     # (off, d): KW + d - off
        reload = {}
        for name, count, off in (("d_r", B, 0), ("d_l", ml_beats, 0), ("b_r", B, skew),
                                ("b_l", ml_beats, skew)):
            val = Signal(signed(gbits), name=f"gap_{name}")
            pos, le1 = Signal(name=f"gap_{name}_pos"), Signal(name=f"gap_{name}_le1")
            m.d.sync += [val.eq(kneg + count + off), pos.eq(count > thr[off, 0]),
                         le1.eq(count <= thr[off, 1])]
            reload[name] = (val, pos, le1)
        reserved = Signal(range(cfg.out_fifo_depth + 1))   # FIFO beats promised to tiles
        credit = Signal()                          # registered: a tile of B beats fits the FIFO
        m.d.comb += [
            m_beats.eq(Mux(last_mrow, ml_beats, B)),
            m_lmask.eq(Mux(last_mrow, ml_lmask, lmask_of[R - 1])),
            n_valid.eq(Mux(last_ncol, n_l, C)),
            last_tile.eq(last_mrow & last_ncol),
        ]
        # read data reaches the array mm_read_latency cycles after the address (the faster of
        # the activation and weight memories is padded to the slower)
        # (the tile read addresses and every memory write are registered here once first)
        L = cfg.mm_read_latency
        a_raddr = Signal(range(cfg.a_bank_depth + 1), name="a_raddr", reset_less=True)
        w_raddr = Signal(range(cfg.w_bank_depth + 1), name="w_raddr", reset_less=True)
        m.d.sync += [a_raddr.eq(a_base + rd_k), w_raddr.eq(w_base + rd_k)]
        wr_addr = Signal(range(max(cfg.a_bank_depth, cfg.w_bank_depth) + 1),
                         name="wr_addr", reset_less=True)
        # a load beat's G words (row slots), bank i writes slot i mod G (with the
        # load_slot_rotated fault, the next slot)
        wr_data = Signal(S * G, name="wr_data", reset_less=True)
        wr_a = Signal(R, name="wr_a")      # write enables, one per memory
        wr_w = Signal(C, name="wr_w")
        m.d.sync += [wr_data.eq(self.data.payload[:S * G]), wr_a.eq(0), wr_w.eq(0)]

        def slot_of(i):
            if G == 1:
                return wr_data
            j = (i + (self._fault == "load_slot_rotated")) % G
            return wr_data[j * S:(j + 1) * S]

        for r in range(R):
            m.d.comb += [a_mem[r].w_addr.eq(wr_addr), a_mem[r].w_data.eq(slot_of(r)),
                         a_mem[r].w_en.eq(wr_a[r])]
        for c in range(C):
            m.d.comb += [w_mem[c].w_addr.eq(wr_addr), w_mem[c].w_data.eq(slot_of(c)),
                         w_mem[c].w_en.eq(wr_w[c])]
        for r in range(R):
            m.d.comb += [a_mem[r].r_addr.eq(a_raddr),
                         arr.a[r].eq(delayed(m, a_mem[r].r_data,
                                             L - self.READ_ADDR_REGS - a_mem[r].latency, f"a{r}",
                                             reset_less=True))]
        for c in range(C):
            m.d.comb += [w_mem[c].r_addr.eq(w_raddr),
                         arr.w[c].eq(delayed(m, w_mem[c].r_data,
                                             L - self.READ_ADDR_REGS - w_mem[c].latency, f"w{c}",
                                             reset_less=True))]
        m.d.comb += arr.kmask.eq(kmask)

        # flags of the word being read, delayed to line up with the read data
        rd_valid, rd_first, rd_last = Signal(), Signal(), Signal()
        rd_flags = Signal.like(arr.flags, name="rd_flags")
        m.d.comb += [rd_flags.valid.eq(rd_valid), rd_flags.first.eq(rd_first),
                     rd_flags.last.eq(rd_last), rd_flags.and_mode.eq(is_and),
                     rd_flags.bank.eq(rd_bank),
                     arr.flags.eq(delayed(m, rd_flags, L, "rd_flags"))]

        # ---- drain scheduler: a tile's descriptor enters a delay line at its last read and
        # starts the drain tile_flush cycles later, when every hold register is final ----------
        F = cfg.tile_flush
        desc_layout = data.StructLayout({"valid": 1, "beats": range(B + 1), "lmask": D,
                                         "n": range(C + 1), "last": 1,
                                         "bank": ceil_log2(NB)})
        desc_in = Signal(desc_layout)
        line = [desc_in]
        for i in range(F - 1):
            d = Signal(desc_layout, name=f"desc_d{i + 1}")
            m.d.sync += d.eq(line[-1])
            line.append(d)
        desc_due = line[-1]          # its drain starts next cycle (tile_flush after the last read)
        in_flight = Signal()          # a descriptor is somewhere in the delay line
        m.d.comb += in_flight.eq(Cat(*(d.valid for d in line[1:])).any())

        shift = Signal()             # drain cycle: hold registers move D rows north, rows
        drow = Signal(range(B + 1))  # 0 .. D-1 -> one FIFO beat; drow counts the beats
        dm_last = Signal(range(B + 1))
        dn = Signal(range(C + 1))
        dlast = Signal()
        dbank = Signal(ceil_log2(NB))   # the draining hold bank
        dlmask = Signal(D)           # row slots of the drain's last beat
        m.d.comb += [arr.shift.eq(shift), arr.drain_bank.eq(dbank)]
        drain_end = Signal()
        m.d.comb += drain_end.eq(shift & (drow == dm_last))
        with m.If(desc_due.valid):
            m.d.sync += [shift.eq(1), drow.eq(0), dm_last.eq(desc_due.beats - 1),
                         dn.eq(desc_due.n), dlast.eq(desc_due.last), dbank.eq(desc_due.bank),
                         dlmask.eq(desc_due.lmask)]
        with m.Elif(drain_end):
            m.d.sync += shift.eq(0)
        with m.Elif(shift):
            m.d.sync += drow.eq(drow + 1)

        # ---- result datapath, three registers: (A) the drain's D rows of hold values and
        # offsets (or the pool sums), (B) 2*hold - offset per lane, (C) lanes past N, row slots
        # past the tile's rows (or every lane past the first L for a pool) forced to zero --
        holds = [[Signal(cfg.acc_width, name=f"hold_q{d}_{c}", reset_less=True) for c in range(C)]
                 for d in range(D)]
        offs = [Signal(cfg.acc_width, name=f"off_q{d}", reset_less=True) for d in range(D)]
        PL = cfg.pool_lanes_eff if pool is not None else 0
        pool_q = [Signal(signed(cfg.lane_width), name=f"pool_q{l}", reset_less=True)
                  for l in range(PL)]
        ok_a, last_a, pool_a = Signal(D * C, reset_less=True), Signal(reset_less=True), Signal()
        slots = Signal(D)            # the row slots this drain beat fills
        m.d.comb += slots.eq(Mux(drain_end, dlmask, (1 << D) - 1))
        with m.If(shift):
            m.d.sync += [st_a_valid.eq(1), last_a.eq(dlast & drain_end), pool_a.eq(0),
                         ok_a.eq(Cat(*(slots[d] & above(dn, c)
                                       for d in range(D) for c in range(C))))]
            m.d.sync += [offs[d].eq(Mux(is_and, arr.rowpop_top[d], job.k)) for d in range(D)]
            m.d.sync += [holds[d][c].eq(arr.hold_top[d][c]) for d in range(D) for c in range(C)]
        with m.Else():
            if pool is not None:
                m.d.sync += [st_a_valid.eq(pool.o_valid), last_a.eq(pool.o_last), pool_a.eq(1),
                             ok_a.eq(1)]
                m.d.sync += [pool_q[l].eq(pool.o_data[l]) for l in range(PL)]
            else:
                m.d.sync += st_a_valid.eq(0)
        diffs = [[Signal(signed(cfg.lane_width), name=f"diff{d}_{c}", reset_less=True)
                  for c in range(C)] for d in range(D)]
        ok_b, last_b, pool_b = Signal(D * C, reset_less=True), Signal(reset_less=True), Signal()
        pool_bq = [Signal.like(q, name=f"pool_bq{l}") for l, q in enumerate(pool_q)]
        m.d.sync += [st_b_valid.eq(st_a_valid), ok_b.eq(ok_a), last_b.eq(last_a),
                     pool_b.eq(pool_a)]
        m.d.sync += [pool_bq[l].eq(pool_q[l]) for l in range(PL)]
        m.d.sync += [diffs[d][c].eq((holds[d][c] << 1) - offs[d])
                     for d in range(D) for c in range(C)]
        lanes = [Mux(ok_b[d * C + c], diffs[d][c], 0) for d in range(D) for c in range(C)]
        # a pool beat: pool lane l in lane l of the beat, i.e. slot l // C, lane l % C
        for lane in range(PL):
            lanes[lane] = Mux(pool_b, pool_bq[lane], lanes[lane])
        m.d.sync += [res_valid.eq(st_b_valid), res_data.eq(Cat(*lanes, last_b))]

        beat = Signal()
        m.d.comb += [self.data.ready.eq(loading | (pool.data.ready if pool is not None else 0)),
                     # a matmul load beat: the loader alone takes beats while `loading` (the
                     # pool unit's ready, off its sequencer, never reaches the loader)
                     beat.eq(self.data.valid & loading)]
        reserve = Signal(range(B + 1))
        # the room the promised beats leave, depth - margin - reserved, registered from
        # `reserved` (its copy, RESERVED_DELAY), so that the credit is one comparison of two
        # registers: occupied + reserved + margin <= depth
        depth = cfg.out_fifo_depth
        reserved_room = Signal(range(-depth - cfg.mm_credit_margin, depth + 1))
        credit_next = Signal()
        m.d.comb += credit_next.eq(occupied <= reserved_room)
        m.d.sync += [
            reserved.eq(reserved + reserve - shift),
            # occupied + reserved grows by at most B per cycle (a tile start) and the credit
            # sees it late: ArrayConfig.mm_credit_margin
            reserved_room.eq(depth - cfg.mm_credit_margin - reserved),
            credit.eq(credit_next),
        ]

        # ---- tile reader (state READ, flagged by the `reading` register). A tile may start
        # when the spacing rules allow it (the previous drain ends before this tile's, and
        # this tile's bank has drained before its first capture), the FIFO can take its beats
        # and its A rows are loaded: one registered flag, `go`. Every decision reads registered
        # flags, set a step ahead: k_first (rd_k == 0), k_last (rd_k == KW - 1), go,
        # last_mrow / last_ncol (the tile's position). -----------------------------------------
        advance, tile_end, row_start = Signal(), Signal(), Signal()

        def row_gate(first, ok):
            """A tile may start as far as its A rows go: not the first of its tile row, or
            that row loaded (the ``early_rows`` fault: always)."""
            return 1 if self._fault == "early_rows" else (~first | ok)

        # `go`: a register equal in every cycle to (gap_d <= 0) & (this tile's bank countdown
        # <= 0) & credit & row_gate, computed from the next values of its parts, so that the
        # tile start is one gate of registers
        go = Signal(name="tile_go")
        m.d.comb += [advance.eq(reading & (~k_first | go)),
                     tile_end.eq(advance & k_last),
                     row_start.eq(advance & k_first & first_col)]
        # row_ok for the next cycle: every A row loaded, or a loaded tile row not yet started
        # (counting the one whose pulse is due and not the one starting now)
        row_ok_next = Signal()
        m.d.comb += row_ok_next.eq(all_loaded | Mux(row_start,
                                                    (ahead >= 2) | ((ahead == 1) & row_pulse),
                                                    (ahead != 0) | row_pulse))
        m.d.sync += [ahead.eq(ahead + row_pulse - row_start), row_ok.eq(row_ok_next)]
        # the next values of the two spacing rules (the next tile's bank after a tile end) and
        # of first_col, as the countdowns below and the tile end set them
        # (the drain rule's reload <= 0 is the complement of its `pos` flag)
        ok_d_next = Mux(tile_end, ~Mux(last_mrow, reload["d_l"][1], reload["d_r"][1]), gap_d_le1)
        if NB == 2:
            ok_bank_next = Mux(tile_end, Mux(rd_bank, bank_le1[0], bank_le1[1]),
                               Mux(rd_bank, bank_le1[1], bank_le1[0]))
        else:
            ok_bank_next = Mux(tile_end, bank_le1[1], bank_le1[0])
        first_col_next = Mux(tile_end, row_end, first_col)
        m.d.sync += go.eq(ok_d_next & ok_bank_next & credit_next
                          & row_gate(first_col_next, row_ok_next))

        def count_down(gap, pos, le1, src=None, src_pos=None):
            """gap <- src - 1 if src > 0 else src (src: the gap itself, or the next entry of
            the bank queue), with its flags."""
            src, src_pos = (gap, pos) if src is None else (src, src_pos)
            m.d.sync += [gap.eq(Mux(src_pos, src - 1, src)), pos.eq(~at_most(src, 1)),
                         le1.eq(at_most(src, 2))]

        def reload_gap(gap, pos, le1, which):
            """gap <- the reload after a tile of R rows or of the last tile row's m_l rows."""
            (v_r, p_r, l_r), (v_l, p_l, l_l) = reload[which + "_r"], reload[which + "_l"]
            m.d.sync += [gap.eq(Mux(last_mrow, v_l, v_r)), pos.eq(Mux(last_mrow, p_l, p_r)),
                         le1.eq(Mux(last_mrow, l_l, l_r))]

        for gap, pos, le1 in ((gap_d, gap_d_pos, gap_d_le1), *zip(gap_bank, bank_pos, bank_le1)):
            count_down(gap, pos, le1)
        with m.If(advance):
            m.d.comb += reserve.eq(Mux(k_first, m_beats, 0))
            m.d.comb += [rd_valid.eq(1), rd_first.eq(k_first), rd_last.eq(k_last)]
            with m.If(k_last):
                m.d.comb += [desc_in.valid.eq(1), desc_in.beats.eq(m_beats),
                             desc_in.lmask.eq(m_lmask), desc_in.n.eq(n_valid),
                             desc_in.last.eq(last_tile), desc_in.bank.eq(rd_bank)]
                # next tile's last read >= this one's + max(KW, beats) (tile_period), and the
                # same bank's next tile's (hold_banks later) >= this one's + capture_skew + beats
                m.d.sync += [rd_k.eq(0), k_first.eq(1), k_last.eq(kw_one),
                             rd_bank.eq(~rd_bank if NB == 2
                                        else Mux(rd_bank == NB - 1, 0, rd_bank + 1))]
                reload_gap(gap_d, gap_d_pos, gap_d_le1, "d")
                if NB == 2:
                    for b in range(2):
                        with m.If(rd_bank == b):
                            reload_gap(gap_bank[b], bank_pos[b], bank_le1[b], "b")
                else:
                    # the queue moves one place (each entry still counting down), this tile's
                    # countdown enters at the back
                    for b in range(NB - 1):
                        count_down(gap_bank[b], bank_pos[b], bank_le1[b],
                                   gap_bank[b + 1], bank_pos[b + 1])
                    reload_gap(gap_bank[-1], bank_pos[-1], bank_le1[-1], "b")
                m.d.sync += first_col.eq(row_end)
                with m.If(last_tile):
                    m.d.sync += reading.eq(0)
                # row_end (last_ncol & ~last_mrow) and col_step (~last_ncol) are registered
                # copies of the tile position, updated with it
                with m.If(row_end):                            # next tile row
                    m.d.sync += [n_far.eq(n_far0), w_base.eq(0), m_far.eq(m_far - R),
                                 a_base.eq(a_base + kwords), last_ncol.eq(n_single),
                                 last_mrow.eq(m_far[-1]),
                                 row_end.eq(n_single & ~m_far[-1]), col_step.eq(~n_single)]
                with m.If(col_step):                           # next tile column
                    m.d.sync += [n_far.eq(n_far - C), w_base.eq(w_base + kwords),
                                 last_ncol.eq(n_far[-1]),
                                 row_end.eq(n_far[-1] & ~last_mrow),
                                 col_step.eq(~n_far[-1])]
            with m.Else():
                m.d.sync += [rd_k.eq(rd_k + 1), k_first.eq(0), k_last.eq(rd_k == kw_pen)]

        # ---- matmul loader (state LOAD, flagged by the `loading` register) --------------------
        def groups(rows):
            """Row groups (load beats per word) of ``rows`` rows: ceil(rows / G)."""
            return rows if G == 1 else (rows + G - 1) >> lgg

        def one_group(rows):
            return rows == 1 if G == 1 else at_most(rows, G)

        def last_row_of(rows):
            """Index within its tile of the last of ``rows`` rows, from the last group's bank
            group (the loader's ``bank`` at the last beat): bank * G + (rows - 1) mod G."""
            return bank if G == 1 else Cat((rows - 1)[:lgg], bank)

        # a tile row's A rows are loaded (its last row's last beat: the bank wraps, or the last
        # row); with `overlap` every tile row, else only the last (`all_loaded` then)
        m.d.sync += row_pulse.eq(beat & ~in_w & w_last & (b_last | r_one) & overlap)
        with m.If(loading):
            m.d.sync += wr_addr.eq(base + wcount)
            for r in range(R):
                m.d.sync += wr_a[r].eq(beat & ~in_w & (bank == r // G))
            for c in range(C):
                m.d.sync += wr_w[c].eq(beat & in_w & (bank == c // G))
            # decisions read registered flags only: w_last (wcount == KW - 1),
            # b_last (bank == bank_last), r_one (rows_left == 1), each set a step ahead
            with m.If(beat):
                with m.If(~w_last):
                    m.d.sync += [wcount.eq(wcount + 1), w_last.eq(wcount == kw_pen)]
                with m.Else():
                    m.d.sync += [wcount.eq(0), w_last.eq(kw_one),
                                 rows_left.eq(rows_left - 1), r_one.eq(rows_left == 2)]
                    with m.If(b_last):
                        m.d.sync += [bank.eq(0), base.eq(base + kwords),
                                     b_last.eq(bank_last == 0)]
                    with m.Else():
                        m.d.sync += [bank.eq(bank + 1), b_last.eq(bank == bank_pen)]
                    with m.If(r_one):
                        with m.If(in_w):
                            # W done: A next; the tile reader (its registers initialised in
                            # SETUP) runs from now on and waits for its rows (row_ok)
                            m.d.sync += [in_w.eq(0), bank.eq(0), bank_last.eq(R // G - 1),
                                         bank_pen.eq(R // G - 2), b_last.eq(R // G == 1),
                                         base.eq(0), rows_left.eq(groups(job.m)),
                                         r_one.eq(one_group(job.m)),
                                         n_l.eq(last_row_of(job.n) + 1),
                                         reading.eq(1)]
                        with m.Else():
                            m.d.sync += [loading.eq(0), all_loaded.eq(1),
                                         ml_beats.eq(beats_of[last_row_of(job.m)]),
                                         ml_lmask.eq(lmask_of[last_row_of(job.m)])]

        with m.FSM():
            idle_state(m, self.cmd, job)

            with m.State("SETUP"):
                # derived job values, one cycle after the command (short paths only; every
                # comparison with a constant as gates, hw/rtl/flags.py, not a carry chain)
                kw = k_words(job.k, S)
                kw1 = kw["kw_one"]                # KW == 1
                n1 = at_most(job.n, C)            # one tile column
                m.d.sync += [
                    kwords.eq(kw["kwords"]),
                    kw_pen.eq(kw["kw_pen"]), kw_one.eq(kw1),
                    # -KW = floor(-K / S); KW + c = floor((K + S - 1 + c S) / S)
                    kneg.eq((-job.k) >> lgs),
                    *(t.eq((job.k + (S - 1 + (d - off) * S)) >> lgs)
                      for (off, d), t in thr.items()),
                    is_and.eq(job.op == OP_AND),
                    # the tile reader's registers, ready for the first tile
                    a_base.eq(0), w_base.eq(0), rd_k.eq(0), k_first.eq(1),
                    k_last.eq(kw1), m_far.eq(job.m - (2 * R + 1)), n_far.eq(job.n - (2 * C + 1)),
                    n_far0.eq(job.n - (2 * C + 1)), rd_bank.eq(0),
                    gap_d.eq(0), gap_d_pos.eq(0), gap_d_le1.eq(1),
                    *(v for b in range(NB)
                      for v in (gap_bank[b].eq(0), bank_pos[b].eq(0), bank_le1[b].eq(1))),
                    last_mrow.eq(at_most(job.m, R)), last_ncol.eq(n1),
                    row_end.eq(n1 & above(job.m, R)), col_step.eq(above(job.n, C)),
                    wcount.eq(0), bank.eq(0), bank_last.eq(C // G - 1), base.eq(0), in_w.eq(1),
                    bank_pen.eq(C // G - 2), w_last.eq(kw1), b_last.eq(C // G == 1),
                    rows_left.eq(groups(job.n)), r_one.eq(one_group(job.n)), n_single.eq(n1),
                    overlap.eq(above(job.n, (R // G - 1) * C)), all_loaded.eq(0), ahead.eq(0),
                    row_ok.eq(0), first_col.eq(1),
                    # go as the values above make it: the countdowns 0, first_col 1, row_ok 0
                    go.eq(credit_next & row_gate(Const(1), Const(0))),
                ]
                with m.If(job.op == OP_POOL):
                    if pool is not None:
                        m.d.comb += pool.start.eq(1)
                        m.next = "POOL"
                    else:
                        m.next = "IDLE"     # no pool unit here: dropped (hw.rtl.pool_core)
                with m.Else():
                    m.d.sync += loading.eq(1)
                    m.next = "LOAD"

            with m.State("LOAD"):
                # the loader runs outside the FSM (above), gated by `loading`
                with m.If(beat & w_last & r_one & in_w):
                    m.next = "READ"

            with m.State("READ"):
                # the tile reader runs outside the FSM (above), gated by `reading`
                with m.If(tile_end & last_tile):
                    m.next = "MM_DONE"

            with m.State("MM_DONE"):
                with m.If(~in_flight & ~shift):
                    m.next = "IDLE"

            if pool is not None:
                with m.State("POOL"):
                    with m.If(~pool.busy):
                        m.next = "IDLE"
        return m
