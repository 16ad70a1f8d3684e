"""Pipelined popcount adder tree (Amaranth 0.5 has no Value.popcount)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import ceil_div, ceil_log2


class Popcount(wiring.Component):
    """Number of ones of ``i``, ``latency`` cycles later on ``o``.

    Stage 1 sums each ``group``-bit leaf and registers it; every further stage adds pairs of
    partial sums over ``ADDER_LEVELS_PER_STAGE`` pairwise levels and registers the result, so no
    path is longer than one ``group``-bit sum (with whatever logic drives ``i``) or two chained
    adders of at most ceil(log2(width)) bits.
    """

    #: registered stages of leaf sums (one ``group``-bit sum each)
    LEAF_REGS = 1
    #: pairwise adder levels between two registers above the leaves (the last stage may have
    #: fewer): two short carry chains in series fit a cycle, and every second level of
    #: registers (width / group / 2 partial sums) is saved
    ADDER_LEVELS_PER_STAGE = 2

    @staticmethod
    def adder_levels(width: int, group: int = 8) -> int:
        """Pairwise adder levels above the leaves of a ``width``-bit tree (registered as
        :meth:`registered_level` says)."""
        return ceil_log2(ceil_div(width, group))

    @classmethod
    def registered_level(cls, depth: int, width: int, group: int = 8) -> bool:
        """Whether adder level ``depth`` (1 = the first above the leaves) ends in registers:
        every ``ADDER_LEVELS_PER_STAGE``-th level and the last one."""
        return (depth % cls.ADDER_LEVELS_PER_STAGE == 0
                or depth == cls.adder_levels(width, group))

    @classmethod
    def latency_of(cls, width: int, group: int = 8) -> int:
        """Cycles from ``i`` to ``o`` of a ``width``-bit tree: the leaf stage, then one per
        ``ADDER_LEVELS_PER_STAGE`` adder levels."""
        return cls.LEAF_REGS + ceil_div(cls.adder_levels(width, group),
                                        cls.ADDER_LEVELS_PER_STAGE)

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
    def group(self) -> int:
        """Input bits per leaf sum."""
        return self._group

    @staticmethod
    def leaves(width: int, group: int = 8) -> int:
        """Leaf sums of a ``width``-bit tree: ceil(width / group)."""
        return ceil_div(width, group)

    @classmethod
    def level_caps(cls, width: int, group: int = 8) -> list[list[int]]:
        """Largest value of every node, level by level: the leaf sums, then each pairwise
        adder level (an odd node out passes up alone)."""
        level = [min(group, width - g * group) for g in range(cls.leaves(width, group))]
        levels = [level]
        while len(level) > 1:
            level = [sum(level[j:j + 2]) for j in range(0, len(level), 2)]
            levels.append(level)
        return levels

    @classmethod
    def register_bits(cls, width: int, group: int = 8) -> int:
        """Flip-flops of a ``width``-bit tree: the leaf sums and every level that
        :meth:`registered_level` registers (the resource model counts them from here)."""
        return sum(cap.bit_length() for depth, level in enumerate(cls.level_caps(width, group))
                   if depth == 0 or cls.registered_level(depth, width, group) for cap in level)

    @property
    def latency(self) -> int:
        """Cycles from ``i`` to ``o``."""
        return self.latency_of(self._width, self._group)

    def elaborate(self, platform):
        m = Module()
        bits = Signal(self._width)
        m.d.comb += bits.eq(self.i)
        level = []
        for g in range(self.leaves(self._width, self._group)):
            lo, hi = g * self._group, min(self._width, (g + 1) * self._group)
            leaf = Signal(range(hi - lo + 1), name=f"leaf{g}")
            m.d.sync += leaf.eq(sum(bits[b] for b in range(lo, hi)))
            level.append((leaf, hi - lo))
        for depth in range(1, self.adder_levels(self._width, self._group) + 1):
            registered = self.registered_level(depth, self._width, self._group)
            nxt = []
            for j in range(0, len(level), 2):
                pair = level[j:j + 2]
                cap = sum(c for _, c in pair)
                node = Signal(range(cap + 1), name=f"l{depth}_{j // 2}")
                total = pair[0][0] if len(pair) == 1 else pair[0][0] + pair[1][0]
                if registered:
                    m.d.sync += node.eq(total)
                else:
                    m.d.comb += node.eq(total)
                nxt.append((node, cap))
            level = nxt
        assert len(level) == 1
        m.d.comb += self.o.eq(level[0][0])
        return m
