"""Stream bus-functional models for the AXI4-Stream ports of ``bvit_top``.

Handshakes are sampled at the rising edge (``tvalid & tready`` as seen at the edge); new values
are driven right after it. Random stalls come from a seeded :class:`random.Random`.
"""

from __future__ import annotations

import random

from cocotb.triggers import ClockCycles, First, RisingEdge, Timer
from cocotb.utils import get_sim_time


class StreamDriver:
    """Drives ``<prefix>_tdata/tvalid`` and waits on ``<prefix>_tready``.

    ``idle_prob`` is the chance that tvalid stays low for a cycle before each beat (valid stalls).
    """

    def __init__(self, dut, prefix: str, rng: random.Random, idle_prob: float = 0.0):
        self.clk = dut.clk
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.rng, self.idle_prob = rng, idle_prob
        self.tvalid.value = 0

    async def send(self, words) -> None:
        """Send every word, one beat per handshake, in order."""
        edge = RisingEdge(self.clk)
        for word in words:
            while self.idle_prob and self.rng.random() < self.idle_prob:
                self.tvalid.value = 0
                await edge
            self.tdata.value = word
            self.tvalid.value = 1
            await edge
            while not self.tready.value:
                await edge
        self.tvalid.value = 0


class ResultMonitor:
    """Drives ``m_axis_res_tready``, collects every accepted beat until ``tlast``, and times the
    job: the cycle of the first accepted command beat to the cycle of the last accepted result
    beat, inclusive (see :attr:`cycles`).

    Back-pressure: tready is low with probability ``stall_prob`` per cycle, and with
    ``freeze_max`` > 0 it freezes low for long stretches: from the job's start until
    ``freeze_max // 2 .. freeze_max`` cycles after the first result beat is valid (the output
    FIFO fills, the array must wait), and later, with probability ``freeze_prob`` per cycle,
    for 1 .. ``freeze_max`` cycles (:attr:`frozen_cycles` counts them). While no result is
    valid, tready cannot matter (AXI: tvalid never waits for tready) and the monitor sleeps
    until one is, so the probabilities apply to the cycles with a result waiting."""

    def __init__(self, dut, rng: random.Random, stall_prob: float = 0.0,
                 timeout_cycles: int = 10_000_000, period_ns: int = 10,
                 freeze_prob: float = 0.0, freeze_max: int = 0):
        self.dut, self.rng, self.stall_prob = dut, rng, stall_prob
        self.freeze_prob, self.freeze_max = freeze_prob, freeze_max
        self.timeout = timeout_cycles
        self.beats: list[int] = []
        self.first_cmd: int | None = None
        self.last_beat: int | None = None
        self.extra_after_last = 0
        self.frozen_cycles = 0          # cycles tready was held low by freezes (after the
                                        # first result was valid)
        self.period = period_ns
        dut.m_axis_res_tready.value = 0

    @property
    def cycles(self) -> int:
        return self.last_beat - self.first_cmd + 1

    async def collect(self, linger: int = 0) -> list[int]:
        """Run until a beat with tlast is accepted, then ``linger`` more cycles with tready high
        (any beat seen then counts as an extra, i.e. a duplicated result)."""
        dut = self.dut
        edge = RisingEdge(dut.clk)
        valid_rise = RisingEdge(dut.m_axis_res_tvalid)
        t0 = get_sim_time("ns")
        ready = 0
        done_at = None
        first_freeze = bool(self.freeze_max)
        while True:
            edges = 1                   # rising edges to wait with this tready
            if done_at is not None:
                ready = 1
            elif first_freeze:
                # tready low from the start; once the first result is valid, for
                # freeze_max/2 .. freeze_max more cycles
                ready = 0
                if dut.m_axis_res_tvalid.value:
                    first_freeze = False
                    edges = self.rng.randint(self.freeze_max // 2, self.freeze_max)
                    self.frozen_cycles += edges
            elif self.freeze_max and self.freeze_prob and self.rng.random() < self.freeze_prob:
                ready = 0
                edges = self.rng.randint(1, self.freeze_max)
                self.frozen_cycles += edges
            else:
                ready = int(not (self.stall_prob and self.rng.random() < self.stall_prob))
            dut.m_axis_res_tready.value = ready
            if (ready or first_freeze) and done_at is None and self.first_cmd is not None \
                    and not dut.m_axis_res_tvalid.value:
                # nothing to sample until the result stream becomes valid (tvalid never depends
                # on tready): skip the idle cycles, then decide tready again
                await First(valid_rise, Timer(self.timeout * self.period, "ns"))
                if not dut.m_axis_res_tvalid.value:
                    raise TimeoutError(f"no result beat for {self.timeout} cycles "
                                       f"({len(self.beats)} beats so far)")
                continue
            await (edge if edges == 1 else ClockCycles(dut.clk, edges))
            cycle = int((get_sim_time("ns") - t0) // self.period) - 1
            if self.first_cmd is None and dut.s_axis_cmd_tvalid.value and \
                    dut.s_axis_cmd_tready.value:
                self.first_cmd = cycle
            if ready and dut.m_axis_res_tvalid.value:
                if done_at is not None:
                    self.extra_after_last += 1
                else:
                    self.beats.append(dut.m_axis_res_tdata.value.to_unsigned())
                    if dut.m_axis_res_tlast.value:
                        self.last_beat = cycle
                        done_at = cycle
            if done_at is not None and cycle - done_at >= linger:
                break
            if cycle > self.timeout:
                raise TimeoutError(f"no tlast after {self.timeout} cycles "
                                   f"({len(self.beats)} beats so far)")
        dut.m_axis_res_tready.value = 0
        return self.beats


class ReferenceModel:
    """The expected result of a job: recomputed from its operands by hw.ops (numpy), never read
    from the file's stored result; the stored result is cross-checked against it."""

    def expect(self, job):
        gold = job.golden()
        if job.result is not None and not (gold == job.result).all():
            raise AssertionError(f"{job.name}: the job file's stored result disagrees with the "
                                 "numpy golden recomputed from its operands")
        return gold


class Scoreboard:
    """Compares every output integer exactly; records one result row per job."""

    def __init__(self):
        self.rows: list[dict] = []

    def check(self, name: str, kind: str, shape: dict, expected, got, cycles, extra: int,
              error: str | None = None) -> dict:
        import numpy as np

        outputs = int(np.asarray(expected).size)
        if got is None:
            mismatches = outputs
        else:
            mismatches = int((np.asarray(got) != np.asarray(expected)).sum())
        mismatches += extra
        row = {"op": name, "kind": kind, "shape": shape, "outputs": outputs,
               "mismatches": mismatches, "cycles": cycles, "error": error,
               "passed": mismatches == 0 and error is None}
        self.rows.append(row)
        return row
