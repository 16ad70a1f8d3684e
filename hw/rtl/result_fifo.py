"""The output FIFO of the core: distributed RAM read asynchronously, with an unchecked write
port (the core's credit guarantees room), so neither stream handshake fans out through logic."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


class ResultFifo(wiring.Component):
    """First in, first out queue of ``depth`` (a power of two >= 2) entries of ``width`` bits.

    Ports:

    ==========  =========  ===============================================================
    ``w_en``    in 1       write ``w_data`` this cycle; only while ``level`` < ``depth`` (not
                           checked: the producer's credit keeps room, and a write into a full
                           queue overwrites its oldest entry)
    ``w_data``  in width   the entry to write
    ``r_rdy``   out 1      an entry is on ``r_data`` (``level`` != 0)
    ``r_data``  out width  the oldest entry (an asynchronous read of the storage)
    ``r_en``    in 1       take the entry on ``r_data`` (ignored while ``r_rdy`` is low)
    ``level``   out        entries held (a register)
    ==========  =========  ===============================================================

    Latency: an entry written in cycle t is on ``r_data`` with ``r_rdy`` in cycle t + 1
    (:attr:`LATENCY`).
    """

    #: cycles from ``w_en`` to the entry on the read port
    LATENCY = 1

    def __init__(self, width: int, depth: int):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"ResultFifo width must be an integer >= 1, got {width!r}")
        if not isinstance(depth, int) or depth < 2 or depth & (depth - 1):
            raise ValueError(f"ResultFifo depth must be a power of two >= 2, got {depth!r}")
        self._width, self._depth = width, depth
        super().__init__({
            "w_en": In(1), "w_data": In(width),
            "r_rdy": Out(1), "r_data": Out(width), "r_en": In(1),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = Memory(shape=self._width, depth=self._depth, init=[])
        w_port = storage.write_port()
        r_port = storage.read_port(domain="comb")
        produce = Signal(range(self._depth))      # wraps: depth is a power of two
        consume = Signal(range(self._depth))
        take = Signal()
        m.d.comb += [
            w_port.addr.eq(produce), w_port.data.eq(self.w_data), w_port.en.eq(self.w_en),
            r_port.addr.eq(consume), self.r_data.eq(r_port.data),
            self.r_rdy.eq(self.level != 0),
            take.eq(self.r_en & self.r_rdy),
        ]
        with m.If(self.w_en):
            m.d.sync += produce.eq(produce + 1)
        with m.If(take):
            m.d.sync += consume.eq(consume + 1)
        m.d.sync += self.level.eq(self.level + self.w_en - take)
        return m
