"""Tile reader: reads the operand banks tile by tile, spaced so that drains never collide."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...config import ArrayConfig, ceil_log2
from ..flags import above, at_most
from ..formats import OP_POOL
from ..interfaces import (drain_signature, job_signature, kw_bits, occupancy_signature,
                          progress_signature, read_signature, status_signature, tile_signature)
from ..pe import flags_layout
from ..pipeline import delayed
from .operand_loader import OperandLoader

#: Deliberate bug the testbench must catch: ``early_rows`` lets the tile reader start a tile
#: row before the loader has written its activation rows.
READER_FAULTS = ("early_rows",)
#: Deliberate bug of two weight buffers (``cfg.w_buffers`` = 2): ``w_buffer_swap`` reads each
#: job's weights from the other buffer than the one the loader filled (the job before's).
W_BUFFER_FAULTS = ("w_buffer_swap",)
#: Deliberate bug of two activation buffers (``cfg.a_buffers`` = 2): ``a_buffer_swap`` reads
#: each job's activations from the other buffer than the one the loader filled.
A_BUFFER_FAULTS = ("a_buffer_swap",)


class TileReader(wiring.Component):
    """Steps through a matmul job's R x C tiles in (tile row, tile column) order, KW reads
    each, back to back, captured into the ``cfg.hold_banks`` hold banks in turn. A tile
    starts only when (1) the previous tile's drain ends before its own could start
    (:meth:`hw.config.ArrayConfig.tile_period`), (2) its hold bank's previous tile has
    drained before its first capture (:meth:`hw.config.ArrayConfig.bank_period`), (3) the
    output FIFO has room for every beat promised so far plus the credit margin
    (:meth:`hw.rtl.parts.result_path.ResultPath.mm_credit_margin`), and (4) for the first
    tile of a tile row, that row's A rows are loaded. All four are one registered flag.

    Ports:

    - ``ctl`` (in, :func:`hw.rtl.interfaces.job_signature`): the job; ``setup`` initialises.
    - ``progress`` (in, :func:`hw.rtl.interfaces.progress_signature`): ``w_done`` starts the
      reads; the tile rows loaded (with ``cfg.a_buffers`` = 2, from ``rows_ready`` at setup
      on, and each job's A words from the other activation buffer than the job before's);
      the last tile row's and column's sizes.
    - ``occupancy`` (in, :func:`hw.rtl.interfaces.occupancy_signature`): the FIFO count.
    - ``drain`` (in, :func:`hw.rtl.interfaces.drain_signature`): each ``shift`` frees a
      promised beat.
    - ``read`` (out, :func:`hw.rtl.interfaces.read_signature`): the registered read addresses.
    - ``flags`` (out, :func:`hw.rtl.pe.flags_layout`): valid, first, last, and_mode and hold
      bank of each read, delayed to arrive at the array with its words.
    - ``tiles`` (out, :func:`hw.rtl.interfaces.tile_signature`): a tile beat at each tile's
      last read.
    - ``status`` (out, :func:`hw.rtl.interfaces.status_signature`): ``done`` in the cycle
      after the job's last read (a register).

    Latency: a read decided in cycle t has its address registered in t + :attr:`READ_ADDR_REGS`
    and its flags at the array in t + ``cfg.mm_read_latency``, with its words. The first tile of
    a tile row reads :attr:`LOAD_TO_READ` cycles after the last load beat of its A rows at
    the earliest.
    """

    #: the read-address register in front of the operand banks
    READ_ADDR_REGS = 1
    #: a credit flag is a register: it decides on counts one cycle old
    CREDIT_REGS = 1
    #: registers from a tile start or a drain shift to the count of promised beats that the
    #: tile credit reads: ``reserved``, then ``reserved_room`` (as late as ``occupied``)
    RESERVED_DELAY = 2
    #: the registered flag (``row_ok``) that lets a loaded tile row start
    ROW_OK_REGS = 1
    #: cycles from the last load beat of a tile row's A rows (accepted in cycle c) to the first
    #: read of that tile row (c + LOAD_TO_READ): the loader's row pulse, then ``row_ok``; a read
    #: one cycle after the write would do (the memory's two ports pass the same input stages)
    LOAD_TO_READ = OperandLoader.ROW_DONE_REGS + ROW_OK_REGS

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        known = READER_FAULTS + W_BUFFER_FAULTS + A_BUFFER_FAULTS
        if fault is not None and fault not in known:
            raise ValueError(f"unknown tile reader fault {fault!r}; known: {known}")
        self._cfg, self._fault = cfg, fault
        super().__init__({
            "ctl": In(job_signature(cfg)),
            "progress": In(progress_signature(cfg)),
            "occupancy": In(occupancy_signature(cfg)),
            "drain": In(drain_signature(cfg)),
            "read": Out(read_signature(cfg)),
            "flags": Out(flags_layout(cfg.hold_banks)),
            "tiles": Out(tile_signature(cfg)),
            "status": Out(status_signature()),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        R, C, S, D = cfg.rows, cfg.cols, cfg.simd, cfg.drain_rows_eff
        B, NB = cfg.tile_beats, cfg.hold_banks
        lgs = ceil_log2(S)
        kwb = kw_bits(cfg)
        ctl, job, prog = self.ctl, self.ctl.job, self.progress

        a_base = Signal(range(cfg.a_bank_depth + 1))
        w_base = Signal(range(cfg.w_bank_depth + 1))
        # the job's weight buffer: its first word (two buffers: the buffer after the previous
        # job's, as the loader fills them; one: 0)
        w_origin = 0
        if cfg.w_buffers == 2:
            wbuf = Signal(name="w_buffer")
            swap = self._fault == "w_buffer_swap"
            w_origin = Mux(wbuf ^ swap, cfg.w_buffer_words, 0)
        if cfg.a_buffers == 2:
            abuf = Signal(name="a_buffer")
        rd_k = Signal(kwb)
        k_first, k_last = Signal(), Signal()       # rd_k == 0, rd_k == KW - 1 (a step ahead)
        reading = Signal()                         # registered: the reader runs
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
        # tile rows loaded and not yet started, and the flag that lets a tile row start
        ahead = Signal(range(cfg.max_m // R + 3))
        row_ok = Signal()
        rd_bank = Signal(name="rd_bank") if NB == 2 else Signal(range(NB), name="rd_bank")
        # two hold banks: "this read ends a tile of bank b" as one register per bank, set a
        # step ahead with k_last and rd_bank, so a bank's countdown reload hangs on one flag,
        # not on k_last and a bank comparison behind `advance`
        ends_bank = [Signal(name=f"k_last_bank{b}") for b in range(2 if NB == 2 else 0)]
        # Spacing (hw.config.tile_period, bank_period): countdowns loaded at a tile's last read,
        # `gap_d` until the next tile may end its reads (one drain at a time), and one per
        # hold bank until the next tile of the same bank may (its capture must not precede
        # this tile's last drain shift). A rule holds when its countdown is <= 0. Two banks:
        # `gap_bank[b]` per bank; more: a queue `gap_q[0..NB-1]` that moves one place at every
        # tile end, so the tile about to start reads gap_q[0] (no bank-indexed mux).
        gbits = max(kwb, (3 * R + C).bit_length()) + 2
        gap_d = Signal(signed(gbits), name="gap_d")
        gap_bank = [Signal(signed(gbits), name=f"gap_bank{b}" if NB == 2 else f"gap_q{b}")
                    for b in range(NB)]
        # each countdown's registered flags, set a step ahead: > 0 and <= 1
        gap_d_pos, gap_d_le1 = Signal(name="gap_d_pos"), Signal(name="gap_d_le1", init=1)
        bank_pos = [Signal(name=f"{g.name}_pos") for g in gap_bank]
        bank_le1 = [Signal(name=f"{g.name}_le1", init=1) for g in gap_bank]
        # their reloads after a tile of R rows (_r) / of m_l rows (_l), minus the KW reads of
        # the next tile, and their flags, free-running from the job registers (settled before
        # a tile can end: see hw/rtl/core.py, the same schedule)
        skew = cfg.capture_skew
        kneg = Signal(signed(gbits), reset_less=True)     # -KW
        thr = {(off, d): Signal(signed(gbits), name=f"kw_{d}_{off}", reset_less=True)
               for off in (0, skew) for d in (0, 1)}     # (off, d): KW + d - off
        reload = {}
        for name, count, off in (("d_r", B, 0), ("d_l", prog.ml_beats, 0), ("b_r", B, skew),
                                ("b_l", prog.ml_beats, skew)):
            val = Signal(signed(gbits), name=f"gap_{name}")
            pos, le1 = Signal(name=f"gap_{name}_pos"), Signal(name=f"gap_{name}_le1")
            m.d.sync += [val.eq(kneg + count + off), pos.eq(count > thr[off, 0]),
                         le1.eq(count <= thr[off, 1])]
            reload[name] = (val, pos, le1)
        full_lmask = (1 << ((R - 1) % D + 1)) - 1
        m.d.comb += [
            m_beats.eq(Mux(last_mrow, prog.ml_beats, B)),
            m_lmask.eq(Mux(last_mrow, prog.ml_lmask, full_lmask)),
            n_valid.eq(Mux(last_ncol, prog.n_l, C)),
            last_tile.eq(last_mrow & last_ncol),
        ]
        m.d.sync += [self.read.a_addr.eq(a_base + rd_k), self.read.w_addr.eq(w_base + rd_k)]

        # flags of the word being read, delayed to line up with the read data at the array
        rd_flags = Signal(flags_layout(NB), name="rd_flags")
        rd_valid, rd_first, rd_last = Signal(), Signal(), Signal()
        m.d.comb += [rd_flags.valid.eq(rd_valid), rd_flags.first.eq(rd_first),
                     rd_flags.last.eq(rd_last), rd_flags.and_mode.eq(ctl.is_and),
                     rd_flags.bank.eq(rd_bank),
                     self.flags.eq(delayed(m, rd_flags, cfg.mm_read_latency, "rd_flags"))]

        # the FIFO credit: promised beats (`reserved`) and the room they leave, registered
        # (RESERVED_DELAY), so the credit is one comparison of two registers
        reserve_on = Signal()          # a tile starts: its beats are promised
        depth = cfg.out_fifo_depth
        reserved = Signal(range(depth + 1))
        reserved_room = Signal(range(-depth - cfg.mm_credit_margin, depth + 1))
        credit_next = Signal()
        m.d.comb += credit_next.eq(self.occupancy.occupied <= reserved_room)
        # reserved + reserve - shift as a choice between two sums of registers, so the tile
        # start (late: `go`, `reading`) only selects
        freed = reserved - self.drain.shift
        m.d.sync += [reserved.eq(Mux(reserve_on, freed + m_beats, freed)),
                     reserved_room.eq(depth - cfg.mm_credit_margin - reserved)]

        advance, tile_end, row_start = Signal(), Signal(), Signal()

        def row_gate(first, ok):
            """A tile may start as far as its A rows go: not the first of its tile row, or
            that row loaded (the ``early_rows`` fault: always)."""
            return 1 if self._fault == "early_rows" else (~first | ok)

        # `go`: a register equal in every cycle to (gap_d <= 0) & (this tile's bank countdown
        # <= 0) & credit & row_gate, from the next values of its parts
        go = Signal(name="tile_go")
        m.d.comb += [advance.eq(reading & (~k_first | go)),
                     tile_end.eq(advance & k_last),
                     row_start.eq(advance & k_first & first_col)]
        # registered: job control leaves READ a cycle after the last read, when the last tile
        # is in the drain's delay line (in_flight), so MM_DONE ends in the same cycle as before
        m.d.sync += self.status.done.eq(tile_end & last_tile)
        row_ok_next = Signal()
        m.d.comb += row_ok_next.eq(prog.all_loaded | Mux(
            row_start, (ahead >= 2) | ((ahead == 1) & prog.row_pulse), (ahead != 0) | prog.row_pulse))
        m.d.sync += [ahead.eq(ahead + prog.row_pulse - row_start), row_ok.eq(row_ok_next)]
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
        tile = self.tiles.payload
        with m.If(advance):
            m.d.comb += reserve_on.eq(k_first)
            m.d.comb += [rd_valid.eq(1), rd_first.eq(k_first), rd_last.eq(k_last)]
            with m.If(k_last):
                m.d.comb += [self.tiles.valid.eq(1), tile.beats.eq(m_beats),
                             tile.lmask.eq(m_lmask), tile.n.eq(n_valid),
                             tile.last.eq(last_tile), tile.bank.eq(rd_bank)]
                m.d.sync += [rd_k.eq(0), k_first.eq(1), k_last.eq(ctl.kw_one),
                             rd_bank.eq(~rd_bank if NB == 2
                                        else Mux(rd_bank == NB - 1, 0, rd_bank + 1))]
                # the next tile is of the other bank
                m.d.sync += [end.eq(ctl.kw_one & (rd_bank != b))
                             for b, end in enumerate(ends_bank)]
                reload_gap(gap_d, gap_d_pos, gap_d_le1, "d")
                if NB > 2:
                    for b in range(NB - 1):
                        count_down(gap_bank[b], bank_pos[b], bank_le1[b],
                                   gap_bank[b + 1], bank_pos[b + 1])
                    reload_gap(gap_bank[-1], bank_pos[-1], bank_le1[-1], "b")
                m.d.sync += first_col.eq(row_end)
                with m.If(last_tile):
                    m.d.sync += reading.eq(0)
                with m.If(row_end):                            # next tile row
                    m.d.sync += [n_far.eq(n_far0), w_base.eq(w_origin), m_far.eq(m_far - R),
                                 a_base.eq(a_base + ctl.kwords), last_ncol.eq(n_single),
                                 last_mrow.eq(m_far[-1]),
                                 row_end.eq(n_single & ~m_far[-1]), col_step.eq(~n_single)]
                with m.If(col_step):                           # next tile column
                    m.d.sync += [n_far.eq(n_far - C), w_base.eq(w_base + ctl.kwords),
                                 last_ncol.eq(n_far[-1]),
                                 row_end.eq(n_far[-1] & ~last_mrow),
                                 col_step.eq(~n_far[-1])]
            with m.Else():
                m.d.sync += [rd_k.eq(rd_k + 1), k_first.eq(0), k_last.eq(rd_k == ctl.kw_pen)]
                m.d.sync += [end.eq((rd_k == ctl.kw_pen) & (rd_bank == b))
                             for b, end in enumerate(ends_bank)]
        for b, end in enumerate(ends_bank):          # two banks: the tile end of bank b
            with m.If(advance & end):
                reload_gap(gap_bank[b], bank_pos[b], bank_le1[b], "b")
        with m.If(prog.w_done):
            m.d.sync += reading.eq(1)

        with m.If(ctl.setup):
            kw1 = at_most(job.k, S)
            n1 = at_most(job.n, C)
            m.d.sync += [
                # -KW = floor(-K / S); KW + c = floor((K + S - 1 + c S) / S)
                kneg.eq((-job.k) >> lgs),
                *(t.eq((job.k + (S - 1 + (d - off) * S)) >> lgs) for (off, d), t in thr.items()),
                a_base.eq(0), w_base.eq(0), rd_k.eq(0), k_first.eq(1),
                k_last.eq(kw1), m_far.eq(job.m - (2 * R + 1)), n_far.eq(job.n - (2 * C + 1)),
                n_far0.eq(job.n - (2 * C + 1)), rd_bank.eq(0),
                *(end.eq(kw1 if b == 0 else 0) for b, end in enumerate(ends_bank)),
                gap_d.eq(0), gap_d_pos.eq(0), gap_d_le1.eq(1),
                *(v for b in range(NB)
                  for v in (gap_bank[b].eq(0), bank_pos[b].eq(0), bank_le1[b].eq(1))),
                last_mrow.eq(at_most(job.m, R)), last_ncol.eq(n1),
                row_end.eq(n1 & above(job.m, R)), col_step.eq(above(job.n, C)), n_single.eq(n1),
                # tile rows loaded: none, or those a job taken ahead loaded before it ran
                ahead.eq(prog.rows_ready if cfg.a_buffers == 2 else 0), row_ok.eq(0),
                first_col.eq(1),
                # go as the values above make it: the countdowns 0, first_col 1, row_ok 0
                go.eq(credit_next & row_gate(Const(1), Const(0))),
            ]
            if cfg.w_buffers == 2:
                with m.If(job.op != OP_POOL):          # the next buffer: wbuf's next value
                    m.d.sync += [wbuf.eq(~wbuf), w_base.eq(Mux(wbuf ^ swap, 0, cfg.w_buffer_words))]
            if cfg.a_buffers == 2:
                # A likewise
                a_swap = self._fault == "a_buffer_swap"
                with m.If(job.op != OP_POOL):
                    m.d.sync += [abuf.eq(~abuf),
                                 a_base.eq(Mux(abuf ^ a_swap, 0, cfg.a_buffer_words))]
        return m
