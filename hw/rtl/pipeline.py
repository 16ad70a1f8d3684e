"""Register chains shared by the RTL modules."""

from __future__ import annotations

from amaranth.hdl import Module, Signal


def delayed(m: Module, sig, n: int, name: str, *, reset_less: bool = False):
    """`sig` delayed by `n` sync registers named ``{name}_d1`` .. ``{name}_d{n}`` (sig if n = 0).

    ``reset_less`` for data (no reset logic in front of the flip-flops); control keeps its reset.
    """
    for i in range(n):
        reg = Signal.like(sig, name=f"{name}_d{i + 1}", reset_less=reset_less)
        m.d.sync += reg.eq(sig)
        sig = reg
    return sig
