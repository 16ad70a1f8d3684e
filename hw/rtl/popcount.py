"""Pipelined popcount adder tree (Amaranth 0.5 has no Value.popcount)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import ceil_div, ceil_log2


class Popcount(wiring.Component):
    """Number of ones of ``i``, ``latency`` cycles later on ``o``.

    Stage 1 sums each ``group``-bit leaf and registers it; every further stage adds pairs of
    partial sums and registers them, so no path is longer than one ``group``-bit sum or one adder.
    """

    #: registered stages of leaf sums (one ``group``-bit sum each)
    LEAF_REGS = 1

    @staticmethod
    def adder_levels(width: int, group: int = 8) -> int:
        """Registered pairwise adder levels above the leaves of a ``width``-bit tree."""
        return ceil_log2(ceil_div(width, group))

    @classmethod
    def latency_of(cls, width: int, group: int = 8) -> int:
        """Cycles from ``i`` to ``o`` of a ``width``-bit tree: the leaf stage, then one per
        adder level."""
        return cls.LEAF_REGS + cls.adder_levels(width, group)

    def __init__(self, width: int, group: int = 8):
        self._MustUse__silence = True    # no "never used" warning if validation fails
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"Popcount width must be an integer >= 1, got {width!r}")
        if not isinstance(group, int) or group < 1:
            raise ValueError(f"Popcount group must be an integer >= 1, got {group!r}")
        self._width, self._group = width, group
        self._MustUse__silence = False
        super().__init__({"i": In(width), "o": Out(range(width + 1))})

    @property
    def width(self) -> int:
        return self._width

    @property
    def latency(self) -> int:
        """Cycles from ``i`` to ``o``."""
        return self.latency_of(self._width, self._group)

    def elaborate(self, platform):
        m = Module()
        bits = Signal(self._width)
        m.d.comb += bits.eq(self.i)
        level = []
        for g in range(ceil_div(self._width, self._group)):
            lo, hi = g * self._group, min(self._width, (g + 1) * self._group)
            leaf = Signal(range(hi - lo + 1), name=f"leaf{g}")
            m.d.sync += leaf.eq(sum(bits[b] for b in range(lo, hi)))
            level.append((leaf, hi - lo))
        for depth in range(1, self.adder_levels(self._width, self._group) + 1):
            nxt = []
            for j in range(0, len(level), 2):
                if j + 1 == len(level):
                    sig, cap = level[j]
                    reg = Signal(range(cap + 1), name=f"l{depth}_{j // 2}")
                    m.d.sync += reg.eq(sig)
                else:
                    (a, ca), (b, cb) = level[j], level[j + 1]
                    cap = ca + cb
                    reg = Signal(range(cap + 1), name=f"l{depth}_{j // 2}")
                    m.d.sync += reg.eq(a + b)
                nxt.append((reg, cap))
            level = nxt
        assert len(level) == 1
        m.d.comb += self.o.eq(level[0][0])
        return m
