"""``pe_flag_regs`` 1: every PE's flags register is its own, kept apart in the Verilog
(``flags_own``), so Yosys cannot merge the flag registers of an anti-diagonal of PEs: the
config field and what the Verilog marks, on both cores (tests/sim/test_ctl_regs_sim.py and
tests/sim/test_pe_flag_regs_sim.py run it in cocotb: bit-exact, cycles equal to the model)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from hw.config import ArrayConfig
from hw.rtl.verilog import generate, keep_replicas

from tests.hw.test_config import assert_switch_field

KEEP = re.compile(r"\(\* keep = 32'd1 \*\)\n  always @\(posedge clk\)\n    (\S+) <=")


def test_the_config_field():
    assert_switch_field(ArrayConfig(rows=3, cols=2, simd=16, max_k=64, max_m=16, max_n=16),
                        "pe_flag_regs", "f")


@pytest.mark.parametrize("core_parts", [1, 0])
def test_every_pe_flags_register_is_kept_and_nothing_else_changes(core_parts):
    """With the option each PE (and each zero-count or row-popcount PE) has one kept
    ``flags_own``; without it the Verilog has none, and the other kept registers are the same
    with and without it."""
    base = ArrayConfig(rows=3, cols=2, simd=16, max_k=64, max_m=16, max_n=16,
                       core_parts=core_parts)
    plain, own = generate(base), generate(replace(base, pe_flag_regs=1))
    marked_plain, marked_own = KEEP.findall(plain), KEEP.findall(own)
    extra = base.cols if core_parts else base.rows      # zero-count / row-popcount PEs
    assert marked_own.count("flags_own") == base.rows * base.cols + extra
    assert "flags_own" not in plain
    assert sorted(n for n in marked_own if n != "flags_own") == sorted(marked_plain)
    demo = "  always @(posedge clk)\n    flags_own <= f_in;\n"
    assert keep_replicas(demo)[1] == 1 and keep_replicas(demo.replace("own", "d1"))[1] == 0
