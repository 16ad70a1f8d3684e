"""One processing element of the output-stationary array."""

from __future__ import annotations

from amaranth.hdl import Array, Mux, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig, ceil_log2
from .pipeline import delayed
from .popcount import Popcount

def flags_layout(hold_banks: int = 2) -> data.StructLayout:
    """Control bits that travel with the activation word along a row: ``bank`` is the hold
    bank that the tile's sums are captured into (ceil(log2(hold_banks)) bits; tile i uses bank
    i mod hold_banks)."""
    return data.StructLayout({"valid": 1, "first": 1, "last": 1, "and_mode": 1,
                              "bank": ceil_log2(hold_banks)})


#: :func:`flags_layout` of the default two hold banks
FLAGS = flags_layout(2)

#: Deliberate bugs the testbench must catch (see tests/sim/test_faults.py); ``hold_swap``
#: captures each tile into another hold bank than the one its flags name (bank + 1 mod n).
PE_FAULTS = ("xor", "acc_short", "hold_swap")


class PE(wiring.Component):
    """XNOR/AND-popcount processing element.

    Registers its operands (``a_in``, ``w_in``, ``f_in``) and forwards them east (``a_out``,
    ``f_out``) and south (``w_out``) one cycle later. Each valid cycle it adds
    popcount(XNOR(a, w)) (or popcount(a AND w) in AND mode) to its unsigned accumulator; the
    ``first`` flag restarts the sum. Padding bits past K are forced so that they count zero at the
    array edge (:class:`hw.rtl.array.SystolicArray`), so the accumulator is exactly the popcount over
    the true K.

    With the ``last`` word the final sum is captured into one of n = ``cfg.hold_banks`` hold
    registers, the bank named by the word's ``bank`` flag (tiles take the banks in turn: the
    next tiles accumulate and capture into the other banks while this one drains; n = 2 is a
    ping-pong). While ``shift`` is high, the bank ``drain_bank``
    loads ``shift_in`` (the drain chain, from the PE D rows below); ``hold`` shows that bank. A
    capture takes precedence over a shift of the same bank, and the controller schedules tiles
    so that a capture never hits a value still to be drained.

    Ports (widths for config ``cfg``; ``acc`` = :attr:`acc_width`):

    - ``a_in`` (in, simd), ``w_in`` (in, simd): the activation and weight words.
    - ``f_in`` (in, :func:`flags_layout` of n): valid, first (restart the sum), last (capture),
      and_mode, bank (the hold bank of the capture, ceil(log2(n)) bits).
    - ``a_out`` (out, simd), ``f_out`` (out, like ``f_in``): ``a_in``, ``f_in`` one cycle later
      (to the PE east); ``w_out`` (out, simd): ``w_in`` one cycle later (to the PE south).
    - ``shift`` (in, 1): the draining bank loads ``shift_in`` this cycle.
    - ``drain_bank`` (in, ceil(log2(n))): the bank that drains (shifts) and that ``hold``
      shows.
    - ``shift_in`` (in, acc): the value the draining bank loads on ``shift``.
    - ``hold`` (out, acc): the draining bank's hold register.

    ``xnor_only``: XNOR alone, no AND mode (the ``and_mode`` flag unused: no mode copies; the
    array then makes the AND-mode results from XNOR sums and column zero counts, see
    :class:`hw.rtl.array.SystolicArray`). ``zeros``: a zero-count PE that counts the zero bits
    of its ``a_in`` register alone (``w_in`` and the ``and_mode`` flag unused), held like any
    PE's sum; that register is not kept, so Yosys merges it with another PE's register of the
    same input.
    """

    #: operand registers (``a_out``, ``w_out``, ``f_out``): one hop east or south
    OPERAND_REGS = 1
    #: the accumulator (and the hold registers, loaded from the same sum)
    ACC_REGS = 1

    @staticmethod
    def acc_register_bits(acc_width, hold_banks):
        """Flip-flops of the accumulator and its ``hold_banks`` hold registers (elementwise on
        numpy arrays): the resource model counts them from here."""
        return (1 + hold_banks) * acc_width

    @staticmethod
    def mode_copies(simd):
        """Registered copies of the AND-mode flag in a PE: one per popcount leaf (the
        resource model counts them from here)."""
        return Popcount.leaves(simd)

    @classmethod
    def latency_of(cls, simd: int) -> int:
        """Cycles from the operand registers to the accumulator update (or ``hold`` capture)
        being visible: the popcount tree of ``simd`` bits (the XNOR/AND of the operand
        registers feeds its leaf stage directly), the accumulator."""
        return Popcount.latency_of(simd) + cls.ACC_REGS

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None, xnor_only: bool = False,
                 zeros: bool = False):
        if fault is not None and fault not in PE_FAULTS:
            raise ValueError(f"unknown PE fault {fault!r}; known: {PE_FAULTS}")
        self._cfg, self._fault, self._xnor_only, self._zeros = cfg, fault, xnor_only, zeros
        flags, bank_bits = flags_layout(cfg.hold_banks), ceil_log2(cfg.hold_banks)
        super().__init__({
            "a_in": In(cfg.simd), "w_in": In(cfg.simd), "f_in": In(flags),
            "a_out": Out(cfg.simd), "w_out": Out(cfg.simd), "f_out": Out(flags),
            "shift": In(1), "drain_bank": In(bank_bits), "shift_in": In(self.acc_width),
            "hold": Out(self.acc_width),
        })

    @property
    def acc_width(self) -> int:
        """Accumulator width (one bit short under the ``acc_short`` fault)."""
        return self._cfg.acc_width - (1 if self._fault == "acc_short" else 0)

    @property
    def latency(self) -> int:
        """Cycles from the operand registers to the accumulator update being visible."""
        return self.latency_of(self._cfg.simd)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        if self._zeros:
            return self._elaborate_zeros(m)
        m.d.sync += [self.a_out.eq(self.a_in), self.w_out.eq(self.w_in)]
        self._flags_register(m)
        tree = Popcount(cfg.simd)
        if self._xnor_only:
            a, w = self.a_out, self.w_out
            self._accumulate(m, tree, (a ^ w) if self._fault == "xor" else ~(a ^ w))
            return m

        # XNOR (or AND) of the operand registers, straight into the popcount tree's leaf stage:
        # each leaf sums ``group`` bits that are each a function of three registers (a, w, the
        # mode flag), so no register of its own (simd flip-flops per PE saved). The mode flag
        # has one copy per leaf (:meth:`mode_copies`; registered like ``f_out``), so that no
        # register drives all simd bit functions across the PE (hw.rtl.verilog.keep_replicas
        # keeps Yosys from merging the copies)
        mode = [Signal(name=f"mode_g{g}") for g in range(self.mode_copies(cfg.simd))]
        m.d.sync += [copy.eq(self.f_in.and_mode) for copy in mode]
        x = Signal(cfg.simd)
        for g, copy in enumerate(mode):
            lo, hi = g * tree.group, min(cfg.simd, (g + 1) * tree.group)
            a, w = self.a_out[lo:hi], self.w_out[lo:hi]
            xnor = (a ^ w) if self._fault == "xor" else ~(a ^ w)
            m.d.comb += x[lo:hi].eq(Mux(copy, a & w, xnor))

        self._accumulate(m, tree, x)
        return m

    def _elaborate_zeros(self, m):
        """The zero-count PE: the zero bits of its ``a_in`` register (``a_out``), accumulated
        and held like any PE's sum."""
        m.d.sync += self.a_out.eq(self.a_in)
        self._flags_register(m)
        self._accumulate(m, Popcount(self._cfg.simd), ~self.a_out)
        return m

    def _flags_register(self, m):
        """``f_out``: ``f_in`` one cycle later. With ``cfg.pe_flag_regs`` it is a register of
        this PE's own, ``flags_own``, kept apart in the Verilog (:func:`hw.rtl.verilog.keep_replicas`):
        the PEs of one anti-diagonal (r + c) see the same flags in the same cycle, so Yosys
        would otherwise merge their flag registers and the delays after them into one, whose
        ``last`` then drives the hold-bank enables of PEs across the die."""
        if not self._cfg.pe_flag_regs:
            m.d.sync += self.f_out.eq(self.f_in)
            return
        own = Signal.like(self.f_out, name="flags_own")
        m.d.sync += own.eq(self.f_in)
        m.d.comb += self.f_out.eq(own)

    def _accumulate(self, m, tree, x):
        """The popcount ``tree`` of ``x``, the accumulator and the hold banks."""
        cfg = self._cfg
        m.submodules.tree = tree
        m.d.comb += tree.i.eq(x)
        f = delayed(m, self.f_out, tree.latency, "flags")
        acc = Signal(self.acc_width)
        acc_next = Signal(self.acc_width)
        m.d.comb += acc_next.eq(Mux(f.first, 0, acc) + tree.o)
        with m.If(f.valid):
            m.d.sync += acc.eq(acc_next)
        # the hold banks: capture the final sum into the tile's bank, else shift the draining one
        n = cfg.hold_banks
        swap = self._fault == "hold_swap"
        if n == 2:
            capture_bank = f.bank ^ (1 if swap else 0)
        else:       # the swap fault: the next bank, mod n
            capture_bank = Mux(f.bank == n - 1, 0, f.bank + 1) if swap else f.bank
        banks = [Signal(self.acc_width, name=f"hold{b}") for b in range(n)]
        for b, hold in enumerate(banks):
            with m.If(f.valid & f.last & (capture_bank == b)):
                m.d.sync += hold.eq(acc_next)
            with m.Elif(self.shift & (self.drain_bank == b)):
                m.d.sync += hold.eq(self.shift_in)
        if n == 2:
            m.d.comb += self.hold.eq(Mux(self.drain_bank, banks[1], banks[0]))
        else:
            m.d.comb += self.hold.eq(Array(banks)[self.drain_bank])
