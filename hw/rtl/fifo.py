"""Output FIFO: block-RAM or LUT-RAM storage read on registered decisions only, into a register
queue, so that the output's handshake never reaches the storage's wide read-data register."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .queue import RegisterQueue

#: Deliberate bugs the testbench must catch: ``fifo_overfill`` reads the storage while the
#: queue and the read in flight already hold ``QUEUE_DEPTH`` entries (its room count one too
#: high), so under output back-pressure an entry reaches a full queue and is lost.
FIFO_FAULTS = ("fifo_overfill",)


class OutputFIFO(wiring.Component):
    """A ``width``-bit first-in first-out buffer of ``depth`` (a power of two) storage entries
    and a :class:`hw.rtl.queue.RegisterQueue` of :attr:`QUEUE_DEPTH` behind it.

    Ports:

    ===========  ============  =====================================================
    ``w_en``     in 1          write ``w_data`` this cycle (the writer never writes into a
                               full storage: the core's credit counts ``level``)
    ``w_data``   in ``width``
    ``level``    out           storage entries in use (entries that moved on to the
                               queue no longer count)
    ``r``        out           stream of ``width`` bits; ``r.valid`` is a register
    ===========  ============  =====================================================

    Structure and latency: the storage is read when it holds an entry (a registered flag)
    and the queue will have room for it (a registered count of the queue's entries and the
    read in flight): one gate of two registers, so the read address and the count are the
    only things it enables. The read data register (the block RAM's own, or one behind the
    LUT RAM) loads unconditionally, and the queue takes it one cycle after the read. An entry
    written in cycle t is on ``r`` in cycle t + :attr:`LATENCY` (t + 1: the flag sees it,
    and the read; t + 2: the read data into the queue; t + 3: on ``r``), one per cycle while
    ``r.ready`` stays high.
    """

    #: cycles from ``w_en`` to the entry on ``r``: the registered non-empty flag and the read,
    #: the read-data register, the queue
    LATENCY = 3
    #: the queue behind the storage: one entry per cycle needs one in flight from the storage,
    #: one in the queue and one more for the count that sees a read from the queue a cycle late
    QUEUE_DEPTH = 3

    def __init__(self, width: int, depth: int, *, fault: str | None = None):
        if fault is not None and fault not in FIFO_FAULTS:
            self._MustUse__silence = True
            raise ValueError(f"unknown output FIFO fault {fault!r}; known: {FIFO_FAULTS}")
        self._fault = fault
        for name, v in (("width", width), ("depth", depth)):
            if not isinstance(v, int) or v < 1:
                self._MustUse__silence = True
                raise ValueError(f"OutputFIFO {name} must be an integer >= 1, got {v!r}")
        if depth & (depth - 1):
            self._MustUse__silence = True
            raise ValueError(f"OutputFIFO depth must be a power of two, got {depth}")
        self._width, self._depth = width, depth
        super().__init__({
            "w_en": In(1), "w_data": In(width), "level": Out(range(depth + 1)),
            "r": Out(stream.Signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        n, q = self._depth, self.QUEUE_DEPTH
        # a read is never of the address written in the same cycle (the non-empty flag is a
        # cycle late), so Yosys needs no read-during-write logic
        m.submodules.storage = mem = Memory(shape=unsigned(self._width), depth=n, init=[],
                                            attrs={"no_rw_check": 1})
        wp, rp = mem.write_port(), mem.read_port()
        m.submodules.queue = queue = RegisterQueue(self._width, q)
        produce = Signal(range(n), name="produce")
        consume = Signal(range(n), name="consume")
        nonempty = Signal()                             # registered: level != 0
        held = Signal(range(q + 1))                     # registered: queue entries + reads
        fetched = Signal()                              # registered: a read one cycle ago
        rd = Signal()
        m.d.comb += [
            wp.addr.eq(produce), wp.data.eq(self.w_data), wp.en.eq(self.w_en),
            rp.addr.eq(consume),
            # (the fifo_overfill fault: room for one entry more than the queue has)
            rd.eq(nonempty & (held < q + (self._fault == "fifo_overfill"))),
            queue.i.valid.eq(fetched), queue.i.payload.eq(rp.data),
            self.r.valid.eq(queue.o.valid), self.r.payload.eq(queue.o.payload),
            queue.o.ready.eq(self.r.ready),
        ]
        taken = Signal()
        m.d.comb += taken.eq(queue.o.valid & queue.o.ready)
        m.d.sync += [
            produce.eq(produce + self.w_en), consume.eq(consume + rd), fetched.eq(rd),
            self.level.eq(self.level + self.w_en - rd),
            nonempty.eq(Mux(self.w_en, 1, Mux(rd, self.level > 1, nonempty))),
            held.eq(held + rd - taken),
        ]
        return m
