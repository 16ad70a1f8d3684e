"""Every PE's own flags register (``pe_flag_regs`` 1) on the generated Verilog (cocotb +
Icarus), on the single-module core (its row-popcount PEs carry flags too): the edge suite
bit-exact, every job's cycles equal to hw/cost/cycles.py."""

from sim.suite import edge_suite
from sim.suite import small_config as small

from tests.sim.test_cycles import assert_exact_on_rtl


def test_single_module_core_with_own_flag_registers_is_exact(tmp_path):
    cfg = small(rows=3, cols=2, hold_banks=3, core_parts=0, pe_flag_regs=1)
    assert_exact_on_rtl(cfg, edge_suite(cfg, seed=11), tmp_path)
