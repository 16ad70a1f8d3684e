"""The R x C output-stationary systolic array: edge masking, skew, PEs, row popcounts, drain."""

from __future__ import annotations

from amaranth.hdl import Mux, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig, ceil_log2
from .pe import PE, PE_FAULTS, flags_layout
from .pipeline import delayed

#: Deliberate bugs at the array level (the PE ones pass through).
ARRAY_FAULTS = ("kpad", "skew") + PE_FAULTS
#: the faults of an array with ``skewed_inputs`` (the padding is the loader's: ``kpad`` is not
#: the array's there)
SKEWED_INPUT_FAULTS = ("skew",) + PE_FAULTS
#: Deliberate bugs of the column zero counts (``column_zeros`` only): ``zeros_column`` shows
#: each column the next column's zero count (its AND-mode offsets taken from its neighbour).
COLUMN_ZERO_FAULTS = ("zeros_column",)


class SystolicArray(wiring.Component):
    """R x C PEs; activations enter from the west, weights from the north, both skewed.

    Every cycle the controller presents one word per PE row (``a``, from the activation banks) and
    one per PE column (``w``), plus ``flags`` (valid, first, last: the last word of the tile,
    and_mode). On the last word, bits at and past K are forced (A to 0, W to 1) with
    ``kmask`` so they add nothing in either mode. Row r is delayed r cycles and column c, c cycles,
    so PE (r, c) sees word k of its row and column at the same cycle. A column of extra PEs on the
    west edge (weights tied to ones, AND mode) counts popcount(a) per row for the AND-mode offset.

    :meth:`flush_latency` cycles after the last word every PE's hold register of the tile's
    bank (``flags.bank``) has its final sum (PE (r, c) captures it r + c cycles after PE (0, 0),
    :meth:`capture_skew`); while ``shift`` is high the hold registers of bank ``drain_bank``
    move D rows north per cycle (D = ``cfg.drain_rows_eff``), so ``hold_top`` (rows 0 .. D-1)
    and ``rowpop_top`` present rows 0 .. D-1, D .. 2D-1, ... of the tile on consecutive cycles.

    Ports (``acc`` = the PE accumulator width, one bit less under the ``acc_short`` fault):

    - ``a`` (in, R x simd), ``w`` (in, C x simd): word k of every activation row and weight
      column, presented together.
    - ``flags`` (in, :func:`hw.rtl.pe.flags_layout` of ``cfg.hold_banks``): the flags of that
      word (valid, first, last, and_mode, bank).
    - ``kmask`` (in, simd): ones below K mod simd (all ones when K is a multiple), applied on
      the ``last`` word.
    - ``shift`` (in, 1): drain cycle, the draining bank moves D rows north.
    - ``drain_bank`` (in, ceil(log2(hold_banks))): the bank that drains and that
      ``hold_top``/``rowpop_top`` show.
    - ``hold_top`` (out, D x C x acc): the draining bank's rows 0 .. D-1, ``hold_top[d][c]``.
    - ``rowpop_top`` (out, D x acc_width): popcount(a) of those rows (AND-mode offsets).

    ``column_zeros`` (the composed core sets it): XNOR-only PEs (:class:`hw.rtl.pe.PE` with
    ``xnor_only``: no AND-mode flag copies) and, instead of the row-popcount PEs, one zero-count
    PE per column beside PE (0, c) (the same operands and flags, so Yosys merges its operand
    register with PE (0, c)'s): ``zeros_top`` (out, C x acc_width) is the number of zero bits
    of the tile's column c over K (the padding is ones), held per bank like the sums and not
    shifted. With a in {0, 1} and w in {-1, +1} (bit 1 = +1) the AND-mode result
    sum(a * w) = 2 * popcount(a AND w) - popcount(a) equals popcount(XNOR(a, w)) - zeros(w)
    (an XNOR bit is 1 where a = w = 1, counted twice on the left less popcount(a), or where
    a = w = 0, which is zeros(w) less popcount(a AND NOT w)), so the result path makes it
    from the XNOR sum with no AND mode in any PE. Without it ``rowpop_top`` as above.

    ``skewed_inputs`` (the composed core sets it): ``a[r]`` arrives r cycles after the word it
    belongs to and ``w[c]`` c cycles after (the operand banks delay their read addresses,
    :class:`hw.rtl.parts.operand_banks.OperandBanks`, not R x simd and C x simd bits of data),
    and the bits past K are already padded (the loader writes the last word of each row
    padded, :class:`hw.rtl.parts.operand_loader.OperandLoader`): no ``kmask`` port, no mask and
    no skew registers on the operands; the flags are skewed here as before.

    ``drain_per_pe`` (the composed core sets it): ``shift`` (in, R x C x 1) and ``drain_bank``
    (in, R x C x bank bits) are one copy per PE (:class:`hw.rtl.parts.drain_control.
    DrainControl`'s ``pe_shift`` / ``pe_bank``; a column's zero-count PE reads PE (0, c)'s
    bank), equal in every cycle, so no one register fans out to every hold bank.
    """

    @staticmethod
    def capture_skew(rows, cols):
        """Cycles from PE (0, 0) capturing a tile's sums to PE (R - 1, C - 1) capturing them:
        one operand-register hop per row and per column. Elementwise on numpy arrays."""
        return (rows - 1 + cols - 1) * PE.OPERAND_REGS

    @staticmethod
    def flush_latency(rows: int, cols: int, simd: int) -> int:
        """Cycles from a tile's last word at the array inputs to the first cycle its drain may
        shift (every hold register final): the skew and operand-register hops to PE
        (R - 1, C - 1) (:meth:`capture_skew`), its own operand register, then the PE latency."""
        return (SystolicArray.capture_skew(rows, cols) + PE.OPERAND_REGS
                + PE.latency_of(simd))

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None,
                 column_zeros: bool = False, skewed_inputs: bool = False,
                 drain_per_pe: bool = False):
        known = ((SKEWED_INPUT_FAULTS if skewed_inputs else ARRAY_FAULTS)
                 + (COLUMN_ZERO_FAULTS if column_zeros else ()))
        if fault is not None and fault not in known:
            raise ValueError(f"unknown array fault {fault!r}; known: {known}")
        self._cfg, self._fault, self._column_zeros = cfg, fault, column_zeros
        self._skewed_inputs, self._drain_per_pe = skewed_inputs, drain_per_pe
        copies = (cfg.rows, cfg.cols) if drain_per_pe else ()
        pe_fault = fault if fault in PE_FAULTS else None
        self._acc_width = cfg.acc_width - (1 if pe_fault == "acc_short" else 0)
        self._pe_fault = pe_fault
        ports = {
            "a": In(cfg.simd).array(cfg.rows),
            "w": In(cfg.simd).array(cfg.cols),
            "flags": In(flags_layout(cfg.hold_banks)),
            **({} if skewed_inputs else {"kmask": In(cfg.simd)}),
            "shift": In(1).array(*copies),
            "drain_bank": In(ceil_log2(cfg.hold_banks)).array(*copies),
            "hold_top": Out(self._acc_width).array(cfg.drain_rows_eff, cfg.cols),
        }
        if column_zeros:
            ports["zeros_top"] = Out(cfg.acc_width).array(cfg.cols)
        else:
            ports["rowpop_top"] = Out(cfg.acc_width).array(cfg.drain_rows_eff)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        R, C, D = cfg.rows, cfg.cols, cfg.drain_rows_eff
        ones = Const((1 << cfg.simd) - 1, cfg.simd)

        a_west, f_west, w_north = self._skew(m, ones)

        xnor_only = self._column_zeros
        pes = [[PE(cfg, fault=self._pe_fault, xnor_only=xnor_only) for c in range(C)]
               for _ in range(R)]
        rowpop = [] if xnor_only else [PE(cfg) for _ in range(R)]
        for r in range(R):
            if rowpop:
                m.submodules[f"rowpop{r}"] = rp = rowpop[r]
                m.d.comb += [rp.a_in.eq(a_west[r]), rp.w_in.eq(ones),
                             rp.f_in.eq(f_west[r]), rp.f_in.and_mode.eq(1),
                             rp.shift.eq(self.shift), rp.drain_bank.eq(self.drain_bank)]
                if r + D < R:               # the drain chain: D rows per shift
                    m.d.comb += rp.shift_in.eq(rowpop[r + D].hold)
            for c in range(C):
                m.submodules[f"pe_{r}_{c}"] = pe = pes[r][c]
                m.d.comb += [
                    pe.a_in.eq(a_west[r] if c == 0 else pes[r][c - 1].a_out),
                    pe.f_in.eq(f_west[r] if c == 0 else pes[r][c - 1].f_out),
                    pe.w_in.eq(w_north[c] if r == 0 else pes[r - 1][c].w_out),
                    pe.shift.eq(self._drain_of(self.shift, r, c)),
                    pe.drain_bank.eq(self._drain_of(self.drain_bank, r, c)),
                ]
                if r + D < R:
                    m.d.comb += pe.shift_in.eq(pes[r + D][c].hold)
        for d in range(D):
            if rowpop:
                m.d.comb += self.rowpop_top[d].eq(rowpop[d].hold)
            for c in range(C):
                m.d.comb += self.hold_top[d][c].eq(pes[d][c].hold)
        if xnor_only:
            self._column_zero_counts(m, pes[0], w_north, f_west[0])
        return m

    def _drain_of(self, port, r, c):
        """PE (r, c)'s copy of a drain port (``shift`` or ``drain_bank``): its own with
        ``drain_per_pe``, else the one port."""
        return port[r][c] if self._drain_per_pe else port

    def _skew(self, m, ones):
        """(row r's activation words, row r's flags, column c's weight words) as PE (r, 0) and
        PE (0, c) take them: row r delayed r cycles and column c, c cycles (the ``skew``
        fault: row 1 one cycle more), the bits past K masked on the last word. With
        ``skewed_inputs`` the operands arrive skewed and padded: only the flags are delayed
        here (and row 1's words one cycle under the fault)."""
        cfg = self._cfg
        late = [(1 if self._fault == "skew" and r == 1 else 0) for r in range(cfg.rows)]
        if self._skewed_inputs:
            a_west = [delayed(m, self.a[r], late[r], f"a_skew{r}") for r in range(cfg.rows)]
            f_west = [delayed(m, self.flags, r * PE.OPERAND_REGS + late[r], f"f_skew{r}")
                      for r in range(cfg.rows)]
            return a_west, f_west, list(self.w)
        keep = Signal(cfg.simd)
        m.d.comb += keep.eq(Mux(self.flags.last, self.kmask, ones))
        if self._fault == "kpad":
            m.d.comb += keep.eq(ones)
        a_west, f_west, w_north = [], [], []
        for r in range(cfg.rows):
            a_m = Signal(cfg.simd, name=f"a_masked{r}")
            m.d.comb += a_m.eq(self.a[r] & keep)
            d = r * PE.OPERAND_REGS + late[r]
            a_west.append(delayed(m, a_m, d, f"a_skew{r}"))
            f_west.append(delayed(m, self.flags, d, f"f_skew{r}"))
        for c in range(cfg.cols):
            w_m = Signal(cfg.simd, name=f"w_masked{c}")
            m.d.comb += w_m.eq(self.w[c] | ~keep)
            w_north.append(delayed(m, w_m, c * PE.OPERAND_REGS, f"w_skew{c}"))
        return a_west, f_west, w_north

    def _column_zero_counts(self, m, top_row, w_north, f_west0):
        """One zero-count PE per column, fed what PE (0, c) is fed; never shifted, so the
        draining bank's count stays on ``zeros_top`` for all of the tile's rows."""
        counts = []
        for c in range(len(top_row)):
            m.submodules[f"zeros{c}"] = zc = PE(self._cfg, zeros=True)
            m.d.comb += [zc.a_in.eq(w_north[c]),
                         zc.f_in.eq(f_west0 if c == 0 else top_row[c - 1].f_out),
                         zc.drain_bank.eq(self._drain_of(self.drain_bank, 0, c))]
            counts.append(zc.hold)
        if self._fault == "zeros_column":
            counts = counts[1:] + counts[:1]
        m.d.comb += [self.zeros_top[c].eq(count) for c, count in enumerate(counts)]
