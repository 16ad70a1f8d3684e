"""Amaranth-simulator harness for the components' own tests: one clock, the given testbenches,
run to completion."""

from __future__ import annotations

from amaranth.sim import Simulator

#: clock period of component simulations (its value does not matter to cycle counts)
CLOCK_PERIOD_S = 1e-6


def run_testbench(dut, *benches) -> None:
    """Simulate ``dut`` with a clock until every async testbench in ``benches`` returns."""
    sim = Simulator(dut)
    sim.add_clock(CLOCK_PERIOD_S)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()


def take(ctx, port, ready: bool):
    """Drive the stream ``port``'s ready for this cycle; return the payload it hands over in
    this cycle (valid and ready both high), else None."""
    ctx.set(port.ready, ready)
    return ctx.get(port.payload) if ready and ctx.get(port.valid) else None
