"""Register queue: a stream register slice whose ready and valid are flip-flops, so neither
side's handshake reaches the other side's logic in the same cycle."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Shape, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class RegisterQueue(wiring.Component):
    """A first-in first-out register queue of ``depth`` (>= 2) ``shape`` payloads.

    Ports:

    ===========  ====  ===========================================================
    ``i``        in    stream of ``shape``: ``i.ready`` is a register (the queue has room
                       for one more entry, counting none that leaves in this cycle)
    ``o``        out   stream of ``shape``: ``o.valid`` is a register; ``o.payload`` one
                       2:1 multiplexer after the entry registers
    ===========  ====  ===========================================================

    With ``next_flags``, two more ports, ``o_valid_next`` and ``i_ready_next`` (out, 1 each):
    the values ``o.valid`` and ``i.ready`` take in the next cycle (for a consumer that keeps a
    flag of them in a register of its own without a cycle's delay).

    Latency: an entry taken on ``i`` in cycle t is on ``o`` in cycle t + :attr:`LATENCY`.
    Throughput: one entry per cycle, with ``i.valid`` and ``o.ready`` held high (two entries
    cover the cycle by which the registered ``i.ready`` sees a read late; a producer that
    counts the entries itself may use a third to cover its own late count). ``o.ready`` may
    depend on ``o.payload``; nothing on the ``i`` side depends on ``o.ready`` combinationally.
    """

    #: cycles from an entry taken on ``i`` to it on ``o``
    LATENCY = 1

    def __init__(self, shape, depth: int = 2, *, next_flags: bool = False):
        try:
            Shape.cast(shape)
        except TypeError as e:
            self._MustUse__silence = True
            raise TypeError(f"RegisterQueue shape must be a shape-castable, got {shape!r}") from e
        if not isinstance(depth, int) or depth < 2:
            self._MustUse__silence = True
            raise ValueError(f"RegisterQueue depth must be an integer >= 2, got {depth!r}")
        self._shape, self.depth = shape, depth
        ports = {"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))}
        if next_flags:
            ports.update(o_valid_next=Out(1), i_ready_next=Out(1))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        push = Signal()
        pop = Signal()
        n = self.depth
        level = Signal(range(n + 1))                    # entries held
        room = Signal(init=1)                           # registered: level < depth
        any_ = Signal()                                 # registered: level != 0
        entries = [Signal(self._shape, name=f"entry{i}", reset_less=True) for i in range(n)]
        wr = Signal(range(n))                           # the entry written next
        rd = Signal(range(n))                           # the entry read next
        m.d.comb += [
            self.i.ready.eq(room),
            self.o.valid.eq(any_),
            self.o.payload.eq(Array(Value.cast(e) for e in entries)[rd]),
            push.eq(self.i.valid & room),
            pop.eq(self.o.ready & any_),
        ]
        for i, entry in enumerate(entries):
            with m.If(push & (wr == i)):
                m.d.sync += entry.eq(self.i.payload)
        with m.If(push):
            m.d.sync += wr.eq(Mux(wr == n - 1, 0, wr + 1))
        with m.If(pop):
            m.d.sync += rd.eq(Mux(rd == n - 1, 0, rd + 1))
        m.d.sync += [
            level.eq(level + push - pop),
            room.eq(Mux(push & ~pop, level < n - 1, Mux(~push & pop, 1, level < n))),
            any_.eq(Mux(push, 1, Mux(pop, level > 1, any_))),
        ]
        if hasattr(self, "o_valid_next"):
            m.d.comb += [self.o_valid_next.eq(Mux(push, 1, Mux(pop, level > 1, any_))),
                         self.i_ready_next.eq(Mux(push & ~pop, level < n - 1,
                                                  Mux(~push & pop, 1, level < n)))]
        return m
