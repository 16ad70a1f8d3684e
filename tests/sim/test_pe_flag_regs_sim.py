"""Every PE's own flags register (``pe_flag_regs`` 1) on the generated Verilog (cocotb +
Icarus), on the single-module core (its row-popcount PEs carry flags too): the edge suite
bit-exact, every job's cycles equal to hw/cost/cycles.py."""

from sim.runner import run_jobs
from sim.suite import edge_suite, save_jobs
from sim.suite import small_config as small


def test_single_module_core_with_own_flag_registers_is_exact(tmp_path):
    cfg = small(rows=3, cols=2, hold_banks=3, core_parts=0, pe_flag_regs=1)
    jobs = edge_suite(cfg, seed=11)
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path / "jobs"), build_dir=tmp_path / "b")
    for job, row in zip(jobs, rows):
        assert row["passed"] and row["mismatches"] == 0, row
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))
