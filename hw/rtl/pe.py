"""One processing element of the output-stationary array."""

from __future__ import annotations

from amaranth.hdl import Mux, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig
from .pipeline import delayed
from .popcount import Popcount

#: Control bits that travel with the activation word along a row.
FLAGS = data.StructLayout({"valid": 1, "first": 1, "last": 1, "and_mode": 1})

#: Deliberate bugs the testbench must catch (see tests/sim/test_faults.py).
PE_FAULTS = ("xor", "acc_short")


class PE(wiring.Component):
    """XNOR/AND-popcount processing element.

    Registers its operands (``a_in``, ``w_in``, ``f_in``) and forwards them east (``a_out``,
    ``f_out``) and south (``w_out``) one cycle later. Each valid cycle it adds
    popcount(XNOR(a, w)) (or popcount(a AND w) in AND mode) to its unsigned accumulator; the
    ``first`` flag restarts the sum. Padding bits past K are forced so that they count zero at the
    array edge (:class:`hw.rtl.array.SystolicArray`), so the accumulator is exactly the popcount over
    the true K.

    With the ``last`` word the final sum is captured into ``hold`` (a second register, so the
    next tile can accumulate while this one drains). While ``shift`` is high, ``hold`` loads
    ``shift_in`` (the drain chain, from the PE below); a capture takes precedence, and the
    controller schedules tiles so that a capture never hits a value still to be drained.
    """

    #: operand registers (``a_out``, ``w_out``, ``f_out``): one hop east or south
    OPERAND_REGS = 1
    #: the registered XNOR (or AND) of the operands
    XNOR_REGS = 1
    #: the accumulator (and ``hold``, loaded from the same sum)
    ACC_REGS = 1

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
            "shift": In(1), "shift_in": In(self.acc_width), "hold": Out(self.acc_width),
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
        with m.If(f.valid & f.last):
            m.d.sync += self.hold.eq(acc_next)
        with m.Elif(self.shift):
            m.d.sync += self.hold.eq(self.shift_in)
        return m
