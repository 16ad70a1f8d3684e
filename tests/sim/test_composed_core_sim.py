"""The composed core (``core_parts`` = 1, hw/rtl/parts) on its generated Verilog (cocotb +
Icarus): bit-exact and equal to the cycle model on the edge suite, bit-exact under random
stalls and freezes, and its parts' deliberate faults caught."""

import pytest

from sim.runner import run_jobs
from sim.suite import edge_suite, random_matmul, save_jobs
from sim.suite import small_config as small

from sim.suite import STALL_FAULTS, fault_jobs

CONFIGS = {
    "r2c3s16": small(core_parts=1),
    "r3c2s16_h3_d1": small(rows=3, cols=2, hold_banks=3, drain_rows=1, core_parts=1),
    "r4c2s16_g2_l4": small(rows=4, cols=2, load_rows=2, pool_lanes=4, core_parts=1),
}


def assert_exact_on_rtl(cfg, jobs, tmp_path):
    """Every job bit-exact on the RTL of ``cfg``, every output there, its cycles the model's."""
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path))
    assert len(rows) == len(jobs)
    for job, row in zip(jobs, rows):
        assert row["passed"] and row["outputs"] == job.result.size, row
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_composed_core_is_exact_and_takes_the_modelled_cycles(name, tmp_path):
    cfg = CONFIGS[name]
    assert_exact_on_rtl(cfg, edge_suite(cfg, seed=5), tmp_path)


def test_composed_core_is_exact_under_stalls_and_freezes(tmp_path):
    cfg = CONFIGS["r2c3s16"]
    rows = run_jobs(cfg, save_jobs(edge_suite(cfg, seed=6), tmp_path), idle_prob=0.3,
                    stall_prob=0.3, freeze_prob=0.02, freeze_max=40, seed=4)
    assert all(r["passed"] for r in rows), [r for r in rows if not r["passed"]]


def test_composed_core_beside_a_pool_core_is_exact(tmp_path):
    cfg = small(pool_port=1, core_parts=1)
    assert_exact_on_rtl(cfg, edge_suite(cfg, seed=8), tmp_path)


@pytest.mark.parametrize("fault", ["early_rows", "hold_swap", "fifo_overfill", "zeros_column"])
def test_a_fault_in_a_part_of_the_composed_core_is_caught(fault, tmp_path):
    cfg = small(rows=3, cols=2, simd=16, max_k=32, core_parts=1)
    rows = run_jobs(cfg, save_jobs(fault_jobs(cfg.max_k), tmp_path), fault=fault, expect_fail=True,
                    **STALL_FAULTS.get(fault, {}))
    assert sum(r["mismatches"] for r in rows) > 0, (fault, rows)


def test_load_slot_rotation_in_the_operand_banks_is_caught(tmp_path):
    cfg = small(rows=4, cols=2, simd=16, max_k=32, load_rows=2, core_parts=1)
    jobs = [random_matmul("g2_kw1", "xnor", 7, 5, 12, 8),
            random_matmul("g2_kw2", "and", 6, 7, 30, 9)]
    paths = save_jobs(jobs, tmp_path / "jobs")
    good = run_jobs(cfg, paths, build_dir=tmp_path / "good")
    assert all(r["passed"] for r in good), good
    bad = run_jobs(cfg, paths, build_dir=tmp_path / "bad", fault="load_slot_rotated",
                   expect_fail=True)
    assert sum(r["mismatches"] for r in bad) > 0, bad
