"""Recording of every binary matmul and pooling op during a forward pass (for the golden export)."""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

import torch

from hw.jobs import as_pair

_ACTIVE: contextvars.ContextVar["OpTrace | None"] = contextvars.ContextVar("op_trace", default=None)


@dataclass
class TracedMatmul:
    """A binary matmul as the float model computed it: bits and the float product of the +-1 /
    0-1 operands (an exact integer in float64)."""

    name: str
    mode: str
    a_bits: torch.Tensor   # (M, K) uint8
    w_bits: torch.Tensor   # (N, K) uint8
    product: torch.Tensor  # (M, N) float: the model's own matmul of the unscaled operands


@dataclass
class TracedPool:
    """An average pooling over real-valued planes as the float model computed it."""

    name: str
    x: torch.Tensor        # (P, H, W) float input planes
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output: torch.Tensor   # (P, Ho, Wo) float average (count_include_pad=True)


@dataclass
class OpTrace:
    """Ops in execution order."""

    ops: list = field(default_factory=list)

    def matmul(self, name, mode, a_bits, w_bits, product):
        self.ops.append(TracedMatmul(name, mode, a_bits.detach().to(torch.uint8).cpu(),
                                     w_bits.detach().to(torch.uint8).cpu(),
                                     product.detach().cpu()))

    def pool(self, name, x, kernel, stride, padding, output):
        self.ops.append(TracedPool(name, x.detach().cpu(), as_pair(kernel), as_pair(stride),
                                   as_pair(padding), output.detach().cpu()))


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
