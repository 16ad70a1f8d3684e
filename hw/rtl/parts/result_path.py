"""Result path: turns drained hold values and pool sums into result beats, through the output
FIFO; owns the FIFO's sizing and the credit arithmetic of its producers."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import ArrayConfig, ceil_log2
from ..fifo import FIFO_FAULTS, OutputFIFO
from ..flags import above
from ..formats import out_layout
from ..interfaces import drain_signature, job_signature, occupancy_signature

#: Deliberate bug of ``ctl_regs`` 2: ``and_copy_stuck`` never updates the columns' copies of
#: the AND-mode flag, so AND-mode results come out as XNOR's (doubled, less K)
AND_COPY_FAULTS = ("and_copy_stuck",)


class ResultPath(wiring.Component):
    """Three result registers and the output FIFO: (A) the drain's D rows of hold values (twice
    the value for XNOR) and the offset of each column (or the pool sums), (B) that minus the
    offset per lane, (C) lanes past the tile's columns and row slots past its rows (or every
    lane past the pool's L) forced to zero; then the FIFO (:class:`hw.rtl.fifo.OutputFIFO`,
    ``cfg.out_fifo_depth`` beats).

    Ports:

    - ``ctl`` (in, :func:`hw.rtl.interfaces.job_signature`): ``is_and`` and K (the XNOR offset);
      with ``cfg.ctl_regs`` = 2 ``is_and`` is read through a copy per column, a cycle behind.
    - ``drain`` (in, :func:`hw.rtl.interfaces.drain_signature`): a drain beat per ``shift``.
    - ``hold_top`` (in, D x C x ``cfg.acc_width``), ``zeros_top`` (in, C x ``acc_width``):
      the array's top rows of the draining bank (XNOR popcounts) and the zero count of each of
      its weight columns (the AND-mode offset: :class:`hw.rtl.array.SystolicArray` with
      ``column_zeros``). A lane's result is 2 * hold - K (XNOR) or hold - zeros (AND).
    - ``pool_valid`` (in, 1), ``pool_data`` (in, L signed ``pool_sum_width``-bit sums),
      ``pool_last`` (in, 1): the pool unit's outputs (``with_pool``), taken when no drain beat is.
    - ``out`` (out, stream of :func:`hw.rtl.formats.out_layout`): the result beats.
    - ``occupancy`` (out, :func:`hw.rtl.interfaces.occupancy_signature`): the registered count
      of FIFO entries plus staged results, for the producers' credit.

    Latency: :meth:`result_latency` from a drain shift (or a pool output) to its beat on
    ``out``; the count ``occupied`` includes a result :attr:`OCCUPIED_DELAY` cycles after it
    leaves the drain.
    """

    #: result registers between the drain or the pool unit and the output FIFO: (A) hold values
    #: (doubled for XNOR) and offsets, or the pool sum, (B) their difference, (C) lanes past N
    #: forced to zero
    REGS = 3
    #: registers from a result leaving the drain or the pool unit to the FIFO count that the
    #: credit checks read: result register A, then the registered count (``occupied``)
    OCCUPIED_DELAY = 2
    #: output FIFO sizing for matmul: spare entries beyond the tiles in flight
    FIFO_SPARE = 3

    @classmethod
    def result_latency(cls, fifo_depth: int) -> int:
        """Cycles from a result leaving the drain or the pool unit to its beat on ``out``: the
        result registers, then the output FIFO of ``fifo_depth`` entries
        (:meth:`hw.rtl.fifo.OutputFIFO.latency`)."""
        return cls.REGS + OutputFIFO.latency(fifo_depth)

    @classmethod
    def credit_margin(cls, per_start: int, count_delay: int) -> int:
        """FIFO entries a credit check keeps free beyond those it counts, so that the output
        FIFO never overflows.

        The producer starts at most once per cycle, promising up to ``per_start`` entries, and
        its results leave at most one per cycle; its count of both is ``count_delay`` registers
        behind. The registered credit (:attr:`hw.rtl.parts.tile_reader.TileReader.CREDIT_REGS`)
        misses the starts of the last ``count_delay + CREDIT_REGS`` cycles (the current one
        included) and the results that have left that count but are not yet in ``occupied``
        (``OCCUPIED_DELAY - count_delay`` cycles of them).
        """
        from .tile_reader import TileReader

        return (per_start * (count_delay + TileReader.CREDIT_REGS)
                + max(0, cls.OCCUPIED_DELAY - count_delay))

    @classmethod
    def mm_credit_margin(cls, tile_beats: int) -> int:
        """Credit margin of the tile reader: a tile start promises up to ``tile_beats`` entries
        (result beats of a full tile)."""
        from .tile_reader import TileReader

        return cls.credit_margin(tile_beats, TileReader.RESERVED_DELAY)

    @classmethod
    def pool_credit_margin(cls) -> int:
        """Credit margin of the pool unit: an output start promises one entry."""
        from ..pool import PoolUnit

        return cls.credit_margin(1, PoolUnit.COUNT_REGS)

    @staticmethod
    def tiles_in_flight(tile_beats: int, bank_period: int, flush: int, hold_banks: int = 2) -> int:
        """Most matmul tiles promised at once (first read done, last beat not yet drained) when
        the output is always ready, for any KW, with n = ``hold_banks`` hold banks.

        A tile is promised from its first read, KW - 1 cycles before its last read t, to its
        last drain shift, t + ``flush`` + beats - 1, so the last reads of the tiles promised at
        one cycle lie within W = flush + beats + KW - 2 cycles. Consecutive tiles' last reads
        are >= KW apart and a tile's and the one n places later (same bank) >= ``bank_period``
        (the smallest, that of a one-row tile), so each n gaps span >= s = max(bank_period,
        n KW) and k tiles within W need k <= n * floor(W / s) + n. W / s is largest at KW about
        bank_period / n: it is at most (flush + beats - 2 + ceil(bank_period / n)) /
        bank_period (for KW <= bank_period / n, s = bank_period; above, W / s falls with KW).
        """
        n = hold_banks
        widest = flush + tile_beats - 2 + (bank_period + n - 1) // n
        return n * (widest // bank_period) + n

    @classmethod
    def fifo_depth_for(cls, tile_beats: int, bank_period: int, flush: int,
                       pool_latency: int, hold_banks: int = 2) -> int:
        """Output FIFO entries (beats, a power of two): the credit margin, what a producer may
        have in flight with the output always ready (matmul: the beats of
        :meth:`tiles_in_flight` tiles of ``tile_beats`` and ``FIFO_SPARE`` entries, so the
        credit never holds a tile back then; pool: one output per cycle of its latency) and the
        results staged in the result registers and the FIFO's latency. The latency grows when
        the storage goes to block RAM (:meth:`hw.rtl.fifo.OutputFIFO.read_regs`): the depth
        with the LUT-RAM latency, and again with that of its own storage (never smaller, so
        the storage kind it was computed for is the one it gets)."""
        def depth(staged):
            mm = (cls.mm_credit_margin(tile_beats)
                  + cls.tiles_in_flight(tile_beats, bank_period, flush, hold_banks) * tile_beats
                  + cls.FIFO_SPARE + staged)
            pool = cls.pool_credit_margin() + pool_latency + staged
            return 1 << ceil_log2(max(mm, pool))

        first = depth(cls.result_latency(1))
        return depth(cls.result_latency(first))

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None, with_pool: bool = True):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in FIFO_FAULTS + AND_COPY_FAULTS:
            raise ValueError(f"unknown result path fault {fault!r}; known: "
                             f"{FIFO_FAULTS + AND_COPY_FAULTS}")
        self._cfg, self._fault, self._with_pool = cfg, fault, with_pool
        D, C = cfg.drain_rows_eff, cfg.cols
        super().__init__({
            "ctl": In(job_signature(cfg)),
            "drain": In(drain_signature(cfg)),
            "hold_top": In(cfg.acc_width).array(D, C),
            "zeros_top": In(cfg.acc_width).array(C),
            "pool_valid": In(1),
            "pool_data": In(data.ArrayLayout(signed(cfg.pool_sum_width), cfg.pool_lanes_eff)),
            "pool_last": In(1),
            "out": Out(stream.Signature(out_layout(cfg))),
            "occupancy": Out(occupancy_signature(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, dr = self._cfg, self.drain
        C, D = cfg.cols, cfg.drain_rows_eff
        m.submodules.fifo = fifo = OutputFIFO(cfg.out_width + 1, cfg.out_fifo_depth,
                                              fault=(self._fault if self._fault in FIFO_FAULTS
                                                     else None),
                                              free_writes=bool(cfg.ctl_regs))
        st_a_valid, st_b_valid, res_valid = Signal(), Signal(), Signal()
        res_data = Signal(cfg.out_width + 1, reset_less=True)
        m.d.comb += [fifo.w_en.eq(res_valid), fifo.w_data.eq(res_data),
                     self.out.valid.eq(fifo.r.valid), self.out.payload.eq(fifo.r.payload),
                     fifo.r.ready.eq(self.out.ready)]
        # registered: FIFO + staged entries
        m.d.sync += self.occupancy.occupied.eq(fifo.level + res_valid + st_a_valid + st_b_valid)

        # (A) the drain's rows, doubled for XNOR, and the column offsets (or the pool sums)
        holds = [[Signal(cfg.acc_width + 1, name=f"hold_q{d}_{c}", reset_less=True)
                  for c in range(C)] for d in range(D)]
        offs = [Signal(cfg.acc_width, name=f"off_q{c}", reset_less=True) for c in range(C)]
        PL = cfg.pool_lanes_eff if self._with_pool else 0
        pool_q = [Signal(signed(cfg.lane_width), name=f"pool_q{l}", reset_less=True)
                  for l in range(PL)]
        ok_a, last_a, pool_a = Signal(D * C, reset_less=True), Signal(reset_less=True), Signal()
        slots = Signal(D)            # the row slots this drain beat fills
        is_and = self._and_copies(m) if cfg.ctl_regs == 2 else [self.ctl.is_and] * C
        m.d.comb += slots.eq(Mux(dr.end, dr.lmask, (1 << D) - 1))
        with m.If(dr.shift):
            m.d.sync += [st_a_valid.eq(1), last_a.eq(dr.last & dr.end), pool_a.eq(0),
                         ok_a.eq(Cat(*(slots[d] & above(dr.n, c)
                                       for d in range(D) for c in range(C))))]
            m.d.sync += [offs[c].eq(Mux(is_and[c], self.zeros_top[c], self.ctl.job.k))
                         for c in range(C)]
            m.d.sync += [holds[d][c].eq(Mux(is_and[c], self.hold_top[d][c],
                                            self.hold_top[d][c] << 1))
                         for d in range(D) for c in range(C)]
        with m.Else():
            if self._with_pool:
                m.d.sync += [st_a_valid.eq(self.pool_valid), last_a.eq(self.pool_last),
                             pool_a.eq(1), ok_a.eq(1)]
                m.d.sync += [pool_q[l].eq(self.pool_data[l]) for l in range(PL)]
            else:
                m.d.sync += st_a_valid.eq(0)
        # (B) (2 *) hold - offset
        diffs = [[Signal(signed(cfg.lane_width), name=f"diff{d}_{c}", reset_less=True)
                  for c in range(C)] for d in range(D)]
        ok_b, last_b, pool_b = Signal(D * C, reset_less=True), Signal(reset_less=True), Signal()
        pool_bq = [Signal.like(q, name=f"pool_bq{l}") for l, q in enumerate(pool_q)]
        m.d.sync += [st_b_valid.eq(st_a_valid), ok_b.eq(ok_a), last_b.eq(last_a),
                     pool_b.eq(pool_a)]
        m.d.sync += [pool_bq[l].eq(pool_q[l]) for l in range(PL)]
        m.d.sync += [diffs[d][c].eq(holds[d][c] - offs[c]) for d in range(D) for c in range(C)]
        # (C) masks; a pool beat: pool lane l in lane l of the beat (slot l // C, lane l % C)
        lanes = [Mux(ok_b[d * C + c], diffs[d][c], 0) for d in range(D) for c in range(C)]
        for lane in range(PL):
            lanes[lane] = Mux(pool_b, pool_bq[lane], lanes[lane])
        m.d.sync += [res_valid.eq(st_b_valid), res_data.eq(Cat(*lanes, last_b))]
        return m

    def _and_copies(self, m) -> list:
        """``ctl_regs`` 2: a register per column following ``ctl.is_and`` (``and_col<c>``, kept
        apart in the Verilog by :func:`hw.rtl.verilog.keep_replicas`), a cycle behind it; a
        job's first drain shift comes many cycles after the setup that sets ``is_and``. The
        ``and_copy_stuck`` fault never updates them (AND-mode results come out doubled, less
        K)."""
        copies = [Signal(name=f"and_col{c}") for c in range(self._cfg.cols)]
        if self._fault != "and_copy_stuck":
            m.d.sync += [copy.eq(self.ctl.is_and) for copy in copies]
        return copies
