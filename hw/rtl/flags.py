"""Comparisons of a value with a constant, built as gates (no carry chain)."""

from __future__ import annotations

from amaranth.hdl import Const, Value


def _bits_at_most(bits: Value, k: int) -> Value:
    """1-bit ``bits <= k`` for unsigned ``bits`` and ``0 <= k < 2 ** len(bits)``. The expression
    decides from the most significant bit down: where k has a 1, a 0 in ``bits`` decides (below)
    and a 1 defers to the lower bits; where k has a 0, a 1 decides (above) and a 0 defers. It is
    built from the least significant bit up (each bit wraps the lower bits' result)."""
    le = Const(1)                                    # the empty suffix: equal, so <=
    for i in range(len(bits)):                       # build from the least significant bit up
        le = (~bits[i] | le) if (k >> i) & 1 else (~bits[i] & le)
    return le


def at_most(value: Value, k: int) -> Value:
    """1-bit ``value <= k`` for a constant ``k >= 0`` and a signed or unsigned ``value`` (1 when
    ``k`` is above every value ``value`` can hold).

    Written as AND/OR gates of the bits (and the sign bit of a signed value) so that synthesis
    builds a few LUT levels, not the carry chain it builds for ``<=`` (a countdown's flags and a
    job's derived flags sit on paths that a carry chain lengthens)."""
    if k < 0:
        raise ValueError(f"at_most needs a constant k >= 0, got {k}")
    signed_value = value.shape().signed
    magnitude = value[:-1] if signed_value else value
    if k >= 2 ** len(magnitude):
        return Const(1)                              # above every value the bits can hold
    le = _bits_at_most(magnitude, k)
    return (value[-1] | le) if signed_value else le


def above(value: Value, k: int) -> Value:
    """1-bit ``value > k``: the complement of :func:`at_most` (same gates)."""
    return ~at_most(value, k)
