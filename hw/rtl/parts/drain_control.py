"""Drain control: starts each tile's drain once its sums are final and counts its beats."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...config import ArrayConfig, ceil_log2
from ..interfaces import drain_signature, tile_layout, tile_signature


class DrainControl(wiring.Component):
    """Takes a tile's description at its last read and, :meth:`start_latency` cycles later
    (``cfg.tile_flush``: every hold register of the tile is final then), shifts its hold bank
    out of the array, one result beat (D rows) per cycle, ceil(m_valid / D) beats.

    Ports:

    - ``tiles`` (in, :func:`hw.rtl.interfaces.tile_signature`): one beat per tile, at its last
      read.
    - ``drain`` (out, :func:`hw.rtl.interfaces.drain_signature`): the drain cycles (``shift``,
      ``bank``, to the result path) with the draining tile's columns, last-beat row slots and
      last-tile flag; ``in_flight`` while a tile waits for its drain.
    - ``pe_shift`` (out, R x C x 1), ``pe_bank`` (out, R x C x hold-bank bits): a copy of
      ``shift`` and ``bank`` for each PE of the array, equal to them in every cycle, from a
      tree of registers (:attr:`COPY_REGS` levels: a copy per row, then one per PE, each kept
      apart: :func:`hw.rtl.verilog.keep_replicas`) fed by a second drain sequencer that runs
      :attr:`COPY_REGS` cycles ahead on an earlier tap of the delay line, so that no register
      or gate drives the hold banks of the whole array.

    Latency: a tile beat in cycle t gives its first shift in cycle t + :meth:`start_latency`
    (a delay line of that many stages, the last the drain's own registers).
    """

    #: register levels from the early sequencer to a PE's copy: the row's copy, the PE's
    COPY_REGS = 2

    @staticmethod
    def copy_register_bits(cfg: ArrayConfig) -> int:
        """Flip-flops of the PEs' copies of ``shift`` and ``bank`` (``pe_shift``, ``pe_bank``):
        one copy per row, then one per PE, each 1 + hold-bank bits."""
        return (cfg.rows + cfg.rows * cfg.cols) * (1 + ceil_log2(cfg.hold_banks))

    @staticmethod
    def start_latency(cfg: ArrayConfig) -> int:
        """Cycles from a tile's last read to its first drain shift: ``cfg.tile_flush``."""
        return cfg.tile_flush

    def __init__(self, cfg: ArrayConfig):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        self._cfg = cfg
        bank_bits = ceil_log2(cfg.hold_banks)
        if self.start_latency(cfg) <= self.COPY_REGS:
            raise ValueError(f"drain start latency {self.start_latency(cfg)} must exceed "
                             f"COPY_REGS {self.COPY_REGS} (the early sequencer's tap)")
        super().__init__({"tiles": In(tile_signature(cfg)), "drain": Out(drain_signature(cfg)),
                          "pe_shift": Out(1).array(cfg.rows, cfg.cols),
                          "pe_bank": Out(bank_bits).array(cfg.rows, cfg.cols)})

    def elaborate(self, platform):
        m = Module()
        cfg, dr = self._cfg, self.drain
        B = cfg.tile_beats
        # the delay line: the tile beat, then start_latency - 1 registers; the drain's own
        # registers (below) are the last stage
        layout = data.StructLayout({"valid": 1, "tile": tile_layout(cfg)})
        first = Signal(layout)
        m.d.comb += [first.valid.eq(self.tiles.valid), first.tile.eq(self.tiles.payload)]
        line = [first]
        for i in range(self.start_latency(cfg) - 1):
            d = Signal(layout, name=f"tile_d{i + 1}")
            m.d.sync += d.eq(line[-1])
            line.append(d)
        due = line[-1]                # its drain starts next cycle
        # in_flight: a tile in line[1:], as a register: next cycle line[1:] holds what
        # line[:-1] holds now
        m.d.sync += dr.in_flight.eq(Cat(*(d.valid for d in line[:-1])).any() if len(line) > 1
                                    else 0)

        end = self._sequence(m, due, dr.shift, dr.bank, "")
        m.d.comb += dr.end.eq(end)
        with m.If(due.valid):
            t = due.tile
            m.d.sync += [dr.n.eq(t.n), dr.last.eq(t.last), dr.lmask.eq(t.lmask)]

        # the PEs' copies: the same sequencer COPY_REGS cycles ahead, on the delay line's tap
        # COPY_REGS stages earlier, then a register per row and one per PE (the ports
        # themselves: ``pe_shift__<r>__<c>``, ``pe_bank__<r>__<c>`` in the Verilog)
        early_shift = Signal(name="early_shift")
        early_bank = Signal.like(dr.bank, name="early_bank")
        self._sequence(m, line[-1 - self.COPY_REGS], early_shift, early_bank, "early_")
        assert self.COPY_REGS == 2
        for r in range(cfg.rows):
            row_shift = Signal(name=f"drain_row{r}_shift")
            row_bank = Signal.like(dr.bank, name=f"drain_row{r}_bank")
            m.d.sync += [row_shift.eq(early_shift), row_bank.eq(early_bank)]
            for c in range(cfg.cols):
                m.d.sync += [self.pe_shift[r][c].eq(row_shift), self.pe_bank[r][c].eq(row_bank)]
        return m

    def _sequence(self, m, due, shift, bank, prefix):
        """The drain sequencer: ``shift`` high from the cycle after ``due`` for the tile's
        beats, ``bank`` its hold bank; returns the last shift's flag."""
        B = self._cfg.tile_beats
        drow = Signal(range(B + 1), name=f"{prefix}drow")   # beats drained of this tile
        last_row = Signal(range(B + 1), name=f"{prefix}last_row")
        end = Signal(name=f"{prefix}end")
        m.d.comb += end.eq(shift & (drow == last_row))
        with m.If(due.valid):
            t = due.tile
            m.d.sync += [shift.eq(1), drow.eq(0), last_row.eq(t.beats - 1), bank.eq(t.bank)]
        with m.Elif(end):
            m.d.sync += shift.eq(0)
        with m.Elif(shift):
            m.d.sync += drow.eq(drow + 1)
        return end
