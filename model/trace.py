"""Recording of every binary matmul and pooling op during a forward pass.

The trace produces the hardware's own ops (:mod:`hw.ops`): a matmul with its bits, a pooling
with its shape. Next to each op it keeps the float tensors the model computed, which the golden
export checks the ops against and turns into fixed-point pool inputs.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

import torch

from hw.ops import MatmulOp, PoolOp

_ACTIVE: contextvars.ContextVar["OpTrace | None"] = contextvars.ContextVar("op_trace", default=None)


@dataclass
class Recorded:
    """One traced op and the float tensors of the model around it.

    matmul: ``op`` carries the bits; ``output`` is the model's own (M, N) product of the +-1 /
    0-1 operands (an exact integer in float64); ``input`` is None.
    pool: ``op`` carries the shape; ``input`` is the (P, H, W) float planes and ``output`` the
    (P, Ho, Wo) float average (count_include_pad=True).
    """

    op: MatmulOp | PoolOp
    output: torch.Tensor
    input: torch.Tensor | None = None


@dataclass
class OpTrace:
    """Recorded ops in execution order."""

    records: list[Recorded] = field(default_factory=list)

    @property
    def ops(self) -> list:
        """The :mod:`hw.ops` ops, in execution order."""
        return [r.op for r in self.records]

    def matmul(self, name, mode, a_bits, w_bits, product):
        a = a_bits.detach().to(torch.uint8).cpu().numpy()
        w = w_bits.detach().to(torch.uint8).cpu().numpy()
        self.records.append(Recorded(MatmulOp.from_bits(name, mode, a, w),
                                     product.detach().cpu()))

    def pool(self, name, x, kernel, stride, padding, output):
        p, h, w = x.shape
        op = PoolOp(name, p, h, w, kernel, stride, padding)
        self.records.append(Recorded(op, output.detach().cpu(), x.detach().cpu()))


def active_trace() -> OpTrace | None:
    """The trace being recorded, or None (the normal case: no overhead)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def recording():
    """Record every binary op of the forward passes run inside the block."""
    trace = OpTrace()
    token = _ACTIVE.set(trace)
    try:
        yield trace
    finally:
        _ACTIVE.reset(token)
