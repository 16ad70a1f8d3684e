"""Register queue: a stream register slice whose ready and valid are flip-flops, so neither
side's handshake reaches the other side's logic in the same cycle."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, stream, wiring
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

    With ``ready_next``, one more port ``i_ready_next`` (out, 1): the value ``i.ready`` takes
    in the next cycle (for a producer that keeps a flag of it in a register of its own without
    a cycle's delay).

    With ``head_field`` (the name of a 1-bit field of a ``data.StructLayout`` shape), one more
    port ``o_head`` (out, 1): that field of the head entry, ``o.payload``'s own, from a register
    of its own (its next value chosen by this cycle's pop), so that ``o.ready`` may depend on
    it without the read pointer's multiplexer in front (it is meaningful while ``o.valid``).
    With ``head_copies`` n >= 1 as well, one more port ``o_head_copies`` (out, n): n more
    registers of that same value, each its own flip-flop (named ``head_<field>_copy<i>``, kept
    apart in the Verilog by :func:`hw.rtl.verilog.keep_replicas`), so that n groups of gates
    that hang on the head's field each have a register of their own, placed by them.

    With ``free_writes``, each entry's write enable is a flip-flop of its own, high in every
    cycle the entry is the free one at the write pointer (there is room): the entry loads
    ``i.payload`` then whether or not an entry arrives, and a push moves the pointer on so
    that it keeps it. The ports behave the same (a held entry is never written); the enables
    of wide entries then hang on one register each, not on a decode of the pointer and the
    handshake.

    Latency: an entry taken on ``i`` in cycle t is on ``o`` in cycle t + :attr:`LATENCY`.
    Throughput: one entry per cycle, with ``i.valid`` and ``o.ready`` held high (two entries
    cover the cycle by which the registered ``i.ready`` sees a read late; a producer that
    counts the entries itself may use a third to cover its own late count). ``o.ready`` may
    depend on ``o.payload``; nothing on the ``i`` side depends on ``o.ready`` combinationally.
    """

    #: cycles from an entry taken on ``i`` to it on ``o``
    LATENCY = 1

    def __init__(self, shape, depth: int = 2, *, ready_next: bool = False,
                 head_field: str | None = None, head_copies: int = 0,
                 free_writes: bool = False):
        try:
            Shape.cast(shape)
        except TypeError as e:
            self._MustUse__silence = True
            raise TypeError(f"RegisterQueue shape must be a shape-castable, got {shape!r}") from e
        if not isinstance(depth, int) or depth < 2:
            self._MustUse__silence = True
            raise ValueError(f"RegisterQueue depth must be an integer >= 2, got {depth!r}")
        if head_field is not None and not _is_one_bit_field(shape, head_field):
            self._MustUse__silence = True
            raise ValueError(f"RegisterQueue head_field must name a 1-bit field of the "
                             f"StructLayout shape, got {head_field!r} for {shape!r}")
        if not isinstance(head_copies, int) or head_copies < 0 or \
                (head_copies and head_field is None):
            self._MustUse__silence = True
            raise ValueError(f"RegisterQueue head_copies must be an integer >= 0, and needs "
                             f"head_field, got {head_copies!r} with head_field {head_field!r}")
        self._shape, self.depth = shape, depth
        self._ready_next, self._head_field = ready_next, head_field
        self._head_copies, self._free_writes = head_copies, free_writes
        ports = {"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))}
        if ready_next:
            ports.update(i_ready_next=Out(1))
        if head_field is not None:
            ports.update(o_head=Out(1))
        if head_copies:
            ports.update(o_head_copies=Out(head_copies))
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
        room_next = Mux(push & ~pop, level < n - 1, Mux(~push & pop, 1, level < n))
        wr_after = Mux(wr == n - 1, 0, wr + 1)          # the write pointer after a push
        if self._free_writes:
            # write{i}: room and wr == i in this cycle, registered from their next values
            # (reset: room, wr = 0)
            wr_next = Mux(push, wr_after, wr)
            for i, entry in enumerate(entries):
                free = Signal(name=f"write{i}", init=int(i == 0))
                m.d.sync += free.eq(room_next & (wr_next == i))
                with m.If(free):
                    m.d.sync += entry.eq(self.i.payload)
        else:
            for i, entry in enumerate(entries):
                with m.If(push & (wr == i)):
                    m.d.sync += entry.eq(self.i.payload)
        with m.If(push):
            m.d.sync += wr.eq(wr_after)
        with m.If(pop):
            m.d.sync += rd.eq(Mux(rd == n - 1, 0, rd + 1))
        m.d.sync += [
            level.eq(level + push - pop),
            room.eq(room_next),
            any_.eq(Mux(push, 1, Mux(pop, level > 1, any_))),
        ]
        if self._ready_next:
            m.d.comb += self.i_ready_next.eq(room_next)
        if self._head_field is not None:
            # the next head: after a pop the entry behind the head when there is one, else
            # the entry coming in (the head while the queue stays empty is a don't-care);
            # without a pop the head stays, or the entry coming in becomes it
            field = self._head_field
            behind = Array(getattr(e, field) for e in entries)[Mux(rd == n - 1, 0, rd + 1)]
            arriving = getattr(self.i.payload, field)
            head = Signal(name=f"head_{field}")
            m.d.sync += head.eq(Mux(pop, Mux(level > 1, behind, arriving),
                                    Mux(any_, head, arriving)))
            m.d.comb += self.o_head.eq(head)
            for i in range(self._head_copies):
                copy = Signal(name=f"head_{field}_copy{i}")
                m.d.sync += copy.eq(Mux(pop, Mux(level > 1, behind, arriving),
                                        Mux(any_, copy, arriving)))
                m.d.comb += self.o_head_copies[i].eq(copy)
        return m


def _is_one_bit_field(shape, name) -> bool:
    """``shape`` is a ``data.StructLayout`` with a 1-bit field ``name``."""
    if not isinstance(shape, data.StructLayout):
        return False
    try:
        return Shape.cast(shape[name].shape).width == 1
    except KeyError:
        return False
