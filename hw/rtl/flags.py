"""Comparisons of a signed value with a small constant, built as gates (no carry chain)."""

from __future__ import annotations

from amaranth.hdl import Cat, Value


def at_most(value: Value, k: int) -> Value:
    """1-bit ``value <= k`` for a signed ``value`` and a constant ``0 <= k``: the sign bit, or
    the bits above k's width all zero and the low bits one of 0..k.

    Written as a sign test and equalities so that synthesis builds LUTs, not the carry chain
    it builds for ``<=`` (a countdown's flags sit on paths that a carry chain lengthens)."""
    if k < 0:
        raise ValueError(f"at_most needs a constant k >= 0, got {k}")
    width = len(value)
    low_bits = max(1, k.bit_length())
    if low_bits >= width:
        raise ValueError(f"at_most: the constant {k} needs {low_bits} bits, more than the "
                         f"{width - 1} magnitude bits of the value")
    low = value[:low_bits]
    low_ok = 1 if k + 1 >= 2 ** low_bits else Cat(*(low == v for v in range(k + 1))).any()
    return value[-1] | ((value[low_bits:-1] == 0) & low_ok)
