"""The command ``ready`` from job control's IDLE flip-flop (``ctl_regs`` 1) on the generated
Verilog (cocotb + Icarus): the edge suite with matmuls and pools on one core, every job
bit-exact with its cycles equal to hw/cost/cycles.py, also under random stalls; matmul jobs
streamed into the core take the sequence model's cycles with one and two weight buffers; the
deliberate ``idle_late`` keeps every result and is caught by the cycles. ``ctl_regs`` 2 (the
copies of the AND-mode flag and of the loader's W flag) on the throughput config's kind of
core, bit-exact with the model's cycles, and its ``and_copy_stuck`` caught."""

from dataclasses import replace

import pytest

from hw.cost.sequence import sequence_times
from sim.runner import run_jobs
from sim.suite import edge_suite, save_jobs
from sim.suite import small_config as small

from tests.hw.rtl.test_w_buffers import CONFIGS, random_jobs
from tests.sim.test_cycles import assert_exact_with_stalls
from tests.sim.test_pool_port import mixed_jobs
from tests.sim.test_w_buffers_sim import assert_rtl_streams_as_modelled

#: pools and matmuls on one core (job control's POOL state returns to IDLE too)
CFG = small(rows=2, cols=3, pool_lanes=6, pool_max_planes=16, ctl_regs=1)


def test_every_job_is_bit_exact_and_cycle_exact(tmp_path):
    assert_exact_with_stalls(CFG, edge_suite(CFG, seed=9) + mixed_jobs(CFG, 21), tmp_path, 4)


def test_streamed_jobs_take_the_sequence_models_cycles_and_idle_late_is_caught(tmp_path):
    for buffers in (1, 2):
        cfg = replace(CONFIGS["4x2_g2_h3_d1"], w_buffers=buffers, ctl_regs=1)
        assert_rtl_streams_as_modelled(cfg, random_jobs(cfg, 6, 60 + buffers),
                                       tmp_path / str(buffers))
    cfg = replace(CONFIGS["4x2_g2_h3_d1"], ctl_regs=1)
    jobs = random_jobs(cfg, 4, 5)
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path / "late"), streamed=True,
                    build_dir=tmp_path / "late_b", fault="idle_late", expect_fail=True)
    want = sequence_times(cfg, [(j.m, j.n, j.k) for j in jobs])
    assert all(r["mismatches"] == 0 for r in rows), rows
    assert [r["cycle_span"] for r in rows] != [[t.command, t.last_result] for t in want]


@pytest.mark.parametrize("pe_flag_regs, level, loader_regs", [(0, 1, 0), (1, 1, 0), (1, 2, 2)])
def test_ten_hold_banks_with_wide_beats_are_exact(tmp_path, pe_flag_regs, level, loader_regs):
    """ctl_regs 1 with the throughput config's kind of result path on a small array: ten hold
    banks (a 4-bit bank index, the output queue's free writes over more entries), D = R = 8
    result rows per beat, G = 4 rows per load beat and a pool core of its own, with and without
    every PE's own flags register (``pe_flag_regs``), and the form of records 29-32 (both
    ``ctl_regs`` and ``loader_regs`` 2); small-K matmuls, where the bank rule binds, bit-exact
    with the cycle model's cycles."""
    from tests.sim.test_cycles import assert_exact_on_rtl, hold_bank_jobs

    cfg = small(rows=8, cols=4, drain_rows=8, hold_banks=10, load_rows=4, pool_port=1,
                max_m=32, max_n=24, ctl_regs=level, pe_flag_regs=pe_flag_regs,
                loader_regs=loader_regs)
    assert_exact_on_rtl(cfg, hold_bank_jobs(8, 4, cfg.simd), tmp_path)


def test_stuck_and_copies_are_caught_on_the_rtl(tmp_path):
    cfg = replace(CONFIGS["4x2_g2_h3_d1"], ctl_regs=2)
    jobs = random_jobs(cfg, 4, 5)
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path), streamed=True, fault="and_copy_stuck",
                    expect_fail=True)
    assert any(j.mode == "and" for j in jobs)
    assert sum(r["mismatches"] for r in rows) > 0, rows
