"""One processing element of the output-stationary array."""

from __future__ import annotations

from amaranth.hdl import Mux, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig
from .pipeline import delayed
from .popcount import Popcount

#: Control bits that travel with the activation word along a row: ``bank`` is the hold bank
#: that the tile's sums are captured into (tiles alternate between the two).
FLAGS = data.StructLayout({"valid": 1, "first": 1, "last": 1, "and_mode": 1, "bank": 1})

#: Deliberate bugs the testbench must catch (see tests/sim/test_faults.py); ``hold_swap``
#: captures each tile into the other hold bank than the one its flags name.
PE_FAULTS = ("xor", "acc_short", "hold_swap")


class PE(wiring.Component):
    """XNOR/AND-popcount processing element.

    Registers its operands (``a_in``, ``w_in``, ``f_in``) and forwards them east (``a_out``,
    ``f_out``) and south (``w_out``) one cycle later. Each valid cycle it adds
    popcount(XNOR(a, w)) (or popcount(a AND w) in AND mode) to its unsigned accumulator; the
    ``first`` flag restarts the sum. Padding bits past K are forced so that they count zero at the
    array edge (:class:`hw.rtl.array.SystolicArray`), so the accumulator is exactly the popcount over
    the true K.

    With the ``last`` word the final sum is captured into one of two hold registers, the bank
    named by the word's ``bank`` flag (ping-pong: the next tile accumulates and captures into
    the other bank while this one drains). While ``shift`` is high, the bank ``drain_bank``
    loads ``shift_in`` (the drain chain, from the PE D rows below); ``hold`` shows that bank. A
    capture takes precedence over a shift of the same bank, and the controller schedules tiles
    so that a capture never hits a value still to be drained.

    Ports (widths for config ``cfg``; ``acc`` = :attr:`acc_width`):

    - ``a_in`` (in, simd), ``w_in`` (in, simd): the activation and weight words.
    - ``f_in`` (in, :data:`FLAGS`): valid, first (restart the sum), last (capture), and_mode,
      bank (the hold bank of the capture).
    - ``a_out`` (out, simd), ``f_out`` (out, :data:`FLAGS`): ``a_in``, ``f_in`` one cycle later
      (to the PE east); ``w_out`` (out, simd): ``w_in`` one cycle later (to the PE south).
    - ``shift`` (in, 1): the draining bank loads ``shift_in`` this cycle.
    - ``drain_bank`` (in, 1): the bank that drains (shifts) and that ``hold`` shows.
    - ``shift_in`` (in, acc): the value the draining bank loads on ``shift``.
    - ``hold`` (out, acc): the draining bank's hold register.
    """

    #: operand registers (``a_out``, ``w_out``, ``f_out``): one hop east or south
    OPERAND_REGS = 1
    #: the registered XNOR (or AND) of the operands
    XNOR_REGS = 1
    #: the accumulator (and the hold registers, loaded from the same sum)
    ACC_REGS = 1
    #: hold registers per PE: one bank captures while the other drains
    HOLD_BANKS = 2

    @classmethod
    def latency_of(cls, simd: int) -> int:
        """Cycles from the operand registers to the accumulator update (or ``hold`` capture)
        being visible: the XNOR/AND register, the popcount tree of ``simd`` bits, the
        accumulator."""
        return cls.XNOR_REGS + Popcount.latency_of(simd) + cls.ACC_REGS

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        if fault is not None and fault not in PE_FAULTS:
            raise ValueError(f"unknown PE fault {fault!r}; known: {PE_FAULTS}")
        self._cfg, self._fault = cfg, fault
        super().__init__({
            "a_in": In(cfg.simd), "w_in": In(cfg.simd), "f_in": In(FLAGS),
            "a_out": Out(cfg.simd), "w_out": Out(cfg.simd), "f_out": Out(FLAGS),
            "shift": In(1), "drain_bank": In(1), "shift_in": In(self.acc_width),
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
        m.d.sync += [self.a_out.eq(self.a_in), self.w_out.eq(self.w_in),
                     self.f_out.eq(self.f_in)]

        # XNOR (or AND) of the operands, registered: the mode flag fans out to simd LUTs, so
        # it gets a stage of its own before the popcount tree
        x = Signal(cfg.simd, reset_less=True)
        if self._fault == "xor":
            xnor = self.a_out ^ self.w_out
        else:
            xnor = ~(self.a_out ^ self.w_out)
        m.d.sync += x.eq(Mux(self.f_out.and_mode, self.a_out & self.w_out, xnor))

        m.submodules.tree = tree = Popcount(cfg.simd)
        m.d.comb += tree.i.eq(x)
        f = delayed(m, self.f_out, self.XNOR_REGS + tree.latency, "flags")
        acc = Signal(self.acc_width)
        acc_next = Signal(self.acc_width)
        m.d.comb += acc_next.eq(Mux(f.first, 0, acc) + tree.o)
        with m.If(f.valid):
            m.d.sync += acc.eq(acc_next)
        # the hold banks: capture the final sum into the tile's bank, else shift the draining one
        capture_bank = f.bank ^ (1 if self._fault == "hold_swap" else 0)
        banks = [Signal(self.acc_width, name=f"hold{b}") for b in range(self.HOLD_BANKS)]
        for b, hold in enumerate(banks):
            with m.If(f.valid & f.last & (capture_bank == b)):
                m.d.sync += hold.eq(acc_next)
            with m.Elif(self.shift & (self.drain_bank == b)):
                m.d.sync += hold.eq(self.shift_in)
        m.d.comb += self.hold.eq(Mux(self.drain_bank, banks[1], banks[0]))
        return m
