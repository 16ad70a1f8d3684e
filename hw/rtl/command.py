"""The command-taking state shared by the cores (:class:`hw.rtl.core.BinaryCore`,
:class:`hw.rtl.pool_core.PoolCore`, :class:`hw.rtl.parts.job_control.JobControl`)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream


def idle_state(m: Module, cmd: stream.Interface, job: Signal, setup: str = "SETUP") -> None:
    """Within ``m``'s FSM: the state ``IDLE``, ready for a command beat on ``cmd``; an accepted
    beat goes into the job register ``job`` and the FSM to ``setup`` (the first of a job's
    ``BinaryCore.JOB_START_CYCLES``: the command beat, then the setup cycle)."""
    with m.State("IDLE"):
        m.d.comb += cmd.ready.eq(1)
        with m.If(cmd.valid):
            m.d.sync += job.eq(cmd.payload)
            m.next = setup


def start_on_op(m: Module, cmd: stream.Interface, start: Signal, op: int) -> None:
    """Drive ``start`` as a register of the command beat's op: high in the setup cycle of a job
    whose op is ``op`` (the cycle after its beat is taken), so a start hangs on one flip-flop,
    not on a decode of the FSM state and the job register."""
    m.d.sync += start.eq(cmd.valid & cmd.ready & (cmd.payload.op == op))
